/*
 * Request deadlines: the defence against clients that send slowly.
 *
 * libmicrohttpd 0.9.75 closes a connection only after http.timeout seconds
 * with no bytes at all. A client that trickles a byte now and then (a TLS
 * handshake, a header line, a body) keeps its connection slot, and with
 * one thread per connection a thread, for as long as it likes: a few such
 * clients fill http.max_connections. So each connection gets a deadline by
 * which a whole request (handshake, headers and body) must be in:
 *   - from its accept: http.request_timeout;
 *   - while a request is being answered (signing, the commit): none;
 *   - after an answer: http.timeout (the keep-alive idle time) plus
 *     http.request_timeout for the next request.
 * A watchdog thread shuts down the socket of a connection past its
 * deadline (shutdown(2), not close: the descriptor stays libmicrohttpd's);
 * libmicrohttpd then sees the connection end and cleans up as usual.
 *
 * Deadlines alone still let clients that trickle and reconnect, from a few
 * addresses, hold every slot: with 8 connections, 4 per address, four
 * such addresses left an ordinary client 20 answers out of 59. So, for
 * connections that hold a slot without a request in progress (waiting for
 * one, or idle between two):
 *   - an address may hold at most http.per_ip_pending of them; a new
 *     connection beyond that is refused at accept;
 *   - once 3/4 of http.max_connections are open, they get
 *     http.request_timeout_busy instead of the deadlines above;
 *   - at http.max_connections, a newcomer takes the slot of the oldest
 *     of them (which a trickler holds: a client that sends its request
 *     promptly is not waiting long). libmicrohttpd's own limit is set
 *     above ours, so that it has room while the evicted one closes.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "common/log.h"
#include "http/http_int.h"

#define WATCH_PERIOD_MS	250
/* A newcomer takes no slot held for less than this (the one waiting
   longest is evicted): a client mid-request on a slow link keeps it. */
#define EVICT_MIN_US	(250 * 1000)

/* One per connection, in libmicrohttpd's socket context. */
struct http_conn {
	struct http_conn	*prev, *next;
	struct http_server	*srv;
	int			 fd;
	struct sockaddr_storage	 peer;		/* to check fd before shutdown */
	socklen_t		 peer_len;
	int64_t			 deadline_us;	/* 0: none */
	/* Since when it holds its slot with no request in progress (0: a
	   request is being answered). */
	int64_t			 waiting_since_us;
	bool			 cut;
	struct http_tls_push	*push;		/* HTTPS: tlspush.c */
};

/* Two socket addresses name the same host (the port aside). */
static bool
same_host(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)a)->
		    sin_addr.s_addr ==
		    ((const struct sockaddr_in *)(const void *)b)->
		    sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->
		    sin6_addr, &((const struct sockaddr_in6 *)(const void *)b)->
		    sin6_addr, sizeof(struct in6_addr)) == 0;
	return false;
}

static struct http_conn *
conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci != NULL ? ci->socket_context : NULL;
}

/* A request is in (answered false): no deadline; answered: the next one's
   clock starts, the idle time included. Under mu: a reload may change
   the times. */
static void
set_deadline(struct http_server *s, struct MHD_Connection *c, bool answered)
{
	struct http_deadlines	*dl = &s->deadlines;
	struct http_conn	*hc = conn_of(c);
	int64_t			 now = http_now_us();

	if (hc == NULL)
		return;
	pthread_mutex_lock(&dl->mu);
	hc->deadline_us = answered ? now + dl->idle_us + dl->request_us : 0;
	hc->waiting_since_us = answered ? now : 0;
	pthread_mutex_unlock(&dl->mu);
}

void
http_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	struct listener		*l = cls;
	struct http_deadlines	*dl = &l->srv->deadlines;
	struct http_conn	*hc = *socket_context;
	const union MHD_ConnectionInfo *ci;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		if ((hc = calloc(1, sizeof(*hc))) == NULL)
			return;		/* no deadline: the idle timeout only */
		hc->fd = -1;
		hc->srv = l->srv;
		if ((ci = MHD_get_connection_info(c,
		    MHD_CONNECTION_INFO_CONNECTION_FD)) != NULL)
			hc->fd = ci->connect_fd;
		hc->peer_len = sizeof(hc->peer);
		if (hc->fd < 0 || getpeername(hc->fd,
		    (struct sockaddr *)&hc->peer, &hc->peer_len) != 0)
			hc->peer_len = 0;
		pthread_mutex_lock(&dl->mu);
		hc->waiting_since_us = http_now_us();
		hc->deadline_us = hc->waiting_since_us + dl->request_us;
		hc->next = dl->head;
		if (dl->head != NULL)
			dl->head->prev = hc;
		dl->head = hc;
		dl->open++;
		pthread_mutex_unlock(&dl->mu);
		*socket_context = hc;
		if (l->https) {
			http_tls_guard_install(c);
			if ((ci = MHD_get_connection_info(c,
			    MHD_CONNECTION_INFO_GNUTLS_SESSION)) != NULL)
				hc->push = http_tls_push_install(
				    ci->tls_session, hc->fd);
		}
		return;
	}
	/* Closed: off the list before libmicrohttpd closes the descriptor. */
	if (hc == NULL)
		return;
	pthread_mutex_lock(&dl->mu);
	if (hc->prev != NULL)
		hc->prev->next = hc->next;
	else
		dl->head = hc->next;
	if (hc->next != NULL)
		hc->next->prev = hc->prev;
	dl->open--;
	pthread_mutex_unlock(&dl->mu);
	http_tls_push_free(hc->push);
	free(hc);
	*socket_context = NULL;
}

struct http_server *
http_conn_server(struct MHD_Connection *c)
{
	struct http_conn *hc = conn_of(c);

	return hc != NULL ? hc->srv : NULL;
}

void
http_conn_hold_answer(struct MHD_Connection *c)
{
	struct http_conn *hc = conn_of(c);

	if (hc != NULL)
		http_tls_push_hold(hc->push);
}

void
http_conn_received(struct http_server *s, struct MHD_Connection *c)
{
	set_deadline(s, c, false);
}

void
http_conn_answered(struct http_server *s, struct MHD_Connection *c)
{
	struct http_conn *hc = conn_of(c);

	/* An answer's header kept for a body that never came (tlspush.c). */
	if (hc != NULL)
		http_tls_push_flush(hc->push);
	set_deadline(s, c, true);
}

/* Is fd still the socket accepted from hc->peer? */
static bool
same_peer(const struct http_conn *hc)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);

	if (hc->fd < 0 || hc->peer_len == 0 ||
	    getpeername(hc->fd, (struct sockaddr *)&ss, &len) != 0)
		return false;
	return len == hc->peer_len && memcmp(&ss, &hc->peer, len) == 0;
}

/* Shut a connection down (dl->mu held); false when fd is no longer its. */
static bool
cut(struct http_conn *hc)
{
	hc->cut = true;
	if (!same_peer(hc))
		return false;
	shutdown(hc->fd, SHUT_RDWR);
	return true;
}

void
http_log_limited(atomic_llong *last_us, atomic_ullong *quiet, const char *what)
{
	int64_t		now = http_now_us();
	long long	last = atomic_load(last_us);

	if (now - last < 1000000 || !atomic_compare_exchange_strong(last_us,
	    &last, now)) {
		atomic_fetch_add(quiet, 1);
		return;
	}
	log_msg(LOG_LEVEL_WARNING, "http: %s%s", what,
	    atomic_exchange(quiet, 0) ? " (more since the last line)" : "");
}

enum MHD_Result
http_conn_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct listener		*l = cls;
	struct http_server	*s = l->srv;
	struct http_deadlines	*dl = &s->deadlines;
	struct http_conn	*oldest = NULL;
	unsigned		 waiting = 0;
	int64_t			 now = http_now_us();
	bool			 evicted = false;

	(void)addrlen;
	pthread_mutex_lock(&dl->mu);
	for (struct http_conn *hc = dl->head; hc != NULL; hc = hc->next) {
		if (hc->cut || hc->waiting_since_us == 0)
			continue;
		if (hc->peer_len > 0 && same_host((struct sockaddr *)&hc->peer,
		    addr))
			waiting++;
		if (oldest == NULL ||
		    hc->waiting_since_us < oldest->waiting_since_us)
			oldest = hc;
	}
	/* A trusted proxy keeps a pool of idle keep-alive connections to
	   the verifier: no per-address cap for it (verify.c). */
	if (waiting >= dl->per_ip_pending && !(l->verify &&
	    http_verify_trusted(s, addr))) {
		pthread_mutex_unlock(&dl->mu);
		atomic_fetch_add(&s->metrics.refused_pending, 1);
		http_log_limited(&s->metrics.slots_log_us, &s->metrics.slots_quiet,
		    "refused a connection: its address already holds "
		    "http.per_ip_pending connections without a request");
		return MHD_NO;
	}
	if (dl->open >= dl->max_open && oldest != NULL &&
	    now - oldest->waiting_since_us >= EVICT_MIN_US)
		evicted = cut(oldest);
	pthread_mutex_unlock(&dl->mu);
	if (evicted) {
		atomic_fetch_add(&s->metrics.evicted, 1);
		http_log_limited(&s->metrics.slots_log_us, &s->metrics.slots_quiet,
		    "all connections in use: closed the one waiting longest "
		    "for a request, for a new one");
	}
	return MHD_YES;
}

static void *
watchdog_main(void *arg)
{
	struct http_server	*s = arg;
	struct http_deadlines	*dl = &s->deadlines;
	int64_t			 last_log = 0;
	unsigned long		 quiet = 0;

	pthread_mutex_lock(&dl->mu);
	while (!dl->stop) {
		struct timespec	ts;
		int64_t		now = http_now_us();

		/* Under pressure, a slot held without a request in progress
		   gets http.request_timeout_busy. */
		bool busy = dl->open * 4 >= dl->max_open * 3;

		for (struct http_conn *hc = dl->head; hc != NULL;
		    hc = hc->next) {
			if (hc->cut || hc->deadline_us == 0 ||
			    (now < hc->deadline_us && !(busy &&
			    hc->waiting_since_us != 0 &&
			    now - hc->waiting_since_us >= dl->busy_us)))
				continue;
			if (!cut(hc))
				continue;
			atomic_fetch_add(&s->metrics.request_timeouts, 1);
			/* One line a second at most: a flood of slow
			   clients must not become a flood of logs. */
			if (now - last_log >= 1000000) {
				log_msg(LOG_LEVEL_WARNING, "http: closed a "
				    "connection with no complete request "
				    "after %lld s (http.request_timeout%s)"
				    "%s", (long long)((busy ? dl->busy_us :
				    dl->request_us) / 1000000), busy ?
				    "_busy: 3/4 of the connections in use" :
				    "", quiet ? "; more not logged" : "");
				last_log = now;
				quiet = 0;
			} else {
				quiet++;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += WATCH_PERIOD_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&dl->cond, &dl->mu, &ts);
	}
	pthread_mutex_unlock(&dl->mu);
	return NULL;
}

int
http_deadlines_start(struct http_server *s, const struct http_slots *slots,
    struct ca_error *err)
{
	struct http_deadlines	*dl = &s->deadlines;
	pthread_condattr_t	 attr;
	int			 rc;

	dl->request_us = (int64_t)slots->request_s * 1000000;
	dl->idle_us = (int64_t)slots->idle_s * 1000000;
	dl->busy_us = (int64_t)slots->busy_s * 1000000;
	dl->max_open = slots->max_open;
	dl->per_ip_pending = slots->per_ip_pending;
	pthread_mutex_init(&dl->mu, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&dl->cond, &attr);
	pthread_condattr_destroy(&attr);
	dl->init = true;
	if ((rc = pthread_create(&dl->thread, NULL, watchdog_main, s)) != 0)
		return ca_error_set(err, CA_EIO, "cannot start the request "
		    "deadline thread: %s", strerror(rc));
	dl->running = true;
	return CA_OK;
}

void
http_deadlines_set(struct http_server *s, const struct http_slots *slots)
{
	struct http_deadlines *dl = &s->deadlines;

	pthread_mutex_lock(&dl->mu);
	dl->request_us = (int64_t)slots->request_s * 1000000;
	dl->busy_us = (int64_t)slots->busy_s * 1000000;
	dl->per_ip_pending = slots->per_ip_pending;
	pthread_mutex_unlock(&dl->mu);
}

void
http_deadlines_stop(struct http_server *s)
{
	struct http_deadlines *dl = &s->deadlines;

	if (!dl->init)
		return;
	if (dl->running) {
		pthread_mutex_lock(&dl->mu);
		dl->stop = true;
		pthread_cond_signal(&dl->cond);
		pthread_mutex_unlock(&dl->mu);
		pthread_join(dl->thread, NULL);
		dl->running = false;
	}
	pthread_cond_destroy(&dl->cond);
	pthread_mutex_destroy(&dl->mu);
	dl->init = false;
}
