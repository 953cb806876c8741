/*
 * ca_name_text (ca/names.c) against gnutls_x509_rdn_get2, the call it
 * stands in for on the enrollment path: for every attribute type of its
 * table and some it leaves to GnuTLS, every value tag, every printable
 * ASCII character first, inside and last in a value, UTF-8 and control
 * characters, one to four RDNs, and 20,000 random names. Whenever
 * ca_name_text writes a text it must be GnuTLS's, octet for octet; and it
 * must write one for the shapes enrollment sees (else it saves nothing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "ca/ca_int.h"

/* A Name under construction: its RDNs' DER, then wrapped. */
struct name {
	uint8_t	rdns[4096];
	size_t	len;
};

static void
put_len(uint8_t *out, size_t *at, size_t len)
{
	if (len < 0x80) {
		out[(*at)++] = (uint8_t)len;
	} else if (len < 0x100) {
		out[(*at)++] = 0x81;
		out[(*at)++] = (uint8_t)len;
	} else {
		out[(*at)++] = 0x82;
		out[(*at)++] = (uint8_t)(len >> 8);
		out[(*at)++] = (uint8_t)len;
	}
}

/* Appends RDN SET { SEQUENCE { OID, value } } (one attribute). */
static void
name_add(struct name *n, const uint8_t *oid, size_t oid_len, uint8_t tag,
    const void *val, size_t val_len)
{
	uint8_t	atv[600], set[620];
	size_t	a = 0, s = 0;

	assert_true(val_len < 500);
	atv[a++] = 0x06;
	put_len(atv, &a, oid_len);
	memcpy(atv + a, oid, oid_len);
	a += oid_len;
	atv[a++] = tag;
	put_len(atv, &a, val_len);
	memcpy(atv + a, val, val_len);
	a += val_len;
	set[s++] = 0x30;
	put_len(set, &s, a);
	memcpy(set + s, atv, a);
	s += a;
	assert_true(n->len + s + 4 < sizeof(n->rdns));
	n->rdns[n->len++] = 0x31;
	put_len(n->rdns, &n->len, s);
	memcpy(n->rdns + n->len, set, s);
	n->len += s;
}

/*
 * Compares the two on n; returns whether ca_name_text wrote a text. A text
 * GnuTLS would not write (an error, or another text) fails the test.
 */
static bool
same_as_gnutls(const struct name *n)
{
	uint8_t		der[4200];
	size_t		d = 0, len;
	char		text[1024];
	gnutls_datum_t	in, out = { NULL, 0 };
	int		rc;

	der[d++] = 0x30;
	put_len(der, &d, n->len);
	memcpy(der + d, n->rdns, n->len);
	d += n->len;
	len = ca_name_text(n->rdns, n->len, text, sizeof(text));
	if (len == 0)
		return false;
	assert_int_equal(strlen(text), len);
	in.data = der;
	in.size = (unsigned)d;
	rc = gnutls_x509_rdn_get2(&in, &out, 0);
	if (rc != 0 || out.size != len || memcmp(out.data, text, len) != 0)
		fail_msg("ca_name_text wrote \"%s\", GnuTLS %d \"%.*s\"", text,
		    rc, (int)out.size, out.data != NULL ? (char *)out.data :
		    "");
	gnutls_free(out.data);
	return true;
}

static const struct {
	uint8_t	oid[10];
	size_t	len;
} oids[] = {
	{ { 0x55, 0x04, 0x03 }, 3 },	/* CN */
	{ { 0x55, 0x04, 0x06 }, 3 },	/* C */
	{ { 0x55, 0x04, 0x0a }, 3 },	/* O */
	{ { 0x55, 0x04, 0x0b }, 3 },	/* OU */
	{ { 0x55, 0x04, 0x07 }, 3 },	/* L */
	{ { 0x55, 0x04, 0x08 }, 3 },	/* ST */
	{ { 0x55, 0x04, 0x09 }, 3 },	/* street */
	{ { 0x55, 0x04, 0x0c }, 3 },	/* title */
	{ { 0x55, 0x04, 0x04 }, 3 },	/* surName */
	{ { 0x55, 0x04, 0x2a }, 3 },	/* givenName */
	{ { 0x55, 0x04, 0x05 }, 3 },	/* serialNumber */
	{ { 0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01 }, 10 },
	{ { 0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19 }, 10 },
	{ { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01 }, 9 },
	/* left to GnuTLS: dnQualifier, organizationIdentifier, an arc of
	   CN's with one more octet, a private OID */
	{ { 0x55, 0x04, 0x2e }, 3 },
	{ { 0x55, 0x04, 0x61 }, 3 },
	{ { 0x55, 0x04, 0x03, 0x01 }, 4 },
	{ { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 0x02, 0x01 }, 10 },
};
#define N_OIDS		(sizeof(oids) / sizeof(oids[0]))
#define N_KNOWN		14	/* the first N_KNOWN rows are in the table */

/* UTF8String, PrintableString, IA5String, TeletexString, BMPString,
   OCTET STRING */
static const uint8_t tags[] = { 0x0c, 0x13, 0x16, 0x14, 0x1e, 0x04 };
#define N_TAGS		(sizeof(tags) / sizeof(tags[0]))

/* The shapes enrollment sees are written without GnuTLS, as it would. */
static void
test_usual_names(void **state)
{
	static const uint8_t cn[] = { 0x55, 0x04, 0x03 }, c[] = { 0x55, 0x04,
	    0x06 }, o[] = { 0x55, 0x04, 0x0a }, ou[] = { 0x55, 0x04, 0x0b };
	struct name	n = { .len = 0 };
	char		text[256];

	(void)state;
	name_add(&n, cn, 3, 0x0c, "bench-client", 12);
	assert_true(same_as_gnutls(&n));
	n.len = 0;
	name_add(&n, c, 3, 0x13, "US", 2);
	name_add(&n, o, 3, 0x0c, "Example, Inc.", 13);
	name_add(&n, ou, 3, 0x13, "ops", 3);
	name_add(&n, cn, 3, 0x0c, "#1 alice ", 9);
	assert_true(same_as_gnutls(&n));
	assert_int_equal(ca_name_text(n.rdns, n.len, text, sizeof(text)),
	    strlen("CN=\\#1 alice\\ ,OU=ops,O=Example\\, Inc.,C=US"));
	assert_string_equal(text, "CN=\\#1 alice\\ ,OU=ops,O=Example\\, Inc.,"
	    "C=US");
	/* too small for the text: left to GnuTLS, nothing half-written
	   counts */
	assert_int_equal(ca_name_text(n.rdns, n.len, text, 10), 0);
	assert_int_equal(ca_name_text(n.rdns, n.len, text, 0), 0);
	/* the empty Name has no text of its own */
	assert_int_equal(ca_name_text(n.rdns, 0, text, sizeof(text)), 0);
}

/* Every type, every tag, every printable character in each position. */
static void
test_each_type_tag_char(void **state)
{
	unsigned	written = 0;

	(void)state;
	for (size_t i = 0; i < N_OIDS; i++)
		for (size_t t = 0; t < N_TAGS; t++)
			for (unsigned ch = 0x20; ch <= 0x7e; ch++) {
				char	v[3][4] = { { (char)ch, 'a', 'b' },
				    { 'a', (char)ch, 'b' },
				    { 'a', 'b', (char)ch } };

				for (int pos = 0; pos < 3; pos++) {
					struct name n = { .len = 0 };
					bool w;

					name_add(&n, oids[i].oid, oids[i].len,
					    tags[t], v[pos], 3);
					w = same_as_gnutls(&n);
					/* only the table's own pairs */
					assert_true(!w || i < N_KNOWN);
					written += w;
				}
			}
	/* CN..givenName take UTF8String and PrintableString, C and
	   serialNumber PrintableString, UID both, DC and EMAIL IA5String:
	   24 pairs, 95 characters, three positions each */
	assert_int_equal(written, (9 * 2 + 1 + 1 + 2 + 1 + 1) * 95 * 3);
}

/* What ca_name_text leaves to GnuTLS. */
static void
test_left_to_gnutls(void **state)
{
	static const uint8_t cn[] = { 0x55, 0x04, 0x03 };
	static const char *const values[] = { "caf\xc3\xa9", "a\x01" "b",
	    "a\x7f" "b", "tab\there", "" };
	struct name	n = { .len = 0 };
	char		text[256];
	uint8_t		multi[] = { 0x31, 0x16,
	    0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x02, 'a', 'b',
	    0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x0b, 0x0c, 0x02, 'c', 'd' };

	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		n.len = 0;
		name_add(&n, cn, 3, 0x0c, values[i], strlen(values[i]));
		assert_false(same_as_gnutls(&n));
	}
	/* a multi-valued RDN */
	assert_int_equal(ca_name_text(multi, sizeof(multi), text,
	    sizeof(text)), 0);
	/* more RDNs than it keeps */
	n.len = 0;
	for (int i = 0; i <= CA_NAME_TEXT_RDNS; i++)
		name_add(&n, cn, 3, 0x0c, "x", 1);
	assert_false(same_as_gnutls(&n));
	n.len = 0;
	for (int i = 0; i < CA_NAME_TEXT_RDNS; i++)
		name_add(&n, cn, 3, 0x0c, "x", 1);
	assert_true(same_as_gnutls(&n));
	/* not DER: truncated, trailing octets, a SEQUENCE for a SET */
	n.len = 0;
	name_add(&n, cn, 3, 0x0c, "ab", 2);
	assert_int_equal(ca_name_text(n.rdns, n.len - 1, text, sizeof(text)),
	    0);
	n.rdns[n.len++] = 0x00;
	assert_int_equal(ca_name_text(n.rdns, n.len, text, sizeof(text)), 0);
	n.len--;
	n.rdns[0] = 0x30;
	assert_int_equal(ca_name_text(n.rdns, n.len, text, sizeof(text)), 0);
}

/* Random names of one to four RDNs from the pools above. */
static void
test_random_names(void **state)
{
	static const char alphabet[] = " #,+\"\\<>;=abcXYZ019-._@:/";
	unsigned	seed = 15, written = 0;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		struct name	n = { .len = 0 };
		int		rdns = 1 + (int)(rand_r(&seed) % 4);

		for (int r = 0; r < rdns; r++) {
			size_t	i = (size_t)rand_r(&seed) % N_OIDS;
			size_t	t = (size_t)rand_r(&seed) % 3;
			size_t	len = 1 + (size_t)rand_r(&seed) % 12;
			char	v[16];

			for (size_t k = 0; k < len; k++)
				v[k] = alphabet[(size_t)rand_r(&seed) %
				    (sizeof(alphabet) - 1)];
			name_add(&n, oids[i].oid, oids[i].len, tags[t], v,
			    len);
		}
		written += same_as_gnutls(&n);
	}
	/* most names mix in a pair outside the table; still, thousands are
	   written and compared */
	assert_true(written > 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usual_names),
		cmocka_unit_test(test_each_type_tag_char),
		cmocka_unit_test(test_left_to_gnutls),
		cmocka_unit_test(test_random_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
