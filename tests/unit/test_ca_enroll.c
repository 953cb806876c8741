/*
 * ca/ enrollment unit tests (ca/enroll.c, ca/record.c, ca/token.c): grants
 * from tokens, every policy refusal with its reason code (and nothing
 * written for it), what a commit writes (certificate, token use, audit
 * entry together), a batch with one bad item, and serial collisions on
 * every issuance path (the committer, ca_sign, ca_issue_server).
 *
 * A serial collision never happens with 126 random bits, so this
 * executable links its own ca_serial_new in place of ca/serial.c's (a
 * static library member is only pulled in for a symbol still undefined):
 * it hands out a forced serial when a test asks, and random ones
 * otherwise. Everything else is the real library on a real store.
 */
#define _XOPEN_SOURCE 700	/* nftw() */
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "ca/ca.h"
#include "common/util.h"
#include "store/store.h"

/* ---- the serial seam ---- */

static pthread_mutex_t	g_serial_mu = PTHREAD_MUTEX_INITIALIZER;
static uint8_t		g_forced[16];
static int		g_force_left;	/* draws that return g_forced */
static int		g_draws;	/* every draw, forced or not */

int ca_serial_new(uint8_t serial[16], struct ca_error *err);

int
ca_serial_new(uint8_t serial[16], struct ca_error *err)
{
	bool forced;

	(void)err;
	pthread_mutex_lock(&g_serial_mu);
	g_draws++;
	forced = g_force_left > 0;
	if (forced) {
		g_force_left--;
		memcpy(serial, g_forced, 16);
	}
	pthread_mutex_unlock(&g_serial_mu);
	if (forced)
		return CA_OK;
	if (gnutls_rnd(GNUTLS_RND_RANDOM, serial, 16) < 0)
		return CA_ECRYPTO;
	serial[0] = (uint8_t)((serial[0] & 0x3f) | 0x40);
	return CA_OK;
}

static void
force_serial(const uint8_t serial[16], int draws)
{
	pthread_mutex_lock(&g_serial_mu);
	memcpy(g_forced, serial, 16);
	g_force_left = draws;
	pthread_mutex_unlock(&g_serial_mu);
}

static int
draws(void)
{
	int n;

	pthread_mutex_lock(&g_serial_mu);
	n = g_draws;
	pthread_mutex_unlock(&g_serial_mu);
	return n;
}

/* ---- fixtures ---- */

#define STATIC_TOKEN	"enroll-static-token"
#define ADMIN_TOKEN	"enroll-admin-token"
#define ADMIN_SUBJECT	"CN=the-admin"
#define SERVICE_NAME	"ca.example.com"

static char			 g_root[64];
static struct ca		*g_ca;
static struct store		*g_st;
static struct ca_enroller	*g_en;

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct ca_paths			paths;
	struct ca_init_options		io;
	struct store_options		so;
	struct ca_enroller_options	eo;
	struct ca_static_token		tok;
	struct ca_profile		prof[2];
	struct ca_error			e;
	uint8_t				admin[1][CA_HASH_LEN];
	const char			*subjects[] = { ADMIN_SUBJECT };
	char				cert[128], key[128], db[128];

	(void)state;
	snprintf(g_root, sizeof(g_root), "/tmp/test_ca_enroll.XXXXXX");
	if (mkdtemp(g_root) == NULL)
		return -1;
	snprintf(cert, sizeof(cert), "%s/ca.pem", g_root);
	snprintf(key, sizeof(key), "%s/ca.key", g_root);
	snprintf(db, sizeof(db), "%s/db", g_root);
	paths.cert = cert;
	paths.key = key;
	memset(&io, 0, sizeof(io));
	io.key_type = CA_KEY_ECDSA_P256;
	io.subject = "CN=enroll test CA";
	memset(&so, 0, sizeof(so));
	so.dir = db;
	so.map_size = 64 << 20;
	if (ca_init(&paths, &io, &e) != CA_OK ||
	    ca_open(&paths, &g_ca, &e) != CA_OK ||
	    dir_make(db, 0700, &e) != CA_OK ||
	    store_open(&so, &g_st, &e) != CA_OK) {
		fprintf(stderr, "setup: %s\n", e.msg);
		return -1;
	}
	ca_profile_default(&prof[0]);
	if (ca_profile_deny(&prof[0], SERVICE_NAME) != CA_OK)
		return -1;
	ca_profile_default(&prof[1]);
	snprintf(prof[1].name, sizeof(prof[1].name), "short");
	prof[1].days = 7;
	prof[1].max_days = 30;
	memset(&tok, 0, sizeof(tok));
	snprintf(tok.profile, sizeof(tok.profile), "client");
	ca_token_hash(STATIC_TOKEN, tok.hash);
	ca_token_hash(ADMIN_TOKEN, admin[0]);
	memset(&eo, 0, sizeof(eo));
	eo.profiles = prof;
	eo.n_profiles = 2;
	eo.tokens = &tok;
	eo.n_tokens = 1;
	eo.admin_token_hashes = (const uint8_t (*)[CA_HASH_LEN])admin;
	eo.n_admin_token_hashes = 1;
	eo.admin_subjects = subjects;
	eo.n_admin_subjects = 1;
	if (ca_enroller_new(g_ca, g_st, &eo, &g_en, &e) != CA_OK) {
		fprintf(stderr, "ca_enroller_new: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	ca_enroller_free(g_en);
	store_close(g_st);
	ca_free(g_ca);
	if (g_root[0] != '\0')
		nftw(g_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* A fresh P-256 key's CSR for dn (with a DNS SAN if dns), as PEM. */
static char *
make_csr(const char *dn, const char *dns)
{
	gnutls_x509_privkey_t	k;
	gnutls_x509_crq_t	q;
	gnutls_datum_t		d;
	char			*pem;

	assert_int_equal(gnutls_x509_privkey_init(&k), 0);
	assert_int_equal(gnutls_x509_crq_init(&q), 0);
	assert_int_equal(gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0), 0);
	assert_int_equal(gnutls_x509_crq_set_dn(q, dn, NULL), 0);
	if (dns != NULL)
		assert_int_equal(gnutls_x509_crq_set_subject_alt_name(q,
		    GNUTLS_SAN_DNSNAME, dns, (unsigned)strlen(dns),
		    GNUTLS_FSAN_APPEND), 0);
	assert_int_equal(gnutls_x509_crq_set_key(q, k), 0);
	assert_int_equal(gnutls_x509_crq_sign2(q, k, GNUTLS_DIG_SHA256, 0), 0);
	assert_int_equal(gnutls_x509_crq_export2(q, GNUTLS_X509_FMT_PEM, &d),
	    0);
	pem = strndup((char *)d.data, d.size);
	gnutls_free(d.data);
	gnutls_x509_crq_deinit(q);
	gnutls_x509_privkey_deinit(k);
	return pem;
}

/* A one-time token in the store. */
static void
put_token(const char *text, const char *profile, const char *cn,
    uint32_t uses, int64_t ttl)
{
	struct store_token	tok;
	uint8_t			h[CA_HASH_LEN];

	memset(&tok, 0, sizeof(tok));
	snprintf(tok.profile, sizeof(tok.profile), "%s", profile);
	snprintf(tok.cn, sizeof(tok.cn), "%s", cn);
	tok.created_at = time_now() - 10;
	tok.expires_at = time_now() + ttl;
	tok.uses_left = uses;
	ca_token_hash(text, h);
	assert_int_equal(store_token_put(g_st, h, &tok, NULL), CA_OK);
}

static void
grant_of(const char *token, struct ca_grant *g)
{
	uint8_t		h[CA_HASH_LEN];
	struct ca_error	e;

	ca_token_hash(token, h);
	if (ca_grant_token(g_en, h, g, &e) != CA_OK)
		fail_msg("grant of %s: %s", token, e.msg);
}

static uint32_t
uses_left(const char *token)
{
	struct store_token	tok;
	uint8_t			h[CA_HASH_LEN];

	ca_token_hash(token, h);
	assert_int_equal(store_token_get(g_st, h, &tok, NULL), CA_OK);
	return tok.uses_left;
}

static int
count_cb(const struct cert_record *rec, void *arg)
{
	(void)rec;
	(*(size_t *)arg)++;
	return 0;
}

static size_t
n_certs(void)
{
	size_t n = 0;

	assert_int_equal(store_cert_foreach(g_st, NULL, 0, count_cb, &n, NULL),
	    CA_OK);
	return n;
}

struct audit_find {
	const char	*action;
	char		 serial[SERIAL_HEX_MAX + 2];
	char		 who[128], detail[1024];
	int		 found;
};

static int
audit_find_cb(const struct store_audit *a, void *arg)
{
	struct audit_find	*af = arg;
	char			 want[SERIAL_HEX_MAX + 16];

	snprintf(want, sizeof(want), "serial=%s ", af->serial);
	if (strcmp(a->action, af->action) == 0 &&
	    strncmp(a->detail, want, strlen(want)) == 0) {
		af->found++;
		snprintf(af->who, sizeof(af->who), "%s", a->who);
		snprintf(af->detail, sizeof(af->detail), "%s", a->detail);
	}
	return 0;
}

/* The audit entry of serial for action (asserted to be exactly one). */
static void
audit_of(const uint8_t *serial, size_t len, const char *action,
    struct audit_find *af)
{
	memset(af, 0, sizeof(*af));
	af->action = action;
	serial_format(serial, len, af->serial);
	assert_int_equal(store_audit_foreach(g_st, 0, audit_find_cb, af, NULL),
	    CA_OK);
	assert_int_equal(af->found, 1);
}

static bool
in_store(const uint8_t *serial, size_t len)
{
	struct cert_record	rec;
	int			rc;

	memset(&rec, 0, sizeof(rec));
	rc = store_cert_get(g_st, serial, len, &rec, NULL);
	cert_record_clear(&rec);
	return rc == CA_OK;
}

/* ---- tokens ---- */

static void
test_tokens(void **state)
{
	char	t1[CA_TOKEN_TEXT_MAX], t2[CA_TOKEN_TEXT_MAX], hex[65];
	uint8_t	h[CA_HASH_LEN], h2[CA_HASH_LEN];

	(void)state;
	assert_int_equal(ca_token_generate(t1, NULL), CA_OK);
	assert_int_equal(ca_token_generate(t2, NULL), CA_OK);
	assert_int_equal(strlen(t1), 43);
	assert_string_not_equal(t1, t2);
	assert_int_equal(strspn(t1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
	    "opqrstuvwxyz0123456789-_"), 43);
	/* FIPS 180-2 appendix B.1 */
	ca_token_hash("abc", h);
	hex_format(h, sizeof(h), hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396"
	    "177a9cb410ff61f20015ad");
	memcpy(h2, h, sizeof(h));
	assert_true(ca_hash_eq(h, h2));
	h2[31] ^= 1;
	assert_false(ca_hash_eq(h, h2));
}

/* ---- grants ---- */

static void
test_grant_token(void **state)
{
	struct ca_grant	g;
	struct ca_error	e;
	uint8_t		h[CA_HASH_LEN];
	static const struct {
		const char	*token;
		const char	*reason;
	} refused[] = {
		{ "never-made", CA_REASON_TOKEN_UNKNOWN },
		{ "grant-expired", CA_REASON_TOKEN_EXPIRED },
		{ "grant-used", CA_REASON_TOKEN_USED },
	};

	(void)state;
	grant_of(STATIC_TOKEN, &g);
	assert_int_equal(g.kind, CA_GRANT_STATIC);
	assert_string_equal(g.profile, "client");
	assert_string_equal(g.cn, "");
	assert_true(strncmp(g.who, "static-token:", 13) == 0);

	grant_of(ADMIN_TOKEN, &g);
	assert_int_equal(g.kind, CA_GRANT_ADMIN);
	assert_string_equal(g.profile, "");
	assert_true(strncmp(g.who, "admin-token:", 12) == 0);

	put_token("grant-once", "short", "alice", 1, 3600);
	grant_of("grant-once", &g);
	assert_int_equal(g.kind, CA_GRANT_ONE_TIME);
	assert_string_equal(g.profile, "short");
	assert_string_equal(g.cn, "alice");
	ca_token_hash("grant-once", h);
	assert_memory_equal(g.token_hash, h, CA_HASH_LEN);
	/* who names the token by its hash's first bytes, never in clear */
	assert_true(strncmp(g.who, "token:", 6) == 0);
	assert_null(strstr(g.who, "grant-once"));

	put_token("grant-expired", "client", "", 1, -1);
	put_token("grant-used", "client", "", 0, 3600);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		ca_error_clear(&e);
		ca_token_hash(refused[i].token, h);
		assert_int_equal(ca_grant_token(g_en, h, &g, &e),
		    CA_EFORBIDDEN);
		assert_int_equal(e.code, CA_EFORBIDDEN);
		assert_non_null(e.reason);
		assert_string_equal(e.reason, refused[i].reason);
		assert_true(strlen(e.msg) > 10);
	}
}

/*
 * The store's admin token (serve's first start, `mtlsca admin token
 * rotate`): read on every check, so a rotation counts at once; the
 * configuration's admin tokens are not touched by it.
 */
static void
test_admin_token_rotate(void **state)
{
	struct ca_grant	g;
	struct ca_error	e;
	char		t1[CA_TOKEN_TEXT_MAX], t2[CA_TOKEN_TEXT_MAX];
	uint8_t		h1[CA_HASH_LEN], h2[CA_HASH_LEN], hc[CA_HASH_LEN];

	(void)state;
	ca_token_hash(ADMIN_TOKEN, hc);
	assert_int_equal(ca_admin_token_rotate(g_st, t1, &e), CA_OK);
	assert_int_equal(strlen(t1), 43);
	ca_token_hash(t1, h1);
	assert_true(ca_admin_token_stored(g_st, h1));
	assert_true(ca_enroller_admin_token(g_en, h1));
	assert_int_equal(ca_grant_token(g_en, h1, &g, &e), CA_OK);
	assert_int_equal(g.kind, CA_GRANT_ADMIN);

	assert_int_equal(ca_admin_token_rotate(g_st, t2, &e), CA_OK);
	assert_string_not_equal(t1, t2);
	ca_token_hash(t2, h2);
	assert_false(ca_admin_token_stored(g_st, h1));
	assert_false(ca_enroller_admin_token(g_en, h1));
	ca_error_clear(&e);
	assert_int_equal(ca_grant_token(g_en, h1, &g, &e), CA_EFORBIDDEN);
	assert_string_equal(e.reason, CA_REASON_TOKEN_UNKNOWN);
	assert_true(ca_enroller_admin_token(g_en, h2));
	/* The configuration's admin token is not the store's. */
	assert_false(ca_admin_token_stored(g_st, hc));
	assert_true(ca_enroller_admin_token(g_en, hc));
	assert_false(ca_admin_token_stored(NULL, h2));
	assert_int_equal(store_meta_delete(g_st, CA_META_ADMIN_TOKEN, &e),
	    CA_OK);
	assert_false(ca_enroller_admin_token(g_en, h2));
}

/* ---- the policy ---- */

/* A renewal grant for a certificate of subject dn and profile. */
static void
renewal_grant(const char *dn, const char *profile, struct ca_grant *g)
{
	struct ca_peer		peer;
	struct cert_record	rec;

	memset(&peer, 0, sizeof(peer));
	memset(&rec, 0, sizeof(rec));
	snprintf(peer.subject, sizeof(peer.subject), "%s", dn);
	peer.serial[0] = 0x42;
	peer.serial_len = 1;
	snprintf(rec.profile, sizeof(rec.profile), "%s", profile);
	ca_grant_renewal(&peer, &rec, g);
}

/* Every refusal names its rule, and leaves the store as it was: no
   certificate, no token use. */
static void
test_policy_refusals(void **state)
{
	struct ca_grant	 g_static, g_admin, g_bound, g_renew_other,
			 g_renew_profile, g_renew_gone;
	char		*alice = make_csr("CN=alice", NULL);
	char		*bob = make_csr("CN=bob", NULL);
	char		*admin = make_csr(ADMIN_SUBJECT, NULL);
	char		*service = make_csr("CN=client-7", "*.example.com");
	char		*service_cn = make_csr("CN=" SERVICE_NAME, NULL);
	char		*two_cn = make_csr("CN=a,CN=b", NULL);
	const struct {
		const char		*what;
		const struct ca_grant	*g;
		const char		*csr;
		const char		*profile;
		unsigned		 days;
		int			 rc;
		const char		*reason;
	} t[] = {
		{ "a token for another profile", &g_static, alice, "short", 0,
		    CA_EFORBIDDEN, CA_REASON_PROFILE_MISMATCH },
		{ "no such profile", &g_admin, alice, "nope", 0, CA_EPOLICY,
		    CA_REASON_PROFILE_UNKNOWN },
		{ "a token bound to another CN", &g_bound, bob, NULL, 0,
		    CA_EFORBIDDEN, CA_REASON_TOKEN_BOUND_CN },
		{ "an admin subject by a non-admin", &g_static, admin, NULL, 0,
		    CA_EFORBIDDEN, CA_REASON_ADMIN_SUBJECT },
		{ "the service's name (SAN wildcard)", &g_static, service, NULL,
		    0, CA_EPOLICY, CA_REASON_SERVER_NAME },
		{ "the service's name (CN)", &g_admin, service_cn, NULL, 0,
		    CA_EPOLICY, CA_REASON_SERVER_NAME },
		{ "renewal to another subject", &g_renew_other, alice, NULL, 0,
		    CA_EPOLICY, CA_REASON_RENEWAL_SUBJECT },
		{ "renewal to another profile", &g_renew_profile, alice,
		    "short", 0, CA_EPOLICY, CA_REASON_RENEWAL_PROFILE },
		{ "renewal of an imported certificate", &g_renew_gone, alice,
		    NULL, 0, CA_EPOLICY, CA_REASON_RENEWAL_PROFILE },
		{ "not a CSR", &g_static, "-----BEGIN CERTIFICATE REQUEST-----"
		    "\nAAAA\n-----END CERTIFICATE REQUEST-----\n", NULL, 0,
		    CA_EMALF, CA_REASON_CSR_MALFORMED },
		{ "over the profile's days", &g_admin, alice, "short", 31,
		    CA_EPOLICY, CA_REASON_VALIDITY },
		{ "two CNs", &g_static, two_cn, NULL, 0, CA_EPOLICY,
		    CA_REASON_SUBJECT },
	};
	struct ca_enrolled	out;
	struct ca_error		e;
	size_t			before = n_certs();

	(void)state;
	grant_of(STATIC_TOKEN, &g_static);
	grant_of(ADMIN_TOKEN, &g_admin);
	put_token("bound-alice", "client", "alice", 1, 3600);
	grant_of("bound-alice", &g_bound);
	renewal_grant("CN=carol", "client", &g_renew_other);
	renewal_grant("CN=alice", "client", &g_renew_profile);
	renewal_grant("CN=alice", "", &g_renew_gone);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc;

		ca_error_clear(&e);
		rc = ca_enroll(g_en, t[i].g, (const uint8_t *)t[i].csr,
		    strlen(t[i].csr), t[i].profile, t[i].days, &out, NULL,
		    NULL, &e);
		if (rc != t[i].rc || e.reason == NULL ||
		    strcmp(e.reason, t[i].reason) != 0)
			fprintf(stderr, "%s: %d %s (%s)\n", t[i].what, rc,
			    e.reason ? e.reason : "(no reason)", e.msg);
		assert_int_equal(rc, t[i].rc);
		assert_int_equal(out.rc, rc);
		assert_int_equal(e.code, rc);
		assert_non_null(e.reason);
		assert_string_equal(e.reason, t[i].reason);
		assert_string_equal(out.err.reason, t[i].reason);
		assert_string_equal(out.err.msg, e.msg);
		assert_true(strlen(e.msg) > 10);
		assert_null(out.iss.der);
		ca_enrolled_clear(&out);
	}
	assert_int_equal(n_certs(), before);
	assert_int_equal(uses_left("bound-alice"), 1);

	/* The same requests where the rule allows them. */
	assert_int_equal(ca_enroll(g_en, &g_admin, (const uint8_t *)admin,
	    strlen(admin), NULL, 0, &out, NULL, NULL, &e), CA_OK);
	assert_string_equal(out.iss.subject, ADMIN_SUBJECT);
	ca_enrolled_clear(&out);
	assert_int_equal(ca_enroll(g_en, &g_bound, (const uint8_t *)alice,
	    strlen(alice), NULL, 0, &out, NULL, NULL, &e), CA_OK);
	ca_enrolled_clear(&out);
	assert_int_equal(uses_left("bound-alice"), 0);
	assert_int_equal(ca_enroll(g_en, &g_admin, (const uint8_t *)alice,
	    strlen(alice), "short", 30, &out, NULL, NULL, &e), CA_OK);
	assert_string_equal(out.iss.profile, "short");
	ca_enrolled_clear(&out);
	assert_int_equal(n_certs(), before + 3);
	free(alice);
	free(bob);
	free(admin);
	free(service);
	free(service_cn);
	free(two_cn);
}

/* ---- what a commit writes ---- */

static void
test_enroll_records(void **state)
{
	struct ca_grant		g, gr;
	struct ca_enrolled	out, ren;
	struct ca_peer		peer;
	struct cert_record	rec;
	struct audit_find	af;
	struct ca_error		e;
	char			*csr = make_csr("CN=dora", NULL);
	char			 old[SERIAL_HEX_MAX + 2];

	(void)state;
	put_token("records-1", "client", "", 1, 3600);
	grant_of("records-1", &g);
	assert_int_equal(ca_enroll(g_en, &g, (const uint8_t *)csr, strlen(csr),
	    NULL, 0, &out, NULL, NULL, &e), CA_OK);
	assert_int_equal(out.rc, CA_OK);
	assert_false(out.renewal);
	assert_non_null(out.iss.pem);
	assert_string_equal(out.iss.subject, "CN=dora");
	/* certificate, token use and audit entry, committed together */
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(store_cert_get(g_st, out.iss.serial,
	    out.iss.serial_len, &rec, NULL), CA_OK);
	assert_int_equal(rec.der_len, out.iss.der_len);
	assert_memory_equal(rec.der, out.iss.der, rec.der_len);
	cert_record_clear(&rec);
	assert_int_equal(uses_left("records-1"), 0);
	audit_of(out.iss.serial, out.iss.serial_len, "issue", &af);
	assert_string_equal(af.who, g.who);
	assert_non_null(strstr(af.detail, "profile=client subject=CN=dora"));

	/* Renewal with that certificate: a new serial, audited as such. */
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(ca_peer_verify(g_ca, g_st, out.iss.der,
	    out.iss.der_len, time_now(), &peer, &rec, &e), CA_OK);
	ca_grant_renewal(&peer, &rec, &gr);
	cert_record_clear(&rec);
	assert_int_equal(gr.kind, CA_GRANT_RENEWAL);
	assert_string_equal(gr.profile, "client");
	assert_int_equal(ca_enroll(g_en, &gr, (const uint8_t *)csr,
	    strlen(csr), NULL, 0, &ren, NULL, NULL, &e), CA_OK);
	assert_true(ren.renewal);
	assert_memory_not_equal(ren.iss.serial, out.iss.serial, 16);
	audit_of(ren.iss.serial, ren.iss.serial_len, "renew", &af);
	serial_format(out.iss.serial, out.iss.serial_len, old);
	assert_non_null(strstr(af.detail, old));
	assert_string_equal(af.who, gr.who);
	ca_enrolled_clear(&ren);
	ca_enrolled_clear(&out);
	free(csr);
}

/* A certificate the store does not know never logs in. */
static void
test_peer_verify(void **state)
{
	struct ca_csr		*csr = NULL;
	struct ca_profile	 p;
	struct ca_issued	 iss;
	struct ca_peer		 peer;
	struct ca_error		 e;
	char			*pem = make_csr("CN=erin", NULL);

	(void)state;
	ca_profile_default(&p);
	assert_int_equal(ca_csr_parse((const uint8_t *)pem, strlen(pem), &csr,
	    &e), CA_OK);
	memset(&iss, 0, sizeof(iss));
	assert_int_equal(ca_issue(g_ca, csr, &p, 0, time_now(), &iss, &e),
	    CA_OK);
	assert_int_equal(ca_peer_verify(g_ca, g_st, iss.der, iss.der_len,
	    time_now(), &peer, NULL, &e), CA_EFORBIDDEN);
	assert_string_equal(e.reason, CA_REASON_PEER_UNKNOWN);
	ca_issued_clear(&iss);
	assert_int_equal(ca_sign(g_ca, g_st, csr, &p, 0, "cli:unit", &iss, &e),
	    CA_OK);
	assert_int_equal(ca_peer_verify(g_ca, g_st, iss.der, iss.der_len,
	    time_now(), &peer, NULL, &e), CA_OK);
	assert_string_equal(peer.subject, "CN=erin");
	assert_int_equal(ca_peer_verify(g_ca, g_st, iss.der, iss.der_len,
	    iss.not_after + 10, &peer, NULL, &e), CA_EFORBIDDEN);
	assert_string_equal(e.reason, CA_REASON_PEER_UNTRUSTED);
	ca_issued_clear(&iss);
	ca_csr_free(csr);
	free(pem);
}

/* ---- the committer: a batch with one bad item ---- */

struct waiter {
	pthread_mutex_t	mu;
	pthread_cond_t	cond;
	int		done;
};

static void
done_cb(void *ctx, struct ca_enrolled *res)
{
	struct waiter *w = ctx;

	(void)res;
	pthread_mutex_lock(&w->mu);
	w->done++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

/*
 * A write transaction held by the test keeps the committer from
 * committing: the first request is taken (alone) and waits for the lock,
 * the next three queue up behind it and form the next batch, two of them
 * spending the same one-use token. The loser is taken out, the batch is
 * redone without it: the other two commit together, the token is spent
 * once, the loser's certificate is nowhere.
 */
static void
test_batch_one_bad(void **state)
{
	struct ca_grant			 g_static, g_race;
	struct ca_enrolled		 res[4];
	struct ca_enroller_stats	 s0, s1;
	struct store_txn		*txn = NULL;
	struct waiter			 w;
	struct ca_error			 e;
	char				*csr[4];
	const struct ca_grant		*who[4];
	int				 ok = 0, lost = -1;

	(void)state;
	put_token("race-1", "client", "", 1, 3600);
	grant_of(STATIC_TOKEN, &g_static);
	grant_of("race-1", &g_race);
	who[0] = &g_static;
	who[1] = &g_race;
	who[2] = &g_race;
	who[3] = &g_static;
	for (int i = 0; i < 4; i++) {
		char dn[32];

		snprintf(dn, sizeof(dn), "CN=batch-%d", i);
		csr[i] = make_csr(dn, NULL);
	}
	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cond, NULL);
	ca_enroller_stats(g_en, &s0);
	assert_int_equal(store_txn_begin(g_st, &txn, &e), CA_OK);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(ca_enroll(g_en, who[i],
		    (const uint8_t *)csr[i], strlen(csr[i]), NULL, 0, &res[i],
		    done_cb, &w, &e), CA_OK);
		if (i == 0)
			usleep(100 * 1000);	/* the committer takes it */
	}
	pthread_mutex_lock(&w.mu);
	assert_int_equal(w.done, 0);	/* nothing answered before the commit */
	pthread_mutex_unlock(&w.mu);
	store_txn_abort(txn);
	pthread_mutex_lock(&w.mu);
	while (w.done < 4)
		pthread_cond_wait(&w.cond, &w.mu);
	pthread_mutex_unlock(&w.mu);
	ca_enroller_stats(g_en, &s1);
	for (int i = 0; i < 4; i++) {
		if (res[i].rc == CA_OK) {
			ok++;
			assert_true(in_store(res[i].iss.serial,
			    res[i].iss.serial_len));
		} else {
			lost = i;
			assert_int_equal(res[i].rc, CA_EFORBIDDEN);
			assert_string_equal(res[i].err.reason,
			    CA_REASON_TOKEN_USED);
			assert_null(res[i].iss.der);
		}
	}
	assert_int_equal(ok, 3);
	assert_true(lost == 1 || lost == 2);
	assert_int_equal(uses_left("race-1"), 0);
	/* three certificates, and at most two transactions: the bad item
	   was taken out of its batch, not committed alone after it */
	assert_int_equal(s1.committed - s0.committed, 3);
	assert_true(s1.commits - s0.commits <= 2);
	for (int i = 0; i < 4; i++) {
		ca_enrolled_clear(&res[i]);
		free(csr[i]);
	}
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.mu);
}

/* ---- renewal rules and bound SANs ---- */

/* Enroll dn (and dns) under the admin token; the grant to renew it. */
static void
issued_and_renewal(struct ca_enroller *en, const char *dn, const char *dns,
    struct ca_enrolled *out, struct ca_grant *renew)
{
	struct ca_grant		g;
	struct ca_peer		peer;
	struct cert_record	rec;
	struct ca_error		e;
	char			*csr = make_csr(dn, dns);

	grant_of(ADMIN_TOKEN, &g);
	if (ca_enroll(en, &g, (const uint8_t *)csr, strlen(csr), NULL, 0,
	    out, NULL, NULL, &e) != CA_OK)
		fail_msg("enroll %s: %s", dn, e.msg);
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(ca_peer_verify(g_ca, g_st, out->iss.der,
	    out->iss.der_len, time_now(), &peer, &rec, &e), CA_OK);
	ca_grant_renewal(&peer, &rec, renew);
	cert_record_clear(&rec);
	free(csr);
}

static int
renew_with(struct ca_enroller *en, const struct ca_grant *g, const char *dn,
    const char *dns, struct ca_enrolled *out, struct ca_error *e)
{
	char	*csr = make_csr(dn, dns);
	int	 rc;

	ca_error_clear(e);
	rc = ca_enroll(en, g, (const uint8_t *)csr, strlen(csr), NULL, 0, out,
	    NULL, NULL, e);
	free(csr);
	return rc;
}

/*
 * Renewal keeps exactly the identities of the certificate renewed (the
 * subject as issued, the SANs: nothing added, nothing lost), runs every
 * policy check, and happens once per certificate — even for two renewals
 * racing in one batch.
 */
static void
test_renewal_rules(void **state)
{
	struct ca_enroller_options	 eo;
	struct ca_enroller		*narrow = NULL;
	struct ca_profile		 prof;
	struct ca_enrolled		 a, b, c, res[2];
	struct ca_grant			 ra, rb, rc2;
	struct store_renewal		 mark;
	struct ca_error			 e;
	struct waiter			 w;
	struct store_txn		*txn = NULL;
	const char			*admins[] = { "CN=ops-admin" };
	char				 hex[SERIAL_HEX_MAX + 2];
	char				*csr;
	int				 ok = 0;

	(void)state;
	/* The issue's case: the profile no longer copies OU, so renewing
	   OU=contractors, CN=ops-admin would issue CN=ops-admin, an admin
	   subject. Refused: renewal keeps the subject. */
	issued_and_renewal(g_en, "CN=ops-admin,OU=contractors", NULL, &a, &ra);
	ca_profile_default(&prof);
	prof.n_allowed = 1;
	snprintf(prof.subject_allowed[0], sizeof(prof.subject_allowed[0]),
	    "CN");
	memset(&eo, 0, sizeof(eo));
	eo.profiles = &prof;
	eo.n_profiles = 1;
	eo.admin_subjects = admins;
	eo.n_admin_subjects = 1;
	assert_int_equal(ca_enroller_new(g_ca, g_st, &eo, &narrow, &e), CA_OK);
	assert_int_equal(renew_with(narrow, &ra,
	    "CN=ops-admin,OU=contractors", NULL, &b, &e), CA_EPOLICY);
	assert_string_equal(e.reason, CA_REASON_RENEWAL_IDENTITY);
	assert_non_null(strstr(e.msg, "would now issue 'CN=ops-admin'"));
	ca_enroller_free(narrow);

	/* No SAN added, none lost. */
	assert_int_equal(renew_with(g_en, &ra, "CN=ops-admin,OU=contractors",
	    "payments.internal.example", &b, &e), CA_EPOLICY);
	assert_string_equal(e.reason, CA_REASON_RENEWAL_IDENTITY);
	assert_non_null(strstr(e.msg, "dns:payments.internal.example"));
	ca_enrolled_clear(&a);
	issued_and_renewal(g_en, "CN=erin", "erin.example.com", &a, &ra);
	assert_int_equal(renew_with(g_en, &ra, "CN=erin", NULL, &b, &e),
	    CA_EPOLICY);
	assert_non_null(strstr(e.msg, "leaves out dns:erin.example.com"));
	/* The same names (a DNS name in another case is the same name). */
	assert_int_equal(renew_with(g_en, &ra, "CN=erin", "ERIN.example.com",
	    &b, &e), CA_OK);

	/* Once: the same certificate again is refused (409), naming the
	   renewal; the new one renews in turn. */
	assert_int_equal(renew_with(g_en, &ra, "CN=erin", "erin.example.com",
	    &c, &e), CA_EEXIST);
	assert_string_equal(e.reason, CA_REASON_RENEWED);
	serial_format(b.iss.serial, b.iss.serial_len, hex);
	assert_non_null(strstr(e.msg, hex));
	assert_int_equal(store_renewal_get(g_st, ra.peer.serial,
	    ra.peer.serial_len, &mark, &e), CA_OK);
	assert_memory_equal(mark.serial, b.iss.serial, b.iss.serial_len);
	{
		struct cert_record	rec;
		struct ca_peer		peer;

		memset(&rec, 0, sizeof(rec));
		assert_int_equal(ca_peer_verify(g_ca, g_st, b.iss.der,
		    b.iss.der_len, time_now(), &peer, &rec, &e), CA_OK);
		ca_grant_renewal(&peer, &rec, &rb);
		cert_record_clear(&rec);
	}
	assert_int_equal(renew_with(g_en, &rb, "CN=erin", "erin.example.com",
	    &c, &e), CA_OK);
	ca_enrolled_clear(&a);
	ca_enrolled_clear(&b);
	ca_enrolled_clear(&c);

	/* Two renewals of one certificate in one batch: one commits. */
	issued_and_renewal(g_en, "CN=frank", NULL, &a, &rc2);
	csr = make_csr("CN=frank", NULL);
	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cond, NULL);
	assert_int_equal(store_txn_begin(g_st, &txn, &e), CA_OK);
	for (int i = 0; i < 2; i++)
		assert_int_equal(ca_enroll(g_en, &rc2, (const uint8_t *)csr,
		    strlen(csr), NULL, 0, &res[i], done_cb, &w, &e), CA_OK);
	store_txn_abort(txn);
	pthread_mutex_lock(&w.mu);
	while (w.done < 2)
		pthread_cond_wait(&w.cond, &w.mu);
	pthread_mutex_unlock(&w.mu);
	for (int i = 0; i < 2; i++) {
		if (res[i].rc == CA_OK) {
			ok++;
			continue;
		}
		assert_int_equal(res[i].rc, CA_EEXIST);
		assert_string_equal(res[i].err.reason, CA_REASON_RENEWED);
		assert_false(in_store(res[i].iss.serial,
		    res[i].iss.serial_len) && res[i].iss.serial_len > 0);
	}
	assert_int_equal(ok, 1);
	for (int i = 0; i < 2; i++)
		ca_enrolled_clear(&res[i]);
	ca_enrolled_clear(&a);
	free(csr);
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.mu);
}

/* A bound token grants its SANs and no other. */
static void
test_bound_sans(void **state)
{
	struct store_token	 tok;
	struct ca_grant		 g;
	struct ca_enrolled	 out;
	struct ca_error		 e;
	uint8_t			 h[CA_HASH_LEN];
	char			*ok_csr = make_csr("CN=gina", "Gina.Example.com.");
	char			*more = make_csr("CN=gina",
	    "payments.internal.example");
	char			*none = make_csr("CN=gina", NULL);

	(void)state;
	memset(&tok, 0, sizeof(tok));
	snprintf(tok.profile, sizeof(tok.profile), "client");
	snprintf(tok.cn, sizeof(tok.cn), "gina");
	assert_int_equal(ca_san_parse("DNS:gina.example.com", tok.sans[0],
	    sizeof(tok.sans[0]), &e), CA_OK);
	assert_string_equal(tok.sans[0], "dns:gina.example.com");
	tok.n_sans = 1;
	tok.created_at = time_now();
	tok.expires_at = time_now() + 3600;
	tok.uses_left = 3;
	ca_token_hash("bound-gina", h);
	assert_int_equal(store_token_put(g_st, h, &tok, NULL), CA_OK);
	grant_of("bound-gina", &g);
	assert_true(g.bound);
	ca_error_clear(&e);
	assert_int_equal(ca_enroll(g_en, &g, (const uint8_t *)more,
	    strlen(more), NULL, 0, &out, NULL, NULL, &e), CA_EFORBIDDEN);
	assert_string_equal(e.reason, CA_REASON_TOKEN_BOUND_SAN);
	assert_non_null(strstr(e.msg, "dns:payments.internal.example"));
	assert_int_equal(uses_left("bound-gina"), 3);
	assert_int_equal(ca_enroll(g_en, &g, (const uint8_t *)ok_csr,
	    strlen(ok_csr), NULL, 0, &out, NULL, NULL, &e), CA_OK);
	ca_enrolled_clear(&out);
	assert_int_equal(ca_enroll(g_en, &g, (const uint8_t *)none,
	    strlen(none), NULL, 0, &out, NULL, NULL, &e), CA_OK);
	ca_enrolled_clear(&out);
	/* Bound to a CN alone: no SAN at all. */
	put_token("bound-cn-only", "client", "gina", 1, 3600);
	grant_of("bound-cn-only", &g);
	assert_int_equal(ca_enroll(g_en, &g, (const uint8_t *)ok_csr,
	    strlen(ok_csr), NULL, 0, &out, NULL, NULL, &e), CA_EFORBIDDEN);
	assert_string_equal(e.reason, CA_REASON_TOKEN_BOUND_SAN);
	/* Unbound tokens are not restricted. */
	grant_of(STATIC_TOKEN, &g);
	assert_int_equal(ca_enroll(g_en, &g, (const uint8_t *)more,
	    strlen(more), NULL, 0, &out, NULL, NULL, &e), CA_OK);
	ca_enrolled_clear(&out);
	free(ok_csr);
	free(more);
	free(none);
}

/* ---- serial collisions, on every issuance path ---- */

static void
test_serial_collision(void **state)
{
	struct ca_csr		*csr = NULL;
	struct ca_profile	 p;
	struct ca_issued	 first, again;
	struct ca_enrolled	 out;
	struct ca_grant		 g;
	struct audit_find	 af;
	struct ca_error		 e;
	char			*pem = make_csr("CN=frank", NULL);
	char			*cert = NULL, *key = NULL;
	const char		*names[] = { "localhost" };
	int			 d0;

	(void)state;
	ca_profile_default(&p);
	assert_int_equal(ca_csr_parse((const uint8_t *)pem, strlen(pem), &csr,
	    &e), CA_OK);
	memset(&first, 0, sizeof(first));
	assert_int_equal(ca_sign(g_ca, g_st, csr, &p, 0, "cli:unit", &first,
	    &e), CA_OK);
	/* `mtlsca sign`'s audit entry, committed with the certificate */
	audit_of(first.serial, first.serial_len, "issue", &af);
	assert_string_equal(af.who, "cli:unit");

	/* ca_sign: the taken serial is drawn once, then a fresh one. */
	force_serial(first.serial, 1);
	d0 = draws();
	memset(&again, 0, sizeof(again));
	assert_int_equal(ca_sign(g_ca, g_st, csr, &p, 0, "cli:unit", &again,
	    &e), CA_OK);
	assert_int_equal(draws() - d0, 2);
	assert_memory_not_equal(again.serial, first.serial, 16);
	assert_true(in_store(again.serial, again.serial_len));
	ca_issued_clear(&again);

	/* The committer signs again after the collision in its batch. */
	grant_of(STATIC_TOKEN, &g);
	force_serial(first.serial, 1);
	d0 = draws();
	assert_int_equal(ca_enroll(g_en, &g, (const uint8_t *)pem, strlen(pem),
	    NULL, 0, &out, NULL, NULL, &e), CA_OK);
	assert_int_equal(draws() - d0, 2);
	assert_memory_not_equal(out.iss.serial, first.serial, 16);
	assert_true(in_store(out.iss.serial, out.iss.serial_len));
	ca_enrolled_clear(&out);

	/* The service's own certificate too. */
	force_serial(first.serial, 1);
	d0 = draws();
	assert_int_equal(ca_issue_server(g_ca, g_st, names, 1, 30, &cert, &key,
	    &e), CA_OK);
	assert_int_equal(draws() - d0, 2);
	{
		gnutls_x509_crt_t	crt;
		gnutls_datum_t		d = { (unsigned char *)cert,
		    (unsigned)strlen(cert) };
		uint8_t			serial[32];
		size_t			len = sizeof(serial);

		/* recorded with its audit entry, under the fresh serial */
		assert_int_equal(gnutls_x509_crt_init(&crt), 0);
		assert_int_equal(gnutls_x509_crt_import(crt, &d,
		    GNUTLS_X509_FMT_PEM), 0);
		assert_int_equal(gnutls_x509_crt_get_serial(crt, serial, &len),
		    0);
		gnutls_x509_crt_deinit(crt);
		assert_int_equal(len, 16);
		assert_memory_not_equal(serial, first.serial, 16);
		assert_true(in_store(serial, len));
		audit_of(serial, len, "issue", &af);
		assert_string_equal(af.who, "serve");
	}
	free(cert);
	free(key);

	/* A serial that never stops colliding is an error, not a loop. */
	force_serial(first.serial, 100);
	assert_int_equal(ca_sign(g_ca, g_st, csr, &p, 0, "cli:unit", &again,
	    &e), CA_EEXIST);
	assert_non_null(strstr(e.msg, "fresh serial numbers"));
	assert_int_equal(ca_enroll(g_en, &g, (const uint8_t *)pem, strlen(pem),
	    NULL, 0, &out, NULL, NULL, &e), CA_EEXIST);
	assert_non_null(strstr(e.msg, "fresh serial numbers"));
	ca_enrolled_clear(&out);
	force_serial(first.serial, 0);

	ca_issued_clear(&first);
	ca_csr_free(csr);
	free(pem);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_grant_token),
		cmocka_unit_test(test_admin_token_rotate),
		cmocka_unit_test(test_policy_refusals),
		cmocka_unit_test(test_enroll_records),
		cmocka_unit_test(test_peer_verify),
		cmocka_unit_test(test_batch_one_bad),
		cmocka_unit_test(test_serial_collision),
		cmocka_unit_test(test_renewal_rules),
		cmocka_unit_test(test_bound_sans),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
