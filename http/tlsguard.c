/*
 * The client certificate of a TLS handshake, judged before any signature
 * made with its key is checked.
 *
 * The HTTPS listener asks every client for a certificate (mTLS admin and
 * renewal). A client that presents a self-made certificate with a huge RSA
 * modulus and public exponent, and a random CertificateVerify, used to
 * cost 5 to 48 s of CPU per handshake (the signature check), with no token
 * and no key: a handful of them stalled the service. A GnuTLS handshake
 * hook now reads the Certificate message as it arrives, before GnuTLS
 * processes it, and refuses a leaf whose key ALB would refuse anyway
 * (ca_cert_key_check: parsing only), or a chain longer than ALB's depth;
 * the handshake then ends at once. Installed on every HTTPS connection as
 * it starts (deadline.c's connection notice), so every path that asks for
 * a certificate is covered.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "ca/ca.h"
#include "http/http_int.h"

/* ALB: a chain of at most 4 certificates. */
#define CHAIN_MAX	4

static size_t
u24(const uint8_t *p)
{
	return (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
}

int
http_tls_cert_msg_parse(const uint8_t *msg, size_t len, bool tls13,
    const uint8_t **leaf, size_t *leaf_len, size_t *count)
{
	size_t	off = 0, list_len, end, n = 0;

	*leaf = NULL;
	*leaf_len = 0;
	*count = 0;
	/* RFC 8446 section 4.4.2: certificate_request_context<0..2^8-1>
	   first; RFC 5246 section 7.4.2 has the list alone. */
	if (tls13) {
		if (len < 1 || (size_t)msg[0] + 1 > len)
			return CA_EMALF;
		off = 1 + (size_t)msg[0];
	}
	if (len - off < 3)
		return CA_EMALF;
	list_len = u24(msg + off);
	off += 3;
	if (list_len != len - off)
		return CA_EMALF;
	end = off + list_len;
	while (off < end) {
		size_t cl;

		if (end - off < 3)
			return CA_EMALF;
		cl = u24(msg + off);
		off += 3;
		if (cl == 0 || cl > end - off)
			return CA_EMALF;
		if (n == 0) {
			*leaf = msg + off;
			*leaf_len = cl;
		}
		off += cl;
		n++;
		if (tls13) {	/* extensions<0..2^16-1> per entry */
			size_t el;

			if (end - off < 2)
				return CA_EMALF;
			el = (size_t)msg[off] << 8 | msg[off + 1];
			off += 2;
			if (el > end - off)
				return CA_EMALF;
			off += el;
		}
	}
	*count = n;
	return CA_OK;
}

int
http_tls_cert_msg_check(const uint8_t *msg, size_t len, bool tls13,
    struct ca_error *err)
{
	const uint8_t	*leaf;
	size_t		 leaf_len, n;

	if (http_tls_cert_msg_parse(msg, len, tls13, &leaf, &leaf_len, &n) !=
	    CA_OK)
		return ca_error_set(err, CA_EMALF, "a malformed Certificate "
		    "message");
	if (n == 0)
		return CA_OK;		/* no certificate: asked, not required */
	if (n > CHAIN_MAX)
		return ca_error_set(err, CA_EPOLICY, "a chain of %zu "
		    "certificates: the load balancer accepts at most %d", n,
		    CHAIN_MAX);
	return ca_cert_key_check(leaf, leaf_len, err);
}

static int
cert_hook(gnutls_session_t sess, unsigned htype, unsigned when,
    unsigned incoming, const gnutls_datum_t *msg)
{
	struct MHD_Connection		*c = gnutls_session_get_ptr(sess);
	const union MHD_ConnectionInfo	*ci;
	struct http_server		*s;
	struct ca_error			 e;
	char				 ip[64] = "?";

	(void)when;
	if (!incoming || htype != GNUTLS_HANDSHAKE_CERTIFICATE_PKT)
		return 0;
	ca_error_clear(&e);
	if (http_tls_cert_msg_check(msg->data, msg->size,
	    gnutls_protocol_get_version(sess) == GNUTLS_TLS1_3, &e) == CA_OK)
		return 0;
	if (c != NULL && (s = http_conn_server(c)) != NULL) {
		if ((ci = MHD_get_connection_info(c,
		    MHD_CONNECTION_INFO_CLIENT_ADDRESS)) != NULL)
			http_addr_text(ci->client_addr, ip, sizeof(ip));
		http_tls_refused(s, ip, e.msg);
	}
	return GNUTLS_E_CERTIFICATE_ERROR;
}

void
http_tls_guard_install(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci != NULL && ci->tls_session != NULL)
		gnutls_handshake_set_hook_function(ci->tls_session,
		    GNUTLS_HANDSHAKE_CERTIFICATE_PKT, GNUTLS_HOOK_PRE,
		    cert_hook);
}

void
http_addr_text(const struct sockaddr *sa, char *out, size_t size)
{
	const void *a = NULL;

	if (sa != NULL && sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa != NULL && sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (a == NULL || inet_ntop(sa->sa_family, a, out, (socklen_t)size) ==
	    NULL)
		snprintf(out, size, "?");
}

void
http_conn_peer_text(struct MHD_Connection *c, char *out, size_t size)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	http_addr_text(ci != NULL ? ci->client_addr : NULL, out, size);
}

void
http_tls_refused(struct http_server *s, const char *peer, const char *reason)
{
	char line[512];

	atomic_fetch_add(&s->metrics.tls_refused, 1);
	snprintf(line, sizeof(line), "refused the TLS handshake of %s: its "
	    "client certificate: %s", peer, reason);
	http_log_limited(&s->metrics.tls_refused_log_us,
	    &s->metrics.tls_refused_quiet, line);
}
