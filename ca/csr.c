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

/* ---- the CertificationRequest, read with the strict DER reader ---- */

/* DER string tags a subject attribute may use (RFC 5280 §4.1.2.6). */
#define TAG_UTF8STRING		0x0c
#define TAG_PRINTABLESTRING	0x13
#define TAG_IA5STRING		0x16

/* pkcs-9-at-extensionRequest (RFC 2985 §5.4.2), content octets */
static const uint8_t oid_ext_request[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7,
    0x0d, 0x01, 0x09, 0x0e };
/* id-ce-basicConstraints, id-ce-subjectAltName (RFC 5280 §4.2.1) */
static const uint8_t oid_bc[] = { 0x55, 0x1d, 0x13 };
static const uint8_t oid_san[] = { 0x55, 0x1d, 0x11 };
/* id-RSASSA-PSS (RFC 4055 §3.1) */
static const uint8_t oid_rsa_pss[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
    0x01, 0x01, 0x0a };

/* The parts of a CertificationRequest (RFC 2986 §4), pointing into its
   DER. */
struct crq_parts {
	struct der_tlv	cri;		/* CertificationRequestInfo, signed */
	struct der_tlv	subject;	/* Name */
	struct der_tlv	spki;		/* SubjectPublicKeyInfo */
	struct der_tlv	sig_oid;	/* signatureAlgorithm's OID */
	bool		sig_params;	/* ... with parameters */
	const uint8_t	*sig;		/* signature BIT STRING, whole octets */
	size_t		 sig_len;
	struct der_tlv	exts;		/* Extensions, when requested */
	bool		has_exts;
};

static bool
oid_is(const struct der_tlv *t, const uint8_t *oid, size_t len)
{
	return t->len == len && memcmp(t->p, oid, len) == 0;
}

/* AlgorithmIdentifier (RFC 5280 §4.1.1.2): its OID; *params when it has
   parameters (anything but none or NULL). */
static int
read_alg(struct der_cur *c, struct der_tlv *oid, bool *params)
{
	struct der_tlv	seq, t;
	struct der_cur	in;

	if (der_expect(c, DER_SEQUENCE, &seq) != 0)
		return -1;
	der_cur_init(&in, seq.p, seq.len);
	if (der_expect(&in, DER_OID, oid) != 0 || !der_oid_ok(oid->p,
	    oid->len))
		return -1;
	*params = false;
	if (in.left > 0) {
		if (der_read(&in, &t) != 0 || in.left != 0)
			return -1;
		*params = !(t.tag == DER_NULL && t.len == 0);
	}
	return 0;
}

/* A BIT STRING of whole octets (keys and signatures): its octets. */
static int
read_bits(struct der_cur *c, const uint8_t **p, size_t *len)
{
	struct der_tlv t;

	if (der_expect(c, DER_BIT_STRING, &t) != 0 || t.len < 1 ||
	    t.p[0] != 0)
		return -1;
	*p = t.p + 1;
	*len = t.len - 1;
	return 0;
}

/* id-ecPublicKey (RFC 5480 §2.1.1) and the named curves ALB takes */
static const uint8_t oid_ec_public_key[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d,
    0x02, 0x01 };
static const struct {
	uint8_t			oid[8];
	size_t			len;
	gnutls_ecc_curve_t	curve;
	size_t			coord;	/* octets of x and of y */
} ec_curves[] = {
	{ { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 }, 8,
	    GNUTLS_ECC_CURVE_SECP256R1, 32 },
	{ { 0x2b, 0x81, 0x04, 0x00, 0x22 }, 5, GNUTLS_ECC_CURVE_SECP384R1, 48 },
	{ { 0x2b, 0x81, 0x04, 0x00, 0x23 }, 5, GNUTLS_ECC_CURVE_SECP521R1, 66 },
};

/*
 * An SPKI of a named curve of ec_curves with an uncompressed point (RFC
 * 5480 §2.2, the only form GnuTLS reads): its curve and coordinates
 * (pointing into spki). -1 for any other key.
 */
static int
spki_ec_point(const uint8_t *spki, size_t len, gnutls_ecc_curve_t *curve,
    gnutls_datum_t *x, gnutls_datum_t *y)
{
	struct der_cur	 c, a;
	struct der_tlv	 seq, alg, oid, named;
	const uint8_t	*pt;
	size_t		 pt_len;

	der_cur_init(&c, spki, len);
	if (der_expect(&c, DER_SEQUENCE, &seq) != 0 || c.left != 0)
		return -1;
	der_cur_init(&c, seq.p, seq.len);
	if (der_expect(&c, DER_SEQUENCE, &alg) != 0 ||
	    read_bits(&c, &pt, &pt_len) != 0 || c.left != 0)
		return -1;
	der_cur_init(&a, alg.p, alg.len);
	if (der_expect(&a, DER_OID, &oid) != 0 ||
	    oid.len != sizeof(oid_ec_public_key) ||
	    memcmp(oid.p, oid_ec_public_key, oid.len) != 0 ||
	    der_expect(&a, DER_OID, &named) != 0 || a.left != 0)
		return -1;
	for (size_t i = 0; i < sizeof(ec_curves) / sizeof(ec_curves[0]); i++) {
		size_t n = ec_curves[i].coord;

		if (named.len != ec_curves[i].len ||
		    memcmp(named.p, ec_curves[i].oid, named.len) != 0)
			continue;
		if (pt_len != 1 + 2 * n || pt[0] != 0x04)
			return -1;
		*curve = ec_curves[i].curve;
		x->data = (unsigned char *)pt + 1;
		y->data = x->data + n;
		x->size = y->size = (unsigned)n;
		return 0;
	}
	return -1;
}

int
ca_spki_import(gnutls_pubkey_t pub, const uint8_t *spki, size_t len)
{
	gnutls_datum_t		der = { (unsigned char *)spki, (unsigned)len };
	gnutls_datum_t		x, y;
	gnutls_ecc_curve_t	curve;

	if (len > UINT_MAX)
		return GNUTLS_E_INVALID_REQUEST;
	/* (a coordinate of zeros is refused by the raw import and read by
	   GnuTLS's SPKI reader: ask it) */
	if (spki_ec_point(spki, len, &curve, &x, &y) == 0 &&
	    gnutls_pubkey_import_ecc_raw(pub, curve, &x, &y) >= 0)
		return 0;
	return gnutls_pubkey_import(pub, &der, GNUTLS_X509_FMT_DER);
}

/*
 * Name (RFC 5280 §4.1.2.4): SEQUENCE OF RelativeDistinguishedName, each a
 * non-empty SET OF AttributeTypeAndValue in DER order.
 */
static int
check_name(const struct der_tlv *name)
{
	struct der_cur	c, rc, ac;
	struct der_tlv	rdn, atv, t;

	der_cur_init(&c, name->p, name->len);
	while (c.left > 0) {
		if (der_expect(&c, DER_SET, &rdn) != 0 || rdn.len == 0 ||
		    !der_set_of_ordered(rdn.p, rdn.len))
			return -1;
		der_cur_init(&rc, rdn.p, rdn.len);
		while (rc.left > 0) {
			if (der_expect(&rc, DER_SEQUENCE, &atv) != 0)
				return -1;
			der_cur_init(&ac, atv.p, atv.len);
			if (der_expect(&ac, DER_OID, &t) != 0 ||
			    !der_oid_ok(t.p, t.len) ||
			    der_read(&ac, &t) != 0 || ac.left != 0)
				return -1;
		}
	}
	return 0;
}

/*
 * attributes [0] SET OF Attribute (RFC 2986 §4.1), each SEQUENCE { type,
 * values SET OF }: at most one extensionRequest, with one value, an
 * Extensions SEQUENCE.
 */
static int
read_attributes(const struct der_tlv *attrs, struct crq_parts *q,
    struct ca_error *err)
{
	struct der_cur	c, ac, vc;
	struct der_tlv	attr, type, vals, v;

	if (!der_set_of_ordered(attrs->p, attrs->len))
		goto bad;
	der_cur_init(&c, attrs->p, attrs->len);
	while (c.left > 0) {
		if (der_expect(&c, DER_SEQUENCE, &attr) != 0)
			goto bad;
		der_cur_init(&ac, attr.p, attr.len);
		if (der_expect(&ac, DER_OID, &type) != 0 ||
		    !der_oid_ok(type.p, type.len) ||
		    der_expect(&ac, DER_SET, &vals) != 0 || ac.left != 0 ||
		    !der_set_of_ordered(vals.p, vals.len))
			goto bad;
		if (!oid_is(&type, oid_ext_request, sizeof(oid_ext_request)))
			continue;	/* challengePassword and the like */
		der_cur_init(&vc, vals.p, vals.len);
		if (q->has_exts || der_expect(&vc, DER_SEQUENCE, &v) != 0 ||
		    vc.left != 0)
			return ca_error_set(err, CA_EMALF, "CSR extensionRequest "
			    "attribute: exactly one, holding one Extensions "
			    "value (RFC 2985 section 5.4.2)");
		q->exts = v;
		q->has_exts = true;
	}
	return CA_OK;
bad:
	return ca_error_set(err, CA_EMALF, "CSR attributes are not a DER SET "
	    "OF Attribute (RFC 2986 section 4.1)");
}

/*
 * CertificationRequest ::= SEQUENCE { CertificationRequestInfo,
 *   signatureAlgorithm, signature BIT STRING }
 * CertificationRequestInfo ::= SEQUENCE { version INTEGER { v1(0) },
 *   subject Name, subjectPKInfo, attributes [0] SET OF Attribute }
 * (RFC 2986 §4), in DER and spanning der exactly: what is verified is what
 * was parsed.
 */
static int
crq_split(const uint8_t *der, size_t len, struct crq_parts *q,
    struct ca_error *err)
{
	struct der_cur	c, in, k;
	struct der_tlv	outer, t, attrs, alg_oid;
	bool		alg_params;

	memset(q, 0, sizeof(*q));
	der_cur_init(&c, der, len);
	if (der_expect(&c, DER_SEQUENCE, &outer) != 0)
		return ca_error_set(err, CA_EMALF, "not a PKCS#10 certificate "
		    "request in DER (RFC 2986): no CertificationRequest "
		    "SEQUENCE, or a BER or truncated encoding");
	if (c.left != 0)
		return ca_error_set(err, CA_EMALF, "CSR is not strict DER "
		    "(trailing bytes or a BER encoding; RFC 2986 requires "
		    "DER)");
	der_cur_init(&c, outer.p, outer.len);
	if (der_expect(&c, DER_SEQUENCE, &q->cri) != 0 ||
	    read_alg(&c, &q->sig_oid, &q->sig_params) != 0 ||
	    read_bits(&c, &q->sig, &q->sig_len) != 0 || c.left != 0)
		goto bad;
	der_cur_init(&in, q->cri.p, q->cri.len);
	/* version v1(0), the only one RFC 2986 defines */
	if (der_expect(&in, DER_INTEGER, &t) != 0 || t.len != 1 ||
	    t.p[0] != 0)
		goto bad;
	if (der_expect(&in, DER_SEQUENCE, &q->subject) != 0 ||
	    check_name(&q->subject) != 0)
		return ca_error_set(err, CA_EMALF, "CSR subject is not an "
		    "X.501 Name");
	/* SubjectPublicKeyInfo: AlgorithmIdentifier, BIT STRING; GnuTLS
	   reads the key itself. */
	if (der_expect(&in, DER_SEQUENCE, &q->spki) != 0)
		goto bad;
	{
		const uint8_t	*kp;
		size_t		 kl;

		der_cur_init(&k, q->spki.p, q->spki.len);
		if (read_alg(&k, &alg_oid, &alg_params) != 0 ||
		    read_bits(&k, &kp, &kl) != 0 || k.left != 0)
			goto bad;
	}
	if (der_expect(&in, DER_CTX_CONS(0), &attrs) != 0 || in.left != 0)
		goto bad;
	return read_attributes(&attrs, q, err);
bad:
	return ca_error_set(err, CA_EMALF, "not a PKCS#10 certificate request "
	    "in strict DER (RFC 2986 section 4): CertificationRequestInfo "
	    "(version 0, subject, subjectPKInfo, attributes), "
	    "signatureAlgorithm, signature");
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
 * Multi-valued RDNs are flattened (their AVAs are kept in order). The
 * Name's shape was checked by crq_split.
 */
static int
csr_subject(struct ca_csr *csr, const struct der_tlv *name,
    struct ca_error *err)
{
	struct der_cur	c, rc, ac;
	struct der_tlv	rdn, atv, type, val;

	der_cur_init(&c, name->p, name->len);
	while (c.left > 0) {
		(void)der_read(&c, &rdn);
		der_cur_init(&rc, rdn.p, rdn.len);
		while (rc.left > 0) {
			struct ca_csr_ava *a;
			char oid[64];

			(void)der_read(&rc, &atv);
			der_cur_init(&ac, atv.p, atv.len);
			(void)der_read(&ac, &type);
			(void)der_read(&ac, &val);
			if (!der_oid_text(type.p, type.len, oid, sizeof(oid)))
				return ca_error_set(err, CA_EMALF, "CSR "
				    "subject: bad attribute type");
			if (csr->n_avas == CA_CSR_AVA_MAX)
				return ca_error_set(err, CA_EPOLICY, "CSR "
				    "subject has more than %d attributes",
				    CA_CSR_AVA_MAX);
			/* UTF8String, PrintableString, IA5String (RFC 5280
			 * §4.1.2.6 asks for UTF8String or PrintableString;
			 * emailAddress is IA5String). */
			if (val.tag != TAG_UTF8STRING &&
			    val.tag != TAG_PRINTABLESTRING &&
			    val.tag != TAG_IA5STRING)
				return ca_error_set(err, CA_EPOLICY, "subject "
				    "attribute %s uses ASN.1 string tag %u: "
				    "only UTF8String, PrintableString or "
				    "IA5String are accepted", oid_label(oid),
				    (unsigned)(val.tag & 0x1f));
			if (val.len > CA_NAME_MAX)
				return ca_error_set(err, CA_EPOLICY, "subject "
				    "attribute %s is %zu bytes long: the limit "
				    "is %d", oid_label(oid), val.len,
				    CA_NAME_MAX);
			if (val.len == 0 || !utf8_valid(val.p, val.len, true))
				return ca_error_set(err, CA_EPOLICY, "subject "
				    "attribute %s is empty, not UTF-8 or holds "
				    "control characters", oid_label(oid));
			a = &csr->avas[csr->n_avas];
			if ((a->value = malloc(val.len + 1)) == NULL)
				return ca_error_set(err, CA_ENOMEM,
				    "out of memory");
			memcpy(a->value, val.p, val.len);
			a->value[val.len] = '\0';
			memcpy(a->oid, oid, sizeof(oid));
			csr->n_avas++;
			if (csr->cn == NULL && strcmp(oid, "2.5.4.3") == 0 &&
			    (csr->cn = strdup(a->value)) == NULL)
				return ca_error_set(err, CA_ENOMEM,
				    "out of memory");
		}
	}
	return CA_OK;
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

/* GeneralName's CHOICE tag (RFC 5280 §4.2.1.6) as GnuTLS's SAN type; 0 for
   x400Address and ediPartyName, which GnuTLS does not know either. */
static unsigned
san_type_of(uint8_t tag)
{
	switch (tag) {
	case DER_CTX_CONS(0): return GNUTLS_SAN_OTHERNAME;
	case DER_CTX(1): return GNUTLS_SAN_RFC822NAME;
	case DER_CTX(2): return GNUTLS_SAN_DNSNAME;
	case DER_CTX_CONS(4): return GNUTLS_SAN_DN;
	case DER_CTX(6): return GNUTLS_SAN_URI;
	case DER_CTX(7): return GNUTLS_SAN_IPADDRESS;
	case DER_CTX(8): return GNUTLS_SAN_REGISTERED_ID;
	default: return 0;
	}
}

/* subjectAltName entries (RFC 5280 §4.2.1.6), capped in count and size:
   GeneralNames ::= SEQUENCE OF GeneralName, in the extension's value. */
static int
csr_sans(struct ca_csr *csr, const struct der_tlv *value,
    struct ca_error *err)
{
	struct der_cur	c;
	struct der_tlv	seq, gn;

	der_cur_init(&c, value->p, value->len);
	if (der_expect(&c, DER_SEQUENCE, &seq) != 0 || c.left != 0)
		goto bad;
	der_cur_init(&c, seq.p, seq.len);
	for (unsigned i = 0; c.left > 0; i++) {
		struct ca_csr_san	*s;
		const uint8_t		*buf;
		size_t			 size;
		unsigned		 type;

		if (der_read(&c, &gn) != 0 || (type = san_type_of(gn.tag)) == 0)
			goto bad;
		buf = gn.p;
		size = gn.len;
		if (size > CA_NAME_MAX)
			return ca_error_set(err, CA_EPOLICY, "subjectAltName "
			    "%u is longer than %d bytes", i + 1, CA_NAME_MAX);
		if (csr->n_sans == CA_SAN_MAX)
			return ca_error_set(err, CA_EPOLICY, "the CSR has more "
			    "than %d subjectAltNames", CA_SAN_MAX);
		switch (type) {
		case GNUTLS_SAN_DNSNAME:
		case GNUTLS_SAN_RFC822NAME:
		case GNUTLS_SAN_URI:
			/* IA5String; no spaces, controls or NULs. */
			if (size == 0)
				return ca_error_set(err, CA_EPOLICY,
				    "empty %s in subjectAltName",
				    san_type_name(type));
			for (size_t j = 0; j < size; j++)
				if (buf[j] <= 0x20 || buf[j] >= 0x7f)
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
	return CA_OK;
bad:
	return ca_error_set(err, CA_EMALF, "CSR subjectAltName extension: not "
	    "a DER GeneralNames (RFC 5280 section 4.2.1.6)");
}

/* BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE,
   pathLenConstraint INTEGER OPTIONAL } (RFC 5280 §4.2.1.9) */
static int
csr_basic_constraints(const struct der_tlv *value, struct ca_error *err)
{
	struct der_cur	c;
	struct der_tlv	seq, t;
	bool		ca = false;

	der_cur_init(&c, value->p, value->len);
	if (der_expect(&c, DER_SEQUENCE, &seq) != 0 || c.left != 0)
		goto bad;
	der_cur_init(&c, seq.p, seq.len);
	if (der_peek(&c) == DER_BOOLEAN) {
		(void)der_read(&c, &t);
		if (t.len != 1)
			goto bad;
		ca = t.p[0] != 0;
	}
	if (der_peek(&c) == DER_INTEGER && (der_read(&c, &t) != 0 ||
	    !der_int_minimal(t.p, t.len)))
		goto bad;
	if (c.left != 0)
		goto bad;
	if (ca)
		return ca_error_set(err, CA_EPOLICY, "the CSR asks for "
		    "CA:TRUE: this CA issues end-entity certificates only");
	return CA_OK;
bad:
	return ca_error_set(err, CA_EMALF, "CSR basicConstraints: not a DER "
	    "BasicConstraints (RFC 5280 section 4.2.1.9)");
}

/*
 * The requested Extensions (RFC 5280 §4.1: SEQUENCE OF Extension { extnID,
 * critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }). Only
 * basicConstraints and subjectAltName are read, each at most once; the
 * profile decides every other extension of the certificate.
 */
static int
csr_extensions(const struct crq_parts *q, struct der_tlv *san,
    bool *has_san, struct ca_error *err)
{
	struct der_cur	c, ec;
	struct der_tlv	ext, oid, t, bc;
	bool		has_bc = false;
	int		rc;

	*has_san = false;
	if (!q->has_exts)
		return CA_OK;
	der_cur_init(&c, q->exts.p, q->exts.len);
	while (c.left > 0) {
		if (der_expect(&c, DER_SEQUENCE, &ext) != 0)
			goto bad;
		der_cur_init(&ec, ext.p, ext.len);
		if (der_expect(&ec, DER_OID, &oid) != 0 ||
		    !der_oid_ok(oid.p, oid.len))
			goto bad;
		if (der_peek(&ec) == DER_BOOLEAN &&
		    (der_read(&ec, &t) != 0 || t.len != 1))
			goto bad;
		if (der_expect(&ec, DER_OCTET_STRING, &t) != 0 || ec.left != 0)
			goto bad;
		/* The two read here, once each (RFC 5280 §4.2: one instance
		   of an extension): which of two would be meant? */
		if (oid_is(&oid, oid_bc, sizeof(oid_bc))) {
			if (has_bc)
				goto twice;
			bc = t;
			has_bc = true;
		} else if (oid_is(&oid, oid_san, sizeof(oid_san))) {
			if (*has_san)
				goto twice;
			*san = t;
			*has_san = true;
		}
	}
	if (has_bc && (rc = csr_basic_constraints(&bc, err)) != CA_OK)
		return rc;
	return CA_OK;
twice:
	return ca_error_set(err, CA_EMALF, "the CSR requests %s twice (RFC "
	    "5280 section 4.2)", oid_is(&oid, oid_bc, sizeof(oid_bc)) ?
	    "basicConstraints" : "subjectAltName");
bad:
	return ca_error_set(err, CA_EMALF, "CSR extensionRequest: not a DER "
	    "Extensions (RFC 5280 section 4.1)");
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
csr_sig_check(int sig, struct ca_error *err)
{
	gnutls_digest_algorithm_t	 h;
	const char			*hn;

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

/*
 * Proof of possession (RFC 2986 §3): the signature algorithm's policy (it
 * is only read), then the signature over the CertificationRequestInfo,
 * checked by GnuTLS with the key alone. RSASSA-PSS carries its hash and
 * salt in parameters (RFC 4055 §3.1), which GnuTLS's request parser
 * reads: those requests (rare) are still checked by gnutls_x509_crq_verify.
 */
static int
csr_pop(struct ca_csr *csr, const uint8_t *der, size_t len,
    const struct crq_parts *q, struct ca_error *err)
{
	gnutls_x509_crq_t	 crq = NULL;
	gnutls_datum_t		 data, sig;
	char			 oid[64];
	int			 alg, rc;

	if (oid_is(&q->sig_oid, oid_rsa_pss, sizeof(oid_rsa_pss))) {
		gnutls_datum_t d = { (unsigned char *)der, (unsigned)len };

		if ((rc = gnutls_x509_crq_init(&crq)) < 0)
			return ca_gnutls_err(err, CA_ENOMEM, rc, "crq init");
		if ((rc = gnutls_x509_crq_import(crq, &d,
		    GNUTLS_X509_FMT_DER)) < 0) {
			rc = ca_error_set(err, CA_EMALF, "not a PKCS#10 "
			    "certificate request in DER (RFC 2986): %s",
			    gnutls_strerror(rc));
			goto out;
		}
		alg = gnutls_x509_crq_get_signature_algorithm(crq);
	} else {
		if (q->sig_params)
			return ca_error_set(err, CA_EMALF, "CSR signature "
			    "algorithm with parameters: RSA PKCS#1 v1.5 takes "
			    "NULL and ECDSA none (RFC 5754 section 3, RFC "
			    "5758 section 3.2)");
		alg = der_oid_text(q->sig_oid.p, q->sig_oid.len, oid,
		    sizeof(oid)) ? (int)gnutls_oid_to_sign(oid) : 0;
	}
	if ((rc = csr_sig_check(alg, err)) != CA_OK)
		goto out;
	if (crq != NULL)
		rc = gnutls_x509_crq_verify(crq, 0);
	else {
		data.data = (unsigned char *)q->cri.hdr;
		data.size = (unsigned)q->cri.tlv_len;
		sig.data = (unsigned char *)q->sig;
		sig.size = (unsigned)q->sig_len;
		rc = gnutls_pubkey_verify_data2(csr->pub,
		    (gnutls_sign_algorithm_t)alg, 0, &data, &sig);
	}
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
	rc = CA_OK;
out:
	if (crq != NULL)
		gnutls_x509_crq_deinit(crq);
	return rc;
}

/* The subject as RFC 4514 text, GnuTLS's text (ca_name_text writes the
   usual shapes itself). */
static int
csr_subject_text(struct ca_csr *csr, const struct der_tlv *name,
    struct ca_error *err)
{
	gnutls_datum_t	n = { (unsigned char *)name->hdr,
			    (unsigned)name->tlv_len };
	gnutls_datum_t	dn = { NULL, 0 };
	char		text[1024];
	int		rc;

	if (ca_name_text(name->p, name->len, text, sizeof(text)) > 0) {
		if ((csr->subject = strdup(text)) == NULL)
			return ca_error_set(err, CA_ENOMEM, "out of memory");
		return CA_OK;
	}
	if (name->len > 0 && (rc = gnutls_x509_rdn_get2(&n, &dn, 0)) < 0 &&
	    rc != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return ca_error_set(err, CA_EMALF, "CSR subject: %s",
		    gnutls_strerror(rc));
	if ((csr->subject = malloc(dn.size + 1)) == NULL) {
		gnutls_free(dn.data);
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	}
	if (dn.size > 0)
		memcpy(csr->subject, dn.data, dn.size);
	csr->subject[dn.size] = '\0';
	gnutls_free(dn.data);
	return CA_OK;
}

int
ca_csr_parse(const uint8_t *buf, size_t len, struct ca_csr **out,
    struct ca_error *err)
{
	struct ca_csr	*csr = NULL;
	gnutls_datum_t	 pem_der = { NULL, 0 };
	const uint8_t	*der;
	size_t		 der_len, i = 0;
	struct crq_parts q;
	struct der_tlv	 san;
	bool		 has_san;
	int		 rc;

	if (len == 0 || buf == NULL)
		return ca_error_set(err, CA_EMALF, "empty CSR");
	if (len > CA_CSR_MAX)
		return ca_error_set(err, CA_ETOOBIG, "CSR of %zu bytes: the "
		    "limit is %d", len, CA_CSR_MAX);
	while (i < len && is_space(buf[i]))
		i++;
	if (i < len && buf[i] == '-') {
		if ((rc = pem_decode(buf, len, &pem_der, err)) != CA_OK)
			return rc;
		der = pem_der.data;
		der_len = pem_der.size;
	} else if (buf[0] == 0x30) {
		der = buf;
		der_len = len;
	} else
		return ca_error_set(err, CA_EMALF, "not a certificate request: "
		    "expected PEM (-----BEGIN CERTIFICATE REQUEST-----) or DER");

	if ((rc = crq_split(der, der_len, &q, err)) != CA_OK)
		goto out;
	if ((csr = calloc(1, sizeof(*csr))) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
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
	if ((rc = ca_spki_import(csr->pub, q.spki.hdr, q.spki.tlv_len)) <
	    0) {
		rc = ca_error_set(err, CA_EPOLICY, "the CSR's public key "
		    "cannot be read (%s): its key type is not one %s",
		    gnutls_strerror(rc), CA_ALB_KEYS);
		goto out;
	}
	if ((rc = ca_pubkey_policy(csr->pub, "CSR", &csr->pk, &csr->bits,
	    err)) != CA_OK)
		goto out;
	/* Proof of possession before any other field is read (RFC 2986
	   §3). */
	if ((rc = csr_pop(csr, der, der_len, &q, err)) != CA_OK ||
	    (rc = csr_extensions(&q, &san, &has_san, err)) != CA_OK ||
	    (rc = csr_subject(csr, &q.subject, err)) != CA_OK ||
	    (has_san && (rc = csr_sans(csr, &san, err)) != CA_OK) ||
	    (rc = csr_subject_text(csr, &q.subject, err)) != CA_OK)
		goto out;
	if ((csr->spki = malloc(q.spki.tlv_len)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(csr->spki, q.spki.hdr, q.spki.tlv_len);
	csr->spki_len = q.spki.tlv_len;
	/* Kept so that a certificate with the very same Name reuses the
	   text (ca_issue_at) instead of decoding it again. */
	if ((csr->subject_der = malloc(q.subject.tlv_len)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(csr->subject_der, q.subject.hdr, q.subject.tlv_len);
	csr->subject_der_len = q.subject.tlv_len;
	if (csr->cn == NULL && (csr->cn = strdup("")) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	*out = csr;
	csr = NULL;
	rc = CA_OK;
out:
	gnutls_free(pem_der.data);
	ca_csr_free(csr);
	return rc;
}

void
ca_csr_free(struct ca_csr *csr)
{
	if (csr == NULL)
		return;
	if (csr->pub != NULL)
		gnutls_pubkey_deinit(csr->pub);
	for (size_t i = 0; i < csr->n_avas; i++)
		free(csr->avas[i].value);
	for (size_t i = 0; i < csr->n_sans; i++)
		free(csr->sans[i].data);
	free(csr->spki);
	free(csr->subject_der);
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
