/*
 * The AWS client of the publishers: libcurl (GnuTLS) transport, SigV4,
 * the credentials chain, retries, and the XML of S3 and ELBv2 answers.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "common/util.h"
#include "crl/aws.h"

/* Answers bigger than this are not ours to read (an S3 GET of a CRL is at
 * most ALB's 50 MB). */
#define AWS_BODY_MAX	(64u * 1024 * 1024)
#define IMDS_DEFAULT	"http://169.254.169.254"

struct aws_client {
	struct aws_client_options opt;
	char			 imds[512];
	pthread_mutex_t		 lock;
	struct aws_credentials	 role;		/* cached instance-role creds */
	bool			 have_role;
	unsigned		 imds_fetches;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void
global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	xmlInitParser();
}

int
aws_client_new(const struct aws_client_options *opt, struct aws_client **out,
    struct ca_error *err)
{
	struct aws_client	*c;

	pthread_once(&global_once, global_init);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	if (opt != NULL)
		c->opt = *opt;
	if (c->opt.max_attempts == 0)
		c->opt.max_attempts = 4;
	if (c->opt.base_delay_ms == 0)
		c->opt.base_delay_ms = 200;
	if (c->opt.max_delay_ms == 0)
		c->opt.max_delay_ms = 5000;
	if (c->opt.timeout_s == 0)
		c->opt.timeout_s = 30;
	if (c->opt.connect_timeout_s == 0)
		c->opt.connect_timeout_s = 5;
	if (c->opt.refresh_margin == 0)
		c->opt.refresh_margin = 300;
	snprintf(c->imds, sizeof(c->imds), "%s",
	    opt != NULL && opt->imds_endpoint != NULL &&
	    opt->imds_endpoint[0] != '\0' ? opt->imds_endpoint : IMDS_DEFAULT);
	c->opt.imds_endpoint = c->imds;
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return CA_OK;
}

void
aws_client_free(struct aws_client *c)
{
	if (c == NULL)
		return;
	aws_credentials_wipe(&c->role);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

unsigned
aws_client_imds_fetches(const struct aws_client *c)
{
	return c->imds_fetches;
}

void
aws_credentials_wipe(struct aws_credentials *cr)
{
	if (cr != NULL)
		gnutls_memset(cr, 0, sizeof(*cr));
}

void
aws_response_clear(struct aws_response *r)
{
	if (r == NULL)
		return;
	awsbuf_free(&r->body);
	memset(r, 0, sizeof(*r));
}

/* ---- HTTP through libcurl ---- */

struct http_req {
	const char	*method;
	const char	*url;
	const char	*const *headers;	/* "Name: value" */
	size_t		 n_headers;
	const void	*body;
	size_t		 body_len;
};

static size_t
write_cb(char *p, size_t size, size_t n, void *ctx)
{
	struct awsbuf	*b = ctx;

	if (b->len + size * n > AWS_BODY_MAX)
		return 0;
	if (awsbuf_add(b, p, size * n) != CA_OK)
		return 0;
	return size * n;
}

static void
header_value(const char *line, size_t len, const char *name, char *out,
    size_t size)
{
	size_t	 nl = strlen(name), vl;
	const char *v;

	if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 ||
	    line[nl] != ':')
		return;
	v = line + nl + 1;
	while (v < line + len && (*v == ' ' || *v == '\t'))
		v++;
	vl = (size_t)(line + len - v);
	while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' ||
	    v[vl - 1] == ' '))
		vl--;
	if (vl >= size)
		vl = size - 1;
	memcpy(out, v, vl);
	out[vl] = '\0';
}

static size_t
header_cb(char *p, size_t size, size_t n, void *ctx)
{
	struct aws_response	*r = ctx;

	header_value(p, size * n, "x-amz-version-id", r->version_id,
	    sizeof(r->version_id));
	header_value(p, size * n, "etag", r->etag, sizeof(r->etag));
	return size * n;
}

/*
 * One HTTP exchange. CA_OK when an answer came (any status, in r->status);
 * CA_EIO for a transport failure or timeout (err says which, without the
 * request's headers).
 */
static int
http_once(const struct aws_client *c, const struct http_req *hr,
    struct aws_response *r, struct ca_error *err)
{
	CURL			*h = NULL;
	struct curl_slist	*hl = NULL, *nl;
	CURLcode		 cc;
	int			 rc = CA_OK;

	awsbuf_free(&r->body);
	r->status = 0;
	r->version_id[0] = r->etag[0] = '\0';
	if ((h = curl_easy_init()) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "libcurl: out of memory");
		goto out;
	}
	for (size_t i = 0; i < hr->n_headers; i++) {
		if ((nl = curl_slist_append(hl, hr->headers[i])) == NULL) {
			rc = ca_error_set(err, CA_ENOMEM, "out of memory");
			goto out;
		}
		hl = nl;
	}
	/* No "Expect: 100-continue" round trip, and no header we did not
	 * sign except the ones SigV4 ignores. */
	if ((nl = curl_slist_append(hl, "Expect:")) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	hl = nl;
	curl_easy_setopt(h, CURLOPT_URL, hr->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, c->opt.timeout_s);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->opt.connect_timeout_s);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "mtlsca");
	if (strcmp(hr->method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else {
		if (strcmp(hr->method, "POST") != 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, hr->method);
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS,
		    hr->body_len ? hr->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)hr->body_len);
	}
	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		rc = ca_error_set(err, CA_EIO, "%s %s: %s", hr->method,
		    hr->url, curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
out:
	curl_slist_free_all(hl);	/* headers may hold a session token */
	curl_easy_cleanup(h);
	return rc;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Exponential backoff with jitter: attempt k (1-based) waits a random
 * time in [d/2, d], d = min(max, base * 2^(k-1)). */
static unsigned
backoff_ms(const struct aws_client *c, unsigned attempt)
{
	uint64_t	 d = c->opt.base_delay_ms;
	uint32_t	 rnd = 0;

	for (unsigned i = 1; i < attempt && d < c->opt.max_delay_ms; i++)
		d *= 2;
	if (d > c->opt.max_delay_ms)
		d = c->opt.max_delay_ms;
	gnutls_rnd(GNUTLS_RND_NONCE, &rnd, sizeof(rnd));
	return (unsigned)(d / 2 + rnd % (d / 2 + 1));
}

/* ---- XML ---- */

static xmlDocPtr
xml_parse(const char *buf, size_t len)
{
	xmlDocPtr	doc;

	if (len == 0 || len > INT32_MAX)
		return NULL;
	/* No network, no entity substitution, no DTD loading. */
	doc = xmlReadMemory(buf, (int)len, "aws.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
	    XML_PARSE_NOWARNING);
	/* S3 and ELBv2 never send a DTD. Without XML_PARSE_NOENT entities
	   are not substituted in the tree, but xmlNodeGetContent still
	   expands internal entity references: refuse any document with a
	   DOCTYPE so that no entity shapes what is read. */
	if (doc != NULL && (doc->intSubset != NULL || doc->extSubset != NULL)) {
		xmlFreeDoc(doc);
		doc = NULL;
	}
	return doc;
}

static xmlNodePtr
xml_child(xmlNodePtr n, const char *name)
{
	for (xmlNodePtr c = n ? n->children : NULL; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    strcmp((const char *)c->name, name) == 0)
			return c;
	return NULL;
}

/* First element called name anywhere below n (depth first). */
static xmlNodePtr
xml_find(xmlNodePtr n, const char *name)
{
	for (xmlNodePtr c = n ? n->children : NULL; c != NULL; c = c->next) {
		xmlNodePtr f;
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *)c->name, name) == 0)
			return c;
		if ((f = xml_find(c, name)) != NULL)
			return f;
	}
	return NULL;
}

static void
xml_text(xmlNodePtr n, char *out, size_t size)
{
	xmlChar	*t;

	out[0] = '\0';
	if (n == NULL || (t = xmlNodeGetContent(n)) == NULL)
		return;
	snprintf(out, size, "%s", (const char *)t);
	xmlFree(t);
}

/* The Code and Message of an S3 <Error> or ELBv2 <ErrorResponse>. */
static void
parse_error(struct aws_response *r)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 root, e;

	r->error_code[0] = r->error_message[0] = '\0';
	if ((doc = xml_parse(r->body.data, r->body.len)) == NULL)
		return;
	root = xmlDocGetRootElement(doc);
	e = root != NULL && strcmp((const char *)root->name, "Error") == 0 ?
	    root : xml_find(root, "Error");
	if (e != NULL) {
		xml_text(xml_child(e, "Code"), r->error_code,
		    sizeof(r->error_code));
		xml_text(xml_child(e, "Message"), r->error_message,
		    sizeof(r->error_message));
	}
	xmlFreeDoc(doc);
}

int
aws_elbv2_parse_revocations(const char *xml, size_t len,
    struct aws_revocation *out, size_t max, size_t *n, char *next_marker,
    size_t marker_size, struct ca_error *err)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 root, list;
	size_t		 k = 0;
	char		 t[64];
	int		 rc = CA_OK;

	if ((doc = xml_parse(xml, len)) == NULL)
		return ca_error_set(err, CA_EMALF,
		    "ELBv2 answer is not well-formed XML");
	root = xmlDocGetRootElement(doc);
	if (root == NULL || (list = xml_find(root, "TrustStoreRevocations")) ==
	    NULL) {
		rc = ca_error_set(err, CA_EMALF, "ELBv2 answer holds no "
		    "TrustStoreRevocations element");
		goto out;
	}
	for (xmlNodePtr m = list->children; m != NULL; m = m->next) {
		uint64_t id, entries;
		if (m->type != XML_ELEMENT_NODE ||
		    strcmp((const char *)m->name, "member") != 0)
			continue;
		if (k == max) {
			rc = ca_error_set(err, CA_ETOOBIG, "ELBv2 answer lists "
			    "more than %zu revocations", max);
			goto out;
		}
		xml_text(xml_child(m, "RevocationId"), t, sizeof(t));
		if (parse_u64(t, 0, UINT64_MAX, &id) != CA_OK) {
			rc = ca_error_set(err, CA_EMALF, "ELBv2 answer: "
			    "RevocationId '%.32s' is not a number", t);
			goto out;
		}
		xml_text(xml_child(m, "NumberOfRevokedEntries"), t, sizeof(t));
		if (t[0] == '\0')
			entries = 0;
		else if (parse_u64(t, 0, UINT64_MAX, &entries) != CA_OK) {
			rc = ca_error_set(err, CA_EMALF, "ELBv2 answer: "
			    "NumberOfRevokedEntries '%.32s' is not a number",
			    t);
			goto out;
		}
		out[k].id = id;
		out[k++].entries = entries;
	}
	if (next_marker != NULL)
		xml_text(xml_find(root, "NextMarker"), next_marker,
		    marker_size);
	*n = k;
out:
	xmlFreeDoc(doc);
	return rc;
}

/* ---- credentials ---- */

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

/* The string value of "key" in a flat JSON object (IMDS documents). */
static bool
json_string(const char *json, size_t len, const char *key, char *out,
    size_t size)
{
	char		 pat[64];
	const char	*p, *end = json + len;
	size_t		 o = 0;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	if ((p = strstr(json, pat)) == NULL)
		return false;
	p += strlen(pat);
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (p >= end || *p++ != ':')
		return false;
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (p >= end || *p++ != '"')
		return false;
	for (; p < end && *p != '"'; p++) {
		char ch = *p;
		if (ch == '\\') {
			if (++p >= end)
				return false;
			switch (*p) {
			case '"': case '\\': case '/': ch = *p; break;
			case 'n': ch = '\n'; break;
			case 't': ch = '\t'; break;
			default: return false;	/* \uXXXX: not in IMDS */
			}
		}
		if (o + 1 >= size)
			return false;
		out[o++] = ch;
	}
	if (p >= end)
		return false;
	out[o] = '\0';
	return true;
}

int
aws_imds_parse(const char *json, size_t len, struct aws_credentials *out,
    struct ca_error *err)
{
	struct aws_credentials	 c;
	char			 code[32], exp[32];
	int64_t			 t;

	memset(&c, 0, sizeof(c));
	if (!json_string(json, len, "Code", code, sizeof(code)) ||
	    strcmp(code, "Success") != 0)
		return ca_error_set(err, CA_EAUTH, "instance role: the "
		    "metadata service did not answer Code \"Success\"");
	if (!json_string(json, len, "AccessKeyId", c.access_key,
	    sizeof(c.access_key)) ||
	    !json_string(json, len, "SecretAccessKey", c.secret_key,
	    sizeof(c.secret_key)) ||
	    !json_string(json, len, "Token", c.session_token,
	    sizeof(c.session_token)) ||
	    !json_string(json, len, "Expiration", exp, sizeof(exp)) ||
	    time_parse(exp, &t) != CA_OK) {
		aws_credentials_wipe(&c);
		return ca_error_set(err, CA_EAUTH, "instance role: the "
		    "credentials document lacks AccessKeyId, SecretAccessKey, "
		    "Token or an RFC 3339 Expiration");
	}
	c.expires = t;
	snprintf(c.source, sizeof(c.source), "instance role");
	*out = c;
	aws_credentials_wipe(&c);
	return CA_OK;
}

/* IMDSv2: a session token first (PUT), then the role, then its creds. */
static int
creds_from_imds(struct aws_client *c, struct aws_credentials *out,
    struct ca_error *err)
{
	struct aws_response	 r;
	struct http_req		 hr;
	char			 url[1024], tokh[256], role[256];
	const char		*h[1];
	struct aws_client	 quick;
	int			 rc;

	memset(&r, 0, sizeof(r));
	/* The metadata service is local: short timeouts, one attempt. */
	quick = *c;
	quick.opt.timeout_s = 2;
	quick.opt.connect_timeout_s = 1;
	snprintf(url, sizeof(url), "%s/latest/api/token", c->imds);
	h[0] = "X-aws-ec2-metadata-token-ttl-seconds: 21600";
	memset(&hr, 0, sizeof(hr));
	hr.method = "PUT";
	hr.url = url;
	hr.headers = h;
	hr.n_headers = 1;
	if ((rc = http_once(&quick, &hr, &r, err)) != CA_OK) {
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
	if ((rc = http_once(&quick, &hr, &r, err)) != CA_OK)
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
	if ((rc = http_once(&quick, &hr, &r, err)) != CA_OK)
		goto out;
	if (r.status != 200) {
		rc = ca_error_set(err, CA_EAUTH, "instance role: credentials "
		    "request got HTTP %ld", r.status);
		goto out;
	}
	rc = aws_imds_parse(r.body.data, r.body.len, out, err);
	c->imds_fetches++;
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
	if (!c->have_role ||
	    time_now() >= c->role.expires - c->opt.refresh_margin) {
		aws_credentials_wipe(&c->role);
		c->have_role = false;
		if ((rc = creds_from_imds(c, &c->role, err)) == CA_OK)
			c->have_role = true;
	} else
		rc = CA_OK;
	if (rc == CA_OK)
		cr = c->role;
	pthread_mutex_unlock(&c->lock);
out:
	if (rc == CA_OK)
		*out = cr;
	aws_credentials_wipe(&cr);
	return rc;
}

/* ---- signed requests ---- */

/* "https://host[:port]/base" -> host[:port] and the path prefix. */
static int
split_endpoint(const char *ep, char *host, size_t hsize, char *base,
    size_t bsize, struct ca_error *err)
{
	const char	*p, *slash;

	if (strncmp(ep, "https://", 8) == 0)
		p = ep + 8;
	else if (strncmp(ep, "http://", 7) == 0)
		p = ep + 7;
	else
		return ca_error_set(err, CA_EINVAL, "endpoint '%.128s' must "
		    "start with https:// or http://", ep);
	slash = strchr(p, '/');
	if (slash == NULL)
		slash = p + strlen(p);
	if (slash == p || (size_t)(slash - p) >= hsize ||
	    strlen(slash) >= bsize)
		return ca_error_set(err, CA_EINVAL, "endpoint '%.128s' has no "
		    "usable host", ep);
	memcpy(host, p, (size_t)(slash - p));
	host[slash - p] = '\0';
	snprintf(base, bsize, "%s", slash);
	/* No trailing slash on the prefix: the request path adds its own. */
	if (strlen(base) > 0 && base[strlen(base) - 1] == '/')
		base[strlen(base) - 1] = '\0';
	return CA_OK;
}

/* "Name: value" in a fresh buffer; *out NULL on failure. */
static int
hdr_fmt(char **out, const char *name, const char *value)
{
	struct awsbuf	 b = { 0 };
	int		 rc;

	if ((rc = awsbuf_printf(&b, "%s: %s", name, value)) != CA_OK) {
		awsbuf_free(&b);
		return rc;
	}
	*out = awsbuf_take(&b);
	return *out != NULL ? CA_OK : CA_ENOMEM;
}

struct signed_call {
	const char		*method;
	const char		*endpoint;	/* scheme://host[:port][/base] */
	const char		*path;		/* raw, after the base */
	const char		*region;
	const char		*service;
	bool			 s3;
	const struct sigv4_kv	*extra;		/* more headers to sign */
	size_t			 n_extra;
	const void		*body;
	size_t			 body_len;
	/* The call changes something each time it runs (ELBv2's
	   AddTrustStoreRevocations): a transport failure or a 5xx may come
	   after it ran, so only answers that say it did not run (throttling)
	   are retried here; the caller settles the rest. */
	bool			 not_idempotent;
};

/*
 * A refusal that says "not now, nothing done": HTTP 429, or a 400 whose AWS
 * error code is one of the throttling codes (the Query APIs answer
 * "Throttling" with 400; S3's "SlowDown" is a 503 and retried anyway).
 */
static bool
throttled(struct aws_response *r)
{
	if (r->status == 429)
		return true;
	if (r->status != 400)
		return false;
	parse_error(r);
	return strcmp(r->error_code, "Throttling") == 0 ||
	    strcmp(r->error_code, "ThrottlingException") == 0 ||
	    strcmp(r->error_code, "RequestLimitExceeded") == 0 ||
	    strcmp(r->error_code, "TooManyRequestsException") == 0;
}

/*
 * Sign and send, retrying throttling, 5xx answers and transport failures
 * with backoff (only throttling for a call that is not idempotent); each
 * attempt is signed afresh (new date, maybe renewed credentials).
 * CA_OK when an answer came (any status); the caller reads the status.
 */
static int
signed_send(struct aws_client *c, const struct signed_call *sc,
    struct aws_response *resp, struct ca_error *err)
{
	struct aws_credentials	 cr;
	struct sigv4_kv		 sh[SIGV4_HEADERS_MAX];
	struct sigv4_request	 req;
	struct sigv4_result	 sr;
	struct awsbuf		 url = { 0 };
	char			 host[256], base[512], date[17];
	char			*hl[SIGV4_HEADERS_MAX + 4];
	size_t			 nh, nhl;
	int			 rc = CA_OK;

	memset(&cr, 0, sizeof(cr));
	memset(&sr, 0, sizeof(sr));
	memset(hl, 0, sizeof(hl));
	if ((rc = split_endpoint(sc->endpoint, host, sizeof(host), base,
	    sizeof(base), err)) != CA_OK)
		goto out;
	if (sc->n_extra + 1 > SIGV4_HEADERS_MAX) {
		rc = ca_error_set(err, CA_EINVAL, "too many headers");
		goto out;
	}
	for (resp->attempts = 1;; resp->attempts++) {
		struct ca_error	 e2;
		struct awsbuf	 path = { 0 };

		sigv4_result_clear(&sr);
		for (size_t i = 0; i < sizeof(hl) / sizeof(hl[0]); i++) {
			free(hl[i]);
			hl[i] = NULL;
		}
		if ((rc = aws_credentials_get(c, &cr, err)) != CA_OK)
			goto out;
		nh = 0;
		sh[nh].name = "Host";
		sh[nh++].value = host;
		for (size_t i = 0; i < sc->n_extra; i++)
			sh[nh++] = sc->extra[i];
		if ((rc = awsbuf_printf(&path, "%s%s", base, sc->path)) !=
		    CA_OK) {
			awsbuf_free(&path);
			goto out;
		}
		memset(&req, 0, sizeof(req));
		req.method = sc->method;
		req.path = path.data;
		req.headers = sh;
		req.n_headers = nh;
		req.body = sc->body;
		req.body_len = sc->body_len;
		req.s3 = sc->s3;
		sigv4_amz_date(time_now(), date);
		{
			struct sigv4_credentials sc4 = { cr.access_key,
			    cr.secret_key, cr.session_token };
			rc = sigv4_sign(&req, &sc4, sc->region, sc->service,
			    date, &sr, err);
		}
		awsbuf_free(&path);
		if (rc != CA_OK)
			goto out;
		url.len = 0;
		if ((rc = awsbuf_printf(&url, "%.*s%s%s%s",
		    (int)(strstr(sc->endpoint, "://") + 3 - sc->endpoint),
		    sc->endpoint, host, sr.canonical_path,
		    sr.canonical_query[0] ? "?" : "")) != CA_OK ||
		    (rc = awsbuf_puts(&url, sr.canonical_query)) != CA_OK)
			goto out;
		nhl = 0;
		if (hdr_fmt(&hl[nhl++], "Host", host) != CA_OK ||
		    hdr_fmt(&hl[nhl++], "X-Amz-Date", sr.amz_date) != CA_OK ||
		    hdr_fmt(&hl[nhl++], "Authorization", sr.authorization) !=
		    CA_OK ||
		    (sc->s3 && hdr_fmt(&hl[nhl++], "x-amz-content-sha256",
		    sr.payload_hash) != CA_OK) ||
		    (cr.session_token[0] != '\0' && hdr_fmt(&hl[nhl++],
		    "X-Amz-Security-Token", cr.session_token) != CA_OK)) {
			rc = ca_error_set(err, CA_ENOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < sc->n_extra; i++)
			if (hdr_fmt(&hl[nhl++], sc->extra[i].name,
			    sc->extra[i].value) != CA_OK) {
				rc = ca_error_set(err, CA_ENOMEM,
				    "out of memory");
				goto out;
			}
		{
			struct http_req hr = { sc->method, url.data,
			    (const char *const *)hl, nhl, sc->body,
			    sc->body_len };
			rc = http_once(c, &hr, resp, &e2);
		}
		if (rc == CA_ENOMEM) {
			ca_error_set(err, rc, "%s", e2.msg);
			goto out;
		}
		if (rc == CA_OK && resp->status < 500 && !throttled(resp))
			break;
		if (resp->attempts >= c->opt.max_attempts ||
		    (sc->not_idempotent && !(rc == CA_OK && throttled(resp)))) {
			if (rc != CA_OK)
				ca_error_set(err, rc, "%s (after %u attempts)",
				    e2.msg, resp->attempts);
			else
				rc = CA_OK;	/* a 5xx answer: caller reads it */
			goto out;
		}
		sleep_ms(backoff_ms(c, resp->attempts));
	}
out:
	for (size_t i = 0; i < sizeof(hl) / sizeof(hl[0]); i++) {
		if (hl[i] != NULL)
			gnutls_memset(hl[i], 0, strlen(hl[i]));
		free(hl[i]);
	}
	aws_credentials_wipe(&cr);
	sigv4_result_clear(&sr);
	awsbuf_free(&url);
	return rc;
}

/* Turn a non-2xx answer into a code and a sentence. */
static int
answer_error(struct aws_response *r, const char *what, struct ca_error *err)
{
	int	 code;

	parse_error(r);
	if (r->status == 403 || r->status == 401)
		code = CA_EAUTH;
	else if (r->status == 404)
		code = CA_ENOENT;
	else if (r->status >= 400 && r->status < 500)
		code = CA_EPOLICY;
	else
		code = CA_EIO;
	return ca_error_set(err, code, "%s: HTTP %ld %s%s%.200s%s",
	    what, r->status, r->error_code[0] ? r->error_code : "error",
	    r->error_message[0] ? " (" : "", r->error_message,
	    r->error_message[0] ? ")" : "");
}

static void
default_endpoint(char *out, size_t size, const char *endpoint,
    const char *service, const char *region)
{
	if (endpoint != NULL && endpoint[0] != '\0')
		snprintf(out, size, "%s", endpoint);
	else
		snprintf(out, size, "https://%s.%s.amazonaws.com", service,
		    region);
}

static int
s3_call(struct aws_client *c, const char *method, const char *endpoint,
    const char *region, const char *bucket, const char *key, const void *body,
    size_t len, const char *content_type, struct aws_response *resp,
    struct ca_error *err)
{
	struct signed_call	 sc;
	struct sigv4_kv		 extra[1];
	char			 ep[1024], path[2048], what[2300];
	struct ca_error		 e2;
	int			 rc;

	aws_response_clear(resp);
	default_endpoint(ep, sizeof(ep), endpoint, "s3", region);
	/* Path-style: /bucket/key (S3-compatible servers and tests). */
	if ((size_t)snprintf(path, sizeof(path), "/%s/%s", bucket, key) >=
	    sizeof(path))
		return ca_error_set(err, CA_EINVAL, "S3 key too long");
	snprintf(what, sizeof(what), "S3 %s s3://%s/%s", method, bucket, key);
	memset(&sc, 0, sizeof(sc));
	sc.method = method;
	sc.endpoint = ep;
	sc.path = path;
	sc.region = region;
	sc.service = "s3";
	sc.s3 = true;
	sc.body = body;
	sc.body_len = len;
	if (content_type != NULL) {
		extra[0].name = "Content-Type";
		extra[0].value = content_type;
		sc.extra = extra;
		sc.n_extra = 1;
	}
	if ((rc = signed_send(c, &sc, resp, &e2)) != CA_OK)
		return ca_error_set(err, rc, "%s: %s", what, e2.msg);
	if (resp->status < 200 || resp->status > 299)
		return answer_error(resp, what, err);
	return CA_OK;
}

int
aws_s3_put(struct aws_client *c, const char *endpoint, const char *region,
    const char *bucket, const char *key, const void *body, size_t len,
    const char *content_type, struct aws_response *resp, struct ca_error *err)
{
	return s3_call(c, "PUT", endpoint, region, bucket, key, body, len,
	    content_type, resp, err);
}

int
aws_s3_get(struct aws_client *c, const char *endpoint, const char *region,
    const char *bucket, const char *key, struct aws_response *resp,
    struct ca_error *err)
{
	return s3_call(c, "GET", endpoint, region, bucket, key, NULL, 0, NULL,
	    resp, err);
}

int
aws_elbv2_call(struct aws_client *c, const char *endpoint, const char *region,
    const char *action, const struct sigv4_kv *params, size_t n_params,
    struct aws_response *resp, struct ca_error *err)
{
	struct signed_call	 sc;
	struct sigv4_kv		 extra[1] = { { "Content-Type",
	    "application/x-www-form-urlencoded; charset=utf-8" } };
	struct awsbuf		 form = { 0 };
	char			 ep[1024], what[128];
	struct ca_error		 e2;
	int			 rc;

	aws_response_clear(resp);
	default_endpoint(ep, sizeof(ep), endpoint, "elasticloadbalancing",
	    region);
	snprintf(what, sizeof(what), "ELBv2 %s", action);
	/* The Query API: every parameter in the form body, RFC 3986
	 * percent-encoding (what SigV4 canonicalises as well). */
	if ((rc = awsbuf_puts(&form, "Action=")) != CA_OK ||
	    (rc = sigv4_uri_encode(&form, action, strlen(action), false)) !=
	    CA_OK || (rc = awsbuf_puts(&form, "&Version=2015-12-01")) != CA_OK)
		goto oom;
	for (size_t i = 0; i < n_params; i++) {
		if ((rc = awsbuf_puts(&form, "&")) != CA_OK ||
		    (rc = sigv4_uri_encode(&form, params[i].name,
		    strlen(params[i].name), false)) != CA_OK ||
		    (rc = awsbuf_puts(&form, "=")) != CA_OK ||
		    (rc = sigv4_uri_encode(&form, params[i].value,
		    strlen(params[i].value), false)) != CA_OK)
			goto oom;
	}
	memset(&sc, 0, sizeof(sc));
	sc.method = "POST";
	sc.endpoint = ep;
	sc.path = "/";
	sc.region = region;
	sc.service = "elasticloadbalancing";
	sc.extra = extra;
	sc.n_extra = 1;
	sc.body = form.data;
	sc.body_len = form.len;
	sc.not_idempotent = strcmp(action, "AddTrustStoreRevocations") == 0;
	if ((rc = signed_send(c, &sc, resp, &e2)) != CA_OK) {
		ca_error_set(err, rc, "%s: %s", what, e2.msg);
		goto out;
	}
	if (resp->status < 200 || resp->status > 299)
		rc = answer_error(resp, what, err);
	goto out;
oom:
	rc = ca_error_set(err, CA_ENOMEM, "out of memory");
out:
	awsbuf_free(&form);
	return rc;
}
