/*
 * libFuzzer target for what ca_csr_parse reads after the proof of
 * possession: the subject (AVAs, their string types, UTF-8, the RFC 4514
 * text), the attributes and the extensionRequest (basicConstraints,
 * subjectAltName). fuzz_csr's inputs rarely get past the signature; here
 * the input is the subject Name and the attributes' content, and the
 * target signs the CertificationRequestInfo it builds around them with a
 * P-256 key of its own, so every input reaches those readers:
 *   input = name length (2 octets, big-endian), Name, attributes' content
 * Seeds: the subjects and attributes of tests/data/csr (make-seeds.sh).
 * corpus: fuzz/corpus/fuzz_csr_info
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>

#include "ca/ca.h"
#include "common/der.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ecdsa-with-SHA256 (RFC 5758 §3.2) */
static const uint8_t oid_ecdsa_sha256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d,
    0x04, 0x03, 0x02 };

/* The target's key and its SubjectPublicKeyInfo, made once. */
static gnutls_privkey_t	key;
static uint8_t		spki[256];
static size_t		spki_len;

static void
key_init(void)
{
	gnutls_pubkey_t pub;

	spki_len = sizeof(spki);
	if (gnutls_privkey_init(&key) < 0 ||
	    gnutls_privkey_generate2(key, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0, NULL, 0) < 0 ||
	    gnutls_pubkey_init(&pub) < 0 ||
	    gnutls_pubkey_import_privkey(pub, key, 0, 0) < 0 ||
	    gnutls_pubkey_export(pub, GNUTLS_X509_FMT_DER, spki, &spki_len) < 0)
		abort();
	gnutls_pubkey_deinit(pub);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t	 cri[CA_CSR_MAX], body[CA_CSR_MAX], der[CA_CSR_MAX];
	struct der_buf	 b;
	struct ca_csr	*csr = NULL;
	struct ca_error	 err;
	gnutls_datum_t	 d, sig;
	size_t		 name_len, cri_len, body_len;
	uint8_t		 zero = 0;

	if (key == NULL)
		key_init();
	if (size < 2)
		return 0;
	name_len = (size_t)data[0] << 8 | data[1];
	data += 2;
	size -= 2;
	if (name_len > size)
		name_len = size;
	/* CertificationRequestInfo: version 0, Name, our key, [0] attrs */
	der_buf_init(&b, body, sizeof(body));
	der_put_uint(&b, DER_INTEGER, 0);
	der_put_raw(&b, data, name_len);
	der_put_raw(&b, spki, spki_len);
	der_put_tlv(&b, DER_CTX_CONS(0), data + name_len, size - name_len);
	if (b.overflow)
		return 0;
	body_len = b.len;
	der_buf_init(&b, cri, sizeof(cri));
	der_put_tlv(&b, DER_SEQUENCE, body, body_len);
	if (b.overflow)
		return 0;
	cri_len = b.len;
	d.data = cri;
	d.size = (unsigned)cri_len;
	if (gnutls_privkey_sign_data2(key, GNUTLS_SIGN_ECDSA_SHA256, 0, &d,
	    &sig) < 0)
		abort();
	der_buf_init(&b, body, sizeof(body));
	der_put_raw(&b, cri, cri_len);
	der_put_hdr(&b, DER_SEQUENCE, der_tlv_len(sizeof(oid_ecdsa_sha256)));
	der_put_tlv(&b, DER_OID, oid_ecdsa_sha256, sizeof(oid_ecdsa_sha256));
	der_put_hdr(&b, DER_BIT_STRING, sig.size + 1);
	der_put_raw(&b, &zero, 1);
	der_put_raw(&b, sig.data, sig.size);
	gnutls_free(sig.data);
	body_len = b.len;
	der_buf_init(&b, der, sizeof(der));
	der_put_tlv(&b, DER_SEQUENCE, body, body_len);
	if (b.overflow)
		return 0;		/* over CA_CSR_MAX: fuzz_csr's case */
	if (ca_csr_parse(der, b.len, &csr, &err) == CA_OK) {
		/* Touch what callers read. */
		if (strlen(ca_csr_subject(csr)) > 1 << 20 ||
		    strlen(ca_csr_cn(csr)) > CA_NAME_MAX)
			__builtin_trap();
		ca_csr_free(csr);
	} else if (csr != NULL || err.code == CA_OK || err.msg[0] == '\0')
		__builtin_trap();	/* a refusal must explain itself */
	return 0;
}
