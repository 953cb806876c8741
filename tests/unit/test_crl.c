/*
 * crl/: entry encoding, revocation outcomes, CRL builds (empty, golden DER
 * with pinned times for an RSA and an ECDSA CA, the UTCTime/GeneralizedTime
 * boundary, pruning of expired entries, the entry limits, cRLNumbers across
 * two processes), independent checkers (openssl, certtool,
 * python3-cryptography, openssl verify -crl_check on issued certificates)
 * and crl_check's ALB rules. Needs MTLSCA_TEST_DATA (set by CTest).
 * MTLSCA_REGEN_GOLDEN=1 rewrites the golden files instead of comparing.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "crl/crl.h"
#include "crl/crl_int.h"
#include "common/der.h"
#include "common/pem.h"

/* 2027-03-01T00:00:00Z: the pinned thisUpdate of the golden CRLs. */
#define T_GOLDEN	1803859200LL
#define T_2030		1893456000LL	/* 2030-01-01T00:00:00Z */
#define T_2049_END	2524607999LL	/* 2049-12-31T23:59:59Z */
#define T_2050		2524608000LL	/* 2050-01-01T00:00:00Z */
#define DAY		86400

static char		 g_root[] = "/tmp/mtlsca-test-crl-XXXXXX";
static const char	*g_data;
static char		 g_rsa_pem[512], g_ec_pem[512];
static struct ca	*g_rsa, *g_ec;
static int		 g_stores;

/* ---- helpers ---- */

static void
path(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", g_root, name);
}

static struct ca *
open_ca(const char *name, char *pem_out)
{
	char		 src[512], key[512], cert[512];
	uint8_t		*buf = NULL;
	size_t		 len;
	struct ca_paths	 p;
	struct ca	*ca = NULL;
	struct ca_error	 e;

	/* A checkout may not keep 0600; ca_open insists on it. */
	snprintf(src, sizeof(src), "%s/crl/%s-ca.key", g_data, name);
	snprintf(key, sizeof(key), "%s/%s-ca.key", g_root, name);
	assert_int_equal(file_read(src, 65536, &buf, &len, &e), CA_OK);
	assert_int_equal(file_write_atomic(key, buf, len, 0600, 0, &e), CA_OK);
	free(buf);
	snprintf(cert, sizeof(cert), "%s/crl/%s-ca.pem", g_data, name);
	snprintf(pem_out, 512, "%s", cert);
	p.cert = cert;
	p.key = key;
	if (ca_open(&p, &ca, &e) != CA_OK)
		fail_msg("ca_open %s: %s", name, e.msg);
	return ca;
}

static int
setup(void **state)
{
	(void)state;
	g_data = getenv("MTLSCA_TEST_DATA");
	if (g_data == NULL) {
		fprintf(stderr, "MTLSCA_TEST_DATA is not set\n");
		return -1;
	}
	if (mkdtemp(g_root) == NULL)
		return -1;
	g_rsa = open_ca("rsa", g_rsa_pem);
	g_ec = open_ca("ecdsa", g_ec_pem);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	ca_free(g_rsa);
	ca_free(g_ec);
	if (getenv("MTLSCA_KEEP_TMP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_root);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

static struct store *
store_new(char *dir_out, size_t size)
{
	struct store_options	 o;
	struct store		*st = NULL;
	struct ca_error		 e;
	char			 dir[512], name[64];

	snprintf(name, sizeof(name), "store%d", ++g_stores);
	path(dir, sizeof(dir), name);
	assert_int_equal(dir_make(dir, 0700, &e), CA_OK);
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.map_size = 64u << 20;
	if (store_open(&o, &st, &e) != CA_OK)
		fail_msg("store_open: %s", e.msg);
	if (dir_out != NULL)
		snprintf(dir_out, size, "%s", dir);
	return st;
}

/* A certificate record the store knows, valid until not_after. */
static void
put_cert(struct store *st, const uint8_t *serial, size_t len,
    int64_t not_after)
{
	struct cert_record	rec;
	struct ca_error		e;

	memset(&rec, 0, sizeof(rec));
	memcpy(rec.serial, serial, len);
	rec.serial_len = len;
	rec.status = CERT_STATUS_VALID;
	rec.not_before = not_after - 365 * DAY;
	rec.not_after = not_after;
	rec.issued_at = rec.not_before;
	snprintf(rec.profile, sizeof(rec.profile), "client");
	if (store_cert_put(st, &rec, &e) != CA_OK)
		fail_msg("store_cert_put: %s", e.msg);
}

static void
do_revoke(struct store *st, const uint8_t *serial, size_t len, int reason,
    int64_t at, int expect_outcome)
{
	struct ca_error	e;
	int		outcome = -1;

	if (crl_revoke(st, serial, len, reason, at, false, &outcome, NULL,
	    &e) != CA_OK)
		fail_msg("crl_revoke: %s", e.msg);
	assert_int_equal(outcome, expect_outcome);
}

static void
build(struct ca *ca, struct store *st, int64_t now, int64_t validity,
    struct crl_result *r)
{
	struct crl_options	o;
	struct ca_error		e;

	crl_options_default(&o);
	o.now = now;
	if (validity > 0)
		o.validity = validity;
	memset(r, 0, sizeof(*r));
	if (crl_build(ca, st, &o, r, &e) != CA_OK)
		fail_msg("crl_build: %s", e.msg);
}

static void
write_file(const char *name, const void *buf, size_t len, char *out,
    size_t size)
{
	struct ca_error	e;

	path(out, size, name);
	assert_int_equal(file_write_atomic(out, buf, len, 0644, 0, &e), CA_OK);
}

/* Run a shell command; its exit status. Output to out (if not NULL). */
static int
run(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
run(char *out, size_t size, const char *fmt, ...)
{
	char	 cmd[4096];
	va_list	 ap;
	FILE	*f;
	size_t	 n = 0;
	int	 st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	if (out != NULL) {
		while (n + 1 < size) {
			size_t got = fread(out + n, 1, size - 1 - n, f);
			if (got == 0)
				break;
			n += got;
		}
		out[n] = '\0';
	} else {
		char sink[4096];
		while (fread(sink, 1, sizeof(sink), f) > 0)
			;
	}
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const uint8_t *
find_bytes(const uint8_t *h, size_t hlen, const void *n, size_t nlen)
{
	for (size_t i = 0; i + nlen <= hlen; i++)
		if (memcmp(h + i, n, nlen) == 0)
			return h + i;
	return NULL;
}

/* ---- crl_entry_encode ---- */

static void
test_entry_encode(void **state)
{
	static const uint8_t with_reason[] = {
		0x30, 0x20, 0x02, 0x01, 0x01,
		0x17, 0x0d, '4', '9', '1', '2', '3', '1', '2', '3', '5', '9',
		'5', '9', 'Z',
		0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15,
		0x04, 0x03, 0x0a, 0x01, 0x01,
	};
	static const uint8_t unspecified_2050[] = {
		0x30, 0x15, 0x02, 0x02, 0x00, 0x80,
		0x18, 0x0f, '2', '0', '5', '0', '0', '1', '0', '1', '0', '0',
		'0', '0', '0', '0', 'Z',
	};
	struct cert_record	rec;
	uint8_t			buf[STORE_ENTRY_MAX];
	size_t			len = 0;
	(void)state;

	memset(&rec, 0, sizeof(rec));
	rec.serial[0] = 0x01;
	rec.serial_len = 1;
	rec.revoked_at = T_2049_END;
	rec.reason = 1;
	assert_int_equal(crl_entry_encode(&rec, buf, sizeof(buf), &len),
	    CA_OK);
	assert_int_equal(len, sizeof(with_reason));
	assert_memory_equal(buf, with_reason, len);

	/* unspecified: no crlEntryExtensions at all (RFC 5280 §5.3.1);
	   2050: GeneralizedTime; a serial with its 0x00 sign pad. */
	rec.serial[0] = 0x00;
	rec.serial[1] = 0x80;
	rec.serial_len = 2;
	rec.revoked_at = T_2050;
	rec.reason = 0;
	assert_int_equal(crl_entry_encode(&rec, buf, sizeof(buf), &len),
	    CA_OK);
	assert_int_equal(len, sizeof(unspecified_2050));
	assert_memory_equal(buf, unspecified_2050, len);

	/* The largest entry fits the store's bound. */
	rec.serial_len = SERIAL_MAX + 1;
	memset(rec.serial + 1, 0xff, SERIAL_MAX);
	rec.reason = 10;
	assert_int_equal(crl_entry_encode(&rec, buf, sizeof(buf), &len),
	    CA_OK);
	assert_true(len <= STORE_ENTRY_MAX);
	assert_int_equal(crl_entry_encode(&rec, buf, len - 1, &len),
	    CA_ETOOBIG);

	/* Refusals: reasons 7 and 8 and 11, negative or non-minimal or
	   oversized serials, times before 1970. */
	rec.serial[0] = 0x01;
	rec.serial_len = 1;
	rec.revoked_at = T_GOLDEN;
	for (int r = 7; r <= 11; r += (r == 8 ? 3 : 1)) {
		rec.reason = (uint8_t)r;
		assert_int_equal(crl_entry_encode(&rec, buf, sizeof(buf), &len),
		    CA_EINVAL);
	}
	rec.reason = 0;
	rec.serial[0] = 0x80;
	assert_int_equal(crl_entry_encode(&rec, buf, sizeof(buf), &len),
	    CA_EINVAL);
	rec.serial[0] = 0x00;
	rec.serial[1] = 0x01;
	rec.serial_len = 2;
	assert_int_equal(crl_entry_encode(&rec, buf, sizeof(buf), &len),
	    CA_EINVAL);
	rec.serial_len = 0;
	assert_int_equal(crl_entry_encode(&rec, buf, sizeof(buf), &len),
	    CA_EINVAL);
	rec.serial[0] = 0x01;
	rec.serial_len = 1;
	rec.revoked_at = -1;
	assert_int_equal(crl_entry_encode(&rec, buf, sizeof(buf), &len),
	    CA_EINVAL);
}

/* ---- crl_revoke ---- */

static void
test_revoke_outcomes(void **state)
{
	static const uint8_t	 s1[] = { 0x41, 0x02 }, s2[] = { 0x42 };
	struct store		*st = store_new(NULL, 0);
	struct cert_record	 rec;
	struct ca_error		 e;
	uint64_t		 gen = 0;
	int			 outcome = -1;
	(void)state;

	put_cert(st, s1, sizeof(s1), T_2030);
	do_revoke(st, s1, sizeof(s1), 4, T_GOLDEN, STORE_REVOKE_NEW);
	assert_int_equal(store_counter_get(st, STORE_COUNTER_REVGEN, &gen,
	    &e), CA_OK);
	assert_int_equal(gen, 1);
	/* Twice: nothing changes, not even the generation. */
	do_revoke(st, s1, sizeof(s1), 3, T_GOLDEN + 10, STORE_REVOKE_ALREADY);
	assert_int_equal(store_counter_get(st, STORE_COUNTER_REVGEN, &gen,
	    &e), CA_OK);
	assert_int_equal(gen, 1);
	/* Raised to keyCompromise, keeping the first date. */
	assert_int_equal(crl_revoke(st, s1, sizeof(s1), 1, T_GOLDEN + 20,
	    false, &outcome, &rec, &e), CA_OK);
	assert_int_equal(outcome, STORE_REVOKE_RAISED);
	assert_int_equal(rec.reason, 1);
	assert_int_equal(rec.status, CERT_STATUS_REVOKED);
	assert_true(rec.revoked_at == T_GOLDEN);
	cert_record_clear(&rec);
	do_revoke(st, s1, sizeof(s1), 1, T_GOLDEN + 30, STORE_REVOKE_ALREADY);

	/* Unknown serial: an error unless forced. */
	assert_int_equal(crl_revoke(st, s2, sizeof(s2), 0, T_GOLDEN, false,
	    &outcome, NULL, &e), CA_ENOENT);
	assert_int_equal(crl_revoke(st, s2, sizeof(s2), 0, T_GOLDEN, true,
	    &outcome, NULL, &e), CA_OK);
	assert_int_equal(outcome, STORE_REVOKE_NEW);

	/* Reasons that are not CRLReasons of a full CRL. */
	assert_int_equal(crl_revoke(st, s2, sizeof(s2), 7, 0, true, &outcome,
	    NULL, &e), CA_EINVAL);
	assert_non_null(strstr(e.msg, "5.3.1"));
	assert_int_equal(crl_revoke(st, s2, sizeof(s2), 8, 0, true, &outcome,
	    NULL, &e), CA_EINVAL);
	assert_non_null(strstr(e.msg, "delta"));
	assert_int_equal(crl_revoke(st, s2, sizeof(s2), 11, 0, true, &outcome,
	    NULL, &e), CA_EINVAL);
	assert_int_equal(crl_revoke(st, (const uint8_t *)"\x80", 1, 0, 0, true,
	    &outcome, NULL, &e), CA_EINVAL);

	/* revoked_at 0 is now. */
	setenv("MTLSCA_FAKE_NOW", "2027-04-05T06:07:08Z", 1);
	assert_int_equal(crl_revoke(st, (const uint8_t *)"\x43", 1, 5, 0, true,
	    &outcome, &rec, &e), CA_OK);
	unsetenv("MTLSCA_FAKE_NOW");
	assert_true(rec.revoked_at == 1806905228LL);
	cert_record_clear(&rec);
	store_close(st);
}

/* ---- builds ---- */

static void
check_with_tools(const struct crl_result *r, const char *ca_pem,
    const char *tag)
{
	char	der[512], pem[512], out[65536], name[64];

	snprintf(name, sizeof(name), "%s.der", tag);
	write_file(name, r->der, r->der_len, der, sizeof(der));
	snprintf(name, sizeof(name), "%s.pem", tag);
	write_file(name, r->pem, r->pem_len, pem, sizeof(pem));
	if (run(out, sizeof(out), "openssl crl -inform DER -in '%s' -noout "
	    "-text 2>&1", der) != 0)
		fail_msg("openssl crl -text: %s", out);
	if (run(out, sizeof(out), "openssl crl -in '%s' -noout -CAfile '%s' "
	    "-verify 2>&1", pem, ca_pem) != 0 || strstr(out, "verify OK") ==
	    NULL)
		fail_msg("openssl crl -verify: %s", out);
	if (run(out, sizeof(out), "certtool --crl-info --inder --infile '%s' "
	    "2>&1", der) != 0)
		fail_msg("certtool --crl-info: %s", out);
	if (run(out, sizeof(out), "certtool --verify-crl "
	    "--load-ca-certificate '%s' --infile '%s' 2>&1 | grep "
	    "'^Verification output'", ca_pem, pem) != 0)
		fail_msg("certtool --verify-crl: no verdict");
	/* certtool checks the dates against the clock and has no option to
	   move it: a CRL pinned in the future (or past) may only fail for
	   that reason. */
	if (strstr(out, "Verification output: Verified.") == NULL &&
	    ((r->this_update <= time(NULL) && r->next_update >= time(NULL)) ||
	    (strcmp(out, "Verification output: Not verified.  The certificate "
	    "is NOT trusted. The revocation or OCSP data are issued with a "
	    "future date. \n") != 0 && strcmp(out, "Verification output: Not "
	    "verified.  The certificate is NOT trusted. The revocation or "
	    "OCSP data are old and have been superseded. \n") != 0)))
		fail_msg("certtool --verify-crl: %s", out);
}

static void
test_empty_crl(void **state)
{
	struct store		*st = store_new(NULL, 0);
	struct crl_result	 r;
	struct crl_parsed	 p;
	char			 out[8192], der[512];
	(void)state;

	for (int i = 0; i < 2; i++) {
		struct ca *ca = i == 0 ? g_rsa : g_ec;

		build(ca, st, T_GOLDEN, 0, &r);
		assert_int_equal(r.number, (uint64_t)(2 * i + 1));
		assert_int_equal(r.entries, 0);
		assert_true(r.next_update == T_GOLDEN + 7 * DAY);
		assert_int_equal(crl_parse_der(r.der, r.der_len, &p), CA_OK);
		/* RFC 5280 §5.1.2.6: absent, not an empty SEQUENCE. */
		assert_false(p.list_present);
		assert_int_equal(p.version, 2);
		check_with_tools(&r, i == 0 ? g_rsa_pem : g_ec_pem, "empty");
		{
			/* At the real time certtool must say Verified. */
			struct crl_result now;
			build(ca, st, 0, 0, &now);
			check_with_tools(&now, i == 0 ? g_rsa_pem : g_ec_pem,
			    "empty-now");
			crl_result_clear(&now);
		}
		write_file("empty.der", r.der, r.der_len, der, sizeof(der));
		assert_int_equal(run(out, sizeof(out), "openssl crl -inform DER "
		    "-in '%s' -noout -text", der), 0);
		assert_non_null(strstr(out, "No Revoked Certificates"));
		crl_result_clear(&r);
	}
	store_close(st);
}

/* The fixed entries of the golden CRLs. */
static const struct golden_entry {
	uint8_t		 serial[21];
	size_t		 len;
	int		 reason;
	int64_t		 at;
	const char	*hex;
	const char	*py_reason;
} golden[] = {
	{ { 0x01 }, 1, 0, 1798859045LL, "1", NULL },	/* 2027-01-02T03:04:05Z */
	{ { 0x00, 0x80 }, 2, 1, 1801627506LL, "80", "key_compromise" },
	{ { 0x4a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
	    0xbb, 0xcc, 0xdd, 0xee, 0xff }, 16, 4, 1803000000LL,
	    "4A112233445566778899AABBCCDDEEFF", "superseded" },
	{ { 0x7f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
	    18, 19 }, 20, 5, 1803100000LL,
	    "7F0102030405060708090A0B0C0D0E0F10111213",
	    "cessation_of_operation" },
	{ { 0x00, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	    16, 17, 18, 19 }, 21, 10, 1803200000LL,
	    "FF0102030405060708090A0B0C0D0E0F10111213", "aa_compromise" },
	{ { 0x33 }, 1, 3, 1803300000LL, "33", "affiliation_changed" },
};
#define N_GOLDEN	(sizeof(golden) / sizeof(golden[0]))

static struct store *
golden_store(void)
{
	struct store *st = store_new(NULL, 0);

	for (size_t i = 0; i < N_GOLDEN; i++) {
		put_cert(st, golden[i].serial, golden[i].len, T_2030);
		do_revoke(st, golden[i].serial, golden[i].len, golden[i].reason,
		    golden[i].at, STORE_REVOKE_NEW);
	}
	return st;
}

static void
python_check(const struct crl_result *r, const char *ca_pem, const char *tag)
{
	char	json[4096], jpath[512], der[512], name[64], out[4096];
	size_t	n;

	n = (size_t)snprintf(json, sizeof(json), "{\"number\": %" PRIu64
	    ", \"this_update\": %" PRId64 ", \"next_update\": %" PRId64
	    ", \"entries\": {", r->number, r->this_update, r->next_update);
	for (size_t i = 0; i < N_GOLDEN; i++) {
		n += (size_t)snprintf(json + n, sizeof(json) - n,
		    "%s\"%s\": [%s%s%s, %" PRId64 "]", i ? ", " : "",
		    golden[i].hex, golden[i].py_reason ? "\"" : "",
		    golden[i].py_reason ? golden[i].py_reason : "null",
		    golden[i].py_reason ? "\"" : "", golden[i].at);
	}
	snprintf(json + n, sizeof(json) - n, "}}");
	snprintf(name, sizeof(name), "%s.json", tag);
	write_file(name, json, strlen(json), jpath, sizeof(jpath));
	snprintf(name, sizeof(name), "%s-py.der", tag);
	write_file(name, r->der, r->der_len, der, sizeof(der));
	if (run(out, sizeof(out), "/usr/bin/python3 '%s/crl/check_crl.py' "
	    "'%s' '%s' '%s' 2>&1", g_data, der, ca_pem, jpath) != 0 ||
	    strncmp(out, "OK", 2) != 0)
		fail_msg("python3-cryptography: %s", out);
}

static void
golden_compare(const char *name, const uint8_t *buf, size_t len)
{
	char		 p[512];
	uint8_t		*want = NULL;
	size_t		 wlen;
	struct ca_error	 e;

	snprintf(p, sizeof(p), "%s/crl/%s", g_data, name);
	if (getenv("MTLSCA_REGEN_GOLDEN") != NULL) {
		assert_int_equal(file_write_atomic(p, buf, len, 0644, 0, &e),
		    CA_OK);
		return;
	}
	if (file_read(p, 1 << 20, &want, &wlen, &e) != CA_OK)
		fail_msg("%s", e.msg);
	assert_int_equal(len, wlen);
	assert_memory_equal(buf, want, len);
	free(want);
}

static void
test_golden_rsa(void **state)
{
	struct store		*st = golden_store();
	struct crl_result	 r;
	(void)state;

	build(g_rsa, st, T_GOLDEN, 0, &r);
	assert_int_equal(r.number, 1);
	assert_int_equal(r.entries, N_GOLDEN);
	/* PKCS#1 v1.5 signatures are deterministic: the whole file. */
	golden_compare("golden-rsa.der", r.der, r.der_len);
	golden_compare("golden-rsa.pem", (const uint8_t *)r.pem, r.pem_len);
	check_with_tools(&r, g_rsa_pem, "golden-rsa");
	python_check(&r, g_rsa_pem, "golden-rsa");
	crl_result_clear(&r);
	store_close(st);
}

static void
test_golden_ecdsa(void **state)
{
	struct store		*st = golden_store();
	struct crl_result	 r;
	struct crl_parsed	 p;
	struct ca_error		 e;
	const uint8_t		*cert;
	size_t			 cert_len;
	(void)state;

	build(g_ec, st, T_GOLDEN, 0, &r);
	assert_int_equal(crl_parse_der(r.der, r.der_len, &p), CA_OK);
	/* ECDSA signatures are random: the signed bytes, and a signature
	   that verifies. */
	golden_compare("golden-ecdsa-tbs.der", p.tbs, p.tbs_len);
	cert = ca_cert_der(g_ec, &cert_len);
	assert_int_equal(crl_sig_verify(cert, cert_len, p.alg, p.alg_len,
	    p.tbs, p.tbs_len, p.sig, p.sig_len, &e), CA_OK);
	/* A signature that does not match fails. */
	assert_int_equal(crl_sig_verify(cert, cert_len, p.alg, p.alg_len,
	    p.tbs, p.tbs_len - 1, p.sig, p.sig_len, &e), CA_EPOLICY);
	check_with_tools(&r, g_ec_pem, "golden-ecdsa");
	python_check(&r, g_ec_pem, "golden-ecdsa");
	crl_result_clear(&r);
	store_close(st);
}

static void
test_time_boundary(void **state)
{
	static const uint8_t utc[] = { 0x17, 0x0d, '4', '9', '1', '2', '3',
	    '1', '2', '3', '5', '9', '5', '9', 'Z' };
	static const uint8_t gen[] = { 0x18, 0x0f, '2', '0', '5', '0', '0',
	    '1', '0', '1', '0', '0', '0', '0', '0', '0', 'Z' };
	struct store		*st = store_new(NULL, 0);
	struct crl_result	 r;
	struct crl_parsed	 p;
	const uint8_t		*a, *b;
	(void)state;

	/* thisUpdate 2049-12-31T23:59:59Z, nextUpdate one second later. */
	build(g_rsa, st, T_2049_END, 1, &r);
	assert_int_equal(crl_parse_der(r.der, r.der_len, &p), CA_OK);
	a = find_bytes(p.tbs, p.tbs_len, utc, sizeof(utc));
	b = find_bytes(p.tbs, p.tbs_len, gen, sizeof(gen));
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_equal(b, a + sizeof(utc));
	assert_true(p.this_update == T_2049_END);
	assert_true(p.next_update == T_2050);
	check_with_tools(&r, g_rsa_pem, "boundary");
	crl_result_clear(&r);
	store_close(st);
}

static void
test_expired_pruned(void **state)
{
	static const uint8_t	 old[] = { 0x51 }, recent[] = { 0x52 },
				 live[] = { 0x53 }, unknown[] = { 0x54 };
	struct store		*st = store_new(NULL, 0);
	struct crl_options	 o;
	struct crl_result	 r;
	struct ca_error		 e;
	int			 outcome;
	(void)state;

	put_cert(st, old, 1, T_GOLDEN - 30 * DAY);
	put_cert(st, recent, 1, T_GOLDEN - 3 * DAY);
	put_cert(st, live, 1, T_GOLDEN + 30 * DAY);
	do_revoke(st, old, 1, 1, T_GOLDEN - 60 * DAY, STORE_REVOKE_NEW);
	do_revoke(st, recent, 1, 1, T_GOLDEN - 60 * DAY, STORE_REVOKE_NEW);
	do_revoke(st, live, 1, 1, T_GOLDEN - 60 * DAY, STORE_REVOKE_NEW);
	/* Never seen: its notAfter is unknown, so it is never pruned. */
	assert_int_equal(crl_revoke(st, unknown, 1, 1, T_GOLDEN - DAY, true,
	    &outcome, NULL, &e), CA_OK);

	/* Default: keep one validity (7 d) past notAfter. */
	build(g_rsa, st, T_GOLDEN, 0, &r);
	assert_int_equal(r.entries, 3);
	assert_null(find_bytes(r.der, r.der_len, "\x02\x01\x51", 3));
	assert_non_null(find_bytes(r.der, r.der_len, "\x02\x01\x52", 3));
	crl_result_clear(&r);

	crl_options_default(&o);
	o.now = T_GOLDEN;
	o.keep_expired = INT64_MAX;
	assert_int_equal(crl_build(g_rsa, st, &o, &r, &e), CA_OK);
	assert_int_equal(r.entries, 4);
	crl_result_clear(&r);
	o.keep_expired = 0;
	assert_int_equal(crl_build(g_rsa, st, &o, &r, &e), CA_OK);
	assert_int_equal(r.entries, 2);
	assert_null(find_bytes(r.der, r.der_len, "\x02\x01\x52", 3));
	crl_result_clear(&r);
	store_close(st);
}

static void
test_entry_limits(void **state)
{
	struct store		*st = store_new(NULL, 0);
	struct crl_options	 o;
	struct crl_result	 r;
	struct ca_error		 e;
	uint64_t		 number = 0;
	int			 outcome;
	(void)state;

	for (uint8_t s = 0x61; s < 0x64; s++)
		assert_int_equal(crl_revoke(st, &s, 1, 4, T_GOLDEN, true,
		    &outcome, NULL, &e), CA_OK);
	crl_options_default(&o);
	o.now = T_GOLDEN;
	o.max_entries = 2;
	memset(&r, 0, sizeof(r));
	assert_int_equal(crl_build(g_rsa, st, &o, &r, &e), CA_ETOOBIG);
	assert_non_null(strstr(e.msg, "3 entries"));
	assert_non_null(strstr(e.msg, "crl.max_entries (2)"));
	assert_non_null(strstr(e.msg, "500,000"));
	assert_null(r.der);
	/* A refused CRL takes no number. */
	assert_int_equal(store_counter_get(st, STORE_COUNTER_CRL, &number, &e),
	    CA_OK);
	assert_int_equal(number, 0);

	o.max_entries = 3;
	o.warn_entries = 2;
	assert_int_equal(crl_build(g_rsa, st, &o, &r, &e), CA_OK);
	assert_true(r.warned);
	assert_non_null(strstr(r.warning, "crl.warn_entries (2)"));
	crl_result_clear(&r);
	o.warn_entries = 3;
	assert_int_equal(crl_build(g_rsa, st, &o, &r, &e), CA_OK);
	assert_false(r.warned);
	assert_int_equal(r.number, 2);
	crl_result_clear(&r);
	store_close(st);
}

/* Two processes, each with its own store and CA handles, 20 CRLs each. */
static void
test_numbers_two_processes(void **state)
{
	char			 dir[512];
	struct store		*st = store_new(dir, sizeof(dir));
	uint64_t		 all[40], n = 0;
	int			 fds[2][2];
	pid_t			 pid[2];
	(void)state;

	/* LMDB: one environment per process, opened after fork(). */
	store_close(st);
	for (int c = 0; c < 2; c++) {
		assert_int_equal(pipe(fds[c]), 0);
		pid[c] = fork();
		assert_true(pid[c] >= 0);
		if (pid[c] == 0) {
			struct store_options	 o;
			struct store		*cs = NULL;
			struct ca		*ca;
			char			 pem[512];
			int			 ok = 1;

			close(fds[c][0]);
			memset(&o, 0, sizeof(o));
			o.dir = dir;
			o.map_size = 64u << 20;
			ca = open_ca(c == 0 ? "rsa" : "ecdsa", pem);
			if (store_open(&o, &cs, NULL) != CA_OK)
				_exit(2);
			for (int i = 0; i < 20 && ok; i++) {
				struct crl_options	opt;
				struct crl_result	r;

				crl_options_default(&opt);
				if (crl_build(ca, cs, &opt, &r, NULL) != CA_OK)
					ok = 0;
				else if (write(fds[c][1], &r.number,
				    sizeof(r.number)) != sizeof(r.number))
					ok = 0;
				crl_result_clear(&r);
			}
			store_close(cs);
			ca_free(ca);
			_exit(ok ? 0 : 1);
		}
		close(fds[c][1]);
	}
	for (int c = 0; c < 2; c++) {
		uint64_t prev = 0, v;
		int	 status;

		while (read(fds[c][0], &v, sizeof(v)) == sizeof(v)) {
			/* Each process sees its numbers rise. */
			assert_true(v > prev);
			prev = v;
			assert_true(n < 40);
			all[n++] = v;
		}
		close(fds[c][0]);
		assert_int_equal(waitpid(pid[c], &status, 0), pid[c]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(n, 40);
	for (size_t i = 0; i < n; i++) {
		assert_true(all[i] >= 1 && all[i] <= 40);
		for (size_t j = i + 1; j < n; j++)
			assert_true(all[i] != all[j]);
	}
}

/* Real certificates: openssl verify -crl_check refuses the revoked one. */
static void
test_openssl_verify_leaf(void **state)
{
	struct store		*st = store_new(NULL, 0);
	struct ca_profile	 prof;
	struct ca_issued	 iss[2];
	struct crl_result	 r;
	struct ca_error		 e;
	char			 dir[512], cmd_out[4096], cert[2][512];
	char			 crl_pem[512], name[64];
	int			 outcome;
	(void)state;

	ca_profile_default(&prof);
	path(dir, sizeof(dir), "leaf");
	assert_int_equal(dir_make(dir, 0700, &e), CA_OK);
	for (int i = 0; i < 2; i++) {
		char		 csr_path[600];
		uint8_t		*buf = NULL;
		size_t		 len;
		struct ca_csr	*csr = NULL;

		snprintf(csr_path, sizeof(csr_path), "%s/c%d.csr", dir, i);
		if (run(cmd_out, sizeof(cmd_out), "openssl req -new -newkey "
		    "ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "
		    "'%s/c%d.key' -subj '/CN=client%d' -out '%s' 2>&1", dir, i,
		    i, csr_path) != 0)
			fail_msg("openssl req: %s", cmd_out);
		assert_int_equal(file_read(csr_path, CA_CSR_MAX, &buf, &len,
		    &e), CA_OK);
		if (ca_csr_parse(buf, len, &csr, &e) != CA_OK)
			fail_msg("ca_csr_parse: %s", e.msg);
		memset(&iss[i], 0, sizeof(iss[i]));
		if (ca_sign(g_rsa, st, csr, &prof, 30, "cli:unit", &iss[i], &e) !=
		    CA_OK)
			fail_msg("ca_sign: %s", e.msg);
		snprintf(name, sizeof(name), "leaf/c%d.pem", i);
		write_file(name, iss[i].pem, strlen(iss[i].pem), cert[i],
		    sizeof(cert[i]));
		ca_csr_free(csr);
		free(buf);
	}
	assert_int_equal(crl_revoke(st, iss[0].serial, iss[0].serial_len, 1,
	    0, false, &outcome, NULL, &e), CA_OK);
	build(g_rsa, st, 0, 0, &r);
	assert_int_equal(r.entries, 1);
	assert_int_equal(crl_write_files(dir, &r, &e), CA_OK);
	path(crl_pem, sizeof(crl_pem), "leaf/crl.pem");
	assert_int_not_equal(run(cmd_out, sizeof(cmd_out), "openssl verify "
	    "-crl_check -CAfile '%s' -CRLfile '%s' '%s' 2>&1", g_rsa_pem,
	    crl_pem, cert[0]), 0);
	assert_non_null(strstr(cmd_out, "revoked"));
	if (run(cmd_out, sizeof(cmd_out), "openssl verify -crl_check -CAfile "
	    "'%s' -CRLfile '%s' '%s' 2>&1", g_rsa_pem, crl_pem, cert[1]) != 0)
		fail_msg("openssl verify of the unrevoked: %s", cmd_out);
	crl_result_clear(&r);
	ca_issued_clear(&iss[0]);
	ca_issued_clear(&iss[1]);
	store_close(st);
}

static void
test_write_files(void **state)
{
	struct store		*st = golden_store();
	struct crl_result	 r;
	struct ca_error		 e;
	char			 dir[512], p[600];
	uint8_t			*buf = NULL;
	size_t			 len;
	struct stat		 sb;
	(void)state;

	build(g_ec, st, T_GOLDEN, 0, &r);
	path(dir, sizeof(dir), "pub/nested/public");
	assert_int_equal(crl_write_files(dir, &r, &e), CA_OK);
	snprintf(p, sizeof(p), "%s/crl.der", dir);
	assert_int_equal(file_read(p, 1 << 20, &buf, &len, &e), CA_OK);
	assert_int_equal(len, r.der_len);
	assert_memory_equal(buf, r.der, len);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	free(buf);
	snprintf(p, sizeof(p), "%s/crl.pem", dir);
	assert_int_equal(file_read(p, 1 << 20, &buf, &len, &e), CA_OK);
	assert_int_equal(len, r.pem_len);
	assert_memory_equal(buf, r.pem, len);
	free(buf);
	crl_result_clear(&r);
	store_close(st);
}

/*
 * Trust by hash (issue 15): the files of a CRL recorded after they were
 * written come back as a snapshot with the recorded facts; a changed byte
 * in either file, another CA or no record means a full check (NULL).
 */
static void
test_trust_recorded(void **state)
{
	struct store		*st = golden_store();
	struct crl_snapshot	*snap;
	struct crl_result	 r;
	struct ca_error		 e;
	char			 dir[512], p[600];
	uint8_t			*buf = NULL;
	size_t			 len;
	(void)state;

	build(g_ec, st, T_GOLDEN, 0, &r);
	path(dir, sizeof(dir), "trusted/public");
	assert_int_equal(crl_write_files(dir, &r, &e), CA_OK);
	assert_null(crl_snapshot_recorded(st, g_ec, dir));	/* no record */
	assert_int_equal(crl_files_record(st, g_ec, &r, &e), CA_OK);
	assert_non_null(snap = crl_snapshot_recorded(st, g_ec, dir));
	assert_int_equal(snap->der_len, r.der_len);
	assert_memory_equal(snap->der, r.der, r.der_len);
	assert_int_equal(snap->pem_len, r.pem_len);
	assert_memory_equal(snap->pem, r.pem, r.pem_len);
	assert_int_equal(snap->number, r.number);
	assert_int_equal(snap->entries, r.entries);
	assert_int_equal(snap->this_update, r.this_update);
	assert_int_equal(snap->next_update, r.next_update);
	crl_snapshot_release(snap);
	/* Another CA: not its CRL. */
	assert_null(crl_snapshot_recorded(st, g_rsa, dir));
	/* One byte changed in either file: checked in full. */
	for (int f = 0; f < 2; f++) {
		snprintf(p, sizeof(p), "%s/%s", dir, f ? "crl.pem" : "crl.der");
		assert_int_equal(file_read(p, 1 << 20, &buf, &len, &e), CA_OK);
		buf[len / 2] ^= 0x01;
		assert_int_equal(file_write_atomic(p, buf, len, 0644, 0, &e),
		    CA_OK);
		assert_null(crl_snapshot_recorded(st, g_ec, dir));
		buf[len / 2] ^= 0x01;
		assert_int_equal(file_write_atomic(p, buf, len, 0644, 0, &e),
		    CA_OK);
		free(buf);
		assert_non_null(snap = crl_snapshot_recorded(st, g_ec, dir));
		crl_snapshot_release(snap);
	}
	crl_result_clear(&r);
	store_close(st);
}

/*
 * `mtlsca crl` holds no PEM (pem_unheld): crl_write_files and
 * crl_write_pem encode it into the files, the same text crl_pem_encode
 * makes, of the length the result announced; the hash noted for the trust
 * record is the file's; a CRL so written is recorded and trusted.
 */
static void
test_pem_unheld(void **state)
{
	struct store		*st = golden_store();
	struct crl_snapshot	*snap;
	struct crl_options	 o;
	struct crl_result	 r;
	struct ca_error		 e;
	char			 dir[512], p[600], *pem = NULL;
	uint8_t			*buf = NULL, h[32];
	size_t			 len, pem_len;
	(void)state;

	crl_options_default(&o);
	o.now = T_GOLDEN;
	o.pem_unheld = true;
	memset(&r, 0, sizeof(r));
	assert_int_equal(crl_build(g_ec, st, &o, &r, &e), CA_OK);
	assert_null(r.pem);
	assert_int_equal(crl_pem_encode(r.der, r.der_len, &pem, &pem_len),
	    CA_OK);
	assert_int_equal(r.pem_len, pem_len);
	path(dir, sizeof(dir), "unheld/public");
	assert_int_equal(crl_write_files(dir, &r, &e), CA_OK);
	assert_true(r.written);
	snprintf(p, sizeof(p), "%s/crl.pem", dir);
	assert_int_equal(file_read(p, 1 << 20, &buf, &len, &e), CA_OK);
	assert_int_equal(len, pem_len);
	assert_memory_equal(buf, pem, len);
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, len, h), 0);
	assert_memory_equal(h, r.pem_sha256, 32);
	free(buf);
	snprintf(p, sizeof(p), "%s/out.pem", dir);
	assert_int_equal(crl_write_pem(p, &r, &e), CA_OK);
	assert_int_equal(file_read(p, 1 << 20, &buf, &len, &e), CA_OK);
	assert_int_equal(len, pem_len);
	assert_memory_equal(buf, pem, len);
	free(buf);
	assert_int_equal(crl_files_record(st, g_ec, &r, &e), CA_OK);
	assert_non_null(snap = crl_snapshot_recorded(st, g_ec, dir));
	assert_int_equal(snap->pem_len, pem_len);
	assert_memory_equal(snap->pem, pem, pem_len);
	crl_snapshot_release(snap);
	free(pem);
	crl_result_clear(&r);
	store_close(st);
}

/* The trust record's bytes (trust.c's layout: version, three hashes,
   four facts, from version 2 the files' identities). */
#define TRUST_META	"crl_files_record"
#define TRUST_V1_LEN	129
#define TRUST_PEM_SHA	33

static void
record_poke(struct store *st, size_t at, size_t keep)
{
	uint8_t		*rec = NULL;
	size_t		 len = 0;
	struct ca_error	 e;

	assert_int_equal(store_meta_get(st, TRUST_META, &rec, &len, &e),
	    CA_OK);
	assert_true(len > at && keep <= len);
	rec[at] ^= 0xff;
	if (keep == TRUST_V1_LEN)
		rec[0] = 1;
	assert_int_equal(store_meta_put(st, TRUST_META, rec, keep, &e), CA_OK);
	free(rec);
}

static size_t
record_len(struct store *st)
{
	uint8_t		*rec = NULL;
	size_t		 len = 0;
	struct ca_error	 e;

	assert_int_equal(store_meta_get(st, TRUST_META, &rec, &len, &e),
	    CA_OK);
	free(rec);
	return len;
}

/*
 * Trust by identity (issue 15, design note 25): files that are still the
 * ones written are taken without being hashed (a record whose PEM hash is
 * wrong still trusts them); files with another identity are hashed (the
 * same wrong hash then refuses them); a version-1 record (no identities)
 * trusts by hash and is written again as version 2. crl_der_recorded says
 * the same of crl.der, for serve's recovery.
 */
static void
test_trust_identity(void **state)
{
	struct store		*st = golden_store();
	struct crl_snapshot	*snap;
	struct crl_result	 r;
	struct ca_error		 e;
	char			 dir[512], p[600];
	uint8_t			*buf = NULL;
	size_t			 len, v2_len;
	(void)state;

	build(g_ec, st, T_GOLDEN, 0, &r);
	path(dir, sizeof(dir), "identity/public");
	assert_int_equal(crl_write_files(dir, &r, &e), CA_OK);
	assert_false(crl_der_recorded(st, g_ec, dir));		/* no record */
	assert_int_equal(crl_files_record(st, g_ec, &r, &e), CA_OK);
	v2_len = record_len(st);
	assert_true(v2_len > TRUST_V1_LEN);
	assert_true(crl_der_recorded(st, g_ec, dir));
	assert_false(crl_der_recorded(st, g_rsa, dir));

	/* A wrong PEM hash in the record: the same files are still taken. */
	record_poke(st, TRUST_PEM_SHA, v2_len);
	assert_non_null(snap = crl_snapshot_recorded(st, g_ec, dir));
	assert_memory_equal(snap->pem, r.pem, r.pem_len);
	crl_snapshot_release(snap);
	/* The same bytes under a new inode: hashed, and refused. */
	snprintf(p, sizeof(p), "%s/crl.pem", dir);
	assert_int_equal(file_write_atomic(p, r.pem, r.pem_len, 0644, 0, &e),
	    CA_OK);
	assert_null(crl_snapshot_recorded(st, g_ec, dir));
	/* The right hash back: hashed, taken, and its identity recorded. */
	record_poke(st, TRUST_PEM_SHA, v2_len);
	assert_non_null(snap = crl_snapshot_recorded(st, g_ec, dir));
	crl_snapshot_release(snap);
	record_poke(st, TRUST_PEM_SHA, v2_len);		/* wrong again */
	assert_non_null(snap = crl_snapshot_recorded(st, g_ec, dir));
	crl_snapshot_release(snap);
	record_poke(st, TRUST_PEM_SHA, v2_len);		/* right again */

	/* crl.der rewritten with the same bytes: another identity, the
	   same hash (recorded again); with a byte changed: not ours. */
	snprintf(p, sizeof(p), "%s/crl.der", dir);
	assert_int_equal(file_write_atomic(p, r.der, r.der_len, 0644, 0, &e),
	    CA_OK);
	assert_true(crl_der_recorded(st, g_ec, dir));
	assert_int_equal(file_read(p, 1 << 20, &buf, &len, &e), CA_OK);
	buf[len / 2] ^= 0x01;
	assert_int_equal(file_write_atomic(p, buf, len, 0644, 0, &e), CA_OK);
	assert_false(crl_der_recorded(st, g_ec, dir));
	assert_null(crl_snapshot_recorded(st, g_ec, dir));
	buf[len / 2] ^= 0x01;
	assert_int_equal(file_write_atomic(p, buf, len, 0644, 0, &e), CA_OK);
	free(buf);

	/* A version-1 record (its PEM hash right): by hash, then v2. */
	record_poke(st, TRUST_V1_LEN - 1, TRUST_V1_LEN);	/* a fact */
	record_poke(st, TRUST_V1_LEN - 1, TRUST_V1_LEN);	/* back */
	assert_int_equal(record_len(st), TRUST_V1_LEN);
	assert_non_null(snap = crl_snapshot_recorded(st, g_ec, dir));
	assert_int_equal(snap->entries, r.entries);
	crl_snapshot_release(snap);
	assert_int_equal(record_len(st), v2_len);
	crl_result_clear(&r);
	store_close(st);
}

/*
 * Past the GnuTLS import threshold and the PEM thread's: 40,000 entries
 * (~1.3 MB), built, checked by crl_check and by openssl.
 */
/* Files named *.tmp.* in dir. */
static int
count_tmp(const char *dir)
{
	DIR		*d = opendir(dir);
	struct dirent	*de;
	int		 n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".tmp.") != NULL)
			n++;
	closedir(d);
	return n;
}

/* dir's crl.der and crl.pem are r's, with the hashes and identities r
   noted (what crl_files_record keeps), and nothing left behind. */
static void
expect_crl_files(const char *dir, const struct crl_result *r)
{
	char		 p[4200], *pem = NULL;
	uint8_t		*buf = NULL, h[32];
	size_t		 len = 0, pem_len = 0;
	struct stat	 sb;
	struct crl_file_id id;
	struct ca_error	 e;

	snprintf(p, sizeof(p), "%s/crl.der", dir);
	assert_int_equal(file_read(p, 1 << 26, &buf, &len, &e), CA_OK);
	assert_int_equal(len, r->der_len);
	assert_memory_equal(buf, r->der, len);
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, len, h), 0);
	assert_memory_equal(h, r->der_sha256, 32);
	free(buf);
	assert_int_equal(stat(p, &sb), 0);
	crl_file_id_of(&sb, &id);
	assert_memory_equal(&id, &r->der_id, sizeof(id));

	snprintf(p, sizeof(p), "%s/crl.pem", dir);
	assert_int_equal(file_read(p, 1 << 26, &buf, &len, &e), CA_OK);
	assert_int_equal(crl_pem_encode(r->der, r->der_len, &pem, &pem_len),
	    CA_OK);
	assert_int_equal(len, pem_len);
	assert_int_equal(r->pem_len, pem_len);
	assert_memory_equal(buf, pem, len);
	if (r->pem != NULL) {
		assert_int_equal(r->pem_len, len);
		assert_memory_equal(r->pem, buf, len);
	}
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, len, h), 0);
	assert_memory_equal(h, r->pem_sha256, 32);
	free(buf);
	free(pem);
	assert_int_equal(stat(p, &sb), 0);
	crl_file_id_of(&sb, &id);
	assert_memory_equal(&id, &r->pem_id, sizeof(id));
	assert_int_equal(count_tmp(dir), 0);
}

static void
test_large_crl(void **state)
{
	struct store		*st = store_new(NULL, 0);
	struct store_txn	*txn = NULL;
	struct crl_result	 r;
	struct crl_check_report	 rep;
	struct ca_error		 e;
	char			 pem[512], out[4096];
	const uint32_t		 n = 40000;
	(void)state;

	assert_int_equal(store_txn_begin(st, &txn, &e), CA_OK);
	for (uint32_t i = 0; i < n; i++) {
		struct store_revocation	rv;
		uint8_t			serial[4] = { 0x40 | (uint8_t)(i >> 24),
		    (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };
		int			outcome;

		memset(&rv, 0, sizeof(rv));
		rv.serial = serial;
		rv.serial_len = sizeof(serial);
		rv.revoked_at = T_GOLDEN - i;
		rv.reason = (uint8_t)(i % 3 == 0 ? 0 : 1);
		rv.force = true;
		rv.not_after = T_2030 + i;
		assert_int_equal(store_txn_cert_revoke(txn, &rv,
		    crl_entry_encode, &outcome, &e), CA_OK);
	}
	assert_int_equal(store_txn_commit(txn, &e), CA_OK);
	build(g_ec, st, T_GOLDEN, 0, &r);
	assert_int_equal(r.entries, n);
	assert_true(r.der_len > (1u << 20));
	assert_int_equal(crl_check((const uint8_t *)r.pem, r.pem_len, g_ec,
	    &rep, &e), CA_OK);
	assert_int_equal(rep.entries, n);
	assert_true(rep.signature_ok);
	write_file("large.pem", r.pem, r.pem_len, pem, sizeof(pem));
	if (run(out, sizeof(out), "openssl crl -in '%s' -noout -CAfile '%s' "
	    "-verify 2>&1", pem, g_ec_pem) != 0 || strstr(out, "verify OK") ==
	    NULL)
		fail_msg("openssl crl -verify: %s", out);
	/* Unheld, its PEM is encoded into the file in pieces (two here):
	   the same text. */
	{
		struct crl_result	 u = r;
		uint8_t			*buf = NULL;
		size_t			 len = 0;

		u.pem = NULL;
		assert_true(r.der_len > PEM_STREAM_CHUNK);
		assert_int_equal(crl_write_pem(pem, &u, &e), CA_OK);
		assert_int_equal(file_read(pem, 1 << 24, &buf, &len, &e),
		    CA_OK);
		assert_int_equal(len, r.pem_len);
		assert_memory_equal(buf, r.pem, len);
		free(buf);
	}
	/* The files written while the CRL is verified (write_dir), held
	   and unheld, on their threads (over 1 MB). */
	for (int held = 0; held < 2; held++) {
		struct crl_options	 o;
		struct crl_result	 w;

		crl_options_default(&o);
		o.now = T_GOLDEN;
		o.pem_unheld = !held;
		path(out, sizeof(out), held ? "while/held" : "while/unheld");
		o.write_dir = out;
		memset(&w, 0, sizeof(w));
		assert_int_equal(crl_build(g_ec, st, &o, &w, &e), CA_OK);
		assert_true(w.written);
		assert_int_equal(w.entries, n);
		assert_true(held ? w.pem != NULL : w.pem == NULL);
		expect_crl_files(out, &w);
		/* A file that cannot be written (its temporary name taken by
		   a directory): the build fails, neither file is replaced,
		   no temporary file stays. */
		{
			char		 tmp[4200], der[4200];
			struct stat	 before, after;

			snprintf(der, sizeof(der), "%s/crl.der", out);
			assert_int_equal(stat(der, &before), 0);
			snprintf(tmp, sizeof(tmp), "%s/crl.pem.tmp.%ld", out,
			    (long)getpid());
			assert_int_equal(mkdir(tmp, 0755), 0);
			crl_result_clear(&w);
			assert_int_not_equal(crl_build(g_ec, st, &o, &w, &e),
			    CA_OK);
			assert_non_null(strstr(e.msg, "crl.pem.tmp"));
			assert_non_null(strstr(e.msg, "was built but not "
			    "written"));
			assert_int_equal(rmdir(tmp), 0);
			assert_int_equal(stat(der, &after), 0);
			assert_true(after.st_ino == before.st_ino);
			assert_int_equal(count_tmp(out), 0);
		}
		crl_result_clear(&w);
	}
	crl_result_clear(&r);
	store_close(st);
}

/* ---- crl_check ---- */

/*
 * A CRL of this CA around hand-made entries (for what crl_build never
 * makes): signed through ca_sign_tbs, with an AKI so that only the rule
 * under test fails. *out owns the DER.
 */
static void
craft(struct ca *ca, const uint8_t *entries, size_t elen, uint8_t **out,
    size_t *out_len)
{
	const uint8_t	*subj, *ski, *alg;
	size_t		 subj_len, ski_len, alg_len, tbs_c, cap, aki_in;
	size_t		 aki_ext, exts, sig_len, cl_c, total;
	uint8_t		*tbs, *sig = NULL, *der;
	struct der_buf	 b;
	struct ca_error	 e;

	subj = ca_subject_der(ca, &subj_len);
	ski = ca_ski(ca, &ski_len);
	alg = ca_sig_alg_der(ca, &alg_len);
	aki_in = der_tlv_len(der_tlv_len(ski_len));
	aki_ext = der_tlv_len(5 + der_tlv_len(aki_in));
	exts = der_tlv_len(aki_ext);
	tbs_c = 3 + alg_len + subj_len + 15 + 15 + (elen ?
	    der_tlv_len(elen) : 0) + der_tlv_len(exts);
	cap = der_tlv_len(tbs_c);
	tbs = malloc(cap);
	assert_non_null(tbs);
	der_buf_init(&b, tbs, cap);
	der_put_hdr(&b, DER_SEQUENCE, tbs_c);
	der_put_raw(&b, "\x02\x01\x01", 3);
	der_put_raw(&b, alg, alg_len);
	der_put_raw(&b, subj, subj_len);
	der_put_time(&b, T_GOLDEN);
	der_put_time(&b, T_GOLDEN + DAY);
	if (elen > 0)
		der_put_tlv(&b, DER_SEQUENCE, entries, elen);
	der_put_hdr(&b, DER_CTX_CONS(0), exts);
	der_put_hdr(&b, DER_SEQUENCE, aki_ext);
	der_put_hdr(&b, DER_SEQUENCE, 5 + der_tlv_len(aki_in));
	der_put_tlv(&b, DER_OID, "\x55\x1d\x23", 3);
	der_put_hdr(&b, DER_OCTET_STRING, aki_in);
	der_put_hdr(&b, DER_SEQUENCE, der_tlv_len(ski_len));
	der_put_tlv(&b, DER_CTX(0), ski, ski_len);
	assert_false(b.overflow);
	assert_int_equal(b.len, cap);
	if (ca_sign_tbs(ca, tbs, cap, &sig, &sig_len, &e) != CA_OK)
		fail_msg("ca_sign_tbs: %s", e.msg);
	cl_c = cap + alg_len + der_tlv_len(sig_len + 1);
	total = der_tlv_len(cl_c);
	der = malloc(total);
	assert_non_null(der);
	der_buf_init(&b, der, total);
	der_put_hdr(&b, DER_SEQUENCE, cl_c);
	der_put_raw(&b, tbs, cap);
	der_put_raw(&b, alg, alg_len);
	der_put_hdr(&b, DER_BIT_STRING, sig_len + 1);
	der_put_raw(&b, "", 1);
	der_put_raw(&b, sig, sig_len);
	assert_false(b.overflow);
	assert_int_equal(b.len, total);
	free(tbs);
	free(sig);
	*out = der;
	*out_len = total;
}

static void
pem_of(const uint8_t *der, size_t len, char **pem, size_t *pem_len)
{
	assert_int_equal(crl_pem_encode(der, len, pem, pem_len), CA_OK);
}

static void
test_check_accepts_ours(void **state)
{
	struct store		*st = golden_store();
	struct crl_result	 r;
	struct crl_check_report	 rep;
	struct ca_error		 e;
	(void)state;

	build(g_rsa, st, T_GOLDEN, 0, &r);
	assert_int_equal(crl_check((const uint8_t *)r.pem, r.pem_len, g_rsa,
	    &rep, &e), CA_OK);
	assert_true(rep.pem);
	assert_true(rep.has_number);
	assert_int_equal(rep.number, r.number);
	assert_int_equal(rep.entries, N_GOLDEN);
	assert_true(rep.this_update == T_GOLDEN);
	assert_true(rep.next_update == T_GOLDEN + 7 * DAY);
	assert_true(rep.signature_ok);
	assert_string_equal(rep.problems, "");
	/* Without a CA: structure and ALB rules only. */
	assert_int_equal(crl_check((const uint8_t *)r.pem, r.pem_len, NULL,
	    &rep, &e), CA_OK);
	assert_false(rep.signature_ok);

	/* Another CA: issuer, AKI and signature all fail. */
	assert_int_equal(crl_check((const uint8_t *)r.pem, r.pem_len, g_ec,
	    &rep, &e), CA_EPOLICY);
	assert_false(rep.signature_ok);
	assert_non_null(strstr(rep.problems, "issuer"));
	assert_non_null(strstr(rep.problems, "authorityKeyIdentifier"));
	assert_non_null(strstr(e.msg, "issuer"));

	/* DER: refused for ALB, but every other rule still checked. */
	assert_int_equal(crl_check(r.der, r.der_len, g_rsa, &rep, &e),
	    CA_EPOLICY);
	assert_false(rep.pem);
	assert_true(rep.signature_ok);
	assert_int_equal(rep.entries, N_GOLDEN);
	assert_non_null(strstr(rep.problems, "PEM only"));

	/* Two CRLs in one file. */
	{
		char *two = malloc(2 * r.pem_len + 1);
		assert_non_null(two);
		memcpy(two, r.pem, r.pem_len);
		memcpy(two + r.pem_len, r.pem, r.pem_len + 1);
		assert_int_equal(crl_check((uint8_t *)two, 2 * r.pem_len,
		    g_rsa, &rep, &e), CA_EPOLICY);
		assert_non_null(strstr(rep.problems, "one CRL per file"));
		free(two);
	}
	/* A signature byte flipped. */
	{
		uint8_t *bad = malloc(r.der_len);
		char	*pem;
		size_t	 plen;

		assert_non_null(bad);
		memcpy(bad, r.der, r.der_len);
		bad[r.der_len - 5] ^= 0x01;
		pem_of(bad, r.der_len, &pem, &plen);
		assert_int_equal(crl_check((uint8_t *)pem, plen, g_rsa, &rep,
		    &e), CA_EPOLICY);
		assert_false(rep.signature_ok);
		assert_non_null(strstr(rep.problems, "signature"));
		free(pem);
		free(bad);
	}
	crl_result_clear(&r);
	store_close(st);
}

static void
test_check_negative_serial(void **state)
{
	/* Entries: serial 0x80 (negative), then a positive one. */
	static const uint8_t ents[] = {
		0x30, 0x12, 0x02, 0x01, 0x80, 0x17, 0x0d, '2', '7', '0', '1',
		'0', '1', '0', '0', '0', '0', '0', '0', 'Z',
		0x30, 0x12, 0x02, 0x01, 0x05, 0x17, 0x0d, '2', '7', '0', '1',
		'0', '1', '0', '0', '0', '0', '0', '0', 'Z',
	};
	struct crl_check_report	 rep;
	struct ca_error		 e;
	uint8_t			*der;
	size_t			 len, plen;
	char			*pem;
	(void)state;

	craft(g_ec, ents, sizeof(ents), &der, &len);
	pem_of(der, len, &pem, &plen);
	assert_int_equal(crl_check((uint8_t *)pem, plen, g_ec, &rep, &e),
	    CA_EPOLICY);
	assert_true(rep.signature_ok);
	assert_int_equal(rep.entries, 2);
	assert_non_null(strstr(rep.problems, "1 entries have a negative "
	    "serial"));
	/* No cRLNumber in a crafted CRL. */
	assert_false(rep.has_number);
	free(pem);
	free(der);
}

static void
test_check_too_many_entries(void **state)
{
	static const uint8_t one[] = { 0x30, 0x12, 0x02, 0x01, 0x05, 0x17,
	    0x0d, '2', '7', '0', '1', '0', '1', '0', '0', '0', '0', '0', '0',
	    'Z' };
	struct crl_check_report	 rep;
	struct ca_error		 e;
	const size_t		 n = CRL_ALB_MAX_ENTRIES + 1;
	uint8_t			*ents, *der;
	size_t			 len, plen;
	char			*pem;
	(void)state;

	ents = malloc(n * sizeof(one));
	assert_non_null(ents);
	for (size_t i = 0; i < n; i++)
		memcpy(ents + i * sizeof(one), one, sizeof(one));
	craft(g_rsa, ents, n * sizeof(one), &der, &len);
	pem_of(der, len, &pem, &plen);
	assert_int_equal(crl_check((uint8_t *)pem, plen, g_rsa, &rep, &e),
	    CA_EPOLICY);
	assert_int_equal(rep.entries, n);
	assert_true(rep.signature_ok);
	assert_non_null(strstr(rep.problems, "500001 entries"));
	assert_non_null(strstr(rep.problems, "500,000"));
	free(pem);
	free(der);
	/* Exactly 500,000 passes. */
	craft(g_rsa, ents, (n - 1) * sizeof(one), &der, &len);
	pem_of(der, len, &pem, &plen);
	assert_int_equal(crl_check((uint8_t *)pem, plen, g_rsa, &rep, &e),
	    CA_OK);
	free(pem);
	free(der);
	free(ents);
}

static void
test_check_malformed(void **state)
{
	struct store		*st = store_new(NULL, 0);
	struct crl_result	 r;
	struct crl_check_report	 rep;
	struct ca_error		 e;
	uint8_t			*ber, *big;
	size_t			 blen;
	char			*pem;
	size_t			 plen;
	(void)state;

	build(g_rsa, st, T_GOLDEN, 0, &r);
	/* BER: the outer length in a longer form than needed. */
	assert_true(r.der[1] == 0x82);
	blen = r.der_len + 2;
	ber = malloc(blen);
	assert_non_null(ber);
	ber[0] = 0x30;
	ber[1] = 0x84;
	ber[2] = 0;
	ber[3] = 0;
	memcpy(ber + 4, r.der + 2, r.der_len - 2);
	pem_of(ber, blen, &pem, &plen);
	assert_int_equal(crl_check((uint8_t *)pem, plen, g_rsa, &rep, &e),
	    CA_EMALF);
	free(pem);
	/* Trailing bytes after the CertificateList. */
	memcpy(ber, r.der, r.der_len);
	ber[r.der_len] = 0;
	ber[r.der_len + 1] = 0;
	pem_of(ber, blen, &pem, &plen);
	assert_int_equal(crl_check((uint8_t *)pem, plen, g_rsa, &rep, &e),
	    CA_EMALF);
	assert_non_null(strstr(rep.problems, "follow"));
	free(pem);
	free(ber);
	/* Not PEM, not DER; empty; bad base64. */
	assert_int_equal(crl_check((const uint8_t *)"hello", 5, NULL, &rep,
	    &e), CA_EMALF);
	assert_int_equal(crl_check((const uint8_t *)"", 0, NULL, &rep, &e),
	    CA_EMALF);
	{
		const char *bad = CRL_PEM_BEGIN "\nMII*\n" CRL_PEM_END "\n";
		assert_int_equal(crl_check((const uint8_t *)bad, strlen(bad),
		    NULL, &rep, &e), CA_EMALF);
		assert_non_null(strstr(rep.problems, "base64"));
	}
	/* Over 50 MB: the PEM padded with blank lines. */
	blen = CRL_ALB_MAX_BYTES + 1;
	big = malloc(blen);
	assert_non_null(big);
	memset(big, '\n', blen);
	memcpy(big, r.pem, r.pem_len);
	assert_int_equal(crl_check(big, blen, g_rsa, &rep, &e), CA_EPOLICY);
	assert_non_null(strstr(rep.problems, "50 MB"));
	assert_true(rep.signature_ok);
	/* Without ALB's quotas (a CRL for nginx): the same file passes. */
	assert_int_equal(crl_check_any(big, blen, g_rsa, &rep, &e), CA_OK);
	assert_string_equal(rep.problems, "");
	assert_true(rep.signature_ok);
	free(big);
	crl_result_clear(&r);
	store_close(st);
}

/* ---- recovery from a published CRL (a restored, older store) ---- */

static int
count_recovered(const struct store_audit *a, void *ctx)
{
	if (strcmp(a->action, "revoke") == 0 &&
	    strstr(a->detail, "recovered from CRL 2 (test)") != NULL)
		(*(int *)ctx)++;
	return 0;
}

static void
test_recover(void **state)
{
	static const uint8_t	 s1[] = { 0x41, 0x01 }, s2[] = { 0x41, 0x02 };
	static const uint8_t	 s3[] = { 0x41, 0x03 };
	struct store		*live = store_new(NULL, 0);
	struct store		*old = store_new(NULL, 0);
	struct crl_result	 r, r2, other;
	struct crl_recovery	 rec;
	struct cert_record	 got;
	struct ca_error		 e;
	const uint8_t		*der;
	size_t			 dlen;
	uint64_t		 gen0, gen1;
	int			 audits = 0;
	(void)state;

	/* The live store: s1 revoked at backup time, then s2 (keyCompromise)
	   and s3 (issued after the backup), and two CRLs published. */
	put_cert(live, s1, sizeof(s1), T_2030);
	put_cert(live, s2, sizeof(s2), T_2030);
	put_cert(live, s3, sizeof(s3), T_2030);
	do_revoke(live, s1, sizeof(s1), 4, T_GOLDEN, STORE_REVOKE_NEW);
	/* The "backup": s1 revoked, s2 valid, s3 never seen. */
	put_cert(old, s1, sizeof(s1), T_2030);
	put_cert(old, s2, sizeof(s2), T_2030);
	do_revoke(old, s1, sizeof(s1), 4, T_GOLDEN, STORE_REVOKE_NEW);
	build(g_rsa, live, T_GOLDEN + 100, 0, &r2);
	do_revoke(live, s2, sizeof(s2), 1, T_GOLDEN + 200, STORE_REVOKE_NEW);
	do_revoke(live, s3, sizeof(s3), 5, T_GOLDEN + 300, STORE_REVOKE_NEW);
	build(g_rsa, live, T_GOLDEN + 400, 0, &r);
	assert_int_equal(r.number, 2);

	/* Another CA's CRL is not believed: nothing changes. */
	build(g_ec, live, T_GOLDEN + 500, 0, &other);
	der = ca_cert_der(g_rsa, &dlen);
	assert_int_equal(store_counter_get(old, STORE_COUNTER_REVGEN, &gen0,
	    &e), CA_OK);
	assert_int_equal(crl_recover(old, der, dlen, STORE_CA_FIRST,
	    other.der, other.der_len,
	    "test", "cli:test", &rec, &e), CA_EPOLICY);
	assert_non_null(strstr(e.msg, "not signed by this CA"));
	assert_int_equal(store_counter_get(old, STORE_COUNTER_CRL, &gen1, &e),
	    CA_OK);
	assert_int_equal(gen1, 0);

	/* Ours, as PEM: the counter rises, s2 and s3 come back revoked with
	   the CRL's date and reason. */
	assert_int_equal(crl_recover(old, der, dlen, STORE_CA_FIRST,
	    (const uint8_t *)r.pem,
	    r.pem_len, "test", "cli:test", &rec, &e), CA_OK);
	assert_int_equal(rec.number, 2);
	assert_int_equal(rec.counter, 2);
	assert_int_equal(rec.listed, 3);
	assert_int_equal(rec.recovered, 2);
	assert_int_equal(store_cert_get(old, s2, sizeof(s2), &got, &e), CA_OK);
	assert_int_equal(got.status, CERT_STATUS_REVOKED);
	assert_int_equal(got.reason, 1);
	assert_true(got.revoked_at == T_GOLDEN + 200);
	assert_true(got.not_after == T_2030);	/* its own record */
	cert_record_clear(&got);
	assert_int_equal(store_cert_get(old, s3, sizeof(s3), &got, &e), CA_OK);
	assert_int_equal(got.status, CERT_STATUS_REVOKED);
	assert_int_equal(got.reason, 5);
	assert_true(got.revoked_at == T_GOLDEN + 300);
	assert_null(got.der);
	cert_record_clear(&got);
	assert_int_equal(store_counter_get(old, STORE_COUNTER_REVGEN, &gen1,
	    &e), CA_OK);
	assert_true(gen1 > gen0);
	assert_int_equal(store_audit_foreach(old, 0, count_recovered, &audits,
	    &e), CA_OK);
	assert_int_equal(audits, 2);

	/* Twice, or an older CRL after it (DER): nothing more, and the
	   counter never goes down. */
	assert_int_equal(crl_recover(old, der, dlen, STORE_CA_FIRST,
	    r.der, r.der_len, "test",
	    "cli:test", &rec, &e), CA_OK);
	assert_int_equal(rec.recovered, 0);
	assert_int_equal(crl_recover(old, der, dlen, STORE_CA_FIRST,
	    r2.der, r2.der_len,
	    "test", "cli:test", &rec, &e), CA_OK);
	assert_int_equal(rec.number, 1);
	assert_int_equal(rec.counter, 2);
	assert_int_equal(rec.recovered, 0);

	/* The next CRL of the restored store is numbered above the
	   published one and lists all three. */
	crl_result_clear(&other);
	build(g_rsa, old, T_GOLDEN + 600, 0, &other);
	assert_int_equal(other.number, 3);
	assert_int_equal(other.entries, 3);

	/* Not a CRL. */
	assert_int_equal(crl_recover(old, der, dlen, STORE_CA_FIRST,
	    (const uint8_t *)"junk",
	    4, "test", "cli:test", &rec, &e), CA_EMALF);
	crl_result_clear(&r);
	crl_result_clear(&r2);
	crl_result_clear(&other);
	store_close(live);
	store_close(old);
}

/* A retiring CA's CRL recovered into a store whose active CA is another:
   a serial the store never saw goes back under the CA that signed the CRL
   (crl_recover's ca_id), so that this CA's next CRL lists it and the
   active CA's does not. */
static void
test_recover_ca_id(void **state)
{
	static const uint8_t	 s4[] = { 0x41, 0x04 };
	struct store		*live = store_new(NULL, 0);
	struct store		*old = store_new(NULL, 0);
	struct store_revocation	 rv;
	struct crl_result	 r, mine, theirs;
	struct crl_recovery	 rec;
	struct cert_record	 got;
	struct ca_error		 e;
	const uint8_t		*der;
	size_t			 dlen;
	uint32_t		 ec_id = ca_get_id(g_ec);
	int			 outcome;
	(void)state;

	ca_set_id(g_ec, 3);		/* a retiring CA, id 3 */
	memset(&rv, 0, sizeof(rv));
	rv.serial = s4;
	rv.serial_len = sizeof(s4);
	rv.revoked_at = T_GOLDEN;
	rv.reason = 1;
	rv.force = true;
	rv.not_after = STORE_NOT_AFTER_UNKNOWN;
	rv.ca_id = 3;
	assert_int_equal(store_cert_revoke(live, &rv, crl_entry_encode,
	    &outcome, NULL, &e), CA_OK);
	build(g_ec, live, T_GOLDEN + 100, 0, &r);
	assert_int_equal(r.entries, 1);

	/* The restored store's active CA is 5. */
	assert_int_equal(store_counter_raise(old, STORE_COUNTER_CA_ACTIVE, 5,
	    NULL, &e), CA_OK);
	der = ca_cert_der(g_ec, &dlen);
	assert_int_equal(crl_recover(old, der, dlen, 3, r.der, r.der_len,
	    "test", "cli:test", &rec, &e), CA_OK);
	assert_int_equal(rec.recovered, 1);
	assert_int_equal(store_cert_get(old, s4, sizeof(s4), &got, &e), CA_OK);
	assert_int_equal(got.status, CERT_STATUS_REVOKED);
	assert_int_equal(got.ca_id, 3);
	cert_record_clear(&got);
	build(g_ec, old, T_GOLDEN + 200, 0, &mine);
	assert_int_equal(mine.entries, 1);
	ca_set_id(g_ec, 5);		/* the active CA's CRL: not there */
	build(g_ec, old, T_GOLDEN + 300, 0, &theirs);
	assert_int_equal(theirs.entries, 0);
	ca_set_id(g_ec, ec_id);
	crl_result_clear(&r);
	crl_result_clear(&mine);
	crl_result_clear(&theirs);
	store_close(live);
	store_close(old);
}

/* crls.pem: crl.pem first, then each ca-<id>/crl.pem in name order, each
   on lines of its own; other names, and a retired CA's emptied directory,
   are passed over; a missing crl.pem is an error. */
static void
put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static void
test_combine(void **state)
{
	char		 dir[] = "/tmp/mtlsca-combine-XXXXXX", path[256];
	char		 cmd[300];
	uint8_t		*got = NULL;
	size_t		 len = 0;
	struct ca_error	 e;
	static const char *subdirs[] = { "ca-2", "ca-10", "ca-3", "ca-x",
	    "ca-0" };
	const char	*want = "A\nB\nC\nD\n";

	(void)state;
	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subdirs[i]);
		assert_int_equal(mkdir(path, 0755), 0);
	}
	/* No crl.pem at the root: refused, nothing written. */
	assert_int_equal(crl_files_combine(dir, NULL, &e), CA_ENOENT);
	snprintf(path, sizeof(path), "%s/crls.pem", dir);
	assert_int_not_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/crl.pem", dir);
	put_file(path, "A");			/* no newline at its end */
	snprintf(path, sizeof(path), "%s/ca-10/crl.pem", dir);
	put_file(path, "B\n");
	snprintf(path, sizeof(path), "%s/ca-2/crl.pem", dir);
	put_file(path, "C");
	snprintf(path, sizeof(path), "%s/ca-x/crl.pem", dir);
	put_file(path, "X\n");
	snprintf(path, sizeof(path), "%s/ca-0/crl.pem", dir);
	put_file(path, "Y\n");
	/* ca-3 has none yet (a retired CA's emptied directory). */
	assert_int_equal(crl_files_combine(dir, NULL, &e), CA_OK);
	snprintf(path, sizeof(path), "%s/crls.pem", dir);
	assert_int_equal(file_read(path, 1024, &got, &len, &e), CA_OK);
	assert_int_equal(len, 6);
	assert_memory_equal(got, "A\nB\nC\n", len);
	free(got);
	snprintf(path, sizeof(path), "%s/ca-3/crl.pem", dir);
	put_file(path, "D");
	assert_int_equal(crl_files_combine(dir, NULL, &e), CA_OK);
	snprintf(path, sizeof(path), "%s/crls.pem", dir);
	assert_int_equal(file_read(path, 1024, &got, &len, &e), CA_OK);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
	free(got);
	/* A part on another file system (a ca-4 linked to /dev/shm, a
	   tmpfs): copy_file_range refuses, the buffered copy takes over. */
	{
		char	shm[] = "/dev/shm/mtlsca-combine-XXXXXX", part[300];
		char	big[200001];
		struct stat s1, s2;

		assert_non_null(mkdtemp(shm));
		assert_int_equal(stat(shm, &s1), 0);
		assert_int_equal(stat(dir, &s2), 0);
		assert_true(s1.st_dev != s2.st_dev);
		{
			memset(big, 'E', sizeof(big) - 1);
			big[sizeof(big) - 1] = '\0';	/* 3 buffers' worth */
			snprintf(part, sizeof(part), "%s/crl.pem", shm);
			put_file(part, big);
			snprintf(path, sizeof(path), "%s/ca-4", dir);
			assert_int_equal(symlink(shm, path), 0);
			assert_int_equal(crl_files_combine(dir, NULL, &e), CA_OK);
			snprintf(path, sizeof(path), "%s/crls.pem", dir);
			assert_int_equal(file_read(path, 1 << 20, &got, &len,
			    &e), CA_OK);
			assert_int_equal(len, strlen(want) + sizeof(big));
			assert_memory_equal(got, want, strlen(want));
			assert_memory_equal(got + strlen(want), big,
			    sizeof(big) - 1);
			assert_int_equal(got[len - 1], '\n');
			free(got);
			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", shm);
			assert_int_equal(system(cmd), 0);
		}
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * One CA: crls.pem is a second name of crl.pem (no copy); the identity a
 * CRL result noted of crl.pem is taken anew (the link moved its ctime),
 * so that the trust record still matches; a second call changes nothing;
 * a crl.pem without a final newline is copied (and given one).
 */
static void
test_combine_single(void **state)
{
	struct store		*st = golden_store();
	struct crl_snapshot	*snap;
	struct crl_result	 r;
	struct crl_file_id	 before;
	struct ca_error		 e;
	struct stat		 a, b;
	char			 dir[512], pem[600], crls[600];
	uint8_t			*got = NULL;
	size_t			 len = 0;
	(void)state;

	build(g_ec, st, T_GOLDEN, 0, &r);
	path(dir, sizeof(dir), "single/public");
	assert_int_equal(crl_write_files(dir, &r, &e), CA_OK);
	snprintf(pem, sizeof(pem), "%s/crl.pem", dir);
	snprintf(crls, sizeof(crls), "%s/crls.pem", dir);
	before = r.pem_id;
	usleep(20000);		/* a ctime the link visibly moves */
	assert_int_equal(crl_files_combine(dir, &r, &e), CA_OK);
	assert_int_equal(stat(pem, &a), 0);
	assert_int_equal(stat(crls, &b), 0);
	assert_true(a.st_ino == b.st_ino && a.st_nlink == 2);
	assert_true(r.pem_id.ctime_ns != before.ctime_ns);
	assert_true(r.pem_id.ino == before.ino);
	assert_int_equal(crl_files_record(st, g_ec, &r, &e), CA_OK);
	assert_non_null(snap = crl_snapshot_recorded(st, g_ec, dir));
	crl_snapshot_release(snap);
	before = r.pem_id;
	assert_int_equal(crl_files_combine(dir, &r, &e), CA_OK);
	assert_memory_equal(&before, &r.pem_id, sizeof(before));
	assert_int_equal(count_tmp(dir), 0);
	/* No newline at the end: copied. */
	assert_int_equal(file_write_atomic(pem, "A", 1, 0644, 0, &e), CA_OK);
	assert_int_equal(crl_files_combine(dir, NULL, &e), CA_OK);
	assert_int_equal(stat(pem, &a), 0);
	assert_int_equal(stat(crls, &b), 0);
	assert_true(a.st_ino != b.st_ino);
	assert_int_equal(file_read(crls, 1024, &got, &len, &e), CA_OK);
	assert_int_equal(len, 2);
	assert_memory_equal(got, "A\n", 2);
	free(got);
	crl_result_clear(&r);
	store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_encode),
		cmocka_unit_test(test_revoke_outcomes),
		cmocka_unit_test(test_empty_crl),
		cmocka_unit_test(test_golden_rsa),
		cmocka_unit_test(test_golden_ecdsa),
		cmocka_unit_test(test_time_boundary),
		cmocka_unit_test(test_expired_pruned),
		cmocka_unit_test(test_entry_limits),
		cmocka_unit_test(test_numbers_two_processes),
		cmocka_unit_test(test_openssl_verify_leaf),
		cmocka_unit_test(test_write_files),
		cmocka_unit_test(test_trust_recorded),
		cmocka_unit_test(test_pem_unheld),
		cmocka_unit_test(test_trust_identity),
		cmocka_unit_test(test_large_crl),
		cmocka_unit_test(test_check_accepts_ours),
		cmocka_unit_test(test_check_negative_serial),
		cmocka_unit_test(test_check_too_many_entries),
		cmocka_unit_test(test_check_malformed),
		cmocka_unit_test(test_recover),
		cmocka_unit_test(test_recover_ca_id),
		cmocka_unit_test(test_combine),
		cmocka_unit_test(test_combine_single),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
