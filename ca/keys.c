/*
 * Private keys for the client side: a fresh key of one of the types the
 * load balancer accepts, the type of an existing key (so that a renewal
 * with a new key keeps the old key's type), and whether a key is the one of
 * a certificate.
 */
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "ca/ca_int.h"

int
ca_key_generate(enum ca_key_type type, char **pem, size_t *len,
    struct ca_error *err)
{
	gnutls_x509_privkey_t		 key = NULL;
	gnutls_datum_t			 d = { NULL, 0 };
	gnutls_pk_algorithm_t		 pk;
	gnutls_digest_algorithm_t	 dig;
	unsigned			 bits;
	char				*buf;
	int				 rc;

	if (ca_key_type_params(type, &pk, &bits, &dig) != CA_OK)
		return ca_error_set(err, CA_EINVAL, "unknown key type");
	if ((rc = gnutls_x509_privkey_init(&key)) < 0)
		return ca_gnutls_err(err, CA_ENOMEM, rc, "key init");
	if ((rc = gnutls_x509_privkey_generate2(key, pk, bits, 0, NULL,
	    0)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "key generation");
		goto out;
	}
	/* PKCS#8 "PRIVATE KEY": what openssl genpkey writes, and what every
	 * TLS server and client reads. */
	if ((rc = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM,
	    NULL, GNUTLS_PKCS_PLAIN, &d)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "key export");
		goto out;
	}
	if ((buf = malloc(d.size + 1)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(buf, d.data, d.size);
	buf[d.size] = '\0';
	*pem = buf;
	*len = d.size;
	rc = CA_OK;
out:
	if (d.data != NULL) {
		gnutls_memset(d.data, 0, d.size);
		gnutls_free(d.data);
	}
	gnutls_x509_privkey_deinit(key);
	return rc;
}

int
ca_key_type_of(const char *key_pem, size_t len, enum ca_key_type *out,
    struct ca_error *err)
{
	gnutls_x509_privkey_t	 key = NULL;
	unsigned		 bits = 0;
	int			 rc, pk;

	if ((rc = ca_key_import_pem(key_pem, len, &key, err)) != CA_OK)
		return rc;
	pk = gnutls_x509_privkey_get_pk_algorithm2(key, &bits);
	rc = CA_OK;
	if (pk == GNUTLS_PK_RSA && bits == 2048)
		*out = CA_KEY_RSA2048;
	else if (pk == GNUTLS_PK_RSA && bits == 3072)
		*out = CA_KEY_RSA3072;
	else if (pk == GNUTLS_PK_RSA && bits == 4096)
		*out = CA_KEY_RSA4096;
	else if (pk == GNUTLS_PK_ECDSA) {
		gnutls_datum_t		x = { NULL, 0 }, y = { NULL, 0 };
		gnutls_datum_t		k = { NULL, 0 };
		gnutls_ecc_curve_t	curve = GNUTLS_ECC_CURVE_INVALID;

		if (gnutls_x509_privkey_export_ecc_raw(key, &curve, &x, &y,
		    &k) >= 0) {
			gnutls_memset(k.data, 0, k.size);
			gnutls_free(k.data);
			gnutls_free(x.data);
			gnutls_free(y.data);
		}
		if (curve == GNUTLS_ECC_CURVE_SECP256R1)
			*out = CA_KEY_ECDSA_P256;
		else if (curve == GNUTLS_ECC_CURVE_SECP384R1)
			*out = CA_KEY_ECDSA_P384;
		else if (curve == GNUTLS_ECC_CURVE_SECP521R1)
			*out = CA_KEY_ECDSA_P521;
		else
			rc = ca_error_set(err, CA_EPOLICY, "an ECDSA key on the "
			    "curve %s is none of P-256, P-384, P-521",
			    gnutls_ecc_curve_get_name(curve) ?
			    gnutls_ecc_curve_get_name(curve) : "(unknown)");
	} else
		rc = ca_error_set(err, CA_EPOLICY, "a %s key of %u bits is "
		    "none of rsa2048, rsa3072, rsa4096, ecdsa-p256, "
		    "ecdsa-p384, ecdsa-p521",
		    gnutls_pk_get_name((gnutls_pk_algorithm_t)pk), bits);
	gnutls_x509_privkey_deinit(key);
	return rc;
}

/* Equal key ids (a hash of the SubjectPublicKeyInfo): equal public keys. */
int
ca_key_cert_check(gnutls_x509_privkey_t key, gnutls_x509_crt_t crt,
    struct ca_error *err)
{
	uint8_t	a[64], b[64];
	size_t	la = sizeof(a), lb = sizeof(b);
	int	rc;

	if ((rc = gnutls_x509_crt_get_key_id(crt, 0, a, &la)) < 0 ||
	    (rc = gnutls_x509_privkey_get_key_id(key, 0, b, &lb)) < 0)
		return ca_gnutls_err(err, CA_ECRYPTO, rc, "key id");
	if (la != lb || memcmp(a, b, la) != 0)
		return ca_error_set(err, CA_EINVAL, "the key does not match the "
		    "certificate");
	return CA_OK;
}

int
ca_key_import_pem(const char *key_pem, size_t key_len,
    gnutls_x509_privkey_t *out, struct ca_error *err)
{
	gnutls_x509_privkey_t	key = NULL;
	gnutls_datum_t		d;
	int			rc;

	if (key_len > UINT32_MAX)
		return ca_error_set(err, CA_ETOOBIG, "key too large");
	d.data = (unsigned char *)key_pem;
	d.size = (unsigned)key_len;
	if ((rc = gnutls_x509_privkey_init(&key)) < 0)
		return ca_gnutls_err(err, CA_ENOMEM, rc, "key init");
	/* No password: an encrypted key is refused here, with the reason. */
	if ((rc = gnutls_x509_privkey_import2(key, &d, GNUTLS_X509_FMT_PEM,
	    NULL, GNUTLS_PKCS_PLAIN)) < 0) {
		gnutls_x509_privkey_deinit(key);
		return ca_gnutls_err(err, CA_EMALF, rc, "not an unencrypted PEM "
		    "private key");
	}
	*out = key;
	return CA_OK;
}

int
ca_key_matches_cert(const char *key_pem, size_t key_len,
    const char *cert_pem, size_t cert_len, struct ca_error *err)
{
	gnutls_x509_privkey_t	key = NULL;
	gnutls_x509_crt_t	crt = NULL;
	gnutls_datum_t		d;
	int			rc;

	if (cert_len > UINT32_MAX)
		return ca_error_set(err, CA_ETOOBIG, "certificate too large");
	if ((rc = ca_key_import_pem(key_pem, key_len, &key, err)) != CA_OK)
		return rc;
	d.data = (unsigned char *)cert_pem;
	d.size = (unsigned)cert_len;
	if ((rc = gnutls_x509_crt_init(&crt)) < 0) {
		rc = ca_gnutls_err(err, CA_ENOMEM, rc, "crt init");
		goto out;
	}
	/* The first certificate of a PEM file: the leaf. */
	if ((rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM)) < 0) {
		rc = ca_gnutls_err(err, CA_EMALF, rc, "not a PEM certificate");
		goto out;
	}
	rc = ca_key_cert_check(key, crt, err);
out:
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	return rc;
}
