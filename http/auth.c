/*
 * Who is calling: a Bearer token (compared by its SHA-256, in constant
 * time, against hashes only — no token is ever kept or logged in clear) or
 * the client certificate of the TLS session (checked against the CA and the
 * store on every request, so a revocation takes effect at once).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "ca/ca.h"
#include "common/util.h"
#include "http/http_int.h"

#define TOKEN_MAX	512

int
http_bearer_hash(struct MHD_Connection *c, uint8_t out[HTTP_HASH_LEN],
    struct ca_error *err)
{
	const char	*h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	char		 tok[TOKEN_MAX + 1];
	size_t		 n;

	if (h == NULL)
		return ca_error_set(err, CA_ENOENT, "no Authorization header");
	/* RFC 6750 §2.1: "Bearer" SP token; the scheme is case-insensitive. */
	if (strncasecmp(h, "Bearer ", 7) != 0)
		return ca_error_set(err, CA_EAUTH, "the Authorization header "
		    "must be \"Bearer TOKEN\"");
	h += 7;
	while (*h == ' ')
		h++;
	n = strlen(h);
	while (n > 0 && h[n - 1] == ' ')
		n--;
	if (n == 0 || n > TOKEN_MAX)
		return ca_error_set(err, CA_EAUTH, "the bearer token is empty "
		    "or longer than %d bytes", TOKEN_MAX);
	memcpy(tok, h, n);
	tok[n] = '\0';
	ca_token_hash(tok, out);
	gnutls_memset(tok, 0, sizeof(tok));
	return CA_OK;
}

int
http_peer(struct http_server *s, struct MHD_Connection *c,
    struct ca_peer *peer, struct cert_record *rec, struct ca_error *err)
{
	const union MHD_ConnectionInfo	*ci;
	const gnutls_datum_t		*certs;
	gnutls_session_t		 sess;
	struct cert_record		 r;
	struct ca_error			 e;
	unsigned			 n = 0;
	char				 hex[SERIAL_HEX_MAX + 2];
	int				 rc;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		return ca_error_set(err, CA_ENOENT, "not a TLS connection");
	sess = ci->tls_session;
	certs = gnutls_certificate_get_peers(sess, &n);
	if (certs == NULL || n == 0)
		return ca_error_set(err, CA_ENOENT, "no client certificate");
	ca_error_clear(&e);
	if (ca_peer_check(s->ca, certs[0].data, certs[0].size, time_now(),
	    peer, &e) != CA_OK)
		return ca_error_set(err, CA_EFORBIDDEN, "%s", e.msg);
	memset(&r, 0, sizeof(r));
	serial_format(peer->serial, peer->serial_len, hex);
	rc = store_cert_get(s->st, peer->serial, peer->serial_len, &r, &e);
	if (rc == CA_ENOENT)
		return ca_error_set(err, CA_EFORBIDDEN, "the client "
		    "certificate %s is not in this CA's store", hex);
	if (rc != CA_OK)
		return ca_error_set(err, rc, "%s", e.msg);
	if (r.status == CERT_STATUS_REVOKED) {
		cert_record_clear(&r);
		return ca_error_set(err, CA_EFORBIDDEN, "the client "
		    "certificate %s is revoked", hex);
	}
	if (rec != NULL)
		*rec = r;
	else
		cert_record_clear(&r);
	return CA_OK;
}

bool
http_admin_subject(const struct http_server *s, const char *subject)
{
	if (subject == NULL)
		return false;
	for (size_t i = 0; i < s->n_admin_subjects; i++)
		if (strcmp(s->admin_subjects[i], subject) == 0)
			return true;
	return false;
}

static bool
admin_cert(struct http_server *s, const struct ca_peer *p)
{
	for (size_t i = 0; i < s->n_admin_fps; i++)
		if (ca_hash_eq(s->admin_fps[i], p->fingerprint))
			return true;
	return http_admin_subject(s, p->subject);
}

int
http_auth_admin(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c, char *who, size_t who_size,
    struct ca_error *err)
{
	struct ca_peer	peer;
	struct ca_error	ce, te;
	uint8_t		hash[HTTP_HASH_LEN];
	char		hex[2 * HTTP_HASH_LEN + 1];
	int		crc, trc;

	(void)r;
	ca_error_clear(&ce);
	ca_error_clear(&te);
	crc = http_peer(s, c, &peer, NULL, &ce);
	if (crc == CA_OK && admin_cert(s, &peer)) {
		hex_format(peer.fingerprint, 8, hex);
		snprintf(who, who_size, "cert:%s:%.60s", hex, peer.subject);
		return CA_OK;
	}
	trc = http_bearer_hash(c, hash, &te);
	if (trc == CA_OK) {
		bool ok = false;

		/* Look at every hash: the time taken says nothing. */
		for (size_t i = 0; i < s->n_admin_tokens; i++)
			ok |= ca_hash_eq(s->admin_tokens[i], hash);
		if (ok) {
			hex_format(hash, 4, hex);
			snprintf(who, who_size, "admin-token:%s", hex);
			return CA_OK;
		}
		return ca_error_set(err, CA_EFORBIDDEN, "this token does not "
		    "grant admin rights");
	}
	if (crc == CA_OK)
		return ca_error_set(err, CA_EFORBIDDEN, "the client "
		    "certificate (%.200s) is not an admin", peer.subject);
	if (crc != CA_ENOENT)
		return ca_error_set(err, crc == CA_EFORBIDDEN ? CA_EFORBIDDEN :
		    crc, "%s", ce.msg);
	if (trc != CA_ENOENT)
		return ca_error_set(err, CA_EAUTH, "%s", te.msg);
	return ca_error_set(err, CA_EAUTH, "admin credentials required: an "
	    "admin client certificate or \"Authorization: Bearer TOKEN\"");
}
