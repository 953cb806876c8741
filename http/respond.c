/*
 * Answers: a body with its headers, JSON, and the JSON error shape
 * {"error": code, "message": sentence} every refusal takes. The only place
 * that maps enum ca_err to an HTTP status (DESIGN.md).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "http/http_int.h"

unsigned
http_status_for(int code)
{
	switch (code) {
	case CA_OK:		return 200;
	case CA_EMALF:		return 400;
	case CA_EINVAL:		return 400;
	case CA_EAUTH:		return 401;
	case CA_EFORBIDDEN:	return 403;
	case CA_ENOENT:		return 404;
	case CA_EEXIST:		return 409;
	case CA_ETOOBIG:	return 413;
	case CA_EPOLICY:	return 422;
	case CA_ESPACE:		return 507;
	default:		return 500;
	}
}

/*
 * RFC 7030 section 4.2.3: a refusal is "a suitable 4xx or 5xx" with a
 * human-readable body. A request that cannot be granted as it stands — a
 * malformed CSR, one the profile refuses — is 400 (RFC 7030 predates 422
 * and EST clients know 400); credentials missing on a route that takes
 * Basic are 401 with the challenge, and everywhere else (no client
 * certificate for simplereenroll: no HTTP credentials could help) 403,
 * as are credentials presented and refused. The rest as for the API.
 */
unsigned
http_est_status(int code, enum http_auth auth)
{
	switch (code) {
	case CA_EMALF:
	case CA_EINVAL:
	case CA_EPOLICY:
		return 400;
	case CA_EAUTH:
		return auth == HTTP_AUTH_ENROLL_BASIC ? 401 : 403;
	default:
		return http_status_for(code);
	}
}

/* The row whose conventions an answer follows: the route, else the first
   for its path (a 405), else none (a 404). */
static const struct http_route *
answer_row(const struct http_req *r)
{
	if (r->route != NULL)
		return r->route;
	if (r->path_row >= 0 && (size_t)r->path_row < http_n_routes)
		return &http_routes[r->path_row];
	return NULL;
}

static bool
answer_est(const struct http_req *r)
{
	const struct http_route *row = answer_row(r);

	return row != NULL && row->proto == HTTP_PROTO_EST;
}

/* RFC 9110 §11.6.1: a 401 carries a challenge, the route's scheme. */
static const char *
challenge(const struct http_req *r)
{
	const struct http_route *row = answer_row(r);

	if (row != NULL && row->auth == HTTP_AUTH_ENROLL_BASIC)
		return "Basic realm=\"mtlsca EST\"";
	return "Bearer realm=\"mtlsca\"";
}

/* RFC 9110 §10.2.1: Allow lists the methods the path takes. */
static void
allow_header(struct MHD_Response *resp, unsigned allow)
{
	char	text[32] = "";

	if (allow & HTTP_GET)
		strcat(text, "GET, HEAD");
	if (allow & HTTP_POST)
		strcat(text, text[0] ? ", POST" : "POST");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, text);
}

enum MHD_Result
http_respond(struct http_req *r, struct MHD_Connection *c, unsigned status,
    const char *ctype, void *buf, size_t len, bool owned)
{
	return http_respond_hdrs(r, c, status, ctype, buf, len, owned, NULL);
}

enum MHD_Result
http_respond_hdrs(struct http_req *r, struct MHD_Connection *c,
    unsigned status, const char *ctype, void *buf, size_t len, bool owned,
    const char *const *hdrs)
{
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;

	if (owned)
		resp = MHD_create_response_from_buffer_with_free_callback(len,
		    buf, free);
	else
		resp = MHD_create_response_from_buffer(len, buf,
		    MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		if (owned)
			free(buf);
		return MHD_NO;
	}
	if (ctype != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    ctype);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	if (status == 405)
		allow_header(resp, r->allow);
	if (status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    challenge(r));
	for (size_t i = 0; hdrs != NULL && hdrs[i] != NULL &&
	    hdrs[i + 1] != NULL; i += 2)
		MHD_add_response_header(resp, hdrs[i], hdrs[i + 1]);
	r->status = status;
	/* Header and body in one send (tlspush.c): never when
	   libmicrohttpd sends no body (HEAD, 204, 304), or there is none. */
	if (len > 0 && status != 204 && status != 304 &&
	    strcmp(r->method, "HEAD") != 0)
		http_conn_hold_answer(c);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* text (owned, from jansson) with a trailing newline, for people reading
   curl's output; *len is its new length. */
static char *
with_newline(char *text, size_t *len)
{
	char *t;

	*len = strlen(text);
	if ((t = realloc(text, *len + 2)) == NULL)
		return text;
	t[(*len)++] = '\n';
	t[*len] = '\0';
	return t;
}

enum MHD_Result
http_respond_json(struct http_req *r, struct MHD_Connection *c,
    unsigned status, json_t *obj)
{
	char	*text;
	size_t	 len;

	if (obj == NULL)
		return http_respond_error(r, c, 500, "no_memory",
		    "out of memory");
	text = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(obj);
	if (text == NULL)
		return http_respond_error(r, c, 500, "no_memory",
		    "out of memory");
	text = with_newline(text, &len);
	return http_respond(r, c, status, "application/json", text, len,
	    true);
}

enum MHD_Result
http_respond_error(struct http_req *r, struct MHD_Connection *c,
    unsigned status, const char *code, const char *fmt, ...)
{
	static char	 oom[] = "{\"error\":\"no_memory\",\"message\":"
	    "\"out of memory\"}\n";
	char		 msg[512];
	json_t		*obj;
	char		*text;
	size_t		 len;
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* For the audit of refusals (audit.c). */
	if (r->reason == NULL)
		r->reason = code;
	snprintf(r->refusal, sizeof(r->refusal), "%s", msg);
	if (answer_est(r)) {
		/* RFC 7030 section 4.2.3 (RFC 8951): plain text. */
		len = strlen(msg);
		if ((text = malloc(len + 2)) == NULL)
			return MHD_NO;
		memcpy(text, msg, len);
		text[len++] = '\n';
		text[len] = '\0';
		return http_respond(r, c, status, "text/plain; charset=utf-8",
		    text, len, true);
	}
	obj = json_pack("{s:s, s:s}", "error", code, "message", msg);
	/* The rule that refused, for programs (ca/ca.h CA_REASON_*). */
	if (obj != NULL && r->reason != code)
		json_object_set_new(obj, "reason", json_string(r->reason));
	text = obj ? json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(obj);
	if (text == NULL)
		return http_respond(r, c, 500, "application/json", oom,
		    sizeof(oom) - 1, false);
	text = with_newline(text, &len);
	return http_respond(r, c, status, "application/json", text, len,
	    true);
}

enum MHD_Result
http_respond_caerr(struct http_req *r, struct MHD_Connection *c,
    const struct ca_error *e)
{
	const struct http_route	*row = answer_row(r);
	unsigned		 status = answer_est(r) ?
	    http_est_status(e->code, row->auth) : http_status_for(e->code);

	r->reason = e->reason;
	/* Internal failures say what failed but never leak more. */
	return http_respond_error(r, c, status, ca_errname(e->code), "%s",
	    e->msg[0] != '\0' ? e->msg : ca_strerror(e->code));
}
