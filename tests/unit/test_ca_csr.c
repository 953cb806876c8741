/*
 * The CSR parser (ca/csr.c, the strict DER reader since issue 15) against
 * GnuTLS's request parser, the way ca_csr_parse read requests before (kept
 * here as the reference): over the CSR corpus (tests/data/csr/accept, issue
 * and reject) and over every one-byte change of each accepted request, both
 * accept or both refuse, and what both accept reads the same (subject text
 * and attributes, CN, subjectAltNames, key, SubjectPublicKeyInfo). Then
 * edge cases written by hand and signed here, each refused (or accepted)
 * with its reason. Last, ca_spki_import (the raw reading of EC keys)
 * against gnutls_pubkey_import over every key of the corpus and every
 * one-octet change of each.
 *
 * It includes ca/ca_int.h to read the parsed fields, as
 * test_ca_certder.c does.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "ca/ca.h"
#include "ca/ca_int.h"
#include "common/der.h"
#include "common/util.h"

static const char	*g_data;

/* ---- GnuTLS's request parser, as ca_csr_parse used it ---- */

struct ref_san {
	unsigned	type;
	uint8_t		data[CA_NAME_MAX + 1];
	size_t		len;
};

struct ref_csr {
	char		subject[4096];
	char		cn[CA_NAME_MAX + 1];
	char		oids[CA_CSR_AVA_MAX][64];
	char		values[CA_CSR_AVA_MAX][CA_NAME_MAX + 1];
	size_t		n_avas;
	struct ref_san	sans[CA_SAN_MAX];
	size_t		n_sans;
	uint8_t		spki[16384];
	size_t		spki_len;
	int		pk;
	unsigned	bits;
};

static bool
ref_sig_ok(int sig)
{
	switch (sig) {
	case GNUTLS_SIGN_RSA_SHA256: case GNUTLS_SIGN_RSA_SHA384:
	case GNUTLS_SIGN_RSA_SHA512: case GNUTLS_SIGN_RSA_PSS_SHA256:
	case GNUTLS_SIGN_RSA_PSS_SHA384: case GNUTLS_SIGN_RSA_PSS_SHA512:
	case GNUTLS_SIGN_RSA_PSS_RSAE_SHA256:
	case GNUTLS_SIGN_RSA_PSS_RSAE_SHA384:
	case GNUTLS_SIGN_RSA_PSS_RSAE_SHA512: case GNUTLS_SIGN_ECDSA_SHA256:
	case GNUTLS_SIGN_ECDSA_SHA384: case GNUTLS_SIGN_ECDSA_SHA512:
		return true;
	default:
		return false;
	}
}

/* The subject's AVAs (only UTF8String, PrintableString, IA5String, capped,
   clean UTF-8), as csr_subject read them with gnutls_x509_dn_*. */
static int
ref_subject(const uint8_t *der, size_t len, struct ref_csr *r)
{
	gnutls_x509_dn_t	dn;
	gnutls_x509_ava_st	ava;
	gnutls_datum_t		raw;
	const uint8_t		*name;
	size_t			 name_len;
	int			rc = CA_OK;

	if (ca_der_crq_subject(der, len, &name, &name_len) != 0)
		return CA_EMALF;
	raw.data = (unsigned char *)name;
	raw.size = (unsigned)name_len;
	if (gnutls_x509_dn_init(&dn) < 0)
		abort();
	if (gnutls_x509_dn_import(dn, &raw) < 0)
		rc = CA_EMALF;
	for (int irdn = 0; rc == CA_OK; irdn++) {
		int iava;

		for (iava = 0; rc == CA_OK; iava++) {
			int g = gnutls_x509_dn_get_rdn_ava(dn, irdn, iava,
			    &ava);

			if (g == GNUTLS_E_ASN1_ELEMENT_NOT_FOUND ||
			    g == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
				break;
			if (g < 0 || ava.oid.size == 0 || ava.oid.size >= 64)
				rc = CA_EMALF;
			else if (r->n_avas == CA_CSR_AVA_MAX ||
			    (ava.value_tag != 12 && ava.value_tag != 19 &&
			    ava.value_tag != 22) ||
			    ava.value.size > CA_NAME_MAX ||
			    ava.value.size == 0 ||
			    !utf8_valid(ava.value.data, ava.value.size, true))
				rc = CA_EPOLICY;
			else {
				memcpy(r->oids[r->n_avas], ava.oid.data,
				    ava.oid.size);
				memcpy(r->values[r->n_avas], ava.value.data,
				    ava.value.size);
				if (r->cn[0] == '\0' && strcmp(r->oids[r->n_avas],
				    "2.5.4.3") == 0)
					strcpy(r->cn, r->values[r->n_avas]);
				r->n_avas++;
			}
		}
		if (iava == 0)
			break;
	}
	gnutls_x509_dn_deinit(dn);
	return rc;
}

static int
ref_sans(gnutls_x509_crq_t crq, struct ref_csr *r)
{
	for (unsigned seq = 0; ; seq++) {
		struct ref_san	*s = &r->sans[r->n_sans];
		uint8_t		 buf[CA_NAME_MAX + 1];
		size_t		 size = sizeof(buf);
		unsigned	 type = 0, crit = 0;
		int		 rc;

		rc = gnutls_x509_crq_get_subject_alt_name(crq, seq, buf,
		    &size, &type, &crit);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			return CA_OK;
		if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER)
			return CA_EPOLICY;
		if (rc < 0)
			return CA_EMALF;
		if (r->n_sans == CA_SAN_MAX || size > CA_NAME_MAX)
			return CA_EPOLICY;
		type = (unsigned)rc;
		if (type == GNUTLS_SAN_DNSNAME || type == GNUTLS_SAN_URI ||
		    type == GNUTLS_SAN_RFC822NAME) {
			if (size == 0)
				return CA_EPOLICY;
			for (size_t i = 0; i < size; i++)
				if (buf[i] <= 0x20 || buf[i] >= 0x7f)
					return CA_EPOLICY;
		} else if (type == GNUTLS_SAN_IPADDRESS && ((size != 4 &&
		    size != 16) || (size == 16 && ca_ip6_embeds_ip4(buf))))
			return CA_EPOLICY;
		s->type = type;
		memcpy(s->data, buf, size);
		s->len = size;
		r->n_sans++;
	}
}

/* CA_OK and *r filled, or the code ca_csr_parse returned before. */
static int
ref_parse(const uint8_t *der, size_t len, struct ref_csr *r)
{
	gnutls_x509_crq_t	 crq = NULL;
	gnutls_pubkey_t		 pub = NULL;
	gnutls_datum_t		 d = { (unsigned char *)der, (unsigned)len };
	gnutls_datum_t		 re = { NULL, 0 }, dn = { NULL, 0 };
	unsigned		 crit = 0, isca = 0;
	size_t			 sl = sizeof(r->spki);
	struct ca_error		 e;
	gnutls_pk_algorithm_t	 pk;
	int			 rc;

	memset(r, 0, sizeof(*r));
	if (gnutls_x509_crq_init(&crq) < 0 || gnutls_pubkey_init(&pub) < 0)
		abort();
	rc = CA_EMALF;
	if (gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &re) < 0 ||
	    re.size != len || memcmp(re.data, der, len) != 0)
		goto out;
	rc = CA_EPOLICY;
	if (gnutls_pubkey_import_x509_crq(pub, crq, 0) < 0)
		goto out;
	if ((rc = ca_pubkey_policy(pub, "CSR", &pk, &r->bits, &e)) != CA_OK)
		goto out;
	r->pk = (int)pk;
	rc = CA_EPOLICY;
	if (!ref_sig_ok(gnutls_x509_crq_get_signature_algorithm(crq)))
		goto out;
	rc = gnutls_x509_crq_verify(crq, 0);
	if (rc < 0) {
		rc = rc == GNUTLS_E_PK_SIG_VERIFY_FAILED ? CA_EMALF :
		    CA_EPOLICY;
		goto out;
	}
	rc = gnutls_x509_crq_get_basic_constraints(crq, &crit, &isca, NULL);
	if (rc > 0 || (rc == 0 && isca)) {
		rc = CA_EPOLICY;
		goto out;
	}
	if (rc < 0 && rc != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
		rc = CA_EMALF;
		goto out;
	}
	if ((rc = ref_subject(der, len, r)) != CA_OK ||
	    (rc = ref_sans(crq, r)) != CA_OK)
		goto out;
	rc = CA_EMALF;
	if (gnutls_pubkey_export(pub, GNUTLS_X509_FMT_DER, r->spki, &sl) < 0)
		goto out;
	r->spki_len = sl;
	if (gnutls_x509_crq_get_dn3(crq, &dn, 0) < 0)
		dn.size = 0;
	if (dn.size >= sizeof(r->subject))
		goto out;
	if (dn.size > 0)
		memcpy(r->subject, dn.data, dn.size);
	rc = CA_OK;
out:
	gnutls_free(re.data);
	gnutls_free(dn.data);
	gnutls_pubkey_deinit(pub);
	gnutls_x509_crq_deinit(crq);
	return rc;
}

/* ---- comparison ---- */

/* The request as DER (PEM decoded), or NULL when it is neither. */
static uint8_t *
to_der(const uint8_t *buf, size_t len, size_t *der_len)
{
	gnutls_datum_t	in = { (unsigned char *)buf, (unsigned)len }, out;
	uint8_t		*der;

	if (len > 0 && buf[0] == 0x30) {
		if ((der = malloc(len)) == NULL)
			abort();
		memcpy(der, buf, len);
		*der_len = len;
		return der;
	}
	if (gnutls_pem_base64_decode2("CERTIFICATE REQUEST", &in, &out) < 0 &&
	    gnutls_pem_base64_decode2("NEW CERTIFICATE REQUEST", &in,
	    &out) < 0)
		return NULL;
	if ((der = malloc(out.size)) == NULL)
		abort();
	memcpy(der, out.data, out.size);
	*der_len = out.size;
	gnutls_free(out.data);
	return der;
}

/*
 * Where ca_csr_parse is stricter than GnuTLS's parser on purpose: it reads
 * inside what GnuTLS leaves as ANY (AlgorithmIdentifier parameters, the
 * extensionRequest value) and knows only version 0. A refusal GnuTLS's
 * parser would not make must be one of these.
 */
static const char *const stricter[] = {
	"signature algorithm with parameters",
	"version 0",
	"extensionRequest",
	"twice",
};

static unsigned g_stricter;

/* Both parsers on der; fails the test where they differ. Returns the
   code both returned (CA_OK, or the new parser's refusal). */
static int
compare(const char *what, const uint8_t *der, size_t len)
{
	static struct ref_csr	 r;
	struct ca_csr		*csr = NULL;
	struct ca_error		 e;
	int			 rc, ref;

	memset(&e, 0, sizeof(e));
	rc = ca_csr_parse(der, len, &csr, &e);
	ref = ref_parse(der, len, &r);
	if (rc != CA_OK && ref == CA_OK) {
		for (size_t i = 0; i < sizeof(stricter) / sizeof(stricter[0]);
		    i++)
			if (strstr(e.msg, stricter[i]) != NULL) {
				g_stricter++;
				return rc;
			}
	}
	if ((rc == CA_OK) != (ref == CA_OK))
		fail_msg("%s: ca_csr_parse says %d (%s), GnuTLS's parser %d",
		    what, rc, rc == CA_OK ? "accepted" : e.msg, ref);
	if (rc != CA_OK) {
		assert_null(csr);
		assert_int_equal(e.code, rc);
		assert_true(e.msg[0] != '\0');
		return rc;
	}
	if (strcmp(ca_csr_subject(csr), r.subject) != 0)
		fail_msg("%s: subject '%s', GnuTLS '%s'", what,
		    ca_csr_subject(csr), r.subject);
	assert_string_equal(ca_csr_cn(csr), r.cn);
	assert_int_equal(csr->n_avas, r.n_avas);
	for (size_t i = 0; i < r.n_avas; i++) {
		assert_string_equal(csr->avas[i].oid, r.oids[i]);
		assert_string_equal(csr->avas[i].value, r.values[i]);
	}
	assert_int_equal(csr->n_sans, r.n_sans);
	for (size_t i = 0; i < r.n_sans; i++) {
		assert_int_equal(csr->sans[i].type, r.sans[i].type);
		/* GnuTLS gives otherName, directoryName and registeredID
		   decoded; we keep their DER (only for the refusal). */
		if (r.sans[i].type != GNUTLS_SAN_DNSNAME &&
		    r.sans[i].type != GNUTLS_SAN_RFC822NAME &&
		    r.sans[i].type != GNUTLS_SAN_URI &&
		    r.sans[i].type != GNUTLS_SAN_IPADDRESS)
			continue;
		assert_int_equal(csr->sans[i].len, r.sans[i].len);
		assert_memory_equal(csr->sans[i].data, r.sans[i].data,
		    r.sans[i].len);
	}
	assert_int_equal(csr->spki_len, r.spki_len);
	assert_memory_equal(csr->spki, r.spki, r.spki_len);
	assert_int_equal(csr->pk, r.pk);
	assert_int_equal(csr->bits, r.bits);
	ca_csr_free(csr);
	return CA_OK;
}

static unsigned g_accepted, g_refused, g_mutants;

/* fn(name, contents, length, ctx) for each file of tests/data/csr/SUB. */
static void
corpus_each(const char *sub, void (*fn)(const char *, const uint8_t *,
    size_t, void *), void *ctx)
{
	char		 dir[1024];
	DIR		*d;
	struct dirent	*de;

	snprintf(dir, sizeof(dir), "%s/csr/%s", g_data, sub);
	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL) {
		char		 path[2048], name[1100];
		uint8_t		*buf = NULL;
		size_t		 len;
		struct ca_error	 e;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		assert_int_equal(file_read(path, 1 << 20, &buf, &len, &e),
		    CA_OK);
		snprintf(name, sizeof(name), "csr/%s/%s", sub, de->d_name);
		fn(name, buf, len, ctx);
		free(buf);
	}
	closedir(d);
}

static void
compare_file(const char *name, const uint8_t *buf, size_t len, void *ctx)
{
	bool		 mutate = *(bool *)ctx;
	char		 what[1200];
	uint8_t		*der;
	size_t		 der_len;

	der = len <= CA_CSR_MAX ? to_der(buf, len, &der_len) : NULL;
	if (der == NULL)
		return;		/* framing: test_ca.c's reject table */
	snprintf(what, sizeof(what), "%s", name);
	if (compare(what, der, der_len) == CA_OK)
		g_accepted++;
	else
		g_refused++;
	/* Every octet changed once (XOR 0x01, and 0x80 on the first few
	   hundred): tags, lengths, OIDs, strings, key, signature. */
	for (size_t i = 0; mutate && i < der_len; i++) {
		for (int k = 0; k < (i < 300 ? 2 : 1); k++) {
			uint8_t x = k == 0 ? 0x01 : 0x80;

			der[i] ^= x;
			snprintf(what, sizeof(what), "%s, octet %zu ^ 0x%02x",
			    name, i, x);
			(void)compare(what, der, der_len);
			der[i] ^= x;
			g_mutants++;
		}
	}
	free(der);
}

static void
compare_dir(const char *sub, bool mutate)
{
	corpus_each(sub, compare_file, &mutate);
}

static void
test_csr_parse_as_gnutls(void **state)
{
	(void)state;
	compare_dir("accept", true);
	compare_dir("issue", true);
	compare_dir("reject", false);
	print_message("%u accepted and %u refused alike, %u changed "
	    "requests (%u refused by a stricter rule only)\n", g_accepted,
	    g_refused, g_mutants, g_stricter);
	assert_true(g_accepted >= 20);
	assert_true(g_refused >= 15);
}

/* ---- edge cases, written and signed here ---- */

static gnutls_privkey_t	g_key;
static uint8_t		g_spki[512];
static size_t		g_spki_len;

/* ecdsa-with-SHA256 (RFC 5758 §3.2), with the given raw parameters. */
static const uint8_t oid_ecdsa_sha256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d,
    0x04, 0x03, 0x02 };
static const uint8_t oid_cn[] = { 0x55, 0x04, 0x03 };
static const uint8_t oid_o[] = { 0x55, 0x04, 0x0a };
static const uint8_t oid_ext_req[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
    0x01, 0x09, 0x0e };
static const uint8_t oid_san[] = { 0x55, 0x1d, 0x11 };
static const uint8_t oid_bc[] = { 0x55, 0x1d, 0x13 };

struct req {
	uint8_t		 version;
	const uint8_t	*name;		/* Name TLV */
	size_t		 name_len;
	const uint8_t	*attrs;		/* [0] content */
	size_t		 attrs_len;
	bool		 no_attrs;
	const uint8_t	*cri_tail;	/* after the attributes */
	size_t		 cri_tail_len;
	const uint8_t	*alg_params;	/* after the OID */
	size_t		 alg_params_len;
	uint8_t		 unused_bits;
};

/* A Name of one RDN holding AVAs (each a SEQUENCE TLV given whole). */
static size_t
name_of(uint8_t *out, size_t cap, const uint8_t *rdn_content, size_t len)
{
	struct der_buf b;

	der_buf_init(&b, out, cap);
	der_put_hdr(&b, DER_SEQUENCE, der_tlv_len(len));
	der_put_tlv(&b, DER_SET, rdn_content, len);
	assert_false(b.overflow);
	return b.len;
}

/* AttributeTypeAndValue (type, UTF8String value). */
static size_t
atv(uint8_t *out, size_t cap, const uint8_t *oid, size_t oid_len,
    const char *v)
{
	struct der_buf b;

	der_buf_init(&b, out, cap);
	der_put_hdr(&b, DER_SEQUENCE, der_tlv_len(oid_len) +
	    der_tlv_len(strlen(v)));
	der_put_tlv(&b, DER_OID, oid, oid_len);
	der_put_tlv(&b, 0x0c, v, strlen(v));
	assert_false(b.overflow);
	return b.len;
}

/* The extensionRequest Attribute holding exts (Extension TLVs). */
static size_t
ext_request(uint8_t *out, size_t cap, const uint8_t *exts, size_t len)
{
	struct der_buf b;
	size_t seq = der_tlv_len(len), set = der_tlv_len(seq);

	der_buf_init(&b, out, cap);
	der_put_hdr(&b, DER_SEQUENCE, der_tlv_len(sizeof(oid_ext_req)) +
	    set);
	der_put_tlv(&b, DER_OID, oid_ext_req, sizeof(oid_ext_req));
	der_put_hdr(&b, DER_SET, seq);
	der_put_tlv(&b, DER_SEQUENCE, exts, len);
	assert_false(b.overflow);
	return b.len;
}

/* Extension { oid, extnValue OCTET STRING { value } }. */
static size_t
ext(uint8_t *out, size_t cap, const uint8_t *oid, size_t oid_len,
    const uint8_t *value, size_t len)
{
	struct der_buf b;

	der_buf_init(&b, out, cap);
	der_put_hdr(&b, DER_SEQUENCE, der_tlv_len(oid_len) +
	    der_tlv_len(len));
	der_put_tlv(&b, DER_OID, oid, oid_len);
	der_put_tlv(&b, DER_OCTET_STRING, value, len);
	assert_false(b.overflow);
	return b.len;
}

/* The request's DER, signed with g_key (ECDSA P-256, SHA-256). */
static size_t
req_make(const struct req *q, uint8_t *out, size_t cap)
{
	uint8_t		 cri[4096], body[8192];
	struct der_buf	 b;
	gnutls_datum_t	 data, sig;
	size_t		 cri_len, body_len, alg_c;
	uint8_t		 dflt_name[64];
	const uint8_t	*name = q->name;
	size_t		 name_len = q->name_len;

	if (name == NULL) {
		uint8_t a[64];
		size_t n = atv(a, sizeof(a), oid_cn, sizeof(oid_cn), "edge");

		name_len = name_of(dflt_name, sizeof(dflt_name), a, n);
		name = dflt_name;
	}
	der_buf_init(&b, body, sizeof(body));
	der_put_uint(&b, DER_INTEGER, q->version);
	der_put_raw(&b, name, name_len);
	der_put_raw(&b, g_spki, g_spki_len);
	if (!q->no_attrs)
		der_put_tlv(&b, DER_CTX_CONS(0), q->attrs, q->attrs_len);
	if (q->cri_tail_len > 0)
		der_put_raw(&b, q->cri_tail, q->cri_tail_len);
	assert_false(b.overflow);
	body_len = b.len;
	der_buf_init(&b, cri, sizeof(cri));
	der_put_tlv(&b, DER_SEQUENCE, body, body_len);
	assert_false(b.overflow);
	cri_len = b.len;
	data.data = cri;
	data.size = (unsigned)cri_len;
	assert_int_equal(gnutls_privkey_sign_data2(g_key,
	    GNUTLS_SIGN_ECDSA_SHA256, 0, &data, &sig), 0);
	alg_c = der_tlv_len(sizeof(oid_ecdsa_sha256)) + q->alg_params_len;
	der_buf_init(&b, body, sizeof(body));
	der_put_raw(&b, cri, cri_len);
	der_put_hdr(&b, DER_SEQUENCE, alg_c);
	der_put_tlv(&b, DER_OID, oid_ecdsa_sha256, sizeof(oid_ecdsa_sha256));
	der_put_raw(&b, q->alg_params, q->alg_params_len);
	der_put_hdr(&b, DER_BIT_STRING, sig.size + 1);
	der_put_raw(&b, &q->unused_bits, 1);
	der_put_raw(&b, sig.data, sig.size);
	gnutls_free(sig.data);
	assert_false(b.overflow);
	body_len = b.len;
	der_buf_init(&b, out, cap);
	der_put_tlv(&b, DER_SEQUENCE, body, body_len);
	assert_false(b.overflow);
	return b.len;
}

/* ca_csr_parse on q: code, and a keyword of the message. */
static void
expect(const char *what, const struct req *q, int code, const char *kw)
{
	uint8_t		 der[8192];
	size_t		 len = req_make(q, der, sizeof(der));
	struct ca_csr	*csr = NULL;
	struct ca_error	 e;
	int		 rc;

	memset(&e, 0, sizeof(e));
	rc = ca_csr_parse(der, len, &csr, &e);
	if (rc != code || (kw != NULL && strstr(e.msg, kw) == NULL))
		fail_msg("%s: got %d '%s', want %d with '%s'", what, rc,
		    rc == CA_OK ? "" : e.msg, code, kw ? kw : "");
	ca_csr_free(csr);
}

static void
test_csr_edges(void **state)
{
	uint8_t		a1[64], a2[64], rdn[128], name[160], e1[300], e2[300];
	uint8_t		exts[700], attr[800], attrs[1600], san[400];
	size_t		n1, n2, ne1, ne2, na;
	struct req	q;
	struct der_buf	b;
	static const uint8_t null_params[] = { DER_NULL, 0x00 };
	static const uint8_t int_params[] = { DER_INTEGER, 0x01, 0x05 };
	static const uint8_t junk[] = { DER_NULL, 0x00 };
	static const uint8_t bc_ca_01[] = { 0x30, 0x03, 0x01, 0x01, 0x01 };
	static const uint8_t bc_ca_ff[] = { 0x30, 0x03, 0x01, 0x01, 0xff };
	static const uint8_t bc_false[] = { 0x30, 0x00 };
	static const uint8_t bc_bad[] = { 0x30, 0x03, 0x02, 0x01 };
	static const uint8_t san_dns[] = { 0x30, 0x06, 0x82, 0x04, 'a', '.',
	    'e', 'x' };
	static const uint8_t san_x400[] = { 0x30, 0x04, 0xa3, 0x02, 0x05,
	    0x00 };
	static const uint8_t san_empty[] = { 0x30, 0x00 };

	(void)state;
	memset(&q, 0, sizeof(q));
	expect("a well-formed request", &q, CA_OK, NULL);
	q.no_attrs = false;

	/* Version 1: RFC 2986 knows only v1(0). */
	q.version = 1;
	expect("version 1", &q, CA_EMALF, "version 0");
	q.version = 0;

	/* No attributes [0] at all. */
	q.no_attrs = true;
	expect("no attributes", &q, CA_EMALF, "strict DER");
	q.no_attrs = false;

	/* Something after the attributes. */
	q.cri_tail = junk;
	q.cri_tail_len = sizeof(junk);
	expect("a field after the attributes", &q, CA_EMALF, "strict DER");
	q.cri_tail_len = 0;

	/* ecdsa-with-SHA256 takes no parameters; NULL is tolerated. */
	q.alg_params = null_params;
	q.alg_params_len = sizeof(null_params);
	expect("NULL signature parameters", &q, CA_OK, NULL);
	q.alg_params = int_params;
	q.alg_params_len = sizeof(int_params);
	expect("signature parameters", &q, CA_EMALF, "parameters");
	q.alg_params_len = 0;

	/* A signature BIT STRING with unused bits. */
	q.unused_bits = 1;
	expect("unused bits in the signature", &q, CA_EMALF, "strict DER");
	q.unused_bits = 0;

	/* A multi-valued RDN: in DER order it is fine, out of it not. */
	n1 = atv(a1, sizeof(a1), oid_cn, sizeof(oid_cn), "zed");
	n2 = atv(a2, sizeof(a2), oid_o, sizeof(oid_o), "org");
	assert_true(memcmp(a1, a2, n1 < n2 ? n1 : n2) < 0);
	memcpy(rdn, a1, n1);
	memcpy(rdn + n1, a2, n2);
	q.name = name;
	q.name_len = name_of(name, sizeof(name), rdn, n1 + n2);
	expect("a sorted multi-valued RDN", &q, CA_OK, NULL);
	memcpy(rdn, a2, n2);
	memcpy(rdn + n2, a1, n1);
	q.name_len = name_of(name, sizeof(name), rdn, n1 + n2);
	expect("an unsorted multi-valued RDN", &q, CA_EMALF, "X.501 Name");
	/* An empty RDN SET. */
	q.name_len = name_of(name, sizeof(name), rdn, 0);
	expect("an empty RDN", &q, CA_EMALF, "X.501 Name");
	q.name = NULL;

	/* Extensions: subjectAltName, basicConstraints. */
	q.attrs = attr;
	ne1 = ext(e1, sizeof(e1), oid_san, sizeof(oid_san), san_dns,
	    sizeof(san_dns));
	q.attrs_len = ext_request(attr, sizeof(attr), e1, ne1);
	expect("a dNSName", &q, CA_OK, NULL);
	/* subjectAltName twice. */
	memcpy(exts, e1, ne1);
	memcpy(exts + ne1, e1, ne1);
	q.attrs_len = ext_request(attr, sizeof(attr), exts, 2 * ne1);
	expect("subjectAltName twice", &q, CA_EMALF, "subjectAltName twice");
	/* Two extensionRequest attributes (and in DER order: equal). */
	na = ext_request(attr, sizeof(attr), e1, ne1);
	memcpy(attrs, attr, na);
	memcpy(attrs + na, attr, na);
	q.attrs = attrs;
	q.attrs_len = 2 * na;
	expect("two extensionRequest attributes", &q, CA_EMALF,
	    "exactly one");
	q.attrs = attr;
	/* x400Address: GnuTLS does not know it either. */
	ne1 = ext(e1, sizeof(e1), oid_san, sizeof(oid_san), san_x400,
	    sizeof(san_x400));
	q.attrs_len = ext_request(attr, sizeof(attr), e1, ne1);
	expect("an x400Address", &q, CA_EMALF, "GeneralNames");
	/* An empty GeneralNames: no name, as before. */
	ne1 = ext(e1, sizeof(e1), oid_san, sizeof(oid_san), san_empty,
	    sizeof(san_empty));
	q.attrs_len = ext_request(attr, sizeof(attr), e1, ne1);
	expect("an empty GeneralNames", &q, CA_OK, NULL);
	/* A dNSName of 257 octets. */
	{
		uint8_t name257[257];

		memset(name257, 'a', sizeof(name257));
		der_buf_init(&b, san, sizeof(san));
		der_put_hdr(&b, DER_SEQUENCE, der_tlv_len(sizeof(name257)));
		der_put_tlv(&b, DER_CTX(2), name257, sizeof(name257));
		assert_false(b.overflow);
		ne1 = ext(e1, sizeof(e1), oid_san, sizeof(oid_san), san,
		    b.len);
		q.attrs_len = ext_request(attr, sizeof(attr), e1, ne1);
		expect("a dNSName of 257 octets", &q, CA_EPOLICY,
		    "longer than 256");
	}
	/* cA TRUE, in DER (0xff) and not (0x01): both ask for a CA. */
	ne2 = ext(e2, sizeof(e2), oid_bc, sizeof(oid_bc), bc_ca_ff,
	    sizeof(bc_ca_ff));
	q.attrs_len = ext_request(attr, sizeof(attr), e2, ne2);
	expect("cA TRUE", &q, CA_EPOLICY, "CA:TRUE");
	ne2 = ext(e2, sizeof(e2), oid_bc, sizeof(oid_bc), bc_ca_01,
	    sizeof(bc_ca_01));
	q.attrs_len = ext_request(attr, sizeof(attr), e2, ne2);
	expect("cA 0x01", &q, CA_EPOLICY, "CA:TRUE");
	ne2 = ext(e2, sizeof(e2), oid_bc, sizeof(oid_bc), bc_false,
	    sizeof(bc_false));
	q.attrs_len = ext_request(attr, sizeof(attr), e2, ne2);
	expect("basicConstraints {}", &q, CA_OK, NULL);
	/* Twice, the second asking for a CA: refused either way. */
	memcpy(exts, e2, ne2);
	ne1 = ext(exts + ne2, sizeof(exts) - ne2, oid_bc, sizeof(oid_bc),
	    bc_ca_ff, sizeof(bc_ca_ff));
	q.attrs_len = ext_request(attr, sizeof(attr), exts, ne2 + ne1);
	expect("basicConstraints twice", &q, CA_EMALF,
	    "basicConstraints twice");
	ne2 = ext(e2, sizeof(e2), oid_bc, sizeof(oid_bc), bc_bad,
	    sizeof(bc_bad));
	q.attrs_len = ext_request(attr, sizeof(attr), e2, ne2);
	expect("a truncated basicConstraints", &q, CA_EMALF,
	    "basicConstraints");
}

static int
group_setup(void **state)
{
	gnutls_pubkey_t	pub;

	(void)state;
	g_data = getenv("MTLSCA_TEST_DATA");
	if (g_data == NULL) {
		fprintf(stderr, "MTLSCA_TEST_DATA is not set\n");
		return -1;
	}
	g_spki_len = sizeof(g_spki);
	if (gnutls_privkey_init(&g_key) < 0 ||
	    gnutls_privkey_generate2(g_key, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0, NULL, 0) < 0 ||
	    gnutls_pubkey_init(&pub) < 0 ||
	    gnutls_pubkey_import_privkey(pub, g_key, 0, 0) < 0 ||
	    gnutls_pubkey_export(pub, GNUTLS_X509_FMT_DER, g_spki,
	    &g_spki_len) < 0)
		return -1;
	gnutls_pubkey_deinit(pub);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	gnutls_privkey_deinit(g_key);
	return 0;
}

/*
 * ca_spki_import against gnutls_pubkey_import: same verdict, and a key that
 * exports to the same SubjectPublicKeyInfo, for every key of the accepted
 * requests and every one-octet change of each (the curve's OID, the point's
 * form and length, its coordinates), and for shapes written here.
 */
static unsigned g_spki_same;

static void
spki_same(const uint8_t *spki, size_t len, const char *what)
{
	gnutls_pubkey_t	a, b;
	gnutls_datum_t	ea = { NULL, 0 }, eb = { NULL, 0 };
	int		ra, rb;

	assert_int_equal(gnutls_pubkey_init(&a), 0);
	assert_int_equal(gnutls_pubkey_init(&b), 0);
	ra = ca_spki_import(a, spki, len);
	{
		gnutls_datum_t d = { (unsigned char *)spki, (unsigned)len };

		rb = gnutls_pubkey_import(b, &d, GNUTLS_X509_FMT_DER);
	}
	if ((ra < 0) != (rb < 0))
		fail_msg("%s: ca_spki_import %d, gnutls_pubkey_import %d",
		    what, ra, rb);
	if (ra >= 0) {
		unsigned ba = 0, bb = 0;

		/* (GnuTLS reads a P-521 point under P-384's OID, and then
		   cannot write it: alike is all that is asked.) */
		ra = gnutls_pubkey_export2(a, GNUTLS_X509_FMT_DER, &ea);
		rb = gnutls_pubkey_export2(b, GNUTLS_X509_FMT_DER, &eb);
		if (ra != rb || ea.size != eb.size || (ea.size > 0 &&
		    memcmp(ea.data, eb.data, ea.size) != 0))
			fail_msg("%s: the two keys export differently (%d, "
			    "%d)", what, ra, rb);
		assert_int_equal(gnutls_pubkey_get_pk_algorithm(a, &ba),
		    gnutls_pubkey_get_pk_algorithm(b, &bb));
		assert_int_equal(ba, bb);
	}
	g_spki_same++;
	gnutls_free(ea.data);
	gnutls_free(eb.data);
	gnutls_pubkey_deinit(a);
	gnutls_pubkey_deinit(b);
}

static void
spki_file(const char *name, const uint8_t *buf, size_t len, void *ctx)
{
	unsigned	*ec = ctx;
	char		 what[1200];
	uint8_t		*k;
	struct ca_csr	*csr = NULL;
	struct ca_error	 e;

	if (ca_csr_parse(buf, len, &csr, &e) != CA_OK)
		return;
	*ec += csr->pk == GNUTLS_PK_ECDSA;
	assert_non_null(k = malloc(csr->spki_len));
	memcpy(k, csr->spki, csr->spki_len);
	spki_same(k, csr->spki_len, name);
	for (size_t i = 0; i < csr->spki_len; i++) {
		k[i] ^= 0x01;
		snprintf(what, sizeof(what), "%s, key octet %zu", name, i);
		spki_same(k, csr->spki_len, what);
		k[i] ^= 0x01;
	}
	free(k);
	ca_csr_free(csr);
}

static void
test_spki_import_as_gnutls(void **state)
{
	/* P-256's SPKI prefix: SEQUENCE, AlgorithmIdentifier, BIT STRING */
	static const uint8_t p256[] = { 0x30, 0x59, 0x30, 0x13, 0x06, 0x07,
	    0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
	    0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00 };
	uint8_t		k[sizeof(p256) + 65 + 1];
	unsigned	ec = 0;

	(void)state;
	corpus_each("accept", spki_file, &ec);
	corpus_each("issue", spki_file, &ec);
	assert_true(ec >= 3);	/* the corpus has EC keys of each curve */
	/* An uncompressed point of zeros (not on the curve: refused at the
	   signature, read alike here), compressed, one octet short, and
	   with an octet after the key. */
	memcpy(k, p256, sizeof(p256));
	memset(k + sizeof(p256), 0, 65);
	k[sizeof(p256)] = 0x04;
	spki_same(k, sizeof(p256) + 65, "zero point");
	k[sizeof(p256)] = 0x02;
	spki_same(k, sizeof(p256) + 65, "compressed prefix, 65 octets");
	k[sizeof(p256)] = 0x04;
	k[1] = 0x58;
	k[sizeof(p256) - 2] = 0x41;
	spki_same(k, sizeof(p256) + 64, "a point one octet short");
	k[1] = 0x59;
	k[sizeof(p256) - 2] = 0x42;
	k[sizeof(p256) + 65] = 0x00;
	spki_same(k, sizeof(p256) + 66, "an octet after the key");
	spki_same(k, 0, "nothing");
	print_message("%u keys read alike\n", g_spki_same);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csr_parse_as_gnutls),
		cmocka_unit_test(test_csr_edges),
		cmocka_unit_test(test_spki_import_as_gnutls),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
