/*
 * Subcommands. Each takes the argv after the subcommand name (argv[0] is the
 * subcommand) and the loaded configuration, and returns the process exit
 * status: 0 success, 1 failure (message already printed to stderr),
 * 2 usage error.
 */
#ifndef MTLSCA_CMD_CMD_H
#define MTLSCA_CMD_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "cmd/config.h"

int cmd_init(int argc, char **argv, struct config *cfg);
int cmd_import(int argc, char **argv, struct config *cfg);
int cmd_sign(int argc, char **argv, struct config *cfg);
int cmd_list(int argc, char **argv, struct config *cfg);
int cmd_show(int argc, char **argv, struct config *cfg);
int cmd_revoke(int argc, char **argv, struct config *cfg);
int cmd_crl(int argc, char **argv, struct config *cfg);
/* The service (issue 4). */
int cmd_serve(int argc, char **argv, struct config *cfg);
int cmd_token(int argc, char **argv, struct config *cfg);
int cmd_audit(int argc, char **argv, struct config *cfg);
/* Publishing (issue 5). */
int cmd_publish(int argc, char **argv, struct config *cfg);
int cmd_status(int argc, char **argv, struct config *cfg);
/* The verifier on the command line (issue 13). */
int cmd_verify(int argc, char **argv, struct config *cfg);

/* CLI polish (issue 14): admin token rotation, shell completion. */
int cmd_admin(int argc, char **argv, struct config *cfg);
int cmd_completion(int argc, char **argv, struct config *cfg);
/* CA rotation (issue 12): `mtlsca ca rotate|list`. */
int cmd_ca(int argc, char **argv, struct config *cfg);

/* The client side (issue 11): enrollment, renewal, PKCS#12. */
int cmd_enroll(int argc, char **argv, struct config *cfg);
int cmd_renew(int argc, char **argv, struct config *cfg);
int cmd_export_p12(int argc, char **argv, struct config *cfg);

/*
 * Publishing wiring (cmd_publish.c), also used by `serve` and `status`: the
 * publisher set built from the configuration's publishers (free with
 * publish_set_free()); without a CA (NULL), a read-only set.
 */
struct ca;
struct store;
struct publish_set;
int cmd_publishers_open(const struct config *cfg, struct ca *ca,
    struct store *st, struct publish_set **out, struct ca_error *err);
/* The same for read-only AWS calls (publish_dry_run, publish_latest_crls):
   nothing is put, run or written. */
/* The same for a retiring CA's publishers (its namespace ns, "ca-<id>"). */
int cmd_publishers_open_ns(const struct config *cfg, struct ca *ca,
    struct store *st, const char *ns, struct publish_set **out,
    struct ca_error *err);
/* ca rotate: the publishers' state moves from from_ns to to_ns. */
int cmd_publish_state_move(const struct config *cfg, struct store *st,
    const char *from_ns, const char *to_ns, struct ca_error *err);
int cmd_publishers_open_dry_ns(const struct config *cfg, struct ca *ca,
    struct store *st, const char *ns, struct publish_set **out,
    struct ca_error *err);
int cmd_publishers_open_dry(const struct config *cfg, struct ca *ca,
    struct store *st, struct publish_set **out, struct ca_error *err);

/* Backup and restore (issue 12, cmd_backup.c). */
int cmd_backup(int argc, char **argv, struct config *cfg);
int cmd_restore(int argc, char **argv, struct config *cfg);
/* serve's backup schedule (config "backup"): a thread; *out NULL when the
   configuration has none. cfg, ca and st must outlive it. */
struct cmd_backup_sched;
int cmd_backup_sched_start(const struct config *cfg, struct ca *ca,
    struct store *st, struct cmd_backup_sched **out, struct ca_error *err);
void cmd_backup_sched_stop(struct cmd_backup_sched *b);
/*
 * Bring the store up to the newest CRLs this CA published: public/crl.der,
 * then (with ca, which opens the publishers) each s3 publisher's
 * crl/latest.der, through crl_recover (the CRL number counter raised above
 * them, their revocations the store lacks recorded again). Without ca, the
 * CA certificate's DER (ca_der) checks the local CRL only. *newest (may be
 * NULL): the highest number seen, 0 if none.
 */
int cmd_recover_published(const struct config *cfg, struct ca *ca,
    const uint8_t *ca_der, size_t ca_len, struct store *st,
    uint64_t *newest, struct ca_error *err);

#endif
