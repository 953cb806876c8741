/*
 * http/verify_header.c: the certificate headers proxies forward — ALB's
 * URL-encoded PEM chain ('+' left as it is), nginx's escaping, HAProxy's
 * base64 DER — with their caps (64 KiB, 10 certificates), and the
 * trusted-proxy ranges. (The verifier itself: test_ca_verify.c; the
 * listener with real proxies: tests/e2e/verify_nginx.sh.)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
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

#include "http/http_int.h"

/* A self-signed certificate's PEM and DER (owned by the caller). */
static void
make_cert(gnutls_datum_t *pem, gnutls_datum_t *der)
{
	gnutls_x509_privkey_t	k;
	gnutls_x509_crt_t	crt;
	uint8_t			serial[4] = { 1, 2, 3, 4 };

	assert_int_equal(gnutls_x509_privkey_init(&k), 0);
	assert_int_equal(gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0), 0);
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_set_version(crt, 3), 0);
	assert_int_equal(gnutls_x509_crt_set_serial(crt, serial, 4), 0);
	assert_int_equal(gnutls_x509_crt_set_dn(crt, "CN=header test", NULL),
	    0);
	assert_int_equal(gnutls_x509_crt_set_key(crt, k), 0);
	gnutls_x509_crt_set_activation_time(crt, 0);
	gnutls_x509_crt_set_expiration_time(crt, 2000000000);
	assert_int_equal(gnutls_x509_crt_sign2(crt, crt, k, GNUTLS_DIG_SHA256,
	    0), 0);
	assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM,
	    pem), 0);
	assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER,
	    der), 0);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(k);
}

/*
 * Percent-encode as AWS's documentation shows ALB's header
 * ("-----BEGIN%20CERTIFICATE-----%0A..."): unreserved characters and
 * "+=/" as they are, everything else %XX.
 */
static char *
alb_encode(const char *in, size_t n)
{
	char	*out = malloc(3 * n + 1), *o = out;

	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr("-_.~+=/", c) != NULL)
			*o++ = (char)c;
		else
			o += sprintf(o, "%%%02X", c);
	}
	*o = '\0';
	return out;
}

static int
dec(const char *v, enum http_cert_encoding enc, struct pem_certs *pc)
{
	struct ca_error e;
	int		rc;

	memset(&e, 0, sizeof(e));
	rc = http_verify_header_decode(v, strlen(v), enc, pc, &e);
	if (rc != CA_OK)
		assert_true(e.msg[0] != '\0');
	return rc;
}

static void
test_alb_header(void **state)
{
	gnutls_datum_t		 pem, der;
	struct pem_certs	 pc;
	char			*h, *chain, *p;
	size_t			 n;

	(void)state;
	make_cert(&pem, &der);
	h = alb_encode((const char *)pem.data, pem.size);
	assert_memory_equal(h, "-----BEGIN%20CERTIFICATE-----%0A", 32);
	assert_int_equal(dec(h, HTTP_CERT_PEM_URLENCODED, &pc), CA_OK);
	assert_int_equal(pc.n, 1);
	assert_int_equal(pc.len[0], der.size);
	assert_memory_equal(pc.der[0], der.data, der.size);
	pem_certs_clear(&pc);
	/* '+' is a plus: read as a space, the base64 would not decode (or
	   decode to other bytes). The DER's base64 has one if it has 62. */
	if (strchr(h, '+') != NULL) {
		char *sp = strdup(h);

		for (p = sp; *p; p++)
			if (*p == '+')
				*p = ' ';
		if (dec(sp, HTTP_CERT_PEM_URLENCODED, &pc) == CA_OK)
			assert_memory_not_equal(pc.der[0], der.data, der.size);
		pem_certs_clear(&pc);
		free(sp);
	}
	/* Always: "+/+/" is 0xfb 0xff 0xbf, never " /+/". */
	assert_int_equal(dec("-----BEGIN%20CERTIFICATE-----%0A+/+/%0A-----END"
	    "%20CERTIFICATE-----%0A", HTTP_CERT_PEM_URLENCODED, &pc), CA_OK);
	assert_int_equal(pc.len[0], 3);
	assert_memory_equal(pc.der[0], "\xfb\xff\xbf", 3);
	pem_certs_clear(&pc);
	/* nginx escapes '+', '/' and '=' too: the same bytes. */
	{
		char *all = malloc(3 * pem.size + 1), *o = all;

		for (size_t i = 0; i < pem.size; i++) {
			unsigned char c = pem.data[i];

			if (c == '+' || c == '/' || c == '=' || c == ' ' ||
			    c == '\n')
				o += sprintf(o, "%%%02x", c);	/* lower case */
			else
				*o++ = (char)c;
		}
		*o = '\0';
		assert_int_equal(dec(all, HTTP_CERT_PEM_URLENCODED, &pc),
		    CA_OK);
		assert_memory_equal(pc.der[0], der.data, der.size);
		pem_certs_clear(&pc);
		free(all);
	}
	/* A chain of 10 passes, 11 does not. */
	n = strlen(h);
	chain = malloc(11 * n + 1);
	for (int i = 0; i < 11; i++)
		memcpy(chain + (size_t)i * n, h, n + 1);
	chain[10 * n] = '\0';
	assert_int_equal(dec(chain, HTTP_CERT_PEM_URLENCODED, &pc), CA_OK);
	assert_int_equal(pc.n, 10);
	pem_certs_clear(&pc);
	memcpy(chain + 10 * n, h, n + 1);
	assert_int_equal(dec(chain, HTTP_CERT_PEM_URLENCODED, &pc),
	    CA_ETOOBIG);
	free(chain);
	/* Truncated: the header cut in the middle of the PEM. */
	h[n / 2] = '\0';
	assert_int_equal(dec(h, HTTP_CERT_PEM_URLENCODED, &pc), CA_EMALF);
	/* A '%' without two hex digits; a %00. */
	assert_int_equal(dec("-----BEGIN%2", HTTP_CERT_PEM_URLENCODED, &pc),
	    CA_EMALF);
	assert_int_equal(dec("%zz", HTTP_CERT_PEM_URLENCODED, &pc), CA_EMALF);
	assert_int_equal(dec("-----BEGIN%20CERTIFICATE-----%0AZm9v%00%0A"
	    "-----END%20CERTIFICATE-----", HTTP_CERT_PEM_URLENCODED, &pc),
	    CA_EMALF);
	assert_int_equal(dec("", HTTP_CERT_PEM_URLENCODED, &pc), CA_EMALF);
	free(h);
	gnutls_free(pem.data);
	gnutls_free(der.data);
}

static void
test_caps_and_haproxy(void **state)
{
	gnutls_datum_t		 pem, der, b64;
	struct pem_certs	 pc;
	struct ca_error		 e;
	char			*big;

	(void)state;
	/* Over 64 KiB: refused before any decoding. */
	big = malloc(HTTP_VERIFY_HEADER_MAX + 2);
	memset(big, 'A', HTTP_VERIFY_HEADER_MAX + 1);
	big[HTTP_VERIFY_HEADER_MAX + 1] = '\0';
	assert_int_equal(http_verify_header_decode(big, HTTP_VERIFY_HEADER_MAX
	    + 1, HTTP_CERT_PEM_URLENCODED, &pc, &e), CA_ETOOBIG);
	free(big);
	/* HAProxy: %[ssl_c_der,base64]. */
	make_cert(&pem, &der);
	assert_int_equal(gnutls_base64_encode2(&der, &b64), 0);
	big = strndup((const char *)b64.data, b64.size);
	assert_int_equal(dec(big, HTTP_CERT_DER_BASE64, &pc), CA_OK);
	assert_int_equal(pc.n, 1);
	assert_memory_equal(pc.der[0], der.data, der.size);
	pem_certs_clear(&pc);
	big[5] = '%';
	assert_int_equal(dec(big, HTTP_CERT_DER_BASE64, &pc), CA_EMALF);
	/* PEM is not what HAProxy sends. */
	assert_int_equal(dec((const char *)pem.data, HTTP_CERT_DER_BASE64,
	    &pc), CA_EMALF);
	free(big);
	gnutls_free(b64.data);
	gnutls_free(pem.data);
	gnutls_free(der.data);
}

/* Envoy: the Cert field of X-Forwarded-Client-Cert's last element. */
static void
test_xfcc(void **state)
{
	gnutls_datum_t		 pem, der, pem2, der2;
	struct pem_certs	 pc;
	char			*h, *h2, *x;
	size_t			 n;

	(void)state;
	make_cert(&pem, &der);
	make_cert(&pem2, &der2);
	h = alb_encode((const char *)pem.data, pem.size);
	h2 = alb_encode((const char *)pem2.data, pem2.size);
	n = strlen(h) + strlen(h2) + 512;
	x = malloc(n);
	snprintf(x, n, "By=spiffe://a/b;Hash=0a1b;Cert=\"%s\";"
	    "Subject=\"CN=x,O=y\";URI=", h);
	assert_int_equal(dec(x, HTTP_CERT_XFCC, &pc), CA_OK);
	assert_memory_equal(pc.der[0], der.data, der.size);
	pem_certs_clear(&pc);
	/* Two elements: the last is the proxy nearest to us. */
	snprintf(x, n, "Hash=1;Cert=\"%s\",Hash=2;Subject=\"CN=a,O=b\";"
	    "Cert=%s", h, h2);
	assert_int_equal(dec(x, HTTP_CERT_XFCC, &pc), CA_OK);
	assert_memory_equal(pc.der[0], der2.data, der2.size);
	pem_certs_clear(&pc);
	/* A Cert only in an earlier element does not count. */
	snprintf(x, n, "Cert=\"%s\",Hash=2;Subject=\"CN=a\"", h);
	assert_int_equal(dec(x, HTTP_CERT_XFCC, &pc), CA_EMALF);
	assert_int_equal(dec("Hash=1;Cert=\"-----BEGIN", HTTP_CERT_XFCC,
	    &pc), CA_EMALF);
	assert_int_equal(dec("Hash=1;Cert=", HTTP_CERT_XFCC, &pc), CA_EMALF);
	free(x);
	free(h);
	free(h2);
	gnutls_free(pem.data);
	gnutls_free(der.data);
	gnutls_free(pem2.data);
	gnutls_free(der2.data);
}

static bool
in(const char *range, const char *addr)
{
	struct http_cidr	c;
	struct sockaddr_in	s4;
	struct sockaddr_in6	s6;
	struct ca_error		e;

	assert_int_equal(http_cidr_parse(range, &c, &e), CA_OK);
	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	if (inet_pton(AF_INET, addr, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		return http_cidr_match(&c, 1, (struct sockaddr *)&s4);
	}
	assert_int_equal(inet_pton(AF_INET6, addr, &s6.sin6_addr), 1);
	s6.sin6_family = AF_INET6;
	return http_cidr_match(&c, 1, (struct sockaddr *)&s6);
}

static void
test_cidr(void **state)
{
	struct http_cidr	c;
	struct ca_error		e;
	char			*t;

	(void)state;
	assert_true(in("127.0.0.1", "127.0.0.1"));
	assert_false(in("127.0.0.1", "127.0.0.2"));
	assert_true(in("10.0.0.0/8", "10.255.1.2"));
	assert_false(in("10.0.0.0/8", "11.0.0.1"));
	assert_true(in("192.168.4.0/22", "192.168.7.255"));
	assert_false(in("192.168.4.0/22", "192.168.8.0"));
	assert_true(in("0.0.0.0/0", "203.0.113.9"));
	assert_false(in("0.0.0.0/0", "2001:db8::1"));
	assert_true(in("2001:db8::/32", "2001:db8:ffff::1"));
	assert_false(in("2001:db8::/32", "2001:db9::1"));
	assert_true(in("::1", "::1"));
	/* A v4 client of a "::" listener arrives v4-mapped. */
	assert_true(in("127.0.0.0/8", "::ffff:127.0.0.2"));
	assert_true(in("::ffff:10.0.0.0/104", "10.1.1.1"));
	/* Typos are refused, not guessed. */
	assert_int_equal(http_cidr_parse("10.1.2.3/8", &c, &e), CA_EINVAL);
	assert_int_equal(http_cidr_parse("10.0.0.0/33", &c, &e), CA_EINVAL);
	assert_int_equal(http_cidr_parse("10.0.0.0/", &c, &e), CA_EINVAL);
	assert_int_equal(http_cidr_parse("localhost", &c, &e), CA_EINVAL);
	assert_int_equal(http_cidr_parse("/8", &c, &e), CA_EINVAL);
	assert_int_equal(http_verify_proxy_check("fd00::/8", &e), CA_OK);
	/* Identity text for a header. */
	t = http_header_text("CN=J\xc3\xa9r\xc3\xb4me,O=x", true);
	assert_string_equal(t, "CN=J\\C3\\A9r\\C3\\B4me,O=x");
	free(t);
	t = http_header_text("dns:a\r\nX-Evil: 1", false);
	assert_string_equal(t, "dns:a%0D%0AX-Evil: 1");
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alb_header),
		cmocka_unit_test(test_caps_and_haproxy),
		cmocka_unit_test(test_xfcc),
		cmocka_unit_test(test_cidr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
