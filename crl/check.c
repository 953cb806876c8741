/*
 * Reading CRLs: the strict CertificateList parser (used on every CRL we build
 * before it leaves the process, and on any CRL crl_check is handed), PEM in
 * both directions, signature verification with a certificate's key, and
 * crl_check: ALB's rules for a trust-store revocation file.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "common/base64.h"
#include "common/der.h"
#include "common/pem.h"
#include "crl/crl_int.h"

/* Extension OIDs (content octets) under id-ce (2.5.29). */
static const uint8_t oid_crl_number[] = { 0x55, 0x1d, 0x14 };
static const uint8_t oid_aki[] = { 0x55, 0x1d, 0x23 };
static const uint8_t oid_reason[] = { 0x55, 0x1d, 0x15 };

static bool
oid_is(const struct der_tlv *t, const uint8_t *oid, size_t len)
{
	return t->len == len && memcmp(t->p, oid, len) == 0;
}

/* id-ce extensions a CRL (§5.2) or CRL entry (§5.3) may carry. */
static bool
crl_ext_known(const struct der_tlv *oid, bool entry)
{
	static const uint8_t crl_ids[] = { 0x12, 0x14, 0x1b, 0x1c, 0x23,
	    0x2e };
	static const uint8_t entry_ids[] = { 0x15, 0x18, 0x1d };
	const uint8_t *ids = entry ? entry_ids : crl_ids;
	size_t n = entry ? sizeof(entry_ids) : sizeof(crl_ids);

	if (oid->len != 3 || oid->p[0] != 0x55 || oid->p[1] != 0x1d)
		return false;
	for (size_t i = 0; i < n; i++)
		if (oid->p[2] == ids[i])
			return true;
	return false;
}

static int
bad(struct crl_parsed *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
bad(struct crl_parsed *o, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(o->why, sizeof(o->why), fmt, ap);
	va_end(ap);
	return CA_EMALF;
}

/* A Time of RFC 5280 §4.1.2.5 (UTCTime through 2049, then
   GeneralizedTime). */
static int
read_time(struct der_cur *c, struct crl_parsed *o, int64_t *t,
    const char *what)
{
	struct der_tlv	tlv;

	if (der_read(c, &tlv) != 0 || !der_time_parse(&tlv, t))
		return bad(o, "%s is not a DER UTCTime or GeneralizedTime "
		    "(RFC 5280 section 4.1.2.5)", what);
	if ((tlv.tag == DER_GENTIME) != (der_time_len(*t) == 17))
		o->bad_time_form++;
	return CA_OK;
}

/*
 * Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension; Extension ::=
 * SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue }.
 * cb sees each one; DER never encodes a DEFAULT value (X.690 §11.5), so a
 * present critical is TRUE (0xff).
 */
typedef int (*ext_cb)(struct crl_parsed *o, const struct der_tlv *oid,
    bool critical, const struct der_tlv *val);

static int
read_extensions(const struct der_tlv *seq, struct crl_parsed *o, bool entry,
    ext_cb cb)
{
	struct der_cur	c, e;
	struct der_tlv	ext, oid, crit, val;
	const uint8_t	*seen[16];
	size_t		 seen_len[16], n_seen = 0;
	int		 rc;

	der_cur_init(&c, seq->p, seq->len);
	if (c.left == 0)
		return bad(o, "empty Extensions (RFC 5280 section 4.1: SIZE "
		    "(1..MAX))");
	while (c.left > 0) {
		bool critical = false;

		if (der_expect(&c, DER_SEQUENCE, &ext) != 0)
			return bad(o, "an extension is not a SEQUENCE");
		der_cur_init(&e, ext.p, ext.len);
		if (der_expect(&e, DER_OID, &oid) != 0 ||
		    !der_oid_ok(oid.p, oid.len))
			return bad(o, "an extension has no valid extnID");
		if (der_peek(&e) == DER_BOOLEAN) {
			/* A peeked tag says nothing of the length: read it
			   checked, or crit stays uninitialised. */
			if (der_read(&e, &crit) != 0 || crit.len != 1 ||
			    crit.p[0] != 0xff)
				return bad(o, "an extension encodes critical "
				    "as other than TRUE (DER, X.690 section "
				    "11.5)");
			critical = true;
		}
		if (der_expect(&e, DER_OCTET_STRING, &val) != 0 || e.left != 0)
			return bad(o, "an extension is not extnID, critical, "
			    "extnValue");
		/* RFC 5280 §4.2: at most one instance of an extension. */
		for (size_t i = 0; i < n_seen; i++)
			if (seen_len[i] == oid.len &&
			    memcmp(seen[i], oid.p, oid.len) == 0)
				return bad(o, "an extension appears twice (RFC "
				    "5280 section 4.2)");
		if (n_seen < sizeof(seen) / sizeof(seen[0])) {
			seen[n_seen] = oid.p;
			seen_len[n_seen++] = oid.len;
		}
		if (critical && !crl_ext_known(&oid, entry))
			o->unknown_critical = true;
		if (cb != NULL && (rc = cb(o, &oid, critical, &val)) != CA_OK)
			return rc;
	}
	return CA_OK;
}

static int
entry_ext(struct crl_parsed *o, const struct der_tlv *oid, bool critical,
    const struct der_tlv *val)
{
	struct der_cur	c;
	struct der_tlv	e;

	if (!oid_is(oid, oid_reason, sizeof(oid_reason)))
		return CA_OK;
	/* CRLReason ::= ENUMERATED; 7 is unused (RFC 5280 §5.3.1). */
	der_cur_init(&c, val->p, val->len);
	if (der_expect(&c, DER_ENUMERATED, &e) != 0 || c.left != 0 ||
	    e.len != 1 || e.p[0] > 10 || e.p[0] == 7)
		return bad(o, "a reasonCode is not a CRLReason (RFC 5280 "
		    "section 5.3.1)");
	return CA_OK;
}

static int
crl_ext(struct crl_parsed *o, const struct der_tlv *oid, bool critical,
    const struct der_tlv *val)
{
	struct der_cur	c, a;
	struct der_tlv	t, k;

	der_cur_init(&c, val->p, val->len);
	if (oid_is(oid, oid_crl_number, sizeof(oid_crl_number))) {
		/* CRLNumber ::= INTEGER (0..MAX), up to 20 octets (§5.2.3). */
		if (der_expect(&c, DER_INTEGER, &t) != 0 || c.left != 0 ||
		    !der_int_minimal(t.p, t.len) ||
		    der_int_negative(t.p, t.len) || t.len > 21)
			return bad(o, "the cRLNumber is not a non-negative "
			    "INTEGER of at most 20 octets (RFC 5280 section "
			    "5.2.3)");
		o->has_number = true;
		if (!der_int_u64(t.p, t.len, &o->number)) {
			o->number_big = true;
			o->number = 0;
		}
	} else if (oid_is(oid, oid_aki, sizeof(oid_aki))) {
		/* AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0]
		   OPTIONAL, ... } (RFC 5280 §4.2.1.1). */
		if (der_expect(&c, DER_SEQUENCE, &t) != 0 || c.left != 0)
			return bad(o, "the authorityKeyIdentifier is not a "
			    "SEQUENCE (RFC 5280 section 4.2.1.1)");
		der_cur_init(&a, t.p, t.len);
		if (der_peek(&a) == DER_CTX(0)) {
			if (der_read(&a, &k) != 0)
				return bad(o, "the authorityKeyIdentifier's "
				    "keyIdentifier is truncated (RFC 5280 "
				    "section 4.2.1.1)");
			o->aki_keyid = k.p;
			o->aki_len = k.len;
		}
		/* authorityCertIssuer [1] and authorityCertSerialNumber
		   [2] may follow; each must at least be a whole TLV. */
		while (a.left > 0)
			if (der_read(&a, &k) != 0 ||
			    (k.tag != DER_CTX_CONS(1) && k.tag != DER_CTX(2)))
				return bad(o, "the authorityKeyIdentifier "
				    "holds other than keyIdentifier, "
				    "authorityCertIssuer and "
				    "authorityCertSerialNumber (RFC 5280 "
				    "section 4.2.1.1)");
		o->has_aki = true;
	}
	return CA_OK;
}

int
crl_parse_der(const uint8_t *der, size_t len, struct crl_parsed *o)
{
	return crl_parse_der_times(der, len, INT64_MAX, NULL, 0, o);
}

int
crl_parse_der_times(const uint8_t *der, size_t len, int64_t after,
    int64_t *times, size_t max, struct crl_parsed *o)
{
	struct der_cur	top, cl, tbs, list, ent;
	struct der_tlv	t, tbs_tlv, alg, inner_alg, sig, e, serial, x;
	int64_t		when;
	int		rc;

	memset(o, 0, sizeof(*o));
	/* CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm,
	   signatureValue } spanning the input: no trailing bytes. */
	der_cur_init(&top, der, len);
	if (der_expect(&top, DER_SEQUENCE, &t) != 0)
		return bad(o, "not a DER CertificateList (RFC 5280 section "
		    "5.1)");
	if (top.left != 0)
		return bad(o, "%zu bytes follow the CertificateList", top.left);
	der_cur_init(&cl, t.p, t.len);
	if (der_expect(&cl, DER_SEQUENCE, &tbs_tlv) != 0 ||
	    der_expect(&cl, DER_SEQUENCE, &alg) != 0 ||
	    der_expect(&cl, DER_BIT_STRING, &sig) != 0 || cl.left != 0)
		return bad(o, "the CertificateList is not tbsCertList, "
		    "signatureAlgorithm, signatureValue (RFC 5280 section 5.1)");
	if (sig.len < 1 || sig.p[0] != 0)
		return bad(o, "the signatureValue has unused bits");
	o->tbs = tbs_tlv.hdr;
	o->tbs_len = tbs_tlv.tlv_len;
	o->alg = alg.hdr;
	o->alg_len = alg.tlv_len;
	o->sig = sig.p + 1;
	o->sig_len = sig.len - 1;

	der_cur_init(&tbs, tbs_tlv.p, tbs_tlv.len);
	o->version = 1;
	if (der_peek(&tbs) == DER_INTEGER) {
		if (der_read(&tbs, &t) != 0)
			return bad(o, "the CRL version is truncated");
		/* Version ::= INTEGER { v1(0), v2(1) }; v1 is encoded by
		   omission (DEFAULT would be v1, X.690 §11.5). */
		if (t.len != 1 || t.p[0] != 1)
			return bad(o, "the CRL version is not v2 (RFC 5280 "
			    "section 5.1.2.1)");
		o->version = 2;
	}
	if (der_expect(&tbs, DER_SEQUENCE, &inner_alg) != 0)
		return bad(o, "the TBSCertList has no signature "
		    "AlgorithmIdentifier");
	if (inner_alg.tlv_len != alg.tlv_len ||
	    memcmp(inner_alg.hdr, alg.hdr, alg.tlv_len) != 0)
		return bad(o, "the TBSCertList's signature differs from the "
		    "signatureAlgorithm (RFC 5280 section 5.1.1.2)");
	if (der_expect(&tbs, DER_SEQUENCE, &t) != 0)
		return bad(o, "the issuer is not a Name");
	o->issuer = t.hdr;
	o->issuer_len = t.tlv_len;
	if ((rc = read_time(&tbs, o, &o->this_update, "thisUpdate")) != CA_OK)
		return rc;
	if (der_peek(&tbs) == DER_UTCTIME || der_peek(&tbs) == DER_GENTIME) {
		if ((rc = read_time(&tbs, o, &o->next_update, "nextUpdate")) !=
		    CA_OK)
			return rc;
		o->has_next = true;
	}
	if (der_peek(&tbs) == DER_SEQUENCE) {
		if (der_read(&tbs, &t) != 0)
			return bad(o, "revokedCertificates is truncated (RFC "
			    "5280 section 5.1.2.6)");
		o->list_present = true;
		o->list = t.p;
		o->list_len = t.len;
		der_cur_init(&list, t.p, t.len);
		while (list.left > 0) {
			if (der_expect(&list, DER_SEQUENCE, &e) != 0)
				return bad(o, "revoked entry %" PRIu64 " is not "
				    "a SEQUENCE", o->entries + 1);
			der_cur_init(&ent, e.p, e.len);
			if (der_expect(&ent, DER_INTEGER, &serial) != 0 ||
			    !der_int_minimal(serial.p, serial.len))
				return bad(o, "revoked entry %" PRIu64 " has "
				    "no DER INTEGER serial", o->entries + 1);
			if (der_int_negative(serial.p, serial.len))
				o->negative++;
			if ((rc = read_time(&ent, o, &when,
			    "a revocationDate")) != CA_OK)
				return rc;
			if (when > o->newest_revocation)
				o->newest_revocation = when;
			if (when > after) {
				if (o->n_times < max && times != NULL)
					times[o->n_times++] = when;
				o->times_later++;
			}
			if (ent.left > 0) {
				if (der_expect(&ent, DER_SEQUENCE, &x) != 0 ||
				    ent.left != 0)
					return bad(o, "revoked entry %" PRIu64
					    " has trailing fields",
					    o->entries + 1);
				if (o->version != 2)
					return bad(o, "a v1 CRL carries entry "
					    "extensions (RFC 5280 section "
					    "5.1.2.1)");
				if ((rc = read_extensions(&x, o, true,
				    entry_ext)) != CA_OK)
					return rc;
			}
			o->entries++;
		}
	}
	if (der_peek(&tbs) == DER_CTX_CONS(0)) {
		if (der_read(&tbs, &t) != 0)
			return bad(o, "crlExtensions is truncated (RFC 5280 "
			    "section 5.1.2.7)");
		if (o->version != 2)
			return bad(o, "a v1 CRL carries extensions (RFC 5280 "
			    "section 5.1.2.1)");
		der_cur_init(&list, t.p, t.len);
		if (der_expect(&list, DER_SEQUENCE, &x) != 0 || list.left != 0)
			return bad(o, "crlExtensions is not one SEQUENCE");
		if ((rc = read_extensions(&x, o, false, crl_ext)) != CA_OK)
			return rc;
	}
	if (tbs.left != 0)
		return bad(o, "unexpected fields at the end of the "
		    "TBSCertList (RFC 5280 section 5.1.2)");
	return CA_OK;
}

/* ---- signatures ---- */

int
crl_sig_verify(const uint8_t *cert, size_t cert_len, const uint8_t *alg,
    size_t alg_len, const uint8_t *tbs, size_t tbs_len, const uint8_t *sig,
    size_t sig_len, struct ca_error *err)
{
	gnutls_pubkey_t		 pub = NULL;
	gnutls_datum_t		 cd, td, sd;
	gnutls_sign_algorithm_t	 sa;
	struct der_cur		 c;
	struct der_tlv		 seq, oid;
	char			 text[128];
	int			 rc, grc;

	der_cur_init(&c, alg, alg_len);
	if (der_expect(&c, DER_SEQUENCE, &seq) != 0)
		return ca_error_set(err, CA_EMALF, "bad AlgorithmIdentifier");
	der_cur_init(&c, seq.p, seq.len);
	if (der_expect(&c, DER_OID, &oid) != 0 ||
	    !der_oid_text(oid.p, oid.len, text, sizeof(text)))
		return ca_error_set(err, CA_EMALF, "bad AlgorithmIdentifier");
	if ((sa = gnutls_oid_to_sign(text)) == GNUTLS_SIGN_UNKNOWN)
		return ca_error_set(err, CA_EMALF, "signature algorithm %s is "
		    "not one GnuTLS knows", text);
	if (cert_len > UINT_MAX || tbs_len > UINT_MAX || sig_len > UINT_MAX)
		return ca_error_set(err, CA_ETOOBIG, "CRL too large to verify");
	cd.data = (unsigned char *)cert;
	cd.size = (unsigned)cert_len;
	td.data = (unsigned char *)tbs;
	td.size = (unsigned)tbs_len;
	sd.data = (unsigned char *)sig;
	sd.size = (unsigned)sig_len;
	if ((grc = gnutls_pubkey_init(&pub)) < 0 ||
	    (grc = gnutls_pubkey_import_x509_raw(pub, &cd,
	    GNUTLS_X509_FMT_DER, 0)) < 0) {
		rc = ca_error_set(err, CA_ECRYPTO, "CA public key: %s",
		    gnutls_strerror(grc));
		goto out;
	}
	if ((grc = gnutls_pubkey_verify_data2(pub, sa, 0, &td, &sd)) < 0) {
		rc = ca_error_set(err, CA_EPOLICY, "the CRL signature (%s) does "
		    "not verify with the CA certificate's key: %s",
		    gnutls_sign_get_name(sa), gnutls_strerror(grc));
		goto out;
	}
	rc = CA_OK;
out:
	gnutls_pubkey_deinit(pub);
	return rc;
}

/* ---- PEM (RFC 7468) ---- */

int
crl_pem_encode(const uint8_t *der, size_t len, char **out, size_t *out_len)
{
	return pem_encode(CRL_PEM_LABEL, der, len, out, out_len, NULL);
}

static bool
is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* memmem without _GNU_SOURCE. */
static const uint8_t *
find(const uint8_t *h, size_t hlen, const char *needle)
{
	size_t	n = strlen(needle);

	if (n > hlen)
		return NULL;
	for (size_t i = 0; i + n <= hlen; i++) {
		const uint8_t *q = memchr(h + i, needle[0], hlen - n - i + 1);
		if (q == NULL)
			return NULL;
		i = (size_t)(q - h);
		if (memcmp(q, needle, n) == 0)
			return q;
	}
	return NULL;
}

int
crl_pem_decode(const uint8_t *buf, size_t len, uint8_t **out,
    size_t *out_len, unsigned *blocks, bool *outside, struct ca_error *err)
{
	const uint8_t	*begin, *body, *end, *p, *q;
	uint8_t		*der = NULL;
	size_t		 o = 0, max;
	unsigned	 nb = 0;
	bool		 junk = false;
	struct ca_error	 why;

	for (p = buf; (q = find(p, len - (size_t)(p - buf), "-----BEGIN")) !=
	    NULL; p = q + 1)
		nb++;
	*blocks = nb;
	if ((begin = find(buf, len, CRL_PEM_BEGIN)) == NULL)
		return ca_error_set(err, CA_EMALF, "no \"" CRL_PEM_BEGIN
		    "\" line (RFC 7468 section 5)");
	for (p = buf; p < begin; p++)
		if (!is_space(*p))
			junk = true;
	body = begin + strlen(CRL_PEM_BEGIN);
	end = find(body, len - (size_t)(body - buf), CRL_PEM_END);
	if (end == NULL)
		return ca_error_set(err, CA_EMALF, "no \"" CRL_PEM_END
		    "\" line (RFC 7468 section 5)");
	for (p = end + strlen(CRL_PEM_END); p < buf + len; p++)
		if (!is_space(*p))
			junk = true;
	/* RFC 7468 section 3: each boundary is a line of its own (blanks
	   may trail the label). A body glued to either line is not PEM,
	   even when its base64 would decode. */
	for (p = body; p < end && (*p == ' ' || *p == '\t'); p++)
		;
	if (p == end || (*p != '\r' && *p != '\n') || end[-1] != '\n')
		return ca_error_set(err, CA_EMALF, "the PEM boundaries are not "
		    "lines of their own (RFC 7468 section 3)");
	max = BASE64_DECODED_MAX((size_t)(end - body));
	if ((der = malloc(max)) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	/* Line breaks anywhere in the body (RFC 7468 section 3 lets the
	   lines be of any length); the rest strictly base64. */
	if (base64_decode((const char *)body, (size_t)(end - body), true, der,
	    max, &o, &why) != CA_OK) {
		free(der);
		return ca_error_set(err, CA_EMALF, "the PEM body is not base64 "
		    "(RFC 7468 section 3): %s", why.msg);
	}
	*outside = junk;
	*out = der;
	*out_len = o;
	return CA_OK;
}

/* ---- crl_check ---- */

static void
problem(struct crl_check_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
problem(struct crl_check_report *r, const char *fmt, ...)
{
	size_t	used = strlen(r->problems);
	va_list	ap;

	if (used > 0 && used + 2 < sizeof(r->problems)) {
		memcpy(r->problems + used, "; ", 3);
		used += 2;
	}
	if (used + 1 >= sizeof(r->problems))
		return;
	va_start(ap, fmt);
	vsnprintf(r->problems + used, sizeof(r->problems) - used, fmt, ap);
	va_end(ap);
}

int
crl_check_with(const uint8_t *buf, size_t len,
    const struct crl_check_options *opt, struct crl_check_report *report,
    struct ca_error *err)
{
	struct ca		*ca = opt->ca;
	bool			 alb = opt->alb;
	struct crl_check_report	 r;
	struct crl_parsed	 p;
	struct ca_error		 e2;
	uint8_t			*der = NULL;
	const uint8_t		*d;
	size_t			 dlen;
	unsigned		 blocks = 0;
	bool			 outside = false;
	int			 rc = CA_OK;

	memset(&r, 0, sizeof(r));
	if (buf == NULL)
		len = 0;
	if (alb && len > CRL_ALB_MAX_BYTES)
		problem(&r, "the file is %zu bytes: ALB accepts CRL files of "
		    "at most 50 MB", len);
	if (len > 0 && buf[0] == DER_SEQUENCE) {
		/* Parsed all the same, so that the other rules are checked. */
		problem(&r, "the CRL is DER: ALB accepts PEM only");
		d = buf;
		dlen = len;
	} else {
		r.pem = true;
		if ((rc = crl_pem_decode(buf, len, &der, &dlen, &blocks,
		    &outside, &e2)) != CA_OK) {
			problem(&r, "%s", e2.msg);
			goto out;
		}
		if (blocks > 1)
			problem(&r, "the file holds %u PEM blocks: ALB accepts "
			    "one CRL per file", blocks);
		if (outside)
			problem(&r, "text outside the PEM block: ALB accepts "
			    "one CRL per file and nothing else");
		d = der;
	}
	r.der_len = dlen;
	if (crl_parse_der_times(d, dlen, opt->times_after, opt->times,
	    opt->times_max, &p) != CA_OK) {
		problem(&r, "%s", p.why);
		rc = CA_EMALF;
		goto out;
	}
	r.entries = p.entries;
	r.negative = p.negative;
	r.has_next = p.has_next;
	r.newest_revocation = p.newest_revocation;
	r.n_times = p.n_times;
	r.times_later = p.times_later;
	r.this_update = p.this_update;
	r.next_update = p.has_next ? p.next_update : 0;
	r.has_number = p.has_number && !p.number_big;
	r.number = r.has_number ? p.number : 0;
	if (p.negative > 0)
		problem(&r, "%" PRIu64 " entries have a negative serial: ALB "
		    "does not support negative serial numbers", p.negative);
	if (alb && p.entries > CRL_ALB_MAX_ENTRIES)
		problem(&r, "%" PRIu64 " entries: ALB accepts at most 500,000 "
		    "revocation entries per trust store", p.entries);
	if (p.bad_time_form > 0)
		problem(&r, "%" PRIu64 " times are not UTCTime through 2049 and "
		    "GeneralizedTime from 2050 (RFC 5280 section 4.1.2.5)",
		    p.bad_time_form);
	if (p.number_big)
		problem(&r, "the cRLNumber does not fit 64 bits");
	if (p.unknown_critical)
		problem(&r, "an unrecognised critical extension (RFC 5280 "
		    "section 5.2: a relying party must reject the CRL)");
	if (ca != NULL) {
		const uint8_t	*subj, *ski, *cert;
		size_t		 subj_len, ski_len, cert_len;

		subj = ca_subject_der(ca, &subj_len);
		ski = ca_ski(ca, &ski_len);
		cert = ca_cert_der(ca, &cert_len);
		if (p.issuer_len != subj_len ||
		    memcmp(p.issuer, subj, subj_len) != 0)
			problem(&r, "the issuer is not the CA certificate's "
			    "subject, byte for byte (RFC 5280 section 6.3.3)");
		if (!p.has_aki || p.aki_keyid == NULL)
			problem(&r, "no authorityKeyIdentifier keyIdentifier "
			    "(RFC 5280 section 5.2.1)");
		else if (p.aki_len != ski_len ||
		    memcmp(p.aki_keyid, ski, ski_len) != 0)
			problem(&r, "the authorityKeyIdentifier is not the CA "
			    "certificate's subjectKeyIdentifier (RFC 5280 "
			    "section 4.2.1.1)");
		if (crl_sig_verify(cert, cert_len, p.alg, p.alg_len, p.tbs,
		    p.tbs_len, p.sig, p.sig_len, &e2) == CA_OK)
			r.signature_ok = true;
		else
			problem(&r, "%s", e2.msg);
	}
	rc = r.problems[0] != '\0' ? CA_EPOLICY : CA_OK;
out:
	if (rc == CA_OK && r.problems[0] != '\0')
		rc = CA_EPOLICY;
	if (rc != CA_OK)
		ca_error_set(err, rc, "%s", r.problems);
	else
		ca_error_clear(err);
	if (report != NULL)
		*report = r;
	free(der);
	return rc;
}

int
crl_check(const uint8_t *buf, size_t len, struct ca *ca,
    struct crl_check_report *report, struct ca_error *err)
{
	struct crl_check_options o = { ca, true, INT64_MAX, NULL, 0 };

	return crl_check_with(buf, len, &o, report, err);
}

int
crl_check_any(const uint8_t *buf, size_t len, struct ca *ca,
    struct crl_check_report *report, struct ca_error *err)
{
	struct crl_check_options o = { ca, false, INT64_MAX, NULL, 0 };

	return crl_check_with(buf, len, &o, report, err);
}
