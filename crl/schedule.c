/*
 * The CRL schedule thread (see crl/schedule.h).
 *
 * Why a poll of the revocation counter rather than a notification only:
 * `mtlsca revoke` runs in another process and shares nothing with the
 * service but the LMDB file. Reading one meta counter is a read
 * transaction of a few microseconds (an MVCC snapshot, never blocked by
 * writers), so a 250 ms poll costs nothing and bounds the delay.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca.h"
#include "common/log.h"
#include "common/util.h"
#include "crl/crl.h"
#include "store/store.h"

/* Which revocation generation the last CRL built by a schedule covers. */
#define META_SCHEDULE_REVGEN	"crl_schedule_revgen"
/* After a failed build, try again this soon (or at refresh, if sooner). */
#define RETRY_S			30

struct crl_schedule {
	struct ca		*ca;
	struct store		*st;
	struct crl_schedule_options opt;
	char			*public_dir;
	char			*lock_path;
	char			*combine_root;

	pthread_mutex_t		 listener_mu;	/* the listener and its calls */
	crl_schedule_listener	 listener;
	void			*listener_ctx;

	pthread_mutex_t		 build_mu;	/* one build at a time */

	pthread_mutex_t		 mu;		/* guards what follows */
	pthread_cond_t		 cond;
	pthread_t		 thread;
	bool			 running;
	bool			 stop;
	bool			 notified;
	struct crl_snapshot	*cur;
	struct crl_schedule_status status;
	uint64_t		 seen_revgen;	/* covered by the current CRL */
	int64_t			 next_retry;	/* after a failure, 0 = none */
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct crl_snapshot *
crl_schedule_current(struct crl_schedule *s)
{
	struct crl_snapshot *snap;

	if (s == NULL)
		return NULL;
	pthread_mutex_lock(&s->mu);
	snap = crl_snapshot_ref(s->cur);
	pthread_mutex_unlock(&s->mu);
	return snap;
}

/* Install snap as the current CRL (takes the caller's reference). */
static void
snapshot_install(struct crl_schedule *s, struct crl_snapshot *snap)
{
	struct crl_snapshot *old;

	pthread_mutex_lock(&s->mu);
	old = s->cur;
	s->cur = snap;
	s->status.have_crl = true;
	s->status.number = snap->number;
	s->status.entries = snap->entries;
	s->status.der_len = snap->der_len;
	s->status.this_update = snap->this_update;
	s->status.next_update = snap->next_update;
	pthread_mutex_unlock(&s->mu);
	crl_snapshot_release(old);
}

int
crl_schedule_new(struct ca *ca, struct store *st,
    const struct crl_schedule_options *opt, struct crl_schedule **out,
    struct ca_error *err)
{
	struct crl_schedule *s;

	if (ca == NULL || st == NULL || opt == NULL || out == NULL)
		return ca_error_set(err, CA_EINVAL, "crl_schedule_new: "
		    "missing argument");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	s->ca = ca;
	s->st = st;
	s->opt = *opt;
	if (s->opt.validity <= 0)
		s->opt.validity = 7 * 86400;
	if (s->opt.refresh <= 0)
		s->opt.refresh = 3600;
	if (s->opt.debounce_ms <= 0)
		s->opt.debounce_ms = 2000;
	if (s->opt.poll_ms == 0)
		s->opt.poll_ms = 250;
	/*
	 * A refresh at or past the validity would let relying parties hold
	 * an expired CRL; RFC 5280 §5.1.2.5 nextUpdate is a promise.
	 */
	if (s->opt.refresh * 2 > s->opt.validity) {
		long long refresh = s->opt.refresh, validity = s->opt.validity;

		free(s);
		return ca_error_set(err, CA_EINVAL, "crl refresh (%lld s) "
		    "must be at most half of the CRL validity (%lld s), so "
		    "that a new CRL is out well before the old one expires",
		    refresh, validity);
	}
	if (opt->public_dir != NULL &&
	    (s->public_dir = strdup(opt->public_dir)) == NULL) {
		free(s);
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	}
	s->opt.public_dir = s->public_dir;
	if (opt->lock_path != NULL &&
	    (s->lock_path = strdup(opt->lock_path)) == NULL) {
		free(s->public_dir);
		free(s);
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	}
	s->opt.lock_path = s->lock_path;
	if (opt->combine_root != NULL &&
	    (s->combine_root = strdup(opt->combine_root)) == NULL) {
		free(s->lock_path);
		free(s->public_dir);
		free(s);
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	}
	s->opt.combine_root = s->combine_root;
	pthread_mutex_init(&s->build_mu, NULL);
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->listener_mu, NULL);
	{
		pthread_condattr_t ca_attr;

		pthread_condattr_init(&ca_attr);
		pthread_condattr_setclock(&ca_attr, CLOCK_MONOTONIC);
		pthread_cond_init(&s->cond, &ca_attr);
		pthread_condattr_destroy(&ca_attr);
	}
	*out = s;
	return CA_OK;
}

int
crl_schedule_set_listener(struct crl_schedule *s, crl_schedule_listener fn,
    void *ctx, struct ca_error *err)
{
	if (s == NULL)
		return ca_error_set(err, CA_EINVAL, "no schedule");
	/* Under the mutex the calls hold: once this returns, the old
	   listener is neither called nor being called. */
	pthread_mutex_lock(&s->listener_mu);
	s->listener = fn;
	s->listener_ctx = ctx;
	pthread_mutex_unlock(&s->listener_mu);
	return CA_OK;
}

static void
tell(struct crl_schedule *s, const struct crl_snapshot *snap)
{
	pthread_mutex_lock(&s->listener_mu);
	if (s->listener != NULL)
		s->listener(s->listener_ctx, snap);
	pthread_mutex_unlock(&s->listener_mu);
}

void
crl_schedule_note_publish(struct crl_schedule *s, const char *what)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->status.publish_failures++;
	snprintf(s->status.last_error, sizeof(s->status.last_error), "%s",
	    what);
	pthread_mutex_unlock(&s->mu);
}

static void
meta_revgen_put(struct crl_schedule *s, uint64_t gen)
{
	uint8_t b[8];

	for (int i = 7; i >= 0; i--, gen >>= 8)
		b[i] = (uint8_t)gen;
	char	name[64];

	crl_meta_name(META_SCHEDULE_REVGEN, s->ca, name, sizeof(name));
	(void)store_meta_put(s->st, name, b, sizeof(b), NULL);
}

static bool
meta_revgen_get(struct crl_schedule *s, uint64_t *gen)
{
	uint8_t	*b = NULL;
	size_t	 len;
	bool	 ok = false;
	char	 name[64];

	crl_meta_name(META_SCHEDULE_REVGEN, s->ca, name, sizeof(name));
	if (store_meta_get(s->st, name, &b, &len, NULL) ==
	    CA_OK && len == 8) {
		*gen = 0;
		for (size_t i = 0; i < 8; i++)
			*gen = (*gen << 8) | b[i];
		ok = true;
	}
	free(b);
	return ok;
}

static void
say_waiting(void *arg)
{
	log_msg(LOG_LEVEL_NOTICE, "crl: waiting for another mtlsca process "
	    "to finish its CRL run (lock %s)", (const char *)arg);
}

/*
 * Build, write, swap, tell the listener. Serialised by build_mu in this
 * process and by the lock file across processes: CRL numbers are taken and
 * files written in one order, so no run overwrites a newer CRL with an
 * older one. The revocation generation is read before the build: a
 * revocation that lands during the build bumps it again and causes one
 * more CRL, never a missed one.
 */
static int
build_once(struct crl_schedule *s, struct ca_error *err)
{
	struct crl_options	 o;
	struct crl_result	 r;
	struct crl_snapshot	*snap = NULL;
	uint64_t		 gen = 0;
	int64_t			 now = time_now();
	int			 rc, lock = -1;

	memset(&r, 0, sizeof(r));
	pthread_mutex_lock(&s->build_mu);
	if (s->lock_path != NULL && (rc = file_lock(s->lock_path, say_waiting,
	    s->lock_path, &lock, err)) != CA_OK)
		goto out;
	now = time_now();	/* after any wait for the lock */
	if ((rc = store_counter_get(s->st, STORE_COUNTER_REVGEN, &gen, err)) !=
	    CA_OK)
		goto out;
	crl_options_default(&o);
	o.now = now;
	o.validity = s->opt.validity;
	o.keep_expired = s->opt.keep_expired;
	if (s->opt.warn_entries)
		o.warn_entries = s->opt.warn_entries;
	if (s->opt.max_entries)
		o.max_entries = s->opt.max_entries;
	/* The files are written while the CRL is verified. */
	o.write_dir = s->public_dir;
	if ((rc = crl_build(s->ca, s->st, &o, &r, err)) != CA_OK)
		goto out;
	if (r.warned)
		log_msg(LOG_LEVEL_WARNING, "crl: %s", r.warning);
	/* crls.pem, then the record: combining may take crl.pem's identity
	   anew (when it is the root's). */
	if (s->combine_root != NULL && (rc = crl_files_combine(s->combine_root,
	    s->public_dir != NULL && strcmp(s->public_dir, s->combine_root) ==
	    0 ? &r : NULL, err)) != CA_OK)
		goto out;
	if (s->public_dir != NULL &&
	    (rc = crl_files_record(s->st, s->ca, &r, err)) != CA_OK)
		goto out;
	/* Before the snapshot takes r over. */
	{
		char			num[24], nu[21];
		struct log_field	f[] = { { "crl_number", num } };

		snprintf(num, sizeof(num), "%llu", (unsigned long long)r.number);
		time_format(r.next_update, nu);
		log_event(LOG_LEVEL_INFO, "crl", LOG_FIELDS(f), "crl: CRL %s: "
		    "%llu entries, next update %s", num,
		    (unsigned long long)r.entries, nu);
	}
	if ((rc = crl_snapshot_new(&r, &snap)) != CA_OK) {
		ca_error_set(err, rc, "out of memory");
		goto out;
	}
	snapshot_install(s, crl_snapshot_ref(snap));
	meta_revgen_put(s, gen);
	pthread_mutex_lock(&s->mu);
	s->seen_revgen = gen;
	s->status.last_success = now;
	s->status.builds++;
	s->status.last_error[0] = '\0';
	s->next_retry = 0;
	pthread_mutex_unlock(&s->mu);
out:
	pthread_mutex_lock(&s->mu);
	s->status.last_attempt = now;
	if (rc != CA_OK) {
		s->status.failures++;
		snprintf(s->status.last_error, sizeof(s->status.last_error),
		    "%s", err ? err->msg : ca_strerror(rc));
		s->next_retry = now + (s->opt.refresh < RETRY_S ?
		    s->opt.refresh : RETRY_S);
	}
	pthread_mutex_unlock(&s->mu);
	file_unlock(lock);
	pthread_mutex_unlock(&s->build_mu);
	if (rc == CA_OK)
		tell(s, snap);
	crl_snapshot_release(snap);
	crl_result_clear(&r);
	return rc;
}

/*
 * At start: adopt the CRL already in the public directory when it verifies
 * against this CA, covers the current revocation generation and is younger
 * than refresh. Returns true when adopted.
 */
static bool
load_existing(struct crl_schedule *s)
{
	struct crl_check_report	 rep;
	struct crl_snapshot	*snap = NULL;
	char			 path[4096];
	uint64_t		 gen = 0, done = 0;
	int64_t			 now = time_now();
	bool			 ok = false, trusted = false;

	if (s->public_dir == NULL ||
	    path_join(path, sizeof(path), s->public_dir, "crl.pem") != CA_OK)
		goto out;
	/* Files this data directory wrote and recorded (trust.c) are taken
	   by their identity or hashes; any other CRL is read and verified. */
	if ((snap = crl_snapshot_recorded(s->st, s->ca, s->public_dir)) !=
	    NULL) {
		memset(&rep, 0, sizeof(rep));
		rep.number = snap->number;
		rep.entries = snap->entries;
		rep.this_update = snap->this_update;
		rep.next_update = snap->next_update;
		trusted = true;
		goto adopt;
	}
	if (crl_snapshot_load(path, &snap, NULL) != CA_OK)
		goto out;
	memset(&rep, 0, sizeof(rep));
	if (crl_check_any((const uint8_t *)snap->pem, snap->pem_len, s->ca,
	    &rep, NULL) != CA_OK || !rep.signature_ok || !rep.has_number)
		goto out;
adopt:
	if (store_counter_get(s->st, STORE_COUNTER_REVGEN, &gen, NULL) !=
	    CA_OK || !meta_revgen_get(s, &done) || done != gen)
		goto out;
	if (now - rep.this_update >= s->opt.refresh || now >= rep.next_update)
		goto out;
	/* Verified in full: recorded, so that the next start need not. */
	if (!trusted)
		crl_snapshot_record(s->st, s->ca, snap);
	snapshot_install(s, crl_snapshot_ref(snap));
	pthread_mutex_lock(&s->mu);
	s->seen_revgen = gen;
	s->status.last_success = rep.this_update;
	pthread_mutex_unlock(&s->mu);
	tell(s, snap);
	ok = true;
out:
	crl_snapshot_release(snap);
	return ok;
}

/* Is a build due now? Called with s->mu held. */
static bool
due_locked(struct crl_schedule *s, int64_t now, int64_t now_ms,
    int64_t *pending_since_ms, uint64_t gen)
{
	if (gen != s->seen_revgen || s->notified) {
		if (*pending_since_ms == 0)
			*pending_since_ms = now_ms;
		s->notified = false;
		s->status.pending = true;
	}
	if (s->next_retry != 0)
		return now >= s->next_retry;
	if (*pending_since_ms != 0 &&
	    now_ms - *pending_since_ms >= s->opt.debounce_ms)
		return true;
	if (!s->status.have_crl)
		return true;
	return now - s->status.this_update >= s->opt.refresh;
}

static void *
schedule_main(void *arg)
{
	struct crl_schedule	*s = arg;
	struct ca_error		 err;
	struct timespec		 until;
	int64_t			 pending_since = 0, now_ms;
	uint64_t		 gen;
	bool			 due;

	for (;;) {
		gen = 0;
		if (store_counter_get(s->st, STORE_COUNTER_REVGEN, &gen,
		    NULL) != CA_OK)
			gen = s->seen_revgen;
		now_ms = mono_ms();
		pthread_mutex_lock(&s->mu);
		if (s->stop) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		due = due_locked(s, time_now(), now_ms, &pending_since, gen);
		pthread_mutex_unlock(&s->mu);
		if (due) {
			ca_error_clear(&err);
			if (build_once(s, &err) != CA_OK)
				log_msg(LOG_LEVEL_ERROR, "crl: building the "
				    "CRL failed: %s", err.msg);
			else
				pending_since = 0;
			pthread_mutex_lock(&s->mu);
			s->status.pending = pending_since != 0;
			pthread_mutex_unlock(&s->mu);
			continue;
		}
		/* Sleep one poll period (or until woken by notify/stop). */
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += (long)s->opt.poll_ms * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&s->mu);
		while (!s->stop && !s->notified) {
			if (pthread_cond_timedwait(&s->cond, &s->mu, &until) ==
			    ETIMEDOUT)
				break;
		}
		pthread_mutex_unlock(&s->mu);
	}
	return NULL;
}

int
crl_schedule_start(struct crl_schedule *s, struct ca_error *err)
{
	int rc;

	if (s == NULL)
		return ca_error_set(err, CA_EINVAL, "no schedule");
	if (s->running)
		return CA_OK;
	if (!load_existing(s) && (rc = build_once(s, err)) != CA_OK)
		return rc;
	s->stop = false;
	if (pthread_create(&s->thread, NULL, schedule_main, s) != 0)
		return ca_error_set(err, CA_EIO, "cannot start the CRL "
		    "schedule thread");
	s->running = true;
	return CA_OK;
}

void
crl_schedule_notify(struct crl_schedule *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->notified = true;
	s->status.pending = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

int
crl_schedule_run(struct crl_schedule *s, struct crl_schedule_status *out,
    struct ca_error *err)
{
	int rc;

	if (s == NULL)
		return ca_error_set(err, CA_EINVAL, "no schedule");
	if ((rc = build_once(s, err)) != CA_OK)
		return rc;
	if (out != NULL)
		crl_schedule_status(s, out);
	return CA_OK;
}

void
crl_schedule_status(struct crl_schedule *s, struct crl_schedule_status *out)
{
	if (s == NULL || out == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	*out = s->status;
	pthread_mutex_unlock(&s->mu);
}

void
crl_schedule_free(struct crl_schedule *s)
{
	if (s == NULL)
		return;
	if (s->running) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_cond_signal(&s->cond);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
		s->running = false;
	}
	crl_snapshot_release(s->cur);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->build_mu);
	pthread_mutex_destroy(&s->listener_mu);
	free(s->public_dir);
	free(s->lock_path);
	free(s->combine_root);
	free(s);
}
