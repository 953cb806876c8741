/*
 * Base64 (RFC 4648 section 4, the standard alphabet), strict on input:
 * EST bodies (RFC 7030, RFC 8951) and HTTP Basic credentials (RFC 7617)
 * come from untrusted clients.
 */
#ifndef MTLSCA_COMMON_BASE64_H
#define MTLSCA_COMMON_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* The most bytes len characters of base64 can decode to. */
#define BASE64_DECODED_MAX(len)	((len) / 4 * 3 + 3)

/*
 * Decode in[0..len) into out (room for max bytes); *out_len gets the count.
 * With spaces, whitespace (SP, HT, CR, LF) is skipped wherever it is;
 * otherwise it is refused like anything else outside the alphabet; so are
 * a length (without the whitespace) that is not a multiple of 4, '=' but
 * in the last one or two places, and non-zero bits under the padding (RFC
 * 4648 section 3.5: one encoding per value). An empty input decodes to
 * nothing. CA_EMALF with a sentence saying where, or CA_ETOOBIG when the
 * result is over max (out then holds a part of it). err may be NULL.
 */
int base64_decode(const char *in, size_t len, bool spaces, uint8_t *out,
    size_t max, size_t *out_len, struct ca_error *err);

/*
 * Encode in[0..len) with padding, a line break ("\n") after every width
 * characters (0: one line) and after the last. On success *out owns a
 * NUL-terminated malloc'd buffer of *out_len characters. CA_ENOMEM.
 */
int base64_encode(const uint8_t *in, size_t len, size_t width, char **out,
    size_t *out_len, struct ca_error *err);

/* The most characters base64_encode_to writes for len octets at width. */
size_t base64_encoded_size(size_t len, size_t width);
/* The same encoding into out (room for base64_encoded_size characters, no
   NUL written); returns how many were written. */
size_t base64_encode_to(const uint8_t *in, size_t len, size_t width,
    char *out);

#endif
