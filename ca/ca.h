/*
 * ca/ — the CA's identity and issuance: load the key (file or pkcs11: URL),
 * create or import the CA, check a CSR against ALB's limits and a profile,
 * build and sign a certificate, record it in the store before it is returned.
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
 * The AlgorithmIdentifier DER the CA signs with (sha256WithRSAEncryption;
 * ecdsa-with-SHA256/384/512 matched to the curve), and a signature over tbs
 * with that algorithm. *sig owns a malloc'd buffer. Used by crl/ to sign the
 * TBSCertList it encodes.
 */
const uint8_t *ca_sig_alg_der(const struct ca *ca, size_t *len);
int ca_sign_tbs(struct ca *ca, const uint8_t *tbs, size_t tbs_len,
    uint8_t **sig, size_t *sig_len, struct ca_error *err);

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
 * (re-export must give the same bytes), self-signature verified before any
 * field is read, then ALB's limits: RSA 2048-8192 or ECDSA P-256/384/521;
 * signature SHA-256/384/512 with RSA (PKCS#1 v1.5 or PSS) or ECDSA.
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
 * ca_issue, then record it with one store write transaction; on a serial
 * collision draw a new serial and sign again. The certificate exists for the
 * caller only once the store has committed it.
 */
int ca_sign(struct ca *ca, struct store *st, const struct ca_csr *csr,
    const struct ca_profile *profile, unsigned days, struct ca_issued *out,
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
 * Recorded in the store (profile "server") before it is returned. On
 * success *cert_pem and *key_pem own malloc'd NUL-terminated PEM (wipe the
 * key with gnutls_memset before free()).
 */
int ca_issue_server(struct ca *ca, struct store *st, const char *const *names,
    size_t n_names, unsigned days, char **cert_pem, char **key_pem,
    struct ca_error *err);

/*
 * Whether cert_pem can go on serving: signed by this CA, valid at now and
 * for min_left more seconds, and naming every one of names. CA_OK, or
 * CA_EPOLICY / CA_EMALF with the reason.
 */
int ca_server_cert_check(struct ca *ca, const char *cert_pem,
    const char *const *names, size_t n_names, int64_t now, int64_t min_left,
    struct ca_error *err);

/*
 * The notAfter of the first certificate in a PEM text (the leaf of a
 * chain): CA_EMALF with the reason when there is none to read.
 */
int ca_cert_pem_not_after(const char *pem, int64_t *not_after,
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

#endif
