/*
 * libFuzzer target for ca_name_text (ca/names.c), differential: the input
 * is the content of a Name SEQUENCE; whenever ca_name_text writes a text,
 * gnutls_x509_rdn_get2 must read the same Name and write the same text,
 * octet for octet (the enrollment path takes one for the other). Nothing
 * may read out of bounds or write past the buffer it was given.
 * corpus: fuzz/corpus/fuzz_name_text
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "ca/ca_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		text[512], small[16];
	uint8_t		*der;
	size_t		len, hdr;
	gnutls_datum_t	in, out = { NULL, 0 };
	int		rc;

	if (size > 60000)
		return 0;
	len = ca_name_text(data, size, text, sizeof(text));
	/* a short buffer: the same text if it fits, else none */
	if (len > 0 && len < sizeof(small))
		assert(ca_name_text(data, size, small, sizeof(small)) == len &&
		    strcmp(small, text) == 0);
	else
		assert(ca_name_text(data, size, small, sizeof(small)) == 0);
	if (len == 0)
		return 0;
	assert(strlen(text) == len);
	if ((der = malloc(size + 4)) == NULL)
		return 0;
	der[0] = 0x30;
	if (size < 0x80) {
		der[1] = (uint8_t)size;
		hdr = 2;
	} else if (size < 0x100) {
		der[1] = 0x81;
		der[2] = (uint8_t)size;
		hdr = 3;
	} else {
		der[1] = 0x82;
		der[2] = (uint8_t)(size >> 8);
		der[3] = (uint8_t)size;
		hdr = 4;
	}
	memcpy(der + hdr, data, size);
	in.data = der;
	in.size = (unsigned)(hdr + size);
	rc = gnutls_x509_rdn_get2(&in, &out, 0);
	assert(rc == 0 && out.size == len && memcmp(out.data, text, len) == 0);
	gnutls_free(out.data);
	free(der);
	return 0;
}
