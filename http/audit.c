/*
 * The audit of refusals and admin reads. Every 400, 401, 403, 409 and 422 on
 * an authenticated route, and every admin read, becomes an audit entry: the
 * route, the reason, the peer address and who was presented (a token's
 * hash prefix or a certificate's fingerprint — never the secret).
 *
 * Refusals come from anyone, so they must not flood the store nor slow the
 * refusal itself: requests only queue an entry (no I/O), and a thread of
 * its own writes what is queued once a second, in one transaction. Repeats
 * are aggregated: the first refusal of a kind (peer address, route,
 * reason) in a minute is written as it is; the next ones of that minute are
 * counted and written as one "refuse-repeat" entry when the minute ends.
 * Past KINDS_MAX kinds in a minute, or QUEUE_MAX queued entries, the rest
 * is counted together and summed up in one entry per flush.
 *
 * The log (common/log.h) gets the same entries, from the same thread, as
 * they are flushed: a refusal is logged once, its repeats in one line.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "common/log.h"
#include "common/util.h"
#include "http/http_int.h"

#define WINDOW_S	60
#define KINDS_MAX	1024
#define QUEUE_MAX	256
#define FLUSH_MS	1000
#define DETAIL_MAX	512

struct kind {
	char		key[320];	/* peer, route, reason, who */
	char		who[CA_WHO_MAX];
	char		peer[64];
	char		reason[48];
	char		detail[DETAIL_MAX];
	int64_t		first;		/* 0: free */
	unsigned long	repeats;
};

struct entry {
	int64_t	at;
	char	who[CA_WHO_MAX];
	char	action[16];
	char	peer[64];
	char	reason[48];
	char	detail[DETAIL_MAX];
};

struct http_auditor {
	struct store		*st;
	pthread_t		 thread;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cond;
	bool			 stop;
	struct kind		 kinds[KINDS_MAX];
	struct entry		 queue[QUEUE_MAX];
	size_t			 n_queued;
	unsigned long		 overflow;	/* not itemized since a flush */
	atomic_ullong		*written;	/* metrics */
	atomic_ullong		*dropped;
};

static uint64_t
fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s != '\0')
		h = (h ^ (uint8_t)*s++) * 1099511628211ull;
	return h;
}

/* Queue one entry (a->mu held); false when the queue is full. */
static bool
enqueue(struct http_auditor *a, int64_t at, const char *who,
    const char *action, const char *peer, const char *reason,
    const char *detail)
{
	struct entry *e;

	if (a->n_queued == QUEUE_MAX)
		return false;
	e = &a->queue[a->n_queued++];
	e->at = at;
	snprintf(e->who, sizeof(e->who), "%s", who);
	snprintf(e->action, sizeof(e->action), "%s", action);
	snprintf(e->peer, sizeof(e->peer), "%s", peer);
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
	snprintf(e->detail, sizeof(e->detail), "%s", detail);
	return true;
}

void
http_audit_note(struct http_auditor *a, const char *action, const char *key,
    const char *who, const char *peer, const char *reason, const char *detail)
{
	int64_t		 now = time_now();
	struct kind	*k = NULL, *free_slot = NULL;
	size_t		 h;

	if (a == NULL)
		return;
	h = (size_t)(fnv(key) % KINDS_MAX);
	pthread_mutex_lock(&a->mu);
	/* Open addressing over at most 16 slots: bounded work per call. */
	for (size_t i = 0; i < 16; i++) {
		struct kind *c = &a->kinds[(h + i) % KINDS_MAX];

		if (c->first == 0) {
			if (free_slot == NULL)
				free_slot = c;
			continue;
		}
		if (strcmp(c->key, key) == 0) {
			k = c;
			break;
		}
	}
	if (k != NULL) {
		k->repeats++;		/* within its minute: counted */
	} else if (free_slot != NULL && enqueue(a, now, who, action, peer,
	    reason, detail)) {
		snprintf(free_slot->key, sizeof(free_slot->key), "%s", key);
		snprintf(free_slot->who, sizeof(free_slot->who), "%s", who);
		snprintf(free_slot->peer, sizeof(free_slot->peer), "%s", peer);
		snprintf(free_slot->reason, sizeof(free_slot->reason), "%s",
		    reason);
		snprintf(free_slot->detail, sizeof(free_slot->detail), "%s",
		    detail);
		free_slot->first = now;
		free_slot->repeats = 0;
	} else {
		a->overflow++;
	}
	pthread_mutex_unlock(&a->mu);
}

/* Close the minutes that ended (a->mu held): their repeats are queued. */
static void
close_windows(struct http_auditor *a, int64_t now, bool all)
{
	for (size_t i = 0; i < KINDS_MAX; i++) {
		struct kind	*k = &a->kinds[i];
		char		 d[DETAIL_MAX];

		if (k->first == 0 || (!all && now - k->first < WINDOW_S))
			continue;
		if (k->repeats > 0) {
			snprintf(d, sizeof(d), "%lu more in the %d s after "
			    "the first: %s", k->repeats, WINDOW_S, k->detail);
			if (!enqueue(a, now, k->who, "repeat", k->peer,
			    k->reason, d))
				a->overflow += k->repeats;
		}
		k->first = 0;
	}
}

/* An entry's line: refusals and their repeats are notices, reads info. */
static void
entry_log(const struct entry *e)
{
	struct log_field f[] = {
		{ "who", e->who }, { "peer", e->peer[0] ? e->peer : NULL },
		{ "reason", e->reason[0] ? e->reason : NULL },
	};
	enum log_level	 level = LOG_LEVEL_NOTICE;
	const char	*what = "refused";

	if (strcmp(e->action, "read") == 0) {
		level = LOG_LEVEL_INFO;
		what = "admin read";
	} else if (strcmp(e->action, "repeat") == 0) {
		what = "repeated";
	} else if (strcmp(e->action, "audit-overflow") == 0) {
		level = LOG_LEVEL_WARNING;
		what = "audit";
	}
	log_event(level, e->action, LOG_FIELDS(f), "http: %s: %s (%s)", what,
	    e->detail, e->who);
}

static void
flush(struct http_auditor *a, bool all)
{
	struct entry	*batch = NULL;
	struct store_txn *txn = NULL;
	struct ca_error	 err;
	size_t		 n, i;
	int64_t		 now = time_now();

	pthread_mutex_lock(&a->mu);
	close_windows(a, now, all);
	if (a->overflow > 0) {
		char d[128];

		snprintf(d, sizeof(d), "%lu refusals or reads not itemized "
		    "(too many at once)", a->overflow);
		if (enqueue(a, now, "http", "audit-overflow", "", "", d)) {
			atomic_fetch_add(a->dropped, a->overflow);
			a->overflow = 0;
		}
	}
	n = a->n_queued;
	if (n > 0 && (batch = malloc(n * sizeof(*batch))) != NULL) {
		memcpy(batch, a->queue, n * sizeof(*batch));
		a->n_queued = 0;
	}
	pthread_mutex_unlock(&a->mu);
	if (batch == NULL)
		return;		/* nothing, or out of memory: next time */
	for (i = 0; i < n; i++)
		entry_log(&batch[i]);
	/* One transaction, one fsync, for everything of the last second. */
	ca_error_clear(&err);
	if (store_txn_begin(a->st, &txn, &err) == CA_OK) {
		for (i = 0; i < n; i++)
			if (store_txn_audit_append(txn, batch[i].at,
			    batch[i].who, batch[i].action, batch[i].detail,
			    &err) != CA_OK)
				break;
		if (i < n)
			store_txn_abort(txn);
		else if (store_txn_commit(txn, &err) == CA_OK)
			atomic_fetch_add(a->written, n);
	}
	if (err.code != CA_OK) {
		atomic_fetch_add(a->dropped, n);
		log_msg(LOG_LEVEL_ERROR, "http: could not write %zu audit "
		    "entries: %s", n, err.msg);
	}
	free(batch);
}

static void *
auditor_main(void *arg)
{
	struct http_auditor	*a = arg;
	struct timespec		 ts;

	pthread_mutex_lock(&a->mu);
	while (!a->stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += FLUSH_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&a->cond, &a->mu, &ts);
		pthread_mutex_unlock(&a->mu);
		flush(a, false);
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	flush(a, true);		/* what is left, repeats included */
	return NULL;
}

int
http_auditor_start(struct http_server *s, struct ca_error *err)
{
	struct http_auditor	*a;
	pthread_condattr_t	 attr;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	a->st = s->st;
	a->written = &s->metrics.audited;
	a->dropped = &s->metrics.audit_dropped;
	pthread_mutex_init(&a->mu, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&a->thread, NULL, auditor_main, a) != 0) {
		pthread_cond_destroy(&a->cond);
		pthread_mutex_destroy(&a->mu);
		free(a);
		return ca_error_set(err, CA_EIO, "cannot start the audit "
		    "thread");
	}
	s->auditor = a;
	return CA_OK;
}

void
http_auditor_stop(struct http_server *s)
{
	struct http_auditor *a = s->auditor;

	if (a == NULL)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = true;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->mu);
	free(a);
	s->auditor = NULL;
}

void
http_audit_request(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c)
{
	const struct http_route		*rt = r->route;
	const char			*who, *action;
	char				 ip[64] = "?", key[320];
	char				 detail[DETAIL_MAX];
	bool				 get = strcmp(r->method, "GET") == 0 ||
	    strcmp(r->method, "HEAD") == 0;

	if (rt == NULL || rt->auth == HTTP_AUTH_PUBLIC)
		return;
	/* 400 too: EST answers a refusal by policy with it (RFC 7030). */
	if (r->status == 400 || r->status == 401 || r->status == 403 ||
	    r->status == 409 || r->status == 422)
		action = "refuse";
	else if (rt->auth == HTTP_AUTH_ADMIN && get && r->status == 200)
		action = "read";
	else
		return;
	http_conn_peer_text(c, ip, sizeof(ip));
	who = r->who[0] != '\0' ? r->who : r->grant.who[0] != '\0' ?
	    r->grant.who : r->presented[0] != '\0' ? r->presented :
	    "anonymous";
	if (action[0] == 'r' && action[2] == 'f')	/* refuse */
		snprintf(detail, sizeof(detail), "%s %s%s%s status=%u "
		    "reason=%s peer=%s: %.300s", r->method, rt->pattern,
		    r->param[0] ? " param=" : "", r->param, r->status,
		    r->reason != NULL ? r->reason : "-", ip, r->refusal);
	else
		snprintf(detail, sizeof(detail), "%s %s%s%s peer=%s",
		    r->method, rt->pattern, r->param[0] ? " param=" : "",
		    r->param, ip);
	/* Who is not in the key: one address trying token after token is
	   one kind, counted, not a flood of entries. */
	snprintf(key, sizeof(key), "%s|%s|%s %s|%s", action, ip, r->method,
	    rt->pattern, r->reason != NULL ? r->reason : "");
	http_audit_note(s->auditor, action, key, who, ip, r->reason != NULL ?
	    r->reason : "", detail);
}
