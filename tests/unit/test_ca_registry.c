/*
 * Unit tests of ca/cas.c, the CAs of a data directory after a rotation:
 * a directory that never rotated, subdirectories to ignore (and whose id
 * is still not given again), a bad state file, a configured CA that is
 * none of the registry's, a rotation that stopped before its files were
 * installed (ca_registry_pending), and state files written and read back.
 * The CA certificates are tests/data/crl/{rsa,ecdsa}-ca.pem.
 */
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

#include "ca/ca.h"
#include "common/util.h"

struct fx {
	char		 dir[64];
	char		 cas[96];
	char		 rsa_pem[1024], ec_pem[1024];
	gnutls_datum_t	 rsa, ec;	/* DER */
};

static void
der_of(const char *path, gnutls_datum_t *out)
{
	uint8_t		*pem = NULL;
	size_t		 len;
	gnutls_datum_t	 in;

	assert_int_equal(file_read(path, 1 << 16, &pem, &len, NULL), CA_OK);
	in.data = pem;
	in.size = (unsigned)len;
	assert_true(gnutls_pem_base64_decode2("CERTIFICATE", &in, out) >= 0);
	free(pem);
}

static int
fx_setup(void **state)
{
	struct fx	*f = calloc(1, sizeof(*f));
	const char	*data = getenv("MTLSCA_TEST_DATA");

	if (f == NULL || data == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/mtlsca-cas-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->cas, sizeof(f->cas), "%s/cas", f->dir);
	snprintf(f->rsa_pem, sizeof(f->rsa_pem), "%s/crl/rsa-ca.pem", data);
	snprintf(f->ec_pem, sizeof(f->ec_pem), "%s/crl/ecdsa-ca.pem", data);
	der_of(f->rsa_pem, &f->rsa);
	der_of(f->ec_pem, &f->ec);
	*state = f;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx	*f = *state;
	char		 cmd[128];
	int		 rc;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	rc = system(cmd);
	gnutls_free(f->rsa.data);
	gnutls_free(f->ec.data);
	free(f);
	return rc == 0 ? 0 : -1;
}

/* cas/<name>/ with a copy of pem (NULL: none) and a state (NULL: none). */
static void
put_ca(const struct fx *f, const char *name, const char *pem,
    const char *state)
{
	char		 dir[256], path[300];
	uint8_t		*buf = NULL;
	size_t		 len;

	snprintf(dir, sizeof(dir), "%s/%s", f->cas, name);
	assert_int_equal(dir_make(dir, 0700, NULL), CA_OK);
	if (pem != NULL) {
		assert_int_equal(file_read(pem, 1 << 16, &buf, &len, NULL),
		    CA_OK);
		snprintf(path, sizeof(path), "%s/ca.pem", dir);
		assert_int_equal(file_write_atomic(path, buf, len, 0644, 0,
		    NULL), CA_OK);
		free(buf);
	}
	if (state != NULL) {
		snprintf(path, sizeof(path), "%s/state", dir);
		assert_int_equal(file_write_atomic(path, state, strlen(state),
		    0644, 0, NULL), CA_OK);
	}
}

static struct ca_registry *
load_ok(const struct fx *f, const gnutls_datum_t *active)
{
	struct ca_registry	*r = NULL;
	struct ca_error		 e;

	ca_error_clear(&e);
	if (ca_registry_load(f->cas, active->data, active->size, &r, &e) !=
	    CA_OK)
		fail_msg("ca_registry_load: %s", e.msg);
	assert_non_null(r);
	return r;
}

/* No cas/: a data directory that never rotated, its one CA is id 1. */
static void
test_missing_dir(void **state)
{
	struct fx		*f = *state;
	struct ca_registry	*r = load_ok(f, &f->rsa);

	assert_int_equal(ca_registry_active_id(r), 1);
	assert_int_equal(ca_registry_count(r), 0);
	assert_null(ca_registry_at(r, 0));
	assert_null(ca_registry_find(r, 1));
	assert_null(ca_registry_pending(r));
	assert_int_equal(ca_registry_next_id(r), 2);
	ca_registry_free(r);
}

/* Two CAs, a rotation that stopped before its state file (3), and names
   that are not CAs: the two in id order, 3 ignored but not given again. */
static void
test_entries_and_ignored(void **state)
{
	struct fx		*f = *state;
	struct ca_registry	*r;
	const struct ca_entry	*e;
	uint8_t			 fp[32];
	char			 hex[65];
	int64_t			 t;

	put_ca(f, "2", f->ec_pem, "active\nsince=2026-12-01T00:00:00Z\n");
	put_ca(f, "1", f->rsa_pem, "retiring\nlast_expiry=2027-06-01T"
	    "00:00:00Z\nsince=2026-12-01T00:00:00Z\n");
	put_ca(f, "3", f->rsa_pem, NULL);
	put_ca(f, "lost+found", NULL, NULL);
	put_ca(f, "0", f->rsa_pem, "active\n");		/* not an id */
	r = load_ok(f, &f->ec);
	assert_int_equal(ca_registry_count(r), 2);
	assert_int_equal(ca_registry_active_id(r), 2);
	assert_null(ca_registry_pending(r));
	assert_null(ca_registry_find(r, 3));
	assert_int_equal(ca_registry_next_id(r), 4);

	e = ca_registry_at(r, 0);
	assert_int_equal(e->id, 1);
	assert_int_equal(e->state, CA_STATE_RETIRING);
	assert_int_equal(time_parse("2027-06-01T00:00:00Z", &t), CA_OK);
	assert_true(e->last_expiry == t);
	assert_true(gnutls_hash_fast(GNUTLS_DIG_SHA256, f->rsa.data,
	    f->rsa.size, fp) >= 0);
	assert_memory_equal(e->fingerprint, fp, 32);
	hex_format(fp, 32, hex);
	assert_string_equal(e->fingerprint_hex, hex);
	assert_non_null(strstr(e->cert, "/cas/1/ca.pem"));
	assert_non_null(strstr(e->key, "/cas/1/ca.key"));

	e = ca_registry_at(r, 1);
	assert_int_equal(e->id, 2);
	assert_int_equal(e->state, CA_STATE_ACTIVE);
	assert_ptr_equal(ca_registry_find(r, 2), e);
	assert_string_equal(ca_state_name(e->state), "active");
	ca_registry_free(r);

	/* Only an unfinished rotation: its id is not reused either. */
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'/1 '%s'/2", f->cas,
		    f->cas);
		assert_int_equal(system(cmd), 0);
	}
	r = load_ok(f, &f->rsa);
	assert_int_equal(ca_registry_count(r), 0);
	assert_int_equal(ca_registry_active_id(r), 1);
	assert_int_equal(ca_registry_next_id(r), 4);
	ca_registry_free(r);
}

/* A state file that is none of the three states, or has a line that is
   not last_expiry= / since= with a time: CA_EMALF naming the file. */
static void
test_bad_state(void **state)
{
	static const char *bad[] = {
		"bogus\n",
		"",
		"\n",
		"retiring\nlast_expiry=soon\n",
		"active\nowner=me\n",
		"Active\n",
	};
	struct fx		*f = *state;
	struct ca_registry	*r = NULL;
	struct ca_error		 e;
	char			 want[128];

	put_ca(f, "1", f->rsa_pem, "retiring\n");
	snprintf(want, sizeof(want), "%s/2/state", f->cas);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put_ca(f, "2", f->ec_pem, bad[i]);
		ca_error_clear(&e);
		assert_int_equal(ca_registry_load(f->cas, f->ec.data,
		    f->ec.size, &r, &e), CA_EMALF);
		assert_null(r);
		if (strstr(e.msg, want) == NULL)
			fail_msg("state %zu: %s does not name %s", i, e.msg,
			    want);
	}
	/* A certificate that is not one, likewise. */
	put_ca(f, "2", f->ec_pem, "active\n");
	{
		char path[128];

		snprintf(path, sizeof(path), "%s/2/ca.pem", f->cas);
		assert_int_equal(file_write_atomic(path, "junk", 4, 0644, 0,
		    NULL), CA_OK);
		assert_int_equal(ca_registry_load(f->cas, f->ec.data,
		    f->ec.size, &r, &e), CA_EMALF);
		assert_non_null(strstr(e.msg, path));
	}
}

/* The configured CA is none of the registry's: CA_EPOLICY, saying so. */
static void
test_configured_not_in_registry(void **state)
{
	struct fx		*f = *state;
	struct ca_registry	*r = NULL;
	struct ca_error		 e;

	put_ca(f, "1", f->rsa_pem, "retiring\n");
	put_ca(f, "2", f->rsa_pem, "active\n");
	ca_error_clear(&e);
	assert_int_equal(ca_registry_load(f->cas, f->ec.data, f->ec.size, &r,
	    &e), CA_EPOLICY);
	assert_null(r);
	assert_non_null(strstr(e.msg, "none of the CAs"));
}

/* A rotation that stopped after the new CA's state file, before its files
   replaced the configured ones: the configured (old) CA is still active
   by fingerprint, the new one is pending; once installed, none is. */
static void
test_pending(void **state)
{
	struct fx		*f = *state;
	struct ca_registry	*r;
	const struct ca_entry	*p;

	put_ca(f, "1", f->rsa_pem, "retiring\nlast_expiry=2027-06-01T00:00:00Z\n");
	put_ca(f, "2", f->ec_pem, "active\n");
	r = load_ok(f, &f->rsa);
	assert_int_equal(ca_registry_active_id(r), 1);
	p = ca_registry_pending(r);
	assert_non_null(p);
	assert_int_equal(p->id, 2);
	ca_registry_free(r);
	r = load_ok(f, &f->ec);
	assert_int_equal(ca_registry_active_id(r), 2);
	assert_null(ca_registry_pending(r));
	ca_registry_free(r);
}

/* ca_registry_state_write, read back by the load. */
static void
test_state_write(void **state)
{
	struct fx		*f = *state;
	struct ca_registry	*r;
	const struct ca_entry	*e;
	struct ca_error		 err;

	put_ca(f, "1", f->rsa_pem, NULL);
	put_ca(f, "2", f->ec_pem, NULL);
	assert_int_equal(ca_registry_state_write(f->cas, 2, CA_STATE_ACTIVE, 0,
	    1790000000, &err), CA_OK);
	assert_int_equal(ca_registry_state_write(f->cas, 1, CA_STATE_RETIRED,
	    1800000000, 1795000000, &err), CA_OK);
	r = load_ok(f, &f->ec);
	assert_int_equal(ca_registry_count(r), 2);
	e = ca_registry_find(r, 1);
	assert_non_null(e);
	assert_int_equal(e->state, CA_STATE_RETIRED);
	assert_true(e->last_expiry == 1800000000);
	assert_true(e->since == 1795000000);
	e = ca_registry_find(r, 2);
	assert_int_equal(e->state, CA_STATE_ACTIVE);
	assert_true(e->since == 1790000000);
	ca_registry_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
		T(test_missing_dir),
		T(test_entries_and_ignored),
		T(test_bad_state),
		T(test_configured_not_in_registry),
		T(test_pending),
		T(test_state_write),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
