/*
 * common/base64.c: RFC 4648's test vectors, round trips at every length
 * and line width, whitespace anywhere, and each way base64 can be wrong
 * (alphabet, padding, bits under the padding, the output cap).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/base64.h"

static int
dec(const char *in, uint8_t *out, size_t max, size_t *n)
{
	struct ca_error e;

	return base64_decode(in, strlen(in), true, out, max, n, &e);
}

/* RFC 4648 section 10, both ways. */
static void
test_vectors(void **state)
{
	static const char *const v[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	struct ca_error	 e;
	uint8_t		 out[16];
	size_t		 n;
	char		*enc;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char want[16];

		assert_int_equal(dec(v[i][1], out, sizeof(out), &n), CA_OK);
		assert_int_equal(n, strlen(v[i][0]));
		assert_memory_equal(out, v[i][0], n);
		assert_int_equal(base64_encode((const uint8_t *)v[i][0],
		    strlen(v[i][0]), 0, &enc, &n, &e), CA_OK);
		snprintf(want, sizeof(want), "%s\n", v[i][1]);
		assert_string_equal(enc, want);
		assert_int_equal(n, strlen(want));
		free(enc);
	}
}

/* Every length from 0 to 200 at widths 0, 4, 64 and 76: lines as wide
   as asked, the last one ended, and back to the same bytes. */
static void
test_round_trip(void **state)
{
	static const size_t widths[] = { 0, 4, 64, 76 };
	struct ca_error	 e;
	uint8_t		 in[200], out[200];
	size_t		 n, m;
	char		*enc;

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 11);
	for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++)
		for (size_t len = 0; len <= sizeof(in); len++) {
			const char *line = NULL;

			assert_int_equal(base64_encode(in, len, widths[w],
			    &enc, &n, &e), CA_OK);
			assert_int_equal(strlen(enc), n);
			assert_int_equal(enc[n - 1], '\n');
			for (char *p = enc; *p != '\0'; p++) {
				if (line == NULL)
					line = p;
				if (*p == '\n') {
					assert_true(widths[w] == 0 ||
					    (size_t)(p - line) <= widths[w]);
					line = NULL;
				}
			}
			assert_int_equal(base64_decode(enc, n, true, out,
			    sizeof(out), &m, &e), CA_OK);
			assert_int_equal(m, len);
			assert_memory_equal(out, in, len);
			free(enc);
		}
}

static void
test_whitespace(void **state)
{
	uint8_t	out[16];
	size_t	n;

	(void)state;
	assert_int_equal(dec(" Zm9v\r\nYmFy\t\n", out, sizeof(out), &n),
	    CA_OK);
	assert_int_equal(n, 6);
	assert_memory_equal(out, "foobar", 6);
	assert_int_equal(dec("Z m 9 v Y g = =", out, sizeof(out), &n), CA_OK);
	assert_int_equal(n, 4);
	assert_int_equal(dec("\r\n\r\n", out, sizeof(out), &n), CA_OK);
	assert_int_equal(n, 0);
}

static void
test_refusals(void **state)
{
	static const char *const bad[] = {
		"Zg",		/* padding missing */
		"Zg=",		/* half of it */
		"Zm9vY",	/* cut */
		"=Zg=",		/* '=' first */
		"Z===",		/* too much padding */
		"Zg=A",		/* data inside the padding */
		"Zg==Zm9v",	/* data after the padding */
		"Zg====",	/* padding after the padding */
		"Zh==",		/* bits under the padding (RFC 4648 3.5) */
		"Zm9=",		/* the same, one '=' */
		"Zm-v",		/* base64url's alphabet */
		"Zm_v",
		"Zm9v\v",	/* a vertical tab is not whitespace here */
		"Zm9v\x80",
		"-----BEGIN",
	};
	uint8_t	out[16];
	size_t	n = 99;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (dec(bad[i], out, sizeof(out), &n) != CA_EMALF)
			fail_msg("accepted '%s'", bad[i]);
		assert_int_equal(n, 99);	/* untouched */
	}
	/* A NUL inside the text is a character like any other. */
	assert_int_equal(base64_decode("Zm9v\0Zm9v", 9, true, out, sizeof(out),
	    &n, NULL), CA_EMALF);
	/* The cap: exactly enough, one byte short. */
	assert_int_equal(dec("Zm9vYmFy", out, 6, &n), CA_OK);
	assert_int_equal(dec("Zm9vYmFy", out, 5, &n), CA_ETOOBIG);
	assert_int_equal(dec("Zm9vYg==", out, 4, &n), CA_OK);
	assert_int_equal(dec("Zm9vYg==", out, 3, &n), CA_ETOOBIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_whitespace),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
