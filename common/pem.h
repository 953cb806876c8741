/*
 * Certificates as text: strict base64 (RFC 4648) and the CERTIFICATE
 * blocks of a PEM text (RFC 7468), decoded into one buffer. No library:
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

/*
 * Decode base64 (RFC 4648 section 4, the standard alphabet) of in[0..len)
 * into out (cap bytes; 3 * len / 4 always fits). With spaces, the bytes
 * space, tab, CR and LF are skipped wherever they are (PEM's line breaks).
 * Strict: padding only at the end and only as much as needed, no bits set
 * past the last byte (section 3.5), no other character. CA_EMALF on any
 * of these, CA_ETOOBIG when out is too small; *out_len on success.
 */
int base64_decode(const char *in, size_t len, bool spaces, uint8_t *out,
    size_t cap, size_t *out_len);

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

#endif
