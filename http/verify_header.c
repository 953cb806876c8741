/*
 * What a proxy forwards about its TLS client, decoded without a socket (so
 * that tests/fuzz/fuzz_verify_header.c can drive it): the certificate
 * headers, trusted-proxy ranges, and identity text made safe for a header.
 *
 * ALB (passthrough: X-Amzn-Mtls-Clientcert, the chain; verify:
 * X-Amzn-Mtls-Clientcert-Leaf), nginx ($ssl_client_escaped_cert) and Envoy
 * (%DOWNSTREAM_PEER_CERT%) send the PEM text percent-encoded (RFC 3986
 * section 2.1). ALB leaves '+', '=' and '/' as they are, so '+' is a plus
 * here, never a space (that is HTML forms, not URIs). HAProxy has no such
 * encoding: %[ssl_c_der,base64] is the DER in plain base64.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/base64.h"
#include "common/util.h"
#include "http/http_int.h"

/*
 * Envoy's X-Forwarded-Client-Cert: elements separated by ',', each
 * "Key=value" pairs separated by ';', a value quoted when it holds one of
 * those. The Cert of the last element (the proxy nearest to us; with
 * SANITIZE_SET the only one) into *v, *n; CA_EMALF when there is none.
 */
static int
xfcc_cert(const char *in, size_t len, const char **v, size_t *n,
    struct ca_error *err)
{
	size_t	start = 0, i;
	bool	quoted = false;

	/* The last element starts after the last ',' outside quotes. */
	for (i = 0; i < len; i++) {
		if (in[i] == '"')
			quoted = !quoted;
		else if (in[i] == ',' && !quoted)
			start = i + 1;
	}
	if (quoted)
		return ca_error_set(err, CA_EMALF, "X-Forwarded-Client-Cert has "
		    "an unterminated quote");
	for (i = start; i < len; ) {
		size_t	k = i, e;

		while (k < len && in[k] == ' ')
			k++;
		e = k;
		quoted = false;
		while (e < len && (quoted || in[e] != ';')) {
			if (in[e] == '"')
				quoted = !quoted;
			e++;
		}
		if (e - k > 5 && strncasecmp(in + k, "Cert=", 5) == 0) {
			k += 5;
			if (e - k >= 2 && in[k] == '"' && in[e - 1] == '"') {
				k++;
				e--;
			}
			*v = in + k;
			*n = e - k;
			return CA_OK;
		}
		i = e + 1;
	}
	return ca_error_set(err, CA_EMALF, "X-Forwarded-Client-Cert has no "
	    "Cert field (Envoy: set_current_client_cert_details { cert: true "
	    "})");
}

int
http_verify_header_decode(const char *value, size_t len,
    enum http_cert_encoding enc, struct pem_certs *out, struct ca_error *err)
{
	char	*text = NULL;
	size_t	 n = 0;
	int	 rc;

	memset(out, 0, sizeof(*out));
	if (value == NULL || len == 0)
		return ca_error_set(err, CA_EMALF, "the certificate header is "
		    "empty");
	if (len > HTTP_VERIFY_HEADER_MAX)
		return ca_error_set(err, CA_ETOOBIG, "the certificate header "
		    "is %zu bytes, over the limit of %d", len,
		    HTTP_VERIFY_HEADER_MAX);
	if (enc == HTTP_CERT_DER_BASE64) {
		uint8_t *der;

		if ((der = malloc(len / 4 * 3 + 3)) == NULL)
			return ca_error_set(err, CA_ENOMEM, "out of memory");
		if (base64_decode(value, len, false, der, len / 4 * 3 + 3,
		    &n, NULL) != CA_OK || n == 0) {
			free(der);
			return ca_error_set(err, CA_EMALF, "the certificate "
			    "header is not the base64 of a DER certificate "
			    "(RFC 4648 section 4)");
		}
		if (n > CA_CERT_MAX) {
			free(der);
			return ca_error_set(err, CA_ETOOBIG, "a certificate of "
			    "%zu bytes: the limit is %d", n, CA_CERT_MAX);
		}
		out->buf = der;
		out->der[0] = der;
		out->len[0] = n;
		out->n = 1;
		return CA_OK;
	}
	if (enc == HTTP_CERT_XFCC) {
		int rc2;

		if ((rc2 = xfcc_cert(value, len, &value, &len, err)) != CA_OK)
			return rc2;
		if (len == 0)
			return ca_error_set(err, CA_EMALF, "the Cert field of "
			    "X-Forwarded-Client-Cert is empty");
	}
	/* Percent-decoding only shortens: len bytes always suffice. */
	if ((text = malloc(len + 1)) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (value[i] != '%') {
			text[n++] = value[i];
			continue;
		}
		if (len - i < 3 || (hi = hex_digit(value[i + 1])) < 0 ||
		    (lo = hex_digit(value[i + 2])) < 0) {
			free(text);
			return ca_error_set(err, CA_EMALF, "the certificate "
			    "header has a '%%' at byte %zu not followed by two "
			    "hex digits (RFC 3986 section 2.1)", i);
		}
		text[n++] = (char)(hi << 4 | lo);
		i += 2;
	}
	text[n] = '\0';
	rc = pem_certs_decode(text, n, HTTP_VERIFY_CHAIN_MAX, CA_CERT_MAX, out,
	    err);
	free(text);
	return rc;
}

int
http_cidr_parse(const char *text, struct http_cidr *out, struct ca_error *err)
{
	char		 addr[INET6_ADDRSTRLEN + 1];
	const char	*slash;
	size_t		 alen;
	uint64_t	 prefix;
	struct http_cidr c;

	memset(&c, 0, sizeof(c));
	if (text == NULL)
		return ca_error_set(err, CA_EINVAL, "no address");
	slash = strchr(text, '/');
	alen = slash != NULL ? (size_t)(slash - text) : strlen(text);
	if (alen == 0 || alen >= sizeof(addr))
		goto bad;
	memcpy(addr, text, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, c.addr) == 1)
		c.len = 4;
	else if (inet_pton(AF_INET6, addr, c.addr) == 1)
		c.len = 16;
	else
		goto bad;
	/* An IPv4 address written as IPv6 is the IPv4 one (ca/names.c). */
	if (c.len == 16 && c.addr[10] == 0xff && c.addr[11] == 0xff &&
	    memcmp(c.addr, "\0\0\0\0\0\0\0\0\0\0", 10) == 0) {
		if (slash != NULL && parse_u64(slash + 1, 96, 128, &prefix) !=
		    CA_OK)
			goto bad;
		memmove(c.addr, c.addr + 12, 4);
		memset(c.addr + 4, 0, 12);
		c.len = 4;
		c.prefix = slash != NULL ? (unsigned)prefix - 96 : 32;
	} else if (slash != NULL) {
		if (parse_u64(slash + 1, 0, c.len * 8, &prefix) != CA_OK)
			goto bad;
		c.prefix = (unsigned)prefix;
	} else {
		c.prefix = (unsigned)c.len * 8;
	}
	/* Bits past the prefix must be zero: "10.1.2.3/8" is a typo for
	   something, and guessing which is not ours to do. */
	for (unsigned b = c.prefix; b < c.len * 8; b++)
		if (c.addr[b / 8] & (0x80 >> (b % 8)))
			return ca_error_set(err, CA_EINVAL, "\"%s\": the address "
			    "has bits set past its /%u prefix", text, c.prefix);
	*out = c;
	return CA_OK;
bad:
	return ca_error_set(err, CA_EINVAL, "\"%.80s\" is not an address or "
	    "a range: expected \"10.0.0.0/8\", \"192.0.2.7\" or "
	    "\"2001:db8::/32\"", text);
}

int
http_verify_proxy_check(const char *text, struct ca_error *err)
{
	struct http_cidr c;

	return http_cidr_parse(text, &c, err);
}

bool
http_cidr_match(const struct http_cidr *c, size_t n, const struct sockaddr *sa)
{
	uint8_t		 a[16];
	size_t		 alen;

	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		memcpy(a, &((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr, 4);
		alen = 4;
	} else if (sa->sa_family == AF_INET6) {
		const uint8_t *p = ((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr.s6_addr;

		/* A v4 client of a "::" listener arrives v4-mapped. */
		if (p[10] == 0xff && p[11] == 0xff &&
		    memcmp(p, "\0\0\0\0\0\0\0\0\0\0", 10) == 0) {
			memcpy(a, p + 12, 4);
			alen = 4;
		} else {
			memcpy(a, p, 16);
			alen = 16;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned full = c[i].prefix / 8, rest = c[i].prefix % 8;

		if (c[i].len != alen || memcmp(c[i].addr, a, full) != 0)
			continue;
		if (rest == 0 || ((c[i].addr[full] ^ a[full]) &
		    (uint8_t)(0xff00 >> rest)) == 0)
			return true;
	}
	return false;
}

char *
http_header_text(const char *in, bool rfc4514)
{
	size_t	 n = 0, o = 0;
	char	*out;

	if (in == NULL)
		in = "";
	for (const unsigned char *p = (const unsigned char *)in; *p; p++)
		n += *p < 0x20 || *p >= 0x7f ? 3 : 1;
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (*p < 0x20 || *p >= 0x7f)
			o += (size_t)snprintf(out + o, n + 1 - o, "%c%02X",
			    rfc4514 ? '\\' : '%', *p);
		else
			out[o++] = (char)*p;
	}
	out[o] = '\0';
	return out;
}
