/*
 * cmd/ internals shared by the subcommands: opening the CA and the store the
 * configuration names, messages in one form ("mtlsca: <sentence>" on
 * stderr), and loading an existing certificate into a store record. Not a
 * public header: nothing outside cmd/ includes it.
 */
#ifndef MTLSCA_CMD_CMD_INT_H
#define MTLSCA_CMD_CMD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"
#include "cmd/config.h"
#include "common/err.h"
#include "store/store.h"

/* Exit statuses (cmd/cmd.h). */
#define CMD_OK		0
#define CMD_FAIL	1
#define CMD_USAGE	2

/* "mtlsca: <printf>" and a newline on stderr; returns CMD_FAIL. */
int cmd_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "mtlsca: <err->msg>" on stderr; returns CMD_FAIL. */
int cmd_fail_err(const struct ca_error *err);

/*
 * Open the CA the configuration names. A missing certificate gets a
 * sentence that says to run `mtlsca init` or `mtlsca import`.
 */
int cmd_ca_open(const struct config *cfg, struct ca **out,
    struct ca_error *err);

/*
 * <data_dir>/crl.lock: `serve`'s CRL schedule and `mtlsca crl` hold it
 * across a CRL build and its files, so that runs on one data directory
 * take turns. <data_dir>/publish.lock: `serve`'s publishers and `mtlsca
 * publish` hold it across a run of the publishers. Two locks, so that a
 * CRL is never held back by a publisher waiting on S3 or ALB.
 */
#define CMD_CRL_LOCK		"crl.lock"
#define CMD_PUBLISH_LOCK	"publish.lock"
/*
 * <data_dir>/serve.lock: every running serve holds it shared (flock), so
 * that `ca rotate` can tell a serve that still signs with the old CA is
 * running, and say to restart it. Nothing waits on it.
 */
#define CMD_SERVE_LOCK		"serve.lock"
/* serve: take it shared; -1 when it cannot (then nothing is told). */
int cmd_serve_lock_hold(const struct config *cfg);
/* Is a serve running on cfg's data directory (someone holds it)? */
bool cmd_serve_running(const struct config *cfg);

/*
 * Take the CRL lock, saying on stderr when another process holds it and
 * the command waits. *fd: release with file_unlock().
 */
int cmd_crl_lock(const struct config *cfg, int *fd, struct ca_error *err);

/*
 * Open <data_dir>/db. read_only: never create it (CA_ENOENT with a sentence
 * when absent).
 */
int cmd_store_open(const struct config *cfg, bool read_only,
    struct store **out, struct ca_error *err);

/*
 * For init and import (and serve's first start): CA_OK when <data_dir>/db
 * does not exist or holds no certificate; CA_EEXIST with a sentence when it
 * holds another CA's, which a new CA must not inherit.
 */
int cmd_store_refuse_records(const struct config *cfg, struct ca_error *err);

/* The usage text of a subcommand (also what `--help` prints); NULL if
 * the command is not one of ours. */
const char *cmd_usage(const char *name);

/* The i-th usage text (from 0) and its command's name; NULL past the
   last (`mtlsca completion` walks them). */
const char *cmd_usage_at(size_t i, const char **name);

/* Print the usage of name: to stdout (help, returns CMD_OK) or to stderr
 * (a usage error, returns CMD_USAGE). */
int cmd_usage_print(const char *name, bool error);

/*
 * Read a certificate (PEM or DER, the first one of a PEM file) into a store
 * record: serial, validity, subject (RFC 4514) and DER. With ca, require
 * that the CA issued it (issuer name and signature, RFC 5280 §6.1.3);
 * CA_EPOLICY otherwise. rec owns its fields on success
 * (cert_record_clear()).
 */
int cmd_cert_load(const uint8_t *buf, size_t len, struct ca *ca,
    struct cert_record *rec, struct ca_error *err);

/* Print o (pretty JSON) on stdout and free it; CMD_FAIL when out of
   memory. */
struct json_t;
int cmd_json_print(struct json_t *o);

/*
 * The CAs of the data directory (cmd_ca.c, ca/cas.c): ca[0] the active one
 * (borrowed), then each retiring CA (opened from cas/<id>/, ids set). due:
 * its last certificate has expired (now), so it retires (cmd_cas_retire
 * marks it, after its revocation lists are taken out).
 */
#define CMD_CAS_MAX	8
struct cmd_cas {
	struct ca		*ca[CMD_CAS_MAX];
	uint32_t		 id[CMD_CAS_MAX];
	int64_t			 last_expiry[CMD_CAS_MAX];
	bool			 due[CMD_CAS_MAX];
	size_t			 n;
	struct ca_registry	*reg;
};
int cmd_cas_open(const struct config *cfg, struct ca *active, int64_t now,
    struct cmd_cas *out, struct ca_error *err);
void cmd_cas_close(struct cmd_cas *c);
int cmd_cas_retire(const struct config *cfg, const struct cmd_cas *c,
    size_t i, int64_t now, struct ca_error *err);
/*
 * serve's retiring CAs (cmd_ca.c): each one due retires first (its
 * revocation lists removed from the trust stores, its public files, state
 * "retired"; c loses it); each one left gets a CRL schedule (cso, files in
 * public/ca-<id>/, crls.pem rewritten) and publishers in its namespace.
 */
struct crl_schedule;
struct crl_schedule_options;
struct publish_set;
struct cmd_retiring {
	struct crl_schedule	*sched[CMD_CAS_MAX];	/* [0] unused */
	struct publish_set	*pubs[CMD_CAS_MAX];
	size_t			 n;
};
/* Retire each CA of c that is due (c loses it); one that cannot retire
   now (a trust store unreachable) stays retiring, with a warning. */
void cmd_retire_due(const struct config *cfg, struct store *st,
    struct cmd_cas *c, const char *pub);
int cmd_retiring_start(const struct config *cfg, struct store *st,
    struct cmd_cas *c, const struct crl_schedule_options *cso,
    const char *pub, struct cmd_retiring *out, struct ca_error *err);
void cmd_retiring_stop(struct cmd_retiring *r);

/* The profile of the cross certificate `ca rotate` records (the old CA
   signs the new one: ca_cross_sign). */
#define CMD_PROFILE_CROSS	"cross"
/* Append to *chain (malloc'd PEM, the service's HTTPS chain) the cross
   certificate of the active CA by each retiring CA not due to retire. */
int cmd_cas_cross_chain(const struct config *cfg, const struct cmd_cas *c,
    char **chain, struct ca_error *err);

/* The active CA's PEM and each retiring CA's (malloc'd; NULL when out of
   memory): the bundle the active CA's publishers publish. */
char *cmd_cas_bundle_pem(const struct config *cfg, struct ca *active);

/* <data_dir>/cas */
int cmd_cas_dir(const struct config *cfg, char *out, size_t size);
/* Where CA i's CRL files go: pub for the active one, pub/ca-<id> for a
   retiring one; and its publishing namespace ("" or "ca-<id>"). */
void cmd_cas_public_dir(const char *pub, const struct cmd_cas *c, size_t i,
    char *out, size_t size);
void cmd_cas_ns(const struct cmd_cas *c, size_t i, char *out, size_t size);

/* Who runs the command, for the audit log: "cli:<login name>". */
void cmd_who(char *out, size_t size);

/*
 * Append an audit entry (action "issue", "revoke", "crl"...) in its own
 * transaction. The action already happened: a failure here is a warning on
 * stderr, not a failure of the command.
 */
void cmd_audit_note(struct store *st, const char *action,
    const char *detail);

/* The longest validity (days) a configured profile grants. */
unsigned cmd_profiles_longest_days(const struct config *cfg);
/* On stderr, when the CA expires within 90 days or sooner than the longest
   profile validity (ca_expiry_check): serve's start. */
void cmd_ca_expiry_warn(const struct config *cfg, const struct ca *ca);

/* "2026-11-29T03:41:29Z", or "-" for STORE_NOT_AFTER_UNKNOWN / 0. */
void cmd_time(int64_t t, char out[21]);

/* The status word list/show print: "valid", "revoked" or "expired". */
const char *cmd_status_word(const struct cert_record *rec, int64_t now);

/* "key" or "certificate" when path is the CA's own file (same inode), so
   that a mistyped --out never replaces it; NULL otherwise. */
const char *cmd_ca_file_of(const struct config *cfg, const char *path);

/*
 * The SHA-256 fingerprint of a DER certificate as 64 lower-case hex digits:
 * what `serve` and `status` print for the CA and `enroll --ca-fingerprint`
 * takes (step's bootstrap model).
 */
void cmd_fingerprint(const uint8_t *der, size_t len, char out[65]);

#endif
