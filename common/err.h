/*
 * One error space for every module (STYLE.md). Library codes (MDB_*,
 * GNUTLS_E_*) are translated at the module boundary; only http/ maps these to
 * HTTP statuses.
 */
#ifndef MTLSCA_COMMON_ERR_H
#define MTLSCA_COMMON_ERR_H

enum ca_err {
	CA_OK = 0,
	CA_ENOMEM = -1,
	CA_EINVAL = -2,
	CA_ENOENT = -3,
	CA_EEXIST = -4,
	CA_EIO = -5,
	CA_EMALF = -6,		/* malformed input: bad PEM, bad DER, bad JSON */
	CA_EPOLICY = -7,	/* well formed, refused by policy (key too small...) */
	CA_ETOOBIG = -8,	/* over a configured cap */
	CA_ESPACE = -9,		/* store full */
	CA_ECRYPTO = -10,	/* GnuTLS failure not caused by the input */
	CA_EAUTH = -11,		/* missing or wrong credentials */
	CA_EFORBIDDEN = -12,	/* authenticated, but not allowed */
};

/*
 * What went wrong, for the caller to show: a code and one sentence. A
 * refusal (a request well formed but not allowed) also names its rule with
 * a short stable token, reason ("token_bound_cn", "admin_subject"...: a
 * static string, for audit entries and machine-readable answers); NULL for
 * anything that is not a refusal. ca/ca.h lists the enrollment reasons.
 */
struct ca_error {
	int		 code;
	char		 msg[256];
	const char	*reason;
};

/* A short fixed description of code ("malformed input"). Never NULL. */
const char *ca_strerror(int code);

/* A stable lower-case token for code ("malformed"), used in JSON errors. */
const char *ca_errname(int code);

/*
 * Fill *e (which may be NULL) with code and a printf-style sentence (and no
 * reason) and return code, so that callers can write
 * `return ca_error_set(e, ...)`. The message is truncated to fit.
 */
int ca_error_set(struct ca_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As ca_error_set, for a refusal: also sets e->reason (a static string). */
int ca_refuse(struct ca_error *e, int code, const char *reason,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Reset *e to CA_OK with an empty message and no reason. NULL-safe. */
void ca_error_clear(struct ca_error *e);

#endif
