/*
 * Part of aws/'s public interface; include "aws/aws.h".
 *
 * AWS Signature Version 4. libcurl 7.88's CURLOPT_AWS_SIGV4 neither sorts
 * query parameters nor adds x-amz-content-sha256, so the client signs its
 * own requests with this small signer built on GnuTLS's SHA-256 and HMAC.
 *
 * Also here: a growable byte buffer (wiped when freed: it may have held a
 * secret) that the client and its users share.
 */
#ifndef MTLSCA_AWS_SIGV4_H
#define MTLSCA_AWS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* ---- growable buffer, always NUL-terminated when len > 0 ---- */
struct awsbuf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};
int awsbuf_add(struct awsbuf *b, const void *p, size_t n);
int awsbuf_puts(struct awsbuf *b, const char *s);
int awsbuf_printf(struct awsbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Wipe (the buffer may have held a secret) and free. NULL-safe. */
void awsbuf_free(struct awsbuf *b);
/* Hand the bytes to the caller (NUL-terminated; "" when empty). */
char *awsbuf_take(struct awsbuf *b);

/* RFC 3986 unreserved characters stay, every other byte becomes %XX (upper
 * case); with keep_slash, '/' stays too (S3 object keys). */
int sigv4_uri_encode(struct awsbuf *b, const char *s, size_t len,
    bool keep_slash);

/* Lower-case hex SHA-256 of data into out[65]. */
int sigv4_sha256_hex(const void *data, size_t len, char out[65]);

struct sigv4_kv {
	const char	*name;
	const char	*value;
};

struct sigv4_credentials {
	const char	*access_key;
	const char	*secret_key;
	const char	*session_token;		/* NULL or "" when none */
};

#define SIGV4_HEADERS_MAX	24
#define SIGV4_QUERY_MAX		32

struct sigv4_request {
	const char		*method;	/* "GET", "PUT", "POST" */
	const char		*path;		/* raw, not percent-encoded */
	const struct sigv4_kv	*query;		/* raw names and values */
	size_t			 n_query;
	const struct sigv4_kv	*headers;	/* must include Host */
	size_t			 n_headers;
	const void		*body;
	size_t			 body_len;
	/*
	 * S3 rules: the path is not normalised (an object key may hold "//"
	 * or "/./") and x-amz-content-sha256 carries the body's hash and is
	 * signed. Other services: the path's dot segments and repeated
	 * slashes are normalised first.
	 */
	bool			 s3;
};

struct sigv4_result {
	char	*canonical_request;	/* owned */
	char	*string_to_sign;	/* owned */
	char	*authorization;		/* owned: the Authorization value */
	char	*canonical_query;	/* owned: what to put after '?' */
	char	*canonical_path;	/* owned: what to put in the URL */
	char	 amz_date[17];		/* YYYYMMDDTHHMMSSZ */
	char	 payload_hash[65];	/* hex SHA-256 of the body */
};
void sigv4_result_clear(struct sigv4_result *r);

/*
 * Sign req at amz_date ("YYYYMMDDTHHMMSSZ"). The canonical headers are the
 * request's plus x-amz-date, x-amz-security-token (when there is a session
 * token) and, for S3, x-amz-content-sha256, each added only when the caller
 * did not give it; the caller must send those with the values in *out
 * (amz_date, payload_hash, the token). Nothing secret is put in *out: the
 * signing key is derived, used and wiped here.
 * CA_EINVAL on a malformed date or missing Host; CA_ENOMEM; CA_ECRYPTO.
 */
int sigv4_sign(const struct sigv4_request *req,
    const struct sigv4_credentials *cred, const char *region,
    const char *service, const char *amz_date, struct sigv4_result *out,
    struct ca_error *err);

/* Format t (seconds since the epoch) as YYYYMMDDTHHMMSSZ. */
void sigv4_amz_date(int64_t t, char out[17]);

#endif
