/*
 * CSRs made on the client: a new identity (CN and subjectAltNames) or a
 * renewal that copies the current certificate's subject and names exactly.
 * The key is read here and used to sign; it never goes anywhere else.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gnutls/x509-ext.h>

#include "client/client.h"

static int
gnutls_fail(struct ca_error *err, int code, int rc, const char *what)
{
	if (rc == GNUTLS_E_MEMORY_ERROR)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	return ca_error_set(err, code, "%s: %s", what, gnutls_strerror(rc));
}

/* ---- subjectAltNames ---- */

static bool
printable_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

int
client_san_parse(const char *spec, struct client_san *out,
    struct ca_error *err)
{
	static const struct {
		const char		*prefix;
		enum client_san_type	 type;
	} kinds[] = {
		{ "dns:", CLIENT_SAN_DNS },
		{ "ip:", CLIENT_SAN_IP },
		{ "email:", CLIENT_SAN_EMAIL },
		{ "uri:", CLIENT_SAN_URI },
	};
	struct client_san	 s;
	const char		*v = spec;
	bool			 known = false;

	memset(&s, 0, sizeof(s));
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i].prefix);

		if (strncasecmp(spec, kinds[i].prefix, n) == 0) {
			s.type = kinds[i].type;
			v = spec + n;
			known = true;
			break;
		}
	}
	if (!known) {
		/* step's guess: an IP literal, an address, a URI, a name. */
		uint8_t ip[16];

		if (inet_pton(AF_INET, spec, ip) == 1 ||
		    inet_pton(AF_INET6, spec, ip) == 1)
			s.type = CLIENT_SAN_IP;
		else if (strstr(spec, "://") != NULL)
			s.type = CLIENT_SAN_URI;
		else if (strchr(spec, '@') != NULL)
			s.type = CLIENT_SAN_EMAIL;
		else
			s.type = CLIENT_SAN_DNS;
	}
	if (*v == '\0')
		return ca_error_set(err, CA_EINVAL, "--san %s: the name is "
		    "empty", spec);
	if (strlen(v) >= sizeof(s.value))
		return ca_error_set(err, CA_EINVAL, "--san %.40s...: longer than "
		    "%d bytes", spec, CA_NAME_MAX - 1);
	/* RFC 5280 §4.2.1.6: dNSName, rfc822Name and URI are IA5String. */
	if (!printable_ascii(v))
		return ca_error_set(err, CA_EINVAL, "--san %s: only printable "
		    "ASCII without spaces (IDNs in their xn-- form)", spec);
	snprintf(s.value, sizeof(s.value), "%s", v);
	switch (s.type) {
	case CLIENT_SAN_IP:
		if (inet_pton(AF_INET, v, s.ip) == 1)
			s.ip_len = 4;
		else if (inet_pton(AF_INET6, v, s.ip) == 1)
			s.ip_len = 16;
		else
			return ca_error_set(err, CA_EINVAL, "--san %s: not an "
			    "IPv4 or IPv6 address", spec);
		break;
	case CLIENT_SAN_EMAIL:
		if (strchr(v, '@') == NULL || v[0] == '@' ||
		    v[strlen(v) - 1] == '@')
			return ca_error_set(err, CA_EINVAL, "--san %s: not an "
			    "email address (local@domain)", spec);
		break;
	case CLIENT_SAN_URI:
		if (strchr(v, ':') == NULL || v[0] == ':')
			return ca_error_set(err, CA_EINVAL, "--san %s: not an "
			    "absolute URI (scheme:...)", spec);
		break;
	case CLIENT_SAN_DNS:
		if (strchr(v, ':') != NULL || strchr(v, '/') != NULL ||
		    strchr(v, '@') != NULL)
			return ca_error_set(err, CA_EINVAL, "--san %s: not a DNS "
			    "name (use ip:, email: or uri: for those)", spec);
		break;
	}
	*out = s;
	return CA_OK;
}

static unsigned
san_gnutls_type(enum client_san_type t)
{
	switch (t) {
	case CLIENT_SAN_IP: return GNUTLS_SAN_IPADDRESS;
	case CLIENT_SAN_EMAIL: return GNUTLS_SAN_RFC822NAME;
	case CLIENT_SAN_URI: return GNUTLS_SAN_URI;
	case CLIENT_SAN_DNS: break;
	}
	return GNUTLS_SAN_DNSNAME;
}

/* ---- building and signing ---- */

static int
key_import(const char *key_pem, size_t key_len, gnutls_x509_privkey_t *out,
    gnutls_digest_algorithm_t *dig, struct ca_error *err)
{
	gnutls_x509_privkey_t	key = NULL;
	gnutls_datum_t		d = { (unsigned char *)key_pem,
	    (unsigned)key_len };
	enum ca_key_type	type;
	int			rc;

	/* Only the key types the load balancer accepts (ca_key_type_of
	   says which, or why not). */
	if ((rc = ca_key_type_of(key_pem, key_len, &type, err)) != CA_OK)
		return rc;
	*dig = type == CA_KEY_ECDSA_P384 ? GNUTLS_DIG_SHA384 :
	    type == CA_KEY_ECDSA_P521 ? GNUTLS_DIG_SHA512 : GNUTLS_DIG_SHA256;
	if ((rc = gnutls_x509_privkey_init(&key)) < 0)
		return gnutls_fail(err, CA_ENOMEM, rc, "key init");
	if ((rc = gnutls_x509_privkey_import2(key, &d, GNUTLS_X509_FMT_PEM,
	    NULL, GNUTLS_PKCS_PLAIN)) < 0) {
		gnutls_x509_privkey_deinit(key);
		return gnutls_fail(err, CA_EMALF, rc, "private key");
	}
	*out = key;
	return CA_OK;
}

static int
sans_set(gnutls_x509_crq_t crq, gnutls_subject_alt_names_t sans,
    struct ca_error *err)
{
	gnutls_datum_t	der = { NULL, 0 };
	int		rc;

	if ((rc = gnutls_x509_ext_export_subject_alt_names(sans, &der)) < 0 ||
	    (rc = gnutls_x509_crq_set_extension_by_oid(crq, "2.5.29.17",
	    der.data, der.size, 0)) < 0)
		rc = gnutls_fail(err, CA_ECRYPTO, rc, "subjectAltName");
	else
		rc = CA_OK;
	gnutls_free(der.data);
	return rc;
}

/* Sign crq with key and export it as a malloc'd PEM. */
static int
crq_finish(gnutls_x509_crq_t crq, gnutls_x509_privkey_t key,
    gnutls_digest_algorithm_t dig, char **csr_pem, struct ca_error *err)
{
	gnutls_datum_t	 d = { NULL, 0 };
	char		*buf;
	int		 rc;

	if ((rc = gnutls_x509_crq_set_version(crq, 1)) < 0 ||
	    (rc = gnutls_x509_crq_set_key(crq, key)) < 0 ||
	    (rc = gnutls_x509_crq_sign2(crq, key, dig, 0)) < 0 ||
	    (rc = gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &d)) < 0)
		return gnutls_fail(err, CA_ECRYPTO, rc, "signing the CSR");
	if ((buf = malloc(d.size + 1)) == NULL) {
		gnutls_free(d.data);
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	}
	memcpy(buf, d.data, d.size);
	buf[d.size] = '\0';
	gnutls_free(d.data);
	*csr_pem = buf;
	return CA_OK;
}

int
client_csr_new(const char *key_pem, size_t key_len, const char *cn,
    const struct client_san *sans, size_t n_sans, char **csr_pem,
    struct ca_error *err)
{
	gnutls_x509_privkey_t		 key = NULL;
	gnutls_x509_crq_t		 crq = NULL;
	gnutls_subject_alt_names_t	 sn = NULL;
	gnutls_digest_algorithm_t	 dig;
	int				 rc;

	if (cn == NULL || cn[0] == '\0')
		return ca_error_set(err, CA_EINVAL, "the CN is empty");
	if (strlen(cn) >= CA_NAME_MAX || !utf8_valid((const uint8_t *)cn,
	    strlen(cn), true))
		return ca_error_set(err, CA_EINVAL, "the CN must be UTF-8 "
		    "without control characters, at most %d bytes",
		    CA_NAME_MAX - 1);
	if (n_sans > CA_SAN_MAX)
		return ca_error_set(err, CA_EINVAL, "%zu subjectAltNames: at "
		    "most %d", n_sans, CA_SAN_MAX);
	if ((rc = key_import(key_pem, key_len, &key, &dig, err)) != CA_OK)
		return rc;
	if ((rc = gnutls_x509_crq_init(&crq)) < 0) {
		rc = gnutls_fail(err, CA_ENOMEM, rc, "CSR init");
		goto out;
	}
	if ((rc = gnutls_x509_crq_set_dn_by_oid(crq,
	    GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn))) < 0) {
		rc = gnutls_fail(err, CA_EINVAL, rc, "CN");
		goto out;
	}
	if (n_sans > 0) {
		if ((rc = gnutls_subject_alt_names_init(&sn)) < 0) {
			rc = gnutls_fail(err, CA_ENOMEM, rc, "SAN init");
			goto out;
		}
		for (size_t i = 0; i < n_sans; i++) {
			gnutls_datum_t d;

			if (sans[i].type == CLIENT_SAN_IP) {
				d.data = (unsigned char *)sans[i].ip;
				d.size = (unsigned)sans[i].ip_len;
			} else {
				d.data = (unsigned char *)sans[i].value;
				d.size = (unsigned)strlen(sans[i].value);
			}
			if ((rc = gnutls_subject_alt_names_set(sn,
			    san_gnutls_type(sans[i].type), &d, NULL)) < 0) {
				rc = ca_error_set(err, CA_EINVAL, "--san %s: "
				    "%s", sans[i].value, gnutls_strerror(rc));
				goto out;
			}
		}
		if ((rc = sans_set(crq, sn, err)) != CA_OK)
			goto out;
	}
	rc = crq_finish(crq, key, dig, csr_pem, err);
out:
	if (sn != NULL)		/* not NULL-safe */
		gnutls_subject_alt_names_deinit(sn);
	gnutls_x509_crq_deinit(crq);
	gnutls_x509_privkey_deinit(key);
	return rc;
}

/* One DER TLV from a tag and content (short or long form length). */
static size_t
der_tlv(unsigned long tag, const uint8_t *v, size_t n, uint8_t *out,
    size_t size)
{
	size_t h = 2;

	if (tag > 30 || n > 0xffff)
		return 0;
	if (n >= 0x80)
		h = n > 0xff ? 4 : 3;
	if (h + n > size)
		return 0;
	out[0] = (uint8_t)tag;
	if (h == 2) {
		out[1] = (uint8_t)n;
	} else if (h == 3) {
		out[1] = 0x81;
		out[2] = (uint8_t)n;
	} else {
		out[1] = 0x82;
		out[2] = (uint8_t)(n >> 8);
		out[3] = (uint8_t)n;
	}
	memcpy(out + h, v, n);
	return h + n;
}

/*
 * The subject of crt into crq, attribute by attribute with the same string
 * types (raw DER values), so that the server sees the same name.
 */
static int
subject_copy(gnutls_x509_crt_t crt, gnutls_x509_crq_t crq,
    struct ca_error *err)
{
	gnutls_x509_dn_t	dn;
	gnutls_x509_ava_st	ava;
	uint8_t			tlv[CA_NAME_MAX * 4 + 8];
	char			oid[64];
	int			rc;

	if ((rc = gnutls_x509_crt_get_subject(crt, &dn)) < 0)
		return gnutls_fail(err, CA_EMALF, rc, "certificate subject");
	for (int irdn = 0; ; irdn++) {
		int iava;

		for (iava = 0; ; iava++) {
			size_t n;

			rc = gnutls_x509_dn_get_rdn_ava(dn, irdn, iava, &ava);
			if (rc == GNUTLS_E_ASN1_ELEMENT_NOT_FOUND ||
			    rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
				break;
			if (rc < 0)
				return gnutls_fail(err, CA_EMALF, rc,
				    "certificate subject");
			if (ava.oid.size == 0 || ava.oid.size >= sizeof(oid))
				return ca_error_set(err, CA_EMALF, "certificate "
				    "subject: bad attribute type");
			memcpy(oid, ava.oid.data, ava.oid.size);
			oid[ava.oid.size] = '\0';
			n = der_tlv(ava.value_tag, ava.value.data,
			    ava.value.size, tlv, sizeof(tlv));
			if (n == 0)
				return ca_error_set(err, CA_EMALF, "certificate "
				    "subject attribute %s cannot be copied",
				    oid);
			/* Multi-valued RDNs (which this CA never writes)
			   become one RDN per attribute, as the server reads
			   them (ca/csr.c). */
			if ((rc = gnutls_x509_crq_set_dn_by_oid(crq, oid, 1,
			    tlv, (unsigned)n)) < 0)
				return gnutls_fail(err, CA_EMALF, rc,
				    "copying the subject");
		}
		if (iava == 0)
			break;
	}
	return CA_OK;
}

static int
sans_copy(gnutls_x509_crt_t crt, gnutls_x509_crq_t crq, struct ca_error *err)
{
	gnutls_subject_alt_names_t	sn = NULL;
	uint8_t				buf[CA_NAME_MAX + 1];
	unsigned			n = 0;
	int				rc;

	if ((rc = gnutls_subject_alt_names_init(&sn)) < 0)
		return gnutls_fail(err, CA_ENOMEM, rc, "SAN init");
	for (unsigned seq = 0; ; seq++) {
		size_t		size = sizeof(buf);
		unsigned	crit = 0;
		gnutls_datum_t	d;

		rc = gnutls_x509_crt_get_subject_alt_name(crt, seq, buf, &size,
		    &crit);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (rc < 0) {
			rc = gnutls_fail(err, CA_EMALF, rc, "certificate "
			    "subjectAltName");
			goto out;
		}
		d.data = buf;
		d.size = (unsigned)size;
		if ((rc = gnutls_subject_alt_names_set(sn, (unsigned)rc, &d,
		    NULL)) < 0) {
			rc = gnutls_fail(err, CA_EMALF, rc, "copying a "
			    "subjectAltName");
			goto out;
		}
		n++;
	}
	rc = n > 0 ? sans_set(crq, sn, err) : CA_OK;
out:
	gnutls_subject_alt_names_deinit(sn);
	return rc;
}

int
client_csr_renewal(const char *key_pem, size_t key_len,
    const char *cert_pem, size_t cert_len, char **csr_pem,
    struct ca_error *err)
{
	gnutls_x509_privkey_t		 key = NULL;
	gnutls_x509_crt_t		 crt = NULL;
	gnutls_x509_crq_t		 crq = NULL;
	gnutls_digest_algorithm_t	 dig;
	gnutls_datum_t			 d = { (unsigned char *)cert_pem,
	    (unsigned)cert_len };
	gnutls_datum_t			 a = { NULL, 0 }, b = { NULL, 0 };
	int				 rc;

	if ((rc = key_import(key_pem, key_len, &key, &dig, err)) != CA_OK)
		return rc;
	if ((rc = gnutls_x509_crt_init(&crt)) < 0 ||
	    (rc = gnutls_x509_crq_init(&crq)) < 0) {
		rc = gnutls_fail(err, CA_ENOMEM, rc, "init");
		goto out;
	}
	/* The first certificate of the file: the leaf. */
	if ((rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM)) < 0) {
		rc = gnutls_fail(err, CA_EMALF, rc, "not a PEM certificate");
		goto out;
	}
	if ((rc = subject_copy(crt, crq, err)) != CA_OK ||
	    (rc = sans_copy(crt, crq, err)) != CA_OK)
		goto out;
	/* The server compares the names as text (RFC 4514): so do we. */
	{
		int ra = gnutls_x509_crt_get_dn3(crt, &a, 0);
		int rb = gnutls_x509_crq_get_dn3(crq, &b, 0);

		/* An empty subject (a name in the SANs only) reads as
		   "no data" on both sides. */
		if (ra != rb || (ra < 0 &&
		    ra != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)) {
			rc = gnutls_fail(err, CA_EMALF, ra < 0 ? ra : rb,
			    "subject");
			goto out;
		}
	}
	if (a.size != b.size || (a.size > 0 &&
	    memcmp(a.data, b.data, a.size) != 0)) {
		rc = ca_error_set(err, CA_EMALF, "the certificate's subject "
		    "(%.*s) cannot be copied into a CSR as it is", (int)a.size,
		    (const char *)a.data);
		goto out;
	}
	rc = crq_finish(crq, key, dig, csr_pem, err);
out:
	gnutls_free(a.data);
	gnutls_free(b.data);
	gnutls_x509_crq_deinit(crq);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	return rc;
}
