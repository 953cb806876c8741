/*
 * libFuzzer target for the store's value decoders: certificate records
 * (store_record_decode), tokens and audit entries. A value that decodes must
 * re-encode to the very same bytes (one exact encoding; version 2 records,
 * a later CA's after a rotation, carry their ca_id), and nothing may
 * read out of bounds, leak or crash. Seeds: tests/data/record/.
 * corpus: data/record
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cert_record	 rec;
	struct store_token	 tok;
	struct store_audit	 a;
	uint8_t			*buf = NULL, tbuf[STORE_TOKEN_ENC_MAX];
	size_t			 len = 0;

	if (store_record_decode(data, size, &rec) == CA_OK) {
		if (rec.subject != NULL)
			assert(strlen(rec.subject) <= 4096);
		assert(rec.serial_len >= 1 && rec.serial_len <= SERIAL_MAX + 1);
		assert(rec.der_len <= 65536);
		if (store_record_encode(&rec, &buf, &len) != CA_OK)
			abort();
		if (len != size || memcmp(buf, data, size) != 0)
			abort();
		free(buf);
		cert_record_clear(&rec);
	}
	if (store_token_decode(data, size, &tok) == CA_OK) {
		if (store_token_encode(&tok, tbuf, &len) != CA_OK ||
		    len != size || memcmp(tbuf, data, size) != 0)
			abort();
	}
	if (store_audit_decode(data, size, &a) == CA_OK) {
		buf = NULL;
		if (store_audit_encode(a.at, a.who, a.action, a.detail, &buf,
		    &len) != CA_OK || len != size ||
		    memcmp(buf, data, size) != 0)
			abort();
		free(buf);
	}
	return 0;
}
