/*
 * CA bundles as ALB reads them: a set of certificates, each known by the
 * SHA-256 of its DER (what `openssl x509 -fingerprint -sha256` prints),
 * written back as PEM only, one block after another, no blank line and no
 * text (ALB refuses anything else), at most 25 certificates of at most 16 KB
 * each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "publish/publish_int.h"

void
bundle_free(struct bundle *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->n; i++)
		free(b->c[i].der);
	free(b->c);
	memset(b, 0, sizeof(*b));
}

static void
hex(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

bool
bundle_has(const struct bundle *b, const char *sha256)
{
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->c[i].sha256, sha256) == 0)
			return true;
	return false;
}

/* Add one certificate (DER), unless the bundle has it already. */
static int
add_crt(struct bundle *b, gnutls_x509_crt_t crt, struct ca_error *err)
{
	struct bundle_cert	 c, *nc;
	gnutls_datum_t		 der = { NULL, 0 }, dn = { NULL, 0 };
	uint8_t			 md[32];
	int			 rc = CA_OK;

	memset(&c, 0, sizeof(c));
	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) < 0 ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, md) < 0) {
		rc = ca_error_set(err, CA_ECRYPTO, "a certificate of the bundle "
		    "cannot be exported");
		goto out;
	}
	hex(md, sizeof(md), c.sha256);
	if (bundle_has(b, c.sha256))
		goto out;
	if (gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0)
		snprintf(c.subject, sizeof(c.subject), "%.*s", (int)dn.size,
		    (const char *)dn.data);
	if ((c.der = malloc(der.size)) == NULL ||
	    (nc = realloc(b->c, (b->n + 1) * sizeof(*b->c))) == NULL) {
		free(c.der);
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(c.der, der.data, der.size);
	c.der_len = der.size;
	b->c = nc;
	b->c[b->n++] = c;
out:
	gnutls_free(der.data);
	gnutls_free(dn.data);
	return rc;
}

int
bundle_add_pem(struct bundle *b, const char *pem, size_t len,
    const char *what, struct ca_error *err)
{
	gnutls_x509_crt_t	*crts = NULL;
	unsigned		 n = 0;
	gnutls_datum_t		 d;
	int			 rc = CA_OK;

	/* An empty bundle is a bundle (a trust store being set up). */
	if (len == 0 || strstr(pem, "-----BEGIN") == NULL)
		return CA_OK;
	d.data = (unsigned char *)pem;
	d.size = (unsigned)len;
	if (len > UINT32_MAX / 2 ||
	    gnutls_x509_crt_list_import2(&crts, &n, &d, GNUTLS_X509_FMT_PEM,
	    0) < 0)
		return ca_error_set(err, CA_EMALF, "%s: not PEM certificates",
		    what);
	for (unsigned i = 0; i < n && rc == CA_OK; i++)
		rc = add_crt(b, crts[i], err);
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	return rc;
}

int
bundle_copy_without(struct bundle *to, const struct bundle *from,
    const char (*drop)[65], size_t n_drop, struct ca_error *err)
{
	for (size_t i = 0; i < from->n; i++) {
		struct bundle_cert	 c = from->c[i];
		bool			 dropped = false;

		for (size_t k = 0; k < n_drop; k++)
			dropped |= strcmp(drop[k], c.sha256) == 0;
		if (dropped || bundle_has(to, c.sha256))
			continue;
		if ((c.der = malloc(c.der_len)) == NULL)
			return ca_error_set(err, CA_ENOMEM, "out of memory");
		memcpy(c.der, from->c[i].der, c.der_len);
		{
			struct bundle_cert *nc = realloc(to->c, (to->n + 1) *
			    sizeof(*to->c));

			if (nc == NULL) {
				free(c.der);
				return ca_error_set(err, CA_ENOMEM,
				    "out of memory");
			}
			to->c = nc;
		}
		to->c[to->n++] = c;
	}
	return CA_OK;
}

bool
bundle_same_set(const struct bundle *a, const struct bundle *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!bundle_has(b, a->c[i].sha256))
			return false;
	return true;
}

int
bundle_pem(const struct bundle *b, char **out, size_t *len,
    struct ca_error *err)
{
	struct awsbuf	 buf = { 0 };
	int		 rc = CA_OK;

	for (size_t i = 0; i < b->n && rc == CA_OK; i++) {
		gnutls_datum_t	 der = { b->c[i].der,
		    (unsigned)b->c[i].der_len }, pem = { NULL, 0 };

		/* 64-column base64 between its two lines: no blank line,
		   nothing before or after. */
		if (gnutls_pem_base64_encode2("CERTIFICATE", &der, &pem) < 0) {
			rc = ca_error_set(err, CA_ENOMEM, "out of memory");
			break;
		}
		if (awsbuf_add(&buf, pem.data, pem.size) != CA_OK)
			rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		gnutls_free(pem.data);
	}
	if (rc == CA_OK) {
		*len = buf.len;
		if ((*out = awsbuf_take(&buf)) == NULL)
			rc = ca_error_set(err, CA_ENOMEM, "out of memory");
	}
	awsbuf_free(&buf);
	return rc;
}

int
bundle_check_alb(const struct bundle *b, struct ca_error *err)
{
	if (b->n == 0)
		return ca_error_set(err, CA_EPOLICY, "the CA bundle would be "
		    "empty");
	if (b->n > BUNDLE_ALB_MAX_CERTS)
		return ca_error_set(err, CA_EPOLICY, "the CA bundle would hold "
		    "%zu certificates; ALB takes at most %d: list some in "
		    "remove_ca_fingerprints", b->n, BUNDLE_ALB_MAX_CERTS);
	for (size_t i = 0; i < b->n; i++) {
		/* The PEM of n DER bytes: 4/3 of them, 64 a line, and the
		   two boundary lines. */
		size_t b64 = (b->c[i].der_len + 2) / 3 * 4;
		size_t pem = b64 + (b64 + 63) / 64 + 28 + 26;

		if (pem > BUNDLE_ALB_MAX_CERT_BYTES)
			return ca_error_set(err, CA_EPOLICY, "certificate %.96s "
			    "(SHA-256 %.16s...) is %zu bytes of PEM; ALB takes "
			    "at most 16 KB per certificate", b->c[i].subject,
			    b->c[i].sha256, pem);
	}
	return CA_OK;
}

int
bundle_set_sha256(const struct bundle *b, char out[65])
{
	struct awsbuf	 all = { 0 };
	char		**fp = NULL;
	int		 rc = CA_OK;

	/* Order does not matter to ALB: the sorted fingerprints. */
	if (b->n > 0 && (fp = calloc(b->n, sizeof(*fp))) == NULL)
		return CA_ENOMEM;
	for (size_t i = 0; i < b->n; i++)
		fp[i] = b->c[i].sha256;
	for (size_t i = 1; i < b->n; i++)
		for (size_t k = i; k > 0 && strcmp(fp[k - 1], fp[k]) > 0; k--) {
			char *t = fp[k];
			fp[k] = fp[k - 1];
			fp[k - 1] = t;
		}
	for (size_t i = 0; i < b->n && rc == CA_OK; i++)
		rc = awsbuf_printf(&all, "%s\n", fp[i]);
	if (rc == CA_OK)
		rc = sigv4_sha256_hex(all.data != NULL ? all.data : "", all.len,
		    out);
	awsbuf_free(&all);
	free(fp);
	return rc;
}
