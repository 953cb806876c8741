/*
 * AWS Signature Version 4, as documented in "Create a canonical request for
 * Signature Version 4" and checked byte for byte against AWS's test suite
 * (tests/data/sigv4/) and the S3 worked examples.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "aws/sigv4.h"

/* ---- buffer ---- */

int
awsbuf_add(struct awsbuf *b, const void *p, size_t n)
{
	char	*nd;
	size_t	 ncap;

	if (n > SIZE_MAX - b->len - 1)
		return CA_ENOMEM;
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + n + 1) {
			if (ncap > SIZE_MAX / 2)
				return CA_ENOMEM;
			ncap *= 2;
		}
		if ((nd = malloc(ncap)) == NULL)
			return CA_ENOMEM;
		/* Not realloc: the old block may hold a secret to wipe. */
		if (b->data != NULL) {
			memcpy(nd, b->data, b->len);
			gnutls_memset(b->data, 0, b->cap);
			free(b->data);
		}
		b->data = nd;
		b->cap = ncap;
	}
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return CA_OK;
}

int
awsbuf_puts(struct awsbuf *b, const char *s)
{
	return awsbuf_add(b, s, strlen(s));
}

int
awsbuf_printf(struct awsbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	 small[512];
	char	*big = NULL;
	int	 n, rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return CA_EINVAL;
	if ((size_t)n < sizeof(small)) {
		rc = awsbuf_add(b, small, (size_t)n);
		gnutls_memset(small, 0, sizeof(small));
		return rc;
	}
	if ((big = malloc((size_t)n + 1)) == NULL)
		return CA_ENOMEM;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = awsbuf_add(b, big, (size_t)n);
	gnutls_memset(big, 0, (size_t)n);
	free(big);
	return rc;
}

void
awsbuf_free(struct awsbuf *b)
{
	if (b == NULL)
		return;
	if (b->data != NULL) {
		gnutls_memset(b->data, 0, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = b->cap = 0;
}

char *
awsbuf_take(struct awsbuf *b)
{
	char	*p;

	if (b->data == NULL)
		return strdup("");
	p = b->data;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

/* ---- encoding and hashing ---- */

static bool
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	    c == '~';
}

int
sigv4_uri_encode(struct awsbuf *b, const char *s, size_t len, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char	 pct[3];
	int	 rc;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			if ((rc = awsbuf_add(b, &s[i], 1)) != CA_OK)
				return rc;
			continue;
		}
		pct[0] = '%';
		pct[1] = hex[c >> 4];
		pct[2] = hex[c & 15];
		if ((rc = awsbuf_add(b, pct, 3)) != CA_OK)
			return rc;
	}
	return CA_OK;
}

static void
hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int
sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
	uint8_t	 md[32];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, len ? data : "", len, md) < 0)
		return CA_ECRYPTO;
	hex_encode(md, sizeof(md), out);
	return CA_OK;
}

static int
hmac(const void *key, size_t klen, const char *msg, size_t mlen,
    uint8_t out[32])
{
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, klen, msg, mlen, out) < 0)
		return CA_ECRYPTO;
	return CA_OK;
}

void
sigv4_amz_date(int64_t t, char out[17])
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	gmtime_r(&tt, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void
sigv4_result_clear(struct sigv4_result *r)
{
	if (r == NULL)
		return;
	free(r->canonical_request);
	free(r->string_to_sign);
	free(r->authorization);
	free(r->canonical_query);
	free(r->canonical_path);
	memset(r, 0, sizeof(*r));
}

/* ---- canonical parts ---- */

/*
 * Canonical URI. Other services: RFC 3986 section 5.2.4 dot-segment removal
 * and empty segments dropped (the suite's normalize-path cases). S3: the key
 * as is ("you do not normalize URI paths for requests to Amazon S3").
 */
static int
canonical_path(const char *path, bool s3, struct awsbuf *out)
{
	const char	*segs[256];
	size_t		 lens[256];
	size_t		 n = 0;
	const char	*p;
	bool		 trailing;
	int		 rc;

	if (path == NULL || *path == '\0')
		return awsbuf_puts(out, "/");
	if (s3)
		return sigv4_uri_encode(out, path, strlen(path), true);
	trailing = path[strlen(path) - 1] == '/';
	p = path;
	while (*p != '\0') {
		const char *s;
		size_t l;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		s = p;
		while (*p != '\0' && *p != '/')
			p++;
		l = (size_t)(p - s);
		if (l == 1 && s[0] == '.')
			continue;
		if (l == 2 && s[0] == '.' && s[1] == '.') {
			if (n > 0)
				n--;
			continue;
		}
		if (n == sizeof(segs) / sizeof(segs[0]))
			return CA_EINVAL;
		segs[n] = s;
		lens[n++] = l;
	}
	if (n == 0)
		return awsbuf_puts(out, "/");
	for (size_t i = 0; i < n; i++) {
		if ((rc = awsbuf_puts(out, "/")) != CA_OK ||
		    (rc = sigv4_uri_encode(out, segs[i], lens[i], false)) !=
		    CA_OK)
			return rc;
	}
	if (trailing)
		return awsbuf_puts(out, "/");
	return CA_OK;
}

struct enc_pair {
	char	*name;
	char	*value;
};

static int
pair_cmp(const void *a, const void *b)
{
	const struct enc_pair *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : strcmp(x->value, y->value);
}

static char *
encode_dup(const char *s)
{
	struct awsbuf	 b = { 0 };

	if (sigv4_uri_encode(&b, s, strlen(s), false) != CA_OK) {
		awsbuf_free(&b);
		return NULL;
	}
	return awsbuf_take(&b);
}

/* Names and values encoded, sorted by name then value, joined by '&';
 * a parameter without a value still gets its '=' (S3's "?lifecycle"). */
static int
canonical_query(const struct sigv4_request *req, struct awsbuf *out)
{
	struct enc_pair	 pairs[SIGV4_QUERY_MAX];
	size_t		 n = 0;
	int		 rc = CA_OK;

	if (req->n_query > SIGV4_QUERY_MAX)
		return CA_EINVAL;
	memset(pairs, 0, sizeof(pairs));
	for (; n < req->n_query; n++) {
		pairs[n].name = encode_dup(req->query[n].name);
		pairs[n].value = encode_dup(req->query[n].value ?
		    req->query[n].value : "");
		if (pairs[n].name == NULL || pairs[n].value == NULL) {
			n++;
			rc = CA_ENOMEM;
			goto out;
		}
	}
	qsort(pairs, n, sizeof(pairs[0]), pair_cmp);
	for (size_t i = 0; i < n; i++) {
		if ((rc = awsbuf_printf(out, "%s%s=%s", i ? "&" : "",
		    pairs[i].name, pairs[i].value)) != CA_OK)
			goto out;
	}
	if (out->data == NULL)
		rc = awsbuf_add(out, "", 0);
out:
	for (size_t i = 0; i < n; i++) {
		free(pairs[i].name);
		free(pairs[i].value);
	}
	return rc;
}

struct canon_header {
	char	 name[64];
	char	*value;		/* trimmed, runs of spaces collapsed */
};

static int
header_cmp(const void *a, const void *b)
{
	const struct canon_header *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static char *
trim_value(const char *v)
{
	size_t	 len = strlen(v), o = 0;
	char	*out;
	bool	 space = false;

	if ((out = malloc(len + 1)) == NULL)
		return NULL;
	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v != '\0'; v++) {
		if (*v == ' ' || *v == '\t') {
			space = true;
			continue;
		}
		if (space && o > 0)
			out[o++] = ' ';
		space = false;
		out[o++] = *v;
	}
	out[o] = '\0';
	return out;
}

static int
add_header(struct canon_header *h, size_t *n, const char *name,
    const char *value)
{
	size_t	 nl = strlen(name);
	char	*tv;

	if (nl == 0 || nl >= sizeof(h[0].name))
		return CA_EINVAL;
	if ((tv = trim_value(value)) == NULL)
		return CA_ENOMEM;
	for (size_t i = 0; i < *n; i++) {
		if (strcasecmp(h[i].name, name) != 0)
			continue;
		/* Repeated header: values joined by commas, in order. */
		char *j = malloc(strlen(h[i].value) + strlen(tv) + 2);
		if (j == NULL) {
			free(tv);
			return CA_ENOMEM;
		}
		sprintf(j, "%s,%s", h[i].value, tv);
		free(h[i].value);
		free(tv);
		h[i].value = j;
		return CA_OK;
	}
	if (*n == SIGV4_HEADERS_MAX + 3) {
		free(tv);
		return CA_EINVAL;
	}
	for (size_t i = 0; i < nl; i++)
		h[*n].name[i] = (char)tolower((unsigned char)name[i]);
	h[*n].name[nl] = '\0';
	h[*n].value = tv;
	(*n)++;
	return CA_OK;
}

static bool
has_header(const struct sigv4_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return true;
	return false;
}

static bool
valid_date(const char *d)
{
	if (d == NULL || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
		return false;
	for (int i = 0; i < 15; i++)
		if (i != 8 && !isdigit((unsigned char)d[i]))
			return false;
	return true;
}

int
sigv4_sign(const struct sigv4_request *req,
    const struct sigv4_credentials *cred, const char *region,
    const char *service, const char *amz_date, struct sigv4_result *out,
    struct ca_error *err)
{
	struct canon_header	 h[SIGV4_HEADERS_MAX + 3];
	struct awsbuf		 path = { 0 }, query = { 0 }, creq = { 0 };
	struct awsbuf		 sts = { 0 }, authz = { 0 }, signed_h = { 0 };
	struct awsbuf		 ksecret = { 0 };
	struct sigv4_result	 r;
	uint8_t			 k1[32], k2[32], k3[32], k4[32], sig[32];
	char			 date[9], creq_hash[65], sig_hex[65];
	const char		*hashed;
	size_t			 nh = 0;
	bool			 token;
	int			 rc;

	memset(&r, 0, sizeof(r));
	memset(h, 0, sizeof(h));
	if (!valid_date(amz_date)) {
		rc = ca_error_set(err, CA_EINVAL,
		    "SigV4: the date must read YYYYMMDDTHHMMSSZ");
		goto out;
	}
	if (!has_header(req, "host")) {
		rc = ca_error_set(err, CA_EINVAL,
		    "SigV4: the Host header must be signed");
		goto out;
	}
	if (req->n_headers > SIGV4_HEADERS_MAX) {
		rc = ca_error_set(err, CA_EINVAL, "SigV4: too many headers");
		goto out;
	}
	memcpy(r.amz_date, amz_date, 17);
	memcpy(date, amz_date, 8);
	date[8] = '\0';
	token = cred->session_token != NULL && cred->session_token[0] != '\0';

	if ((rc = sigv4_sha256_hex(req->body, req->body_len,
	    r.payload_hash)) != CA_OK)
		goto fail;
	for (size_t i = 0; i < req->n_headers; i++)
		if ((rc = add_header(h, &nh, req->headers[i].name,
		    req->headers[i].value)) != CA_OK)
			goto fail;
	if (!has_header(req, "x-amz-date") &&
	    (rc = add_header(h, &nh, "x-amz-date", amz_date)) != CA_OK)
		goto fail;
	if (token && !has_header(req, "x-amz-security-token") &&
	    (rc = add_header(h, &nh, "x-amz-security-token",
	    cred->session_token)) != CA_OK)
		goto fail;
	if (req->s3 && !has_header(req, "x-amz-content-sha256") &&
	    (rc = add_header(h, &nh, "x-amz-content-sha256",
	    r.payload_hash)) != CA_OK)
		goto fail;
	qsort(h, nh, sizeof(h[0]), header_cmp);

	if ((rc = canonical_path(req->path, req->s3, &path)) != CA_OK ||
	    (rc = canonical_query(req, &query)) != CA_OK)
		goto fail;
	/* Task 1: the canonical request. */
	if ((rc = awsbuf_printf(&creq, "%s\n%s\n%s\n", req->method, path.data,
	    query.data)) != CA_OK)
		goto fail;
	for (size_t i = 0; i < nh; i++) {
		if ((rc = awsbuf_printf(&creq, "%s:%s\n", h[i].name,
		    h[i].value)) != CA_OK ||
		    (rc = awsbuf_printf(&signed_h, "%s%s", i ? ";" : "",
		    h[i].name)) != CA_OK)
			goto fail;
	}
	/* The hashed payload line is x-amz-content-sha256 when it is sent
	 * (S3 may say UNSIGNED-PAYLOAD there), else the body's hash. */
	hashed = r.payload_hash;
	for (size_t i = 0; i < nh; i++)
		if (strcmp(h[i].name, "x-amz-content-sha256") == 0)
			hashed = h[i].value;
	if ((rc = awsbuf_printf(&creq, "\n%s\n%s", signed_h.data,
	    hashed)) != CA_OK)
		goto fail;
	/* Task 2: the string to sign. */
	if ((rc = sigv4_sha256_hex(creq.data, creq.len, creq_hash)) != CA_OK)
		goto fail;
	if ((rc = awsbuf_printf(&sts,
	    "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date,
	    region, service, creq_hash)) != CA_OK)
		goto fail;
	/* Task 3: the signing key, derived from the secret; wiped below. */
	if ((rc = awsbuf_printf(&ksecret, "AWS4%s", cred->secret_key)) !=
	    CA_OK)
		goto fail;
	if ((rc = hmac(ksecret.data, ksecret.len, date, 8, k1)) != CA_OK ||
	    (rc = hmac(k1, 32, region, strlen(region), k2)) != CA_OK ||
	    (rc = hmac(k2, 32, service, strlen(service), k3)) != CA_OK ||
	    (rc = hmac(k3, 32, "aws4_request", 12, k4)) != CA_OK ||
	    (rc = hmac(k4, 32, sts.data, sts.len, sig)) != CA_OK)
		goto fail;
	hex_encode(sig, sizeof(sig), sig_hex);
	if ((rc = awsbuf_printf(&authz,
	    "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
	    "SignedHeaders=%s, Signature=%s", cred->access_key, date, region,
	    service, signed_h.data, sig_hex)) != CA_OK)
		goto fail;

	r.canonical_request = awsbuf_take(&creq);
	r.string_to_sign = awsbuf_take(&sts);
	r.authorization = awsbuf_take(&authz);
	r.canonical_query = awsbuf_take(&query);
	r.canonical_path = awsbuf_take(&path);
	if (r.canonical_request == NULL || r.string_to_sign == NULL ||
	    r.authorization == NULL || r.canonical_query == NULL ||
	    r.canonical_path == NULL) {
		rc = CA_ENOMEM;
		goto fail;
	}
	*out = r;
	memset(&r, 0, sizeof(r));
	rc = CA_OK;
	goto out;
fail:
	if (rc == CA_ENOMEM)
		ca_error_set(err, rc, "SigV4: out of memory");
	else if (rc == CA_ECRYPTO)
		ca_error_set(err, rc, "SigV4: GnuTLS could not hash");
	else
		ca_error_set(err, rc, "SigV4: the request cannot be signed "
		    "(too many headers or path segments, or a header name "
		    "over 63 characters)");
out:
	gnutls_memset(k1, 0, sizeof(k1));
	gnutls_memset(k2, 0, sizeof(k2));
	gnutls_memset(k3, 0, sizeof(k3));
	gnutls_memset(k4, 0, sizeof(k4));
	for (size_t i = 0; i < nh; i++)
		free(h[i].value);
	awsbuf_free(&ksecret);
	awsbuf_free(&path);
	awsbuf_free(&query);
	awsbuf_free(&creq);
	awsbuf_free(&sts);
	awsbuf_free(&authz);
	awsbuf_free(&signed_h);
	sigv4_result_clear(&r);
	return rc;
}
