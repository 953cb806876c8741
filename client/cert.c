/*
 * What a client needs to know about certificates: their facts (serial,
 * subject, validity, fingerprint), whether one matches a key and chains to
 * a CA, fingerprints as people type them, and when renewal is due.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "client/client.h"

/* A bundle is a few CA certificates; a leaf file, a leaf and its chain. */
#define BUNDLE_MAX	16

static int
crts_import(const char *pem, size_t len, gnutls_x509_crt_t **crts,
    unsigned *n, struct ca_error *err)
{
	gnutls_datum_t	d = { (unsigned char *)pem, (unsigned)len };
	int		rc;

	*crts = NULL;
	*n = 0;
	if (len > UINT32_MAX)
		return ca_error_set(err, CA_ETOOBIG, "certificate file too "
		    "large");
	if ((rc = gnutls_x509_crt_list_import2(crts, n, &d,
	    GNUTLS_X509_FMT_PEM, 0)) < 0 || *n == 0)
		return ca_error_set(err, CA_EMALF, "no PEM certificate%s%s",
		    rc < 0 ? ": " : "", rc < 0 ? gnutls_strerror(rc) : "");
	if (*n > BUNDLE_MAX) {
		for (unsigned i = 0; i < *n; i++)
			gnutls_x509_crt_deinit((*crts)[i]);
		gnutls_free(*crts);
		*crts = NULL;
		*n = 0;
		return ca_error_set(err, CA_ETOOBIG, "more than %d "
		    "certificates in one file", BUNDLE_MAX);
	}
	return CA_OK;
}

static void
crts_free(gnutls_x509_crt_t *crts, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
}

static int
sha256_of(gnutls_x509_crt_t crt, uint8_t out[32], struct ca_error *err)
{
	size_t	size = 32;
	int	rc;

	if ((rc = gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, out,
	    &size)) < 0 || size != 32)
		return ca_error_set(err, CA_ECRYPTO, "fingerprint: %s",
		    gnutls_strerror(rc));
	return CA_OK;
}

int
client_cert_info(const char *pem, size_t len, struct client_cert_info *out,
    struct ca_error *err)
{
	struct client_cert_info	 info;
	gnutls_x509_crt_t	*crts = NULL;
	gnutls_datum_t		 dn = { NULL, 0 };
	uint8_t			 serial[SERIAL_MAX + 1];
	size_t			 serial_len = sizeof(serial);
	unsigned		 n = 0;
	int			 rc;

	memset(&info, 0, sizeof(info));
	if ((rc = crts_import(pem, len, &crts, &n, err)) != CA_OK)
		return rc;
	if ((rc = gnutls_x509_crt_get_serial(crts[0], serial,
	    &serial_len)) < 0 || serial_len == 0) {
		rc = ca_error_set(err, CA_EMALF, "the certificate's serial "
		    "number is unreadable or longer than %d bytes",
		    SERIAL_MAX);
		goto out;
	}
	serial_format(serial, serial_len, info.serial);
	rc = gnutls_x509_crt_get_dn3(crts[0], &dn, 0);
	if (rc >= 0)
		snprintf(info.subject, sizeof(info.subject), "%.*s",
		    (int)dn.size, (const char *)dn.data);
	else if (rc != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
		rc = ca_error_set(err, CA_EMALF, "the certificate's subject: "
		    "%s", gnutls_strerror(rc));
		goto out;
	}
	info.not_before = (int64_t)gnutls_x509_crt_get_activation_time(crts[0]);
	info.not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crts[0]);
	if (info.not_before == -1 || info.not_after == -1 ||
	    info.not_after <= info.not_before) {
		rc = ca_error_set(err, CA_EMALF, "the certificate's validity "
		    "is unreadable or empty");
		goto out;
	}
	if ((rc = sha256_of(crts[0], info.fingerprint, err)) != CA_OK)
		goto out;
	info.n_certs = n;
	*out = info;
	rc = CA_OK;
out:
	gnutls_free(dn.data);
	crts_free(crts, n);
	return rc;
}

int
client_cert_verify(const char *cert_pem, size_t cert_len,
    const char *ca_pem, size_t ca_len, struct ca_error *err)
{
	gnutls_x509_trust_list_t	 tl = NULL;
	gnutls_x509_crt_t		*crts = NULL, *cas = NULL;
	gnutls_datum_t			 txt = { NULL, 0 };
	unsigned			 n = 0, n_ca = 0, status = 0;
	int				 rc;

	if ((rc = crts_import(cert_pem, cert_len, &crts, &n, err)) != CA_OK)
		return rc;
	if ((rc = crts_import(ca_pem, ca_len, &cas, &n_ca, err)) != CA_OK) {
		ca_error_set(err, rc, "the CA bundle holds no PEM "
		    "certificate");
		goto out;
	}
	if ((rc = gnutls_x509_trust_list_init(&tl, 0)) < 0) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	/* The list takes the CA certificates over (no deinit of ours). */
	if ((rc = gnutls_x509_trust_list_add_cas(tl, cas, n_ca, 0)) < 0) {
		rc = ca_error_set(err, CA_ECRYPTO, "trust list: %s",
		    gnutls_strerror(rc));
		goto out;
	}
	gnutls_free(cas);
	cas = NULL;
	n_ca = 0;
	/* Times are the caller's to judge against its own clock (which may
	   be the one that is wrong): only the signatures matter here. */
	if ((rc = gnutls_x509_trust_list_verify_crt2(tl, crts, 1, NULL, 0,
	    GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
	    GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS, &status, NULL)) < 0) {
		rc = ca_error_set(err, CA_ECRYPTO, "verification: %s",
		    gnutls_strerror(rc));
		goto out;
	}
	if (status != 0) {
		if (gnutls_certificate_verification_status_print(status,
		    GNUTLS_CRT_X509, &txt, 0) < 0)
			txt.data = NULL;
		rc = ca_error_set(err, CA_EPOLICY, "the certificate does not "
		    "chain to the CA: %s", txt.data != NULL ?
		    (const char *)txt.data : "not trusted");
		goto out;
	}
	rc = CA_OK;
out:
	gnutls_free(txt.data);
	if (tl != NULL)
		gnutls_x509_trust_list_deinit(tl, 1);
	crts_free(cas, n_ca);
	crts_free(crts, n);
	return rc;
}

int
client_fingerprint_parse(const char *text, uint8_t out[32],
    struct ca_error *err)
{
	static const char *const prefixes[] = { "sha256 fingerprint=",
	    "sha256fingerprint=", "sha256:", "sha256=", "sha-256:" };
	const char	*p = text;
	uint8_t		 fp[32];
	size_t		 n = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncasecmp(p, prefixes[i], strlen(prefixes[i])) == 0) {
			p += strlen(prefixes[i]);
			break;
		}
	for (; *p != '\0'; p++) {
		int hi, lo;

		if (*p == ':' || *p == ' ' || *p == '\t' || *p == '\n' ||
		    *p == '\r')
			continue;
		if (n == 32 || (hi = hex_digit(p[0])) < 0 || p[1] == '\0' ||
		    (lo = hex_digit(p[1])) < 0)
			break;
		fp[n++] = (uint8_t)(hi << 4 | lo);
		p++;
	}
	if (*p != '\0' || n != 32)
		return ca_error_set(err, CA_EINVAL, "'%.100s' is not a SHA-256 "
		    "fingerprint: 64 hex digits, with or without ':' between "
		    "the bytes", text);
	memcpy(out, fp, 32);
	return CA_OK;
}

void
client_fingerprint_format(const uint8_t fp[32], char out[CLIENT_FP_HEX])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < 32; i++) {
		out[2 * i] = hex[fp[i] >> 4];
		out[2 * i + 1] = hex[fp[i] & 15];
	}
	out[64] = '\0';
}

int
client_bundle_pick(const char *bundle, size_t len, const uint8_t fp[32],
    char **pem, struct ca_error *err)
{
	gnutls_x509_crt_t	*crts = NULL;
	gnutls_datum_t		 d = { NULL, 0 };
	uint8_t			 got[32];
	char			 want_hex[CLIENT_FP_HEX], got_hex[CLIENT_FP_HEX];
	char			 more[32] = "";
	unsigned		 n = 0;
	int			 rc;

	if ((rc = crts_import(bundle, len, &crts, &n, err)) != CA_OK) {
		ca_error_set(err, rc, "the server's CA bundle holds no PEM "
		    "certificate");
		return rc;
	}
	for (unsigned i = 0; i < n; i++) {
		if ((rc = sha256_of(crts[i], got, err)) != CA_OK)
			goto out;
		if (memcmp(got, fp, 32) != 0) {
			if (i == 0)
				client_fingerprint_format(got, got_hex);
			continue;
		}
		if ((rc = gnutls_x509_crt_export2(crts[i], GNUTLS_X509_FMT_PEM,
		    &d)) < 0) {
			rc = ca_error_set(err, CA_ECRYPTO, "export: %s",
			    gnutls_strerror(rc));
			goto out;
		}
		if ((*pem = malloc(d.size + 1)) == NULL) {
			rc = ca_error_set(err, CA_ENOMEM, "out of memory");
			goto out;
		}
		memcpy(*pem, d.data, d.size);
		(*pem)[d.size] = '\0';
		rc = CA_OK;
		goto out;
	}
	client_fingerprint_format(fp, want_hex);
	if (n > 1)
		snprintf(more, sizeof(more), " (and %u more)", n - 1);
	rc = ca_error_set(err, CA_EPOLICY, "CA fingerprint mismatch: the "
	    "server's CA certificate is %s%s, expected %s (--ca-fingerprint)",
	    got_hex, more, want_hex);
out:
	gnutls_free(d.data);
	crts_free(crts, n);
	return rc;
}

int64_t
client_renew_due(int64_t not_before, int64_t not_after)
{
	if (not_after <= not_before)
		return not_before;
	return not_before + (not_after - not_before) * 2 / 3;
}
