/*
 * EST's request parsing (http/est_parse.c) and conventions: the
 * enrollment body (base64 DER of a PKCS#10 request, from
 * tests/data/csr/accept/rsa-2048.der) with each way it can be wrong, HTTP
 * Basic credentials, RFC 7030's statuses, and the EST rows of the service's
 * route table (HTTPS only, the CA label as the parameter). The server side
 * runs end to end in tests/e2e/http_est.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/base64.h"
#include "common/util.h"
#include "http/http_int.h"

static uint8_t	*g_der;
static size_t	 g_der_len;

static int
group_setup(void **state)
{
	const char	*data = getenv("MTLSCA_TEST_DATA");
	char		 path[512];
	struct ca_error	 e;

	(void)state;
	if (data == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/csr/accept/rsa-2048.der", data);
	return file_read(path, CA_CSR_MAX, &g_der, &g_der_len, &e);
}

static int
group_teardown(void **state)
{
	(void)state;
	free(g_der);
	return 0;
}

/* g_der in base64 at width w, then edited by the caller. */
static char *
encoded(size_t w, size_t *len)
{
	struct ca_error	 e;
	char		*b;

	assert_int_equal(base64_encode(g_der, g_der_len, w, &b, len, &e),
	    CA_OK);
	return b;
}

static int
body(const char *ct, const char *text, size_t len, struct ca_error *e)
{
	uint8_t	*der = NULL;
	size_t	 n = 0;
	int	 rc;

	rc = http_est_body_decode(ct, (const uint8_t *)text, len, &der, &n, e);
	if (rc == CA_OK) {
		assert_int_equal(n, g_der_len);
		assert_memory_equal(der, g_der, n);
	} else {
		assert_null(der);
		assert_true(e->msg[0] != '\0');
	}
	free(der);
	return rc;
}

static void
test_body_accepted(void **state)
{
	struct ca_error	 e;
	char		*b, *crlf;
	size_t		 n, k = 0;

	(void)state;
	/* 64 and 76 columns, one line, CRLF, no final line break. */
	b = encoded(64, &n);
	assert_int_equal(body("application/pkcs10", b, n, &e), CA_OK);
	assert_int_equal(body("Application/PKCS10; charset=us-ascii", b, n,
	    &e), CA_OK);
	assert_int_equal(body("application/pkcs10", b, n - 1, &e), CA_OK);
	crlf = malloc(2 * n);
	assert_non_null(crlf);
	for (size_t i = 0; i < n; i++) {
		if (b[i] == '\n')
			crlf[k++] = '\r';
		crlf[k++] = b[i];
	}
	assert_int_equal(body("application/pkcs10", crlf, k, &e), CA_OK);
	free(crlf);
	free(b);
	b = encoded(76, &n);
	assert_int_equal(body("application/pkcs10", b, n, &e), CA_OK);
	free(b);
	b = encoded(0, &n);
	assert_int_equal(body("application/pkcs10", b, n, &e), CA_OK);
	free(b);
}

static void
test_body_refused(void **state)
{
	static const char pem[] = "-----BEGIN CERTIFICATE REQUEST-----\n"
	    "MIIB\n-----END CERTIFICATE REQUEST-----\n";
	struct ca_error	 e;
	char		*b, *big;
	size_t		 n;

	(void)state;
	b = encoded(64, &n);
	/* RFC 7030 section 4.2.1: application/pkcs10, nothing else. */
	assert_int_equal(body(NULL, b, n, &e), CA_EINVAL);
	assert_int_equal(body("application/x-pem-file", b, n, &e), CA_EINVAL);
	assert_int_equal(body("application/pkcs10x", b, n, &e), CA_EINVAL);
	assert_int_equal(body("application/pkcs7-mime", b, n, &e), CA_EINVAL);
	assert_non_null(strstr(e.msg, "application/pkcs10"));
	/* Not base64, or cut. */
	assert_int_equal(body("application/pkcs10", pem, strlen(pem), &e),
	    CA_EMALF);
	assert_non_null(strstr(e.msg, "BEGIN"));
	assert_int_equal(body("application/pkcs10", b, n - 3, &e), CA_EMALF);
	assert_non_null(strstr(e.msg, "multiple of 4"));
	assert_int_equal(body("application/pkcs10", (const char *)g_der,
	    g_der_len, &e), CA_EMALF);	/* raw DER: base64 only (RFC 8951) */
	assert_int_equal(body("application/pkcs10", "", 0, &e), CA_EMALF);
	assert_int_equal(body("application/pkcs10", " \r\n", 3, &e),
	    CA_EMALF);
	/* base64 of something that is not DER */
	assert_int_equal(body("application/pkcs10", "aGVsbG8=", 8, &e),
	    CA_EMALF);
	assert_non_null(strstr(e.msg, "not a PKCS#10"));
	free(b);
	/* The decoded cap: CA_CSR_MAX bytes pass the decoder, one more not
	   (ca_csr_parse judges what they are). */
	big = malloc(CA_CSR_MAX + 16);
	assert_non_null(big);
	memset(big, 0x30, CA_CSR_MAX + 16);
	assert_int_equal(base64_encode((uint8_t *)big, CA_CSR_MAX, 64, &b, &n,
	    &e), CA_OK);
	{
		uint8_t	*der = NULL;
		size_t	 dn;

		assert_int_equal(http_est_body_decode("application/pkcs10",
		    (uint8_t *)b, n, &der, &dn, &e), CA_OK);
		assert_int_equal(dn, CA_CSR_MAX);
		free(der);
	}
	free(b);
	for (size_t extra = 1; extra <= 4; extra++) {
		assert_int_equal(base64_encode((uint8_t *)big,
		    CA_CSR_MAX + extra, 64, &b, &n, &e), CA_OK);
		assert_int_equal(body("application/pkcs10", b, n, &e),
		    CA_ETOOBIG);
		assert_non_null(strstr(e.msg, "16384"));
		free(b);
	}
	free(big);
}

static void
test_basic(void **state)
{
	static const struct {
		const char	*h;
		int		 want;
		const char	*user, *pass;
	} t[] = {
		/* "user:pass", "alice:tok:en", ":tok", "u:" */
		{ "Basic dXNlcjpwYXNz", CA_OK, "user", "pass" },
		{ "basic   dXNlcjpwYXNz  ", CA_OK, "user", "pass" },
		{ "BASIC YWxpY2U6dG9rOmVu", CA_OK, "alice", "tok:en" },
		{ "Basic OnRvaw==", CA_OK, "", "tok" },
		{ "Basic dTo=", CA_EFORBIDDEN, NULL, NULL },
		{ NULL, CA_ENOENT, NULL, NULL },
		{ "Bearer dXNlcjpwYXNz", CA_EAUTH, NULL, NULL },
		{ "Basicx dXNlcjpwYXNz", CA_EAUTH, NULL, NULL },
		{ "Basic", CA_EAUTH, NULL, NULL },
		{ "Basic ", CA_EFORBIDDEN, NULL, NULL },
		{ "Basic dXNlcg==", CA_EFORBIDDEN, NULL, NULL },	/* no ':' */
		{ "Basic dXNl cjpwYXNz", CA_EFORBIDDEN, NULL, NULL },
		{ "Basic dXNlcjpwYXN", CA_EFORBIDDEN, NULL, NULL },
		{ "Basic dXNlcjpw!XNz", CA_EFORBIDDEN, NULL, NULL },
		/* "u:p\x01" and "u\x7f:p": control characters */
		{ "Basic dTpwAQ==", CA_EFORBIDDEN, NULL, NULL },
		{ "Basic dX86cA==", CA_EFORBIDDEN, NULL, NULL },
		/* "u:p\0q": a NUL would cut the token */
		{ "Basic dTpwAHE=", CA_EFORBIDDEN, NULL, NULL },
	};
	char		 user[HTTP_BASIC_USER_MAX], pass[HTTP_BASIC_PASS_MAX];
	struct ca_error	 e;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = http_basic_parse(t[i].h, user, pass, &e);

		if (rc != t[i].want)
			fail_msg("'%s': %d (%s), not %d", t[i].h ? t[i].h :
			    "(null)", rc, e.msg, t[i].want);
		if (rc == CA_OK) {
			assert_string_equal(user, t[i].user);
			assert_string_equal(pass, t[i].pass);
		}
	}
}

/* Credentials at and past their caps. */
static void
test_basic_caps(void **state)
{
	char		 user[HTTP_BASIC_USER_MAX], pass[HTTP_BASIC_PASS_MAX];
	char		 raw[HTTP_BASIC_USER_MAX + HTTP_BASIC_PASS_MAX + 8];
	char		*b, h[2048];
	size_t		 n;
	struct ca_error	 e;

	(void)state;
	/* The longest password and user name, then one byte more of each. */
	for (int over = 0; over < 3; over++) {
		size_t ul = HTTP_BASIC_USER_MAX - 1 + (over == 1);
		size_t pl = HTTP_BASIC_PASS_MAX - 1 + (over == 2);

		memset(raw, 'u', ul);
		raw[ul] = ':';
		memset(raw + ul + 1, 'p', pl);
		assert_int_equal(base64_encode((uint8_t *)raw, ul + 1 + pl, 0,
		    &b, &n, &e), CA_OK);
		b[n - 1] = '\0';
		assert_true(snprintf(h, sizeof(h), "Basic %s", b) <
		    (int)sizeof(h));
		free(b);
		assert_int_equal(http_basic_parse(h, user, pass, &e),
		    over ? CA_EFORBIDDEN : CA_OK);
		if (!over) {
			assert_int_equal(strlen(user), ul);
			assert_int_equal(strlen(pass), pl);
		}
	}
	/* Far longer than any token: refused before decoding. */
	memset(h, 'A', sizeof(h) - 1);
	memcpy(h, "Basic ", 6);
	h[sizeof(h) - 1] = '\0';
	assert_int_equal(http_basic_parse(h, user, pass, &e), CA_EFORBIDDEN);
}

/* RFC 7030 section 4.2.3's statuses, and the API's left as they were. */
static void
test_est_status(void **state)
{
	(void)state;
	assert_int_equal(http_est_status(CA_EMALF, HTTP_AUTH_ENROLL_BASIC),
	    400);
	assert_int_equal(http_est_status(CA_EPOLICY, HTTP_AUTH_RENEW), 400);
	assert_int_equal(http_est_status(CA_EINVAL, HTTP_AUTH_PUBLIC), 400);
	assert_int_equal(http_est_status(CA_EAUTH, HTTP_AUTH_ENROLL_BASIC),
	    401);
	assert_int_equal(http_est_status(CA_EAUTH, HTTP_AUTH_RENEW), 403);
	assert_int_equal(http_est_status(CA_EFORBIDDEN, HTTP_AUTH_RENEW), 403);
	assert_int_equal(http_est_status(CA_ENOENT, HTTP_AUTH_PUBLIC), 404);
	assert_int_equal(http_est_status(CA_EEXIST, HTTP_AUTH_RENEW), 409);
	assert_int_equal(http_est_status(CA_ETOOBIG, HTTP_AUTH_RENEW), 413);
	assert_int_equal(http_est_status(CA_ESPACE, HTTP_AUTH_RENEW), 507);
	assert_int_equal(http_est_status(CA_EIO, HTTP_AUTH_RENEW), 500);
	assert_int_equal(http_status_for(CA_EPOLICY), 422);
}

/* The service's EST rows: HTTPS only (cacerts too), the label as the
   parameter, each operation's auth class. */
static void
test_est_routes(void **state)
{
	static const struct {
		const char	*url, *method;
		enum http_auth	 auth;
		const char	*param;
	} t[] = {
		{ "/.well-known/est/cacerts", "GET", HTTP_AUTH_PUBLIC, "" },
		{ "/.well-known/est/device/cacerts", "GET", HTTP_AUTH_PUBLIC,
		    "device" },
		{ "/.well-known/est/simpleenroll", "POST",
		    HTTP_AUTH_ENROLL_BASIC, "" },
		{ "/.well-known/est/device/simpleenroll", "POST",
		    HTTP_AUTH_ENROLL_BASIC, "device" },
		{ "/.well-known/est/simplereenroll", "POST", HTTP_AUTH_RENEW,
		    "" },
		{ "/.well-known/est/x/simplereenroll", "POST",
		    HTTP_AUTH_RENEW, "x" },
		{ "/.well-known/est/csrattrs", "HEAD", HTTP_AUTH_PUBLIC, "" },
		{ "/.well-known/est/open/csrattrs", "GET", HTTP_AUTH_PUBLIC,
		    "open" },
	};
	struct http_match m;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		http_route_match(http_routes, http_n_routes, t[i].url,
		    t[i].method, &m);
		assert_true(m.row >= 0);
		assert_int_equal(http_routes[m.row].proto, HTTP_PROTO_EST);
		assert_int_equal(http_routes[m.row].auth, t[i].auth);
		assert_string_equal(m.param, t[i].param);
		assert_true(m.https_only);
	}
	http_route_match(http_routes, http_n_routes,
	    "/.well-known/est/simpleenroll", "GET", &m);
	assert_int_equal(m.row, -1);
	assert_int_equal(m.allow, HTTP_POST);
	http_route_match(http_routes, http_n_routes,
	    "/.well-known/est/serverkeygen", "POST", &m);
	assert_int_equal(m.path_row, -1);
	/* the public files stay on both listeners */
	http_route_match(http_routes, http_n_routes, "/ca.pem", "GET", &m);
	assert_false(m.https_only);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body_accepted),
		cmocka_unit_test(test_body_refused),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_basic_caps),
		cmocka_unit_test(test_est_status),
		cmocka_unit_test(test_est_routes),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
