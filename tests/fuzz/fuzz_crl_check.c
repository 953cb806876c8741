/*
 * libFuzzer target for crl_check (PEM decoding, the strict CertificateList
 * parser, ALB's rules) and, on the same bytes, the parser alone and the PEM
 * decoder alone. Invariants: a CRL that parses re-encodes to PEM that
 * decodes to the same DER and parses to the same facts; the report's
 * counts match the parser's; nothing reads out of bounds, leaks or crashes.
 * Seeds: the .der and .pem files of tests/data/crl/.
 * corpus: data/crl
 */
/* The invariants are asserts: keep them in release builds too. */
#undef NDEBUG
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crl/crl.h"
#include "crl/crl_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crl_check_report	 rep;
	struct crl_parsed	 p, q;
	struct ca_error		 e;
	uint8_t			*der = NULL;
	size_t			 dlen, plen;
	unsigned		 blocks;
	bool			 outside;
	char			*pem = NULL;
	int			 rc;

	rc = crl_check(data, size, NULL, &rep, &e);
	assert(rc == CA_OK || rc == CA_EPOLICY || rc == CA_EMALF ||
	    rc == CA_ENOMEM);
	assert(rc == CA_OK ? rep.problems[0] == '\0' : e.msg[0] != '\0');
	assert(!rep.signature_ok);

	if (crl_parse_der(data, size, &p) == CA_OK) {
		assert(p.tbs >= data && p.tbs + p.tbs_len <= data + size);
		assert(p.issuer > p.tbs && p.issuer + p.issuer_len <=
		    p.tbs + p.tbs_len);
		assert(p.sig + p.sig_len == data + size);
		assert(rep.entries == p.entries);
		assert(!rep.pem);
		/* PEM round trip: same DER, same facts. */
		if (crl_pem_encode(data, size, &pem, &plen) == CA_OK) {
			assert(crl_pem_decode((const uint8_t *)pem, plen, &der,
			    &dlen, &blocks, &outside, &e) == CA_OK);
			assert(blocks == 1 && !outside);
			assert(dlen == size && memcmp(der, data, size) == 0);
			assert(crl_parse_der(der, dlen, &q) == CA_OK);
			assert(q.entries == p.entries && q.number == p.number &&
			    q.negative == p.negative);
			free(der);
			der = NULL;
		}
	}
	if (crl_pem_decode(data, size, &der, &dlen, &blocks, &outside, &e) ==
	    CA_OK)
		assert(dlen <= size);
	free(der);
	free(pem);
	return 0;
}
