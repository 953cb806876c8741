/*
 * ALB's key policy (DESIGN.md, "Facts about ALB"): RSA 2048–8192 bits or
 * ECDSA P-256/P-384/P-521. One check for every key that reaches us from
 * outside — a CSR's, and the certificate a TLS client presents — run
 * before any signature made with that key is verified, since verifying a
 * signature under a 40,000-bit modulus with a public exponent as long
 * costs seconds of CPU and proves nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "common/util.h"
#include "ca/ca_int.h"

/*
 * RSA public exponent: odd, at least 3 and at most 2^32 + 1 (65537 is what
 * every generator uses; FIPS 186-5 allows up to 2^256, but verification
 * time grows with the exponent's length, and no legitimate client key has
 * one past 32 bits).
 */
static int
rsa_exponent_check(gnutls_pubkey_t pub, const char *what,
    struct ca_error *err)
{
	gnutls_datum_t	m = { NULL, 0 }, e = { NULL, 0 };
	size_t		i = 0;
	uint64_t	v = 0;
	int		rc;

	if ((rc = gnutls_pubkey_export_rsa_raw2(pub, &m, &e, 0)) < 0)
		return ca_error_set(err, CA_EMALF, "%s RSA key: %s", what,
		    gnutls_strerror(rc));
	while (i < e.size && e.data[i] == 0)
		i++;
	if (e.size - i > 5)
		rc = ca_error_set(err, CA_EPOLICY, "%s RSA key with a public "
		    "exponent of %u bits: the limit is 33 bits (65537 is "
		    "usual)", what, (unsigned)(e.size - i) * 8);
	else {
		for (; i < e.size; i++)
			v = v << 8 | e.data[i];
		if (v < 3 || (v & 1) == 0 || v > 0x100000001ull)
			rc = ca_error_set(err, CA_EPOLICY, "%s RSA key with "
			    "the public exponent %llu: it must be odd, from 3 "
			    "to 2^32 + 1 (65537 is usual)", what,
			    (unsigned long long)v);
		else
			rc = CA_OK;
	}
	gnutls_free(m.data);
	gnutls_free(e.data);
	return rc;
}

int
ca_pubkey_policy(gnutls_pubkey_t pub, const char *what,
    gnutls_pk_algorithm_t *pk, unsigned *bits_out, struct ca_error *err)
{
	unsigned	bits = 0;
	int		alg, rc;

	alg = gnutls_pubkey_get_pk_algorithm(pub, &bits);
	if (bits_out != NULL)
		*bits_out = bits;
	switch (alg) {
	case GNUTLS_PK_RSA:
		if (bits < 2048 || bits > 8192)
			return ca_error_set(err, CA_EPOLICY, "RSA key of %u "
			    "bits: " CA_ALB_KEYS, bits);
		if ((rc = rsa_exponent_check(pub, what, err)) != CA_OK)
			return rc;
		*pk = GNUTLS_PK_RSA;
		return CA_OK;
	case GNUTLS_PK_RSA_PSS:
		return ca_error_set(err, CA_EPOLICY, "RSA-PSS-only key "
		    "(id-RSASSA-PSS): " CA_ALB_KEYS " as rsaEncryption keys "
		    "(PSS signatures are fine)");
	case GNUTLS_PK_ECDSA: {
		gnutls_ecc_curve_t	c = GNUTLS_ECC_CURVE_INVALID;
		gnutls_datum_t		x = { NULL, 0 }, y = { NULL, 0 };

		if ((rc = gnutls_pubkey_export_ecc_raw2(pub, &c, &x, &y,
		    0)) < 0)
			return ca_error_set(err, CA_EMALF, "%s EC key: %s",
			    what, gnutls_strerror(rc));
		gnutls_free(x.data);
		gnutls_free(y.data);
		if (c != GNUTLS_ECC_CURVE_SECP256R1 &&
		    c != GNUTLS_ECC_CURVE_SECP384R1 &&
		    c != GNUTLS_ECC_CURVE_SECP521R1) {
			const char *cn = gnutls_ecc_curve_get_name(c);

			return ca_error_set(err, CA_EPOLICY, "ECDSA key on "
			    "curve %s: " CA_ALB_KEYS, cn != NULL ? cn :
			    "unknown");
		}
		*pk = GNUTLS_PK_ECDSA;
		return CA_OK;
	}
	case GNUTLS_PK_DSA:
		return ca_error_set(err, CA_EPOLICY, "DSA key: " CA_ALB_KEYS);
	case GNUTLS_PK_EDDSA_ED25519:
		return ca_error_set(err, CA_EPOLICY, "Ed25519 key: "
		    CA_ALB_KEYS);
	case GNUTLS_PK_EDDSA_ED448:
		return ca_error_set(err, CA_EPOLICY, "Ed448 key: " CA_ALB_KEYS);
	default: {
		const char *n = alg > 0 ?
		    gnutls_pk_get_name((gnutls_pk_algorithm_t)alg) : NULL;

		return ca_error_set(err, CA_EPOLICY, "%s key: " CA_ALB_KEYS,
		    n != NULL ? n : "unknown");
	}
	}
}

int
ca_cert_key_check(const uint8_t *der, size_t len, struct ca_error *err)
{
	gnutls_x509_crt_t	crt = NULL;
	gnutls_pubkey_t		pub = NULL;
	gnutls_pk_algorithm_t	pk;
	gnutls_datum_t		d = { (unsigned char *)der, (unsigned)len };
	int			rc;

	if (der == NULL || len == 0 || len > CA_CERT_MAX)
		return ca_error_set(err, CA_ETOOBIG, "a certificate of %zu "
		    "bytes: the limit is %d", len, CA_CERT_MAX);
	if ((rc = gnutls_x509_crt_init(&crt)) < 0 ||
	    (rc = gnutls_pubkey_init(&pub)) < 0) {
		rc = ca_gnutls_err(err, CA_ENOMEM, rc, "init");
		goto out;
	}
	/* Parsing only: no signature is checked here. */
	if ((rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER)) < 0) {
		rc = ca_error_set(err, CA_EMALF, "the certificate does not "
		    "parse: %s", gnutls_strerror(rc));
		goto out;
	}
	if ((rc = gnutls_pubkey_import_x509(pub, crt, 0)) < 0) {
		rc = ca_error_set(err, CA_EPOLICY, "the certificate's public "
		    "key cannot be read (%s): its key type is not one %s",
		    gnutls_strerror(rc), CA_ALB_KEYS);
		goto out;
	}
	rc = ca_pubkey_policy(pub, "the certificate's", &pk, NULL, err);
out:
	gnutls_pubkey_deinit(pub);
	gnutls_x509_crt_deinit(crt);
	return rc;
}
