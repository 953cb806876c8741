/*
 * The HTTPS calls to a mtlsca server (README "The service's API"): the CA
 * bundle, enrollment with a bearer token, renewal over mutual TLS. libcurl
 * on GnuTLS; the server is always verified against the caller's trust
 * anchors, except for the one bootstrap GET of /ca.pem, which carries no
 * secret and whose answer the caller checks against a fingerprint.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <jansson.h>

#include "client/client.h"

/* Answers are a certificate, a CA bundle and a few fields. */
#define RESP_MAX	(1024 * 1024)
#define URL_MAX		2048
#define TIMEOUT_S	60L
#define CONNECT_S	15L

struct resp {
	char	*body;
	size_t	 len;
	bool	 over;
	long	 status;
	int64_t	 date;		/* Date header, 0 if none */
};

struct req {
	const struct client_conn	*c;
	const char			*path;
	bool				 insecure;	/* bootstrap only */
	bool				 mtls;
	const char			*token;
	const char			*body;		/* NULL: GET */
};

static size_t
write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct resp	*r = arg;
	size_t		 n = size * nmemb;
	char		*nb;

	if (n > RESP_MAX - r->len) {
		r->over = true;
		return 0;	/* aborts the transfer */
	}
	if ((nb = realloc(r->body, r->len + n + 1)) == NULL)
		return 0;
	memcpy(nb + r->len, p, n);
	r->body = nb;
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

static size_t
header_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct resp	*r = arg;
	size_t		 n = size * nmemb;
	char		 v[128];

	/* RFC 9110 §6.6.1: the origin's clock, for the skew check. */
	if (n > 5 && n < sizeof(v) + 5 && strncasecmp(p, "Date:", 5) == 0) {
		time_t t;

		memcpy(v, p + 5, n - 5);
		v[n - 5] = '\0';
		if ((t = curl_getdate(v, NULL)) > 0)
			r->date = (int64_t)t;
	}
	return n;
}

static int
url_make(const char *server, const char *path, char *out, size_t size,
    struct ca_error *err)
{
	size_t n;

	if (server == NULL || strncmp(server, "https://", 8) != 0)
		return ca_error_set(err, CA_EINVAL, "--server %s: the URL must "
		    "start with https:// (tokens and keys never travel in "
		    "clear)", server != NULL ? server : "(none)");
	n = strlen(server);
	while (n > 8 && server[n - 1] == '/')
		n--;
	if (n == 8 || snprintf(out, size, "%.*s%s", (int)n, server, path) >=
	    (int)size)
		return ca_error_set(err, CA_EINVAL, "--server %.100s: not a "
		    "usable URL", server);
	return CA_OK;
}

/* A transport failure as a sentence that says what to check. */
static int
curl_fail(CURLcode cc, const char *url, const char *detail,
    const struct req *q, struct ca_error *err)
{
	const char *d = detail[0] != '\0' ? detail : curl_easy_strerror(cc);

	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return ca_error_set(err, CA_EIO, "cannot resolve the server's "
		    "name in %s: %s", url, d);
	case CURLE_COULDNT_CONNECT:
		return ca_error_set(err, CA_EIO, "cannot connect to %s: %s (is "
		    "`mtlsca serve` running and listening there?)", url, d);
	case CURLE_OPERATION_TIMEDOUT:
		return ca_error_set(err, CA_EIO, "no answer from %s in time: %s",
		    url, d);
	case CURLE_PEER_FAILED_VERIFICATION:
		/* Not EAUTH: that is for the server refusing us. */
		return ca_error_set(err, CA_EPOLICY, "%s is not trusted: its "
		    "TLS certificate is not signed by the CA in %s, or not for "
		    "this host name; nothing was sent", q->c->server,
		    q->c->ca_file != NULL ? q->c->ca_file : "the CA file");
	case CURLE_SSL_CACERT_BADFILE:
		return ca_error_set(err, CA_EINVAL, "cannot use %s as the CA "
		    "file: %s", q->c->ca_file != NULL ? q->c->ca_file : "-", d);
	case CURLE_SSL_CERTPROBLEM:
		return ca_error_set(err, CA_EINVAL, "cannot use %s and %s as "
		    "the TLS client certificate and key: %s", q->c->cert_file,
		    q->c->key_file, d);
	case CURLE_WRITE_ERROR:
		return ca_error_set(err, CA_ETOOBIG, "the answer from %s is "
		    "over %d bytes", url, RESP_MAX);
	default:
		return ca_error_set(err, CA_EIO, "%s: %s", url, d);
	}
}

static int
http_do(const struct req *q, struct resp *r, struct ca_error *err)
{
	CURL			*h = NULL;
	struct curl_slist	*hl = NULL;
	char			 url[URL_MAX], ebuf[CURL_ERROR_SIZE];
	char			 auth[600];
	CURLcode		 cc;
	int			 rc;

	memset(r, 0, sizeof(r[0]));
	ebuf[0] = '\0';
	auth[0] = '\0';
	if ((rc = url_make(q->c->server, q->path, url, sizeof(url), err)) !=
	    CA_OK)
		return rc;
	/* Reference-counted and thread-safe in libcurl >= 7.84: each call
	   brings the library up and down, so no global state is ours. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return ca_error_set(err, CA_ECRYPTO, "libcurl did not "
		    "initialise");
	if ((h = curl_easy_init()) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_S);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, q->c->timeout_s > 0 ?
	    q->c->timeout_s : TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "mtlsca-client");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (q->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
		/* Nothing to verify with: do not load the system's bundle
		   (measured: 60 ms of CPU for its ~140 certificates). */
		curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	} else {
		if (q->c->ca_file == NULL) {
			rc = ca_error_set(err, CA_EINVAL, "no CA to verify the "
			    "server with");
			goto out;
		}
		/* Only our anchors: not the system's store as well. */
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
		curl_easy_setopt(h, CURLOPT_CAINFO, q->c->ca_file);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}
	if (q->mtls) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, q->c->cert_file);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLKEY, q->c->key_file);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (q->token != NULL) {
		/* Never on an unverified connection (bootstrap is GET only). */
		if (q->insecure) {
			rc = ca_error_set(err, CA_EINVAL, "refusing to send a "
			    "token to an unverified server");
			goto out;
		}
		if (snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
		    q->token) >= (int)sizeof(auth)) {
			rc = ca_error_set(err, CA_EINVAL, "the token is longer "
			    "than %zu bytes", sizeof(auth) - 24);
			goto out;
		}
		hl = curl_slist_append(hl, auth);
	}
	if (q->body != NULL) {
		hl = curl_slist_append(hl, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)strlen(q->body));
	}
	hl = curl_slist_append(hl, "Accept: application/json");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		if (r->over)
			cc = CURLE_WRITE_ERROR;
		rc = curl_fail(cc, url, ebuf, q, err);
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	rc = CA_OK;
out:
	gnutls_memset(auth, 0, sizeof(auth));
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
	curl_global_cleanup();
	return rc;
}

static void
resp_clear(struct resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* The enum ca_err a refusal maps to (the reverse of http/'s table). */
static int
status_err(long status)
{
	switch (status) {
	case 400: return CA_EMALF;
	case 401: return CA_EAUTH;
	case 403: return CA_EFORBIDDEN;
	case 404: return CA_ENOENT;
	case 409: return CA_EEXIST;
	case 413: return CA_ETOOBIG;
	case 422: return CA_EPOLICY;
	case 507: return CA_ESPACE;
	default: return CA_EIO;
	}
}

/* A sentence from a refusal: the server's own message when it sent
   {"error", "message"}, else the status and the start of the body. */
static int
refusal(long status, const char *body, size_t len, struct ca_error *err)
{
	json_t		*j = NULL;
	const char	*msg = NULL, *code = NULL;
	char		 snippet[121];
	size_t		 k = 0;
	int		 rc = status_err(status);

	if (body != NULL && (j = json_loadb(body, len, 0, NULL)) != NULL &&
	    json_is_object(j)) {
		msg = json_string_value(json_object_get(j, "message"));
		code = json_string_value(json_object_get(j, "error"));
	}
	if (msg != NULL) {
		ca_error_set(err, rc, "%s (HTTP %ld%s%s)", msg, status,
		    code != NULL ? " " : "", code != NULL ? code : "");
	} else {
		/* Not ours (a proxy?): printable ASCII only. */
		for (size_t i = 0; body != NULL && i < len &&
		    k < sizeof(snippet) - 1; i++)
			snippet[k++] = body[i] >= 0x20 && body[i] < 0x7f ?
			    body[i] : ' ';
		snippet[k] = '\0';
		ca_error_set(err, rc, "HTTP %ld from the server%s%s", status,
		    k ? ": " : "", snippet);
	}
	json_decref(j);
	return rc;
}

void
client_issued_clear(struct client_issued *iss)
{
	if (iss == NULL)
		return;
	free(iss->cert_pem);
	free(iss->ca_pem);
	memset(iss, 0, sizeof(*iss));
}

static int
dup_field(json_t *j, const char *name, char **out, struct ca_error *err)
{
	const char *v = json_string_value(json_object_get(j, name));

	if (v == NULL || v[0] == '\0')
		return ca_error_set(err, CA_EMALF, "the server's answer has no "
		    "\"%s\"", name);
	if ((*out = strdup(v)) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	return CA_OK;
}

int
client_answer_parse(long status, const char *body, size_t len,
    struct client_issued *out, struct ca_error *err)
{
	json_t		*j = NULL;
	const char	*prof;
	char		*cert = NULL, *ca = NULL;
	int		 rc;

	if (status != 201)
		return refusal(status, body, len, err);
	if (body == NULL || (j = json_loadb(body, len, JSON_REJECT_DUPLICATES,
	    NULL)) == NULL || !json_is_object(j)) {
		rc = ca_error_set(err, CA_EMALF, "the server's answer is not a "
		    "JSON object");
		goto out;
	}
	if ((rc = dup_field(j, "certificate", &cert, err)) != CA_OK ||
	    (rc = dup_field(j, "ca", &ca, err)) != CA_OK)
		goto out;
	out->cert_pem = cert;
	out->ca_pem = ca;
	cert = ca = NULL;
	out->profile[0] = '\0';
	if ((prof = json_string_value(json_object_get(j, "profile"))) != NULL)
		snprintf(out->profile, sizeof(out->profile), "%s", prof);
	rc = CA_OK;
out:
	free(cert);
	free(ca);
	json_decref(j);
	return rc;
}

/* POST body, 201 answer -> *out. */
static int
issue_call(const struct req *q, struct client_issued *out,
    struct ca_error *err)
{
	struct client_issued	 iss;
	struct resp		 r;
	int			 rc;

	memset(&iss, 0, sizeof(iss));
	if ((rc = http_do(q, &r, err)) != CA_OK)
		goto out;
	iss.server_date = r.date;
	iss.local_date = time_now();
	if ((rc = client_answer_parse(r.status, r.body, r.len, &iss, err)) !=
	    CA_OK)
		goto out;
	*out = iss;
	memset(&iss, 0, sizeof(iss));
out:
	resp_clear(&r);
	client_issued_clear(&iss);
	return rc;
}

/* {"csr": ..., "profile": ..., "days": ...} */
static char *
body_make(const char *csr_pem, const char *profile, unsigned days)
{
	json_t	*j = json_object();
	char	*s = NULL;

	if (j == NULL || json_object_set_new(j, "csr",
	    json_string(csr_pem)) != 0)
		goto out;
	if (profile != NULL && profile[0] != '\0' && json_object_set_new(j,
	    "profile", json_string(profile)) != 0)
		goto out;
	if (days > 0 && json_object_set_new(j, "days",
	    json_integer((json_int_t)days)) != 0)
		goto out;
	s = json_dumps(j, JSON_COMPACT);
out:
	json_decref(j);
	return s;
}

int
client_ca_fetch(const struct client_conn *c, char **bundle, size_t *len,
    struct ca_error *err)
{
	struct req	q = { c, "/ca.pem", true, false, NULL, NULL };
	struct resp	r;
	int		rc;

	if ((rc = http_do(&q, &r, err)) != CA_OK)
		goto out;
	if (r.status != 200 || r.body == NULL) {
		rc = ca_error_set(err, CA_EIO, "GET %s/ca.pem: HTTP %ld",
		    c->server, r.status);
		goto out;
	}
	*bundle = r.body;
	*len = r.len;
	r.body = NULL;
	rc = CA_OK;
out:
	resp_clear(&r);
	return rc;
}

int
client_enroll(const struct client_conn *c, const char *token,
    const char *csr_pem, const char *profile, unsigned days,
    struct client_issued *out, struct ca_error *err)
{
	struct req	 q = { c, "/v1/certificates", false, false, token,
	    NULL };
	char		*body;
	int		 rc;

	if (token == NULL || token[0] == '\0')
		return ca_error_set(err, CA_EINVAL, "no enrollment token");
	/* RFC 6750 §2.1 b64token characters, never a line break that would
	   end the header. */
	for (const char *p = token; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return ca_error_set(err, CA_EINVAL, "the token holds a "
			    "space, a control character or a non-ASCII byte");
	if ((body = body_make(csr_pem, profile, days)) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	q.body = body;
	rc = issue_call(&q, out, err);
	free(body);
	return rc;
}

int
client_renew(const struct client_conn *c, const char *csr_pem,
    unsigned days, struct client_issued *out, struct ca_error *err)
{
	struct req	 q = { c, "/v1/certificates/renew", false, true, NULL,
	    NULL };
	char		*body;
	int		 rc;

	if (c->cert_file == NULL || c->key_file == NULL)
		return ca_error_set(err, CA_EINVAL, "renewal needs the current "
		    "certificate and key");
	if ((body = body_make(csr_pem, NULL, days)) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	q.body = body;
	rc = issue_call(&q, out, err);
	free(body);
	return rc;
}
