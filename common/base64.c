/*
 * Base64 (RFC 4648 section 4). The decoder takes one spelling per value:
 * the standard alphabet, padding to a multiple of four, zero bits under
 * the padding; only whitespace is skipped, since EST clients break their
 * lines as MIME does (RFC 2045 section 6.8) or not at all (RFC 8951).
 */
#include <stdint.h>
#include <stdlib.h>

#include "common/base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of c, -1 outside the alphabet. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int
b64_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
base64_decode(const char *in, size_t len, uint8_t *out, size_t max,
    size_t *out_len, struct ca_error *err)
{
	uint32_t	acc = 0;
	size_t		n = 0, group = 0, pad = 0, at = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char	c = (unsigned char)in[i];
		int		v;

		if (b64_space(c))
			continue;
		at++;
		if (c == '=') {
			/* Only as the last one or two of a group of four. */
			if (group < 2)
				return ca_error_set(err, CA_EMALF, "base64: "
				    "'=' at character %zu is not padding", at);
			pad++;
			group++;
			acc <<= 6;
		} else {
			if ((v = b64_value(c)) < 0)
				return ca_error_set(err, CA_EMALF, "base64: "
				    "character %zu (byte 0x%02x) is not in the "
				    "alphabet", at, c);
			if (pad > 0)
				return ca_error_set(err, CA_EMALF, "base64: "
				    "data after the padding at character %zu",
				    at);
			acc = acc << 6 | (uint32_t)v;
			group++;
		}
		if (group < 4)
			continue;
		/* A full group: 3 bytes, less one per '='. */
		if ((pad == 1 && (acc & 0xff) != 0) ||
		    (pad == 2 && (acc & 0xffff) != 0))
			return ca_error_set(err, CA_EMALF, "base64: non-zero "
			    "bits under the padding (RFC 4648 section 3.5)");
		for (size_t k = 0; k < 3 - pad; k++) {
			if (n >= max)
				return ca_error_set(err, CA_ETOOBIG, "base64: "
				    "decodes to more than %zu bytes", max);
			out[n++] = (uint8_t)(acc >> (16 - 8 * k));
		}
		acc = 0;
		group = 0;
		if (pad > 0)
			pad = 3;	/* the end: nothing may follow */
	}
	if (group != 0)
		return ca_error_set(err, CA_EMALF, "base64: %zu characters "
		    "is not a multiple of 4 (padding missing or the text cut)",
		    at);
	*out_len = n;
	return CA_OK;
}

int
base64_encode(const uint8_t *in, size_t len, size_t width, char **out,
    size_t *out_len, struct ca_error *err)
{
	size_t	 chars = (len + 2) / 3 * 4;
	size_t	 lines = width == 0 ? 1 : (chars + width - 1) / width;
	size_t	 col = 0;
	char	*buf, *p;

	if (len > SIZE_MAX / 4)
		return ca_error_set(err, CA_ETOOBIG, "base64: input too big");
	if (lines == 0)
		lines = 1;
	if ((buf = malloc(chars + lines + 1)) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	p = buf;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t	v = (uint32_t)in[i] << 16;
		size_t		left = len - i;
		char		q[4];

		if (left > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		q[0] = alphabet[v >> 18 & 63];
		q[1] = alphabet[v >> 12 & 63];
		q[2] = left > 1 ? alphabet[v >> 6 & 63] : '=';
		q[3] = left > 2 ? alphabet[v & 63] : '=';
		for (size_t k = 0; k < 4; k++) {
			*p++ = q[k];
			if (width != 0 && ++col == width) {
				*p++ = '\n';
				col = 0;
			}
		}
	}
	if (p == buf || p[-1] != '\n')
		*p++ = '\n';
	*p = '\0';
	*out_len = (size_t)(p - buf);
	*out = buf;
	return CA_OK;
}
