/*
 * Enrollment (POST /v1/certificates), renewal (POST
 * /v1/certificates/renew) and the committer that makes their certificates
 * durable.
 *
 * Why a committer: an LMDB commit costs two fsyncs (~0.7 ms), so one commit
 * per certificate caps issuance near 1,400/s while a P-256 CA signs several
 * thousand a second. Requests sign on their own thread, outside any write
 * transaction (STYLE.md "LMDB"), then queue the record; the committer takes
 * everything pending, writes it in one transaction — token use, certificate
 * and audit entry of each request together — commits, and only then
 * releases the responses. A request whose part of the batch fails (a token
 * used up by a racing request in the same batch, say) is taken out and the
 * batch is redone without it, so one bad request never costs the others
 * and a token use never commits without its certificate, nor the reverse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>

#include "ca/ca.h"
#include "common/util.h"
#include "http/http_int.h"

#define SERIAL_RETRIES	3
/*
 * How long the committer may hold a batch open for requests that are being
 * signed right now: one commit costs two fsyncs and about 0.25 ms of CPU
 * (measured, ext4 on a VM disk), so under load a batch of ten costs a tenth
 * of ten batches of one. A lone request never waits: the committer only
 * lingers while other enrollments are on their way.
 */
#define LINGER_US	1000

/* ---- the committer ---- */

static void
item_complete(struct http_server *s, struct commit_item *it)
{
	atomic_fetch_sub(&s->enrolling, 1);
	if (s->committer.resume && it->conn != NULL) {
		/* The loop thread reads the result after the resume, whose
		   inter-thread signalling orders these writes before it. */
		it->done = true;
		MHD_resume_connection(it->conn);
		return;
	}
	pthread_mutex_lock(&it->mu);
	it->done = true;
	pthread_cond_signal(&it->cond);
	pthread_mutex_unlock(&it->mu);
}

/* An error that belongs to one request, not to the whole batch. */
static bool
item_specific(int rc)
{
	return rc == CA_EAUTH || rc == CA_EEXIST || rc == CA_EINVAL ||
	    rc == CA_EFORBIDDEN || rc == CA_EMALF || rc == CA_EPOLICY;
}

static void
batch_fail(struct commit_item *list, int rc, const struct ca_error *e)
{
	for (struct commit_item *it = list; it != NULL; it = it->next) {
		if (it->resolved)
			continue;
		it->resolved = true;
		it->rc = rc;
		it->err = *e;
		if (it->err.code == CA_OK)
			ca_error_set(&it->err, rc, "%s", ca_strerror(rc));
	}
}

static void
commit_batch(struct http_server *s, struct commit_item *list)
{
	struct commit_item	*it, *next;
	struct store_txn	*txn;
	struct ca_error		 e;
	unsigned long long	 n;
	int			 rc;

	for (;;) {
		struct commit_item *bad = NULL;
		int64_t now = time_now();

		n = 0;
		for (it = list; it != NULL; it = it->next)
			n += !it->resolved;
		if (n == 0)
			break;
		ca_error_clear(&e);
		txn = NULL;
		if ((rc = store_txn_begin(s->st, &txn, &e)) != CA_OK) {
			batch_fail(list, rc, &e);
			break;
		}
		for (it = list; it != NULL && bad == NULL; it = it->next) {
			if (it->resolved)
				continue;
			ca_error_clear(&it->err);
			if ((it->use_token && (rc = store_txn_token_use(txn,
			    it->token_hash, now, NULL, &it->err)) != CA_OK) ||
			    (rc = store_txn_cert_put(txn, &it->rec,
			    &it->err)) != CA_OK ||
			    (rc = store_txn_audit_append(txn, now, it->who,
			    it->action, it->detail, &it->err)) != CA_OK)
				bad = it;
		}
		if (bad != NULL) {
			store_txn_abort(txn);
			if (!item_specific(rc)) {
				e = bad->err;
				batch_fail(list, rc, &e);
				break;
			}
			bad->resolved = true;
			bad->rc = rc;
			continue;	/* redo the batch without it */
		}
		if ((rc = store_txn_commit(txn, &e)) != CA_OK) {
			batch_fail(list, rc, &e);
			break;
		}
		for (it = list; it != NULL; it = it->next)
			if (!it->resolved) {
				it->resolved = true;
				it->rc = CA_OK;
			}
		atomic_fetch_add(&s->metrics.commits, 1);
		atomic_fetch_add(&s->metrics.committed, n);
		break;
	}
	for (it = list; it != NULL; it = next) {
		next = it->next;	/* the item may be gone once completed */
		item_complete(s, it);
	}
}

static void *
committer_main(void *arg)
{
	struct http_server	*s = arg;
	struct committer	*cm = &s->committer;
	struct commit_item	*list, **tail;
	size_t			 n;

	for (;;) {
		pthread_mutex_lock(&cm->mu);
		while (cm->head == NULL && !cm->stop)
			pthread_cond_wait(&cm->cond, &cm->mu);
		if (cm->head == NULL) {
			pthread_mutex_unlock(&cm->mu);
			break;
		}
		/* Linger (see LINGER_US) while more are being signed. */
		for (;;) {
			int64_t		now = http_now_us();
			int64_t		until = cm->last_start_us + LINGER_US;
			struct timespec	ts;

			if (cm->stop || cm->queued >= cm->batch_max ||
			    (size_t)atomic_load(&s->enrolling) <= cm->queued ||
			    now >= until)
				break;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += (long)(until - now) * 1000;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&cm->cond, &cm->mu, &ts);
		}
		cm->last_start_us = http_now_us();
		/* Take up to batch_max, in arrival order. */
		list = cm->head;
		tail = &list;
		for (n = 0; *tail != NULL && n < cm->batch_max; n++)
			tail = &(*tail)->next;
		cm->head = *tail;
		if (cm->head == NULL)
			cm->tail = &cm->head;
		*tail = NULL;
		cm->queued -= n;
		pthread_mutex_unlock(&cm->mu);
		commit_batch(s, list);
	}
	return NULL;
}

int
http_committer_start(struct http_server *s, struct ca_error *err)
{
	struct committer *cm = &s->committer;

	pthread_condattr_t attr;

	pthread_mutex_init(&cm->mu, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&cm->cond, &attr);
	pthread_condattr_destroy(&attr);
	cm->head = NULL;
	cm->tail = &cm->head;
	if (pthread_create(&cm->thread, NULL, committer_main, s) != 0) {
		pthread_cond_destroy(&cm->cond);
		pthread_mutex_destroy(&cm->mu);
		return ca_error_set(err, CA_EIO, "cannot start the committer "
		    "thread");
	}
	cm->running = true;
	return CA_OK;
}

void
http_committer_stop(struct http_server *s)
{
	struct committer *cm = &s->committer;

	if (!cm->running)
		return;
	pthread_mutex_lock(&cm->mu);
	cm->stop = true;
	pthread_cond_signal(&cm->cond);
	pthread_mutex_unlock(&cm->mu);
	pthread_join(cm->thread, NULL);	/* drains the queue first */
	pthread_cond_destroy(&cm->cond);
	pthread_mutex_destroy(&cm->mu);
	cm->running = false;
}

static void
committer_submit(struct http_server *s, struct commit_item *it)
{
	struct committer *cm = &s->committer;

	it->next = NULL;
	pthread_mutex_lock(&cm->mu);
	*cm->tail = it;
	cm->tail = &it->next;
	cm->queued++;
	pthread_cond_signal(&cm->cond);
	pthread_mutex_unlock(&cm->mu);
}

void
http_req_item_release(struct http_req *r)
{
	if (r->item.sync_init) {
		pthread_cond_destroy(&r->item.cond);
		pthread_mutex_destroy(&r->item.mu);
		r->item.sync_init = false;
	}
}

/* ---- the request ---- */

/* What the caller may enroll for. */
struct grant {
	char		 who[96];
	char		 profile[STORE_PROFILE_MAX];	/* "" = any (admin) */
	char		 cn[STORE_CN_MAX];		/* "" = any */
	bool		 one_time;
	bool		 admin;				/* an admin token */
	uint8_t		 hash[HTTP_HASH_LEN];
	struct ca_peer	 peer;				/* renew */
};

static int
auth_enroll(struct http_server *s, struct MHD_Connection *c, struct grant *g,
    struct ca_error *err)
{
	struct store_token	tok;
	char			hex[2 * HTTP_HASH_LEN + 1];
	int			rc, which = -1;

	/*
	 * Missing (or not a Bearer) credentials are 401, with the
	 * WWW-Authenticate challenge; a token presented but refused —
	 * unknown, expired, used up — is 403, as on the admin routes.
	 */
	if ((rc = http_bearer_hash(c, g->hash, err)) != CA_OK)
		return rc == CA_ENOENT ? ca_error_set(err, CA_EAUTH,
		    "enrollment needs \"Authorization: Bearer TOKEN\"") : rc;
	hex_format(g->hash, 4, hex);
	/* Every static hash is compared: timing does not tell which. */
	for (size_t i = 0; i < s->n_tokens; i++)
		if (ca_hash_eq(s->tokens[i].hash, g->hash))
			which = (int)i;
	if (which >= 0) {
		snprintf(g->profile, sizeof(g->profile), "%s",
		    s->tokens[which].profile);
		snprintf(g->who, sizeof(g->who), "static-token:%s", hex);
		return CA_OK;
	}
	for (size_t i = 0; i < s->n_admin_tokens; i++)
		if (ca_hash_eq(s->admin_tokens[i], g->hash))
			which = (int)i;
	if (which >= 0) {
		g->admin = true;
		snprintf(g->who, sizeof(g->who), "admin-token:%s", hex);
		return CA_OK;
	}
	memset(&tok, 0, sizeof(tok));
	if ((rc = store_token_get(s->st, g->hash, &tok, err)) != CA_OK)
		return rc == CA_ENOENT ? ca_error_set(err, CA_EFORBIDDEN,
		    "unknown enrollment token") : rc;
	/* Checked again, atomically, when the use is committed. */
	if (time_now() >= tok.expires_at)
		return ca_error_set(err, CA_EFORBIDDEN, "enrollment token has "
		    "expired");
	if (tok.uses_left == 0)
		return ca_error_set(err, CA_EFORBIDDEN, "enrollment token has "
		    "already been used");
	g->one_time = true;
	snprintf(g->profile, sizeof(g->profile), "%s", tok.profile);
	snprintf(g->cn, sizeof(g->cn), "%s", tok.cn);
	snprintf(g->who, sizeof(g->who), "token:%s", hex);
	return CA_OK;
}

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

/* Sign (no store access) and fill the commit item. */
static int
issue(struct http_server *s, struct http_req *r, const struct ca_csr *csr,
    const struct ca_profile *prof, unsigned days, struct ca_error *err)
{
	char	hex[SERIAL_HEX_MAX + 2];
	int64_t	now = time_now();
	int	rc;

	ca_issued_clear(&r->iss);
	memset(&r->iss, 0, sizeof(r->iss));
	if ((rc = ca_issue(s->ca, csr, prof, days, now, &r->iss, err)) !=
	    CA_OK)
		return rc;
	ca_issued_record(&r->iss, now, &r->item.rec);
	serial_format(r->iss.serial, r->iss.serial_len, hex);
	snprintf(r->item.detail, sizeof(r->item.detail),
	    "serial=%s profile=%s subject=%.100s", hex, prof->name,
	    r->iss.subject ? r->iss.subject : "");
	return CA_OK;
}

/* Queue the item; suspend (pool) or wait (thread per connection). */
static enum MHD_Result
submit(struct http_server *s, struct http_req *r, struct MHD_Connection *c)
{
	struct commit_item *it = &r->item;

	it->done = false;
	it->resolved = false;
	it->rc = CA_OK;
	r->phase = 1;
	if (s->committer.resume && !atomic_load(&s->stopping)) {
		it->conn = c;
		/* Suspend first, so that the resume can never come before. */
		MHD_suspend_connection(c);
		committer_submit(s, it);
		return MHD_YES;
	}
	it->conn = NULL;
	if (!it->sync_init) {
		pthread_mutex_init(&it->mu, NULL);
		pthread_cond_init(&it->cond, NULL);
		it->sync_init = true;
	}
	committer_submit(s, it);
	pthread_mutex_lock(&it->mu);
	while (!it->done)
		pthread_cond_wait(&it->cond, &it->mu);
	pthread_mutex_unlock(&it->mu);
	return http_enroll(s, r, c);
}

static enum MHD_Result
answer(struct http_server *s, struct http_req *r, struct MHD_Connection *c)
{
	char		 hex[SERIAL_HEX_MAX + 2], nb[21], na[21];
	const char	*capem = ca_cert_pem(s->ca);

	serial_format(r->iss.serial, r->iss.serial_len, hex);
	http_metrics_issued(s, r->iss.profile);
	if (r->route == ROUTE_RENEW)
		atomic_fetch_add(&s->metrics.renewed, 1);
	if (r->pem_chain) {
		/* RFC 8555 §9.1: the leaf first, then its issuer. */
		size_t	 l1 = strlen(r->iss.pem), l2 = strlen(capem);
		char	*buf = malloc(l1 + l2 + 2), *p = buf;

		if (buf == NULL)
			return http_respond_error(r, c, 500, "no_memory",
			    "out of memory");
		memcpy(p, r->iss.pem, l1);
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
	time_format(r->iss.not_before, nb);
	time_format(r->iss.not_after, na);
	return http_respond_json(r, c, 201, json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "serial", hex, "certificate", r->iss.pem, "ca", capem,
	    "not_before", nb, "not_after", na, "profile", r->iss.profile,
	    "subject", r->iss.subject ? r->iss.subject : ""));
}

/* After the commit: answer, or sign again after a serial collision. */
static enum MHD_Result
finish(struct http_server *s, struct http_req *r, struct MHD_Connection *c)
{
	struct commit_item *it = &r->item;

	r->phase = 2;
	if (it->rc == CA_OK)
		return answer(s, r, c);
	/* A token used up or expired by the time of the commit (a racing
	   request took its last use): presented but refused, 403. */
	if (it->rc == CA_EAUTH && it->use_token)
		it->err.code = CA_EFORBIDDEN;
	return http_respond_caerr(r, c, &it->err);
}

enum MHD_Result
http_enroll(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c)
{
	struct ca_csr		*csr = NULL;
	const struct ca_profile	*prof;
	struct cert_record	 old;
	struct ca_error		 err;
	struct grant		 g;
	struct http_body	 b;
	enum MHD_Result		 ret;
	int			 rc;

	if (r->phase == 1) {
		/*
		 * Back from the committer. A serial collision (126 random
		 * bits: never in practice) is the only retry: the request
		 * still holds its body, so it goes through again and signs
		 * with a fresh serial (STYLE.md "LMDB").
		 */
		if (r->item.rc != CA_EEXIST || ++r->tries > SERIAL_RETRIES)
			return finish(s, r, c);
	}
	ca_error_clear(&err);
	memset(&g, 0, sizeof(g));
	memset(&old, 0, sizeof(old));
	memset(&b, 0, sizeof(b));
	/* Counted until its commit completes (or it is refused first). */
	atomic_fetch_add(&s->enrolling, 1);
	r->enrolling = true;
	if (r->route == ROUTE_ENROLL) {
		rc = auth_enroll(s, c, &g, &err);
	} else {
		rc = http_peer(s, c, &g.peer, &old, &err);
		if (rc == CA_ENOENT)
			rc = ca_error_set(&err, CA_EAUTH, "renewal needs the "
			    "current certificate as the TLS client "
			    "certificate");
		if (rc == CA_OK) {
			char fp[17];

			hex_format(g.peer.fingerprint, 8, fp);
			snprintf(g.who, sizeof(g.who), "cert:%s", fp);
		}
	}
	if (rc != CA_OK) {
		ret = http_respond_caerr(r, c, &err);
		goto out;
	}
	if ((rc = body_parse(r, c, &b, &err)) != CA_OK) {
		if (rc == CA_EINVAL)
			ret = http_respond_error(r, c, 415,
			    "unsupported_media_type", "%s", err.msg);
		else
			ret = http_respond_caerr(r, c, &err);
		goto out;
	}
	if ((rc = ca_csr_parse(b.csr, b.csr_len, &csr, &err)) != CA_OK) {
		ret = http_respond_caerr(r, c, &err);
		goto out;
	}
	if (r->route == ROUTE_RENEW) {
		/* Same subject, same profile: renewal is not a way to a new
		   identity or a wider profile. */
		if (strcmp(ca_csr_subject(csr), g.peer.subject) != 0) {
			ret = http_respond_error(r, c, 422, "policy", "the "
			    "CSR's subject (%.150s) differs from the client "
			    "certificate's (%.150s): renewal keeps the "
			    "subject", ca_csr_subject(csr), g.peer.subject);
			goto out;
		}
		if (b.profile[0] != '\0' && strcmp(b.profile, old.profile)) {
			ret = http_respond_error(r, c, 422, "policy", "renewal "
			    "keeps the profile '%s'", old.profile);
			goto out;
		}
		snprintf(g.profile, sizeof(g.profile), "%s", old.profile);
		if ((prof = http_profile(s, old.profile)) == NULL ||
		    old.profile[0] == '\0') {
			ret = http_respond_error(r, c, 422, "policy", "the "
			    "certificate's profile '%s' is not one this "
			    "service issues", old.profile);
			goto out;
		}
	} else {
		if (g.profile[0] != '\0' && b.profile[0] != '\0' &&
		    strcmp(g.profile, b.profile) != 0) {
			ret = http_respond_error(r, c, 403, "forbidden", "this "
			    "token enrolls for profile '%s', not '%s'",
			    g.profile, b.profile);
			goto out;
		}
		prof = http_profile(s, g.profile[0] ? g.profile : b.profile);
		if (prof == NULL) {
			ret = http_respond_error(r, c, 422, "policy", "unknown "
			    "profile '%s'", g.profile[0] ? g.profile :
			    b.profile);
			goto out;
		}
		if (g.cn[0] != '\0' && strcmp(g.cn, ca_csr_cn(csr)) != 0) {
			ret = http_respond_error(r, c, 403, "forbidden", "this "
			    "token is bound to CN '%s' but the CSR asks for "
			    "'%.100s'", g.cn, ca_csr_cn(csr));
			goto out;
		}
	}
	r->pem_chain = wants_pem_chain(c);
	if ((rc = issue(s, r, csr, prof, b.days, &err)) != CA_OK) {
		ret = http_respond_caerr(r, c, &err);
		goto out;
	}
	/*
	 * A certificate whose subject is a configured admin subject is an
	 * admin credential (auth.c): only an admin may have one made. Checked
	 * on the subject as issued (the profile filters the CSR's), the same
	 * RFC 4514 text auth.c compares. Renewal keeps the subject of a
	 * certificate its caller already holds, so it grants nothing new.
	 */
	if (r->route == ROUTE_ENROLL && !g.admin &&
	    http_admin_subject(s, r->iss.subject)) {
		ret = http_respond_error(r, c, 403, "forbidden", "the subject "
		    "%.150s is an admin subject: only an admin may enroll it",
		    r->iss.subject);
		ca_issued_clear(&r->iss);
		goto out;
	}
	r->item.use_token = g.one_time;
	memcpy(r->item.token_hash, g.hash, sizeof(g.hash));
	snprintf(r->item.who, sizeof(r->item.who), "%s", g.who);
	snprintf(r->item.action, sizeof(r->item.action), "%s",
	    r->route == ROUTE_RENEW ? "renew" : "issue");
	if (r->route == ROUTE_RENEW) {
		char	hex[SERIAL_HEX_MAX + 2];
		size_t	l = strlen(r->item.detail);

		serial_format(g.peer.serial, g.peer.serial_len, hex);
		snprintf(r->item.detail + l, sizeof(r->item.detail) - l,
		    " renews=%s", hex);
	}
	r->enrolling = false;	/* the committer takes the count over */
	ret = submit(s, r, c);
out:
	if (r->enrolling) {
		atomic_fetch_sub(&s->enrolling, 1);
		r->enrolling = false;
	}
	cert_record_clear(&old);
	ca_csr_free(csr);
	http_body_clear(&b);
	return ret;
}
