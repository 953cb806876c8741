/*
 * Subcommands. Each takes the argv after the subcommand name (argv[0] is the
 * subcommand) and the loaded configuration, and returns the process exit
 * status: 0 success, 1 failure (message already printed to stderr),
 * 2 usage error.
 */
#ifndef MTLSCA_CMD_CMD_H
#define MTLSCA_CMD_CMD_H

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

#endif
