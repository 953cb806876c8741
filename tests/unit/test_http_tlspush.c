/*
 * http/tlspush.c's push function, driven the way GnuTLS drives it (a
 * record handed over is sent or kept; -1 with EAGAIN means "again, the
 * same record"; a short count means "the rest of it later"), over a
 * socket pair with small buffers and a reader that drains a little at a
 * time: whatever is held, split or refused, the reader gets every octet of
 * every answer, in order, and a kept header leaves with its body in one
 * write. The socket is real (TCP over 127.0.0.1), and for the write that
 * takes only part of a kept header (which loopback TCP never does) a
 * stand-in for sendmsg that takes a few hundred octets at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>

#include "http/http_int.h"

struct pair {
	int	w, r;	/* the server's end (non-blocking), the client's */
};

/* A TCP connection over 127.0.0.1, as the listener's: TCP takes part of
   a write when its buffer is nearly full (a Unix socket takes all or
   nothing), which is the case the push function must get right. */
static void
pair_open(struct pair *p, int buf)
{
	struct sockaddr_in	a = { .sin_family = AF_INET };
	socklen_t		alen = sizeof(a);
	int			l;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((l = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	assert_true((p->r = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	if (buf > 0)
		assert_int_equal(setsockopt(p->r, SOL_SOCKET, SO_RCVBUF, &buf,
		    sizeof(buf)), 0);
	assert_int_equal(connect(p->r, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_true((p->w = accept(l, NULL, NULL)) >= 0);
	close(l);
	if (buf > 0)
		assert_int_equal(setsockopt(p->w, SOL_SOCKET, SO_SNDBUF, &buf,
		    sizeof(buf)), 0);
	assert_int_equal(fcntl(p->w, F_SETFL, O_NONBLOCK), 0);
}

/* Up to max octets the reader has now, appended to out at *len. */
static size_t
drain(struct pair *p, uint8_t *out, size_t *len, size_t cap, size_t max)
{
	ssize_t n;

	if (max > cap - *len)
		max = cap - *len;
	n = recv(p->r, out + *len, max, MSG_DONTWAIT);
	if (n < 0) {
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		return 0;
	}
	*len += (size_t)n;
	return (size_t)n;
}

/* GnuTLS's loop for one record: again after EAGAIN, the rest after a
   short count; the reader drains between tries. Returns the EAGAINs. */
static unsigned
send_record(struct http_tls_push *tp, struct pair *p, const uint8_t *rec,
    size_t len, uint8_t *out, size_t *out_len, size_t cap, unsigned *seed)
{
	size_t		off = 0;
	unsigned	again = 0;

	while (off < len) {
		giovec_t	iov[2];
		size_t		half = (len - off) / 2;
		ssize_t		n;

		/* a record in one vector or two, as GnuTLS may hand it */
		iov[0].iov_base = (void *)(rec + off);
		iov[0].iov_len = half > 0 ? half : len - off;
		iov[1].iov_base = (void *)(rec + off + iov[0].iov_len);
		iov[1].iov_len = len - off - iov[0].iov_len;
		n = http_tls_push_vec(tp, iov, iov[1].iov_len > 0 ? 2 : 1);
		if (n < 0) {
			assert_true(errno == EAGAIN);
			again++;
			drain(p, out, out_len, cap, 1 + rand_r(seed) % 700);
			continue;
		}
		assert_true(n > 0 && (size_t)n <= len - off);
		off += (size_t)n;
	}
	return again;
}

/* Not held: what is pushed is on the wire at once. */
static void
test_straight(void **state)
{
	struct pair		 p;
	struct http_tls_push	*tp;
	uint8_t			 out[64];
	size_t			 len = 0;
	giovec_t		 iov[2] = { { (void *)"abc", 3 },
				    { (void *)"defg", 4 } };

	(void)state;
	pair_open(&p, 0);
	assert_non_null(tp = http_tls_push_new(p.w));
	assert_int_equal(http_tls_push_vec(tp, iov, 2), 7);
	assert_int_equal(drain(&p, out, &len, sizeof(out), sizeof(out)), 7);
	assert_memory_equal(out, "abcdefg", 7);
	http_tls_push_free(tp);
	close(p.w);
	close(p.r);
}

/* Held: the header stays until the body comes, then both in one write;
   the next record is not held again. */
static void
test_hold_then_body(void **state)
{
	struct pair		 p;
	struct http_tls_push	*tp;
	uint8_t			 out[64];
	size_t			 len = 0;
	giovec_t		 h = { (void *)"HEADER", 6 },
				 b = { (void *)"body", 4 },
				 n = { (void *)"next", 4 };

	(void)state;
	pair_open(&p, 0);
	assert_non_null(tp = http_tls_push_new(p.w));
	http_tls_push_hold(tp);
	assert_int_equal(http_tls_push_vec(tp, &h, 1), 6);
	assert_int_equal(drain(&p, out, &len, sizeof(out), sizeof(out)), 0);
	assert_int_equal(http_tls_push_vec(tp, &b, 1), 4);
	/* one write: the reader gets both at once */
	assert_int_equal(drain(&p, out, &len, sizeof(out), sizeof(out)), 10);
	assert_memory_equal(out, "HEADERbody", 10);
	assert_int_equal(http_tls_push_vec(tp, &n, 1), 4);
	assert_int_equal(drain(&p, out, &len, sizeof(out), sizeof(out)), 4);
	/* held, and no body came: the flush sends it */
	http_tls_push_hold(tp);
	assert_int_equal(http_tls_push_vec(tp, &h, 1), 6);
	http_tls_push_flush(tp);
	assert_int_equal(drain(&p, out, &len, sizeof(out), sizeof(out)), 6);
	assert_memory_equal(out + 14, "HEADER", 6);
	/* a record bigger than what is kept is not held */
	{
		static uint8_t	big[4096];
		giovec_t	g = { big, sizeof(big) };

		http_tls_push_hold(tp);
		assert_int_equal(http_tls_push_vec(tp, &g, 1), sizeof(big));
		len = 0;
		assert_int_equal(drain(&p, big, &len, sizeof(big),
		    sizeof(big)), sizeof(big));
	}
	http_tls_push_free(tp);
	close(p.w);
	close(p.r);
}

/*
 * 300 answers (a held header of 20 to 1000 octets, a body of 1 octet to
 * 150 KB) through a TCP connection with 4 KiB buffers, the reader taking
 * at most 700 octets at a time: the server's writes come back EAGAIN and
 * short, and every octet arrives in order.
 */
static void
test_real_socket(void **state)
{
	struct pair		 p;
	struct http_tls_push	*tp;
	size_t			 cap = 300 * (1000 + 150000), sent = 0,
				 got = 0;
	uint8_t			*want = malloc(cap), *out = malloc(cap);
	unsigned		 seed = 15, again = 0;

	(void)state;
	assert_non_null(want);
	assert_non_null(out);
	for (size_t i = 0; i < cap; i++)
		want[i] = (uint8_t)(i * 131 + (i >> 8));
	pair_open(&p, 4096);
	assert_non_null(tp = http_tls_push_new(p.w));
	for (int a = 0; a < 300; a++) {
		size_t	hl = 20 + (size_t)rand_r(&seed) % 981;
		size_t	bl = 1 + (size_t)rand_r(&seed) % 150000;

		http_tls_push_hold(tp);
		again += send_record(tp, &p, want + sent, hl, out, &got, cap,
		    &seed);
		sent += hl;
		again += send_record(tp, &p, want + sent, bl, out, &got, cap,
		    &seed);
		sent += bl;
	}
	while (got < sent)
		if (drain(&p, out, &got, cap, 65536) == 0)
			usleep(1000);
	assert_int_equal(got, sent);
	assert_memory_equal(out, want, sent);
	assert_true(again > 100);	/* the socket pushed back */
	http_tls_push_free(tp);
	close(p.w);
	close(p.r);
	free(want);
	free(out);
}

/* A stand-in for sendmsg that takes 0 (EAGAIN) to 1,500 octets a call
   into g_wire, and counts the calls that cut a kept header short. */
static uint8_t	*g_wire;
static size_t	 g_wire_len, g_held_len;
static unsigned	 g_seed, g_cuts, g_calls;

static ssize_t
short_sender(int fd, const struct msghdr *msg, int flags)
{
	size_t	take = (size_t)rand_r(&g_seed) % 1501, n = 0;

	(void)fd;
	assert_int_equal(flags, MSG_NOSIGNAL);
	g_calls++;
	if (take == 0 || rand_r(&g_seed) % 4 == 0) {
		errno = EAGAIN;
		return -1;
	}
	/* the kept header is the first vector while one is kept */
	if (g_held_len > 0 && msg->msg_iovlen > 1 &&
	    take < msg->msg_iov[0].iov_len)
		g_cuts++;
	for (size_t i = 0; i < msg->msg_iovlen && n < take; i++) {
		size_t c = msg->msg_iov[i].iov_len;

		if (c > take - n)
			c = take - n;
		memcpy(g_wire + g_wire_len, msg->msg_iov[i].iov_base, c);
		g_wire_len += c;
		n += c;
	}
	return (ssize_t)n;
}

/* As GnuTLS pushes one record, against short_sender. */
static void
push_all(struct http_tls_push *tp, const uint8_t *rec, size_t len)
{
	size_t off = 0;

	while (off < len) {
		giovec_t	iov = { (void *)(rec + off), len - off };
		ssize_t		n = http_tls_push_vec(tp, &iov, 1);

		if (n < 0) {
			assert_int_equal(errno, EAGAIN);
			continue;
		}
		off += (size_t)n;
	}
}

/*
 * 2,000 answers against writes that take a few hundred octets at a time
 * and often none: a kept header cut short goes out first, the rest of it
 * before anything else, and the wire holds every octet in order.
 */
static void
test_short_writes(void **state)
{
	struct http_tls_push	*tp;
	size_t			 cap = 2000 * (1000 + 5000), sent = 0;
	uint8_t			*want = malloc(cap);
	unsigned		 seed = 27;

	(void)state;
	assert_non_null(want);
	assert_non_null(g_wire = malloc(cap));
	for (size_t i = 0; i < cap; i++)
		want[i] = (uint8_t)(i * 7 + (i >> 9));
	g_wire_len = 0;
	g_seed = 15;
	assert_non_null(tp = http_tls_push_new(0));
	http_tls_push_set_sender(tp, short_sender);
	for (int a = 0; a < 2000; a++) {
		size_t	hl = 20 + (size_t)rand_r(&seed) % 981;
		size_t	bl = 1 + (size_t)rand_r(&seed) % 5000;

		http_tls_push_hold(tp);
		push_all(tp, want + sent, hl);	/* kept: nothing written */
		assert_int_equal(g_wire_len, sent);
		g_held_len = hl;
		sent += hl;
		push_all(tp, want + sent, bl);
		g_held_len = 0;
		sent += bl;
		assert_int_equal(g_wire_len, sent);
	}
	assert_memory_equal(g_wire, want, sent);
	assert_true(g_cuts > 100);
	fprintf(stderr, "# %zu octets in %u writes, %u cut a kept header\n",
	    sent, g_calls, g_cuts);
	http_tls_push_free(tp);
	free(g_wire);
	free(want);
}

/*
 * In a GnuTLS session: the session's records go through the push function
 * once installed (a plaintext alert before any handshake is one). Then the
 * order libmicrohttpd 0.9.75 closes in: gnutls_deinit, then the
 * connection's closed notice, which frees the push state; that must not
 * touch the freed session (under valgrind, the version that pointed the
 * session's send side elsewhere there reads and writes freed memory).
 */
static void
test_session(void **state)
{
	struct pair		 p;
	struct http_tls_push	*tp;
	gnutls_session_t	 sess;
	uint8_t			 out[64];
	size_t			 len = 0;

	(void)state;
	pair_open(&p, 0);
	assert_int_equal(gnutls_init(&sess, GNUTLS_SERVER), 0);
	assert_int_equal(gnutls_set_default_priority(sess), 0);
	gnutls_transport_set_int(sess, p.w);
	assert_non_null(tp = http_tls_push_install(sess, p.w));
	http_tls_push_hold(tp);		/* the alert is kept... */
	assert_int_equal(gnutls_alert_send(sess, GNUTLS_AL_WARNING,
	    GNUTLS_A_CLOSE_NOTIFY), 0);
	assert_int_equal(drain(&p, out, &len, sizeof(out), sizeof(out)), 0);
	http_tls_push_flush(tp);	/* ...until the flush */
	assert_int_equal(drain(&p, out, &len, sizeof(out), sizeof(out)), 7);
	assert_int_equal(out[0], 21);	/* an alert record */
	gnutls_deinit(sess);
	http_tls_push_free(tp);
	close(p.w);
	close(p.r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_straight),
		cmocka_unit_test(test_hold_then_body),
		cmocka_unit_test(test_real_socket),
		cmocka_unit_test(test_short_writes),
		cmocka_unit_test(test_session),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
