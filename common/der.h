/*
 * The small DER writer and the strict DER reader the CRL code (crl/) and the
 * certificate writer (ca/certder.c) are built on (X.690 §10 distinguished
 * encoding: definite minimal lengths, low tag numbers, minimal INTEGERs).
 *
 * Writer: a struct der_buf over caller memory. Every put appends; a put that
 * does not fit sets overflow and writes nothing more, so a sequence of puts
 * is checked once at the end. The reader never reads past its input and
 * never allocates.
 */
#ifndef MTLSCA_COMMON_DER_H
#define MTLSCA_COMMON_DER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Universal tags used by CRLs and certificates (X.680 §8.4). */
#define DER_BOOLEAN		0x01
#define DER_INTEGER		0x02
#define DER_BIT_STRING		0x03
#define DER_OCTET_STRING	0x04
#define DER_NULL		0x05
#define DER_OID			0x06
#define DER_ENUMERATED		0x0a
#define DER_UTCTIME		0x17
#define DER_GENTIME		0x18
#define DER_SEQUENCE		0x30
#define DER_SET			0x31
#define DER_CTX(n)		(0x80 | (n))		/* [n] IMPLICIT primitive */
#define DER_CTX_CONS(n)		(0xa0 | (n))		/* [n] constructed */

/* Largest header: tag + 0x84 + 4 length octets (we never write more). */
#define DER_HDR_MAX		6
/* Largest Time TLV: GeneralizedTime YYYYMMDDHHMMSSZ. */
#define DER_TIME_MAX		17

/* ---- writer ---- */

struct der_buf {
	uint8_t	*p;
	size_t	 cap;
	size_t	 len;
	bool	 overflow;
};

void der_buf_init(struct der_buf *b, uint8_t *mem, size_t cap);

/* Octets of a header (tag + length) for a content of len octets. */
size_t der_hdr_len(size_t len);
/* Octets of a whole TLV with len content octets (0 on overflow). */
size_t der_tlv_len(size_t len);

void der_put_raw(struct der_buf *b, const void *p, size_t len);
void der_put_hdr(struct der_buf *b, uint8_t tag, size_t len);
void der_put_tlv(struct der_buf *b, uint8_t tag, const void *p, size_t len);
/* Non-negative INTEGER from a native value, minimal (X.690 §8.3.2). */
void der_put_uint(struct der_buf *b, uint8_t tag, uint64_t v);
/* Time: UTCTime for 1950..2049, GeneralizedTime otherwise (RFC 5280
   §4.1.2.5, §5.1.2.4). false (and nothing written) for a time outside
   years 0..9999. */
bool der_put_time(struct der_buf *b, int64_t t);
/* Octets der_put_time writes for t (0 when t is out of range). */
size_t der_time_len(int64_t t);

/* ---- reader ---- */

struct der_tlv {
	uint8_t		 tag;
	const uint8_t	*hdr;		/* the first octet of the TLV */
	const uint8_t	*p;		/* content */
	size_t		 len;		/* content octets */
	size_t		 tlv_len;	/* header + content */
};

/* A cursor over a span of bytes. */
struct der_cur {
	const uint8_t	*p;
	size_t		 left;
};

static inline void
der_cur_init(struct der_cur *c, const uint8_t *p, size_t len)
{
	c->p = p;
	c->left = len;
}

/*
 * Read one TLV and advance. -1 on truncation, indefinite length, non-minimal
 * length octets, a length over 4 octets, or a high tag number.
 */
int der_read(struct der_cur *c, struct der_tlv *t);
/* der_read and require the tag. */
int der_expect(struct der_cur *c, uint8_t tag, struct der_tlv *t);
/* The next tag without consuming it; -1 when the cursor is empty. */
int der_peek(const struct der_cur *c);

/* INTEGER content is minimal and at least one octet (X.690 §8.3.2). */
bool der_int_minimal(const uint8_t *p, size_t len);
/* Minimal INTEGER content that is negative (top bit of the first octet). */
static inline bool
der_int_negative(const uint8_t *p, size_t len)
{
	return len > 0 && (p[0] & 0x80) != 0;
}
/* Minimal non-negative INTEGER content that fits 64 bits into *v. */
bool der_int_u64(const uint8_t *p, size_t len, uint64_t *v);
/* OBJECT IDENTIFIER content is well formed (X.690 §8.19). */
bool der_oid_ok(const uint8_t *p, size_t len);
/* Well-formed OBJECT IDENTIFIER content as dotted text ("2.5.4.3") into
   out[size]; false when malformed, an arc is over 64 bits or it does not
   fit. */
bool der_oid_text(const uint8_t *p, size_t len, char *out, size_t size);
/*
 * The content of a SET OF holds DER TLVs in the order X.690 §11.6 asks:
 * ascending as octet strings, the shorter padded with trailing zeros.
 * false when an element does not read (der_read) or is out of order.
 */
bool der_set_of_ordered(const uint8_t *p, size_t len);
/*
 * A UTCTime or GeneralizedTime TLV in the only DER form RFC 5280 §4.1.2.5
 * allows (YYMMDDHHMMSSZ / YYYYMMDDHHMMSSZ, valid calendar values) into
 * seconds since the epoch.
 */
bool der_time_parse(const struct der_tlv *t, int64_t *out);

#endif
