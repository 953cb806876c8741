/*
 * store/ — the only module that talks to LMDB. It owns the record formats and
 * every transaction, and knows nothing of X.509 beyond the bytes it is handed.
 *
 * Databases (one LMDB environment in <data_dir>/db):
 *   certs    serial (DER INTEGER content bytes) -> versioned cert record
 *   expiry   be64(not_after) || serial -> "" (certificates not revoked, by
 *            expiry: a revocation moves the key to "revoked")
 *   revoked  be64(not_after) || serial -> the CRL entry's final DER
 *            (keyed by expiry so that entries past a cut-off form a prefix
 *            range a CRL build skips with one cursor seek)
 *   meta     name -> value (schema version, counters, small blobs)
 *   revlog   be64(revocation generation) -> the revoked-index key and the
 *            value it took then (only once a snapshot was tried)
 *   tokens, audit, cn, renewals: used by the service (see below)
 *
 * Beside it, db/revoked.snap: a flat copy of the revoked index that CRL
 * builds read instead of the index's scattered pages (store/snapshot.h,
 * design note 26). A cache: the store checks it before use and rebuilds it.
 *
 * All functions return CA_OK or a negative enum ca_err and, on failure, fill
 * *err (which may be NULL) with a sentence. MDB_MAP_FULL becomes CA_ESPACE.
 */
#ifndef MTLSCA_STORE_STORE_H
#define MTLSCA_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/util.h"

struct store;
struct store_txn;

#define STORE_PROFILE_MAX	32
/* not_after of a certificate the store never saw (revoked with --force). */
#define STORE_NOT_AFTER_UNKNOWN	INT64_MAX

struct store_options {
	const char	*dir;		/* the LMDB environment directory */
	/*
	 * The largest the map may grow to, in bytes; 0: as far as the disk
	 * has room. The map starts small and grows by itself before a write
	 * transaction that could run short (store_map_stats).
	 */
	uint64_t	 map_size;
	/* The map's first size (tests); 0: 64 MiB or what the data needs. */
	uint64_t	 initial_map_size;
	unsigned	 max_readers;	/* 0 = default 512 */
	/* Index keys a page of a status listing reads before it walks the
	   records instead (store_cert_foreach_status); 0 = 4096. Tests. */
	size_t		 status_index_max;
	bool		 read_only;
	/* Tests: called by a revoked-index scan between writing its new
	   snapshot file and recording it (design note 26). */
	void		(*snapshot_hook)(void *ctx);
	void		*snapshot_hook_ctx;
};

enum cert_status {
	CERT_STATUS_VALID = 0,		/* issued, not revoked (may be past notAfter) */
	CERT_STATUS_REVOKED = 1,
};

/*
 * A certificate as the store keeps it. subject and der are owned by the
 * record when it comes from the store (free with cert_record_clear());
 * when handed to the store they are only read.
 */
struct cert_record {
	uint8_t		 serial[SERIAL_MAX + 1];
	size_t		 serial_len;
	uint8_t		 status;		/* enum cert_status */
	uint8_t		 reason;		/* RFC 5280 CRLReason, if revoked */
	int64_t		 not_before;
	int64_t		 not_after;		/* or STORE_NOT_AFTER_UNKNOWN */
	int64_t		 issued_at;
	int64_t		 revoked_at;		/* 0 unless revoked */
	char		 profile[STORE_PROFILE_MAX];	/* "" for imported */
	char		*subject;		/* RFC 4514 text, may be NULL */
	uint8_t		*der;			/* the certificate, may be NULL */
	size_t		 der_len;
	/* The CA that issued it (CA rotation): 0 or 1 is the store's first
	   CA, the one `init` or `import` made; `mtlsca ca rotate` numbers
	   the next ones 2, 3... */
	uint32_t	 ca_id;
};
#define STORE_CA_FIRST	1u

/* Free what the record owns and zero it. NULL-safe. */
void cert_record_clear(struct cert_record *rec);

/*
 * Record encoding (exposed for unit tests and fuzzing). encode: *out owns a
 * malloc'd buffer. decode: a bounded reader; CA_EMALF on truncated, oversized
 * or unknown-version input; on success *rec owns copies.
 */
int store_record_encode(const struct cert_record *rec, uint8_t **out,
    size_t *len);
int store_record_decode(const uint8_t *buf, size_t len, struct cert_record *rec);

int store_open(const struct store_options *opt, struct store **out,
    struct ca_error *err);
void store_close(struct store *st);

/*
 * The map: used (bytes of the data file in use), mapped (the map's size in
 * this process) and limit (what it may grow to: store.map_size, or the data
 * plus the disk's free space when unbounded). A store at 80 % of its limit
 * should be looked at (the metric's warning).
 */
struct store_map_stats {
	uint64_t	used;
	uint64_t	mapped;
	uint64_t	limit;
	uint64_t	grown;		/* growths in this process */
};
void store_map_stats(struct store *st, struct store_map_stats *out);
/*
 * Make room for a large write transaction: grow the map, within its limit,
 * so that at least bytes are free beyond what is used. A store opened
 * read-only, or one at its limit, is left as it is (the transaction will
 * then report CA_ESPACE if it does not fit).
 */
void store_reserve(struct store *st, uint64_t bytes);

/* ---- single operations, each its own transaction ---- */

/* CA_EEXIST when the serial is taken (MDB_NOOVERWRITE). */
int store_cert_put(struct store *st, const struct cert_record *rec,
    struct ca_error *err);
/* CA_ENOENT when unknown. On success *out owns its fields. */
int store_cert_get(struct store *st, const uint8_t *serial, size_t len,
    struct cert_record *out, struct ca_error *err);

/*
 * Visit certificates in serial order, in one read snapshot, starting after
 * `after` (NULL: from the first). The record is borrowed for the call. The
 * callback returns 0 to go on, 1 to stop, or a negative ca_err to abort
 * (returned as is).
 */
typedef int (*store_cert_cb)(const struct cert_record *rec, void *ctx);
int store_cert_foreach(struct store *st, const uint8_t *after,
    size_t after_len, store_cert_cb cb, void *ctx, struct ca_error *err);
/*
 * The same, for the certificates whose subject's CN (subject_cn) is cn,
 * through the store's CN index: a seek, not a scan.
 */
int store_cert_foreach_cn(struct store *st, const char *cn,
    const uint8_t *after, size_t after_len, store_cert_cb cb, void *ctx,
    struct ca_error *err);

/*
 * The certificates of one status at now, in serial order after `after`,
 * at most limit of them (0: all), through the indexes: revoked from the
 * revoked index, expired and valid as ranges of the expiry index (schema
 * 4), so that a status nobody has answers at once whatever the store's
 * size. The indexes are in notAfter order, the listing in serial order: a
 * page (limit given) of a status with more than status_index_max
 * certificates walks the records in serial order instead, where a page is
 * found after about limit x records / matches of them (as for valid,
 * which is most of a store). Memory: the serials of the matching
 * certificates (at most limit of them when limit is given), never their
 * records. A store of an older schema opened read-only is scanned
 * instead. Callback as above.
 */
enum store_status_filter {
	STORE_FILTER_VALID = 0,		/* not revoked, not past notAfter */
	STORE_FILTER_REVOKED = 1,
	STORE_FILTER_EXPIRED = 2,	/* not revoked, past notAfter */
};
int store_cert_foreach_status(struct store *st, enum store_status_filter f,
    int64_t now, const uint8_t *after, size_t after_len, size_t limit,
    store_cert_cb cb, void *ctx, struct ca_error *err);

/*
 * Revocation. The CRL entry's DER depends on the final revocation time and
 * reason, which only the transaction knows (a second revocation keeps the
 * first time), so the caller passes an encoder that the store calls inside
 * the transaction with the updated record. It must be pure and fast.
 */
typedef int (*store_entry_encoder)(const struct cert_record *rec,
    uint8_t *buf, size_t cap, size_t *len);
#define STORE_ENTRY_MAX	128

enum store_revoke_outcome {
	STORE_REVOKE_NEW = 0,		/* newly revoked */
	STORE_REVOKE_RAISED = 1,	/* already revoked; reason raised to keyCompromise */
	STORE_REVOKE_ALREADY = 2,	/* already revoked; nothing changed */
};

struct store_revocation {
	const uint8_t	*serial;
	size_t		 serial_len;
	int64_t		 revoked_at;
	uint8_t		 reason;
	bool		 force;		/* revoke a serial the store never saw */
	int64_t		 not_after;	/* with force: STORE_NOT_AFTER_UNKNOWN
					   unless known */
	uint32_t	 ca_id;		/* with force: the CA whose CRL lists
					   it (0 = the first) */
};

/*
 * One write transaction: mark the record revoked, put its entry in the
 * revoked index, bump meta "revocation_generation", update the entry
 * counters. Revoking twice changes nothing (STORE_REVOKE_ALREADY) except that
 * a reason of keyCompromise (1) replaces another one (STORE_REVOKE_RAISED).
 * CA_ENOENT for an unknown serial without force. *outcome and, if rec_out is
 * not NULL, the final record (owned) are filled on success.
 */
int store_cert_revoke(struct store *st, const struct store_revocation *rv,
    store_entry_encoder enc, int *outcome, struct cert_record *rec_out,
    struct ca_error *err);

/* ---- write batches: several operations, one commit ---- */

int store_txn_begin(struct store *st, struct store_txn **out,
    struct ca_error *err);
int store_txn_cert_put(struct store_txn *txn, const struct cert_record *rec,
    struct ca_error *err);
int store_txn_cert_revoke(struct store_txn *txn,
    const struct store_revocation *rv, store_entry_encoder enc, int *outcome,
    struct ca_error *err);
/* Commit and free txn, whatever the result. */
int store_txn_commit(struct store_txn *txn, struct ca_error *err);
/* Abort and free. NULL-safe. */
void store_txn_abort(struct store_txn *txn);

/* ---- the revoked index, for CRL builds ---- */

struct store_revoked_visitor {
	/* Called first with upper bounds (all entries, expired included).
	   Called again, with the same bounds, when the store starts over
	   (a snapshot found damaged part way): forget what entry() got. */
	int (*begin)(void *ctx, uint64_t max_entries, uint64_t max_bytes);
	/* Called per entry with not_after >= min_not_after, in key order. The
	   bytes are borrowed for the call. */
	int (*entry)(void *ctx, const uint8_t *der, size_t len);
	void *ctx;
	/* Whose entries: the CA id of the records (0 = the first CA). The
	   others are skipped, so that each CA's CRL lists its own. */
	uint32_t ca_id;
};
/*
 * The entries in key order, from one read snapshot of the store: through
 * db/revoked.snap and the revocation log when they stand for the index,
 * else from the index, writing a new snapshot file as it goes (and then a
 * small write transaction that records it) unless the store is read-only.
 */
int store_revoked_scan(struct store *st, int64_t min_not_after,
    const struct store_revoked_visitor *v, struct ca_error *err);
/* How this handle's scans went: through the snapshot and the log, through
   the index, and the snapshots written and recorded. */
struct store_scan_stats {
	uint64_t	via_snapshot;
	uint64_t	via_index;
	uint64_t	written;
	uint64_t	restarted;	/* snapshot damaged part way */
};
void store_scan_stats(struct store *st, struct store_scan_stats *out);

/* ---- meta ---- */

/* Read a counter; absent counters read as 0. */
int store_counter_get(struct store *st, const char *name, uint64_t *out,
    struct ca_error *err);
/* Add one in its own write transaction and return the new value; with LMDB's
   single writer two processes never get the same value. */
int store_counter_next(struct store *st, const char *name, uint64_t *out,
    struct ca_error *err);
/* Raise a counter to at least v in one write transaction (it never goes
   down: a CRL number read from a published CRL, after a restore); *out
   (may be NULL) gets its value after. */
int store_counter_raise(struct store *st, const char *name, uint64_t v,
    uint64_t *out, struct ca_error *err);
/* The same inside a write batch. */
int store_txn_counter_raise(struct store_txn *txn, const char *name,
    uint64_t v, struct ca_error *err);
/* Small named blobs (≤ 16 KiB). get: CA_ENOENT if absent; *out owns a
   malloc'd copy. */
int store_meta_put(struct store *st, const char *name, const void *val,
    size_t len, struct ca_error *err);
int store_meta_get(struct store *st, const char *name, uint8_t **out,
    size_t *len, struct ca_error *err);
/* Delete name; CA_OK when it is absent too. */
int store_meta_delete(struct store *st, const char *name,
    struct ca_error *err);
/* In one transaction: to = val, and from deleted (absent is fine), so that
   a value renamed is never lost nor found twice. */
int store_meta_move(struct store *st, const char *from, const char *to,
    const void *val, size_t len, struct ca_error *err);

/* ---- enrollment tokens (the service) ---- */

/* One-time tokens are stored by the SHA-256 of the token, never in clear. */
#define STORE_TOKEN_HASH_LEN	32
#define STORE_CN_MAX		256

/* SANs a token may be bound to, each "dns:NAME", "ip:ADDR", "email:ADDR"
   or "uri:URI" (ca/ checks the syntax). */
#define STORE_TOKEN_SANS_MAX	16

struct store_token {
	char		profile[STORE_PROFILE_MAX];
	char		cn[STORE_CN_MAX];	/* "" = any CN */
	int64_t		created_at;
	int64_t		expires_at;
	uint32_t	uses_left;
	/* Bound (cn or SANs set): the subjectAltNames the token grants, and
	   no other. */
	char		sans[STORE_TOKEN_SANS_MAX][STORE_CN_MAX];
	size_t		n_sans;
};
/* CA_EEXIST if the hash is taken. */
int store_token_put(struct store *st, const uint8_t hash[STORE_TOKEN_HASH_LEN],
    const struct store_token *tok, struct ca_error *err);
int store_token_get(struct store *st, const uint8_t hash[STORE_TOKEN_HASH_LEN],
    struct store_token *out, struct ca_error *err);
/*
 * Visit every token, in hash order, inside one read transaction (keep cb
 * short: no I/O that may block). hash and tok are borrowed for the call. A
 * non-zero return from cb stops the walk and is returned.
 */
typedef int (*store_token_cb)(const uint8_t hash[STORE_TOKEN_HASH_LEN],
    const struct store_token *tok, void *ctx);
int store_token_foreach(struct store *st, store_token_cb cb, void *ctx,
    struct ca_error *err);
/* In a write batch: delete the token (CA_ENOENT if absent), so that the
   revocation and its audit entry commit together. */
int store_txn_token_delete(struct store_txn *txn,
    const uint8_t hash[STORE_TOKEN_HASH_LEN], struct ca_error *err);
/*
 * Inside a write batch (with the certificate's store_txn_cert_put, so both
 * commit or neither): check the token is known (CA_EAUTH), unexpired and has
 * uses left (CA_EAUTH, with a sentence), and take one use. *out gets the
 * token as it was before the use. Refusals carry err->reason:
 */
#define STORE_REASON_TOKEN_UNKNOWN	"token_unknown"
#define STORE_REASON_TOKEN_EXPIRED	"token_expired"
#define STORE_REASON_TOKEN_USED		"token_used"
int store_txn_token_use(struct store_txn *txn,
    const uint8_t hash[STORE_TOKEN_HASH_LEN], int64_t now,
    struct store_token *out, struct ca_error *err);

/* ---- renewals: a certificate is renewed once ---- */

struct store_renewal {
	uint8_t		serial[SERIAL_MAX + 1];	/* the new certificate's */
	size_t		serial_len;
	int64_t		at;
};
/* Which certificate renewed old: CA_ENOENT when none did. */
int store_renewal_get(struct store *st, const uint8_t *old, size_t old_len,
    struct store_renewal *out, struct ca_error *err);
/*
 * In the new certificate's write batch: record that new_serial renews old.
 * CA_EEXIST, with err->reason STORE_REASON_RENEWED and a sentence naming
 * the certificate that renewed it first, when old was renewed already.
 */
#define STORE_REASON_RENEWED	"already_renewed"
int store_txn_renewal_put(struct store_txn *txn, const uint8_t *old,
    size_t old_len, const uint8_t *new_serial, size_t new_len, int64_t at,
    struct ca_error *err);

/* ---- audit log (append-only, key = be64 sequence) ---- */

struct store_audit {
	uint64_t	 seq;
	int64_t		 at;
	const char	*who;		/* "token:ab12..", "cert:SHA256..", "cli:root" */
	const char	*action;	/* "issue", "revoke", "crl", "token-create" */
	const char	*detail;	/* free text, e.g. the serial */
};
int store_txn_audit_append(struct store_txn *txn, int64_t at, const char *who,
    const char *action, const char *detail, struct ca_error *err);
int store_audit_append(struct store *st, int64_t at, const char *who,
    const char *action, const char *detail, struct ca_error *err);
/* Visit entries in order from seq `from`; strings borrowed for the call. */
int store_audit_foreach(struct store *st, uint64_t from,
    int (*cb)(const struct store_audit *a, void *ctx), void *ctx,
    struct ca_error *err);

/* Well-known counter names. */
#define STORE_COUNTER_REVGEN	"revocation_generation"
#define STORE_COUNTER_CRL	"crl_number"
/* The active CA's id (`mtlsca ca rotate` raises it; absent: the first). */
#define STORE_COUNTER_CA_ACTIVE	"ca_active"

/* ---- copies and figures (backup) ---- */

/*
 * A consistent, compacted copy of the whole store into dir/data.mdb (dir
 * must exist and hold no data.mdb; the file is 0600): LMDB's own copy
 * (mdb_env_copyfd2 with MDB_CP_COMPACT) of one read snapshot, while
 * writers, in this process or another, go on. Synced before it returns;
 * removed on failure.
 */
int store_copy(struct store *st, const char *dir, struct ca_error *err);

struct store_stats {
	uint64_t	schema;
	uint64_t	certs;		/* records */
	uint64_t	revoked;	/* revoked-index entries */
	uint64_t	tokens;
	uint64_t	audit;		/* audit entries */
	uint64_t	crl_number;	/* the last CRL number taken */
	uint64_t	revgen;
};
/* The figures of one read snapshot. */
int store_stats(struct store *st, struct store_stats *out,
    struct ca_error *err);

#endif
