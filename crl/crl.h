/*
 * crl/ — revocation and CRLs: write revocations (the revoked index holds each
 * entry's final DER, so the module that knows the CRL format encodes it),
 * build the CRL in one pass with our own DER writer, sign it through the CA,
 * verify it, write crl.der and crl.pem atomically, check any CRL against
 * ALB's limits, and keep it fresh on a schedule (crl/schedule.h). Where a
 * CRL goes next is publish/'s business.
 *
 * Every function returns CA_OK or a negative enum ca_err and fills *err.
 */
#ifndef MTLSCA_CRL_CRL_H
#define MTLSCA_CRL_CRL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"
#include "common/err.h"
#include "store/store.h"

/* ALB's documented limits. */
#define CRL_ALB_MAX_BYTES	(50u * 1000 * 1000)
#define CRL_ALB_MAX_ENTRIES	500000u

/*
 * The revoked-list entry DER for rec (SEQUENCE { serial, revocationDate,
 * [reasonCode extension unless unspecified] }); matches
 * store_entry_encoder. Times: UTCTime before 2050, GeneralizedTime after.
 */
int crl_entry_encode(const struct cert_record *rec, uint8_t *buf, size_t cap,
    size_t *len);

/*
 * Revoke serial with reason at revoked_at (0 = now). force: allow a serial
 * the store never saw. *outcome: enum store_revoke_outcome. rec_out may be
 * NULL.
 */
int crl_revoke(struct store *st, const uint8_t *serial, size_t serial_len,
    int reason, int64_t revoked_at, bool force, int *outcome,
    struct cert_record *rec_out, struct ca_error *err);

struct crl_options {
	int64_t		now;		/* thisUpdate; 0 = time_now() */
	int64_t		validity;	/* seconds; default 7 days */
	int64_t		keep_expired;	/* keep entries this long past notAfter;
					   < 0: one validity (the default);
					   INT64_MAX: keep all */
	uint64_t	warn_entries;	/* default 250000 */
	uint64_t	max_entries;	/* default 500000 */
	/* Leave the result's pem NULL: crl_write_files (and crl_write_pem)
	   encode it from the DER straight into the file, in pieces, for a
	   caller that only writes it (`mtlsca crl`; 62 MB at 1M entries). */
	bool		pem_unheld;
	/* Write <write_dir>/crl.der and crl.pem (as crl_write_files does)
	   while the CRL is verified, on two more threads; they take their
	   names only once it verified. NULL: no files. */
	const char	*write_dir;
};
void crl_options_default(struct crl_options *o);

struct crl_result {
	uint64_t	 number;	/* cRLNumber */
	uint64_t	 entries;
	int64_t		 this_update, next_update;
	uint8_t		*der;		/* owned */
	size_t		 der_len;
	char		*pem;		/* owned, NUL-terminated; NULL with
					   pem_unheld */
	size_t		 pem_len;	/* the PEM's length, held or not */
	bool		 warned;	/* over warn_entries; message in warning */
	char		 warning[256];
	/* Filled by crl_write_files: the SHA-256 of the PEM and the DER, and
	   what stat says of each file just after it took its name. */
	bool		 written;
	uint8_t		 pem_sha256[32];
	uint8_t		 der_sha256[32];
	struct crl_file_id {
		uint64_t	dev, ino, size;
		int64_t		mtime_ns, ctime_ns;
	}		 der_id, pem_id;
};
void crl_result_clear(struct crl_result *r);

/*
 * Build a CRL: take the next cRLNumber (committed before anything is
 * written), scan the revoked index in one read snapshot, encode the
 * TBSCertList in one pass, sign through ca_sign_tbs, and verify the result
 * (signature against the CA certificate, structure re-parsed) before it is
 * returned. CA_ETOOBIG over max_entries, with the limit named.
 */
int crl_build(struct ca *ca, struct store *st, const struct crl_options *opt,
    struct crl_result *out, struct ca_error *err);

/*
 * <root>/crls.pem, atomically: <root>/crl.pem (the active CA's) followed
 * by each <root>/ca-<id>/crl.pem (retiring CAs', by name), for nginx's
 * ssl_crl and the like, which need a CRL for every CA they trust
 * (combine.c). With no retiring CA, crls.pem is a second name (a hard
 * link) of crl.pem; r (may be NULL), the CRL just written to
 * <root>/crl.pem, then gets that file's identity anew (a link changes its
 * ctime): call crl_files_record after this.
 */
int crl_files_combine(const char *root, struct crl_result *r,
    struct ca_error *err);

/*
 * The name of a meta entry kept per CA: base for the first CA (as every
 * store before CA rotation has it), base "@<id>" for a later one, so that
 * each CA's CRL schedule and file record are its own.
 */
void crl_meta_name(const char *base, const struct ca *ca, char *out,
    size_t size);

/* Write <dir>/crl.der and <dir>/crl.pem atomically (creates dir), and
   note in r what crl_files_record keeps of them. */
int crl_write_files(const char *dir, struct crl_result *r,
    struct ca_error *err);
/* Write the PEM alone to path, atomically (held or not). */
int crl_write_pem(const char *path, const struct crl_result *r,
    struct ca_error *err);

/*
 * Recovery from a CRL this CA published (recover.c), for a restored or
 * rebuilt store: raise the store's CRL number counter to the CRL's
 * cRLNumber (the next CRL is numbered above it), then, in one transaction,
 * revoke again every serial it lists that the store does not hold as
 * revoked, with the CRL's date and reason (serials the store never saw are
 * recorded without a certificate), each audited as "recovered from CRL N
 * (source)". buf is PEM or DER; a CRL whose signature does not verify with
 * ca_der's key is refused (CA_EPOLICY) and changes nothing. ca_id is the
 * store's id of that CA (STORE_CA_FIRST, or a later one after a rotation):
 * a serial the store never saw is recorded under it, so that this CA's CRL
 * lists it again (0: the store's active CA).
 */
struct crl_recovery {
	uint64_t	number;		/* the CRL's cRLNumber */
	uint64_t	counter;	/* the store's CRL counter after */
	uint64_t	listed;		/* entries in the CRL */
	uint64_t	recovered;	/* revoked (again) in the store */
	uint64_t	skipped;	/* entries the store cannot hold */
	int64_t		this_update;
};
int crl_recover(struct store *st, const uint8_t *ca_der, size_t ca_len,
    uint32_t ca_id, const uint8_t *buf, size_t len, const char *source,
    const char *who, struct crl_recovery *out, struct ca_error *err);

struct crl_check_report {
	bool		pem;		/* input was PEM */
	uint64_t	number;		/* 0 if absent */
	bool		has_number;
	uint64_t	entries;
	int64_t		this_update, next_update;
	bool		signature_ok;	/* only when a CA was given */
	bool		has_next;	/* nextUpdate present */
	size_t		der_len;	/* bytes of DER (the PEM's body) */
	uint64_t	negative;	/* entries with a negative serial */
	int64_t		newest_revocation;	/* latest revocationDate, 0 */
	size_t		n_times;	/* crl_check_options.times kept */
	uint64_t	times_later;	/* dates after times_after, all */
	char		problems[1024];	/* "; "-separated, empty when none */
};
/*
 * ALB's checks on any CRL file's bytes: PEM (ALB takes PEM only), exactly
 * one CRL, <= 50 MB, no negative serials, entries <= 500,000, strict DER;
 * with ca (may be NULL): issuer bytes equal the CA's subject, AKI equals its
 * SKI, signature verifies. CA_OK if it passes, CA_EPOLICY or CA_EMALF with
 * the problems in report and err otherwise.
 */
int crl_check(const uint8_t *buf, size_t len, struct ca *ca,
    struct crl_check_report *report, struct ca_error *err);
/* The same without ALB's two quotas (50 MB, 500,000 entries), for CRLs
   meant for nginx, HAProxy or Envoy, which have none. */
int crl_check_any(const uint8_t *buf, size_t len, struct ca *ca,
    struct crl_check_report *report, struct ca_error *err);

struct crl_check_options {
	struct ca	*ca;		/* NULL: no issuer, AKI, signature */
	bool		 alb;		/* ALB's quotas (crl_check) */
	/* The revocationDates later than times_after are kept in
	   times[times_max] (report->n_times; report->times_later counts
	   them all), for revoke-to-enforced latencies. INT64_MAX: none. */
	int64_t		 times_after;
	int64_t		*times;
	size_t		 times_max;
};
/* crl_check or crl_check_any in the same single pass, with options. */
int crl_check_with(const uint8_t *buf, size_t len,
    const struct crl_check_options *opt, struct crl_check_report *report,
    struct ca_error *err);

/*
 * An immutable, reference-counted CRL: what the schedule hands to the
 * HTTP handlers and the publishers. Give each reference back with
 * crl_snapshot_release().
 */
struct crl_snapshot {
	atomic_int	 refs;
	uint8_t		*der;
	size_t		 der_len;
	char		*pem;
	size_t		 pem_len;
	uint64_t	 number;
	uint64_t	 entries;
	int64_t		 this_update;
	int64_t		 next_update;	/* -1 when absent */
};
/* A snapshot that takes r's buffers (no copy; r is left empty), with one
   reference. CA_ENOMEM, CA_EINVAL. */
int crl_snapshot_new(struct crl_result *r, struct crl_snapshot **out);
/*
 * Load a PEM CRL file (as `mtlsca crl` writes it): only parsed (strictly,
 * and its cRLNumber required), not checked: the publishers' gate does that.
 */
int crl_snapshot_load(const char *pem_path, struct crl_snapshot **out,
    struct ca_error *err);
/* Another reference to snap (NULL-safe); returns snap. */
struct crl_snapshot *crl_snapshot_ref(struct crl_snapshot *snap);
void crl_snapshot_release(struct crl_snapshot *snap);

/* The CRL schedule of `serve`. */
#include "crl/schedule.h"

/*
 * Trust by hash (trust.c): after a CRL's files are written, record the
 * SHA-256 of its DER and PEM with its number, dates and entry count, for
 * this CA. crl_snapshot_recorded: dir/crl.der and dir/crl.pem when both
 * still have the recorded hashes, as a snapshot (one reference) whose facts
 * come from the record (it was verified when built); NULL otherwise (no
 * record, another CA, a file changed or missing: check it in full).
 */
int crl_files_record(struct store *st, struct ca *ca,
    const struct crl_result *r, struct ca_error *err);
struct crl_snapshot *crl_snapshot_recorded(struct store *st, struct ca *ca,
    const char *dir);
/*
 * Whether dir/crl.der is the CRL this store recorded, for this CA: the
 * file crl_files_record noted (same device, inode, size, mtime and ctime),
 * or, failing that, one with the recorded hash. Built from this store's
 * revoked index, it lists nothing the store lacks (serve's start need not
 * recover revocations from it).
 */
bool crl_der_recorded(struct store *st, struct ca *ca, const char *dir);
/* The same record for a CRL checked in full (best effort). */
void crl_snapshot_record(struct store *st, struct ca *ca,
    const struct crl_snapshot *snap);

#endif
