/*
 * http/ internals shared by its .c files. Not a public header.
 */
#ifndef MTLSCA_HTTP_HTTP_INT_H
#define MTLSCA_HTTP_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <jansson.h>
#include <microhttpd.h>

#include "http/http.h"

enum route {
	ROUTE_CRL = 0,		/* GET /crl */
	ROUTE_CRL_PEM,		/* GET /crl.pem */
	ROUTE_CA_PEM,		/* GET /ca.pem */
	ROUTE_HEALTHZ,		/* GET /healthz */
	ROUTE_METRICS,		/* GET /metrics */
	ROUTE_ENROLL,		/* POST /v1/certificates */
	ROUTE_RENEW,		/* POST /v1/certificates/renew */
	ROUTE_CERT_LIST,	/* GET /v1/certificates */
	ROUTE_CERT_GET,		/* GET /v1/certificates/{serial} */
	ROUTE_CERT_REVOKE,	/* POST /v1/certificates/{serial}/revoke */
	ROUTE_CRL_RUN,		/* POST /v1/crl */
	ROUTE_CRL_STATUS,	/* GET /v1/crl/status */
	ROUTE_UNKNOWN,		/* 404 */
	ROUTE_COUNT
};

/* A serial in a URL, with its NUL: up to 21 octets (20, and a leading 00
   when the first has its top bit set) as "7F:0A:..", as `openssl x509
   -text` prints them. serial_parse() decides whether it is a serial. */
#define HTTP_SERIAL_TEXT_MAX	(3 * (SERIAL_MAX + 1))

/* Statuses the metrics count separately; anything else goes to "other". */
#define HTTP_STATUS_SLOTS	16
#define HTTP_BUCKETS		14

struct http_metrics {
	atomic_ullong	 requests[ROUTE_COUNT][HTTP_STATUS_SLOTS];
	/* per bucket, not cumulative: the last is (5 s, +Inf) */
	atomic_ullong	 buckets[ROUTE_COUNT][HTTP_BUCKETS];
	atomic_ullong	 duration_us[ROUTE_COUNT];
	atomic_ullong	*issued;	/* per profile, n_profiles */
	atomic_ullong	 renewed;
	atomic_ullong	 revocations;
	atomic_ullong	 commits;	/* write transactions of the committer */
	atomic_ullong	 committed;	/* certificates in them */
	atomic_ullong	 request_timeouts;	/* connections cut (deadline.c) */
};

/* A certificate waiting for its write transaction (enroll.c). */
struct commit_item {
	struct commit_item	*next;
	struct cert_record	 rec;		/* borrows the request's buffers */
	bool			 use_token;
	uint8_t			 token_hash[HTTP_HASH_LEN];
	char			 who[96];
	char			 action[16];
	char			 detail[256];
	/* result */
	int			 rc;
	struct ca_error		 err;
	bool			 done;
	bool			 resolved;	/* committer's own */
	/* completion: resume the suspended connection, or wake the thread */
	struct MHD_Connection	*conn;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cond;
	bool			 sync_init;
};

struct committer {
	pthread_t		 thread;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cond;
	struct commit_item	*head, **tail;
	size_t			 queued;
	bool			 stop;
	bool			 running;
	unsigned		 batch_max;
	bool			 resume;	/* pool mode: MHD_resume_connection */
	int64_t			 last_start_us;	/* of the last commit */
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
	bool			 init, running, stop;
};

struct http_req {
	struct http_server	*srv;
	bool			 https;
	enum route		 route;
	int64_t			 start_us;
	unsigned		 status;
	char			 serial[HTTP_SERIAL_TEXT_MAX];	/* from the URL */
	uint8_t			*body;
	size_t			 body_len, body_cap;
	bool			 too_big;
	/* enrollment in flight */
	int			 phase;		/* 0 new, 1 committing, 2 done */
	int			 tries;
	bool			 enrolling;	/* counted in srv->enrolling */
	struct ca_issued	 iss;
	bool			 pem_chain;	/* Accept: pem-certificate-chain */
	struct commit_item	 item;
};

struct listener {
	struct MHD_Daemon	*d[HTTP_LOOPS_MAX];	/* n started */
	size_t			 n;
	struct http_server	*srv;
	bool			 https;
	unsigned		 port;
};

struct http_server {
	struct ca		*ca;
	struct store		*st;
	struct crl_schedule	*sched;
	struct publish_set	*publishers;	/* NULL when none */

	/* copies of the options */
	char			 listen[64];
	size_t			 body_max;
	enum http_threading	 threading;
	struct ca_profile	*profiles;
	size_t			 n_profiles;
	struct http_static_token *tokens;
	size_t			 n_tokens;
	uint8_t			(*admin_fps)[HTTP_HASH_LEN];
	size_t			 n_admin_fps;
	char			**admin_subjects;
	size_t			 n_admin_subjects;
	uint8_t			(*admin_tokens)[HTTP_HASH_LEN];
	size_t			 n_admin_tokens;
	char			*tls_cert;
	char			*tls_key;
	int64_t			 tls_not_after;	/* of tls_cert's leaf */

	struct listener		 https, http;
	struct committer	 committer;
	struct http_deadlines	 deadlines;
	struct http_metrics	 metrics;
	atomic_int		 inflight;	/* requests being handled */
	atomic_int		 enrolling;	/* issuing, not yet committed */
	atomic_bool		 stopping;
};

/* ---- deadline.c: slow clients ---- */

/* Start and stop the watchdog; stop after the daemons. */
int http_deadlines_start(struct http_server *s, unsigned request_s,
    unsigned idle_s, struct ca_error *err);
void http_deadlines_stop(struct http_server *s);
/* MHD_OPTION_NOTIFY_CONNECTION (cls: the listener). */
void http_conn_notify(void *cls, struct MHD_Connection *c,
    void **socket_context, enum MHD_ConnectionNotificationCode code);
/* The whole request is in: no deadline while it is answered. */
void http_conn_received(struct http_server *s, struct MHD_Connection *c);
/* Answered: the next request's clock starts (idle time included). */
void http_conn_answered(struct http_server *s, struct MHD_Connection *c);

/* ---- parse.c: request parsing without a socket (fuzzed) ---- */

/* The route of a URL path; a serial in it is copied to serial (at most
   serial_size bytes with the NUL, checked: hex digits and ':'). */
enum route http_route_match(const char *url, char *serial,
    size_t serial_size);

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

/* ---- server.c: responses ---- */
int64_t http_now_us(void);
enum MHD_Result http_respond(struct http_req *r, struct MHD_Connection *c,
    unsigned status, const char *ctype, void *buf, size_t len, bool owned);
enum MHD_Result http_respond_json(struct http_req *r,
    struct MHD_Connection *c, unsigned status, json_t *obj);
enum MHD_Result http_respond_error(struct http_req *r,
    struct MHD_Connection *c, unsigned status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
enum MHD_Result http_respond_caerr(struct http_req *r,
    struct MHD_Connection *c, const struct ca_error *e);

/* ---- auth.c ---- */
/* A Bearer token's SHA-256; false when there is no Authorization header. */
int http_bearer_hash(struct MHD_Connection *c, uint8_t out[HTTP_HASH_LEN],
    struct ca_error *err);
bool http_hash_eq(const uint8_t *a, const uint8_t *b);
/*
 * The client certificate of an HTTPS connection, checked against the CA
 * and the store (known, not revoked). CA_ENOENT when none was presented,
 * CA_EFORBIDDEN (with the reason) when it does not pass. rec may be NULL.
 */
int http_peer(struct http_server *s, struct MHD_Connection *c,
    struct ca_peer *peer, struct cert_record *rec, struct ca_error *err);
/* Is subject (RFC 4514, as ca_peer_check gives it) an admin subject? */
bool http_admin_subject(const struct http_server *s, const char *subject);
/* Admin by client certificate or admin token; who gets a label. */
int http_auth_admin(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c, char *who, size_t who_size,
    struct ca_error *err);

/* ---- enroll.c ---- */
int http_committer_start(struct http_server *s, struct ca_error *err);
void http_committer_stop(struct http_server *s);
enum MHD_Result http_enroll(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c);
void http_req_item_release(struct http_req *r);

/* ---- admin.c ---- */
enum MHD_Result http_admin(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c);

/* ---- metrics.c ---- */
int http_metrics_init(struct http_server *s);
void http_metrics_free(struct http_server *s);
void http_metrics_request(struct http_server *s, enum route route,
    unsigned status, int64_t duration_us);
void http_metrics_issued(struct http_server *s, const char *profile);
enum MHD_Result http_metrics_render(struct http_server *s,
    struct http_req *r, struct MHD_Connection *c);

/* Profile by name (NULL = default, profiles[0]); NULL when unknown. */
const struct ca_profile *http_profile(const struct http_server *s,
    const char *name);

#endif
