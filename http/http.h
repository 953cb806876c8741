/*
 * http/ — the service behind `mtlsca serve`: an HTTPS listener (the JSON API
 * and the public files), an optional plain-HTTP listener (public files
 * only: /crl, /crl.pem, /ca.pem, /healthz, /metrics) and an optional
 * verify listener (plain HTTP: GET /v1/verify for proxies, and the public
 * files). Thin: it parses,
 * authorises, calls ca/ (enrollment: ca_enroll) and crl/, and encodes the
 * answer. Only this module maps enum ca_err to HTTP statuses, and only it
 * includes <microhttpd.h>.
 *
 * Functions return CA_OK or a negative enum ca_err and fill *err.
 */
#ifndef MTLSCA_HTTP_HTTP_H
#define MTLSCA_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"
#include "common/err.h"
#include "crl/crl.h"
#include "store/store.h"

struct http_server;
struct publish_set;

enum http_threading {
	/* One thread per HTTPS connection, blocking on its commit: the
	   default, chosen by measurement (see server.c). */
	HTTP_THREADING_PER_CONNECTION = 0,
	/* One epoll loop per core (http_options.threads), each with a
	   listening socket of its own (SO_REUSEPORT), suspending a
	   connection while its certificate is committed. */
	HTTP_THREADING_POOL = 1,
};

/* The most event loops one listener runs (http_options.threads). */
#define HTTP_LOOPS_MAX	64

/* As a port: bind any free port (read it back with http_server_port). */
#define HTTP_PORT_EPHEMERAL	0x10000u

/*
 * Where the verifier (GET /v1/verify: is this client certificate good
 * right now?) reads the certificate a proxy forwards.
 */
enum http_verify_source {
	/* ALB passthrough: X-Amzn-Mtls-Clientcert, the URL-encoded PEM of
	   the chain the client sent, leaf first */
	HTTP_VERIFY_ALB_PASSTHROUGH = 0,
	/* ALB verify mode: X-Amzn-Mtls-Clientcert-Leaf (URL-encoded PEM),
	   or without it the -Serial-Number and -Issuer headers (the serial's
	   live status) */
	HTTP_VERIFY_ALB_VERIFY,
	/* nginx: $ssl_client_escaped_cert (URL-encoded PEM) in a header,
	   X-Ssl-Client-Cert unless named; Envoy's %DOWNSTREAM_PEER_CERT% is
	   the same encoding */
	HTTP_VERIFY_NGINX,
	/* HAProxy: %[ssl_c_der,base64] in a header, X-Ssl-Client-Der unless
	   named */
	HTTP_VERIFY_HAPROXY,
	/* Envoy: the Cert field of X-Forwarded-Client-Cert (its last
	   element: the closest proxy's), set with forward_client_cert_details
	   SANITIZE_SET and set_current_client_cert_details { cert: true } */
	HTTP_VERIFY_ENVOY,
};

/* The most trusted_proxies ranges. */
#define HTTP_VERIFY_PROXIES_MAX	32

struct http_verify_options {
	/* A listener of its own (plain HTTP) serving only the verifier (and
	   /metrics, /healthz, the public files), never the API; 0: none. */
	unsigned		 port;
	const char		*listen;	/* IP literal; NULL = 127.0.0.1 */
	/* Another path answering as /v1/verify there, and every path below
	   it (nginx auth_request; Envoy's ext_authz appends the request's
	   path to its path_prefix); NULL: none. */
	const char		*path;
	enum http_verify_source	 source;
	const char		*header;	/* NULL: the source's */
	const char		*serial_header;	/* ALB verify; NULL: ALB's */
	const char		*issuer_header;	/* ALB verify; NULL: ALB's */
	/* Addresses allowed to send these headers, as "10.0.0.0/8",
	   "::1"; none: 127.0.0.1 and ::1. Copied. */
	const char *const	*trusted_proxies;
	size_t			 n_trusted_proxies;
	size_t			 cache_entries;	/* 0 = 16384 */
	/* Event loops (epoll, SO_REUSEPORT); 0 = two per core (verify.c). */
	unsigned		 threads;
};

struct http_options {
	const char	*listen;		/* IP literal; NULL = 127.0.0.1 */
	unsigned	 https_port;		/* 0 = no HTTPS listener */
	unsigned	 http_port;		/* 0 = no plain-HTTP listener */
	const char	*tls_cert_pem;		/* the server's chain (PEM) */
	const char	*tls_key_pem;		/* its key (PEM) */
	size_t		 body_max;		/* 0 = 64 KiB */
	unsigned	 max_connections;	/* 0 = 256 */
	unsigned	 per_ip_connections;	/* 0 = 64 */
	unsigned	 timeout;		/* seconds; 0 = 30 */
	unsigned	 request_timeout;	/* seconds (deadline.c); 0 = 10 */
	/* With 3/4 of max_connections open, for a slot held without a
	   request in progress; seconds, 0 = 2 (at most request_timeout). */
	unsigned	 request_timeout_busy;
	/* Connections one address may hold without a request; 0 = 32. */
	unsigned	 per_ip_pending;
	unsigned	 threads;		/* 0 = number of cores */
	enum http_threading threading;
	unsigned	 batch_max;		/* certificates per commit; 0 = 256 */

	/* Profiles; profiles[0] is the default. Copied. */
	const struct ca_profile	*profiles;
	size_t			 n_profiles;
	/* Static per-profile enrollment tokens. Copied. */
	const struct ca_static_token *tokens;
	size_t			 n_tokens;

	/* Admins: by client certificate SHA-256 or RFC 4514 subject, or by
	   the SHA-256 of an admin token. Copied. */
	const uint8_t		(*admin_fingerprints)[CA_HASH_LEN];
	size_t			 n_admin_fingerprints;
	const char *const	*admin_subjects;
	size_t			 n_admin_subjects;
	const uint8_t		(*admin_token_hashes)[CA_HASH_LEN];
	size_t			 n_admin_token_hashes;

	/* The publishers (may be NULL): /healthz asks publish_health() and
	   /metrics adds publish_metrics(). Borrowed; must outlive the
	   server. */
	struct publish_set	*publishers;
	/* Retiring CAs (CA rotation; borrowed): their clients still log in
	   and verify, /ca.pem and the TLS trust list name them too. */
	struct ca *const	*retiring_cas;
	size_t			 n_retiring_cas;
	/* Their CRL schedules, in the same order (GET /crls.pem). */
	struct crl_schedule *const *retiring_scheds;
	/* The verifier behind the load balancer (http/verify.c). */
	struct http_verify_options verify;
};

/*
 * Bind the listeners and start serving; enrollment goes through a
 * ca_enroller made from the options. ca, st and sched (may be NULL: no CRL
 * endpoints) are borrowed and must outlive the server. *out: stop with
 * http_server_stop().
 */
int http_server_start(const struct http_options *opt, struct ca *ca,
    struct store *st, struct crl_schedule *sched, struct http_server **out,
    struct ca_error *err);

/*
 * A reload: what can change while serving — profiles, static tokens,
 * admins (through the enroller: requests in flight finish under the old
 * ones), body_max, request_timeout, request_timeout_busy, per_ip_pending.
 * The rest of opt (listeners, TLS, threading, connection limits, the
 * verifier's listener) is read at start only. CA_OK, or an error and
 * nothing changed.
 */
int http_server_reconfigure(struct http_server *s,
    const struct http_options *opt, struct ca_error *err);

/* Put pubs in place of the publishers /healthz and /metrics read (NULL:
   none) and return the previous set: no request uses it any more, the
   caller may free it. */
struct publish_set *http_server_publishers(struct http_server *s,
    struct publish_set *pubs);

/* The port a listener is bound to (useful with port 0), or 0 if none. */
unsigned http_server_port(const struct http_server *s, bool https);
/* The verify listener's port, or 0 if none. */
unsigned http_server_verify_port(const struct http_server *s);

/* Is text a verify.trusted_proxies range ("10.0.0.0/8", "::1")? CA_EINVAL
   with a sentence otherwise (the configuration checks it at load). */
int http_verify_proxy_check(const char *text, struct ca_error *err);

/*
 * Stop accepting, let requests in flight finish (at most a few seconds),
 * stop the listeners and the enroller's committer, and free. NULL-safe.
 */
void http_server_stop(struct http_server *s);

/* The HTTP status for an enum ca_err (DESIGN: only http/ knows this). */
unsigned http_status_for(int code);

#endif
