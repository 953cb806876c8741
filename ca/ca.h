/*
 * ca/ — the CA's identity and issuance: load the key (file or pkcs11: URL),
 * create or import the CA, check a CSR against ALB's limits and a profile,
 * build and sign a certificate, record it in the store before it is returned;
 * enrollment (grants, policy, the committer) and enrollment tokens.
 * For the client side (client/, cmd/): new keys, key types and PKCS#12.
 *
 * Every function returns CA_OK or a negative enum ca_err and fills *err
 * (may be NULL) with a sentence for the caller; refusals name the rule.
 */
#ifndef MTLSCA_CA_CA_H
#define MTLSCA_CA_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "store/store.h"

struct ca;
struct ca_csr;

/* Caps on untrusted input. */
#define CA_CSR_MAX		(16 * 1024)	/* PEM or DER bytes */
#define CA_SAN_MAX		32
#define CA_NAME_MAX		256		/* one RDN value or SAN */
#define CA_CERT_MAX		(16 * 1024)	/* one DER certificate (ALB) */

enum ca_key_type {
	CA_KEY_RSA2048, CA_KEY_RSA3072, CA_KEY_RSA4096,
	CA_KEY_ECDSA_P256, CA_KEY_ECDSA_P384, CA_KEY_ECDSA_P521,
};
/* "rsa2048", ..., "ecdsa-p521"; CA_EINVAL otherwise. */
int ca_key_type_parse(const char *name, enum ca_key_type *out);
/* The name ca_key_type_parse takes ("ecdsa-p256"); "?" for no type. */
const char *ca_key_type_name(enum ca_key_type type);

/* Where the CA lives. key is a file path or a pkcs11: URL. */
struct ca_paths {
	const char	*cert;		/* PEM certificate */
	const char	*key;		/* PEM private key (mode 0600) or pkcs11: */
};

struct ca_init_options {
	const char		*subject;	/* RFC 4514 DN; NULL = "CN=mtlsca demo CA" */
	enum ca_key_type	 key_type;	/* default CA_KEY_RSA2048 */
	unsigned		 days;		/* default 1024 */
};

/*
 * Create a root CA: key (mode 0600) and self-signed certificate with the
 * runbook's v3_ca profile (basicConstraints critical CA:TRUE, SKI, keyUsage
 * digitalSignature keyCertSign cRLSign). Never overwrites: CA_EEXIST if
 * either file exists.
 */
int ca_init(const struct ca_paths *paths, const struct ca_init_options *opt,
    struct ca_error *err);

/*
 * Adopt an existing CA: check the certificate is a CA (basicConstraints
 * CA:TRUE), that the key matches it, and copy both to paths (key 0600).
 */
int ca_import(const struct ca_paths *paths, const char *cert_file,
    const char *key_file, struct ca_error *err);

/*
 * Load the CA. Refuses a key file whose mode gives any access to group or
 * others (CA_EPOLICY), a key that does not match the certificate, a
 * certificate that is not a CA. *out: free with ca_free().
 */
int ca_open(const struct ca_paths *paths, struct ca **out,
    struct ca_error *err);
void ca_free(struct ca *ca);

/*
 * Read a private-key file (what names it in errors: "CA key", "HTTPS key"),
 * refusing with CA_EPOLICY a mode that has any of the bits in forbidden
 * (077 for the CA key; 027 lets a group such as ssl-cert read a TLS key).
 * On success *out owns a NUL-terminated buffer of *len bytes: wipe it with
 * gnutls_memset before free().
 */
int ca_key_file_read(const char *path, const char *what, unsigned forbidden,
    uint8_t **out, size_t *len, struct ca_error *err);

/* Borrowed views of the CA certificate, valid until ca_free(). */
const uint8_t *ca_cert_der(const struct ca *ca, size_t *len);
const char *ca_cert_pem(const struct ca *ca);		/* NUL-terminated */
const uint8_t *ca_subject_der(const struct ca *ca, size_t *len);
const uint8_t *ca_ski(const struct ca *ca, size_t *len);
int64_t ca_not_after(const struct ca *ca);

/*
 * The CA's id in the store (CA rotation, ca/cas.c): what its certificates'
 * records and revocations carry, so that each CA's CRL lists its own. A CA
 * opened by ca_open is STORE_CA_FIRST until told otherwise.
 */
void ca_set_id(struct ca *ca, uint32_t id);
uint32_t ca_get_id(const struct ca *ca);
/* The key type of an opened CA (what `ca rotate` makes by default). */
enum ca_key_type ca_key_type_of_ca(const struct ca *ca);

/* ---- the CAs of a data directory (ca/cas.c) ----
 * <data_dir>/cas/<id>/{ca.pem,ca.key,state} for each CA that took part in
 * a rotation (see cas.c); the configured ca.cert/ca.key hold the active
 * one. A retiring CA signs nothing new; its CRL is still built and
 * published until last_expiry (its last certificate's notAfter); then it
 * is retired.
 */
enum ca_state { CA_STATE_ACTIVE, CA_STATE_RETIRING, CA_STATE_RETIRED };
const char *ca_state_name(enum ca_state s);	/* "active", ... */

struct ca_entry {
	uint32_t	 id;
	enum ca_state	 state;
	char		 cert[4096];		/* cas/<id>/ca.pem */
	char		 key[4096];		/* cas/<id>/ca.key */
	uint8_t		 fingerprint[32];	/* SHA-256 of the DER */
	char		 fingerprint_hex[65];
	char		 subject[512];		/* RFC 4514 */
	int64_t		 not_after;		/* the CA certificate's */
	int64_t		 last_expiry;		/* retiring: its last
						   certificate's notAfter */
	int64_t		 since;			/* state changed at */
};
struct ca_registry;

/*
 * Read cas_dir (absent: a data directory that never rotated, with one CA,
 * id 1) and find the configured CA (active_der) in it. CA_EPOLICY when
 * cas_dir has CAs and the configured one is none of them.
 */
int ca_registry_load(const char *cas_dir, const uint8_t *active_der,
    size_t active_len, struct ca_registry **out, struct ca_error *err);
void ca_registry_free(struct ca_registry *r);
/* The fingerprint, notAfter and subject of the CA certificate (PEM) at
   path into e (its other fields untouched): without the key. */
int ca_cert_file_facts(const char *path, struct ca_entry *e,
    struct ca_error *err);
/* The configured CA's id (1 without a registry). */
uint32_t ca_registry_active_id(const struct ca_registry *r);
/* The CAs of the registry in id order (borrowed). */
size_t ca_registry_count(const struct ca_registry *r);
const struct ca_entry *ca_registry_at(const struct ca_registry *r, size_t i);
const struct ca_entry *ca_registry_find(const struct ca_registry *r,
    uint32_t id);
/* A CA marked active that is not the configured one: a rotation that
   stopped before its files were installed (cmd/ finishes it); or NULL. */
const struct ca_entry *ca_registry_pending(const struct ca_registry *r);
/* The id the next rotation gives its CA. */
uint32_t ca_registry_next_id(const struct ca_registry *r);
/*
 * A cross certificate: subject's CA certificate (its name, key and
 * extensions) issued by issuer, valid until the earlier of the two
 * notAfters (*pem owns the PEM). serve sends it after its HTTPS
 * certificate while a CA retires, so that a client that trusts only the
 * old CA (its ca.pem from before the rotation) still verifies the service
 * signed by the new one, and renews.
 */
int ca_cross_sign(struct ca *issuer, const struct ca *subject, char **pem,
    struct ca_error *err);

/* Write cas_dir/<id>/state atomically. */
int ca_registry_state_write(const char *cas_dir, uint32_t id,
    enum ca_state s, int64_t last_expiry, int64_t since,
    struct ca_error *err);

/*
 * The AlgorithmIdentifier DER the CA signs with (sha256WithRSAEncryption;
 * ecdsa-with-SHA256/384/512 matched to the curve), and a signature over tbs
 * with that algorithm. *sig owns a malloc'd buffer. Used by crl/ to sign the
 * TBSCertList it encodes.
 */
const uint8_t *ca_sig_alg_der(const struct ca *ca, size_t *len);
int ca_sign_tbs(struct ca *ca, const uint8_t *tbs, size_t tbs_len,
    uint8_t **sig, size_t *sig_len, struct ca_error *err);

/* ---- the CA's own expiry (ca/expiry.c) ---- */

enum ca_expiry_level {
	CA_EXPIRY_OK = 0,
	CA_EXPIRY_SHORTENS,	/* sooner than the longest profile validity:
				   new certificates are cut to it */
	CA_EXPIRY_90,		/* within 90 days */
	CA_EXPIRY_30,
	CA_EXPIRY_7,
	CA_EXPIRY_EXPIRED,
};
struct ca_expiry {
	enum ca_expiry_level	 level;
	int64_t			 not_after;
	int64_t			 left;		/* seconds; <= 0: expired */
	char			 msg[320];	/* what to tell the operator */
};
/* How near ca's notAfter is at now, given the longest validity a profile
   grants (days). */
void ca_expiry_check(const struct ca *ca, unsigned longest_days, int64_t now,
    struct ca_expiry *out);
/* The same for a notAfter (a CA certificate read, not opened). */
void ca_expiry_assess(int64_t not_after, unsigned longest_days, int64_t now,
    struct ca_expiry *out);
/* "ok", "shortens", "90d", "30d", "7d", "expired". */
const char *ca_expiry_level_name(enum ca_expiry_level level);
/* The longest validity (days: days or max_days) any of the profiles grants:
   the longest_days of the two above. */
struct ca_profile;
unsigned ca_profiles_longest_days(const struct ca_profile *profiles,
    size_t n);

/* ---- profiles (filled from the config by cmd/) ---- */

#define CA_PROFILE_RDN_MAX	12
#define CA_PROFILE_DENY_MAX	32

struct ca_profile {
	char		name[STORE_PROFILE_MAX];
	unsigned	days;		/* default validity, 365 */
	unsigned	max_days;	/* cap on a requested validity */
	bool		server_auth;	/* EKU serverAuth (runbook: yes) */
	bool		client_auth;	/* EKU clientAuth (runbook: yes) */
	bool		allow_dns, allow_email, allow_uri, allow_ip;
	unsigned	max_sans;	/* 0 = no subjectAltName allowed */
	/* Subject policy: RDN short names ("CN", "O", "OU", "C", "ST", "L",
	   "emailAddress"...). Only allowed ones are copied; required ones must
	   be present. */
	char		subject_allowed[CA_PROFILE_RDN_MAX][16];
	size_t		n_allowed;
	char		subject_required[CA_PROFILE_RDN_MAX][16];
	size_t		n_required;
	/* Names no certificate of this profile may carry, as CN, DNS SAN
	   (case-insensitive) or IP SAN (compared as addresses). `serve` puts
	   its own server names here, so that an enrollment token cannot buy a
	   serverAuth certificate that impersonates the service itself. */
	char		deny_names[CA_PROFILE_DENY_MAX][CA_NAME_MAX];
	size_t		n_deny;
};

/*
 * Add name to p's deny list (no duplicate). CA_ETOOBIG when the list is
 * full, CA_EINVAL when name is empty or longer than CA_NAME_MAX - 1.
 */
int ca_profile_deny(struct ca_profile *p, const char *name);

/* The default "client" profile: the runbook's client_ext.cnf. */
void ca_profile_default(struct ca_profile *p);

/* ---- CSRs ---- */

/*
 * Parse a PKCS#10 request (PEM or DER, at most CA_CSR_MAX bytes): strict DER
 * read by common/der.c (minimal lengths, SET OF order, version 0, nothing
 * after the request), ALB's key limits (RSA 2048-8192 or ECDSA
 * P-256/384/521) and signature limits (SHA-256/384/512 with RSA, PKCS#1
 * v1.5 or PSS, or ECDSA), then the self-signature verified by GnuTLS before
 * any other field is read.
 * CA_EMALF or CA_EPOLICY with the rule's sentence. Free with ca_csr_free().
 */
int ca_csr_parse(const uint8_t *buf, size_t len, struct ca_csr **out,
    struct ca_error *err);
void ca_csr_free(struct ca_csr *csr);
/* The CSR's subject as RFC 4514 text and its first CN ("" if none);
   borrowed until ca_csr_free(). */
const char *ca_csr_subject(const struct ca_csr *csr);
const char *ca_csr_cn(const struct ca_csr *csr);

/* ---- issuance ---- */

struct ca_issued {
	uint8_t		 serial[SERIAL_MAX + 1];
	size_t		 serial_len;
	uint8_t		*der;		/* owned */
	size_t		 der_len;
	char		*pem;		/* owned, NUL-terminated */
	char		*subject;	/* owned, RFC 4514 */
	int64_t		 not_before;
	int64_t		 not_after;
	char		 profile[STORE_PROFILE_MAX];
	uint32_t	 ca_id;		/* the issuing CA's (ca_set_id) */
	/* The validity asked for would have outlived the CA (RFC 5280
	   section 6.1.3: nothing is valid past its issuer): notAfter is the
	   CA's, and the reason says so, in the answer and the audit. */
	bool		 truncated;
	char		 truncated_reason[200];
};
void ca_issued_clear(struct ca_issued *iss);

/*
 * Build and sign a certificate for csr under profile (no store access):
 * fresh 16-byte serial (top bits 01), subject filtered by the profile,
 * allowed SANs only, CA:FALSE, keyUsage digitalSignature (+keyEncipherment
 * for RSA keys only, RFC 5480), EKU per profile, SKI, AKI keyid.
 * days = 0 takes the profile's default; notAfter is capped at the CA's.
 * now is the notBefore (tests pin it). CA_EPOLICY with a sentence when the
 * request breaks the profile. Thread-safe for one struct ca.
 */
int ca_issue(struct ca *ca, const struct ca_csr *csr,
    const struct ca_profile *profile, unsigned days, int64_t now,
    struct ca_issued *out, struct ca_error *err);

/* The store record for an issued certificate (borrows iss's buffers). */
void ca_issued_record(const struct ca_issued *iss, int64_t issued_at,
    struct cert_record *rec);

/*
 * ca_issue, then record it (the certificate and its audit entry, action
 * "issue" by who, in one store write transaction: ca/record.c, the one
 * recorder every issuance goes through); on a serial collision draw a new
 * serial and sign again. The certificate exists for the caller only once
 * the store has committed it. For `mtlsca sign`; the service enrolls with
 * ca_enroll().
 */
int ca_sign(struct ca *ca, struct store *st, const struct ca_csr *csr,
    const struct ca_profile *profile, unsigned days, const char *who,
    struct ca_issued *out, struct ca_error *err);

/* ---- tokens (ca/token.c) ---- */

#define CA_HASH_LEN		32	/* SHA-256: token hashes, fingerprints */
#define CA_TOKEN_TEXT_MAX	64	/* a generated token, with its NUL */

/* SHA-256 of the token's bytes. */
void ca_token_hash(const char *token, uint8_t out[CA_HASH_LEN]);

/* 32 random bytes as base64url without padding (43 characters). */
int ca_token_generate(char out[CA_TOKEN_TEXT_MAX], struct ca_error *err);

/* Two CA_HASH_LEN hashes equal? In constant time. */
bool ca_hash_eq(const uint8_t *a, const uint8_t *b);

/*
 * The store's admin token (serve's first start makes it; `mtlsca admin
 * token rotate` replaces it): only its SHA-256, in meta. The service reads
 * it on every admin check (one read transaction), so a rotation takes
 * effect at once in a running serve.
 */
#define CA_META_ADMIN_TOKEN	"serve_admin_token_sha256"
/* Does hash match the store's admin token? false when there is none. */
bool ca_admin_token_stored(struct store *st, const uint8_t hash[CA_HASH_LEN]);
/*
 * A new admin token in place of the store's (one meta write: the old one
 * stops working when it commits). *out gets the token, to print once;
 * the caller wipes it (gnutls_memset).
 */
int ca_admin_token_rotate(struct store *st, char out[CA_TOKEN_TEXT_MAX],
    struct ca_error *err);

/* ---- OpenSSL index.txt import ---- */

/* One line of an OpenSSL CA database (index.txt). */
struct ca_index_line {
	char		status;		/* 'V', 'R' or 'E' */
	int64_t		not_after;
	int64_t		revoked_at;	/* 'R' only */
	int		reason;		/* RFC 5280 code, 'R' only */
	uint8_t		serial[SERIAL_MAX + 1];
	size_t		serial_len;
	const char	*subject;	/* OpenSSL's /C=../CN=.. form, borrowed */
};
/*
 * Parse index.txt text (bounded: at most 10 million lines); call cb per line.
 * CA_EMALF naming the line number on anything unexpected. The callback's
 * non-zero return stops and is returned.
 */
int ca_openssl_index_parse(const char *text, size_t len,
    int (*cb)(const struct ca_index_line *line, void *ctx), void *ctx,
    struct ca_error *err);

/* ---- RFC 5280 CRLReason names ---- */
/* "keyCompromise" -> 1 ...; CA_EINVAL for unknown names. Case-insensitive. */
int ca_reason_parse(const char *name, int *code);
/* 1 -> "keyCompromise"; NULL for a value that is not a reason. */
const char *ca_reason_name(int code);

/* ---- the service's own TLS (ca/server.c; added for `mtlsca serve`) ---- */

/*
 * Issue the certificate the service's HTTPS listener presents: a fresh
 * ECDSA P-256 key, CN = names[0], SANs = names (IP literals as iPAddress,
 * the rest as dNSName), CA:FALSE, keyUsage digitalSignature, EKU serverAuth,
 * SKI, AKI; days (0 = 365, at most 825) capped at the CA's notAfter.
 * Recorded in the store (profile "server", with an audit entry "issue" by
 * "serve") before it is returned. On success *cert_pem and *key_pem own
 * malloc'd NUL-terminated PEM (wipe the key with gnutls_memset before
 * free()).
 */
#define CA_PROFILE_SERVICE	"server"	/* reserved: no config profile */
int ca_issue_server(struct ca *ca, struct store *st, const char *const *names,
    size_t n_names, unsigned days, char **cert_pem, char **key_pem,
    struct ca_error *err);

/*
 * Whether cert_pem can go on serving: signed by this CA, valid at now and
 * for min_left more seconds, naming every one of names, and not revoked in
 * st (NULL: not looked up). CA_OK, or CA_EPOLICY / CA_EMALF with the
 * reason.
 */
int ca_server_cert_check(struct ca *ca, struct store *st, const char *cert_pem,
    const char *const *names, size_t n_names, int64_t now, int64_t min_left,
    struct ca_error *err);

/*
 * Whether a server certificate (PEM; the leaf of a chain) that this CA
 * signed is revoked in st: CA_EPOLICY naming its serial when it is; CA_OK
 * when it is not, or is another CA's.
 */
int ca_server_cert_revoked(struct ca *ca, struct store *st,
    const char *cert_pem, struct ca_error *err);

/*
 * The host names a certificate (PEM; the leaf of a chain) answers to: every
 * CN, dNSName and iPAddress (as text). At most max into names; *n gets the
 * count. CA_ETOOBIG when there are more, CA_EMALF when it does not parse.
 */
int ca_cert_pem_names(const char *pem, char (*names)[CA_NAME_MAX], size_t max,
    size_t *n, struct ca_error *err);

/*
 * The notAfter of the first certificate in a PEM text (the leaf of a
 * chain): CA_EMALF with the reason when there is none to read.
 */
int ca_cert_pem_not_after(const char *pem, int64_t *not_after,
    struct ca_error *err);

/*
 * ALB's key policy on a certificate (DER) from outside, read without
 * checking any signature, so that it can run before one is: RSA 2048-8192
 * bits with an odd public exponent of at most 2^32 + 1, or ECDSA
 * P-256/P-384/P-521; at most CA_CERT_MAX bytes. CA_OK, or CA_EPOLICY /
 * CA_EMALF / CA_ETOOBIG with the reason. Cheap: for a TLS handshake hook.
 */
int ca_cert_key_check(const uint8_t *der, size_t len, struct ca_error *err);

/*
 * subjectAltNames as text, the way tokens are bound to them and renewals
 * compare them: "dns:" (lower case, no trailing dot), "ip:" (an IPv4
 * address embedded in IPv6 written as IPv4), "email:" (domain in lower
 * case), "uri:". ca_san_format turns a raw SAN (a gnutls_x509_subject_alt_
 * name_t and its bytes) into that form, CA_EINVAL for another type;
 * ca_san_parse checks a name typed by a person ("DNS:Host.Example.") and
 * gives its canonical form, CA_EINVAL with a sentence otherwise.
 */
int ca_san_format(unsigned type, const uint8_t *data, size_t len, char *out,
    size_t size);
int ca_san_parse(const char *text, char *canon, size_t size,
    struct ca_error *err);

/* The identities a certificate carries: its subject (RFC 4514) and its
   subjectAltNames as ca_san_format text, sorted. */
struct ca_identity {
	char	subject[1024];
	char	sans[CA_SAN_MAX][CA_NAME_MAX + 8];
	size_t	n_sans;
};
int ca_identity_of(const uint8_t *der, size_t len, struct ca_identity *out,
    struct ca_error *err);

/* What the service needs to know about a TLS client's certificate. */
struct ca_peer {
	uint8_t		serial[SERIAL_MAX + 1];
	size_t		serial_len;
	uint8_t		fingerprint[32];	/* SHA-256 of the DER */
	char		subject[1024];		/* RFC 4514, as ca_csr_subject */
	int64_t		not_after;
};

/*
 * Check a client certificate (DER) for mTLS: signed by this CA and valid at
 * now. CA_EAUTH with the reason otherwise. Whether it is revoked is the
 * store's to say (look the serial up).
 */
int ca_peer_check(struct ca *ca, const uint8_t *der, size_t len, int64_t now,
    struct ca_peer *out, struct ca_error *err);

/*
 * The service's mTLS check (admin, renewal): ca_verify_chain's answer on
 * the certificate (ca/verify.c), so that a certificate the verifier
 * refuses never logs in either. CA_EFORBIDDEN with CA_REASON_PEER_*
 * (untrusted: not ours, expired, key, usage; unknown: not in the store;
 * revoked) and the verifier's sentence otherwise. rec (may be NULL) gets
 * the record (owned). ca_verifier_peer is the same through a verifier
 * (and its cache).
 */
int ca_peer_verify(struct ca *ca, struct store *st, const uint8_t *der,
    size_t len, int64_t now, struct ca_peer *out, struct cert_record *rec,
    struct ca_error *err);

/* ---- verification of client certificates (ca/verify.c) ----
 *
 * "Is this client certificate good right now?", one answer for the
 * verifier behind the load balancer (http/verify.c), `mtlsca verify` and
 * the service's own mTLS: signed by a CA of this instance (the anchors are
 * ours, never what the client sent), inside its validity, a key ALB
 * accepts, good for clientAuth, and in the store now — known, the very
 * certificate recorded, not revoked.
 */
enum ca_verify_result {
	CA_VERIFY_GOOD = 0,
	CA_VERIFY_MALFORMED,		/* does not parse, over a cap */
	CA_VERIFY_UNKNOWN_ISSUER,	/* its issuer is no CA of ours */
	CA_VERIFY_BAD_SIGNATURE,	/* names our CA, not signed by it */
	CA_VERIFY_KEY_POLICY,		/* a key ALB refuses */
	CA_VERIFY_NOT_CLIENT,		/* a CA, or EKU without clientAuth */
	CA_VERIFY_NOT_YET_VALID,
	CA_VERIFY_EXPIRED,
	CA_VERIFY_NOT_ISSUED_HERE,	/* signed by us, unknown to the store */
	CA_VERIFY_REVOKED,
};
#define CA_VERIFY_RESULTS	10

/* "good", "malformed", "unknown_issuer", "bad_signature", "key_policy",
   "not_client", "not_yet_valid", "expired", "not_issued_here", "revoked":
   also the err->reason of a refusal. */
const char *ca_verify_result_name(enum ca_verify_result r);

/* What a verification says (ca_verified_clear frees it). */
struct ca_verified {
	enum ca_verify_result	 result;
	uint8_t			 serial[SERIAL_MAX + 1];
	size_t			 serial_len;		/* 0: not read */
	uint8_t			 fingerprint[CA_HASH_LEN]; /* leaf's SHA-256 */
	char			*subject;	/* RFC 4514, owned, or NULL */
	char			*sans;		/* "dns:a, ip:b", owned, or NULL */
	char			 profile[STORE_PROFILE_MAX];	/* the store's */
	int64_t			 not_before, not_after;
	int64_t			 revoked_at;	/* CA_VERIFY_REVOKED */
	int			 revocation_reason;	/* RFC 5280 code */
	bool			 cached;	/* the signature check was */
};
void ca_verified_clear(struct ca_verified *v);

struct ca_verifier;

struct ca_verifier_options {
	/* Verified certificates kept, by leaf fingerprint; 0: no cache. */
	size_t	cache_entries;
};

/*
 * A verifier for the CAs of this instance (cas[0] active; the others
 * retiring: still trusted for the certificates they issued) and their
 * store, all borrowed. The cache keeps what never changes (signature, key,
 * usage, identity) and the store's answer with the revocation counter it
 * was read at: every revocation (STORE_COUNTER_REVGEN, another process's
 * included) sends the next verification of each certificate back to the
 * store. Thread-safe. Free with ca_verifier_free (NULL-safe).
 */
int ca_verifier_new(struct ca *const *cas, size_t n_cas, struct store *st,
    const struct ca_verifier_options *opt, struct ca_verifier **out,
    struct ca_error *err);
void ca_verifier_free(struct ca_verifier *v);

/*
 * Verify a chain (DER, leaf first; the rest is what the client sent and is
 * not trusted for anything) at now. CA_OK: good, out filled. CA_EFORBIDDEN:
 * refused, out->result says why, err->reason is its name and err->msg the
 * sentence (revoked: when and why). Anything else is a failure to answer
 * (CA_ENOMEM, the store's error), not a verdict. Free out with
 * ca_verified_clear() whatever the result.
 */
int ca_verify_chain(struct ca_verifier *v, const uint8_t *const *der,
    const size_t *len, size_t n, int64_t now, struct ca_verified *out,
    struct ca_error *err);

/*
 * The load balancer verified the chain and forwards the leaf's serial
 * (content bytes) and issuer (RFC 2253 text, as ALB's
 * X-Amzn-Mtls-Clientcert-Issuer; NULL: not checked): the live answer for
 * that serial. The issuer must name a CA of ours (CA_VERIFY_UNKNOWN_ISSUER),
 * the serial be in the store (CA_VERIFY_NOT_ISSUED_HERE); the recorded
 * certificate then goes through ca_verify_chain (or, imported without one,
 * the record's dates and status decide). Returns as ca_verify_chain.
 */
int ca_verify_serial(struct ca_verifier *v, const uint8_t *serial,
    size_t serial_len, const char *issuer, int64_t now,
    struct ca_verified *out, struct ca_error *err);

/* ca_peer_verify through v. */
int ca_verifier_peer(struct ca_verifier *v, const uint8_t *der, size_t len,
    int64_t now, struct ca_peer *out, struct cert_record *rec,
    struct ca_error *err);

struct ca_verifier_stats {
	uint64_t	hits;		/* signature checks the cache spared */
	uint64_t	misses;
	uint64_t	store_reads;	/* records read (first time, or after a
					   revocation) */
	uint64_t	entries;	/* in the cache now */
};
void ca_verifier_stats(struct ca_verifier *v, struct ca_verifier_stats *out);

/* ---- enrollment (ca/enroll.c) ----
 *
 * The one enrollment engine: a front end (the JSON API, EST, ...) turns
 * its credentials into a grant, then calls ca_enroll(). The policy, the
 * signing, the serial-collision retry and the batching committer that makes
 * the certificate durable — token use, certificate and audit entry in one
 * transaction — are all here.
 *
 * Refusals carry err->reason, one of (STORE_REASON_TOKEN_* come from the
 * store when a token is spent by a racing request before the commit):
 */
#define CA_REASON_TOKEN_UNKNOWN	STORE_REASON_TOKEN_UNKNOWN	/* 403 */
#define CA_REASON_TOKEN_EXPIRED	STORE_REASON_TOKEN_EXPIRED	/* 403 */
#define CA_REASON_TOKEN_USED	STORE_REASON_TOKEN_USED		/* 403 */
#define CA_REASON_PROFILE_MISMATCH "profile_mismatch" /* token's profile */
#define CA_REASON_PROFILE_UNKNOWN "profile_unknown"
#define CA_REASON_TOKEN_BOUND_CN "token_bound_cn"	/* token's CN */
#define CA_REASON_ADMIN_SUBJECT	"admin_subject"	/* admins only */
#define CA_REASON_RENEWAL_SUBJECT "renewal_subject"	/* renewal keeps it */
#define CA_REASON_RENEWAL_PROFILE "renewal_profile"	/* renewal keeps it */
#define CA_REASON_RENEWAL_IDENTITY "renewal_identity"	/* same names only */
#define CA_REASON_RENEWED	STORE_REASON_RENEWED	/* 409: once only */
#define CA_REASON_TOKEN_BOUND_SAN "token_bound_san"	/* token's SANs */
#define CA_REASON_TOKEN_MALFORMED "token_malformed"	/* empty, too long */
#define CA_REASON_NOT_ADMIN	"not_admin"	/* a credential, not an admin's */
#define CA_REASON_CSR_MALFORMED	"csr_malformed"	/* ca_csr_parse: EMALF */
#define CA_REASON_CSR_POLICY	"csr_policy"	/* key, signature, names */
#define CA_REASON_VALIDITY	"validity"	/* days over the profile's */
#define CA_REASON_CA_EXPIRED	"ca_expired"
#define CA_REASON_SUBJECT	"subject"	/* required RDN, 2 CNs... */
#define CA_REASON_SAN		"san"		/* type, count, encoding */
#define CA_REASON_SERVER_NAME	"server_name"	/* the service's own names */
/* ...and from ca_peer_verify (renewal, admin by client certificate): */
#define CA_REASON_PEER_UNTRUSTED "peer_untrusted"	/* not ours, expired */
#define CA_REASON_PEER_UNKNOWN	"peer_unknown"	/* not in the store */
#define CA_REASON_PEER_REVOKED	"peer_revoked"

#define CA_WHO_MAX	96

/* A static enrollment token from the configuration: its SHA-256. */
struct ca_static_token {
	char	profile[STORE_PROFILE_MAX];
	uint8_t	hash[CA_HASH_LEN];
};

enum ca_grant_kind {
	CA_GRANT_STATIC = 0,	/* a static token: its profile, any CN */
	CA_GRANT_ONE_TIME,	/* a store token: profile, CN; one use */
	CA_GRANT_ADMIN,		/* an admin token: any profile or subject */
	CA_GRANT_RENEWAL,	/* a client certificate: same subject, profile */
};

/* What the caller may enroll for; filled by ca_grant_token/_renewal. */
struct ca_grant {
	enum ca_grant_kind kind;
	char		who[CA_WHO_MAX];	/* audit label, no secret */
	char		profile[STORE_PROFILE_MAX];	/* "" = any */
	char		cn[STORE_CN_MAX];		/* "" = any */
	/* A bound token (a CN or SANs given to `token create`) grants these
	   subjectAltNames (ca_san_format text) and no other. */
	bool		bound;
	char		sans[STORE_TOKEN_SANS_MAX][STORE_CN_MAX];
	size_t		n_sans;
	uint8_t		token_hash[CA_HASH_LEN];	/* ONE_TIME: spent */
	struct ca_peer	peer;				/* RENEWAL */
};

struct ca_enroller;

struct ca_enroller_options {
	/* Profiles; profiles[0] is the default. Copied. */
	const struct ca_profile		*profiles;
	size_t				 n_profiles;
	/* Static per-profile enrollment tokens. Copied. */
	const struct ca_static_token	*tokens;
	size_t				 n_tokens;
	/* Admins: the SHA-256 of admin tokens (which also enroll, any
	   profile and subject), and RFC 4514 admin subjects (which only an
	   admin may have a certificate made for). Copied. */
	const uint8_t			(*admin_token_hashes)[CA_HASH_LEN];
	size_t				 n_admin_token_hashes;
	/* Admin client certificates by SHA-256. Copied. */
	const uint8_t			(*admin_fingerprints)[CA_HASH_LEN];
	size_t				 n_admin_fingerprints;
	const char *const		*admin_subjects;
	size_t				 n_admin_subjects;
	unsigned			 batch_max;	/* per commit; 0 = 256 */
};

/*
 * The engine for one CA and store (borrowed: they must outlive it), with
 * its committer thread. Free with ca_enroller_free(), which lets the queue
 * drain first; no ca_enroll() may run then.
 */
int ca_enroller_new(struct ca *ca, struct store *st,
    const struct ca_enroller_options *opt, struct ca_enroller **out,
    struct ca_error *err);
void ca_enroller_free(struct ca_enroller *e);

/*
 * Put a new configuration in place (a reload): profiles, static tokens,
 * admins. Requests already decided finish under the one they were decided
 * under; the next ones see the new one. CA_EINVAL/CA_ENOMEM, and the
 * running one stays.
 */
int ca_enroller_reconfigure(struct ca_enroller *e,
    const struct ca_enroller_options *opt, struct ca_error *err);

/* A copy of the profile named name (NULL or "" = the default): CA_OK, or
   CA_ENOENT when there is none. */
int ca_enroller_profile_get(const struct ca_enroller *e, const char *name,
    struct ca_profile *out);
/* The profiles' names, the default first: at most max; their count. */
size_t ca_enroller_profile_names(const struct ca_enroller *e,
    char (*names)[STORE_PROFILE_MAX], size_t max);
/* Is subject (RFC 4514) a configured admin subject? Is hash an admin
   token's? Is a client certificate (its SHA-256, its subject) an admin's?
   (hashes are compared in constant time over the list) */
bool ca_enroller_admin_subject(const struct ca_enroller *e,
    const char *subject);
bool ca_enroller_admin_token(const struct ca_enroller *e,
    const uint8_t hash[CA_HASH_LEN]);
bool ca_enroller_admin_cert(const struct ca_enroller *e,
    const uint8_t fingerprint[CA_HASH_LEN], const char *subject);

/* The committer's figures (mtlsca_store_commits_total...). */
struct ca_enroller_stats {
	uint64_t	commits;	/* write transactions */
	uint64_t	committed;	/* certificates in them */
};
void ca_enroller_stats(const struct ca_enroller *e,
    struct ca_enroller_stats *out);

/*
 * The grant of a presented token (its SHA-256): a static token, an admin
 * token or a one-time token of the store (unexpired, with a use left:
 * checked again, atomically, when the use is committed). CA_EFORBIDDEN
 * with CA_REASON_TOKEN_* otherwise. *out written on success.
 */
int ca_grant_token(const struct ca_enroller *e,
    const uint8_t hash[CA_HASH_LEN], struct ca_grant *out,
    struct ca_error *err);

/* The renewal grant of a client certificate that passed ca_peer_verify,
   rec its store record. */
void ca_grant_renewal(const struct ca_peer *peer,
    const struct cert_record *rec, struct ca_grant *out);

/* The outcome of one enrollment. */
struct ca_enrolled {
	int		 rc;		/* CA_OK, or why not */
	struct ca_error	 err;		/* rc's sentence and reason */
	struct ca_issued iss;		/* CA_OK: the recorded certificate */
	bool		 renewal;	/* made under a CA_GRANT_RENEWAL */
};
/* Free what res owns and zero it. NULL-safe. */
void ca_enrolled_clear(struct ca_enrolled *res);

/* Called once, from the committer thread, when res is final. */
typedef void (*ca_enroll_done_fn)(void *ctx, struct ca_enrolled *res);

/*
 * Enroll csr (PEM or DER, at most CA_CSR_MAX bytes) under grant g, for
 * profile (NULL or "": the grant's, else the default) and days (0: the
 * profile's default). In order: the CSR (ca_csr_parse), the profile (a
 * token's own, or the one a renewal keeps), a token's bound CN, renewal's
 * same subject; then the certificate is signed (ca_issue: the profile's
 * rules and the service's own names) and refused if its subject is an
 * admin subject and g is no admin (renewal excepted: it grants nothing
 * new); then the committer records it. A serial collision is signed again
 * with a new serial, here.
 *
 * With done NULL, waits for the commit and returns out->rc. With done,
 * returns CA_OK once the request is queued and done(ctx, out) is called
 * later (maybe before ca_enroll returns); any other return is a refusal or
 * failure before the queue, and done is never called. Either way out->rc,
 * out->err are the outcome (err too when known at return), and out must
 * live until then; free with ca_enrolled_clear().
 */
int ca_enroll(struct ca_enroller *e, const struct ca_grant *g,
    const uint8_t *csr, size_t csr_len, const char *profile, unsigned days,
    struct ca_enrolled *out, ca_enroll_done_fn done, void *ctx,
    struct ca_error *err);

/* ---- keys and PKCS#12 for the client side (ca/keys.c, ca/p12.c) ---- */

/*
 * A fresh private key of type, as PKCS#8 PEM ("PRIVATE KEY", unencrypted:
 * the caller writes it mode 0600). On success *pem owns a NUL-terminated
 * malloc'd buffer of *len bytes: wipe it with gnutls_memset before free().
 */
int ca_key_generate(enum ca_key_type type, char **pem, size_t *len,
    struct ca_error *err);

/*
 * The key type of a PEM private key (PKCS#8 or PKCS#1/SEC 1, unencrypted),
 * when it is one of enum ca_key_type: CA_EMALF when the text is no key,
 * CA_EPOLICY for another algorithm or size.
 */
int ca_key_type_of(const char *key_pem, size_t len, enum ca_key_type *out,
    struct ca_error *err);

/*
 * Is key_pem (PEM, unencrypted) the private key of the first certificate
 * in cert_pem? CA_OK; CA_EINVAL "does not match"; CA_EMALF for unreadable
 * input.
 */
int ca_key_matches_cert(const char *key_pem, size_t key_len,
    const char *cert_pem, size_t cert_len, struct ca_error *err);

/*
 * PKCS#12 (RFC 7292) protections. MODERN: key and certificates encrypted
 * with PBES2 (PBKDF2 with HMAC-SHA256, AES-256-CBC, RFC 8018), MAC with
 * HMAC-SHA256: what OpenSSL 3 writes by default. LEGACY: the
 * pbeWithSHAAnd3-KeyTripleDES-CBC scheme of RFC 7292 Appendix C and an
 * HMAC-SHA1 MAC, which the macOS keychain and Windows before Server 2019
 * import (`openssl pkcs12 -legacy` reads it).
 */
enum ca_p12_mode { CA_P12_MODERN, CA_P12_LEGACY };

struct ca_p12_options {
	const char		*password;	/* required, non-empty */
	const char		*friendly_name;	/* NULL: the leaf's CN */
	enum ca_p12_mode	 mode;
};

/*
 * A DER PKCS#12 file holding key_pem and the certificates of certs_pem:
 * the leaf first (it must match the key), then any chain (issuer
 * certificates, at most 8). The key bag and the leaf carry the same
 * localKeyID (RFC 7292 §4.2, PKCS#9) and friendlyName, which importers use
 * to pair them. On success *out owns a malloc'd buffer of *len bytes.
 * CA_EMALF for unreadable PEM, CA_EINVAL for a key that does not match the
 * leaf or an empty password.
 */
int ca_p12_build(const char *key_pem, size_t key_len, const char *certs_pem,
    size_t certs_len, const struct ca_p12_options *opt, uint8_t **out,
    size_t *len, struct ca_error *err);


/* ---- EST's encodings (ca/est.c; RFC 7030) ---- */

/*
 * A certs-only CMC Simple PKI Response (RFC 5272 section 4.1; RFC 7030
 * sections 4.1.3 and 4.2.3): a PKCS#7 SignedData without signers (RFC 5652
 * section 5) carrying the n certificates ders[i] (DER, each at most
 * CA_CERT_MAX bytes; a SET OF, so in DER's order, not ders'), in DER. On success *out owns a malloc'd buffer of
 * *len bytes. CA_EINVAL, CA_EMALF (a certificate GnuTLS refuses),
 * CA_ENOMEM, CA_ECRYPTO.
 */
int ca_pkcs7_certs(const uint8_t *const *ders, const size_t *lens, size_t n,
    uint8_t **out, size_t *len, struct ca_error *err);

/*
 * The CSR attributes (RFC 7030 section 4.5.2) profile p asks of a request,
 * as the DER of a CsrAttrs: the OIDs of the subject attributes it requires.
 * On success *out owns a malloc'd buffer of *len bytes, or is NULL with
 * *len 0 when the profile asks for nothing (EST then answers 204).
 */
int ca_est_csrattrs(const struct ca_profile *p, uint8_t **out, size_t *len,
    struct ca_error *err);

#endif
