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

/*
 * The issuance answer is written straight into one buffer rather than built
 * as a jansson object and dumped (issue 15: the object, its strings and
 * the dump cost ~10 us and a dozen allocations per certificate). The text
 * is what json_dumps(JSON_COMPACT | JSON_ENSURE_ASCII) wrote, keys in the
 * same order; test_http checks it parses and holds every field.
 */

/* Octets json_put_str may write for s: \uXXXX\uXXXX for 4 octets of
   UTF-8 is the most per input octet (3), a control character \u00XX (6). */
static size_t
json_str_max(const char *s)
{
	return 6 * strlen(s) + 2;
}

/* \uXXXX for one UTF-16 code unit at o; past it. */
static char *
json_put_u16(char *o, uint32_t w)
{
	static const char hex[] = "0123456789ABCDEF";

	o[0] = '\\';
	o[1] = 'u';
	o[2] = hex[(w >> 12) & 15];
	o[3] = hex[(w >> 8) & 15];
	o[4] = hex[(w >> 4) & 15];
	o[5] = hex[w & 15];
	return o + 6;
}

/*
 * s as a JSON string (RFC 8259 §7) at *p, ASCII only (code points above
 * U+007F as \uXXXX, beyond U+FFFF as a surrogate pair). false on invalid
 * UTF-8 (nothing useful written).
 */
static bool
json_put_str(char **p, const char *s)
{
	const uint8_t		*u = (const uint8_t *)s;
	char			*o = *p;

	*o++ = '"';
	while (*u != '\0') {
		const uint8_t	*run = u;
		uint32_t	 cp;
		size_t		 n;

		/* A PEM is runs of 64 that need no escape: copy them whole
		   (the octet at a time switch was 0.6 % of the service's
		   CPU under cfssl_bench). */
		while (*u >= 0x20 && *u < 0x80 && *u != '"' && *u != '\\')
			u++;
		if (u != run) {
			memcpy(o, run, (size_t)(u - run));
			o += u - run;
			continue;
		}
		if (*u < 0x80) {
			uint8_t ch = *u++;

			switch (ch) {
			case '"': *o++ = '\\'; *o++ = '"'; continue;
			case '\\': *o++ = '\\'; *o++ = '\\'; continue;
			case '\b': *o++ = '\\'; *o++ = 'b'; continue;
			case '\f': *o++ = '\\'; *o++ = 'f'; continue;
			case '\n': *o++ = '\\'; *o++ = 'n'; continue;
			case '\r': *o++ = '\\'; *o++ = 'r'; continue;
			case '\t': *o++ = '\\'; *o++ = 't'; continue;
			default: break;
			}
			if (ch < 0x20)
				o = json_put_u16(o, ch);
			else
				*o++ = (char)ch;
			continue;
		}
		if ((*u & 0xe0) == 0xc0) {
			n = 2;
			cp = *u & 0x1fu;
		} else if ((*u & 0xf0) == 0xe0) {
			n = 3;
			cp = *u & 0x0fu;
		} else if ((*u & 0xf8) == 0xf0) {
			n = 4;
			cp = *u & 0x07u;
		} else
			return false;
		for (size_t i = 1; i < n; i++) {
			if ((u[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (u[i] & 0x3fu);
		}
		/* Overlong forms, surrogates and beyond U+10FFFF are not
		   UTF-8 (RFC 3629 §3). */
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
		    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		u += n;
		if (cp >= 0x10000) {
			uint32_t v = cp - 0x10000;

			o = json_put_u16(o, 0xd800 | (v >> 10));
			o = json_put_u16(o, 0xdc00 | (v & 0x3ff));
		} else
			o = json_put_u16(o, cp);
	}
	*o++ = '"';
	*p = o;
	return true;
}

/* "key":"value" (after a comma unless first) at *p. */
static bool
json_put_member(char **p, const char *key, const char *value, bool first)
{
	if (!first)
		*(*p)++ = ',';
	if (!json_put_str(p, key))
		return false;
	*(*p)++ = ':';
	return json_put_str(p, value);
}

/* The answer's JSON text and its length, in *out (malloc'd, NUL-ended);
   false when out of memory or a string is not UTF-8. */
static bool
answer_json(const char *const kv[][2], size_t n, bool truncated,
    const char *reason, char **out, size_t *len)
{
	size_t	 cap = 64;
	char	*buf, *p;
	bool	 ok = true;

	for (size_t i = 0; i < n; i++)
		cap += json_str_max(kv[i][0]) + json_str_max(kv[i][1]) + 2;
	if (truncated)
		cap += json_str_max(reason) + 24;
	if ((buf = malloc(cap)) == NULL)
		return false;
	p = buf;
	*p++ = '{';
	for (size_t i = 0; i < n && ok; i++)
		ok = json_put_member(&p, kv[i][0], kv[i][1], i == 0);
	if (ok) {
		const char *t = truncated ? ",\"truncated\":true" :
		    ",\"truncated\":false";

		memcpy(p, t, strlen(t));
		p += strlen(t);
		if (truncated)
			ok = json_put_member(&p, "truncated_reason", reason,
			    false);
	}
	if (!ok) {
		free(buf);
		return false;
	}
	*p++ = '}';
	*p++ = '\n';
	*p = '\0';
	*out = buf;
	*len = (size_t)(p - buf);
	return true;
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
	{
		const char *const kv[][2] = {
			{ "serial", hex }, { "certificate", iss->pem },
			{ "ca", capem }, { "not_before", nb },
			{ "not_after", na }, { "profile", iss->profile },
			{ "subject", iss->subject ? iss->subject : "" },
		};
		char	*text;
		size_t	 len;

		if (answer_json(kv, sizeof(kv) / sizeof(kv[0]),
		    iss->truncated, iss->truncated_reason, &text, &len))
			return http_respond(r, c, 201, "application/json",
			    text, len, true);
	}
	/* Not UTF-8 (or out of memory): jansson says so as before. */
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
	if (!log_enabled(LOG_LEVEL_INFO))
		return;		/* nothing to format the line for */
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
