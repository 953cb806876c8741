/*
 * ca/verify.c: every answer the verifier gives, on a real CA and store —
 * good (and cached), revoked on the next call after a revocation made
 * while the answer was cached, not issued here, another certificate with
 * a recorded serial, expired and not yet valid, another CA's, a forgery
 * naming our CA, a key ALB refuses, a CA certificate and a serverAuth-only
 * one, the chain's other certificates ignored, the serial mode (ALB verify)
 * with its issuer check, the cache's bound, and the service's mTLS words.
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
#include <sys/stat.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "ca/ca.h"
#include "common/util.h"
#include "store/store.h"

#define CA_DN	"CN=verify test CA,O=mtlsca"

static char		 g_root[64];
static struct ca	*g_ca, *g_twin, *g_other;
static struct store	*g_st;

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A CA in g_root/name with subject dn. */
static int
make_ca(const char *name, const char *dn, struct ca **out)
{
	struct ca_paths		paths;
	struct ca_init_options	io;
	struct ca_error		e;
	char			cert[128], key[128];

	snprintf(cert, sizeof(cert), "%s/%s.pem", g_root, name);
	snprintf(key, sizeof(key), "%s/%s.key", g_root, name);
	paths.cert = cert;
	paths.key = key;
	memset(&io, 0, sizeof(io));
	io.key_type = CA_KEY_ECDSA_P256;
	io.subject = dn;
	if (ca_init(&paths, &io, &e) != CA_OK ||
	    ca_open(&paths, out, &e) != CA_OK) {
		fprintf(stderr, "make_ca: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static int
setup(void **state)
{
	struct store_options	so;
	struct ca_error		e;
	char			db[128];

	(void)state;
	snprintf(g_root, sizeof(g_root), "/tmp/test_ca_verify.XXXXXX");
	if (mkdtemp(g_root) == NULL)
		return -1;
	snprintf(db, sizeof(db), "%s/db", g_root);
	memset(&so, 0, sizeof(so));
	so.dir = db;
	so.map_size = 64 << 20;
	/* g_twin has our CA's very name and another key: a forger's CA. */
	if (make_ca("ca", CA_DN, &g_ca) != 0 ||
	    make_ca("twin", CA_DN, &g_twin) != 0 ||
	    make_ca("other", "CN=someone else", &g_other) != 0 ||
	    dir_make(db, 0700, &e) != CA_OK || store_open(&so, &g_st, &e) !=
	    CA_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	store_close(g_st);
	ca_free(g_ca);
	ca_free(g_twin);
	ca_free(g_other);
	if (g_root[0] != '\0')
		nftw(g_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* A CSR for dn with a fresh key (P-256, or RSA of bits). */
static struct ca_csr *
make_csr(const char *dn, unsigned rsa_bits)
{
	gnutls_x509_privkey_t	 k;
	gnutls_x509_crq_t	 q;
	gnutls_datum_t		 d;
	struct ca_csr		*csr = NULL;
	struct ca_error		 e;

	assert_int_equal(gnutls_x509_privkey_init(&k), 0);
	assert_int_equal(gnutls_x509_crq_init(&q), 0);
	if (rsa_bits)
		assert_int_equal(gnutls_x509_privkey_generate(k, GNUTLS_PK_RSA,
		    rsa_bits, 0), 0);
	else
		assert_int_equal(gnutls_x509_privkey_generate(k,
		    GNUTLS_PK_ECDSA,
		    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0), 0);
	assert_int_equal(gnutls_x509_crq_set_dn(q, dn, NULL), 0);
	assert_int_equal(gnutls_x509_crq_set_subject_alt_name(q,
	    GNUTLS_SAN_DNSNAME, "host.example", 12, GNUTLS_FSAN_APPEND), 0);
	assert_int_equal(gnutls_x509_crq_set_key(q, k), 0);
	assert_int_equal(gnutls_x509_crq_sign2(q, k, GNUTLS_DIG_SHA256, 0), 0);
	assert_int_equal(gnutls_x509_crq_export2(q, GNUTLS_X509_FMT_DER, &d),
	    0);
	assert_int_equal(ca_csr_parse(d.data, d.size, &csr, &e), CA_OK);
	gnutls_free(d.data);
	gnutls_x509_crq_deinit(q);
	gnutls_x509_privkey_deinit(k);
	return csr;
}

/* A certificate for cn from ca, recorded in the store when record. */
static void
issue(struct ca *ca, const char *cn, bool record, bool client,
    struct ca_issued *iss)
{
	struct ca_profile	 p;
	struct ca_csr		*csr;
	struct ca_error		 e;
	char			 dn[128];

	snprintf(dn, sizeof(dn), "CN=%s", cn);
	csr = make_csr(dn, 0);
	ca_profile_default(&p);
	p.allow_dns = true;
	p.max_sans = 4;
	p.client_auth = client;
	p.server_auth = true;
	memset(iss, 0, sizeof(*iss));
	if (record)
		assert_int_equal(ca_sign(ca, g_st, csr, &p, 0, "cli:unit", iss,
		    &e), CA_OK);
	else
		assert_int_equal(ca_issue(ca, csr, &p, 0, time_now(), iss, &e),
		    CA_OK);
	ca_csr_free(csr);
}

static int
verify(struct ca_verifier *v, const struct ca_issued *iss, int64_t now,
    struct ca_verified *out, struct ca_error *e)
{
	const uint8_t	*der = iss->der;
	size_t		 len = iss->der_len;

	memset(e, 0, sizeof(*e));
	return ca_verify_chain(v, &der, &len, 1, now, out, e);
}

static struct ca_verifier *
verifier(size_t cache)
{
	struct ca_verifier_options	 o = { cache };
	struct ca_verifier		*v = NULL;
	struct ca_error			 e;

	assert_int_equal(ca_verifier_new(&g_ca, 1, g_st, &o, &v, &e), CA_OK);
	return v;
}

/* An encoder for the revoked index (the CRL's business, not tested). */
static int
entry_enc(const struct cert_record *rec, uint8_t *buf, size_t cap,
    size_t *len)
{
	(void)rec;
	if (cap < 2)
		return CA_ETOOBIG;
	buf[0] = 0x30;
	buf[1] = 0;
	*len = 2;
	return CA_OK;
}

static void
revoke(const struct ca_issued *iss, int reason)
{
	struct store_revocation	rv;
	struct ca_error		e;
	int			outcome;

	memset(&rv, 0, sizeof(rv));
	rv.serial = iss->serial;
	rv.serial_len = iss->serial_len;
	rv.revoked_at = time_now();
	rv.reason = (uint8_t)reason;
	assert_int_equal(store_cert_revoke(g_st, &rv, entry_enc, &outcome,
	    NULL, &e), CA_OK);
}

static void
test_good_cached_revoked(void **state)
{
	struct ca_verifier		*v = verifier(64);
	struct ca_verifier_stats	 st;
	struct ca_verified		 vd;
	struct ca_issued		 iss;
	struct ca_error			 e;

	(void)state;
	issue(g_ca, "alice", true, true, &iss);
	assert_int_equal(verify(v, &iss, time_now(), &vd, &e), CA_OK);
	assert_int_equal(vd.result, CA_VERIFY_GOOD);
	assert_false(vd.cached);
	assert_string_equal(vd.subject, "CN=alice");
	assert_string_equal(vd.sans, "dns:host.example");
	assert_string_equal(vd.profile, "client");
	assert_int_equal(vd.serial_len, iss.serial_len);
	assert_memory_equal(vd.serial, iss.serial, iss.serial_len);
	assert_int_equal(vd.not_after, iss.not_after);
	ca_verified_clear(&vd);
	assert_int_equal(verify(v, &iss, time_now(), &vd, &e), CA_OK);
	assert_true(vd.cached);
	assert_string_equal(vd.subject, "CN=alice");
	ca_verified_clear(&vd);
	ca_verifier_stats(v, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 1);
	/* Read once: the second answer came from the cache, store too. */
	assert_int_equal(st.store_reads, 1);

	/* Revoked while cached: refused on the very next call. */
	revoke(&iss, 1);
	assert_int_equal(verify(v, &iss, time_now(), &vd, &e), CA_EFORBIDDEN);
	assert_int_equal(vd.result, CA_VERIFY_REVOKED);
	assert_string_equal(e.reason, "revoked");
	assert_non_null(strstr(e.msg, "keyCompromise"));
	assert_int_equal(vd.revocation_reason, 1);
	assert_true(vd.revoked_at > 0);
	assert_true(vd.cached);		/* the signature check still was */
	ca_verified_clear(&vd);
	ca_issued_clear(&iss);
	ca_verifier_free(v);
}

static void
test_store_answers(void **state)
{
	struct ca_verifier	*v = verifier(64);
	struct ca_verified	 vd;
	struct ca_issued	 iss, twin;
	struct ca_error		 e;

	(void)state;
	/* Signed by our key, never recorded. */
	issue(g_ca, "ghost", false, true, &iss);
	assert_int_equal(verify(v, &iss, time_now(), &vd, &e), CA_EFORBIDDEN);
	assert_int_equal(vd.result, CA_VERIFY_NOT_ISSUED_HERE);
	assert_string_equal(e.reason, "not_issued_here");
	ca_verified_clear(&vd);
	/* Its serial recorded, but with another certificate: this one is
	   still not the one issued here. */
	issue(g_ca, "real", true, true, &twin);
	{
		struct cert_record rec;

		memset(&rec, 0, sizeof(rec));
		ca_issued_record(&twin, time_now(), &rec);
		memcpy(rec.serial, iss.serial, iss.serial_len);
		rec.serial_len = iss.serial_len;
		assert_int_equal(store_cert_put(g_st, &rec, &e), CA_OK);
	}
	assert_int_equal(verify(v, &iss, time_now(), &vd, &e), CA_EFORBIDDEN);
	assert_int_equal(vd.result, CA_VERIFY_NOT_ISSUED_HERE);
	assert_non_null(strstr(e.msg, "another"));
	ca_verified_clear(&vd);
	ca_issued_clear(&iss);
	assert_int_equal(verify(v, &twin, time_now(), &vd, &e), CA_OK);
	ca_verified_clear(&vd);
	/* Dates. */
	assert_int_equal(verify(v, &twin, twin.not_after + 1, &vd, &e),
	    CA_EFORBIDDEN);
	assert_int_equal(vd.result, CA_VERIFY_EXPIRED);
	assert_string_equal(e.reason, "expired");
	ca_verified_clear(&vd);
	assert_int_equal(verify(v, &twin, twin.not_before - 10, &vd, &e),
	    CA_EFORBIDDEN);
	assert_int_equal(vd.result, CA_VERIFY_NOT_YET_VALID);
	ca_verified_clear(&vd);
	ca_issued_clear(&twin);
	ca_verifier_free(v);
}

static void
test_static_refusals(void **state)
{
	struct ca_verifier	*v = verifier(64);
	struct ca_verified	 vd;
	struct ca_issued	 iss;
	struct ca_error		 e;
	const uint8_t		*der;
	size_t			 len;

	(void)state;
	issue(g_other, "stranger", false, true, &iss);
	assert_int_equal(verify(v, &iss, time_now(), &vd, &e), CA_EFORBIDDEN);
	assert_int_equal(vd.result, CA_VERIFY_UNKNOWN_ISSUER);
	assert_non_null(strstr(e.msg, "someone else"));
	ca_verified_clear(&vd);
	ca_issued_clear(&iss);
	/* Our CA's name, another key. */
	issue(g_twin, "forged", false, true, &iss);
	assert_int_equal(verify(v, &iss, time_now(), &vd, &e), CA_EFORBIDDEN);
	assert_int_equal(vd.result, CA_VERIFY_BAD_SIGNATURE);
	ca_verified_clear(&vd);
	/* Refusals are cached too: the second costs no signature. */
	assert_int_equal(verify(v, &iss, time_now(), &vd, &e), CA_EFORBIDDEN);
	assert_int_equal(vd.result, CA_VERIFY_BAD_SIGNATURE);
	assert_true(vd.cached);
	ca_verified_clear(&vd);
	ca_issued_clear(&iss);
	/* serverAuth only: not for logging in. */
	issue(g_ca, "server-only", true, false, &iss);
	assert_int_equal(verify(v, &iss, time_now(), &vd, &e), CA_EFORBIDDEN);
	assert_int_equal(vd.result, CA_VERIFY_NOT_CLIENT);
	ca_verified_clear(&vd);
	ca_issued_clear(&iss);
	/* The CA itself. */
	der = ca_cert_der(g_ca, &len);
	assert_int_equal(ca_verify_chain(v, &der, &len, 1, time_now(), &vd,
	    &e), CA_EFORBIDDEN);
	assert_int_equal(vd.result, CA_VERIFY_NOT_CLIENT);
	ca_verified_clear(&vd);
	/* Not a certificate; nothing. */
	der = (const uint8_t *)"\x30\x03\x02\x01\x01";
	len = 5;
	assert_int_equal(ca_verify_chain(v, &der, &len, 1, time_now(), &vd,
	    &e), CA_EFORBIDDEN);
	assert_int_equal(vd.result, CA_VERIFY_MALFORMED);
	ca_verified_clear(&vd);
	assert_int_equal(ca_verify_chain(v, &der, &len, 0, time_now(), &vd,
	    &e), CA_EFORBIDDEN);
	assert_int_equal(vd.result, CA_VERIFY_MALFORMED);
	ca_verified_clear(&vd);
	ca_verifier_free(v);
}

/* A self-signed RSA-1024 certificate that names our CA as its issuer. */
static void
test_key_policy(void **state)
{
	struct ca_verifier	*v = verifier(0);
	struct ca_verified	 vd;
	gnutls_x509_privkey_t	 k;
	gnutls_x509_crt_t	 crt;
	gnutls_datum_t		 d;
	struct ca_error		 e;
	const uint8_t		*der;
	size_t			 len;
	uint8_t			 serial[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	(void)state;
	assert_int_equal(gnutls_x509_privkey_init(&k), 0);
	assert_int_equal(gnutls_x509_privkey_generate(k, GNUTLS_PK_RSA, 1024,
	    0), 0);
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_set_version(crt, 3), 0);
	assert_int_equal(gnutls_x509_crt_set_serial(crt, serial, 8), 0);
	assert_int_equal(gnutls_x509_crt_set_dn(crt, CA_DN, NULL), 0);
	assert_int_equal(gnutls_x509_crt_set_key(crt, k), 0);
	gnutls_x509_crt_set_activation_time(crt, time(NULL) - 60);
	gnutls_x509_crt_set_expiration_time(crt, time(NULL) + 3600);
	assert_int_equal(gnutls_x509_crt_sign2(crt, crt, k, GNUTLS_DIG_SHA256,
	    0), 0);
	assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &d),
	    0);
	der = d.data;
	len = d.size;
	assert_int_equal(ca_verify_chain(v, &der, &len, 1, time_now(), &vd,
	    &e), CA_EFORBIDDEN);
	assert_int_equal(vd.result, CA_VERIFY_KEY_POLICY);
	assert_non_null(strstr(e.msg, "1024"));
	ca_verified_clear(&vd);
	gnutls_free(d.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(k);
	ca_verifier_free(v);
}

/* Only the leaf counts: what the client sent with it is not trusted. */
static void
test_chain(void **state)
{
	struct ca_verifier	*v = verifier(16);
	struct ca_verified	 vd;
	struct ca_issued	 iss, other;
	struct ca_error		 e;
	const uint8_t		*der[3];
	size_t			 len[3];

	(void)state;
	issue(g_ca, "chained", true, true, &iss);
	issue(g_other, "someone", false, true, &other);
	der[0] = iss.der;
	len[0] = iss.der_len;
	der[1] = ca_cert_der(g_ca, &len[1]);
	der[2] = other.der;
	len[2] = other.der_len;
	assert_int_equal(ca_verify_chain(v, der, len, 3, time_now(), &vd, &e),
	    CA_OK);
	ca_verified_clear(&vd);
	/* A good certificate of ours after a stranger's leaf changes
	   nothing. */
	der[0] = other.der;
	len[0] = other.der_len;
	der[1] = iss.der;
	len[1] = iss.der_len;
	assert_int_equal(ca_verify_chain(v, der, len, 2, time_now(), &vd, &e),
	    CA_EFORBIDDEN);
	assert_int_equal(vd.result, CA_VERIFY_UNKNOWN_ISSUER);
	ca_verified_clear(&vd);
	ca_issued_clear(&iss);
	ca_issued_clear(&other);
	ca_verifier_free(v);
}

static void
test_serial_mode(void **state)
{
	struct ca_verifier	*v = verifier(16);
	struct ca_verified	 vd;
	struct ca_issued	 iss;
	struct ca_error		 e;
	uint8_t			 unknown[16] = { 0x41, 1, 2, 3 };

	(void)state;
	issue(g_ca, "bob", true, true, &iss);
	/* ALB's issuer text has no spaces; ours may. */
	assert_int_equal(ca_verify_serial(v, iss.serial, iss.serial_len,
	    "CN=verify test CA,O=mtlsca", time_now(), &vd, &e), CA_OK);
	assert_string_equal(vd.subject, "CN=bob");
	ca_verified_clear(&vd);
	assert_int_equal(ca_verify_serial(v, iss.serial, iss.serial_len,
	    "cn=verify test CA, o=mtlsca", time_now(), &vd, &e), CA_OK);
	ca_verified_clear(&vd);
	assert_int_equal(ca_verify_serial(v, iss.serial, iss.serial_len,
	    "CN=someone else", time_now(), &vd, &e), CA_EFORBIDDEN);
	assert_int_equal(vd.result, CA_VERIFY_UNKNOWN_ISSUER);
	ca_verified_clear(&vd);
	assert_int_equal(ca_verify_serial(v, unknown, sizeof(unknown), CA_DN,
	    time_now(), &vd, &e), CA_EFORBIDDEN);
	assert_int_equal(vd.result, CA_VERIFY_NOT_ISSUED_HERE);
	ca_verified_clear(&vd);
	revoke(&iss, 4);
	assert_int_equal(ca_verify_serial(v, iss.serial, iss.serial_len, CA_DN,
	    time_now(), &vd, &e), CA_EFORBIDDEN);
	assert_int_equal(vd.result, CA_VERIFY_REVOKED);
	assert_non_null(strstr(e.msg, "superseded"));
	ca_verified_clear(&vd);
	ca_issued_clear(&iss);
	ca_verifier_free(v);
}

/* A cache of 8 keeps 8, however many certificates pass. */
static void
test_cache_bound(void **state)
{
	struct ca_verifier		*v = verifier(8);
	struct ca_verifier_stats	 st;
	struct ca_verified		 vd;
	struct ca_issued		 iss;
	struct ca_error			 e;
	char				 cn[32];

	(void)state;
	for (int i = 0; i < 12; i++) {
		snprintf(cn, sizeof(cn), "many-%d", i);
		issue(g_ca, cn, true, true, &iss);
		assert_int_equal(verify(v, &iss, time_now(), &vd, &e), CA_OK);
		ca_verified_clear(&vd);
		ca_issued_clear(&iss);
	}
	ca_verifier_stats(v, &st);
	assert_int_equal(st.entries, 8);
	assert_int_equal(st.misses, 12);
	ca_verifier_free(v);
}

/* The service's mTLS says the verifier's answer in its own words. */
static void
test_peer_words(void **state)
{
	struct ca_verifier	*v = verifier(8);
	struct ca_peer		 peer;
	struct cert_record	 rec;
	struct ca_issued	 iss;
	struct ca_error		 e;

	(void)state;
	issue(g_ca, "carol", true, true, &iss);
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(ca_verifier_peer(v, iss.der, iss.der_len, time_now(),
	    &peer, &rec, &e), CA_OK);
	assert_string_equal(peer.subject, "CN=carol");
	assert_string_equal(rec.profile, "client");
	cert_record_clear(&rec);
	revoke(&iss, 0);
	assert_int_equal(ca_verifier_peer(v, iss.der, iss.der_len, time_now(),
	    &peer, NULL, &e), CA_EFORBIDDEN);
	assert_string_equal(e.reason, CA_REASON_PEER_REVOKED);
	assert_int_equal(ca_peer_verify(g_ca, g_st, iss.der, iss.der_len,
	    time_now(), &peer, NULL, &e), CA_EFORBIDDEN);
	assert_string_equal(e.reason, CA_REASON_PEER_REVOKED);
	ca_issued_clear(&iss);
	ca_verifier_free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_cached_revoked),
		cmocka_unit_test(test_store_answers),
		cmocka_unit_test(test_static_refusals),
		cmocka_unit_test(test_key_policy),
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_serial_mode),
		cmocka_unit_test(test_cache_bound),
		cmocka_unit_test(test_peer_words),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
