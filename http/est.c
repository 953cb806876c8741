/*
 * EST, Enrollment over Secure Transport (RFC 7030, with RFC 8951's
 * clarifications), on the HTTPS listener: routes and encodings only. The
 * enrollment is ca_enroll()'s, as for the JSON API (enroll.c), and so are
 * its policy, audit entries and committer; the PKCS#7 and the CSR
 * attributes are built by ca/ (ca/est.c).
 *
 *   GET  /.well-known/est[/LABEL]/cacerts         the CA (section 4.1)
 *   POST /.well-known/est[/LABEL]/simpleenroll    token in HTTP Basic (4.2.1)
 *   POST /.well-known/est[/LABEL]/simplereenroll  client certificate (4.2.2)
 *   GET  /.well-known/est[/LABEL]/csrattrs        what the profile asks (4.5)
 *
 * The optional CA label (section 3.2.2) names a profile; without one, the
 * default profile (or a token's own). fullcmc and serverkeygen are not
 * offered (404): both are optional in RFC 7030.
 *
 * Who may enroll, by section 3.3.2 and 3.7: TLS client authentication
 * identifies a client, and whether it gets a certificate is the CA's
 * policy. mtlsca's policy is that a certificate entitles its holder to its
 * own renewal only (same subject and profile): the renewal grant, for
 * simplereenroll, which section 4.2.2 defines as the operation of a
 * client renewing or rekeying the certificate it holds. simpleenroll makes
 * a new identity, which only an enrollment token grants: it requires the
 * token, with or without a client certificate (which it ignores).
 */
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "ca/ca.h"
#include "common/base64.h"
#include "http/http_int.h"

/* RFC 2045 section 6.8: base64 lines of at most 76 characters; 64, as
   PEM and OpenSSL write them. */
#define EST_B64_WIDTH		64

/* RFC 7030 section 4.1.3 and 4.2.3, with RFC 5273's smime-type. */
#define EST_CT_CERTS		"application/pkcs7-mime; smime-type=certs-only"
#define EST_CT_CSRATTRS		"application/csrattrs"

/* The profile of the request's CA label ("" for none: the default), a
   copy into *p (may be NULL); false when the label names none. */
static bool
label_profile(struct http_server *s, const struct http_req *r,
    struct ca_profile *p)
{
	struct ca_profile tmp;

	return ca_enroller_profile_get(s->enroller, r->param,
	    p != NULL ? p : &tmp) == CA_OK;
}

static enum MHD_Result
no_label(struct http_server *s, struct http_req *r, struct MHD_Connection *c)
{
	char	p[HTTP_PROFILES_MAX][STORE_PROFILE_MAX];
	size_t	n = ca_enroller_profile_names(s->enroller, p,
	    HTTP_PROFILES_MAX);
	char	names[256] = "";
	size_t	used = 0;

	for (size_t i = 0; i < n && used < sizeof(names); i++)
		used += (size_t)snprintf(names + used, sizeof(names) - used,
		    "%s%s", i ? ", " : "", p[i]);
	return http_respond_error(r, c, 404, "not_found", "no EST CA label "
	    "'%s' here: the labels are the profile names (%s)", r->param,
	    names);
}

/* der as base64 with Content-Transfer-Encoding: base64 (RFC 7030 section
   4.1.3; RFC 8951 makes base64 the only encoding). */
static enum MHD_Result
respond_base64(struct http_req *r, struct MHD_Connection *c,
    const char *ctype, const uint8_t *der, size_t len)
{
	static const char *const hdrs[] = { "Content-Transfer-Encoding",
	    "base64", NULL };
	struct ca_error	 err;
	char		*b64;
	size_t		 n;

	if (base64_encode(der, len, EST_B64_WIDTH, &b64, &n, &err) != CA_OK)
		return http_respond_caerr(r, c, &err);
	return http_respond_hdrs(r, c, 200, ctype, b64, n, true, hdrs);
}

/* The certificates as a certs-only Simple PKI Response. */
static enum MHD_Result
respond_certs(struct http_req *r, struct MHD_Connection *c,
    const uint8_t *der, size_t len)
{
	struct ca_error	 err;
	uint8_t		*p7 = NULL;
	size_t		 p7_len;
	enum MHD_Result	 ret;

	ca_error_clear(&err);
	if (ca_pkcs7_certs(&der, &len, 1, &p7, &p7_len, &err) != CA_OK)
		return http_respond_caerr(r, c, &err);
	ret = respond_base64(r, c, EST_CT_CERTS, p7, p7_len);
	free(p7);
	return ret;
}

/*
 * Section 4.1: the CA certificate, for any label (one CA serves every
 * profile). Section 4.1.3 asks for the chain up to the trust anchor too:
 * mtlsca's CA is that anchor, or, imported, the one certificate of its
 * chain that mtlsca holds.
 */
enum MHD_Result
http_est_cacerts(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c)
{
	const uint8_t	*der;
	size_t		 len;

	if (!label_profile(s, r, NULL))
		return no_label(s, r, c);
	der = ca_cert_der(s->ca, &len);
	return respond_certs(r, c, der, len);
}

/*
 * Section 4.5: the attributes the label's profile requires (ca/est.c says
 * which and why), or 204 when it requires none (section 4.5.2: "204 or
 * 404 indicates that a CSR Attributes Response is not available"). No
 * credentials: the answer is the profile's, the same for every client.
 */
enum MHD_Result
http_est_csrattrs(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c)
{
	struct ca_profile	 p;
	struct ca_error		 err;
	uint8_t			*der = NULL;
	size_t			 len;
	enum MHD_Result		 ret;

	if (!label_profile(s, r, &p))
		return no_label(s, r, c);
	ca_error_clear(&err);
	if (ca_est_csrattrs(&p, &der, &len, &err) != CA_OK)
		return http_respond_caerr(r, c, &err);
	if (der == NULL)
		return http_respond(r, c, 204, NULL, (void *)"", 0, false);
	ret = respond_base64(r, c, EST_CT_CSRATTRS, der, len);
	free(der);
	return ret;
}

/* Section 4.2.3: after the commit, the certificate alone, or why not. */
static enum MHD_Result
enroll_finish(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c)
{
	r->phase = 2;
	if (r->res.rc != CA_OK)
		return http_respond_caerr(r, c, &r->res.err);
	http_enroll_count(s, r, c);
	return respond_certs(r, c, r->res.iss.der, r->res.iss.der_len);
}

/*
 * simpleenroll (r->grant from a token) and simplereenroll (the renewal
 * grant of the client certificate: ca_enroll applies the renewal rules).
 * The label asks for its profile: a token for another is refused, and a
 * renewal keeps its certificate's (without a label, whatever it is).
 */
enum MHD_Result
http_est_enroll(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c)
{
	struct ca_error	 err;
	uint8_t		*der = NULL;
	size_t		 len;
	enum MHD_Result	 ret;
	int		 rc;

	if (r->phase == 1)
		return enroll_finish(s, r, c);	/* resumed after the commit */
	if (!label_profile(s, r, NULL))
		return no_label(s, r, c);
	ca_error_clear(&err);
	if ((rc = http_est_body_decode(MHD_lookup_connection_value(c,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE), r->body,
	    r->body_len, &der, &len, &err)) != CA_OK) {
		if (rc == CA_EINVAL)
			return http_respond_error(r, c, 415,
			    "unsupported_media_type", "%s", err.msg);
		return http_respond_caerr(r, c, &err);
	}
	ret = http_enroll_submit(s, r, c, der, len, r->param[0] != '\0' ?
	    r->param : NULL, 0) ? enroll_finish(s, r, c) : MHD_YES;
	free(der);
	return ret;
}

/*
 * HTTP Basic (RFC 7617) with the enrollment token as the password, as
 * section 3.2.3 lets an EST server authenticate a client that has no
 * certificate yet. The user name is ignored, unless the token is bound to
 * a CN: then it must be that CN, so that a device configured with another
 * name is told so before its CSR is read.
 */
int
http_est_auth(struct http_server *s, struct MHD_Connection *c,
    struct ca_grant *g, struct ca_error *err)
{
	char		user[HTTP_BASIC_USER_MAX];
	char		pass[HTTP_BASIC_PASS_MAX];
	uint8_t		hash[CA_HASH_LEN];
	struct ca_grant	grant;
	int		rc;

	rc = http_basic_parse(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION), user, pass, err);
	if (rc != CA_OK) {
		/* Nothing presented, or another scheme: 401 and the Basic
		   challenge (respond.c); a Basic one refused: 403. */
		return rc == CA_ENOENT ? ca_error_set(err, CA_EAUTH, "EST "
		    "enrollment needs HTTP Basic credentials: the enrollment "
		    "token as the password") : rc;
	}
	ca_token_hash(pass, hash);
	gnutls_memset(pass, 0, sizeof(pass));
	if ((rc = ca_grant_token(s->enroller, hash, &grant, err)) != CA_OK)
		return rc;
	if (grant.cn[0] != '\0' && strcmp(user, grant.cn) != 0)
		return ca_refuse(err, CA_EFORBIDDEN, CA_REASON_TOKEN_BOUND_CN,
		    "this token is bound to CN '%.100s': the Basic user name "
		    "must be that CN, not '%.100s'", grant.cn, user);
	*g = grant;
	return CA_OK;
}
