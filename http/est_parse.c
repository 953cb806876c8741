/*
 * What EST (RFC 7030) reads from a request, without a socket, so that a
 * fuzz target (tests/fuzz/fuzz_est_body.c) can drive it: the enrollment
 * body (base64 DER of a PKCS#10 request) and HTTP Basic credentials.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>

#include "common/base64.h"
#include "http/http_int.h"

/* The longest Basic credentials read: user and password in base64. */
#define BASIC_B64_MAX \
	((HTTP_BASIC_USER_MAX + HTTP_BASIC_PASS_MAX + 2) / 3 * 4)

int
http_basic_parse(const char *h, char user[HTTP_BASIC_USER_MAX],
    char pass[HTTP_BASIC_PASS_MAX], struct ca_error *err)
{
	uint8_t		 buf[HTTP_BASIC_USER_MAX + HTTP_BASIC_PASS_MAX];
	const uint8_t	*colon;
	size_t		 n, len, ulen, plen;
	int		 rc;

	if (h == NULL)
		return ca_error_set(err, CA_ENOENT, "no Authorization header");
	/* RFC 7617 section 2: "Basic" 1*SP token68; the scheme in any case
	   (RFC 9110 section 11.1). */
	if (strncasecmp(h, "Basic ", 6) != 0)
		return ca_error_set(err, CA_EAUTH, "EST takes HTTP Basic "
		    "credentials: the enrollment token as the password");
	h += 6;
	while (*h == ' ')
		h++;
	n = strlen(h);
	while (n > 0 && h[n - 1] == ' ')
		n--;
	if (n == 0 || n > BASIC_B64_MAX) {
		rc = ca_error_set(err, CA_EFORBIDDEN, "the Basic credentials "
		    "are empty or longer than a token can be");
		goto out;
	}
	/* token68: no whitespace inside, unlike an EST body. */
	if (strcspn(h, " \t\r\n") < n) {
		rc = ca_error_set(err, CA_EFORBIDDEN, "the Basic credentials "
		    "hold a space");
		goto out;
	}
	if ((rc = base64_decode(h, n, true, buf, sizeof(buf), &len,
	    NULL)) !=
	    CA_OK) {
		rc = ca_error_set(err, CA_EFORBIDDEN, "the Basic credentials "
		    "are not %s", rc == CA_ETOOBIG ? "of a token's length" :
		    "base64 (RFC 7617 section 2)");
		goto out;
	}
	/* user-id ":" password; the user-id holds no ':' (RFC 7617). */
	if ((colon = memchr(buf, ':', len)) == NULL) {
		rc = ca_error_set(err, CA_EFORBIDDEN, "the Basic credentials "
		    "have no ':' between the user and the password");
		goto out;
	}
	ulen = (size_t)(colon - buf);
	plen = len - ulen - 1;
	if (ulen >= HTTP_BASIC_USER_MAX || plen == 0 ||
	    plen >= HTTP_BASIC_PASS_MAX) {
		rc = ca_error_set(err, CA_EFORBIDDEN, "the Basic password (the "
		    "enrollment token) is empty or too long, or the user "
		    "name is too long");
		goto out;
	}
	/* RFC 7617 section 2: no control characters in either. */
	for (size_t i = 0; i < len; i++)
		if (buf[i] < 0x20 || buf[i] == 0x7f) {
			rc = ca_error_set(err, CA_EFORBIDDEN, "the Basic "
			    "credentials hold a control character");
			goto out;
		}
	memcpy(user, buf, ulen);
	user[ulen] = '\0';
	memcpy(pass, colon + 1, plen);
	pass[plen] = '\0';
	rc = CA_OK;
out:
	gnutls_memset(buf, 0, sizeof(buf));
	if (rc != CA_OK && rc != CA_ENOENT && rc != CA_EAUTH)
		gnutls_memset(pass, 0, HTTP_BASIC_PASS_MAX);
	return rc;
}

int
http_est_body_decode(const char *ct, const uint8_t *body, size_t len,
    uint8_t **der, size_t *der_len, struct ca_error *err)
{
	struct ca_error	 e;
	uint8_t		*buf = NULL;
	size_t		 n, cap;
	int		 rc;

	/* RFC 7030 section 4.2.1: "application/pkcs10", parameters aside. */
	if (!http_ctype_is(ct, "application/pkcs10"))
		return ca_error_set(err, CA_EINVAL, "send the request as "
		    "Content-Type: application/pkcs10 (RFC 7030 section "
		    "4.2.1), not %.64s", ct != NULL ? ct : "without one");
	if (len == 0)
		return ca_error_set(err, CA_EMALF, "the request has no body: "
		    "send a PKCS#10 request, DER in base64");
	/* Room for what the cap allows and one more byte, to tell "over
	   the cap" from "at the cap". */
	cap = BASE64_DECODED_MAX(len);
	if (cap > CA_CSR_MAX + 1)
		cap = CA_CSR_MAX + 1;
	if ((buf = malloc(cap)) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	ca_error_clear(&e);
	if ((rc = base64_decode((const char *)body, len, true, buf, cap,
	    &n, &e)) != CA_OK) {
		if (rc == CA_ETOOBIG)
			ca_error_set(err, rc, "the request decodes to more "
			    "than %d bytes", CA_CSR_MAX);
		else if (memchr(body, '-', len) != NULL)
			ca_error_set(err, rc, "the body is not base64: EST "
			    "sends the request's DER in base64, without PEM's "
			    "-----BEGIN/END lines (RFC 7030 section 4.2.1)");
		else
			ca_error_set(err, rc, "the body is not base64 DER "
			    "(RFC 7030 section 4.2.1, RFC 8951): %s", e.msg);
		goto out;
	}
	if (n > CA_CSR_MAX) {
		rc = ca_error_set(err, CA_ETOOBIG, "the request decodes to "
		    "more than %d bytes", CA_CSR_MAX);
		goto out;
	}
	if (n == 0 || buf[0] != 0x30) {
		rc = ca_error_set(err, CA_EMALF, "the body decodes to %s, not "
		    "a PKCS#10 request (a DER SEQUENCE)", n == 0 ? "nothing" :
		    "something else");
		goto out;
	}
	*der = buf;
	*der_len = n;
	buf = NULL;
	rc = CA_OK;
out:
	free(buf);
	return rc;
}
