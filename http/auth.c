/*
 * Who is calling, by the route's auth class (routes.c): a Bearer token
 * (compared by its SHA-256, in constant time, against hashes only — no
 * token is ever kept or logged in clear) or the client certificate of the
 * TLS session (checked against the CA and the store on every request, so a
 * revocation takes effect at once). Enrollment credentials become ca/'s
 * grants (ca_grant_token, ca_grant_renewal).
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
http_bearer_hash(struct MHD_Connection *c, uint8_t out[CA_HASH_LEN],
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
	/* Presented but no token of ours, whatever its length: 403, as any
	   refused token (only missing credentials are 401). */
	if (n == 0 || n > TOKEN_MAX)
		return ca_refuse(err, CA_EFORBIDDEN, CA_REASON_TOKEN_MALFORMED,
		    "the bearer token is empty or longer than %d bytes: no "
		    "token of this CA", TOKEN_MAX);
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
	unsigned			 n = 0;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		return ca_error_set(err, CA_ENOENT, "not a TLS connection");
	certs = gnutls_certificate_get_peers(ci->tls_session, &n);
	if (certs == NULL || n == 0)
		return ca_error_set(err, CA_ENOENT, "no client certificate");
	/* The verifier's answer (ca/verify.c), as /v1/verify gives it. */
	return ca_verifier_peer(s->verifier, certs[0].data, certs[0].size,
	    time_now(), peer, rec, err);
}

static bool
admin_cert(struct http_server *s, const struct ca_peer *p)
{
	for (size_t i = 0; i < s->n_admin_fps; i++)
		if (ca_hash_eq(s->admin_fps[i], p->fingerprint))
			return true;
	return ca_enroller_admin_subject(s->enroller, p->subject);
}

/* What the audit names for a credential presented: never the secret. */
static void
presented_token(struct http_req *r, const uint8_t hash[CA_HASH_LEN])
{
	char hex[2 * 4 + 1];

	hex_format(hash, 4, hex);
	snprintf(r->presented, sizeof(r->presented), "token:%s", hex);
}

static void
presented_cert(struct http_req *r, const struct ca_peer *peer)
{
	char hex[2 * 8 + 1];

	hex_format(peer->fingerprint, 8, hex);
	snprintf(r->presented, sizeof(r->presented), "cert:%s", hex);
}

/* Admin by client certificate or admin token; who gets a label. */
static int
auth_admin(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c, struct ca_error *err)
{
	struct ca_peer	peer;
	struct ca_error	ce, te;
	uint8_t		hash[CA_HASH_LEN];
	char		hex[2 * CA_HASH_LEN + 1];
	int		crc, trc;

	ca_error_clear(&ce);
	ca_error_clear(&te);
	crc = http_peer(s, c, &peer, NULL, &ce);
	if (crc == CA_OK)
		presented_cert(r, &peer);
	if (crc == CA_OK && admin_cert(s, &peer)) {
		hex_format(peer.fingerprint, 8, hex);
		snprintf(r->who, sizeof(r->who), "cert:%s:%.60s", hex,
		    peer.subject);
		return CA_OK;
	}
	trc = http_bearer_hash(c, hash, &te);
	if (trc == CA_OK) {
		presented_token(r, hash);
		if (ca_enroller_admin_token(s->enroller, hash)) {
			hex_format(hash, 4, hex);
			snprintf(r->who, sizeof(r->who), "admin-token:%s",
			    hex);
			return CA_OK;
		}
		return ca_refuse(err, CA_EFORBIDDEN, CA_REASON_NOT_ADMIN,
		    "this token does not grant admin rights");
	}
	if (crc == CA_OK)
		return ca_refuse(err, CA_EFORBIDDEN, CA_REASON_NOT_ADMIN,
		    "the client certificate (%.200s) is not an admin",
		    peer.subject);
	if (crc != CA_ENOENT) {
		*err = ce;
		return crc;
	}
	if (trc != CA_ENOENT) {
		*err = te;
		return trc;
	}
	return ca_error_set(err, CA_EAUTH, "admin credentials required: an "
	    "admin client certificate or \"Authorization: Bearer TOKEN\"");
}

/* An enrollment token: Bearer, then ca/'s grant (static, admin, one-time). */
static int
auth_enroll(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c, struct ca_error *err)
{
	uint8_t	hash[CA_HASH_LEN];
	int	rc;

	/*
	 * Missing (or not a Bearer) credentials are 401, with the
	 * WWW-Authenticate challenge; a token presented but refused —
	 * unknown, expired, used up — is 403, as on the admin routes.
	 */
	if ((rc = http_bearer_hash(c, hash, err)) != CA_OK)
		return rc == CA_ENOENT ? ca_error_set(err, CA_EAUTH,
		    "enrollment needs \"Authorization: Bearer TOKEN\"") : rc;
	presented_token(r, hash);
	return ca_grant_token(s->enroller, hash, &r->grant, err);
}

/* Renewal: the current certificate as the TLS client certificate. */
static int
auth_renew(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c, struct ca_error *err)
{
	struct ca_peer		peer;
	struct cert_record	rec;
	int			rc;

	memset(&rec, 0, sizeof(rec));
	if ((rc = http_peer(s, c, &peer, &rec, err)) != CA_OK)
		return rc == CA_ENOENT ? ca_error_set(err, CA_EAUTH, "renewal "
		    "needs the current certificate as the TLS client "
		    "certificate") : rc;
	presented_cert(r, &peer);
	ca_grant_renewal(&peer, &rec, &r->grant);
	cert_record_clear(&rec);
	return CA_OK;
}

int
http_authorize(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c, struct ca_error *err)
{
	switch (r->route->auth) {
	case HTTP_AUTH_PUBLIC:
		return CA_OK;
	case HTTP_AUTH_ADMIN:
		return auth_admin(s, r, c, err);
	case HTTP_AUTH_ENROLL:
		return auth_enroll(s, r, c, err);
	case HTTP_AUTH_RENEW:
		return auth_renew(s, r, c, err);
	case HTTP_AUTH_ENROLL_BASIC:
		return http_est_auth(s, c, &r->grant, err);	/* est.c */
	case HTTP_AUTH_PROXY:
		/* The handler checks the proxy's address before it reads
		   anything (http_verify_trusted), so that this refusal too
		   carries X-Mtls-Result, which nginx's auth_request_set
		   reads. */
		return CA_OK;
	}
	return ca_error_set(err, CA_EINVAL, "route without an auth class");
}
