/*
 * libFuzzer target for CA bundles (publish/bundle.c): what a trust store's
 * GetTrustStoreCaCertificatesBundle Location serves, and extra_ca_files.
 * Invariants: a bundle that parses is written back as PEM blocks only (no
 * blank line), which parses to the same set of certificates with the same
 * set hash; no certificate twice; nothing reads out of bounds, leaks or
 * crashes. Seeds: the PEM files of tests/data/aws/ and tests/data/crl/.
 * corpus: data/aws data/crl
 */
/* The invariants are asserts: keep them in release builds too. */
#undef NDEBUG
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "publish/publish_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle	 a = { 0 }, b = { 0 };
	struct ca_error	 e;
	char		*text, *pem = NULL, sa[65], sb[65];
	size_t		 len;
	int		 rc;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	rc = bundle_add_pem(&a, text, size, "fuzz", &e);
	assert(rc == CA_OK || rc == CA_EMALF || rc == CA_ENOMEM ||
	    rc == CA_ECRYPTO);
	for (size_t i = 0; i < a.n; i++)
		for (size_t k = i + 1; k < a.n; k++)
			assert(strcmp(a.c[i].sha256, a.c[k].sha256) != 0);
	if (rc == CA_OK && a.n > 0 && bundle_pem(&a, &pem, &len, &e) == CA_OK) {
		assert(strlen(pem) == len && strstr(pem, "\n\n") == NULL);
		assert(bundle_add_pem(&b, pem, len, "again", &e) == CA_OK);
		assert(bundle_same_set(&a, &b));
		assert(bundle_set_sha256(&a, sa) == CA_OK);
		assert(bundle_set_sha256(&b, sb) == CA_OK);
		assert(strcmp(sa, sb) == 0);
		(void)bundle_check_alb(&a, &e);
	}
	free(pem);
	bundle_free(&a);
	bundle_free(&b);
	free(text);
	return 0;
}
