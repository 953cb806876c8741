/*
 * ca/ internals shared by identity.c, csr.c and issue.c. Not a public
 * header: nothing outside ca/ includes it.
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
};

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

/* 16 random bytes, top two bits 01 (DESIGN.md "Serial numbers"). */
int ca_serial_new(uint8_t serial[16], struct ca_error *err);

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
	gnutls_x509_crq_t	 crq;
	gnutls_pubkey_t		 pub;
	gnutls_pk_algorithm_t	 pk;
	unsigned		 bits;
	char			*subject;
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
 * DER that GnuTLS already accepted.
 */
int ca_der_crq_subject(const uint8_t *der, size_t len, const uint8_t **name,
    size_t *name_len);

/* RFC 5280 §4.2.1.2 method (1) key identifier (SHA-1, 20 bytes). */
int ca_ski_compute(gnutls_pubkey_t pub, uint8_t out[20],
    struct ca_error *err);

/* RDN short name ("CN", "emailAddress") <-> OID; NULL when unknown. */
const char *ca_rdn_oid(const char *short_name);
const char *ca_rdn_name(const char *oid);

#endif
