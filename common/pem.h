/*
 * Certificates as text: the CERTIFICATE blocks of a PEM text (RFC 7468),
 * decoded (common/base64.h, strict) into one buffer. No library:
 * the verifier decodes a client's chain on every request, and the CLI reads
 * the same chains from files.
 */
#ifndef MTLSCA_COMMON_PEM_H
#define MTLSCA_COMMON_PEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* The most certificates pem_certs_decode keeps. */
#define PEM_CERTS_MAX	16

/* The certificates of a PEM text, leaf first. */
struct pem_certs {
	uint8_t		*buf;			/* owned: all the DER */
	const uint8_t	*der[PEM_CERTS_MAX];	/* into buf */
	size_t		 len[PEM_CERTS_MAX];
	size_t		 n;
};

/*
 * Every "-----BEGIN CERTIFICATE-----" ... "-----END CERTIFICATE-----"
 * block of text[0..len) (need not be NUL-terminated), decoded, in order.
 * Text outside the blocks is ignored (RFC 7468 section 2 lets explanatory
 * text surround them); inside, only base64 and line breaks. CA_EMALF with
 * a sentence for a block without its end (a truncated PEM), another label
 * (a key pasted by mistake), a bad character, a NUL or no certificate at
 * all; CA_ETOOBIG for more than max (at most PEM_CERTS_MAX) certificates
 * or one over der_max bytes. On success *out owns buf (pem_certs_clear);
 * on failure it holds nothing.
 */
int pem_certs_decode(const char *text, size_t len, size_t max, size_t der_max,
    struct pem_certs *out, struct ca_error *err);
void pem_certs_clear(struct pem_certs *c);

/*
 * der as one PEM block (RFC 7468) labelled label ("CERTIFICATE",
 * "X509 CRL"): base64 in 64-column lines, a line break after each line and
 * after the END line, as GnuTLS and OpenSSL write it. On success *out owns
 * a NUL-terminated malloc'd string of *out_len characters. CA_ENOMEM or
 * CA_ETOOBIG; err may be NULL.
 */
int pem_encode(const char *label, const uint8_t *der, size_t len, char **out,
    size_t *out_len, struct ca_error *err);

/* The length of pem_encode's text for len octets (no NUL). */
size_t pem_encoded_len(const char *label, size_t len);

/*
 * pem_encode's text for a non-empty der, handed to put(ctx, text, n) in
 * pieces of whole lines (at most PEM_STREAM_CHUNK octets of der each),
 * for a PEM too big to hold twice (a CRL of a million entries is 62 MB).
 * Returns CA_OK, CA_ENOMEM, CA_EINVAL, or the first error put returns
 * (the encoding stops there).
 */
#define PEM_STREAM_CHUNK	(48u * 16384)	/* 768 KiB in, 1 MiB out */
int pem_encode_stream(const char *label, const uint8_t *der, size_t len,
    int (*put)(void *ctx, const char *text, size_t n), void *ctx);

/*
 * Append n bytes of PEM text to *buf (malloc'd, *len bytes, kept
 * NUL-terminated; both may start NULL/0), each on lines of its own: a
 * newline goes before it when *buf does not end with one, and after it
 * when text does not, so that blocks from several files or CAs follow one
 * another. CA_ENOMEM leaves *buf as it was.
 */
int pem_cat(char **buf, size_t *len, const char *text, size_t n);

#endif
