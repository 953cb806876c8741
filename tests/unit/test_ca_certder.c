/*
 * The certificate writer (ca/certder.c) against GnuTLS's crt builder, the
 * way ca_issue built certificates before issue 15 (kept here as the
 * reference): over a corpus of CSRs (tests/data/csr/accept and issue: RSA
 * and EC, every subjectAltName type, UTF-8 subjects, every subject attribute
 * type, an empty subject), every profile option and two CAs (RSA-2048,
 * ECDSA P-256), with the same serial and times, the TBSCertificate is byte
 * for byte the same; so are the RFC 4514 subject and, for the RSA CA (PKCS#1
 * v1.5 is deterministic), the whole certificate. Every certificate written
 * is then read by three independent parsers: GnuTLS (import, verify against
 * the CA), openssl (verify, -text) and python3-cryptography (signature,
 * issuer, serial, key identifiers, extensions).
 *
 * It includes ca/ca_int.h: the reference builder needs the CA's signer and
 * the parsed CSR, as test_crl_der.c needs common/der.h.
 */
#define _XOPEN_SOURCE 700	/* nftw() */
#include <dirent.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <gnutls/x509-ext.h>

#include "ca/ca.h"
#include "ca/ca_int.h"
#include "common/der.h"
#include "common/util.h"

static char		 g_root[64];
static const char	*g_data;
static struct ca	*g_rsa, *g_ec;
static char		 g_rsa_pem[128], g_ec_pem[128];
static unsigned		 g_written;

/* ---- GnuTLS's builder, as ca_issue used it ---- */

static int
ref_ext(gnutls_x509_crt_t crt, const char *oid, int export_rc,
    gnutls_datum_t *d)
{
	int rc = export_rc;

	if (rc >= 0)
		rc = gnutls_x509_crt_set_extension_by_oid(crt, oid, d->data,
		    d->size, 0);
	gnutls_free(d->data);
	d->data = NULL;
	return rc;
}

static int
ref_build(struct ca *ca, const struct ca_csr *csr,
    const struct ca_profile *p, const uint8_t serial[16], int64_t nb,
    int64_t na, gnutls_datum_t *der, gnutls_datum_t *dn)
{
	gnutls_x509_crt_t		 crt = NULL;
	gnutls_subject_alt_names_t	 sans = NULL;
	gnutls_datum_t			 d = { NULL, 0 };
	struct ca_error			 e;
	uint8_t				 ski[20];
	size_t				 n_subject = 0;
	unsigned			 ku;
	int				 rc;

	if ((rc = gnutls_x509_crt_init(&crt)) < 0)
		return rc;
	for (size_t k = 0; k < csr->n_avas; k++) {
		if (!ca_profile_allows(p, csr->avas[k].oid))
			continue;
		if ((rc = gnutls_x509_crt_set_dn_by_oid(crt, csr->avas[k].oid,
		    0, csr->avas[k].value,
		    (unsigned)strlen(csr->avas[k].value))) < 0)
			goto out;
		n_subject++;
	}
	/*
	 * gnutls_x509_crt_set_pubkey also writes the keyUsage a request asked
	 * for (GnuTLS keeps it on a key imported from a CSR), first; the old
	 * path then replaced its value but kept its place, so the request
	 * moved our extension. The writer never lets a request shape the
	 * certificate (STYLE.md, untrusted input 4): the reference drops it.
	 */
	if ((rc = gnutls_pubkey_set_key_usage(csr->pub, 0)) < 0)
		goto out;
	if ((rc = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (rc = gnutls_x509_crt_set_serial(crt, serial, 16)) < 0 ||
	    (rc = gnutls_x509_crt_set_activation_time(crt, (time_t)nb)) < 0 ||
	    (rc = gnutls_x509_crt_set_expiration_time(crt, (time_t)na)) < 0 ||
	    (rc = gnutls_x509_crt_set_pubkey(crt, csr->pub)) < 0)
		goto out;
	if ((rc = ref_ext(crt, "2.5.29.19",
	    gnutls_x509_ext_export_basic_constraints(0, -1, &d), &d)) < 0)
		goto out;
	ku = GNUTLS_KEY_DIGITAL_SIGNATURE;
	if (csr->pk == GNUTLS_PK_RSA)
		ku |= GNUTLS_KEY_KEY_ENCIPHERMENT;
	if ((rc = ref_ext(crt, "2.5.29.15",
	    gnutls_x509_ext_export_key_usage(ku, &d), &d)) < 0)
		goto out;
	if ((p->server_auth && (rc = gnutls_x509_crt_set_key_purpose_oid(crt,
	    GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0) ||
	    (p->client_auth && (rc = gnutls_x509_crt_set_key_purpose_oid(crt,
	    GNUTLS_KP_TLS_WWW_CLIENT, 0)) < 0))
		goto out;
	if (csr->n_sans > 0) {
		if ((rc = gnutls_subject_alt_names_init(&sans)) < 0)
			goto out;
		for (size_t i = 0; i < csr->n_sans; i++) {
			gnutls_datum_t s = { csr->sans[i].data,
			    (unsigned)csr->sans[i].len };

			if ((rc = gnutls_subject_alt_names_set(sans,
			    csr->sans[i].type, &s, NULL)) < 0)
				goto out;
		}
		if ((rc = gnutls_x509_ext_export_subject_alt_names(sans,
		    &d)) < 0 ||
		    (rc = gnutls_x509_crt_set_extension_by_oid(crt,
		    "2.5.29.17", d.data, d.size, n_subject == 0)) < 0)
			goto out;
		gnutls_free(d.data);
		d.data = NULL;
	}
	if ((rc = gnutls_x509_crt_set_authority_key_id(crt, ca->ski,
	    ca->ski_len)) < 0)
		goto out;
	if (ca_ski_compute(csr->pub, ski, &e) != CA_OK) {
		rc = -1;
		goto out;
	}
	if ((rc = gnutls_x509_crt_set_subject_key_id(crt, ski,
	    sizeof(ski))) < 0)
		goto out;
	if ((rc = gnutls_x509_crt_privkey_sign(crt, ca->signers[0].crt,
	    ca->signers[0].key, ca->dig, 0)) < 0 ||
	    (rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, der)) < 0)
		goto out;
	rc = gnutls_x509_crt_get_dn3(crt, dn, 0);
	if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
		dn->data = NULL;
		dn->size = 0;
		rc = 0;
	}
out:
	gnutls_free(d.data);
	if (sans != NULL)
		gnutls_subject_alt_names_deinit(sans);
	gnutls_x509_crt_deinit(crt);
	return rc;
}

/* The TBSCertificate TLV of a DER Certificate. */
static void
tbs_of(const uint8_t *der, size_t len, const uint8_t **tbs, size_t *tbs_len)
{
	struct der_cur	c;
	struct der_tlv	t;

	der_cur_init(&c, der, len);
	assert_int_equal(der_expect(&c, DER_SEQUENCE, &t), 0);
	assert_int_equal(c.left, 0);
	der_cur_init(&c, t.p, t.len);
	assert_int_equal(der_expect(&c, DER_SEQUENCE, &t), 0);
	*tbs = t.hdr;
	*tbs_len = t.tlv_len;
}

/* ---- the comparison ---- */

static void
profiles_make(struct ca_profile *ps, size_t *n)
{
	static const char *const every[] = { "C", "ST", "L", "O", "OU", "CN",
	    "emailAddress", "serialNumber", "street", "title", "postalCode",
	    "SN", "GN", "DC", "UID" };

	ca_profile_default(&ps[0]);			/* the runbook's */
	ps[1] = ps[0];					/* clientAuth only */
	snprintf(ps[1].name, sizeof(ps[1].name), "client-only");
	ps[1].server_auth = false;
	ps[2] = ps[0];					/* serverAuth only */
	snprintf(ps[2].name, sizeof(ps[2].name), "server-only");
	ps[2].client_auth = false;
	ps[3] = ps[0];					/* no EKU, CN only */
	snprintf(ps[3].name, sizeof(ps[3].name), "cn-only");
	ps[3].server_auth = ps[3].client_auth = false;
	snprintf(ps[3].subject_allowed[0], 16, "CN");
	ps[3].n_allowed = 1;
	/* Every attribute, in two profiles: one holds at most
	   CA_PROFILE_RDN_MAX. */
	ps[4] = ps[0];
	snprintf(ps[4].name, sizeof(ps[4].name), "every");
	ps[6] = ps[0];
	snprintf(ps[6].name, sizeof(ps[6].name), "every-rest");
	ps[4].n_allowed = ps[6].n_allowed = 0;
	for (size_t i = 0; i < sizeof(every) / sizeof(every[0]); i++) {
		struct ca_profile *p = i < CA_PROFILE_RDN_MAX ? &ps[4] : &ps[6];

		snprintf(p->subject_allowed[p->n_allowed++], 16, "%s",
		    every[i]);
	}
	/* with CN, so that its subjects are not empty */
	snprintf(ps[6].subject_allowed[ps[6].n_allowed++], 16, "CN");
	ps[5] = ps[0];					/* nothing copied */
	snprintf(ps[5].name, sizeof(ps[5].name), "sans-only");
	snprintf(ps[5].subject_allowed[0], 16, "UID");
	ps[5].n_allowed = 1;
	*n = 7;
}

static void
write_pem(const char *pem, const char *tag)
{
	char	path[256];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/certs/%04u-%s.pem", g_root, g_written++,
	    tag);
	assert_non_null(f = fopen(path, "w"));
	assert_true(fputs(pem, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* One CSR, one profile, one CA, one validity: both writers, compared. */
static void
compare_one(struct ca *ca, const char *ca_name, const struct ca_csr *csr,
    const char *csr_name, const struct ca_profile *p, int64_t nb, int64_t na)
{
	struct ca_issued	 iss;
	struct ca_error		 e;
	gnutls_datum_t		 ref = { NULL, 0 }, dn = { NULL, 0 };
	gnutls_datum_t		 mine, pem = { NULL, 0 };
	gnutls_x509_crt_t	 crt = NULL, cacrt = NULL;
	const uint8_t		*t1, *t2, *cader;
	size_t			 l1, l2, cader_len;
	uint8_t			 serial[16];
	unsigned		 status = 1;
	char			 tag[160];
	int			 rc;

	assert_int_equal(ca_serial_new(serial, &e), CA_OK);
	memset(&iss, 0, sizeof(iss));
	rc = ref_build(ca, csr, p, serial, nb, na, &ref, &dn);
	if (rc < 0)
		fail_msg("%s/%s/%s: GnuTLS's builder: %s", ca_name, csr_name,
		    p->name, gnutls_strerror(rc));
	if (ca_issue_at(ca, csr, p, serial, nb, na, &iss, &e) != CA_OK)
		fail_msg("%s/%s/%s: %s", ca_name, csr_name, p->name, e.msg);
	tbs_of(ref.data, ref.size, &t1, &l1);
	tbs_of(iss.der, iss.der_len, &t2, &l2);
	if (l1 != l2 || memcmp(t1, t2, l1) != 0) {
		FILE *f;

		/* For a look with openssl asn1parse -inform DER. */
		snprintf(tag, sizeof(tag), "%s/tbs-gnutls.der", g_root);
		if ((f = fopen(tag, "w")) != NULL) {
			fwrite(t1, 1, l1, f);
			fclose(f);
		}
		snprintf(tag, sizeof(tag), "%s/tbs-mine.der", g_root);
		if ((f = fopen(tag, "w")) != NULL) {
			fwrite(t2, 1, l2, f);
			fclose(f);
		}
		for (size_t i = 0; i < l1 && i < l2; i++)
			if (t1[i] != t2[i]) {
				fail_msg("%s/%s/%s: the TBSCertificate differs "
				    "from GnuTLS's at octet %zu of %zu/%zu "
				    "(%02x, GnuTLS %02x)", ca_name, csr_name,
				    p->name, i, l2, l1, t2[i], t1[i]);
			}
		fail_msg("%s/%s/%s: the TBSCertificate is %zu octets, GnuTLS's "
		    "%zu", ca_name, csr_name, p->name, l2, l1);
	}
	/* PKCS#1 v1.5 signatures are deterministic: the whole certificate. */
	if (ca == g_rsa) {
		assert_int_equal(iss.der_len, ref.size);
		assert_memory_equal(iss.der, ref.data, ref.size);
	}
	assert_string_equal(iss.subject, dn.data != NULL ?
	    (const char *)dn.data : "");
	assert_memory_equal(iss.serial, serial, 16);
	assert_int_equal(iss.not_before, nb);
	assert_int_equal(iss.not_after, na);

	/* GnuTLS reads it, verifies it with the CA, exports the same PEM. */
	mine.data = iss.der;
	mine.size = (unsigned)iss.der_len;
	cader = ca_cert_der(ca, &cader_len);
	{
		gnutls_datum_t cd = { (unsigned char *)cader,
		    (unsigned)cader_len };

		assert_int_equal(gnutls_x509_crt_init(&cacrt), 0);
		assert_int_equal(gnutls_x509_crt_import(cacrt, &cd,
		    GNUTLS_X509_FMT_DER), 0);
	}
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_import(crt, &mine,
	    GNUTLS_X509_FMT_DER), 0);
	assert_int_equal(gnutls_x509_crt_verify(crt, &cacrt, 1,
	    GNUTLS_VERIFY_DISABLE_TIME_CHECKS, &status), 0);
	assert_int_equal(status, 0);
	assert_int_equal(gnutls_pem_base64_encode2("CERTIFICATE", &mine, &pem),
	    0);
	assert_int_equal(strlen(iss.pem), pem.size);
	assert_memory_equal(iss.pem, pem.data, pem.size);
	snprintf(tag, sizeof(tag), "%s-%s-%s", ca_name, p->name, csr_name);
	for (char *q = tag; *q != '\0'; q++)
		if (*q == '.' || *q == '/')
			*q = '_';
	write_pem(iss.pem, tag);

	gnutls_free(pem.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_crt_deinit(cacrt);
	gnutls_free(ref.data);
	gnutls_free(dn.data);
	ca_issued_clear(&iss);
}

static void
compare_dir(const char *sub, unsigned *n)
{
	struct ca_profile	 ps[8];
	size_t			 n_ps;
	char			 dir[512], path[1024];
	DIR			*d;
	struct dirent		*de;
	/* UTCTime, and a notAfter past 2049 (GeneralizedTime, §4.1.2.5) */
	const int64_t		 nb = 1767225600;		/* 2026-01-01 */
	const int64_t		 nas[] = { 1767225600 + 365 * 86400,
	    2556144000 };					/* 2051-01-01 */

	profiles_make(ps, &n_ps);
	snprintf(dir, sizeof(dir), "%s/%s", g_data, sub);
	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL) {
		struct ca_csr	*csr = NULL;
		struct ca_error	 e;
		uint8_t		*buf = NULL;
		size_t		 len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		assert_int_equal(file_read(path, CA_CSR_MAX, &buf, &len, &e),
		    CA_OK);
		if (ca_csr_parse(buf, len, &csr, &e) != CA_OK)
			fail_msg("%s: %s", de->d_name, e.msg);
		for (size_t i = 0; i < n_ps; i++)
			for (size_t k = 0; k < 2; k++) {
				compare_one(g_rsa, "rsa", csr, de->d_name,
				    &ps[i], nb, nas[k]);
				compare_one(g_ec, "p256", csr, de->d_name,
				    &ps[i], nb, nas[k]);
				*n += 2;
			}
		ca_csr_free(csr);
		free(buf);
	}
	closedir(d);
}

static void
test_same_as_gnutls(void **state)
{
	unsigned n = 0;

	(void)state;
	compare_dir("csr/accept", &n);
	compare_dir("csr/issue", &n);
	/* 24 CSRs, 6 profiles, 2 validities, 2 CAs */
	assert_true(n >= 24 * 6 * 2 * 2);
}

/* openssl and python3-cryptography read what test_same_as_gnutls wrote. */
static void
test_other_parsers(void **state)
{
	char	cmd[8192];
	int	rc;

	(void)state;
	assert_true(g_written > 0);
	snprintf(cmd, sizeof(cmd), "set -e; cd %s/certs; for f in *.pem; do "
	    "case $f in [0-9][0-9][0-9][0-9]-rsa-*) ca=%s;; *) ca=%s;; esac; "
	    "openssl verify -no_check_time -CAfile $ca $f >/dev/null; "
	    "openssl x509 -in $f -noout -text >/dev/null; done",
	    g_root, g_rsa_pem, g_ec_pem);
	rc = system(cmd);
	assert_int_equal(rc, 0);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 - %s/certs %s %s <<'EOF'\n"
	    "import glob, sys\n"
	    "from cryptography import x509\n"
	    "from cryptography.hazmat.primitives import hashes\n"
	    "from cryptography.hazmat.primitives.asymmetric import ec, padding\n"
	    "cas = {'rsa': x509.load_pem_x509_certificate(open(sys.argv[2], 'rb').read()),\n"
	    "       'p256': x509.load_pem_x509_certificate(open(sys.argv[3], 'rb').read())}\n"
	    "n = 0\n"
	    "for f in sorted(glob.glob(sys.argv[1] + '/*.pem')):\n"
	    "    name = f.rsplit('/', 1)[1]\n"
	    "    ca = cas[name.split('-')[1]]\n"
	    "    c = x509.load_pem_x509_certificate(open(f, 'rb').read())\n"
	    "    pub = ca.public_key()\n"
	    "    if isinstance(pub, ec.EllipticCurvePublicKey):\n"
	    "        pub.verify(c.signature, c.tbs_certificate_bytes, ec.ECDSA(c.signature_hash_algorithm))\n"
	    "    else:\n"
	    "        pub.verify(c.signature, c.tbs_certificate_bytes, padding.PKCS1v15(), c.signature_hash_algorithm)\n"
	    "    assert c.version == x509.Version.v3, f\n"
	    "    assert c.issuer == ca.subject, f\n"
	    "    assert c.serial_number > 0 and c.serial_number.bit_length() == 127, f\n"
	    "    bc = c.extensions.get_extension_for_class(x509.BasicConstraints)\n"
	    "    assert not bc.critical and not bc.value.ca, f\n"
	    "    ku = c.extensions.get_extension_for_class(x509.KeyUsage).value\n"
	    "    assert ku.digital_signature and not ku.key_cert_sign, f\n"
	    "    ski = c.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value\n"
	    "    assert ski.digest == x509.SubjectKeyIdentifier.from_public_key(c.public_key()).digest, f\n"
	    "    aki = c.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value\n"
	    "    assert aki.key_identifier == ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest, f\n"
	    "    try:\n"
	    "        eku = list(c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)\n"
	    "    except x509.ExtensionNotFound:\n"
	    "        eku = []\n"
	    "    if '-client-only-' in name: assert eku == [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH], f\n"
	    "    elif '-server-only-' in name: assert eku == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH], f\n"
	    "    elif '-cn-only-' in name: assert eku == [], f\n"
	    "    else: assert eku == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH], f\n"
	    "    if len(c.subject) == 0 and any(e.oid == x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME for e in c.extensions):\n"
	    "        assert c.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical, f\n"
	    "    n += 1\n"
	    "assert n > 0\n"
	    "EOF", g_root, g_rsa_pem, g_ec_pem);
	rc = system(cmd);
	assert_int_equal(rc, 0);
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static struct ca *
make_ca(const char *name, enum ca_key_type kt, char *pem, size_t pem_size)
{
	struct ca_paths		p;
	struct ca_init_options	o = { "CN=certder test CA,O=mtlsca", kt, 0 };
	struct ca_error		e;
	struct ca		*ca = NULL;
	char			key[128];

	snprintf(pem, pem_size, "%s/%s.pem", g_root, name);
	snprintf(key, sizeof(key), "%s/%s.key", g_root, name);
	p.cert = pem;
	p.key = key;
	if (ca_init(&p, &o, &e) != CA_OK || ca_open(&p, &ca, &e) != CA_OK) {
		fprintf(stderr, "%s CA: %s\n", name, e.msg);
		return NULL;
	}
	return ca;
}

static int
setup(void **state)
{
	char certs[128];

	(void)state;
	if ((g_data = getenv("MTLSCA_TEST_DATA")) == NULL)
		return -1;
	snprintf(g_root, sizeof(g_root), "/tmp/test_certder.XXXXXX");
	if (mkdtemp(g_root) == NULL)
		return -1;
	snprintf(certs, sizeof(certs), "%s/certs", g_root);
	if (mkdir(certs, 0700) != 0)
		return -1;
	g_rsa = make_ca("rsa", CA_KEY_RSA2048, g_rsa_pem, sizeof(g_rsa_pem));
	g_ec = make_ca("p256", CA_KEY_ECDSA_P256, g_ec_pem, sizeof(g_ec_pem));
	return g_rsa != NULL && g_ec != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	ca_free(g_rsa);
	ca_free(g_ec);
	if (g_root[0] != '\0' && getenv("KEEP_TMP") == NULL)
		nftw(g_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* Serial numbers: 16 octets, top bits 01, the issue time in milliseconds
   first (so that later serials sort after earlier ones), 80 bits of the
   RNG after it, all different. */
static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
tail_cmp(const void *a, const void *b)
{
	return memcmp((const uint8_t *)a + 6, (const uint8_t *)b + 6, 10);
}

static void
test_serial_new(void **state)
{
	static uint8_t	s[2000][16];
	struct ca_error	e;
	uint64_t	before, after, ms;
	unsigned	bits[80] = { 0 };

	(void)state;
	before = wall_ms();
	for (size_t i = 0; i < 2000; i++) {
		assert_int_equal(ca_serial_new(s[i], &e), CA_OK);
		assert_int_equal(s[i][0] & 0xc0, 0x40);
		if (i == 999) {
			/* The next ones are at least 2 ms later. */
			struct timespec ts = { 0, 2000000 };

			nanosleep(&ts, NULL);
		}
		for (int b = 0; b < 80; b++)
			bits[b] += (s[i][6 + b / 8] >> (b % 8)) & 1;
	}
	after = wall_ms();
	for (size_t i = 0; i < 2000; i++) {
		ms = (uint64_t)(s[i][0] & 0x3f) << 40;
		for (int k = 1; k < 6; k++)
			ms |= (uint64_t)s[i][k] << (8 * (5 - k));
		assert_true(ms >= before && ms <= after);
		if (i > 0)
			assert_true(memcmp(s[i - 1], s[i], 6) <= 0);
	}
	assert_true(memcmp(s[999], s[1000], 16) < 0);
	/* Every random bit varies (each is set in about half the serials),
	   and no two tails are equal. */
	for (int b = 0; b < 80; b++)
		assert_true(bits[b] > 800 && bits[b] < 1200);
	qsort(s, 2000, 16, tail_cmp);
	for (size_t i = 1; i < 2000; i++)
		assert_int_not_equal(tail_cmp(s[i - 1], s[i]), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_as_gnutls),
		cmocka_unit_test(test_serial_new),
		cmocka_unit_test(test_other_parsers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
