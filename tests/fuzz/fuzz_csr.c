/*
 * libFuzzer target for ca_csr_parse: PEM/DER framing, the strict DER
 * reader's walk of the CertificationRequest (common/der.c), the
 * self-signature, key and signature policy, subject, extension and SAN
 * extraction. Seed with tests/data/csr/accept, issue and reject.
 * corpus: data/csr/accept data/csr/reject data/csr/issue
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ca/ca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ca_csr	*csr = NULL;
	struct ca_error	 err;

	if (ca_csr_parse(data, size, &csr, &err) == CA_OK) {
		/* Touch what callers read. */
		if (strlen(ca_csr_subject(csr)) > 1 << 20 ||
		    strlen(ca_csr_cn(csr)) > CA_NAME_MAX)
			__builtin_trap();
		ca_csr_free(csr);
	} else if (csr != NULL || err.code == CA_OK || err.msg[0] == '\0')
		__builtin_trap();	/* a refusal must explain itself */
	return 0;
}
