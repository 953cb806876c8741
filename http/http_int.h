/*
 * http/ internals shared by its .c files. Not a public header.
 */
#ifndef MTLSCA_HTTP_HTTP_INT_H
#define MTLSCA_HTTP_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>
#include <jansson.h>
#include <microhttpd.h>

#include "common/pem.h"
#include "http/http.h"

struct http_server;
struct http_req;

/* Methods a route answers; GET also answers HEAD. */
enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_POST = 1 << 1,
};

/*
 * Who may call a route. The dispatcher (server.c) authenticates before the
 * handler runs; all but HTTP_AUTH_PUBLIC are served over HTTPS only.
 */
enum http_auth {
	HTTP_AUTH_PUBLIC = 0,	/* anyone, on both listeners */
	HTTP_AUTH_ADMIN,	/* admin certificate or admin token: r->who */
	HTTP_AUTH_ENROLL,	/* "Authorization: Bearer TOKEN": r->grant */
	HTTP_AUTH_RENEW,	/* this CA's client certificate: r->grant */
	/* "Authorization: Basic" (RFC 7617) with an enrollment token as the
	   password: r->grant (EST, est.c) */
	HTTP_AUTH_ENROLL_BASIC,
	/* a trusted proxy's address (verify.trusted_proxies); served on
	   the verify listener only (verify.c) */
	HTTP_AUTH_PROXY,
};

/*
 * The conventions a route answers by. HTTP_PROTO_API: errors as JSON
 * (respond.c), statuses by http_status_for. HTTP_PROTO_EST (RFC 7030):
 * HTTPS only, even where no credentials are needed; errors as text/plain
 * with the same sentence, statuses by RFC 7030 (http_est_status).
 */
enum http_proto {
	HTTP_PROTO_API = 0,
	HTTP_PROTO_EST,
};

typedef enum MHD_Result (*http_handler)(struct http_server *s,
    struct http_req *r, struct MHD_Connection *c);

/*
 * One row per route and method set (routes.c). A pattern is a path whose
 * segments are literal or one parameter, copied to r->param when it fits:
 * "{serial}" (hex digits and ':', as serial_parse reads them) or "{name}"
 * (a profile name: letters, digits, '-', '_', '.'). Rows with the same
 * pattern share the path (GET /v1/certificates lists, POST enrolls).
 */
struct http_route {
	const char	*pattern;
	unsigned	 methods;	/* enum http_method bits */
	enum http_auth	 auth;
	enum http_proto	 proto;
	http_handler	 handler;
	const char	*metric;	/* its route="..." label in /metrics */
	const char	*hint;		/* said on a 405, or NULL */
};

extern const struct http_route	http_routes[];
extern const size_t		http_n_routes;

/* Rows the metrics count (one more for "other"). */
#define HTTP_ROUTES_MAX		32

/* A serial in a URL, with its NUL: up to 21 octets (20, and a leading 00
   when the first has its top bit set) as "7F:0A:..", as `openssl x509
   -text` prints them. serial_parse() decides whether it is a serial. */
#define HTTP_SERIAL_TEXT_MAX	(3 * (SERIAL_MAX + 1))
/* A URL parameter ({serial} or {name}), with its NUL. */
#define HTTP_PARAM_MAX		HTTP_SERIAL_TEXT_MAX

/* Profile names the metrics count apart (the config allows fewer). */
#define HTTP_PROFILES_MAX	64

/* Statuses the metrics count separately; anything else goes to "other". */
#define HTTP_STATUS_SLOTS	16
#define HTTP_BUCKETS		14

struct http_metrics {
	/* per row of http_routes, and [http_n_routes] for "other" */
	atomic_ullong	 requests[HTTP_ROUTES_MAX + 1][HTTP_STATUS_SLOTS];
	/* per bucket, not cumulative: the last is (5 s, +Inf) */
	atomic_ullong	 buckets[HTTP_ROUTES_MAX + 1][HTTP_BUCKETS];
	atomic_ullong	 duration_us[HTTP_ROUTES_MAX + 1];
	/* per profile name, kept across reloads (a profile that goes keeps
	   its count): names appended under issued_mu, counts atomic */
	struct {
		char		name[STORE_PROFILE_MAX];
		atomic_ullong	n;
	}		 issued[HTTP_PROFILES_MAX];
	atomic_size_t	 n_issued;
	pthread_mutex_t	 issued_mu;
	atomic_ullong	 renewed;
	atomic_ullong	 revocations;
	atomic_ullong	 request_timeouts;	/* connections cut (deadline.c) */
	atomic_ullong	 tls_refused;	/* handshakes refused (tlsguard.c) */
	atomic_ullong	 audited;	/* refusals and reads written */
	atomic_ullong	 audit_dropped;	/* not itemized, or not written */
	atomic_ullong	 refused_pending;	/* over http.per_ip_pending */
	atomic_ullong	 evicted;	/* slots taken for a newcomer */
	atomic_llong	 slots_log_us;	/* last log line about either */
	atomic_ullong	 slots_quiet;
	atomic_llong	 tls_refused_log_us;	/* last log line about them */
	atomic_ullong	 tls_refused_quiet;	/* not logged since */
};

/* Request deadlines and their watchdog (deadline.c). */
struct http_conn;
struct http_deadlines {
	pthread_mutex_t		 mu;		/* guards the list and stop */
	pthread_cond_t		 cond;
	pthread_t		 thread;
	struct http_conn	*head;		/* open connections */
	int64_t			 request_us;	/* http.request_timeout */
	int64_t			 idle_us;	/* http.timeout */
	int64_t			 busy_us;	/* http.request_timeout_busy */
	unsigned		 max_open;	/* http.max_connections */
	unsigned		 per_ip_pending;	/* http.per_ip_pending */
	unsigned		 open;		/* connections in the list */
	bool			 init, running, stop;
};

struct http_req {
	struct http_server	*srv;
	bool			 https;
	int64_t			 start_us;
	unsigned		 status;
	/* the route (http_route_match) */
	const struct http_route	*route;		/* for the method; NULL: 405 */
	int			 path_row;	/* -1: no such path (404) */
	int			 row;		/* route's row, -1 */
	unsigned		 allow;		/* the path's methods (405) */
	bool			 https_only;	/* the path is the API's */
	unsigned		 metric;	/* row counted, or "other" */
	char			 param[HTTP_PARAM_MAX];	/* from the URL */
	uint8_t			*body;
	size_t			 body_len, body_cap;
	bool			 too_big;
	size_t			 drained;	/* bytes of a body over the cap */
	/* who is calling (the route's auth class) */
	char			 who[160];	/* HTTP_AUTH_ADMIN */
	/* what the audit of a refusal says: who was presented (a token's
	   hash prefix, a certificate's fingerprint), the rule, the sentence */
	char			 presented[CA_WHO_MAX];
	const char		*reason;
	char			 refusal[512];
	char			 method[8];
	struct ca_grant		 grant;		/* HTTP_AUTH_ENROLL, _RENEW */
	/* enrollment in flight (enroll.c) */
	int			 phase;		/* 0 new, 1 committing, 2 done */
	atomic_int		 commit_state;	/* pool mode's hand-over */
	struct MHD_Connection	*conn;		/* to resume (pool mode) */
	bool			 pem_chain;	/* Accept: pem-certificate-chain */
	struct ca_enrolled	 res;
};

struct listener {
	struct MHD_Daemon	*d[HTTP_LOOPS_MAX];	/* n started */
	size_t			 n;
	struct http_server	*srv;
	bool			 https;
	bool			 verify;	/* the verify listener */
	char			 addr[64];	/* "": the server's listen */
	unsigned		 port;
};

#define HTTP_CAS_MAX	8	/* the active CA and retiring ones */

struct http_server {
	struct ca		*ca;
	struct store		*st;
	struct crl_schedule	*sched;
	/* NULL when none; swapped by a reload under pub_lock, which the
	   handlers that read it hold */
	struct publish_set	*publishers;
	/* The active CA and the retiring ones (verifier, trust list), and
	   their certificates as one PEM text (/ca.pem). */
	struct ca		*cas[HTTP_CAS_MAX];
	struct crl_schedule	*scheds[HTTP_CAS_MAX];	/* [0]: sched */
	size_t			 n_cas;
	char			*ca_pems;
	pthread_rwlock_t	 pub_lock;

	/* copies of the options */
	char			 listen[64];
	atomic_size_t		 body_max;	/* a reload may change it */
	enum http_threading	 threading;
	char			*tls_cert;
	char			*tls_key;
	int64_t			 tls_not_after;	/* of tls_cert's leaf */
	atomic_uint		 longest_days;	/* of the profiles: the CA's
						   expiry warning (metrics);
						   changes on SIGHUP */

	struct ca_enroller	*enroller;	/* profiles, tokens, admins */
	struct http_auditor	*auditor;	/* refusals and reads (audit.c) */
	struct http_verify	*verify;	/* verify.c, and the verifier */
	struct ca_verifier	*verifier;	/* every client certificate */
	struct listener		 https, http, vlistener;
	struct http_deadlines	 deadlines;
	struct http_metrics	 metrics;
	atomic_int		 inflight;	/* requests being handled */
	atomic_bool		 stopping;
};

/* ---- deadline.c: slow clients ---- */

/* The limits deadline.c enforces. */
struct http_slots {
	unsigned	request_s;	/* http.request_timeout */
	unsigned	idle_s;		/* http.timeout */
	unsigned	busy_s;		/* http.request_timeout_busy */
	unsigned	max_open;	/* http.max_connections */
	unsigned	per_ip_pending;	/* http.per_ip_pending */
};
/* Start and stop the watchdog; stop after the daemons. */
int http_deadlines_start(struct http_server *s, const struct http_slots *slots,
    struct ca_error *err);
/* New limits (a reload); idle_s and max_open stay as they are. */
void http_deadlines_set(struct http_server *s, const struct http_slots *slots);
/* MHD's accept policy (cls: the listener): the per-address cap on
   connections without a request, and eviction at the limit. */
enum MHD_Result http_conn_accept(void *cls, const struct sockaddr *addr,
    socklen_t addrlen);
void http_deadlines_stop(struct http_server *s);
/* MHD_OPTION_NOTIFY_CONNECTION (cls: the listener). */
void http_conn_notify(void *cls, struct MHD_Connection *c,
    void **socket_context, enum MHD_ConnectionNotificationCode code);
/* The whole request is in: no deadline while it is answered. */
void http_conn_received(struct http_server *s, struct MHD_Connection *c);
/* Answered: the next request's clock starts (idle time included). */
void http_conn_answered(struct http_server *s, struct MHD_Connection *c);
/* The server a connection belongs to (NULL before it is started). */
struct http_server *http_conn_server(struct MHD_Connection *c);

/* ---- audit.c: refusals and admin reads in the audit log ---- */

struct http_auditor;
int http_auditor_start(struct http_server *s, struct ca_error *err);
/* Writes what is queued, repeats included. */
void http_auditor_stop(struct http_server *s);
/*
 * Queue an audit entry (no I/O): action "refuse" or "read", who a label
 * (never a secret), detail the sentence. key names its kind (peer, route,
 * reason): the first of a kind in a minute is written, the next ones
 * counted into one "repeat" entry. peer and reason ("" for none) are the
 * log line's fields. NULL-safe.
 */
void http_audit_note(struct http_auditor *a, const char *action,
    const char *key, const char *who, const char *peer, const char *reason,
    const char *detail);
/* The request's audit entry, if it is one (completed_cb). */
void http_audit_request(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c);

/* ---- tlspush.c: an answer's header and body in one send ---- */

struct http_tls_push;
/* Put the send side of an HTTPS connection's session (its socket fd)
   through tlspush.c; NULL (GnuTLS's own send stays) when out of memory. */
struct http_tls_push *http_tls_push_install(gnutls_session_t sess, int fd);
/* The same over fd, attached to no session (tests); NULL when out of
   memory. */
struct http_tls_push *http_tls_push_new(int fd);
/* What writes to the socket: sendmsg(2); a test's stand-in that takes
   few octets at a time. */
typedef ssize_t (*http_tls_sender)(int fd, const struct msghdr *msg,
    int flags);
void http_tls_push_set_sender(struct http_tls_push *p, http_tls_sender send);
/* The session's push function (GnuTLS's gnutls_vec_push_func): ptr is the
   struct http_tls_push. */
ssize_t http_tls_push_vec(gnutls_transport_ptr_t ptr, const giovec_t *iov,
    int iovcnt);
/* Keep the next record (an answer's header) to send it with the one after
   (its body). Only for an answer with a body. */
void http_tls_push_hold(struct http_tls_push *p);
/* Send what is kept, if anything (the request is complete). */
void http_tls_push_flush(struct http_tls_push *p);
/* Free p, once the connection is closed. The session it was installed in
   is not touched (libmicrohttpd may have freed it already) and must not
   write again. */
void http_tls_push_free(struct http_tls_push *p);
/* Arm it for the answer being queued on c (deadline.c keeps it). */
void http_conn_hold_answer(struct MHD_Connection *c);

/* ---- tlsguard.c: the client certificate, before its signature ---- */

/*
 * A TLS Certificate handshake message (RFC 5246 section 7.4.2; with tls13,
 * RFC 8446 section 4.4.2): its first certificate (borrowed from msg) and
 * the number of certificates. CA_EMALF when the lengths do not add up.
 */
int http_tls_cert_msg_parse(const uint8_t *msg, size_t len, bool tls13,
    const uint8_t **leaf, size_t *leaf_len, size_t *count);
/* Whether the handshake may go on with this message: no certificate, or a
   chain of at most 4 whose leaf's key ALB accepts (ca_cert_key_check). */
int http_tls_cert_msg_check(const uint8_t *msg, size_t len, bool tls13,
    struct ca_error *err);
/* Hook the check into a new HTTPS connection's TLS session. */
void http_tls_guard_install(struct MHD_Connection *c);
/* Count a refused handshake and log it (a line a second at most). */
void http_tls_refused(struct http_server *s, const char *peer,
    const char *reason);
/* Log "http: what" (a warning), a line a second at most (whoever wins the race
   to write it), saying when lines were left out since the last. */
void http_log_limited(atomic_llong *last_us, atomic_ullong *quiet,
    const char *what);
/* A client address as text ("192.0.2.7", "2001:db8::7"). */
void http_addr_text(const struct sockaddr *sa, char *out, size_t size);
/* c's client address as text, "?" when unknown. */
void http_conn_peer_text(struct MHD_Connection *c, char *out, size_t size);

/* ---- parse.c: request parsing without a socket (fuzzed) ---- */

/* Where a path and method lead in a route table. */
struct http_match {
	int		 row;		/* the row for path and method, or -1 */
	int		 path_row;	/* the first row for path; -1: 404 */
	unsigned	 allow;		/* methods of every row for path */
	bool		 https_only;	/* no row for path is public */
	char		 param[HTTP_PARAM_MAX];	/* row's (or path_row's) */
};

/* The enum http_method bit of a method name (HEAD is GET), or 0. */
unsigned http_method_bit(const char *method);

/* Match path (without the query) and method against routes[0..n). */
void http_route_match(const struct http_route *routes, size_t n,
    const char *path, const char *method, struct http_match *m);

/* Does Content-Type ct name the media type want (parameters ignored)? */
bool http_ctype_is(const char *ct, const char *want);

/* An enrollment body: the CSR (PEM or DER) with its profile and days. */
struct http_body {
	const uint8_t	*csr;		/* in the body, or in json */
	size_t		 csr_len;
	char		 profile[STORE_PROFILE_MAX];	/* "" = none asked */
	unsigned	 days;		/* 0 = the profile's default */
	json_t		*json;		/* owns csr when the body is JSON */
};

/*
 * Parse an enrollment body of len (> 0 for success) bytes, with its
 * Content-Type ct (NULL: guessed from the first byte) and the profile and
 * days query parameters (NULL when absent). CA_EMALF (400) for a malformed
 * body or parameter, CA_EINVAL (415) for an unsupported Content-Type, each
 * with its sentence. *b borrows body; free with http_body_clear(), also
 * after a failure.
 */
int http_body_parse(const char *ct, const char *q_profile, const char *q_days,
    const uint8_t *body, size_t len, struct http_body *b,
    struct ca_error *err);
void http_body_clear(struct http_body *b);

/* ---- verify_header.c: what a proxy forwards (fuzzed) ---- */

/* Caps on a forwarded certificate header: its bytes, its certificates. */
#define HTTP_VERIFY_HEADER_MAX	(64 * 1024)
#define HTTP_VERIFY_CHAIN_MAX	10

enum http_cert_encoding {
	HTTP_CERT_PEM_URLENCODED = 0,	/* ALB, nginx, Envoy */
	HTTP_CERT_DER_BASE64,		/* HAProxy's ssl_c_der,base64 */
	HTTP_CERT_XFCC,			/* Envoy's X-Forwarded-Client-Cert */
};

/*
 * A certificate header's value (len bytes, at most HTTP_VERIFY_HEADER_MAX)
 * into its certificates, leaf first: percent-decoding ('+' stays '+') and
 * at most HTTP_VERIFY_CHAIN_MAX PEM blocks, or one base64 DER, or the
 * URL-encoded PEM in the Cert field of XFCC's last element. CA_EMALF /
 * CA_ETOOBIG with the sentence; on success *out owns the DER
 * (pem_certs_clear).
 */
int http_verify_header_decode(const char *value, size_t len,
    enum http_cert_encoding enc, struct pem_certs *out, struct ca_error *err);

/* An address range of verify.trusted_proxies. */
struct http_cidr {
	uint8_t		addr[16];
	size_t		len;		/* 4 or 16 */
	unsigned	prefix;
};
/* "10.0.0.0/8", "192.0.2.7" (a /32), "2001:db8::/32"; an IPv4-mapped
   IPv6 range is its IPv4 one. CA_EINVAL with a sentence, bits set past
   the prefix included. */
int http_cidr_parse(const char *text, struct http_cidr *out,
    struct ca_error *err);
/* Is sa (IPv4, IPv6, v4-mapped IPv6) in one of c[0..n)? */
bool http_cidr_match(const struct http_cidr *c, size_t n,
    const struct sockaddr *sa);
/* in as printable ASCII for a header: a byte outside 0x20-0x7e becomes
   \XX (rfc4514, a valid RFC 4514 escape) or %XX. NULL: out of memory. */
char *http_header_text(const char *in, bool rfc4514);

/* ---- verify.c: GET /v1/verify and the verify listener ---- */

/* Make the verifier (and its cache) and, with opt->port, the verify
   listener's state; the listener itself starts with the others. */
int http_verify_start(struct http_server *s, const struct http_options *opt,
    struct ca_error *err);
void http_verify_stop(struct http_server *s);
/* The path the verify listener answers as /v1/verify (verify.path), or
   url itself. */
const char *http_verify_path(const struct http_server *s,
    const struct listener *l, const char *url);
/* NULL when l serves the path r matched, else why not (a 404). */
const char *http_listener_refuses(const struct listener *l,
    const struct http_req *r);
/* Is sa in verify.trusted_proxies? */
bool http_verify_trusted(const struct http_server *s,
    const struct sockaddr *sa);
/* HTTP_AUTH_PROXY's route: the peer must be a trusted proxy (checked
   first), then the verification. */
enum MHD_Result http_verify(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c);
/* The verifier's series for /metrics (malloc'd text, NULL: none). */
char *http_verify_metrics(struct http_server *s);

/* ---- respond.c: answers and the JSON error shape ---- */

/* A body of len bytes (owned: freed with free() once sent). A 405 carries
   r->allow as its Allow header, a 401 the challenge of the route's auth
   class (Basic for EST, else Bearer). */
enum MHD_Result http_respond(struct http_req *r, struct MHD_Connection *c,
    unsigned status, const char *ctype, void *buf, size_t len, bool owned);
/* The same, with more headers: hdrs is NULL or name, value, ..., NULL. */
enum MHD_Result http_respond_hdrs(struct http_req *r,
    struct MHD_Connection *c, unsigned status, const char *ctype, void *buf,
    size_t len, bool owned, const char *const *hdrs);
/* obj (stolen; NULL: 500 out of memory) as compact JSON. */
enum MHD_Result http_respond_json(struct http_req *r,
    struct MHD_Connection *c, unsigned status, json_t *obj);
/* The status RFC 7030 gives a refusal of code on a route of auth class
   (http_status_for's for the API). */
unsigned http_est_status(int code, enum http_auth auth);
/* {"error": code, "message": "..."}; on an HTTP_PROTO_EST route, the
   message alone as text/plain. */
enum MHD_Result http_respond_error(struct http_req *r,
    struct MHD_Connection *c, unsigned status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* e as an error answer: http_status_for(e->code) (http_est_status on an
   HTTP_PROTO_EST route), ca_errname(e->code). */
enum MHD_Result http_respond_caerr(struct http_req *r,
    struct MHD_Connection *c, const struct ca_error *e);

/* ---- server.c ---- */
int64_t http_now_us(void);
/* The public files (HTTP_AUTH_PUBLIC routes). */
enum MHD_Result http_serve_crl(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c);
enum MHD_Result http_serve_crl_pem(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c);
enum MHD_Result http_serve_crls_pem(struct http_server *s,
    struct http_req *r, struct MHD_Connection *c);
enum MHD_Result http_serve_ca(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c);
enum MHD_Result http_serve_healthz(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c);

/* ---- auth.c ---- */
/* A Bearer token's SHA-256; CA_ENOENT when there is no Authorization
   header. */
int http_bearer_hash(struct MHD_Connection *c, uint8_t out[CA_HASH_LEN],
    struct ca_error *err);
/*
 * The client certificate of an HTTPS connection, checked against the CA
 * and the store (ca_peer_verify). CA_ENOENT when none was presented,
 * CA_EFORBIDDEN (with the reason) when it does not pass. rec may be NULL.
 */
int http_peer(struct http_server *s, struct MHD_Connection *c,
    struct ca_peer *peer, struct cert_record *rec, struct ca_error *err);
/* The route's auth class: fills r->who or r->grant, or says why not. */
int http_authorize(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c, struct ca_error *err);

/* ---- enroll.c: POST /v1/certificates and /v1/certificates/renew ---- */
enum MHD_Result http_enroll(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c);

/*
 * Enroll csr (PEM or DER) under r->grant for profile and days, the
 * connection's way (server.c's threading): true when r->res holds the
 * outcome, to be answered now; false when the connection is suspended
 * until the commit, after which the route's handler runs again with
 * r->phase == 1 and answers then. csr is not kept.
 */
bool http_enroll_submit(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c, const uint8_t *csr, size_t csr_len,
    const char *profile, unsigned days);
/* Count r->res's certificate in the metrics (issued, renewed) and log
   its issuance, once (c: the peer's address). */
void http_enroll_count(struct http_server *s, const struct http_req *r,
    struct MHD_Connection *c);

/* ---- est.c, est_parse.c: EST (RFC 7030) under /.well-known/est/ ---- */
enum MHD_Result http_est_cacerts(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c);
enum MHD_Result http_est_enroll(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c);
enum MHD_Result http_est_csrattrs(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c);
/* HTTP_AUTH_ENROLL_BASIC: the token in the Basic credentials, r->grant. */
int http_est_auth(struct http_server *s, struct MHD_Connection *c,
    struct ca_grant *g, struct ca_error *err);

/* An Authorization header's Basic credentials (RFC 7617 section 2). */
#define HTTP_BASIC_USER_MAX	STORE_CN_MAX	/* with its NUL */
#define HTTP_BASIC_PASS_MAX	512		/* with its NUL */
/*
 * Parse "Basic BASE64(user:password)" (the scheme in any case): the user
 * (up to the first ':', may be empty) and the password (not empty), both
 * without NUL or control characters. CA_ENOENT when h is NULL, CA_EAUTH
 * when it is another scheme, CA_EFORBIDDEN for credentials that cannot be
 * a token (bad base64, no ':', too long...). pass is wiped on failure.
 */
int http_basic_parse(const char *h, char user[HTTP_BASIC_USER_MAX],
    char pass[HTTP_BASIC_PASS_MAX], struct ca_error *err);

/*
 * An EST enrollment body (RFC 7030 section 4.2.1): Content-Type ct must be
 * application/pkcs10 (CA_EINVAL, 415, otherwise); the body is the request's
 * DER in base64 (RFC 4648), line breaks and other whitespace allowed,
 * whatever a Content-Transfer-Encoding header says (RFC 8951: ignored).
 * On success *der owns a malloc'd buffer of *der_len bytes (at most
 * CA_CSR_MAX, starting with a SEQUENCE). CA_EMALF (400) for a body that is
 * not base64 DER, CA_ETOOBIG (413) over the cap, each with its sentence.
 */
int http_est_body_decode(const char *ct, const uint8_t *body, size_t len,
    uint8_t **der, size_t *der_len, struct ca_error *err);

/* ---- admin.c ---- */
enum MHD_Result http_cert_list(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c);
enum MHD_Result http_cert_get(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c);
enum MHD_Result http_cert_revoke(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c);
enum MHD_Result http_crl_run(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c);
enum MHD_Result http_crl_status(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c);

/* ---- metrics.c ---- */
int http_metrics_init(struct http_server *s);
void http_metrics_free(struct http_server *s);
/* metric: a row of http_routes, or http_n_routes for "other". */
void http_metrics_request(struct http_server *s, unsigned metric,
    unsigned status, int64_t duration_us);
void http_metrics_issued(struct http_server *s, const char *profile);
/* Add k to profile's count (0: make it show). */
void http_metrics_issued_add(struct http_server *s, const char *profile,
    unsigned long long k);
enum MHD_Result http_metrics_render(struct http_server *s,
    struct http_req *r, struct MHD_Connection *c);

#endif
