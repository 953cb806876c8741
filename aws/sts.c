/*
 * Web identity credentials (EKS IAM roles for service accounts, and any
 * OIDC provider): the token in AWS_WEB_IDENTITY_TOKEN_FILE is exchanged for
 * the temporary credentials of AWS_ROLE_ARN with STS
 * AssumeRoleWithWebIdentity (Query API, Version 2011-06-15). That call is
 * not signed: the token is the proof. The file is read again at each
 * exchange, since the platform rotates it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "aws/aws_int.h"
#include "common/util.h"

#define STS_VERSION	"2011-06-15"
/* Web identity tokens (JWTs) are a few KiB; AWS takes up to 20,000. */
#define TOKEN_MAX	(20000 + 2)

int
aws_sts_parse_credentials(const char *xml, size_t len,
    struct aws_credentials *out, struct ca_error *err)
{
	struct aws_credentials	 c;
	char			 exp[64];
	int64_t			 t;
	int			 rc;

	memset(&c, 0, sizeof(c));
	if (aws_xml_text(xml, len, "AssumeRoleWithWebIdentityResult", exp,
	    sizeof(exp)) == CA_EMALF) {
		rc = ca_error_set(err, CA_EMALF, "web identity: the STS answer "
		    "is not well-formed XML");
		goto out;
	}
	if (aws_xml_text(xml, len, "AccessKeyId", c.access_key,
	    sizeof(c.access_key)) != CA_OK || c.access_key[0] == '\0' ||
	    aws_xml_text(xml, len, "SecretAccessKey", c.secret_key,
	    sizeof(c.secret_key)) != CA_OK || c.secret_key[0] == '\0' ||
	    aws_xml_text(xml, len, "SessionToken", c.session_token,
	    sizeof(c.session_token)) != CA_OK ||
	    c.session_token[0] == '\0' ||
	    aws_xml_text(xml, len, "Expiration", exp, sizeof(exp)) != CA_OK ||
	    aws_expiration_parse(exp, &t) != CA_OK) {
		rc = ca_error_set(err, CA_EMALF, "web identity: the STS answer "
		    "lacks AccessKeyId, SecretAccessKey, SessionToken or an "
		    "ISO 8601 Expiration");
		goto out;
	}
	c.expires = t;
	snprintf(c.source, sizeof(c.source), "web identity");
	*out = c;
	rc = CA_OK;
out:
	aws_credentials_wipe(&c);
	return rc;
}

/* RoleSessionName: 2 to 64 of [\w+=,.@-] (the STS API reference). */
static bool
session_name_ok(const char *s)
{
	size_t	 n = strlen(s);

	if (n < 2 || n > 64)
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("_+=,.@-", *s) ==
		    NULL)
			return false;
	return true;
}

static int
form_add(struct awsbuf *b, const char *name, const char *value)
{
	int	 rc;

	if ((rc = awsbuf_printf(b, "%s%s=", b->len ? "&" : "", name)) !=
	    CA_OK)
		return rc;
	return sigv4_uri_encode(b, value, strlen(value), false);
}

int
aws_creds_web_identity(struct aws_client *c, struct aws_credentials *out,
    struct ca_error *err)
{
	const char	*file = getenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	const char	*role = getenv("AWS_ROLE_ARN");
	const char	*session = getenv("AWS_ROLE_SESSION_NAME");
	const char	*ep = getenv("AWS_ENDPOINT_URL_STS");
	const char	*region = getenv("AWS_REGION");
	const char	*hdrs[1] = { "Content-Type: "
	    "application/x-www-form-urlencoded; charset=utf-8" };
	struct aws_response r;
	struct aws_http_req hr;
	struct awsbuf	 form = { 0 };
	struct ca_error	 e2;
	uint8_t		*tok = NULL;
	size_t		 tlen = 0;
	char		 url[600], sess[80];
	int		 rc;

	memset(&r, 0, sizeof(r));
	if (file == NULL || *file == '\0')
		return CA_ENOENT;
	if (role == NULL || *role == '\0') {
		rc = ca_error_set(err, CA_EAUTH, "AWS_WEB_IDENTITY_TOKEN_FILE "
		    "is set but AWS_ROLE_ARN is not");
		goto out;
	}
	if (session != NULL && *session != '\0') {
		if (!session_name_ok(session)) {
			rc = ca_error_set(err, CA_EAUTH, "AWS_ROLE_SESSION_NAME "
			    "must be 2 to 64 of letters, digits and _+=,.@-");
			goto out;
		}
		snprintf(sess, sizeof(sess), "%s", session);
	} else
		snprintf(sess, sizeof(sess), "mtlsca-%lld",
		    (long long)time_real_now());
	if ((rc = file_read(file, TOKEN_MAX, &tok, &tlen, &e2)) != CA_OK) {
		rc = ca_error_set(err, CA_EAUTH, "%s", e2.msg);
		goto out;
	}
	while (tlen > 0 && isspace(tok[tlen - 1]))
		tok[--tlen] = '\0';
	if (tlen < 4 || strlen((char *)tok) != tlen) {
		rc = ca_error_set(err, CA_EAUTH, "%.128s holds no token", file);
		goto out;
	}
	/* Regional STS for the publisher's region (AWS_REGION first), as
	   the SDKs do now; AWS_ENDPOINT_URL_STS overrides it. */
	if (region == NULL || *region == '\0')
		region = c->opt.region;
	if (ep != NULL && *ep != '\0')
		snprintf(url, sizeof(url), "%s", ep);
	else if (region != NULL && *region != '\0')
		snprintf(url, sizeof(url), "https://sts.%s.amazonaws.com",
		    region);
	else
		snprintf(url, sizeof(url), "https://sts.amazonaws.com");
	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) !=
	    0) {
		rc = ca_error_set(err, CA_EAUTH, "AWS_ENDPOINT_URL_STS must "
		    "start with https:// or http://");
		goto out;
	}
	/* No trailing slash doubled: the Query API posts to "/". */
	if (url[strlen(url) - 1] != '/')
		snprintf(url + strlen(url), sizeof(url) - strlen(url), "/");
	if ((rc = form_add(&form, "Action", "AssumeRoleWithWebIdentity")) !=
	    CA_OK || (rc = form_add(&form, "Version", STS_VERSION)) != CA_OK ||
	    (rc = form_add(&form, "RoleArn", role)) != CA_OK ||
	    (rc = form_add(&form, "RoleSessionName", sess)) != CA_OK ||
	    (rc = form_add(&form, "WebIdentityToken", (char *)tok)) != CA_OK) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	memset(&hr, 0, sizeof(hr));
	hr.method = "POST";
	hr.url = url;
	hr.headers = hdrs;
	hr.n_headers = 1;
	hr.body = form.data;
	hr.body_len = form.len;
	if ((rc = aws_http_once(c, &hr, &r, &e2)) != CA_OK) {
		rc = ca_error_set(err, CA_EAUTH, "STS: %s", e2.msg);
		goto out;
	}
	c->fetches++;
	if (r.status < 200 || r.status > 299) {
		aws_answer_error(&r, "STS AssumeRoleWithWebIdentity", &e2);
		rc = ca_error_set(err, CA_EAUTH, "%s", e2.msg);
		goto out;
	}
	rc = aws_sts_parse_credentials(r.body.data, r.body.len, out, err);
out:
	if (tok != NULL) {
		gnutls_memset(tok, 0, tlen);
		free(tok);
	}
	awsbuf_free(&form);	/* wiped: it held the token */
	aws_response_clear(&r);
	return rc;
}
