/*
 * ca/ unit tests for the client side's keys (ca/keys.c) and PKCS#12 files
 * (ca/p12.c): every key type round-trips through its PEM; a PKCS#12 file
 * reads back with GnuTLS with the password and not without it, pairs the
 * key with the leaf, and is protected with exactly the algorithms each mode
 * promises (the e2e test checks the same with openssl and certtool).
 */
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
#include <gnutls/pkcs12.h>
#include <gnutls/x509.h>

#include "ca/ca.h"

/* A self-signed certificate for key_pem (the PKCS#12 code does not care
   who signed the leaf); *pem owns a gnutls-allocated datum. */
static void
self_signed(const char *key_pem, const char *cn, gnutls_datum_t *pem)
{
	gnutls_x509_privkey_t	key;
	gnutls_x509_crt_t	crt;
	gnutls_datum_t		d = { (unsigned char *)key_pem,
	    (unsigned)strlen(key_pem) };
	unsigned char		serial[1] = { 1 };
	time_t			now = time(NULL);

	assert_int_equal(gnutls_x509_privkey_init(&key), 0);
	assert_int_equal(gnutls_x509_privkey_import(key, &d,
	    GNUTLS_X509_FMT_PEM), 0);
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_set_version(crt, 3), 0);
	assert_int_equal(gnutls_x509_crt_set_serial(crt, serial, 1), 0);
	assert_int_equal(gnutls_x509_crt_set_dn_by_oid(crt,
	    GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn)), 0);
	assert_int_equal(gnutls_x509_crt_set_activation_time(crt, now), 0);
	assert_int_equal(gnutls_x509_crt_set_expiration_time(crt,
	    now + 86400), 0);
	assert_int_equal(gnutls_x509_crt_set_key(crt, key), 0);
	assert_int_equal(gnutls_x509_crt_sign2(crt, crt, key,
	    GNUTLS_DIG_SHA256, 0), 0);
	assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM,
	    pem), 0);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
}

static char *
key_new(enum ca_key_type t)
{
	struct ca_error	 e;
	char		*pem = NULL;
	size_t		 len = 0;

	assert_int_equal(ca_key_generate(t, &pem, &len, &e), CA_OK);
	assert_non_null(pem);
	assert_int_equal(strlen(pem), len);
	return pem;
}

static void
test_key_types_round_trip(void **state)
{
	static const enum ca_key_type types[] = { CA_KEY_ECDSA_P256,
	    CA_KEY_ECDSA_P384, CA_KEY_ECDSA_P521, CA_KEY_RSA2048,
	    CA_KEY_RSA3072, CA_KEY_RSA4096 };
	struct ca_error	e;

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		enum ca_key_type	 got, parsed;
		char			*pem = key_new(types[i]);

		/* PKCS#8, as openssl genpkey writes it. */
		assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
		if (ca_key_type_of(pem, strlen(pem), &got, &e) != CA_OK)
			fail_msg("%s: %s", ca_key_type_name(types[i]), e.msg);
		assert_int_equal(got, types[i]);
		assert_int_equal(ca_key_type_parse(ca_key_type_name(types[i]),
		    &parsed), CA_OK);
		assert_int_equal(parsed, types[i]);
		free(pem);
	}
	assert_string_equal(ca_key_type_name((enum ca_key_type)99), "?");
}

static void
test_key_type_of_refuses(void **state)
{
	gnutls_x509_privkey_t	 k;
	gnutls_datum_t		 d = { NULL, 0 };
	enum ca_key_type	 t;
	struct ca_error		 e;
	const char		*junk = "-----BEGIN PRIVATE KEY-----\nAAAA\n"
	    "-----END PRIVATE KEY-----\n";

	(void)state;
	assert_int_equal(ca_key_type_of(junk, strlen(junk), &t, &e), CA_EMALF);
	assert_int_equal(ca_key_type_of("", 0, &t, &e), CA_EMALF);
	/* RSA 1024: a key, but none the load balancer takes. */
	assert_int_equal(gnutls_x509_privkey_init(&k), 0);
	assert_int_equal(gnutls_x509_privkey_generate2(k, GNUTLS_PK_RSA, 1024,
	    0, NULL, 0), 0);
	assert_int_equal(gnutls_x509_privkey_export2(k, GNUTLS_X509_FMT_PEM,
	    &d), 0);
	assert_int_equal(ca_key_type_of((const char *)d.data, d.size, &t, &e),
	    CA_EPOLICY);
	assert_non_null(strstr(e.msg, "1024"));
	gnutls_free(d.data);
	gnutls_x509_privkey_deinit(k);
}

/* What one mode must produce: check every bag's protection and the MAC. */
static void
check_p12(const uint8_t *der, size_t len, const char *pass,
    enum ca_p12_mode mode, const char *key_pem, const char *name)
{
	gnutls_pkcs12_t		 p12;
	gnutls_pkcs12_bag_t	 bag;
	gnutls_datum_t		 d = { (unsigned char *)der, (unsigned)len };
	gnutls_x509_privkey_t	 key = NULL, want;
	gnutls_x509_crt_t	*chain = NULL;
	unsigned		 chain_len = 0, mac = 0, schema, cipher;
	unsigned		 salt_size, iter, want_schema;
	uint8_t			 salt[64], id1[64], id2[64];
	size_t			 l1 = sizeof(id1), l2 = sizeof(id2);
	gnutls_datum_t		 kd = { (unsigned char *)key_pem,
	    (unsigned)strlen(key_pem) };
	int			 n_enc = 0, n_shrouded = 0;
	char			*oid = NULL;

	want_schema = mode == CA_P12_LEGACY ? GNUTLS_PKCS_PKCS12_3DES :
	    GNUTLS_PKCS_PBES2_AES_256;
	assert_int_equal(gnutls_pkcs12_init(&p12), 0);
	assert_int_equal(gnutls_pkcs12_import(p12, &d, GNUTLS_X509_FMT_DER,
	    0), 0);
	/* The MAC: the promised algorithm, the right password only. */
	assert_true(gnutls_pkcs12_verify_mac(p12, "wrong password") < 0);
	assert_int_equal(gnutls_pkcs12_verify_mac(p12, pass), 0);
	salt_size = sizeof(salt);
	assert_true(gnutls_pkcs12_mac_info(p12, &mac, salt, &salt_size, &iter,
	    &oid) >= 0);
	gnutls_free(oid);
	oid = NULL;
	assert_int_equal(mac, mode == CA_P12_LEGACY ? GNUTLS_MAC_SHA1 :
	    GNUTLS_MAC_SHA256);
	assert_true(salt_size >= 8);
	assert_true(iter >= 1000);

	for (int i = 0;; i++) {
		assert_int_equal(gnutls_pkcs12_bag_init(&bag), 0);
		if (gnutls_pkcs12_get_bag(p12, i, bag) < 0) {
			gnutls_pkcs12_bag_deinit(bag);
			break;
		}
		if (gnutls_pkcs12_bag_get_type(bag, 0) == GNUTLS_BAG_ENCRYPTED) {
			/* The certificates: encrypted as promised. */
			n_enc++;
			salt_size = sizeof(salt);
			assert_true(gnutls_pkcs12_bag_enc_info(bag, &schema,
			    &cipher, salt, &salt_size, &iter, &oid) >= 0);
			gnutls_free(oid);
			oid = NULL;
			assert_int_equal(schema, want_schema);
			assert_int_equal(cipher, mode == CA_P12_LEGACY ?
			    GNUTLS_CIPHER_3DES_CBC : GNUTLS_CIPHER_AES_256_CBC);
			assert_true(gnutls_pkcs12_bag_decrypt(bag, "nope") < 0);
		} else {
			gnutls_datum_t	kdata;
			char		*fn = NULL;

			assert_int_equal(gnutls_pkcs12_bag_get_type(bag, 0),
			    GNUTLS_BAG_PKCS8_ENCRYPTED_KEY);
			n_shrouded++;
			assert_int_equal(gnutls_pkcs12_bag_get_data(bag, 0,
			    &kdata), 0);
			salt_size = sizeof(salt);
			assert_true(gnutls_pkcs8_info(&kdata,
			    GNUTLS_X509_FMT_DER, &schema, &cipher, salt,
			    &salt_size, &iter, &oid) >= 0);
			gnutls_free(oid);
			oid = NULL;
			assert_int_equal(schema, want_schema);
			assert_int_equal(gnutls_pkcs12_bag_get_friendly_name(
			    bag, 0, &fn), 0);
			assert_string_equal(fn, name);
		}
		gnutls_pkcs12_bag_deinit(bag);
	}
	assert_int_equal(n_enc, 1);
	assert_int_equal(n_shrouded, 1);

	/* Read back: a wrong password gets nothing; the right one the key and
	   a chain whose leaf is the key's (GnuTLS pairs them by localKeyID). */
	assert_true(gnutls_pkcs12_simple_parse(p12, "wrong password", &key,
	    &chain, &chain_len, NULL, NULL, NULL, 0) < 0);
	assert_int_equal(gnutls_pkcs12_simple_parse(p12, pass, &key, &chain,
	    &chain_len, NULL, NULL, NULL, 0), 0);
	assert_true(chain_len >= 1);
	assert_int_equal(gnutls_x509_privkey_init(&want), 0);
	assert_int_equal(gnutls_x509_privkey_import(want, &kd,
	    GNUTLS_X509_FMT_PEM), 0);
	assert_int_equal(gnutls_x509_privkey_get_key_id(want, 0, id1, &l1), 0);
	assert_int_equal(gnutls_x509_crt_get_key_id(chain[0], 0, id2, &l2), 0);
	assert_int_equal(l1, l2);
	assert_memory_equal(id1, id2, l1);
	l2 = sizeof(id2);
	assert_int_equal(gnutls_x509_privkey_get_key_id(key, 0, id2, &l2), 0);
	assert_memory_equal(id1, id2, l1);
	gnutls_x509_privkey_deinit(want);
	gnutls_x509_privkey_deinit(key);
	for (unsigned i = 0; i < chain_len; i++)
		gnutls_x509_crt_deinit(chain[i]);
	gnutls_free(chain);
	gnutls_pkcs12_deinit(p12);
}

static void
one_mode(enum ca_p12_mode mode, enum ca_key_type kt)
{
	struct ca_p12_options	 o = { "s3cret pass", NULL, mode };
	struct ca_error		 e;
	gnutls_datum_t		 leaf, issuer;
	char			*key = key_new(kt), *other = key_new(kt), *certs;
	uint8_t			*der = NULL;
	size_t			 len = 0;

	self_signed(key, "alice", &leaf);
	self_signed(other, "Example CA", &issuer);
	/* Leaf then an issuer: both go in, the leaf paired with the key. */
	certs = malloc(leaf.size + issuer.size + 1);
	assert_non_null(certs);
	memcpy(certs, leaf.data, leaf.size);
	memcpy(certs + leaf.size, issuer.data, issuer.size);
	certs[leaf.size + issuer.size] = '\0';
	assert_int_equal(ca_p12_build(key, strlen(key), certs, strlen(certs),
	    &o, &der, &len, &e), CA_OK);
	check_p12(der, len, o.password, mode, key, "alice");
	free(der);
	der = NULL;

	o.friendly_name = "My mTLS identity";
	assert_int_equal(ca_p12_build(key, strlen(key), (char *)leaf.data,
	    leaf.size, &o, &der, &len, &e), CA_OK);
	check_p12(der, len, o.password, mode, key, "My mTLS identity");
	free(der);
	der = NULL;

	/* The wrong key for the leaf, an empty password, no certificate. */
	assert_int_equal(ca_p12_build(other, strlen(other), certs,
	    strlen(certs), &o, &der, &len, &e), CA_EINVAL);
	assert_non_null(strstr(e.msg, "does not match"));
	o.password = "";
	assert_int_equal(ca_p12_build(key, strlen(key), certs, strlen(certs),
	    &o, &der, &len, &e), CA_EINVAL);
	o.password = "x";
	assert_int_equal(ca_p12_build(key, strlen(key), "no pem", 6, &o, &der,
	    &len, &e), CA_EMALF);
	assert_int_equal(ca_p12_build("junk", 4, certs, strlen(certs), &o, &der,
	    &len, &e), CA_EMALF);
	assert_null(der);

	free(certs);
	gnutls_free(leaf.data);
	gnutls_free(issuer.data);
	free(key);
	free(other);
}

static void
test_p12_modern_ec(void **state)
{
	(void)state;
	one_mode(CA_P12_MODERN, CA_KEY_ECDSA_P256);
}

static void
test_p12_legacy_ec(void **state)
{
	(void)state;
	one_mode(CA_P12_LEGACY, CA_KEY_ECDSA_P384);
}

static void
test_p12_modern_rsa(void **state)
{
	(void)state;
	one_mode(CA_P12_MODERN, CA_KEY_RSA2048);
}

static void
test_p12_legacy_rsa(void **state)
{
	(void)state;
	one_mode(CA_P12_LEGACY, CA_KEY_RSA2048);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_types_round_trip),
		cmocka_unit_test(test_key_type_of_refuses),
		cmocka_unit_test(test_p12_modern_ec),
		cmocka_unit_test(test_p12_legacy_ec),
		cmocka_unit_test(test_p12_modern_rsa),
		cmocka_unit_test(test_p12_legacy_rsa),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
