/*
 * publish/ private: the set, one publisher, the ops table each type
 * implements, the gate's verdict and the state helpers. Nothing outside
 * publish/ includes this header (its unit tests do).
 */
#ifndef MTLSCA_PUBLISH_PUBLISH_INT_H
#define MTLSCA_PUBLISH_PUBLISH_INT_H

#include <pthread.h>

#include "aws/aws.h"
#include "crl/crl.h"
#include "publish/publish.h"

/* ---- bundle.c: CA bundles as ALB reads them ---- */

#define BUNDLE_ALB_MAX_CERTS		25
#define BUNDLE_ALB_MAX_CERT_BYTES	(16 * 1024)

struct bundle_cert {
	uint8_t		*der;		/* owned */
	size_t		 der_len;
	char		 sha256[65];	/* of the DER, lower-case hex */
	char		 subject[256];	/* RFC 4514 */
};
struct bundle {
	struct bundle_cert	*c;
	size_t			 n;
};
void bundle_free(struct bundle *b);
/* Add the PEM certificates of pem (what names it in errors); those the
   bundle has already are skipped. "" adds none. CA_EMALF. */
int bundle_add_pem(struct bundle *b, const char *pem, size_t len,
    const char *what, struct ca_error *err);
/* Append from's certificates to to, but those whose SHA-256 is in drop. */
int bundle_copy_without(struct bundle *to, const struct bundle *from,
    const char (*drop)[65], size_t n_drop, struct ca_error *err);
bool bundle_has(const struct bundle *b, const char *sha256);
bool bundle_same_set(const struct bundle *a, const struct bundle *b);
/* The bundle as ALB takes it: PEM blocks only, no blank line. *out owns a
   NUL-terminated string of *len bytes. */
int bundle_pem(const struct bundle *b, char **out, size_t *len,
    struct ca_error *err);
/* ALB's limits: 1 to 25 certificates, each at most 16 KB of PEM. */
int bundle_check_alb(const struct bundle *b, struct ca_error *err);
/* A SHA-256 of the set (the sorted fingerprints), whatever the order. */
int bundle_set_sha256(const struct bundle *b, char out[65]);

struct publisher;

/*
 * What a publisher type does (registry.c holds one per type). run is
 * called only with a CRL the gate passed, whose number is above what this
 * publisher published; it may update *s (its own fields) and returns CA_OK
 * or an error with a sentence in err.
 */
struct publish_ops {
	const char	*name;		/* "dir", "s3", "alb" */
	/* Required fields of conf[i] (the others are listed for order
	   rules); CA_EINVAL with a sentence. */
	int		(*check)(const struct publish_conf *conf, size_t i,
			    struct ca_error *err);
	/* Prepare p (AWS client, links to other publishers). */
	int		(*open)(struct publisher *p, struct ca_error *err);
	/* Where p publishes, as text that names it whole (state.c keys the
	   state by it): "dir:/var/www/pki", "s3:ENDPOINT/BUCKET/PREFIX",
	   "alb:ARN". Called after open. */
	void		(*destination)(const struct publisher *p, char *out,
			    size_t size);
	int		(*run)(struct publisher *p,
			    const struct crl_snapshot *crl,
			    struct publish_state *s, struct ca_error *err);
	/* Settle what this publisher recorded with what the destination
	   holds; NULL when there is nothing to settle. */
	int		(*reconcile)(struct publisher *p,
			    struct publish_state *s, struct ca_error *err);
	/*
	 * `mtlsca publish --dry-run`: what run would do with crl, as lines
	 * ("  would ...") appended to b, from read-only calls only (no PUT,
	 * no Add, Remove or Modify, no state written). CA_OK, or an error
	 * when it cannot tell.
	 */
	int		(*plan)(struct publisher *p,
			    const struct crl_snapshot *crl,
			    const struct publish_state *s, struct awsbuf *b,
			    struct ca_error *err);
	/* Extra lines for `mtlsca status`; NULL when none. */
	int		(*status)(const struct publisher *p,
			    const struct publish_state *s, struct awsbuf *b);
	/* publish_retire(): take this retiring CA's CRL down from the
	   destination (state.c then forgets *s); NULL when nothing is to be
	   taken down. Idempotent. */
	int		(*retire)(struct publisher *p,
			    struct publish_state *s, struct ca_error *err);
};

extern const struct publish_ops publish_dir_ops;
extern const struct publish_ops publish_s3_ops;
extern const struct publish_ops publish_alb_ops;
extern const struct publish_ops publish_exec_ops;

/* An AWS client for p (s3, alb), with the set's retry options. */
int publish_aws_open(struct publisher *p, struct ca_error *err);

/* The ops of a type, or NULL. */
const struct publish_ops *publish_ops_of(enum publish_type type);

/* ---- gate.c ---- */

/* What the gate learnt of a CRL, once; each publisher then only checks
   the number and, when ALB-bound, the quotas (gate_for). */
struct gate_verdict {
	int		 rc;		/* CA_OK or the refusal's code */
	char		 why[256];	/* the refusal, "gate: ..." */
	uint64_t	 number;
	uint64_t	 entries;
	size_t		 pem_len;
	int64_t		 next_update;	/* of a CRL it passed */
	int64_t		 newest_revocation;	/* 0 when no entry */
	/* The revocationDates after the times_after gate_run was given
	   (owned; at most GATE_TIMES_MAX of them). */
	int64_t		*times;
	size_t		 n_times;
};
#define GATE_TIMES_MAX	100000

/* Parse and check crl once (crl_check_with against the set's CA, PEM
   only, current, number as announced), keeping the revocationDates after
   times_after (INT64_MAX: none). Never fails itself: the outcome is in
   *v; free it with gate_clear(). */
void gate_run(struct publish_set *set, const struct crl_snapshot *crl,
    int64_t times_after, struct gate_verdict *v);
void gate_clear(struct gate_verdict *v);

/* The verdict for publisher p, whose last published number is published:
   CA_OK, or CA_EPOLICY with a "gate: ..." sentence. */
int gate_for(const struct publisher *p, const struct gate_verdict *v,
    uint64_t published, struct ca_error *err);

#define PUBLISH_DEST_MAX	1400
#define PUBLISH_KEY_MAX		80

struct publisher {
	struct publish_conf		 conf;
	const struct publish_ops	*ops;
	struct publish_set		*set;
	char				 dest[PUBLISH_DEST_MAX];
	char				 key[PUBLISH_KEY_MAX];	/* its state */
	struct aws_client		*aws;		/* s3, alb */
	struct publisher		*s3;		/* alb: its s3 publisher */
	bool				 alb_bound;	/* ALB reads what it
							   publishes */
	char				 prefix[260];	/* s3: "" or "p/" */
	/* s3: where its CRLs go: prefix, then "<ns>/" in a retiring CA's
	   set ("p/ca-2/"). */
	char				 crl_prefix[300];
	bool				 reconciled;	/* alb */
	struct bundle			 extra;		/* alb: extra_ca_files */
	/* What runner.c keeps between runs (under the set's run_mu). */
	int64_t				 next_ms;	/* monotonic; no attempt
							   before (after a
							   failure) */
	unsigned			 streak;	/* failures in a row */
	uint64_t			 tried;		/* CRL of the last
							   attempt */
	char				 logged[256];	/* failure last logged */
	char				 logged_reconcile[256];
};

struct publish_set {
	struct ca			*ca;
	struct store			*st;
	struct publish_options		 opt;
	char				*lock_path;
	struct publisher		*pub;
	size_t				 n;
	char				*bundle;	/* the CA bundle PEM */
	size_t				 bundle_len;
	char				 bundle_sha256[65];
	/* publish_options.ca_ns: "" for the active CA, else a retiring CA's
	   namespace (opt.ca_ns points here). */
	char				 ns[PUBLISH_NS_MAX + 1];

	/* runner.c: one run of the publishers at a time in this process
	   (the lock file does it across processes), and the gate's verdict
	   on the last CRL, kept (under run_mu) so that retries of a failed
	   publisher do not parse and verify the same CRL again. */
	pthread_mutex_t			 run_mu;
	struct gate_verdict		 gate;
	bool				 gated;
	int64_t				 gate_after;	/* its times_after */
	char				 gate_sha256[65];	/* of the PEM */
	unsigned			 gate_runs;	/* parses (tests) */
	/* The thread of publish_start() and what wakes it. */
	struct crl_schedule		*sched;
	pthread_t			 thread;
	bool				 running;
	pthread_mutex_t			 mu;
	pthread_cond_t			 cond;
	bool				 stop;
	bool				 wake;
};



void publish_log(struct publish_set *set, enum publish_log level,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- namespaces (set.c) ---- */

/* NULL and "" are the active CA's; else [a-z0-9-]{1,32}, not a name the
   s3 prefix uses itself. CA_EINVAL with a sentence. */
int publish_ns_check(const char *ns, struct ca_error *err);
/* A publisher's destination text (the key of its state), from its conf
   and the namespace alone: no network, no CA. */
int publish_destination_of(const struct publish_conf *conf, const char *ns,
    char *out, size_t size, struct ca_error *err);
/* s3.c: the conf's prefix as keys start with it: "" or "p/". */
void publish_s3_prefix(const char *conf_prefix, char *out, size_t size);

/* ---- dir.c ---- */

/* Rewrite <path>/crls.pem: crl.pem, then each <path>/<ns>/crl.pem by
   name, atomically (nothing when there is no CRL at all). */
int publish_dir_compose(const char *path, struct ca_error *err);

/* ---- alb.c ---- */

/* The trust store's bundle now (current) and what it should be (want):
   current + this CA + extra_ca_files - remove_ca_fingerprints. Read-only
   calls: GetTrustStoreCaCertificatesBundle and a GET. */
int publish_alb_bundle_plan(struct publisher *p, struct bundle *current,
    struct bundle *want, struct ca_error *err);

/* ---- state.c ---- */

/* The meta name of a destination's state: "publish/<SHA-256 hex>". */
int publish_state_key(const char *destination, char out[PUBLISH_KEY_MAX]);
/* Carry the state an earlier version kept under p's name over to p's
   destination when it is that destination's (once; logs what it did). */
int publish_state_migrate(struct publish_set *set, struct publisher *p,
    struct ca_error *err);

int publish_state_read(struct publish_set *set, const struct publisher *p,
    struct publish_state *out, struct ca_error *err);
int publish_state_write(struct publish_set *set, const struct publisher *p,
    const struct publish_state *s, struct ca_error *err);
/* Delete p's state (absent is fine). */
int publish_state_forget(struct publish_set *set, const struct publisher *p,
    struct ca_error *err);

/* The publisher called name, or NULL. */
struct publisher *publish_find(struct publish_set *set, const char *name);

#endif
