/*
 * PKCS#12 (RFC 7292) files for people: a key, its certificate and the
 * issuing CA in one password-protected file that browsers, the macOS
 * keychain and Windows import.
 *
 * Layout, as OpenSSL and Windows write it: one EncryptedData bag holding
 * the certificates (leaf first), one Data bag holding the key as a
 * pkcs8ShroudedKeyBag, then a MAC over both (RFC 7292 §4). The leaf and the
 * key carry the same localKeyID, which is how importers pair them.
 */
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/pkcs12.h>
#include <gnutls/x509.h>

#include "ca/ca_int.h"

/* A leaf and its issuers: more is not a chain anyone would import. */
#define P12_CERTS_MAX	9

int
ca_p12_build(const char *key_pem, size_t key_len, const char *certs_pem,
    size_t certs_len, const struct ca_p12_options *opt, uint8_t **out,
    size_t *len, struct ca_error *err)
{
	gnutls_x509_privkey_t	 key = NULL;
	gnutls_x509_crt_t	*crts = NULL;
	gnutls_pkcs12_t		 p12 = NULL;
	gnutls_pkcs12_bag_t	 cbag = NULL, kbag = NULL;
	gnutls_datum_t		 d, kid, der = { NULL, 0 };
	gnutls_mac_algorithm_t	 mac;
	unsigned		 n = 0, flags;
	uint8_t			 key_id[64];
	size_t			 key_id_len = sizeof(key_id);
	char			 cn[256];
	size_t			 cn_len = sizeof(cn);
	const char		*name;
	int			 rc, idx;

	if (opt == NULL || opt->password == NULL || opt->password[0] == '\0')
		return ca_error_set(err, CA_EINVAL, "a PKCS#12 file needs a "
		    "password");
	if (key_len > UINT32_MAX || certs_len > UINT32_MAX)
		return ca_error_set(err, CA_ETOOBIG, "input too large");
	if (opt->mode == CA_P12_LEGACY) {
		/* RFC 7292 Appendix C: pbeWithSHAAnd3-KeyTripleDES-CBC. */
		flags = GNUTLS_PKCS_PKCS12_3DES;
		mac = GNUTLS_MAC_SHA1;
	} else {
		/* PBES2 (RFC 8018 §6.2) with AES-256-CBC; GnuTLS derives
		 * the key with PBKDF2 and HMAC-SHA256. */
		flags = GNUTLS_PKCS_PBES2_AES_256;
		mac = GNUTLS_MAC_SHA256;
	}

	if ((rc = ca_key_import_pem(key_pem, key_len, &key, err)) != CA_OK)
		return rc;
	d.data = (unsigned char *)certs_pem;
	d.size = (unsigned)certs_len;
	if ((rc = gnutls_x509_crt_list_import2(&crts, &n, &d,
	    GNUTLS_X509_FMT_PEM, 0)) < 0 || n == 0) {
		rc = ca_gnutls_err(err, CA_EMALF, rc < 0 ? rc :
		    GNUTLS_E_BASE64_DECODING_ERROR, "no PEM certificate");
		goto out;
	}
	if (n > P12_CERTS_MAX) {
		rc = ca_error_set(err, CA_ETOOBIG, "%u certificates: a PKCS#12 "
		    "file holds the leaf and at most %d issuers", n,
		    P12_CERTS_MAX - 1);
		goto out;
	}
	if ((rc = ca_key_cert_check(key, crts[0], err)) != CA_OK)
		goto out;
	/* The localKeyID: SHA-1 of the SubjectPublicKeyInfo. */
	if ((rc = gnutls_x509_privkey_get_key_id(key, 0, key_id,
	    &key_id_len)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "key id");
		goto out;
	}
	kid.data = key_id;
	kid.size = (unsigned)key_id_len;
	name = opt->friendly_name;
	if (name == NULL) {
		name = "mtlsca";
		if (gnutls_x509_crt_get_dn_by_oid(crts[0],
		    GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cn_len) >= 0 &&
		    cn[0] != '\0')
			name = cn;
	}

	if ((rc = gnutls_pkcs12_init(&p12)) < 0 ||
	    (rc = gnutls_pkcs12_bag_init(&cbag)) < 0 ||
	    (rc = gnutls_pkcs12_bag_init(&kbag)) < 0) {
		rc = ca_gnutls_err(err, CA_ENOMEM, rc, "PKCS#12 init");
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		if ((idx = gnutls_pkcs12_bag_set_crt(cbag, crts[i])) < 0) {
			rc = ca_gnutls_err(err, CA_ECRYPTO, idx,
			    "PKCS#12 certificate");
			goto out;
		}
		if (i == 0 && ((rc = gnutls_pkcs12_bag_set_key_id(cbag,
		    (unsigned)idx, &kid)) < 0 ||
		    (rc = gnutls_pkcs12_bag_set_friendly_name(cbag,
		    (unsigned)idx, name)) < 0)) {
			rc = ca_gnutls_err(err, CA_ECRYPTO, rc,
			    "PKCS#12 certificate attributes");
			goto out;
		}
	}
	if ((rc = gnutls_pkcs12_bag_encrypt(cbag, opt->password, flags)) < 0 ||
	    (rc = gnutls_pkcs12_set_bag(p12, cbag)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "PKCS#12 certificates");
		goto out;
	}
	/* The key bag is a pkcs8ShroudedKeyBag: encrypted on its own, so its
	 * SafeContents need no second layer. */
	if ((idx = gnutls_pkcs12_bag_set_privkey(kbag, key, opt->password,
	    flags)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, idx, "PKCS#12 key");
		goto out;
	}
	if ((rc = gnutls_pkcs12_bag_set_key_id(kbag, (unsigned)idx,
	    &kid)) < 0 || (rc = gnutls_pkcs12_bag_set_friendly_name(kbag,
	    (unsigned)idx, name)) < 0 ||
	    (rc = gnutls_pkcs12_set_bag(p12, kbag)) < 0 ||
	    (rc = gnutls_pkcs12_generate_mac2(p12, mac, opt->password)) < 0 ||
	    (rc = gnutls_pkcs12_export2(p12, GNUTLS_X509_FMT_DER, &der)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "PKCS#12");
		goto out;
	}
	if ((*out = malloc(der.size)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(*out, der.data, der.size);
	*len = der.size;
	rc = CA_OK;
out:
	gnutls_free(der.data);
	gnutls_pkcs12_bag_deinit(kbag);
	gnutls_pkcs12_bag_deinit(cbag);
	gnutls_pkcs12_deinit(p12);
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	gnutls_x509_privkey_deinit(key);
	return rc;
}
