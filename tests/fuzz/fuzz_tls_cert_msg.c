/*
 * libFuzzer target for the TLS Certificate message reader of the handshake
 * guard (http/tlsguard.c): the framing of RFC 5246 section 7.4.2 and RFC
 * 8446 section 4.4.2, then ALB's key rule on the leaf (parsing only).
 * Input: one flag byte (bit 0: TLS 1.3 framing), then the message body.
 * Invariants: a message that parses has its leaf inside the input, a leaf
 * exactly when it has a certificate, and the check agrees with the parse.
 * Seeds: tests/fuzz/corpus/fuzz_tls_cert_msg (make-seeds.py there).
 * corpus: fuzz/corpus/fuzz_tls_cert_msg
 */
#undef NDEBUG
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*leaf;
	size_t		 leaf_len, n;
	struct ca_error	 e;
	bool		 tls13;
	int		 rc;

	if (size < 1)
		return 0;
	tls13 = data[0] & 1;
	rc = http_tls_cert_msg_parse(data + 1, size - 1, tls13, &leaf,
	    &leaf_len, &n);
	if (rc == CA_OK) {
		assert((n == 0) == (leaf == NULL));
		if (leaf != NULL)
			assert(leaf > data && leaf_len > 0 &&
			    leaf + leaf_len <= data + size);
	}
	rc = http_tls_cert_msg_check(data + 1, size - 1, tls13, &e);
	assert(rc == CA_OK || e.code == rc);
	return 0;
}
