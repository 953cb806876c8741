/*
 * The client: its libcurl handle (GnuTLS build), one HTTP exchange, SigV4
 * signing of each attempt, retries with backoff, and AWS error answers.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <libxml/parser.h>

#include "aws/aws_int.h"
#include "common/util.h"

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
	    opt->imds_endpoint[0] != '\0' ? opt->imds_endpoint :
	    AWS_IMDS_DEFAULT);
	c->opt.imds_endpoint = c->imds;
	if ((c->curl = curl_easy_init()) == NULL) {
		free(c);
		return ca_error_set(err, CA_ENOMEM, "libcurl: out of memory");
	}
	pthread_mutex_init(&c->io, NULL);
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return CA_OK;
}

void
aws_client_free(struct aws_client *c)
{
	if (c == NULL)
		return;
	aws_credentials_wipe(&c->cached);
	curl_easy_cleanup(c->curl);
	pthread_mutex_destroy(&c->io);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

unsigned
aws_client_credential_fetches(const struct aws_client *c)
{
	return c->fetches;
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

struct sink {
	struct awsbuf	*b;
	size_t		 max;
};

static size_t
write_cb(char *p, size_t size, size_t n, void *ctx)
{
	struct sink	*k = ctx;

	if (size * n > k->max - k->b->len)
		return 0;	/* curl fails the transfer: CURLE_WRITE_ERROR */
	if (awsbuf_add(k->b, p, size * n) != CA_OK)
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

int
aws_http_once(struct aws_client *c, const struct aws_http_req *hr,
    struct aws_response *r, struct ca_error *err)
{
	CURL			*h = c->curl;
	struct curl_slist	*hl = NULL, *nl;
	struct sink		 sink = { &r->body, hr->body_max ?
	    hr->body_max : AWS_BODY_MAX };
	CURLcode		 cc;
	int			 rc = CA_OK;

	pthread_mutex_lock(&c->io);
	awsbuf_free(&r->body);
	r->status = 0;
	r->version_id[0] = r->etag[0] = '\0';
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
	/* Every option of the last request goes; its connection stays. */
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, hr->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, hr->timeout_s ? hr->timeout_s :
	    c->opt.timeout_s);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, hr->connect_timeout_s ?
	    hr->connect_timeout_s : c->opt.connect_timeout_s);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
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
		if (cc == CURLE_WRITE_ERROR && r->body.len + CURL_MAX_WRITE_SIZE
		    > sink.max)
			rc = ca_error_set(err, CA_ETOOBIG, "%s %.200s: the answer "
			    "is over %zu bytes", hr->method, hr->url, sink.max);
		else
			rc = ca_error_set(err, CA_EIO, "%s %.300s: %s",
			    hr->method, hr->url, curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
out:
	/* Drop the pointers into this request's memory (headers may hold a
	   session token); the connection stays in the handle's cache. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, NULL);
	curl_slist_free_all(hl);
	pthread_mutex_unlock(&c->io);
	return rc;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* The wait before attempt k + 1 (common/'s backoff_delay). */
static unsigned
backoff_ms(const struct aws_client *c, unsigned attempt)
{
	uint32_t	 rnd = 0;

	gnutls_rnd(GNUTLS_RND_NONCE, &rnd, sizeof(rnd));
	return (unsigned)backoff_delay(c->opt.base_delay_ms,
	    c->opt.max_delay_ms, attempt, rnd);
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
	aws_xml_error(r);
	return strcmp(r->error_code, "Throttling") == 0 ||
	    strcmp(r->error_code, "ThrottlingException") == 0 ||
	    strcmp(r->error_code, "RequestLimitExceeded") == 0 ||
	    strcmp(r->error_code, "TooManyRequestsException") == 0;
}

int
aws_signed_send(struct aws_client *c, const struct aws_signed_call *sc,
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
		if ((rc = aws_credentials_get(c, &cr, err)) != CA_OK) {
			/* Nothing was sent (aws_response.attempts 0). */
			resp->attempts--;
			goto out;
		}
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
		sigv4_amz_date(time_real_now(), date);
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
			struct aws_http_req hr = { sc->method, url.data,
			    (const char *const *)hl, nhl, sc->body,
			    sc->body_len, 0, 0, 0 };
			rc = aws_http_once(c, &hr, resp, &e2);
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

int
aws_answer_error(struct aws_response *r, const char *what,
    struct ca_error *err)
{
	int	 code;

	aws_xml_error(r);
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

void
aws_default_endpoint(char *out, size_t size, const char *endpoint,
    const char *service, const char *region)
{
	if (endpoint != NULL && endpoint[0] != '\0')
		snprintf(out, size, "%s", endpoint);
	else
		snprintf(out, size, "https://%s.%s.amazonaws.com", service,
		    region);
}

int
aws_http_get(struct aws_client *c, const char *url, size_t max,
    struct aws_response *resp, struct ca_error *err)
{
	struct aws_http_req	 hr;
	struct ca_error		 e2;
	int			 rc;

	aws_response_clear(resp);
	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
		return ca_error_set(err, CA_EMALF, "'%.128s' is not an http(s) "
		    "URL", url);
	memset(&hr, 0, sizeof(hr));
	hr.method = "GET";
	hr.url = url;
	hr.body_max = max;
	/* A presigned URL (its signature in the query) is not logged: the
	   error names the host only. */
	for (resp->attempts = 1;; resp->attempts++) {
		rc = aws_http_once(c, &hr, resp, &e2);
		if (rc == CA_OK && resp->status < 500)
			break;
		if (rc == CA_ENOMEM || rc == CA_ETOOBIG ||
		    resp->attempts >= c->opt.max_attempts) {
			char host[256];

			snprintf(host, sizeof(host), "%.*s",
			    (int)strcspn(url + (url[4] == 's' ? 8 : 7), "/?"),
			    url + (url[4] == 's' ? 8 : 7));
			if (rc != CA_OK)
				return ca_error_set(err, rc, "GET %s/...: %s "
				    "(after %u attempts)", host, rc ==
				    CA_ETOOBIG ? "the answer is too big" :
				    "no answer", resp->attempts);
			return ca_error_set(err, CA_EIO, "GET %s/...: HTTP %ld",
			    host, resp->status);
		}
		sleep_ms(backoff_ms(c, resp->attempts));
	}
	if (resp->status < 200 || resp->status > 299)
		return aws_answer_error(resp, "GET of the presigned URL", err);
	return CA_OK;
}
