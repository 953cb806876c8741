/*
 * Enrollment tokens: made here, kept everywhere only as their SHA-256
 * (DESIGN.md "Secrets"), and compared in constant time. Shared by the
 * service (ca/enroll.c, http/), `mtlsca token` and serve's first start.
 */
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "ca/ca.h"
#include "store/store.h"

void
ca_token_hash(const char *token, uint8_t out[CA_HASH_LEN])
{
	/* SHA-256 cannot fail on memory input; on a broken library the
	   zero hash matches no stored token (all are hashes of 43+ bytes). */
	memset(out, 0, CA_HASH_LEN);
	(void)gnutls_hash_fast(GNUTLS_DIG_SHA256, token, strlen(token), out);
}

int
ca_token_generate(char out[CA_TOKEN_TEXT_MAX], struct ca_error *err)
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

bool
ca_hash_eq(const uint8_t *a, const uint8_t *b)
{
	uint8_t d = 0;

	for (size_t i = 0; i < CA_HASH_LEN; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

bool
ca_admin_token_stored(struct store *st, const uint8_t hash[CA_HASH_LEN])
{
	uint8_t	*v = NULL;
	size_t	 len = 0;
	bool	 ok;

	ok = st != NULL && store_meta_get(st, CA_META_ADMIN_TOKEN, &v, &len,
	    NULL) == CA_OK && len == CA_HASH_LEN && ca_hash_eq(v, hash);
	free(v);
	return ok;
}

int
ca_admin_token_rotate(struct store *st, char out[CA_TOKEN_TEXT_MAX],
    struct ca_error *err)
{
	char	tok[CA_TOKEN_TEXT_MAX];
	uint8_t	h[CA_HASH_LEN];
	int	rc;

	if ((rc = ca_token_generate(tok, err)) != CA_OK)
		return rc;
	ca_token_hash(tok, h);
	if ((rc = store_meta_put(st, CA_META_ADMIN_TOKEN, h, sizeof(h),
	    err)) == CA_OK)
		memcpy(out, tok, sizeof(tok));
	gnutls_memset(tok, 0, sizeof(tok));
	return rc;
}
