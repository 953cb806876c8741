/*
 * An answer's header and body in one send.
 *
 * libmicrohttpd 0.9.75 sends an answer over TLS as two gnutls_record_send
 * calls, the header then the body (mhd_send.c uses a vector only without
 * TLS), so GnuTLS writes its two records with two sendmsg(2). For the
 * answer to an enrollment (~300 octets of header, ~1.2 KB of JSON) that
 * is a second system call and TCP segment for every request: about 3 %
 * of the service's CPU a certificate (issue 15, perf). The send side of
 * each HTTPS connection's GnuTLS session goes through http_tls_push_vec,
 * which sends at once, except when armed (http_tls_push_hold): then it
 * keeps the next record (the header's) and sends it with the one after
 * it (the body's) in one sendmsg. Only an answer known to have a body is
 * armed; whatever is still kept when the request completes is sent then
 * (http_tls_push_flush), so a body libmicrohttpd chose not to send costs
 * latency, never the header.
 *
 * GnuTLS takes a record handed to the push function as sent; what a short
 * sendmsg left of a kept record goes first at the next call, which says
 * EAGAIN until the kept octets are out (libmicrohttpd then waits for the
 * socket to be writable and calls again with the same record).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <gnutls/gnutls.h>

#include "http/http_int.h"

/* A header record: a status line and a few headers, plus TLS's 22 octets.
   A bigger one is sent at once. */
#define HELD_MAX	1024
/* Vectors GnuTLS hands over at once (a record is one or two). */
#define IOV_MAX_PUSH	8
/* How long the last word waits for the socket (http_tls_push_flush). */
#define FLUSH_WAIT_MS	2000

struct http_tls_push {
	int		 fd;
	http_tls_sender	 send;		/* sendmsg(2), or a test's */
	bool		 hold;		/* keep the next record */
	size_t		 held_len;	/* octets in held not yet sent */
	uint8_t		 held[HELD_MAX];
};

ssize_t
http_tls_push_vec(gnutls_transport_ptr_t ptr, const giovec_t *iov,
    int iovcnt)
{
	struct http_tls_push	*p = ptr;
	struct iovec		 v[1 + IOV_MAX_PUSH];
	struct msghdr		 msg;
	size_t			 total = 0;
	int			 n = 0;
	ssize_t			 sent;

	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (p->hold && p->held_len == 0 && total <= sizeof(p->held)) {
		for (int i = 0; i < iovcnt; i++) {
			memcpy(p->held + p->held_len, iov[i].iov_base,
			    iov[i].iov_len);
			p->held_len += iov[i].iov_len;
		}
		p->hold = false;
		return (ssize_t)total;
	}
	p->hold = false;
	if (p->held_len > 0) {
		v[n].iov_base = p->held;
		v[n++].iov_len = p->held_len;
	}
	for (int i = 0; i < iovcnt && i < IOV_MAX_PUSH; i++) {
		v[n].iov_base = iov[i].iov_base;
		v[n++].iov_len = iov[i].iov_len;
	}
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = v;
	msg.msg_iovlen = (size_t)n;
	if ((sent = p->send(p->fd, &msg, MSG_NOSIGNAL)) < 0)
		return -1;		/* errno is GnuTLS's answer */
	if ((size_t)sent <= p->held_len) {
		/* Not past the kept record: keep the rest, and this record
		   is not sent yet. */
		memmove(p->held, p->held + sent, p->held_len - (size_t)sent);
		p->held_len -= (size_t)sent;
		errno = EAGAIN;
		return -1;
	}
	sent -= (ssize_t)p->held_len;
	p->held_len = 0;
	return sent;
}

struct http_tls_push *
http_tls_push_new(int fd)
{
	struct http_tls_push *p;

	if (fd < 0 || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->fd = fd;
	p->send = sendmsg;
	return p;
}

void
http_tls_push_set_sender(struct http_tls_push *p, http_tls_sender send)
{
	p->send = send;
}

struct http_tls_push *
http_tls_push_install(gnutls_session_t sess, int fd)
{
	struct http_tls_push	*p;
	gnutls_transport_ptr_t	 recv_ptr, send_ptr;

	if (sess == NULL || (p = http_tls_push_new(fd)) == NULL)
		return NULL;
	/* The receive side stays as libmicrohttpd set it. */
	gnutls_transport_get_ptr2(sess, &recv_ptr, &send_ptr);
	gnutls_transport_set_ptr2(sess, recv_ptr, p);
	gnutls_transport_set_vec_push_function(sess, http_tls_push_vec);
	return p;
}

void
http_tls_push_hold(struct http_tls_push *p)
{
	if (p != NULL)
		p->hold = true;
}

void
http_tls_push_flush(struct http_tls_push *p)
{
	int	waited = 0;

	if (p == NULL)
		return;
	p->hold = false;
	/* The push with no record of its own: the kept octets, or EAGAIN
	   while the socket takes them only in part. */
	while (p->held_len > 0 && waited < FLUSH_WAIT_MS) {
		struct pollfd pfd = { .fd = p->fd, .events = POLLOUT };

		if (http_tls_push_vec(p, NULL, 0) < 0 && errno != EAGAIN &&
		    errno != EWOULDBLOCK && errno != EINTR)
			break;
		if (p->held_len == 0 || (poll(&pfd, 1, 100) < 0 &&
		    errno != EINTR))
			break;
		waited += 100;
	}
	p->held_len = 0;	/* sent, or the connection is gone */
}

/*
 * Called when libmicrohttpd says the connection closed. The session is
 * not touched: libmicrohttpd 0.9.75 has freed it already on its usual
 * path (MHD_cleanup_connections: gnutls_deinit, then the notice), and on
 * the other (a connection it could not take on) frees it right after the
 * notice, writing nothing in between; its close_notify went out before,
 * from the connection's thread. (Pointing a freed session's send side
 * elsewhere here, as this once did, wrote into freed memory: test_http's
 * 16 clients crashed one run in ~17.)
 */
void
http_tls_push_free(struct http_tls_push *p)
{
	free(p);
}
