/*
 * Part of crl/'s public interface; include "crl/crl.h".
 *
 * The CRL schedule of `mtlsca serve`: one thread that keeps the CRL fresh.
 * It builds a CRL at start when the one in the public directory is missing,
 * does not verify, is older than `refresh` or predates a revocation; then
 * every `refresh`, and within `debounce` of any revocation, including one
 * made by another process on the same store (it polls the store's
 * STORE_COUNTER_REVGEN, a read transaction of microseconds).
 *
 * After each new CRL it writes crl.der and crl.pem into the public directory,
 * swaps the in-memory snapshot that crl_schedule_current() hands out, and
 * tells its listener (crl_schedule_set_listener). It never publishes: the
 * publishers (publish/) run on a thread and a lock of their own, so that a
 * revocation gets its local CRL within `debounce` even while S3 or ALB is
 * down and a publisher retries.
 */
#ifndef MTLSCA_CRL_SCHEDULE_H
#define MTLSCA_CRL_SCHEDULE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct ca;
struct store;
struct crl_result;
struct crl_schedule;
struct crl_snapshot;

struct crl_schedule_options {
	/* CRL build options (validity, keep_expired, limits); now is ignored. */
	int64_t		 validity;	/* seconds; 0 = 7 days */
	int64_t		 keep_expired;	/* as crl_options.keep_expired */
	uint64_t	 warn_entries;	/* 0 = default */
	uint64_t	 max_entries;	/* 0 = default */
	int64_t		 refresh;	/* seconds between CRLs; 0 = 1 h */
	int64_t		 debounce_ms;	/* after a revocation; 0 = 2000 */
	unsigned	 poll_ms;	/* revocation counter poll; 0 = 250 */
	const char	*public_dir;	/* crl.der/crl.pem go here; NULL = none */
	/*
	 * Held (file_lock) across the build and the files, so that runs of
	 * `mtlsca crl` on the same data directory take turns with this one;
	 * NULL = none. Publishing has a lock of its own.
	 */
	const char	*lock_path;
	/* After writing the files, rewrite <combine_root>/crls.pem
	   (crl_files_combine); NULL = do not. */
	const char	*combine_root;
};

/*
 * Told of each new CRL (snap is the new current one, borrowed for the
 * call), on the thread that built it, after the files are written and with
 * no lock held. It must return quickly (wake a thread).
 */
typedef void (*crl_schedule_listener)(void *ctx,
    const struct crl_snapshot *snap);

struct crl_schedule_status {
	bool		 have_crl;
	uint64_t	 number;
	uint64_t	 entries;
	size_t		 der_len;
	int64_t		 this_update;
	int64_t		 next_update;
	int64_t		 last_success;	/* time of the last good build, 0 = none */
	int64_t		 last_attempt;
	uint64_t	 builds;	/* successful builds since start */
	uint64_t	 failures;	/* failed builds since start */
	uint64_t	 publish_failures;	/* as told by
					   crl_schedule_note_publish() */
	bool		 pending;	/* a revocation waits for its CRL */
	char		 last_error[256];	/* "" when the last build was good */
};

/*
 * ca and st are borrowed and must outlive the schedule. *out: free with
 * crl_schedule_free().
 */
int crl_schedule_new(struct ca *ca, struct store *st,
    const struct crl_schedule_options *opt, struct crl_schedule **out,
    struct ca_error *err);

/* One listener (NULL: none); replacing it waits for a call in progress,
   so that the old one's context may be freed after. */
int crl_schedule_set_listener(struct crl_schedule *s,
    crl_schedule_listener fn, void *ctx, struct ca_error *err);

/* A publisher's run failed (what: "publisher NAME: sentence"): counted in
   publish_failures and shown as last_error by the status. */
void crl_schedule_note_publish(struct crl_schedule *s, const char *what);

/*
 * Load the CRL in the public directory, or build one when it is missing,
 * invalid or stale (synchronously, so that the service starts with a CRL),
 * then start the thread.
 */
int crl_schedule_start(struct crl_schedule *s, struct ca_error *err);

/* A revocation was just written by this process: rebuild after debounce. */
void crl_schedule_notify(struct crl_schedule *s);

/*
 * Build and write a CRL now, on the caller's thread (serialised with the
 * schedule thread); the listener hears of it. *out (may be NULL) gets the
 * status after it.
 */
int crl_schedule_run(struct crl_schedule *s, struct crl_schedule_status *out,
    struct ca_error *err);

/* The current CRL (a reference: crl_snapshot_release() it), or NULL
   before the first one. */
struct crl_snapshot *crl_schedule_current(struct crl_schedule *s);

void crl_schedule_status(struct crl_schedule *s,
    struct crl_schedule_status *out);

/* Stop the thread (waits for a build in progress) and free. NULL-safe. */
void crl_schedule_free(struct crl_schedule *s);

#endif
