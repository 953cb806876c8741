/*
 * store/ private: value encodings shared by store.c and record.c. Nothing
 * outside store/ includes this header.
 */
#ifndef MTLSCA_STORE_STORE_INT_H
#define MTLSCA_STORE_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Record format version (first byte of every certs value). */
#define STORE_RECORD_V1		1
#define STORE_RECORD_V2		2	/* V1 + be32 CA id */
/* A revoked-index value of a CA after the first: tag, be32 id, entry DER. */
#define REVOKED_CA_TAG		0x00
#define REVOKED_CA_HDR		5
#define STORE_SUBJECT_MAX	4096
#define STORE_DER_MAX		65536

/* Token and audit value versions and bounds. */
#define STORE_TOKEN_V1		1
#define STORE_TOKEN_V2		2	/* v1 and the bound SANs */
#define STORE_AUDIT_V1		1
#define STORE_AUDIT_WHO_MAX	512
#define STORE_AUDIT_ACTION_MAX	64
#define STORE_AUDIT_DETAIL_MAX	4096

/* Keys of the expiry and revoked indexes: be64(not_after) || serial. */
#define STORE_INDEX_KEY_MAX	(8 + SERIAL_MAX + 1)

static inline void
store_be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint64_t
store_be64_get(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* be64((uint64_t)not_after) || serial into key; returns the key length. */
size_t store_index_key(uint8_t key[STORE_INDEX_KEY_MAX], int64_t not_after,
    const uint8_t *serial, size_t serial_len);

/* Size of the encoding of rec, or 0 if rec breaks a bound. */
size_t store_record_size(const struct cert_record *rec);

/*
 * Tokens: encode into buf (at least store_token_size bytes), decode with a
 * bounded reader (CA_EMALF).
 */
#define STORE_TOKEN_ENC_MAX	(1 + 1 + STORE_PROFILE_MAX + 2 + STORE_CN_MAX \
				 + 8 + 8 + 4 + 1 + \
				 STORE_TOKEN_SANS_MAX * (2 + STORE_CN_MAX))
int store_token_encode(const struct store_token *tok,
    uint8_t buf[STORE_TOKEN_ENC_MAX], size_t *len);
int store_token_decode(const uint8_t *buf, size_t len, struct store_token *tok);

/*
 * Audit values keep their strings NUL-terminated so that a reader can hand
 * out pointers into the LMDB page without copying. encode: *out owns a
 * malloc'd buffer. decode: the strings in *a borrow from buf.
 */
int store_audit_encode(int64_t at, const char *who, const char *action,
    const char *detail, uint8_t **out, size_t *len);
int store_audit_decode(const uint8_t *buf, size_t len, struct store_audit *a);

#endif
