/*
 * The credentials chain (aws.h), in the AWS SDKs' documented order: the
 * environment, web identity (sts.c), the shared credentials file, the
 * container credentials endpoint (ECS task roles, EKS Pod Identity), the
 * EC2 instance role (IMDSv2). Temporary credentials are cached in the
 * client until refresh_margin before they expire.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/*
 * Each source below answers CA_OK (credentials in *out), CA_ENOENT (not
 * configured here: why in *why, and the chain goes on) or an error (it is
 * configured and failed: the chain stops there, so that a broken source
 * never silently hands the publishers another identity).
 */

static int
creds_from_env(struct aws_credentials *out, char *why, size_t size,
    struct ca_error *err)
{
	const char	*ak = getenv("AWS_ACCESS_KEY_ID");
	const char	*sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char	*tk = getenv("AWS_SESSION_TOKEN");

	if ((ak == NULL || *ak == '\0') && (sk == NULL || *sk == '\0')) {
		snprintf(why, size, "no AWS_ACCESS_KEY_ID");
		return CA_ENOENT;
	}
	if (ak == NULL || *ak == '\0' || sk == NULL || *sk == '\0')
		return ca_error_set(err, CA_EAUTH, "AWS_ACCESS_KEY_ID and "
		    "AWS_SECRET_ACCESS_KEY must be set together");
	if (!copy_field(out->access_key, sizeof(out->access_key), ak) ||
	    !copy_field(out->secret_key, sizeof(out->secret_key), sk) ||
	    (tk != NULL && !copy_field(out->session_token,
	    sizeof(out->session_token), tk)))
		return ca_error_set(err, CA_EAUTH, "the environment's AWS "
		    "credentials are too long");
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
creds_from_file(struct aws_credentials *out, char *why, size_t size,
    struct ca_error *err)
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
		if (home == NULL || *home == '\0') {
			snprintf(why, size, "no HOME");
			return CA_ENOENT;
		}
		snprintf(def, sizeof(def), "%s/.aws/credentials", home);
		path = def;
	}
	if ((rc = file_read(path, 64 * 1024, &buf, &len, &e2)) != CA_OK) {
		if (rc == CA_ENOENT) {
			snprintf(why, size, "no %.100s", path);
			return CA_ENOENT;
		}
		return ca_error_set(err, CA_EAUTH, "%s", e2.msg);
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
		snprintf(why, size, "no profile '%.32s' in %.100s", profile,
		    path);
		rc = CA_ENOENT;
		goto out;
	}
	if (out->access_key[0] == '\0' || out->secret_key[0] == '\0') {
		rc = ca_error_set(err, CA_EAUTH, "profile '%.64s' in %.128s "
		    "lacks aws_access_key_id or aws_secret_access_key",
		    profile, path);
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
   string, with a NUL in it, or too long. */
static bool
json_field(json_t *obj, const char *key, char *out, size_t size)
{
	json_t		*v = json_object_get(obj, key);
	const char	*str;

	if (!json_is_string(v) || (str = json_string_value(v)) == NULL ||
	    strlen(str) >= size || strlen(str) != json_string_length(v))
		return false;
	memcpy(out, str, strlen(str) + 1);
	return true;
}

int
aws_expiration_parse(const char *text, int64_t *out)
{
	char	 base[32];
	size_t	 n = strlen(text), i = 19;

	/* "2030-01-02T03:04:05" then Z, +00:00, or fractional seconds
	   and one of those (what IMDS, ECS, EKS and STS send). */
	if (n < 20 || n > 40)
		return CA_EMALF;
	memcpy(base, text, 19);
	base[19] = 'Z';
	base[20] = '\0';
	if (text[i] == '.') {
		for (i++; i < n && text[i] >= '0' && text[i] <= '9'; i++)
			;
	}
	if (!(strcmp(text + i, "Z") == 0 || strcmp(text + i, "+00:00") == 0))
		return CA_EMALF;
	return time_parse(base, out);
}

/*
 * The JSON credentials document of IMDS and of the container endpoint:
 * AccessKeyId, SecretAccessKey, Token, Expiration; IMDS adds Code.
 */
static int
creds_json_parse(const char *json, size_t len, const char *source,
    bool imds, struct aws_credentials *out, struct ca_error *err)
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
		rc = ca_error_set(err, CA_EAUTH, "%s: the credentials document "
		    "is not a JSON object", source);
		goto out;
	}
	if (imds && (!json_field(root, "Code", code, sizeof(code)) ||
	    strcmp(code, "Success") != 0)) {
		rc = ca_error_set(err, CA_EAUTH, "%s: the metadata service did "
		    "not answer Code \"Success\"", source);
		goto out;
	}
	if (!json_field(root, "AccessKeyId", c.access_key,
	    sizeof(c.access_key)) || c.access_key[0] == '\0' ||
	    !json_field(root, "SecretAccessKey", c.secret_key,
	    sizeof(c.secret_key)) || c.secret_key[0] == '\0' ||
	    !json_field(root, "Token", c.session_token,
	    sizeof(c.session_token)) ||
	    !json_field(root, "Expiration", exp, sizeof(exp)) ||
	    aws_expiration_parse(exp, &t) != CA_OK) {
		rc = ca_error_set(err, CA_EAUTH, "%s: the credentials document "
		    "lacks AccessKeyId, SecretAccessKey, Token or an ISO 8601 "
		    "Expiration", source);
		goto out;
	}
	c.expires = t;
	snprintf(c.source, sizeof(c.source), "%s", source);
	*out = c;
	rc = CA_OK;
out:
	aws_credentials_wipe(&c);
	json_decref(root);
	return rc;
}

int
aws_imds_parse(const char *json, size_t len, struct aws_credentials *out,
    struct ca_error *err)
{
	return creds_json_parse(json, len, "instance role", true, out, err);
}

int
aws_container_parse(const char *json, size_t len,
    struct aws_credentials *out, struct ca_error *err)
{
	return creds_json_parse(json, len, "container", false, out, err);
}

/*
 * The container credentials endpoint: ECS task roles
 * (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI under http://169.254.170.2) and
 * EKS Pod Identity (AWS_CONTAINER_CREDENTIALS_FULL_URI with
 * AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or _TOKEN). As the SDKs require, a
 * full URI over plain http must name a loopback address or one of the ECS
 * and EKS agents' link-local addresses: credentials never cross a network
 * in clear.
 */
static bool
container_host_ok(const char *url)
{
	static const char *const ok[] = { "127.", "localhost", "[::1]",
	    "169.254.170.2", "169.254.170.23", "[fd00:ec2::23]" };
	const char	*h, *end;
	size_t		 len;

	if (strncmp(url, "https://", 8) == 0)
		return true;
	if (strncmp(url, "http://", 7) != 0)
		return false;
	h = url + 7;
	if (*h == '[')
		end = strchr(h, ']') != NULL ? strchr(h, ']') + 1 : NULL;
	else
		end = h + strcspn(h, ":/");
	if (end == NULL || end == h)
		return false;
	len = (size_t)(end - h);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		size_t ol = strlen(ok[i]);

		if (ok[i][ol - 1] == '.') {
			/* 127.0.0.0/8: four numbers, the first 127 */
			if (len > ol && strncmp(h, ok[i], ol) == 0 &&
			    strspn(h, "0123456789.") >= len)
				return true;
		} else if (len == ol && strncmp(h, ok[i], ol) == 0)
			return true;
	}
	return false;
}

static int
creds_from_container(struct aws_client *c, struct aws_credentials *out,
    char *why, size_t size, struct ca_error *err)
{
	const char	*rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char	*full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char	*tfile = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char	*tenv = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	struct aws_response r;
	struct aws_http_req hr;
	struct ca_error	 e2;
	const char	*h[1];
	char		 url[1024], *auth = NULL;
	uint8_t		*tok = NULL;
	size_t		 tlen = 0;
	int		 rc;

	memset(&r, 0, sizeof(r));
	if (rel != NULL && *rel != '\0')
		snprintf(url, sizeof(url), "http://169.254.170.2%s%s",
		    *rel == '/' ? "" : "/", rel);
	else if (full != NULL && *full != '\0') {
		if (!container_host_ok(full))
			return ca_error_set(err, CA_EAUTH, "container: "
			    "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, "
			    "or http to a loopback address or 169.254.170.2 / "
			    "169.254.170.23 / fd00:ec2::23");
		snprintf(url, sizeof(url), "%s", full);
	} else {
		snprintf(why, size, "no AWS_CONTAINER_CREDENTIALS_*_URI");
		return CA_ENOENT;
	}
	if (tfile != NULL && *tfile != '\0') {
		if ((rc = file_read(tfile, 16384, &tok, &tlen, &e2)) != CA_OK) {
			rc = ca_error_set(err, CA_EAUTH, "container: %s",
			    e2.msg);
			goto out;
		}
		while (tlen > 0 && (tok[tlen - 1] == '\n' ||
		    tok[tlen - 1] == '\r' || tok[tlen - 1] == ' '))
			tok[--tlen] = '\0';
	} else if (tenv != NULL && *tenv != '\0') {
		if ((tok = (uint8_t *)strdup(tenv)) == NULL) {
			rc = ca_error_set(err, CA_ENOMEM, "out of memory");
			goto out;
		}
		tlen = strlen(tenv);
	}
	memset(&hr, 0, sizeof(hr));
	hr.method = "GET";
	hr.url = url;
	hr.timeout_s = 5;
	hr.connect_timeout_s = 2;
	if (tok != NULL) {
		/* One header line, whatever the file holds. */
		if (strcspn((char *)tok, "\r\n") != tlen ||
		    strlen((char *)tok) != tlen) {
			rc = ca_error_set(err, CA_EAUTH, "container: the "
			    "authorization token holds a line break");
			goto out;
		}
		if ((auth = malloc(tlen + 32)) == NULL) {
			rc = ca_error_set(err, CA_ENOMEM, "out of memory");
			goto out;
		}
		snprintf(auth, tlen + 32, "Authorization: %s", (char *)tok);
		h[0] = auth;
		hr.headers = h;
		hr.n_headers = 1;
	}
	if ((rc = aws_http_once(c, &hr, &r, &e2)) != CA_OK) {
		rc = ca_error_set(err, CA_EAUTH, "container: %s", e2.msg);
		goto out;
	}
	c->fetches++;
	if (r.status != 200) {
		rc = ca_error_set(err, CA_EAUTH, "container: %.200s answered "
		    "HTTP %ld", url, r.status);
		goto out;
	}
	rc = aws_container_parse(r.body.data, r.body.len, out, err);
out:
	if (tok != NULL) {
		gnutls_memset(tok, 0, tlen);
		free(tok);
	}
	if (auth != NULL) {
		gnutls_memset(auth, 0, strlen(auth));
		free(auth);
	}
	aws_response_clear(&r);
	return rc;
}

/* IMDSv2: a session token first (PUT), then the role, then its creds. */
static int
creds_from_imds(struct aws_client *c, struct aws_credentials *out,
    char *why, size_t size, struct ca_error *err)
{
	const char		*off = getenv("AWS_EC2_METADATA_DISABLED");
	struct aws_response	 r;
	struct aws_http_req	 hr;
	struct ca_error		 e2;
	char			 url[1024], tokh[256], role[256];
	const char		*h[1];
	int			 rc;

	memset(&r, 0, sizeof(r));
	memset(tokh, 0, sizeof(tokh));
	if (off != NULL && strcasecmp(off, "true") == 0) {
		snprintf(why, size, "AWS_EC2_METADATA_DISABLED");
		return CA_ENOENT;
	}
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
	if (aws_http_once(c, &hr, &r, &e2) != CA_OK) {
		/* Not on EC2 (or the service is off): not configured. */
		snprintf(why, size, "no answer from %.128s", c->imds);
		rc = CA_ENOENT;
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
	if ((rc = aws_http_once(c, &hr, &r, &e2)) != CA_OK) {
		rc = ca_error_set(err, CA_EAUTH, "instance role: %s", e2.msg);
		goto out;
	}
	if (r.status != 200 || r.body.len == 0 || r.body.len >= sizeof(role)) {
		rc = ca_error_set(err, CA_EAUTH, "instance role: no role is "
		    "attached (HTTP %ld)", r.status);
		goto out;
	}
	snprintf(role, sizeof(role), "%s", r.body.data);
	role[strcspn(role, "\r\n")] = '\0';
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/"
	    "security-credentials/%s", c->imds, trim(role));
	if ((rc = aws_http_once(c, &hr, &r, &e2)) != CA_OK) {
		rc = ca_error_set(err, CA_EAUTH, "instance role: %s", e2.msg);
		goto out;
	}
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

/* "; source: why" onto the list of sources tried. */
static void
tried(char *list, size_t size, const char *source, const char *why)
{
	size_t	 used = strlen(list);

	if (used + 1 < size)
		snprintf(list + used, size - used, "%s%s: %s",
		    used ? "; " : "", source, why);
}

typedef int (*fetch_fn)(struct aws_client *, struct aws_credentials *,
    char *, size_t, struct ca_error *);

/*
 * A remote source, through the client's cache of temporary credentials:
 * renewed refresh_margin before they expire; when the renewal fails, the
 * ones cached serve until they really expire.
 */
static int
cached(struct aws_client *c, const char *source, fetch_fn fetch,
    struct aws_credentials *out, char *why, size_t size,
    struct ca_error *err)
{
	struct aws_credentials	 fresh;
	int64_t			 now = time_real_now();
	bool			 mine;
	int			 rc;

	memset(&fresh, 0, sizeof(fresh));
	pthread_mutex_lock(&c->lock);
	mine = c->have_cached && strcmp(c->cached.source, source) == 0;
	if (mine && (c->cached.expires == 0 ||
	    now < c->cached.expires - c->opt.refresh_margin)) {
		*out = c->cached;
		rc = CA_OK;
		goto out;
	}
	if ((rc = fetch(c, &fresh, why, size, err)) == CA_OK) {
		snprintf(fresh.source, sizeof(fresh.source), "%s", source);
		aws_credentials_wipe(&c->cached);
		c->cached = fresh;
		c->have_cached = true;
		*out = fresh;
	} else if (mine && now < c->cached.expires) {
		*out = c->cached;
		ca_error_clear(err);
		rc = CA_OK;
	}
out:
	pthread_mutex_unlock(&c->lock);
	aws_credentials_wipe(&fresh);
	return rc;
}

static int
fetch_web_identity(struct aws_client *c, struct aws_credentials *out,
    char *why, size_t size, struct ca_error *err)
{
	int	 rc = aws_creds_web_identity(c, out, err);

	if (rc == CA_ENOENT)
		snprintf(why, size, "no AWS_WEB_IDENTITY_TOKEN_FILE");
	return rc;
}

/* Is a remote source configured at all (before its cache is looked at:
   unset, it must not keep serving what it fetched before)? */
static bool
configured(const char *source, char *why, size_t size)
{
	const char	*v;

	if (strcmp(source, "web identity") == 0) {
		v = getenv("AWS_WEB_IDENTITY_TOKEN_FILE");
		if (v != NULL && *v != '\0')
			return true;
		snprintf(why, size, "no AWS_WEB_IDENTITY_TOKEN_FILE");
		return false;
	}
	if (strcmp(source, "container") == 0) {
		if (((v = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) !=
		    NULL && *v != '\0') ||
		    ((v = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")) != NULL &&
		    *v != '\0'))
			return true;
		snprintf(why, size, "no AWS_CONTAINER_CREDENTIALS_*_URI");
		return false;
	}
	v = getenv("AWS_EC2_METADATA_DISABLED");
	if (v != NULL && strcasecmp(v, "true") == 0) {
		snprintf(why, size, "AWS_EC2_METADATA_DISABLED");
		return false;
	}
	return true;
}

int
aws_credentials_get(struct aws_client *c, struct aws_credentials *out,
    struct ca_error *err)
{
	static const struct {
		const char	*source;
		fetch_fn	 fetch;		/* remote, cached */
	} chain[] = {
		{ "environment", NULL },
		{ "web identity", fetch_web_identity },
		{ "shared file", NULL },
		{ "container", creds_from_container },
		{ "instance role", creds_from_imds },
	};
	struct aws_credentials	 cr;
	struct ca_error		 e2;
	char			 list[400] = "", why[160];
	int			 rc = CA_ENOENT;

	memset(&cr, 0, sizeof(cr));
	for (size_t i = 0; i < sizeof(chain) / sizeof(chain[0]); i++) {
		why[0] = '\0';
		ca_error_clear(&e2);
		if (chain[i].fetch != NULL)
			rc = !configured(chain[i].source, why, sizeof(why)) ?
			    CA_ENOENT : cached(c, chain[i].source,
			    chain[i].fetch, &cr, why, sizeof(why), &e2);
		else if (i == 0)
			rc = creds_from_env(&cr, why, sizeof(why), &e2);
		else
			rc = creds_from_file(&cr, why, sizeof(why), &e2);
		if (rc == CA_OK)
			break;
		if (rc != CA_ENOENT) {
			/* Configured, and failed: no other identity. */
			rc = ca_error_set(err, rc == CA_ENOMEM ? CA_ENOMEM :
			    CA_EAUTH, "AWS credentials (%s): %s%s%s%s",
			    chain[i].source, e2.msg, list[0] ? " (before it: "
			    : "", list, list[0] ? ")" : "");
			goto out;
		}
		tried(list, sizeof(list), chain[i].source, why);
	}
	if (rc != CA_OK) {
		rc = ca_error_set(err, CA_EAUTH, "no AWS credentials: %s", list);
		goto out;
	}
	*out = cr;
out:
	aws_credentials_wipe(&cr);
	return rc;
}
