/*
 * Base64 (RFC 4648 section 4). The decoder takes one spelling per value:
 * the standard alphabet, padding to a multiple of four, zero bits under
 * the padding; whitespace only where the caller allows it (EST clients
 * break their lines as MIME does, RFC 2045 section 6.8, or not at all,
 * RFC 8951; PEM breaks its lines; an HTTP header carries none).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Values of base64 characters (RFC 4648 table 1); B64_PAD for '=',
   B64_SPACE for space, tab, CR and LF, B64_BAD for the rest. */
#define B64_PAD		(-1)
#define B64_BAD		(-2)
#define B64_SPACE	(-3)
static const int8_t b64[256] = {
	-2, -2, -2, -2, -2, -2, -2, -2, -2, -3, -3, -2, -2, -3, -2, -2,
	-2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2,
	-3, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, 62, -2, -2, -2, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -2, -2, -2, -1, -2, -2,
	-2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -2, -2, -2, -2, -2,
	-2, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -2, -2, -2, -2, -2,
	-2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2,
	-2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2,
	-2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2,
	-2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2,
	-2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2,
	-2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2,
	-2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2,
	-2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2,
};

static int
too_big(struct ca_error *err, size_t max)
{
	return ca_error_set(err, CA_ETOOBIG, "base64: decodes to more than "
	    "%zu bytes", max);
}

int
base64_decode(const char *in, size_t len, bool spaces, uint8_t *out,
    size_t max, size_t *out_len, struct ca_error *err)
{
	const unsigned char	*p = (const unsigned char *)in, *end = p + len;
	uint32_t		 quad = 0;
	size_t			 n = 0, o = 0, pad = 0;

	while (p < end) {
		int v;

		/* Four data characters at once: the body of every line (the
		   verifier decodes a chain on every request). */
		if (n % 4 == 0 && pad == 0 && end - p >= 4) {
			int a = b64[p[0]], b = b64[p[1]], c = b64[p[2]];
			int d = b64[p[3]];

			if ((a | b | c | d) >= 0) {
				if (max - o < 3)
					return too_big(err, max);
				quad = (uint32_t)a << 18 | (uint32_t)b << 12 |
				    (uint32_t)c << 6 | (uint32_t)d;
				out[o++] = (uint8_t)(quad >> 16);
				out[o++] = (uint8_t)(quad >> 8);
				out[o++] = (uint8_t)quad;
				quad = 0;
				p += 4;
				n += 4;
				continue;
			}
		}
		v = b64[*p];
		if (v == B64_SPACE && spaces) {
			p++;
			continue;
		}
		if (v == B64_BAD || v == B64_SPACE)
			return ca_error_set(err, CA_EMALF, "base64: character "
			    "%zu (byte 0x%02x) is not in the alphabet", n + 1,
			    *p);
		p++;
		if (v == B64_PAD) {
			/* "xx==" or "xxx=": at most two, in the last quad. */
			if (n % 4 < 2 || ++pad > 2)
				return ca_error_set(err, CA_EMALF, "base64: '=' "
				    "at character %zu is not padding", n + 1);
			n++;
			continue;
		}
		if (pad > 0)
			return ca_error_set(err, CA_EMALF, "base64: data after "
			    "the padding at character %zu", n + 1);
		quad = quad << 6 | (uint32_t)v;
		if (++n % 4 == 0) {
			if (max - o < 3)
				return too_big(err, max);
			out[o++] = (uint8_t)(quad >> 16);
			out[o++] = (uint8_t)(quad >> 8);
			out[o++] = (uint8_t)quad;
			quad = 0;
		}
	}
	if (n % 4 != 0)
		return ca_error_set(err, CA_EMALF, "base64: %zu characters is "
		    "not a multiple of 4 (padding missing or the text cut)", n);
	/* RFC 4648 section 3.5: the bits under the padding are zero. */
	if (pad == 2) {
		/* "xx==": 12 bits for one byte; the low 4 must be zero. */
		if ((quad & 0x0f) != 0)
			goto bits;
		if (max - o < 1)
			return too_big(err, max);
		out[o++] = (uint8_t)(quad >> 4);
	} else if (pad == 1) {
		/* "xxx=": 18 bits for two bytes; the low 2 must be zero. */
		if ((quad & 0x03) != 0)
			goto bits;
		if (max - o < 2)
			return too_big(err, max);
		out[o++] = (uint8_t)(quad >> 10);
		out[o++] = (uint8_t)(quad >> 2);
	}
	*out_len = o;
	return CA_OK;
bits:
	return ca_error_set(err, CA_EMALF, "base64: non-zero bits under the "
	    "padding (RFC 4648 section 3.5)");
}

size_t
base64_encoded_size(size_t len, size_t width)
{
	size_t chars = (len + 2) / 3 * 4;
	size_t lines = width == 0 ? 1 : (chars + width - 1) / width;

	/* Empty input is one empty line. */
	return chars + (lines == 0 ? 1 : lines);
}

/* Four characters for the last one to three octets, with padding. */
static char *
quad(const uint8_t *in, size_t left, char *p)
{
	uint32_t v = (uint32_t)in[0] << 16;

	if (left > 1)
		v |= (uint32_t)in[1] << 8;
	if (left > 2)
		v |= in[2];
	p[0] = alphabet[v >> 18 & 63];
	p[1] = alphabet[v >> 12 & 63];
	p[2] = left > 1 ? alphabet[v >> 6 & 63] : '=';
	p[3] = left > 2 ? alphabet[v & 63] : '=';
	return p + 4;
}

size_t
base64_encode_to(const uint8_t *in, size_t len, size_t width, char *out)
{
	char	*p = out;
	size_t	 i = 0, col = 0;

	/* Whole lines first, without a column count: a CRL of a million
	   entries is 50 MB of PEM. */
	if (width != 0 && width % 4 == 0) {
		size_t line = width / 4 * 3;

		for (; i + line <= len; i += line) {
			for (size_t k = 0; k < line; k += 3)
				p = quad(in + i + k, 3, p);
			*p++ = '\n';
		}
	}
	for (; i < len; i += 3) {
		char q[4];

		quad(in + i, len - i, q);
		for (size_t k = 0; k < 4; k++) {
			*p++ = q[k];
			if (width != 0 && ++col == width) {
				*p++ = '\n';
				col = 0;
			}
		}
	}
	if (p == out || p[-1] != '\n')
		*p++ = '\n';
	return (size_t)(p - out);
}

int
base64_encode(const uint8_t *in, size_t len, size_t width, char **out,
    size_t *out_len, struct ca_error *err)
{
	char	*buf;

	if (len > SIZE_MAX / 4)
		return ca_error_set(err, CA_ETOOBIG, "base64: input too big");
	if ((buf = malloc(base64_encoded_size(len, width) + 1)) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	*out_len = base64_encode_to(in, len, width, buf);
	buf[*out_len] = '\0';
	*out = buf;
	return CA_OK;
}
