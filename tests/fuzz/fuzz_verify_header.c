/*
 * libFuzzer target for what a proxy forwards to GET /v1/verify
 * (http/verify_header.c): the first byte picks the decoder — 'p' ALB's and
 * nginx's URL-encoded PEM chain, 'd' HAProxy's base64 DER, 'x' Envoy's
 * X-Forwarded-Client-Cert, 'c' a trusted_proxies range — and the rest is
 * the header's value. Seeds:
 * ALB's own encoding ("-----BEGIN%20CERTIFICATE-----%0A..."), '+' kept,
 * nginx's lower-case escapes, truncated PEM, chains of 10 and 11
 * certificates, 64 KiB headers at and over the cap.
 * corpus: fuzz/corpus/fuzz_verify_header
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pem_certs	 pc;
	struct http_cidr	 c;
	struct ca_error		 err;
	char			*text;
	int			 rc;

	if (size < 1)
		return 0;
	if (data[0] == 'c') {
		if ((text = strndup((const char *)data + 1, size - 1)) == NULL)
			return 0;
		rc = http_cidr_parse(text, &c, &err);
		if (rc == CA_OK && (c.len != 4 && c.len != 16))
			__builtin_trap();
		if (rc == CA_OK && c.prefix > c.len * 8)
			__builtin_trap();
		free(text);
		return 0;
	}
	memset(&err, 0, sizeof(err));
	rc = http_verify_header_decode((const char *)data + 1, size - 1,
	    data[0] == 'd' ? HTTP_CERT_DER_BASE64 : data[0] == 'x' ?
	    HTTP_CERT_XFCC : HTTP_CERT_PEM_URLENCODED,
	    &pc, &err);
	if (rc == CA_OK) {
		/* The caps hold, and every certificate lies in the buffer. */
		if (pc.n == 0 || pc.n > HTTP_VERIFY_CHAIN_MAX)
			__builtin_trap();
		for (size_t i = 0; i < pc.n; i++) {
			if (pc.len[i] == 0 || pc.len[i] > CA_CERT_MAX ||
			    pc.der[i] < pc.buf)
				__builtin_trap();
			/* What the verifier does first with a leaf. */
			(void)ca_cert_key_check(pc.der[i], pc.len[i], NULL);
		}
		pem_certs_clear(&pc);
	} else if (pc.buf != NULL || err.msg[0] == '\0') {
		__builtin_trap();	/* a refusal owns nothing, says why */
	}
	return 0;
}
