/*
 * publish/ — where each new CRL goes after it is built (by `serve`) or when
 * `mtlsca publish` is run once. One ops table per publisher type
 * (registry.c):
 *   dir  copy crl.pem, crl.der and ca.pem into a directory, atomically,
 *        then crls.pem: every live CA's CRL (after a rotation) in one.
 *   s3   PUT the PEM CRL under a new key per CRL, PREFIX/crl/<number>.pem,
 *        plus PREFIX/crl/latest.pem, PREFIX/crl/latest.der, and the CA
 *        bundle PREFIX/ca.pem when it changed.
 *   alb  ALB copies a CRL only when AddTrustStoreRevocations is called, so a
 *        refresh is: (the s3 publisher's PUT) -> Add with the new key ->
 *        record the new RevocationId -> Remove the ids this CA added before.
 *        On TooManyTrustStoreRevocationEntries: remove first, then add (a
 *        logged gap). At start, Describe reconciles the recorded ids with
 *        the trust store. The CA bundle is merged, never replaced: what
 *        the trust store holds (GetTrustStoreCaCertificatesBundle) + this
 *        CA + extra_ca_files - remove_ca_fingerprints, and ModifyTrustStore
 *        only when that set differs, with the bundle put in S3 under a key
 *        named by its content's SHA-256.
 *   exec run a command (nginx -s reload...) once the publishers listed
 *        before it have this CRL: no shell, a clean environment, its exit
 *        status is its result, a timeout kills it.
 *
 * Before anything is uploaded, the gate (gate.c) parses the CRL once and
 * checks it as ALB would (crl_check_with) against this CA, once per CRL;
 * each publisher then only checks that the number is above the last one it
 * published and, when ALB reads what it publishes, ALB's quotas. A CRL
 * that fails is not published; the last good one stays; the reason is
 * logged and recorded.
 *
 * Each publisher's state (last success, last error, CRL number published,
 * RevocationIds, entries ALB reported, revoke-to-enforced latencies) lives
 * in the store, keyed by destination (state.c), so `mtlsca status` and
 * /metrics in another process see it, and a publisher pointed elsewhere
 * publishes there at once. `serve` runs the publishers on a thread of
 * their own (runner.c): at start, after each CRL, and after a failure
 * with backoff until it succeeds.
 *
 * publish/ talks to AWS only through aws/, and reads CRLs only through
 * crl/'s public interface.
 */
#ifndef MTLSCA_PUBLISH_PUBLISH_H
#define MTLSCA_PUBLISH_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct ca;
struct store;
struct crl_schedule;
struct crl_snapshot;
struct publish_set;

enum publish_type {
	PUBLISH_DIR,
	PUBLISH_S3,
	PUBLISH_ALB,
	PUBLISH_EXEC,
};

#define PUBLISH_NAME_MAX	64
/* ALB allows 30 revocation lists per trust store. */
#define PUBLISH_IDS_MAX		30
/* Lists of a trust store remembered around an add in doubt (30 unless the
   quota was raised). */
#define PUBLISH_KNOWN_MAX	64
/* alb: extra CA files, and CA certificates to remove. */
#define PUBLISH_EXTRA_MAX	8
#define PUBLISH_REMOVE_MAX	25
/* exec: words of a command, and the length of each. */
#define PUBLISH_ARGV_MAX	16
#define PUBLISH_ARG_LEN		512

/* One publisher, as cmd/ converts it from the configuration. */
struct publish_conf {
	enum publish_type	 type;
	char	name[PUBLISH_NAME_MAX];
	/* dir */
	char	path[1024];
	/* s3 */
	char	bucket[256];
	char	prefix[256];		/* no leading or trailing '/' needed */
	/* s3 and alb */
	char	region[64];
	char	endpoint[512];		/* "" = AWS's endpoint for the region */
	char	imds_endpoint[512];	/* "" = http://169.254.169.254 */
	/* alb */
	char	trust_store_arn[512];
	char	s3_publisher[PUBLISH_NAME_MAX];
	char	extra_ca_files[PUBLISH_EXTRA_MAX][1024];	/* PEM */
	size_t	n_extra_ca_files;
	char	remove_ca_fingerprints[PUBLISH_REMOVE_MAX][65];	/* SHA-256,
							   lower hex */
	size_t	n_remove_ca_fingerprints;
	/* exec: argv, argv[0] an absolute path; timeout in seconds (0 = 30) */
	char	argv[PUBLISH_ARGV_MAX][PUBLISH_ARG_LEN];
	size_t	argc;
	int64_t	timeout;
};

/* Log levels of the callback. */
enum publish_log { PUBLISH_INFO, PUBLISH_WARN, PUBLISH_ERR };

struct publish_options {
	uint64_t	 max_entries;	/* ALB quota per trust store; 0 = 500000 */
	unsigned	 max_attempts;	/* per AWS request; 0 = 4 */
	unsigned	 base_delay_ms;	/* backoff base; 0 = 200 */
	long		 timeout_s;	/* per AWS request attempt; 0 = 30 */
	/*
	 * A failed publisher tries again after a delay that doubles from
	 * retry_min_ms to retry_max_ms (each drawn in [d/2, d], so that
	 * publishers and instances do not retry in step); 0 = 5 s and 5 min.
	 */
	int64_t		 retry_min_ms;
	int64_t		 retry_max_ms;
	/* publish_health: failing, or a CRL not enforced, for longer than
	   this (seconds) is unhealthy; 0 = 15 min. */
	int64_t		 max_lag;
	/*
	 * Held (file_lock) across each run of the publishers, so that `serve`
	 * and `mtlsca publish` on one data directory take turns; NULL = none.
	 * Not the CRL lock: building a CRL never waits for a publisher.
	 */
	const char	*lock_path;
	/* Only to read the state (`mtlsca status`): ca may be NULL, nothing
	   is sent, written or run. */
	bool		 read_only;
	/* For publish_dry_run(): read-only calls, nothing written (not even
	   an earlier version's state carried over). */
	bool		 dry_run;
	/* Log lines (never with a secret in them); NULL = stderr. */
	void		(*log)(void *ctx, enum publish_log level,
			    const char *msg);
	void		*log_ctx;
	/*
	 * Whose CRL this set publishes, after `mtlsca ca rotate` (one set per
	 * live CA). NULL or "" = the active CA: every name as it always was.
	 * Otherwise a retiring CA's namespace, PUBLISH_NS_MAX characters at
	 * most of [a-z0-9-] ("ca-2"; "crl", "backup" and "ca-bundles" are
	 * taken), and then:
	 *   state  each destination's text ends in "#<ns>": its own state
	 *          (published number, RevocationIds);
	 *   dir    <path>/<ns>/crl.pem and crl.der, no ca.pem;
	 *   s3     PREFIX<ns>/crl/<n>.pem, crl/latest.pem, crl/latest.der,
	 *          no PREFIX/ca.pem (the active set's); backups unchanged;
	 *   alb    its own revocation list (from its s3 publisher's key in
	 *          this namespace); the bundle merged as always, so it keeps
	 *          both CAs;
	 *   exec   MTLSCA_CA_NS=<ns> in the command's environment.
	 * Every dir publisher, active or not, then rewrites <path>/crls.pem:
	 * crl.pem and each <path>/<ns>/crl.pem, for ssl_crl.
	 */
	const char	*ca_ns;
	/*
	 * The CA bundle this set publishes (dir's ca.pem, s3's PREFIX/ca.pem,
	 * merged into an ALB trust store's): PEM certificates, this CA's
	 * among them (CA_EINVAL otherwise), copied. NULL or "" = this CA's
	 * certificate alone. After a rotation the active CA's set is given
	 * every live CA's, so that relying parties that read ca.pem keep
	 * accepting the retiring CA's clients.
	 */
	const char	*bundle_pem;
};

/* Longest namespace of publish_options.ca_ns. */
#define PUBLISH_NS_MAX	32

/*
 * Check the list (names unique, alb's s3_publisher names an s3 publisher
 * listed before it, required fields present) and prepare the publishers. ca
 * (NULL with read_only) and st are borrowed and must outlive *out.
 * CA_EINVAL with a sentence naming the publisher.
 */
int publish_set_new(struct ca *ca, struct store *st,
    const struct publish_conf *conf, size_t n,
    const struct publish_options *opt, struct publish_set **out,
    struct ca_error *err);
/* Stops the thread of publish_start() first. NULL-safe. */
void publish_set_free(struct publish_set *set);

/*
 * A retiring CA's last certificate has expired: take its CRL down from
 * every destination of its (namespaced) set. alb: every RevocationId it
 * recorded (and any list of its own the trust store holds unrecorded) is
 * removed, a list already gone is fine; dir: <path>/<ns>/crl.pem, crl.der
 * and the directory go, and crls.pem is rewritten without them; s3: its
 * objects stay (the history of what was published). Each publisher's state
 * is forgotten. Takes the set's run lock (and lock file). CA_EINVAL for
 * the active CA's set (no ca_ns) or a read-only or dry-run set. Idempotent:
 * running it again does nothing more; on a failure the state of the
 * publishers not done stays, for the next try.
 */
int publish_retire(struct publish_set *set, struct ca_error *err);

/*
 * At `mtlsca ca rotate`: for each publisher of conf, the state recorded for
 * its destination under from_ns moves to its destination under to_ns (NULL
 * or "" = the active CA's names), each in one store transaction, so the
 * old CA's published number and RevocationIds follow it into its
 * namespace and the new active CA starts afresh under the plain names.
 * No network, no CA. A state that is not there is skipped (so running it
 * again does nothing); one already at to_ns is replaced. CA_EINVAL for a
 * bad namespace or conf, or from_ns equal to to_ns.
 */
int publish_state_move(struct store *st, const struct publish_conf *conf,
    size_t n, const char *from_ns, const char *to_ns, struct ca_error *err);

/*
 * Reconcile every alb publisher's recorded RevocationIds with what
 * DescribeTrustStoreRevocations reports (ids gone from the trust store are
 * forgotten, stale ones this CA added are removed). Done once at start;
 * publish_run() calls it on first use.
 */
int publish_reconcile(struct publish_set *set, struct ca_error *err);

/*
 * Publish crl through every publisher in order, now (`mtlsca publish`).
 * All are tried; CA_OK only when every one succeeded (or already had this
 * CRL), else the first error, with err naming the publishers that failed.
 * An alb publisher waits for its s3 publisher to have put this CRL.
 */
int publish_run(struct publish_set *set, struct crl_snapshot *crl,
    struct ca_error *err);

/*
 * `mtlsca publish --dry-run`: per publisher, what publish_run would do
 * with crl — the gate's verdict; files and keys written; for alb the CA
 * bundle's certificates kept, added and removed (subject and SHA-256) and
 * the revocation lists added and removed with their entry counts; the
 * command an exec publisher would run — using read-only calls only
 * (DescribeTrustStoreRevocations, GetTrustStoreCaCertificatesBundle and a
 * GET of its Location). Nothing is put, added, removed, modified, run or
 * written. *out owns the text (*len bytes). CA_OK when every publisher's
 * plan is known and the gate passes it, else the first error (the text
 * still says what is known).
 */
int publish_dry_run(struct publish_set *set, struct crl_snapshot *crl,
    char **out, size_t *len, struct ca_error *err);

/*
 * For `serve`: a thread that publishes the schedule's current CRL through
 * every publisher behind it — at once when it starts (a restart republishes
 * what a failure or a crash left behind), after each new CRL (the
 * schedule's listener, set here: call before crl_schedule_start()), and,
 * for a publisher that failed, again after its backoff delay until it
 * succeeds, with no new revocation needed. Each failure is logged once,
 * and its recovery. publish_set_free() stops it.
 */
int publish_start(struct publish_set *set, struct crl_schedule *sched,
    struct ca_error *err);
/* Stop that thread (waits for the publisher it runs, if any); NULL-safe.
   Before crl_schedule_free(): the thread reads the schedule's CRL. */
void publish_stop(struct publish_set *set);

/*
 * Recovery after a restore (cmd/'s backup and serve's start): every s3
 * publisher's PREFIX/crl/latest.der, in order, to cb (source names the
 * publisher and the object; the bytes are borrowed for the call). One that
 * has published nothing yet (404) is skipped; another failure, or cb's,
 * stops and is returned. The set must not be read_only (dry_run is fine).
 */
typedef int (*publish_crl_cb)(void *ctx, const char *source,
    const uint8_t *der, size_t len, struct ca_error *err);
int publish_latest_crls(struct publish_set *set, publish_crl_cb cb,
    void *ctx, struct ca_error *err);

/*
 * The backup schedule (cmd/): put buf as PREFIX/backup/<file_name> of the
 * s3 publisher name's bucket (*key_out, may be NULL: "s3://bucket/key"),
 * and delete one put before (its retention). file_name has no '/'.
 */
int publish_s3_backup_put(struct publish_set *set, const char *name,
    const char *file_name, const void *buf, size_t len, char *key_out,
    size_t key_size, struct ca_error *err);
int publish_s3_backup_delete(struct publish_set *set, const char *name,
    const char *file_name, struct ca_error *err);

/* ---- state, shared through the store ---- */

/* Bucket bounds (seconds) of the revoke-to-enforced histogram. */
#define PUBLISH_LATENCY_BOUNDS \
	{ 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 21600, 86400 }
#define PUBLISH_LATENCY_BUCKETS	14	/* the bounds, and +Inf */

struct publish_state {
	char		 name[PUBLISH_NAME_MAX];
	char		 type[8];		/* "dir", "s3", "alb" */
	int64_t		 last_attempt;		/* 0 = never */
	int64_t		 last_success;		/* 0 = never */
	uint64_t	 published_number;	/* CRL number; 0 = none */
	uint64_t	 successes, failures;
	char		 last_error[256];	/* "" after a success */
	char		 object_key[512];	/* s3: key of the last CRL */
	char		 bundle_sha256[65];	/* CA bundle last sent */
	/* alb: ids this CA added, oldest first; the last is current. */
	uint64_t	 revocation_ids[PUBLISH_IDS_MAX];
	size_t		 n_ids;
	uint64_t	 alb_entries;		/* NumberOfRevokedEntries */
	int64_t		 newest_revocation;	/* newest revocationDate seen */
	int64_t		 latency;		/* revoke-to-published, s; -1 */
	/* When the failures in a row began (0 when the last attempt
	   succeeded, or none was made). */
	int64_t		 failing_since;
	/*
	 * Revoke-to-enforced latency: for each revocation a publish brought
	 * to this destination, the time from its revocationDate to the end
	 * of that publish, counted in buckets (upper bounds
	 * PUBLISH_LATENCY_BOUNDS seconds, the last one +Inf). The first
	 * publish to a destination counts nothing (those revocations were
	 * not waiting for it).
	 */
	uint64_t	 enforced[PUBLISH_LATENCY_BUCKETS];
	uint64_t	 enforced_count;
	double		 enforced_sum;		/* seconds */
	/*
	 * alb: an AddTrustStoreRevocations in doubt — sent, but its answer
	 * never came back (a timeout, a 5xx, a crash of this process). ALB
	 * may have added the list or not; the next look at the trust store
	 * settles it (alb.c). The CRL number and entry count sent, when, and
	 * the ids the trust store held just before: a list that is not among
	 * them and has that many entries is the add's.
	 * pending_number 0 = nothing in doubt.
	 */
	uint64_t	 pending_number;
	uint64_t	 pending_entries;
	int64_t		 pending_since;
	uint64_t	 pending_known[PUBLISH_KNOWN_MAX];
	size_t		 n_pending_known;
};

/* The state of the set's publisher called name; a never-run publisher
 * reads as zeros (CA_OK) with latency -1. CA_ENOENT: no such publisher. */
int publish_state_get(struct publish_set *set, const char *name,
    struct publish_state *out, struct ca_error *err);

/*
 * Prometheus text lines for the set's publishers (from the store, so any
 * process can render them, and thread-safe with a run in progress):
 * mtlsca_publisher_{up, last_success_timestamp_seconds,
 * last_attempt_timestamp_seconds, crl_number, failures_total,
 * failing_since_timestamp_seconds, alb_revocation_id, alb_revoked_entries,
 * latency_seconds} and the histogram
 * mtlsca_publisher_revoke_to_enforced_seconds, with HELP/TYPE, labelled
 * publisher and type. *out owns a NUL-terminated malloc'd buffer of *len
 * bytes.
 */
int publish_metrics(struct publish_set *set, char **out, size_t *len,
    struct ca_error *err);

/*
 * Is publishing healthy? Not when a publisher has failed without a break
 * for longer than max_lag ("publisher_failing"), nor when the schedule's
 * current CRL (publish_start) has waited longer than max_lag, counted from
 * its thisUpdate, for a publisher to publish it ("crl_not_enforced"): its
 * newest revocations are not enforced there. For /healthz; thread-safe
 * with a run in progress. CA_OK with *out filled, or an error reading the
 * store.
 */
struct publish_health {
	bool	 ok;
	char	 reason[32];		/* "" when ok */
	char	 publisher[PUBLISH_NAME_MAX];
	char	 message[512];
};
int publish_health(struct publish_set *set, struct publish_health *out,
    struct ca_error *err);

/* Human-readable status, one block per publisher (`mtlsca status`). */
int publish_status_text(struct publish_set *set, char **out, size_t *len,
    struct ca_error *err);
/*
 * The same as a JSON array (compact), one object per publisher: name,
 * type, status ("ok", "failing", "never run"), last_success, last_attempt,
 * failing_since (RFC 3339 or null), crl_number, successes, failures,
 * last_error (or null), revoke_to_published_seconds (or null),
 * revocation_id (ALB's current one, or null). *out: free().
 */
int publish_status_json(struct publish_set *set, char **out,
    struct ca_error *err);

#endif
