/*
 * client/ unit tests: subjectAltName and fingerprint parsing, CSRs the
 * server's own parser (ca_csr_parse) accepts and issues from, renewal CSRs
 * that copy a certificate's subject and names exactly, certificate facts,
 * chain checks, the bootstrap pick from a CA bundle and the 2/3 point. The
 * HTTPS calls are driven end to end (tests/e2e/client_*.sh).
 */
#define _XOPEN_SOURCE 700	/* nftw() */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "ca/ca.h"
#include "client/client.h"
#include "common/util.h"

static char		 g_root[64];
static struct ca	*g_ca, *g_other;
static char		 g_other_pem[8192];

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static struct ca *
ca_make(const char *name, const char *subject)
{
	struct ca_init_options	o = { subject, CA_KEY_ECDSA_P256, 0 };
	struct ca_paths		p;
	struct ca_error		e;
	struct ca		*ca = NULL;
	char			cert[256], key[256];

	snprintf(cert, sizeof(cert), "%s/%s.pem", g_root, name);
	snprintf(key, sizeof(key), "%s/%s.key", g_root, name);
	p.cert = cert;
	p.key = key;
	if (ca_init(&p, &o, &e) != CA_OK || ca_open(&p, &ca, &e) != CA_OK) {
		fprintf(stderr, "%s: %s\n", name, e.msg);
		return NULL;
	}
	return ca;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(g_root, sizeof(g_root), "/tmp/test_client.XXXXXX");
	if (mkdtemp(g_root) == NULL)
		return -1;
	if ((g_ca = ca_make("ca", "CN=client test CA")) == NULL ||
	    (g_other = ca_make("other", "CN=another CA")) == NULL)
		return -1;
	snprintf(g_other_pem, sizeof(g_other_pem), "%s", ca_cert_pem(g_other));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	ca_free(g_ca);
	ca_free(g_other);
	nftw(g_root, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static char *
key_new(enum ca_key_type t, size_t *len)
{
	struct ca_error	 e;
	char		*pem = NULL;

	assert_int_equal(ca_key_generate(t, &pem, len, &e), CA_OK);
	return pem;
}

static struct client_san
san(const char *spec)
{
	struct client_san	s;
	struct ca_error		e;

	if (client_san_parse(spec, &s, &e) != CA_OK)
		fail_msg("%s: %s", spec, e.msg);
	return s;
}

/* Issue from a CSR PEM with the default profile (what serve would do). */
static void
issue(const char *csr_pem, struct ca_issued *iss)
{
	struct ca_profile	 prof;
	struct ca_csr		*csr = NULL;
	struct ca_error		 e;

	ca_profile_default(&prof);
	if (ca_csr_parse((const uint8_t *)csr_pem, strlen(csr_pem), &csr,
	    &e) != CA_OK)
		fail_msg("the server refuses our CSR: %s", e.msg);
	memset(iss, 0, sizeof(*iss));
	if (ca_issue(g_ca, csr, &prof, 30, time_now(), iss, &e) != CA_OK)
		fail_msg("ca_issue: %s", e.msg);
	ca_csr_free(csr);
}

/* The SANs of a certificate as "type:value" lines. */
static void
sans_text(const char *pem, char *out, size_t size)
{
	gnutls_x509_crt_t	crt;
	gnutls_datum_t		d = { (unsigned char *)pem,
	    (unsigned)strlen(pem) };
	uint8_t			buf[512];
	size_t			n = 0;

	out[0] = '\0';
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM),
	    0);
	for (unsigned i = 0; ; i++) {
		size_t	len = sizeof(buf);
		int	t = gnutls_x509_crt_get_subject_alt_name(crt, i, buf,
		    &len, NULL);

		if (t < 0)
			break;
		if (t == GNUTLS_SAN_IPADDRESS)
			n += (size_t)snprintf(out + n, size - n, "%d:%zu,", t,
			    len);
		else
			n += (size_t)snprintf(out + n, size - n, "%d:%.*s,", t,
			    (int)len, (const char *)buf);
	}
	gnutls_x509_crt_deinit(crt);
}

static void
test_san_parse(void **state)
{
	static const struct {
		const char		*in;
		enum client_san_type	 type;
		const char		*value;
		size_t			 ip_len;
	} ok[] = {
		{ "dns:host.example", CLIENT_SAN_DNS, "host.example", 0 },
		{ "DNS:*.example.com", CLIENT_SAN_DNS, "*.example.com", 0 },
		{ "ip:10.0.0.1", CLIENT_SAN_IP, "10.0.0.1", 4 },
		{ "IP:2001:db8::1", CLIENT_SAN_IP, "2001:db8::1", 16 },
		{ "email:a@b.example", CLIENT_SAN_EMAIL, "a@b.example", 0 },
		{ "uri:spiffe://example/x", CLIENT_SAN_URI,
		    "spiffe://example/x", 0 },
		/* No prefix: guessed as step does. */
		{ "192.0.2.7", CLIENT_SAN_IP, "192.0.2.7", 4 },
		{ "::1", CLIENT_SAN_IP, "::1", 16 },
		{ "ops@example.com", CLIENT_SAN_EMAIL, "ops@example.com", 0 },
		{ "https://example.com/x", CLIENT_SAN_URI,
		    "https://example.com/x", 0 },
		{ "plain.example", CLIENT_SAN_DNS, "plain.example", 0 },
	};
	static const char *const bad[] = { "dns:", "ip:10.0.0.300",
	    "ip:host", "email:nobody", "email:@x", "uri:no-scheme",
	    "dns:a b", "dns:h\xc3\xa9.example", "dns:a/b", "ip:", "" };
	struct client_san	s;
	struct ca_error		e;
	char			longname[CA_NAME_MAX + 8];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		s = san(ok[i].in);
		assert_int_equal(s.type, ok[i].type);
		assert_string_equal(s.value, ok[i].value);
		assert_int_equal(s.ip_len, ok[i].ip_len);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ca_error_clear(&e);
		if (client_san_parse(bad[i], &s, &e) != CA_EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
		assert_non_null(strstr(e.msg, "--san"));
	}
	memset(longname, 'a', sizeof(longname) - 1);
	memcpy(longname, "dns:", 4);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(client_san_parse(longname, &s, &e), CA_EINVAL);
}

static void
test_fingerprint_parse(void **state)
{
	static const char hex[] = "c087dca1e4216868f4816beba84f84424de14916"
	    "705f22ee31c54a1ff1cccfce";
	const char *forms[] = {
		hex,
		"C087DCA1E4216868F4816BEBA84F84424DE14916705F22EE31C54A1FF1CCCFCE",
		"C0:87:DC:A1:E4:21:68:68:F4:81:6B:EB:A8:4F:84:42:4D:E1:49:16:"
		    "70:5F:22:EE:31:C5:4A:1F:F1:CC:CF:CE",
		"sha256 Fingerprint=C0:87:DC:A1:E4:21:68:68:F4:81:6B:EB:A8:4F:"
		    "84:42:4D:E1:49:16:70:5F:22:EE:31:C5:4A:1F:F1:CC:CF:CE",
		"SHA256:c087dca1e4216868f4816beba84f84424de14916705f22ee31c54a1"
		    "ff1cccfce",
		"  c087 dca1e4216868f4816beba84f84424de14916705f22ee31c54a1ff1"
		    "cccfce\n",
	};
	const char *bad[] = { "", "c087", hex + 1, "x087dca1e4216868f4816beba"
	    "84f84424de14916705f22ee31c54a1ff1cccfce", "c087dca1e4216868f481"
	    "6beba84f84424de14916705f22ee31c54a1ff1cccfce00", "md5:c087",
	    "c0:87:d" };
	uint8_t		want[32], got[32];
	char		back[CLIENT_FP_HEX];
	struct ca_error	e;

	(void)state;
	assert_int_equal(client_fingerprint_parse(hex, want, &e), CA_OK);
	client_fingerprint_format(want, back);
	assert_string_equal(back, hex);
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		memset(got, 0, sizeof(got));
		if (client_fingerprint_parse(forms[i], got, &e) != CA_OK)
			fail_msg("'%s': %s", forms[i], e.msg);
		assert_memory_equal(got, want, 32);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (client_fingerprint_parse(bad[i], got, &e) != CA_EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
}

static void
test_csr_new_is_issued(void **state)
{
	static const enum ca_key_type types[] = { CA_KEY_ECDSA_P256,
	    CA_KEY_ECDSA_P384, CA_KEY_ECDSA_P521, CA_KEY_RSA2048 };
	struct client_san	 s[4];
	struct ca_issued	 iss;
	struct ca_csr		*csr = NULL;
	struct ca_error		 e;
	char			*key, *pem = NULL, got[512], want[512];
	size_t			 klen;

	(void)state;
	s[0] = san("dns:svc.example");
	s[1] = san("ip:10.2.3.4");
	s[2] = san("email:svc@example.com");
	s[3] = san("uri:spiffe://example/svc");
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		key = key_new(types[i], &klen);
		assert_int_equal(client_csr_new(key, klen, "svc-01", s, 4, &pem,
		    &e), CA_OK);
		/* The server's own parser: self-signature, ALB's key and hash
		   rules, names. */
		assert_int_equal(ca_csr_parse((uint8_t *)pem, strlen(pem), &csr,
		    &e), CA_OK);
		assert_string_equal(ca_csr_cn(csr), "svc-01");
		assert_string_equal(ca_csr_subject(csr), "CN=svc-01");
		ca_csr_free(csr);
		csr = NULL;
		issue(pem, &iss);
		sans_text(iss.pem, got, sizeof(got));
		snprintf(want, sizeof(want), "%d:svc.example,%d:4,"
		    "%d:svc@example.com,%d:spiffe://example/svc,",
		    GNUTLS_SAN_DNSNAME, GNUTLS_SAN_IPADDRESS,
		    GNUTLS_SAN_RFC822NAME, GNUTLS_SAN_URI);
		assert_string_equal(got, want);
		/* The certificate is for this key. */
		assert_int_equal(ca_key_matches_cert(key, klen, iss.pem,
		    strlen(iss.pem), &e), CA_OK);
		ca_issued_clear(&iss);
		free(pem);
		pem = NULL;
		gnutls_memset(key, 0, klen);
		free(key);
	}
}

static void
test_csr_new_refuses(void **state)
{
	struct client_san	 s[CA_SAN_MAX + 1];
	struct ca_error		 e;
	char			*key, *pem = NULL, cn[CA_NAME_MAX + 2];
	size_t			 klen;

	(void)state;
	key = key_new(CA_KEY_ECDSA_P256, &klen);
	assert_int_equal(client_csr_new(key, klen, "", NULL, 0, &pem, &e),
	    CA_EINVAL);
	assert_int_equal(client_csr_new(key, klen, "tab\there", NULL, 0, &pem,
	    &e), CA_EINVAL);
	memset(cn, 'x', sizeof(cn) - 1);
	cn[sizeof(cn) - 1] = '\0';
	assert_int_equal(client_csr_new(key, klen, cn, NULL, 0, &pem, &e),
	    CA_EINVAL);
	for (size_t i = 0; i < CA_SAN_MAX + 1; i++)
		s[i] = san("dns:x.example");
	assert_int_equal(client_csr_new(key, klen, "a", s, CA_SAN_MAX + 1,
	    &pem, &e), CA_EINVAL);
	assert_int_equal(client_csr_new("not a key", 9, "a", NULL, 0, &pem,
	    &e), CA_EMALF);
	assert_null(pem);
	/* UTF-8 is fine. */
	assert_int_equal(client_csr_new(key, klen, "Jos\xc3\xa9", NULL, 0,
	    &pem, &e), CA_OK);
	free(pem);
	free(key);
}

/* A CSR with C, O and CN (PrintableString and UTF8String) via GnuTLS. */
static char *
csr_multi(const char *key_pem)
{
	gnutls_x509_privkey_t	k;
	gnutls_x509_crq_t	crq;
	gnutls_datum_t		d = { (unsigned char *)key_pem,
	    (unsigned)strlen(key_pem) };
	gnutls_datum_t		out;
	char			*pem;

	assert_int_equal(gnutls_x509_privkey_init(&k), 0);
	assert_int_equal(gnutls_x509_privkey_import(k, &d, GNUTLS_X509_FMT_PEM),
	    0);
	assert_int_equal(gnutls_x509_crq_init(&crq), 0);
	assert_int_equal(gnutls_x509_crq_set_dn(crq,
	    "CN=M\xc3\xbcller\\, Jo,O=Example Org,C=JP", NULL), 0);
	assert_int_equal(gnutls_x509_crq_set_subject_alt_name(crq,
	    GNUTLS_SAN_DNSNAME, "jo.example", 10, GNUTLS_FSAN_APPEND), 0);
	assert_int_equal(gnutls_x509_crq_set_key(crq, k), 0);
	assert_int_equal(gnutls_x509_crq_sign2(crq, k, GNUTLS_DIG_SHA256, 0),
	    0);
	assert_int_equal(gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM,
	    &out), 0);
	pem = strndup((char *)out.data, out.size);
	gnutls_free(out.data);
	gnutls_x509_crq_deinit(crq);
	gnutls_x509_privkey_deinit(k);
	return pem;
}

static void
test_csr_renewal_copies_identity(void **state)
{
	struct client_cert_info	 a, b;
	struct ca_issued	 first, second;
	struct ca_csr		*csr = NULL;
	struct ca_error		 e;
	char			*k1, *k2, *pem, *rpem = NULL;
	char			 s1[512], s2[512];
	size_t			 l1, l2;

	(void)state;
	k1 = key_new(CA_KEY_ECDSA_P256, &l1);
	k2 = key_new(CA_KEY_ECDSA_P384, &l2);
	pem = csr_multi(k1);
	issue(pem, &first);
	/* Renewal with a new key (of another type): same subject, SANs. */
	assert_int_equal(client_csr_renewal(k2, l2, first.pem,
	    strlen(first.pem), &rpem, &e), CA_OK);
	assert_int_equal(ca_csr_parse((uint8_t *)rpem, strlen(rpem), &csr, &e),
	    CA_OK);
	assert_int_equal(client_cert_info(first.pem, strlen(first.pem), &a,
	    &e), CA_OK);
	/* What the server compares (http/enroll.c): the CSR's subject text
	   with the certificate's. */
	assert_string_equal(ca_csr_subject(csr), a.subject);
	assert_non_null(strstr(a.subject, "M\xc3\xbcller\\, Jo"));
	issue(rpem, &second);
	assert_int_equal(client_cert_info(second.pem, strlen(second.pem), &b,
	    &e), CA_OK);
	assert_string_equal(a.subject, b.subject);
	sans_text(first.pem, s1, sizeof(s1));
	sans_text(second.pem, s2, sizeof(s2));
	assert_string_equal(s1, s2);
	assert_non_null(strstr(s1, "jo.example"));
	assert_int_equal(ca_key_matches_cert(k2, l2, second.pem,
	    strlen(second.pem), &e), CA_OK);
	assert_int_equal(ca_key_matches_cert(k1, l1, second.pem,
	    strlen(second.pem), &e), CA_EINVAL);
	assert_non_null(strstr(e.msg, "does not match"));
	/* Not a certificate. */
	assert_int_equal(client_csr_renewal(k2, l2, "junk", 4, &rpem, &e),
	    CA_EMALF);

	ca_csr_free(csr);
	ca_issued_clear(&first);
	ca_issued_clear(&second);
	free(pem);
	free(rpem);
	free(k1);
	free(k2);
}

static void
test_cert_info_verify_pick(void **state)
{
	struct client_cert_info	 info;
	struct ca_issued	 iss;
	struct ca_error		 e;
	char			 hex[SERIAL_HEX_MAX + 2], *key, *csr = NULL;
	char			*chain, *bundle, *picked = NULL;
	char			 our_hex[CLIENT_FP_HEX], other_hex[CLIENT_FP_HEX];
	uint8_t			 md[32], fp[32];
	size_t			 klen, dlen;
	const uint8_t		*der;

	(void)state;
	key = key_new(CA_KEY_ECDSA_P256, &klen);
	assert_int_equal(client_csr_new(key, klen, "info", NULL, 0, &csr, &e),
	    CA_OK);
	issue(csr, &iss);
	assert_int_equal(client_cert_info(iss.pem, strlen(iss.pem), &info, &e),
	    CA_OK);
	serial_format(iss.serial, iss.serial_len, hex);
	assert_string_equal(info.serial, hex);
	assert_string_equal(info.subject, "CN=info");
	assert_int_equal(info.not_before, iss.not_before);
	assert_int_equal(info.not_after, iss.not_after);
	assert_int_equal(info.n_certs, 1);
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, iss.der,
	    iss.der_len, md), 0);
	assert_memory_equal(info.fingerprint, md, 32);

	/* A chain file: facts of the first, count of all. */
	chain = malloc(strlen(iss.pem) + strlen(ca_cert_pem(g_ca)) + 1);
	assert_non_null(chain);
	strcpy(chain, iss.pem);
	strcat(chain, ca_cert_pem(g_ca));
	assert_int_equal(client_cert_info(chain, strlen(chain), &info, &e),
	    CA_OK);
	assert_int_equal(info.n_certs, 2);
	assert_string_equal(info.serial, hex);
	assert_int_equal(client_cert_info("nothing", 7, &info, &e), CA_EMALF);

	/* Signed by our CA, not by the other. */
	assert_int_equal(client_cert_verify(iss.pem, strlen(iss.pem),
	    ca_cert_pem(g_ca), strlen(ca_cert_pem(g_ca)), &e), CA_OK);
	assert_int_equal(client_cert_verify(iss.pem, strlen(iss.pem),
	    g_other_pem, strlen(g_other_pem), &e), CA_EPOLICY);
	assert_int_equal(client_cert_verify(iss.pem, strlen(iss.pem), "x", 1,
	    &e), CA_EMALF);

	/* Bootstrap: a bundle of the other CA then ours. */
	bundle = malloc(strlen(g_other_pem) + strlen(ca_cert_pem(g_ca)) + 1);
	assert_non_null(bundle);
	strcpy(bundle, g_other_pem);
	strcat(bundle, ca_cert_pem(g_ca));
	der = ca_cert_der(g_ca, &dlen);
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, der, dlen, fp), 0);
	assert_int_equal(client_bundle_pick(bundle, strlen(bundle), fp,
	    &picked, &e), CA_OK);
	assert_string_equal(picked, ca_cert_pem(g_ca));
	free(picked);
	picked = NULL;
	/* Not there: both fingerprints in the sentence. */
	assert_int_equal(client_bundle_pick(g_other_pem, strlen(g_other_pem),
	    fp, &picked, &e), CA_EPOLICY);
	assert_null(picked);
	client_fingerprint_format(fp, our_hex);
	assert_non_null(strstr(e.msg, our_hex));
	der = ca_cert_der(g_other, &dlen);
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, der, dlen, md), 0);
	client_fingerprint_format(md, other_hex);
	assert_non_null(strstr(e.msg, other_hex));
	fp[0] ^= 1;
	assert_int_equal(client_bundle_pick(bundle, strlen(bundle), fp,
	    &picked, &e), CA_EPOLICY);
	assert_non_null(strstr(e.msg, "(and 1 more)"));

	free(bundle);
	free(chain);
	ca_issued_clear(&iss);
	free(csr);
	free(key);
}

static void
test_answer_parse(void **state)
{
	static const char good[] = "{\"serial\": \"4A\", \"certificate\": "
	    "\"-----BEGIN CERTIFICATE-----\\nAA\\n\", \"ca\": \"CA PEM\", "
	    "\"profile\": \"client\"}";
	static const struct {
		long		 status;
		const char	*body;
		int		 code;
		const char	*msg;
	} bad[] = {
		{ 201, "", CA_EMALF, "not a JSON object" },
		{ 201, "[1]", CA_EMALF, "not a JSON object" },
		{ 201, "{\"ca\": \"x\"}", CA_EMALF, "no \"certificate\"" },
		{ 201, "{\"certificate\": \"x\"}", CA_EMALF, "no \"ca\"" },
		{ 201, "{\"certificate\": 7, \"ca\": \"x\"}", CA_EMALF,
		    "no \"certificate\"" },
		{ 201, "{\"certificate\": \"a\", \"certificate\": \"b\", "
		    "\"ca\": \"x\"}", CA_EMALF, "not a JSON object" },
		{ 401, "{\"error\": \"unauthorized\", \"message\": \"enrollment "
		    "needs \\\"Authorization: Bearer TOKEN\\\"\"}", CA_EAUTH,
		    "enrollment needs \"Authorization: Bearer TOKEN\" (HTTP 401 "
		    "unauthorized)" },
		{ 403, "{\"error\": \"forbidden\", \"message\": \"enrollment "
		    "token has already been used\"}", CA_EFORBIDDEN,
		    "enrollment token has already been used (HTTP 403 "
		    "forbidden)" },
		{ 409, "{\"error\": \"exists\", \"message\": \"already renewed "
		    "by 5B\"}", CA_EEXIST, "already renewed by 5B" },
		{ 422, "{\"message\": \"RSA key of 1024 bits\"}", CA_EPOLICY,
		    "RSA key of 1024 bits (HTTP 422)" },
		{ 502, "<html>\x1b[31mBad\tGateway</html>", CA_EIO,
		    "HTTP 502 from the server: <html> [31mBad Gateway</html>" },
		{ 500, NULL, CA_EIO, "HTTP 500 from the server" },
	};
	struct client_issued	iss;
	struct ca_error		e;

	(void)state;
	memset(&iss, 0, sizeof(iss));
	assert_int_equal(client_answer_parse(201, good, strlen(good), &iss,
	    &e), CA_OK);
	assert_string_equal(iss.cert_pem,
	    "-----BEGIN CERTIFICATE-----\nAA\n");
	assert_string_equal(iss.ca_pem, "CA PEM");
	assert_string_equal(iss.profile, "client");
	client_issued_clear(&iss);
	assert_null(iss.cert_pem);
	client_issued_clear(NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = bad[i].body != NULL ? strlen(bad[i].body) : 0;

		ca_error_clear(&e);
		assert_int_equal(client_answer_parse(bad[i].status, bad[i].body,
		    len, &iss, &e), bad[i].code);
		if (strstr(e.msg, bad[i].msg) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, e.msg,
			    bad[i].msg);
		assert_null(iss.cert_pem);
		assert_null(iss.ca_pem);
	}
}

static void
test_renew_due(void **state)
{
	(void)state;
	assert_int_equal(client_renew_due(0, 300), 200);
	assert_int_equal(client_renew_due(1000, 1000 + 30 * 86400),
	    1000 + 20 * 86400);
	/* 2/3 of a year from 2026-01-01, and no overflow near 2100. */
	assert_int_equal(client_renew_due(1767225600, 1767225600 + 365 * 86400),
	    1767225600 + 365 * 86400 * 2 / 3);
	assert_int_equal(client_renew_due(4102444800, 4133980800),
	    4102444800 + (4133980800 - 4102444800) * 2 / 3);
	/* An empty or inverted validity is due at once. */
	assert_int_equal(client_renew_due(500, 500), 500);
	assert_int_equal(client_renew_due(500, 100), 500);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_san_parse),
		cmocka_unit_test(test_fingerprint_parse),
		cmocka_unit_test(test_csr_new_is_issued),
		cmocka_unit_test(test_csr_new_refuses),
		cmocka_unit_test(test_csr_renewal_copies_identity),
		cmocka_unit_test(test_cert_info_verify_pick),
		cmocka_unit_test(test_answer_parse),
		cmocka_unit_test(test_renew_due),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
