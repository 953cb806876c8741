/*
 * The revoked-index snapshot and the revocation log (design note 26): a
 * scan through them must see exactly what a scan of the index would, in
 * the same order, whatever happened since the snapshot was written. The
 * oracle is a model of the index kept by the test itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/snapshot.h"
#include "store/store.h"
#include "store_fixture.h"

#define BASE		2000000000
#define MAX_MODEL	4096

struct fx {
	char		 dir[64];
	char		 db[96];
	char		 snap[128];
	struct store	*st;
	/* The hook's revocation (test_race), if any. */
	uint32_t	 hook_serial;
	uint32_t	 hook_calls;
};

/* What the index holds, as the test believes. */
struct model_entry {
	uint32_t	n;		/* serial number seed */
	uint32_t	ca;
	int64_t		not_after;
	uint8_t		reason;
	int64_t		revoked_at;
};
struct model {
	struct model_entry	e[MAX_MODEL];
	size_t			n;
};



/*
 * The serial of model number n: 16 bytes (mk_serial) when n < 2^24, else
 * n >> 24 bytes (5..20) of 0x41, 0, n's low 3 bytes and 0x5a...: numbers
 * that differ only in that length give serials that are prefixes of each
 * other, the keys LMDB orders by length (the shorter first).
 */
static void
serial_of(uint32_t n, uint8_t *out, size_t *len)
{
	size_t l = n >> 24;

	if (l == 0) {
		mk_serial(n, out, len);
		return;
	}
	memset(out, 0x5a, l);
	out[0] = 0x41;
	out[1] = 0;
	out[2] = (uint8_t)(n >> 16);
	out[3] = (uint8_t)(n >> 8);
	out[4] = (uint8_t)n;
	*len = l;
}

static void
model_entry_der(const struct model_entry *m, uint8_t *buf, size_t *len)
{
	struct cert_record r;

	memset(&r, 0, sizeof(r));
	serial_of(m->n, r.serial, &r.serial_len);
	r.reason = m->reason;
	r.revoked_at = m->revoked_at;
	assert_int_equal(test_enc(&r, buf, 64, len), 0);
}

static int
fx_open(struct fx *f, bool read_only, void (*hook)(void *))
{
	struct store_options	o = { 0 };
	struct ca_error		e;

	o.dir = f->db;
	o.read_only = read_only;
	o.snapshot_hook = hook;
	o.snapshot_hook_ctx = f;
	if (store_open(&o, &f->st, &e) != CA_OK) {
		fprintf(stderr, "store_open: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static int
fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/mtlsca-snap-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/db", f->dir);
	snprintf(f->snap, sizeof(f->snap), "%s/%s", f->db, REVSNAP_NAME);
	*state = f;
	return fx_open(f, false, NULL);
}

static int
fx_teardown(void **state)
{
	struct fx	*f = *state;
	int		 rc = fixture_remove(f->st, f->dir);

	free(f);
	return rc;
}

/* Revoke serial n (forced) and mirror it in the model. */
static void
do_revoke(struct store *st, struct model *m, uint32_t n, uint32_t ca,
    int64_t not_after, uint8_t reason, int64_t at)
{
	struct store_revocation	rv;
	struct ca_error		e;
	uint8_t			serial[32];
	size_t			i;
	int			outcome;

	memset(&rv, 0, sizeof(rv));
	serial_of(n, serial, &rv.serial_len);
	rv.serial = serial;
	rv.force = true;
	rv.not_after = not_after;
	rv.ca_id = ca;
	rv.reason = reason;
	rv.revoked_at = at;
	if (store_cert_revoke(st, &rv, test_enc, &outcome, NULL, &e) != CA_OK)
		fail_msg("revoke %u: %s", n, e.msg);
	for (i = 0; i < m->n && m->e[i].n != n; i++)
		;
	if (i < m->n) {
		/* Known: only keyCompromise replaces the reason. */
		if (outcome == STORE_REVOKE_RAISED)
			m->e[i].reason = reason;
		else
			assert_int_equal(outcome, STORE_REVOKE_ALREADY);
		return;
	}
	assert_int_equal(outcome, STORE_REVOKE_NEW);
	assert_true(m->n < MAX_MODEL);
	m->e[m->n++] = (struct model_entry){ n, ca, not_after, reason, at };
}

/* What a scan delivered: the entries' bytes, in order. */
struct seen {
	uint8_t		buf[MAX_MODEL * 32];
	size_t		len;
	size_t		n;
	int		begins;
	uint64_t	max_entries;
};

static int
seen_begin(void *ctx, uint64_t max_entries, uint64_t max_bytes)
{
	struct seen *s = ctx;

	(void)max_bytes;
	/* Again when the store starts over: what came before is void. */
	s->len = 0;
	s->n = 0;
	s->begins++;
	s->max_entries = max_entries;
	return 0;
}

static int
seen_entry(void *ctx, const uint8_t *der, size_t len)
{
	struct seen *s = ctx;

	assert_true(len < 64 && s->len + len + 1 <= sizeof(s->buf));
	s->buf[s->len++] = (uint8_t)len;
	memcpy(s->buf + s->len, der, len);
	s->len += len;
	s->n++;
	return 0;
}

static void
scan(struct store *st, uint32_t ca, int64_t min, struct seen *s)
{
	struct store_revoked_visitor	v = { seen_begin, seen_entry, s, ca };
	struct ca_error			e;

	memset(s, 0, sizeof(*s));
	if (store_revoked_scan(st, min, &v, &e) != CA_OK)
		fail_msg("scan: %s", e.msg);
}

/* The index's order: be64(not_after), then the serial. */
static int
model_cmp(const void *a, const void *b)
{
	const struct model_entry *x = a, *y = b;
	uint8_t		 sx[32], sy[32];
	size_t		 lx, ly;
	int		 c;

	if (x->not_after != y->not_after)
		return x->not_after < y->not_after ? -1 : 1;
	serial_of(x->n, sx, &lx);
	serial_of(y->n, sy, &ly);
	if ((c = memcmp(sx, sy, lx < ly ? lx : ly)) != 0)
		return c;
	return lx < ly ? -1 : lx > ly;
}

static void
expect(const struct model *m, uint32_t ca, int64_t min, struct seen *s)
{
	struct model	*sorted = malloc(sizeof(*sorted));
	uint8_t		 der[64];
	size_t		 len = 0;

	assert_non_null(sorted);
	memcpy(sorted, m, sizeof(*m));
	qsort(sorted->e, sorted->n, sizeof(sorted->e[0]), model_cmp);
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < sorted->n; i++) {
		if (sorted->e[i].not_after < min ||
		    (sorted->e[i].ca > 1 ? sorted->e[i].ca : 1) !=
		    (ca > 1 ? ca : 1))
			continue;
		model_entry_der(&sorted->e[i], der, &len);
		s->buf[s->len++] = (uint8_t)len;
		memcpy(s->buf + s->len, der, len);
		s->len += len;
		s->n++;
	}
	free(sorted);
}

/* A scan equals the model; returns how many times it began (2 when the
   store started over). */
static int
assert_scan_matches(struct store *st, const struct model *m, uint32_t ca,
    int64_t min)
{
	struct seen	*got = malloc(sizeof(*got));
	struct seen	*want = malloc(sizeof(*want));

	size_t		 total = m->n;
	int		 begins;

	assert_non_null(got);
	assert_non_null(want);
	/* The model before the scan: what a hook revokes during it comes
	   after the scan's read snapshot. */
	expect(m, ca, min, want);
	scan(st, ca, min, got);
	if (got->n != want->n)
		fail_msg("CA %u, min %lld: %zu entries, expected %zu", ca,
		    (long long)min, got->n, want->n);
	assert_int_equal(got->len, want->len);
	assert_memory_equal(got->buf, want->buf, got->len);
	assert_int_equal(got->max_entries, total);
	begins = got->begins;
	free(got);
	free(want);
	return begins;
}

static ino_t
snap_ino(const struct fx *f)
{
	struct stat sb;

	return stat(f->snap, &sb) == 0 ? sb.st_ino : 0;
}

/* xorshift64*: reproducible. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/*
 * Random revocations (three CAs, reasons raised, entries below the
 * cut-offs), each followed now and then by scans with random CAs and
 * cut-offs: every scan equals the model, and both ways were taken (the
 * index, writing a new snapshot; the snapshot and log, keeping it).
 */
static void
test_matches_index(void **state)
{
	struct fx	*f = *state;
	struct model	*m = calloc(1, sizeof(*m));
	uint64_t	 seed = 0x9e3779b97f4a7c15ULL;
	static const int64_t mins[] = { 0, BASE + 100, BASE + 300 };
	struct store_scan_stats stats;

	assert_non_null(m);
	for (int round = 0; round < 120; round++) {
		unsigned ops = (unsigned)(rnd(&seed) % 25);

		for (unsigned i = 0; i < ops; i++) {
			/* One in five names a serial revoked before; one in
			   four of the others is of 5-20 bytes, from a small
			   set so that some are prefixes of others (with the
			   same notAfter), a tenth of those with no known
			   notAfter. */
			uint32_t n, low;
			int64_t	 na = BASE + (int64_t)(rnd(&seed) % 500);

			if (m->n > 0 && rnd(&seed) % 5 == 0)
				n = m->e[rnd(&seed) % m->n].n;
			else if (rnd(&seed) % 4 == 0) {
				low = (uint32_t)(rnd(&seed) % 60);
				n = (uint32_t)(5 + rnd(&seed) % 16) << 24 | low;
				na = low % 10 == 0 ? STORE_NOT_AFTER_UNKNOWN :
				    BASE + (int64_t)(low % 7) * 60;
			} else
				n = (uint32_t)(rnd(&seed) % 100000);
			do_revoke(f->st, m, n, 1 + (uint32_t)(rnd(&seed) % 3),
			    na,
			    (uint8_t)(rnd(&seed) % 2 == 0 ? 1 : 4),
			    1700000000 + round);
		}
		for (int k = (int)(rnd(&seed) % 3); k > 0; k--) {
			uint32_t ca = (uint32_t)(rnd(&seed) % 4);
			int64_t min = mins[rnd(&seed) % 3];

			assert_scan_matches(f->st, m, ca, min);
		}
	}
	store_scan_stats(f->st, &stats);
	print_message("%zu entries; scans: %llu through the snapshot and the "
	    "log, %llu through the index; %llu snapshots written\n", m->n,
	    (unsigned long long)stats.via_snapshot,
	    (unsigned long long)stats.via_index,
	    (unsigned long long)stats.written);
	assert_true(stats.via_snapshot >= 20);
	assert_true(stats.via_index >= 2);
	assert_true(stats.written >= 5);
	/* Each scan of the index wrote (and recorded) a snapshot: none was
	   given up for keys out of LMDB's order. */
	assert_true(stats.written >= stats.via_index);
	/* Reopened read-only: the snapshot is read, never written. */
	{
		ino_t before = snap_ino(f);

		store_close(f->st);
		assert_int_equal(fx_open(f, true, NULL), 0);
		assert_scan_matches(f->st, m, 1, 0);
		assert_scan_matches(f->st, m, 2, BASE + 300);
		assert_true(snap_ino(f) == before);
	}
	free(m);
}

/* A snapshot file that is not the recorded one is never read: removed,
   rewritten in place or replaced by another, the scan reads the index. */
static void
test_file_replaced(void **state)
{
	struct fx	*f = *state;
	struct model	*m = calloc(1, sizeof(*m));
	char		 saved[160];
	FILE		*fp;
	int		 c;

	assert_non_null(m);
	snprintf(saved, sizeof(saved), "%s.saved", f->snap);
	for (uint32_t i = 0; i < 300; i++)
		do_revoke(f->st, m, i, 1, BASE + i, 4, 1700000000);
	assert_scan_matches(f->st, m, 1, 0);
	assert_true(snap_ino(f) != 0);
	/* An older snapshot put back after later revocations. */
	assert_int_equal(link(f->snap, saved), 0);
	for (uint32_t i = 300; i < 330; i++)
		do_revoke(f->st, m, i, 1, BASE + i, 4, 1700000000);
	/* Enough changes for a new snapshot (256 + 1/8). */
	for (uint32_t i = 330; i < 700; i++)
		do_revoke(f->st, m, i, 1, BASE + i, 4, 1700000000);
	assert_scan_matches(f->st, m, 1, 0);
	assert_int_equal(rename(saved, f->snap), 0);
	do_revoke(f->st, m, 5000, 1, BASE, 1, 1700000000);
	assert_scan_matches(f->st, m, 1, 0);
	/* A byte changed in place (same inode): its times move. */
	do_revoke(f->st, m, 5001, 1, BASE + 1, 1, 1700000000);
	assert_non_null(fp = fopen(f->snap, "r+b"));
	assert_int_equal(fseek(fp, 200, SEEK_SET), 0);
	c = fgetc(fp);
	assert_int_equal(fseek(fp, 200, SEEK_SET), 0);
	fputc(c ^ 0x01, fp);
	fclose(fp);
	assert_scan_matches(f->st, m, 1, 0);
	/* Gone. */
	do_revoke(f->st, m, 5002, 1, BASE + 2, 1, 1700000000);
	assert_int_equal(unlink(f->snap), 0);
	assert_scan_matches(f->st, m, 1, 0);
	assert_scan_matches(f->st, m, 1, 0);
	free(m);
}

/* The hook revokes a serial between a scan's snapshot file and its
   record. */
static struct model *race_model;

static void
race_hook(void *ctx)
{
	struct fx *f = ctx;

	f->hook_calls++;
	if (f->hook_serial != 0) {
		do_revoke(f->st, race_model, f->hook_serial, 1, BASE + 7, 4,
		    1700000001);
		f->hook_serial = 0;
	}
}

/*
 * Revocations that land while a snapshot is being recorded: the first
 * time, before the log was on, the snapshot misses one and must not be
 * recorded; afterwards the log has it. Either way every scan lists it.
 */
static void
test_race(void **state)
{
	struct fx	*f = *state;
	struct model	*m = calloc(1, sizeof(*m));

	assert_non_null(m);
	race_model = m;
	store_close(f->st);
	assert_int_equal(fx_open(f, false, race_hook), 0);
	for (uint32_t i = 0; i < 50; i++)
		do_revoke(f->st, m, i, 1, BASE + i, 4, 1700000000);
	f->hook_serial = 1000;		/* not logged: the log is not on */
	assert_scan_matches(f->st, m, 1, 0);
	assert_int_equal(f->hook_calls, 1);
	/* The model has 1000; the index too; the snapshot not. */
	assert_scan_matches(f->st, m, 1, 0);
	f->hook_serial = 1001;		/* logged */
	for (uint32_t i = 2000; i < 2400; i++)
		do_revoke(f->st, m, i, 1, BASE + (i % 90), 4, 1700000000);
	assert_scan_matches(f->st, m, 1, 0);
	assert_scan_matches(f->st, m, 1, 0);
	do_revoke(f->st, m, 3000, 1, BASE, 1, 1700000002);
	assert_scan_matches(f->st, m, 1, 0);
	assert_true(f->hook_calls >= 3);
	free(m);
}

/*
 * Take path's identity into *m as the store would record it: what stands
 * for a file rewritten in place within one tick of the clock (same
 * identity to the reader, other bytes).
 */
static void
identity_of(const char *path, struct revsnap_meta *m)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	m->dev = (uint64_t)sb.st_dev;
	m->ino = (uint64_t)sb.st_ino;
	m->size = (uint64_t)sb.st_size;
	m->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
	    sb.st_mtim.tv_nsec;
	m->ctime_ns = (int64_t)sb.st_ctim.tv_sec * 1000000000 +
	    sb.st_ctim.tv_nsec;
}

/* Write buf over path in place, then take its identity into *m. */
static void
rewrite_in_place(const char *path, const uint8_t *buf, size_t size,
    struct revsnap_meta *m)
{
	FILE *fp;

	assert_non_null(fp = fopen(path, "r+b"));
	assert_int_equal(fwrite(buf, 1, size, fp), size);
	assert_int_equal(fclose(fp), 0);
	identity_of(path, m);
}

/* Swap the first two entries (one bytes each) after the header. */
static void
swap_first_two(uint8_t *buf, size_t one)
{
	uint8_t tmp[64];

	assert_true(one <= sizeof(tmp));
	memcpy(tmp, buf + REVSNAP_HEADER, one);
	memcpy(buf + REVSNAP_HEADER, buf + REVSNAP_HEADER + one, one);
	memcpy(buf + REVSNAP_HEADER + one, tmp, one);
}

/* Open path as want describes and read every entry: revsnap_open's
   refusal, else revsnap_finish's verdict. */
static int
read_through(const char *path, const struct revsnap_meta *want,
    struct ca_error *err)
{
	struct revsnap		*s = NULL;
	struct revsnap_entry	 e;
	int			 rc;

	if ((rc = revsnap_open(path, want, &s, err)) != CA_OK)
		return rc;
	while (revsnap_next(s, 0, &e))
		;
	rc = revsnap_finish(s, err);
	revsnap_free(s);
	return rc;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* revsnap_open refuses what is not the recorded file (identity,
   generation, nonce), bytes changed under the same identity (the sum) and
   entries out of order; a written file reads back entry by entry. */
static void
test_file_format(void **state)
{
	struct fx		*f = *state;
	struct revsnap_writer	*w = NULL;
	struct revsnap		*s = NULL;
	struct revsnap_meta	 meta, bad;
	struct revsnap_entry	 e;
	struct ca_error		 err;
	uint8_t			 key[12], val[3] = { 1, 2, 3 };
	size_t			 n = 0;

	assert_int_equal(revsnap_writer_open(f->snap, 42, 5, &w, &err), CA_OK);
	for (int i = 0; i < 1000; i++) {
		memset(key, 0, sizeof(key));
		key[7] = 5 + (uint8_t)(i / 256);
		key[8] = (uint8_t)i;
		key[11] = (uint8_t)(i * 7);
		assert_int_equal(revsnap_writer_add(w, key, sizeof(key), val,
		    sizeof(val), &err), CA_OK);
	}
	/* Out of order, too long a value: refused. */
	assert_int_equal(revsnap_writer_add(w, key, sizeof(key), val,
	    sizeof(val), &err), CA_EINVAL);
	key[7] = 200;
	assert_int_equal(revsnap_writer_add(w, key, sizeof(key), val,
	    REVSNAP_VALUE_MAX + 1, &err), CA_EINVAL);
	assert_int_equal(revsnap_writer_commit(w, &meta, &err), CA_OK);
	revsnap_writer_free(w);
	assert_int_equal(meta.count, 1000);
	assert_int_equal(meta.generation, 42);

	assert_int_equal(revsnap_open(f->snap, &meta, &s, &err), CA_OK);
	while (revsnap_next(s, 0, &e)) {
		assert_int_equal(e.klen, sizeof(key));
		assert_int_equal(e.key[8], (uint8_t)n);
		assert_memory_equal(e.val, val, sizeof(val));
		n++;
	}
	assert_int_equal(revsnap_finish(s, &err), CA_OK);
	assert_int_equal(n, 1000);
	revsnap_free(s);
	/* From a cut-off: keys below be64(6 << 56 ...) are skipped. */
	assert_int_equal(revsnap_open(f->snap, &meta, &s, &err), CA_OK);
	n = 0;
	while (revsnap_next(s, 7, &e))
		n++;
	revsnap_free(s);
	assert_int_equal(n, 1000 - 512);

	bad = meta;
	bad.generation++;
	assert_int_equal(revsnap_open(f->snap, &bad, &s, &err), CA_ENOENT);
	bad = meta;
	bad.nonce[0] ^= 1;
	assert_int_equal(revsnap_open(f->snap, &bad, &s, &err), CA_ENOENT);
	bad = meta;
	bad.ino++;
	assert_int_equal(revsnap_open(f->snap, &bad, &s, &err), CA_ENOENT);
	{
		uint8_t		buf[REVSNAP_META_LEN];
		struct revsnap_meta back;

		revsnap_meta_encode(&meta, buf);
		assert_int_equal(revsnap_meta_decode(buf, sizeof(buf), &back),
		    CA_OK);
		assert_memory_equal(&back.nonce, &meta.nonce, REVSNAP_NONCE);
		assert_true(back.ino == meta.ino && back.ctime_ns ==
		    meta.ctime_ns && back.bytes == meta.bytes);
		assert_int_equal(revsnap_meta_decode(buf, sizeof(buf) - 1,
		    &back), CA_EMALF);
	}
	/* The same identity and header, other bytes. */
	{
		uint8_t			*buf;
		FILE			*fp;
		struct revsnap_meta	 same = meta;
		size_t			 size = (size_t)meta.size;
		size_t			 one = 3 + sizeof(key) + sizeof(val);

		assert_non_null(buf = malloc(size));
		assert_non_null(fp = fopen(f->snap, "rb"));
		assert_int_equal(fread(buf, 1, size, fp), size);
		fclose(fp);
		/* A value byte changed: only the sum tells. */
		buf[REVSNAP_HEADER + 5 * one + 3 + sizeof(key)] ^= 0x40;
		rewrite_in_place(f->snap, buf, size, &same);
		assert_int_equal(read_through(f->snap, &same, &err), CA_EMALF);
		assert_non_null(strstr(err.msg, "sum differs"));
		/* Two entries swapped, with a sum that matches them: the
		   order tells. */
		buf[REVSNAP_HEADER + 5 * one + 3 + sizeof(key)] ^= 0x40;
		swap_first_two(buf, one);
		rewrite_in_place(f->snap, buf, size, &same);
		same.sum = revsnap_sum(buf + REVSNAP_HEADER, size -
		    REVSNAP_HEADER);
		assert_int_equal(read_through(f->snap, &same, &err), CA_EMALF);
		assert_non_null(strstr(err.msg, "damaged at byte"));
		assert_non_null(strstr(err.msg, "out of order"));
		/* The reader stops at the damage: the first entry (now the
		   second) is handed out, the next is not. */
		assert_int_equal(revsnap_open(f->snap, &same, &s, &err),
		    CA_OK);
		assert_true(revsnap_next(s, 0, &e));
		assert_false(revsnap_next(s, 0, &e));
		assert_int_equal(revsnap_finish(s, &err), CA_EMALF);
		revsnap_free(s);
		/* Swapped back: read again. */
		swap_first_two(buf, one);
		rewrite_in_place(f->snap, buf, size, &same);
		same.sum = meta.sum;
		assert_int_equal(read_through(f->snap, &same, &err), CA_OK);
		/* A header that states one entry fewer or more. */
		same.count = meta.count - 1;
		put_be64(buf + 40, same.count);
		rewrite_in_place(f->snap, buf, size, &same);
		assert_int_equal(read_through(f->snap, &same, &err), CA_EMALF);
		assert_non_null(strstr(err.msg, "more entries"));
		same.count = meta.count + 1;
		put_be64(buf + 40, same.count);
		rewrite_in_place(f->snap, buf, size, &same);
		assert_int_equal(read_through(f->snap, &same, &err), CA_EMALF);
		assert_non_null(strstr(err.msg, "not 1001"));
		/* An entry's length past the end of the file. */
		same.count = meta.count;
		put_be64(buf + 40, same.count);
		buf[size - one] = 200;
		rewrite_in_place(f->snap, buf, size, &same);
		assert_int_equal(read_through(f->snap, &same, &err), CA_EMALF);
		assert_non_null(strstr(err.msg, "out of bounds"));
		free(buf);
	}
	unlink(f->snap);
	assert_int_equal(revsnap_open(f->snap, &meta, &s, &err), CA_ENOENT);
	/* The sum: one word changed always changes it; split updates give
	   the one-call sum. */
	{
		uint8_t			d[300];
		struct revsnap_summer	sm;
		uint64_t		whole;
		/* Pieces that leave words and lanes part-done. */
		static const size_t	cut[] = { 3, 50, 5, 77, 1, 8, 40, 116 };
		size_t			at = 0;

		for (size_t i = 0; i < sizeof(d); i++)
			d[i] = (uint8_t)(i * 37);
		whole = revsnap_sum(d, sizeof(d));
		revsnap_sum_init(&sm);
		for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
			revsnap_sum_update(&sm, d + at, cut[i]);
			at += cut[i];
		}
		assert_int_equal(at, sizeof(d));
		assert_true(revsnap_sum_final(&sm) == whole);
		/* Two words swapped between lanes: another sum. */
		{
			uint8_t swapped[sizeof(d)];

			memcpy(swapped, d, sizeof(d));
			memcpy(swapped, d + 8, 8);
			memcpy(swapped + 8, d, 8);
			assert_true(revsnap_sum(swapped, sizeof(d)) != whole);
		}
		for (size_t i = 0; i < sizeof(d); i++)
			for (int b = 0; b < 8; b++) {
				d[i] ^= (uint8_t)(1 << b);
				assert_true(revsnap_sum(d, sizeof(d)) != whole);
				d[i] ^= (uint8_t)(1 << b);
			}
		assert_true(revsnap_sum(d, 299) != revsnap_sum(d, 300));
	}
}

/* A writer killed mid-way leaves revoked.snap.tmp.PID: the next writer
   removes it when that process is gone, and leaves a live one's. */
static void
test_stale_tmp(void **state)
{
	struct fx	*f = *state;
	struct model	*m = calloc(1, sizeof(*m));
	char		 dead[200], live[200];
	pid_t		 pid;
	FILE		*fp;

	assert_non_null(m);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	snprintf(dead, sizeof(dead), "%s.tmp.%ld", f->snap, (long)pid);
	snprintf(live, sizeof(live), "%s.tmp.%ld", f->snap, (long)getppid());
	assert_non_null(fp = fopen(dead, "w"));
	fclose(fp);
	assert_non_null(fp = fopen(live, "w"));
	fclose(fp);
	do_revoke(f->st, m, 1, 1, BASE, 4, 1700000000);
	assert_scan_matches(f->st, m, 1, 0);	/* writes the first snapshot */
	assert_int_not_equal(access(dead, F_OK), 0);
	assert_int_equal(access(live, F_OK), 0);
	unlink(live);
	free(m);
}

/* A snapshot of 320,000 entries (~18 MB) at path, entry i's value
   beginning with the octet i; *meta gets its record. */
static void
write_large(const char *path, struct revsnap_meta *meta)
{
	struct revsnap_writer	*w = NULL;
	struct ca_error		 err;
	uint8_t			 key[16], val[40];

	memset(val, 0x30, sizeof(val));
	assert_int_equal(revsnap_writer_open(path, 9, 0, &w, &err), CA_OK);
	for (uint32_t i = 0; i < 320000; i++) {
		memset(key, 0, sizeof(key));
		key[8] = (uint8_t)(i >> 24);
		key[9] = (uint8_t)(i >> 16);
		key[10] = (uint8_t)(i >> 8);
		key[11] = (uint8_t)i;
		val[0] = (uint8_t)i;
		assert_int_equal(revsnap_writer_add(w, key, sizeof(key), val,
		    sizeof(val), &err), CA_OK);
	}
	assert_int_equal(revsnap_writer_commit(w, meta, &err), CA_OK);
	revsnap_writer_free(w);
}

/* A snapshot of several megabytes: summed and handed back in chunks; a
   byte changed past the first megabyte under the same identity is still
   caught. */
static void
test_large_file(void **state)
{
	struct fx		*f = *state;
	struct revsnap		*s = NULL;
	struct revsnap_meta	 meta, same;
	struct revsnap_entry	 e;
	struct ca_error		 err;
	uint64_t		 n = 0;
	FILE			*fp;
	int			 c;

	write_large(f->snap, &meta);
	assert_true(meta.size > 17u << 20);	/* many reader buffers */
	assert_int_equal(revsnap_open(f->snap, &meta, &s, &err), CA_OK);
	while (revsnap_next(s, 0, &e)) {
		assert_int_equal(e.val[0], (uint8_t)n);
		n++;
	}
	assert_int_equal(revsnap_finish(s, &err), CA_OK);
	revsnap_free(s);
	assert_int_equal(n, 320000);
	/* Truncated under a reader (by anyone, at any time): the rest reads
	   short, which is damage, never a signal. */
	assert_int_equal(revsnap_open(f->snap, &meta, &s, &err), CA_OK);
	assert_true(revsnap_next(s, 0, &e));
	assert_int_equal(truncate(f->snap, 5L << 20), 0);
	n = 1;
	while (revsnap_next(s, 0, &e))
		n++;
	assert_true(n > 1000 && n < 320000);
	assert_int_equal(revsnap_finish(s, &err), CA_EMALF);
	assert_non_null(strstr(err.msg, "shorter than it was"));
	revsnap_free(s);
	unlink(f->snap);
	write_large(f->snap, &meta);
	/* One value byte at 10 MB changed, the identity taken anew. */
	assert_non_null(fp = fopen(f->snap, "r+b"));
	assert_int_equal(fseek(fp, 10L << 20, SEEK_SET), 0);
	c = fgetc(fp);
	assert_int_equal(fseek(fp, 10L << 20, SEEK_SET), 0);
	fputc(c ^ 0x01, fp);
	fclose(fp);
	same = meta;
	identity_of(f->snap, &same);
	assert_int_equal(read_through(f->snap, &same, &err), CA_EMALF);
	unlink(f->snap);
}

/*
 * A snapshot damaged where only its end can tell (a value byte changed in
 * place, the store's record then given the new identity, as an edit
 * within one tick of the clock would leave it): the scan hands out every
 * entry before its verdict, so the visitor must start over, from the
 * index, and the file be replaced.
 */
static void
test_damaged_part_way(void **state)
{
	struct fx		*f = *state;
	struct model		*m = calloc(1, sizeof(*m));
	struct store_scan_stats	 a, b;
	struct revsnap_meta	 rec;
	struct ca_error		 e;
	uint8_t			*buf = NULL, enc[REVSNAP_META_LEN];
	size_t			 len;
	FILE			*fp;
	int			 c;

	assert_non_null(m);
	for (uint32_t i = 0; i < 400; i++)
		do_revoke(f->st, m, i, 1 + i % 2, BASE + i, 4, 1700000000);
	assert_int_equal(assert_scan_matches(f->st, m, 1, 0), 1);
	for (uint32_t i = 400; i < 420; i++)	/* to the log */
		do_revoke(f->st, m, i, 1, BASE + i, 4, 1700000000);
	store_scan_stats(f->st, &a);
	assert_int_equal(assert_scan_matches(f->st, m, 1, 0), 1);
	store_scan_stats(f->st, &b);
	assert_int_equal(b.via_snapshot, a.via_snapshot + 1);
	assert_int_equal(b.via_index, a.via_index);

	/* The last entry's last byte (a CA tag or the DER's last octet). */
	assert_non_null(fp = fopen(f->snap, "r+b"));
	assert_int_equal(fseek(fp, -1, SEEK_END), 0);
	c = fgetc(fp);
	assert_int_equal(fseek(fp, -1, SEEK_END), 0);
	fputc(c ^ 0x10, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(store_meta_get(f->st, "revoked_snapshot", &buf, &len,
	    &e), CA_OK);
	assert_int_equal(revsnap_meta_decode(buf, len, &rec), CA_OK);
	free(buf);
	identity_of(f->snap, &rec);
	revsnap_meta_encode(&rec, enc);
	assert_int_equal(store_meta_put(f->st, "revoked_snapshot", enc,
	    sizeof(enc), &e), CA_OK);

	store_scan_stats(f->st, &a);
	assert_int_equal(assert_scan_matches(f->st, m, 1, 0), 2);
	assert_int_equal(assert_scan_matches(f->st, m, 2, 0), 1);
	store_scan_stats(f->st, &b);
	assert_int_equal(b.restarted, a.restarted + 1);
	assert_int_equal(b.via_index, a.via_index + 1);
	assert_int_equal(b.via_snapshot, a.via_snapshot + 2);
	assert_int_equal(b.written, a.written + 1);
	free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
		T(test_matches_index),
		T(test_file_replaced),
		T(test_race),
		T(test_file_format),
		T(test_stale_tmp),
		T(test_large_file),
		T(test_damaged_part_way),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
