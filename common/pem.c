/*
 * Strict base64 and the CERTIFICATE blocks of a PEM text (RFC 7468
 * section 5.1). Written by hand rather than through GnuTLS's PEM reader:
 * it decodes a whole chain into one buffer with one allocation, says which
 * rule a text breaks, and refuses what GnuTLS would let pass (bits past
 * the last byte, a truncated block after a good one).
 */
#include <stdlib.h>
#include <string.h>

#include "common/pem.h"

#define BEGIN		"-----BEGIN "
#define DASHES		"-----"
#define CERT_LABEL	"CERTIFICATE"
#define END_CERT	"-----END CERTIFICATE-----"

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

/* needle in hay[0..n), or NULL (memmem is not in POSIX). */
static const char *
find(const char *hay, size_t n, const char *needle)
{
	size_t		 k = strlen(needle);
	const char	*p = hay, *end = hay + n;

	while ((size_t)(end - p) >= k &&
	    (p = memchr(p, needle[0], (size_t)(end - p) - k + 1)) != NULL) {
		if (memcmp(p, needle, k) == 0)
			return p;
		p++;
	}
	return NULL;
}

int
base64_decode(const char *in, size_t len, bool spaces, uint8_t *out,
    size_t cap, size_t *out_len)
{
	const unsigned char	*p = (const unsigned char *)in, *end = p + len;
	uint32_t		 quad = 0;
	size_t			 n = 0, o = 0, pad = 0;

	while (p < end) {
		int v;

		/* Four data characters at once: the body of every line. */
		if (n % 4 == 0 && pad == 0 && end - p >= 4) {
			int a = b64[p[0]], b = b64[p[1]], c = b64[p[2]];
			int d = b64[p[3]];

			if ((a | b | c | d) >= 0) {
				if (cap - o < 3)
					return CA_ETOOBIG;
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
		v = b64[*p++];
		if (v == B64_SPACE && spaces)
			continue;
		if (v == B64_BAD || v == B64_SPACE)
			return CA_EMALF;
		if (v == B64_PAD) {
			/* "xx==" or "xxx=": at most two, in the last quad. */
			if (n % 4 < 2 || ++pad > 2)
				return CA_EMALF;
			n++;
			continue;
		}
		if (pad > 0)
			return CA_EMALF;	/* data after padding */
		quad = quad << 6 | (uint32_t)v;
		if (++n % 4 == 0) {
			if (cap - o < 3)
				return CA_ETOOBIG;
			out[o++] = (uint8_t)(quad >> 16);
			out[o++] = (uint8_t)(quad >> 8);
			out[o++] = (uint8_t)quad;
			quad = 0;
		}
	}
	if (n % 4 != 0)
		return CA_EMALF;	/* unpadded or cut short */
	if (pad == 2) {
		/* "xx==": 12 bits for one byte; the low 4 must be zero. */
		if ((quad & 0x0f) != 0)
			return CA_EMALF;
		if (cap - o < 1)
			return CA_ETOOBIG;
		out[o++] = (uint8_t)(quad >> 4);
	} else if (pad == 1) {
		/* "xxx=": 18 bits for two bytes; the low 2 must be zero. */
		if ((quad & 0x03) != 0)
			return CA_EMALF;
		if (cap - o < 2)
			return CA_ETOOBIG;
		out[o++] = (uint8_t)(quad >> 10);
		out[o++] = (uint8_t)(quad >> 2);
	}
	*out_len = o;
	return CA_OK;
}

void
pem_certs_clear(struct pem_certs *c)
{
	if (c == NULL)
		return;
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

int
pem_certs_decode(const char *text, size_t len, size_t max, size_t der_max,
    struct pem_certs *out, struct ca_error *err)
{
	struct pem_certs	 pc;
	const char		*p = text, *end = text + len;
	size_t			 used = 0, cap;
	int			 rc;

	memset(&pc, 0, sizeof(pc));
	memset(out, 0, sizeof(*out));
	if (max > PEM_CERTS_MAX)
		max = PEM_CERTS_MAX;
	if (text == NULL || len == 0)
		return ca_error_set(err, CA_EMALF, "no certificate: the text "
		    "is empty");
	if (memchr(text, '\0', len) != NULL)
		return ca_error_set(err, CA_EMALF, "a NUL byte in the PEM "
		    "text");
	/* Base64 is 4 characters for 3 bytes: the DER never needs more. */
	cap = len / 4 * 3 + 3;
	if ((pc.buf = malloc(cap)) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	for (;;) {
		const char	*b, *label, *lend, *body, *stop;
		size_t		 n;

		b = find(p, (size_t)(end - p), BEGIN);
		if (b == NULL)
			break;
		label = b + strlen(BEGIN);
		lend = find(label, (size_t)(end - label), DASHES);
		if (lend == NULL || memchr(label, '\n', (size_t)(lend -
		    label)) != NULL) {
			rc = ca_error_set(err, CA_EMALF, "certificate %zu: a "
			    "BEGIN line without its closing dashes (RFC 7468 "
			    "section 2)", pc.n + 1);
			goto fail;
		}
		if ((size_t)(lend - label) != strlen(CERT_LABEL) ||
		    memcmp(label, CERT_LABEL, strlen(CERT_LABEL)) != 0) {
			rc = ca_error_set(err, CA_EMALF, "a PEM block labelled "
			    "\"%.*s\": only CERTIFICATE blocks are read (RFC "
			    "7468 section 5.1)", (int)(lend - label > 40 ? 40 :
			    lend - label), label);
			goto fail;
		}
		if (pc.n == max) {
			rc = ca_error_set(err, CA_ETOOBIG, "more than %zu "
			    "certificates in the chain", max);
			goto fail;
		}
		body = lend + strlen(DASHES);
		stop = find(body, (size_t)(end - body), END_CERT);
		if (stop == NULL) {
			rc = ca_error_set(err, CA_EMALF, "certificate %zu is cut "
			    "short: no \"" END_CERT "\" line (a truncated "
			    "PEM)", pc.n + 1);
			goto fail;
		}
		/* Over the cap before decoding: no work for a huge block. */
		if ((size_t)(stop - body) / 4 * 3 > der_max + 3) {
			rc = ca_error_set(err, CA_ETOOBIG, "certificate %zu is "
			    "over %zu bytes", pc.n + 1, der_max);
			goto fail;
		}
		rc = base64_decode(body, (size_t)(stop - body), true,
		    pc.buf + used, cap - used, &n);
		if (rc != CA_OK || n == 0) {
			rc = ca_error_set(err, CA_EMALF, "certificate %zu: %s "
			    "(RFC 4648 section 4)", pc.n + 1, n == 0 && rc ==
			    CA_OK ? "no base64 between BEGIN and END" :
			    "bad base64");
			goto fail;
		}
		if (n > der_max) {
			rc = ca_error_set(err, CA_ETOOBIG, "certificate %zu is "
			    "%zu bytes, over %zu", pc.n + 1, n, der_max);
			goto fail;
		}
		pc.der[pc.n] = pc.buf + used;
		pc.len[pc.n] = n;
		pc.n++;
		used += n;
		p = stop + strlen(END_CERT);
	}
	if (pc.n == 0) {
		rc = ca_error_set(err, CA_EMALF, "no \"-----BEGIN CERTIFICATE"
		    "-----\" block in the text");
		goto fail;
	}
	*out = pc;
	return CA_OK;
fail:
	pem_certs_clear(&pc);
	return rc;
}
