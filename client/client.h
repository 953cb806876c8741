/*
 * client/ — the client side of enrollment, for `mtlsca enroll` and
 * `mtlsca renew`: CSRs for a key that never leaves the machine, the facts
 * and checks a client needs about certificates (fingerprints, validity, does
 * it match my key, did my CA sign it, when is it due for renewal), and the
 * HTTPS calls to a mtlsca server (libcurl built on GnuTLS; this module owns
 * <curl/curl.h> beside aws/, both outbound clients).
 *
 * It sits beside http/ above ca/ (docs/design-notes.md): it uses ca/ for
 * keys and key types, and never the store or the CA's own key.
 *
 * Every function returns CA_OK or a negative enum ca_err and fills *err
 * (may be NULL) with a sentence for the person at the terminal.
 */
#ifndef MTLSCA_CLIENT_CLIENT_H
#define MTLSCA_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"
#include "common/err.h"
#include "common/util.h"

/* ---- subjectAltNames ---- */

enum client_san_type {
	CLIENT_SAN_DNS, CLIENT_SAN_IP, CLIENT_SAN_EMAIL, CLIENT_SAN_URI,
};

struct client_san {
	enum client_san_type	type;
	char			value[CA_NAME_MAX];	/* text form */
	uint8_t			ip[16];			/* CLIENT_SAN_IP */
	size_t			ip_len;			/* 4 or 16 */
};

/*
 * "dns:host.example", "ip:10.0.0.1", "ip:2001:db8::1", "email:a@b.example",
 * "uri:spiffe://example/x" (the prefix in either case; "DNS:", "IP:" as
 * openssl writes them). Without a prefix the kind is guessed as step does:
 * an IP literal, an address with '@', a URI with "://", else a DNS name.
 * CA_EINVAL with a sentence for anything else.
 */
int client_san_parse(const char *spec, struct client_san *out,
    struct ca_error *err);

/* ---- CSRs (RFC 2986) ---- */

/*
 * A CSR for key_pem (PEM, unencrypted) with subject CN=cn and the given
 * subjectAltNames, signed with SHA-256 (SHA-384 for P-384, SHA-512 for
 * P-521). On success *csr_pem owns a malloc'd NUL-terminated PEM.
 */
int client_csr_new(const char *key_pem, size_t key_len, const char *cn,
    const struct client_san *sans, size_t n_sans, char **csr_pem,
    struct ca_error *err);

/*
 * A renewal CSR for key_pem (the current key or a new one): the subject and
 * subjectAltNames of the first certificate in cert_pem, copied exactly
 * (renewal keeps the identity; the server checks that it does).
 */
int client_csr_renewal(const char *key_pem, size_t key_len,
    const char *cert_pem, size_t cert_len, char **csr_pem,
    struct ca_error *err);

/* ---- certificates ---- */

#define CLIENT_FP_HEX	65	/* 64 hex digits + NUL */

struct client_cert_info {
	char		serial[SERIAL_HEX_MAX + 2];	/* upper-case hex */
	char		subject[1024];			/* RFC 4514 */
	int64_t		not_before;
	int64_t		not_after;
	uint8_t		fingerprint[32];		/* SHA-256 of the DER */
	unsigned	n_certs;	/* certificates in the PEM text */
};

/* Facts about the first certificate of a PEM text (a leaf or a chain). */
int client_cert_info(const char *pem, size_t len,
    struct client_cert_info *out, struct ca_error *err);

/*
 * Was the first certificate of cert_pem signed by a certificate of ca_pem
 * (RFC 5280 §6.1, chain up to one of them)? Validity times are not checked
 * here: callers compare them with the clock and say what they found.
 * CA_EPOLICY with the reason otherwise.
 */
int client_cert_verify(const char *cert_pem, size_t cert_len,
    const char *ca_pem, size_t ca_len, struct ca_error *err);

/*
 * A SHA-256 fingerprint as people paste it: 64 hex digits, either case,
 * with or without ':' (or space) separators, optionally after "sha256:",
 * "SHA256 Fingerprint=" (openssl x509 -fingerprint) and the like.
 */
int client_fingerprint_parse(const char *text, uint8_t out[32],
    struct ca_error *err);

/* Lower-case hex without separators, the form `serve` prints. */
void client_fingerprint_format(const uint8_t fp[32], char out[CLIENT_FP_HEX]);

/*
 * Trust bootstrap (step's model): find the certificate of a CA bundle whose
 * SHA-256 fingerprint is fp. On success *pem owns it as a malloc'd PEM.
 * CA_EPOLICY when none matches, with both fingerprints in the sentence
 * (what was expected, what the bundle holds).
 */
int client_bundle_pick(const char *bundle, size_t len, const uint8_t fp[32],
    char **pem, struct ca_error *err);

/*
 * The renewal point: two thirds of the validity (step's default), so that
 * a failed renewal leaves a third of the lifetime to retry and to notice.
 */
int64_t client_renew_due(int64_t not_before, int64_t not_after);

/* ---- HTTPS calls to a mtlsca server ---- */

struct client_conn {
	const char	*server;	/* "https://ca.example:8443" (a path
					   prefix is kept) */
	const char	*ca_file;	/* trust anchors for the server; NULL
					   only for client_ca_fetch */
	const char	*cert_file;	/* TLS client certificate (renewal) */
	const char	*key_file;	/* its key */
	long		 timeout_s;	/* whole request; 0 = 60 */
};

/* What the server answered: the certificate and what came with it. */
struct client_issued {
	char	*cert_pem;		/* owned: the new certificate */
	char	*ca_pem;		/* owned: the issuing CA (bundle) */
	char	 profile[64];
	int64_t	 server_date;		/* its Date header; 0 if none */
	int64_t	 local_date;		/* time_now() when it answered */
};
void client_issued_clear(struct client_issued *iss);

/*
 * The server's answer to an enrollment or a renewal (HTTP status and body,
 * untrusted bytes; pure, so that tests/fuzz/fuzz_client.c drives it). 201:
 * "certificate" and "ca" of the JSON object into out->cert_pem and
 * out->ca_pem (owned; client_issued_clear()) and "profile"; the dates are
 * left alone. Anything else: the enum ca_err of the status (401 CA_EAUTH,
 * 403 CA_EFORBIDDEN, 409 CA_EEXIST, 422 CA_EPOLICY...) with the server's
 * "message", or the status and the start of a body that is not ours.
 * The certificate is not checked here (cmd/ does, against the key and CA).
 */
int client_answer_parse(long status, const char *body, size_t len,
    struct client_issued *out, struct ca_error *err);

/*
 * GET <server>/ca.pem over TLS WITHOUT verifying the server: the caller
 * must check the bundle against a fingerprint before trusting it, and sends
 * nothing secret on this connection. *bundle owns a malloc'd NUL-terminated
 * text of *len bytes.
 */
int client_ca_fetch(const struct client_conn *c, char **bundle, size_t *len,
    struct ca_error *err);

/*
 * POST <server>/v1/certificates with "Authorization: Bearer token", the
 * server verified against c->ca_file. profile NULL/"" and days 0 leave the
 * choice to the server. Refusals: CA_EAUTH (401), CA_EFORBIDDEN (403),
 * CA_EPOLICY (422), CA_EMALF (400), CA_EEXIST (409)... with the server's
 * own message; CA_EIO when the server cannot be reached.
 */
int client_enroll(const struct client_conn *c, const char *token,
    const char *csr_pem, const char *profile, unsigned days,
    struct client_issued *out, struct ca_error *err);

/*
 * POST <server>/v1/certificates/renew over mutual TLS with c->cert_file and
 * c->key_file (the certificate being renewed). days 0: the server's choice.
 * A certificate the server already renewed gets CA_EEXIST (409).
 */
int client_renew(const struct client_conn *c, const char *csr_pem,
    unsigned days, struct client_issued *out, struct ca_error *err);

#endif
