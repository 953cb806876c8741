/*
 * Enrollment: who may have which certificate (grants and the policy), and
 * the committer that makes the certificates durable. Every front end (the
 * JSON API, EST...) comes through ca_enroll(): there is no second engine.
 *
 * Why a committer: an LMDB commit costs two fsyncs (~0.7 ms), so one commit
 * per certificate caps issuance near 1,400/s while a P-256 CA signs several
 * thousand a second. Requests sign on their own thread, outside any write
 * transaction (STYLE.md "LMDB"), then queue the record; the committer takes
 * everything pending, writes it in one transaction — token use, certificate
 * and audit entry of each request together (record.c) — commits, and only
 * then releases the answers. A request whose part of the batch fails (a
 * token used up by a racing request in the same batch, say) is taken out
 * and the batch is redone without it, so one bad request never costs the
 * others and a token use never commits without its certificate, nor the
 * reverse. A serial already taken is signed again with a new one, here.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca_int.h"
#include "common/util.h"

#define DEFAULT_BATCH_MAX	256
/*
 * How long the committer may hold a batch open for requests that are being
 * signed right now: one commit costs two fsyncs and about 0.25 ms of CPU
 * (measured, ext4 on a VM disk), so under load a batch of ten costs a tenth
 * of ten batches of one. A lone request never waits: the committer only
 * lingers while other enrollments are on their way.
 */
#define LINGER_US		1000

/* One enrollment between its signing and its answer. */
struct enroll_item {
	struct enroll_item	*next;
	/* what a serial collision signs again */
	struct ca_csr		*csr;
	struct ca_policy	*pol;		/* a reference: prof is in it */
	const struct ca_profile	*prof;
	unsigned		 days;
	int			 tries;
	char			 extra[64];	/* " renews=SERIAL" */
	struct ca_issued	 iss;
	struct ca_record_entry	 en;		/* borrows iss */
	/* the result, the committer's until completion */
	int			 rc;
	struct ca_error		 err;
	bool			 resolved;
	/* completion: call done, or wake the caller waiting in ca_enroll */
	struct ca_enrolled	*out;
	ca_enroll_done_fn	 done;
	void			*ctx;
	/* posted once, by the committer, when done is NULL (see
	   item_complete) */
	sem_t			 finished;
	bool			 sync_init;
};

/*
 * What the configuration says about enrollment, as one immutable,
 * reference-counted snapshot: a reload (SIGHUP) puts a new one in place
 * while requests decided under the old one finish with it.
 */
struct ca_policy {
	atomic_int		 refs;
	struct ca_profile	*profiles;
	size_t			 n_profiles;
	struct ca_static_token	*tokens;
	size_t			 n_tokens;
	uint8_t			(*admin_tokens)[CA_HASH_LEN];
	size_t			 n_admin_tokens;
	uint8_t			(*admin_fps)[CA_HASH_LEN];
	size_t			 n_admin_fps;
	char			**admin_subjects;
	size_t			 n_admin_subjects;
};

struct ca_enroller {
	struct ca		*ca;
	struct store		*st;
	pthread_mutex_t		 pol_mu;	/* guards pol (the pointer) */
	struct ca_policy	*pol;

	/* the committer */
	pthread_t		 thread;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cond;
	bool			 sync_init;
	bool			 running;
	struct enroll_item	*head, **tail;
	size_t			 queued;
	unsigned		 batch_max;
	bool			 stop;
	int64_t			 last_start_us;	/* of the last commit */
	atomic_int		 enrolling;	/* in ca_enroll, not completed */
	atomic_ullong		 commits;
	atomic_ullong		 committed;
};

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A refusal that names no rule of its own gets its stage's. */
static void
default_reason(struct ca_error *err, const char *reason)
{
	if (err->reason == NULL && (err->code == CA_EMALF ||
	    err->code == CA_EPOLICY || err->code == CA_ETOOBIG ||
	    err->code == CA_EFORBIDDEN))
		err->reason = reason;
}

/* ---- the policy ---- */

static void
policy_free(struct ca_policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_admin_subjects; i++)
		free(p->admin_subjects[i]);
	free(p->admin_subjects);
	free(p->profiles);
	free(p->tokens);
	free(p->admin_tokens);
	free(p->admin_fps);
	free(p);
}

static void
policy_put(struct ca_policy *p)
{
	if (p != NULL && atomic_fetch_sub(&p->refs, 1) == 1)
		policy_free(p);
}

/* The current policy, with a reference: give it back with policy_put. */
static struct ca_policy *
policy_get(const struct ca_enroller *e)
{
	struct ca_enroller	*m = (struct ca_enroller *)e;	/* the lock */
	struct ca_policy	*p;

	pthread_mutex_lock(&m->pol_mu);
	p = m->pol;
	atomic_fetch_add(&p->refs, 1);
	pthread_mutex_unlock(&m->pol_mu);
	return p;
}

static int
policy_new(const struct ca_enroller_options *opt, struct ca_policy **out,
    struct ca_error *err)
{
	struct ca_policy	*p;
	int			 rc = CA_ENOMEM;

	if (opt->n_profiles == 0 || opt->profiles == NULL)
		return ca_error_set(err, CA_EINVAL, "no certificate profile");
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	atomic_init(&p->refs, 1);
	p->profiles = calloc(opt->n_profiles, sizeof(*p->profiles));
	p->tokens = calloc(opt->n_tokens + 1, sizeof(*p->tokens));
	p->admin_tokens = calloc(opt->n_admin_token_hashes + 1,
	    sizeof(*p->admin_tokens));
	p->admin_fps = calloc(opt->n_admin_fingerprints + 1,
	    sizeof(*p->admin_fps));
	p->admin_subjects = calloc(opt->n_admin_subjects + 1,
	    sizeof(*p->admin_subjects));
	if (p->profiles == NULL || p->tokens == NULL ||
	    p->admin_tokens == NULL || p->admin_fps == NULL ||
	    p->admin_subjects == NULL)
		goto fail;
	memcpy(p->profiles, opt->profiles,
	    opt->n_profiles * sizeof(*p->profiles));
	p->n_profiles = opt->n_profiles;
	if (opt->n_tokens > 0)
		memcpy(p->tokens, opt->tokens,
		    opt->n_tokens * sizeof(*p->tokens));
	p->n_tokens = opt->n_tokens;
	if (opt->n_admin_token_hashes > 0)
		memcpy(p->admin_tokens, opt->admin_token_hashes,
		    opt->n_admin_token_hashes * sizeof(*p->admin_tokens));
	p->n_admin_tokens = opt->n_admin_token_hashes;
	if (opt->n_admin_fingerprints > 0)
		memcpy(p->admin_fps, opt->admin_fingerprints,
		    opt->n_admin_fingerprints * sizeof(*p->admin_fps));
	p->n_admin_fps = opt->n_admin_fingerprints;
	for (size_t i = 0; i < opt->n_admin_subjects; i++) {
		if ((p->admin_subjects[i] = strdup(opt->admin_subjects[i])) ==
		    NULL)
			goto fail;
		p->n_admin_subjects = i + 1;
	}
	*out = p;
	return CA_OK;
fail:
	policy_free(p);
	return ca_error_set(err, rc, "out of memory");
}

/* Profile by name (NULL or "" = the default) in p, or NULL. */
static const struct ca_profile *
policy_profile(const struct ca_policy *p, const char *name)
{
	if (name == NULL || *name == '\0')
		return &p->profiles[0];
	for (size_t i = 0; i < p->n_profiles; i++)
		if (strcmp(p->profiles[i].name, name) == 0)
			return &p->profiles[i];
	return NULL;
}

static bool
policy_admin_subject(const struct ca_policy *p, const char *subject)
{
	if (subject == NULL)
		return false;
	for (size_t i = 0; i < p->n_admin_subjects; i++)
		if (strcmp(p->admin_subjects[i], subject) == 0)
			return true;
	return false;
}

/* Every hash is looked at: the time taken says nothing. */
static bool
hash_listed(const uint8_t (*list)[CA_HASH_LEN], size_t n,
    const uint8_t hash[CA_HASH_LEN])
{
	bool ok = false;

	for (size_t i = 0; i < n; i++)
		ok |= ca_hash_eq(list[i], hash);
	return ok;
}

static void *committer_main(void *arg);

int
ca_enroller_new(struct ca *ca, struct store *st,
    const struct ca_enroller_options *opt, struct ca_enroller **out,
    struct ca_error *err)
{
	struct ca_enroller	*e;
	pthread_condattr_t	 attr;
	int			 rc;

	if (ca == NULL || st == NULL || opt == NULL || out == NULL)
		return ca_error_set(err, CA_EINVAL, "ca_enroller_new: missing "
		    "argument");
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	e->ca = ca;
	e->st = st;
	e->batch_max = opt->batch_max ? opt->batch_max : DEFAULT_BATCH_MAX;
	e->head = NULL;
	e->tail = &e->head;
	atomic_init(&e->enrolling, 0);
	atomic_init(&e->commits, 0);
	atomic_init(&e->committed, 0);
	pthread_mutex_init(&e->pol_mu, NULL);
	if ((rc = policy_new(opt, &e->pol, err)) != CA_OK)
		goto fail;
	pthread_mutex_init(&e->mu, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&e->cond, &attr);
	pthread_condattr_destroy(&attr);
	e->sync_init = true;
	if (pthread_create(&e->thread, NULL, committer_main, e) != 0) {
		rc = ca_error_set(err, CA_EIO, "cannot start the committer "
		    "thread");
		goto fail;
	}
	e->running = true;
	*out = e;
	return CA_OK;
fail:
	ca_enroller_free(e);
	return rc;
}

void
ca_enroller_free(struct ca_enroller *e)
{
	if (e == NULL)
		return;
	if (e->running) {
		pthread_mutex_lock(&e->mu);
		e->stop = true;
		pthread_cond_signal(&e->cond);
		pthread_mutex_unlock(&e->mu);
		pthread_join(e->thread, NULL);	/* drains the queue first */
	}
	if (e->sync_init) {
		pthread_cond_destroy(&e->cond);
		pthread_mutex_destroy(&e->mu);
	}
	policy_put(e->pol);
	pthread_mutex_destroy(&e->pol_mu);
	free(e);
}

int
ca_enroller_reconfigure(struct ca_enroller *e,
    const struct ca_enroller_options *opt, struct ca_error *err)
{
	struct ca_policy	*p, *old;
	int			 rc;

	if (e == NULL || opt == NULL)
		return ca_error_set(err, CA_EINVAL, "ca_enroller_reconfigure: "
		    "missing argument");
	if ((rc = policy_new(opt, &p, err)) != CA_OK)
		return rc;
	pthread_mutex_lock(&e->pol_mu);
	old = e->pol;
	e->pol = p;
	pthread_mutex_unlock(&e->pol_mu);
	policy_put(old);	/* freed once the last request under it ends */
	return CA_OK;
}

int
ca_enroller_profile_get(const struct ca_enroller *e, const char *name,
    struct ca_profile *out)
{
	struct ca_policy	*p = policy_get(e);
	const struct ca_profile	*prof = policy_profile(p, name);

	if (prof != NULL)
		*out = *prof;
	policy_put(p);
	return prof != NULL ? CA_OK : CA_ENOENT;
}

size_t
ca_enroller_profile_names(const struct ca_enroller *e,
    char (*names)[STORE_PROFILE_MAX], size_t max)
{
	struct ca_policy	*p = policy_get(e);
	size_t			 n = p->n_profiles < max ? p->n_profiles : max;

	for (size_t i = 0; i < n; i++)
		memcpy(names[i], p->profiles[i].name, STORE_PROFILE_MAX);
	policy_put(p);
	return n;
}

bool
ca_enroller_admin_subject(const struct ca_enroller *e, const char *subject)
{
	struct ca_policy	*p = policy_get(e);
	bool			 ok = policy_admin_subject(p, subject);

	policy_put(p);
	return ok;
}

bool
ca_enroller_admin_token(const struct ca_enroller *e,
    const uint8_t hash[CA_HASH_LEN])
{
	struct ca_policy	*p = policy_get(e);
	bool			 ok = hash_listed(p->admin_tokens,
	    p->n_admin_tokens, hash);

	policy_put(p);
	/* The store's admin token, read now: a rotation by another process
	   (`mtlsca admin token rotate`) counts from the next request. */
	return ok || ca_admin_token_stored(e->st, hash);
}

bool
ca_enroller_admin_cert(const struct ca_enroller *e,
    const uint8_t fingerprint[CA_HASH_LEN], const char *subject)
{
	struct ca_policy	*p = policy_get(e);
	bool			 ok = hash_listed(p->admin_fps, p->n_admin_fps,
	    fingerprint) || policy_admin_subject(p, subject);

	policy_put(p);
	return ok;
}

void
ca_enroller_stats(const struct ca_enroller *e, struct ca_enroller_stats *out)
{
	out->commits = atomic_load(&e->commits);
	out->committed = atomic_load(&e->committed);
}

/* ---- grants ---- */

int
ca_grant_token(const struct ca_enroller *e, const uint8_t hash[CA_HASH_LEN],
    struct ca_grant *out, struct ca_error *err)
{
	struct store_token	tok;
	struct ca_grant		g;
	struct ca_policy	*p = policy_get(e);
	char			hex[2 * 4 + 1];
	int			rc, which = -1;
	bool			admin;

	memset(&g, 0, sizeof(g));
	hex_format(hash, 4, hex);
	/* Every static hash is compared: timing does not tell which. */
	for (size_t i = 0; i < p->n_tokens; i++)
		if (ca_hash_eq(p->tokens[i].hash, hash))
			which = (int)i;
	if (which >= 0)
		snprintf(g.profile, sizeof(g.profile), "%s",
		    p->tokens[which].profile);
	admin = hash_listed(p->admin_tokens, p->n_admin_tokens, hash);
	policy_put(p);
	if (which < 0 && !admin)
		admin = ca_admin_token_stored(e->st, hash);
	if (which >= 0) {
		g.kind = CA_GRANT_STATIC;
		snprintf(g.who, sizeof(g.who), "static-token:%s", hex);
		*out = g;
		return CA_OK;
	}
	if (admin) {
		g.kind = CA_GRANT_ADMIN;
		snprintf(g.who, sizeof(g.who), "admin-token:%s", hex);
		*out = g;
		return CA_OK;
	}
	memset(&tok, 0, sizeof(tok));
	if ((rc = store_token_get(e->st, hash, &tok, err)) != CA_OK)
		return rc == CA_ENOENT ? ca_refuse(err, CA_EFORBIDDEN,
		    CA_REASON_TOKEN_UNKNOWN, "unknown enrollment token") : rc;
	/* Checked again, atomically, when the use is committed. */
	if (time_now() >= tok.expires_at)
		return ca_refuse(err, CA_EFORBIDDEN, CA_REASON_TOKEN_EXPIRED,
		    "enrollment token has expired");
	if (tok.uses_left == 0)
		return ca_refuse(err, CA_EFORBIDDEN, CA_REASON_TOKEN_USED,
		    "enrollment token has already been used");
	g.kind = CA_GRANT_ONE_TIME;
	snprintf(g.profile, sizeof(g.profile), "%s", tok.profile);
	snprintf(g.cn, sizeof(g.cn), "%s", tok.cn);
	g.bound = tok.cn[0] != '\0' || tok.n_sans > 0;
	g.n_sans = tok.n_sans;
	memcpy(g.sans, tok.sans, sizeof(g.sans));
	memcpy(g.token_hash, hash, CA_HASH_LEN);
	snprintf(g.who, sizeof(g.who), "token:%s", hex);
	*out = g;
	return CA_OK;
}

void
ca_grant_renewal(const struct ca_peer *peer, const struct cert_record *rec,
    struct ca_grant *out)
{
	char fp[2 * 8 + 1];

	memset(out, 0, sizeof(*out));
	out->kind = CA_GRANT_RENEWAL;
	snprintf(out->profile, sizeof(out->profile), "%s", rec->profile);
	out->peer = *peer;
	hex_format(peer->fingerprint, 8, fp);
	snprintf(out->who, sizeof(out->who), "cert:%s", fp);
}

/* ---- the policy ---- */

/*
 * A bound token grants the subjectAltNames given to `token create` and no
 * other: a token for CN=alice must not also buy payments.internal or a
 * SPIFFE admin URI. A name is compared in its canonical text form.
 */
static int
bound_sans(const struct ca_grant *g, const struct ca_csr *csr,
    struct ca_error *err)
{
	char	name[CA_NAME_MAX + 8];

	for (size_t i = 0; i < csr->n_sans; i++) {
		const struct ca_csr_san	*s = &csr->sans[i];
		bool			 ok = false;

		if (ca_san_format(s->type, s->data, s->len, name,
		    sizeof(name)) != CA_OK)
			snprintf(name, sizeof(name), "a subjectAltName of "
			    "type %u", s->type);
		else
			for (size_t k = 0; k < g->n_sans && !ok; k++)
				ok = strcmp(g->sans[k], name) == 0;
		if (!ok)
			return ca_refuse(err, CA_EFORBIDDEN,
			    CA_REASON_TOKEN_BOUND_SAN, "this token does not "
			    "grant the subjectAltName %.300s: a bound token "
			    "grants only the names given to `mtlsca token "
			    "create` (%zu subjectAltName(s) here)", name,
			    g->n_sans);
	}
	return CA_OK;
}

/* The profile grant g may have a certificate for csr under (asked: the
   request's profile, "" for none), or a refusal that names the rule. */
static int
enroll_policy(const struct ca_policy *e, const struct ca_grant *g,
    const struct ca_csr *csr, const char *asked,
    const struct ca_profile **out, struct ca_error *err)
{
	const struct ca_profile	*prof;
	const char		*name;
	int			 rc;

	if (g->kind == CA_GRANT_RENEWAL) {
		/* Same subject, same profile: renewal is not a way to a new
		   identity or a wider profile. */
		if (strcmp(ca_csr_subject(csr), g->peer.subject) != 0)
			return ca_refuse(err, CA_EPOLICY,
			    CA_REASON_RENEWAL_SUBJECT, "the CSR's subject "
			    "(%.150s) differs from the client certificate's "
			    "(%.150s): renewal keeps the subject",
			    ca_csr_subject(csr), g->peer.subject);
		if (asked[0] != '\0' && strcmp(asked, g->profile) != 0)
			return ca_refuse(err, CA_EPOLICY,
			    CA_REASON_RENEWAL_PROFILE, "renewal keeps the "
			    "profile '%s'", g->profile);
		if (g->profile[0] == '\0' ||
		    (prof = policy_profile(e, g->profile)) == NULL)
			return ca_refuse(err, CA_EPOLICY,
			    CA_REASON_RENEWAL_PROFILE, "the certificate's "
			    "profile '%s' is not one this service issues",
			    g->profile);
		*out = prof;
		return CA_OK;
	}
	if (g->profile[0] != '\0' && asked[0] != '\0' &&
	    strcmp(g->profile, asked) != 0)
		return ca_refuse(err, CA_EFORBIDDEN, CA_REASON_PROFILE_MISMATCH,
		    "this token enrolls for profile '%s', not '%s'", g->profile,
		    asked);
	name = g->profile[0] != '\0' ? g->profile : asked;
	if ((prof = policy_profile(e, name)) == NULL)
		return ca_refuse(err, CA_EPOLICY, CA_REASON_PROFILE_UNKNOWN,
		    "unknown profile '%s'", name);
	if (g->cn[0] != '\0' && strcmp(g->cn, ca_csr_cn(csr)) != 0)
		return ca_refuse(err, CA_EFORBIDDEN, CA_REASON_TOKEN_BOUND_CN,
		    "this token is bound to CN '%s' but the CSR asks for "
		    "'%.100s'", g->cn, ca_csr_cn(csr));
	if (g->bound && (rc = bound_sans(g, csr, err)) != CA_OK)
		return rc;
	*out = prof;
	return CA_OK;
}

/* ---- the committer ---- */

static void
item_free(struct enroll_item *it)
{
	if (it == NULL)
		return;
	if (it->sync_init)
		sem_destroy(&it->finished);
	ca_issued_clear(&it->iss);
	ca_csr_free(it->csr);
	policy_put(it->pol);
	free(it);
}

/* Hand the result over; the item is gone afterwards (or the waiter's). */
static void
item_complete(struct ca_enroller *e, struct enroll_item *it)
{
	struct ca_enrolled	*out = it->out;
	ca_enroll_done_fn	 done = it->done;
	void			*ctx = it->ctx;

	atomic_fetch_sub(&e->enrolling, 1);
	if (done != NULL) {
		out->rc = it->rc;
		out->err = it->err;
		if (it->rc == CA_OK) {
			out->iss = it->iss;
			memset(&it->iss, 0, sizeof(it->iss));
		}
		item_free(it);
		done(ctx, out);
		return;
	}
	/*
	 * A semaphore, not a flag under a mutex with a condition: signalled
	 * under the committer's lock, a waiter woke only to block on that
	 * lock again (a context switch and four futex calls a certificate,
	 * measured). sem_post is one atomic and one wake-up, and the waiter
	 * may destroy the semaphore as soon as sem_wait returns (POSIX; glibc
	 * touches nothing after the wake).
	 */
	sem_post(&it->finished);
}

/* An error that belongs to one request, not to the whole batch. */
static bool
item_specific(int rc)
{
	return rc == CA_EAUTH || rc == CA_EEXIST || rc == CA_EINVAL ||
	    rc == CA_EFORBIDDEN || rc == CA_EMALF || rc == CA_EPOLICY;
}

static void
batch_fail(struct enroll_item *list, int rc, const struct ca_error *err)
{
	for (struct enroll_item *it = list; it != NULL; it = it->next) {
		if (it->resolved)
			continue;
		it->resolved = true;
		it->rc = rc;
		it->err = *err;
		if (it->err.code == CA_OK)
			ca_error_set(&it->err, rc, "%s", ca_strerror(rc));
	}
}

/* The record's serial was taken (126 random bits: never in practice):
   sign again with a fresh serial (STYLE.md "LMDB"). */
static int
resign(struct ca_enroller *e, struct enroll_item *it)
{
	struct ca_record_entry	old = it->en;
	struct ca_issued	iss;
	int64_t			now = time_now();
	int			rc;

	if (++it->tries >= CA_SIGN_ATTEMPTS)
		return ca_error_set(&it->err, CA_EEXIST, "%d fresh serial "
		    "numbers in a row were already taken: the random "
		    "generator or the store is broken", CA_SIGN_ATTEMPTS);
	memset(&iss, 0, sizeof(iss));
	ca_error_clear(&it->err);
	if ((rc = ca_issue(e->ca, it->csr, it->prof, it->days, now, &iss,
	    &it->err)) != CA_OK)
		return rc;
	ca_issued_clear(&it->iss);
	it->iss = iss;
	ca_record_entry_fill(&it->en, &it->iss, now, old.who, old.action,
	    it->extra);
	it->en.use_token = old.use_token;
	memcpy(it->en.token_hash, old.token_hash, sizeof(old.token_hash));
	memcpy(it->en.renews, old.renews, sizeof(old.renews));
	it->en.renews_len = old.renews_len;
	return CA_OK;
}

static void
commit_batch(struct ca_enroller *e, struct enroll_item *list)
{
	struct enroll_item	*it, *next;
	struct store_txn	*txn;
	struct ca_error		 err;
	unsigned long long	 n;
	int			 rc;

	for (;;) {
		struct enroll_item *bad = NULL;
		int64_t now = time_now();

		n = 0;
		for (it = list; it != NULL; it = it->next)
			n += !it->resolved;
		if (n == 0)
			break;
		ca_error_clear(&err);
		txn = NULL;
		if ((rc = store_txn_begin(e->st, &txn, &err)) != CA_OK) {
			batch_fail(list, rc, &err);
			break;
		}
		for (it = list; it != NULL && bad == NULL; it = it->next) {
			if (it->resolved)
				continue;
			ca_error_clear(&it->err);
			if ((rc = ca_record_txn(txn, &it->en, now,
			    &it->err)) != CA_OK)
				bad = it;
		}
		if (bad != NULL) {
			store_txn_abort(txn);
			/* A serial taken: the same batch, a new serial. (A
			   certificate renewed already is the request's own
			   refusal.) */
			if (rc == CA_EEXIST && (bad->err.reason == NULL ||
			    strcmp(bad->err.reason, CA_REASON_RENEWED) != 0) &&
			    (rc = resign(e, bad)) == CA_OK)
				continue;
			if (!item_specific(rc)) {
				err = bad->err;
				batch_fail(list, rc, &err);
				break;
			}
			/* A token used up or expired by the time of the
			   commit (a racing request took its last use):
			   presented but refused. */
			if (rc == CA_EAUTH && bad->en.use_token)
				rc = bad->err.code = CA_EFORBIDDEN;
			bad->resolved = true;
			bad->rc = rc;
			continue;	/* redo the batch without it */
		}
		if ((rc = store_txn_commit(txn, &err)) != CA_OK) {
			batch_fail(list, rc, &err);
			break;
		}
		for (it = list; it != NULL; it = it->next)
			if (!it->resolved) {
				it->resolved = true;
				it->rc = CA_OK;
			}
		atomic_fetch_add(&e->commits, 1);
		atomic_fetch_add(&e->committed, n);
		break;
	}
	for (it = list; it != NULL; it = next) {
		next = it->next;	/* the item may be gone once completed */
		item_complete(e, it);
	}
}

static void *
committer_main(void *arg)
{
	struct ca_enroller	*e = arg;
	struct enroll_item	*list, **tail;
	size_t			 n;

	for (;;) {
		pthread_mutex_lock(&e->mu);
		while (e->head == NULL && !e->stop)
			pthread_cond_wait(&e->cond, &e->mu);
		if (e->head == NULL) {
			pthread_mutex_unlock(&e->mu);
			break;
		}
		/* Linger (see LINGER_US) while more are being signed. */
		for (;;) {
			int64_t		now = now_us();
			int64_t		until = e->last_start_us + LINGER_US;
			struct timespec	ts;

			if (e->stop || e->queued >= e->batch_max ||
			    (size_t)atomic_load(&e->enrolling) <= e->queued ||
			    now >= until)
				break;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += (long)(until - now) * 1000;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&e->cond, &e->mu, &ts);
		}
		e->last_start_us = now_us();
		/* Take up to batch_max, in arrival order. */
		list = e->head;
		tail = &list;
		for (n = 0; *tail != NULL && n < e->batch_max; n++)
			tail = &(*tail)->next;
		e->head = *tail;
		if (e->head == NULL)
			e->tail = &e->head;
		*tail = NULL;
		e->queued -= n;
		pthread_mutex_unlock(&e->mu);
		commit_batch(e, list);
	}
	return NULL;
}

static void
submit(struct ca_enroller *e, struct enroll_item *it)
{
	bool	wake;

	it->next = NULL;
	pthread_mutex_lock(&e->mu);
	/*
	 * Wake the committer only when it has something to decide: a queue
	 * that was empty (it waits for one), or a linger that this request
	 * ends (the batch is full, or every enrollment on its way is now
	 * queued). While it lingers, a wake-up for each request would only
	 * make it check the same condition and sleep again (the linger ends
	 * by its timeout anyway).
	 */
	wake = e->head == NULL;
	*e->tail = it;
	e->tail = &it->next;
	e->queued++;
	if (wake || e->queued >= e->batch_max ||
	    (size_t)atomic_load(&e->enrolling) <= e->queued)
		pthread_cond_signal(&e->cond);
	pthread_mutex_unlock(&e->mu);
}

/* ---- renewal ---- */

/* CA_EEXIST (409) when the certificate was renewed already. */
static int
renewal_unused(const struct ca_enroller *e, const struct ca_grant *g,
    struct ca_error *err)
{
	struct store_renewal	r;
	char			a[SERIAL_HEX_MAX + 2], b[SERIAL_HEX_MAX + 2];
	int			rc;

	rc = store_renewal_get(e->st, g->peer.serial, g->peer.serial_len, &r,
	    err);
	if (rc == CA_ENOENT) {
		ca_error_clear(err);
		return CA_OK;
	}
	if (rc != CA_OK)
		return rc;
	serial_format(g->peer.serial, g->peer.serial_len, a);
	serial_format(r.serial, r.serial_len, b);
	return ca_refuse(err, CA_EEXIST, CA_REASON_RENEWED, "the certificate "
	    "%s was already renewed by %s: a certificate can be renewed "
	    "once; renew %s instead", a, b, b);
}

/*
 * Renewal keeps exactly the identities of the certificate renewed: the
 * same subject as issued and the same subjectAltNames, nothing added and
 * nothing lost. A profile changed since (an attribute no longer copied)
 * would otherwise turn OU=contractors, CN=ops-admin into CN=ops-admin, and
 * a CSR could add names its holder was never given.
 */
static int
renewal_same_names(const struct ca_enroller *e, const struct ca_grant *g,
    const struct ca_issued *iss, struct ca_error *err)
{
	struct cert_record	 old;
	struct ca_identity	*was = NULL, *now = NULL;
	int			 rc;

	memset(&old, 0, sizeof(old));
	if ((rc = store_cert_get(e->st, g->peer.serial, g->peer.serial_len,
	    &old, err)) != CA_OK)
		return rc;
	if ((was = calloc(1, sizeof(*was))) == NULL ||
	    (now = calloc(1, sizeof(*now))) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = ca_identity_of(old.der, old.der_len, was, err)) != CA_OK ||
	    (rc = ca_identity_of(iss->der, iss->der_len, now, err)) != CA_OK)
		goto out;
	if (strcmp(was->subject, now->subject) != 0) {
		rc = ca_refuse(err, CA_EPOLICY, CA_REASON_RENEWAL_IDENTITY,
		    "renewal keeps the subject: the certificate renewed names "
		    "'%.150s' but profile %.32s would now issue '%.150s'; "
		    "enroll anew with a token", was->subject, iss->profile,
		    now->subject);
		goto out;
	}
	for (size_t i = 0; i < was->n_sans || i < now->n_sans; i++) {
		const char *w = i < was->n_sans ? was->sans[i] : NULL;
		const char *n = i < now->n_sans ? now->sans[i] : NULL;

		if (w != NULL && n != NULL && strcmp(w, n) == 0)
			continue;
		/* Sorted lists: the smaller one is the name only one of
		   them has. */
		if (n != NULL && (w == NULL || strcmp(n, w) < 0))
			rc = ca_refuse(err, CA_EPOLICY,
			    CA_REASON_RENEWAL_IDENTITY, "renewal keeps the "
			    "subjectAltNames of the certificate renewed: it "
			    "does not name %.200s; enroll anew with a token "
			    "that grants it", n);
		else
			rc = ca_refuse(err, CA_EPOLICY,
			    CA_REASON_RENEWAL_IDENTITY, "renewal keeps the "
			    "subjectAltNames of the certificate renewed: the "
			    "CSR leaves out %.200s", w);
		goto out;
	}
	rc = CA_OK;
out:
	free(was);
	free(now);
	cert_record_clear(&old);
	return rc;
}

/* ---- enrollment ---- */

void
ca_enrolled_clear(struct ca_enrolled *res)
{
	if (res == NULL)
		return;
	ca_issued_clear(&res->iss);
	memset(res, 0, sizeof(*res));
}

int
ca_enroll(struct ca_enroller *e, const struct ca_grant *g,
    const uint8_t *csr, size_t csr_len, const char *profile, unsigned days,
    struct ca_enrolled *out, ca_enroll_done_fn done, void *ctx,
    struct ca_error *err)
{
	struct enroll_item	*it = NULL;
	const struct ca_profile	*prof = NULL;
	bool			 renewal;
	int64_t			 now;
	int			 rc;

	if (out == NULL)
		return ca_error_set(err, CA_EINVAL, "ca_enroll: no result");
	memset(out, 0, sizeof(*out));
	if (e == NULL || g == NULL || csr == NULL) {
		rc = ca_error_set(&out->err, CA_EINVAL, "ca_enroll: missing "
		    "argument");
		goto refused;
	}
	renewal = out->renewal = g->kind == CA_GRANT_RENEWAL;
	/* Counted until its commit completes, or it is refused first: the
	   committer lingers while others are being signed. */
	atomic_fetch_add(&e->enrolling, 1);
	if ((it = calloc(1, sizeof(*it))) == NULL) {
		rc = ca_error_set(&out->err, CA_ENOMEM, "out of memory");
		goto counted;
	}
	if ((rc = ca_csr_parse(csr, csr_len, &it->csr, &out->err)) != CA_OK) {
		default_reason(&out->err, out->err.code == CA_EMALF ?
		    CA_REASON_CSR_MALFORMED : CA_REASON_CSR_POLICY);
		goto counted;
	}
	/* The policy this request is decided under, kept with it until it
	   is answered (a reload may put another in place meanwhile). */
	it->pol = policy_get(e);
	if ((rc = enroll_policy(it->pol, g, it->csr, profile != NULL ?
	    profile : "", &prof, &out->err)) != CA_OK)
		goto counted;
	/* Renewed once only: said before any signing (the commit decides
	   atomically, record.c). */
	if (renewal && (rc = renewal_unused(e, g, &out->err)) != CA_OK)
		goto counted;
	it->prof = prof;
	it->days = days;
	now = time_now();
	if ((rc = ca_issue(e->ca, it->csr, prof, days, now, &it->iss,
	    &out->err)) != CA_OK)
		goto counted;
	if (renewal && (rc = renewal_same_names(e, g, &it->iss, &out->err)) !=
	    CA_OK)
		goto counted;
	/*
	 * A certificate whose subject is a configured admin subject is an
	 * admin credential: only an admin may have one made. Checked on the
	 * subject as issued (the profile filters the CSR's), the RFC 4514
	 * text a client certificate is compared with. A renewal runs it too;
	 * only the renewal of a certificate that already is an admin
	 * credential (its subject, which renewal keeps, is one) passes.
	 */
	if (g->kind != CA_GRANT_ADMIN &&
	    !(renewal && policy_admin_subject(it->pol, g->peer.subject)) &&
	    policy_admin_subject(it->pol, it->iss.subject)) {
		rc = ca_refuse(&out->err, CA_EFORBIDDEN, CA_REASON_ADMIN_SUBJECT,
		    "the subject %.150s is an admin subject: only an admin "
		    "may enroll it", it->iss.subject);
		goto counted;
	}
	if (renewal) {
		char hex[SERIAL_HEX_MAX + 2];

		serial_format(g->peer.serial, g->peer.serial_len, hex);
		snprintf(it->extra, sizeof(it->extra), " renews=%s", hex);
	}
	ca_record_entry_fill(&it->en, &it->iss, now, g->who, renewal ?
	    "renew" : "issue", it->extra);
	if (renewal) {
		memcpy(it->en.renews, g->peer.serial, g->peer.serial_len);
		it->en.renews_len = g->peer.serial_len;
	}
	if (g->kind == CA_GRANT_ONE_TIME) {
		it->en.use_token = true;
		memcpy(it->en.token_hash, g->token_hash, CA_HASH_LEN);
	}
	it->out = out;
	it->done = done;
	it->ctx = ctx;
	if (done != NULL) {
		submit(e, it);
		return CA_OK;	/* it belongs to the committer now */
	}
	if (sem_init(&it->finished, 0, 0) != 0) {
		rc = ca_error_set(&out->err, CA_EIO, "sem_init: %s",
		    strerror(errno));
		goto counted;
	}
	it->sync_init = true;
	submit(e, it);
	while (sem_wait(&it->finished) != 0)
		;	/* EINTR: a signal handler ran; still ours to wait */
	out->rc = rc = it->rc;
	out->err = it->err;
	if (rc == CA_OK) {
		out->iss = it->iss;
		memset(&it->iss, 0, sizeof(it->iss));
	}
	item_free(it);
	if (err != NULL)
		*err = out->err;
	return rc;
counted:
	atomic_fetch_sub(&e->enrolling, 1);
refused:
	item_free(it);
	out->rc = rc;
	if (out->err.code == CA_OK)
		ca_error_set(&out->err, rc, "%s", ca_strerror(rc));
	if (err != NULL)
		*err = out->err;
	return rc;
}
