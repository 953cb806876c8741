/*
 * libFuzzer target for ca_openssl_index_parse (OpenSSL index.txt).
 * Seed with tests/data/index/accept and tests/data/index/reject.
 * corpus: data/index/accept data/index/reject
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ca/ca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
line_cb(const struct ca_index_line *line, void *ctx)
{
	size_t *n = ctx;

	if ((line->status != 'V' && line->status != 'R' &&
	    line->status != 'E') || line->serial_len == 0 ||
	    line->serial_len > SERIAL_MAX + 1 || line->subject == NULL)
		__builtin_trap();
	if (line->status == 'R' && ca_reason_name(line->reason) == NULL)
		__builtin_trap();
	*n += strlen(line->subject);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ca_error	err;
	size_t		n = 0;
	int		rc;

	rc = ca_openssl_index_parse((const char *)data, size, line_cb, &n,
	    &err);
	if (rc != CA_OK && (err.code != rc || err.msg[0] == '\0'))
		__builtin_trap();
	return 0;
}
