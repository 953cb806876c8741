/*
 * libFuzzer target for what EST (http/est_parse.c) reads from a request:
 * the Authorization header's Basic credentials, then the enrollment body
 * under a Content-Type (base64 DER of a PKCS#10 request) and the request
 * it decodes to through ca_csr_parse — the path an EST body takes — and
 * the strict base64 decoder itself under a small output cap.
 *
 * Input: "AUTHORIZATION\nCONTENT-TYPE\nBODY"; an empty line is an absent
 * header. Seeds (named after the rule they exercise) are made by
 * make-seeds.sh from tests/data/csr/accept: the seeds in
 * tests/fuzz/corpus/fuzz_est_body.
 * corpus: fuzz/corpus/fuzz_est_body
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
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

/* Basic credentials: what parses is a user and a token, within caps. */
static void
basic(const char *h)
{
	char		user[HTTP_BASIC_USER_MAX], pass[HTTP_BASIC_PASS_MAX];
	struct ca_error	err;
	int		rc;

	ca_error_clear(&err);
	rc = http_basic_parse(h, user, pass, &err);
	if (rc == CA_OK) {
		size_t ul = strnlen(user, sizeof(user));
		size_t pl = strnlen(pass, sizeof(pass));

		if (ul >= sizeof(user) || pl == 0 || pl >= sizeof(pass))
			__builtin_trap();
		for (size_t i = 0; i < pl; i++)
			if ((unsigned char)pass[i] < 0x20 || pass[i] == 0x7f)
				__builtin_trap();
	} else if (err.code != rc || err.msg[0] == '\0' ||
	    (rc != CA_ENOENT && rc != CA_EAUTH && rc != CA_EFORBIDDEN) ||
	    (h == NULL) != (rc == CA_ENOENT)) {
		__builtin_trap();	/* refused, with a sentence */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*p = data, *end = data + size;
	char		 auth[2048], ct[256];
	const char	*a, *c;
	uint8_t		*der = NULL, *again = NULL, small[8];
	char		*enc = NULL;
	size_t		 len, n, elen;
	struct ca_error	 err;
	struct ca_csr	*csr = NULL;
	int		 rc;

	a = field(&p, end, auth, sizeof(auth));
	c = field(&p, end, ct, sizeof(ct));
	basic(a);

	ca_error_clear(&err);
	rc = http_est_body_decode(c, p, (size_t)(end - p), &der, &len, &err);
	if (rc == CA_OK) {
		if (der == NULL || len == 0 || len > CA_CSR_MAX ||
		    der[0] != 0x30)
			__builtin_trap();
		/* One spelling per value: encoded again, the same bytes. */
		if (base64_encode(der, len, 64, &enc, &elen, &err) != CA_OK)
			__builtin_trap();
		if ((again = malloc(len)) == NULL ||
		    base64_decode(enc, elen, true, again, len, &n, &err) != CA_OK ||
		    n != len || memcmp(again, der, len) != 0)
			__builtin_trap();
		if (ca_csr_parse(der, len, &csr, &err) == CA_OK)
			ca_csr_free(csr);
	} else if (der != NULL || err.code != rc || err.msg[0] == '\0' ||
	    (rc != CA_EMALF && rc != CA_EINVAL && rc != CA_ETOOBIG)) {
		__builtin_trap();	/* a refusal is 400, 413 or 415 */
	}
	/* The decoder alone, with an output cap smaller than most inputs. */
	rc = base64_decode((const char *)p, (size_t)(end - p), true, small,
	    sizeof(small), &n, NULL);
	if ((rc == CA_OK && n > sizeof(small)) ||
	    (rc != CA_OK && rc != CA_EMALF && rc != CA_ETOOBIG))
		__builtin_trap();
	free(der);
	free(again);
	free(enc);
	return 0;
}
