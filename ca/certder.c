/*
 * The certificate's bytes, written with the DER writer of common/der.h:
 * building it through GnuTLS's crt API (a libtasn1 node tree per field,
 * encoded, then re-parsed to export) cost more CPU than the signature (issue
 * 15: ~1,250 allocations per certificate). GnuTLS still signs, through the
 * CA's signer (ca_sign_cert_tbs), and the TBSCertificate is byte for byte
 * what GnuTLS's builder writes for the same inputs, serial and times
 * (tests/unit/test_ca_certder.c keeps the old builder and compares over a
 * corpus of CSRs): the same field order, the same string types, the same
 * extensions in the same order.
 *
 * TBSCertificate (RFC 5280 §4.1):
 *   [0] { version v3 } serial signature issuer validity subject
 *   subjectPublicKeyInfo [3] { extensions }
 * Extensions, none critical but a subjectAltName beside an empty subject
 * (§4.2.1.6): basicConstraints {} (cA FALSE, DEFAULT omitted), keyUsage,
 * extKeyUsage, subjectAltName, authorityKeyIdentifier { [0] keyid },
 * subjectKeyIdentifier.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "common/der.h"
#include "ca/ca_int.h"

/* Extension OIDs (RFC 5280 §4.2.1), content octets. */
static const uint8_t oid_bc[] = { 0x55, 0x1d, 0x13 };
static const uint8_t oid_ku[] = { 0x55, 0x1d, 0x0f };
static const uint8_t oid_eku[] = { 0x55, 0x1d, 0x25 };
static const uint8_t oid_san[] = { 0x55, 0x1d, 0x11 };
static const uint8_t oid_aki[] = { 0x55, 0x1d, 0x23 };
static const uint8_t oid_ski[] = { 0x55, 0x1d, 0x0e };
/* id-kp-serverAuth, id-kp-clientAuth (§4.2.1.12) */
static const uint8_t oid_kp_server[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07,
    0x03, 0x01 };
static const uint8_t oid_kp_client[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07,
    0x03, 0x02 };
/* [0] EXPLICIT Version v3(2) */
static const uint8_t version_v3[] = { DER_CTX_CONS(0), 0x03, DER_INTEGER,
    0x01, 0x02 };
/* basicConstraints: SEQUENCE {} (cA DEFAULT FALSE, no pathLen) */
static const uint8_t bc_value[] = { DER_SEQUENCE, 0x00 };

#define DER_UTF8STRING		0x0c
#define DER_PRINTABLESTRING	0x13
#define DER_IA5STRING		0x16

/* A dotted OID ("2.5.4.3") into DER content octets; 0 when malformed. */
static size_t
oid_encode(const char *dotted, uint8_t *out, size_t cap)
{
	uint64_t	arcs[32];
	size_t		n = 0, len = 0;
	const char	*p = dotted;

	while (*p != '\0' && n < 32) {
		uint64_t v = 0;

		if (*p < '0' || *p > '9')
			return 0;
		while (*p >= '0' && *p <= '9') {
			if (v > (UINT64_MAX - 9) / 10)
				return 0;
			v = v * 10 + (uint64_t)(*p++ - '0');
		}
		arcs[n++] = v;
		if (*p == '.')
			p++;
		else if (*p != '\0')
			return 0;
	}
	if (*p != '\0' || n < 2 || arcs[0] > 2 || (arcs[0] < 2 &&
	    arcs[1] > 39) || arcs[1] > UINT64_MAX - 80)
		return 0;
	arcs[1] += arcs[0] * 40;
	for (size_t i = 1; i < n; i++) {
		uint8_t	 tmp[10];
		size_t	 k = 0;
		uint64_t v = arcs[i];

		do {
			tmp[k++] = (uint8_t)(v & 0x7f);
			v >>= 7;
		} while (v != 0);
		if (len + k > cap)
			return 0;
		while (k > 0) {
			k--;
			out[len++] = (uint8_t)(tmp[k] | (k > 0 ? 0x80 : 0));
		}
	}
	return len;
}

/* GnuTLS's PrintableString alphabet (lib/x509/common.c is_printable: no
   apostrophe). */
static bool
printable(const char *s)
{
	for (; *s != '\0'; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == ' ' || c == '(' ||
		    c == ')' || c == '+' || c == ',' || c == '-' || c == '.' ||
		    c == '/' || c == ':' || c == '=' || c == '?'))
			return false;
	}
	return true;
}

/*
 * The string type GnuTLS writes for an attribute (its OID table): fixed
 * types for countryName, serialNumber (PrintableString), emailAddress and
 * domainComponent (IA5String); a DirectoryString for the others, as a
 * PrintableString when every character allows it, else UTF8String.
 */
static uint8_t
ava_tag(const char *oid, const char *value)
{
	if (strcmp(oid, "2.5.4.6") == 0 || strcmp(oid, "2.5.4.5") == 0)
		return DER_PRINTABLESTRING;
	if (strcmp(oid, "1.2.840.113549.1.9.1") == 0 ||
	    strcmp(oid, "0.9.2342.19200300.100.1.25") == 0)
		return DER_IA5STRING;
	return printable(value) ? DER_PRINTABLESTRING : DER_UTF8STRING;
}

/* GeneralName tags (RFC 5280 §4.2.1.6), IMPLICIT. */
static int
san_tag(unsigned type)
{
	switch (type) {
	case GNUTLS_SAN_RFC822NAME: return DER_CTX(1);
	case GNUTLS_SAN_DNSNAME: return DER_CTX(2);
	case GNUTLS_SAN_URI: return DER_CTX(6);
	case GNUTLS_SAN_IPADDRESS: return DER_CTX(7);
	default: return -1;
	}
}

/* Octets of one Extension SEQUENCE with value_len octets of value. */
static size_t
ext_len(size_t oid_len, bool critical, size_t value_len)
{
	return der_tlv_len(der_tlv_len(oid_len) + (critical ? 3 : 0) +
	    der_tlv_len(value_len));
}

static void
ext_put_hdr(struct der_buf *b, const uint8_t *oid, size_t oid_len,
    bool critical, size_t value_len)
{
	der_put_hdr(b, DER_SEQUENCE, der_tlv_len(oid_len) + (critical ? 3 : 0) +
	    der_tlv_len(value_len));
	der_put_tlv(b, DER_OID, oid, oid_len);
	if (critical)
		der_put_raw(b, "\x01\x01\xff", 3);
	der_put_hdr(b, DER_OCTET_STRING, value_len);
}

/* The subject's AVAs as written: OID octets per copied AVA. */
struct subj_ava {
	const struct ca_csr_ava	*ava;
	uint8_t			 oid[32];
	size_t			 oid_len;
	uint8_t			 tag;
	size_t			 vlen;
};

int
ca_tbs_write(struct ca *ca, const struct ca_csr *csr,
    const struct ca_profile *p, const uint8_t *serial, size_t serial_len,
    int64_t not_before, int64_t not_after, uint8_t **out, size_t *out_len,
    size_t *name_off, size_t *name_len, struct ca_error *err)
{
	struct subj_ava	 avas[CA_CSR_AVA_MAX];
	struct der_buf	 b;
	uint8_t		 ski[20], ku[4];
	uint8_t		*buf = NULL;
	size_t		 n_avas = 0, subj_c = 0, san_c = 0, eku_c = 0;
	size_t		 exts_c, tbs_c, cap, validity_c, ku_len, name_start;
	size_t		 spki_bits_off, spki_bits_len;
	bool		 san_crit;
	struct der_cur	 c;
	struct der_tlv	 spki, alg, bits;
	int		 rc;

	/* The subjectPublicKey bits for the SKI (method 1 of §4.2.1.2: the
	   SHA-1 of the BIT STRING's value without its unused-bits octet). */
	der_cur_init(&c, csr->spki, csr->spki_len);
	if (der_expect(&c, DER_SEQUENCE, &spki) != 0 || c.left != 0)
		return ca_error_set(err, CA_EMALF, "the CSR's public key is "
		    "not a SubjectPublicKeyInfo");
	der_cur_init(&c, spki.p, spki.len);
	if (der_expect(&c, DER_SEQUENCE, &alg) != 0 ||
	    der_expect(&c, DER_BIT_STRING, &bits) != 0 || c.left != 0 ||
	    bits.len < 2)
		return ca_error_set(err, CA_EMALF, "the CSR's public key is "
		    "not a SubjectPublicKeyInfo");
	spki_bits_off = (size_t)(bits.p - csr->spki) + 1;
	spki_bits_len = bits.len - 1;
	if ((rc = gnutls_hash_fast(GNUTLS_DIG_SHA1, csr->spki + spki_bits_off,
	    spki_bits_len, ski)) < 0)
		return ca_gnutls_err(err, CA_ECRYPTO, rc, "SHA-1");

	/* Subject: each allowed AVA its own RDN, in the CSR's order. */
	for (size_t k = 0; k < csr->n_avas; k++) {
		struct subj_ava *a = &avas[n_avas];

		if (!ca_profile_allows(p, csr->avas[k].oid))
			continue;
		a->ava = &csr->avas[k];
		if ((a->oid_len = oid_encode(a->ava->oid, a->oid,
		    sizeof(a->oid))) == 0)
			return ca_error_set(err, CA_EINVAL, "subject attribute "
			    "type %s cannot be encoded", a->ava->oid);
		a->tag = ava_tag(a->ava->oid, a->ava->value);
		a->vlen = strlen(a->ava->value);
		subj_c += der_tlv_len(der_tlv_len(der_tlv_len(a->oid_len) +
		    der_tlv_len(a->vlen)));
		n_avas++;
	}
	san_crit = n_avas == 0;
	for (size_t i = 0; i < csr->n_sans; i++) {
		if (san_tag(csr->sans[i].type) < 0)
			return ca_error_set(err, CA_EINVAL, "subjectAltName "
			    "type %u cannot be written", csr->sans[i].type);
		san_c += der_tlv_len(csr->sans[i].len);
	}
	if (p->server_auth)
		eku_c += der_tlv_len(sizeof(oid_kp_server));
	if (p->client_auth)
		eku_c += der_tlv_len(sizeof(oid_kp_client));
	/* keyUsage BIT STRING: digitalSignature (bit 0), keyEncipherment
	   (bit 2) for RSA keys only (RFC 5480 §3); minimal, unused bits
	   counted (X.690 §11.2.2). */
	ku[0] = DER_BIT_STRING;
	ku[1] = 0x02;
	if (csr->pk == GNUTLS_PK_RSA) {
		ku[2] = 0x05;
		ku[3] = 0xa0;
	} else {
		ku[2] = 0x07;
		ku[3] = 0x80;
	}
	ku_len = sizeof(ku);

	exts_c = ext_len(sizeof(oid_bc), false, sizeof(bc_value)) +
	    ext_len(sizeof(oid_ku), false, ku_len) +
	    (eku_c > 0 ? ext_len(sizeof(oid_eku), false,
	    der_tlv_len(eku_c)) : 0) +
	    (csr->n_sans > 0 ? ext_len(sizeof(oid_san), san_crit,
	    der_tlv_len(san_c)) : 0) +
	    ext_len(sizeof(oid_aki), false, der_tlv_len(der_tlv_len(
	    ca->ski_len))) +
	    ext_len(sizeof(oid_ski), false, der_tlv_len(sizeof(ski)));
	validity_c = der_time_len(not_before) + der_time_len(not_after);
	if (der_time_len(not_before) == 0 || der_time_len(not_after) == 0)
		return ca_error_set(err, CA_EINVAL, "validity outside the years "
		    "0..9999");
	tbs_c = sizeof(version_v3) + der_tlv_len(serial_len) +
	    ca->alg_der_len + ca->subject_len + der_tlv_len(validity_c) +
	    der_tlv_len(subj_c) + csr->spki_len +
	    der_tlv_len(der_tlv_len(exts_c));
	cap = der_tlv_len(tbs_c);
	if ((buf = malloc(cap)) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");

	der_buf_init(&b, buf, cap);
	der_put_hdr(&b, DER_SEQUENCE, tbs_c);
	der_put_raw(&b, version_v3, sizeof(version_v3));
	der_put_tlv(&b, DER_INTEGER, serial, serial_len);
	der_put_raw(&b, ca->alg_der, ca->alg_der_len);
	der_put_raw(&b, ca->subject_der, ca->subject_len);
	der_put_hdr(&b, DER_SEQUENCE, validity_c);
	der_put_time(&b, not_before);
	der_put_time(&b, not_after);
	name_start = b.len;
	der_put_hdr(&b, DER_SEQUENCE, subj_c);
	for (size_t k = 0; k < n_avas; k++) {
		const struct subj_ava *a = &avas[k];
		size_t atv = der_tlv_len(a->oid_len) + der_tlv_len(a->vlen);

		der_put_hdr(&b, DER_SET, der_tlv_len(atv));
		der_put_hdr(&b, DER_SEQUENCE, atv);
		der_put_tlv(&b, DER_OID, a->oid, a->oid_len);
		der_put_tlv(&b, a->tag, a->ava->value, a->vlen);
	}
	*name_len = b.len - name_start;
	*name_off = name_start;
	der_put_raw(&b, csr->spki, csr->spki_len);
	der_put_hdr(&b, DER_CTX_CONS(3), der_tlv_len(exts_c));
	der_put_hdr(&b, DER_SEQUENCE, exts_c);
	ext_put_hdr(&b, oid_bc, sizeof(oid_bc), false, sizeof(bc_value));
	der_put_raw(&b, bc_value, sizeof(bc_value));
	ext_put_hdr(&b, oid_ku, sizeof(oid_ku), false, ku_len);
	der_put_raw(&b, ku, ku_len);
	if (eku_c > 0) {
		ext_put_hdr(&b, oid_eku, sizeof(oid_eku), false,
		    der_tlv_len(eku_c));
		der_put_hdr(&b, DER_SEQUENCE, eku_c);
		if (p->server_auth)
			der_put_tlv(&b, DER_OID, oid_kp_server,
			    sizeof(oid_kp_server));
		if (p->client_auth)
			der_put_tlv(&b, DER_OID, oid_kp_client,
			    sizeof(oid_kp_client));
	}
	if (csr->n_sans > 0) {
		ext_put_hdr(&b, oid_san, sizeof(oid_san), san_crit,
		    der_tlv_len(san_c));
		der_put_hdr(&b, DER_SEQUENCE, san_c);
		for (size_t i = 0; i < csr->n_sans; i++)
			der_put_tlv(&b, (uint8_t)san_tag(csr->sans[i].type),
			    csr->sans[i].data, csr->sans[i].len);
	}
	ext_put_hdr(&b, oid_aki, sizeof(oid_aki), false,
	    der_tlv_len(der_tlv_len(ca->ski_len)));
	der_put_hdr(&b, DER_SEQUENCE, der_tlv_len(ca->ski_len));
	der_put_tlv(&b, DER_CTX(0), ca->ski, ca->ski_len);
	ext_put_hdr(&b, oid_ski, sizeof(oid_ski), false,
	    der_tlv_len(sizeof(ski)));
	der_put_tlv(&b, DER_OCTET_STRING, ski, sizeof(ski));
	if (b.overflow || b.len != cap) {
		free(buf);
		return ca_error_set(err, CA_EIO, "certificate encoder: size "
		    "mismatch");
	}
	*out = buf;
	*out_len = cap;
	return CA_OK;
}

int
ca_cert_assemble(struct ca *ca, const uint8_t *tbs, size_t tbs_len,
    uint8_t **der, size_t *der_len, struct ca_error *err)
{
	struct der_buf	 b;
	uint8_t		*sig = NULL, *buf = NULL;
	size_t		 sig_len = 0, c, total;
	int		 rc;

	if ((rc = ca_sign_cert_tbs(ca, tbs, tbs_len, &sig, &sig_len, err)) !=
	    CA_OK)
		return rc;
	/* Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm,
	   signatureValue BIT STRING } (RFC 5280 §4.1.1) */
	c = tbs_len + ca->alg_der_len + der_tlv_len(sig_len + 1);
	total = der_tlv_len(c);
	if ((buf = malloc(total)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	der_buf_init(&b, buf, total);
	der_put_hdr(&b, DER_SEQUENCE, c);
	der_put_raw(&b, tbs, tbs_len);
	der_put_raw(&b, ca->alg_der, ca->alg_der_len);
	der_put_hdr(&b, DER_BIT_STRING, sig_len + 1);
	der_put_raw(&b, "", 1);
	der_put_raw(&b, sig, sig_len);
	if (b.overflow || b.len != total) {
		rc = ca_error_set(err, CA_EIO, "certificate encoder: size "
		    "mismatch");
		goto out;
	}
	*der = buf;
	*der_len = total;
	buf = NULL;
	rc = CA_OK;
out:
	free(buf);
	free(sig);
	return rc;
}
