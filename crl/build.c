/*
 * Building the CRL: one read snapshot of the revoked index whose values are
 * the entries' final DER, copied once into one preallocated buffer; the
 * TBSCertList's header and extensions written around them; one signature;
 * the CertificateList verified before anyone sees it; DER and PEM.
 *
 * Why not GnuTLS's CRL writer: gnutls_x509_crl_set_crt appends entries in
 * quadratic time (2.5 s at 10k entries, 228 s at 100k), and it can neither
 * write reasonCode entry extensions nor omit an empty revokedCertificates.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "common/pem.h"
#include "common/util.h"
#include "crl/crl.h"
#include "crl/crl_int.h"
#include "common/der.h"

#define DAY		86400
#define SIG_MAX		2048	/* RSA-16384 is 2048 octets; ECDSA far less */
#define SKI_MAX		64
#define PEM_THREAD_MIN	(1u << 20)	/* below 1 MB a thread costs more */

/*
 * The full GnuTLS import (gnutls_x509_crl_import; libtasn1 decodes into a
 * node tree per element) and gnutls_x509_crl_verify run on every CRL of at
 * most this many entries. The import is quadratic in the entry count;
 * measured on the 2-core target (GnuTLS 3.7.9): 1k entries 7 ms, 2k 23 ms,
 * 3k 50 ms, 5k 0.26 s, 10k 1.8 s, 100k 396 s and 273 MB. So larger CRLs
 * rely on what runs on every CRL whatever its size (~10 ms at 100k): the
 * strict re-parse of the final DER (every TLV, every serial positive,
 * issuer, algorithm, AKI, number, dates, entry count) and the signature
 * over the exact TBS bytes re-read from it, verified with the CA
 * certificate's public key (gnutls_pubkey_verify_data2).
 */
#define CRL_GNUTLS_VERIFY_MAX	2000

/* id-ce-authorityKeyIdentifier 2.5.29.35, id-ce-cRLNumber 2.5.29.20. */
static const uint8_t oid_aki[] = { 0x55, 0x1d, 0x23 };
static const uint8_t oid_crl_number[] = { 0x55, 0x1d, 0x14 };
/* version INTEGER v2(1), RFC 5280 §5.1.2.1. */
static const uint8_t version_v2[] = { DER_INTEGER, 0x01, 0x01 };

void
crl_options_default(struct crl_options *o)
{
	memset(o, 0, sizeof(*o));
	o->validity = 7 * DAY;
	o->keep_expired = -1;
	o->warn_entries = 250000;
	o->max_entries = CRL_ALB_MAX_ENTRIES;
}

void
crl_result_clear(struct crl_result *r)
{
	if (r == NULL)
		return;
	free(r->der);
	free(r->pem);
	memset(r, 0, sizeof(*r));
}

/* ---- the scan ---- */

struct scan {
	uint8_t		*buf;
	size_t		 cap;
	size_t		 head;		/* entries start here */
	size_t		 tail;		/* reserved after the entries */
	size_t		 pos;		/* next entry goes here */
	uint64_t	 n;
};

static int
scan_begin(void *ctx, uint64_t max_entries, uint64_t max_bytes)
{
	struct scan	*s = ctx;

	(void)max_entries;
	/* 4 GiB would not fit the DER lengths we write, nor a signature
	   request; CRLs under ALB's limits are ~25 MB. */
	if (max_bytes > 0xffffffffu - s->head - s->tail)
		return CA_ETOOBIG;
	/* Again when the store starts over: the same bounds, the entries
	   so far forgotten. */
	if (s->buf != NULL && s->cap == s->head + (size_t)max_bytes +
	    s->tail) {
		s->pos = s->head;
		s->n = 0;
		return 0;
	}
	free(s->buf);
	s->buf = NULL;
	s->cap = s->head + (size_t)max_bytes + s->tail;
	/* 46 MB at 1M entries: in huge pages (malloc_big). */
	if ((s->buf = malloc_big(s->cap)) == NULL)
		return CA_ENOMEM;
	s->pos = s->head;
	s->n = 0;
	return 0;
}

static int
scan_entry(void *ctx, const uint8_t *der, size_t len)
{
	struct scan	*s = ctx;

	/* begin()'s bounds come from the same snapshot, so this only fails
	   if the store's counters are wrong. */
	if (s->buf == NULL || len > s->cap - s->tail - s->pos)
		return CA_EIO;
	memcpy(s->buf + s->pos, der, len);
	s->pos += len;
	s->n++;
	return 0;
}

/* ---- verification of what we built ---- */

static int
verify_gnutls(struct ca *ca, const uint8_t *der, size_t len, uint64_t n,
    struct ca_error *err)
{
	gnutls_x509_crl_t	 crl = NULL;
	gnutls_x509_crt_t	 crt = NULL;
	gnutls_datum_t		 d, cd;
	const uint8_t		*cert;
	size_t			 cert_len;
	unsigned		 status = 0;
	int			 rc, grc;

	cert = ca_cert_der(ca, &cert_len);
	d.data = (unsigned char *)der;
	d.size = (unsigned)len;
	cd.data = (unsigned char *)cert;
	cd.size = (unsigned)cert_len;
	if ((grc = gnutls_x509_crl_init(&crl)) < 0 ||
	    (grc = gnutls_x509_crt_init(&crt)) < 0 ||
	    (grc = gnutls_x509_crt_import(crt, &cd, GNUTLS_X509_FMT_DER)) < 0) {
		rc = ca_error_set(err, CA_ECRYPTO, "GnuTLS: %s",
		    gnutls_strerror(grc));
		goto out;
	}
	if ((grc = gnutls_x509_crl_import(crl, &d, GNUTLS_X509_FMT_DER)) < 0) {
		rc = ca_error_set(err, CA_ECRYPTO, "the CRL just built does not "
		    "import with GnuTLS: %s", gnutls_strerror(grc));
		goto out;
	}
	/* Dates are checked by verify_built against what we meant to write;
	   GnuTLS would flag a thisUpdate ahead of the clock (a pinned test
	   time) or a nextUpdate behind it. */
	grc = gnutls_x509_crl_verify(crl, &crt, 1, 0, &status);
	if (status & (GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED |
	    GNUTLS_CERT_REVOCATION_DATA_ISSUED_IN_FUTURE)) {
		/* GnuTLS adds INVALID to any flag it sets; a bad signature
		   still shows as SIGNATURE_FAILURE. */
		status &= ~(unsigned)(GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED |
		    GNUTLS_CERT_REVOCATION_DATA_ISSUED_IN_FUTURE |
		    GNUTLS_CERT_INVALID);
	}
	if (grc < 0 || status != 0) {
		rc = ca_error_set(err, CA_ECRYPTO, "the CRL just built does not "
		    "verify with GnuTLS against the CA certificate (%s, status "
		    "0x%x)", grc < 0 ? gnutls_strerror(grc) : "ok", status);
		goto out;
	}
	if ((grc = gnutls_x509_crl_get_crt_count(crl)) < 0 ||
	    (uint64_t)grc != n) {
		rc = ca_error_set(err, CA_ECRYPTO, "GnuTLS reads %d entries in "
		    "the CRL just built, not %" PRIu64, grc, n);
		goto out;
	}
	rc = CA_OK;
out:
	if (crl != NULL)
		gnutls_x509_crl_deinit(crl);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	return rc;
}

/*
 * Before a CRL leaves the process: re-read it as any relying party would,
 * with nothing taken from the build but the facts it must show.
 */
static int
verify_built(struct ca *ca, const uint8_t *der, size_t len, uint64_t n,
    uint64_t number, int64_t this_update, int64_t next_update,
    struct ca_error *err)
{
	struct crl_parsed	 p;
	const uint8_t		*subj, *ski, *alg, *cert;
	size_t			 subj_len, ski_len, alg_len, cert_len;
	const char		*why = NULL;
	struct ca_error		 e2;

	subj = ca_subject_der(ca, &subj_len);
	ski = ca_ski(ca, &ski_len);
	alg = ca_sig_alg_der(ca, &alg_len);
	cert = ca_cert_der(ca, &cert_len);
	if (crl_parse_der(der, len, &p) != CA_OK)
		return ca_error_set(err, CA_ECRYPTO, "the CRL just built does "
		    "not parse: %s", p.why);
	if (p.version != 2)
		why = "it is not v2";
	else if (p.entries != n || p.list_present != (n > 0))
		why = "its entry count is wrong";
	else if (p.negative > 0)
		why = "it lists a negative serial";
	else if (p.issuer_len != subj_len || memcmp(p.issuer, subj, subj_len))
		why = "its issuer is not the CA's subject";
	else if (p.alg_len != alg_len || memcmp(p.alg, alg, alg_len))
		why = "its algorithm is not the CA's";
	else if (!p.has_number || p.number_big || p.number != number)
		why = "its cRLNumber is wrong";
	else if (p.aki_keyid == NULL || p.aki_len != ski_len ||
	    memcmp(p.aki_keyid, ski, ski_len))
		why = "its authorityKeyIdentifier is not the CA's SKI";
	else if (p.this_update != this_update || !p.has_next ||
	    p.next_update != next_update || p.bad_time_form > 0)
		why = "its dates are wrong";
	else if (p.unknown_critical)
		why = "it has an unknown critical extension";
	if (why != NULL)
		return ca_error_set(err, CA_ECRYPTO, "the CRL just built is "
		    "wrong: %s", why);
	if (crl_sig_verify(cert, cert_len, p.alg, p.alg_len, p.tbs,
	    p.tbs_len, p.sig, p.sig_len, &e2) != CA_OK)
		return ca_error_set(err, CA_ECRYPTO, "the CRL just built: %s",
		    e2.msg);
	if (n <= CRL_GNUTLS_VERIFY_MAX)
		return verify_gnutls(ca, der, len, n, err);
	return CA_OK;
}

/* ---- PEM beside the verification ---- */

/*
 * At 1M entries the PEM encoding (~50 ms) and the verification (~85 ms:
 * re-parse plus a second SHA-256 of the TBS) are each a good part of the
 * build; they read the same finished DER and share nothing else, so the
 * PEM is encoded on a second thread (the target has two cores).
 */
struct pem_job {
	const uint8_t	*der;
	size_t		 len;
	char		*pem;
	size_t		 pem_len;
	int		 rc;
};

static void *
pem_job_run(void *arg)
{
	struct pem_job	*j = arg;

	j->rc = crl_pem_encode(j->der, j->len, &j->pem, &j->pem_len);
	return NULL;
}

/* The verification as write_files_while runs it, beside the files. */
struct verify_job {
	struct ca		*ca;
	const struct crl_result	*r;
};

static int
verify_job_run(void *arg, struct ca_error *err)
{
	struct verify_job *v = arg;

	return verify_built(v->ca, v->r->der, v->r->der_len, v->r->entries,
	    v->r->number, v->r->this_update, v->r->next_update, err);
}

static int write_files_while(const char *dir, struct crl_result *r,
    bool hold_pem, int (*check)(void *, struct ca_error *), void *check_arg,
    struct ca_error *err);

/* ---- the build ---- */

int
crl_build(struct ca *ca, struct store *st, const struct crl_options *opt,
    struct crl_result *out, struct ca_error *err)
{
	struct crl_options		 o;
	struct scan			 s;
	struct store_revoked_visitor	 vis;
	struct crl_result		 r;
	struct der_buf			 b;
	const uint8_t			*subj, *ski, *alg;
	size_t				 subj_len, ski_len, alg_len;
	size_t				 ebytes, prefix, list_hdr, aki_in, aki_ext;
	size_t				 num_int, num_ext, exts, suffix, tbs_c;
	size_t				 tbs_start, tbs_len, cl_c, cl_start;
	size_t				 bit_c, total;
	uint8_t				 num_der[16], *sig = NULL;
	size_t				 sig_len = 0;
	int64_t				 min_not_after, keep;
	uint64_t			 number = 0;
	struct pem_job			 job;
	pthread_t			 tid;
	bool				 threaded;
	int				 rc;

	memset(&s, 0, sizeof(s));
	memset(&r, 0, sizeof(r));
	if (ca == NULL || st == NULL || out == NULL)
		return ca_error_set(err, CA_EINVAL, "crl_build: no CA or store");
	if (opt != NULL)
		o = *opt;
	else
		crl_options_default(&o);
	if (o.now == 0)
		o.now = time_now();
	if (o.validity <= 0)
		o.validity = 7 * DAY;
	if (o.keep_expired < 0)
		o.keep_expired = o.validity;
	if (o.warn_entries == 0)
		o.warn_entries = 250000;
	if (o.max_entries == 0)
		o.max_entries = CRL_ALB_MAX_ENTRIES;
	if (o.now < 0 || o.validity > INT64_MAX - o.now ||
	    der_time_len(o.now) == 0 || der_time_len(o.now + o.validity) == 0)
		return ca_error_set(err, CA_EINVAL, "thisUpdate and nextUpdate "
		    "must fall in the years 1970..9999 (RFC 5280 section "
		    "5.1.2.4)");
	r.this_update = o.now;
	r.next_update = o.now + o.validity;

	subj = ca_subject_der(ca, &subj_len);
	ski = ca_ski(ca, &ski_len);
	alg = ca_sig_alg_der(ca, &alg_len);
	if (subj == NULL || alg == NULL || alg_len == 0 || ski == NULL ||
	    ski_len == 0 || ski_len > SKI_MAX)
		return ca_error_set(err, CA_EINVAL, "the CA has no subject, "
		    "signature algorithm or subjectKeyIdentifier to put in a "
		    "CRL (RFC 5280 section 5.2.1)");

	/* Room before the entries for the CertificateList and TBSCertList
	   headers and the TBSCertList fields up to revokedCertificates'
	   header; after them for the extensions, the algorithm and the
	   signature. */
	s.head = 2 * DER_HDR_MAX + sizeof(version_v2) + alg_len + subj_len +
	    2 * DER_TIME_MAX + DER_HDR_MAX;
	s.tail = 2 * DER_HDR_MAX + 64 + SKI_MAX + 32 + alg_len + DER_HDR_MAX +
	    1 + SIG_MAX;

	/* Entries of certificates past notAfter by more than keep_expired
	   leave the CRL (RFC 5280 §5.1.2.6 allows it); the index is keyed by
	   notAfter, so they are one range the scan skips. */
	keep = o.keep_expired;
	min_not_after = keep >= o.now ? 0 : o.now - keep;
	vis.begin = scan_begin;
	vis.entry = scan_entry;
	vis.ctx = &s;
	vis.ca_id = ca_get_id(ca);	/* this CA's entries only */
	if ((rc = store_revoked_scan(st, min_not_after, &vis, err)) != CA_OK) {
		if (rc == CA_ETOOBIG)
			ca_error_set(err, rc, "the revoked index is over 4 GB: "
			    "far beyond any CRL a relying party accepts");
		goto out;
	}
	if (s.buf == NULL) {
		rc = ca_error_set(err, CA_EIO, "the store did not size the "
		    "revoked index");
		goto out;
	}
	if (s.n > o.max_entries) {
		rc = ca_error_set(err, CA_ETOOBIG, "CRL would list %" PRIu64
		    " entries: over crl.max_entries (%" PRIu64 "); ALB accepts "
		    "at most 500,000 revocation entries per trust store",
		    s.n, o.max_entries);
		goto out;
	}
	if (s.n > o.warn_entries) {
		r.warned = true;
		snprintf(r.warning, sizeof(r.warning), "the CRL lists %" PRIu64
		    " entries: over crl.warn_entries (%" PRIu64 "); ALB "
		    "accepts at most 500,000 per trust store, and both CRLs "
		    "count while one replaces the other", s.n, o.warn_entries);
	}

	/* RFC 5280 §5.2.3: monotonically increasing. Committed in the store
	   before the CRL exists anywhere, so no crash and no other process
	   ever makes a second CRL with this number. */
	if ((rc = store_counter_next(st, STORE_COUNTER_CRL, &number, err)) !=
	    CA_OK)
		goto out;

	/* Sizes, innermost first. */
	ebytes = s.pos - s.head;
	list_hdr = s.n > 0 ? der_hdr_len(ebytes) : 0;
	prefix = sizeof(version_v2) + alg_len + subj_len +
	    der_time_len(r.this_update) + der_time_len(r.next_update) + list_hdr;
	der_buf_init(&b, num_der, sizeof(num_der));
	der_put_uint(&b, DER_INTEGER, number);
	num_int = b.len;
	/* Extension { extnID, extnValue OCTET STRING { value } } */
	aki_in = der_tlv_len(der_tlv_len(ski_len));	/* SEQ { [0] keyid } */
	aki_ext = der_tlv_len(der_tlv_len(sizeof(oid_aki)) +
	    der_tlv_len(aki_in));
	num_ext = der_tlv_len(der_tlv_len(sizeof(oid_crl_number)) +
	    der_tlv_len(num_int));
	exts = der_tlv_len(aki_ext + num_ext);		/* Extensions SEQ */
	suffix = der_tlv_len(exts);			/* [0] EXPLICIT */
	tbs_c = prefix + ebytes + suffix;
	tbs_len = der_tlv_len(tbs_c);
	tbs_start = s.head - prefix - der_hdr_len(tbs_c);

	/* TBSCertList ::= SEQUENCE { version, signature, issuer, thisUpdate,
	   nextUpdate, revokedCertificates (absent when empty, §5.1.2.6),
	   crlExtensions [0] } */
	der_buf_init(&b, s.buf + tbs_start, s.head - tbs_start);
	der_put_hdr(&b, DER_SEQUENCE, tbs_c);
	der_put_raw(&b, version_v2, sizeof(version_v2));
	der_put_raw(&b, alg, alg_len);
	der_put_raw(&b, subj, subj_len);
	der_put_time(&b, r.this_update);
	der_put_time(&b, r.next_update);
	if (s.n > 0)
		der_put_hdr(&b, DER_SEQUENCE, ebytes);
	if (b.overflow || b.len != s.head - tbs_start) {
		rc = ca_error_set(err, CA_EIO, "CRL encoder: header size "
		    "mismatch");
		goto out;
	}
	/* crlExtensions: authorityKeyIdentifier (§5.2.1) and cRLNumber
	   (§5.2.3), both non-critical. */
	der_buf_init(&b, s.buf + s.pos, s.cap - s.pos);
	der_put_hdr(&b, DER_CTX_CONS(0), exts);
	der_put_hdr(&b, DER_SEQUENCE, aki_ext + num_ext);
	der_put_hdr(&b, DER_SEQUENCE, der_tlv_len(sizeof(oid_aki)) +
	    der_tlv_len(aki_in));
	der_put_tlv(&b, DER_OID, oid_aki, sizeof(oid_aki));
	der_put_hdr(&b, DER_OCTET_STRING, aki_in);
	der_put_hdr(&b, DER_SEQUENCE, der_tlv_len(ski_len));
	der_put_tlv(&b, DER_CTX(0), ski, ski_len);
	der_put_hdr(&b, DER_SEQUENCE, der_tlv_len(sizeof(oid_crl_number)) +
	    der_tlv_len(num_int));
	der_put_tlv(&b, DER_OID, oid_crl_number, sizeof(oid_crl_number));
	der_put_tlv(&b, DER_OCTET_STRING, num_der, num_int);
	if (b.overflow || b.len != suffix) {
		rc = ca_error_set(err, CA_EIO, "CRL encoder: extension size "
		    "mismatch");
		goto out;
	}

	if ((rc = ca_sign_tbs(ca, s.buf + tbs_start, tbs_len, &sig, &sig_len,
	    err)) != CA_OK)
		goto out;
	if (sig_len > SIG_MAX) {
		rc = ca_error_set(err, CA_EINVAL, "a %zu-byte signature is "
		    "larger than any key the load balancer accepts", sig_len);
		goto out;
	}

	/* CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm,
	   signatureValue BIT STRING } (RFC 5280 §5.1.1). */
	bit_c = sig_len + 1;
	cl_c = tbs_len + alg_len + der_tlv_len(bit_c);
	cl_start = tbs_start - der_hdr_len(cl_c);
	der_buf_init(&b, s.buf + s.pos + suffix, s.cap - s.pos - suffix);
	der_put_raw(&b, alg, alg_len);
	der_put_hdr(&b, DER_BIT_STRING, bit_c);
	der_put_raw(&b, "", 1);			/* no unused bits */
	der_put_raw(&b, sig, sig_len);
	if (b.overflow) {
		rc = ca_error_set(err, CA_EIO, "CRL encoder: no room for the "
		    "signature");
		goto out;
	}
	der_buf_init(&b, s.buf + cl_start, tbs_start - cl_start);
	der_put_hdr(&b, DER_SEQUENCE, cl_c);
	total = der_tlv_len(cl_c);
	memmove(s.buf, s.buf + cl_start, total);
	r.der = s.buf;
	r.der_len = total;
	s.buf = NULL;
	/* Give back what expired entries left unused. */
	if (s.cap - total > (1u << 20)) {
		uint8_t *shrunk = realloc(r.der, total);
		if (shrunk != NULL)
			r.der = shrunk;
	}
	r.number = number;
	r.entries = s.n;

	r.pem_len = pem_encoded_len(CRL_PEM_LABEL, r.der_len);
	if (o.write_dir != NULL) {
		struct verify_job vj = { ca, &r };

		rc = write_files_while(o.write_dir, &r, !o.pem_unheld,
		    verify_job_run, &vj, err);
		/* The number is spent either way: say which one failed. */
		if (rc != CA_OK && err != NULL) {
			char why[sizeof(err->msg)];

			snprintf(why, sizeof(why), "%s", err->msg);
			ca_error_set(err, rc, "CRL %" PRIu64 " was built but "
			    "not written: %s", number, why);
		}
		if (rc != CA_OK)
			goto out;
	} else {
		memset(&job, 0, sizeof(job));
		job.der = r.der;
		job.len = r.der_len;
		threaded = !o.pem_unheld && r.der_len > PEM_THREAD_MIN &&
		    pthread_create(&tid, NULL, pem_job_run, &job) == 0;
		rc = verify_built(ca, r.der, r.der_len, r.entries, number,
		    r.this_update, r.next_update, err);
		if (threaded)
			pthread_join(tid, NULL);
		else if (rc == CA_OK && !o.pem_unheld)
			pem_job_run(&job);
		r.pem = job.pem;
		r.pem_len = o.pem_unheld ? pem_encoded_len(CRL_PEM_LABEL,
		    r.der_len) : job.pem_len;
		if (rc != CA_OK)
			goto out;
		if ((rc = job.rc) != CA_OK) {
			ca_error_set(err, rc, "out of memory");
			goto out;
		}
	}
	if (r.pem_len > CRL_ALB_MAX_BYTES && !r.warned) {
		r.warned = true;
		snprintf(r.warning, sizeof(r.warning), "the PEM CRL is %zu "
		    "bytes: ALB accepts CRL files of at most 50 MB", r.pem_len);
	}
	*out = r;
	memset(&r, 0, sizeof(r));
	rc = CA_OK;
out:
	free(s.buf);
	free(sig);
	crl_result_clear(&r);
	return rc;
}

/* ---- the files ---- */

struct pem_sink {
	struct file_atomic	*f;
	gnutls_hash_hd_t	 h;
	struct ca_error		*err;
};

static int
pem_sink_put(void *ctx, const char *text, size_t n)
{
	struct pem_sink *k = ctx;

	if (k->h != NULL && gnutls_hash(k->h, text, n) < 0)
		return ca_error_set(k->err, CA_ECRYPTO, "hashing the PEM CRL");
	return file_atomic_write(k->f, text, n, k->err);
}

/*
 * The PEM of r into f: the held text (r->pem, else *held when it is
 * given: encoded here and kept), or encoded from the DER as it is
 * written, a megabyte at a time. sha256 (may be NULL) gets the text's
 * hash. f is left open, for the caller to sync and commit.
 */
static int
pem_into(struct file_atomic *f, const struct crl_result *r, char **held,
    size_t *held_len, uint8_t *sha256, struct ca_error *err)
{
	struct pem_sink		k;
	int			rc;

	memset(&k, 0, sizeof(k));
	k.f = f;
	k.err = err;
	if (sha256 != NULL && gnutls_hash_init(&k.h, GNUTLS_DIG_SHA256) < 0) {
		k.h = NULL;
		return ca_error_set(err, CA_ECRYPTO, "hashing the PEM CRL");
	}
	if (r->pem == NULL && held != NULL &&
	    crl_pem_encode(r->der, r->der_len, held, held_len) != CA_OK) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	if (r->pem != NULL)
		rc = pem_sink_put(&k, r->pem, r->pem_len);
	else if (held != NULL)
		rc = pem_sink_put(&k, *held, *held_len);
	else if ((rc = pem_encode_stream(CRL_PEM_LABEL, r->der, r->der_len,
	    pem_sink_put, &k)) == CA_ENOMEM)
		ca_error_set(err, rc, "out of memory");
out:
	if (k.h != NULL)
		gnutls_hash_deinit(k.h, rc == CA_OK ? sha256 : NULL);
	return rc;
}

int
crl_write_pem(const char *path, const struct crl_result *r,
    struct ca_error *err)
{
	struct file_atomic	f;
	int			rc;

	if (path == NULL || r == NULL || r->der == NULL)
		return ca_error_set(err, CA_EINVAL, "no CRL to write");
	if ((rc = file_atomic_open(&f, path, 0644, 0, err)) != CA_OK)
		return rc;
	if ((rc = pem_into(&f, r, NULL, NULL, NULL, err)) == CA_OK)
		rc = file_atomic_commit(&f, NULL, err);
	file_atomic_abort(&f);
	return rc;
}

/*
 * One of a CRL's two files, written and fsync'd on a thread of its own but
 * not yet named: crl.der, or crl.pem (with hold, its text is kept in pem).
 */
struct file_job {
	const struct crl_result	*r;
	char			 path[4096];
	bool			 is_pem, hold, open;
	struct file_atomic	 f;
	char			*pem;
	size_t			 pem_len;
	uint8_t			 sha256[32];
	int			 rc;
	struct ca_error		 err;
};

static void *
file_job_run(void *arg)
{
	struct file_job	*j = arg;
	int		 rc;

	if ((rc = file_atomic_open(&j->f, j->path, 0644, 0, &j->err)) !=
	    CA_OK)
		goto out;
	j->open = true;
	if (j->is_pem)
		rc = pem_into(&j->f, j->r, j->hold ? &j->pem : NULL,
		    &j->pem_len, j->sha256, &j->err);
	else if ((rc = file_atomic_write(&j->f, j->r->der, j->r->der_len,
	    &j->err)) == CA_OK && gnutls_hash_fast(GNUTLS_DIG_SHA256,
	    j->r->der, j->r->der_len, j->sha256) < 0)
		rc = ca_error_set(&j->err, CA_ECRYPTO, "hashing the CRL");
	if (rc == CA_OK)
		rc = file_atomic_sync(&j->f, &j->err);
out:
	j->rc = rc;
	return NULL;
}

/*
 * Write dir's crl.der and crl.pem, each on a thread of its own, while
 * check (the CRL's verification; may be NULL) runs on this one. The files
 * take their names, DER first, only when check and both writes succeeded;
 * otherwise they are removed and the old files stay. At 1M entries this
 * puts the PEM's encoding (~50 ms) and hash, 108 MB of writes and two
 * fsyncs of 30-40 ms each beside the verification (~85 ms), instead of
 * after it. With hold_pem and no r->pem, r->pem gets the PEM's text.
 */
static int
write_files_while(const char *dir, struct crl_result *r, bool hold_pem,
    int (*check)(void *, struct ca_error *), void *check_arg,
    struct ca_error *err)
{
	struct file_job	 job[2];
	pthread_t	 tid[2];
	bool		 threaded[2] = { false, false };
	struct stat	 st;
	int		 rc = CA_OK;

	r->written = false;
	memset(job, 0, sizeof(job));
	for (int i = 0; i < 2; i++) {
		job[i].r = r;
		job[i].is_pem = i == 1;
		job[i].hold = hold_pem && r->pem == NULL;
		job[i].f.fd = -1;
		if (path_join(job[i].path, sizeof(job[i].path), dir,
		    i == 0 ? "crl.der" : "crl.pem") != CA_OK)
			return ca_error_set(err, CA_EINVAL, "path too long: %s",
			    dir);
	}
	if ((rc = dir_make(dir, 0755, err)) != CA_OK)
		return rc;
	for (int i = 0; i < 2; i++)
		threaded[i] = r->der_len > PEM_THREAD_MIN &&
		    pthread_create(&tid[i], NULL, file_job_run, &job[i]) == 0;
	if (check != NULL)
		rc = check(check_arg, err);
	for (int i = 0; i < 2; i++) {
		if (threaded[i])
			pthread_join(tid[i], NULL);
		else if (rc == CA_OK)
			file_job_run(&job[i]);
	}
	if (rc != CA_OK)
		goto out;
	for (int i = 0; i < 2; i++)
		if (job[i].rc != CA_OK) {
			rc = job[i].rc;
			*err = job[i].err;
			goto out;
		}
	/* DER for RFC 5280 HTTP distribution points, PEM for ALB: the same
	   bytes, each file replaced atomically. */
	if ((rc = file_atomic_commit(&job[0].f, &st, err)) != CA_OK)
		goto out;
	crl_file_id_of(&st, &r->der_id);
	if ((rc = file_atomic_commit(&job[1].f, &st, err)) != CA_OK)
		goto out;
	crl_file_id_of(&st, &r->pem_id);
	memcpy(r->der_sha256, job[0].sha256, sizeof(r->der_sha256));
	memcpy(r->pem_sha256, job[1].sha256, sizeof(r->pem_sha256));
	if (job[1].hold) {
		r->pem = job[1].pem;
		r->pem_len = job[1].pem_len;
		job[1].pem = NULL;
	}
	r->written = true;
out:
	for (int i = 0; i < 2; i++) {
		if (job[i].open)
			file_atomic_abort(&job[i].f);
		free(job[i].pem);
	}
	return rc;
}

int
crl_write_files(const char *dir, struct crl_result *r, struct ca_error *err)
{
	if (dir == NULL || r == NULL || r->der == NULL)
		return ca_error_set(err, CA_EINVAL, "no CRL to write");
	return write_files_while(dir, r, false, NULL, NULL, err);
}
