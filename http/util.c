/*
 * Tokens and hex: the small pieces `mtlsca token`, the first start and the
 * authentication code share.
 */
#include <stdio.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "common/util.h"
#include "http/http.h"

void
http_token_hash(const char *token, uint8_t out[HTTP_HASH_LEN])
{
	/* SHA-256 cannot fail on memory input; on a broken library the
	   zero hash matches no stored token (all are hashes of 43+ bytes). */
	memset(out, 0, HTTP_HASH_LEN);
	(void)gnutls_hash_fast(GNUTLS_DIG_SHA256, token, strlen(token), out);
}

int
http_token_generate(char out[HTTP_TOKEN_TEXT_MAX], struct ca_error *err)
{
	static const char b64url[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t	raw[33];	/* 32 random bytes, padded to a multiple of 3 */
	size_t	o = 0;
	int	rc;

	if ((rc = gnutls_rnd(GNUTLS_RND_KEY, raw, 32)) < 0)
		return ca_error_set(err, CA_ECRYPTO, "random token: %s",
		    gnutls_strerror(rc));
	raw[32] = 0;
	/* RFC 4648 §5, no padding: 32 bytes are 43 characters. */
	for (size_t i = 0; i < 33; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 |
		    raw[i + 2];

		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
		out[o++] = b64url[v & 63];
	}
	o = 43;
	out[o] = '\0';
	gnutls_memset(raw, 0, sizeof(raw));
	return CA_OK;
}

void
http_hex(const uint8_t *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int
http_hex32_parse(const char *text, uint8_t out[HTTP_HASH_LEN])
{
	uint8_t	buf[HTTP_HASH_LEN];
	size_t	n = 0;
	int	hi = -1, v;

	if (text == NULL)
		return CA_EMALF;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == ':')
			continue;
		if ((v = hex_digit((unsigned char)*p)) < 0 || n >= HTTP_HASH_LEN)
			return CA_EMALF;
		if (hi < 0) {
			hi = v;
		} else {
			buf[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (n != HTTP_HASH_LEN || hi >= 0)
		return CA_EMALF;
	memcpy(out, buf, HTTP_HASH_LEN);
	return CA_OK;
}

unsigned
http_status_for(int code)
{
	switch (code) {
	case CA_OK:		return 200;
	case CA_EMALF:		return 400;
	case CA_EINVAL:		return 400;
	case CA_EAUTH:		return 401;
	case CA_EFORBIDDEN:	return 403;
	case CA_ENOENT:		return 404;
	case CA_EEXIST:		return 409;
	case CA_ETOOBIG:	return 413;
	case CA_EPOLICY:	return 422;
	case CA_ESPACE:		return 507;
	default:		return 500;
	}
}
