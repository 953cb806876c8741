/*
 * SigV4 against AWS's test suite (tests/data/sigv4/, Apache-2.0, see LICENSE
 * and NOTICE there) and the four S3 worked examples of the S3 API reference
 * (tests/data/sigv4/s3-doc-examples.md). Every case must give the canonical
 * request, the string to sign and the Authorization value byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/util.h"
#include "aws/sigv4.h"

static const struct sigv4_credentials suite_cred = {
	"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL,
};

static char *
slurp(const char *rel)
{
	const char	*dir = getenv("MTLSCA_TEST_DATA");
	char		 path[1024];
	FILE		*f;
	char		*buf;
	long		 n;

	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/sigv4/%s", dir, rel);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Percent-decode in place (the suite's requests are mostly raw). */
static void
pct_decode(char *s)
{
	char	*o = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '%' && hex_digit(s[1]) >= 0 && hex_digit(s[2]) >= 0) {
			*o++ = (char)(hex_digit(s[1]) * 16 + hex_digit(s[2]));
			s += 2;
		} else
			*o++ = *s;
	}
	*o = '\0';
}

struct parsed {
	char		*text;		/* owns every string below */
	char		*method, *path;
	struct sigv4_kv	 query[SIGV4_QUERY_MAX];
	size_t		 n_query;
	struct sigv4_kv	 headers[SIGV4_HEADERS_MAX];
	size_t		 n_headers;
	const char	*body;
	size_t		 body_len;
};

/*
 * A .req file: "METHOD SP target SP HTTP/1.1", "Name:value" lines, a blank
 * line, the body. The target may hold a raw space (get-space), so the
 * version is found from the end of the line.
 */
static void
parse_req(char *text, struct parsed *p)
{
	char	*eol, *sp, *q, *line;

	memset(p, 0, sizeof(*p));
	p->text = text;
	eol = strchr(text, '\n');
	assert_non_null(eol);
	*eol = '\0';
	sp = strchr(text, ' ');
	assert_non_null(sp);
	*sp = '\0';
	p->method = text;
	p->path = sp + 1;
	sp = strrchr(p->path, ' ');
	assert_non_null(sp);
	*sp = '\0';
	if ((q = strchr(p->path, '?')) != NULL) {
		*q++ = '\0';
		while (q != NULL && *q != '\0') {
			char *amp = strchr(q, '&'), *eq;
			if (amp != NULL)
				*amp++ = '\0';
			eq = strchr(q, '=');
			if (eq != NULL)
				*eq++ = '\0';
			pct_decode(q);
			if (eq != NULL)
				pct_decode(eq);
			p->query[p->n_query].name = q;
			p->query[p->n_query++].value = eq ? eq : "";
			q = amp;
		}
	}
	line = eol + 1;
	p->body = "";
	while (*line != '\0') {
		char *colon;
		eol = strchr(line, '\n');
		if (eol != NULL)
			*eol = '\0';
		if (*line == '\0') {
			p->body = eol ? eol + 1 : "";
			break;
		}
		colon = strchr(line, ':');
		assert_non_null(colon);
		*colon = '\0';
		p->headers[p->n_headers].name = line;
		p->headers[p->n_headers++].value = colon + 1;
		if (eol == NULL)
			break;
		line = eol + 1;
	}
	p->body_len = strlen(p->body);
}

static void
run_suite_case(const char *dir, const char *name, const char *token)
{
	char			 rel[256];
	char			*creq, *sts, *authz;
	struct parsed		 p;
	struct sigv4_request	 req;
	struct sigv4_result	 r;
	struct sigv4_credentials cred = suite_cred;
	struct ca_error		 err;

	cred.session_token = token;
	snprintf(rel, sizeof(rel), "%s/%s.req", dir, name);
	parse_req(slurp(rel), &p);
	snprintf(rel, sizeof(rel), "%s/%s.creq", dir, name);
	creq = slurp(rel);
	snprintf(rel, sizeof(rel), "%s/%s.sts", dir, name);
	sts = slurp(rel);
	snprintf(rel, sizeof(rel), "%s/%s.authz", dir, name);
	authz = slurp(rel);

	memset(&req, 0, sizeof(req));
	req.method = p.method;
	req.path = p.path;
	req.query = p.query;
	req.n_query = p.n_query;
	req.headers = p.headers;
	req.n_headers = p.n_headers;
	req.body = p.body;
	req.body_len = p.body_len;
	assert_int_equal(sigv4_sign(&req, &cred, "us-east-1", "service",
	    "20150830T123600Z", &r, &err), CA_OK);
	assert_string_equal(r.canonical_request, creq);
	assert_string_equal(r.string_to_sign, sts);
	assert_string_equal(r.authorization, authz);
	sigv4_result_clear(&r);
	free(creq);
	free(sts);
	free(authz);
	free(p.text);
}


/* C identifiers cannot hold '-': map them by hand. */
static void t_get_vanilla(void **s) { (void)s;
    run_suite_case("get-vanilla", "get-vanilla", NULL); }
static void t_get_vanilla_query_order_key_case(void **s) { (void)s;
    run_suite_case("get-vanilla-query-order-key-case",
    "get-vanilla-query-order-key-case", NULL); }
static void t_get_vanilla_query_unreserved(void **s) { (void)s;
    run_suite_case("get-vanilla-query-unreserved",
    "get-vanilla-query-unreserved", NULL); }
static void t_get_vanilla_utf8_query(void **s) { (void)s;
    run_suite_case("get-vanilla-utf8-query", "get-vanilla-utf8-query",
    NULL); }
static void t_get_utf8(void **s) { (void)s;
    run_suite_case("get-utf8", "get-utf8", NULL); }
static void t_get_unreserved(void **s) { (void)s;
    run_suite_case("get-unreserved", "get-unreserved", NULL); }
static void t_get_header_value_trim(void **s) { (void)s;
    run_suite_case("get-header-value-trim", "get-header-value-trim", NULL); }
/* The .sreq of this case carries a wrong signature (README); .authz is
 * right, and the token comes from the credentials, not the .req. */
static void t_get_vanilla_with_session_token(void **s) { (void)s;
    run_suite_case("get-vanilla-with-session-token",
    "get-vanilla-with-session-token",
    "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"); }
static void t_post_vanilla(void **s) { (void)s;
    run_suite_case("post-vanilla", "post-vanilla", NULL); }
static void t_post_vanilla_query(void **s) { (void)s;
    run_suite_case("post-vanilla-query", "post-vanilla-query", NULL); }
static void t_post_x_www_form_urlencoded(void **s) { (void)s;
    run_suite_case("post-x-www-form-urlencoded",
    "post-x-www-form-urlencoded", NULL); }
static void t_post_x_www_form_urlencoded_parameters(void **s) { (void)s;
    run_suite_case("post-x-www-form-urlencoded-parameters",
    "post-x-www-form-urlencoded-parameters", NULL); }
static void t_np_get_space(void **s) { (void)s;
    run_suite_case("normalize-path/get-space", "get-space", NULL); }
static void t_np_get_slashes(void **s) { (void)s;
    run_suite_case("normalize-path/get-slashes", "get-slashes", NULL); }
static void t_np_get_slash_dot_slash(void **s) { (void)s;
    run_suite_case("normalize-path/get-slash-dot-slash",
    "get-slash-dot-slash", NULL); }
static void t_np_get_special_character(void **s) { (void)s;
    run_suite_case("normalize-path/get-special-character",
    "get-special-character", NULL); }

/* ---- the S3 worked examples (s3-doc-examples.md) ---- */

static const struct sigv4_credentials s3_cred = {
	"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	NULL,
};
#define S3_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void
run_s3(const char *method, const char *path, const struct sigv4_kv *q,
    size_t nq, const struct sigv4_kv *h, size_t nh, const char *body,
    const char *signed_headers, const char *signature)
{
	struct sigv4_request	 req;
	struct sigv4_result	 r;
	char			 want[512];

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = path;
	req.query = q;
	req.n_query = nq;
	req.headers = h;
	req.n_headers = nh;
	req.body = body;
	req.body_len = strlen(body);
	req.s3 = true;
	assert_int_equal(sigv4_sign(&req, &s3_cred, "us-east-1", "s3",
	    "20130524T000000Z", &r, NULL), CA_OK);
	snprintf(want, sizeof(want), "AWS4-HMAC-SHA256 Credential="
	    "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
	    "SignedHeaders=%s, Signature=%s", signed_headers, signature);
	assert_string_equal(r.authorization, want);
	sigv4_result_clear(&r);
}

static void
t_s3_get_object_range(void **s)
{
	const struct sigv4_kv h[] = {
		{ "Host", "examplebucket.s3.amazonaws.com" },
		{ "Range", "bytes=0-9" },
	};
	(void)s;
	run_s3("GET", "/test.txt", NULL, 0, h, 2, "",
	    "host;range;x-amz-content-sha256;x-amz-date",
	    "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

static void
t_s3_put_object(void **s)
{
	const struct sigv4_kv h[] = {
		{ "Host", "examplebucket.s3.amazonaws.com" },
		{ "Date", "Fri, 24 May 2013 00:00:00 GMT" },
		{ "x-amz-storage-class", "REDUCED_REDUNDANCY" },
	};
	struct sigv4_request	 req;
	struct sigv4_result	 r;
	(void)s;
	run_s3("PUT", "/test$file.text", NULL, 0, h, 3,
	    "Welcome to Amazon S3.",
	    "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
	    "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
	/* The canonical URI encodes '$' once, and the body hash is the
	 * documented one. */
	memset(&req, 0, sizeof(req));
	req.method = "PUT";
	req.path = "/test$file.text";
	req.headers = h;
	req.n_headers = 3;
	req.body = "Welcome to Amazon S3.";
	req.body_len = 21;
	req.s3 = true;
	assert_int_equal(sigv4_sign(&req, &s3_cred, "us-east-1", "s3",
	    "20130524T000000Z", &r, NULL), CA_OK);
	assert_string_equal(r.canonical_path, "/test%24file.text");
	assert_string_equal(r.payload_hash,
	    "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	sigv4_result_clear(&r);
}

static void
t_s3_get_bucket_lifecycle(void **s)
{
	const struct sigv4_kv h[] = {
		{ "Host", "examplebucket.s3.amazonaws.com" },
	};
	const struct sigv4_kv q[] = { { "lifecycle", NULL } };
	(void)s;
	run_s3("GET", "/", q, 1, h, 1, "",
	    "host;x-amz-content-sha256;x-amz-date",
	    "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

static void
t_s3_list_objects(void **s)
{
	const struct sigv4_kv h[] = {
		{ "Host", "examplebucket.s3.amazonaws.com" },
	};
	/* Given out of order: the signer sorts. */
	const struct sigv4_kv q[] = { { "prefix", "J" }, { "max-keys", "2" } };
	struct sigv4_request	 req;
	struct sigv4_result	 r;
	(void)s;
	run_s3("GET", "/", q, 2, h, 1, "",
	    "host;x-amz-content-sha256;x-amz-date",
	    "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.path = "/";
	req.query = q;
	req.n_query = 2;
	req.headers = h;
	req.n_headers = 1;
	req.s3 = true;
	assert_int_equal(sigv4_sign(&req, &s3_cred, "us-east-1", "s3",
	    "20130524T000000Z", &r, NULL), CA_OK);
	assert_string_equal(r.canonical_query, "max-keys=2&prefix=J");
	sigv4_result_clear(&r);
}

/* S3 keeps "//" and "/./" in keys; other services normalise them. */
static void
t_s3_no_normalisation(void **s)
{
	const struct sigv4_kv h[] = { { "Host", "b.example" } };
	struct sigv4_request	 req;
	struct sigv4_result	 r;
	(void)s;
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.path = "/my-object//example//photo.user";
	req.headers = h;
	req.n_headers = 1;
	req.s3 = true;
	assert_int_equal(sigv4_sign(&req, &s3_cred, "us-east-1", "s3",
	    "20130524T000000Z", &r, NULL), CA_OK);
	assert_string_equal(r.canonical_path,
	    "/my-object//example//photo.user");
	sigv4_result_clear(&r);
	req.s3 = false;
	assert_int_equal(sigv4_sign(&req, &s3_cred, "us-east-1", "s3",
	    "20130524T000000Z", &r, NULL), CA_OK);
	assert_string_equal(r.canonical_path, "/my-object/example/photo.user");
	sigv4_result_clear(&r);
}

/* A different secret gives a different signature; bad input is refused. */
static void
t_refusals(void **s)
{
	const struct sigv4_kv h[] = { { "Host", "b.example" } };
	const struct sigv4_kv nohost[] = { { "X-Foo", "1" } };
	struct sigv4_credentials other = s3_cred;
	struct sigv4_request	 req;
	struct sigv4_result	 a, b;
	struct ca_error		 err;
	(void)s;
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.path = "/";
	req.headers = h;
	req.n_headers = 1;
	other.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEX";
	assert_int_equal(sigv4_sign(&req, &s3_cred, "us-east-1", "s3",
	    "20130524T000000Z", &a, NULL), CA_OK);
	assert_int_equal(sigv4_sign(&req, &other, "us-east-1", "s3",
	    "20130524T000000Z", &b, NULL), CA_OK);
	assert_string_not_equal(a.authorization, b.authorization);
	/* The secret never appears in anything handed back. */
	assert_null(strstr(a.authorization, s3_cred.secret_key));
	assert_null(strstr(a.canonical_request, s3_cred.secret_key));
	assert_null(strstr(a.string_to_sign, s3_cred.secret_key));
	sigv4_result_clear(&a);
	sigv4_result_clear(&b);
	assert_int_equal(sigv4_sign(&req, &s3_cred, "us-east-1", "s3",
	    "2013-05-24", &a, &err), CA_EINVAL);
	req.headers = nohost;
	assert_int_equal(sigv4_sign(&req, &s3_cred, "us-east-1", "s3",
	    "20130524T000000Z", &a, &err), CA_EINVAL);
	assert_non_null(strstr(err.msg, "Host"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_get_vanilla),
		cmocka_unit_test(t_get_vanilla_query_order_key_case),
		cmocka_unit_test(t_get_vanilla_query_unreserved),
		cmocka_unit_test(t_get_vanilla_utf8_query),
		cmocka_unit_test(t_get_utf8),
		cmocka_unit_test(t_get_unreserved),
		cmocka_unit_test(t_get_header_value_trim),
		cmocka_unit_test(t_get_vanilla_with_session_token),
		cmocka_unit_test(t_post_vanilla),
		cmocka_unit_test(t_post_vanilla_query),
		cmocka_unit_test(t_post_x_www_form_urlencoded),
		cmocka_unit_test(t_post_x_www_form_urlencoded_parameters),
		cmocka_unit_test(t_np_get_space),
		cmocka_unit_test(t_np_get_slashes),
		cmocka_unit_test(t_np_get_slash_dot_slash),
		cmocka_unit_test(t_np_get_special_character),
		cmocka_unit_test(t_s3_get_object_range),
		cmocka_unit_test(t_s3_put_object),
		cmocka_unit_test(t_s3_get_bucket_lifecycle),
		cmocka_unit_test(t_s3_list_objects),
		cmocka_unit_test(t_s3_no_normalisation),
		cmocka_unit_test(t_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
