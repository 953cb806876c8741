/*
 * crl/der.c: the DER writer (lengths at every length-of-length boundary,
 * INTEGERs, times around the UTCTime/GeneralizedTime switch) and the strict
 * reader (everything BER allows and DER does not is refused).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crl/crl_int.h"
#include "common/der.h"

/* A TLV with len content octets: header bytes as X.690 §8.1.3 says. */
static void
test_lengths(void **state)
{
	static const struct {
		size_t		len;
		size_t		hdr;
		uint8_t		bytes[6];
	} cases[] = {
		{ 0,		2, { 0x04, 0x00 } },
		{ 127,		2, { 0x04, 0x7f } },
		{ 128,		3, { 0x04, 0x81, 0x80 } },
		{ 255,		3, { 0x04, 0x81, 0xff } },
		{ 256,		4, { 0x04, 0x82, 0x01, 0x00 } },
		{ 65535,	4, { 0x04, 0x82, 0xff, 0xff } },
		{ 65536,	5, { 0x04, 0x83, 0x01, 0x00, 0x00 } },
		{ 16777215,	5, { 0x04, 0x83, 0xff, 0xff, 0xff } },
		{ 16777216,	6, { 0x04, 0x84, 0x01, 0x00, 0x00, 0x00 } },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t		 len = cases[i].len, cap = len + 6;
		uint8_t		*mem = malloc(cap), *content = malloc(len + 1);
		struct der_buf	 b;
		struct der_cur	 c;
		struct der_tlv	 t;

		assert_non_null(mem);
		assert_non_null(content);
		for (size_t k = 0; k < len; k++)
			content[k] = (uint8_t)(k * 7);
		assert_int_equal(der_hdr_len(len), cases[i].hdr);
		assert_int_equal(der_tlv_len(len), cases[i].hdr + len);
		der_buf_init(&b, mem, cap);
		der_put_tlv(&b, DER_OCTET_STRING, content, len);
		assert_false(b.overflow);
		assert_int_equal(b.len, cases[i].hdr + len);
		assert_memory_equal(mem, cases[i].bytes, cases[i].hdr);
		/* The reader gives back exactly what was written. */
		der_cur_init(&c, mem, b.len);
		assert_int_equal(der_read(&c, &t), 0);
		assert_int_equal(t.tag, DER_OCTET_STRING);
		assert_int_equal(t.len, len);
		assert_int_equal(t.tlv_len, b.len);
		assert_int_equal(c.left, 0);
		if (len > 0)
			assert_memory_equal(t.p, content, len);
		/* One byte short: refused, cursor unchanged. */
		der_cur_init(&c, mem, b.len - 1);
		assert_int_equal(der_read(&c, &t), -1);
		assert_int_equal(c.left, b.len - 1);
		/* One byte too little room: overflow, nothing claimed. */
		der_buf_init(&b, mem, cases[i].hdr + len - 1);
		der_put_tlv(&b, DER_OCTET_STRING, content, len);
		assert_true(b.overflow);
		free(mem);
		free(content);
	}
}

static void
test_reader_refuses_ber(void **state)
{
	static const struct {
		const char	*why;
		uint8_t		 b[8];
		size_t		 n;
	} bad[] = {
		{ "indefinite length", { 0x30, 0x80, 0x00, 0x00 }, 4 },
		{ "long form for 5", { 0x04, 0x81, 0x05, 1, 2, 3, 4, 5 }, 8 },
		{ "leading zero length octet", { 0x04, 0x82, 0x00, 0x01, 9 },
		    5 },
		{ "five length octets", { 0x04, 0x85, 0, 0, 0, 0, 1, 0 }, 8 },
		{ "high tag number", { 0x1f, 0x20, 0x01, 0x00 }, 4 },
		{ "length past the end", { 0x04, 0x05, 1, 2 }, 4 },
		{ "one byte", { 0x04 }, 1 },
	};
	struct der_cur	c;
	struct der_tlv	t;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		der_cur_init(&c, bad[i].b, bad[i].n);
		if (der_read(&c, &t) != -1)
			fail_msg("accepted: %s", bad[i].why);
	}
	/* der_expect leaves the cursor alone on a wrong tag. */
	{
		static const uint8_t ok[] = { 0x02, 0x01, 0x05 };
		der_cur_init(&c, ok, sizeof(ok));
		assert_int_equal(der_expect(&c, DER_SEQUENCE, &t), -1);
		assert_int_equal(c.left, 3);
		assert_int_equal(der_peek(&c), DER_INTEGER);
		assert_int_equal(der_expect(&c, DER_INTEGER, &t), 0);
		assert_int_equal(der_peek(&c), -1);
	}
}

static void
test_integers(void **state)
{
	static const struct {
		uint64_t	v;
		uint8_t		b[11];
		size_t		n;
	} cases[] = {
		{ 0, { 0x02, 0x01, 0x00 }, 3 },
		{ 1, { 0x02, 0x01, 0x01 }, 3 },
		{ 127, { 0x02, 0x01, 0x7f }, 3 },
		{ 128, { 0x02, 0x02, 0x00, 0x80 }, 4 },
		{ 255, { 0x02, 0x02, 0x00, 0xff }, 4 },
		{ 256, { 0x02, 0x02, 0x01, 0x00 }, 4 },
		{ 0x7fffffffffffffffULL, { 0x02, 0x08, 0x7f, 0xff, 0xff, 0xff,
		    0xff, 0xff, 0xff, 0xff }, 10 },
		{ UINT64_MAX, { 0x02, 0x09, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0xff, 0xff, 0xff }, 11 },
	};
	uint8_t		mem[16];
	struct der_buf	b;
	uint64_t	v;
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		der_buf_init(&b, mem, sizeof(mem));
		der_put_uint(&b, DER_INTEGER, cases[i].v);
		assert_int_equal(b.len, cases[i].n);
		assert_memory_equal(mem, cases[i].b, cases[i].n);
		assert_true(der_int_minimal(mem + 2, b.len - 2));
		assert_false(der_int_negative(mem + 2, b.len - 2));
		assert_true(der_int_u64(mem + 2, b.len - 2, &v));
		assert_true(v == cases[i].v);
	}
	/* Non-minimal, negative, too wide. */
	assert_false(der_int_minimal((const uint8_t *)"", 0));
	assert_false(der_int_minimal((const uint8_t *)"\x00\x01", 2));
	assert_false(der_int_minimal((const uint8_t *)"\xff\x80", 2));
	assert_true(der_int_minimal((const uint8_t *)"\x00\x80", 2));
	assert_true(der_int_minimal((const uint8_t *)"\xff\x7f", 2));
	assert_true(der_int_negative((const uint8_t *)"\x80", 1));
	assert_false(der_int_u64((const uint8_t *)"\x80", 1, &v));
	assert_false(der_int_u64((const uint8_t *)"\x01\x00\x00\x00\x00\x00"
	    "\x00\x00\x00", 9, &v));
}

static void
check_time(int64_t t, uint8_t tag, const char *text)
{
	uint8_t		mem[32];
	struct der_buf	b;
	struct der_cur	c;
	struct der_tlv	tlv;
	int64_t		back;

	der_buf_init(&b, mem, sizeof(mem));
	assert_true(der_put_time(&b, t));
	assert_int_equal(b.len, 2 + strlen(text));
	assert_int_equal(der_time_len(t), b.len);
	assert_int_equal(mem[0], tag);
	assert_int_equal(mem[1], strlen(text));
	assert_memory_equal(mem + 2, text, strlen(text));
	der_cur_init(&c, mem, b.len);
	assert_int_equal(der_read(&c, &tlv), 0);
	assert_true(der_time_parse(&tlv, &back));
	assert_true(back == t);
}

static void
test_times(void **state)
{
	(void)state;
	/* RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime after. */
	check_time(2524607999LL, DER_UTCTIME, "491231235959Z");
	check_time(2524608000LL, DER_GENTIME, "20500101000000Z");
	check_time(-631152000LL, DER_UTCTIME, "500101000000Z");
	check_time(-631152001LL, DER_GENTIME, "19491231235959Z");
	check_time(0, DER_UTCTIME, "700101000000Z");
	check_time(1709164800LL, DER_UTCTIME, "240229000000Z");
	check_time(253402300799LL, DER_GENTIME, "99991231235959Z");
	/* Out of range: nothing written. */
	{
		uint8_t		mem[32];
		struct der_buf	b;

		der_buf_init(&b, mem, sizeof(mem));
		assert_false(der_put_time(&b, 253402300800LL));
		assert_int_equal(der_time_len(253402300800LL), 0);
		assert_int_equal(b.len, 0);
	}
}

static void
test_times_refused(void **state)
{
	static const struct {
		uint8_t		 tag;
		const char	*s;
	} bad[] = {
		{ DER_UTCTIME, "491231235959" },	/* no Z */
		{ DER_UTCTIME, "4912312359Z" },		/* no seconds */
		{ DER_UTCTIME, "491231235959+0000" },
		{ DER_GENTIME, "20500101000000.5Z" },
		{ DER_UTCTIME, "230229000000Z" },	/* not a leap year */
		{ DER_UTCTIME, "491331000000Z" },	/* month 13 */
		{ DER_UTCTIME, "491231240000Z" },	/* hour 24 */
		{ DER_UTCTIME, "49123123595aZ" },
		{ DER_GENTIME, "491231235959Z" },	/* length of UTCTime */
		{ DER_OCTET_STRING, "491231235959Z" },
	};
	struct der_tlv	t;
	int64_t		v;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t.tag = bad[i].tag;
		t.p = (const uint8_t *)bad[i].s;
		t.len = strlen(bad[i].s);
		if (der_time_parse(&t, &v))
			fail_msg("accepted time %s", bad[i].s);
	}
}

static void
test_oids(void **state)
{
	(void)state;
	assert_true(der_oid_ok((const uint8_t *)"\x55\x1d\x14", 3));
	assert_true(der_oid_ok((const uint8_t *)"\x2a\x86\x48\xce\x3d\x04\x03"
	    "\x02", 8));
	assert_false(der_oid_ok((const uint8_t *)"", 0));
	assert_false(der_oid_ok((const uint8_t *)"\x55\x9d", 2));
	assert_false(der_oid_ok((const uint8_t *)"\x55\x80\x01", 3));
}

/* Short-form TLV (content under 128 octets) at out; returns its length. */
static size_t
tlv(uint8_t *out, uint8_t tag, const uint8_t *c, size_t len)
{
	assert_true(len < 0x80);
	out[0] = tag;
	out[1] = (uint8_t)len;
	memcpy(out + 2, c, len);
	return 2 + len;
}

/*
 * A v2 CertificateList (ecdsa-with-SHA256, empty issuer, no entries) whose
 * crlExtensions hold one extension: ext is the content of its SEQUENCE.
 */
static size_t
crl_with_ext(uint8_t *out, const uint8_t *ext, size_t ext_len)
{
	static const uint8_t head[] = { 0x02, 0x01, 0x01,
	    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03,
	    0x02, 0x30, 0x00,
	    0x17, 0x0d, '2', '6', '0', '1', '0', '1', '0', '0', '0', '0', '0',
	    '0', 'Z' };
	static const uint8_t alg[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
	    0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
	uint8_t	a[128], b[128], tbs[256], cl[256];
	size_t	n, m, t, c;

	n = tlv(a, DER_SEQUENCE, ext, ext_len);		/* Extension */
	m = tlv(b, DER_SEQUENCE, a, n);			/* Extensions */
	n = tlv(a, DER_CTX_CONS(0), b, m);		/* [0] EXPLICIT */
	memcpy(tbs, head, sizeof(head));
	memcpy(tbs + sizeof(head), a, n);
	t = tlv(cl, DER_SEQUENCE, tbs, sizeof(head) + n);
	memcpy(cl + t, alg, sizeof(alg));
	t += sizeof(alg);
	t += tlv(cl + t, DER_BIT_STRING, (const uint8_t *)"", 1);
	c = tlv(out, DER_SEQUENCE, cl, t);
	return c;
}

/*
 * Inner TLVs found with der_peek must still be read successfully: a
 * truncated keyIdentifier or critical flag is malformed, not a pointer into
 * uninitialised memory (RFC 5280 section 4.2.1.1; X.690 section 8.1.3).
 */
static void
test_parse_truncated_inner(void **state)
{
	/* AKI extnValue: SEQUENCE { [0] claiming 5 octets, 1 present }. */
	static const uint8_t aki_bad[] = { 0x06, 0x03, 0x55, 0x1d, 0x23,
	    0x04, 0x05, 0x30, 0x03, 0x80, 0x05, 0x01 };
	/* The same with a whole keyIdentifier. */
	static const uint8_t aki_ok[] = { 0x06, 0x03, 0x55, 0x1d, 0x23,
	    0x04, 0x05, 0x30, 0x03, 0x80, 0x01, 0x01 };
	/* AKI with bytes after the keyIdentifier that are no TLV. */
	static const uint8_t aki_trail[] = { 0x06, 0x03, 0x55, 0x1d, 0x23,
	    0x04, 0x06, 0x30, 0x04, 0x80, 0x01, 0x01, 0x81 };
	/* critical BOOLEAN claiming 5 octets inside a 3-octet span. */
	static const uint8_t crit_bad[] = { 0x06, 0x03, 0x55, 0x1d, 0x14,
	    0x01, 0x05, 0xff, 0x04, 0x03, 0x02, 0x01, 0x01 };
	struct crl_parsed p;
	uint8_t	der[512];
	size_t	len;

	(void)state;
	len = crl_with_ext(der, aki_ok, sizeof(aki_ok));
	assert_int_equal(crl_parse_der(der, len, &p), CA_OK);
	assert_true(p.has_aki);
	assert_int_equal(p.aki_len, 1);
	assert_ptr_not_equal(p.aki_keyid, NULL);
	assert_int_equal(p.aki_keyid[0], 0x01);

	len = crl_with_ext(der, aki_bad, sizeof(aki_bad));
	assert_int_equal(crl_parse_der(der, len, &p), CA_EMALF);
	len = crl_with_ext(der, aki_trail, sizeof(aki_trail));
	assert_int_equal(crl_parse_der(der, len, &p), CA_EMALF);
	len = crl_with_ext(der, crit_bad, sizeof(crit_bad));
	assert_int_equal(crl_parse_der(der, len, &p), CA_EMALF);
}

/*
 * RFC 7468 section 3: the encapsulation boundaries are lines of their own.
 * A body glued to the BEGIN or END line is not a PEM CRL, even when its
 * base64 would decode.
 */
static void
test_pem_boundaries_are_lines(void **state)
{
	static const uint8_t ext[] = { 0x06, 0x03, 0x55, 0x1d, 0x23,
	    0x04, 0x05, 0x30, 0x03, 0x80, 0x01, 0x01 };
	struct ca_error	 e;
	uint8_t		 der[512], *out = NULL;
	char		*pem = NULL, glued[1024];
	size_t		 len, plen, olen;
	unsigned	 blocks;
	bool		 outside;
	const size_t	 bl = strlen(CRL_PEM_BEGIN), el = strlen(CRL_PEM_END);

	(void)state;
	len = crl_with_ext(der, ext, sizeof(ext));
	assert_int_equal(crl_pem_encode(der, len, &pem, &plen), CA_OK);
	assert_true(plen + 8 < sizeof(glued));

	/* As encoded, and with CRLF line ends and trailing blanks. */
	assert_int_equal(crl_pem_decode((uint8_t *)pem, plen, &out, &olen,
	    &blocks, &outside, &e), CA_OK);
	assert_int_equal(olen, len);
	assert_memory_equal(out, der, len);
	assert_false(outside);
	free(out);
	out = NULL;
	snprintf(glued, sizeof(glued), "%s \r\n%s", CRL_PEM_BEGIN,
	    pem + bl + 1);
	assert_int_equal(crl_pem_decode((uint8_t *)glued, strlen(glued), &out,
	    &olen, &blocks, &outside, &e), CA_OK);
	free(out);
	out = NULL;

	/* The body glued to the BEGIN line. */
	snprintf(glued, sizeof(glued), "%s%s", CRL_PEM_BEGIN, pem + bl + 1);
	assert_int_equal(crl_pem_decode((uint8_t *)glued, strlen(glued), &out,
	    &olen, &blocks, &outside, &e), CA_EMALF);
	assert_null(out);

	/* The END line glued to the body. */
	memcpy(glued, pem, plen + 1);
	memmove(glued + plen - el - 2, glued + plen - el - 1, el + 2);
	assert_int_equal(crl_pem_decode((uint8_t *)glued, strlen(glued), &out,
	    &olen, &blocks, &outside, &e), CA_EMALF);
	assert_null(out);

	/* One encoding per value (RFC 4648 section 3.5): the last character
	   before the padding with bits set under it (one and two '='), a
	   character outside the alphabet, a padding in the middle. The body
	   is only base64 here, so any length of the DER will do. */
	for (size_t cut = 1; cut <= 3; cut++) {
		char	*p2 = NULL, *pad, *body;
		size_t	 l2 = len - cut;

		assert_int_equal(crl_pem_encode(der, l2, &p2, &plen), CA_OK);
		body = p2 + bl + 1;
		if ((pad = strchr(body, '=')) != NULL) {
			/* Its value is a multiple of 4 (A, E, ..., w, 0, 4,
			   8): the next character sets a bit under '='. */
			pad[-1]++;
			assert_int_equal(crl_pem_decode((uint8_t *)p2, plen,
			    &out, &olen, &blocks, &outside, &e), CA_EMALF);
			assert_null(out);
			pad[-1]--;
		} else {
			assert_int_equal(l2 % 3, 0);
		}
		assert_int_equal(crl_pem_decode((uint8_t *)p2, plen, &out,
		    &olen, &blocks, &outside, &e), CA_OK);
		assert_int_equal(olen, l2);
		free(out);
		out = NULL;
		body[10] = '*';
		assert_int_equal(crl_pem_decode((uint8_t *)p2, plen, &out,
		    &olen, &blocks, &outside, &e), CA_EMALF);
		assert_non_null(strstr(e.msg, "not base64"));
		body[10] = '=';
		assert_int_equal(crl_pem_decode((uint8_t *)p2, plen, &out,
		    &olen, &blocks, &outside, &e), CA_EMALF);
		free(p2);
	}
	free(pem);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_reader_refuses_ber),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_times_refused),
		cmocka_unit_test(test_oids),
		cmocka_unit_test(test_parse_truncated_inner),
		cmocka_unit_test(test_pem_boundaries_are_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
