/*
 * Names in one canonical form, so that a rule written for one spelling of
 * a name holds for every spelling a TLS client would accept.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "ca/ca_int.h"
#include "common/der.h"

bool
ca_ip6_embeds_ip4(const uint8_t ip[16])
{
	static const uint8_t zero[10];

	if (memcmp(ip, zero, 10) != 0)
		return false;
	/* ::ffff:a.b.c.d, IPv4-mapped */
	if (ip[10] == 0xff && ip[11] == 0xff)
		return true;
	/* ::a.b.c.d, IPv4-compatible (deprecated), but not :: or ::1 */
	if (ip[10] == 0 && ip[11] == 0)
		return ip[12] != 0 || ip[13] != 0 || ip[14] != 0 || ip[15] > 1;
	return false;
}

size_t
ca_ip_canon(const uint8_t *ip, size_t len, uint8_t out[16])
{
	if (len == 16 && ca_ip6_embeds_ip4(ip)) {
		memcpy(out, ip + 12, 4);
		return 4;
	}
	memcpy(out, ip, len);
	return len;
}

/* ---- subjectAltNames as text: "dns:", "ip:", "email:", "uri:" ---- */

static const struct {
	const char	*prefix;
	unsigned	 type;
} san_kinds[] = {
	{ "dns:", GNUTLS_SAN_DNSNAME },
	{ "ip:", GNUTLS_SAN_IPADDRESS },
	{ "email:", GNUTLS_SAN_RFC822NAME },
	{ "uri:", GNUTLS_SAN_URI },
};

int
ca_san_format(unsigned type, const uint8_t *data, size_t len, char *out,
    size_t size)
{
	char	ip[INET6_ADDRSTRLEN];
	uint8_t	canon[16];
	size_t	n;

	for (size_t i = 0; i < sizeof(san_kinds) / sizeof(san_kinds[0]); i++) {
		if (san_kinds[i].type != type)
			continue;
		if (type == GNUTLS_SAN_IPADDRESS) {
			if (len != 4 && len != 16)
				return CA_EMALF;
			n = ca_ip_canon(data, len, canon);
			inet_ntop(n == 4 ? AF_INET : AF_INET6, canon, ip,
			    sizeof(ip));
			return snprintf(out, size, "ip:%s", ip) < (int)size ?
			    CA_OK : CA_ETOOBIG;
		}
		/* DNS names compare without case and a trailing dot (RFC
		   4343, RFC 1034 section 3.1); so does an e-mail address's
		   domain, and its local part is left as it is. */
		n = len;
		if (type == GNUTLS_SAN_DNSNAME && n > 1 && data[n - 1] == '.')
			n--;
		if (strlen(san_kinds[i].prefix) + n >= size)
			return CA_ETOOBIG;
		{
			char		*o = out + strlen(san_kinds[i].prefix);
			const uint8_t	*at = type == GNUTLS_SAN_RFC822NAME ?
			    memchr(data, '@', n) : NULL;

			memcpy(out, san_kinds[i].prefix,
			    strlen(san_kinds[i].prefix));
			for (size_t k = 0; k < n; k++) {
				bool fold = type == GNUTLS_SAN_DNSNAME ||
				    (at != NULL && data + k > at);

				o[k] = (char)(fold ? tolower(data[k]) :
				    data[k]);
			}
			o[n] = '\0';
		}
		return CA_OK;
	}
	return CA_EINVAL;	/* a type no grant can name */
}

int
ca_san_parse(const char *text, char *canon, size_t size,
    struct ca_error *err)
{
	uint8_t	ip[16];
	size_t	plen;

	for (size_t i = 0; i < sizeof(san_kinds) / sizeof(san_kinds[0]); i++) {
		const char *v;

		plen = strlen(san_kinds[i].prefix);
		if (strncasecmp(text, san_kinds[i].prefix, plen) != 0)
			continue;
		v = text + plen;
		if (*v == '\0' || strlen(v) >= CA_NAME_MAX)
			return ca_error_set(err, CA_EINVAL, "subjectAltName "
			    "'%.64s': the value is empty or longer than %d "
			    "bytes", text, CA_NAME_MAX - 1);
		if (san_kinds[i].type == GNUTLS_SAN_IPADDRESS) {
			if (inet_pton(AF_INET, v, ip) == 1)
				return ca_san_format(GNUTLS_SAN_IPADDRESS, ip,
				    4, canon, size);
			if (inet_pton(AF_INET6, v, ip) != 1)
				return ca_error_set(err, CA_EINVAL,
				    "subjectAltName '%.64s' is not an IP "
				    "address", text);
			if (ca_ip6_embeds_ip4(ip))
				return ca_error_set(err, CA_EINVAL,
				    "subjectAltName '%.64s' is an IPv4 "
				    "address written as IPv6: give it as IPv4",
				    text);
			return ca_san_format(GNUTLS_SAN_IPADDRESS, ip, 16,
			    canon, size);
		}
		for (const char *c = v; *c != '\0'; c++)
			if ((unsigned char)*c <= 0x20 ||
			    (unsigned char)*c >= 0x7f)
				return ca_error_set(err, CA_EINVAL,
				    "subjectAltName '%.64s' holds a byte "
				    "outside printable ASCII", text);
		if (ca_san_format(san_kinds[i].type, (const uint8_t *)v,
		    strlen(v), canon, size) != CA_OK)
			return ca_error_set(err, CA_ETOOBIG, "subjectAltName "
			    "'%.64s' is too long", text);
		return CA_OK;
	}
	return ca_error_set(err, CA_EINVAL, "subjectAltName '%.64s': expected "
	    "dns:NAME, ip:ADDRESS, email:ADDRESS or uri:URI", text);
}

/* ---- what a certificate names ---- */

static int
by_text(const void *a, const void *b)
{
	return strcmp(a, b);
}

int
ca_identity_of(const uint8_t *der, size_t len, struct ca_identity *out,
    struct ca_error *err)
{
	gnutls_x509_crt_t	 crt = NULL;
	gnutls_datum_t		 d = { (unsigned char *)der, (unsigned)len };
	gnutls_datum_t		 dn = { NULL, 0 };
	uint8_t			 buf[CA_NAME_MAX];
	size_t			 sz;
	unsigned		 type;
	int			 rc;

	memset(out, 0, sizeof(*out));
	if ((rc = gnutls_x509_crt_init(&crt)) < 0)
		return ca_gnutls_err(err, CA_ENOMEM, rc, "init");
	if ((rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER)) < 0) {
		rc = ca_error_set(err, CA_EMALF, "certificate: %s",
		    gnutls_strerror(rc));
		goto out;
	}
	if ((rc = gnutls_x509_crt_get_dn3(crt, &dn, 0)) < 0 &&
	    rc != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
		rc = ca_error_set(err, CA_EMALF, "certificate subject: %s",
		    gnutls_strerror(rc));
		goto out;
	}
	if (dn.size >= sizeof(out->subject)) {
		rc = ca_error_set(err, CA_ETOOBIG, "a subject of %u bytes",
		    dn.size);
		goto out;
	}
	if (dn.size > 0)
		memcpy(out->subject, dn.data, dn.size);
	for (unsigned i = 0; ; i++) {
		sz = sizeof(buf);
		rc = gnutls_x509_crt_get_subject_alt_name2(crt, i, buf, &sz,
		    &type, NULL);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (out->n_sans == CA_SAN_MAX) {
			rc = ca_error_set(err, CA_ETOOBIG, "more than %d "
			    "subjectAltNames", CA_SAN_MAX);
			goto out;
		}
		/* A name we cannot read or write as text still counts: it
		   must be in both certificates, byte for byte. */
		if (rc < 0 || ca_san_format(type, buf, sz,
		    out->sans[out->n_sans], sizeof(out->sans[0])) != CA_OK) {
			char *o = out->sans[out->n_sans];
			size_t k = (size_t)snprintf(o, sizeof(out->sans[0]),
			    "type%u:", rc < 0 ? 0u : type);

			for (size_t j = 0; rc >= 0 && j < sz &&
			    k + 3 < sizeof(out->sans[0]); j++)
				k += (size_t)snprintf(o + k,
				    sizeof(out->sans[0]) - k, "%02x", buf[j]);
		}
		out->n_sans++;
	}
	qsort(out->sans, out->n_sans, sizeof(out->sans[0]), by_text);
	rc = CA_OK;
out:
	gnutls_free(dn.data);
	gnutls_x509_crt_deinit(crt);
	return rc;
}

/* ---- a Name as RFC 4514 text, without libtasn1 ---- */

/* Value string tags ca_name_text writes itself. */
#define NAME_UTF8	0x0c
#define NAME_PRINTABLE	0x13
#define NAME_IA5	0x16

/*
 * The attribute types ca_name_text writes, with the short name GnuTLS
 * gives each and the one value tag GnuTLS writes as text for it (the
 * second when a DirectoryString also takes PrintableString): GnuTLS
 * writes any other tag as "#" and the hex of the value's DER, which is
 * left to GnuTLS (test_ca_name_text.c checks every row against it).
 */
static const struct name_type {
	uint8_t		 oid[10];
	uint8_t		 oid_len;
	const char	*name;
	uint8_t		 tag, tag2;
} name_types[] = {
	{ { 0x55, 0x04, 0x03 }, 3, "CN", NAME_UTF8, NAME_PRINTABLE },
	{ { 0x55, 0x04, 0x0a }, 3, "O", NAME_UTF8, NAME_PRINTABLE },
	{ { 0x55, 0x04, 0x0b }, 3, "OU", NAME_UTF8, NAME_PRINTABLE },
	{ { 0x55, 0x04, 0x07 }, 3, "L", NAME_UTF8, NAME_PRINTABLE },
	{ { 0x55, 0x04, 0x08 }, 3, "ST", NAME_UTF8, NAME_PRINTABLE },
	{ { 0x55, 0x04, 0x09 }, 3, "street", NAME_UTF8, NAME_PRINTABLE },
	{ { 0x55, 0x04, 0x0c }, 3, "title", NAME_UTF8, NAME_PRINTABLE },
	{ { 0x55, 0x04, 0x04 }, 3, "surName", NAME_UTF8, NAME_PRINTABLE },
	{ { 0x55, 0x04, 0x2a }, 3, "givenName", NAME_UTF8, NAME_PRINTABLE },
	{ { 0x55, 0x04, 0x06 }, 3, "C", NAME_PRINTABLE, 0 },
	{ { 0x55, 0x04, 0x05 }, 3, "serialNumber", NAME_PRINTABLE, 0 },
	/* 0.9.2342.19200300.100.1.1 and .25 (RFC 4519) */
	{ { 0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01 }, 10,
	    "UID", NAME_UTF8, NAME_PRINTABLE },
	{ { 0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19 }, 10,
	    "DC", NAME_IA5, 0 },
	/* 1.2.840.113549.1.9.1 (PKCS #9 emailAddress) */
	{ { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01 }, 9,
	    "EMAIL", NAME_IA5, 0 },
};

static const struct name_type *
name_type_of(const struct der_tlv *type, uint8_t tag)
{
	for (size_t i = 0; i < sizeof(name_types) / sizeof(name_types[0]);
	    i++) {
		const struct name_type *t = &name_types[i];

		if (type->len == t->oid_len &&
		    memcmp(type->p, t->oid, t->oid_len) == 0)
			return tag == t->tag || (t->tag2 != 0 &&
			    tag == t->tag2) ? t : NULL;
	}
	return NULL;
}

/* Appends s[n] to out at *at; false when it does not fit (with the NUL). */
static bool
put(char *out, size_t size, size_t *at, const void *s, size_t n)
{
	if (n >= size - *at)
		return false;
	memcpy(out + *at, s, n);
	*at += n;
	return true;
}

/*
 * One value, escaped as GnuTLS escapes (RFC 4514 §2.4): the special
 * characters anywhere, '#' and ' ' first, ' ' last. Printable ASCII only:
 * anything else (UTF-8 included) is left to GnuTLS.
 */
static bool
put_value(char *out, size_t size, size_t *at, const uint8_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = v[i];

		if (c < 0x20 || c > 0x7e)
			return false;
		if (strchr(",+\"\\<>;", c) != NULL ||
		    (i == 0 && (c == '#' || c == ' ')) ||
		    (i == n - 1 && c == ' '))
			if (!put(out, size, at, "\\", 1))
				return false;
		if (!put(out, size, at, &c, 1))
			return false;
	}
	return true;
}

size_t
ca_name_text(const uint8_t *name, size_t len, char *out, size_t size)
{
	struct der_tlv	rdns[CA_NAME_TEXT_RDNS];
	struct der_cur	c, rc, ac;
	struct der_tlv	atv, type, val;
	size_t		n = 0, at = 0;

	if (size == 0)
		return 0;
	der_cur_init(&c, name, len);
	while (c.left > 0) {
		if (n == CA_NAME_TEXT_RDNS || der_expect(&c, DER_SET,
		    &rdns[n]) != 0)
			return 0;
		n++;
	}
	/* RFC 4514 §2.1: the last RDN of the sequence first. */
	while (n-- > 0) {
		const struct name_type *t;

		der_cur_init(&rc, rdns[n].p, rdns[n].len);
		/* one attribute an RDN (multi-valued ones are GnuTLS's) */
		if (der_expect(&rc, DER_SEQUENCE, &atv) != 0 || rc.left != 0)
			return 0;
		der_cur_init(&ac, atv.p, atv.len);
		if (der_expect(&ac, DER_OID, &type) != 0 ||
		    der_read(&ac, &val) != 0 || ac.left != 0 || val.len == 0 ||
		    (t = name_type_of(&type, val.tag)) == NULL)
			return 0;
		if ((at > 0 && !put(out, size, &at, ",", 1)) ||
		    !put(out, size, &at, t->name, strlen(t->name)) ||
		    !put(out, size, &at, "=", 1) ||
		    !put_value(out, size, &at, val.p, val.len))
			return 0;
	}
	out[at] = '\0';
	return at;
}
