/*
 * The small DER writer and strict DER reader (see der.h). The writer exists
 * because GnuTLS's CRL writer adds entries in quadratic time, cannot write
 * reasonCode and cannot omit an empty revokedCertificates, and because
 * building a certificate through GnuTLS's crt API costs more CPU than
 * signing it (ca/certder.c); the reader re-checks everything we produce
 * and what crl_check is handed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "common/der.h"

/* ---- calendar (proleptic Gregorian, Howard Hinnant's algorithms) ---- */

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t		era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Seconds of 0000-01-01T00:00:00Z and of 10000-01-01T00:00:00Z. */
#define T_MIN	(-62167219200LL)
#define T_END	(253402300800LL)
/* 1950-01-01 and 2050-01-01: the UTCTime window (RFC 5280 §4.1.2.5.1). */
#define T_UTC_MIN	(-631152000LL)
#define T_UTC_END	(2524608000LL)

/* ---- writer ---- */

void
der_buf_init(struct der_buf *b, uint8_t *mem, size_t cap)
{
	b->p = mem;
	b->cap = cap;
	b->len = 0;
	b->overflow = false;
}

size_t
der_hdr_len(size_t len)
{
	if (len < 0x80)
		return 2;
	if (len <= 0xff)
		return 3;
	if (len <= 0xffff)
		return 4;
	if (len <= 0xffffff)
		return 5;
	return 6;
}

size_t
der_tlv_len(size_t len)
{
	size_t h = der_hdr_len(len);

	if (len > SIZE_MAX - h)
		return 0;
	return h + len;
}

static uint8_t *
room(struct der_buf *b, size_t n)
{
	uint8_t	*p;

	if (b->overflow || n > b->cap - b->len) {
		b->overflow = true;
		return NULL;
	}
	p = b->p + b->len;
	b->len += n;
	return p;
}

void
der_put_raw(struct der_buf *b, const void *src, size_t len)
{
	uint8_t	*p;

	if (len == 0)
		return;
	if ((p = room(b, len)) != NULL)
		memcpy(p, src, len);
}

void
der_put_hdr(struct der_buf *b, uint8_t tag, size_t len)
{
	size_t	 h = der_hdr_len(len), n;
	uint8_t	*p;

	/* Lengths of 2^32 or more never occur here (a CRL is capped far
	   below); refusing them keeps every header within DER_HDR_MAX. */
	if (len > 0xffffffffu) {
		b->overflow = true;
		return;
	}
	if ((p = room(b, h)) == NULL)
		return;
	p[0] = tag;
	if (h == 2) {
		p[1] = (uint8_t)len;
		return;
	}
	n = h - 2;
	p[1] = (uint8_t)(0x80 | n);
	for (size_t i = 0; i < n; i++)
		p[2 + i] = (uint8_t)(len >> (8 * (n - 1 - i)));
}

void
der_put_tlv(struct der_buf *b, uint8_t tag, const void *src, size_t len)
{
	der_put_hdr(b, tag, len);
	der_put_raw(b, src, len);
}

void
der_put_uint(struct der_buf *b, uint8_t tag, uint64_t v)
{
	uint8_t	 c[9];
	size_t	 n = 0;
	int	 i;

	/* Big-endian without leading zero octets, then a 0x00 pad when the
	   top bit is set so that the value stays positive (X.690 §8.3.2). */
	for (i = 7; i >= 0; i--) {
		uint8_t o = (uint8_t)(v >> (8 * i));
		if (n == 0 && o == 0 && i > 0)
			continue;
		if (n == 0 && (o & 0x80))
			c[n++] = 0;
		c[n++] = o;
	}
	der_put_tlv(b, tag, c, n);
}

size_t
der_time_len(int64_t t)
{
	if (t < T_MIN || t >= T_END)
		return 0;
	return (t >= T_UTC_MIN && t < T_UTC_END) ? 15 : 17;
}

static void
put_digits(uint8_t *p, unsigned v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (uint8_t)('0' + v % 10);
		v /= 10;
	}
}

bool
der_put_time(struct der_buf *b, int64_t t)
{
	int64_t		 days, secs, y;
	unsigned	 mo, d;
	uint8_t		 s[15], *p = s;
	bool		 utc;

	if (t < T_MIN || t >= T_END)
		return false;
	days = t / 86400;
	secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	civil_from_days(days, &y, &mo, &d);
	utc = t >= T_UTC_MIN && t < T_UTC_END;
	if (utc) {
		put_digits(p, (unsigned)(y % 100), 2);
		p += 2;
	} else {
		put_digits(p, (unsigned)y, 4);
		p += 4;
	}
	put_digits(p, mo, 2);
	put_digits(p + 2, d, 2);
	put_digits(p + 4, (unsigned)(secs / 3600), 2);
	put_digits(p + 6, (unsigned)(secs / 60 % 60), 2);
	put_digits(p + 8, (unsigned)(secs % 60), 2);
	p[10] = 'Z';
	p += 11;
	der_put_tlv(b, utc ? DER_UTCTIME : DER_GENTIME, s, (size_t)(p - s));
	return true;
}

/* ---- reader ---- */

int
der_read(struct der_cur *c, struct der_tlv *t)
{
	const uint8_t	*p = c->p;
	size_t		 left = c->left, h, l, n;

	if (left < 2)
		return -1;
	/* High tag numbers (0x1f) never occur in a CRL. */
	if ((p[0] & 0x1f) == 0x1f)
		return -1;
	if (p[1] < 0x80) {
		h = 2;
		l = p[1];
	} else {
		/* 0x80 is BER's indefinite length; DER needs definite,
		   minimal lengths (X.690 §10.1). */
		n = p[1] & 0x7f;
		if (n == 0 || n > 4 || left < 2 + n)
			return -1;
		if (p[2] == 0)
			return -1;		/* leading zero length octet */
		l = 0;
		for (size_t i = 0; i < n; i++)
			l = (l << 8) | p[2 + i];
		if (l < 0x80)
			return -1;		/* short form was required */
		h = 2 + n;
	}
	if (l > left - h)
		return -1;
	t->tag = p[0];
	t->hdr = p;
	t->p = p + h;
	t->len = l;
	t->tlv_len = h + l;
	c->p += h + l;
	c->left -= h + l;
	return 0;
}

int
der_expect(struct der_cur *c, uint8_t tag, struct der_tlv *t)
{
	struct der_cur	save = *c;

	if (der_read(c, t) != 0 || t->tag != tag) {
		*c = save;
		return -1;
	}
	return 0;
}

int
der_peek(const struct der_cur *c)
{
	return c->left > 0 ? c->p[0] : -1;
}

bool
der_int_minimal(const uint8_t *p, size_t len)
{
	if (len == 0)
		return false;
	if (len >= 2 && ((p[0] == 0x00 && (p[1] & 0x80) == 0) ||
	    (p[0] == 0xff && (p[1] & 0x80) != 0)))
		return false;
	return true;
}

bool
der_int_u64(const uint8_t *p, size_t len, uint64_t *v)
{
	uint64_t	x = 0;

	if (!der_int_minimal(p, len) || der_int_negative(p, len))
		return false;
	if (p[0] == 0x00) {
		p++;
		len--;
	}
	if (len > 8)
		return false;
	for (size_t i = 0; i < len; i++)
		x = (x << 8) | p[i];
	*v = x;
	return true;
}

bool
der_oid_ok(const uint8_t *p, size_t len)
{
	bool	start = true;

	if (len == 0 || (p[len - 1] & 0x80))
		return false;
	for (size_t i = 0; i < len; i++) {
		/* A subidentifier never starts with 0x80 (X.690 §8.19.2). */
		if (start && p[i] == 0x80)
			return false;
		start = (p[i] & 0x80) == 0;
	}
	return true;
}

bool
der_oid_text(const uint8_t *p, size_t len, char *out, size_t size)
{
	uint64_t	v = 0;
	size_t		o = 0;
	bool		first = true;
	int		n;

	if (size == 0 || !der_oid_ok(p, len))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (v > (UINT64_MAX >> 7))
			return false;
		v = (v << 7) | (p[i] & 0x7f);
		if (p[i] & 0x80)
			continue;
		if (first) {
			unsigned a = v < 40 ? 0 : v < 80 ? 1 : 2;

			n = snprintf(out + o, size - o, "%u.%" PRIu64, a,
			    v - 40 * (uint64_t)a);
			first = false;
		} else
			n = snprintf(out + o, size - o, ".%" PRIu64, v);
		if (n < 0 || (size_t)n >= size - o)
			return false;
		o += (size_t)n;
		v = 0;
	}
	return true;
}

/* a <= b as X.690 §11.6 compares two encodings. */
static bool
set_of_le(const struct der_tlv *a, const struct der_tlv *b)
{
	size_t n = a->tlv_len < b->tlv_len ? a->tlv_len : b->tlv_len;
	int c = memcmp(a->hdr, b->hdr, n);

	if (c != 0)
		return c < 0;
	/* The longer one's tail against the shorter one's zero padding. */
	for (size_t i = n; i < b->tlv_len; i++)
		if (b->hdr[i] != 0)
			return true;
	for (size_t i = n; i < a->tlv_len; i++)
		if (a->hdr[i] != 0)
			return false;
	return true;
}

bool
der_set_of_ordered(const uint8_t *p, size_t len)
{
	struct der_cur	c;
	/* Zeroed only because gcc -O3 (Release) cannot see that `first`
	 * guards the first read of prev (-Wmaybe-uninitialized). */
	struct der_tlv	prev = { 0 }, t;
	bool		first = true;

	der_cur_init(&c, p, len);
	while (c.left > 0) {
		if (der_read(&c, &t) != 0)
			return false;
		if (!first && !set_of_le(&prev, &t))
			return false;
		prev = t;
		first = false;
	}
	return true;
}

static bool
digits(const uint8_t *p, int n, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		*v = *v * 10 + (unsigned)(p[i] - '0');
	}
	return true;
}

bool
der_time_parse(const struct der_tlv *t, int64_t *out)
{
	const uint8_t	*p = t->p;
	unsigned	 yy, mo, d, h, mi, s, mdays;
	int64_t		 y;
	static const unsigned ml[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };

	if (t->tag == DER_UTCTIME && t->len == 13) {
		if (!digits(p, 2, &yy))
			return false;
		/* RFC 5280 §4.1.2.5.1: YY >= 50 is 19YY, else 20YY. */
		y = yy >= 50 ? 1900 + yy : 2000 + yy;
		p += 2;
	} else if (t->tag == DER_GENTIME && t->len == 15) {
		if (!digits(p, 4, &yy))
			return false;
		y = yy;
		p += 4;
	} else
		return false;
	if (!digits(p, 2, &mo) || !digits(p + 2, 2, &d) ||
	    !digits(p + 4, 2, &h) || !digits(p + 6, 2, &mi) ||
	    !digits(p + 8, 2, &s) || p[10] != 'Z')
		return false;
	if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59)
		return false;
	mdays = ml[mo - 1];
	if (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		mdays = 29;
	if (d > mdays)
		return false;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
	return true;
}
