/*
 * Running the publishers: one run (the gate once, then each publisher in
 * order) for `mtlsca publish`, and the thread of `serve` that keeps every
 * publisher on the current CRL, retrying a failed one with backoff until it
 * succeeds.
 *
 * A run holds the set's run_mu (one run at a time in this process) and the
 * publish lock file (one across processes: `serve` and `mtlsca publish` on
 * one data directory take turns), never the CRL lock: a revocation gets its
 * local CRL within crl.debounce however long S3 or ALB take to answer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "common/util.h"
#include "publish/publish_int.h"

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The wait after the k-th failure in a row (common/'s backoff_delay):
   exponential, and jittered so that publishers (and instances) that
   failed together do not retry together. */
static int64_t
backoff_ms(const struct publish_set *set, unsigned k)
{
	uint32_t	 rnd = 0;

	gnutls_rnd(GNUTLS_RND_NONCE, &rnd, sizeof(rnd));
	return backoff_delay(set->opt.retry_min_ms, set->opt.retry_max_ms, k,
	    rnd);
}

static bool
stopping(struct publish_set *set)
{
	bool	 stop;

	pthread_mutex_lock(&set->mu);
	stop = set->stop;
	pthread_mutex_unlock(&set->mu);
	return stop;
}

/* ---- reconcile ---- */

static int
reconcile_one(struct publisher *p, struct ca_error *err)
{
	struct publish_state	 s;
	struct ca_error		 e2;
	int			 rc, rc2;

	if (p->ops->reconcile == NULL)
		return CA_OK;
	if ((rc = publish_state_read(p->set, p, &s, err)) != CA_OK)
		return rc;
	/* Once per process, and again while an add is in doubt. */
	if (p->reconciled && s.pending_number == 0)
		return CA_OK;
	if ((rc = p->ops->reconcile(p, &s, err)) == CA_OK)
		p->reconciled = true;
	/* What was learnt is kept even when a later step failed. */
	if ((rc2 = publish_state_write(p->set, p, &s, &e2)) != CA_OK &&
	    rc == CA_OK)
		rc = ca_error_set(err, rc2, "%s", e2.msg);
	return rc;
}

/*
 * Two failures are the same when their messages differ only in numbers (a
 * timestamp or a pid in a command's output, a port, a CRL number in a
 * key): the key into p->logged, so that an outage is logged once, not
 * once per retry or per CRL.
 */
static void
failure_key(const char *msg, char *out, size_t size)
{
	size_t	 o = 0;

	for (; *msg != '\0' && o + 1 < size; msg++) {
		if (*msg >= '0' && *msg <= '9') {
			if (o == 0 || out[o - 1] != '#')
				out[o++] = '#';
			continue;
		}
		out[o++] = *msg;
	}
	out[o] = '\0';
}

/* Reconcile p, saying so when it fails with a new reason (not at every
   retry of an outage). */
static int
reconcile_logged(struct publisher *p, struct ca_error *err)
{
	char	 key[sizeof(p->logged_reconcile)];
	int	 rc;

	if ((rc = reconcile_one(p, err)) == CA_OK) {
		p->logged_reconcile[0] = '\0';
		return CA_OK;
	}
	failure_key(err->msg, key, sizeof(key));
	if (strcmp(p->logged_reconcile, key) != 0) {
		publish_log(p->set, PUBLISH_WARN, "%s: reconcile: %s",
		    p->conf.name, err->msg);
		snprintf(p->logged_reconcile, sizeof(p->logged_reconcile),
		    "%s", key);
	}
	return rc;
}

int
publish_reconcile(struct publish_set *set, struct ca_error *err)
{
	struct ca_error	 e2;
	int		 first = CA_OK, rc;

	if (set->opt.read_only)
		return ca_error_set(err, CA_EINVAL, "a read-only publisher set "
		    "does not reconcile");
	pthread_mutex_lock(&set->run_mu);
	for (size_t i = 0; i < set->n; i++) {
		if ((rc = reconcile_logged(&set->pub[i], &e2)) == CA_OK ||
		    first != CA_OK)
			continue;
		first = rc;
		ca_error_set(err, rc, "%s: %s", set->pub[i].conf.name, e2.msg);
	}
	pthread_mutex_unlock(&set->run_mu);
	return first;
}

/* ---- one run ---- */

/*
 * Does p have to wait before it may publish CRL number? An alb publisher
 * hands ALB the object its s3 publisher put for this very CRL; an exec
 * publisher (a reload) runs once every publisher listed before it has the
 * CRL, or it would reload the old files and never again. NULL when it may
 * go, else the publisher it waits for, with the reason in why.
 */
static const struct publisher *
waits_for(struct publish_set *set, const struct publisher *p,
    uint64_t number, char *why, size_t size)
{
	struct publish_state	 s;
	struct ca_error		 e2;

	if (p->s3 != NULL) {
		if (publish_state_read(set, p->s3, &s, &e2) != CA_OK) {
			snprintf(why, size, "waiting for s3 publisher '%.64s': "
			    "%.160s", p->s3->conf.name, e2.msg);
			return p->s3;
		}
		if (s.published_number == number)
			return NULL;
		snprintf(why, size, "waiting for s3 publisher '%s' to put CRL %"
		    PRIu64 " (it holds %" PRIu64 "), so the trust store keeps "
		    "its current CRL", p->s3->conf.name, number,
		    s.published_number);
		return p->s3;
	}
	if (p->conf.type != PUBLISH_EXEC)
		return NULL;
	for (const struct publisher *q = set->pub; q < p; q++) {
		if (publish_state_read(set, q, &s, &e2) == CA_OK &&
		    s.published_number >= number)
			continue;
		snprintf(why, size, "waiting for publisher '%s' (listed before "
		    "it) to publish CRL %" PRIu64 " first", q->conf.name,
		    number);
		return q;
	}
	return NULL;
}

struct run {
	bool		 by_thread;	/* serve's thread: backoff applies */
	const struct gate_verdict *v;	/* the set's, once asked */
	int		 first;		/* first failure's code */
	char		 failed[200];	/* names */
	char		 first_msg[256];
	int64_t		 next_ms;	/* earliest retry due; 0 = none */
};

static void
run_failed(struct run *r, const struct publisher *p, int rc, const char *msg)
{
	if (r->first == CA_OK) {
		r->first = rc;
		snprintf(r->first_msg, sizeof(r->first_msg), "%s", msg);
	}
	if (strlen(r->failed) + strlen(p->conf.name) + 3 < sizeof(r->failed))
		snprintf(r->failed + strlen(r->failed),
		    sizeof(r->failed) - strlen(r->failed), "%s%s",
		    r->failed[0] ? ", " : "", p->conf.name);
}

/*
 * The revocationDates the gate must keep: those after the newest
 * revocation any publisher behind this CRL has enforced (a publisher that
 * never published counts none: those revocations were not waiting for it).
 */
static int64_t
times_after(struct publish_set *set, const struct crl_snapshot *crl)
{
	struct publish_state	 s;
	int64_t			 after = INT64_MAX;

	for (size_t i = 0; i < set->n; i++)
		if (publish_state_read(set, &set->pub[i], &s, NULL) == CA_OK &&
		    s.published_number != 0 &&
		    s.published_number < crl->number &&
		    s.newest_revocation < after)
			after = s.newest_revocation;
	return after;
}

/* Count the revocations this publish enforced (those after what the
   publisher had, which the gate kept) in the histogram. */
static void
enforced(struct publish_state *s, const struct gate_verdict *v,
    int64_t prev_newest, int64_t at)
{
	static const int64_t bounds[] = PUBLISH_LATENCY_BOUNDS;

	if (s->published_number == 0)
		return;
	for (size_t i = 0; i < v->n_times; i++) {
		int64_t	 t = v->times[i], lat;
		size_t	 b = 0;

		if (t <= prev_newest)
			continue;
		lat = at > t ? at - t : 0;
		while (b < sizeof(bounds) / sizeof(bounds[0]) &&
		    lat > bounds[b])
			b++;
		s->enforced[b]++;
		s->enforced_count++;
		s->enforced_sum += (double)lat;
	}
}

static void
state_save(struct publisher *p, const struct publish_state *s)
{
	struct ca_error e3;

	if (publish_state_write(p->set, p, s, &e3) != CA_OK)
		publish_log(p->set, PUBLISH_ERR, "%s: cannot record the state: "
		    "%s", p->conf.name, e3.msg);
}

/*
 * The gate's verdict on crl: the one kept from an earlier run on the same
 * CRL (a retry), or a new one. Parsing and verifying a CRL of ALB's
 * 500,000 entries takes a third of a second: once per CRL, not once per
 * publisher or per retry. Called under run_mu.
 */
static const struct gate_verdict *
verdict(struct publish_set *set, const struct crl_snapshot *crl)
{
	int64_t	 after = times_after(set, crl);
	char	 sha[65] = "";

	/* The same bytes (a hash is a tenth of a parse and a signature
	   check); the revocationDates kept then cover what is asked now
	   when the bound is no lower. */
	if (crl->pem != NULL)
		(void)sigv4_sha256_hex(crl->pem, crl->pem_len, sha);
	if (set->gated && set->gate.number == crl->number &&
	    set->gate.pem_len == crl->pem_len && sha[0] != '\0' &&
	    strcmp(sha, set->gate_sha256) == 0 && after >= set->gate_after) {
		/* Time passes between retries: still current? */
		if (set->gate.rc == CA_OK && set->gate.next_update < time_now()) {
			set->gate.rc = CA_EPOLICY;
			snprintf(set->gate.why, sizeof(set->gate.why), "gate: the "
			    "CRL is past its nextUpdate (RFC 5280 section "
			    "5.1.2.5): publishing it would hand out a stale "
			    "list");
		}
		return &set->gate;
	}
	gate_clear(&set->gate);
	gate_run(set, crl, after, &set->gate);
	set->gate_runs++;
	set->gated = true;
	set->gate_after = after;
	memcpy(set->gate_sha256, sha, sizeof(sha));
	return &set->gate;
}

/* Publish crl through p when it is behind (one attempt). */
static void
run_one(struct publisher *p, struct crl_snapshot *crl, struct run *r)
{
	struct publish_set	*set = p->set;
	struct publish_state	 s;
	struct ca_error		 e2;
	char			 why[256];
	int64_t			 now;
	int			 rc;

	ca_error_clear(&e2);
	/* Reconcile before the books are read (once per process, and while
	 * an add is in doubt). A failure is not fatal: add/remove below
	 * still keep them, and an add in doubt stops the next one. */
	if (p->ops->reconcile != NULL)
		(void)reconcile_logged(p, &e2);
	if ((rc = publish_state_read(set, p, &s, &e2)) != CA_OK) {
		publish_log(set, PUBLISH_ERR, "%s: %s", p->conf.name, e2.msg);
		run_failed(r, p, rc, e2.msg);
		return;
	}
	if (s.published_number != 0 && crl->number == s.published_number) {
		if (!r->by_thread)
			publish_log(set, PUBLISH_INFO, "%s: CRL %" PRIu64 " is "
			    "already published", p->conf.name, crl->number);
		return;
	}
	/* serve's CRL is older than what `mtlsca publish` sent since:
	   nothing to do. Asked for by hand, it is a refusal (the gate). */
	if (r->by_thread && crl->number < s.published_number)
		return;
	if (waits_for(set, p, crl->number, why, sizeof(why)) != NULL) {
		/* Not an attempt: it runs as soon as what it waits for is
		   done, in the same run. */
		snprintf(s.last_error, sizeof(s.last_error), "%s", why);
		state_save(p, &s);
		if (!r->by_thread)
			publish_log(set, PUBLISH_ERR, "%s: CRL %" PRIu64 " not "
			    "published: %s", p->conf.name, crl->number, why);
		run_failed(r, p, CA_EIO, why);
		return;
	}
	if (r->by_thread && p->next_ms > mono_ms() &&
	    p->tried == crl->number) {
		/* Still in its backoff delay (a new CRL is tried at once:
		   it may be what the publisher needed, and a revocation
		   must not wait out a delay meant for the last one). */
		if (r->next_ms == 0 || p->next_ms < r->next_ms)
			r->next_ms = p->next_ms;
		run_failed(r, p, CA_EIO, s.last_error);
		return;
	}
	if (r->v == NULL)
		r->v = verdict(set, crl);
	p->tried = crl->number;
	now = time_now();
	s.last_attempt = now;
	if ((rc = gate_for(p, r->v, s.published_number, &e2)) == CA_OK)
		rc = p->ops->run(p, crl, &s, &e2);
	if (rc == CA_OK) {
		s.last_success = time_now();
		enforced(&s, r->v, s.newest_revocation, s.last_success);
		s.published_number = crl->number;
		s.successes++;
		s.last_error[0] = '\0';
		if (r->v->newest_revocation > s.newest_revocation) {
			s.latency = s.last_success - r->v->newest_revocation;
			s.newest_revocation = r->v->newest_revocation;
		}
		if (p->streak > 0 && p->logged[0] != '\0')
			publish_log(set, PUBLISH_INFO, "%s: published CRL %"
			    PRIu64 " (%" PRIu64 " entries) after %u failed "
			    "attempt%s", p->conf.name, crl->number,
			    crl->entries, p->streak, p->streak == 1 ? "" : "s");
		else
			publish_log(set, PUBLISH_INFO, "%s: published CRL %"
			    PRIu64 " (%" PRIu64 " entries)", p->conf.name,
			    crl->number, crl->entries);
		s.failing_since = 0;
		p->streak = 0;
		p->next_ms = 0;
		p->logged[0] = '\0';
	} else {
		char	 key[sizeof(p->logged)];
		int64_t	 delay;

		s.failures++;
		if (s.failing_since == 0)
			s.failing_since = now;
		snprintf(s.last_error, sizeof(s.last_error), "%s", e2.msg);
		p->streak++;
		delay = backoff_ms(set, p->streak);
		p->next_ms = mono_ms() + delay;
		if (r->next_ms == 0 || p->next_ms < r->next_ms)
			r->next_ms = p->next_ms;
		/* Each failure once, not once per retry. */
		failure_key(e2.msg, key, sizeof(key));
		if (!r->by_thread || strcmp(p->logged, key) != 0) {
			if (r->by_thread)
				publish_log(set, PUBLISH_ERR, "%s: CRL %" PRIu64
				    " not published: %s (trying again, every "
				    "%lld s at most, until it succeeds)",
				    p->conf.name, crl->number, e2.msg,
				    (long long)(set->opt.retry_max_ms / 1000));
			else
				publish_log(set, PUBLISH_ERR, "%s: CRL %" PRIu64
				    " not published: %s", p->conf.name,
				    crl->number, e2.msg);
			snprintf(p->logged, sizeof(p->logged), "%s", key);
		}
		if (r->by_thread && set->sched != NULL) {
			char what[256];

			snprintf(what, sizeof(what), "publisher %.40s: %.200s",
			    p->conf.name, e2.msg);
			crl_schedule_note_publish(set->sched, what);
		}
		run_failed(r, p, rc, e2.msg);
	}
	state_save(p, &s);
}

static void
say_waiting(void *arg)
{
	struct publish_set *set = arg;

	publish_log(set, PUBLISH_INFO, "waiting for another mtlsca process "
	    "(serve or publish) to finish publishing (lock %s)",
	    set->lock_path);
}

/* One run over every publisher; the outcome in *r. */
static int
run_all(struct publish_set *set, struct crl_snapshot *crl, struct run *r,
    struct ca_error *err)
{
	int	 lock = -1, rc;

	pthread_mutex_lock(&set->run_mu);
	if (set->lock_path != NULL && (rc = file_lock(set->lock_path,
	    say_waiting, set, &lock, err)) != CA_OK)
		goto out;
	for (size_t i = 0; i < set->n; i++) {
		if (r->by_thread && stopping(set))
			break;
		run_one(&set->pub[i], crl, r);
	}
	rc = r->first;
	if (rc != CA_OK)
		ca_error_set(err, rc, "publisher(s) %s failed: %s", r->failed,
		    r->first_msg);
out:
	file_unlock(lock);
	pthread_mutex_unlock(&set->run_mu);
	return rc;
}

int
publish_run(struct publish_set *set, struct crl_snapshot *crl,
    struct ca_error *err)
{
	struct run	 r;

	if (set->opt.read_only)
		return ca_error_set(err, CA_EINVAL, "a read-only publisher set "
		    "does not publish");
	memset(&r, 0, sizeof(r));
	return run_all(set, crl, &r, err);
}

/* ---- mtlsca publish --dry-run ---- */

int
publish_dry_run(struct publish_set *set, struct crl_snapshot *crl,
    char **out, size_t *len, struct ca_error *err)
{
	struct gate_verdict	 v;
	struct awsbuf		 b = { 0 };
	struct ca_error		 e2;
	int			 first = CA_OK, rc = CA_OK;

	if (set->opt.read_only)
		return ca_error_set(err, CA_EINVAL, "a read-only publisher set "
		    "does not plan");
	gate_run(set, crl, INT64_MAX, &v);
	rc = awsbuf_printf(&b, "CRL %" PRIu64 " (%" PRIu64 " entries%s%s): "
	    "%s\n", crl->number, crl->entries, set->ns[0] ? ", retiring CA "
	    "namespace " : "", set->ns,
	    v.rc == CA_OK ? "the gate passes it" : v.why);
	if (v.rc != CA_OK) {
		first = v.rc;
		ca_error_set(err, v.rc, "%s", v.why);
	}
	for (size_t i = 0; i < set->n && rc == CA_OK; i++) {
		struct publisher	*p = &set->pub[i];
		struct publish_state	 s;
		int			 prc;

		rc = awsbuf_printf(&b, "publisher %s (%s) -> %s\n",
		    p->conf.name, p->ops->name, p->dest);
		if (rc != CA_OK)
			break;
		if ((prc = publish_state_read(set, p, &s, &e2)) == CA_OK &&
		    s.published_number != 0 &&
		    s.published_number >= crl->number) {
			rc = awsbuf_printf(&b, "  has CRL %" PRIu64 " already: "
			    "nothing to do\n", s.published_number);
			continue;
		}
		if (prc == CA_OK && (prc = gate_for(p, &v, s.published_number,
		    &e2)) == CA_OK)
			prc = p->ops->plan(p, crl, &s, &b, &e2);
		if (prc == CA_OK)
			continue;
		rc = awsbuf_printf(&b, "  %s: %s\n", prc == CA_EPOLICY ?
		    "refused" : "cannot tell", e2.msg);
		if (first == CA_OK) {
			first = prc;
			ca_error_set(err, prc, "%s: %s", p->conf.name, e2.msg);
		}
	}
	gate_clear(&v);
	if (rc != CA_OK) {
		awsbuf_free(&b);
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	}
	*len = b.len;
	if ((*out = awsbuf_take(&b)) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	return first;
}

/* ---- a retired CA ---- */

int
publish_retire(struct publish_set *set, struct ca_error *err)
{
	struct publish_state	 s;
	struct ca_error		 e2;
	int			 lock = -1, first = CA_OK, rc;
	size_t			 done = 0;

	if (set == NULL || set->ns[0] == '\0')
		return ca_error_set(err, CA_EINVAL, "only a retiring CA's "
		    "publishers (a set with a CA namespace) are retired");
	if (set->opt.read_only || set->opt.dry_run)
		return ca_error_set(err, CA_EINVAL, "a read-only or dry-run "
		    "publisher set does not retire");
	/* Its thread would publish the CRL again. */
	publish_stop(set);
	pthread_mutex_lock(&set->run_mu);
	if (set->lock_path != NULL && (rc = file_lock(set->lock_path,
	    say_waiting, set, &lock, err)) != CA_OK) {
		pthread_mutex_unlock(&set->run_mu);
		return rc;
	}
	for (size_t i = 0; i < set->n; i++) {
		struct publisher *p = &set->pub[i];

		rc = publish_state_read(set, p, &s, &e2);
		if (rc == CA_OK && p->ops->retire != NULL &&
		    (rc = p->ops->retire(p, &s, &e2)) != CA_OK)
			/* What was done is kept: the next try goes on. */
			(void)publish_state_write(set, p, &s, NULL);
		if (rc == CA_OK)
			rc = publish_state_forget(set, p, &e2);
		if (rc == CA_OK) {
			done++;
			continue;
		}
		publish_log(set, PUBLISH_ERR, "%s: retiring CA %s: %s",
		    p->conf.name, set->ns, e2.msg);
		if (first == CA_OK) {
			first = rc;
			ca_error_set(err, rc, "%s: %s", p->conf.name, e2.msg);
		}
	}
	if (first == CA_OK)
		publish_log(set, PUBLISH_INFO, "CA %s retired: its CRL is taken "
		    "down from %zu publishers (S3 keeps its objects)", set->ns,
		    done);
	file_unlock(lock);
	pthread_mutex_unlock(&set->run_mu);
	return first;
}

/* ---- serve's thread ---- */

static void
on_new_crl(void *ctx, const struct crl_snapshot *snap)
{
	struct publish_set *set = ctx;

	(void)snap;
	pthread_mutex_lock(&set->mu);
	set->wake = true;
	pthread_cond_signal(&set->cond);
	pthread_mutex_unlock(&set->mu);
}

static void *
runner_main(void *arg)
{
	struct publish_set	*set = arg;
	int64_t			 next_ms = 0;

	for (;;) {
		struct crl_snapshot	*snap;
		struct ca_error		 err;
		struct run		 r;

		pthread_mutex_lock(&set->mu);
		while (!set->stop && !set->wake) {
			struct timespec until;

			if (next_ms == 0) {
				pthread_cond_wait(&set->cond, &set->mu);
				continue;
			}
			if (mono_ms() >= next_ms)
				break;
			until.tv_sec = next_ms / 1000;
			until.tv_nsec = (long)(next_ms % 1000) * 1000000L;
			if (pthread_cond_timedwait(&set->cond, &set->mu,
			    &until) == ETIMEDOUT)
				break;
		}
		if (set->stop) {
			pthread_mutex_unlock(&set->mu);
			break;
		}
		set->wake = false;
		pthread_mutex_unlock(&set->mu);

		next_ms = 0;
		if ((snap = crl_schedule_current(set->sched)) == NULL)
			continue;
		memset(&r, 0, sizeof(r));
		r.by_thread = true;
		if (run_all(set, snap, &r, &err) != CA_OK && r.first == CA_OK)
			/* The lock itself failed: try again soon. */
			r.next_ms = mono_ms() + set->opt.retry_min_ms;
		next_ms = r.next_ms;
		crl_snapshot_release(snap);
	}
	return NULL;
}

int
publish_start(struct publish_set *set, struct crl_schedule *sched,
    struct ca_error *err)
{
	int	 rc;

	if (set->opt.read_only || sched == NULL)
		return ca_error_set(err, CA_EINVAL, "publish_start needs a "
		    "schedule and a publisher set that publishes");
	if (set->running)
		return CA_OK;
	if ((rc = crl_schedule_set_listener(sched, on_new_crl, set, err)) !=
	    CA_OK)
		return rc;
	set->sched = sched;
	/* The first run at once: whatever is behind the current CRL (a
	   failure or a crash before this start) catches up. */
	set->wake = true;
	set->stop = false;
	if (pthread_create(&set->thread, NULL, runner_main, set) != 0)
		return ca_error_set(err, CA_EIO, "cannot start the publisher "
		    "thread");
	set->running = true;
	return CA_OK;
}

void
publish_stop(struct publish_set *set)
{
	if (set == NULL || !set->running)
		return;
	pthread_mutex_lock(&set->mu);
	set->stop = true;
	pthread_cond_signal(&set->cond);
	pthread_mutex_unlock(&set->mu);
	pthread_join(set->thread, NULL);
	set->running = false;
	(void)crl_schedule_set_listener(set->sched, NULL, NULL, NULL);
}
