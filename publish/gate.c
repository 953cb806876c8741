/*
 * The gate: every CRL is checked once, as ALB would, before any publisher
 * uploads it; each publisher then only checks the CRL number against its
 * own and, when ALB reads what it publishes, ALB's two quotas.
 *
 * Everything goes through crl/'s strict parser and signature check
 * (crl_check_with), never gnutls_x509_crl_import: GnuTLS decodes a CRL into
 * a libtasn1 node tree in time quadratic in its entries (1.8 s at 10k, 20 s
 * at 50k, ~400 s at 100k), which would hold every publisher back for
 * minutes. The parser is linear: 50 ms at 50,000 entries, 0.35 s at ALB's
 * 500,000 (2 cores).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "publish/publish_int.h"

#define PEM_BEGIN	"-----BEGIN X509 CRL-----"

static void
refuse(struct gate_verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
refuse(struct gate_verdict *v, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	v->rc = CA_EPOLICY;
	n = snprintf(v->why, sizeof(v->why), "gate: ");
	va_start(ap, fmt);
	vsnprintf(v->why + n, sizeof(v->why) - (size_t)n, fmt, ap);
	va_end(ap);
}

/*
 * ALB's rules and ours on the bytes about to be uploaded: PEM only, one
 * CRL and nothing else, strict DER, no negative serial, issuer bytes equal
 * to this CA's subject (RFC 5280 section 6.3.3 (b)), AKI equal to its SKI
 * (section 4.2.1.1), a signature that verifies with its key; current
 * (thisUpdate not in the future, section 5.1.2.4; a nextUpdate not past,
 * section 5.1.2.5); and the cRLNumber we were told. That the CA may sign
 * CRLs at all (sections 4.2.1.3, 4.2.1.9) is checked once, when the set is
 * made.
 */
void
gate_clear(struct gate_verdict *v)
{
	if (v == NULL)
		return;
	free(v->times);
	memset(v, 0, sizeof(*v));
}

void
gate_run(struct publish_set *set, const struct crl_snapshot *crl,
    int64_t times_after, struct gate_verdict *v)
{
	struct crl_check_options o;
	struct crl_check_report	 rep;
	struct ca_error		 e2;
	int64_t			 now;

	memset(v, 0, sizeof(*v));
	v->number = crl->number;
	if (crl->pem == NULL || crl->pem_len == 0) {
		refuse(v, "no PEM CRL (ALB takes PEM only)");
		return;
	}
	v->pem_len = crl->pem_len;
	if (strncmp(crl->pem, PEM_BEGIN, strlen(PEM_BEGIN)) != 0 ||
	    strstr(crl->pem + 1, "-----BEGIN") != NULL) {
		refuse(v, "the file must be exactly one PEM CRL and nothing "
		    "else (ALB: one CRL per file)");
		return;
	}
	memset(&o, 0, sizeof(o));
	o.ca = set->ca;
	o.alb = false;		/* the quotas are per publisher */
	o.times_after = INT64_MAX;
	/* For the revoke-to-enforced latencies: without memory for them the
	   CRL is still published, and nothing is counted. */
	if (times_after != INT64_MAX && (v->times = calloc(GATE_TIMES_MAX,
	    sizeof(*v->times))) != NULL) {
		o.times_after = times_after;
		o.times = v->times;
		o.times_max = GATE_TIMES_MAX;
	}
	memset(&rep, 0, sizeof(rep));
	if (crl_check_with((const uint8_t *)crl->pem, crl->pem_len, &o, &rep,
	    &e2) != CA_OK) {
		refuse(v, "%s", e2.msg);
		return;
	}
	v->entries = rep.entries;
	v->newest_revocation = rep.newest_revocation;
	v->n_times = rep.n_times;
	if (!rep.has_number || rep.number != crl->number) {
		refuse(v, "the file's cRLNumber (%" PRIu64 ") is not the CRL "
		    "being published (%" PRIu64 ")", rep.number, crl->number);
		return;
	}
	if (!rep.signature_ok) {
		refuse(v, "the CRL's signature does not verify with the CA "
		    "certificate");
		return;
	}
	/* A relying party treats a CRL past its nextUpdate as stale (RFC
	   5280 section 5.1.2.5; conforming issuers always include it), and
	   one from the future means a clock is wrong (section 5.1.2.4). */
	now = time_now();
	if (rep.this_update > now) {
		refuse(v, "the CRL's thisUpdate is in the future (RFC 5280 "
		    "section 5.1.2.4): check the clock");
		return;
	}
	if (!rep.has_next || rep.next_update < now) {
		refuse(v, "the CRL %s (RFC 5280 section 5.1.2.5): publishing "
		    "it would hand out a stale list", rep.has_next ?
		    "is past its nextUpdate" : "has no nextUpdate");
		return;
	}
	v->next_update = rep.next_update;
	v->rc = CA_OK;
}

int
gate_for(const struct publisher *p, const struct gate_verdict *v,
    uint64_t published, struct ca_error *err)
{
	const struct publish_set *set = p->set;

	if (v->rc != CA_OK)
		return ca_error_set(err, v->rc, "%s", v->why);
	if (v->number < published)
		return ca_error_set(err, CA_EPOLICY, "gate: CRL number %" PRIu64
		    " is not greater than %" PRIu64 ", the last one "
		    "published", v->number, published);
	/* ALB's own limits (entries per trust store, bytes per file) bind
	   the alb publishers and the s3 publishers they read from; a dir
	   publisher feeds nginx, HAProxy or Envoy, which have none
	   (crl.max_entries caps those). */
	if (!p->alb_bound)
		return CA_OK;
	if (v->pem_len > CRL_ALB_MAX_BYTES)
		return ca_error_set(err, CA_EPOLICY, "gate: the CRL is %zu "
		    "bytes; ALB takes at most 50 MB per file", v->pem_len);
	if (v->entries > set->opt.max_entries)
		return ca_error_set(err, CA_EPOLICY, "gate: %" PRIu64 " entries "
		    "exceed the configured ALB quota of %" PRIu64, v->entries,
		    set->opt.max_entries);
	return CA_OK;
}
