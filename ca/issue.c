/*
 * Issuance: a certificate built from the profile, with only what the profile
 * allows copied from a checked CSR (STYLE.md "Untrusted input" 4), signed by
 * the CA. Recording it (record.c) is the caller's next step.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "common/der.h"
#include "common/pem.h"
#include "common/util.h"
#include "ca/ca_int.h"

#define DAYS_HARD_MAX		(100 * 366)

void
ca_profile_default(struct ca_profile *p)
{
	static const char *const allowed[] = { "C", "ST", "L", "O", "OU",
	    "CN", "emailAddress" };

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "client");
	/* The runbook's `openssl x509 -req -days 365`; requests may ask for
	 * up to 825 days (the longest TLS lifetime browsers ever accepted). */
	p->days = 365;
	p->max_days = 825;
	p->server_auth = true;		/* client_ext.cnf: serverAuth, */
	p->client_auth = true;		/* clientAuth */
	p->allow_dns = p->allow_email = p->allow_uri = p->allow_ip = true;
	p->max_sans = CA_SAN_MAX;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		snprintf(p->subject_allowed[i], sizeof(p->subject_allowed[i]),
		    "%s", allowed[i]);
	p->n_allowed = sizeof(allowed) / sizeof(allowed[0]);
	snprintf(p->subject_required[0], sizeof(p->subject_required[0]),
	    "CN");
	p->n_required = 1;
}

void
ca_issued_clear(struct ca_issued *iss)
{
	if (iss == NULL)
		return;
	free(iss->der);
	free(iss->pem);
	free(iss->subject);
	memset(iss, 0, sizeof(*iss));
}

void
ca_issued_record(const struct ca_issued *iss, int64_t issued_at,
    struct cert_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	memcpy(rec->serial, iss->serial, iss->serial_len);
	rec->serial_len = iss->serial_len;
	rec->status = CERT_STATUS_VALID;
	rec->not_before = iss->not_before;
	rec->not_after = iss->not_after;
	rec->issued_at = issued_at;
	rec->ca_id = iss->ca_id;
	memcpy(rec->profile, iss->profile, sizeof(rec->profile));
	/* Borrowed: the store only reads a record it is handed. */
	rec->subject = iss->subject;
	rec->der = iss->der;
	rec->der_len = iss->der_len;
}

static bool
oid_in(const char *oid, const char (*names)[16], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *o = ca_rdn_oid(names[i]);
		if (o != NULL && strcmp(o, oid) == 0)
			return true;
	}
	return false;
}

bool
ca_profile_allows(const struct ca_profile *p, const char *oid)
{
	return oid_in(oid, p->subject_allowed, p->n_allowed);
}

/* The profile names RDN types we know; a typo must not silently drop
 * attributes or make a requirement impossible. */
static int
profile_check(const struct ca_profile *p, struct ca_error *err)
{
	if (p->n_allowed > CA_PROFILE_RDN_MAX ||
	    p->n_required > CA_PROFILE_RDN_MAX)
		return ca_error_set(err, CA_EINVAL, "profile %.32s: too many "
		    "subject attribute names", p->name);
	for (size_t i = 0; i < p->n_allowed; i++)
		if (memchr(p->subject_allowed[i], '\0', 16) == NULL ||
		    ca_rdn_oid(p->subject_allowed[i]) == NULL)
			return ca_error_set(err, CA_EINVAL, "profile %.32s: "
			    "unknown subject attribute '%.16s'", p->name,
			    p->subject_allowed[i]);
	for (size_t i = 0; i < p->n_required; i++) {
		if (memchr(p->subject_required[i], '\0', 16) == NULL ||
		    ca_rdn_oid(p->subject_required[i]) == NULL)
			return ca_error_set(err, CA_EINVAL, "profile %.32s: "
			    "unknown subject attribute '%.16s'", p->name,
			    p->subject_required[i]);
		if (!oid_in(ca_rdn_oid(p->subject_required[i]),
		    p->subject_allowed, p->n_allowed))
			return ca_error_set(err, CA_EINVAL, "profile %.32s: "
			    "'%.16s' is required but not allowed", p->name,
			    p->subject_required[i]);
	}
	return CA_OK;
}

/* The allowed subject attributes, copied in the CSR's order (RFC 5280
 * §4.1.2.6, certder.c); *n_copied counts them. The required ones must be
 * there, and one CN at most. */
static int
check_subject(const struct ca_csr *csr, const struct ca_profile *p,
    size_t *n_copied, struct ca_error *err)
{
	for (size_t i = 0; i < p->n_required; i++) {
		const char *oid = ca_rdn_oid(p->subject_required[i]);
		bool found = false;

		for (size_t k = 0; k < csr->n_avas && !found; k++)
			found = strcmp(csr->avas[k].oid, oid) == 0;
		if (!found)
			return ca_refuse(err, CA_EPOLICY, CA_REASON_SUBJECT,
			    "the CSR's subject has no %.16s, which profile "
			    "%.32s requires", p->subject_required[i],
			    p->name);
	}
	*n_copied = 0;
	for (size_t k = 0, n_cn = 0; k < csr->n_avas; k++) {
		const struct ca_csr_ava *a = &csr->avas[k];

		if (!oid_in(a->oid, p->subject_allowed, p->n_allowed))
			continue;
		/* One holder per certificate: the first CN is the one a
		   token binds (ca_csr_cn), the HTTP layer compares, and
		   nginx's $ssl_client_s_dn_cn shows; a second would ride
		   along unchecked. */
		if (strcmp(a->oid, "2.5.4.3") == 0 && n_cn++ > 0)
			return ca_refuse(err, CA_EPOLICY, CA_REASON_SUBJECT,
			    "the CSR's subject has more than one CN: a "
			    "certificate names one holder");
		(*n_copied)++;
	}
	return CA_OK;
}

static const char *
san_label(unsigned type)
{
	switch (type) {
	case GNUTLS_SAN_DNSNAME: return "DNS";
	case GNUTLS_SAN_RFC822NAME: return "email";
	case GNUTLS_SAN_URI: return "URI";
	case GNUTLS_SAN_IPADDRESS: return "IP";
	case GNUTLS_SAN_OTHERNAME: return "otherName";
	case GNUTLS_SAN_DN: return "directoryName";
	case GNUTLS_SAN_REGISTERED_ID: return "registeredID";
	default: return "unknown";
	}
}

int
ca_profile_deny(struct ca_profile *p, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n >= CA_NAME_MAX)
		return CA_EINVAL;
	for (size_t i = 0; i < p->n_deny; i++)
		if (strcasecmp(p->deny_names[i], name) == 0)
			return CA_OK;
	if (p->n_deny >= CA_PROFILE_DENY_MAX)
		return CA_ETOOBIG;
	memcpy(p->deny_names[p->n_deny++], name, n + 1);
	return CA_OK;
}

/* Length of a DNS name without one trailing dot: "host." and "host" name
   the same node (RFC 1034 section 3.1). */
static size_t
dns_len(const char *s, size_t n)
{
	return n > 1 && s[n - 1] == '.' ? n - 1 : n;
}

/* Case-insensitive glob of one label: '*' matches any run of characters.
   Iterative, with one backtrack point: a request full of stars costs
   O(pn * sn), never exponential time. */
static bool
label_glob(const char *p, size_t pn, const char *s, size_t sn)
{
	size_t	pi = 0, si = 0, star = SIZE_MAX, mark = 0;

	while (si < sn) {
		if (pi < pn && p[pi] == '*') {
			star = pi++;
			mark = si;
		} else if (pi < pn && tolower((unsigned char)p[pi]) ==
		    tolower((unsigned char)s[si])) {
			pi++;
			si++;
		} else if (star != SIZE_MAX) {
			pi = star + 1;
			si = ++mark;
		} else
			return false;
	}
	while (pi < pn && p[pi] == '*')
		pi++;
	return pi == pn;
}

/*
 * Whether a requested DNS name or CN would be matched, by a TLS client, to
 * host: equal ignoring case and a trailing dot, or a wildcard in its
 * leftmost label ("*.example.com", "f*.example.com") that covers host's
 * leftmost label with the rest equal (RFC 6125 section 6.4.3).
 */
static bool
name_covers(const char *req, const char *host)
{
	size_t		 rn = dns_len(req, strlen(req));
	size_t		 hn = dns_len(host, strlen(host));
	const char	*rdot = memchr(req, '.', rn);
	const char	*hdot = memchr(host, '.', hn);

	if (rn == hn && strncasecmp(req, host, rn) == 0)
		return true;
	if (memchr(req, '*', rdot != NULL ? (size_t)(rdot - req) : rn) == NULL)
		return false;
	/* a lone "*" (or "*."): refuse it against single-label names too */
	if (rdot == NULL)
		return hdot == NULL && label_glob(req, rn, host, hn);
	if (hdot == NULL)
		return false;
	if (rn - (size_t)(rdot - req) != hn - (size_t)(hdot - host) ||
	    strncasecmp(rdot, hdot, rn - (size_t)(rdot - req)) != 0)
		return false;
	return label_glob(req, (size_t)(rdot - req), host,
	    (size_t)(hdot - host));
}

/* The deny-list entry a DNS name or CN would be matched to (either one a
   wildcard covering the other), or NULL. */
static const char *
denied_text(const struct ca_profile *p, const char *text)
{
	for (size_t i = 0; i < p->n_deny; i++)
		if (name_covers(text, p->deny_names[i]) ||
		    name_covers(p->deny_names[i], text))
			return p->deny_names[i];
	return NULL;
}

/* The deny-list entry equal to a raw IP address (4 or 16 bytes), compared as
   addresses in canonical form, so that "::1" and "0:0::1" are one name, and
   so are "127.0.0.1" and "::ffff:127.0.0.1" (ca_ip_canon); or NULL. */
static const char *
denied_ip(const struct ca_profile *p, const uint8_t *ip, size_t len)
{
	uint8_t	a[16], want[16], have[16];
	size_t	wn = ca_ip_canon(ip, len, want), hn;

	for (size_t i = 0; i < p->n_deny; i++) {
		const char *d = p->deny_names[i];

		if (inet_pton(AF_INET, d, a) == 1)
			hn = ca_ip_canon(a, 4, have);
		else if (inet_pton(AF_INET6, d, a) == 1)
			hn = ca_ip_canon(a, 16, have);
		else
			continue;
		if (hn == wn && memcmp(have, want, wn) == 0)
			return d;
	}
	return NULL;
}

/* A CN that is an IP literal, compared as an address (some clients still
   match a CN against the host they dialled); or NULL. */
static const char *
denied_cn_ip(const struct ca_profile *p, const char *cn)
{
	uint8_t	a[16];

	if (inet_pton(AF_INET, cn, a) == 1)
		return denied_ip(p, a, 4);
	if (inet_pton(AF_INET6, cn, a) == 1)
		return denied_ip(p, a, 16);
	return NULL;
}

/*
 * Refuse a request for one of the profile's denied names: the service's own
 * names must not be obtainable with an enrollment token, since the profile's
 * serverAuth EKU (the runbook's) would let that certificate impersonate the
 * service to every client that trusts this CA. A CN counts too: TLS clients
 * still fall back to the CN when a certificate has no DNS SAN.
 */
static int
check_denied_names(const struct ca_csr *csr, const struct ca_profile *p,
    struct ca_error *err)
{
	const char *hit;

	if (p->n_deny == 0)
		return CA_OK;
	/* Every CN, not only the first: clients that fall back to the CN
	   may look at any of them. */
	for (size_t i = 0; i < csr->n_avas; i++)
		if (strcmp(csr->avas[i].oid, "2.5.4.3") == 0 &&
		    ((hit = denied_text(p, csr->avas[i].value)) != NULL ||
		    (hit = denied_cn_ip(p, csr->avas[i].value)) != NULL))
			return ca_refuse(err, CA_EPOLICY, CA_REASON_SERVER_NAME,
			    "the CSR asks for CN=%.64s, which names %.64s, a "
			    "name of this CA's own service: profile %.32s "
			    "refuses it so that no enrolled certificate can "
			    "impersonate the service",
			    csr->avas[i].value, hit, p->name);
	for (size_t i = 0; i < csr->n_sans; i++) {
		const struct ca_csr_san	*s = &csr->sans[i];
		const char		*asked = "";

		hit = NULL;
		if (s->type == GNUTLS_SAN_DNSNAME) {
			hit = denied_text(p, (const char *)s->data);
			/* say how a wildcard or trailing dot was asked */
			if (hit != NULL && strcasecmp(hit,
			    (const char *)s->data) != 0)
				asked = (const char *)s->data;
		} else if (s->type == GNUTLS_SAN_IPADDRESS)
			hit = denied_ip(p, s->data, s->len);
		if (hit != NULL)
			return ca_refuse(err, CA_EPOLICY, CA_REASON_SERVER_NAME,
			    "the CSR asks for %s %.64s%s%.64s%s, a name of "
			    "this CA's own service: profile %.32s refuses it "
			    "so that no enrolled certificate can impersonate "
			    "the service",
			    san_label(s->type), hit, asked[0] ? " (as " : "",
			    asked, asked[0] ? ")" : "", p->name);
	}
	return CA_OK;
}


/* subjectAltName: the CSR's entries of the types the profile allows (all
 * copied, certder.c); any other entry refuses the request rather than
 * vanishing silently. */
static int
check_sans(const struct ca_csr *csr, const struct ca_profile *p,
    bool subject_empty, struct ca_error *err)
{
	/* max_sans 0 means no subjectAltName at all (ca.conf.example:
	   "0 to 32"); ca_profile_default() sets CA_SAN_MAX. */
	unsigned max = p->max_sans < CA_SAN_MAX ? p->max_sans : CA_SAN_MAX;

	if (csr->n_sans == 0) {
		if (subject_empty)
			return ca_refuse(err, CA_EPOLICY, CA_REASON_SUBJECT,
			    "the certificate would name no one: profile %.32s "
			    "copies no subject attribute of this CSR and it "
			    "has no subjectAltName", p->name);
		return CA_OK;
	}
	if (csr->n_sans > max)
		return ca_refuse(err, CA_EPOLICY, CA_REASON_SAN,
		    "the CSR has %zu subjectAltNames: profile %.32s "
		    "allows %u", csr->n_sans, p->name, max);
	for (size_t i = 0; i < csr->n_sans; i++) {
		unsigned t = csr->sans[i].type;
		bool ok = (t == GNUTLS_SAN_DNSNAME && p->allow_dns) ||
		    (t == GNUTLS_SAN_RFC822NAME && p->allow_email) ||
		    (t == GNUTLS_SAN_URI && p->allow_uri) ||
		    (t == GNUTLS_SAN_IPADDRESS && p->allow_ip);

		if (!ok)
			return ca_refuse(err, CA_EPOLICY, CA_REASON_SAN,
			    "profile %.32s does not issue %s subjectAltNames",
			    p->name, san_label(t));
	}
	return CA_OK;
}

static int
dup_datum(const gnutls_datum_t *d, bool nul, void *out, size_t *len,
    struct ca_error *err)
{
	uint8_t *p = malloc(d->size + 1);

	if (p == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	if (d->size > 0)
		memcpy(p, d->data, d->size);
	if (nul)
		p[d->size] = '\0';
	*(uint8_t **)out = p;
	if (len != NULL)
		*len = d->size;
	return CA_OK;
}

/* PEM of a certificate (RFC 7468 §5), as gnutls_pem_base64_encode2 writes
   it: 64 columns, a newline after every line. */
static int
pem_of(const uint8_t *der, size_t len, char **out, struct ca_error *err)
{
	size_t n;

	return pem_encode("CERTIFICATE", der, len, out, &n, err);
}

/*
 * The subject as RFC 4514 text, GnuTLS's text for the Name written
 * (name, len: what gnutls_x509_crt_get_dn3 says of the certificate), in
 * *out (malloc'd). When the profile kept the CSR's Name octet for octet
 * (the usual case), that is the text ca_csr_parse already wrote from the
 * same octets; else ca_name_text writes it, or GnuTLS for the shapes
 * ca_name_text leaves to it (decoding through libtasn1 cost ~5 us a
 * certificate, issue 15).
 */
static int
issued_subject(const struct ca_csr *csr, const uint8_t *name, size_t len,
    char **out, struct ca_error *err)
{
	gnutls_datum_t	n = { (unsigned char *)name, (unsigned)len };
	gnutls_datum_t	d = { NULL, 0 };
	struct der_cur	c;
	struct der_tlv	t;
	char		text[1024];
	int		rc;

	if (csr->subject_der != NULL && len == csr->subject_der_len &&
	    memcmp(name, csr->subject_der, len) == 0) {
		if ((*out = strdup(csr->subject)) == NULL)
			return ca_error_set(err, CA_ENOMEM, "out of memory");
		return CA_OK;
	}
	der_cur_init(&c, name, len);
	if (der_expect(&c, DER_SEQUENCE, &t) == 0 && c.left == 0 &&
	    ca_name_text(t.p, t.len, text, sizeof(text)) > 0) {
		if ((*out = strdup(text)) == NULL)
			return ca_error_set(err, CA_ENOMEM, "out of memory");
		return CA_OK;
	}
	if ((rc = gnutls_x509_rdn_get2(&n, &d, 0)) < 0 &&
	    rc != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE &&
	    rc != GNUTLS_E_ASN1_ELEMENT_NOT_FOUND) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "subject");
		goto out;
	}
	if (rc < 0) {			/* empty subject */
		gnutls_free(d.data);
		d.data = NULL;
		d.size = 0;
	}
	rc = dup_datum(&d, true, out, NULL, err);
out:
	gnutls_free(d.data);
	return rc;
}

int
ca_issue_at(struct ca *ca, const struct ca_csr *csr,
    const struct ca_profile *profile, const uint8_t serial[16], int64_t now,
    int64_t not_after, struct ca_issued *out, struct ca_error *err)
{
	struct ca_issued	 iss;
	uint8_t			*tbs = NULL;
	size_t			 tbs_len = 0, name_off = 0, name_len = 0;
	int			 rc;

	memset(&iss, 0, sizeof(iss));
	if ((rc = ca_tbs_write(ca, csr, profile, serial, 16, now, not_after,
	    &tbs, &tbs_len, &name_off, &name_len, err)) != CA_OK)
		goto out;
	if ((rc = ca_cert_assemble(ca, tbs, tbs_len, &iss.der, &iss.der_len,
	    err)) != CA_OK)
		goto out;
	memcpy(iss.serial, serial, 16);
	iss.serial_len = 16;
	iss.not_before = now;
	iss.not_after = not_after;
	iss.ca_id = ca->id;
	snprintf(iss.profile, sizeof(iss.profile), "%s", profile->name);
	if ((rc = pem_of(iss.der, iss.der_len, &iss.pem, err)) != CA_OK)
		goto out;
	if ((rc = issued_subject(csr, tbs + name_off, name_len, &iss.subject,
	    err)) != CA_OK)
		goto out;
	*out = iss;
	memset(&iss, 0, sizeof(iss));
	rc = CA_OK;
out:
	free(tbs);
	ca_issued_clear(&iss);
	return rc;
}

int
ca_issue(struct ca *ca, const struct ca_csr *csr,
    const struct ca_profile *profile, unsigned days, int64_t now,
    struct ca_issued *out, struct ca_error *err)
{
	uint8_t			 serial[16];
	size_t			 n_subject = 0;
	unsigned		 max_days;
	int64_t			 not_after;
	bool			 truncated = false;
	int			 rc;

	if (ca == NULL || csr == NULL || profile == NULL || out == NULL)
		return ca_error_set(err, CA_EINVAL, "ca_issue: missing "
		    "argument");
	if ((rc = profile_check(profile, err)) != CA_OK)
		return rc;

	/* Validity (RFC 5280 §4.1.2.5), never past the CA's own notAfter:
	 * a chain is only as valid as its shortest link. */
	if (days == 0)
		days = profile->days ? profile->days : 365;
	max_days = profile->max_days ? profile->max_days : DAYS_HARD_MAX;
	if (max_days > DAYS_HARD_MAX)
		max_days = DAYS_HARD_MAX;
	if (days > max_days)
		return ca_refuse(err, CA_EPOLICY, CA_REASON_VALIDITY,
		    "a validity of %u days was asked: profile %.32s allows "
		    "at most %u days", days, profile->name, max_days);
	if (now >= ca->not_after)
		return ca_refuse(err, CA_EPOLICY, CA_REASON_CA_EXPIRED,
		    "the CA certificate has expired: it can no longer issue");
	if ((rc = check_denied_names(csr, profile, err)) != CA_OK)
		return rc;
	not_after = now + (int64_t)days * 86400;
	if (not_after > ca->not_after) {
		/* Said in the answer and the audit, never silently. */
		not_after = ca->not_after;
		truncated = true;
	}

	/* The runbook's client_ext.cnf [v3_req] (certder.c): only what the
	 * profile allows is taken from the request, after these checks;
	 * nothing of the request's extensions is copied. */
	if ((rc = check_subject(csr, profile, &n_subject, err)) != CA_OK ||
	    (rc = check_sans(csr, profile, n_subject == 0, err)) != CA_OK)
		return rc;
	if ((rc = ca_serial_new(serial, err)) != CA_OK)
		return rc;
	if ((rc = ca_issue_at(ca, csr, profile, serial, now, not_after, out,
	    err)) != CA_OK)
		return rc;
	if (truncated)
		ca_truncation_note(ca, days, now, out);
	return CA_OK;
}
