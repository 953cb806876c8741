/*
 * The credentials chain (aws.h): the environment, the shared credentials
 * file, the EC2 instance role (IMDSv2). Temporary credentials are cached in
 * the client until refresh_margin before they expire.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <jansson.h>

#include "aws/aws_int.h"
#include "common/util.h"

void
aws_credentials_wipe(struct aws_credentials *cr)
{
	if (cr != NULL)
		gnutls_memset(cr, 0, sizeof(*cr));
}

static bool
copy_field(char *dst, size_t size, const char *src)
{
	if (src == NULL || strlen(src) >= size)
		return false;
	memcpy(dst, src, strlen(src) + 1);
	return true;
}

static int
creds_from_env(struct aws_credentials *out, struct ca_error *err)
{
	const char	*ak = getenv("AWS_ACCESS_KEY_ID");
	const char	*sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char	*tk = getenv("AWS_SESSION_TOKEN");

	if ((ak == NULL || *ak == '\0') && (sk == NULL || *sk == '\0'))
		return CA_ENOENT;
	if (ak == NULL || *ak == '\0' || sk == NULL || *sk == '\0')
		return ca_error_set(err, CA_EAUTH, "AWS credentials: "
		    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set "
		    "together");
	if (!copy_field(out->access_key, sizeof(out->access_key), ak) ||
	    !copy_field(out->secret_key, sizeof(out->secret_key), sk) ||
	    (tk != NULL && !copy_field(out->session_token,
	    sizeof(out->session_token), tk)))
		return ca_error_set(err, CA_EAUTH, "AWS credentials from the "
		    "environment are too long");
	snprintf(out->source, sizeof(out->source), "environment");
	return CA_OK;
}

static char *
trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* The shared credentials file: INI sections named after profiles. */
static int
creds_from_file(struct aws_credentials *out, struct ca_error *err)
{
	const char	*path = getenv("AWS_SHARED_CREDENTIALS_FILE");
	const char	*profile = getenv("AWS_PROFILE");
	const char	*home = getenv("HOME");
	char		 def[1024];
	uint8_t		*buf = NULL;
	size_t		 len;
	char		*line, *save = NULL;
	bool		 in = false, found = false;
	struct ca_error	 e2;
	int		 rc;

	if (profile == NULL || *profile == '\0')
		profile = "default";
	if (path == NULL || *path == '\0') {
		if (home == NULL || *home == '\0')
			return CA_ENOENT;
		snprintf(def, sizeof(def), "%s/.aws/credentials", home);
		path = def;
	}
	if ((rc = file_read(path, 64 * 1024, &buf, &len, &e2)) != CA_OK) {
		if (rc == CA_ENOENT)
			return CA_ENOENT;
		return ca_error_set(err, CA_EAUTH, "AWS credentials: %s",
		    e2.msg);
	}
	for (line = strtok_r((char *)buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *l = trim(line), *eq, *k, *v;
		if (*l == '#' || *l == ';' || *l == '\0')
			continue;
		if (*l == '[') {
			char *end = strchr(l, ']');
			if (end != NULL)
				*end = '\0';
			in = strcmp(trim(l + 1), profile) == 0;
			found |= in;
			continue;
		}
		if (!in || (eq = strchr(l, '=')) == NULL)
			continue;
		*eq = '\0';
		k = trim(l);
		v = trim(eq + 1);
		if (strcmp(k, "aws_access_key_id") == 0)
			copy_field(out->access_key, sizeof(out->access_key), v);
		else if (strcmp(k, "aws_secret_access_key") == 0)
			copy_field(out->secret_key, sizeof(out->secret_key), v);
		else if (strcmp(k, "aws_session_token") == 0)
			copy_field(out->session_token,
			    sizeof(out->session_token), v);
	}
	if (!found) {
		rc = CA_ENOENT;
		goto out;
	}
	if (out->access_key[0] == '\0' || out->secret_key[0] == '\0') {
		rc = ca_error_set(err, CA_EAUTH, "AWS credentials: profile "
		    "'%.64s' in %.128s lacks aws_access_key_id or "
		    "aws_secret_access_key", profile, path);
		goto out;
	}
	snprintf(out->source, sizeof(out->source), "shared file");
	rc = CA_OK;
out:
	if (buf != NULL) {
		gnutls_memset(buf, 0, len);
		free(buf);
	}
	if (rc != CA_OK)
		aws_credentials_wipe(out);
	return rc;
}

/* A string member of obj copied into out[size]; false when absent, not a
   string or too long. */
static bool
json_field(json_t *obj, const char *key, char *out, size_t size)
{
	json_t		*v = json_object_get(obj, key);
	const char	*s;

	if (!json_is_string(v) || (s = json_string_value(v)) == NULL ||
	    strlen(s) >= size || strlen(s) != json_string_length(v))
		return false;
	memcpy(out, s, strlen(s) + 1);
	return true;
}

int
aws_imds_parse(const char *json, size_t len, struct aws_credentials *out,
    struct ca_error *err)
{
	struct aws_credentials	 c;
	json_t			*root = NULL;
	json_error_t		 je;
	char			 code[32], exp[64];
	int64_t			 t;
	int			 rc;

	memset(&c, 0, sizeof(c));
	if (json == NULL || (root = json_loadb(json, len, JSON_REJECT_DUPLICATES,
	    &je)) == NULL || !json_is_object(root)) {
		rc = ca_error_set(err, CA_EAUTH, "instance role: the "
		    "credentials document is not a JSON object");
		goto out;
	}
	if (!json_field(root, "Code", code, sizeof(code)) ||
	    strcmp(code, "Success") != 0) {
		rc = ca_error_set(err, CA_EAUTH, "instance role: the "
		    "metadata service did not answer Code \"Success\"");
		goto out;
	}
	if (!json_field(root, "AccessKeyId", c.access_key,
	    sizeof(c.access_key)) || c.access_key[0] == '\0' ||
	    !json_field(root, "SecretAccessKey", c.secret_key,
	    sizeof(c.secret_key)) || c.secret_key[0] == '\0' ||
	    !json_field(root, "Token", c.session_token,
	    sizeof(c.session_token)) ||
	    !json_field(root, "Expiration", exp, sizeof(exp)) ||
	    time_parse(exp, &t) != CA_OK) {
		rc = ca_error_set(err, CA_EAUTH, "instance role: the "
		    "credentials document lacks AccessKeyId, SecretAccessKey, "
		    "Token or an RFC 3339 Expiration");
		goto out;
	}
	c.expires = t;
	snprintf(c.source, sizeof(c.source), "instance role");
	*out = c;
	rc = CA_OK;
out:
	aws_credentials_wipe(&c);
	json_decref(root);
	return rc;
}

/* IMDSv2: a session token first (PUT), then the role, then its creds. */
static int
creds_from_imds(struct aws_client *c, struct aws_credentials *out,
    struct ca_error *err)
{
	struct aws_response	 r;
	struct aws_http_req	 hr;
	char			 url[1024], tokh[256], role[256];
	const char		*h[1];
	int			 rc;

	memset(&r, 0, sizeof(r));
	snprintf(url, sizeof(url), "%s/latest/api/token", c->imds);
	h[0] = "X-aws-ec2-metadata-token-ttl-seconds: 21600";
	memset(&hr, 0, sizeof(hr));
	hr.method = "PUT";
	hr.url = url;
	hr.headers = h;
	hr.n_headers = 1;
	/* The metadata service is local: short timeouts, one attempt. */
	hr.timeout_s = 2;
	hr.connect_timeout_s = 1;
	if ((rc = aws_http_once(c, &hr, &r, err)) != CA_OK) {
		rc = ca_error_set(err, CA_EAUTH, "no AWS credentials: none in "
		    "the environment or the shared file, and the instance "
		    "metadata service at %.128s did not answer", c->imds);
		goto out;
	}
	if (r.status != 200 || r.body.len == 0 || r.body.len > 200) {
		rc = ca_error_set(err, CA_EAUTH, "instance role: IMDSv2 token "
		    "request got HTTP %ld", r.status);
		goto out;
	}
	snprintf(tokh, sizeof(tokh), "X-aws-ec2-metadata-token: %s",
	    trim(r.body.data));
	h[0] = tokh;
	hr.method = "GET";
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/"
	    "security-credentials/", c->imds);
	if ((rc = aws_http_once(c, &hr, &r, err)) != CA_OK)
		goto out;
	if (r.status != 200 || r.body.len == 0 || r.body.len >= sizeof(role)) {
		rc = ca_error_set(err, CA_EAUTH, "instance role: no role is "
		    "attached (HTTP %ld)", r.status);
		goto out;
	}
	snprintf(role, sizeof(role), "%s", r.body.data);
	role[strcspn(role, "\r\n")] = '\0';
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/"
	    "security-credentials/%s", c->imds, trim(role));
	if ((rc = aws_http_once(c, &hr, &r, err)) != CA_OK)
		goto out;
	if (r.status != 200) {
		rc = ca_error_set(err, CA_EAUTH, "instance role: credentials "
		    "request got HTTP %ld", r.status);
		goto out;
	}
	rc = aws_imds_parse(r.body.data, r.body.len, out, err);
	c->fetches++;
out:
	gnutls_memset(tokh, 0, sizeof(tokh));
	aws_response_clear(&r);
	return rc;
}

int
aws_credentials_get(struct aws_client *c, struct aws_credentials *out,
    struct ca_error *err)
{
	struct aws_credentials	 cr;
	int			 rc;

	memset(&cr, 0, sizeof(cr));
	if ((rc = creds_from_env(&cr, err)) != CA_ENOENT)
		goto out;
	if ((rc = creds_from_file(&cr, err)) != CA_ENOENT)
		goto out;
	pthread_mutex_lock(&c->lock);
	if (!c->have_cached ||
	    time_now() >= c->cached.expires - c->opt.refresh_margin) {
		aws_credentials_wipe(&c->cached);
		c->have_cached = false;
		if ((rc = creds_from_imds(c, &c->cached, err)) == CA_OK)
			c->have_cached = true;
	} else
		rc = CA_OK;
	if (rc == CA_OK)
		cr = c->cached;
	pthread_mutex_unlock(&c->lock);
out:
	if (rc == CA_OK)
		*out = cr;
	aws_credentials_wipe(&cr);
	return rc;
}
