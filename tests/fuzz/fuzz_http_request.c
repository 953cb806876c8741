/*
 * libFuzzer target for what http/ parses from a request without a socket
 * (http/parse.c): the URL path's route and serial, then the enrollment body
 * under a Content-Type, with the profile and days query parameters, and the
 * CSR it yields through ca_csr_parse — the path an enrollment body takes.
 *
 * Input: "URL\nCONTENT-TYPE\nPROFILE\nDAYS\nBODY"; an empty line is an
 * absent header or parameter. Seed with a few such files made from
 * tests/data/csr/accept (PEM, DER and JSON bodies, each route): the
 * seeds in tests/fuzz/corpus/fuzz_http_request.
 * corpus: fuzz/corpus/fuzz_http_request
 *
 * tests/CMakeLists.txt links fuzz targets with crl, ca, store and common
 * only, so parse.c is compiled in here, and jansson must be added at link
 * time (-DCMAKE_C_STANDARD_LIBRARIES=-ljansson) until that file links the
 * http library and jansson to fuzz targets.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next line of data (NUL-terminated copy in out); NULL when empty. */
static const char *
field(const uint8_t **p, const uint8_t *end, char *out, size_t outsz)
{
	const uint8_t	*nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t		 n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);

	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p = nl ? nl + 1 : end;
	/* MHD hands over NUL-terminated strings: stop at an inner NUL. */
	return out[0] != '\0' ? out : NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*p = data, *end = data + size;
	char		 url[4096], ct[256], prof[256], days[64];
	char		 serial[HTTP_SERIAL_TEXT_MAX];
	const char	*u, *c, *pr, *d;
	struct http_body b;
	struct ca_error	 err;
	struct ca_csr	*csr = NULL;
	uint8_t		 sbuf[SERIAL_MAX + 1];
	size_t		 slen;
	enum route	 rt;
	int		 rc;

	u = field(&p, end, url, sizeof(url));
	c = field(&p, end, ct, sizeof(ct));
	pr = field(&p, end, prof, sizeof(prof));
	d = field(&p, end, days, sizeof(days));

	memset(serial, 0, sizeof(serial));
	rt = http_route_match(u ? u : "", serial, sizeof(serial));
	if ((unsigned)rt >= ROUTE_COUNT)
		__builtin_trap();
	if (rt == ROUTE_CERT_GET || rt == ROUTE_CERT_REVOKE) {
		if (serial[0] == '\0' ||
		    strlen(serial) >= HTTP_SERIAL_TEXT_MAX)
			__builtin_trap();
		ca_error_clear(&err);
		if (serial_parse(serial, sbuf, &slen, &err) == CA_OK &&
		    (slen == 0 || slen > SERIAL_MAX + 1))
			__builtin_trap();
	}

	ca_error_clear(&err);
	rc = http_body_parse(c, pr, d, p, (size_t)(end - p), &b, &err);
	if (rc == CA_OK) {
		if (b.csr == NULL || b.csr_len == 0 ||
		    strlen(b.profile) >= sizeof(b.profile) || b.days > 100000)
			__builtin_trap();
		if (ca_csr_parse(b.csr, b.csr_len, &csr, &err) == CA_OK)
			ca_csr_free(csr);
	} else if (err.code != rc || err.msg[0] == '\0' ||
	    (rc != CA_EMALF && rc != CA_EINVAL)) {
		__builtin_trap();	/* a refusal is 400 or 415, explained */
	}
	http_body_clear(&b);
	return 0;
}
