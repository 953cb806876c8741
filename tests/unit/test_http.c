/*
 * http/ unit tests: the helpers, then a real server on an ephemeral port
 * (a P-256 CA in a temporary directory, a store, the CRL schedule) driven
 * with libcurl over HTTPS: routing, the JSON errors, the body cap,
 * enrollment in every body format, tokens (static, one-time, racing,
 * CN-bound), admin by token and by client certificate, renewal, revocation
 * reaching /crl, the audit log and the committer's batching.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <pthread.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <jansson.h>

#include "ca/ca.h"
#include "common/util.h"
#include "crl/crl.h"
#include "http/http.h"
#include "http/http_int.h"
#include "store/store.h"

#define STATIC_TOKEN	"unit-static-token"
#define ADMIN_TOKEN	"unit-admin-token"

static char		 tmp[256];
static char		 capath[300];
static struct ca	*ca;
static struct store	*st;
static struct crl_schedule *sched;
static struct http_server *srv;
static unsigned		 port, plain_port;
static const char	*data;

/* ---- helpers ---- */

struct resp {
	long	 status;
	char	*body;
	size_t	 len;
	char	 ctype[128];
	char	 allow[64];	/* the Allow header, if any */
};

static size_t
header_cb(char *p, size_t sz, size_t n, void *arg)
{
	struct resp	*r = arg;
	size_t		 len = sz * n;

	if (len > 7 && strncasecmp(p, "Allow: ", 7) == 0) {
		size_t l = len - 7;

		while (l > 0 && (p[7 + l - 1] == '\r' || p[7 + l - 1] == '\n'))
			l--;
		snprintf(r->allow, sizeof(r->allow), "%.*s", (int)l, p + 7);
	}
	return len;
}

static size_t
write_cb(char *p, size_t sz, size_t n, void *arg)
{
	struct resp	*r = arg;
	char		*b = realloc(r->body, r->len + sz * n + 1);

	if (b == NULL)
		return 0;
	r->body = b;
	memcpy(r->body + r->len, p, sz * n);
	r->len += sz * n;
	r->body[r->len] = '\0';
	return sz * n;
}

static void
resp_clear(struct resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/*
 * One request. headers: NULL-terminated list. cert/key: client
 * certificate files or NULL. https selects the listener. No assertion:
 * a client thread calls it (cmocka's failure jumps to the main thread's
 * test, which another thread must not do); req() asserts.
 */
static CURLcode
req_try(bool https, const char *method, const char *path,
    const char *const *hdrs, const void *body, size_t body_len,
    const char *cert, const char *key, struct resp *r)
{
	CURL			*c = curl_easy_init();
	struct curl_slist	*hl = NULL;
	char			 url[512];
	char			*ct = NULL;

	memset(r, 0, sizeof(*r));
	if (c == NULL) {
		fprintf(stderr, "curl %s %s: curl_easy_init failed\n", method,
		    path);
		return CURLE_FAILED_INIT;
	}
	snprintf(url, sizeof(url), "%s://127.0.0.1:%u%s", https ? "https" :
	    "http", https ? port : plain_port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, capath);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (cert != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	}
	for (size_t i = 0; hdrs != NULL && hdrs[i] != NULL; i++)
		hl = curl_slist_append(hl, hdrs[i]);
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(body ? body_len : 0));
	} else if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	CURLcode cc = curl_easy_perform(c);
	if (cc != CURLE_OK)
		fprintf(stderr, "curl %s %s: %s\n", method, path,
		    curl_easy_strerror(cc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	if (ct != NULL)
		snprintf(r->ctype, sizeof(r->ctype), "%s", ct);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return cc;
}

static void
req(bool https, const char *method, const char *path, const char *const *hdrs,
    const void *body, size_t body_len, const char *cert, const char *key,
    struct resp *r)
{
	assert_int_equal(req_try(https, method, path, hdrs, body, body_len,
	    cert, key, r), CURLE_OK);
}

static char *
slurp(const char *path, size_t *len)
{
	uint8_t	*b = NULL;
	size_t	 n = 0;

	assert_int_equal(file_read(path, 1 << 20, &b, &n, NULL), CA_OK);
	if (len)
		*len = n;
	return (char *)b;
}

static char *
data_file(const char *rel, size_t *len)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", data, rel);
	return slurp(p, len);
}

/* A fresh P-256 key and a CSR for subject dn; PEMs (malloc'd). */
static void
make_csr(const char *dn, char **csr_pem, char **key_pem)
{
	gnutls_x509_privkey_t	k;
	gnutls_x509_crq_t	q;
	gnutls_datum_t		d;

	assert_int_equal(gnutls_x509_privkey_init(&k), 0);
	assert_int_equal(gnutls_x509_crq_init(&q), 0);
	assert_int_equal(gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0), 0);
	assert_int_equal(gnutls_x509_crq_set_dn(q, dn, NULL), 0);
	assert_int_equal(gnutls_x509_crq_set_key(q, k), 0);
	assert_int_equal(gnutls_x509_crq_sign2(q, k, GNUTLS_DIG_SHA256, 0), 0);
	assert_int_equal(gnutls_x509_crq_export2(q, GNUTLS_X509_FMT_PEM, &d),
	    0);
	*csr_pem = strndup((char *)d.data, d.size);
	gnutls_free(d.data);
	assert_int_equal(gnutls_x509_privkey_export2_pkcs8(k,
	    GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &d), 0);
	*key_pem = strndup((char *)d.data, d.size);
	gnutls_free(d.data);
	gnutls_x509_crq_deinit(q);
	gnutls_x509_privkey_deinit(k);
}

static json_t *
json_of(const struct resp *r)
{
	json_t *j = json_loadb(r->body ? r->body : "", r->len, 0, NULL);

	if (j == NULL)
		fprintf(stderr, "not JSON (%ld): %s\n", r->status,
		    r->body ? r->body : "");
	assert_non_null(j);
	return j;
}

static void
assert_error(const struct resp *r, long status, const char *code)
{
	json_t *j;

	if (r->status != status)
		fprintf(stderr, "expected %ld, got %ld: %s\n", status,
		    r->status, r->body ? r->body : "");
	assert_int_equal(r->status, status);
	assert_non_null(strstr(r->ctype, "application/json"));
	j = json_of(r);
	assert_string_equal(json_string_value(json_object_get(j, "error")),
	    code);
	assert_true(json_is_string(json_object_get(j, "message")));
	assert_true(strlen(json_string_value(json_object_get(j, "message"))) >
	    10);
	json_decref(j);
}

/* The certificate verifies against the CA, and the store has it. */
static void
assert_issued(const char *pem, const char *serial_hex)
{
	gnutls_x509_crt_t	crt, cacrt;
	gnutls_datum_t		d;
	unsigned		status = 1;
	size_t			calen;
	const uint8_t		*cader = ca_cert_der(ca, &calen);
	uint8_t			serial[SERIAL_MAX + 1];
	size_t			slen;
	struct cert_record	rec;

	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_init(&cacrt), 0);
	d.data = (unsigned char *)pem;
	d.size = (unsigned)strlen(pem);
	assert_int_equal(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM),
	    0);
	d.data = (unsigned char *)cader;
	d.size = (unsigned)calen;
	assert_int_equal(gnutls_x509_crt_import(cacrt, &d, GNUTLS_X509_FMT_DER),
	    0);
	assert_int_equal(gnutls_x509_crt_verify(crt, &cacrt, 1, 0, &status),
	    0);
	assert_int_equal(status, 0);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_crt_deinit(cacrt);
	/* Durable before the response: the store already knows it. */
	assert_int_equal(serial_parse(serial_hex, serial, &slen, NULL), CA_OK);
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(store_cert_get(st, serial, slen, &rec, NULL), CA_OK);
	cert_record_clear(&rec);
}

static const char *const H_STATIC_PEM[] = {
	"Authorization: Bearer " STATIC_TOKEN,
	"Content-Type: application/x-pem-file", NULL };

/* Enroll csr with the static token; returns the JSON (caller decrefs). */
static json_t *
enroll_ok(const char *csr)
{
	struct resp	 r;
	json_t		*j;

	req(true, "POST", "/v1/certificates", H_STATIC_PEM, csr, strlen(csr),
	    NULL, NULL, &r);
	if (r.status != 201)
		fprintf(stderr, "enroll: %ld %s\n", r.status, r.body);
	assert_int_equal(r.status, 201);
	j = json_of(&r);
	resp_clear(&r);
	return j;
}

static void
write_file(const char *name, const char *text, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", tmp, name);
	assert_int_equal(file_write_atomic(path, text, strlen(text), 0600, 0,
	    NULL), CA_OK);
}

/* ---- setup ---- */

static int
setup(void **state)
{
	struct ca_paths			 paths;
	struct ca_init_options		 io;
	struct store_options		 so;
	struct crl_schedule_options	 cso;
	struct http_options		 ho;
	struct ca_static_token	 tok;
	struct ca_profile		 prof[2];
	struct ca_error			 err;
	uint8_t				 admin[1][CA_HASH_LEN];
	const char			*names[] = { "localhost", "127.0.0.1" };
	const char			*subjects[] = { "CN=unit-admin" };
	char				 keypath[300], db[300], pub[300];
	char				*cert = NULL, *key = NULL;

	(void)state;
	data = getenv("MTLSCA_TEST_DATA");
	if (data == NULL)
		data = "tests/data";
	curl_global_init(CURL_GLOBAL_ALL);
	snprintf(tmp, sizeof(tmp), "/tmp/mtlsca-test-http.XXXXXX");
	assert_non_null(mkdtemp(tmp));
	snprintf(capath, sizeof(capath), "%s/ca.pem", tmp);
	snprintf(keypath, sizeof(keypath), "%s/ca.key", tmp);
	snprintf(db, sizeof(db), "%s/db", tmp);
	snprintf(pub, sizeof(pub), "%s/public", tmp);
	paths.cert = capath;
	paths.key = keypath;
	memset(&io, 0, sizeof(io));
	io.key_type = CA_KEY_ECDSA_P256;
	io.subject = "CN=unit test CA";
	ca_error_clear(&err);
	if (ca_init(&paths, &io, &err) != CA_OK ||
	    ca_open(&paths, &ca, &err) != CA_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	memset(&so, 0, sizeof(so));
	so.dir = db;
	if (store_open(&so, &st, &err) != CA_OK)
		return -1;
	memset(&cso, 0, sizeof(cso));
	cso.refresh = 3600;
	cso.debounce_ms = 300;
	cso.poll_ms = 100;
	cso.public_dir = pub;
	if (crl_schedule_new(ca, st, &cso, &sched, &err) != CA_OK ||
	    crl_schedule_start(sched, &err) != CA_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	if (ca_issue_server(ca, st, names, 2, 30, &cert, &key, &err) !=
	    CA_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	ca_profile_default(&prof[0]);
	ca_profile_default(&prof[1]);
	snprintf(prof[1].name, sizeof(prof[1].name), "short");
	prof[1].days = 7;
	prof[1].max_days = 30;
	memset(&tok, 0, sizeof(tok));
	snprintf(tok.profile, sizeof(tok.profile), "client");
	ca_token_hash(STATIC_TOKEN, tok.hash);
	ca_token_hash(ADMIN_TOKEN, admin[0]);
	memset(&ho, 0, sizeof(ho));
	ho.https_port = HTTP_PORT_EPHEMERAL;
	ho.http_port = HTTP_PORT_EPHEMERAL;
	ho.tls_cert_pem = cert;
	ho.tls_key_pem = key;
	ho.threads = 2;
	/* The request deadline is http_slow_clients.sh's to test: here, under
	   a sanitizer on a loaded machine, 16 handshakes queued behind slow
	   signing on two loops may take longer than the default 10 s. */
	ho.request_timeout = 120;
	ho.request_timeout_busy = 120;
	ho.threading = getenv("MTLSCA_HTTP_THREADING") &&
	    strcmp(getenv("MTLSCA_HTTP_THREADING"), "pool") == 0 ?
	    HTTP_THREADING_POOL : HTTP_THREADING_PER_CONNECTION;
	ho.profiles = prof;
	ho.n_profiles = 2;
	ho.tokens = &tok;
	ho.n_tokens = 1;
	ho.admin_subjects = subjects;
	ho.n_admin_subjects = 1;
	ho.admin_token_hashes = (const uint8_t (*)[CA_HASH_LEN])admin;
	ho.n_admin_token_hashes = 1;
	if (http_server_start(&ho, ca, st, sched, &srv, &err) != CA_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	free(cert);
	free(key);
	port = http_server_port(srv, true);
	plain_port = http_server_port(srv, false);
	return port != 0 && plain_port != 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[512];

	(void)state;
	http_server_stop(srv);
	crl_schedule_free(sched);
	store_close(st);
	ca_free(ca);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		return -1;
	curl_global_cleanup();
	return 0;
}

/* ---- helpers without a server ---- */

static void
test_status_map(void **state)
{
	(void)state;
	assert_int_equal(http_status_for(CA_EMALF), 400);
	assert_int_equal(http_status_for(CA_EAUTH), 401);
	assert_int_equal(http_status_for(CA_EFORBIDDEN), 403);
	assert_int_equal(http_status_for(CA_ENOENT), 404);
	assert_int_equal(http_status_for(CA_EEXIST), 409);
	assert_int_equal(http_status_for(CA_ETOOBIG), 413);
	assert_int_equal(http_status_for(CA_EPOLICY), 422);
	assert_int_equal(http_status_for(CA_ESPACE), 507);
	assert_int_equal(http_status_for(CA_EIO), 500);
	assert_int_equal(http_status_for(CA_ECRYPTO), 500);
}

/* The label of a matched row, "other" for none. */
static const char *
row_label(const struct http_route *t, int row)
{
	return row >= 0 ? t[row].metric : "other";
}

/*
 * URL paths against the service's table: routes, methods, serial bounds,
 * no prefix or suffix tricks. want is the row's metric label for the
 * method ("405" when the path is known but not the method, "other" for no
 * such path).
 */
static void
test_route_match(void **state)
{
	static const struct {
		const char	*url, *method, *want, *param;
		unsigned	 allow;
	} t[] = {
		{ "/crl", "GET", "/crl", "", HTTP_GET },
		{ "/crl", "HEAD", "/crl", "", HTTP_GET },
		{ "/crl", "DELETE", "405", "", HTTP_GET },
		{ "/crl", "get", "405", "", HTTP_GET },
		{ "/crl/", "GET", "other", NULL, 0 },
		{ "/crl.pem", "GET", "/crl.pem", "", HTTP_GET },
		{ "//crl", "GET", "other", NULL, 0 },
		{ "/v1/certificates", "POST", "/v1/certificates", "",
		    HTTP_GET | HTTP_POST },
		{ "/v1/certificates", "GET", "/v1/certificates (list)", "",
		    HTTP_GET | HTTP_POST },
		{ "/v1/certificates", "PUT", "405", "", HTTP_GET | HTTP_POST },
		{ "/v1/certificates/", "GET", "other", NULL, 0 },
		{ "/v1/certificates/renew", "POST", "/v1/certificates/renew", "",
		    HTTP_POST },
		{ "/v1/certificates/renew", "GET", "405", "", HTTP_POST },
		{ "/v1/certificates/7F:0A", "GET", "/v1/certificates/{serial}",
		    "7F:0A", HTTP_GET },
		{ "/v1/certificates/7F:0A", "POST", "405", "7F:0A", HTTP_GET },
		{ "/v1/certificates/7f0a/revoke", "POST",
		    "/v1/certificates/{serial}/revoke", "7f0a", HTTP_POST },
		{ "/v1/certificates/7f0a/revoke/", "POST", "other", NULL, 0 },
		{ "/v1/certificates/7f0a/", "GET", "other", NULL, 0 },
		{ "/v1/certificates//revoke", "POST", "other", NULL, 0 },
		{ "/v1/certificates/7g/revoke", "POST", "other", NULL, 0 },
		{ "/v1/certificates/../crl", "GET", "other", NULL, 0 },
		/* A 16-octet serial as `openssl x509 -text` prints it (47
		   characters); 21 octets with separators (62) fit, 63 do not. */
		{ "/v1/certificates/7f:0a:3c:11:22:33:44:55:66:77:88:99:aa:bb:"
		    "cc:dd", "GET", "/v1/certificates/{serial}",
		    "7f:0a:3c:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd", HTTP_GET },
		{ "/v1/certificates/00:80:01:02:03:04:05:06:07:08:09:0a:0b:0c:"
		    "0d:0e:0f:10:11:12:13/revoke", "POST",
		    "/v1/certificates/{serial}/revoke",
		    "00:80:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:10:11:"
		    "12:13", HTTP_POST },
		{ "/v1/certificates/00:80:01:02:03:04:05:06:07:08:09:0a:0b:0c:"
		    "0d:0e:0f:10:11:12:13:", "GET", "other", NULL, 0 },
		{ "/v1/crl", "POST", "/v1/crl", "", HTTP_POST },
		{ "/v1/crl", "GET", "405", "", HTTP_POST },
		{ "/v1/crl/status", "GET", "/v1/crl/status", "", HTTP_GET },
		{ "/V1/CRL", "POST", "other", NULL, 0 },
		{ "", "GET", "other", NULL, 0 },
	};
	struct http_match m;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *got;

		http_route_match(http_routes, http_n_routes, t[i].url,
		    t[i].method, &m);
		got = m.row >= 0 ? row_label(http_routes, m.row) :
		    m.path_row >= 0 ? "405" : "other";
		if (strcmp(got, t[i].want) != 0)
			fprintf(stderr, "%s %s: %s\n", t[i].method, t[i].url,
			    got);
		assert_string_equal(got, t[i].want);
		assert_int_equal(m.allow, t[i].allow);
		if (t[i].param != NULL)
			assert_string_equal(m.param, t[i].param);
		/* the public files are on both listeners, the API is not */
		assert_int_equal(m.https_only, m.path_row >= 0 &&
		    strncmp(t[i].url, "/v1/", 4) == 0);
	}
}

/* The matcher is the table's, not the service's: "{name}" parameters, a
   literal beside a pattern, two rows of one path. */
static void
test_route_table(void **state)
{
	static const struct http_route est[] = {
		{ "/.well-known/est/cacerts", HTTP_GET, HTTP_AUTH_PUBLIC,
		    HTTP_PROTO_EST, NULL, "cacerts", NULL },
		{ "/.well-known/est/simpleenroll", HTTP_POST, HTTP_AUTH_ENROLL,
		    HTTP_PROTO_EST, NULL, "simpleenroll", NULL },
		{ "/.well-known/est/{name}/simpleenroll", HTTP_POST,
		    HTTP_AUTH_ENROLL, HTTP_PROTO_EST, NULL,
		    "simpleenroll (profile)", NULL },
		{ "/.well-known/est/{name}/cacerts", HTTP_GET,
		    HTTP_AUTH_PUBLIC, HTTP_PROTO_EST, NULL, "cacerts (profile)",
		    NULL },
	};
	static const struct {
		const char	*url, *method, *want, *param;
	} t[] = {
		{ "/.well-known/est/cacerts", "GET", "cacerts", "" },
		{ "/.well-known/est/simpleenroll", "POST", "simpleenroll", "" },
		{ "/.well-known/est/client/simpleenroll", "POST",
		    "simpleenroll (profile)", "client" },
		{ "/.well-known/est/a.b-c_d/cacerts", "GET", "cacerts (profile)",
		    "a.b-c_d" },
		{ "/.well-known/est/../cacerts", "GET", "other", NULL },
		{ "/.well-known/est/./cacerts", "GET", "other", NULL },
		{ "/.well-known/est/a%2F/cacerts", "GET", "other", NULL },
		{ "/.well-known/est//cacerts", "GET", "other", NULL },
		{ "/.well-known/est/0123456789012345678901234567890123/cacerts",
		    "GET", "other", NULL },
		{ "/.well-known/est/client/simpleenroll", "GET", "405",
		    "client" },
	};
	struct http_match m;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *got;

		http_route_match(est, sizeof(est) / sizeof(est[0]), t[i].url,
		    t[i].method, &m);
		got = m.row >= 0 ? row_label(est, m.row) : m.path_row >= 0 ?
		    "405" : "other";
		if (strcmp(got, t[i].want) != 0)
			fprintf(stderr, "%s %s: %s\n", t[i].method, t[i].url,
			    got);
		assert_string_equal(got, t[i].want);
		if (t[i].param != NULL)
			assert_string_equal(m.param, t[i].param);
	}
	/* Every row of the service's table has a handler and a label, and
	   no two rows share a label (metrics.c: one series per row). */
	for (size_t i = 0; i < http_n_routes; i++) {
		assert_non_null(http_routes[i].handler);
		assert_non_null(http_routes[i].metric);
		assert_true(http_routes[i].methods != 0);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(http_routes[i].metric,
			    http_routes[j].metric);
	}
}

/* Enrollment bodies: each refusal is 400 (EMALF) or 415 (EINVAL). */
static void
test_body_parse(void **state)
{
	static const struct {
		const char	*ct, *prof, *days, *body;
		int		 want;
	} t[] = {
		{ "application/x-pem-file", NULL, NULL, "-----BEGIN", CA_OK },
		{ "Application/X-PEM-File; charset=us-ascii", NULL, NULL, "x",
		    CA_OK },
		{ "application/x-pem-filex", NULL, NULL, "x", CA_EINVAL },
		{ "application/x-www-form-urlencoded", NULL, NULL, "csr=x",
		    CA_EINVAL },
		{ NULL, NULL, NULL, "{\"csr\": \"x\"}", CA_OK },
		{ NULL, NULL, NULL, "", CA_EMALF },
		{ "text/plain", NULL, "0", "x", CA_EMALF },
		{ "text/plain", NULL, "100001", "x", CA_EMALF },
		{ "text/plain", NULL, "18446744073709551617", "x", CA_EMALF },
		{ "text/plain", NULL, "-1", "x", CA_EMALF },
		{ "text/plain", NULL, " 5", "x", CA_EMALF },
		{ "text/plain", "client", "30", "x", CA_OK },
		{ "application/json", NULL, NULL, "{\"csr\": ", CA_EMALF },
		{ "application/json", NULL, NULL, "[\"csr\"]", CA_EMALF },
		{ "application/json", NULL, NULL, "{\"csr\": \"\"}", CA_EMALF },
		{ "application/json", NULL, NULL, "{\"csr\": 5}", CA_EMALF },
		{ "application/json", NULL, NULL,
		    "{\"csr\": \"x\", \"csr\": \"y\"}", CA_EMALF },
		{ "application/json", NULL, NULL,
		    "{\"csr\": \"x\", \"days\": 1.5}", CA_EMALF },
		{ "application/json", NULL, NULL,
		    "{\"csr\": \"x\", \"days\": 100001}", CA_EMALF },
		{ "application/json", NULL, NULL,
		    "{\"csr\": \"x\", \"profile\": 7}", CA_EMALF },
		{ "application/json", NULL, NULL,
		    "{\"csr\": \"x\", \"days\": 9}", CA_OK },
	};
	struct http_body	b;
	struct ca_error		err;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc;

		ca_error_clear(&err);
		rc = http_body_parse(t[i].ct, t[i].prof, t[i].days,
		    (const uint8_t *)t[i].body, strlen(t[i].body), &b, &err);
		if (rc != t[i].want)
			fprintf(stderr, "body %zu: %d (%s)\n", i, rc, err.msg);
		assert_int_equal(rc, t[i].want);
		if (rc != CA_OK)
			assert_true(strlen(err.msg) > 10);
		else
			assert_true(b.csr != NULL && b.csr_len > 0);
		http_body_clear(&b);
	}
}

/* ---- public routes ---- */

static void
test_public(void **state)
{
	static const char *const h_admin[] = {
		"Authorization: Bearer " ADMIN_TOKEN, NULL };
	struct resp r;

	(void)state;
	req(false, "GET", "/ca.pem", NULL, NULL, 0, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(strncmp(r.body, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
	assert_null(strstr(r.body, "\n\n"));
	assert_null(strchr(r.body, '\r'));
	assert_true(r.body[r.len - 1] == '\n');
	resp_clear(&r);

	req(false, "GET", "/crl", NULL, NULL, 0, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, "application/pkix-crl");
	assert_true(r.len > 50 && (uint8_t)r.body[0] == 0x30);
	resp_clear(&r);

	req(true, "GET", "/crl.pem", NULL, NULL, 0, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(strncmp(r.body, "-----BEGIN X509 CRL-----", 24) == 0);
	resp_clear(&r);

	req(false, "GET", "/healthz", NULL, NULL, 0, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"ok\""));
	resp_clear(&r);

	req(false, "GET", "/nope", NULL, NULL, 0, NULL, NULL, &r);
	assert_error(&r, 404, "not_found");
	resp_clear(&r);

	req(true, "DELETE", "/crl", NULL, NULL, 0, NULL, NULL, &r);
	assert_error(&r, 405, "method_not_allowed");
	assert_string_equal(r.allow, "GET, HEAD");
	resp_clear(&r);

	/* RFC 9110 §15.5.6: Allow lists what the route takes — and only
	   that (POST /v1/crl/status is a 405 itself). */
	req(true, "POST", "/v1/crl/status", h_admin, "", 0, NULL, NULL, &r);
	assert_error(&r, 405, "method_not_allowed");
	assert_string_equal(r.allow, "GET, HEAD");
	resp_clear(&r);
	req(true, "PUT", "/v1/certificates", h_admin, NULL, 0, NULL, NULL, &r);
	assert_error(&r, 405, "method_not_allowed");
	assert_string_equal(r.allow, "GET, HEAD, POST");
	resp_clear(&r);
	req(true, "GET", "/v1/crl", h_admin, NULL, 0, NULL, NULL, &r);
	assert_error(&r, 405, "method_not_allowed");
	assert_string_equal(r.allow, "POST");
	resp_clear(&r);
	/* HEAD is GET without the body. */
	req(true, "HEAD", "/v1/crl/status", h_admin, NULL, 0, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 0);
	resp_clear(&r);

	/* No tokens over plain HTTP. */
	req(false, "POST", "/v1/certificates", H_STATIC_PEM, "x", 1, NULL,
	    NULL, &r);
	assert_error(&r, 404, "not_found");
	resp_clear(&r);
}

/* ---- enrollment ---- */

static void
test_enroll_formats(void **state)
{
	static const char *const h_der[] = {
		"Authorization: Bearer " STATIC_TOKEN,
		"Content-Type: application/pkcs10", NULL };
	static const char *const h_json[] = {
		"Authorization: Bearer " STATIC_TOKEN,
		"Content-Type: application/json", NULL };
	static const char *const h_chain[] = {
		"Authorization: Bearer " STATIC_TOKEN,
		"Content-Type: text/plain",
		"Accept: application/pem-certificate-chain", NULL };
	struct resp	 r;
	json_t		*j, *body;
	char		*pem, *der, *text;
	size_t		 derlen;

	(void)state;
	pem = data_file("csr/accept/ecdsa-p256.pem", NULL);
	j = enroll_ok(pem);
	assert_issued(json_string_value(json_object_get(j, "certificate")),
	    json_string_value(json_object_get(j, "serial")));
	assert_true(json_is_string(json_object_get(j, "ca")));
	assert_true(json_is_string(json_object_get(j, "not_before")));
	assert_true(json_is_string(json_object_get(j, "not_after")));
	json_decref(j);

	der = data_file("csr/accept/rsa-2048.der", &derlen);
	req(true, "POST", "/v1/certificates", h_der, der, derlen, NULL, NULL,
	    &r);
	assert_int_equal(r.status, 201);
	j = json_of(&r);
	assert_issued(json_string_value(json_object_get(j, "certificate")),
	    json_string_value(json_object_get(j, "serial")));
	json_decref(j);
	resp_clear(&r);

	/* JSON with another profile: refused, the token is for "client". */
	body = json_pack("{s:s, s:s, s:i}", "csr", pem, "profile", "short",
	    "days", 3);
	text = json_dumps(body, 0);
	req(true, "POST", "/v1/certificates", h_json, text, strlen(text), NULL,
	    NULL, &r);
	assert_error(&r, 403, "forbidden");
	resp_clear(&r);
	free(text);
	json_decref(body);

	/* JSON, default profile, 3 days. */
	body = json_pack("{s:s, s:i}", "csr", pem, "days", 3);
	text = json_dumps(body, 0);
	req(true, "POST", "/v1/certificates", h_json, text, strlen(text), NULL,
	    NULL, &r);
	assert_int_equal(r.status, 201);
	j = json_of(&r);
	{
		int64_t nb, na;

		assert_int_equal(time_parse(json_string_value(
		    json_object_get(j, "not_before")), &nb), CA_OK);
		assert_int_equal(time_parse(json_string_value(
		    json_object_get(j, "not_after")), &na), CA_OK);
		assert_true(na - nb <= 3 * 86400 + 3600);
		assert_true(na - nb >= 3 * 86400 - 3600);
	}
	json_decref(j);
	resp_clear(&r);
	free(text);
	json_decref(body);

	/* The answer is written without jansson (enroll.c): the same text
	   json_dumps(COMPACT | ENSURE_ASCII) writes, with escapes and
	   2-, 3- and 4-octet UTF-8 (a surrogate pair) in the subject. */
	{
		char	*ucsr, *ukey, *canon;

		make_csr("CN=Zo\xc3\xab \\\"q\\\" \xe6\x9d\xb1 "
		    "\xf0\x9f\x99\x82 back\\\\slash", &ucsr, &ukey);
		req(true, "POST", "/v1/certificates", H_STATIC_PEM, ucsr,
		    strlen(ucsr), NULL, NULL, &r);
		assert_int_equal(r.status, 201);
		j = json_of(&r);
		canon = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
		assert_non_null(canon);
		assert_int_equal(r.len, strlen(canon) + 1);
		assert_memory_equal(r.body, canon, strlen(canon));
		assert_int_equal(r.body[r.len - 1], '\n');
		assert_non_null(strstr(r.body, "\\u00EB"));
		assert_non_null(strstr(r.body, "\\uD83D\\uDE42"));
		assert_non_null(strstr(r.body, "\\\"q"));
		assert_true(json_is_false(json_object_get(j, "truncated")));
		free(canon);
		json_decref(j);
		resp_clear(&r);
		free(ucsr);
		free(ukey);
	}

	req(true, "POST", "/v1/certificates", h_chain, pem, strlen(pem), NULL,
	    NULL, &r);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.ctype, "application/pem-certificate-chain");
	{
		const char *second = strstr(r.body + 1, "-----BEGIN CERTIFICATE");

		assert_true(strncmp(r.body, "-----BEGIN CERTIFICATE", 22) == 0);
		assert_non_null(second);
		assert_null(strstr(second + 1, "-----BEGIN CERTIFICATE"));
	}
	resp_clear(&r);
	free(pem);
	free(der);
}

static void
test_enroll_refusals(void **state)
{
	static const char *const h_wrong[] = {
		"Authorization: Bearer not-a-token",
		"Content-Type: application/x-pem-file", NULL };
	static const char *const h_none[] = {
		"Content-Type: application/x-pem-file", NULL };
	static const char *const h_basic[] = {
		"Authorization: Basic dXNlcjpwYXNz",
		"Content-Type: application/x-pem-file", NULL };
	static const char *const h_xml[] = {
		"Authorization: Bearer " STATIC_TOKEN,
		"Content-Type: application/xml", NULL };
	struct resp	 r;
	char		*pem, *bad, *weak, *big;
	json_t		*j;

	(void)state;
	pem = data_file("csr/accept/ecdsa-p256.pem", NULL);
	/* A token presented but refused is 403 (as on the admin routes);
	   no credentials, or not a Bearer token, is 401. */
	req(true, "POST", "/v1/certificates", h_wrong, pem, strlen(pem), NULL,
	    NULL, &r);
	assert_error(&r, 403, "forbidden");
	resp_clear(&r);
	req(true, "POST", "/v1/certificates", h_none, pem, strlen(pem), NULL,
	    NULL, &r);
	assert_error(&r, 401, "unauthorized");
	resp_clear(&r);
	req(true, "POST", "/v1/certificates", h_basic, pem, strlen(pem), NULL,
	    NULL, &r);
	assert_error(&r, 401, "unauthorized");
	resp_clear(&r);
	req(true, "POST", "/v1/certificates", h_xml, pem, strlen(pem), NULL,
	    NULL, &r);
	assert_error(&r, 415, "unsupported_media_type");
	resp_clear(&r);

	bad = data_file("csr/reject/not-a-csr.pem", NULL);
	req(true, "POST", "/v1/certificates", H_STATIC_PEM, bad, strlen(bad),
	    NULL, NULL, &r);
	assert_error(&r, 400, "malformed");
	resp_clear(&r);

	weak = data_file("csr/reject/rsa-1024.pem", NULL);
	req(true, "POST", "/v1/certificates", H_STATIC_PEM, weak, strlen(weak),
	    NULL, NULL, &r);
	assert_error(&r, 422, "policy");
	j = json_of(&r);
	assert_non_null(strstr(json_string_value(json_object_get(j,
	    "message")), "1024"));
	assert_non_null(strstr(json_string_value(json_object_get(j,
	    "message")), "2048"));
	json_decref(j);
	resp_clear(&r);

	/* 70 KiB: refused on Content-Length, before the body is read. */
	big = malloc(70 * 1024);
	memset(big, 'A', 70 * 1024);
	req(true, "POST", "/v1/certificates", H_STATIC_PEM, big, 70 * 1024,
	    NULL, NULL, &r);
	assert_error(&r, 413, "too_big");
	resp_clear(&r);
	free(big);
	free(pem);
	free(bad);
	free(weak);
}

struct race {
	const char	*csr;
	const char	*hdr;
	int		 created;
	int		 refused;
	pthread_mutex_t	 mu;
};

static void *
race_main(void *arg)
{
	struct race		*rc = arg;
	const char *const	 h[] = { rc->hdr,
	    "Content-Type: application/x-pem-file", NULL };
	struct resp		 r;

	(void)req_try(true, "POST", "/v1/certificates", h, rc->csr,
	    strlen(rc->csr), NULL, NULL, &r);
	pthread_mutex_lock(&rc->mu);
	if (r.status == 201)
		rc->created++;
	else if (r.status == 403)
		rc->refused++;
	pthread_mutex_unlock(&rc->mu);
	resp_clear(&r);
	return NULL;
}

static void
put_token(const char *text, const char *cn, uint32_t uses)
{
	struct store_token	tok;
	uint8_t			h[CA_HASH_LEN];

	memset(&tok, 0, sizeof(tok));
	snprintf(tok.profile, sizeof(tok.profile), "client");
	snprintf(tok.cn, sizeof(tok.cn), "%s", cn);
	tok.created_at = time_now();
	tok.expires_at = time_now() + 3600;
	tok.uses_left = uses;
	ca_token_hash(text, h);
	assert_int_equal(store_token_put(st, h, &tok, NULL), CA_OK);
}

static void
test_one_time_tokens(void **state)
{
	const char *const h[] = { "Authorization: Bearer once-1",
	    "Content-Type: application/x-pem-file", NULL };
	const char *const hb[] = { "Authorization: Bearer bound-1",
	    "Content-Type: application/x-pem-file", NULL };
	struct race	 rc;
	pthread_t	 th[8];
	struct resp	 r;
	char		*csr, *key, *csr2, *key2;
	json_t		*j;

	(void)state;
	make_csr("CN=once", &csr, &key);
	put_token("once-1", "", 1);
	req(true, "POST", "/v1/certificates", h, csr, strlen(csr), NULL, NULL,
	    &r);
	assert_int_equal(r.status, 201);
	resp_clear(&r);
	req(true, "POST", "/v1/certificates", h, csr, strlen(csr), NULL, NULL,
	    &r);
	assert_error(&r, 403, "forbidden");
	j = json_of(&r);
	assert_non_null(strstr(json_string_value(json_object_get(j,
	    "message")), "used"));
	json_decref(j);
	resp_clear(&r);

	/* Eight requests race for one use: exactly one wins. */
	put_token("race-1", "", 1);
	memset(&rc, 0, sizeof(rc));
	rc.csr = csr;
	rc.hdr = "Authorization: Bearer race-1";
	pthread_mutex_init(&rc.mu, NULL);
	for (int i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, race_main, &rc);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(rc.created, 1);
	assert_int_equal(rc.refused, 7);
	pthread_mutex_destroy(&rc.mu);

	/* A token bound to a CN takes that CN only, and is not spent by a
	   refusal. */
	put_token("bound-1", "alice", 1);
	req(true, "POST", "/v1/certificates", hb, csr, strlen(csr), NULL, NULL,
	    &r);
	assert_error(&r, 403, "forbidden");
	resp_clear(&r);
	make_csr("CN=alice", &csr2, &key2);
	req(true, "POST", "/v1/certificates", hb, csr2, strlen(csr2), NULL,
	    NULL, &r);
	assert_int_equal(r.status, 201);
	resp_clear(&r);
	free(csr);
	free(key);
	free(csr2);
	free(key2);
}

struct load {
	const char	*csr;
	int		 ok;
};

static void *
load_main(void *arg)
{
	struct load	*l = arg;
	struct resp	 r;

	for (int i = 0; i < 10; i++) {
		(void)req_try(true, "POST", "/v1/certificates", H_STATIC_PEM,
		    l->csr, strlen(l->csr), NULL, NULL, &r);
		l->ok += r.status == 201;
		resp_clear(&r);
	}
	return NULL;
}

static void
test_batching(void **state)
{
	struct load	 l[16];
	pthread_t	 th[16];
	struct resp	 r;
	char		*csr, *key;
	unsigned long long commits = 0, committed = 0;
	const char	*p;

	(void)state;
	make_csr("CN=load", &csr, &key);
	for (int i = 0; i < 16; i++) {
		l[i].csr = csr;
		l[i].ok = 0;
		pthread_create(&th[i], NULL, load_main, &l[i]);
	}
	for (int i = 0; i < 16; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(l[i].ok, 10);
	}
	req(false, "GET", "/metrics", NULL, NULL, 0, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(p = strstr(r.body, "\nmtlsca_store_commits_total "));
	commits = strtoull(p + 28, NULL, 10);
	assert_non_null(p = strstr(r.body,
	    "\nmtlsca_store_committed_certificates_total "));
	committed = strtoull(p + 43, NULL, 10);
	fprintf(stderr, "committer: %llu certificates in %llu commits\n",
	    committed, commits);
	assert_true(committed >= 160);
	assert_true(commits <= committed);
	assert_non_null(strstr(r.body, "mtlsca_certificates_issued_total"
	    "{profile=\"client\"}"));
	assert_non_null(strstr(r.body, "mtlsca_http_request_duration_seconds_"
	    "bucket{route=\"/v1/certificates\",le=\"+Inf\"}"));
	assert_non_null(strstr(r.body, "mtlsca_ca_expiry_seconds "));
	assert_non_null(strstr(r.body, "mtlsca_crl_next_update_seconds "));
	resp_clear(&r);
	free(csr);
	free(key);
}

/* Is serial (hex) in the CRL served at /crl? */
static bool
crl_lists(const char *hex)
{
	struct resp		r;
	gnutls_x509_crl_t	crl;
	gnutls_datum_t		d;
	uint8_t			want[SERIAL_MAX + 1], got[SERIAL_MAX + 1];
	size_t			wl, gl;
	time_t			t;
	bool			found = false;
	int			n;

	assert_int_equal(serial_parse(hex, want, &wl, NULL), CA_OK);
	req(false, "GET", "/crl", NULL, NULL, 0, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(gnutls_x509_crl_init(&crl), 0);
	d.data = (unsigned char *)r.body;
	d.size = (unsigned)r.len;
	assert_int_equal(gnutls_x509_crl_import(crl, &d, GNUTLS_X509_FMT_DER),
	    0);
	n = gnutls_x509_crl_get_crt_count(crl);
	for (int i = 0; i < n; i++) {
		gl = sizeof(got);
		assert_int_equal(gnutls_x509_crl_get_crt_serial(crl, i, got,
		    &gl, &t), 0);
		if (gl == wl && memcmp(got, want, wl) == 0)
			found = true;
	}
	gnutls_x509_crl_deinit(crl);
	resp_clear(&r);
	return found;
}

static void
test_admin_and_renew(void **state)
{
	static const char *const h_admin[] = {
		"Authorization: Bearer " ADMIN_TOKEN, NULL };
	static const char *const h_admin_json[] = {
		"Authorization: Bearer " ADMIN_TOKEN,
		"Content-Type: application/json", NULL };
	static const char *const h_static[] = {
		"Authorization: Bearer " STATIC_TOKEN, NULL };
	static const char *const h_pem[] = {
		"Content-Type: application/x-pem-file", NULL };
	static const char *const h_admin_pem[] = {
		"Authorization: Bearer " ADMIN_TOKEN,
		"Content-Type: application/x-pem-file", NULL };
	static const char *const h_admin_form[] = {
		"Authorization: Bearer " ADMIN_TOKEN,
		"Content-Type: application/x-www-form-urlencoded", NULL };
	struct resp	 r;
	json_t		*j, *u, *a;
	char		*ucsr, *ukey, *acsr, *akey, *rcsr, *rkey;
	char		 ucert[300], ukeyp[300], acert[300], akeyp[300];
	char		 path[128], userial[64], rserial[64];
	int64_t		 t0;

	(void)state;
	/* A user and an admin (by subject), both enrolled over the API. */
	make_csr("CN=unit-user", &ucsr, &ukey);
	make_csr("CN=unit-admin", &acsr, &akey);
	u = enroll_ok(ucsr);
	/*
	 * An admin subject is an admin credential: an enrollment token must
	 * not mint one (else every token holder is an admin). Only an admin
	 * token enrolls it.
	 */
	req(true, "POST", "/v1/certificates", H_STATIC_PEM, acsr, strlen(acsr),
	    NULL, NULL, &r);
	assert_error(&r, 403, "forbidden");
	resp_clear(&r);
	req(true, "POST", "/v1/certificates", h_admin_pem, acsr, strlen(acsr),
	    NULL, NULL, &r);
	assert_int_equal(r.status, 201);
	a = json_of(&r);
	resp_clear(&r);
	snprintf(userial, sizeof(userial), "%s",
	    json_string_value(json_object_get(u, "serial")));
	write_file("user.pem", json_string_value(json_object_get(u,
	    "certificate")), ucert, sizeof(ucert));
	write_file("user.key", ukey, ukeyp, sizeof(ukeyp));
	write_file("admin.pem", json_string_value(json_object_get(a,
	    "certificate")), acert, sizeof(acert));
	write_file("admin.key", akey, akeyp, sizeof(akeyp));

	/* Credentials: none 401, enrollment token 403, user cert 403. */
	req(true, "GET", "/v1/certificates", NULL, NULL, 0, NULL, NULL, &r);
	assert_error(&r, 401, "unauthorized");
	resp_clear(&r);
	req(true, "GET", "/v1/certificates", h_static, NULL, 0, NULL, NULL, &r);
	assert_error(&r, 403, "forbidden");
	resp_clear(&r);
	req(true, "GET", "/v1/certificates", NULL, NULL, 0, ucert, ukeyp, &r);
	assert_error(&r, 403, "forbidden");
	resp_clear(&r);

	/* Admin by certificate: list with a CN filter, then show. */
	req(true, "GET", "/v1/certificates?cn=unit-user&limit=10", NULL, NULL,
	    0, acert, akeyp, &r);
	assert_int_equal(r.status, 200);
	j = json_of(&r);
	assert_int_equal(json_array_size(json_object_get(j, "certificates")),
	    1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(j, "certificates"), 0), "serial")), userial);
	json_decref(j);
	resp_clear(&r);
	/* A CN longer than any the store indexes: 400, said why. */
	{
		char	longq[400];
		int	o = snprintf(longq, sizeof(longq),
		    "/v1/certificates?cn=");

		memset(longq + o, 'a', 300);
		longq[o + 300] = '\0';
		req(true, "GET", longq, NULL, NULL, 0, acert, akeyp, &r);
		assert_error(&r, 400, "invalid");
		assert_non_null(strstr(r.body, "at most 255 bytes"));
		resp_clear(&r);
	}
	snprintf(path, sizeof(path), "/v1/certificates/%s", userial);
	req(true, "GET", path, h_admin, NULL, 0, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	j = json_of(&r);
	assert_string_equal(json_string_value(json_object_get(j, "status")),
	    "valid");
	assert_true(json_is_string(json_object_get(j, "certificate")));
	json_decref(j);
	resp_clear(&r);
	/* The serial as `openssl x509 -text` prints it: lower case, ':'. */
	{
		char	colon[HTTP_SERIAL_TEXT_MAX], *o = colon;

		for (size_t i = 0; userial[i] != '\0'; i += 2) {
			if (i > 0)
				*o++ = ':';
			*o++ = (char)tolower((unsigned char)userial[i]);
			*o++ = (char)tolower((unsigned char)userial[i + 1]);
		}
		*o = '\0';
		snprintf(path, sizeof(path), "/v1/certificates/%s", colon);
		req(true, "GET", path, h_admin, NULL, 0, NULL, NULL, &r);
		assert_int_equal(r.status, 200);
		resp_clear(&r);
	}
	req(true, "GET", "/v1/certificates/4000000000000000000000000000AAAA",
	    h_admin, NULL, 0, NULL, NULL, &r);
	assert_error(&r, 404, "not_found");
	resp_clear(&r);

	/* Renewal with the user's certificate: same subject only. */
	make_csr("CN=unit-user", &rcsr, &rkey);
	req(true, "POST", "/v1/certificates/renew", h_pem, rcsr, strlen(rcsr),
	    ucert, ukeyp, &r);
	assert_int_equal(r.status, 201);
	j = json_of(&r);
	snprintf(rserial, sizeof(rserial), "%s",
	    json_string_value(json_object_get(j, "serial")));
	assert_string_not_equal(rserial, userial);
	assert_issued(json_string_value(json_object_get(j, "certificate")),
	    rserial);
	json_decref(j);
	resp_clear(&r);
	req(true, "POST", "/v1/certificates/renew", h_pem, acsr, strlen(acsr),
	    ucert, ukeyp, &r);
	assert_error(&r, 422, "policy");
	resp_clear(&r);
	req(true, "POST", "/v1/certificates/renew", h_pem, rcsr, strlen(rcsr),
	    NULL, NULL, &r);
	assert_error(&r, 401, "unauthorized");
	resp_clear(&r);

	/* Revoke by token; the CRL lists it within 3 s. A form body (curl
	   -d without a type) is refused, not read as no reason. */
	snprintf(path, sizeof(path), "/v1/certificates/%s/revoke", userial);
	req(true, "POST", path, h_admin_form, "{\"reason\": \"keyCompromise\"}",
	    27, NULL, NULL, &r);
	assert_error(&r, 415, "unsupported_media_type");
	resp_clear(&r);
	t0 = time_now();
	req(true, "POST", path, h_admin_json, "{\"reason\": \"keyCompromise\"}",
	    27, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	j = json_of(&r);
	assert_string_equal(json_string_value(json_object_get(j, "reason")),
	    "keyCompromise");
	json_decref(j);
	resp_clear(&r);
	/* A bound for a loaded machine (the sanitizers, a shared CI), not a
	   timing: the loop ends as soon as the CRL lists it. */
	while (!crl_lists(userial) && time_now() - t0 < 30)
		usleep(100 * 1000);
	assert_true(crl_lists(userial));
	/* A revoked certificate neither renews nor administers. */
	req(true, "POST", "/v1/certificates/renew", h_pem, rcsr, strlen(rcsr),
	    ucert, ukeyp, &r);
	assert_error(&r, 403, "forbidden");
	resp_clear(&r);
	req(true, "POST", path, h_admin_json, "{\"reason\": \"bogus\"}", 19,
	    NULL, NULL, &r);
	assert_error(&r, 400, "malformed");
	resp_clear(&r);

	/* Revoke by admin certificate; regenerate; status. */
	snprintf(path, sizeof(path), "/v1/certificates/%s/revoke", rserial);
	req(true, "POST", path, NULL, NULL, 0, acert, akeyp, &r);
	assert_int_equal(r.status, 200);
	resp_clear(&r);
	req(true, "POST", "/v1/crl", NULL, NULL, 0, acert, akeyp, &r);
	assert_int_equal(r.status, 200);
	resp_clear(&r);
	assert_true(crl_lists(rserial));
	req(true, "GET", "/v1/crl/status", h_admin, NULL, 0, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	j = json_of(&r);
	assert_true(json_integer_value(json_object_get(j, "entries")) >= 2);
	json_decref(j);
	resp_clear(&r);
	req(true, "GET", "/v1/certificates?status=revoked", h_admin, NULL, 0,
	    NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	j = json_of(&r);
	assert_int_equal(json_array_size(json_object_get(j, "certificates")),
	    2);
	json_decref(j);
	resp_clear(&r);
	/* Pages of one through the revoked index: the two, one each, and
	   the second page says there is no third. */
	{
		char	 first[80], url[160];
		json_t	*c;

		req(true, "GET", "/v1/certificates?status=revoked&limit=1",
		    h_admin, NULL, 0, NULL, NULL, &r);
		assert_int_equal(r.status, 200);
		j = json_of(&r);
		c = json_object_get(j, "certificates");
		assert_int_equal(json_array_size(c), 1);
		assert_string_equal(json_string_value(json_object_get(
		    json_array_get(c, 0), "status")), "revoked");
		snprintf(first, sizeof(first), "%s", json_string_value(
		    json_object_get(json_array_get(c, 0), "serial")));
		assert_true(json_is_string(json_object_get(j, "next_cursor")));
		snprintf(url, sizeof(url), "/v1/certificates?status=revoked&"
		    "limit=1&cursor=%s", json_string_value(json_object_get(j,
		    "next_cursor")));
		json_decref(j);
		resp_clear(&r);
		req(true, "GET", url, h_admin, NULL, 0, NULL, NULL, &r);
		assert_int_equal(r.status, 200);
		j = json_of(&r);
		c = json_object_get(j, "certificates");
		assert_int_equal(json_array_size(c), 1);
		assert_string_not_equal(json_string_value(json_object_get(
		    json_array_get(c, 0), "serial")), first);
		assert_string_equal(json_string_value(json_object_get(
		    json_array_get(c, 0), "status")), "revoked");
		assert_true(json_is_null(json_object_get(j, "next_cursor")));
		json_decref(j);
		resp_clear(&r);
		/* Nothing has expired: an empty page, no cursor. */
		req(true, "GET", "/v1/certificates?status=expired", h_admin,
		    NULL, 0, NULL, NULL, &r);
		assert_int_equal(r.status, 200);
		j = json_of(&r);
		assert_int_equal(json_array_size(json_object_get(j,
		    "certificates")), 0);
		assert_true(json_is_null(json_object_get(j, "next_cursor")));
		json_decref(j);
		resp_clear(&r);
	}

	json_decref(u);
	json_decref(a);
	free(ucsr);
	free(ukey);
	free(acsr);
	free(akey);
	free(rcsr);
	free(rkey);
}

/* ---- metrics: the Prometheus text format (0.0.4) ---- */

struct series {
	char	key[400];	/* name + labels other than le */
	double	inf, count;
	bool	have_inf, have_count, have_sum;
};

/*
 * Check text as a Prometheus exposition: every sample's family has its
 * # HELP and # TYPE first; names and label syntax; numeric values; for
 * histograms, per series, le rising, counts cumulative, the last bucket
 * +Inf, equal to _count, and a _sum. Returns NULL, or what is wrong (in
 * why).
 */
static const char *
exposition_check(const char *text, char *why, size_t wsz)
{
	char		 fam[64][96], ftype[64][16], helped[64][96];
	size_t		 nf = 0, nh = 0, ns = 0;
	struct series	 ser[48];
	char		 cur[400] = "";
	double		 prev_le = -1, prev_v = -1;
	const char	*p = text;

/* A diagnostic may be cut to fit why[]; that is fine for a test message. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
#define BAD(...) do { snprintf(why, wsz, __VA_ARGS__); return why; } while (0)
	while (*p != '\0') {
		const char	*eol = strchr(p, '\n');
		char		 line[512], name[96], labels[256] = "", key[400];
		char		 le[128] = "", *q, *end;
		size_t		 len, n;
		double		 v;

		if (eol == NULL)
			BAD("no newline at the end");
		len = (size_t)(eol - p);
		if (len >= sizeof(line))
			BAD("line too long");
		memcpy(line, p, len);
		line[len] = '\0';
		p = eol + 1;
		if (strncmp(line, "# HELP ", 7) == 0) {
			if (sscanf(line + 7, "%95s", helped[nh]) != 1 || nh >= 63)
				BAD("bad HELP: %s", line);
			nh++;
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			if (nf >= 63 || sscanf(line + 7, "%95s %15s", fam[nf],
			    ftype[nf]) != 2)
				BAD("bad TYPE: %s", line);
			if (strcmp(ftype[nf], "counter") && strcmp(ftype[nf],
			    "gauge") && strcmp(ftype[nf], "histogram"))
				BAD("unknown type: %s", line);
			if (nh == 0 || strcmp(helped[nh - 1], fam[nf]) != 0)
				BAD("TYPE without HELP: %s", line);
			nf++;
			continue;
		}
		if (line[0] == '#' || line[0] == '\0')
			BAD("stray line: '%s'", line);
		/* name{labels} value */
		n = strspn(line, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:");
		if (n == 0 || n >= sizeof(name) || (line[0] >= '0' &&
		    line[0] <= '9'))
			BAD("bad metric name: %s", line);
		memcpy(name, line, n);
		name[n] = '\0';
		q = line + n;
		if (*q == '{') {
			char	*l = labels;

			q++;
			while (*q != '}') {
				char	lname[64], lval[128];
				size_t	ln = strspn(q, "abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
				size_t	vl = 0;

				if (ln == 0 || ln >= sizeof(lname) ||
				    q[ln] != '=' || q[ln + 1] != '"')
					BAD("bad label: %s", line);
				memcpy(lname, q, ln);
				lname[ln] = '\0';
				q += ln + 2;
				while (*q != '"') {
					if (*q == '\0' || *q == '\n' ||
					    vl + 2 >= sizeof(lval))
						BAD("bad label value: %s", line);
					if (*q == '\\') {
						if (q[1] != '\\' && q[1] != '"' &&
						    q[1] != 'n')
							BAD("bad escape: %s",
							    line);
						lval[vl++] = *q++;
					}
					lval[vl++] = *q++;
				}
				lval[vl] = '\0';
				q++;
				if (strcmp(lname, "le") == 0)
					snprintf(le, sizeof(le), "%s", lval);
				else
					l += snprintf(l, sizeof(labels) -
					    (size_t)(l - labels), "%s=%s,",
					    lname, lval);
				if (*q == ',')
					q++;
				else if (*q != '}')
					BAD("labels: %s", line);
			}
			q++;
		}
		if (*q != ' ')
			BAD("no space before the value: %s", line);
		v = strtod(q + 1, &end);
		if (end == q + 1 || *end != '\0')
			BAD("bad value: %s", line);
		/* Its family, declared before. */
		{
			const char	*suf[] = { "_bucket", "_sum", "_count" };
			const char	*type = NULL;
			char		 base[96];
			size_t		 bl = 0;

			for (size_t i = 0; i < nf && type == NULL; i++)
				if (strcmp(fam[i], name) == 0)
					type = ftype[i];
			for (size_t k = 0; k < 3 && type == NULL; k++) {
				size_t sl = strlen(suf[k]);

				bl = strlen(name);
				if (bl <= sl || strcmp(name + bl - sl, suf[k]))
					continue;
				memcpy(base, name, bl - sl);
				base[bl - sl] = '\0';
				for (size_t i = 0; i < nf; i++)
					if (strcmp(fam[i], base) == 0 &&
					    strcmp(ftype[i], "histogram") == 0)
						type = "histogram-part";
			}
			if (type == NULL)
				BAD("sample before its # TYPE: %s", line);
			if (strcmp(type, "counter") == 0 && v < 0)
				BAD("negative counter: %s", line);
			if (strcmp(type, "histogram-part") != 0)
				continue;
		}
		/* A histogram's part. */
		{
			size_t		 nl = strlen(name);
			const char	*kind = strrchr(name, '_');
			struct series	*sp = NULL;

			snprintf(key, sizeof(key), "%.*s|%s", (int)(nl -
			    strlen(kind)), name, labels);
			for (size_t i = 0; i < ns; i++)
				if (strcmp(ser[i].key, key) == 0)
					sp = &ser[i];
			if (sp == NULL) {
				if (ns >= 48)
					BAD("too many series");
				sp = &ser[ns++];
				memset(sp, 0, sizeof(*sp));
				snprintf(sp->key, sizeof(sp->key), "%s", key);
			}
			if (strcmp(kind, "_bucket") == 0) {
				double lev;

				if (le[0] == '\0')
					BAD("bucket without le: %s", line);
				if (strcmp(cur, key) != 0) {
					snprintf(cur, sizeof(cur), "%s", key);
					prev_le = -1;
					prev_v = -1;
				}
				if (sp->have_inf)
					BAD("bucket after +Inf: %s", line);
				lev = strcmp(le, "+Inf") == 0 ? 1e300 :
				    strtod(le, NULL);
				if (lev <= prev_le)
					BAD("le not rising: %s", line);
				if (v < prev_v)
					BAD("not cumulative (%g after %g): %s",
					    v, prev_v, line);
				prev_le = lev;
				prev_v = v;
				if (strcmp(le, "+Inf") == 0) {
					sp->have_inf = true;
					sp->inf = v;
				}
			} else if (strcmp(kind, "_count") == 0) {
				sp->have_count = true;
				sp->count = v;
			} else {
				sp->have_sum = true;
			}
		}
	}
	for (size_t i = 0; i < ns; i++) {
		if (!ser[i].have_inf || !ser[i].have_count || !ser[i].have_sum)
			BAD("histogram %s lacks +Inf, _sum or _count",
			    ser[i].key);
		if (ser[i].inf != ser[i].count)
			BAD("histogram %s: +Inf %g but _count %g", ser[i].key,
			    ser[i].inf, ser[i].count);
	}
	if (nf == 0)
		BAD("no metric at all");
#undef BAD
	return NULL;
}

static volatile bool hammer_stop;

static void *
hammer_main(void *arg)
{
	struct resp	 r;
	CURL		*c = curl_easy_init();
	char		 url[128];

	(void)arg;
	/* Over HTTPS, kept alive: its own threads, concurrent with the
	   plain listener that renders /metrics. */
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/healthz", port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, capath);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	while (!hammer_stop) {
		memset(&r, 0, sizeof(r));
		(void)curl_easy_perform(c);
		resp_clear(&r);
	}
	curl_easy_cleanup(c);
	return NULL;
}

/*
 * /metrics is a valid exposition, also while requests complete during the
 * scrape (a histogram read bucket by bucket must still be cumulative and
 * +Inf must still be _count).
 */
static void
test_metrics_exposition(void **state)
{
	pthread_t	 th[4];
	struct resp	 r;
	char		 why[512];
	const char	*bad = NULL;

	(void)state;
	req(false, "GET", "/metrics", NULL, NULL, 0, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, "text/plain; version=0.0.4");
	bad = exposition_check(r.body, why, sizeof(why));
	if (bad != NULL)
		fprintf(stderr, "metrics: %s\n", bad);
	assert_null(bad);
	/* The checker can fail: a hand-made broken histogram. */
	assert_non_null(exposition_check("# HELP h x\n# TYPE h histogram\n"
	    "h_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n"
	    "h_count 1\n", why, sizeof(why)));
	assert_non_null(exposition_check("# HELP h x\n# TYPE h histogram\n"
	    "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\n"
	    "h_count 1\n", why, sizeof(why)));
	assert_non_null(exposition_check("g 1\n", why, sizeof(why)));
	resp_clear(&r);

	hammer_stop = false;
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, hammer_main, NULL);
	for (int i = 0; i < 500 && bad == NULL; i++) {
		req(false, "GET", "/metrics", NULL, NULL, 0, NULL, NULL, &r);
		assert_int_equal(r.status, 200);
		if ((bad = exposition_check(r.body, why, sizeof(why))) != NULL)
			fprintf(stderr, "metrics under load, scrape %d: %s\n",
			    i, bad);
		resp_clear(&r);
	}
	hammer_stop = true;
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_null(bad);
}

struct audit_count {
	int issue, revoke, renew, crl;
	bool token_in_clear;
};

static int
audit_cb(const struct store_audit *a, void *arg)
{
	struct audit_count *ac = arg;

	ac->issue += strcmp(a->action, "issue") == 0;
	ac->revoke += strcmp(a->action, "revoke") == 0;
	ac->renew += strcmp(a->action, "renew") == 0;
	ac->crl += strcmp(a->action, "crl") == 0;
	if (strstr(a->who, STATIC_TOKEN) || strstr(a->who, ADMIN_TOKEN))
		ac->token_in_clear = true;
	return 0;
}

static void
test_audit(void **state)
{
	struct audit_count ac;

	(void)state;
	memset(&ac, 0, sizeof(ac));
	assert_int_equal(store_audit_foreach(st, 0, audit_cb, &ac, NULL),
	    CA_OK);
	assert_true(ac.issue >= 160);
	assert_int_equal(ac.revoke, 2);
	assert_int_equal(ac.renew, 1);
	assert_int_equal(ac.crl, 1);
	assert_false(ac.token_in_clear);
}

/* The handshake guard's reader (tlsguard.c) on the fuzz seeds. */
static void
test_tls_cert_msg(void **state)
{
	static const struct {
		const char	*file;
		int		 rc;		/* of the check */
		const char	*keyword;	/* of its message */
		size_t		 count;		/* of the parse, when it parses */
	} cases[] = {
		{ "tls12-p256", CA_OK, "", 1 },
		{ "tls13-p256", CA_OK, "", 1 },
		{ "tls12-empty", CA_OK, "", 0 },
		{ "tls13-empty-with-context", CA_OK, "", 0 },
		{ "tls12-huge-rsa", CA_EPOLICY, "RSA key of 9000 bits", 1 },
		{ "tls13-huge-rsa", CA_EPOLICY, "RSA key of 9000 bits", 1 },
		{ "tls12-chain-of-5", CA_EPOLICY, "a chain of 5", 5 },
		{ "tls12-truncated", CA_EMALF, "malformed", 0 },
		{ "tls13-bad-extension-length", CA_EMALF, "malformed", 0 },
	};
	const char	*src = getenv("MTLSCA_TEST_DATA");

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char		 path[1024];
		uint8_t		*buf = NULL;
		const uint8_t	*leaf;
		size_t		 len, leaf_len, n;
		struct ca_error	 e;
		int		 rc;

		snprintf(path, sizeof(path), "%s/../fuzz/corpus/"
		    "fuzz_tls_cert_msg/%s", src ? src : "tests/data",
		    cases[i].file);
		assert_int_equal(file_read(path, 1 << 20, &buf, &len, &e),
		    CA_OK);
		ca_error_clear(&e);
		rc = http_tls_cert_msg_check(buf + 1, len - 1, buf[0] & 1, &e);
		if (rc != cases[i].rc || strstr(e.msg, cases[i].keyword) ==
		    NULL)
			fail_msg("%s: %d '%s'", cases[i].file, rc, e.msg);
		if (cases[i].rc != CA_EMALF) {
			assert_int_equal(http_tls_cert_msg_parse(buf + 1,
			    len - 1, buf[0] & 1, &leaf, &leaf_len, &n), CA_OK);
			assert_int_equal(n, cases[i].count);
		}
		free(buf);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_map),
		cmocka_unit_test(test_route_match),
		cmocka_unit_test(test_route_table),
		cmocka_unit_test(test_body_parse),
		cmocka_unit_test(test_public),
		cmocka_unit_test(test_enroll_formats),
		cmocka_unit_test(test_enroll_refusals),
		cmocka_unit_test(test_one_time_tokens),
		cmocka_unit_test(test_batching),
		cmocka_unit_test(test_admin_and_renew),
		cmocka_unit_test(test_metrics_exposition),
		cmocka_unit_test(test_audit),
		cmocka_unit_test(test_tls_cert_msg),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
