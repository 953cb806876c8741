/*
 * Value encodings of the store: certificate records, tokens, audit entries.
 *
 * Every value starts with a version byte and every variable field carries
 * its length in front, so that a future version can add fields and an old
 * binary refuses what it does not understand instead of misreading it. The
 * readers are bounded: they never read past the buffer, refuse trailing
 * bytes and cap every length before allocating (STYLE.md, untrusted input —
 * a store file can be damaged or hand-edited).
 *
 * Certificate record, version 1:
 *	u8	version (1)
 *	u8	serial length (1..21), then the serial bytes
 *	u8	status (0 valid, 1 revoked)
 *	u8	reason (RFC 5280 §5.3.1 CRLReason: 0..10, not 7)
 *	be64	not_before, not_after, issued_at, revoked_at
 *	u8	profile length (0..31), then the profile (no NUL)
 *	u8	flags: bit 0 = a subject is present; other bits zero
 *	be32	subject length (0..4096; 0 when absent), then the subject
 *	be32	der length (0..65536; 0 = no certificate), then the DER
 *
 * Version 2 (a certificate of a CA after a rotation) is version 1 followed
 * by be32 ca_id (>= 2). The first CA's records stay version 1, so that a
 * store that never rotated reads the same in an older binary.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define RECORD_FLAG_SUBJECT	0x01

/* A reader over a borrowed buffer that fails once and stays failed. */
struct rd {
	const uint8_t	*p;
	size_t		 left;
	int		 bad;
};

static const uint8_t *
rd_take(struct rd *r, size_t n)
{
	const uint8_t *p;

	if (r->bad || n > r->left) {
		r->bad = 1;
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

static uint8_t
rd_u8(struct rd *r)
{
	const uint8_t *p = rd_take(r, 1);

	return p != NULL ? p[0] : 0;
}

static uint16_t
rd_be16(struct rd *r)
{
	const uint8_t *p = rd_take(r, 2);

	return p != NULL ? (uint16_t)((p[0] << 8) | p[1]) : 0;
}

static uint32_t
rd_be32(struct rd *r)
{
	const uint8_t *p = rd_take(r, 4);

	if (p == NULL)
		return 0;
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t
rd_be64(struct rd *r)
{
	const uint8_t *p = rd_take(r, 8);

	return p != NULL ? store_be64_get(p) : 0;
}

static uint8_t *
wr_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

static uint8_t *
wr_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t *
wr_be64(uint8_t *p, uint64_t v)
{
	store_be64_put(p, v);
	return p + 8;
}

static uint8_t *
wr_bytes(uint8_t *p, const void *src, size_t n)
{
	if (n > 0)
		memcpy(p, src, n);
	return p + n;
}

/* RFC 5280 §5.3.1: 7 is unused; 8 (removeFromCRL) belongs to delta CRLs. */
static int
reason_ok(uint8_t reason)
{
	return reason <= 10 && reason != 7;
}

size_t
store_index_key(uint8_t key[STORE_INDEX_KEY_MAX], int64_t not_after,
    const uint8_t *serial, size_t serial_len)
{
	store_be64_put(key, (uint64_t)not_after);
	memcpy(key + 8, serial, serial_len);
	return 8 + serial_len;
}

size_t
store_record_size(const struct cert_record *rec)
{
	size_t plen, slen = 0;

	if (rec->serial_len < 1 || rec->serial_len > SERIAL_MAX + 1 ||
	    rec->status > CERT_STATUS_REVOKED || !reason_ok(rec->reason))
		return 0;
	plen = strnlen(rec->profile, STORE_PROFILE_MAX);
	if (plen >= STORE_PROFILE_MAX)
		return 0;
	if (rec->subject != NULL &&
	    (slen = strnlen(rec->subject, STORE_SUBJECT_MAX + 1)) >
	    STORE_SUBJECT_MAX)
		return 0;
	if (rec->der_len > STORE_DER_MAX ||
	    (rec->der == NULL && rec->der_len != 0))
		return 0;
	return 1 + 1 + rec->serial_len + 1 + 1 + 4 * 8 + 1 + plen + 1 +
	    4 + slen + 4 + rec->der_len + (rec->ca_id > STORE_CA_FIRST ? 4 : 0);
}

int
store_record_encode(const struct cert_record *rec, uint8_t **out, size_t *len)
{
	uint8_t	*buf, *p;
	size_t	 n, plen, slen;

	if (rec == NULL || (n = store_record_size(rec)) == 0)
		return CA_EINVAL;
	if ((buf = malloc(n)) == NULL)
		return CA_ENOMEM;
	plen = strlen(rec->profile);
	slen = rec->subject != NULL ? strlen(rec->subject) : 0;
	p = buf;
	*p++ = rec->ca_id > STORE_CA_FIRST ? STORE_RECORD_V2 : STORE_RECORD_V1;
	*p++ = (uint8_t)rec->serial_len;
	p = wr_bytes(p, rec->serial, rec->serial_len);
	*p++ = rec->status;
	*p++ = rec->reason;
	p = wr_be64(p, (uint64_t)rec->not_before);
	p = wr_be64(p, (uint64_t)rec->not_after);
	p = wr_be64(p, (uint64_t)rec->issued_at);
	p = wr_be64(p, (uint64_t)rec->revoked_at);
	*p++ = (uint8_t)plen;
	p = wr_bytes(p, rec->profile, plen);
	*p++ = rec->subject != NULL ? RECORD_FLAG_SUBJECT : 0;
	p = wr_be32(p, (uint32_t)slen);
	p = wr_bytes(p, rec->subject, slen);
	p = wr_be32(p, (uint32_t)rec->der_len);
	p = wr_bytes(p, rec->der, rec->der_len);
	if (rec->ca_id > STORE_CA_FIRST)
		p = wr_be32(p, rec->ca_id);
	if ((size_t)(p - buf) != n) {
		/* store_record_size and this writer disagree: a bug. */
		free(buf);
		return CA_EINVAL;
	}
	*out = buf;
	*len = n;
	return CA_OK;
}

int
store_record_decode(const uint8_t *buf, size_t len, struct cert_record *rec)
{
	struct rd		 r = { buf, len, 0 };
	struct cert_record	 t;
	const uint8_t		*s, *prof, *subj = NULL, *der = NULL;
	uint8_t			 flags, plen, version;
	uint32_t		 slen, dlen;
	int			 rc = CA_EMALF;

	memset(&t, 0, sizeof(t));
	if (buf == NULL || rec == NULL)
		goto out;
	version = rd_u8(&r);
	if (version != STORE_RECORD_V1 && version != STORE_RECORD_V2)
		goto out;
	t.serial_len = rd_u8(&r);
	if (t.serial_len < 1 || t.serial_len > SERIAL_MAX + 1 ||
	    (s = rd_take(&r, t.serial_len)) == NULL)
		goto out;
	memcpy(t.serial, s, t.serial_len);
	t.status = rd_u8(&r);
	t.reason = rd_u8(&r);
	if (t.status > CERT_STATUS_REVOKED || !reason_ok(t.reason))
		goto out;
	t.not_before = (int64_t)rd_be64(&r);
	t.not_after = (int64_t)rd_be64(&r);
	t.issued_at = (int64_t)rd_be64(&r);
	t.revoked_at = (int64_t)rd_be64(&r);
	plen = rd_u8(&r);
	if (plen >= STORE_PROFILE_MAX || (prof = rd_take(&r, plen)) == NULL ||
	    memchr(prof, '\0', plen) != NULL)
		goto out;
	memcpy(t.profile, prof, plen);
	flags = rd_u8(&r);
	if ((flags & ~RECORD_FLAG_SUBJECT) != 0)
		goto out;
	slen = rd_be32(&r);
	if (slen > STORE_SUBJECT_MAX ||
	    (slen > 0 && !(flags & RECORD_FLAG_SUBJECT)) ||
	    (subj = rd_take(&r, slen)) == NULL ||
	    memchr(subj, '\0', slen) != NULL)
		goto out;
	dlen = rd_be32(&r);
	if (dlen > STORE_DER_MAX || (der = rd_take(&r, dlen)) == NULL)
		goto out;
	t.ca_id = STORE_CA_FIRST;
	/* Version 2 names a later CA, never the first (one encoding). */
	if (version == STORE_RECORD_V2 &&
	    (t.ca_id = rd_be32(&r)) <= STORE_CA_FIRST)
		goto out;
	/* One exact encoding: nothing may follow the last field. */
	if (r.bad || r.left != 0)
		goto out;
	rc = CA_ENOMEM;
	if (flags & RECORD_FLAG_SUBJECT) {
		if ((t.subject = malloc((size_t)slen + 1)) == NULL)
			goto out;
		memcpy(t.subject, subj, slen);
		t.subject[slen] = '\0';
	}
	if (dlen > 0) {
		if ((t.der = malloc(dlen)) == NULL)
			goto out;
		memcpy(t.der, der, dlen);
		t.der_len = dlen;
	}
	*rec = t;
	memset(&t, 0, sizeof(t));
	rc = CA_OK;
out:
	cert_record_clear(&t);
	return rc;
}

void
cert_record_clear(struct cert_record *rec)
{
	if (rec == NULL)
		return;
	free(rec->subject);
	free(rec->der);
	memset(rec, 0, sizeof(*rec));
}

/*
 * Token, version 1:
 *	u8 version, u8 profile length (0..31) + profile, be16 cn length
 *	(0..255) + cn, be64 created_at, be64 expires_at, be32 uses_left
 * Version 2, for a token bound to SANs (one exact encoding: written only
 * when there is at least one): version 1's fields, then u8 count (1..16)
 * and each SAN as be16 length (1..255) + text.
 */
int
store_token_encode(const struct store_token *tok,
    uint8_t buf[STORE_TOKEN_ENC_MAX], size_t *len)
{
	size_t	 plen, clen;
	uint8_t	*p = buf;

	plen = strnlen(tok->profile, STORE_PROFILE_MAX);
	clen = strnlen(tok->cn, STORE_CN_MAX);
	if (plen >= STORE_PROFILE_MAX || clen >= STORE_CN_MAX ||
	    tok->n_sans > STORE_TOKEN_SANS_MAX)
		return CA_EINVAL;
	*p++ = tok->n_sans > 0 ? STORE_TOKEN_V2 : STORE_TOKEN_V1;
	*p++ = (uint8_t)plen;
	p = wr_bytes(p, tok->profile, plen);
	p = wr_be16(p, (uint16_t)clen);
	p = wr_bytes(p, tok->cn, clen);
	p = wr_be64(p, (uint64_t)tok->created_at);
	p = wr_be64(p, (uint64_t)tok->expires_at);
	p = wr_be32(p, tok->uses_left);
	if (tok->n_sans > 0) {
		*p++ = (uint8_t)tok->n_sans;
		for (size_t i = 0; i < tok->n_sans; i++) {
			size_t n = strnlen(tok->sans[i], STORE_CN_MAX);

			if (n == 0 || n >= STORE_CN_MAX)
				return CA_EINVAL;
			p = wr_be16(p, (uint16_t)n);
			p = wr_bytes(p, tok->sans[i], n);
		}
	}
	*len = (size_t)(p - buf);
	return CA_OK;
}

int
store_token_decode(const uint8_t *buf, size_t len, struct store_token *tok)
{
	struct rd		 r = { buf, len, 0 };
	struct store_token	*t;
	const uint8_t		*p;
	uint8_t			 plen, version;
	uint16_t		 clen;
	int			 rc = CA_EMALF;

	/* Over 4 KiB with the SANs: not on the stack of every caller. */
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return CA_ENOMEM;
	version = rd_u8(&r);
	if (version != STORE_TOKEN_V1 && version != STORE_TOKEN_V2)
		goto out;
	plen = rd_u8(&r);
	if (plen >= STORE_PROFILE_MAX || (p = rd_take(&r, plen)) == NULL ||
	    memchr(p, '\0', plen) != NULL)
		goto out;
	memcpy(t->profile, p, plen);
	clen = rd_be16(&r);
	if (clen >= STORE_CN_MAX || (p = rd_take(&r, clen)) == NULL ||
	    memchr(p, '\0', clen) != NULL)
		goto out;
	memcpy(t->cn, p, clen);
	t->created_at = (int64_t)rd_be64(&r);
	t->expires_at = (int64_t)rd_be64(&r);
	t->uses_left = rd_be32(&r);
	if (version == STORE_TOKEN_V2) {
		t->n_sans = rd_u8(&r);
		if (t->n_sans == 0 || t->n_sans > STORE_TOKEN_SANS_MAX)
			goto out;
		for (size_t i = 0; i < t->n_sans; i++) {
			clen = rd_be16(&r);
			if (clen == 0 || clen >= STORE_CN_MAX ||
			    (p = rd_take(&r, clen)) == NULL ||
			    memchr(p, '\0', clen) != NULL)
				goto out;
			memcpy(t->sans[i], p, clen);
		}
	}
	if (r.bad || r.left != 0)
		goto out;
	*tok = *t;
	rc = CA_OK;
out:
	free(t);
	return rc;
}

/*
 * Audit entry, version 1:
 *	u8 version, be64 at, then who, action, detail, each as be16 length
 *	(counting a final NUL, which must be there and be the only NUL).
 */
static int
audit_str(struct rd *r, size_t max, const char **out)
{
	uint16_t	 n = rd_be16(r);
	const uint8_t	*p;

	if (n == 0 || n > max + 1 || (p = rd_take(r, n)) == NULL ||
	    p[n - 1] != '\0' ||
	    memchr(p, '\0', n - 1) != NULL)
		return CA_EMALF;
	*out = (const char *)p;
	return CA_OK;
}

int
store_audit_encode(int64_t at, const char *who, const char *action,
    const char *detail, uint8_t **out, size_t *len)
{
	size_t	 wl, al, dl, n;
	uint8_t	*buf, *p;

	who = who != NULL ? who : "";
	action = action != NULL ? action : "";
	detail = detail != NULL ? detail : "";
	wl = strnlen(who, STORE_AUDIT_WHO_MAX + 1);
	al = strnlen(action, STORE_AUDIT_ACTION_MAX + 1);
	if (wl > STORE_AUDIT_WHO_MAX || al > STORE_AUDIT_ACTION_MAX)
		return CA_EINVAL;
	/* Free text is cut rather than refused: losing the end of a detail is
	   better than losing the operation it records. */
	dl = strnlen(detail, STORE_AUDIT_DETAIL_MAX);
	n = 1 + 8 + 3 * 2 + wl + 1 + al + 1 + dl + 1;
	if ((buf = malloc(n)) == NULL)
		return CA_ENOMEM;
	p = buf;
	*p++ = STORE_AUDIT_V1;
	p = wr_be64(p, (uint64_t)at);
	p = wr_be16(p, (uint16_t)(wl + 1));
	p = wr_bytes(p, who, wl);
	*p++ = '\0';
	p = wr_be16(p, (uint16_t)(al + 1));
	p = wr_bytes(p, action, al);
	*p++ = '\0';
	p = wr_be16(p, (uint16_t)(dl + 1));
	p = wr_bytes(p, detail, dl);
	*p++ = '\0';
	*out = buf;
	*len = n;
	return CA_OK;
}

int
store_audit_decode(const uint8_t *buf, size_t len, struct store_audit *a)
{
	struct rd		r = { buf, len, 0 };
	struct store_audit	t;

	memset(&t, 0, sizeof(t));
	if (rd_u8(&r) != STORE_AUDIT_V1)
		return CA_EMALF;
	t.at = (int64_t)rd_be64(&r);
	if (audit_str(&r, STORE_AUDIT_WHO_MAX, &t.who) != CA_OK ||
	    audit_str(&r, STORE_AUDIT_ACTION_MAX, &t.action) != CA_OK ||
	    audit_str(&r, STORE_AUDIT_DETAIL_MAX, &t.detail) != CA_OK ||
	    r.bad || r.left != 0)
		return CA_EMALF;
	*a = t;
	return CA_OK;
}
