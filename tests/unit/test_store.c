/*
 * Unit tests of store/: the record encoding (round trips and hostile input),
 * certificates, revocation, the revoked index, counters (also across
 * processes), meta, tokens, the audit log, and the store's limits.
 *
 * MTLSCA_STORE_BENCH_N=1000000 makes test_scan_many time a scan of that
 * many revoked entries (default 20000; the test never fails on time).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "common/err.h"
#include "common/util.h"
#include "store/store.h"
#include "store_fixture.h"

struct fx {
	char		 dir[64];
	char		 db[96];
	struct store	*st;
};

static int
fx_setup(void **state)
{
	struct fx		*f = calloc(1, sizeof(*f));
	struct store_options	 o = { 0 };
	struct ca_error		 e;

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/mtlsca-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/db", f->dir);
	o.dir = f->db;
	if (store_open(&o, &f->st, &e) != CA_OK) {
		fprintf(stderr, "store_open: %s\n", e.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx	*f = *state;
	int		 rc = fixture_remove(f->st, f->dir);

	free(f);
	return rc;
}


static void
mk_record(struct cert_record *r, uint32_t n, int64_t not_after)
{
	memset(r, 0, sizeof(*r));
	mk_serial(n, r->serial, &r->serial_len);
	r->not_before = not_after - 86400;
	r->not_after = not_after;
	r->issued_at = not_after - 86400;
	snprintf(r->profile, sizeof(r->profile), "client");
	r->subject = "CN=test,O=mtlsca";
	r->der = (uint8_t *)"\x30\x03\x02\x01\x01";
	r->der_len = 5;
}


static int
bad_enc(const struct cert_record *rec, uint8_t *buf, size_t cap, size_t *len)
{
	(void)rec;
	(void)buf;
	*len = cap + 1;
	return 0;
}

/* ---- record encoding ---- */

static void
assert_records_equal(const struct cert_record *a, const struct cert_record *b)
{
	assert_int_equal(a->serial_len, b->serial_len);
	assert_memory_equal(a->serial, b->serial, a->serial_len);
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->reason, b->reason);
	assert_true(a->not_before == b->not_before);
	assert_true(a->not_after == b->not_after);
	assert_true(a->issued_at == b->issued_at);
	assert_true(a->revoked_at == b->revoked_at);
	assert_string_equal(a->profile, b->profile);
	if (a->subject == NULL)
		assert_null(b->subject);
	else {
		assert_non_null(b->subject);
		assert_string_equal(a->subject, b->subject);
	}
	assert_int_equal(a->der_len, b->der_len);
	if (a->der_len > 0)
		assert_memory_equal(a->der, b->der, a->der_len);
}

static void
round_trip(const struct cert_record *r)
{
	struct cert_record	 back;
	uint8_t			*buf = NULL;
	size_t			 len = 0;

	assert_int_equal(store_record_encode(r, &buf, &len), CA_OK);
	assert_int_equal(buf[0], 1);		/* version */
	assert_int_equal(store_record_decode(buf, len, &back), CA_OK);
	assert_records_equal(r, &back);
	cert_record_clear(&back);
	free(buf);
}

static void
test_record_round_trip(void **state)
{
	struct cert_record	 r;
	char			*subj;
	uint8_t			*der;

	(void)state;
	mk_record(&r, 7, 2000000000);
	round_trip(&r);

	r.subject = NULL;			/* absent ... */
	r.der = NULL;
	r.der_len = 0;
	r.profile[0] = '\0';
	r.status = CERT_STATUS_REVOKED;
	r.reason = 10;
	r.revoked_at = -5;			/* times are signed */
	r.not_after = STORE_NOT_AFTER_UNKNOWN;
	r.not_before = INT64_MIN;
	round_trip(&r);
	r.subject = "";				/* ... and empty differ */
	round_trip(&r);

	/* Every bound at its maximum. */
	subj = malloc(4097);
	der = malloc(65536);
	assert_non_null(subj);
	assert_non_null(der);
	memset(subj, 'S', 4096);
	subj[4096] = '\0';
	for (size_t i = 0; i < 65536; i++)
		der[i] = (uint8_t)i;
	mk_record(&r, 1, 1);
	r.serial_len = SERIAL_MAX + 1;
	memset(r.serial, 0xee, r.serial_len);
	r.serial[0] = 0;
	memset(r.profile, 'p', STORE_PROFILE_MAX - 1);
	r.profile[STORE_PROFILE_MAX - 1] = '\0';
	r.subject = subj;
	r.der = der;
	r.der_len = 65536;
	round_trip(&r);
	r.serial_len = 1;
	round_trip(&r);
	free(subj);
	free(der);
}

static void
test_record_encode_bounds(void **state)
{
	struct cert_record	 r;
	uint8_t			*buf = NULL;
	size_t			 len = 0;
	char			*subj = malloc(4098);
	static uint8_t		 der[65537];

	(void)state;
	assert_non_null(subj);
	memset(subj, 'S', 4097);
	subj[4097] = '\0';
#define REFUSED() do {							\
	assert_int_equal(store_record_encode(&r, &buf, &len), CA_EINVAL); \
	assert_null(buf);						\
	mk_record(&r, 1, 1);						\
} while (0)
	mk_record(&r, 1, 1);
	r.serial_len = 0; REFUSED();
	r.serial_len = SERIAL_MAX + 2; REFUSED();
	r.status = 2; REFUSED();
	r.reason = 7; REFUSED();
	r.reason = 11; REFUSED();
	memset(r.profile, 'p', STORE_PROFILE_MAX); REFUSED();
	r.subject = subj; REFUSED();
	r.der = der; r.der_len = sizeof(der); REFUSED();
	r.der = NULL; r.der_len = 3; REFUSED();
#undef REFUSED
	free(subj);
}

/* Decoding must refuse with CA_EMALF and leave *rec untouched. */
static void
decode_refused(const uint8_t *buf, size_t len)
{
	struct cert_record	r;
	uint8_t			*copy;

	memset(&r, 0x77, sizeof(r));
	/* An exact-size heap copy, so that ASan sees any over-read. */
	copy = malloc(len > 0 ? len : 1);
	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, buf, len);
	assert_int_equal(store_record_decode(copy, len, &r), CA_EMALF);
	assert_int_equal(r.serial_len, (size_t)0x7777777777777777ULL);
	free(copy);
}

static void
test_record_corrupt(void **state)
{
	struct cert_record	 r, back;
	uint8_t			*buf = NULL, *mod;
	size_t			 len = 0, off;
	int			 rc;

	(void)state;
	mk_record(&r, 9, 1234567);
	assert_int_equal(store_record_encode(&r, &buf, &len), CA_OK);
	mod = malloc(len + 8);
	assert_non_null(mod);

	/* Every truncation, including the empty input. */
	for (size_t n = 0; n < len; n++)
		decode_refused(buf, n);
	assert_int_equal(store_record_decode(NULL, 0, &back), CA_EMALF);

	/* Trailing garbage, one byte or more. */
	memcpy(mod, buf, len);
	mod[len] = 0;
	decode_refused(mod, len + 1);
	memset(mod + len, 0xff, 8);
	decode_refused(mod, len + 8);

	/* Unknown versions. */
	memcpy(mod, buf, len);
	mod[0] = 0;
	decode_refused(mod, len);
	mod[0] = 2;
	decode_refused(mod, len);

	/* Serial length 0 and 22. */
	memcpy(mod, buf, len);
	mod[1] = 0;
	decode_refused(mod, len);
	mod[1] = 22;
	decode_refused(mod, len);

	/* Status and reason out of range. */
	off = 2 + r.serial_len;
	memcpy(mod, buf, len);
	mod[off] = 2;
	decode_refused(mod, len);
	memcpy(mod, buf, len);
	mod[off + 1] = 7;
	decode_refused(mod, len);
	mod[off + 1] = 11;
	decode_refused(mod, len);

	/* Profile: length 32 (no room for the NUL) and an embedded NUL. */
	off = 2 + r.serial_len + 2 + 32;
	assert_int_equal(buf[off], strlen("client"));
	memcpy(mod, buf, len);
	mod[off] = 32;
	decode_refused(mod, len);
	memcpy(mod, buf, len);
	mod[off + 2] = '\0';
	decode_refused(mod, len);

	/* Flags: unknown bit; subject bytes without the subject flag. */
	off += 1 + strlen("client");
	memcpy(mod, buf, len);
	mod[off] |= 0x02;
	decode_refused(mod, len);
	mod[off] = 0;
	decode_refused(mod, len);

	/* Subject: embedded NUL; length over 4096; length 0xffffffff. */
	memcpy(mod, buf, len);
	mod[off + 5 + 3] = '\0';
	decode_refused(mod, len);
	memcpy(mod, buf, len);
	mod[off + 1] = 0;
	mod[off + 2] = 0;
	mod[off + 3] = 0x10;
	mod[off + 4] = 0x01;			/* 4097 */
	decode_refused(mod, len);
	memset(mod + off + 1, 0xff, 4);
	decode_refused(mod, len);

	/* DER length over 64 KiB, and one byte longer than the input. */
	off = len - r.der_len - 4;
	memcpy(mod, buf, len);
	mod[off] = 0;
	mod[off + 1] = 1;
	mod[off + 2] = 0;
	mod[off + 3] = 1;			/* 65537 */
	decode_refused(mod, len);
	memcpy(mod, buf, len);
	mod[off + 3] = (uint8_t)(r.der_len + 1);
	decode_refused(mod, len);
	memset(mod + off, 0xff, 4);
	decode_refused(mod, len);

	/* Every single-byte change is either refused or decodes to a sane
	   record; never a crash or an over-read. */
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(mod, buf, len);
			mod[i] ^= (uint8_t)(1u << bit);
			rc = store_record_decode(mod, len, &back);
			assert_true(rc == CA_OK || rc == CA_EMALF);
			if (rc == CA_OK) {
				assert_true(back.serial_len >= 1 &&
				    back.serial_len <= SERIAL_MAX + 1);
				cert_record_clear(&back);
			}
		}
	}
	free(mod);
	free(buf);

	cert_record_clear(NULL);
}

/* tests/data/record/: accept-* must decode, reject-* must not. */
static void
test_record_corpus(void **state)
{
	const char		*data = getenv("MTLSCA_TEST_DATA");
	char			 dir[512], path[1024];
	DIR			*d;
	struct dirent		*de;
	struct cert_record	 r;
	uint8_t			*buf = NULL;
	size_t			 len, accepted = 0, rejected = 0;
	int			 rc;

	(void)state;
	/* ctest sets it; a corpus that silently did not run proves nothing. */
	assert_non_null(data);
	snprintf(dir, sizeof(dir), "%s/record", data);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		int accept = strncmp(de->d_name, "accept-", 7) == 0;

		if (!accept && strncmp(de->d_name, "reject-", 7) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		assert_int_equal(file_read(path, 1 << 20, &buf, &len, NULL),
		    CA_OK);
		rc = store_record_decode(buf, len, &r);
		if (rc != (accept ? CA_OK : CA_EMALF))
			fail_msg("%s: decode returned %d", de->d_name, rc);
		if (rc == CA_OK)
			cert_record_clear(&r);
		free(buf);
		accept ? accepted++ : rejected++;
	}
	closedir(d);
	assert_true(accepted >= 3 && rejected >= 3);
}

/* ---- certificates ---- */

static void
test_put_get(void **state)
{
	struct fx		*f = *state;
	struct cert_record	 r, got, other;
	struct ca_error		 e;
	uint8_t			 s[SERIAL_MAX + 1];
	size_t			 slen;

	mk_record(&r, 1, 2000000000);
	assert_int_equal(store_cert_put(f->st, &r, &e), CA_OK);
	assert_int_equal(store_cert_get(f->st, r.serial, r.serial_len, &got,
	    &e), CA_OK);
	assert_records_equal(&r, &got);
	cert_record_clear(&got);
	assert_null(got.subject);

	/* Same serial again: refused, the first record is kept. */
	mk_record(&other, 1, 2100000000);
	other.subject = "CN=impostor";
	ca_error_clear(&e);
	assert_int_equal(store_cert_put(f->st, &other, &e), CA_EEXIST);
	assert_int_equal(e.code, CA_EEXIST);
	assert_non_null(strstr(e.msg, "already in the store"));
	assert_int_equal(store_cert_get(f->st, r.serial, r.serial_len, &got,
	    &e), CA_OK);
	assert_string_equal(got.subject, "CN=test,O=mtlsca");
	cert_record_clear(&got);

	/* Unknown serial. */
	mk_serial(2, s, &slen);
	ca_error_clear(&e);
	assert_int_equal(store_cert_get(f->st, s, slen, &got, &e), CA_ENOENT);
	assert_non_null(strstr(e.msg, "not in the store"));
	assert_int_equal(store_cert_get(f->st, s, 0, &got, &e), CA_EINVAL);

	/* A revoked record cannot slip in without its CRL entry. */
	mk_record(&other, 3, 1);
	other.status = CERT_STATUS_REVOKED;
	assert_int_equal(store_cert_put(f->st, &other, &e), CA_EINVAL);
	/* Out-of-bounds records are refused with a sentence. */
	mk_record(&other, 4, 1);
	other.reason = 7;
	assert_int_equal(store_cert_put(f->st, &other, &e), CA_EINVAL);
	assert_non_null(strstr(e.msg, "bound"));
}

struct collect {
	uint32_t	seen[64];
	size_t		n;
	size_t		stop_after;
	int		fail_at;
};

static int
collect_cb(const struct cert_record *rec, void *ctx)
{
	struct collect *c = ctx;

	assert_int_equal(rec->serial_len, 16);
	assert_string_equal(rec->subject, "CN=test,O=mtlsca");
	c->seen[c->n++] = ((uint32_t)rec->serial[12] << 24) |
	    ((uint32_t)rec->serial[13] << 16) | ((uint32_t)rec->serial[14] << 8) |
	    rec->serial[15];
	if (c->fail_at != 0 && c->n == (size_t)c->fail_at)
		return CA_EIO;
	return c->stop_after != 0 && c->n == c->stop_after ? 1 : 0;
}

static void
test_foreach(void **state)
{
	struct fx		*f = *state;
	struct cert_record	 r;
	struct collect		 c;
	struct ca_error		 e;
	static const uint32_t	 order[] = { 5, 1, 9, 3, 7 };
	uint8_t			 after[SERIAL_MAX + 1];
	size_t			 alen;

	memset(&c, 0, sizeof(c));
	assert_int_equal(store_cert_foreach(f->st, NULL, 0, collect_cb, &c,
	    &e), CA_OK);
	assert_int_equal(c.n, 0);

	for (size_t i = 0; i < 5; i++) {
		/* Expiry order differs from serial order on purpose. */
		mk_record(&r, order[i], 3000000000 - order[i]);
		assert_int_equal(store_cert_put(f->st, &r, &e), CA_OK);
	}
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_cert_foreach(f->st, NULL, 0, collect_cb, &c,
	    &e), CA_OK);
	assert_int_equal(c.n, 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(c.seen[i], 2 * i + 1);

	/* after: an existing serial is skipped itself. */
	memset(&c, 0, sizeof(c));
	mk_serial(3, after, &alen);
	assert_int_equal(store_cert_foreach(f->st, after, alen, collect_cb, &c,
	    &e), CA_OK);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.seen[0], 5);
	assert_int_equal(c.seen[1], 7);
	assert_int_equal(c.seen[2], 9);
	/* after: a serial that is not there. */
	memset(&c, 0, sizeof(c));
	mk_serial(4, after, &alen);
	assert_int_equal(store_cert_foreach(f->st, after, alen, collect_cb, &c,
	    &e), CA_OK);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.seen[0], 5);
	/* after the last one. */
	memset(&c, 0, sizeof(c));
	mk_serial(9, after, &alen);
	assert_int_equal(store_cert_foreach(f->st, after, alen, collect_cb, &c,
	    &e), CA_OK);
	assert_int_equal(c.n, 0);

	/* 1 stops, a negative code aborts and is returned. */
	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	assert_int_equal(store_cert_foreach(f->st, NULL, 0, collect_cb, &c,
	    &e), CA_OK);
	assert_int_equal(c.n, 2);
	memset(&c, 0, sizeof(c));
	c.fail_at = 3;
	assert_int_equal(store_cert_foreach(f->st, NULL, 0, collect_cb, &c,
	    &e), CA_EIO);
	assert_int_equal(c.n, 3);
}

/* ---- the CN index ---- */

struct cn_seen {
	char	serials[8][SERIAL_HEX_MAX + 2];
	size_t	n;
};

static int
cn_cb(const struct cert_record *rec, void *ctx)
{
	struct cn_seen *c = ctx;

	assert_true(c->n < 8);
	serial_format(rec->serial, rec->serial_len, c->serials[c->n++]);
	return 0;
}

/* The serials (hex, in order, space-separated) listed for cn after `after`. */
static void
cn_list(struct store *st, const char *cn, const char *after, char *out,
    size_t size)
{
	struct cn_seen	c;
	struct ca_error	e;
	uint8_t		a[SERIAL_MAX + 1];
	size_t		alen = 0;

	memset(&c, 0, sizeof(c));
	if (after != NULL)
		assert_int_equal(serial_parse(after, a, &alen, &e), CA_OK);
	assert_int_equal(store_cert_foreach_cn(st, cn, after ? a : NULL, alen,
	    cn_cb, &c, &e), CA_OK);
	out[0] = '\0';
	for (size_t i = 0; i < c.n; i++)
		snprintf(out + strlen(out), size - strlen(out), "%s%s",
		    i ? " " : "", c.serials[i]);
}

static void
hex_of(uint32_t n, char *out)
{
	uint8_t	s[SERIAL_MAX + 1];
	size_t	len;

	mk_serial(n, s, &len);
	serial_format(s, len, out);
}

/* store_cert_foreach_cn: exactly a CN's certificates, in serial order. */
static void
test_foreach_cn(void **state)
{
	struct fx		*f = *state;
	struct cert_record	 r;
	struct ca_error		 e;
	struct cn_seen		 c;
	char			 got[512], want[512], h[4][SERIAL_HEX_MAX + 2];
	char			 longcn[STORE_CN_MAX + 1];
	static const char	*subjects[] = { NULL, "CN=alice,O=x", "CN=bob",
	    "O=x,CN=alice", NULL, "CN=alice\\,x", "CN=alice", "O=no CN" };

	for (uint32_t n = 1; n <= 7; n++) {
		mk_record(&r, n, 3000000000);
		r.subject = (char *)subjects[n];
		assert_int_equal(store_cert_put(f->st, &r, &e), CA_OK);
	}
	hex_of(1, h[1]);
	hex_of(3, h[2]);
	hex_of(6, h[3]);
	cn_list(f->st, "alice", NULL, got, sizeof(got));
	snprintf(want, sizeof(want), "%s %s %s", h[1], h[2], h[3]);
	assert_string_equal(got, want);
	/* A cursor: after an entry, and after a serial of another CN. */
	cn_list(f->st, "alice", h[1], got, sizeof(got));
	snprintf(want, sizeof(want), "%s %s", h[2], h[3]);
	assert_string_equal(got, want);
	hex_of(5, h[0]);
	cn_list(f->st, "alice", h[0], got, sizeof(got));
	assert_string_equal(got, h[3]);
	cn_list(f->st, "alice", h[3], got, sizeof(got));
	assert_string_equal(got, "");
	/* Escapes undone; no prefix matches; a CN of none. */
	hex_of(5, h[0]);
	cn_list(f->st, "alice,x", NULL, got, sizeof(got));
	assert_string_equal(got, h[0]);
	cn_list(f->st, "alic", NULL, got, sizeof(got));
	assert_string_equal(got, "");
	cn_list(f->st, "nobody", NULL, got, sizeof(got));
	assert_string_equal(got, "");
	hex_of(2, h[0]);
	cn_list(f->st, "bob", NULL, got, sizeof(got));
	assert_string_equal(got, h[0]);
	/* Refusals. */
	memset(longcn, 'a', STORE_CN_MAX);
	longcn[STORE_CN_MAX] = '\0';
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_cert_foreach_cn(f->st, longcn, NULL, 0, cn_cb,
	    &c, &e), CA_EINVAL);
	assert_int_equal(store_cert_foreach_cn(f->st, NULL, NULL, 0, cn_cb,
	    &c, &e), CA_EINVAL);
}

/* Copy tests/data/store-v1 (schema 1, no CN index) to dir/db. */
static void
copy_v1(const char *dir)
{
	char		 cmd[512];
	const char	*data = getenv("MTLSCA_TEST_DATA");

	assert_non_null(data);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/db' && cp '%s/store-v1/"
	    "data.mdb' '%s/db/' && chmod 600 '%s/db/data.mdb'", dir, data,
	    dir, dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * A store of schema 1: read-only, CN listings scan the records; opened for
 * writing, the index is built from them (and kept by later writes), after
 * which read-only opens use it.
 */
static void
test_schema_v1(void **state)
{
	struct store_options	 o = { 0 };
	struct store		*st = NULL;
	struct ca_error		 e;
	struct cert_record	 r;
	char			 dir[64], db[96], got[512], cmd[128], h[40];
	const char		*alice = "64E77F048A6A512BE24A289A5C8F7DB4 "
	    "7A74ADD3FBB76C93E0EE33BED9F5CB34";

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mtlsca-store-v1-XXXXXX");
	assert_non_null(mkdtemp(dir));
	copy_v1(dir);
	snprintf(db, sizeof(db), "%s/db", dir);
	o.dir = db;

	o.read_only = 1;
	assert_int_equal(store_open(&o, &st, &e), CA_OK);
	cn_list(st, "alice", NULL, got, sizeof(got));
	assert_string_equal(got, alice);
	cn_list(st, "comma,name", NULL, got, sizeof(got));
	assert_string_equal(got, "44F7FA9890E11CC7B41DDA7ABBE1D790");
	store_close(st);

	o.read_only = 0;
	assert_int_equal(store_open(&o, &st, &e), CA_OK);
	cn_list(st, "alice", NULL, got, sizeof(got));
	assert_string_equal(got, alice);
	mk_record(&r, 1, 3000000000);
	r.subject = "CN=alice";
	assert_int_equal(store_cert_put(st, &r, &e), CA_OK);
	store_close(st);

	/* Read-only again: through the index, the new one included. */
	o.read_only = 1;
	assert_int_equal(store_open(&o, &st, &e), CA_OK);
	hex_of(1, h);
	cn_list(st, "alice", NULL, got, sizeof(got));
	assert_non_null(strstr(got, alice));
	assert_non_null(strstr(got, h));
	cn_list(st, "bob", NULL, got, sizeof(got));
	assert_string_equal(got, "41687E688218F619AB44B7D2B3721CF1");
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * A certificate is renewed once: the renewal is recorded in the new
 * certificate's batch, and a second one for the same certificate is
 * refused with the serial of the first.
 */
static void
test_renewals(void **state)
{
	struct fx		*f = *state;
	struct store_txn	*txn = NULL;
	struct store_renewal	 r;
	struct ca_error		 e;
	const uint8_t		 old[] = { 0x41, 0x01 }, a[] = { 0x42, 0x02 };
	const uint8_t		 b[] = { 0x43, 0x03 };

	(void)state;
	assert_int_equal(store_renewal_get(f->st, old, 2, &r, &e), CA_ENOENT);
	assert_int_equal(store_txn_begin(f->st, &txn, &e), CA_OK);
	assert_int_equal(store_txn_renewal_put(txn, old, 2, a, 2, 1000, &e),
	    CA_OK);
	/* twice in one batch: the second is refused */
	ca_error_clear(&e);
	assert_int_equal(store_txn_renewal_put(txn, old, 2, b, 2, 1001, &e),
	    CA_EEXIST);
	assert_string_equal(e.reason, STORE_REASON_RENEWED);
	assert_non_null(strstr(e.msg, "4101 was already renewed by 4202"));
	assert_int_equal(store_txn_commit(txn, &e), CA_OK);
	assert_int_equal(store_renewal_get(f->st, old, 2, &r, &e), CA_OK);
	assert_int_equal(r.serial_len, 2);
	assert_memory_equal(r.serial, a, 2);
	assert_int_equal(r.at, 1000);
	/* and in a later batch */
	assert_int_equal(store_txn_begin(f->st, &txn, &e), CA_OK);
	assert_int_equal(store_txn_renewal_put(txn, old, 2, b, 2, 1002, &e),
	    CA_EEXIST);
	store_txn_abort(txn);
	/* the new one may be renewed in turn */
	assert_int_equal(store_txn_begin(f->st, &txn, &e), CA_OK);
	assert_int_equal(store_txn_renewal_put(txn, a, 2, b, 2, 1003, &e),
	    CA_OK);
	assert_int_equal(store_txn_commit(txn, &e), CA_OK);
}

/* ---- revocation and the revoked index ---- */

struct scan {
	uint64_t	max_entries, max_bytes;
	int		begun;
	size_t		n;
	size_t		bytes;
	uint8_t		last[STORE_ENTRY_MAX];
	size_t		last_len;
	uint32_t	ids[64];
	uint64_t	xor;
};

static int
scan_begin(void *ctx, uint64_t max_entries, uint64_t max_bytes)
{
	struct scan *s = ctx;

	s->begun++;
	s->max_entries = max_entries;
	s->max_bytes = max_bytes;
	return 0;
}

static int
scan_entry(void *ctx, const uint8_t *der, size_t len)
{
	struct scan *s = ctx;

	assert_int_equal(s->begun, 1);
	assert_true(len <= STORE_ENTRY_MAX);
	if (s->n < 64 && len == 1 + 16 + 1 + 8)
		s->ids[s->n] = ((uint32_t)der[13] << 24) |
		    ((uint32_t)der[14] << 16) | ((uint32_t)der[15] << 8) |
		    der[16];
	memcpy(s->last, der, len);
	s->last_len = len;
	s->n++;
	s->bytes += len;
	return 0;
}

static void
do_scan(struct store *st, int64_t min, struct scan *s)
{
	struct store_revoked_visitor	v = { scan_begin, scan_entry, s, 0 };
	struct ca_error			e;

	memset(s, 0, sizeof(*s));
	assert_int_equal(store_revoked_scan(st, min, &v, &e), CA_OK);
	assert_int_equal(s->begun, 1);
}

static uint64_t
counter(struct store *st, const char *name)
{
	uint64_t	v = 99999;
	struct ca_error	e;

	assert_int_equal(store_counter_get(st, name, &v, &e), CA_OK);
	return v;
}

static void
test_revoke(void **state)
{
	struct fx		*f = *state;
	struct cert_record	 r, got;
	struct store_revocation	 rv;
	struct ca_error		 e;
	struct scan		 s;
	uint8_t			 serial[SERIAL_MAX + 1];
	size_t			 slen;
	int			 outcome = -1;

	mk_record(&r, 1, 2000000000);
	assert_int_equal(store_cert_put(f->st, &r, &e), CA_OK);
	assert_int_equal(counter(f->st, STORE_COUNTER_REVGEN), 0);

	/* New revocation. */
	memset(&rv, 0, sizeof(rv));
	rv.serial = r.serial;
	rv.serial_len = r.serial_len;
	rv.revoked_at = 1700000000;
	rv.reason = 4;				/* superseded */
	assert_int_equal(store_cert_revoke(f->st, &rv, test_enc, &outcome,
	    &got, &e), CA_OK);
	assert_int_equal(outcome, STORE_REVOKE_NEW);
	assert_int_equal(got.status, CERT_STATUS_REVOKED);
	assert_int_equal(got.reason, 4);
	assert_true(got.revoked_at == 1700000000);
	assert_string_equal(got.subject, "CN=test,O=mtlsca");
	cert_record_clear(&got);
	assert_int_equal(store_cert_get(f->st, r.serial, r.serial_len, &got,
	    &e), CA_OK);
	assert_int_equal(got.status, CERT_STATUS_REVOKED);
	assert_int_equal(got.reason, 4);
	assert_true(got.revoked_at == 1700000000);
	assert_int_equal(got.der_len, 5);
	cert_record_clear(&got);
	assert_int_equal(counter(f->st, STORE_COUNTER_REVGEN), 1);
	do_scan(f->st, 0, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.max_entries, 1);
	assert_int_equal(s.max_bytes, 26);
	assert_int_equal(s.last[17], 4);

	/* Again, same or weaker reason: nothing changes. */
	rv.revoked_at = 1800000000;
	rv.reason = 5;
	outcome = -1;
	assert_int_equal(store_cert_revoke(f->st, &rv, test_enc, &outcome,
	    NULL, &e), CA_OK);
	assert_int_equal(outcome, STORE_REVOKE_ALREADY);
	assert_int_equal(counter(f->st, STORE_COUNTER_REVGEN), 1);
	assert_int_equal(store_cert_get(f->st, r.serial, r.serial_len, &got,
	    &e), CA_OK);
	assert_int_equal(got.reason, 4);
	assert_true(got.revoked_at == 1700000000);
	cert_record_clear(&got);

	/* Raised to keyCompromise: reason replaced, time kept, entry
	   re-encoded, generation bumped, still one entry. */
	rv.reason = 1;
	outcome = -1;
	assert_int_equal(store_cert_revoke(f->st, &rv, test_enc, &outcome,
	    &got, &e), CA_OK);
	assert_int_equal(outcome, STORE_REVOKE_RAISED);
	assert_int_equal(got.reason, 1);
	assert_true(got.revoked_at == 1700000000);
	cert_record_clear(&got);
	assert_int_equal(counter(f->st, STORE_COUNTER_REVGEN), 2);
	do_scan(f->st, 0, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.max_entries, 1);
	assert_int_equal(s.max_bytes, 26);
	assert_int_equal(s.last[17], 1);
	/* The entry carries the first revocation time. */
	assert_int_equal(s.last[18 + 4], (1700000000 >> 24) & 0xff);
	assert_int_equal(s.last[18 + 7], 1700000000 & 0xff);

	/* keyCompromise again: already. */
	outcome = -1;
	assert_int_equal(store_cert_revoke(f->st, &rv, test_enc, &outcome,
	    NULL, &e), CA_OK);
	assert_int_equal(outcome, STORE_REVOKE_ALREADY);
	assert_int_equal(counter(f->st, STORE_COUNTER_REVGEN), 2);

	/* Unknown serial without force: ENOENT, nothing written. */
	mk_serial(77, serial, &slen);
	rv.serial = serial;
	rv.serial_len = slen;
	ca_error_clear(&e);
	assert_int_equal(store_cert_revoke(f->st, &rv, test_enc, &outcome,
	    NULL, &e), CA_ENOENT);
	assert_int_equal(e.code, CA_ENOENT);
	assert_non_null(strstr(e.msg, "not in the store"));
	assert_int_equal(counter(f->st, STORE_COUNTER_REVGEN), 2);

	/* With force: a minimal record, revoked, not_after unknown (sorts
	   last). */
	rv.force = true;
	rv.not_after = STORE_NOT_AFTER_UNKNOWN;
	rv.reason = 0;
	rv.revoked_at = 1750000000;
	outcome = -1;
	assert_int_equal(store_cert_revoke(f->st, &rv, test_enc, &outcome,
	    NULL, &e), CA_OK);
	assert_int_equal(outcome, STORE_REVOKE_NEW);
	assert_int_equal(store_cert_get(f->st, serial, slen, &got, &e), CA_OK);
	assert_int_equal(got.status, CERT_STATUS_REVOKED);
	assert_true(got.not_after == STORE_NOT_AFTER_UNKNOWN);
	assert_true(got.revoked_at == 1750000000);
	assert_null(got.subject);
	assert_null(got.der);
	cert_record_clear(&got);
	assert_int_equal(counter(f->st, STORE_COUNTER_REVGEN), 3);
	do_scan(f->st, 0, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ids[0], 1);
	assert_int_equal(s.ids[1], 77);
	assert_int_equal(s.max_entries, 2);
	assert_int_equal(s.max_bytes, 52);
	/* Forced again: already. */
	assert_int_equal(store_cert_revoke(f->st, &rv, test_enc, &outcome,
	    NULL, &e), CA_OK);
	assert_int_equal(outcome, STORE_REVOKE_ALREADY);

	/* Forced with not_after left at 0: kept as unknown, never dropped
	   from a CRL as if it had expired in 1970. */
	mk_serial(79, serial, &slen);
	rv.not_after = 0;
	assert_int_equal(store_cert_revoke(f->st, &rv, test_enc, &outcome,
	    &got, &e), CA_OK);
	assert_true(got.not_after == STORE_NOT_AFTER_UNKNOWN);
	cert_record_clear(&got);
	do_scan(f->st, 2000000001, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ids[1], 79);

	/* Bad requests change nothing. */
	mk_serial(78, serial, &slen);
	rv.reason = 7;
	assert_int_equal(store_cert_revoke(f->st, &rv, test_enc, &outcome,
	    NULL, &e), CA_EINVAL);
	rv.reason = 0;
	assert_int_equal(store_cert_revoke(f->st, &rv, bad_enc, &outcome,
	    NULL, &e), CA_EINVAL);
	assert_int_equal(store_cert_get(f->st, serial, slen, &got, &e),
	    CA_ENOENT);
	assert_int_equal(counter(f->st, STORE_COUNTER_REVGEN), 4);
	do_scan(f->st, 0, &s);
	assert_int_equal(s.max_entries, 3);
}

static void
test_scan_min_not_after(void **state)
{
	struct fx		*f = *state;
	struct cert_record	 r;
	struct store_revocation	 rv;
	struct store_txn	*txn = NULL;
	struct ca_error		 e;
	struct scan		 s;
	int			 outcome;

	/* Ten certificates expiring at 1000 * i, revoked in one batch, in an
	   order unlike their expiry. */
	assert_int_equal(store_txn_begin(f->st, &txn, &e), CA_OK);
	for (uint32_t i = 1; i <= 10; i++) {
		uint32_t id = 11 - i;

		mk_record(&r, id, 1000 * (int64_t)i);
		assert_int_equal(store_txn_cert_put(txn, &r, &e), CA_OK);
		memset(&rv, 0, sizeof(rv));
		rv.serial = r.serial;
		rv.serial_len = r.serial_len;
		rv.revoked_at = 500;
		assert_int_equal(store_txn_cert_revoke(txn, &rv, test_enc,
		    &outcome, &e), CA_OK);
		assert_int_equal(outcome, STORE_REVOKE_NEW);
	}
	/* One more, not revoked. */
	mk_record(&r, 50, 99999);
	assert_int_equal(store_txn_cert_put(txn, &r, &e), CA_OK);
	assert_int_equal(store_txn_commit(txn, &e), CA_OK);
	assert_int_equal(counter(f->st, STORE_COUNTER_REVGEN), 10);

	do_scan(f->st, 0, &s);
	assert_int_equal(s.n, 10);
	for (size_t i = 0; i < 10; i++)		/* expiry order */
		assert_int_equal(s.ids[i], 10 - i);
	do_scan(f->st, INT64_MIN, &s);
	assert_int_equal(s.n, 10);
	/* Entries that expired before the cut-off are skipped; the bounds
	   still count them. */
	do_scan(f->st, 5000, &s);
	assert_int_equal(s.n, 6);
	assert_int_equal(s.ids[0], 6);
	assert_int_equal(s.max_entries, 10);
	assert_int_equal(s.max_bytes, 260);
	assert_int_equal(s.bytes, 156);
	do_scan(f->st, 5001, &s);
	assert_int_equal(s.n, 5);
	do_scan(f->st, 10001, &s);
	assert_int_equal(s.n, 0);
	assert_int_equal(s.max_entries, 10);
}

static int
begin_fail(void *ctx, uint64_t a, uint64_t b)
{
	(void)ctx;
	(void)a;
	(void)b;
	return CA_ENOMEM;
}

static int
entry_stop(void *ctx, const uint8_t *der, size_t len)
{
	(*(int *)ctx)++;
	(void)der;
	(void)len;
	return 1;
}

static void
test_scan_callbacks(void **state)
{
	struct fx			*f = *state;
	struct cert_record		 r;
	struct store_revocation		 rv = { 0 };
	struct ca_error			 e;
	int				 outcome, calls = 0;
	struct store_revoked_visitor	 v1 = { begin_fail, entry_stop, &calls, 0 };
	struct store_revoked_visitor	 v2 = { NULL, entry_stop, &calls, 0 };

	for (uint32_t i = 1; i <= 3; i++) {
		mk_record(&r, i, 1000);
		assert_int_equal(store_cert_put(f->st, &r, &e), CA_OK);
		rv.serial = r.serial;
		rv.serial_len = r.serial_len;
		assert_int_equal(store_cert_revoke(f->st, &rv, test_enc,
		    &outcome, NULL, &e), CA_OK);
	}
	assert_int_equal(store_revoked_scan(f->st, 0, &v1, &e), CA_ENOMEM);
	assert_int_equal(calls, 0);
	assert_int_equal(store_revoked_scan(f->st, 0, &v2, &e), CA_OK);
	assert_int_equal(calls, 1);
}

/* ---- CA rotation: records and revocations carry their CA ---- */

/* Version 2 (a later CA's record) round trips every id from 2 up to
   UINT32_MAX; the first CA's (0 or 1) stays version 1 and reads back as
   1; a version 2 naming the first CA, cut short, or with a byte more is
   refused. */
static void
test_record_v2(void **state)
{
	static const uint32_t	 ids[] = { 2, 3, 255, 256, 0x10000,
	    0x7fffffffu, UINT32_MAX - 1, UINT32_MAX };
	struct cert_record	 r, back;
	uint8_t			*buf = NULL, *v2 = NULL;
	size_t			 len = 0, v1len;

	(void)state;
	mk_record(&r, 7, 2000000000);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		r.ca_id = ids[i];
		assert_int_equal(store_record_encode(&r, &buf, &len), CA_OK);
		assert_int_equal(buf[0], 2);
		/* The id, big-endian, is the last field. */
		assert_int_equal(buf[len - 4], (uint8_t)(ids[i] >> 24));
		assert_int_equal(buf[len - 1], (uint8_t)ids[i]);
		assert_int_equal(store_record_decode(buf, len, &back), CA_OK);
		assert_records_equal(&r, &back);
		assert_int_equal(back.ca_id, ids[i]);
		cert_record_clear(&back);
		/* Truncated by 1..4 bytes (a part of the id missing). */
		for (size_t cut = 1; cut <= 4; cut++)
			assert_int_equal(store_record_decode(buf, len - cut,
			    &back), CA_EMALF);
		free(buf);
		buf = NULL;
	}

	/* The first CA: version 1, read back as 1. */
	for (uint32_t id = 0; id <= 1; id++) {
		r.ca_id = id;
		assert_int_equal(store_record_encode(&r, &buf, &len), CA_OK);
		assert_int_equal(buf[0], 1);
		assert_int_equal(store_record_decode(buf, len, &back), CA_OK);
		assert_int_equal(back.ca_id, STORE_CA_FIRST);
		cert_record_clear(&back);
		if (id == 1)
			break;
		free(buf);
		buf = NULL;
	}
	v1len = len;

	/* Version 2 that names the first CA (or none): refused, so that
	   each record has one encoding. */
	v2 = malloc(v1len + 5);
	assert_non_null(v2);
	memcpy(v2, buf, v1len);
	v2[0] = 2;
	for (uint32_t id = 0; id <= 1; id++) {
		v2[v1len] = 0;
		v2[v1len + 1] = 0;
		v2[v1len + 2] = 0;
		v2[v1len + 3] = (uint8_t)id;
		assert_int_equal(store_record_decode(v2, v1len + 4, &back),
		    CA_EMALF);
	}
	/* Version 2 without its id at all, and with a byte more. */
	assert_int_equal(store_record_decode(v2, v1len, &back), CA_EMALF);
	v2[v1len + 3] = 2;
	assert_int_equal(store_record_decode(v2, v1len + 4, &back), CA_OK);
	assert_int_equal(back.ca_id, 2);
	cert_record_clear(&back);
	v2[v1len + 4] = 0;
	assert_int_equal(store_record_decode(v2, v1len + 5, &back), CA_EMALF);
	/* Version 1 with an id appended: a trailing field, refused. */
	v2[0] = 1;
	assert_int_equal(store_record_decode(v2, v1len + 4, &back), CA_EMALF);
	/* Version 3: unknown. */
	v2[0] = 3;
	assert_int_equal(store_record_decode(v2, v1len + 4, &back), CA_EMALF);
	free(v2);
	free(buf);
}

/* What a scan for one CA sees: the mk_serial numbers of its entries. */
static void
scan_ca(struct store *st, uint32_t ca_id, struct scan *s)
{
	struct store_revoked_visitor	v = { scan_begin, scan_entry, s,
	    ca_id };
	struct ca_error			e;

	memset(s, 0, sizeof(*s));
	assert_int_equal(store_revoked_scan(st, 0, &v, &e), CA_OK);
	assert_int_equal(s->begun, 1);
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
assert_scan_ids(struct store *st, uint32_t ca_id, const uint32_t *want,
    size_t n)
{
	struct scan s;

	scan_ca(st, ca_id, &s);
	if (s.n != n)
		fail_msg("CA %u: %zu entries, expected %zu", ca_id, s.n, n);
	qsort(s.ids, s.n, sizeof(s.ids[0]), u32_cmp);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(s.ids[i], want[i]);
}

/* Certificates of CA 1, 2 and 3, revoked, and serials the store never
   saw revoked with --force: each scan with vis.ca_id sees exactly its own
   CA's (0 is the first CA's); a forced revocation without a CA goes to
   the CA the store counter names as active. */
static void
test_scan_per_ca(void **state)
{
	struct fx		*f = *state;
	struct cert_record	 r, got;
	struct store_revocation	 rv;
	struct ca_error		 e;
	int			 outcome;
	/* serial number n -> its CA */
	static const struct { uint32_t n, ca; } certs[] = {
		{ 1, 0 }, { 2, 1 }, { 3, 2 }, { 4, 2 }, { 5, 3 },
		{ 6, 0 },		/* not revoked */
		{ 7, 2 },		/* not revoked */
	};
	static const uint32_t ca1[] = { 1, 2, 10 }, ca2[] = { 3, 4, 12 },
	    ca3[] = { 5, 11 };
	uint8_t			 serial[16];
	size_t			 slen;

	for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++) {
		mk_record(&r, certs[i].n, 2000000000);
		r.ca_id = certs[i].ca;
		assert_int_equal(store_cert_put(f->st, &r, &e), CA_OK);
		if (certs[i].n >= 6)
			continue;
		memset(&rv, 0, sizeof(rv));
		rv.serial = r.serial;
		rv.serial_len = r.serial_len;
		rv.revoked_at = 1000 + certs[i].n;
		/* A record's own CA wins over what the revocation says. */
		rv.ca_id = 3;
		assert_int_equal(store_cert_revoke(f->st, &rv, test_enc,
		    &outcome, NULL, &e), CA_OK);
		assert_int_equal(outcome, STORE_REVOKE_NEW);
	}
	/* A forced revocation of an unknown serial before any rotation:
	   the first CA's. */
	mk_serial(10, serial, &slen);
	memset(&rv, 0, sizeof(rv));
	rv.serial = serial;
	rv.serial_len = slen;
	rv.revoked_at = 1010;
	rv.force = true;
	rv.not_after = STORE_NOT_AFTER_UNKNOWN;
	assert_int_equal(store_cert_revoke(f->st, &rv, test_enc, &outcome,
	    NULL, &e), CA_OK);
	/* After `ca rotate` made CA 3 active: the next one is CA 3's. */
	assert_int_equal(store_counter_raise(f->st, STORE_COUNTER_CA_ACTIVE, 3,
	    NULL, &e), CA_OK);
	mk_serial(11, serial, &slen);
	assert_int_equal(store_cert_revoke(f->st, &rv, test_enc, &outcome,
	    NULL, &e), CA_OK);
	assert_int_equal(store_cert_get(f->st, serial, slen, &got, &e), CA_OK);
	assert_int_equal(got.ca_id, 3);
	assert_null(got.der);
	cert_record_clear(&got);
	/* One that names its CA (crl_recover of a retiring CA's CRL). */
	mk_serial(12, serial, &slen);
	rv.ca_id = 2;
	assert_int_equal(store_cert_revoke(f->st, &rv, test_enc, &outcome,
	    NULL, &e), CA_OK);
	assert_int_equal(store_cert_get(f->st, serial, slen, &got, &e), CA_OK);
	assert_int_equal(got.ca_id, 2);
	cert_record_clear(&got);

	assert_scan_ids(f->st, 0, ca1, 3);
	assert_scan_ids(f->st, 1, ca1, 3);
	assert_scan_ids(f->st, 2, ca2, 3);
	assert_scan_ids(f->st, 3, ca3, 2);
	assert_scan_ids(f->st, 4, NULL, 0);
	assert_scan_ids(f->st, UINT32_MAX, NULL, 0);
	/* The entries a later CA's scan hands over are the encoder's bytes,
	   without the CA header. */
	{
		struct scan s;

		scan_ca(f->st, 3, &s);
		assert_int_equal(s.last_len, 1 + 16 + 1 + 8);
		assert_int_equal(s.last[0], 16);
	}
}

/* Revoked entries are a scan of borrowed bytes; time a large one. */
static int
count_entry(void *ctx, const uint8_t *der, size_t len)
{
	struct scan *s = ctx;

	s->n++;
	s->bytes += len;
	s->xor ^= der[len - 1];
	return 0;
}

static void
test_scan_many(void **state)
{
	struct fx			*f = *state;
	struct store_revocation		 rv;
	struct store_txn		*txn = NULL;
	struct ca_error			 e;
	struct scan			 s;
	struct store_revoked_visitor	 v = { scan_begin, count_entry, &s, 0 };
	struct timespec			 t0, t1;
	uint8_t				 serial[SERIAL_MAX + 1];
	const char			*env = getenv("MTLSCA_STORE_BENCH_N");
	uint64_t			 n = 20000;
	double				 best = 1e9;
	int				 outcome;

	if (env != NULL)
		assert_int_equal(parse_u64(env, 1, 10000000, &n), CA_OK);
	memset(&rv, 0, sizeof(rv));
	rv.serial = serial;
	rv.force = true;
	rv.reason = 1;
	for (uint64_t i = 0; i < n; i++) {
		if (i % 50000 == 0)
			assert_int_equal(store_txn_begin(f->st, &txn, &e),
			    CA_OK);
		mk_serial((uint32_t)i, serial, &rv.serial_len);
		rv.not_after = 2000000000 + (int64_t)(i % 1000);
		rv.revoked_at = 1700000000 + (int64_t)i;
		if (store_txn_cert_revoke(txn, &rv, test_enc, &outcome, &e) !=
		    CA_OK)
			fail_msg("revoke %llu: %s", (unsigned long long)i,
			    e.msg);
		if (i % 50000 == 49999 || i == n - 1) {
			if (store_txn_commit(txn, &e) != CA_OK)
				fail_msg("commit: %s", e.msg);
			txn = NULL;
		}
	}
	for (int run = 0; run < 3; run++) {
		memset(&s, 0, sizeof(s));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(store_revoked_scan(f->st, 0, &v, &e), CA_OK);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		assert_int_equal(s.n, n);
		assert_int_equal(s.max_entries, n);
		assert_int_equal(s.max_bytes, 26 * n);
		assert_int_equal(s.bytes, 26 * n);
		double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		if (ms < best)
			best = ms;
	}
	print_message("revoked scan: %llu entries in %.1f ms (best of 3)\n",
	    (unsigned long long)n, best);
	assert_int_equal(counter(f->st, STORE_COUNTER_REVGEN), n);
}

/*
 * The scan hands the map pages it has read back to the kernel (they count
 * in the process's RSS otherwise: the whole data file for a 1M-entry CRL).
 * Resident kB of this process's mapping of path, from /proc/self/smaps.
 */
static long
map_rss_kb(const char *path)
{
	FILE	*f = fopen("/proc/self/smaps", "r");
	char	 line[4096];
	long	 kb = -1, v;
	unsigned long a, b;
	int	 in = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t n = strlen(line);
		/* A mapping's line is "start-end perms ... path"; its fields
		   follow as "Name: value" lines. */
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2) {
			while (n > 0 && line[n - 1] == '\n')
				line[--n] = '\0';
			in = n >= strlen(path) &&
			    strcmp(line + n - strlen(path), path) == 0;
			continue;
		}
		if (in && sscanf(line, "Rss: %ld kB", &v) == 1)
			kb = kb < 0 ? v : kb + v;
	}
	fclose(f);
	return kb;
}

struct rss_scan {
	const char	*path;
	uint64_t	 n;
	long		 peak_kb;
};

static int
rss_entry(void *ctx, const uint8_t *der, size_t len)
{
	struct rss_scan *r = ctx;
	long kb;

	(void)der;
	(void)len;
	if (++r->n % 1024 == 0 && (kb = map_rss_kb(r->path)) > r->peak_kb)
		r->peak_kb = kb;
	return 0;
}

static void
test_scan_rss(void **state)
{
	struct fx			*f = *state;
	struct store_options		 o = { 0 };
	struct store_revocation		 rv;
	struct store_txn		*txn = NULL;
	struct ca_error			 e;
	struct rss_scan			 r;
	struct store_revoked_visitor	 v = { NULL, rss_entry, &r, 0 };
	struct stat			 sb;
	char				 path[128];
	uint8_t				 serial[SERIAL_MAX + 1];
	const uint64_t			 n = 200000;
	uint64_t			 x = 0x9e3779b97f4a7c15ULL;
	long				 file_kb, after_kb;
	int				 outcome;

	/* Random expiry order, so that the revoked index's pages interleave
	   with the certificate records' in the file, as in a real store. */
	memset(&rv, 0, sizeof(rv));
	rv.serial = serial;
	rv.force = true;
	for (uint64_t i = 0; i < n; i++) {
		if (i % 20000 == 0)
			assert_int_equal(store_txn_begin(f->st, &txn, &e),
			    CA_OK);
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		mk_serial((uint32_t)i, serial, &rv.serial_len);
		rv.not_after = 2000000000 + (int64_t)(x % 10000000);
		rv.revoked_at = 1700000000;
		if (store_txn_cert_revoke(txn, &rv, test_enc, &outcome, &e) !=
		    CA_OK)
			fail_msg("revoke: %s", e.msg);
		if (i % 20000 == 19999) {
			assert_int_equal(store_txn_commit(txn, &e), CA_OK);
			txn = NULL;
		}
	}
	/* A fresh mapping: nothing of the file resident in it yet. */
	store_close(f->st);
	f->st = NULL;
	o.dir = f->db;
	assert_int_equal(store_open(&o, &f->st, &e), CA_OK);
	snprintf(path, sizeof(path), "%s/data.mdb", f->db);
	assert_int_equal(stat(path, &sb), 0);
	file_kb = (long)(sb.st_size / 1024);

	memset(&r, 0, sizeof(r));
	r.path = path;
	assert_int_equal(store_revoked_scan(f->st, 0, &v, &e), CA_OK);
	after_kb = map_rss_kb(path);
	print_message("revoked scan of %llu entries: data file %ld kB, map "
	    "resident at most %ld kB during the scan, %ld kB after\n",
	    (unsigned long long)r.n, file_kb, r.peak_kb, after_kb);
	assert_int_equal(r.n, n);
	assert_true(r.peak_kb >= 0 && after_kb >= 0);
	/* Without the drops, the whole revoked index and, through the
	   kernel's fault-around, its neighbours stay resident (here 40 MB
	   of a 90 MB file, against 22 MB at most and 0.4 MB after with
	   them). */
	assert_true(r.peak_kb < file_kb / 3);
	assert_true(after_kb < file_kb / 16);
}

/* ---- counters and meta ---- */

static void
test_counters(void **state)
{
	struct fx	*f = *state;
	struct ca_error	 e;
	uint64_t	 prev = 0, v;

	assert_int_equal(counter(f->st, STORE_COUNTER_CRL), 0);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(store_counter_next(f->st, STORE_COUNTER_CRL,
		    &v, &e), CA_OK);
		assert_true(v == prev + 1);
		prev = v;
	}
	assert_int_equal(counter(f->st, STORE_COUNTER_CRL), 20);
	assert_int_equal(counter(f->st, "other"), 0);
	assert_int_equal(store_counter_next(f->st, "", &v, &e), CA_EINVAL);
	assert_int_equal(store_counter_next(f->st, "schema_version", &v, &e),
	    CA_EINVAL);
	/* A meta blob of the wrong size is not a counter. */
	assert_int_equal(store_meta_put(f->st, "blob", "abc", 3, &e), CA_OK);
	assert_int_equal(store_counter_get(f->st, "blob", &v, &e), CA_EMALF);
}

#define FORK_N	200

static int
child_counts(const char *db, int fd)
{
	struct store_options	 o = { .dir = db };
	struct store		*st = NULL;
	struct ca_error		 e;
	uint64_t		 vals[FORK_N];

	/* One environment per process, opened after fork(). */
	if (store_open(&o, &st, &e) != CA_OK)
		return 2;
	for (int i = 0; i < FORK_N; i++) {
		if (store_counter_next(st, "fork", &vals[i], &e) != CA_OK)
			return 3;
		if (i > 0 && vals[i] <= vals[i - 1])
			return 4;
	}
	store_close(st);
	if (write(fd, vals, sizeof(vals)) != (ssize_t)sizeof(vals))
		return 5;
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
test_counter_processes(void **state)
{
	struct fx	*f = *state;
	uint64_t	 all[2 * FORK_N];
	int		 fds[2][2], status;
	pid_t		 pid[2];
	struct ca_error	 e;
	uint64_t	 v;

	/* The parent keeps its own environment open meanwhile. */
	assert_int_equal(store_counter_next(f->st, "fork", &v, &e), CA_OK);
	assert_int_equal(v, 1);
	for (int c = 0; c < 2; c++) {
		assert_int_equal(pipe(fds[c]), 0);
		pid[c] = fork();
		assert_true(pid[c] >= 0);
		if (pid[c] == 0) {
			close(fds[c][0]);
			_exit(child_counts(f->db, fds[c][1]));
		}
		close(fds[c][1]);
	}
	for (int c = 0; c < 2; c++) {
		size_t got = 0;
		uint8_t *p = (uint8_t *)(all + c * FORK_N);

		while (got < FORK_N * sizeof(uint64_t)) {
			ssize_t r = read(fds[c][0], p + got,
			    FORK_N * sizeof(uint64_t) - got);
			if (r < 0 && errno == EINTR)
				continue;
			assert_true(r > 0);
			got += (size_t)r;
		}
		close(fds[c][0]);
		assert_int_equal(waitpid(pid[c], &status, 0), pid[c]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	qsort(all, 2 * FORK_N, sizeof(all[0]), cmp_u64);
	for (int i = 0; i < 2 * FORK_N; i++)
		assert_int_equal(all[i], i + 2);	/* distinct, no gap */
	assert_int_equal(counter(f->st, "fork"), 2 * FORK_N + 1);
}

/* Threads of one process share the environment (MDB_NOTLS): readers and
   writers interleave, counters stay distinct. */
#define THREAD_N	4
#define THREAD_OPS	100

struct thr {
	struct store	*st;
	uint64_t	 vals[THREAD_OPS];
	int		 rc;
};

static void *
thread_main(void *arg)
{
	struct thr		*t = arg;
	struct cert_record	 r;
	struct ca_error		 e;
	uint8_t			 s[SERIAL_MAX + 1];
	size_t			 slen;

	mk_serial(1, s, &slen);
	for (int i = 0; i < THREAD_OPS; i++) {
		if (store_counter_next(t->st, "threads", &t->vals[i], &e) !=
		    CA_OK || store_cert_get(t->st, s, slen, &r, &e) != CA_OK) {
			t->rc = -1;
			return NULL;
		}
		cert_record_clear(&r);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct fx		*f = *state;
	struct thr		 t[THREAD_N];
	pthread_t		 tid[THREAD_N];
	struct cert_record	 r;
	struct ca_error		 e;
	uint64_t		 all[THREAD_N * THREAD_OPS];

	mk_record(&r, 1, 1000);
	assert_int_equal(store_cert_put(f->st, &r, &e), CA_OK);
	memset(t, 0, sizeof(t));
	for (int i = 0; i < THREAD_N; i++) {
		t[i].st = f->st;
		assert_int_equal(pthread_create(&tid[i], NULL, thread_main,
		    &t[i]), 0);
	}
	for (int i = 0; i < THREAD_N; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(t[i].rc, 0);
		for (int j = 0; j < THREAD_OPS; j++) {
			if (j > 0)
				assert_true(t[i].vals[j] > t[i].vals[j - 1]);
			all[i * THREAD_OPS + j] = t[i].vals[j];
		}
	}
	qsort(all, THREAD_N * THREAD_OPS, sizeof(all[0]), cmp_u64);
	for (int i = 0; i < THREAD_N * THREAD_OPS; i++)
		assert_int_equal(all[i], i + 1);
}

static void
test_meta(void **state)
{
	struct fx	*f = *state;
	struct ca_error	 e;
	uint8_t		*val = NULL, big[16385];
	size_t		 len = 0;

	ca_error_clear(&e);
	assert_int_equal(store_meta_get(f->st, "alb_revocation_id", &val, &len,
	    &e), CA_ENOENT);
	assert_int_equal(e.code, CA_ENOENT);
	assert_int_equal(store_meta_put(f->st, "alb_revocation_id", "123", 3,
	    &e), CA_OK);
	assert_int_equal(store_meta_get(f->st, "alb_revocation_id", &val, &len,
	    &e), CA_OK);
	assert_int_equal(len, 3);
	assert_string_equal((char *)val, "123");
	free(val);
	assert_int_equal(store_meta_put(f->st, "alb_revocation_id", "45", 2,
	    &e), CA_OK);
	assert_int_equal(store_meta_get(f->st, "alb_revocation_id", &val, &len,
	    &e), CA_OK);
	assert_int_equal(len, 2);
	assert_memory_equal(val, "45", 2);
	free(val);
	assert_int_equal(store_meta_put(f->st, "empty", NULL, 0, &e), CA_OK);
	assert_int_equal(store_meta_get(f->st, "empty", &val, &len, &e), CA_OK);
	assert_int_equal(len, 0);
	free(val);

	memset(big, 'x', sizeof(big));
	assert_int_equal(store_meta_put(f->st, "big", big, 16384, &e), CA_OK);
	assert_int_equal(store_meta_put(f->st, "big", big, 16385, &e),
	    CA_ETOOBIG);

	/* Delete: gone, and deleting what is absent is fine. */
	assert_int_equal(store_meta_delete(f->st, "big", &e), CA_OK);
	assert_int_equal(store_meta_get(f->st, "big", &val, &len, &e),
	    CA_ENOENT);
	assert_int_equal(store_meta_delete(f->st, "big", &e), CA_OK);
	/* Move: the new name has the value, the old one is gone. */
	assert_int_equal(store_meta_move(f->st, "alb_revocation_id", "moved",
	    "67", 2, &e), CA_OK);
	assert_int_equal(store_meta_get(f->st, "alb_revocation_id", &val, &len,
	    &e), CA_ENOENT);
	assert_int_equal(store_meta_get(f->st, "moved", &val, &len, &e),
	    CA_OK);
	assert_memory_equal(val, "67", 2);
	free(val);
	/* A refused move changes nothing. */
	assert_int_equal(store_meta_move(f->st, "moved", "schema_version",
	    "x", 1, &e), CA_EINVAL);
	assert_int_equal(store_meta_get(f->st, "moved", &val, &len, &e),
	    CA_OK);
	free(val);
	assert_int_equal(store_meta_delete(f->st, "schema_version", &e),
	    CA_EINVAL);
	assert_int_equal(store_meta_put(f->st, "schema_version", "x", 1, &e),
	    CA_EINVAL);
	assert_int_equal(store_meta_put(f->st, "", "x", 1, &e), CA_EINVAL);
}

/* ---- tokens ---- */

static void
test_tokens(void **state)
{
	struct fx		*f = *state;
	struct store_token	 tok, got;
	struct store_txn	*txn = NULL;
	struct cert_record	 r, cr;
	struct ca_error		 e;
	uint8_t			 h[STORE_TOKEN_HASH_LEN], h2[STORE_TOKEN_HASH_LEN];

	memset(h, 0xab, sizeof(h));
	memset(h2, 0xcd, sizeof(h2));
	memset(&tok, 0, sizeof(tok));
	snprintf(tok.profile, sizeof(tok.profile), "client");
	snprintf(tok.cn, sizeof(tok.cn), "alice");
	tok.created_at = 1000;
	tok.expires_at = 2000;
	tok.uses_left = 2;
	assert_int_equal(store_token_put(f->st, h, &tok, &e), CA_OK);
	assert_int_equal(store_token_put(f->st, h, &tok, &e), CA_EEXIST);
	assert_int_equal(store_token_get(f->st, h, &got, &e), CA_OK);
	assert_string_equal(got.profile, "client");
	assert_string_equal(got.cn, "alice");
	assert_true(got.created_at == 1000 && got.expires_at == 2000);
	assert_int_equal(got.uses_left, 2);
	assert_int_equal(store_token_get(f->st, h2, &got, &e), CA_ENOENT);

	/* Bound SANs (token version 2) survive a use, in order. */
	{
		struct store_token	b = tok, bg;
		uint8_t			h3[STORE_TOKEN_HASH_LEN];

		memset(h3, 0x17, sizeof(h3));
		b.n_sans = 2;
		snprintf(b.sans[0], sizeof(b.sans[0]), "dns:a.example");
		snprintf(b.sans[1], sizeof(b.sans[1]), "ip:192.0.2.7");
		assert_int_equal(store_token_put(f->st, h3, &b, &e), CA_OK);
		assert_int_equal(store_txn_begin(f->st, &txn, &e), CA_OK);
		assert_int_equal(store_txn_token_use(txn, h3, 1500, NULL, &e),
		    CA_OK);
		assert_int_equal(store_txn_commit(txn, &e), CA_OK);
		assert_int_equal(store_token_get(f->st, h3, &bg, &e), CA_OK);
		assert_int_equal(bg.uses_left, 1);
		assert_int_equal(bg.n_sans, 2);
		assert_string_equal(bg.sans[0], "dns:a.example");
		assert_string_equal(bg.sans[1], "ip:192.0.2.7");
		b.n_sans = STORE_TOKEN_SANS_MAX + 1;
		assert_int_equal(store_token_put(f->st, h2, &b, &e), CA_EINVAL);
		b.n_sans = 1;
		b.sans[0][0] = '\0';
		assert_int_equal(store_token_put(f->st, h2, &b, &e), CA_EINVAL);
	}

	/* Use within a batch that also records a certificate; abort: both
	   vanish, the token keeps its uses. */
	mk_record(&r, 1, 5000);
	assert_int_equal(store_txn_begin(f->st, &txn, &e), CA_OK);
	assert_int_equal(store_txn_token_use(txn, h, 1500, &got, &e), CA_OK);
	assert_int_equal(got.uses_left, 2);	/* as it was before */
	assert_int_equal(store_txn_cert_put(txn, &r, &e), CA_OK);
	store_txn_abort(txn);
	assert_int_equal(store_token_get(f->st, h, &got, &e), CA_OK);
	assert_int_equal(got.uses_left, 2);
	assert_int_equal(store_cert_get(f->st, r.serial, r.serial_len, &cr,
	    &e), CA_ENOENT);

	/* Commit: one use taken, certificate recorded. */
	assert_int_equal(store_txn_begin(f->st, &txn, &e), CA_OK);
	assert_int_equal(store_txn_token_use(txn, h, 1500, &got, &e), CA_OK);
	assert_int_equal(store_txn_cert_put(txn, &r, &e), CA_OK);
	assert_int_equal(store_txn_audit_append(txn, 1500, "token:abab",
	    "issue", "serial 41", &e), CA_OK);
	assert_int_equal(store_txn_commit(txn, &e), CA_OK);
	assert_int_equal(store_token_get(f->st, h, &got, &e), CA_OK);
	assert_int_equal(got.uses_left, 1);
	assert_int_equal(store_cert_get(f->st, r.serial, r.serial_len, &cr,
	    &e), CA_OK);
	cert_record_clear(&cr);

	/* Last use, then used up. */
	assert_int_equal(store_txn_begin(f->st, &txn, &e), CA_OK);
	assert_int_equal(store_txn_token_use(txn, h, 1999, &got, &e), CA_OK);
	assert_int_equal(got.uses_left, 1);
	assert_int_equal(store_txn_commit(txn, &e), CA_OK);
	assert_int_equal(store_txn_begin(f->st, &txn, &e), CA_OK);
	ca_error_clear(&e);
	assert_int_equal(store_txn_token_use(txn, h, 1999, &got, &e),
	    CA_EAUTH);
	assert_string_equal(e.msg, "enrollment token has already been used");
	store_txn_abort(txn);

	/* Expired (at expires_at exactly), and unknown. */
	tok.uses_left = 5;
	assert_int_equal(store_token_put(f->st, h2, &tok, &e), CA_OK);
	assert_int_equal(store_txn_begin(f->st, &txn, &e), CA_OK);
	ca_error_clear(&e);
	assert_int_equal(store_txn_token_use(txn, h2, 2000, &got, &e),
	    CA_EAUTH);
	assert_string_equal(e.msg, "enrollment token has expired");
	memset(h2, 0x01, sizeof(h2));
	ca_error_clear(&e);
	assert_int_equal(store_txn_token_use(txn, h2, 1000, &got, &e),
	    CA_EAUTH);
	assert_int_equal(e.code, CA_EAUTH);
	store_txn_abort(txn);
	store_txn_abort(NULL);

	/* Bounds. */
	memset(tok.profile, 'p', sizeof(tok.profile));
	assert_int_equal(store_token_put(f->st, h2, &tok, &e), CA_EINVAL);
}

/* token list / token revoke: the walk, and deletion in a batch. */
struct token_seen {
	uint8_t	first[STORE_TOKEN_HASH_LEN];
	char	cns[4][16];
	size_t	n;
	size_t	stop_at;	/* return CA_EIO at this count; 0: never */
};

static int
token_cb(const uint8_t hash[STORE_TOKEN_HASH_LEN],
    const struct store_token *tok, void *ctx)
{
	struct token_seen *s = ctx;

	if (s->n == 0)
		memcpy(s->first, hash, STORE_TOKEN_HASH_LEN);
	if (s->n < 4)
		snprintf(s->cns[s->n], sizeof(s->cns[0]), "%.15s", tok->cn);
	if (++s->n == s->stop_at)
		return CA_EIO;
	return CA_OK;
}

static void
test_token_walk_delete(void **state)
{
	struct fx		*f = *state;
	struct store_token	 tok, got;
	struct store_txn	*txn = NULL;
	struct token_seen	 s;
	struct ca_error		 e;
	uint8_t			 h[3][STORE_TOKEN_HASH_LEN];

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_token_foreach(f->st, token_cb, &s, &e), CA_OK);
	assert_int_equal(s.n, 0);
	memset(&tok, 0, sizeof(tok));
	snprintf(tok.profile, sizeof(tok.profile), "client");
	tok.expires_at = 2000;
	tok.uses_left = 1;
	/* Put out of order: the walk is in hash order. */
	for (int i = 0; i < 3; i++) {
		memset(h[i], 0x30 - 0x10 * i, sizeof(h[i]));
		snprintf(tok.cn, sizeof(tok.cn), "cn%d", i);
		assert_int_equal(store_token_put(f->st, h[i], &tok, &e), CA_OK);
	}
	assert_int_equal(store_token_foreach(f->st, token_cb, &s, &e), CA_OK);
	assert_int_equal(s.n, 3);
	assert_memory_equal(s.first, h[2], STORE_TOKEN_HASH_LEN);
	assert_string_equal(s.cns[0], "cn2");
	assert_string_equal(s.cns[2], "cn0");
	/* A callback's error stops the walk and is returned. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	assert_int_equal(store_token_foreach(f->st, token_cb, &s, &e), CA_EIO);
	assert_int_equal(s.n, 2);
	assert_int_equal(store_token_foreach(NULL, token_cb, &s, &e),
	    CA_EINVAL);

	/* Deleted with an audit entry; an aborted batch deletes nothing. */
	assert_int_equal(store_txn_begin(f->st, &txn, &e), CA_OK);
	assert_int_equal(store_txn_token_delete(txn, h[1], &e), CA_OK);
	store_txn_abort(txn);
	assert_int_equal(store_token_get(f->st, h[1], &got, &e), CA_OK);
	assert_int_equal(store_txn_begin(f->st, &txn, &e), CA_OK);
	assert_int_equal(store_txn_token_delete(txn, h[1], &e), CA_OK);
	assert_int_equal(store_txn_audit_append(txn, 1500, "cli:root",
	    "token-revoke", "token=20202020", &e), CA_OK);
	assert_int_equal(store_txn_commit(txn, &e), CA_OK);
	assert_int_equal(store_token_get(f->st, h[1], &got, &e), CA_ENOENT);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_token_foreach(f->st, token_cb, &s, &e), CA_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.cns[0], "cn2");
	assert_string_equal(s.cns[1], "cn0");
	/* A deleted token can no longer be used; deleting again: ENOENT. */
	assert_int_equal(store_txn_begin(f->st, &txn, &e), CA_OK);
	assert_int_equal(store_txn_token_use(txn, h[1], 1000, &got, &e),
	    CA_EAUTH);
	assert_string_equal(e.reason, STORE_REASON_TOKEN_UNKNOWN);
	assert_int_equal(store_txn_token_delete(txn, h[1], &e), CA_ENOENT);
	store_txn_abort(txn);
	assert_int_equal(store_txn_token_delete(NULL, h[1], &e), CA_EINVAL);
}

/* ---- audit ---- */

struct audit_seen {
	uint64_t	seq[16];
	char		action[16][16];
	char		detail0[8192];
	size_t		n;
};

static int
audit_cb(const struct store_audit *a, void *ctx)
{
	struct audit_seen *s = ctx;

	if (s->n == 0)
		snprintf(s->detail0, sizeof(s->detail0), "%s", a->detail);
	s->seq[s->n] = a->seq;
	snprintf(s->action[s->n], sizeof(s->action[0]), "%s", a->action);
	assert_true(a->at == (int64_t)(100 + a->seq));
	assert_string_equal(a->who, a->seq == 2 ? "" : "cli:root");
	s->n++;
	return 0;
}

static void
test_audit(void **state)
{
	struct fx		*f = *state;
	struct audit_seen	 s;
	struct ca_error		 e;
	char			 who[600], *detail;

	assert_int_equal(store_audit_append(f->st, 101, "cli:root", "init",
	    "hello", &e), CA_OK);
	assert_int_equal(store_audit_append(f->st, 102, NULL, "revoke", NULL,
	    &e), CA_OK);
	assert_int_equal(store_audit_append(f->st, 103, "cli:root", "crl",
	    "7", &e), CA_OK);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_audit_foreach(f->st, 0, audit_cb, &s, &e),
	    CA_OK);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.seq[0], 1);
	assert_int_equal(s.seq[2], 3);
	assert_string_equal(s.action[0], "init");
	assert_string_equal(s.action[1], "revoke");
	assert_string_equal(s.detail0, "hello");
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_audit_foreach(f->st, 2, audit_cb, &s, &e),
	    CA_OK);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seq[0], 2);

	/* who over its bound is refused; a long detail is cut. */
	memset(who, 'w', sizeof(who) - 1);
	who[sizeof(who) - 1] = '\0';
	assert_int_equal(store_audit_append(f->st, 104, who, "x", "", &e),
	    CA_EINVAL);
	detail = malloc(10000);
	assert_non_null(detail);
	memset(detail, 'd', 9999);
	detail[9999] = '\0';
	assert_int_equal(store_audit_append(f->st, 104, "cli:root", "x",
	    detail, &e), CA_OK);
	free(detail);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_audit_foreach(f->st, 4, audit_cb, &s, &e),
	    CA_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(strlen(s.detail0), 4096);
}

/* ---- opening, limits, other processes ---- */

static void
test_map_full(void **state)
{
	struct fx		*f = *state;
	struct store_options	 o = { 0 };
	struct store		*st = NULL;
	struct cert_record	 r, got;
	struct ca_error		 e;
	static uint8_t		 der[8192];
	char			 db[128];
	int			 rc = CA_OK;
	uint32_t		 i;

	snprintf(db, sizeof(db), "%s/tiny", f->dir);
	o.dir = db;
	o.map_size = 64 * 1024;
	assert_int_equal(store_open(&o, &st, &e), CA_OK);
	for (i = 1; i < 100 && rc == CA_OK; i++) {
		mk_record(&r, i, 1000);
		r.der = der;
		r.der_len = sizeof(der);
		ca_error_clear(&e);
		rc = store_cert_put(st, &r, &e);
	}
	assert_int_equal(rc, CA_ESPACE);
	assert_true(i > 2);
	assert_non_null(strstr(e.msg, "store.map_size"));
	/* What was committed before is intact. */
	mk_record(&r, 1, 1000);
	assert_int_equal(store_cert_get(st, r.serial, r.serial_len, &got, &e),
	    CA_OK);
	assert_int_equal(got.der_len, sizeof(der));
	cert_record_clear(&got);
	store_close(st);

	/* Reopened with room, the store takes more. */
	o.map_size = 4 * 1024 * 1024;
	assert_int_equal(store_open(&o, &st, &e), CA_OK);
	mk_record(&r, 1000, 1000);
	r.der = der;
	r.der_len = sizeof(der);
	assert_int_equal(store_cert_put(st, &r, &e), CA_OK);
	store_close(st);
}

/* The size of dir/data.mdb. */
static uint64_t
data_file_size(const char *dir)
{
	char		path[256];
	struct stat	sb;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	assert_int_equal(stat(path, &sb), 0);
	return (uint64_t)sb.st_size;
}

/*
 * The map grows by itself (issue 15): a store opened with a tiny map and no
 * limit takes megabytes, one certificate per transaction and in one large
 * batch, and never reports full; with a limit it stops there, saying so.
 */
static void
test_map_grows(void **state)
{
	struct fx		*f = *state;
	struct store_options	 o = { 0 };
	struct store		*st = NULL;
	struct store_txn	*txn = NULL;
	struct store_map_stats	 ms;
	struct cert_record	 r, got;
	struct ca_error		 e;
	static uint8_t		 der[4096];
	char			 db[128];
	uint64_t		 grown;
	uint32_t		 i;
	int			 rc = CA_OK, tries;

	snprintf(db, sizeof(db), "%s/growing", f->dir);
	o.dir = db;
	o.initial_map_size = 128 * 1024;
	assert_int_equal(store_open(&o, &st, &e), CA_OK);
	/* The open's own write grew the 128 KiB map to keep room ahead. */
	store_map_stats(st, &ms);
	assert_true(ms.mapped > 128 * 1024);
	assert_true(ms.limit > ms.mapped);
	grown = ms.grown;
	/* 3,000 records of 4 KiB, one per transaction: about 100 times the
	   first map. */
	for (i = 1; i <= 3000; i++) {
		mk_record(&r, i, 1000 + i);
		r.der = der;
		r.der_len = sizeof(der);
		if ((rc = store_cert_put(st, &r, &e)) != CA_OK)
			fail_msg("record %u with a growing map: %s", i, e.msg);
	}
	store_map_stats(st, &ms);
	assert_true(ms.grown > grown);
	assert_true(ms.used > 12u << 20);
	assert_true(ms.mapped > ms.used);
	/* One transaction larger than the room kept ahead (48 MB): the
	   first try may run short, and says to try again; the next fits. */
	for (tries = 0; tries < 3; tries++) {
		assert_int_equal(store_txn_begin(st, &txn, &e), CA_OK);
		for (i = 10001; i <= 16000; i++) {
			mk_record(&r, i, 5000 + i);
			r.der = der;
			r.der_len = sizeof(der);
			if ((rc = store_txn_cert_put(txn, &r, &e)) != CA_OK)
				break;
		}
		if (rc == CA_OK) {
			rc = store_txn_commit(txn, &e);
			txn = NULL;
		}
		store_txn_abort(txn);
		txn = NULL;
		if (rc == CA_OK)
			break;
		assert_int_equal(rc, CA_ESPACE);
		assert_non_null(strstr(e.msg, "try again"));
	}
	assert_int_equal(rc, CA_OK);
	mk_record(&r, 16000, 0);
	assert_int_equal(store_cert_get(st, r.serial, r.serial_len, &got, &e),
	    CA_OK);
	assert_int_equal(got.der_len, sizeof(der));
	cert_record_clear(&got);
	/* Room asked for ahead of a large batch: it fits the first time. */
	store_reserve(st, 64u << 20);
	assert_int_equal(store_txn_begin(st, &txn, &e), CA_OK);
	for (i = 20001; i <= 25000 && rc == CA_OK; i++) {
		mk_record(&r, i, 9000 + i);
		r.der = der;
		r.der_len = sizeof(der);
		rc = store_txn_cert_put(txn, &r, &e);
	}
	if (rc != CA_OK)
		fail_msg("a batch after store_reserve: %s", e.msg);
	assert_int_equal(store_txn_commit(txn, &e), CA_OK);
	store_close(st);

	/* With a limit, the map grows up to it and then the store is full,
	   naming the setting. */
	snprintf(db, sizeof(db), "%s/bounded", f->dir);
	o.dir = db;
	o.map_size = 2u << 20;
	assert_int_equal(store_open(&o, &st, &e), CA_OK);
	for (i = 1, rc = CA_OK; i < 5000 && rc == CA_OK; i++) {
		mk_record(&r, i, 1000 + i);
		r.der = der;
		r.der_len = sizeof(der);
		rc = store_cert_put(st, &r, &e);
		/* The zeroed tail (test_tail) stays within the bound. */
		assert_true(data_file_size(db) <= 2u << 20);
	}
	assert_int_equal(rc, CA_ESPACE);
	assert_non_null(strstr(e.msg, "store.map_size"));
	store_map_stats(st, &ms);
	assert_int_equal(ms.limit, 2u << 20);
	assert_true(ms.used > (3u << 20) / 2);
	assert_true(i > 150);
	store_close(st);
}

/*
 * The zeroed tail (store.c, tail_extend): a growing store's commits leave
 * the file's size alone except once a chunk, and the zeros never land on
 * data (test_map_grows: never past the map's bound).
 */
static void
test_tail(void **state)
{
	struct fx		*f = *state;
	struct store_options	 o = { 0 };
	struct store		*st = NULL;
	struct store_map_stats	 ms;
	struct cert_record	 r, got;
	struct ca_error		 e;
	static uint8_t		 der[1024];
	char			 db[128];
	uint64_t		 size, last = 0;
	unsigned		 changes = 0;
	uint32_t		 i;

	snprintf(db, sizeof(db), "%s/tail", f->dir);
	o.dir = db;
	assert_int_equal(store_open(&o, &st, &e), CA_OK);
	for (i = 1; i <= 3000; i++) {
		mk_record(&r, i, 1000 + i);
		memset(der, (int)(i & 0xff), sizeof(der));
		r.der = der;
		r.der_len = sizeof(der);
		if (store_cert_put(st, &r, &e) != CA_OK)
			fail_msg("record %u: %s", i, e.msg);
		store_map_stats(st, &ms);
		size = data_file_size(db);
		assert_true(size >= ms.used);
		assert_true(size <= ms.mapped);
		changes += size != last;
		last = size;
	}
	/* 3,000 commits and about 4 MB of data: the size moved about once a
	   chunk (an eighth of the data, 256 KiB at least), not with each
	   commit as without the tail. */
	store_map_stats(st, &ms);
	assert_true(ms.used > 3u << 20);
	if (changes > 100)
		fail_msg("the file's size changed %u times in 3,000 commits",
		    changes);
	assert_true(last >= ms.used + (128u << 10));
	store_close(st);
	st = NULL;
	/* Every record reads back after a reopen, its octets intact. */
	assert_int_equal(store_open(&o, &st, &e), CA_OK);
	for (i = 1; i <= 3000; i++) {
		mk_record(&r, i, 0);
		assert_int_equal(store_cert_get(st, r.serial, r.serial_len,
		    &got, &e), CA_OK);
		assert_int_equal(got.der_len, sizeof(der));
		memset(der, (int)(i & 0xff), sizeof(der));
		assert_memory_equal(got.der, der, sizeof(der));
		cert_record_clear(&got);
	}
	store_close(st);
}

/* ---- listings by status against a brute-force scan ---- */

struct serials {
	uint8_t	v[4096][17];
	size_t	n;
};

static int
status_collect_cb(const struct cert_record *rec, void *arg)
{
	struct serials *s = arg;

	assert_true(s->n < 4096);
	s->v[s->n][0] = (uint8_t)rec->serial_len;
	memcpy(s->v[s->n] + 1, rec->serial, rec->serial_len);
	s->n++;
	return 0;
}

struct brute {
	struct serials	*out;
	int		 want;
	int64_t		 now;
};

static int
brute_cb(const struct cert_record *rec, void *arg)
{
	struct brute	*b = arg;
	int		 st;

	if (rec->status == CERT_STATUS_REVOKED)
		st = STORE_FILTER_REVOKED;
	else if (rec->not_after != STORE_NOT_AFTER_UNKNOWN &&
	    rec->not_after < b->now)
		st = STORE_FILTER_EXPIRED;
	else
		st = STORE_FILTER_VALID;
	return st == b->want ? status_collect_cb(rec, b->out) : 0;
}

/* Each status through store_cert_foreach_status, whole and in pages of 7,
   equals the brute-force filter of the full walk, in serial order. */
static void
filters_check(struct store *st, int64_t now, size_t *counts)
{
	static struct serials	want, got, page;
	struct ca_error		e;

	for (int f = STORE_FILTER_VALID; f <= STORE_FILTER_EXPIRED; f++) {
		struct brute b = { &want, f, now };

		want.n = got.n = 0;
		assert_int_equal(store_cert_foreach(st, NULL, 0, brute_cb, &b,
		    &e), CA_OK);
		assert_int_equal(store_cert_foreach_status(st, f, now, NULL, 0,
		    0, status_collect_cb, &got, &e), CA_OK);
		assert_int_equal(got.n, want.n);
		assert_memory_equal(got.v, want.v, want.n * 17);
		got.n = 0;
		for (;;) {
			const uint8_t *after = got.n ? got.v[got.n - 1] + 1 :
			    NULL;
			size_t alen = got.n ? got.v[got.n - 1][0] : 0;

			page.n = 0;
			assert_int_equal(store_cert_foreach_status(st, f, now,
			    after, alen, 7, status_collect_cb, &page, &e), CA_OK);
			assert_true(page.n <= 7);
			memcpy(got.v[got.n], page.v, page.n * 17);
			got.n += page.n;
			if (page.n < 7)
				break;
		}
		assert_int_equal(got.n, want.n);
		assert_memory_equal(got.v, want.v, want.n * 17);
		counts[f] = want.n;
	}
}

static void
test_status_filters(void **state)
{
	struct fx		*f = *state;
	struct store_txn	*txn = NULL;
	struct store_options	 o = { .dir = f->db };
	struct cert_record	 r;
	struct ca_error		 e;
	size_t			 counts[3];
	uint64_t		 seed = 0x2545f4914f6cdd1dULL;
	const int64_t		 now = 1800000000;
	MDB_env			*env = NULL;
	MDB_txn			*mt = NULL;
	MDB_dbi			 meta, revoked, expiry;
	MDB_cursor		*cur = NULL;
	MDB_val			 k, v;
	uint8_t			 three[8] = { 0, 0, 0, 0, 0, 0, 0, 3 };

	/* Nothing at all: every status is empty. */
	filters_check(f->st, now, counts);
	assert_int_equal(counts[0] + counts[1] + counts[2], 0);
	/* A random store: 2,000 certificates with notAfter 100 days either
	   side of now (some before 1970, some unknown), a fifth revoked, and
	   revocations of serials the store never saw. */
	assert_int_equal(store_txn_begin(f->st, &txn, &e), CA_OK);
	for (uint32_t i = 1; i <= 2000; i++) {
		int64_t na;

		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		na = now - 100 * 86400 + (int64_t)(seed % (200 * 86400));
		if (i % 97 == 0)
			na = -86400 * (int64_t)(i % 5 + 1);
		if (i % 89 == 0)
			na = now;		/* valid: not past notAfter */
		mk_record(&r, (uint32_t)(seed >> 40) << 12 | i, na);
		assert_int_equal(store_txn_cert_put(txn, &r, &e), CA_OK);
		if (seed % 5 == 0) {
			struct store_revocation	rv = { r.serial,
			    r.serial_len, now - 10, 1, false, 0, 0 };
			int			out;

			assert_int_equal(store_txn_cert_revoke(txn, &rv,
			    test_enc, &out, &e), CA_OK);
		}
	}
	for (uint32_t i = 1; i <= 30; i++) {
		struct store_revocation	rv;
		uint8_t			sn[16];
		size_t			len;
		int			out;

		mk_serial(0xff000000u | i, sn, &len);
		memset(&rv, 0, sizeof(rv));
		rv.serial = sn;
		rv.serial_len = len;
		rv.revoked_at = now - 5;
		rv.force = true;
		rv.not_after = i % 2 ? STORE_NOT_AFTER_UNKNOWN : now - 86400;
		assert_int_equal(store_txn_cert_revoke(txn, &rv, test_enc, &out,
		    &e), CA_OK);
	}
	assert_int_equal(store_txn_commit(txn, &e), CA_OK);
	filters_check(f->st, now, counts);
	assert_true(counts[STORE_FILTER_VALID] > 500);
	assert_true(counts[STORE_FILTER_REVOKED] > 300);
	assert_true(counts[STORE_FILTER_EXPIRED] > 500);
	/* At another time, other answers, still the scan's. */
	filters_check(f->st, now + 50 * 86400, counts);
	filters_check(f->st, now - 200 * 86400, counts);
	assert_int_equal(counts[STORE_FILTER_EXPIRED], 20);	/* < 1970 */

	/* A schema-3 store (revoked keys still in "expiry"): read-only, it
	   is scanned; opened for writing, it moves them, and the indexes
	   answer as the scan does. */
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_set_mapsize(env, 64u << 20), 0);
	assert_int_equal(mdb_env_open(env, f->db, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &mt), 0);
	assert_int_equal(mdb_dbi_open(mt, "meta", 0, &meta), 0);
	assert_int_equal(mdb_dbi_open(mt, "revoked", 0, &revoked), 0);
	assert_int_equal(mdb_dbi_open(mt, "expiry", 0, &expiry), 0);
	assert_int_equal(mdb_cursor_open(mt, revoked, &cur), 0);
	while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
		MDB_val empty = { 0, (void *)"" };

		assert_int_equal(mdb_put(mt, expiry, &k, &empty, 0), 0);
	}
	mdb_cursor_close(cur);
	k.mv_size = 14;
	k.mv_data = "schema_version";
	v.mv_size = 8;
	v.mv_data = three;
	assert_int_equal(mdb_put(mt, meta, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(mt), 0);
	mdb_env_close(env);
	o.read_only = true;
	assert_int_equal(store_open(&o, &f->st, &e), CA_OK);
	filters_check(f->st, now, counts);
	store_close(f->st);
	o.read_only = false;
	assert_int_equal(store_open(&o, &f->st, &e), CA_OK);
	filters_check(f->st, now, counts);
	assert_true(counts[STORE_FILTER_REVOKED] > 300);

	/* Pages of a status with more than status_index_max certificates
	   walk the records instead: the same answers. */
	store_close(f->st);
	f->st = NULL;
	o.status_index_max = 16;
	assert_int_equal(store_open(&o, &f->st, &e), CA_OK);
	filters_check(f->st, now, counts);
	assert_true(counts[STORE_FILTER_REVOKED] > 16 &&
	    counts[STORE_FILTER_EXPIRED] > 16);
	filters_check(f->st, now - 200 * 86400, counts);
	assert_int_equal(counts[STORE_FILTER_EXPIRED], 20);	/* < 1970 */
}

static void
test_open_read_only(void **state)
{
	struct fx		*f = *state;
	struct store_options	 o = { 0 };
	struct store		*st = NULL;
	struct cert_record	 r, got;
	struct ca_error		 e;
	struct stat		 sb;
	char			 db[128];
	uint64_t		 v;

	/* Missing store. */
	snprintf(db, sizeof(db), "%s/none", f->dir);
	o.dir = db;
	o.read_only = true;
	ca_error_clear(&e);
	assert_int_equal(store_open(&o, &st, &e), CA_ENOENT);
	assert_null(st);
	assert_non_null(strstr(e.msg, "mtlsca init"));
	assert_non_null(strstr(e.msg, db));
	assert_int_not_equal(stat(db, &sb), 0);	/* not created */

	/* Created 0700 by a writer... */
	o.read_only = false;
	assert_int_equal(store_open(&o, &st, &e), CA_OK);
	assert_int_equal(stat(db, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	mk_record(&r, 1, 1000);
	assert_int_equal(store_cert_put(st, &r, &e), CA_OK);
	store_close(st);

	/* ... then read-only: reads work, writes are refused. */
	o.read_only = true;
	assert_int_equal(store_open(&o, &st, &e), CA_OK);
	assert_int_equal(store_cert_get(st, r.serial, r.serial_len, &got, &e),
	    CA_OK);
	cert_record_clear(&got);
	ca_error_clear(&e);
	mk_record(&r, 2, 1000);
	assert_int_equal(store_cert_put(st, &r, &e), CA_EINVAL);
	assert_non_null(strstr(e.msg, "read-only"));
	assert_int_equal(store_counter_next(st, "x", &v, &e), CA_EINVAL);
	store_close(st);
	store_close(NULL);

	assert_int_equal(store_open(NULL, &st, &e), CA_EINVAL);
}

static void
test_schema_version(void **state)
{
	struct fx		*f = *state;
	struct store_options	 o = { .dir = f->db };
	struct store		*st = NULL;
	struct ca_error		 e;
	MDB_env			*env = NULL;
	MDB_txn			*txn = NULL;
	MDB_dbi			 meta;
	MDB_val			 k = { 14, "schema_version" }, v;
	uint8_t			 val[8] = { 0, 0, 0, 0, 0, 0, 0, 4 };

	/* The fixture wrote version 4 (1, the CN index, renewals, expiry
	   without the revoked). */
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_open(env, f->db, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	assert_int_equal(mdb_get(txn, meta, &k, &v), 0);
	assert_int_equal(v.mv_size, 8);
	assert_memory_equal(v.mv_data, val, 8);
	/* A future version. */
	val[7] = 5;
	v.mv_size = 8;
	v.mv_data = val;
	assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	ca_error_clear(&e);
	assert_int_equal(store_open(&o, &st, &e), CA_EINVAL);
	assert_null(st);
	assert_non_null(strstr(e.msg, "schema version 5"));
	o.read_only = true;
	assert_int_equal(store_open(&o, &st, &e), CA_EINVAL);
	assert_null(st);
}

/*
 * Another process grows the map beyond this one's: the next transaction
 * here gets MDB_MAP_RESIZED, which the store must absorb.
 */
static void
test_map_resized(void **state)
{
	struct fx		*f = *state;
	struct store_options	 o = { 0 };
	struct store		*st = NULL;
	struct cert_record	 r, got;
	struct ca_error		 e;
	static uint8_t		 der[16384];
	char			 db[128];
	int			 status;
	pid_t			 pid;
	uint32_t		 last = 0;

	snprintf(db, sizeof(db), "%s/grow", f->dir);
	o.dir = db;
	o.map_size = 256 * 1024;
	assert_int_equal(store_open(&o, &st, &e), CA_OK);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store_options	 co = { .dir = db,
		    .map_size = 16 * 1024 * 1024 };
		struct store		*cst = NULL;
		struct cert_record	 cr;

		if (store_open(&co, &cst, &e) != CA_OK)
			_exit(2);
		for (uint32_t i = 1; i <= 200; i++) {
			mk_record(&cr, i, 1000);
			cr.der = der;
			cr.der_len = sizeof(der);
			if (store_cert_put(cst, &cr, &e) != CA_OK)
				_exit(3);
		}
		store_close(cst);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	last = 200;
	/* 200 * 16 KiB lie far beyond this process's 256 KiB map. */
	mk_record(&r, last, 1000);
	if (store_cert_get(st, r.serial, r.serial_len, &got, &e) != CA_OK)
		fail_msg("after another process grew the map: %s", e.msg);
	assert_int_equal(got.der_len, sizeof(der));
	cert_record_clear(&got);
	mk_record(&r, 201, 1000);
	assert_int_equal(store_cert_put(st, &r, &e), CA_OK);
	store_close(st);
}


struct copy_writer {
	struct store	*st;
	uint32_t	 from, n;
};

static void *
copy_writer_run(void *arg)
{
	struct copy_writer	*w = arg;
	struct cert_record	 r;
	struct ca_error		 e;

	for (uint32_t i = 0; i < w->n; i++) {
		mk_record(&r, w->from + i, 2000000000);
		if (store_cert_put(w->st, &r, &e) != CA_OK)
			return (void *)1;
	}
	return NULL;
}

/* store_copy: a consistent, compacted copy that opens as a store, taken
   while another thread writes; never over an existing file. */
static void
test_copy(void **state)
{
	struct fx		*f = *state;
	struct store_options	 o = { 0 };
	struct store		*cp = NULL;
	struct store_stats	 before, after, got;
	struct store_revocation	 rv;
	struct cert_record	 r, rec;
	struct copy_writer	 w = { f->st, 1000, 300 };
	struct ca_error		 e;
	pthread_t		 th;
	char			 dir[128], path[160];
	void			*res;
	uint64_t		 v;
	int			 outcome;

	for (uint32_t i = 1; i <= 40; i++) {
		mk_record(&r, i, 2000000000);
		assert_int_equal(store_cert_put(f->st, &r, &e), CA_OK);
	}
	mk_record(&r, 7, 2000000000);
	memset(&rv, 0, sizeof(rv));
	rv.serial = r.serial;
	rv.serial_len = r.serial_len;
	rv.revoked_at = 1700000000;
	rv.reason = 1;
	assert_int_equal(store_cert_revoke(f->st, &rv, test_enc, &outcome,
	    NULL, &e), CA_OK);
	assert_int_equal(store_counter_next(f->st, STORE_COUNTER_CRL, &v, &e),
	    CA_OK);
	assert_int_equal(store_stats(f->st, &before, &e), CA_OK);
	assert_int_equal(before.certs, 40);
	assert_int_equal(before.revoked, 1);
	assert_int_equal(before.crl_number, 1);

	snprintf(dir, sizeof(dir), "%s/copy", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(pthread_create(&th, NULL, copy_writer_run, &w), 0);
	assert_int_equal(store_copy(f->st, dir, &e), CA_OK);
	assert_int_equal(pthread_join(th, &res), 0);
	assert_null(res);
	assert_int_equal(store_stats(f->st, &after, &e), CA_OK);
	assert_int_equal(after.certs, 340);

	/* Never over an existing copy. */
	assert_int_equal(store_copy(f->st, dir, &e), CA_EEXIST);

	o.dir = dir;
	assert_int_equal(store_open(&o, &cp, &e), CA_OK);
	assert_int_equal(store_stats(cp, &got, &e), CA_OK);
	/* One snapshot: somewhere between, never a half-written record. */
	assert_true(got.certs >= before.certs && got.certs <= after.certs);
	assert_int_equal(got.revoked, 1);
	assert_int_equal(got.crl_number, 1);
	assert_int_equal(got.schema, before.schema);
	assert_int_equal(store_cert_get(cp, r.serial, r.serial_len, &rec, &e),
	    CA_OK);
	assert_int_equal(rec.status, CERT_STATUS_REVOKED);
	assert_int_equal(rec.reason, 1);
	cert_record_clear(&rec);
	store_close(cp);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	{
		struct stat sb;

		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_mode & 077, 0);
	}
}

/* store_counter_raise: up only, in one transaction. */
static void
test_counter_raise(void **state)
{
	struct fx	*f = *state;
	struct ca_error	 e;
	uint64_t	 v;

	assert_int_equal(store_counter_raise(f->st, STORE_COUNTER_CRL, 41, &v,
	    &e), CA_OK);
	assert_int_equal(v, 41);
	assert_int_equal(store_counter_next(f->st, STORE_COUNTER_CRL, &v, &e),
	    CA_OK);
	assert_int_equal(v, 42);
	/* Never down. */
	assert_int_equal(store_counter_raise(f->st, STORE_COUNTER_CRL, 5, &v,
	    &e), CA_OK);
	assert_int_equal(v, 42);
	assert_int_equal(counter(f->st, STORE_COUNTER_CRL), 42);
	assert_int_equal(store_counter_raise(f->st, "schema_version", 9, NULL,
	    &e), CA_EINVAL);
	assert_int_equal(store_counter_raise(f->st, "", 9, NULL, &e),
	    CA_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_round_trip),
		cmocka_unit_test(test_record_encode_bounds),
		cmocka_unit_test(test_record_corrupt),
		cmocka_unit_test(test_record_corpus),
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
		T(test_put_get),
		T(test_foreach),
		T(test_foreach_cn),
		cmocka_unit_test(test_schema_v1),
		T(test_revoke),
		T(test_scan_min_not_after),
		T(test_scan_callbacks),
		cmocka_unit_test(test_record_v2),
		T(test_scan_per_ca),
		T(test_scan_many),
		T(test_scan_rss),
		T(test_counters),
		T(test_counter_processes),
		T(test_threads),
		T(test_meta),
		T(test_tokens),
		T(test_token_walk_delete),
		T(test_audit),
		T(test_map_full),
		T(test_map_grows),
		T(test_tail),
		T(test_status_filters),
		T(test_open_read_only),
		T(test_renewals),
		T(test_schema_version),
		T(test_map_resized),
		T(test_copy),
		T(test_counter_raise),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
