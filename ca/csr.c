/*
 * PKCS#10 requests (RFC 2986) from untrusted clients: one exact encoding,
 * proof of possession first, then ALB's key and signature limits, then the
 * subject and subjectAltName values a profile may copy (STYLE.md,
 * "Untrusted input").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "common/der.h"
#include "common/util.h"
#include "ca/ca_int.h"

#define ALB_SIGS	"the load balancer accepts SHA-256/384/512 with RSA " \
			"(PKCS#1 v1.5 or PSS) or ECDSA"

/* ---- RDN names ---- */

static const struct {
	const char	*name;
	const char	*oid;
} rdn_names[] = {
	{ "CN", "2.5.4.3" },
	{ "C", "2.5.4.6" },
	{ "L", "2.5.4.7" },
	{ "ST", "2.5.4.8" },
	{ "O", "2.5.4.10" },
	{ "OU", "2.5.4.11" },
	{ "emailAddress", "1.2.840.113549.1.9.1" },
	{ "serialNumber", "2.5.4.5" },
	{ "street", "2.5.4.9" },
	{ "title", "2.5.4.12" },
	{ "postalCode", "2.5.4.17" },
	{ "SN", "2.5.4.4" },
	{ "GN", "2.5.4.42" },
	{ "DC", "0.9.2342.19200300.100.1.25" },
	{ "UID", "0.9.2342.19200300.100.1.1" },
	/* aliases used by other tools, after the canonical names */
	{ "E", "1.2.840.113549.1.9.1" },
	{ "EMAIL", "1.2.840.113549.1.9.1" },
	{ "S", "2.5.4.8" },
	{ "surname", "2.5.4.4" },
	{ "givenName", "2.5.4.42" },
};

const char *
ca_rdn_oid(const char *short_name)
{
	for (size_t i = 0; i < sizeof(rdn_names) / sizeof(rdn_names[0]); i++)
		if (strcasecmp(short_name, rdn_names[i].name) == 0)
			return rdn_names[i].oid;
	return NULL;
}

const char *
ca_rdn_name(const char *oid)
{
	for (size_t i = 0; i < sizeof(rdn_names) / sizeof(rdn_names[0]); i++)
		if (strcmp(oid, rdn_names[i].oid) == 0)
			return rdn_names[i].name;
	return NULL;
}

/* ---- encoding ---- */

static bool
is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* memmem(), which glibc declares only under _GNU_SOURCE. */
static const uint8_t *
find_bytes(const uint8_t *hay, size_t n, const char *needle, size_t m)
{
	if (m == 0 || m > n)
		return NULL;
	for (size_t i = 0; i + m <= n; i++)
		if (hay[i] == (uint8_t)needle[0] && memcmp(hay + i, needle, m) == 0)
			return hay + i;
	return NULL;
}

/*
 * Exactly one "CERTIFICATE REQUEST" (RFC 7468 §7) or "NEW CERTIFICATE
 * REQUEST" (Netscape/MSIE) block, with nothing but whitespace around it.
 * On success *der owns GnuTLS-allocated bytes (gnutls_free).
 */
static int
pem_decode(const uint8_t *buf, size_t len, gnutls_datum_t *der,
    struct ca_error *err)
{
	static const char *const labels[] = { "CERTIFICATE REQUEST",
	    "NEW CERTIFICATE REQUEST" };
	char		 begin[64], end[64];
	const uint8_t	*p = buf, *stop = buf + len, *e;
	const char	*label = NULL;
	gnutls_datum_t	 slice;
	int		 rc;

	while (p < stop && is_space(*p))
		p++;
	for (size_t i = 0; i < 2 && label == NULL; i++) {
		snprintf(begin, sizeof(begin), "-----BEGIN %s-----", labels[i]);
		if ((size_t)(stop - p) >= strlen(begin) &&
		    memcmp(p, begin, strlen(begin)) == 0)
			label = labels[i];
	}
	if (label == NULL)
		return ca_error_set(err, CA_EMALF, "PEM block is not a "
		    "CERTIFICATE REQUEST (RFC 7468 section 7)");
	snprintf(end, sizeof(end), "-----END %s-----", label);
	e = find_bytes(p, (size_t)(stop - p), end, strlen(end));
	if (e == NULL)
		return ca_error_set(err, CA_EMALF, "PEM CERTIFICATE REQUEST "
		    "without its END line");
	e += strlen(end);
	for (const uint8_t *q = e; q < stop; q++)
		if (!is_space(*q))
			return ca_error_set(err, CA_EMALF, "text after the "
			    "CERTIFICATE REQUEST block: send exactly one CSR");
	/* A second BEGIN inside the block would mean a truncated first one. */
	if (find_bytes(p + strlen(begin), (size_t)(e - p) - strlen(begin),
	    "-----BEGIN", 10) != NULL)
		return ca_error_set(err, CA_EMALF, "more than one PEM block: "
		    "send exactly one CSR");
	slice.data = (unsigned char *)p;
	slice.size = (unsigned)(e - p);
	if ((rc = gnutls_pem_base64_decode2(label, &slice, der)) < 0)
		return ca_error_set(err, CA_EMALF, "PEM CERTIFICATE REQUEST: "
		    "bad base64 (%s)", gnutls_strerror(rc));
	return CA_OK;
}

/*
 * The SubjectPublicKeyInfo TLV of a DER CertificationRequest (RFC 2986 §4):
 * SEQUENCE { SEQUENCE { version, subject, subjectPKInfo, [0] ... } ... },
 * copied as it is into the certificate (certder.c). Run on DER that GnuTLS
 * accepted and re-encoded identically.
 */
static int
csr_spki(struct ca_csr *csr, const uint8_t *der, size_t len,
    struct ca_error *err)
{
	struct der_cur	c;
	struct der_tlv	t;

	der_cur_init(&c, der, len);
	if (der_expect(&c, DER_SEQUENCE, &t) != 0)
		goto bad;
	der_cur_init(&c, t.p, t.len);
	if (der_expect(&c, DER_SEQUENCE, &t) != 0)
		goto bad;
	der_cur_init(&c, t.p, t.len);
	if (der_expect(&c, DER_INTEGER, &t) != 0 ||
	    der_expect(&c, DER_SEQUENCE, &t) != 0 ||
	    der_expect(&c, DER_SEQUENCE, &t) != 0)
		goto bad;
	if ((csr->spki = malloc(t.tlv_len)) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	memcpy(csr->spki, t.hdr, t.tlv_len);
	csr->spki_len = t.tlv_len;
	return CA_OK;
bad:
	return ca_error_set(err, CA_EMALF, "CSR: no subjectPKInfo (RFC 2986 "
	    "section 4.1)");
}

/* ---- field checks ---- */

static const char *
oid_label(const char *oid)
{
	const char *n = ca_rdn_name(oid);

	return n != NULL ? n : oid;
}

/*
 * Subject AVAs in order. Only string types GnuTLS writes back unchanged
 * are kept; values are capped (CA_NAME_MAX) and must be clean UTF-8.
 * Multi-valued RDNs are flattened (their AVAs are kept in order).
 */
static int
csr_subject(struct ca_csr *csr, const uint8_t *der, size_t der_len,
    struct ca_error *err)
{
	gnutls_x509_dn_t	 dn = NULL;
	gnutls_x509_ava_st	 ava;
	const uint8_t		*name;
	size_t			 name_len;
	gnutls_datum_t		 d;
	int			 rc;

	if (ca_der_crq_subject(der, der_len, &name, &name_len) != 0)
		return ca_error_set(err, CA_EMALF, "CSR subject not found");
	if ((rc = gnutls_x509_dn_init(&dn)) < 0)
		return ca_gnutls_err(err, CA_ENOMEM, rc, "dn init");
	d.data = (unsigned char *)name;
	d.size = (unsigned)name_len;
	if ((rc = gnutls_x509_dn_import(dn, &d)) < 0) {
		rc = ca_error_set(err, CA_EMALF, "CSR subject is not an X.501 "
		    "Name");
		goto out;
	}
	for (int irdn = 0; ; irdn++) {
		int iava;

		for (iava = 0; ; iava++) {
			struct ca_csr_ava *a;
			char oid[64];

			rc = gnutls_x509_dn_get_rdn_ava(dn, irdn, iava, &ava);
			if (rc == GNUTLS_E_ASN1_ELEMENT_NOT_FOUND ||
			    rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
				break;
			if (rc < 0) {
				rc = ca_error_set(err, CA_EMALF, "CSR subject: "
				    "%s", gnutls_strerror(rc));
				goto out;
			}
			if (ava.oid.size == 0 || ava.oid.size >= sizeof(oid)) {
				rc = ca_error_set(err, CA_EMALF, "CSR subject: "
				    "bad attribute type");
				goto out;
			}
			memcpy(oid, ava.oid.data, ava.oid.size);
			oid[ava.oid.size] = '\0';
			if (csr->n_avas == CA_CSR_AVA_MAX) {
				rc = ca_error_set(err, CA_EPOLICY, "CSR subject "
				    "has more than %d attributes",
				    CA_CSR_AVA_MAX);
				goto out;
			}
			/* UTF8String, PrintableString, IA5String (RFC 5280
			 * §4.1.2.6 asks for UTF8String or PrintableString;
			 * emailAddress is IA5String). */
			if (ava.value_tag != 12 && ava.value_tag != 19 &&
			    ava.value_tag != 22) {
				rc = ca_error_set(err, CA_EPOLICY, "subject "
				    "attribute %s uses ASN.1 string tag %lu: "
				    "only UTF8String, PrintableString or "
				    "IA5String are accepted", oid_label(oid),
				    ava.value_tag);
				goto out;
			}
			if (ava.value.size > CA_NAME_MAX) {
				rc = ca_error_set(err, CA_EPOLICY, "subject "
				    "attribute %s is %u bytes long: the limit "
				    "is %d", oid_label(oid), ava.value.size,
				    CA_NAME_MAX);
				goto out;
			}
			if (ava.value.size == 0 ||
			    !utf8_valid(ava.value.data, ava.value.size, true)) {
				rc = ca_error_set(err, CA_EPOLICY, "subject "
				    "attribute %s is empty, not UTF-8 or holds "
				    "control characters", oid_label(oid));
				goto out;
			}
			a = &csr->avas[csr->n_avas];
			if ((a->value = malloc(ava.value.size + 1)) == NULL) {
				rc = ca_error_set(err, CA_ENOMEM,
				    "out of memory");
				goto out;
			}
			memcpy(a->value, ava.value.data, ava.value.size);
			a->value[ava.value.size] = '\0';
			memcpy(a->oid, oid, sizeof(oid));
			csr->n_avas++;
			if (csr->cn == NULL && strcmp(oid, "2.5.4.3") == 0 &&
			    (csr->cn = strdup(a->value)) == NULL) {
				rc = ca_error_set(err, CA_ENOMEM,
				    "out of memory");
				goto out;
			}
		}
		if (iava == 0)
			break;		/* no RDN at irdn: done */
	}
	rc = CA_OK;
out:
	if (dn != NULL)
		gnutls_x509_dn_deinit(dn);
	return rc;
}

static const char *
san_type_name(unsigned type)
{
	switch (type) {
	case GNUTLS_SAN_DNSNAME: return "dNSName";
	case GNUTLS_SAN_RFC822NAME: return "rfc822Name";
	case GNUTLS_SAN_URI: return "uniformResourceIdentifier";
	case GNUTLS_SAN_IPADDRESS: return "iPAddress";
	case GNUTLS_SAN_OTHERNAME: return "otherName";
	case GNUTLS_SAN_DN: return "directoryName";
	case GNUTLS_SAN_REGISTERED_ID: return "registeredID";
	default: return "unknown";
	}
}

/* subjectAltName entries (RFC 5280 §4.2.1.6), capped in count and size. */
static int
csr_sans(struct ca_csr *csr, struct ca_error *err)
{
	uint8_t	buf[CA_NAME_MAX + 1];

	for (unsigned seq = 0; ; seq++) {
		struct ca_csr_san *s;
		size_t size = sizeof(buf);
		unsigned type = 0, crit = 0;
		int rc;

		rc = gnutls_x509_crq_get_subject_alt_name(csr->crq, seq, buf,
		    &size, &type, &crit);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			return CA_OK;
		if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER)
			return ca_error_set(err, CA_EPOLICY, "subjectAltName "
			    "%u is longer than %d bytes", seq + 1, CA_NAME_MAX);
		if (rc < 0)
			return ca_error_set(err, CA_EMALF, "CSR subjectAltName "
			    "extension: %s", gnutls_strerror(rc));
		if (csr->n_sans == CA_SAN_MAX)
			return ca_error_set(err, CA_EPOLICY, "the CSR has more "
			    "than %d subjectAltNames", CA_SAN_MAX);
		type = (unsigned)rc;
		if (size > CA_NAME_MAX)
			return ca_error_set(err, CA_EPOLICY, "subjectAltName "
			    "%u is longer than %d bytes", seq + 1, CA_NAME_MAX);
		switch (type) {
		case GNUTLS_SAN_DNSNAME:
		case GNUTLS_SAN_RFC822NAME:
		case GNUTLS_SAN_URI:
			/* IA5String; no spaces, controls or NULs. */
			if (size == 0)
				return ca_error_set(err, CA_EPOLICY,
				    "empty %s in subjectAltName",
				    san_type_name(type));
			for (size_t i = 0; i < size; i++)
				if (buf[i] <= 0x20 || buf[i] >= 0x7f)
					return ca_error_set(err, CA_EPOLICY,
					    "%s in subjectAltName holds a "
					    "byte outside printable ASCII",
					    san_type_name(type));
			break;
		case GNUTLS_SAN_IPADDRESS:
			if (size != 4 && size != 16)
				return ca_error_set(err, CA_EPOLICY, "iPAddress "
				    "in subjectAltName is %zu bytes: it must "
				    "be 4 (IPv4) or 16 (IPv6)", size);
			/* One name, one form: Java and Go take ::ffff:a.b.c.d
			   for a.b.c.d, so the IPv6 spelling would slip past
			   every rule written for the IPv4 one. */
			if (size == 16 && ca_ip6_embeds_ip4(buf)) {
				char text[64];

				snprintf(text, sizeof(text), "%u.%u.%u.%u",
				    buf[12], buf[13], buf[14], buf[15]);
				return ca_error_set(err, CA_EPOLICY, "iPAddress "
				    "in subjectAltName is the IPv4 address %s "
				    "written as IPv6 (IPv4-mapped or "
				    "-compatible, RFC 4291 section 2.5.5): ask "
				    "for %s", text, text);
			}
			break;
		default:
			break;		/* kept; the profile refuses it */
		}
		s = &csr->sans[csr->n_sans];
		if ((s->data = malloc(size + 1)) == NULL)
			return ca_error_set(err, CA_ENOMEM, "out of memory");
		memcpy(s->data, buf, size);
		s->data[size] = '\0';
		s->len = size;
		s->type = type;
		csr->n_sans++;
	}
}

static const char *
digest_label(gnutls_digest_algorithm_t h)
{
	switch (h) {
	case GNUTLS_DIG_MD5: return "MD5";
	case GNUTLS_DIG_MD2: return "MD2";
	case GNUTLS_DIG_SHA1: return "SHA-1";
	case GNUTLS_DIG_SHA224: return "SHA-224";
	case GNUTLS_DIG_SHA256: return "SHA-256";
	case GNUTLS_DIG_SHA384: return "SHA-384";
	case GNUTLS_DIG_SHA512: return "SHA-512";
	default: return NULL;
	}
}

static int
csr_sig_check(struct ca_csr *csr, struct ca_error *err)
{
	int				 sig;
	gnutls_digest_algorithm_t	 h;
	const char			*hn;

	sig = gnutls_x509_crq_get_signature_algorithm(csr->crq);
	switch (sig) {
	case GNUTLS_SIGN_RSA_SHA256:
	case GNUTLS_SIGN_RSA_SHA384:
	case GNUTLS_SIGN_RSA_SHA512:
	case GNUTLS_SIGN_RSA_PSS_SHA256:
	case GNUTLS_SIGN_RSA_PSS_SHA384:
	case GNUTLS_SIGN_RSA_PSS_SHA512:
	case GNUTLS_SIGN_RSA_PSS_RSAE_SHA256:
	case GNUTLS_SIGN_RSA_PSS_RSAE_SHA384:
	case GNUTLS_SIGN_RSA_PSS_RSAE_SHA512:
	case GNUTLS_SIGN_ECDSA_SHA256:
	case GNUTLS_SIGN_ECDSA_SHA384:
	case GNUTLS_SIGN_ECDSA_SHA512:
		return CA_OK;
	default:
		break;
	}
	h = sig > 0 ? gnutls_sign_get_hash_algorithm(
	    (gnutls_sign_algorithm_t)sig) : GNUTLS_DIG_UNKNOWN;
	if ((hn = digest_label(h)) != NULL)
		return ca_error_set(err, CA_EPOLICY, "CSR signed with %s "
		    "(%s): " ALB_SIGS, hn,
		    gnutls_sign_get_name((gnutls_sign_algorithm_t)sig));
	return ca_error_set(err, CA_EPOLICY, "CSR signature algorithm %s: "
	    ALB_SIGS, sig > 0 ? gnutls_sign_get_name(
	    (gnutls_sign_algorithm_t)sig) : "unknown");
}

int
ca_csr_parse(const uint8_t *buf, size_t len, struct ca_csr **out,
    struct ca_error *err)
{
	struct ca_csr	*csr = NULL;
	gnutls_datum_t	 der = { NULL, 0 }, re = { NULL, 0 }, dn = { NULL, 0 };
	size_t		 i = 0;
	unsigned	 crit = 0, isca = 0;
	int		 rc;

	if (len == 0 || buf == NULL)
		return ca_error_set(err, CA_EMALF, "empty CSR");
	if (len > CA_CSR_MAX)
		return ca_error_set(err, CA_ETOOBIG, "CSR of %zu bytes: the "
		    "limit is %d", len, CA_CSR_MAX);
	while (i < len && is_space(buf[i]))
		i++;
	if (i < len && buf[i] == '-') {
		if ((rc = pem_decode(buf, len, &der, err)) != CA_OK)
			return rc;
	} else if (buf[0] == 0x30) {
		if ((der.data = gnutls_malloc(len)) == NULL)
			return ca_error_set(err, CA_ENOMEM, "out of memory");
		memcpy(der.data, buf, len);
		der.size = (unsigned)len;
	} else
		return ca_error_set(err, CA_EMALF, "not a certificate request: "
		    "expected PEM (-----BEGIN CERTIFICATE REQUEST-----) or DER");

	if ((csr = calloc(1, sizeof(*csr))) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = gnutls_x509_crq_init(&csr->crq)) < 0) {
		rc = ca_gnutls_err(err, CA_ENOMEM, rc, "crq init");
		goto out;
	}
	if ((rc = gnutls_x509_crq_import(csr->crq, &der,
	    GNUTLS_X509_FMT_DER)) < 0) {
		rc = ca_error_set(err, CA_EMALF, "not a PKCS#10 certificate "
		    "request in DER (RFC 2986): %s", gnutls_strerror(rc));
		goto out;
	}
	/* One exact encoding: what we verify is what we parsed. */
	if ((rc = gnutls_x509_crq_export2(csr->crq, GNUTLS_X509_FMT_DER,
	    &re)) < 0) {
		rc = ca_error_set(err, CA_EMALF, "CSR does not re-encode: %s",
		    gnutls_strerror(rc));
		goto out;
	}
	if (re.size != der.size || memcmp(re.data, der.data, der.size) != 0) {
		rc = ca_error_set(err, CA_EMALF, "CSR is not strict DER "
		    "(trailing bytes or a BER encoding; RFC 2986 requires "
		    "DER)");
		goto out;
	}
	if ((rc = gnutls_pubkey_init(&csr->pub)) < 0) {
		rc = ca_gnutls_err(err, CA_ENOMEM, rc, "pubkey init");
		goto out;
	}
	/*
	 * The key's policy before its signature: checking a signature made
	 * with a 40,000-bit modulus and a public exponent as long costs
	 * seconds of CPU, and the policy refuses such a key for nothing.
	 * A key GnuTLS cannot even import (a curve it does not know) is
	 * not one ALB takes either.
	 */
	if ((rc = gnutls_pubkey_import_x509_crq(csr->pub, csr->crq, 0)) < 0) {
		rc = ca_error_set(err, CA_EPOLICY, "the CSR's public key "
		    "cannot be read (%s): its key type is not one %s",
		    gnutls_strerror(rc), CA_ALB_KEYS);
		goto out;
	}
	if ((rc = ca_pubkey_policy(csr->pub, "CSR", &csr->pk, &csr->bits,
	    err)) != CA_OK)
		goto out;
	/* The signature algorithm's policy too (it is only read), then
	 * proof of possession before any other field is read (RFC 2986
	 * §3). */
	if ((rc = csr_sig_check(csr, err)) != CA_OK)
		goto out;
	rc = gnutls_x509_crq_verify(csr->crq, 0);
	if (rc == GNUTLS_E_PK_SIG_VERIFY_FAILED) {
		rc = ca_error_set(err, CA_EMALF, "the CSR's signature does "
		    "not verify with its own public key (bad signature: no "
		    "proof of possession, RFC 2986 section 3)");
		goto out;
	}
	if (rc < 0) {
		/* GnuTLS cannot even check it: an algorithm it does not
		 * know, which ALB would not accept either. */
		rc = ca_error_set(err, CA_EPOLICY, "the CSR's signature cannot "
		    "be checked (%s): its key type is not one %s",
		    gnutls_strerror(rc), CA_ALB_KEYS);
		goto out;
	}
	rc = gnutls_x509_crq_get_basic_constraints(csr->crq, &crit, &isca,
	    NULL);
	if (rc > 0 || (rc == 0 && isca)) {
		rc = ca_error_set(err, CA_EPOLICY, "the CSR asks for CA:TRUE: "
		    "this CA issues end-entity certificates only");
		goto out;
	}
	if (rc < 0 && rc != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
		rc = ca_error_set(err, CA_EMALF, "CSR basicConstraints: %s",
		    gnutls_strerror(rc));
		goto out;
	}
	if ((rc = csr_subject(csr, der.data, der.size, err)) != CA_OK ||
	    (rc = csr_sans(csr, err)) != CA_OK ||
	    (rc = csr_spki(csr, der.data, der.size, err)) != CA_OK)
		goto out;
	if ((rc = gnutls_x509_crq_get_dn3(csr->crq, &dn, 0)) < 0 &&
	    rc != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
		rc = ca_error_set(err, CA_EMALF, "CSR subject: %s",
		    gnutls_strerror(rc));
		goto out;
	}
	if ((csr->subject = malloc(dn.size + 1)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	if (dn.size > 0)
		memcpy(csr->subject, dn.data, dn.size);
	csr->subject[dn.size] = '\0';
	if (csr->cn == NULL && (csr->cn = strdup("")) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	*out = csr;
	csr = NULL;
	rc = CA_OK;
out:
	gnutls_free(der.data);
	gnutls_free(re.data);
	gnutls_free(dn.data);
	ca_csr_free(csr);
	return rc;
}

void
ca_csr_free(struct ca_csr *csr)
{
	if (csr == NULL)
		return;
	gnutls_x509_crq_deinit(csr->crq);
	gnutls_pubkey_deinit(csr->pub);
	for (size_t i = 0; i < csr->n_avas; i++)
		free(csr->avas[i].value);
	for (size_t i = 0; i < csr->n_sans; i++)
		free(csr->sans[i].data);
	free(csr->spki);
	free(csr->subject);
	free(csr->cn);
	free(csr);
}

const char *
ca_csr_subject(const struct ca_csr *csr)
{
	return csr->subject;
}

const char *
ca_csr_cn(const struct ca_csr *csr)
{
	return csr->cn;
}
