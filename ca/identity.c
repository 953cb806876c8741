/*
 * The CA's identity: key loading (file or pkcs11: URL), ca_open/ca_free,
 * accessors, the signature algorithm and ca_sign_tbs, ca_init and ca_import.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/urls.h>
#include <gnutls/x509.h>
#include <gnutls/x509-ext.h>

#include "common/util.h"
#include "ca/ca_int.h"

#define CA_KEY_FILE_MAX		(64 * 1024)
#define CA_CERT_FILE_MAX	(64 * 1024)
/* ca_init's subject when none is given. The runbook's sample name
 * (C=JP,...,CN=sample) is a placeholder nobody should ship; a neutral name
 * makes it obvious that a demo CA is in use. */
#define CA_DEFAULT_SUBJECT	"CN=mtlsca demo CA"
#define CA_DEFAULT_DAYS		1024
#define CA_INIT_DAYS_MAX	(100 * 366)

/* AlgorithmIdentifier DER (RFC 4055 §5 keeps the NULL for RSA; RFC 5758
 * §3.2 omits parameters for ECDSA). */
static const uint8_t alg_rsa_sha256[] = { 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86,
    0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00 };
static const uint8_t alg_ecdsa_sha256[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
static const uint8_t alg_ecdsa_sha384[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 };
static const uint8_t alg_ecdsa_sha512[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04 };

static int der_tlv(const uint8_t *p, size_t avail, uint8_t *tag, size_t *hdr,
    size_t *len);

int
ca_gnutls_err(struct ca_error *err, int code, int gnutls_rc, const char *what)
{
	if (gnutls_rc == GNUTLS_E_MEMORY_ERROR)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	return ca_error_set(err, code, "%s: %s", what,
	    gnutls_strerror(gnutls_rc));
}

static const struct {
	const char		*name;
	enum ca_key_type	 type;
} key_types[] = {
	{ "rsa2048", CA_KEY_RSA2048 },
	{ "rsa3072", CA_KEY_RSA3072 },
	{ "rsa4096", CA_KEY_RSA4096 },
	{ "ecdsa-p256", CA_KEY_ECDSA_P256 },
	{ "ecdsa-p384", CA_KEY_ECDSA_P384 },
	{ "ecdsa-p521", CA_KEY_ECDSA_P521 },
};

int
ca_key_type_parse(const char *name, enum ca_key_type *out)
{
	if (name == NULL)
		return CA_EINVAL;
	for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
		if (strcmp(name, key_types[i].name) == 0) {
			*out = key_types[i].type;
			return CA_OK;
		}
	return CA_EINVAL;
}

const char *
ca_key_type_name(enum ca_key_type type)
{
	for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
		if (key_types[i].type == type)
			return key_types[i].name;
	return "?";
}

int
ca_key_type_params(enum ca_key_type type, gnutls_pk_algorithm_t *pk,
    unsigned *bits, gnutls_digest_algorithm_t *dig)
{
	/* The signature hash follows the key's strength (SP 800-57 pt. 1
	 * §5.6.1): SHA-384 for P-384, SHA-512 for P-521. */
	switch (type) {
	case CA_KEY_RSA2048:
	case CA_KEY_RSA3072:
	case CA_KEY_RSA4096:
		*pk = GNUTLS_PK_RSA;
		*bits = type == CA_KEY_RSA2048 ? 2048 :
		    type == CA_KEY_RSA3072 ? 3072 : 4096;
		*dig = GNUTLS_DIG_SHA256;
		return CA_OK;
	case CA_KEY_ECDSA_P256:
		*pk = GNUTLS_PK_ECDSA;
		*bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1);
		*dig = GNUTLS_DIG_SHA256;
		return CA_OK;
	case CA_KEY_ECDSA_P384:
		*pk = GNUTLS_PK_ECDSA;
		*bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1);
		*dig = GNUTLS_DIG_SHA384;
		return CA_OK;
	case CA_KEY_ECDSA_P521:
		*pk = GNUTLS_PK_ECDSA;
		*bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP521R1);
		*dig = GNUTLS_DIG_SHA512;
		return CA_OK;
	}
	return CA_EINVAL;
}

/* ---- signer pool ---- */

struct ca_signer *
ca_signer_acquire(struct ca *ca)
{
	unsigned	start = atomic_fetch_add(&ca->next, 1);
	size_t		n = ca->n_signers;

	for (size_t i = 0; i < n; i++) {
		struct ca_signer *s = &ca->signers[(start + i) % n];
		if (pthread_mutex_trylock(&s->mu) == 0)
			return s;
	}
	/* All busy: wait on our round-robin slot. */
	pthread_mutex_lock(&ca->signers[start % n].mu);
	return &ca->signers[start % n];
}

void
ca_signer_release(struct ca_signer *s)
{
	pthread_mutex_unlock(&s->mu);
}

/* ---- key loading ---- */

static bool
is_url(const char *key)
{
	return strncmp(key, "pkcs11:", 7) == 0 || gnutls_url_is_supported(key);
}

/* Read a key file (ca.h); DESIGN.md "Secrets". */
int
ca_key_file_read(const char *path, const char *what, unsigned forbidden,
    uint8_t **out, size_t *len, struct ca_error *err)
{
	struct stat	 st;
	uint8_t		*buf = NULL;
	size_t		 got = 0, cap = 0;
	int		 fd, rc = CA_OK;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return ca_error_set(err, errno == ENOENT ? CA_ENOENT : CA_EIO,
		    "%s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = ca_error_set(err, CA_EIO, "%s %s: not a readable "
		    "regular file", what, path);
		goto out;
	}
	if (st.st_mode & forbidden) {
		rc = ca_error_set(err, CA_EPOLICY, "%s %s has mode %04o: "
		    "%s (chmod %s %s)", what, path,
		    (unsigned)(st.st_mode & 07777), (forbidden & 070) == 070 ?
		    "it must be 0600" : "others must have no access and the "
		    "group at most read", (forbidden & 070) == 070 ? "600" :
		    "640", path);
		goto out;
	}
	if (st.st_size > CA_KEY_FILE_MAX) {
		rc = ca_error_set(err, CA_ETOOBIG, "%s %s: %lld bytes, "
		    "over the limit of %d", what, path, (long long)st.st_size,
		    CA_KEY_FILE_MAX);
		goto out;
	}
	cap = (size_t)st.st_size;
	if ((buf = malloc(cap + 1)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	while (got < cap) {
		ssize_t r = read(fd, buf + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = ca_error_set(err, CA_EIO, "%s %s: short read",
			    what, path);
			goto out;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	buf = NULL;
out:
	if (buf != NULL) {
		gnutls_memset(buf, 0, cap + 1);
		free(buf);
	}
	close(fd);
	return rc;
}

static int
key_import_raw(const uint8_t *buf, size_t len, const char *path,
    gnutls_privkey_t *out, struct ca_error *err)
{
	gnutls_privkey_t	key = NULL;
	gnutls_datum_t		d = { (unsigned char *)buf, (unsigned)len };
	int			rc;

	if ((rc = gnutls_privkey_init(&key)) < 0)
		return ca_gnutls_err(err, CA_ENOMEM, rc, "privkey init");
	if ((rc = gnutls_privkey_import_x509_raw(key, &d, GNUTLS_X509_FMT_PEM,
	    NULL, 0)) < 0) {
		gnutls_privkey_deinit(key);
		return ca_error_set(err, CA_EMALF, "CA key %s: not an "
		    "unencrypted PEM private key (%s)", path,
		    gnutls_strerror(rc));
	}
	*out = key;
	return CA_OK;
}

static int
key_import_url(const char *url, gnutls_privkey_t *out, struct ca_error *err)
{
	gnutls_privkey_t	key = NULL;
	int			rc;

	if ((rc = gnutls_privkey_init(&key)) < 0)
		return ca_gnutls_err(err, CA_ENOMEM, rc, "privkey init");
	/* The PIN comes from the URL (RFC 7512 pin-value / pin-source). */
	if ((rc = gnutls_privkey_import_url(key, url, 0)) < 0) {
		gnutls_privkey_deinit(key);
		return ca_error_set(err, CA_EIO, "CA key %s: %s", url,
		    gnutls_strerror(rc));
	}
	*out = key;
	return CA_OK;
}

/* ---- certificate checks ---- */

static int
cert_load(const char *path, gnutls_x509_crt_t *out, struct ca_error *err)
{
	gnutls_x509_crt_t	 crt = NULL;
	uint8_t			*buf = NULL;
	size_t			 len;
	gnutls_datum_t		 d;
	int			 rc;

	if ((rc = file_read(path, CA_CERT_FILE_MAX, &buf, &len, err)) != CA_OK)
		return rc;
	d.data = buf;
	d.size = (unsigned)len;
	if ((rc = gnutls_x509_crt_init(&crt)) < 0) {
		rc = ca_gnutls_err(err, CA_ENOMEM, rc, "crt init");
		goto out;
	}
	if ((rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM)) < 0) {
		rc = ca_error_set(err, CA_EMALF, "CA certificate %s: not a PEM "
		    "certificate (%s)", path, gnutls_strerror(rc));
		goto out;
	}
	*out = crt;
	crt = NULL;
	rc = CA_OK;
out:
	gnutls_x509_crt_deinit(crt);
	free(buf);
	return rc;
}

/*
 * The CA certificate must be a CA (RFC 5280 §4.2.1.9 basicConstraints
 * cA TRUE) allowed to sign certificates (§4.2.1.3 keyCertSign, when
 * keyUsage is present) with an RSA or ECDSA P-256/384/521 key, the only
 * kinds ALB accepts in a trust store.
 */
static int
cert_check_ca(gnutls_x509_crt_t crt, const char *path,
    gnutls_pk_algorithm_t *pk, gnutls_ecc_curve_t *curve,
    gnutls_digest_algorithm_t *dig, struct ca_error *err)
{
	unsigned	crit = 0, ku = 0, bits = 0;
	int		rc, isca, alg;

	isca = gnutls_x509_crt_get_basic_constraints(crt, &crit, NULL, NULL);
	if (isca <= 0)
		return ca_error_set(err, CA_EPOLICY, "certificate %s is not a "
		    "CA: it lacks basicConstraints CA:TRUE (RFC 5280 section "
		    "4.2.1.9)", path);
	rc = gnutls_x509_crt_get_key_usage(crt, &ku, &crit);
	if (rc >= 0 && !(ku & GNUTLS_KEY_KEY_CERT_SIGN))
		return ca_error_set(err, CA_EPOLICY, "certificate %s: its "
		    "keyUsage lacks keyCertSign (RFC 5280 section 4.2.1.3)",
		    path);
	alg = gnutls_x509_crt_get_pk_algorithm(crt, &bits);
	*curve = GNUTLS_ECC_CURVE_INVALID;
	if (alg == GNUTLS_PK_RSA) {
		if (bits < 2048 || bits > 8192)
			return ca_error_set(err, CA_EPOLICY, "CA certificate "
			    "%s has an RSA key of %u bits: the load balancer "
			    "accepts RSA 2048-8192", path, bits);
		*pk = GNUTLS_PK_RSA;
		*dig = GNUTLS_DIG_SHA256;
		return CA_OK;
	}
	if (alg == GNUTLS_PK_ECDSA) {
		gnutls_datum_t x = { NULL, 0 }, y = { NULL, 0 };
		gnutls_ecc_curve_t c = GNUTLS_ECC_CURVE_INVALID;

		if ((rc = gnutls_x509_crt_get_pk_ecc_raw(crt, &c, &x, &y)) < 0)
			return ca_gnutls_err(err, CA_EMALF, rc, "CA EC key");
		gnutls_free(x.data);
		gnutls_free(y.data);
		*pk = GNUTLS_PK_ECDSA;
		*curve = c;
		switch (c) {
		case GNUTLS_ECC_CURVE_SECP256R1:
			*dig = GNUTLS_DIG_SHA256;
			return CA_OK;
		case GNUTLS_ECC_CURVE_SECP384R1:
			*dig = GNUTLS_DIG_SHA384;
			return CA_OK;
		case GNUTLS_ECC_CURVE_SECP521R1:
			*dig = GNUTLS_DIG_SHA512;
			return CA_OK;
		default:
			break;
		}
	}
	return ca_error_set(err, CA_EPOLICY, "CA certificate %s: key type %s "
	    "is not supported: the load balancer accepts RSA 2048-8192 or "
	    "ECDSA P-256/P-384/P-521", path,
	    alg == GNUTLS_PK_ECDSA ? "ECDSA on that curve" :
	    gnutls_pk_get_name((gnutls_pk_algorithm_t)(alg < 0 ? 0 : alg)));
}

/*
 * The key matches the certificate when a signature it makes verifies with
 * the certificate's public key. Comparing public keys would need the key's
 * public half, which a PKCS#11 token need not expose (SoftHSM's imported EC
 * keys do not); a signature works for every kind of key.
 */
static int
key_matches_cert(gnutls_privkey_t key, gnutls_x509_crt_t crt,
    gnutls_pk_algorithm_t pk, gnutls_digest_algorithm_t dig,
    const char *key_name, struct ca_error *err)
{
	static const char	 what[] = "mtlsca: does this key match its "
				     "certificate?";
	gnutls_pubkey_t		 pub = NULL;
	gnutls_datum_t		 msg = { (unsigned char *)what,
				     sizeof(what) - 1 };
	gnutls_datum_t		 sig = { NULL, 0 };
	int			 rc;

	if (gnutls_privkey_get_pk_algorithm(key, NULL) != (int)pk) {
		rc = ca_error_set(err, CA_EPOLICY, "CA key %s does not match "
		    "the CA certificate (a different key type)", key_name);
		goto out;
	}
	if ((rc = gnutls_pubkey_init(&pub)) < 0 ||
	    (rc = gnutls_pubkey_import_x509(pub, crt, 0)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "CA public key");
		goto out;
	}
	if ((rc = gnutls_privkey_sign_data(key, dig, 0, &msg, &sig)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "test signature with "
		    "the CA key");
		goto out;
	}
	if (gnutls_pubkey_verify_data2(pub, gnutls_pk_to_sign(pk, dig), 0,
	    &msg, &sig) < 0) {
		rc = ca_error_set(err, CA_EPOLICY, "CA key %s does not match "
		    "the CA certificate (its signature does not verify with "
		    "the certificate's public key)", key_name);
		goto out;
	}
	rc = CA_OK;
out:
	gnutls_free(sig.data);
	gnutls_pubkey_deinit(pub);
	return rc;
}

static size_t
signer_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > CA_SIGNERS_MAX ? CA_SIGNERS_MAX : (size_t)n;
}

/* ---- open / free ---- */

int
ca_open(const struct ca_paths *paths, struct ca **out, struct ca_error *err)
{
	struct ca		*ca = NULL;
	gnutls_x509_crt_t	 crt = NULL;
	uint8_t			*keybuf = NULL;
	size_t			 keylen = 0, n;
	gnutls_datum_t		 d = { NULL, 0 };
	bool			 url;
	int			 rc;

	if (paths == NULL || paths->cert == NULL || paths->key == NULL)
		return ca_error_set(err, CA_EINVAL, "CA certificate and key "
		    "paths are required");
	url = is_url(paths->key);
	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	ca->id = STORE_CA_FIRST;
	if ((rc = cert_load(paths->cert, &crt, err)) != CA_OK)
		goto out;
	if ((rc = cert_check_ca(crt, paths->cert, &ca->pk, &ca->curve,
	    &ca->dig, err)) != CA_OK)
		goto out;
	if (!url && (rc = ca_key_file_read(paths->key, "CA key", 077,
	    &keybuf, &keylen, err)) != CA_OK)
		goto out;

	if ((rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &d)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "CA cert export");
		goto out;
	}
	if ((ca->der = malloc(d.size)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(ca->der, d.data, d.size);
	ca->der_len = d.size;
	gnutls_free(d.data);
	d.data = NULL;

	/* Signers: one per core for a file key, one for a token. */
	n = url ? 1 : signer_count();
	for (size_t i = 0; i < n; i++) {
		struct ca_signer *s = &ca->signers[i];

		if (url)
			rc = key_import_url(paths->key, &s->key, err);
		else
			rc = key_import_raw(keybuf, keylen, paths->key,
			    &s->key, err);
		if (rc != CA_OK)
			goto out;
		if (i == 0 && (rc = key_matches_cert(s->key, crt, ca->pk,
		    ca->dig, paths->key, err)) != CA_OK) {
			gnutls_privkey_deinit(s->key);
			s->key = NULL;
			goto out;
		}
		d.data = ca->der;
		d.size = (unsigned)ca->der_len;
		if ((rc = gnutls_x509_crt_init(&s->crt)) < 0 ||
		    (rc = gnutls_x509_crt_import(s->crt, &d,
		    GNUTLS_X509_FMT_DER)) < 0) {
			d.data = NULL;
			gnutls_privkey_deinit(s->key);
			gnutls_x509_crt_deinit(s->crt);
			s->key = NULL;
			s->crt = NULL;
			rc = ca_gnutls_err(err, CA_ENOMEM, rc, "CA cert copy");
			goto out;
		}
		d.data = NULL;
		pthread_mutex_init(&s->mu, NULL);
		ca->n_signers++;
	}

	if ((rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "CA cert export");
		goto out;
	}
	if ((ca->pem = malloc(d.size + 1)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(ca->pem, d.data, d.size);
	ca->pem[d.size] = '\0';
	gnutls_free(d.data);
	d.data = NULL;

	if ((rc = gnutls_x509_crt_get_raw_dn(crt, &d)) < 0) {
		rc = ca_gnutls_err(err, CA_EMALF, rc, "CA subject");
		goto out;
	}
	if ((ca->subject_der = malloc(d.size)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(ca->subject_der, d.data, d.size);
	ca->subject_len = d.size;
	gnutls_free(d.data);
	d.data = NULL;

	/* AKI keyid of what we issue = the CA's SKI (RFC 5280 §4.2.1.1);
	 * without one, method (1) of §4.2.1.2: SHA-1 of the public key. */
	{
		unsigned crit = 0;
		size_t sz = sizeof(ca->ski);

		rc = gnutls_x509_crt_get_subject_key_id(crt, ca->ski, &sz,
		    &crit);
		if (rc < 0) {
			gnutls_pubkey_t pub = NULL;

			if ((rc = gnutls_pubkey_init(&pub)) < 0 ||
			    (rc = gnutls_pubkey_import_x509(pub, crt, 0)) < 0)
				rc = ca_gnutls_err(err, CA_ECRYPTO, rc,
				    "CA public key");
			else
				rc = ca_ski_compute(pub, ca->ski, err);
			gnutls_pubkey_deinit(pub);
			if (rc != CA_OK)
				goto out;
			sz = 20;
		}
		ca->ski_len = sz;
	}
	ca->not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);

	if (ca->pk == GNUTLS_PK_RSA) {
		memcpy(ca->alg_der, alg_rsa_sha256, sizeof(alg_rsa_sha256));
		ca->alg_der_len = sizeof(alg_rsa_sha256);
	} else {
		const uint8_t *a = ca->dig == GNUTLS_DIG_SHA256 ?
		    alg_ecdsa_sha256 : ca->dig == GNUTLS_DIG_SHA384 ?
		    alg_ecdsa_sha384 : alg_ecdsa_sha512;
		memcpy(ca->alg_der, a, sizeof(alg_ecdsa_sha256));
		ca->alg_der_len = sizeof(alg_ecdsa_sha256);
	}
	*out = ca;
	ca = NULL;
	rc = CA_OK;
out:
	gnutls_free(d.data);
	if (keybuf != NULL) {
		gnutls_memset(keybuf, 0, keylen);
		free(keybuf);
	}
	gnutls_x509_crt_deinit(crt);
	ca_free(ca);
	return rc;
}

void
ca_free(struct ca *ca)
{
	if (ca == NULL)
		return;
	for (size_t i = 0; i < ca->n_signers; i++) {
		gnutls_privkey_deinit(ca->signers[i].key);
		gnutls_x509_crt_deinit(ca->signers[i].crt);
		pthread_mutex_destroy(&ca->signers[i].mu);
	}
	free(ca->der);
	free(ca->pem);
	free(ca->subject_der);
	free(ca);
}

const uint8_t *
ca_cert_der(const struct ca *ca, size_t *len)
{
	*len = ca->der_len;
	return ca->der;
}

const char *
ca_cert_pem(const struct ca *ca)
{
	return ca->pem;
}

const uint8_t *
ca_subject_der(const struct ca *ca, size_t *len)
{
	*len = ca->subject_len;
	return ca->subject_der;
}

const uint8_t *
ca_ski(const struct ca *ca, size_t *len)
{
	*len = ca->ski_len;
	return ca->ski;
}

int64_t
ca_not_after(const struct ca *ca)
{
	return ca->not_after;
}

void
ca_set_id(struct ca *ca, uint32_t id)
{
	ca->id = id > STORE_CA_FIRST ? id : STORE_CA_FIRST;
}

uint32_t
ca_get_id(const struct ca *ca)
{
	return ca->id > STORE_CA_FIRST ? ca->id : STORE_CA_FIRST;
}

enum ca_key_type
ca_key_type_of_ca(const struct ca *ca)
{
	unsigned bits = 0;

	if (ca->pk == GNUTLS_PK_ECDSA)
		return ca->curve == GNUTLS_ECC_CURVE_SECP384R1 ?
		    CA_KEY_ECDSA_P384 : ca->curve == GNUTLS_ECC_CURVE_SECP521R1 ?
		    CA_KEY_ECDSA_P521 : CA_KEY_ECDSA_P256;
	if (ca->n_signers > 0)
		gnutls_x509_crt_get_pk_algorithm(ca->signers[0].crt, &bits);
	return bits >= 4096 ? CA_KEY_RSA4096 : bits >= 3072 ? CA_KEY_RSA3072 :
	    CA_KEY_RSA2048;
}

const uint8_t *
ca_sig_alg_der(const struct ca *ca, size_t *len)
{
	*len = ca->alg_der_len;
	return ca->alg_der;
}

/* ---- signing a TBSCertList ---- */

/* One DER TLV at p (short or long definite length, up to 4 length bytes). */
static int
der_tlv(const uint8_t *p, size_t avail, uint8_t *tag, size_t *hdr,
    size_t *len)
{
	size_t	n, l = 0;

	if (avail < 2)
		return -1;
	*tag = p[0];
	if ((p[0] & 0x1f) == 0x1f)
		return -1;		/* high tag numbers: not in our inputs */
	if (p[1] < 0x80) {
		*hdr = 2;
		l = p[1];
	} else {
		n = p[1] & 0x7f;
		if (n == 0 || n > 4 || avail < 2 + n)
			return -1;
		for (size_t i = 0; i < n; i++)
			l = (l << 8) | p[2 + i];
		*hdr = 2 + n;
	}
	if (l > avail - *hdr)
		return -1;
	*len = l;
	return 0;
}

/*
 * subjectKeyIdentifier by RFC 5280 §4.2.1.2 method (1), as OpenSSL's "hash":
 * SHA-1 of the subjectPublicKey BIT STRING's value (without the unused-bits
 * octet). GnuTLS's own key ids hash other bytes, so they would not match
 * what the runbook's certificates carry.
 */
int
ca_ski_compute(gnutls_pubkey_t pub, uint8_t out[20], struct ca_error *err)
{
	gnutls_datum_t	 spki = { NULL, 0 };
	const uint8_t	*p;
	size_t		 avail, hdr, l;
	uint8_t		 tag;
	int		 rc;

	if ((rc = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki)) < 0)
		return ca_gnutls_err(err, CA_ECRYPTO, rc, "public key export");
	p = spki.data;
	avail = spki.size;
	rc = CA_EMALF;
	/* SubjectPublicKeyInfo ::= SEQUENCE { algorithm, subjectPublicKey } */
	if (der_tlv(p, avail, &tag, &hdr, &l) != 0 || tag != 0x30)
		goto out;
	p += hdr;
	avail = l;
	if (der_tlv(p, avail, &tag, &hdr, &l) != 0 || tag != 0x30)
		goto out;
	p += hdr + l;
	avail -= hdr + l;
	if (der_tlv(p, avail, &tag, &hdr, &l) != 0 || tag != 0x03 || l < 1)
		goto out;
	if ((rc = gnutls_hash_fast(GNUTLS_DIG_SHA1, p + hdr + 1, l - 1,
	    out)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "SHA-1");
		goto out;
	}
	rc = CA_OK;
out:
	if (rc == CA_EMALF)
		ca_error_set(err, rc, "public key: bad SubjectPublicKeyInfo");
	gnutls_free(spki.data);
	return rc;
}

int
ca_der_crq_subject(const uint8_t *der, size_t len, const uint8_t **name,
    size_t *name_len)
{
	const uint8_t	*p = der;
	size_t		 avail = len, hdr, l;
	uint8_t		 tag;

	/* CertificationRequest SEQUENCE, then its CertificationRequestInfo. */
	for (int i = 0; i < 2; i++) {
		if (der_tlv(p, avail, &tag, &hdr, &l) != 0 || tag != 0x30)
			return -1;
		p += hdr;
		avail = l;
	}
	/* version INTEGER */
	if (der_tlv(p, avail, &tag, &hdr, &l) != 0 || tag != 0x02)
		return -1;
	p += hdr + l;
	avail -= hdr + l;
	/* subject Name */
	if (der_tlv(p, avail, &tag, &hdr, &l) != 0 || tag != 0x30)
		return -1;
	*name = p;
	*name_len = hdr + l;
	return 0;
}

/*
 * STYLE.md: a signer must never be a "sign any bytes" oracle. crl/ is the
 * only caller, so ca_sign_tbs signs what has the shape of a v2 TBSCertList
 * (RFC 5280 §5.1.2) naming this CA: one SEQUENCE spanning the input, version
 * INTEGER 1, this CA's AlgorithmIdentifier, this CA's subject as issuer.
 * That can never be mistaken for a TBSCertificate (whose version is [0]) or
 * an OCSP response.
 */
static int
tbs_check(const struct ca *ca, const uint8_t *tbs, size_t len, bool cert,
    struct ca_error *err)
{
	/* TBSCertList: version v2 (RFC 5280 §5.1.2.1); TBSCertificate:
	   [0] { v3 } (§4.1.2.1), then a positive serial (§4.1.2.2). */
	static const uint8_t	 v2[] = { 0x02, 0x01, 0x01 };
	static const uint8_t	 v3[] = { 0xa0, 0x03, 0x02, 0x01, 0x02 };
	const uint8_t		*v = cert ? v3 : v2, *p = tbs;
	size_t			 vlen = cert ? sizeof(v3) : sizeof(v2);
	size_t			 hdr, l, sh, sl;
	uint8_t			 tag;
	const char		*why = NULL;

	if (der_tlv(p, len, &tag, &hdr, &l) != 0 || tag != 0x30 ||
	    hdr + l != len) {
		why = "it is not one DER SEQUENCE";
		goto out;
	}
	p += hdr;
	if (l < vlen || memcmp(p, v, vlen) != 0) {
		why = cert ? "its version is not v3" : "its version is not v2";
		goto out;
	}
	p += vlen;
	l -= vlen;
	if (cert) {
		if (der_tlv(p, l, &tag, &sh, &sl) != 0 || tag != 0x02 ||
		    sl == 0 || (p[sh] & 0x80) != 0) {
			why = "its serial is not a positive INTEGER";
			goto out;
		}
		p += sh + sl;
		l -= sh + sl;
	}
	if (l < ca->alg_der_len || memcmp(p, ca->alg_der, ca->alg_der_len)) {
		why = "its signature algorithm is not the CA's";
		goto out;
	}
	p += ca->alg_der_len;
	l -= ca->alg_der_len;
	if (l < ca->subject_len || memcmp(p, ca->subject_der, ca->subject_len))
		why = "its issuer is not the CA's subject";
out:
	if (why != NULL)
		return ca_error_set(err, CA_EINVAL, "refusing to sign: the CA "
		    "key signs only a %s of this CA, and %s", cert ?
		    "v3 TBSCertificate (RFC 5280 section 4.1)" :
		    "v2 TBSCertList (RFC 5280 section 5.1)", why);
	return CA_OK;
}

static int sign_checked(struct ca *ca, const uint8_t *tbs, size_t tbs_len,
    uint8_t **sig, size_t *sig_len, struct ca_error *err);

int
ca_sign_cert_tbs(struct ca *ca, const uint8_t *tbs, size_t tbs_len,
    uint8_t **sig, size_t *sig_len, struct ca_error *err)
{
	int rc;

	if (tbs_len > UINT_MAX)
		return ca_error_set(err, CA_ETOOBIG, "TBSCertificate too "
		    "large");
	if ((rc = tbs_check(ca, tbs, tbs_len, true, err)) != CA_OK)
		return rc;
	return sign_checked(ca, tbs, tbs_len, sig, sig_len, err);
}

int
ca_sign_tbs(struct ca *ca, const uint8_t *tbs, size_t tbs_len, uint8_t **sig,
    size_t *sig_len, struct ca_error *err)
{
	int rc;

	if (tbs_len > UINT_MAX)
		return ca_error_set(err, CA_ETOOBIG, "TBSCertList too large");
	if ((rc = tbs_check(ca, tbs, tbs_len, false, err)) != CA_OK)
		return rc;
	return sign_checked(ca, tbs, tbs_len, sig, sig_len, err);
}

static int
sign_checked(struct ca *ca, const uint8_t *tbs, size_t tbs_len, uint8_t **sig,
    size_t *sig_len, struct ca_error *err)
{
	struct ca_signer	*s;
	gnutls_datum_t		 d = { (unsigned char *)tbs, (unsigned)tbs_len };
	gnutls_datum_t		 out = { NULL, 0 };
	uint8_t			*buf;
	int			 rc;

	/* PKCS#1 v1.5 for RSA keys (RFC 4055 keeps sha256WithRSAEncryption),
	 * DER Ecdsa-Sig-Value for EC keys (RFC 5758 §3.2). */
	s = ca_signer_acquire(ca);
	rc = gnutls_privkey_sign_data(s->key, ca->dig, 0, &d, &out);
	ca_signer_release(s);
	if (rc < 0)
		return ca_gnutls_err(err, CA_ECRYPTO, rc, "signing");
	if ((buf = malloc(out.size)) == NULL) {
		gnutls_free(out.data);
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	}
	memcpy(buf, out.data, out.size);
	*sig = buf;
	*sig_len = out.size;
	gnutls_free(out.data);
	return CA_OK;
}

/* ---- init and import ---- */

static int
parent_dir_make(const char *path, struct ca_error *err)
{
	char	*copy = strdup(path);
	char	*dir;
	int	 rc = CA_OK;

	if (copy == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	dir = dirname(copy);
	if (strcmp(dir, ".") != 0 && strcmp(dir, "/") != 0)
		rc = dir_make(dir, 0700, err);
	free(copy);
	return rc;
}

static int
refuse_existing(const char *path, const char *what, struct ca_error *err)
{
	if (access(path, F_OK) == 0)
		return ca_error_set(err, CA_EEXIST, "%s %s already exists: "
		    "refusing to overwrite an existing CA", what, path);
	return CA_OK;
}

/* Write the key (0600) then the certificate (0644), neither overwriting;
 * if the certificate cannot be written, the new key goes too. */
static int
write_pair(const struct ca_paths *paths, const uint8_t *key, size_t keylen,
    const uint8_t *cert, size_t certlen, struct ca_error *err)
{
	int	rc;

	if ((rc = refuse_existing(paths->key, "CA key", err)) != CA_OK ||
	    (rc = refuse_existing(paths->cert, "CA certificate", err)) != CA_OK)
		return rc;
	if ((rc = parent_dir_make(paths->key, err)) != CA_OK ||
	    (rc = parent_dir_make(paths->cert, err)) != CA_OK)
		return rc;
	if ((rc = file_write_atomic(paths->key, key, keylen, 0600, 1, err)) !=
	    CA_OK)
		return rc;
	if ((rc = file_write_atomic(paths->cert, cert, certlen, 0644, 1,
	    err)) != CA_OK)
		unlink(paths->key);
	return rc;
}

static int
set_ext(gnutls_x509_crt_t crt, const char *oid, gnutls_datum_t *d,
    unsigned critical, struct ca_error *err)
{
	int	rc = gnutls_x509_crt_set_extension_by_oid(crt, oid, d->data,
	    d->size, critical);

	gnutls_free(d->data);
	d->data = NULL;
	if (rc < 0)
		return ca_gnutls_err(err, CA_ECRYPTO, rc, oid);
	return CA_OK;
}

int
ca_init(const struct ca_paths *paths, const struct ca_init_options *opt,
    struct ca_error *err)
{
	gnutls_x509_privkey_t	 xkey = NULL;
	gnutls_x509_crt_t	 crt = NULL;
	gnutls_datum_t		 keypem = { NULL, 0 }, certpem = { NULL, 0 };
	gnutls_datum_t		 ext = { NULL, 0 };
	gnutls_pk_algorithm_t	 pk = GNUTLS_PK_RSA;
	gnutls_digest_algorithm_t dig = GNUTLS_DIG_SHA256;
	unsigned		 bits = 2048, days = CA_DEFAULT_DAYS;
	const char		*subject = CA_DEFAULT_SUBJECT, *errpos = NULL;
	gnutls_pubkey_t		 pub = NULL;
	uint8_t			 serial[16], ski[20];
	time_t			 now;
	int			 rc;

	if (paths == NULL || paths->cert == NULL || paths->key == NULL)
		return ca_error_set(err, CA_EINVAL, "CA certificate and key "
		    "paths are required");
	if (is_url(paths->key))
		return ca_error_set(err, CA_EINVAL, "init writes a new key "
		    "file; for a PKCS#11 key, generate it on the token and "
		    "import its certificate instead");
	if (opt != NULL) {
		if (opt->subject != NULL)
			subject = opt->subject;
		if (opt->days != 0)
			days = opt->days;
		if (ca_key_type_params(opt->key_type, &pk, &bits, &dig) !=
		    CA_OK)
			return ca_error_set(err, CA_EINVAL, "unknown key type");
	}
	if (days > CA_INIT_DAYS_MAX)
		return ca_error_set(err, CA_EINVAL, "%u days: a CA lifetime is "
		    "at most %u days", days, CA_INIT_DAYS_MAX);
	/* Refuse early, before spending seconds on an RSA key. */
	if ((rc = refuse_existing(paths->key, "CA key", err)) != CA_OK ||
	    (rc = refuse_existing(paths->cert, "CA certificate", err)) != CA_OK)
		return rc;

	if ((rc = gnutls_x509_privkey_init(&xkey)) < 0 ||
	    (rc = gnutls_x509_crt_init(&crt)) < 0) {
		rc = ca_gnutls_err(err, CA_ENOMEM, rc, "init");
		goto out;
	}
	if ((rc = gnutls_x509_privkey_generate2(xkey, pk, bits, 0, NULL,
	    0)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "key generation");
		goto out;
	}
	/* PKCS#8 "PRIVATE KEY", as openssl genrsa writes since 3.0. */
	if ((rc = gnutls_x509_privkey_export2_pkcs8(xkey, GNUTLS_X509_FMT_PEM,
	    NULL, GNUTLS_PKCS_PLAIN, &keypem)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "key export");
		goto out;
	}
	if ((rc = gnutls_x509_crt_set_dn(crt, subject, &errpos)) < 0) {
		rc = ca_error_set(err, CA_EINVAL, "subject '%.100s' is not an "
		    "RFC 4514 distinguished name (near '%.20s')", subject,
		    errpos != NULL ? errpos : "");
		goto out;
	}
	if ((rc = ca_serial_new(serial, err)) != CA_OK)
		goto out;
	now = (time_t)time_now();
	if ((rc = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
	    (rc = gnutls_x509_crt_set_key(crt, xkey)) < 0 ||
	    (rc = gnutls_x509_crt_set_activation_time(crt, now)) < 0 ||
	    (rc = gnutls_x509_crt_set_expiration_time(crt,
	    now + (time_t)days * 86400)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "building the CA "
		    "certificate");
		goto out;
	}
	/* The runbook's v3_ca, in its order and criticality: basicConstraints
	 * critical CA:TRUE, subjectKeyIdentifier = hash (RFC 5280 §4.2.1.2
	 * method 1, SHA-1), keyUsage digitalSignature keyCertSign cRLSign
	 * (not critical, as the runbook writes it). */
	if ((rc = gnutls_x509_ext_export_basic_constraints(1, -1, &ext)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "basicConstraints");
		goto out;
	}
	if ((rc = set_ext(crt, "2.5.29.19", &ext, 1, err)) != CA_OK)
		goto out;
	if ((rc = gnutls_pubkey_init(&pub)) < 0 ||
	    (rc = gnutls_pubkey_import_x509(pub, crt, 0)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "public key");
		goto out;
	}
	if ((rc = ca_ski_compute(pub, ski, err)) != CA_OK)
		goto out;
	if ((rc = gnutls_x509_crt_set_subject_key_id(crt, ski, 20)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "subjectKeyIdentifier");
		goto out;
	}
	if ((rc = gnutls_x509_ext_export_key_usage(GNUTLS_KEY_DIGITAL_SIGNATURE |
	    GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN, &ext)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "keyUsage");
		goto out;
	}
	if ((rc = set_ext(crt, "2.5.29.15", &ext, 0, err)) != CA_OK)
		goto out;
	if ((rc = gnutls_x509_crt_sign2(crt, crt, xkey, dig, 0)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "self-signing");
		goto out;
	}
	if ((rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM,
	    &certpem)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "certificate export");
		goto out;
	}
	rc = write_pair(paths, keypem.data, keypem.size, certpem.data,
	    certpem.size, err);
out:
	if (keypem.data != NULL) {
		gnutls_memset(keypem.data, 0, keypem.size);
		gnutls_free(keypem.data);
	}
	gnutls_free(certpem.data);
	gnutls_free(ext.data);
	gnutls_pubkey_deinit(pub);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(xkey);
	return rc;
}

int
ca_import(const struct ca_paths *paths, const char *cert_file,
    const char *key_file, struct ca_error *err)
{
	gnutls_x509_crt_t	 crt = NULL;
	gnutls_privkey_t	 key = NULL;
	gnutls_datum_t		 certpem = { NULL, 0 };
	uint8_t			*keybuf = NULL;
	size_t			 keylen = 0;
	gnutls_pk_algorithm_t	 pk;
	gnutls_ecc_curve_t	 curve;
	gnutls_digest_algorithm_t dig;
	int			 rc;

	if (paths == NULL || paths->cert == NULL || paths->key == NULL ||
	    cert_file == NULL || key_file == NULL)
		return ca_error_set(err, CA_EINVAL, "import needs a certificate "
		    "and a key file");
	if (is_url(paths->key) || is_url(key_file))
		return ca_error_set(err, CA_EINVAL, "import copies key files; "
		    "a PKCS#11 key stays on its token: point the configuration "
		    "at its pkcs11: URL instead");
	if ((rc = cert_load(cert_file, &crt, err)) != CA_OK)
		goto out;
	if ((rc = cert_check_ca(crt, cert_file, &pk, &curve, &dig, err)) !=
	    CA_OK)
		goto out;
	/* The source key must be private already: a key others could read
	 * may have leaked, and adopting it would hide that. */
	if ((rc = ca_key_file_read(key_file, "CA key", 077, &keybuf, &keylen,
	    err)) != CA_OK)
		goto out;
	if ((rc = key_import_raw(keybuf, keylen, key_file, &key, err)) !=
	    CA_OK)
		goto out;
	if ((rc = key_matches_cert(key, crt, pk, dig, key_file, err)) != CA_OK)
		goto out;
	if ((rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM,
	    &certpem)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "certificate export");
		goto out;
	}
	/* The key is copied byte for byte: it is already PEM GnuTLS reads. */
	rc = write_pair(paths, keybuf, keylen, certpem.data, certpem.size, err);
out:
	if (keybuf != NULL) {
		gnutls_memset(keybuf, 0, keylen);
		free(keybuf);
	}
	gnutls_free(certpem.data);
	gnutls_privkey_deinit(key);
	gnutls_x509_crt_deinit(crt);
	return rc;
}
