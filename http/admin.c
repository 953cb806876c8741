/*
 * Admin routes: list and show certificates, revoke, regenerate the CRL and
 * show its status. The dispatcher has authenticated an admin client
 * certificate or an admin token (auth.c; r->who names it); every action
 * lands in the audit log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <jansson.h>
#include <microhttpd.h>

#include "ca/ca.h"
#include "common/log.h"
#include "common/util.h"
#include "crl/crl.h"
#include "http/http_int.h"

#define LIST_DEFAULT	100
#define LIST_MAX	1000

static const char *
status_name(const struct cert_record *rec, int64_t now)
{
	if (rec->status == CERT_STATUS_REVOKED)
		return "revoked";
	if (rec->not_after != STORE_NOT_AFTER_UNKNOWN && rec->not_after < now)
		return "expired";
	return "valid";
}

static json_t *
record_json(const struct cert_record *rec, int64_t now, bool with_pem)
{
	char		 hex[SERIAL_HEX_MAX + 2], t[21];
	json_t		*o = json_object();
	gnutls_datum_t	 der, pem = { NULL, 0 };

	if (o == NULL)
		return NULL;
	serial_format(rec->serial, rec->serial_len, hex);
	json_object_set_new(o, "serial", json_string(hex));
	json_object_set_new(o, "status", json_string(status_name(rec, now)));
	json_object_set_new(o, "subject", rec->subject ?
	    json_string(rec->subject) : json_null());
	json_object_set_new(o, "profile", json_string(rec->profile));
	json_object_set_new(o, "ca_id", json_integer(rec->ca_id >
	    STORE_CA_FIRST ? rec->ca_id : STORE_CA_FIRST));
	time_format(rec->not_before, t);
	json_object_set_new(o, "not_before", json_string(t));
	if (rec->not_after == STORE_NOT_AFTER_UNKNOWN) {
		json_object_set_new(o, "not_after", json_null());
	} else {
		time_format(rec->not_after, t);
		json_object_set_new(o, "not_after", json_string(t));
	}
	time_format(rec->issued_at, t);
	json_object_set_new(o, "issued_at", json_string(t));
	if (rec->status == CERT_STATUS_REVOKED) {
		const char *rn = ca_reason_name(rec->reason);

		time_format(rec->revoked_at, t);
		json_object_set_new(o, "revoked_at", json_string(t));
		json_object_set_new(o, "reason", json_string(rn ? rn :
		    "unspecified"));
	}
	if (with_pem && rec->der != NULL && rec->der_len > 0) {
		der.data = rec->der;
		der.size = (unsigned)rec->der_len;
		if (gnutls_pem_base64_encode2("CERTIFICATE", &der, &pem) >= 0) {
			json_object_set_new(o, "certificate",
			    json_stringn((const char *)pem.data, pem.size));
			gnutls_free(pem.data);
		}
	}
	return o;
}

struct list_ctx {
	json_t		*items;
	int		 want;		/* -1 any, else a status filter */
	bool		 want_expired;
	const char	*cn;
	size_t		 limit, n;
	int64_t		 now;
	char		 last[SERIAL_HEX_MAX + 2];
	bool		 more;
};

static int
list_cb(const struct cert_record *rec, void *arg)
{
	struct list_ctx	*lc = arg;
	const char	*st = status_name(rec, lc->now);
	json_t		*o;

	if (lc->n >= lc->limit) {
		lc->more = true;
		return 1;
	}
	if (lc->want_expired && strcmp(st, "expired") != 0)
		return 0;
	if (lc->want == CERT_STATUS_REVOKED && strcmp(st, "revoked") != 0)
		return 0;
	if (lc->want == CERT_STATUS_VALID && strcmp(st, "valid") != 0)
		return 0;
	if ((o = record_json(rec, lc->now, false)) == NULL ||
	    json_array_append_new(lc->items, o) != 0)
		return CA_ENOMEM;
	serial_format(rec->serial, rec->serial_len, lc->last);
	lc->n++;
	return 0;
}

enum MHD_Result
http_cert_list(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c)
{
	const char	*status = MHD_lookup_connection_value(c,
	    MHD_GET_ARGUMENT_KIND, "status");
	const char	*limit = MHD_lookup_connection_value(c,
	    MHD_GET_ARGUMENT_KIND, "limit");
	const char	*cursor = MHD_lookup_connection_value(c,
	    MHD_GET_ARGUMENT_KIND, "cursor");
	struct list_ctx	 lc;
	struct ca_error	 err;
	uint8_t		 after[SERIAL_MAX + 1];
	size_t		 after_len = 0;
	uint64_t	 v;
	json_t		*o;
	int		 rc;

	memset(&lc, 0, sizeof(lc));
	lc.want = -1;
	lc.limit = LIST_DEFAULT;
	lc.now = time_now();
	lc.cn = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "cn");
	if (lc.cn != NULL && *lc.cn == '\0')
		lc.cn = NULL;
	if (status != NULL && *status != '\0' && strcmp(status, "all") != 0) {
		if (strcmp(status, "valid") == 0)
			lc.want = CERT_STATUS_VALID;
		else if (strcmp(status, "revoked") == 0)
			lc.want = CERT_STATUS_REVOKED;
		else if (strcmp(status, "expired") == 0)
			lc.want_expired = true;
		else
			return http_respond_error(r, c, 400, "malformed",
			    "status must be valid, revoked, expired or all");
	}
	if (limit != NULL) {
		if (parse_u64(limit, 1, LIST_MAX, &v) != CA_OK)
			return http_respond_error(r, c, 400, "malformed",
			    "limit must be a whole number from 1 to %d",
			    LIST_MAX);
		lc.limit = (size_t)v;
	}
	ca_error_clear(&err);
	if (cursor != NULL && *cursor != '\0' &&
	    serial_parse(cursor, after, &after_len, &err) != CA_OK)
		return http_respond_error(r, c, 400, "malformed", "cursor: %s",
		    err.msg);
	if ((lc.items = json_array()) == NULL)
		return http_respond_error(r, c, 500, "no_memory",
		    "out of memory");
	/* cn= seeks the store's CN index (status= filters as it goes);
	   status= alone reads its status's index, for one more than a page
	   (the one that says there is more). */
	if (lc.cn != NULL)
		rc = store_cert_foreach_cn(s->st, lc.cn, after_len ? after :
		    NULL, after_len, list_cb, &lc, &err);
	else if (lc.want >= 0 || lc.want_expired)
		rc = store_cert_foreach_status(s->st, lc.want_expired ?
		    STORE_FILTER_EXPIRED : lc.want == CERT_STATUS_REVOKED ?
		    STORE_FILTER_REVOKED : STORE_FILTER_VALID, lc.now,
		    after_len ? after : NULL, after_len, lc.limit + 1, list_cb,
		    &lc, &err);
	else
		rc = store_cert_foreach(s->st, after_len ? after : NULL,
		    after_len, list_cb, &lc, &err);
	if (rc < 0) {
		json_decref(lc.items);
		if (err.code == CA_OK)
			ca_error_set(&err, rc, "%s", ca_strerror(rc));
		return http_respond_caerr(r, c, &err);
	}
	o = json_pack("{s:o, s:o}", "certificates", lc.items, "next_cursor",
	    lc.more && lc.n > 0 ? json_string(lc.last) : json_null());
	return http_respond_json(r, c, 200, o);
}

static int
url_serial(struct http_req *r, uint8_t *serial, size_t *len,
    struct ca_error *err)
{
	return serial_parse(r->param, serial, len, err);
}

enum MHD_Result
http_cert_get(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c)
{
	struct cert_record	rec;
	struct ca_error		err;
	uint8_t			serial[SERIAL_MAX + 1];
	size_t			len;
	enum MHD_Result		ret;

	ca_error_clear(&err);
	if (url_serial(r, serial, &len, &err) != CA_OK)
		return http_respond_caerr(r, c, &err);
	memset(&rec, 0, sizeof(rec));
	if (store_cert_get(s->st, serial, len, &rec, &err) != CA_OK)
		return http_respond_caerr(r, c, &err);
	ret = http_respond_json(r, c, 200, record_json(&rec, time_now(),
	    true));
	cert_record_clear(&rec);
	return ret;
}

static const char *
outcome_name(int outcome)
{
	switch (outcome) {
	case STORE_REVOKE_NEW:		return "revoked";
	case STORE_REVOKE_RAISED:	return "reason_raised";
	default:			return "already_revoked";
	}
}

/* Once per revocation request that changed or confirmed a record. */
static void
revoke_log(const struct http_req *r, struct MHD_Connection *c,
    const char *hex, const char *reason, const char *outcome)
{
	char			ip[64];
	struct log_field	f[] = {
		{ "serial", hex }, { "reason", reason },
		{ "outcome", outcome }, { "peer", ip }, { "who", r->who },
	};

	http_conn_peer_text(c, ip, sizeof(ip));
	log_event(LOG_LEVEL_NOTICE, "revoke", LOG_FIELDS(f), "revoked serial "
	    "%s (reason %s, %s) by %s from %s", hex, reason, outcome, r->who,
	    ip);
}

enum MHD_Result
http_cert_revoke(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c)
{
	struct cert_record	 rec;
	struct ca_error		 err;
	uint8_t			 serial[SERIAL_MAX + 1];
	size_t			 len;
	int			 reason = 0, outcome = 0, rc;
	json_t			*body = NULL, *v, *o;
	json_error_t		 jerr;
	char			 hex[SERIAL_HEX_MAX + 2], t[21], detail[128];
	const char		*rn;
	enum MHD_Result		 ret;

	ca_error_clear(&err);
	memset(&rec, 0, sizeof(rec));
	if (url_serial(r, serial, &len, &err) != CA_OK)
		return http_respond_caerr(r, c, &err);
	if (r->body_len > 0) {
		const char *ct = MHD_lookup_connection_value(c,
		    MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

		/* The body is JSON; a form or text body is a client mixup
		   (curl -d sends application/x-www-form-urlencoded). */
		if (ct != NULL && !http_ctype_is(ct, "application/json"))
			return http_respond_error(r, c, 415,
			    "unsupported_media_type", "the revocation body is "
			    "application/json, like {\"reason\": "
			    "\"keyCompromise\"}");
		if ((body = json_loadb((const char *)r->body, r->body_len, 0,
		    &jerr)) == NULL || !json_is_object(body)) {
			json_decref(body);
			return http_respond_error(r, c, 400, "malformed",
			    "the body must be a JSON object like "
			    "{\"reason\": \"keyCompromise\"}");
		}
		v = json_object_get(body, "reason");
		if (v != NULL && (!json_is_string(v) ||
		    ca_reason_parse(json_string_value(v), &reason) != CA_OK)) {
			json_decref(body);
			return http_respond_error(r, c, 400, "malformed",
			    "reason must be an RFC 5280 CRLReason name such "
			    "as keyCompromise, superseded or "
			    "cessationOfOperation");
		}
		json_decref(body);
	}
	if ((rc = crl_revoke(s->st, serial, len, reason, 0, false, &outcome,
	    &rec, &err)) != CA_OK)
		return http_respond_caerr(r, c, &err);
	/* Tell the schedule now rather than at its next poll. */
	crl_schedule_notify(s->sched);
	atomic_fetch_add(&s->metrics.revocations, 1);
	serial_format(serial, len, hex);
	rn = ca_reason_name(rec.reason);
	snprintf(detail, sizeof(detail), "serial=%s reason=%s outcome=%s",
	    hex, rn ? rn : "unspecified", outcome_name(outcome));
	if (store_audit_append(s->st, time_now(), r->who, "revoke", detail,
	    &err) != CA_OK)
		log_msg(LOG_LEVEL_ERROR, "audit: %s", err.msg);
	time_format(rec.revoked_at, t);
	revoke_log(r, c, hex, rn ? rn : "unspecified", outcome_name(outcome));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "serial", hex, "status",
	    "revoked", "reason", rn ? rn : "unspecified", "revoked_at", t,
	    "outcome", outcome_name(outcome));
	ret = http_respond_json(r, c, 200, o);
	cert_record_clear(&rec);
	return ret;
}

static json_t *
crl_status_json(const struct crl_schedule_status *st)
{
	char	tu[21], nu[21], ls[21];
	json_t	*o;

	time_format(st->this_update, tu);
	time_format(st->next_update, nu);
	time_format(st->last_success, ls);
	o = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:b}",
	    "have_crl", st->have_crl, "number", (json_int_t)st->number,
	    "entries", (json_int_t)st->entries, "bytes",
	    (json_int_t)st->der_len, "builds", (json_int_t)st->builds,
	    "failures", (json_int_t)st->failures, "publish_failures",
	    (json_int_t)st->publish_failures, "pending", st->pending);
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "this_update", st->have_crl ?
	    json_string(tu) : json_null());
	json_object_set_new(o, "next_update", st->have_crl ?
	    json_string(nu) : json_null());
	json_object_set_new(o, "last_success", st->last_success ?
	    json_string(ls) : json_null());
	json_object_set_new(o, "last_error", st->last_error[0] ?
	    json_string(st->last_error) : json_null());
	return o;
}

enum MHD_Result
http_crl_run(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c)
{
	struct crl_schedule_status	st;
	struct ca_error			err;
	char				detail[64];

	ca_error_clear(&err);
	memset(&st, 0, sizeof(st));
	if (s->sched == NULL)
		return http_respond_error(r, c, 404, "not_found", "no CRL "
		    "schedule in this server");
	if (crl_schedule_run(s->sched, &st, &err) != CA_OK)
		return http_respond_caerr(r, c, &err);
	snprintf(detail, sizeof(detail), "number=%llu entries=%llu",
	    (unsigned long long)st.number, (unsigned long long)st.entries);
	if (store_audit_append(s->st, time_now(), r->who, "crl", detail,
	    &err) != CA_OK)
		log_msg(LOG_LEVEL_ERROR, "audit: %s", err.msg);
	return http_respond_json(r, c, 200, crl_status_json(&st));
}

enum MHD_Result
http_crl_status(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c)
{
	struct crl_schedule_status st;

	memset(&st, 0, sizeof(st));
	crl_schedule_status(s->sched, &st);
	return http_respond_json(r, c, 200, crl_status_json(&st));
}
