/*
 * The listeners, the request life cycle, the dispatch on the route table
 * (routes.c) and the public endpoints.
 *
 * Threading, chosen by measurement (tests/bench/http_bench.sh; 2 cores,
 * wrk with 32 keep-alive clients on the same cores). The default is one
 * thread per HTTPS connection, which signs and then blocks on its commit
 * (ca/enroll.c's committer batches certificates into one LMDB write
 * transaction and wakes each thread once its batch is durable); the kernel
 * spreads the signing over the cores. Its cost, a thread and its stack per
 * open HTTPS connection, is bounded by http.max_connections (default 256).
 *
 * The pool (HTTP_THREADING_POOL, http.threading = "pool") runs one epoll
 * loop per core, which suspends a connection while its certificate is
 * committed and serves others meanwhile. A connection stays on the loop
 * that accepted it, so each loop has a listening socket of its own on the
 * same port (SO_REUSEPORT) and the kernel spreads new connections between
 * them. With libmicrohttpd's own thread pool, which shares one socket, one
 * loop often took most of the keep-alive clients while another core
 * idled (P-256 runs from 2,178 to 3,640 certificates/s). With a socket per
 * loop, 6 alternating runs of each mode (a noisy 2-core VM; HTTPS rate
 * as a share of the in-process rate measured in the same run):
 *   P-256:    pool 41-61 %, median 52 %;  per connection 40-55 %, median 52 %
 *   RSA-2048: pool 74-85 %, median 77 %;  per connection 62-79 %, median 73 %
 * and a lower RSA p99 in the pool (64-103 ms against 110-507 ms). Not
 * enough, on this machine, to change the default.
 *
 * The plain-HTTP listener serves small public files and never blocks: one
 * epoll thread either way.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <jansson.h>
#include <microhttpd.h>

#include "ca/ca.h"
#include "common/pem.h"
#include "common/log.h"
#include "common/util.h"
#include "crl/crl.h"
#include "http/http_int.h"
#include "publish/publish.h"

#define DEFAULT_BODY_MAX	(64 * 1024)
#define DEFAULT_CONNECTIONS	256
#define DEFAULT_PER_IP		64
#define DEFAULT_TIMEOUT		30
#define DEFAULT_REQUEST_TIMEOUT	10
#define DEFAULT_REQUEST_TIMEOUT_BUSY	2
#define DEFAULT_PER_IP_PENDING	32
#define STOP_GRACE_MS		10000
/* Over the cap but below this, an announced body is drained, not stored. */
#define DRAIN_MAX		(1024 * 1024)
/*
 * The request line and headers are capped here (URL_MAX, HEADERS_MAX), so
 * that the answer is ours (JSON, 414 or 431); libmicrohttpd's own limit,
 * its connection memory (headers and its buffers; bodies are collected
 * outside it), is set well above, and only a request past it gets
 * libmicrohttpd's own HTML answer.
 */
#define URL_MAX			(8 * 1024)
#define HEADERS_MAX		(16 * 1024)
#define CONNECTION_MEMORY	(64 * 1024)
/*
 * The verify listener takes a forwarded chain of up to 64 KiB. No more
 * memory than that needs: libmicrohttpd zeroes a connection's whole pool
 * before each request on it (256 KiB made memset a fifth of the CPU).
 */
#define VERIFY_HEADERS_MAX	(HTTP_VERIFY_HEADER_MAX + 8 * 1024)
#define VERIFY_CONNECTION_MEMORY (96 * 1024)
/*
 * RFC 8446 and 5246 only: TLS 1.0/1.1 are deprecated (RFC 8996). The
 * signature algorithms, which the CertificateRequest offers to clients,
 * are the ones ALB accepts: SHA-256/384/512 with RSA (PKCS#1 v1.5 or PSS)
 * or ECDSA; no SHA-1, no SHA-224.
 */
#define TLS_PRIORITIES		"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
	"-SIGN-ALL:+SIGN-RSA-SHA256:+SIGN-RSA-SHA384:+SIGN-RSA-SHA512:" \
	"+SIGN-RSA-PSS-RSAE-SHA256:+SIGN-RSA-PSS-RSAE-SHA384:" \
	"+SIGN-RSA-PSS-RSAE-SHA512:+SIGN-RSA-PSS-SHA256:+SIGN-RSA-PSS-SHA384:" \
	"+SIGN-RSA-PSS-SHA512:+SIGN-ECDSA-SHA256:+SIGN-ECDSA-SHA384:" \
	"+SIGN-ECDSA-SHA512:+SIGN-ECDSA-SECP256R1-SHA256:" \
	"+SIGN-ECDSA-SECP384R1-SHA384:+SIGN-ECDSA-SECP521R1-SHA512"

int64_t
http_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- public endpoints ---- */

static void
snapshot_release_cb(void *cls)
{
	crl_snapshot_release(cls);
}

static enum MHD_Result
serve_crl(struct http_server *s, struct http_req *r, struct MHD_Connection *c,
    bool pem)
{
	struct crl_snapshot	*snap = crl_schedule_current(s->sched);
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;

	if (snap == NULL)
		return http_respond_error(r, c, 503, "no_crl", "no CRL has "
		    "been generated yet");
	resp = MHD_create_response_from_buffer_with_free_callback_cls(
	    pem ? snap->pem_len : snap->der_len,
	    pem ? (void *)snap->pem : (void *)snap->der,
	    snapshot_release_cb, snap);
	if (resp == NULL) {
		crl_snapshot_release(snap);
		return MHD_NO;
	}
	/* RFC 5280 §4.2.1.13 / RFC 2585 §4.2: application/pkix-crl (DER). */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    pem ? "application/x-pem-file" : "application/pkix-crl");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-cache");
	r->status = 200;
	ret = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

/*
 * GET /crls.pem: the active CA's CRL, then each retiring CA's, in one PEM
 * text, for the TLS terminators that take every CRL from one file (nginx's
 * ssl_crl): with CRL checks on, OpenSSL refuses a client whose CA has no
 * CRL there. /crl.pem stays one CRL (ALB's rule).
 */
enum MHD_Result
http_serve_crls_pem(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c)
{
	struct crl_snapshot	*snap[HTTP_CAS_MAX];
	size_t			 n = 0, len = 0;
	char			*buf;

	for (size_t i = 0; i < s->n_cas; i++) {
		if (s->scheds[i] == NULL)
			continue;
		if ((snap[n] = crl_schedule_current(s->scheds[i])) == NULL) {
			for (size_t k = 0; k < n; k++)
				crl_snapshot_release(snap[k]);
			return http_respond_error(r, c, 503, "no_crl", "no CRL "
			    "has been generated yet");
		}
		len += snap[n++]->pem_len + 1;
	}
	if ((buf = malloc(len + 1)) == NULL) {
		for (size_t k = 0; k < n; k++)
			crl_snapshot_release(snap[k]);
		return http_respond_error(r, c, 500, "no_memory",
		    "out of memory");
	}
	len = 0;
	for (size_t k = 0; k < n; k++) {
		memcpy(buf + len, snap[k]->pem, snap[k]->pem_len);
		len += snap[k]->pem_len;
		if (snap[k]->pem_len > 0 && buf[len - 1] != '\n')
			buf[len++] = '\n';
		crl_snapshot_release(snap[k]);
	}
	return http_respond(r, c, 200, "application/x-pem-file", buf, len,
	    true);
}

/*
 * The ALB trust-store bundle: PEM only, no blank lines, no text before or
 * after (DESIGN.md, "CA bundle"). Built from the CA's PEM with any "\r",
 * blank line or text outside BEGIN/END removed.
 */
static char *
ca_bundle(const char *pem)
{
	size_t	 n = strlen(pem);
	char	*out = malloc(n + 2), *o = out;
	bool	 inside = false;

	if (out == NULL)
		return NULL;
	while (*pem != '\0') {
		const char	*eol = strchr(pem, '\n');
		size_t		 len = eol ? (size_t)(eol - pem) : strlen(pem);
		size_t		 l = len;

		while (l > 0 && (pem[l - 1] == '\r' || pem[l - 1] == ' '))
			l--;
		if (l >= 11 && strncmp(pem, "-----BEGIN ", 11) == 0)
			inside = true;
		if (inside && l > 0) {
			memcpy(o, pem, l);
			o += l;
			*o++ = '\n';
		}
		if (l >= 9 && strncmp(pem, "-----END ", 9) == 0)
			inside = false;
		pem += len + (eol ? 1 : 0);
	}
	*o = '\0';
	return out;
}

enum MHD_Result
http_serve_crl(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c)
{
	return serve_crl(s, r, c, false);
}

enum MHD_Result
http_serve_crl_pem(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c)
{
	return serve_crl(s, r, c, true);
}

/* The active CA first, then the retiring ones (options). */
static int
cas_copy(struct http_server *s, struct ca *ca, const struct http_options *opt,
    struct ca_error *err)
{
	size_t len = 0;

	if (opt->n_retiring_cas + 1 > HTTP_CAS_MAX)
		return ca_error_set(err, CA_ETOOBIG, "more than %d retiring CAs",
		    HTTP_CAS_MAX - 1);
	s->scheds[0] = s->sched;
	s->cas[s->n_cas++] = ca;
	for (size_t i = 0; i < opt->n_retiring_cas; i++) {
		s->scheds[s->n_cas] = opt->retiring_scheds != NULL ?
		    opt->retiring_scheds[i] : NULL;
		s->cas[s->n_cas++] = opt->retiring_cas[i];
	}
	for (size_t i = 0; i < s->n_cas; i++) {
		const char *p = ca_cert_pem(s->cas[i]);

		if (pem_cat(&s->ca_pems, &len, p, strlen(p)) != CA_OK)
			return ca_error_set(err, CA_ENOMEM, "out of memory");
	}
	return CA_OK;
}

enum MHD_Result
http_serve_ca(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c)
{
	char *b = ca_bundle(s->ca_pems);

	if (b == NULL)
		return http_respond_error(r, c, 500, "no_memory",
		    "out of memory");
	return http_respond(r, c, 200, "application/x-pem-file", b,
	    strlen(b), true);
}

/*
 * Healthy while a CRL exists and is younger than two thirds of its
 * validity (past that, a refresh has been missed more than once and a
 * relying party may soon hold an expired CRL), and while the publishers
 * keep up (publish_health).
 */
enum MHD_Result
http_serve_healthz(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c)
{
	struct crl_schedule_status	st;
	int64_t				now = time_now(), limit;
	int				hrc;
	char				nu[21];

	memset(&st, 0, sizeof(st));
	crl_schedule_status(s->sched, &st);
	if (!st.have_crl)
		return http_respond_error(r, c, 503, "no_crl", "no CRL has "
		    "been generated%s%s", st.last_error[0] ? ": " : "",
		    st.last_error);
	limit = st.this_update + (st.next_update - st.this_update) * 2 / 3;
	time_format(st.next_update, nu);
	if (now > limit)
		return http_respond_error(r, c, 503, "crl_stale", "CRL %llu is "
		    "past two thirds of its validity without a refresh "
		    "(nextUpdate %s)%s%s", (unsigned long long)st.number, nu,
		    st.last_error[0] ? "; last error: " : "", st.last_error);
	/* Published where relying parties read it, within publish.max_lag. */
	pthread_rwlock_rdlock(&s->pub_lock);
	if (s->publishers != NULL) {
		struct publish_health	h;
		struct ca_error		e;

		memset(&h, 0, sizeof(h));
		ca_error_clear(&e);
		hrc = publish_health(s->publishers, &h, &e);
		pthread_rwlock_unlock(&s->pub_lock);
		if (hrc != CA_OK)
			return http_respond_error(r, c, 503, "store", "%s",
			    e.msg);
		if (!h.ok)
			return http_respond_error(r, c, 503, h.reason, "%s",
			    h.message);
	} else
		pthread_rwlock_unlock(&s->pub_lock);
	return http_respond_json(r, c, 200, json_pack("{s:s, s:I, s:s}",
	    "status", "ok", "crl_number", (json_int_t)st.number,
	    "crl_next_update", nu));
}

/* ---- the request life cycle ---- */

/* The announced Content-Length, 0 when absent (chunked) or unparsable
   (libmicrohttpd refuses those itself). */
static uint64_t
content_length(struct MHD_Connection *c)
{
	const char	*cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t	 n;

	if (cl == NULL || parse_u64(cl, 0, UINT64_MAX, &n) != CA_OK)
		return 0;
	return n;
}

/* Sum of the lengths of a request's values of one kind (and their keys). */
static enum MHD_Result
add_length(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	size_t *n = cls;

	(void)kind;
	*n += strlen(key) + (value != NULL ? strlen(value) : 0) + 4;
	return MHD_YES;
}

static size_t
values_length(struct MHD_Connection *c, enum MHD_ValueKind kind)
{
	size_t n = 0;

	MHD_get_connection_values(c, kind, add_length, &n);
	return n;
}

/* The route table's verdict on the request (matched on its headers). */
static void
route(struct http_req *r, const char *url, const char *method)
{
	struct http_match m;

	http_route_match(http_routes, http_n_routes, url, method, &m);
	r->path_row = m.path_row;
	r->row = m.row;
	r->route = m.row >= 0 ? &http_routes[m.row] : NULL;
	r->allow = m.allow;
	r->https_only = m.https_only;
	memcpy(r->param, m.param, sizeof(r->param));
	/* Counted under its row; a refusal before one, under its path's. */
	r->metric = m.path_row >= 0 ? (unsigned)m.path_row :
	    (unsigned)http_n_routes;
}

static enum MHD_Result
dispatch(struct http_server *s, struct listener *l, struct http_req *r,
    struct MHD_Connection *c, const char *method)
{
	struct ca_error	 err;
	const char	*why;

	if (r->path_row < 0)
		return http_respond_error(r, c, 404, "not_found", "no such "
		    "resource");
	/* Tokens and admin actions only over TLS; the verifier on its own
	   listener, which serves nothing else (verify.c). */
	if ((why = http_listener_refuses(l, r)) != NULL)
		return http_respond_error(r, c, 404, "not_found", "%s", why);
	if (r->route == NULL)
		return http_respond_error(r, c, 405, "method_not_allowed",
		    "%s is not allowed here%s%s", method,
		    http_routes[r->path_row].hint ? "; " : "",
		    http_routes[r->path_row].hint ?
		    http_routes[r->path_row].hint : "");
	r->metric = (unsigned)r->row;
	ca_error_clear(&err);
	if (http_authorize(s, r, c, &err) != CA_OK)
		return http_respond_caerr(r, c, &err);
	return r->route->handler(s, r, c);
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct listener		*l = cls;
	struct http_server	*s = l->srv;
	struct http_req		*r = *con_cls;
	uint64_t		 cl;

	if (r == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return MHD_NO;
		r->srv = s;
		r->https = l->https;
		r->start_us = http_now_us();
		snprintf(r->method, sizeof(r->method), "%s", method);
		route(r, http_verify_path(s, l, url), method);
		*con_cls = r;
		atomic_fetch_add(&s->inflight, 1);
		if (strlen(url) + values_length(c, MHD_GET_ARGUMENT_KIND) >
		    URL_MAX)
			return http_respond_error(r, c, 414, "uri_too_long",
			    "the request's URL and query are over the limit "
			    "of %d bytes", URL_MAX);
		if (values_length(c, MHD_HEADER_KIND) > (l->verify ?
		    VERIFY_HEADERS_MAX : HEADERS_MAX))
			return http_respond_error(r, c, 431,
			    "headers_too_large", "the request's headers are "
			    "over the limit of %d bytes", l->verify ?
			    VERIFY_HEADERS_MAX : HEADERS_MAX);
		/*
		 * Refuse an announced oversize body before reading any of it
		 * into memory. With "Expect: 100-continue", or a body too big
		 * to be worth draining, the 413 is queued on this headers-only
		 * call (libmicrohttpd then closes the connection). Otherwise
		 * the body is read and dropped as it comes, so that the client,
		 * still sending, gets the 413 rather than a connection reset.
		 */
		if ((cl = content_length(c)) > atomic_load(&s->body_max)) {
			const char *ex = MHD_lookup_connection_value(c,
			    MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);

			if (ex != NULL || cl > DRAIN_MAX)
				return http_respond_error(r, c, 413, "too_big",
				    "the request body is over the limit of %zu "
				    "bytes", atomic_load(&s->body_max));
			r->too_big = true;
		}
		return MHD_YES;
	}
	if (r->status != 0) {
		/* Already answered (413 on the headers): discard. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->too_big) {
		/* Over the cap: drained, never stored, then answered; a body
		   past DRAIN_MAX is not worth reading to the end. */
		if (*upload_data_size > 0) {
			r->drained += *upload_data_size;
			*upload_data_size = 0;
			return r->drained > DRAIN_MAX ? MHD_NO : MHD_YES;
		}
		return http_respond_error(r, c, 413, "too_big", "the request "
		    "body is over the limit of %zu bytes", atomic_load(&s->body_max));
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (n > atomic_load(&s->body_max) - r->body_len) {
			/* A chunked body that overruns: what came is
			   dropped, the rest drained, and the answer is 413
			   as for an announced one. */
			r->too_big = true;
			r->drained = r->body_len + n;
			free(r->body);
			r->body = NULL;
			r->body_len = r->body_cap = 0;
			return MHD_YES;
		}
		if (r->body_len + n > r->body_cap) {
			size_t	 cap = r->body_cap ? r->body_cap * 2 : 4096;
			uint8_t	*b;

			while (cap < r->body_len + n)
				cap *= 2;
			if (cap > atomic_load(&s->body_max))
				cap = atomic_load(&s->body_max);
			if ((b = realloc(r->body, cap + 1)) == NULL)
				return MHD_NO;
			r->body = b;
			r->body_cap = cap;
		}
		memcpy(r->body + r->body_len, upload_data, n);
		r->body_len += n;
		return MHD_YES;
	}
	if (r->body != NULL)
		r->body[r->body_len] = '\0';
	if (r->phase != 0)
		return r->route->handler(s, r, c);	/* resumed (enroll.c) */
	http_conn_received(s, c);
	return dispatch(s, l, r, c, method);
}

static void
completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct listener		*l = cls;
	struct http_req		*r = *con_cls;

	http_conn_answered(l->srv, c);
	if (r == NULL)
		return;
	http_metrics_request(l->srv, r->metric, r->status,
	    http_now_us() - r->start_us);
	http_audit_request(l->srv, r, c);
	ca_enrolled_clear(&r->res);
	free(r->body);
	free(r);
	*con_cls = NULL;
	atomic_fetch_sub(&l->srv->inflight, 1);
}

/* libmicrohttpd hands us its own printf format. */
__attribute__((format(printf, 2, 0)))
static void
log_cb(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_msg(LOG_LEVEL_WARNING, "http: %s", msg);
}

static unsigned
cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

/* A plain bind (SO_REUSEADDR, as libmicrohttpd's own) says EADDRINUSE. */
static bool
port_in_use(const struct sockaddr *sa)
{
	socklen_t	len = sa->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int		fd, one = 1;
	bool		used;

	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return false;	/* MHD_start_daemon will say what is wrong */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	used = bind(fd, sa, len) != 0 && errno == EADDRINUSE;
	close(fd);
	return used;
}

static int
listener_start(struct http_server *s, struct listener *l, bool https,
    unsigned port, const struct http_options *opt, struct ca_error *err)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	struct sockaddr		*sa;
	struct MHD_OptionItem	 ops[24];
	const union MHD_DaemonInfo *di;
	const char		*addr = l->addr[0] != '\0' ? l->addr : s->listen;
	unsigned		 flags = MHD_USE_ERROR_LOG | MHD_USE_ITC;
	unsigned		 loops = 1;
	unsigned		 conns = opt->max_connections ?
	    opt->max_connections : DEFAULT_CONNECTIONS;
	unsigned		 per_ip = opt->per_ip_connections ?
	    opt->per_ip_connections : DEFAULT_PER_IP;
	size_t			 n = 0;

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (port == HTTP_PORT_EPHEMERAL)
		port = 0;
	else if (port > 65535)
		return ca_error_set(err, CA_EINVAL, "port %u is not a TCP port",
		    port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sa = (struct sockaddr *)&sin;
	} else if (inet_pton(AF_INET6, addr, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		sa = (struct sockaddr *)&sin6;
		flags |= MHD_USE_IPv6;
	} else {
		return ca_error_set(err, CA_EINVAL, "listen address '%s' is "
		    "not an IPv4 or IPv6 address", addr);
	}
	sin.sin_port = htons((uint16_t)port);
	sin6.sin6_port = htons((uint16_t)port);
	l->srv = s;
	l->https = https;
	if (https && s->threading == HTTP_THREADING_PER_CONNECTION) {
		flags |= MHD_USE_THREAD_PER_CONNECTION |
		    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
	} else {
		flags |= MHD_USE_EPOLL_INTERNAL_THREAD |
		    MHD_ALLOW_SUSPEND_RESUME;
		/* The plain listener serves small files: one loop. */
		if (https)
			loops = opt->threads ? opt->threads : cores();
		/* The verifier is as busy as the load balancer, and its
		   requests are short: two loops a core, so that a loop
		   the scheduler preempts holds fewer connections waiting
		   (verify.c). */
		if (l->verify)
			loops = opt->verify.threads ? opt->verify.threads :
			    2 * cores();
		if (loops > HTTP_LOOPS_MAX)
			loops = HTTP_LOOPS_MAX;
		/* A few proxies make all the verifier's connections: no
		   per-address cap but the listener's own. */
		if (l->verify)
			per_ip = conns;
		/* The limits are shared out between the loops. */
		conns = (conns + loops - 1) / loops;
		per_ip = (per_ip + loops - 1) / loops;
	}
	/* deadline.c enforces http.max_connections itself, making room for a
	   newcomer by closing the connection that waited longest for a
	   request: libmicrohttpd needs room above it while that one closes. */
	conns += conns / 4 + 2;
	/* First, so that every message goes through it. */
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER,
	    (intptr_t)log_cb, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, sa };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
	    conns, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    per_ip, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT,
	    opt->timeout ? opt->timeout : DEFAULT_TIMEOUT, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    l->verify ? VERIFY_CONNECTION_MEMORY : CONNECTION_MEMORY, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED,
	    (intptr_t)completed_cb, l };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION,
	    (intptr_t)http_conn_notify, l };
	if (loops > 1) {
		/*
		 * SO_REUSEPORT: each loop listens on a socket of its own on
		 * the same port, and the kernel hashes every new connection
		 * to one of them. It would also let a second mtlsca share
		 * the port unnoticed, hence the plain bind first.
		 */
		if (port != 0 && port_in_use(sa))
			return ca_error_set(err, CA_EIO, "cannot listen on %s "
			    "port %u (%s): the port is in use", addr,
			    port, l->verify ? "verify" : https ? "HTTPS" :
			    "HTTP");
		ops[n++] = (struct MHD_OptionItem){
		    MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL };
	}
	/* SIGPIPE is ignored process-wide by `mtlsca serve`. */
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_SIGPIPE_HANDLED_BY_APP,
	    1, NULL };
	if (https) {
		flags |= MHD_USE_TLS;
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0,
		    s->tls_key };
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT,
		    0, s->tls_cert };
		/*
		 * A trust list makes libmicrohttpd send a CertificateRequest
		 * naming our CA (GNUTLS_CERT_REQUEST: asked, not required);
		 * whether a presented certificate is any good is decided per
		 * request (auth.c), against the CA and the store.
		 */
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST,
		    0, (void *)s->ca_pems };
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES,
		    0, (void *)TLS_PRIORITIES };
	}
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	/* The first loop binds (port 0: the kernel picks); the others join. */
	for (l->n = 0; l->n < loops; l->n++) {
		sin.sin_port = htons((uint16_t)port);
		sin6.sin6_port = htons((uint16_t)port);
		l->d[l->n] = MHD_start_daemon(flags, (uint16_t)port,
		    http_conn_accept, l, access_cb, l, MHD_OPTION_ARRAY, ops,
		    MHD_OPTION_END);
		if (l->d[l->n] == NULL)
			return ca_error_set(err, CA_EIO, "cannot listen on %s "
			    "port %u (%s): is the port in use?", addr,
			    port, l->verify ? "verify" : https ? "HTTPS" :
			    "HTTP");
		if (l->n == 0) {
			di = MHD_get_daemon_info(l->d[0],
			    MHD_DAEMON_INFO_BIND_PORT);
			if (di != NULL && di->port != 0)
				port = di->port;
			l->port = port;
		}
	}
	return CA_OK;
}

/* Stop accepting: a listener's sockets close, its connections go on. */
static void
listener_quiesce(struct listener *l)
{
	MHD_socket fd;

	for (size_t i = 0; i < l->n; i++)
		if ((fd = MHD_quiesce_daemon(l->d[i])) != MHD_INVALID_SOCKET)
			close(fd);
}

static void
listener_stop(struct listener *l)
{
	for (size_t i = 0; i < l->n; i++)
		MHD_stop_daemon(l->d[i]);
	l->n = 0;
}

static int
options_copy(struct http_server *s, const struct http_options *opt,
    struct ca_error *err)
{
	struct ca_error	e;

	snprintf(s->listen, sizeof(s->listen), "%s",
	    opt->listen ? opt->listen : "127.0.0.1");
	atomic_init(&s->body_max, opt->body_max ? opt->body_max :
	    DEFAULT_BODY_MAX);
	s->threading = opt->threading;
	if (opt->https_port != 0) {
		if (opt->tls_cert_pem == NULL || opt->tls_key_pem == NULL)
			return ca_error_set(err, CA_EINVAL, "HTTPS needs a "
			    "certificate and a key");
		s->tls_cert = strdup(opt->tls_cert_pem);
		s->tls_key = strdup(opt->tls_key_pem);
		if (s->tls_cert == NULL || s->tls_key == NULL)
			return ca_error_set(err, CA_ENOMEM, "out of memory");
		if (ca_cert_pem_not_after(s->tls_cert, &s->tls_not_after,
		    &e) != CA_OK)
			return ca_error_set(err, CA_EMALF, "the HTTPS "
			    "certificate: %s", e.msg);
	}
	return CA_OK;
}

static void
server_free(struct http_server *s)
{
	if (s == NULL)
		return;
	http_metrics_free(s);
	http_verify_stop(s);
	ca_enroller_free(s->enroller);
	pthread_rwlock_destroy(&s->pub_lock);
	free(s->ca_pems);
	free(s->tls_cert);
	if (s->tls_key != NULL) {
		gnutls_memset(s->tls_key, 0, strlen(s->tls_key));
		free(s->tls_key);
	}
	free(s);
}

/* What the enroller takes of the options (profiles, tokens, admins). */
static void
enroller_options(const struct http_options *opt,
    struct ca_enroller_options *eo)
{
	memset(eo, 0, sizeof(*eo));
	eo->profiles = opt->profiles;
	eo->n_profiles = opt->n_profiles;
	eo->tokens = opt->tokens;
	eo->n_tokens = opt->n_tokens;
	eo->admin_token_hashes = opt->admin_token_hashes;
	eo->n_admin_token_hashes = opt->n_admin_token_hashes;
	eo->admin_fingerprints = opt->admin_fingerprints;
	eo->n_admin_fingerprints = opt->n_admin_fingerprints;
	eo->admin_subjects = opt->admin_subjects;
	eo->n_admin_subjects = opt->n_admin_subjects;
	eo->batch_max = opt->batch_max;
}

/* The limits deadline.c enforces, with their defaults. */
static void
slots_of(const struct http_options *opt, struct http_slots *slots)
{
	slots->request_s = opt->request_timeout ? opt->request_timeout :
	    DEFAULT_REQUEST_TIMEOUT;
	slots->idle_s = opt->timeout ? opt->timeout : DEFAULT_TIMEOUT;
	slots->busy_s = opt->request_timeout_busy ?
	    opt->request_timeout_busy : DEFAULT_REQUEST_TIMEOUT_BUSY;
	if (slots->busy_s > slots->request_s)
		slots->busy_s = slots->request_s;
	slots->max_open = opt->max_connections ? opt->max_connections :
	    DEFAULT_CONNECTIONS;
	slots->per_ip_pending = opt->per_ip_pending ? opt->per_ip_pending :
	    DEFAULT_PER_IP_PENDING;
}

int
http_server_reconfigure(struct http_server *s, const struct http_options *opt,
    struct ca_error *err)
{
	struct ca_enroller_options	eo;
	struct http_slots		slots;
	int				rc;

	if (s == NULL || opt == NULL)
		return ca_error_set(err, CA_EINVAL, "http_server_reconfigure: "
		    "missing argument");
	enroller_options(opt, &eo);
	if ((rc = ca_enroller_reconfigure(s->enroller, &eo, err)) != CA_OK)
		return rc;
	atomic_store(&s->longest_days, ca_profiles_longest_days(opt->profiles,
	    opt->n_profiles));
	/* Each profile shows in /metrics from now on. */
	for (size_t i = 0; i < opt->n_profiles; i++)
		http_metrics_issued_add(s, opt->profiles[i].name, 0);
	atomic_store(&s->body_max, opt->body_max ? opt->body_max :
	    DEFAULT_BODY_MAX);
	slots_of(opt, &slots);
	http_deadlines_set(s, &slots);
	return CA_OK;
}

struct publish_set *
http_server_publishers(struct http_server *s, struct publish_set *pubs)
{
	struct publish_set *old;

	pthread_rwlock_wrlock(&s->pub_lock);
	old = s->publishers;
	s->publishers = pubs;
	pthread_rwlock_unlock(&s->pub_lock);
	return old;
}

int
http_server_start(const struct http_options *opt, struct ca *ca,
    struct store *st, struct crl_schedule *sched, struct http_server **out,
    struct ca_error *err)
{
	struct ca_enroller_options	 eo;
	struct http_server		*s;
	struct http_slots		 slots;
	int				 rc;

	if (opt == NULL || ca == NULL || st == NULL || out == NULL)
		return ca_error_set(err, CA_EINVAL, "http_server_start: "
		    "missing argument");
	if (opt->https_port == 0 && opt->http_port == 0)
		return ca_error_set(err, CA_EINVAL, "neither an HTTPS nor an "
		    "HTTP port is configured");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	s->ca = ca;
	s->st = st;
	s->sched = sched;
	s->publishers = opt->publishers;
	pthread_rwlock_init(&s->pub_lock, NULL);
	if ((rc = cas_copy(s, ca, opt, err)) != CA_OK)
		goto fail;
	pthread_mutex_init(&s->metrics.issued_mu, NULL);
	atomic_init(&s->inflight, 0);
	atomic_init(&s->stopping, false);
	if ((rc = options_copy(s, opt, err)) != CA_OK)
		goto fail;
	enroller_options(opt, &eo);
	atomic_store(&s->longest_days, ca_profiles_longest_days(opt->profiles,
	    opt->n_profiles));
	if ((rc = ca_enroller_new(ca, st, &eo, &s->enroller, err)) != CA_OK ||
	    (rc = http_verify_start(s, opt, err)) != CA_OK)
		goto fail;
	if (http_metrics_init(s) != CA_OK) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto fail;
	}
	slots_of(opt, &slots);
	if ((rc = http_deadlines_start(s, &slots, err)) != CA_OK ||
	    (rc = http_auditor_start(s, err)) != CA_OK)
		goto fail;
	if (opt->https_port != 0 && (rc = listener_start(s, &s->https, true,
	    opt->https_port, opt, err)) != CA_OK)
		goto fail;
	if (opt->http_port != 0 && (rc = listener_start(s, &s->http, false,
	    opt->http_port, opt, err)) != CA_OK)
		goto fail;
	if (opt->verify.port != 0 && (rc = listener_start(s, &s->vlistener,
	    false, opt->verify.port, opt, err)) != CA_OK)
		goto fail;
	*out = s;
	return CA_OK;
fail:
	listener_stop(&s->https);
	listener_stop(&s->http);
	listener_stop(&s->vlistener);
	http_deadlines_stop(s);
	http_auditor_stop(s);
	server_free(s);		/* the enroller's committer drains first */
	return rc;
}

unsigned
http_server_port(const struct http_server *s, bool https)
{
	if (s == NULL)
		return 0;
	return https ? (s->https.n ? s->https.port : 0) :
	    (s->http.n ? s->http.port : 0);
}

void
http_server_stop(struct http_server *s)
{
	int64_t until;

	if (s == NULL)
		return;
	/*
	 * Order matters: a request that counted itself in flight before it
	 * saw `stopping` is waited for; one that saw it does not suspend
	 * (enroll.c waits on its commit instead), so no connection is left
	 * suspended when the daemons stop (libmicrohttpd forbids that).
	 */
	atomic_store(&s->stopping, true);
	listener_quiesce(&s->https);
	listener_quiesce(&s->http);
	listener_quiesce(&s->vlistener);
	until = http_now_us() + (int64_t)STOP_GRACE_MS * 1000;
	while (atomic_load(&s->inflight) > 0 && http_now_us() < until) {
		struct timespec ts = { 0, 10 * 1000000L };

		nanosleep(&ts, NULL);
	}
	listener_stop(&s->https);
	listener_stop(&s->http);
	listener_stop(&s->vlistener);
	http_deadlines_stop(s);
	http_auditor_stop(s);	/* after the last request's entry */
	server_free(s);		/* the enroller's committer drains first */
}
