/*
 * Enrollment (POST /v1/certificates) and renewal (POST
 * /v1/certificates/renew): the body in, the certificate out. Everything
 * between — the policy, the signing, the commit — is ca_enroll()'s
 * (ca/enroll.c); the dispatcher has already turned the caller's
 * credentials into a grant (auth.c).
 *
 * Thread per connection: ca_enroll blocks until the commit. Pool: the
 * connection is suspended while its certificate is committed, and the
 * committer's completion resumes it, so that the event loop serves others
 * meanwhile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "ca/ca.h"
#include "common/log.h"
#include "common/util.h"
#include "http/http_int.h"

/* Pool mode's hand-over between the loop thread and the committer. */
enum {
	COMMIT_PENDING = 0,	/* queued, the connection not yet suspended */
	COMMIT_SUSPENDED,	/* suspended: the completion resumes it */
	COMMIT_DONE,		/* the result is in r->res */
};

/* The request body (parse.c), with the query's profile and days. */
static int
body_parse(struct http_req *r, struct MHD_Connection *c,
    struct http_body *b, struct ca_error *err)
{
	return http_body_parse(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE), MHD_lookup_connection_value(c,
	    MHD_GET_ARGUMENT_KIND, "profile"), MHD_lookup_connection_value(c,
	    MHD_GET_ARGUMENT_KIND, "days"), r->body, r->body_len, b, err);
}

static bool
wants_pem_chain(struct MHD_Connection *c)
{
	const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_ACCEPT);

	return a != NULL && strstr(a, "application/pem-certificate-chain") !=
	    NULL;
}

static enum MHD_Result
answer(struct http_server *s, struct http_req *r, struct MHD_Connection *c)
{
	const struct ca_issued	*iss = &r->res.iss;
	char			 hex[SERIAL_HEX_MAX + 2], nb[21], na[21];
	const char		*capem = ca_cert_pem(s->ca);

	serial_format(iss->serial, iss->serial_len, hex);
	http_enroll_count(s, r, c);
	if (r->pem_chain) {
		/* RFC 8555 §9.1: the leaf first, then its issuer. */
		size_t	 l1 = strlen(iss->pem), l2 = strlen(capem);
		char	*buf = malloc(l1 + l2 + 2), *p = buf;

		if (buf == NULL)
			return http_respond_error(r, c, 500, "no_memory",
			    "out of memory");
		memcpy(p, iss->pem, l1);
		p += l1;
		if (l1 > 0 && p[-1] != '\n')
			*p++ = '\n';
		memcpy(p, capem, l2);
		p += l2;
		*p = '\0';
		return http_respond(r, c, 201,
		    "application/pem-certificate-chain", buf,
		    (size_t)(p - buf), true);
	}
	time_format(iss->not_before, nb);
	time_format(iss->not_after, na);
	/* "truncated": the CA's notAfter cut the validity asked for; the
	   reason says until when and why. */
	return http_respond_json(r, c, 201, json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s?}",
	    "serial", hex, "certificate", iss->pem, "ca", capem,
	    "not_before", nb, "not_after", na, "profile", iss->profile,
	    "subject", iss->subject ? iss->subject : "",
	    "truncated", iss->truncated, "truncated_reason",
	    iss->truncated ? iss->truncated_reason : NULL));
}

void
http_enroll_count(struct http_server *s, const struct http_req *r,
    struct MHD_Connection *c)
{
	const struct ca_issued	*iss = &r->res.iss;
	char			 hex[SERIAL_HEX_MAX + 2], ip[64], na[21];
	struct log_field	 f[] = {
		{ "serial", hex }, { "profile", iss->profile },
		{ "subject", iss->subject }, { "peer", ip },
		{ "who", r->grant.who[0] != '\0' ? r->grant.who : NULL },
	};

	http_metrics_issued(s, r->res.iss.profile);
	if (r->res.renewal)
		atomic_fetch_add(&s->metrics.renewed, 1);
	serial_format(iss->serial, iss->serial_len, hex);
	time_format(iss->not_after, na);
	http_conn_peer_text(c, ip, sizeof(ip));
	/* The grant's label (a token's hash prefix, a certificate's
	   fingerprint), never the token. */
	log_event(LOG_LEVEL_INFO, r->res.renewal ? "renew" : "issue",
	    LOG_FIELDS(f), "%s serial %s (%s), profile %s, until %s, to %s",
	    r->res.renewal ? "renewal: issued" : "issued", hex,
	    iss->subject != NULL && iss->subject[0] != '\0' ? iss->subject :
	    "no subject", iss->profile, na, ip);
}

/* After the commit: the certificate, or why not. */
static enum MHD_Result
finish(struct http_server *s, struct http_req *r, struct MHD_Connection *c)
{
	r->phase = 2;
	if (r->res.rc == CA_OK)
		return answer(s, r, c);
	return http_respond_caerr(r, c, &r->res.err);
}

/* The committer's completion, pool mode (on its thread). */
static void
committed(void *ctx, struct ca_enrolled *res)
{
	struct http_req *r = ctx;

	(void)res;		/* r->res */
	/* The loop thread reads the result after the resume, whose
	   inter-thread signalling orders these writes before it. */
	if (atomic_exchange(&r->commit_state, COMMIT_DONE) == COMMIT_SUSPENDED)
		MHD_resume_connection(r->conn);
}

bool
http_enroll_submit(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c, const uint8_t *csr, size_t csr_len,
    const char *profile, unsigned days)
{
	struct ca_error	err;
	int		pending = COMMIT_PENDING;

	ca_error_clear(&err);
	if (s->threading != HTTP_THREADING_POOL ||
	    atomic_load(&s->stopping)) {
		/* Wait here for the commit: no suspended connection may be
		   left behind when the daemons stop. */
		(void)ca_enroll(s->enroller, &r->grant, csr, csr_len, profile,
		    days, &r->res, NULL, NULL, &err);
		return true;
	}
	r->conn = c;
	atomic_store(&r->commit_state, COMMIT_PENDING);
	if (ca_enroll(s->enroller, &r->grant, csr, csr_len, profile, days,
	    &r->res, committed, r, &err) != CA_OK)
		return true;		/* refused before the queue */
	/*
	 * Queued: suspend, then say so. The completion resumes a suspended
	 * connection; if it came first, the result is already there and
	 * the connection resumes at once.
	 */
	r->phase = 1;
	MHD_suspend_connection(c);
	if (!atomic_compare_exchange_strong(&r->commit_state, &pending,
	    COMMIT_SUSPENDED))
		MHD_resume_connection(c);
	return false;
}

enum MHD_Result
http_enroll(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c)
{
	struct ca_error		err;
	struct http_body	b;
	enum MHD_Result		ret;
	int			rc;

	if (r->phase == 1)
		return finish(s, r, c);		/* resumed after the commit */
	ca_error_clear(&err);
	if ((rc = body_parse(r, c, &b, &err)) != CA_OK) {
		if (rc == CA_EINVAL)
			ret = http_respond_error(r, c, 415,
			    "unsupported_media_type", "%s", err.msg);
		else
			ret = http_respond_caerr(r, c, &err);
		goto out;
	}
	r->pem_chain = wants_pem_chain(c);
	ret = http_enroll_submit(s, r, c, b.csr, b.csr_len, b.profile,
	    b.days) ? finish(s, r, c) : MHD_YES;
out:
	http_body_clear(&b);
	return ret;
}
