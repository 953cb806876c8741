/*
 * Strict base64 and the CERTIFICATE blocks of a PEM text (RFC 7468
 * section 5.1). Written by hand rather than through GnuTLS's PEM reader:
 * it decodes a whole chain into one buffer with one allocation, says which
 * rule a text breaks, and refuses what GnuTLS would let pass (bits past
 * the last byte, a truncated block after a good one).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/pem.h"

#define BEGIN		"-----BEGIN "
#define DASHES		"-----"
#define CERT_LABEL	"CERTIFICATE"
#define END_CERT	"-----END CERTIFICATE-----"

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
		    pc.buf + used, cap - used, &n, NULL);
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

size_t
pem_encoded_len(const char *label, size_t len)
{
	size_t chars = (len + 2) / 3 * 4;

	/* "-----BEGIN " label "-----\n", the base64 in lines of 64 each
	   ending with a line break, the same END line. */
	return 2 * (strlen(label) + 17) - 2 + chars + (chars + 63) / 64;
}

int
pem_encode_stream(const char *label, const uint8_t *der, size_t len,
    int (*put)(void *ctx, const char *text, size_t n), void *ctx)
{
	char	*buf;
	size_t	 ll = strlen(label), n, i;
	int	 rc;

	if (ll > 64 || len == 0)
		return CA_EINVAL;
	if ((buf = malloc(base64_encoded_size(PEM_STREAM_CHUNK, 64) + 128)) ==
	    NULL)
		return CA_ENOMEM;
	n = (size_t)sprintf(buf, "-----BEGIN %s-----\n", label);
	rc = put(ctx, buf, n);
	/* Chunks of whole 48-octet lines: each ends with its line break, so
	   the text is the same as pem_encode's, byte for byte. */
	for (i = 0; rc == CA_OK && i < len; i += n) {
		n = len - i < PEM_STREAM_CHUNK ? len - i : PEM_STREAM_CHUNK;
		rc = put(ctx, buf, base64_encode_to(der + i, n, 64, buf));
	}
	if (rc == CA_OK)
		rc = put(ctx, buf, (size_t)sprintf(buf, "-----END %s-----\n",
		    label));
	free(buf);
	return rc;
}

int
pem_encode(const char *label, const uint8_t *der, size_t len, char **out,
    size_t *out_len, struct ca_error *err)
{
	size_t	 ll = strlen(label), size;
	char	*s, *p;

	if (len > SIZE_MAX / 4 || ll > 64)
		return ca_error_set(err, CA_ETOOBIG, "PEM: input too big");
	/* "-----BEGIN " label "-----\n", the same with END. */
	size = 2 * (ll + 17) + base64_encoded_size(len, 64) + 1;
	if ((s = malloc(size)) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	p = s + sprintf(s, "-----BEGIN %s-----\n", label);
	if (len > 0)
		p += base64_encode_to(der, len, 64, p);
	p += sprintf(p, "-----END %s-----\n", label);
	*out = s;
	*out_len = (size_t)(p - s);
	return CA_OK;
}

int
pem_cat(char **buf, size_t *len, const char *text, size_t n)
{
	char *nb;

	if ((nb = realloc(*buf, *len + n + 3)) == NULL)
		return CA_ENOMEM;
	if (*len > 0 && nb[*len - 1] != '\n')
		nb[(*len)++] = '\n';
	memcpy(nb + *len, text, n);
	*len += n;
	if (n > 0 && text[n - 1] != '\n')
		nb[(*len)++] = '\n';
	nb[*len] = '\0';
	*buf = nb;
	return CA_OK;
}
