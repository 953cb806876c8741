/*
 * What EST (RFC 7030) answers with, built here because http/ never builds
 * certificates or CMS: the certs-only CMC Simple PKI Response (a PKCS#7
 * SignedData without signers, through GnuTLS's PKCS#7 API) and the CSR
 * attributes a profile asks for.
 */
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/pkcs7.h>
#include <gnutls/x509.h>

#include "ca/ca_int.h"

int
ca_pkcs7_certs(const uint8_t *const *ders, const size_t *lens, size_t n,
    uint8_t **out, size_t *len, struct ca_error *err)
{
	gnutls_pkcs7_t	p7 = NULL;
	gnutls_x509_crt_t x;
	gnutls_datum_t	d = { NULL, 0 };
	uint8_t		*buf = NULL;
	int		rc, grc;

	if (n == 0 || ders == NULL || lens == NULL || out == NULL ||
	    len == NULL)
		return ca_error_set(err, CA_EINVAL, "ca_pkcs7_certs: no "
		    "certificate");
	if ((grc = gnutls_pkcs7_init(&p7)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, grc, "PKCS#7");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		gnutls_datum_t crt = { (unsigned char *)ders[i],
		    (unsigned)lens[i] };

		if (lens[i] == 0 || lens[i] > CA_CERT_MAX) {
			rc = ca_error_set(err, CA_EINVAL, "ca_pkcs7_certs: "
			    "certificate %zu of %zu bytes", i, lens[i]);
			goto out;
		}
		/*
		 * The first certificate makes an empty SignedData (RFC 5652
		 * section 5.1: version 1, no digest algorithms, id-data
		 * without content, no signerInfos): RFC 5272 section 4.1's
		 * "degenerate" certs-only form.
		 */
		if ((grc = gnutls_x509_crt_init(&x)) < 0) {
			rc = ca_gnutls_err(err, CA_ENOMEM, grc, "certificate");
			goto out;
		}
		/* set_crt_raw takes any bytes: a certificate, or nothing. */
		grc = gnutls_x509_crt_import(x, &crt, GNUTLS_X509_FMT_DER);
		gnutls_x509_crt_deinit(x);
		if (grc < 0 || (grc = gnutls_pkcs7_set_crt_raw(p7, &crt)) < 0) {
			rc = ca_gnutls_err(err, CA_EMALF, grc, "PKCS#7 "
			    "certificate");
			goto out;
		}
	}
	if ((grc = gnutls_pkcs7_export2(p7, GNUTLS_X509_FMT_DER, &d)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, grc, "PKCS#7 export");
		goto out;
	}
	if ((buf = malloc(d.size)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(buf, d.data, d.size);
	*out = buf;
	*len = d.size;
	rc = CA_OK;
out:
	gnutls_free(d.data);
	gnutls_pkcs7_deinit(p7);
	return rc;
}

/* The DER of OBJECT IDENTIFIER dotted (X.690 section 8.19) into out (cap
   bytes); its length, or 0 when it does not fit or is not an OID. */
static size_t
oid_der(const char *dotted, uint8_t *out, size_t cap)
{
	uint8_t		body[64];
	size_t		n = 0;
	unsigned long	arcs[2] = { 0, 0 };
	const char	*p = dotted;

	for (int i = 0; *p != '\0'; i++) {
		unsigned long	v = 0;
		uint8_t		tmp[10];
		size_t		k = 0;

		if (*p < '0' || *p > '9')
			return 0;
		while (*p >= '0' && *p <= '9') {
			if (v > 0xffffffUL)
				return 0;
			v = v * 10 + (unsigned long)(*p++ - '0');
		}
		if (*p == '.')
			p++;
		if (i < 2) {
			arcs[i] = v;
			if (i == 0)
				continue;
			if (arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39))
				return 0;
			v = arcs[0] * 40 + arcs[1];
		}
		/* base 128, most significant first, the high bit on all
		   but the last */
		do {
			tmp[k++] = (uint8_t)(v & 0x7f);
			v >>= 7;
		} while (v != 0);
		if (n + k > sizeof(body))
			return 0;
		while (k > 0) {
			k--;
			body[n++] = (uint8_t)(tmp[k] | (k > 0 ? 0x80 : 0));
		}
	}
	if (n == 0 || n + 2 > cap || n > 127)
		return 0;
	out[0] = 0x06;
	out[1] = (uint8_t)n;
	memcpy(out + 2, body, n);
	return n + 2;
}

/*
 * What a profile asks of a request, as RFC 7030 section 4.5.2 lets a CA say
 * it: the OID of each subject attribute the profile requires (its
 * subject_required: "CN" for the default profile), which a request without
 * it is refused for. Nothing else belongs here: the key and signature rule
 * is ALB's, which accepts several (RSA 2048-8192, ECDSA P-256/384/521;
 * SHA-256/384/512), and section 4.5.2 lists a key type or hash only when
 * the CA requires that one; subjectAltNames are allowed, never required;
 * no challengePassword is used (the token travels in HTTP Basic).
 */
int
ca_est_csrattrs(const struct ca_profile *p, uint8_t **out, size_t *len,
    struct ca_error *err)
{
	uint8_t	 body[CA_PROFILE_RDN_MAX * 16];
	uint8_t	*buf;
	size_t	 n = 0, k;

	*out = NULL;
	*len = 0;
	for (size_t i = 0; i < p->n_required && i < CA_PROFILE_RDN_MAX; i++) {
		const char *oid = ca_rdn_oid(p->subject_required[i]);

		if (oid == NULL || (k = oid_der(oid, body + n,
		    sizeof(body) - n)) == 0)
			return ca_error_set(err, CA_EINVAL, "profile '%s': "
			    "required subject attribute '%.16s' has no OID",
			    p->name, p->subject_required[i]);
		n += k;
	}
	if (n == 0)
		return CA_OK;	/* nothing asked: EST answers 204 */
	/* CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID, here all OIDs
	   (as RFC 8951 corrects its ASN.1). */
	if ((buf = malloc(n + 4)) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	buf[0] = 0x30;
	if (n < 128) {
		buf[1] = (uint8_t)n;
		k = 2;
	} else {
		buf[1] = 0x81;
		buf[2] = (uint8_t)n;
		k = 3;
	}
	memcpy(buf + k, body, n);
	*out = buf;
	*len = n + k;
	return CA_OK;
}
