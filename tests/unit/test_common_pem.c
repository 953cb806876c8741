/*
 * common/pem.c: strict base64 (padding, bits past the end, alphabet,
 * line breaks) and the CERTIFICATE blocks of a PEM text (text around
 * them, truncation, other labels, caps).
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

#include "common/base64.h"
#include "common/pem.h"

static int
b64(const char *in, bool spaces, uint8_t *out, size_t *n)
{
	return base64_decode(in, strlen(in), spaces, out, 64, n, NULL);
}

static void
test_base64(void **state)
{
	uint8_t	out[64];
	size_t	n;

	(void)state;
	/* RFC 4648 section 10's vectors. */
	assert_int_equal(b64("", false, out, &n), CA_OK);
	assert_int_equal(n, 0);
	assert_int_equal(b64("Zg==", false, out, &n), CA_OK);
	assert_int_equal(n, 1);
	assert_memory_equal(out, "f", 1);
	assert_int_equal(b64("Zm8=", false, out, &n), CA_OK);
	assert_memory_equal(out, "fo", 2);
	assert_int_equal(b64("Zm9vYmFy", false, out, &n), CA_OK);
	assert_int_equal(n, 6);
	assert_memory_equal(out, "foobar", 6);
	/* '+' and '/' are digits 62 and 63. */
	assert_int_equal(b64("+/+/", false, out, &n), CA_OK);
	assert_int_equal(n, 3);
	assert_int_equal(out[0], 0xfb);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(out[2], 0xbf);
	/* Line breaks only where allowed. */
	assert_int_equal(b64("Zm9v\r\nYmFy\n", true, out, &n), CA_OK);
	assert_int_equal(n, 6);
	assert_int_equal(b64("Zm9v\nYmFy", false, out, &n), CA_EMALF);
	/* Strictness: unpadded, too much padding, data after it, bits set
	   past the end (section 3.5), a character outside the alphabet. */
	assert_int_equal(b64("Zg", false, out, &n), CA_EMALF);
	assert_int_equal(b64("Z===", false, out, &n), CA_EMALF);
	assert_int_equal(b64("Zg==Zg==", false, out, &n), CA_EMALF);
	assert_int_equal(b64("Zh==", false, out, &n), CA_EMALF);
	assert_int_equal(b64("Zm9=", false, out, &n), CA_EMALF);
	assert_int_equal(b64("Zm9v-mFy", false, out, &n), CA_EMALF);
	assert_int_equal(b64("Zm9v%2B==", false, out, &n), CA_EMALF);
	/* Too small an output. */
	assert_int_equal(base64_decode("Zm9vYmFy", 8, false, out, 5, &n, NULL),
	    CA_ETOOBIG);
}

#define BEGIN	"-----BEGIN CERTIFICATE-----\n"
#define END	"-----END CERTIFICATE-----\n"

static int
decode(const char *text, size_t max, struct pem_certs *pc)
{
	struct ca_error e;
	int		rc;

	memset(&e, 0, sizeof(e));
	rc = pem_certs_decode(text, strlen(text), max, 64, pc, &e);
	/* A refusal always says why. */
	if (rc != CA_OK)
		assert_true(e.msg[0] != '\0');
	return rc;
}

static void
test_pem_certs(void **state)
{
	struct pem_certs	pc;
	char			big[4096];

	(void)state;
	assert_int_equal(decode("explanatory text\n" BEGIN "Zm9v\n" END
	    "subject=CN=x\n" BEGIN "YmFy\n" END, 10, &pc), CA_OK);
	assert_int_equal(pc.n, 2);
	assert_int_equal(pc.len[0], 3);
	assert_memory_equal(pc.der[0], "foo", 3);
	assert_memory_equal(pc.der[1], "bar", 3);
	pem_certs_clear(&pc);
	assert_null(pc.buf);
	/* CRLF line ends, as a Windows editor leaves them. */
	assert_int_equal(decode("-----BEGIN CERTIFICATE-----\r\nZm9v\r\n"
	    "-----END CERTIFICATE-----\r\n", 10, &pc), CA_OK);
	pem_certs_clear(&pc);
	/* Truncated: the last block has no END, even after a good one. */
	assert_int_equal(decode(BEGIN "Zm9v\n" END BEGIN "YmFy\n", 10, &pc),
	    CA_EMALF);
	assert_null(pc.buf);
	assert_int_equal(decode(BEGIN "Zm9v", 10, &pc), CA_EMALF);
	assert_int_equal(decode("-----BEGIN CERTIF", 10, &pc), CA_EMALF);
	/* Another label: a key pasted by mistake is never read. */
	assert_int_equal(decode("-----BEGIN PRIVATE KEY-----\nZm9v\n"
	    "-----END PRIVATE KEY-----\n", 10, &pc), CA_EMALF);
	/* Nothing, bad base64, an empty block, a NUL. */
	assert_int_equal(decode("", 10, &pc), CA_EMALF);
	assert_int_equal(decode("no pem here", 10, &pc), CA_EMALF);
	assert_int_equal(decode(BEGIN "Zm9v!\n" END, 10, &pc), CA_EMALF);
	assert_int_equal(decode(BEGIN END, 10, &pc), CA_EMALF);
	assert_int_equal(pem_certs_decode(BEGIN "Zm\0v\n" END,
	    sizeof(BEGIN "Zm\0v\n" END) - 1, 10, 64, &pc, NULL), CA_EMALF);
	/* Caps: the count, and the size of one certificate. */
	assert_int_equal(decode(BEGIN "Zm9v\n" END BEGIN "Zm9v\n" END
	    BEGIN "Zm9v\n" END, 2, &pc), CA_ETOOBIG);
	snprintf(big, sizeof(big), BEGIN "%s\n" END,
	    "Zm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9v"
	    "Zm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9v");
	assert_int_equal(decode(big, 10, &pc), CA_ETOOBIG);
}

/* pem_encode writes what GnuTLS writes, for every tail length and for
   whole lines (64 columns: 48 octets). */
static void
test_pem_encode(void **state)
{
	static const char *const labels[] = { "CERTIFICATE", "X509 CRL" };
	uint8_t		 der[300];
	struct ca_error	 e;

	(void)state;
	for (size_t i = 0; i < sizeof(der); i++)
		der[i] = (uint8_t)(i * 37 + 11);
	for (size_t l = 0; l < 2; l++)
		for (size_t len = 1; len <= sizeof(der); len++) {
			gnutls_datum_t	 d = { der, (unsigned)len }, ref;
			char		*pem = NULL;
			size_t		 n = 0;

			assert_int_equal(gnutls_pem_base64_encode2(labels[l],
			    &d, &ref), 0);
			assert_int_equal(pem_encode(labels[l], der, len, &pem,
			    &n, &e), CA_OK);
			assert_int_equal(n, strlen(pem));
			assert_int_equal(n, ref.size);
			assert_memory_equal(pem, ref.data, n);
			gnutls_free(ref.data);
			free(pem);
		}
}

struct sink {
	char	*buf;
	size_t	 len, cap, calls, fail_at;
};

static int
sink_put(void *ctx, const char *text, size_t n)
{
	struct sink *k = ctx;

	if (++k->calls == k->fail_at)
		return CA_EIO;
	assert_true(k->len + n <= k->cap);
	memcpy(k->buf + k->len, text, n);
	k->len += n;
	return CA_OK;
}

/*
 * pem_encode_stream hands out pem_encode's text, byte for byte, in pieces
 * of whole lines: below, at and around one piece and several
 * (PEM_STREAM_CHUNK octets each); pem_encoded_len is its length; the
 * first error of put stops it and is returned.
 */
static void
test_pem_encode_stream(void **state)
{
	const size_t	 c = PEM_STREAM_CHUNK;
	const size_t	 lens[] = { 1, 2, 3, 47, 48, 49, 300, c - 1, c, c + 1,
	    c + 48, 2 * c + 5, 3 * c };
	uint8_t		*der;
	struct sink	 k;
	struct ca_error	 e;

	(void)state;
	assert_non_null(der = malloc(3 * c));
	for (size_t i = 0; i < 3 * c; i++)
		der[i] = (uint8_t)(i * 131 + (i >> 9));
	memset(&k, 0, sizeof(k));
	k.cap = pem_encoded_len("X509 CRL", 3 * c);
	assert_non_null(k.buf = malloc(k.cap));
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		char	*pem = NULL;
		size_t	 n = 0;

		assert_int_equal(pem_encode("X509 CRL", der, lens[i], &pem, &n,
		    &e), CA_OK);
		assert_int_equal(pem_encoded_len("X509 CRL", lens[i]), n);
		k.len = k.calls = 0;
		k.fail_at = 0;
		assert_int_equal(pem_encode_stream("X509 CRL", der, lens[i],
		    sink_put, &k), CA_OK);
		assert_int_equal(k.len, n);
		assert_memory_equal(k.buf, pem, n);
		/* BEGIN, one piece per chunk, END. */
		assert_int_equal(k.calls, 2 + (lens[i] + c - 1) / c);
		free(pem);
	}
	/* An error of put ends it: the third call of five. */
	k.len = k.calls = 0;
	k.fail_at = 3;
	assert_int_equal(pem_encode_stream("X509 CRL", der, 2 * c + 5,
	    sink_put, &k), CA_EIO);
	assert_int_equal(k.calls, 3);
	assert_int_equal(pem_encode_stream("X509 CRL", der, 0, sink_put, &k),
	    CA_EINVAL);
	free(k.buf);
	free(der);
}

/* pem_cat: blocks on lines of their own, whatever their ends. */
static void
test_pem_cat(void **state)
{
	char	*buf = NULL;
	size_t	 len = 0;

	(void)state;
	assert_int_equal(pem_cat(&buf, &len, "A\n", 2), CA_OK);
	assert_string_equal(buf, "A\n");
	assert_int_equal(pem_cat(&buf, &len, "B", 1), CA_OK);
	assert_string_equal(buf, "A\nB\n");
	assert_int_equal(pem_cat(&buf, &len, "", 0), CA_OK);
	assert_string_equal(buf, "A\nB\n");
	assert_int_equal(len, 4);
	free(buf);
	/* A buffer from a file without its last newline. */
	buf = strdup("C");
	len = 1;
	assert_int_equal(pem_cat(&buf, &len, "D\n", 2), CA_OK);
	assert_string_equal(buf, "C\nD\n");
	assert_int_equal(len, strlen(buf));
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_pem_certs),
		cmocka_unit_test(test_pem_encode),
		cmocka_unit_test(test_pem_cat),
		cmocka_unit_test(test_pem_encode_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
