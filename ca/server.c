/*
 * The service's own side of X.509: the certificate its HTTPS listener
 * presents (issued by this CA for the configured names, so that
 * `curl --cacert ca.pem https://localhost:8443/` works out of the box), and
 * the check of a certificate a TLS client presents (mTLS admin and renew).
 * http/ never builds or verifies a certificate itself: it comes here.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "ca/ca.h"
#include "ca/ca_int.h"
#include "common/util.h"

#define SERVER_DAYS_MAX		825	/* CA/B-style cap on a server cert */

/* A name is an IP address (iPAddress SAN) if inet_pton takes it. */
static int
name_ip(const char *name, uint8_t ip[16], size_t *len)
{
	if (inet_pton(AF_INET, name, ip) == 1) {
		*len = 4;
		return 1;
	}
	if (inet_pton(AF_INET6, name, ip) == 1) {
		*len = 16;
		return 1;
	}
	return 0;
}

static int
names_check(const char *const *names, size_t n, struct ca_error *err)
{
	if (n == 0 || n > CA_SAN_MAX)
		return ca_error_set(err, CA_EINVAL, "a server certificate "
		    "needs 1 to %d names", CA_SAN_MAX);
	for (size_t i = 0; i < n; i++) {
		size_t l = names[i] ? strlen(names[i]) : 0;

		if (l == 0 || l >= CA_NAME_MAX)
			return ca_error_set(err, CA_EINVAL, "server name %zu "
			    "is empty or longer than %d bytes", i,
			    CA_NAME_MAX - 1);
		for (size_t j = 0; j < l; j++) {
			char c = names[i][j];

			/* RFC 1035 §2.3.1 letters, digits, hyphen, dots; ':'
			   for IPv6 literals; '*' for a wildcard label. */
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
			    c == ':' || c == '*'))
				return ca_error_set(err, CA_EINVAL, "server "
				    "name '%.64s' is not a DNS name or an IP "
				    "address", names[i]);
		}
	}
	return CA_OK;
}

static int
pem_dup(const gnutls_datum_t *d, char **out)
{
	char *s = malloc(d->size + 1);

	if (s == NULL)
		return CA_ENOMEM;
	memcpy(s, d->data, d->size);
	s[d->size] = '\0';
	*out = s;
	return CA_OK;
}

/* What server_sign signs: the key is made once, the certificate again
   after a serial collision. */
struct server_sign {
	struct ca		*ca;
	gnutls_x509_privkey_t	 key;
	const char *const	*names;
	size_t			 n_names;
	unsigned		 days;
};

/* A ca_sign_fn (record.c): one server certificate with a fresh serial. */
static int
server_sign(void *arg, int64_t now, struct ca_issued *out,
    struct ca_error *err)
{
	struct server_sign	*ss = arg;
	struct ca		*ca = ss->ca;
	gnutls_x509_crt_t	 crt = NULL;
	gnutls_datum_t		 cpem = { NULL, 0 }, der = { NULL, 0 };
	struct ca_signer	*signer;
	struct ca_issued	 iss;
	uint8_t			 serial[16], ski[64], ip[16];
	size_t			 ski_len = sizeof(ski), ca_ski_len, iplen;
	const uint8_t		*caski;
	int64_t			 nb, na;
	int			 rc;

	memset(&iss, 0, sizeof(iss));
	if ((rc = gnutls_x509_crt_init(&crt)) < 0)
		return ca_gnutls_err(err, CA_ENOMEM, rc, "init");
	if ((rc = ca_serial_new(serial, err)) != CA_OK)
		goto out;
	/* Backdate a minute for clients whose clocks lag a little. */
	nb = now - 60;
	na = now + (int64_t)ss->days * 86400;
	if (na > ca_not_after(ca)) {
		na = ca_not_after(ca);
		ca_truncation_note(ca, ss->days, now, &iss);
	}
	if ((rc = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
	    (rc = gnutls_x509_crt_set_key(crt, ss->key)) < 0 ||
	    (rc = gnutls_x509_crt_set_activation_time(crt, (time_t)nb)) < 0 ||
	    (rc = gnutls_x509_crt_set_expiration_time(crt, (time_t)na)) < 0 ||
	    (rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME,
	    0, ss->names[0], (unsigned)strlen(ss->names[0]))) < 0 ||
	    (rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    /* RFC 5480 §3: an ECDSA key signs; no keyEncipherment. */
	    (rc = gnutls_x509_crt_set_key_usage(crt,
	    GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_purpose_oid(crt,
	    GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "building the server "
		    "certificate");
		goto out;
	}
	/* RFC 6125 §6.4.4: clients match the SANs, the CN is a label. */
	for (size_t i = 0; i < ss->n_names; i++) {
		if (name_ip(ss->names[i], ip, &iplen))
			rc = gnutls_x509_crt_set_subject_alt_name(crt,
			    GNUTLS_SAN_IPADDRESS, ip, (unsigned)iplen,
			    GNUTLS_FSAN_APPEND);
		else
			rc = gnutls_x509_crt_set_subject_alt_name(crt,
			    GNUTLS_SAN_DNSNAME, ss->names[i],
			    (unsigned)strlen(ss->names[i]), GNUTLS_FSAN_APPEND);
		if (rc < 0) {
			rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "server SAN");
			goto out;
		}
	}
	if ((rc = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, ski,
	    &ski_len)) < 0 ||
	    (rc = gnutls_x509_crt_set_subject_key_id(crt, ski, ski_len)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "server SKI");
		goto out;
	}
	if ((caski = ca_ski(ca, &ca_ski_len)) != NULL && ca_ski_len > 0 &&
	    (rc = gnutls_x509_crt_set_authority_key_id(crt, caski,
	    ca_ski_len)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "server AKI");
		goto out;
	}
	signer = ca_signer_acquire(ca);
	rc = gnutls_x509_crt_privkey_sign(crt, signer->crt, signer->key,
	    ca->dig, 0);
	ca_signer_release(signer);
	if (rc < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "signing the server "
		    "certificate");
		goto out;
	}
	if ((rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der)) < 0 ||
	    (rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cpem)) <
	    0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "server certificate "
		    "export");
		goto out;
	}
	memcpy(iss.serial, serial, sizeof(serial));
	iss.serial_len = sizeof(serial);
	iss.not_before = nb;
	iss.not_after = na;
	iss.ca_id = ca->id;
	snprintf(iss.profile, sizeof(iss.profile), "%s", CA_PROFILE_SERVICE);
	iss.der_len = der.size;
	if ((iss.der = malloc(der.size)) == NULL ||
	    pem_dup(&cpem, &iss.pem) != CA_OK ||
	    (iss.subject = malloc(strlen(ss->names[0]) + 4)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(iss.der, der.data, der.size);
	/* The record's subject, as it has always been written. */
	snprintf(iss.subject, strlen(ss->names[0]) + 4, "CN=%s", ss->names[0]);
	*out = iss;
	memset(&iss, 0, sizeof(iss));
	rc = CA_OK;
out:
	ca_issued_clear(&iss);
	gnutls_free(cpem.data);
	gnutls_free(der.data);
	gnutls_x509_crt_deinit(crt);
	return rc;
}

int
ca_issue_server(struct ca *ca, struct store *st, const char *const *names,
    size_t n_names, unsigned days, char **cert_pem, char **key_pem,
    struct ca_error *err)
{
	struct server_sign	 ss;
	struct ca_issued	 iss;
	gnutls_datum_t		 kpem = { NULL, 0 };
	char			*outk = NULL;
	int			 rc;

	memset(&ss, 0, sizeof(ss));
	memset(&iss, 0, sizeof(iss));
	if (ca == NULL || st == NULL || cert_pem == NULL || key_pem == NULL)
		return ca_error_set(err, CA_EINVAL, "ca_issue_server: missing "
		    "argument");
	if ((rc = names_check(names, n_names, err)) != CA_OK)
		return rc;
	ss.ca = ca;
	ss.names = names;
	ss.n_names = n_names;
	ss.days = days == 0 ? 365 : days > SERVER_DAYS_MAX ? SERVER_DAYS_MAX :
	    days;
	if ((rc = gnutls_x509_privkey_init(&ss.key)) < 0) {
		rc = ca_gnutls_err(err, CA_ENOMEM, rc, "init");
		goto out;
	}
	/* P-256: every TLS 1.2/1.3 client takes it, and handshakes are cheap. */
	if ((rc = gnutls_x509_privkey_generate2(ss.key, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0, NULL, 0)) <
	    0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "server key generation");
		goto out;
	}
	if ((rc = gnutls_x509_privkey_export2_pkcs8(ss.key,
	    GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &kpem)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "server key export");
		goto out;
	}
	if (pem_dup(&kpem, &outk) != CA_OK) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	/* The store knows every certificate this CA signs (DESIGN.md). */
	if ((rc = ca_sign_record(st, server_sign, &ss, "serve", "issue", &iss,
	    err)) != CA_OK)
		goto out;
	*cert_pem = iss.pem;
	iss.pem = NULL;
	*key_pem = outk;
	outk = NULL;
	rc = CA_OK;
out:
	ca_issued_clear(&iss);
	if (outk != NULL) {
		gnutls_memset(outk, 0, strlen(outk));
		free(outk);
	}
	if (kpem.data != NULL) {
		gnutls_memset(kpem.data, 0, kpem.size);
		gnutls_free(kpem.data);
	}
	gnutls_x509_privkey_deinit(ss.key);
	return rc;
}

static int
ca_crt_import(const struct ca *ca, gnutls_x509_crt_t *out,
    struct ca_error *err)
{
	gnutls_datum_t	d;
	int		rc;

	d.data = ca->der;
	d.size = (unsigned)ca->der_len;
	if ((rc = gnutls_x509_crt_init(out)) < 0)
		return ca_gnutls_err(err, CA_ENOMEM, rc, "init");
	if ((rc = gnutls_x509_crt_import(*out, &d, GNUTLS_X509_FMT_DER)) < 0) {
		gnutls_x509_crt_deinit(*out);
		*out = NULL;
		return ca_gnutls_err(err, CA_ECRYPTO, rc, "CA certificate");
	}
	return CA_OK;
}

/* Signed by this CA and inside its validity at now. */
static int
crt_check_issued(const struct ca *ca, gnutls_x509_crt_t crt, int64_t now,
    const char *what, struct ca_error *err)
{
	gnutls_x509_crt_t	cacrt = NULL;
	unsigned		status = 0;
	int			rc;

	if ((rc = ca_crt_import(ca, &cacrt, err)) != CA_OK)
		return rc;
	/* Time is checked below against our clock (MTLSCA_FAKE_NOW too). */
	rc = gnutls_x509_crt_verify(crt, &cacrt, 1,
	    GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
	    GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS, &status);
	gnutls_x509_crt_deinit(cacrt);
	if (rc < 0 || status != 0)
		return ca_error_set(err, CA_EAUTH, "%s is not signed by this "
		    "CA", what);
	if (now < (int64_t)gnutls_x509_crt_get_activation_time(crt))
		return ca_error_set(err, CA_EAUTH, "%s is not valid yet", what);
	if (now > (int64_t)gnutls_x509_crt_get_expiration_time(crt))
		return ca_error_set(err, CA_EAUTH, "%s has expired", what);
	return CA_OK;
}

/*
 * Good for TLS client authentication: an end entity (not the CA itself,
 * RFC 5280 section 4.2.1.9) whose extendedKeyUsage, when present, lists
 * clientAuth (section 4.2.1.12). The service's own serverAuth-only
 * certificate, or one of a server-only profile, must not log in.
 */
int
ca_crt_check_client(gnutls_x509_crt_t crt, struct ca_error *err)
{
	char		oid[128];
	size_t		sz;
	unsigned	crit = 0;
	bool		any = false;
	int		rc;

	if (gnutls_x509_crt_get_basic_constraints(crt, &crit, NULL, NULL) > 0)
		return ca_error_set(err, CA_EAUTH, "the client certificate is "
		    "a CA certificate, not an end entity");
	for (unsigned i = 0; ; i++) {
		sz = sizeof(oid);
		rc = gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &sz,
		    &crit);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (rc < 0)
			return ca_error_set(err, CA_EAUTH, "the client "
			    "certificate's extendedKeyUsage cannot be read: %s",
			    gnutls_strerror(rc));
		any = true;
		if (strcmp(oid, GNUTLS_KP_TLS_WWW_CLIENT) == 0 ||
		    strcmp(oid, GNUTLS_KP_ANY) == 0)
			return CA_OK;
	}
	if (any)
		return ca_error_set(err, CA_EAUTH, "the client certificate's "
		    "extendedKeyUsage lacks clientAuth (RFC 5280 section "
		    "4.2.1.12)");
	return CA_OK;
}

/* The first certificate of a PEM text (the leaf of a chain). */
static int
crt_from_pem(const char *pem, const char *what, gnutls_x509_crt_t *out,
    struct ca_error *err)
{
	gnutls_x509_crt_t	crt = NULL;
	gnutls_datum_t		d;
	int			rc;

	*out = NULL;
	if (pem == NULL)
		return ca_error_set(err, CA_EINVAL, "no %s", what);
	d.data = (unsigned char *)pem;
	d.size = (unsigned)strlen(pem);
	if ((rc = gnutls_x509_crt_init(&crt)) < 0)
		return ca_gnutls_err(err, CA_ENOMEM, rc, "init");
	if ((rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM)) < 0) {
		gnutls_x509_crt_deinit(crt);
		return ca_error_set(err, CA_EMALF, "%s: %s", what,
		    gnutls_strerror(rc));
	}
	*out = crt;
	return CA_OK;
}

/* Revoked in st (CA_EPOLICY naming the serial), or not known there. */
static int
crt_check_not_revoked(struct store *st, gnutls_x509_crt_t crt,
    const char *what, struct ca_error *err)
{
	struct cert_record	rec;
	uint8_t			serial[SERIAL_MAX + 1];
	size_t			n = sizeof(serial);
	char			hex[SERIAL_HEX_MAX + 2];
	int			rc;

	if (gnutls_x509_crt_get_serial(crt, serial, &n) < 0 || n == 0 ||
	    n > sizeof(serial))
		return ca_error_set(err, CA_EMALF, "%s has no usable serial",
		    what);
	memset(&rec, 0, sizeof(rec));
	rc = store_cert_get(st, serial, n, &rec, err);
	if (rc == CA_ENOENT) {
		ca_error_clear(err);
		return CA_OK;
	}
	if (rc != CA_OK)
		return rc;
	rc = rec.status == CERT_STATUS_REVOKED ? CA_EPOLICY : CA_OK;
	cert_record_clear(&rec);
	if (rc != CA_OK) {
		serial_format(serial, n, hex);
		return ca_error_set(err, rc, "%s (serial %s) is revoked", what,
		    hex);
	}
	return CA_OK;
}

int
ca_server_cert_revoked(struct ca *ca, struct store *st, const char *cert_pem,
    struct ca_error *err)
{
	gnutls_x509_crt_t	crt = NULL;
	struct ca_error		e;
	int			rc;

	if (ca == NULL || st == NULL)
		return ca_error_set(err, CA_EINVAL, "no CA or store");
	if ((rc = crt_from_pem(cert_pem, "server certificate", &crt, err)) !=
	    CA_OK)
		return rc;
	/* Another CA's certificate: this store says nothing about it. */
	rc = crt_check_issued(ca, crt, time_now(), "the server certificate",
	    &e) == CA_OK ? crt_check_not_revoked(st, crt,
	    "the HTTPS certificate", err) : CA_OK;
	gnutls_x509_crt_deinit(crt);
	return rc;
}

int
ca_server_cert_check(struct ca *ca, struct store *st, const char *cert_pem,
    const char *const *names, size_t n_names, int64_t now, int64_t min_left,
    struct ca_error *err)
{
	gnutls_x509_crt_t	crt = NULL;
	uint8_t			ip[16];
	size_t			iplen;
	int			rc;

	if (ca == NULL)
		return ca_error_set(err, CA_EINVAL, "no CA");
	if ((rc = crt_from_pem(cert_pem, "server certificate", &crt, err)) !=
	    CA_OK)
		return rc;
	if ((rc = crt_check_issued(ca, crt, now, "the server certificate",
	    err)) != CA_OK) {
		/* The reason stays; only the kind changes (printing err->msg
		   into itself would overlap). */
		if (err != NULL)
			err->code = CA_EPOLICY;
		rc = CA_EPOLICY;
		goto out;
	}
	if ((int64_t)gnutls_x509_crt_get_expiration_time(crt) - now <
	    min_left) {
		rc = ca_error_set(err, CA_EPOLICY, "the server certificate "
		    "expires soon");
		goto out;
	}
	if (st != NULL && (rc = crt_check_not_revoked(st, crt,
	    "the server certificate", err)) != CA_OK)
		goto out;
	for (size_t i = 0; i < n_names; i++) {
		unsigned ok;

		if (name_ip(names[i], ip, &iplen))
			ok = gnutls_x509_crt_check_ip(crt, ip, (unsigned)iplen,
			    0);
		else
			ok = gnutls_x509_crt_check_hostname2(crt, names[i],
			    GNUTLS_VERIFY_DO_NOT_ALLOW_WILDCARDS);
		if (!ok) {
			rc = ca_error_set(err, CA_EPOLICY, "the server "
			    "certificate does not name %s", names[i]);
			goto out;
		}
	}
	rc = CA_OK;
out:
	gnutls_x509_crt_deinit(crt);
	return rc;
}

int
ca_peer_check(struct ca *ca, const uint8_t *der, size_t len, int64_t now,
    struct ca_peer *out, struct ca_error *err)
{
	gnutls_x509_crt_t	 crt = NULL;
	gnutls_datum_t		 d, dn = { NULL, 0 };
	struct ca_peer		 p;
	size_t			 n;
	int			 rc;

	if (ca == NULL || der == NULL || out == NULL)
		return ca_error_set(err, CA_EINVAL, "no certificate");
	memset(&p, 0, sizeof(p));
	d.data = (unsigned char *)der;
	d.size = (unsigned)len;
	if ((rc = gnutls_x509_crt_init(&crt)) < 0)
		return ca_gnutls_err(err, CA_ENOMEM, rc, "init");
	if ((rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER)) < 0) {
		rc = ca_error_set(err, CA_EAUTH, "the client certificate "
		    "does not parse: %s", gnutls_strerror(rc));
		goto out;
	}
	if ((rc = crt_check_issued(ca, crt, now, "the client certificate",
	    err)) != CA_OK ||
	    (rc = ca_crt_check_client(crt, err)) != CA_OK)
		goto out;
	n = sizeof(p.serial);
	if ((rc = gnutls_x509_crt_get_serial(crt, p.serial, &n)) < 0 ||
	    n == 0 || n > SERIAL_MAX + 1) {
		rc = ca_error_set(err, CA_EAUTH, "the client certificate's "
		    "serial is unusable");
		goto out;
	}
	p.serial_len = n;
	if ((rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len,
	    p.fingerprint)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "fingerprint");
		goto out;
	}
	if ((rc = gnutls_x509_crt_get_dn3(crt, &dn, 0)) < 0 &&
	    rc != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
		rc = ca_error_set(err, CA_EAUTH, "client certificate subject: "
		    "%s", gnutls_strerror(rc));
		goto out;
	}
	if (dn.size >= sizeof(p.subject)) {
		rc = ca_error_set(err, CA_EAUTH, "client certificate subject "
		    "longer than %zu bytes", sizeof(p.subject) - 1);
		goto out;
	}
	if (dn.size > 0)
		memcpy(p.subject, dn.data, dn.size);
	p.subject[dn.size] = '\0';
	p.not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
	*out = p;
	rc = CA_OK;
out:
	gnutls_free(dn.data);
	gnutls_x509_crt_deinit(crt);
	return rc;
}

int
ca_cert_pem_not_after(const char *pem, int64_t *not_after,
    struct ca_error *err)
{
	gnutls_x509_crt_t	crt = NULL;
	int			rc;

	if (not_after == NULL)
		return ca_error_set(err, CA_EINVAL, "nowhere to put notAfter");
	if ((rc = crt_from_pem(pem, "certificate", &crt, err)) != CA_OK)
		return rc;
	*not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
	gnutls_x509_crt_deinit(crt);
	return CA_OK;
}

int
ca_cert_pem_names(const char *pem, char (*names)[CA_NAME_MAX], size_t max,
    size_t *n_out, struct ca_error *err)
{
	gnutls_x509_crt_t	crt = NULL;
	char			buf[CA_NAME_MAX];
	size_t			n = 0, sz;
	unsigned		type;
	int			rc;

	if ((rc = crt_from_pem(pem, "certificate", &crt, err)) != CA_OK)
		return rc;
	/* Every CN: clients that fall back to the CN may use any of them. */
	for (unsigned i = 0; ; i++) {
		sz = sizeof(buf);
		rc = gnutls_x509_crt_get_dn_by_oid(crt,
		    GNUTLS_OID_X520_COMMON_NAME, i, 0, buf, &sz);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (rc < 0 || sz == 0)
			continue;	/* too long or empty: no name to guard */
		if (n == max)
			goto full;
		snprintf(names[n++], CA_NAME_MAX, "%s", buf);
	}
	for (unsigned i = 0; ; i++) {
		sz = sizeof(buf) - 1;
		rc = gnutls_x509_crt_get_subject_alt_name2(crt, i, buf, &sz,
		    &type, NULL);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (rc < 0)
			continue;
		if (type == GNUTLS_SAN_DNSNAME) {
			buf[sz] = '\0';
			if (n == max)
				goto full;
			snprintf(names[n++], CA_NAME_MAX, "%s", buf);
		} else if (type == GNUTLS_SAN_IPADDRESS && (sz == 4 ||
		    sz == 16)) {
			if (n == max)
				goto full;
			inet_ntop(sz == 4 ? AF_INET : AF_INET6, buf, names[n++],
			    CA_NAME_MAX);
		}
	}
	*n_out = n;
	gnutls_x509_crt_deinit(crt);
	return CA_OK;
full:
	gnutls_x509_crt_deinit(crt);
	return ca_error_set(err, CA_ETOOBIG, "the certificate names more "
	    "than %zu hosts", max);
}
