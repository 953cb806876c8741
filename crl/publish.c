/*
 * Publishers: the set, the gate every CRL passes before any upload, the dir
 * publisher, the state kept in the store, and its status and metrics.
 * S3 and ALB are in publish_aws.c.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "common/util.h"
#include "crl/crl_int.h"
#include "common/der.h"
#include "crl/publish_int.h"

#define STATE_PREFIX	"publisher/"

void
pub_log(struct crl_publishers *set, enum crl_publish_log level,
    const char *fmt, ...)
{
	char	 msg[768];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (set != NULL && set->opt.log != NULL)
		set->opt.log(set->opt.log_ctx, level, msg);
	else
		fprintf(stderr, "mtlsca: publish: %s%s\n",
		    level == CRL_PUBLISH_ERR ? "error: " :
		    level == CRL_PUBLISH_WARN ? "warning: " : "", msg);
}

static const char *
type_name(enum crl_publisher_type t)
{
	switch (t) {
	case CRL_PUBLISHER_DIR: return "dir";
	case CRL_PUBLISHER_S3: return "s3";
	case CRL_PUBLISHER_ALB: return "alb";
	}
	return "?";
}

/* ---- state: "key=value" lines in meta "publisher/<name>" ---- */

/* "1,2,3\n" */
static int
ids_format(struct awsbuf *b, const uint64_t *ids, size_t n)
{
	int	 rc = CA_OK;

	for (size_t i = 0; rc == CA_OK && i < n; i++)
		rc = awsbuf_printf(b, "%s%" PRIu64, i ? "," : "", ids[i]);
	return rc == CA_OK ? awsbuf_puts(b, "\n") : rc;
}

/* The inverse; at most max ids, the rest (and anything not a number) is
   dropped. */
static size_t
ids_parse(const char *v, uint64_t *ids, size_t max)
{
	size_t	 n = 0;

	while (*v != '\0' && n < max) {
		char	 tok[24];
		size_t	 len = strcspn(v, ",");
		uint64_t u;

		if (len < sizeof(tok)) {
			memcpy(tok, v, len);
			tok[len] = '\0';
			if (parse_u64(tok, 0, UINT64_MAX, &u) == CA_OK)
				ids[n++] = u;
		}
		v += len;
		if (*v == ',')
			v++;
	}
	return n;
}

int
pub_state_put(struct store *st, const struct crl_publisher_state *s,
    struct ca_error *err)
{
	struct awsbuf	 b = { 0 };
	char		 key[CRL_PUBLISHER_NAME_MAX + 16];
	char		 errl[sizeof(s->last_error)];
	int		 rc;

	/* One line per field: no newline may hide in the error text. */
	snprintf(errl, sizeof(errl), "%s", s->last_error);
	for (char *q = errl; *q != '\0'; q++)
		if (*q == '\n' || *q == '\r')
			*q = ' ';
	rc = awsbuf_printf(&b, "type=%s\nlast_attempt=%" PRId64
	    "\nlast_success=%" PRId64 "\npublished_number=%" PRIu64
	    "\nsuccesses=%" PRIu64 "\nfailures=%" PRIu64 "\nlast_error=%s"
	    "\nobject_key=%s\nbundle_sha256=%s\nalb_entries=%" PRIu64
	    "\nnewest_revocation=%" PRId64 "\nlatency=%" PRId64 "\nids=",
	    s->type, s->last_attempt, s->last_success, s->published_number,
	    s->successes, s->failures, errl, s->object_key, s->bundle_sha256,
	    s->alb_entries, s->newest_revocation, s->latency);
	if (rc == CA_OK)
		rc = ids_format(&b, s->revocation_ids, s->n_ids);
	if (rc == CA_OK && s->pending_number != 0) {
		rc = awsbuf_printf(&b, "pending=%" PRIu64 ",%" PRIu64 ",%"
		    PRId64 "\npending_known=", s->pending_number,
		    s->pending_entries, s->pending_since);
		if (rc == CA_OK)
			rc = ids_format(&b, s->pending_known,
			    s->n_pending_known);
	}
	if (rc != CA_OK) {
		rc = ca_error_set(err, rc, "out of memory");
		goto out;
	}
	snprintf(key, sizeof(key), STATE_PREFIX "%s", s->name);
	rc = store_meta_put(st, key, b.data, b.len, err);
out:
	awsbuf_free(&b);
	return rc;
}

static void
state_field(struct crl_publisher_state *s, const char *k, const char *v)
{
	uint64_t	 u;
	int64_t		 i;

	if (strcmp(k, "type") == 0)
		snprintf(s->type, sizeof(s->type), "%s", v);
	else if (strcmp(k, "last_error") == 0)
		snprintf(s->last_error, sizeof(s->last_error), "%s", v);
	else if (strcmp(k, "object_key") == 0)
		snprintf(s->object_key, sizeof(s->object_key), "%s", v);
	else if (strcmp(k, "bundle_sha256") == 0)
		snprintf(s->bundle_sha256, sizeof(s->bundle_sha256), "%s", v);
	else if (strcmp(k, "ids") == 0)
		s->n_ids = ids_parse(v, s->revocation_ids, CRL_PUBLISH_IDS_MAX);
	else if (strcmp(k, "pending_known") == 0)
		s->n_pending_known = ids_parse(v, s->pending_known,
		    CRL_PUBLISH_KNOWN_MAX);
	else if (strcmp(k, "pending") == 0) {
		uint64_t f[3];
		/* number,entries,since: all three, or nothing in doubt */
		if (ids_parse(v, f, 3) == 3 && f[2] <= INT64_MAX) {
			s->pending_number = f[0];
			s->pending_entries = f[1];
			s->pending_since = (int64_t)f[2];
		}
	} else {
		bool neg = v[0] == '-';
		if (parse_u64(neg ? v + 1 : v, 0, INT64_MAX, &u) != CA_OK)
			return;
		i = neg ? -(int64_t)u : (int64_t)u;
		if (strcmp(k, "last_attempt") == 0)
			s->last_attempt = i;
		else if (strcmp(k, "last_success") == 0)
			s->last_success = i;
		else if (strcmp(k, "published_number") == 0)
			s->published_number = u;
		else if (strcmp(k, "successes") == 0)
			s->successes = u;
		else if (strcmp(k, "failures") == 0)
			s->failures = u;
		else if (strcmp(k, "alb_entries") == 0)
			s->alb_entries = u;
		else if (strcmp(k, "newest_revocation") == 0)
			s->newest_revocation = i;
		else if (strcmp(k, "latency") == 0)
			s->latency = i;
	}
}

int
crl_publisher_state_get(struct store *st, const char *name,
    struct crl_publisher_state *out, struct ca_error *err)
{
	struct crl_publisher_state s;
	char		 key[CRL_PUBLISHER_NAME_MAX + 16];
	uint8_t		*buf = NULL;
	size_t		 len;
	char		*line, *save = NULL;
	int		 rc;

	memset(&s, 0, sizeof(s));
	s.latency = -1;
	snprintf(s.name, sizeof(s.name), "%s", name);
	snprintf(key, sizeof(key), STATE_PREFIX "%s", name);
	rc = store_meta_get(st, key, &buf, &len, err);
	if (rc == CA_ENOENT) {
		ca_error_clear(err);
		*out = s;
		return CA_OK;
	}
	if (rc != CA_OK)
		return rc;
	{
		char *text = malloc(len + 1);
		if (text == NULL) {
			free(buf);
			return ca_error_set(err, CA_ENOMEM, "out of memory");
		}
		memcpy(text, buf, len);
		text[len] = '\0';
		for (line = strtok_r(text, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save)) {
			char *eq = strchr(line, '=');
			if (eq == NULL)
				continue;
			*eq = '\0';
			state_field(&s, line, eq + 1);
		}
		free(text);
	}
	free(buf);
	*out = s;
	return CA_OK;
}

/* ---- the set ---- */

static int
check_conf(const struct crl_publisher_conf *conf, size_t n, size_t i,
    struct ca_error *err)
{
	const struct crl_publisher_conf *c = &conf[i];

	if (c->name[0] == '\0')
		return ca_error_set(err, CA_EINVAL, "publisher %zu has no "
		    "name", i + 1);
	for (size_t j = 0; j < i; j++)
		if (strcmp(conf[j].name, c->name) == 0)
			return ca_error_set(err, CA_EINVAL, "publisher '%s' is "
			    "listed twice: names must be unique", c->name);
	switch (c->type) {
	case CRL_PUBLISHER_DIR:
		if (c->path[0] == '\0')
			return ca_error_set(err, CA_EINVAL, "dir publisher "
			    "'%s' needs a path", c->name);
		break;
	case CRL_PUBLISHER_S3:
		if (c->bucket[0] == '\0' || c->region[0] == '\0')
			return ca_error_set(err, CA_EINVAL, "s3 publisher "
			    "'%s' needs a bucket and a region", c->name);
		break;
	case CRL_PUBLISHER_ALB:
		if (c->trust_store_arn[0] == '\0' || c->region[0] == '\0' ||
		    c->s3_publisher[0] == '\0')
			return ca_error_set(err, CA_EINVAL, "alb publisher "
			    "'%s' needs trust_store_arn, region and "
			    "s3_publisher", c->name);
		for (size_t j = 0; j < i; j++)
			if (conf[j].type == CRL_PUBLISHER_S3 &&
			    strcmp(conf[j].name, c->s3_publisher) == 0)
				return CA_OK;
		return ca_error_set(err, CA_EINVAL, "alb publisher '%s': "
		    "s3_publisher '%s' must name an s3 publisher listed "
		    "before it (ALB reads the CRL that publisher wrote)",
		    c->name, c->s3_publisher);
	default:
		return ca_error_set(err, CA_EINVAL, "publisher '%s' has an "
		    "unknown type", c->name);
	}
	(void)n;
	return CA_OK;
}

int
crl_publishers_new(struct ca *ca, struct store *st,
    const struct crl_publisher_conf *conf, size_t n,
    const struct crl_publish_options *opt, struct crl_publishers **out,
    struct ca_error *err)
{
	struct crl_publishers	*set = NULL;
	const char		*pem;
	int			 rc;

	if ((set = calloc(1, sizeof(*set))) == NULL ||
	    (n > 0 && (set->pub = calloc(n, sizeof(*set->pub))) == NULL)) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto fail;
	}
	set->ca = ca;
	set->st = st;
	if (opt != NULL)
		set->opt = *opt;
	/* ALB's quota, whatever crl.max_entries allows `mtlsca crl` to make
	   (up to 10,000,000 for relying parties without one). */
	if (set->opt.max_entries == 0 ||
	    set->opt.max_entries > CRL_ALB_MAX_ENTRIES)
		set->opt.max_entries = CRL_ALB_MAX_ENTRIES;
	pem = ca_cert_pem(ca);
	set->bundle_len = strlen(pem);
	if ((set->bundle = strdup(pem)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = sigv4_sha256_hex(set->bundle, set->bundle_len,
	    set->bundle_sha256)) != CA_OK) {
		rc = ca_error_set(err, rc, "cannot hash the CA bundle");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct publisher *p = &set->pub[i];
		struct aws_client_options ao;

		if ((rc = check_conf(conf, n, i, err)) != CA_OK)
			goto fail;
		p->conf = conf[i];
		p->set = set;
		set->n = i + 1;
		if (p->conf.type == CRL_PUBLISHER_DIR)
			continue;
		memset(&ao, 0, sizeof(ao));
		ao.imds_endpoint = p->conf.imds_endpoint;
		ao.max_attempts = set->opt.max_attempts;
		ao.base_delay_ms = set->opt.base_delay_ms;
		ao.timeout_s = set->opt.timeout_s;
		if ((rc = aws_client_new(&ao, &p->aws, err)) != CA_OK)
			goto fail;
		if (p->conf.type == CRL_PUBLISHER_S3) {
			const char *pre = p->conf.prefix;
			size_t l;
			while (*pre == '/')
				pre++;
			l = strlen(pre);
			while (l > 0 && pre[l - 1] == '/')
				l--;
			snprintf(p->prefix, sizeof(p->prefix), "%.*s%s",
			    (int)l, pre, l ? "/" : "");
		} else {
			for (size_t j = 0; j < i; j++)
				if (strcmp(set->pub[j].conf.name,
				    p->conf.s3_publisher) == 0)
					p->s3 = &set->pub[j];
		}
	}
	*out = set;
	return CA_OK;
fail:
	crl_publishers_free(set);
	return rc;
}

void
crl_publishers_free(struct crl_publishers *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++)
		aws_client_free(set->pub[i].aws);
	free(set->pub);
	free(set->bundle);
	free(set);
}

/* ---- the gate ---- */

/*
 * The newest revocationDate of a CRL that crl_parse_der accepted (so every
 * TLV below is known to be well formed): for revoke-to-published latency.
 * RFC 5280 section 5.1: TBSCertList ::= SEQUENCE { version OPTIONAL,
 * signature, issuer, thisUpdate, nextUpdate OPTIONAL, revokedCertificates
 * OPTIONAL, crlExtensions [0] OPTIONAL }.
 */
static int
newest_revocation(const struct crl_parsed *p, int64_t *out)
{
	struct der_cur	c, list, ent;
	struct der_tlv	t, e;
	int64_t		when, newest = 0;

	der_cur_init(&c, p->tbs, p->tbs_len);
	if (der_expect(&c, DER_SEQUENCE, &t) != 0)
		return CA_EMALF;
	der_cur_init(&c, t.p, t.len);
	if (der_peek(&c) == DER_INTEGER && der_read(&c, &t) != 0)
		return CA_EMALF;
	/* signature, issuer, thisUpdate */
	for (int i = 0; i < 3; i++)
		if (der_read(&c, &t) != 0)
			return CA_EMALF;
	if ((der_peek(&c) == DER_UTCTIME || der_peek(&c) == DER_GENTIME) &&
	    der_read(&c, &t) != 0)
		return CA_EMALF;
	if (der_peek(&c) == DER_SEQUENCE) {
		if (der_read(&c, &t) != 0)
			return CA_EMALF;
		der_cur_init(&list, t.p, t.len);
		while (list.left > 0) {
			/* SEQUENCE { userCertificate, revocationDate, ... } */
			if (der_expect(&list, DER_SEQUENCE, &e) != 0)
				return CA_EMALF;
			der_cur_init(&ent, e.p, e.len);
			if (der_expect(&ent, DER_INTEGER, &t) != 0 ||
			    der_read(&ent, &t) != 0 ||
			    !der_time_parse(&t, &when))
				return CA_EMALF;
			if (when > newest)
				newest = when;
		}
	}
	*out = newest;
	return CA_OK;
}

/*
 * ALB's own limits (entries per trust store, bytes per file) bind the alb
 * publishers and the s3 publishers they read from; a dir publisher feeds
 * nginx, HAProxy or Envoy, which have none (crl.max_entries caps those).
 */
static bool
for_alb(const struct crl_publishers *set, const struct publisher *p)
{
	if (p->conf.type == CRL_PUBLISHER_ALB)
		return true;
	for (size_t i = 0; p->conf.type == CRL_PUBLISHER_S3 && i < set->n; i++)
		if (set->pub[i].conf.type == CRL_PUBLISHER_ALB &&
		    set->pub[i].s3 == p)
			return true;
	return false;
}

/*
 * ALB's rules and ours, on the bytes about to be uploaded: crl_check (PEM
 * only, one CRL, strict DER, no negative serial, issuer, AKI, signature
 * against our CA; when alb, <= 50 MB and within the ALB quota) and,
 * independently,
 * against the CA certificate of the bundle we publish: signature, issuer
 * bytes equal its subject (RFC 5280 section 6.3.3 (b)), AKI equals its SKI
 * (section 4.2.1.1), it is a CA that may sign CRLs, the CRL is current,
 * and the cRLNumber matches what we were told.
 *
 * Everything goes through crl/'s strict parser and crl_sig_verify, never
 * gnutls_x509_crl_import: GnuTLS decodes a CRL into a libtasn1 node tree in
 * time quadratic in its entries (1.8 s at 10k, 20 s at 50k, ~400 s at
 * 100k), which would hold every publisher back for minutes. The parser is
 * linear: 50 ms at 50,000 entries, 0.35 s at ALB's 500,000 (2 cores; most
 * of it base64, decoded once by crl_check and once here).
 */
static int
gate(struct crl_publishers *set, const struct crl_result *crl, bool alb,
    struct gate_facts *facts, struct ca_error *err)
{
	struct crl_check_report	 rep;
	struct crl_parsed	 parsed;
	gnutls_x509_crt_t	*certs = NULL;
	unsigned		 ncerts = 0, blocks = 0;
	bool			 outside = false;
	gnutls_datum_t		 d, cert = { NULL, 0 }, subject = { NULL, 0 };
	uint8_t			 ski[64], *der = NULL;
	size_t			 ski_len = sizeof(ski), der_len = 0;
	const char		*begin = CRL_PEM_BEGIN;
	struct ca_error		 e2;
	unsigned		 usage = 0;
	int64_t			 now;
	int			 rc, kr;

	memset(facts, 0, sizeof(*facts));
	if (crl->pem == NULL || crl->pem_len == 0) {
		rc = ca_error_set(err, CA_EPOLICY, "gate: no PEM CRL (ALB "
		    "takes PEM only)");
		goto out;
	}
	if (alb && crl->pem_len > CRL_ALB_MAX_BYTES) {
		rc = ca_error_set(err, CA_EPOLICY, "gate: the CRL is %zu "
		    "bytes; ALB takes at most 50 MB per file", crl->pem_len);
		goto out;
	}
	if (strncmp(crl->pem, begin, strlen(begin)) != 0 ||
	    strstr(crl->pem + 1, "-----BEGIN") != NULL) {
		rc = ca_error_set(err, CA_EPOLICY, "gate: the file must be "
		    "exactly one PEM CRL and nothing else (ALB: one CRL per "
		    "file)");
		goto out;
	}
	memset(&rep, 0, sizeof(rep));
	if ((rc = (alb ? crl_check : crl_check_any)((const uint8_t *)
	    crl->pem, crl->pem_len, set->ca, &rep, &e2)) != CA_OK) {
		rc = ca_error_set(err, CA_EPOLICY, "gate: %s", e2.msg);
		goto out;
	}
	if (!rep.has_number || rep.number != crl->number) {
		rc = ca_error_set(err, CA_EPOLICY, "gate: the file's cRLNumber "
		    "(%" PRIu64 ") is not the CRL being published (%" PRIu64
		    ")", rep.number, crl->number);
		goto out;
	}
	if (alb && rep.entries > set->opt.max_entries) {
		rc = ca_error_set(err, CA_EPOLICY, "gate: %" PRIu64 " entries "
		    "exceed the configured ALB quota of %" PRIu64,
		    rep.entries, set->opt.max_entries);
		goto out;
	}

	/* Against the bundle, independently of crl_check: its first
	   certificate, and the CRL parsed again from the PEM itself. */
	d.data = (unsigned char *)set->bundle;
	d.size = (unsigned)set->bundle_len;
	if (gnutls_x509_crt_list_import2(&certs, &ncerts, &d,
	    GNUTLS_X509_FMT_PEM, GNUTLS_X509_CRT_LIST_FAIL_IF_UNSORTED) < 0 ||
	    ncerts == 0 ||
	    gnutls_x509_crt_export2(certs[0], GNUTLS_X509_FMT_DER, &cert) < 0 ||
	    gnutls_x509_crt_get_raw_dn(certs[0], &subject) < 0) {
		rc = ca_error_set(err, CA_EPOLICY, "gate: the CA bundle does "
		    "not parse as PEM certificates");
		goto out;
	}
	if (crl_pem_decode((const uint8_t *)crl->pem, crl->pem_len, &der,
	    &der_len, &blocks, &outside, &e2) != CA_OK ||
	    crl_parse_der(der, der_len, &parsed) != CA_OK) {
		rc = ca_error_set(err, CA_EPOLICY, "gate: the CRL does not "
		    "parse");
		goto out;
	}
	if (crl_sig_verify(cert.data, cert.size, parsed.alg, parsed.alg_len,
	    parsed.tbs, parsed.tbs_len, parsed.sig, parsed.sig_len, &e2) !=
	    CA_OK) {
		rc = ca_error_set(err, CA_EPOLICY, "gate: the CRL's signature "
		    "does not verify with the CA certificate of the bundle: %s",
		    e2.msg);
		goto out;
	}
	if (parsed.issuer_len != subject.size ||
	    memcmp(parsed.issuer, subject.data, subject.size) != 0) {
		rc = ca_error_set(err, CA_EPOLICY, "gate: the CRL's issuer "
		    "bytes differ from the CA certificate's subject (RFC 5280 "
		    "section 6.3.3)");
		goto out;
	}
	if (parsed.aki_keyid == NULL ||
	    gnutls_x509_crt_get_subject_key_id(certs[0], ski, &ski_len,
	    NULL) < 0 || parsed.aki_len != ski_len ||
	    memcmp(parsed.aki_keyid, ski, ski_len) != 0) {
		rc = ca_error_set(err, CA_EPOLICY, "gate: the CRL's authority "
		    "key identifier is not the CA certificate's subject key "
		    "identifier (RFC 5280 section 4.2.1.1)");
		goto out;
	}
	/* What gnutls_x509_crl_verify also required of the issuer: a CA
	   (RFC 5280 section 4.2.1.9) allowed to sign CRLs (section 4.2.1.3,
	   when keyUsage is present). */
	if (gnutls_x509_crt_get_ca_status(certs[0], NULL) != 1 ||
	    ((kr = gnutls_x509_crt_get_key_usage(certs[0], &usage, NULL)) !=
	    GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE && (kr < 0 ||
	    (usage & GNUTLS_KEY_CRL_SIGN) == 0))) {
		rc = ca_error_set(err, CA_EPOLICY, "gate: the CA certificate of "
		    "the bundle is not a CA allowed to sign CRLs (RFC 5280 "
		    "sections 4.2.1.3 and 4.2.1.9)");
		goto out;
	}
	/* And of the CRL: current. A relying party treats a CRL past its
	   nextUpdate as stale (RFC 5280 section 5.1.2.5; conforming issuers
	   always include it), and one from the future means a clock is
	   wrong (section 5.1.2.4). */
	now = time_now();
	if (parsed.this_update > now) {
		rc = ca_error_set(err, CA_EPOLICY, "gate: the CRL's thisUpdate "
		    "is in the future (RFC 5280 section 5.1.2.4): check the "
		    "clock");
		goto out;
	}
	if (!parsed.has_next || parsed.next_update < now) {
		rc = ca_error_set(err, CA_EPOLICY, "gate: the CRL %s (RFC 5280 "
		    "section 5.1.2.5): publishing it would hand out a stale "
		    "list", parsed.has_next ? "is past its nextUpdate" :
		    "has no nextUpdate");
		goto out;
	}
	/* crl_check counted them too; ALB refuses negative serials. */
	if (parsed.negative > 0) {
		rc = ca_error_set(err, CA_EPOLICY, "gate: a revoked serial is "
		    "negative; ALB does not support them");
		goto out;
	}
	if (newest_revocation(&parsed, &facts->newest_revocation) != CA_OK) {
		rc = ca_error_set(err, CA_EPOLICY, "gate: a revoked entry does "
		    "not parse");
		goto out;
	}
	rc = CA_OK;
out:
	free(der);
	gnutls_free(cert.data);
	gnutls_free(subject.data);
	for (unsigned i = 0; i < ncerts; i++)
		gnutls_x509_crt_deinit(certs[i]);
	gnutls_free(certs);
	return rc;
}

/* ---- dir ---- */

static int
pub_dir_run(struct publisher *p, const struct crl_result *crl,
    struct ca_error *err)
{
	char	 path[1100];
	int	 rc;

	if ((rc = dir_make(p->conf.path, 0755, err)) != CA_OK)
		return rc;
	/* Each file replaced by rename: readers see old or new, whole.
	 * The DER first, the PEM (what ALB-style readers take) last. */
	if (path_join(path, sizeof(path), p->conf.path, "ca.pem") != CA_OK ||
	    (rc = file_write_atomic(path, p->set->bundle, p->set->bundle_len,
	    0644, 0, err)) != CA_OK)
		return rc != CA_OK ? rc : ca_error_set(err, CA_ETOOBIG,
		    "path too long");
	if (path_join(path, sizeof(path), p->conf.path, "crl.der") != CA_OK ||
	    (rc = file_write_atomic(path, crl->der, crl->der_len, 0644, 0,
	    err)) != CA_OK)
		return rc != CA_OK ? rc : ca_error_set(err, CA_ETOOBIG,
		    "path too long");
	if (path_join(path, sizeof(path), p->conf.path, "crl.pem") != CA_OK ||
	    (rc = file_write_atomic(path, crl->pem, crl->pem_len, 0644, 0,
	    err)) != CA_OK)
		return rc != CA_OK ? rc : ca_error_set(err, CA_ETOOBIG,
		    "path too long");
	return CA_OK;
}

/* ---- running ---- */

static int
reconcile_one(struct publisher *p, struct ca_error *err)
{
	struct crl_publisher_state s;
	struct ca_error	 e2;
	int	 rc, rc2;

	if (p->conf.type != CRL_PUBLISHER_ALB)
		return CA_OK;
	if ((rc = crl_publisher_state_get(p->set->st, p->conf.name, &s,
	    err)) != CA_OK)
		return rc;
	/* Once per process, and again while an add is in doubt. */
	if (p->reconciled && s.pending_number == 0)
		return CA_OK;
	if ((rc = pub_alb_reconcile(p, &s, err)) == CA_OK)
		p->reconciled = true;
	/* What was learnt is kept even when a later step failed. */
	if ((rc2 = pub_state_put(p->set->st, &s, &e2)) != CA_OK &&
	    rc == CA_OK)
		rc = ca_error_set(err, rc2, "%s", e2.msg);
	return rc;
}

int
crl_publishers_reconcile(struct crl_publishers *set, struct ca_error *err)
{
	struct ca_error	 e2;
	int		 first = CA_OK, rc;

	for (size_t i = 0; i < set->n; i++) {
		if ((rc = reconcile_one(&set->pub[i], &e2)) == CA_OK)
			continue;
		pub_log(set, CRL_PUBLISH_WARN, "%s: reconcile: %s",
		    set->pub[i].conf.name, e2.msg);
		if (first == CA_OK) {
			first = rc;
			ca_error_set(err, rc, "%s: %s", set->pub[i].conf.name,
			    e2.msg);
		}
	}
	return first;
}

static int
run_one(struct publisher *p, const struct crl_result *crl,
    struct ca_error *err)
{
	struct crl_publishers		*set = p->set;
	struct crl_publisher_state	 s;
	struct gate_facts		 facts;
	struct ca_error			 e2;
	int64_t				 now = time_now();
	int				 rc;

	ca_error_clear(&e2);
	memset(&facts, 0, sizeof(facts));
	/* ALB: reconcile before the books are read (once per process, and
	 * while an add is in doubt). A failure is not fatal: add/remove below
	 * still keep them, and an add in doubt stops the next one. */
	if (p->conf.type == CRL_PUBLISHER_ALB && reconcile_one(p, &e2) !=
	    CA_OK) {
		pub_log(set, CRL_PUBLISH_WARN, "%s: reconcile: %s",
		    p->conf.name, e2.msg);
		ca_error_clear(&e2);
	}
	if ((rc = crl_publisher_state_get(set->st, p->conf.name, &s, err)) !=
	    CA_OK)
		return rc;
	snprintf(s.type, sizeof(s.type), "%s", type_name(p->conf.type));
	if (crl->number == s.published_number && s.published_number != 0) {
		pub_log(set, CRL_PUBLISH_INFO, "%s: CRL %" PRIu64 " is "
		    "already published", p->conf.name, crl->number);
		if (p->conf.type == CRL_PUBLISHER_S3 && s.object_key[0]) {
			p->put_number = crl->number;
			snprintf(p->put_key, sizeof(p->put_key), "%s",
			    s.object_key);
		}
		return CA_OK;
	}
	s.last_attempt = now;
	if ((rc = gate(set, crl, for_alb(set, p), &facts, &e2)) != CA_OK)
		goto done;
	if (crl->number < s.published_number) {
		rc = ca_error_set(&e2, CA_EPOLICY, "gate: CRL number %" PRIu64
		    " is not greater than %" PRIu64 ", the last one "
		    "published", crl->number, s.published_number);
		goto done;
	}
	switch (p->conf.type) {
	case CRL_PUBLISHER_DIR:
		rc = pub_dir_run(p, crl, &e2);
		break;
	case CRL_PUBLISHER_S3:
		rc = pub_s3_run(p, crl, &s, &e2);
		break;
	case CRL_PUBLISHER_ALB:
		rc = pub_alb_run(p, crl, &s, &e2);
		break;
	}
done:
	if (rc == CA_OK) {
		s.last_success = time_now();
		s.published_number = crl->number;
		s.successes++;
		s.last_error[0] = '\0';
		if (facts.newest_revocation > s.newest_revocation) {
			s.latency = s.last_success - facts.newest_revocation;
			s.newest_revocation = facts.newest_revocation;
		}
		pub_log(set, CRL_PUBLISH_INFO, "%s: published CRL %" PRIu64
		    " (%" PRIu64 " entries)", p->conf.name, crl->number,
		    crl->entries);
	} else {
		s.failures++;
		snprintf(s.last_error, sizeof(s.last_error), "%s", e2.msg);
		pub_log(set, CRL_PUBLISH_ERR, "%s: CRL %" PRIu64 " not "
		    "published: %s", p->conf.name, crl->number, e2.msg);
		ca_error_set(err, rc, "%s", e2.msg);
	}
	{
		struct ca_error e3;
		if (pub_state_put(set->st, &s, &e3) != CA_OK)
			pub_log(set, CRL_PUBLISH_ERR, "%s: cannot record the "
			    "state: %s", p->conf.name, e3.msg);
	}
	return rc;
}

int
crl_publishers_run(struct crl_publishers *set, const struct crl_result *crl,
    struct ca_error *err)
{
	struct ca_error	 e2;
	char		 failed[200] = "";
	char		 first_msg[256] = "";
	int		 first = CA_OK, rc;

	for (size_t i = 0; i < set->n; i++) {
		if ((rc = run_one(&set->pub[i], crl, &e2)) == CA_OK)
			continue;
		if (first == CA_OK) {
			first = rc;
			snprintf(first_msg, sizeof(first_msg), "%s", e2.msg);
		}
		if (strlen(failed) + strlen(set->pub[i].conf.name) + 3 <
		    sizeof(failed))
			snprintf(failed + strlen(failed),
			    sizeof(failed) - strlen(failed), "%s%s",
			    failed[0] ? ", " : "", set->pub[i].conf.name);
	}
	if (first != CA_OK)
		ca_error_set(err, first, "publisher(s) %s failed: %s", failed,
		    first_msg);
	return first;
}

static int
schedule_cb(const struct crl_result *crl, void *ctx, struct ca_error *err)
{
	return run_one(ctx, crl, err);
}

int
crl_publishers_attach(struct crl_publishers *set, struct crl_schedule *s,
    struct ca_error *err)
{
	int	 rc;

	/* A trust store unreachable at start is logged, not fatal: the
	 * service keeps serving CRLs, and the next publish tries again. */
	(void)crl_publishers_reconcile(set, NULL);
	for (size_t i = 0; i < set->n; i++)
		if ((rc = crl_schedule_add_publisher(s, set->pub[i].conf.name,
		    schedule_cb, &set->pub[i], err)) != CA_OK)
			return rc;
	return CA_OK;
}

/*
 * Only parsing (the gate checks the rest), with crl/'s own strict parser:
 * gnutls_x509_crl_import is quadratic in the entry count (20 s at 50,000).
 */
int
crl_publish_load(const char *pem_path, struct crl_result *out,
    struct ca_error *err)
{
	struct crl_result	 r;
	struct crl_parsed	 p;
	struct ca_error		 e2;
	uint8_t			*buf = NULL;
	size_t			 len;
	unsigned		 blocks = 0;
	bool			 outside = false;
	int			 rc;

	memset(&r, 0, sizeof(r));
	if ((rc = file_read(pem_path, CRL_ALB_MAX_BYTES + 1, &buf, &len,
	    err)) != CA_OK)
		goto out;
	if (crl_pem_decode(buf, len, &r.der, &r.der_len, &blocks, &outside,
	    &e2) != CA_OK) {
		rc = ca_error_set(err, CA_EMALF, "%s is not a PEM CRL: %s",
		    pem_path, e2.msg);
		goto out;
	}
	if (crl_parse_der(r.der, r.der_len, &p) != CA_OK) {
		rc = ca_error_set(err, CA_EMALF, "%s is not a PEM CRL: %s",
		    pem_path, p.why);
		goto out;
	}
	if (!p.has_number || p.number_big) {
		rc = ca_error_set(err, CA_EMALF, "%s: the CRL has no usable "
		    "cRLNumber (RFC 5280 section 5.2.3)", pem_path);
		goto out;
	}
	r.number = p.number;
	r.entries = p.entries;
	r.this_update = p.this_update;
	/* As gnutls_x509_crl_get_next_update: -1 when absent. */
	r.next_update = p.has_next ? p.next_update : -1;
	r.pem = (char *)buf;
	r.pem_len = len;
	buf = NULL;
	*out = r;
	memset(&r, 0, sizeof(r));
	rc = CA_OK;
out:
	free(buf);
	free(r.der);
	return rc;
}

/* ---- status and metrics ---- */

static void
fmt_time(int64_t t, char out[21])
{
	if (t == 0)
		snprintf(out, 21, "never");
	else
		time_format(t, out);
}

int
crl_publish_status_text(struct store *st,
    const struct crl_publisher_conf *conf, size_t n, char **out, size_t *len,
    struct ca_error *err)
{
	struct awsbuf	 b = { 0 };
	int		 rc = CA_OK;

	if (n == 0)
		rc = awsbuf_puts(&b, "publishers: none configured\n");
	for (size_t i = 0; i < n && rc == CA_OK; i++) {
		struct crl_publisher_state s;
		char ts[21], ta[21];
		if ((rc = crl_publisher_state_get(st, conf[i].name, &s, err)) !=
		    CA_OK)
			goto out;
		fmt_time(s.last_success, ts);
		fmt_time(s.last_attempt, ta);
		rc = awsbuf_printf(&b, "publisher %s (%s)\n"
		    "  status:           %s\n"
		    "  last success:     %s\n"
		    "  last attempt:     %s\n"
		    "  CRL published:    %" PRIu64 "\n"
		    "  successes:        %" PRIu64 "\n"
		    "  failures:         %" PRIu64 "\n"
		    "  last error:       %s\n",
		    conf[i].name, type_name(conf[i].type),
		    s.last_attempt == 0 ? "never run" :
		    s.last_error[0] ? "FAILING" : "ok", ts, ta,
		    s.published_number, s.successes, s.failures,
		    s.last_error[0] ? s.last_error : "-");
		if (rc == CA_OK && s.latency >= 0)
			rc = awsbuf_printf(&b, "  revoke-to-published: %" PRId64
			    " s\n", s.latency);
		if (rc == CA_OK && conf[i].type == CRL_PUBLISHER_S3)
			rc = awsbuf_printf(&b, "  object:           %s\n",
			    s.object_key[0] ? s.object_key : "-");
		if (rc == CA_OK && conf[i].type == CRL_PUBLISHER_ALB) {
			rc = awsbuf_printf(&b, "  trust store:      %s\n"
			    "  revocation id:    ", conf[i].trust_store_arn);
			if (rc == CA_OK && s.n_ids == 0)
				rc = awsbuf_puts(&b, "-");
			for (size_t k = 0; rc == CA_OK && k < s.n_ids; k++)
				rc = awsbuf_printf(&b, "%s%" PRIu64,
				    k ? " (stale: " : "",
				    s.revocation_ids[s.n_ids - 1 - k]);
			if (rc == CA_OK && s.n_ids > 1)
				rc = awsbuf_puts(&b, ")");
			if (rc == CA_OK)
				rc = awsbuf_printf(&b, "\n  ALB entries:      %"
				    PRIu64 "\n", s.alb_entries);
			if (rc == CA_OK && s.pending_number != 0) {
				char when[21];

				time_format(s.pending_since, when);
				rc = awsbuf_printf(&b, "  add in doubt:     "
				    "CRL %" PRIu64 " (%" PRIu64 " entries), "
				    "sent %s without an answer; the next "
				    "publish settles it\n", s.pending_number,
				    s.pending_entries, when);
			}
		}
	}
	if (rc != CA_OK) {
		rc = ca_error_set(err, rc, "out of memory");
		goto out;
	}
	*len = b.len;
	*out = awsbuf_take(&b);
	if (*out == NULL)
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
out:
	awsbuf_free(&b);
	return rc;
}

int
crl_publish_metrics(struct store *st, const struct crl_publisher_conf *conf,
    size_t n, char **out, size_t *len, struct ca_error *err)
{
	static const struct {
		const char *name, *type, *help;
	} m[] = {
		{ "mtlsca_publisher_up", "gauge",
		  "1 if the publisher's last attempt succeeded" },
		{ "mtlsca_publisher_last_success_timestamp_seconds", "gauge",
		  "Time of the last successful publish" },
		{ "mtlsca_publisher_last_attempt_timestamp_seconds", "gauge",
		  "Time of the last publish attempt" },
		{ "mtlsca_publisher_crl_number", "gauge",
		  "CRL number last published" },
		{ "mtlsca_publisher_failures_total", "counter",
		  "Failed publish attempts" },
		{ "mtlsca_publisher_alb_revocation_id", "gauge",
		  "Current ALB RevocationId of this CA's CRL" },
		{ "mtlsca_publisher_alb_revoked_entries", "gauge",
		  "NumberOfRevokedEntries ALB reported" },
		{ "mtlsca_publisher_latency_seconds", "gauge",
		  "Newest revocation to its CRL being published" },
	};
	struct crl_publisher_state	*s = NULL;
	struct awsbuf			 b = { 0 };
	int				 rc = CA_OK;

	if (n > 0 && (s = calloc(n, sizeof(*s))) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		if ((rc = crl_publisher_state_get(st, conf[i].name, &s[i],
		    err)) != CA_OK)
			goto out;
	for (size_t k = 0; k < sizeof(m) / sizeof(m[0]) && rc == CA_OK; k++) {
		rc = awsbuf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n",
		    m[k].name, m[k].help, m[k].name, m[k].type);
		for (size_t i = 0; i < n && rc == CA_OK; i++) {
			int64_t v;
			bool alb = conf[i].type == CRL_PUBLISHER_ALB;
			switch (k) {
			case 0: v = s[i].last_attempt != 0 &&
				    s[i].last_error[0] == '\0'; break;
			case 1: v = s[i].last_success; break;
			case 2: v = s[i].last_attempt; break;
			case 3: v = (int64_t)s[i].published_number; break;
			case 4: v = (int64_t)s[i].failures; break;
			case 5: if (!alb || s[i].n_ids == 0) continue;
				v = (int64_t)s[i].revocation_ids[s[i].n_ids -
				    1]; break;
			case 6: if (!alb) continue;
				v = (int64_t)s[i].alb_entries; break;
			default: if (s[i].latency < 0) continue;
				v = s[i].latency; break;
			}
			/* Names are config identifiers; quote-safe anyway. */
			rc = awsbuf_printf(&b, "%s{publisher=\"", m[k].name);
			for (const char *q = conf[i].name; rc == CA_OK && *q;
			    q++)
				rc = (*q == '"' || *q == '\\' || *q == '\n') ?
				    awsbuf_puts(&b, "_") : awsbuf_add(&b, q, 1);
			if (rc == CA_OK)
				rc = awsbuf_printf(&b, "\",type=\"%s\"} %" PRId64
				    "\n", type_name(conf[i].type), v);
		}
	}
	if (rc != CA_OK) {
		rc = ca_error_set(err, rc, "out of memory");
		goto out;
	}
	*len = b.len;
	if ((*out = awsbuf_take(&b)) == NULL)
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
out:
	awsbuf_free(&b);
	free(s);
	return rc;
}

int
crl_publishers_metrics(struct crl_publishers *set, char **out, size_t *len,
    struct ca_error *err)
{
	struct crl_publisher_conf	*conf = NULL;
	int				 rc;

	if (set->n > 0 && (conf = calloc(set->n, sizeof(*conf))) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	for (size_t i = 0; i < set->n; i++)
		conf[i] = set->pub[i].conf;
	rc = crl_publish_metrics(set->st, conf, set->n, out, len, err);
	free(conf);
	return rc;
}
