/*
 * libFuzzer target for what http/ parses from a request without a socket
 * (http/parse.c): the URL path's route in the service's table (routes.c)
 * for each method, with its parameter, then the enrollment body under a
 * Content-Type, with the profile and days query parameters, and the CSR it
 * yields through ca_csr_parse — the path an enrollment body takes.
 *
 * Input: "URL\nCONTENT-TYPE\nPROFILE\nDAYS\nBODY"; an empty line is an
 * absent header or parameter. Seed with a few such files made from
 * tests/data/csr/accept (PEM, DER and JSON bodies, each route): the
 * seeds in tests/fuzz/corpus/fuzz_http_request.
 * corpus: fuzz/corpus/fuzz_http_request
 *
 * tests/CMakeLists.txt links fuzz targets with the http library (and so
 * the route table and jansson) when it is built.
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
	static const char *const methods[] = { "GET", "HEAD", "POST", "PUT",
	    "" };
	char		 url[4096], ct[256], prof[256], days[64];
	const char	*u, *c, *pr, *d;
	struct http_match m;
	struct http_body b;
	struct ca_error	 err;
	struct ca_csr	*csr = NULL;
	uint8_t		 sbuf[SERIAL_MAX + 1];
	size_t		 slen;
	int		 rc;

	u = field(&p, end, url, sizeof(url));
	if (u == NULL)
		u = "";
	c = field(&p, end, ct, sizeof(ct));
	pr = field(&p, end, prof, sizeof(prof));
	d = field(&p, end, days, sizeof(days));

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		const struct http_route *row;

		http_route_match(http_routes, http_n_routes, u, methods[i], &m);
		if (m.row >= (int)http_n_routes ||
		    m.path_row >= (int)http_n_routes ||
		    (m.row >= 0 && m.path_row < 0) ||
		    (m.path_row < 0 && (m.allow != 0 || m.https_only)) ||
		    strlen(m.param) >= sizeof(m.param))
			__builtin_trap();
		if (m.row < 0)
			continue;
		row = &http_routes[m.row];
		/* the row takes the method, and its parameter fits */
		if ((row->methods & http_method_bit(methods[i])) == 0 ||
		    (row->methods & ~m.allow) != 0)
			__builtin_trap();
		if (strstr(row->pattern, "{serial}") != NULL) {
			if (m.param[0] == '\0' ||
			    strlen(m.param) >= HTTP_SERIAL_TEXT_MAX)
				__builtin_trap();
			ca_error_clear(&err);
			if (serial_parse(m.param, sbuf, &slen, &err) ==
			    CA_OK && (slen == 0 || slen > SERIAL_MAX + 1))
				__builtin_trap();
		} else if (strchr(row->pattern, '{') == NULL &&
		    (m.param[0] != '\0' || strcmp(row->pattern, u) != 0)) {
			__builtin_trap();	/* a literal matches itself only */
		}
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
