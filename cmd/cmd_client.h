/*
 * cmd/ internals of the client commands (enroll, renew, export-p12): what
 * they share on top of client/ — secrets read from a file or a terminal,
 * PKCS#12 files, the checks of an issued certificate and the clock
 * warnings. Not a public header: nothing outside cmd/ includes it.
 */
#ifndef MTLSCA_CMD_CMD_CLIENT_H
#define MTLSCA_CMD_CMD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"
#include "common/err.h"
#ifdef MTLSCA_HAVE_CLIENT
#include "client/client.h"
#endif

/* `renew --if-due` when the certificate is not due (cmd/cmd.h lists the
   others: 0 renewed, 1 failed, 2 usage). */
#define CMD_NOT_DUE	3

/* A warning on stderr when clocks disagree by more than this (seconds). */
#define CMD_SKEW_WARN	300

#define CMD_SECRET_MAX	1024

/*
 * A secret (token, PKCS#12 password): the first line of file when file is
 * not NULL (at most CMD_SECRET_MAX - 1 bytes, not empty); else, when a
 * terminal is there, typed without echo after prompt (twice when confirm).
 * CA_EINVAL with a sentence naming option, the option that gives it from a
 * file, when there is neither.
 */
int cmd_secret_read(const char *file, const char *prompt, bool confirm,
    const char *option, char out[CMD_SECRET_MAX], struct ca_error *err);

/* "AES-256-CBC, PBKDF2-SHA256, SHA-256 MAC" or the legacy triple. */
const char *cmd_p12_label(enum ca_p12_mode mode);

/*
 * Build a PKCS#12 file from key and certificates (leaf first) and write it
 * atomically with mode 0600 (it holds the key).
 */
int cmd_p12_write(const char *path, const char *key_pem, size_t key_len,
    const char *certs_pem, size_t certs_len, enum ca_p12_mode mode,
    const char *password, const char *name, struct ca_error *err);

#ifdef MTLSCA_HAVE_CLIENT
/*
 * Check what a server issued before anything is written: a certificate for
 * key_pem, signed by the CA that came with it. Fills *leaf.
 */
int cmd_issued_check(const struct client_issued *iss, const char *key_pem,
    size_t key_len, struct client_cert_info *leaf, struct ca_error *err);

/*
 * Warn on stderr when this machine's clock and the server's (its Date
 * header) differ by more than CMD_SKEW_WARN, and when the certificate's
 * notBefore is still ahead of this machine's clock.
 */
void cmd_clock_warn(const struct client_issued *iss,
    const struct client_cert_info *leaf);
#endif

/* "3d 4h", "2h 5m", "45s": a duration for messages. */
void cmd_duration(int64_t seconds, char *out, size_t size);

/* leaf, then a newline if it lacks one, then ca: a malloc'd chain. */
char *cmd_chain_join(const char *leaf, const char *ca);

#endif
