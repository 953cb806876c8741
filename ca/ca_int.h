/*
 * ca/ internals shared by its .c files. Not a public header: nothing
 * outside ca/ includes it.
 */
#ifndef MTLSCA_CA_CA_INT_H
#define MTLSCA_CA_CA_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "ca/ca.h"

/*
 * GnuTLS objects may be shared between threads only if one thread at a time
 * uses each (GnuTLS manual, "Thread safety"). So the CA keeps a small pool
 * of signers, each with its own private key object and its own copy of the
 * CA certificate (the issuer gnutls_x509_crt_privkey_sign reads), each
 * behind a mutex. A file key is imported once per slot; a pkcs11: key gets
 * one slot only (one token session, serialised).
 */
#define CA_SIGNERS_MAX	8

struct ca_signer {
	pthread_mutex_t		 mu;
	gnutls_privkey_t	 key;
	gnutls_x509_crt_t	 crt;
};

struct ca {
	struct ca_signer	 signers[CA_SIGNERS_MAX];
	size_t			 n_signers;
	atomic_uint		 next;		/* round-robin start slot */

	gnutls_pk_algorithm_t	 pk;		/* RSA or ECDSA */
	gnutls_ecc_curve_t	 curve;		/* ECDSA only */
	gnutls_digest_algorithm_t dig;		/* SHA-256/384/512 */

	uint8_t			*der;
	size_t			 der_len;
	char			*pem;
	uint8_t			*subject_der;
	size_t			 subject_len;
	uint8_t			 ski[64];
	size_t			 ski_len;
	int64_t			 not_after;
	uint8_t			 alg_der[16];
	size_t			 alg_der_len;
	uint32_t		 id;		/* the store's CA id (ca_set_id) */
};

/* A validity of days from now cut to ca's notAfter: iss->truncated and
   its reason (expiry.c). */
void ca_truncation_note(const struct ca *ca, unsigned days, int64_t now,
    struct ca_issued *iss);

/* Translate a GnuTLS error into a ca_err with "what: gnutls message". */
int ca_gnutls_err(struct ca_error *err, int code, int gnutls_rc,
    const char *what);

/* Take a signer slot (blocks until one is free); release it after use. */
struct ca_signer *ca_signer_acquire(struct ca *ca);
void ca_signer_release(struct ca_signer *s);

/* The GnuTLS algorithm, size and signature hash of a key type (ca_init,
   ca_key_generate). CA_EINVAL for a value outside the enum. */
int ca_key_type_params(enum ca_key_type type, gnutls_pk_algorithm_t *pk,
    unsigned *bits, gnutls_digest_algorithm_t *dig);

/* Import an unencrypted PEM private key (PKCS#8, PKCS#1 or SEC 1);
   CA_EMALF with the reason. *out: gnutls_x509_privkey_deinit(). */
int ca_key_import_pem(const char *key_pem, size_t key_len,
    gnutls_x509_privkey_t *out, struct ca_error *err);

/* CA_OK when crt carries key's public key; CA_EINVAL "does not match". */
int ca_key_cert_check(gnutls_x509_privkey_t key, gnutls_x509_crt_t crt,
    struct ca_error *err);

/* 16 random bytes, top two bits 01 (DESIGN.md "Serial numbers"); in
   serial.c alone, so that a test may link its own. */
int ca_serial_new(uint8_t serial[16], struct ca_error *err);

/* ---- record.c: the one recorder every issuance goes through ---- */

/* Draws of a new serial after a collision; with 126 random bits a second
 * one means a broken RNG or store, not bad luck. */
#define CA_SIGN_ATTEMPTS	4

/*
 * What one issuance writes, in one transaction: the certificate, the use
 * of the one-time token that paid for it (if any) and its audit entry.
 */
struct ca_record_entry {
	struct cert_record	rec;		/* borrows the ca_issued */
	bool			use_token;
	uint8_t			token_hash[CA_HASH_LEN];
	/* a renewal: the serial renewed (renews_len 0: none) */
	uint8_t			renews[SERIAL_MAX + 1];
	size_t			renews_len;
	char			who[CA_WHO_MAX];
	char			action[16];	/* "issue", "renew" */
	char			detail[512];
};

/* Fill en for iss (borrowed until en is used) issued at now: the audit
   detail is "serial=.. profile=.. subject=.." and then extra (may be
   NULL). No token use. */
void ca_record_entry_fill(struct ca_record_entry *en,
    const struct ca_issued *iss, int64_t now, const char *who,
    const char *action, const char *extra);

/*
 * Write en inside txn at now: token use (CA_EAUTH and a
 * STORE_REASON_TOKEN_* when it is spent), certificate (CA_EEXIST when the
 * serial is taken), the renewal mark (CA_EEXIST with CA_REASON_RENEWED
 * when the certificate renewed was renewed already), audit entry. On
 * failure txn must be aborted.
 */
int ca_record_txn(struct store_txn *txn, const struct ca_record_entry *en,
    int64_t now, struct ca_error *err);

/*
 * Sign and record in a transaction of its own, drawing a new serial on a
 * collision (CA_SIGN_ATTEMPTS in all): sign(arg, now, out, err) makes one
 * certificate with a fresh serial (ca_issue, or the server's own). On
 * success *out owns the certificate the store has committed.
 */
typedef int (*ca_sign_fn)(void *arg, int64_t now, struct ca_issued *out,
    struct ca_error *err);
int ca_sign_record(struct store *st, ca_sign_fn sign, void *arg,
    const char *who, const char *action, struct ca_issued *out,
    struct ca_error *err);

/* The subject AVAs and SANs a parsed CSR carries (csr.c fills them). */
#define CA_CSR_AVA_MAX	32

struct ca_csr_ava {
	char	 oid[64];
	char	*value;		/* UTF-8, NUL-terminated, checked */
};

struct ca_csr_san {
	unsigned	 type;	/* gnutls_x509_subject_alt_name_t */
	uint8_t		*data;
	size_t		 len;	/* data[len] is a NUL for text types */
};

struct ca_csr {
	gnutls_pubkey_t		 pub;
	uint8_t			*spki;		/* its SubjectPublicKeyInfo */
	size_t			 spki_len;
	gnutls_pk_algorithm_t	 pk;
	unsigned		 bits;
	char			*subject;	/* RFC 4514, by GnuTLS */
	uint8_t			*subject_der;	/* the Name it was read from */
	size_t			 subject_der_len;
	char			*cn;
	struct ca_csr_ava	 avas[CA_CSR_AVA_MAX];
	size_t			 n_avas;
	struct ca_csr_san	 sans[CA_SAN_MAX];
	size_t			 n_sans;
};

/*
 * Find the subject Name (its full DER TLV) inside a DER CertificationRequest
 * (RFC 2986 §4) or Certificate (RFC 5280 §4.1): both start
 * SEQUENCE { SEQUENCE { [version], ..., subject/issuer ... } }. Used only on
 * DER that a parser already accepted (test_ca_csr.c's GnuTLS reference).
 */
int ca_der_crq_subject(const uint8_t *der, size_t len, const uint8_t **name,
    size_t *name_len);

/* ---- certder.c: the certificate written with common/der.h ---- */

/* Whether profile p copies subject attributes of type oid (dotted). */
bool ca_profile_allows(const struct ca_profile *p, const char *oid);

/*
 * The TBSCertificate of a certificate for csr under p (checked by ca_issue
 * first) with serial and validity: what GnuTLS's crt builder writes for the
 * same inputs. On success *out owns *out_len malloc'd bytes; the subject
 * Name lies at [*name_off, *name_off + *name_len).
 */
int ca_tbs_write(struct ca *ca, const struct ca_csr *csr,
    const struct ca_profile *p, const uint8_t *serial, size_t serial_len,
    int64_t not_before, int64_t not_after, uint8_t **out, size_t *out_len,
    size_t *name_off, size_t *name_len, struct ca_error *err);
/* Sign tbs with the CA key and wrap it into a Certificate; *der owns the
   malloc'd result. */
int ca_cert_assemble(struct ca *ca, const uint8_t *tbs, size_t tbs_len,
    uint8_t **der, size_t *der_len, struct ca_error *err);
/*
 * Sign a TBSCertificate (RFC 5280 §4.1) of this CA: v3, its signature
 * algorithm, its subject as issuer, or nothing (the key is no "sign any
 * bytes" oracle, STYLE.md). *sig owns the malloc'd signature value.
 */
int ca_sign_cert_tbs(struct ca *ca, const uint8_t *tbs, size_t tbs_len,
    uint8_t **sig, size_t *sig_len, struct ca_error *err);
/*
 * ca_issue with the serial and validity given (tests compare it with
 * GnuTLS's builder): no policy check; ca_issue makes them first.
 */
int ca_issue_at(struct ca *ca, const struct ca_csr *csr,
    const struct ca_profile *profile, const uint8_t serial[16], int64_t now,
    int64_t not_after, struct ca_issued *out, struct ca_error *err);

/* RFC 5280 §4.2.1.2 method (1) key identifier (SHA-1, 20 bytes). */
int ca_ski_compute(gnutls_pubkey_t pub, uint8_t out[20],
    struct ca_error *err);

/* How a refusal names ALB's key rule. */
#define CA_ALB_KEYS	"the load balancer accepts RSA 2048–8192 or ECDSA " \
			"P-256/P-384/P-521"

/*
 * ALB's key policy (keypolicy.c): RSA 2048-8192 bits with an odd public
 * exponent of at most 2^32 + 1, or ECDSA P-256/P-384/P-521. Reads the key
 * only; no signature is involved. what names the key's owner in refusals
 * ("CSR"). *pk gets GNUTLS_PK_RSA or GNUTLS_PK_ECDSA, *bits (may be NULL)
 * the size. CA_EPOLICY with the rule's sentence otherwise.
 */
int ca_pubkey_policy(gnutls_pubkey_t pub, const char *what,
    gnutls_pk_algorithm_t *pk, unsigned *bits, struct ca_error *err);

/*
 * Is a 16-byte IPv6 address an IPv4 one in disguise: IPv4-mapped
 * (::ffff:a.b.c.d) or IPv4-compatible (::a.b.c.d, other than :: and ::1),
 * RFC 4291 section 2.5.5? Such names are refused in requests and compared
 * as IPv4 wherever names are guarded.
 */
bool ca_ip6_embeds_ip4(const uint8_t ip[16]);
/* An address (4 or 16 bytes) in canonical form: an IPv4 address embedded
   in IPv6 becomes its 4 bytes. Returns the length written to out. */
size_t ca_ip_canon(const uint8_t *ip, size_t len, uint8_t out[16]);

/*
 * Good for TLS client authentication (server.c): an end entity whose
 * extendedKeyUsage, when present, lists clientAuth. CA_EAUTH with the
 * reason otherwise.
 */
int ca_crt_check_client(gnutls_x509_crt_t crt, struct ca_error *err);

/*
 * A Name (the content octets of its SEQUENCE) as the RFC 4514 text
 * gnutls_x509_rdn_get2(..., 0) writes, without GnuTLS's libtasn1 walk
 * (~10 us a certificate, issue 15) for the usual shape: at most
 * CA_NAME_TEXT_RDNS RDNs of one attribute each, of the types GnuTLS
 * writes as text (CN, O, OU, C, DC, EMAIL...), printable ASCII values.
 * Returns the length written to out (NUL-terminated); 0 for an empty name,
 * any other shape or an out too small: then ask GnuTLS.
 */
#define CA_NAME_TEXT_RDNS	32
size_t ca_name_text(const uint8_t *name, size_t len, char *out, size_t size);

/*
 * gnutls_pubkey_import of a DER SubjectPublicKeyInfo, the usual EC keys
 * (P-256, P-384, P-521, an uncompressed point) read by the strict DER
 * reader and handed over raw (gnutls_pubkey_import_ecc_raw): GnuTLS's own
 * reading walks libtasn1's tree, 1.8 % of the service's CPU a certificate
 * (issue 15). Any other key goes to gnutls_pubkey_import. GnuTLS's return
 * value.
 */
int ca_spki_import(gnutls_pubkey_t pub, const uint8_t *spki, size_t len);

/* RDN short name ("CN", "emailAddress") <-> OID; NULL when unknown. */
const char *ca_rdn_oid(const char *short_name);
const char *ca_rdn_name(const char *oid);

#endif
