/*
 * ca/est.c: the certs-only PKCS#7 (read back by GnuTLS: the same
 * certificates and no signer) and the CSR attributes of a
 * profile (exact DER). Needs MTLSCA_TEST_DATA (set by CTest).
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs7.h>
#include <gnutls/x509.h>

#include "ca/ca.h"
#include "common/util.h"

/* The DER of tests/data/crl/NAME (a PEM certificate); free with free(). */
static uint8_t *
cert_der(const char *name, size_t *len)
{
	const char	*data = getenv("MTLSCA_TEST_DATA");
	char		 path[512];
	uint8_t		*pem, *out;
	size_t		 n;
	gnutls_datum_t	 in, der;
	struct ca_error	 e;

	assert_non_null(data);
	snprintf(path, sizeof(path), "%s/crl/%s", data, name);
	assert_int_equal(file_read(path, 65536, &pem, &n, &e), CA_OK);
	in.data = pem;
	in.size = (unsigned)n;
	assert_true(gnutls_pem_base64_decode2("CERTIFICATE", &in, &der) >= 0);
	out = malloc(der.size);
	assert_non_null(out);
	memcpy(out, der.data, der.size);
	*len = der.size;
	gnutls_free(der.data);
	free(pem);
	return out;
}

static bool
contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t k)
{
	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(hay + i, needle, k) == 0)
			return true;
	return false;
}

static void
test_pkcs7_certs(void **state)
{
	/* OID signedData, 1.2.840.113549.1.7.2 (RFC 5652 section 5.1) */
	static const uint8_t signed_data[] = { 0x06, 0x09, 0x2a, 0x86, 0x48,
	    0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02 };
	uint8_t		*c[2], *p7 = NULL;
	size_t		 l[2], p7_len;
	gnutls_pkcs7_t	 pk;
	gnutls_datum_t	 d = { NULL, 0 };
	struct ca_error	 e;

	(void)state;
	c[0] = cert_der("rsa-ca.pem", &l[0]);
	c[1] = cert_der("ecdsa-ca.pem", &l[1]);
	for (size_t n = 1; n <= 2; n++) {
		assert_int_equal(ca_pkcs7_certs((const uint8_t *const *)c, l, n,
		    &p7, &p7_len, &e), CA_OK);
		/* ContentInfo { signedData (1.2.840.113549.1.7.2) ... } */
		assert_true(p7_len > 20 && p7[0] == 0x30);
		assert_true(contains(p7, p7_len, signed_data,
		    sizeof(signed_data)));
		d.data = p7;
		d.size = (unsigned)p7_len;
		assert_int_equal(gnutls_pkcs7_init(&pk), 0);
		assert_int_equal(gnutls_pkcs7_import(pk, &d,
		    GNUTLS_X509_FMT_DER), 0);
		assert_int_equal(gnutls_pkcs7_get_crt_count(pk), (int)n);
		assert_int_equal(gnutls_pkcs7_get_signature_count(pk), 0);
		/* Each once; in DER's order for a SET OF, not ours. */
		for (size_t i = 0; i < n; i++) {
			gnutls_datum_t	got;
			size_t		found = 0;

			assert_int_equal(gnutls_pkcs7_get_crt_raw2(pk,
			    (unsigned)i, &got), 0);
			for (size_t k = 0; k < n; k++)
				found += got.size == l[k] &&
				    memcmp(got.data, c[k], l[k]) == 0;
			assert_int_equal(found, 1);
			gnutls_free(got.data);
		}
		if (n == 2) {
			gnutls_datum_t a, b;

			assert_int_equal(gnutls_pkcs7_get_crt_raw2(pk, 0, &a),
			    0);
			assert_int_equal(gnutls_pkcs7_get_crt_raw2(pk, 1, &b),
			    0);
			assert_false(a.size == b.size &&
			    memcmp(a.data, b.data, a.size) == 0);
			gnutls_free(a.data);
			gnutls_free(b.data);
		}
		gnutls_pkcs7_deinit(pk);
		free(p7);
		p7 = NULL;
	}
	/* Nothing to carry, or something that is not a certificate. */
	assert_int_equal(ca_pkcs7_certs((const uint8_t *const *)c, l, 0, &p7,
	    &p7_len, &e), CA_EINVAL);
	l[0] = 10;
	assert_int_equal(ca_pkcs7_certs((const uint8_t *const *)c, l, 1, &p7,
	    &p7_len, &e), CA_EMALF);
	assert_null(p7);
	free(c[0]);
	free(c[1]);
}

static void
test_csrattrs(void **state)
{
	/* SEQUENCE { commonName } */
	static const uint8_t cn[] = { 0x30, 0x05, 0x06, 0x03, 0x55, 0x04,
	    0x03 };
	/* SEQUENCE { commonName, organizationName, emailAddress,
	   domainComponent } */
	static const uint8_t more[] = { 0x30, 0x21,
	    0x06, 0x03, 0x55, 0x04, 0x03,
	    0x06, 0x03, 0x55, 0x04, 0x0a,
	    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01,
	    0x06, 0x0a, 0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01,
	    0x19 };
	struct ca_profile	 p;
	struct ca_error		 e;
	uint8_t			*der = (uint8_t *)"x";
	size_t			 len = 1;

	(void)state;
	ca_profile_default(&p);
	assert_int_equal(ca_est_csrattrs(&p, &der, &len, &e), CA_OK);
	assert_int_equal(len, sizeof(cn));
	assert_memory_equal(der, cn, sizeof(cn));
	free(der);

	snprintf(p.subject_required[1], sizeof(p.subject_required[1]), "O");
	snprintf(p.subject_required[2], sizeof(p.subject_required[2]),
	    "emailAddress");
	snprintf(p.subject_required[3], sizeof(p.subject_required[3]), "DC");
	p.n_required = 4;
	assert_int_equal(ca_est_csrattrs(&p, &der, &len, &e), CA_OK);
	assert_int_equal(len, sizeof(more));
	assert_memory_equal(der, more, sizeof(more));
	free(der);

	/* Nothing required: nothing to say (EST's 204). */
	p.n_required = 0;
	assert_int_equal(ca_est_csrattrs(&p, &der, &len, &e), CA_OK);
	assert_null(der);
	assert_int_equal(len, 0);

	/* Every RDN name a profile may require has an OID that encodes. */
	p.n_required = CA_PROFILE_RDN_MAX;
	for (size_t i = 0; i < CA_PROFILE_RDN_MAX; i++)
		snprintf(p.subject_required[i], sizeof(p.subject_required[i]),
		    "%s", i % 2 ? "UID" : "emailAddress");
	assert_int_equal(ca_est_csrattrs(&p, &der, &len, &e), CA_OK);
	assert_int_equal(der[0], 0x30);
	assert_int_equal(der[1], 0x81);
	assert_int_equal(der[2], len - 3);
	free(der);
	snprintf(p.subject_required[0], sizeof(p.subject_required[0]),
	    "nonsense");
	assert_int_equal(ca_est_csrattrs(&p, &der, &len, &e), CA_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pkcs7_certs),
		cmocka_unit_test(test_csrattrs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
