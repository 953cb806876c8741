/*
 * crl/ private: what build.c, check.c and revoke.c share (the strict
 * CertificateList parser, PEM, signature verification). Nothing outside
 * crl/ includes this header (its unit tests and fuzz target do).
 */
#ifndef MTLSCA_CRL_CRL_INT_H
#define MTLSCA_CRL_CRL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crl/crl.h"

/* PEM armour of a CRL (RFC 7468 §5). */
#define CRL_PEM_BEGIN	"-----BEGIN X509 CRL-----"
#define CRL_PEM_END	"-----END X509 CRL-----"
#define CRL_PEM_LABEL	"X509 CRL"

/*
 * What the strict parser learnt about a CertificateList (RFC 5280 §5.1).
 * Pointers borrow from the parsed bytes.
 */
struct crl_parsed {
	const uint8_t	*tbs;		/* TBSCertList TLV (the signed bytes) */
	size_t		 tbs_len;
	const uint8_t	*alg;		/* outer signatureAlgorithm TLV */
	size_t		 alg_len;
	const uint8_t	*sig;		/* signature value (no unused-bits octet) */
	size_t		 sig_len;
	const uint8_t	*issuer;	/* issuer Name TLV */
	size_t		 issuer_len;
	int		 version;	/* 1 (absent) or 2 */
	int64_t		 this_update, next_update;
	bool		 has_next;
	bool		 list_present;	/* revokedCertificates was encoded */
	const uint8_t	*list;		/* its content (the entries), or NULL */
	size_t		 list_len;
	uint64_t	 entries;
	uint64_t	 negative;	/* entries with a negative serial */
	uint64_t	 bad_time_form;	/* Times outside RFC 5280 §4.1.2.5's form */
	bool		 has_number;
	bool		 number_big;	/* cRLNumber beyond 64 bits */
	uint64_t	 number;
	bool		 has_aki;
	const uint8_t	*aki_keyid;	/* NULL when the AKI has no keyIdentifier */
	size_t		 aki_len;
	bool		 unknown_critical; /* an unrecognised critical extension */
	int64_t		 newest_revocation; /* latest revocationDate; 0: none */
	/* revocationDates later than times_after, when the caller asked
	   (crl_parse_der_times): n_times kept in times[], times_later
	   counted in all. */
	size_t		 n_times;
	uint64_t	 times_later;
	char		 why[160];	/* on CA_EMALF: which rule was broken */
};

/*
 * Parse DER strictly: one CertificateList spanning len, every length and
 * INTEGER minimal, tbs signature == signatureAlgorithm (RFC 5280 §5.1.1.2),
 * v2 when extensions are present. CA_OK or CA_EMALF with out->why.
 */
int crl_parse_der(const uint8_t *der, size_t len, struct crl_parsed *out);

/* The same, also keeping the revocationDates later than after in
   times[max] (out->n_times, out->times_later). */
int crl_parse_der_times(const uint8_t *der, size_t len, int64_t after,
    int64_t *times, size_t max, struct crl_parsed *out);

/*
 * Verify sig over tbs with the public key of the certificate cert (DER),
 * for the algorithm named by the AlgorithmIdentifier TLV alg. CA_OK,
 * CA_EPOLICY (does not verify), CA_EMALF (unknown algorithm) or CA_ECRYPTO.
 */
int crl_sig_verify(const uint8_t *cert, size_t cert_len, const uint8_t *alg,
    size_t alg_len, const uint8_t *tbs, size_t tbs_len, const uint8_t *sig,
    size_t sig_len, struct ca_error *err);

/* DER -> PEM with 64-column base64 lines. *out owns a malloc'd
   NUL-terminated string of *out_len characters. */
int crl_pem_encode(const uint8_t *der, size_t len, char **out,
    size_t *out_len);

/*
 * PEM -> DER for the first "X509 CRL" block of buf. *blocks gets the number
 * of "-----BEGIN" lines in buf, *outside whether anything but white space
 * surrounds the first block. *out owns a malloc'd buffer. CA_EMALF with a
 * sentence otherwise.
 */
int crl_pem_decode(const uint8_t *buf, size_t len, uint8_t **out,
    size_t *out_len, unsigned *blocks, bool *outside, struct ca_error *err);

/* What stat says a file is, as the trust record keeps it (trust.c). */
struct stat;
void crl_file_id_of(const struct stat *st, struct crl_file_id *id);

#endif
