/*
 * Benchmark helper for CRLs: fill a store with N revoked certificates
 * through the library (store_txn_* batches, crl_entry_encode), write the
 * same revocations as an OpenSSL index.txt, and time crl_build in process.
 * tests/bench/crl_bench.sh times the real `mtlsca crl` on the filled store;
 * `build` is for profiling crl_build alone (perf record fill_store build).
 *
 *   fill_store init DATA_DIR [ecdsa]
 *       Create DATA_DIR/ca.pem and DATA_DIR/private/ca.key (mtlsca's
 *       layout) with ca_init.
 *   fill_store fill DATA_DIR N [--index FILE] [--no-reasons] [--seed S]
 *       Add N revocations of certificates the store never saw (force), each
 *       with a 16-byte serial (top bits 01), a notAfter 1..365 days ahead,
 *       a revocation time within the last year and, unless --no-reasons,
 *       a reason cycling through unspecified, keyCompromise,
 *       affiliationChanged, superseded, cessationOfOperation. 10,000 per
 *       write transaction.
 *   fill_store certs DATA_DIR N [--seed S] [--none-expired]
 *       Add N issued certificates as the service records them: a 16-byte
 *       serial, the subject CN=host-I,O=bench (and its CN index entry), a
 *       600-byte stand-in for the DER, notBefore a year before notAfter,
 *       notAfter from 180 days ago to 365 days ahead (about a quarter
 *       expired; --none-expired: 1 to 545 days ahead); every tenth one
 *       revoked in the same transaction (reason superseded). 10,000 per
 *       write transaction. For the list, filter and issuance benchmarks
 *       and tests at a realistic store size.
 *   fill_store compact DATA_DIR
 *       Replace the store with LMDB's compacted copy (store_copy, as
 *       `mtlsca backup` makes): the tens of thousands of free pages that
 *       the bulk transactions above leave are dropped. LMDB 0.9 rewrites
 *       its whole reclaimed free list with every commit until growth has
 *       used it up, so a freshly filled store is slower to write than one
 *       restored from a backup, or one grown an enrollment at a time
 *       (whose free list holds about one commit's pages). Prints the file
 *       sizes before and after.
 *   fill_store filter DATA_DIR [--rounds K]
 *       For each status (valid, revoked, expired): time a page of 100
 *       (store_cert_foreach_status, as GET /v1/certificates?status= does)
 *       and, for comparison, the same page found by filtering the full walk
 *       (the path before the status indexes); K rounds alternated (default
 *       5); prints the count matched and min/median/max in ms of each.
 *   fill_store build DATA_DIR [--repeat K] [--out DIR]
 *       crl_build (+ crl_write_files when --out is given) K times; prints
 *       per-run wall times and the process's peak RSS.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca.h"
#include "common/util.h"
#include "crl/crl.h"
#include "store/store.h"

#define BATCH	10000

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: reproducible serials without draining the system RNG. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static int
die(const char *what, const struct ca_error *e)
{
	fprintf(stderr, "fill_store: %s: %s\n", what, e != NULL ? e->msg : "");
	return 1;
}

static void
paths_of(const char *dir, char *cert, char *key, char *db, size_t size)
{
	(void)path_join(cert, size, dir, "ca.pem");
	(void)path_join(key, size, dir, "private/ca.key");
	(void)path_join(db, size, dir, "db");
}

static int
open_store(const char *db, struct store **st, struct ca_error *err)
{
	struct store_options	o;

	memset(&o, 0, sizeof(o));
	o.dir = db;
	o.map_size = 8ULL << 30;
	return store_open(&o, st, err);
}

/* OpenSSL's index.txt time: YYMMDDHHMMSSZ. */
static void
ossl_time(int64_t t, char out[32])
{
	struct tm	tm;
	time_t		tt = (time_t)t;

	gmtime_r(&tt, &tm);
	snprintf(out, 32, "%02d%02d%02d%02d%02d%02dZ", tm.tm_year % 100,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Commit the batch after item i of n when it is full or the last. */
static int
batch_end(struct store_txn **txn, uint64_t i, uint64_t n)
{
	struct ca_error	e;
	int		c;

	if ((i + 1) % BATCH != 0 && i + 1 != n)
		return 0;
	c = store_txn_commit(*txn, &e);
	*txn = NULL;
	return c == CA_OK ? 0 : die("commit", &e);
}

static int
cmd_init(const char *dir, int ecdsa)
{
	struct ca_paths		p;
	struct ca_init_options	o;
	struct ca_error		e;
	char			cert[4096], key[4096], db[4096];

	paths_of(dir, cert, key, db, sizeof(cert));
	memset(&o, 0, sizeof(o));
	o.subject = "CN=mtlsca CRL bench CA,O=mtlsca";
	o.key_type = ecdsa ? CA_KEY_ECDSA_P256 : CA_KEY_RSA2048;
	o.days = 3650;
	p.cert = cert;
	p.key = key;
	if (ca_init(&p, &o, &e) != CA_OK)
		return die("init", &e);
	return 0;
}

static int
cmd_fill(const char *dir, uint64_t n, const char *index, int reasons,
    uint64_t seed)
{
	static const uint8_t	 cycle[] = { 0, 1, 3, 4, 5 };
	static const char *const names[] = { "unspecified", "keyCompromise",
	    "cACompromise", "affiliationChanged", "superseded",
	    "cessationOfOperation" };
	struct store		*st = NULL;
	struct store_txn	*txn = NULL;
	struct ca_error		 e;
	FILE			*idx = NULL;
	char			 cert[4096], key[4096], db[4096];
	int64_t			 now = time_now();
	double			 t0 = now_s();
	int			 rc = 1;

	paths_of(dir, cert, key, db, sizeof(cert));
	if (dir_make(db, 0700, &e) != CA_OK || open_store(db, &st, &e) !=
	    CA_OK)
		return die("store", &e);
	if (index != NULL && (idx = fopen(index, "w")) == NULL) {
		perror(index);
		goto out;
	}
	for (uint64_t i = 0; i < n; i++) {
		struct store_revocation	rv;
		uint8_t			serial[16];
		int			outcome;

		if (txn == NULL && store_txn_begin(st, &txn, &e) != CA_OK) {
			die("begin", &e);
			goto out;
		}
		for (int k = 0; k < 2; k++) {
			uint64_t v = rnd(&seed);
			memcpy(serial + 8 * k, &v, 8);
		}
		serial[0] = (uint8_t)((serial[0] & 0x3f) | 0x40);
		memset(&rv, 0, sizeof(rv));
		rv.serial = serial;
		rv.serial_len = sizeof(serial);
		rv.reason = reasons ? cycle[i % sizeof(cycle)] : 0;
		rv.revoked_at = now - (int64_t)(rnd(&seed) % (365 * 86400));
		rv.not_after = now + 86400 +
		    (int64_t)(rnd(&seed) % (364 * 86400));
		rv.force = true;
		if (store_txn_cert_revoke(txn, &rv, crl_entry_encode, &outcome,
		    &e) != CA_OK) {
			die("revoke", &e);
			goto out;
		}
		if (idx != NULL) {
			char na[32], ra[32], hex[SERIAL_HEX_MAX + 2];

			ossl_time(rv.not_after, na);
			ossl_time(rv.revoked_at, ra);
			serial_format(serial, sizeof(serial), hex);
			if (rv.reason != 0)
				fprintf(idx, "R\t%s\t%s,%s\t%s\tunknown\t"
				    "/CN=client %" PRIu64 "\n", na, ra,
				    names[rv.reason], hex, i);
			else
				fprintf(idx, "R\t%s\t%s\t%s\tunknown\t"
				    "/CN=client %" PRIu64 "\n", na, ra, hex, i);
		}
		if (batch_end(&txn, i, n) != 0)
			goto out;
	}
	printf("filled %" PRIu64 " revocations in %.2f s\n", n, now_s() - t0);
	rc = 0;
out:
	store_txn_abort(txn);
	if (idx != NULL && fclose(idx) != 0)
		rc = 1;
	store_close(st);
	return rc;
}

static int
cmd_certs(const char *dir, uint64_t n, uint64_t seed, int none_expired)
{
	struct store		*st = NULL;
	struct store_txn	*txn = NULL;
	struct ca_error		 e;
	static uint8_t		 der[600];
	char			 cert[4096], key[4096], db[4096], subject[64];
	int64_t			 now = time_now();
	double			 t0 = now_s();
	int			 rc = 1;

	paths_of(dir, cert, key, db, sizeof(cert));
	if (dir_make(db, 0700, &e) != CA_OK || open_store(db, &st, &e) !=
	    CA_OK)
		return die("store", &e);
	for (size_t i = 0; i < sizeof(der); i++)
		der[i] = (uint8_t)rnd(&seed);
	der[0] = 0x30;
	for (uint64_t i = 0; i < n; i++) {
		struct cert_record	rec;

		if (txn == NULL && store_txn_begin(st, &txn, &e) != CA_OK) {
			die("begin", &e);
			goto out;
		}
		memset(&rec, 0, sizeof(rec));
		for (int k = 0; k < 2; k++) {
			uint64_t v = rnd(&seed);
			memcpy(rec.serial + 8 * k, &v, 8);
		}
		rec.serial[0] = (uint8_t)((rec.serial[0] & 0x3f) | 0x40);
		rec.serial_len = 16;
		rec.not_after = (none_expired ? now + 86400 :
		    now - 180 * 86400) + (int64_t)(rnd(&seed) % (545 * 86400));
		rec.not_before = rec.not_after - 365 * 86400;
		rec.issued_at = rec.not_before;
		snprintf(rec.profile, sizeof(rec.profile), "client");
		snprintf(subject, sizeof(subject), "CN=host-%" PRIu64 ",O=bench",
		    i);
		rec.subject = subject;
		rec.der = der;
		rec.der_len = sizeof(der);
		if (store_txn_cert_put(txn, &rec, &e) != CA_OK) {
			die("put", &e);
			goto out;
		}
		if (i % 10 == 9) {
			struct store_revocation	rv;
			int			outcome;

			memset(&rv, 0, sizeof(rv));
			rv.serial = rec.serial;
			rv.serial_len = rec.serial_len;
			rv.reason = 4;
			rv.revoked_at = now - (int64_t)(rnd(&seed) % 86400);
			if (store_txn_cert_revoke(txn, &rv, crl_entry_encode,
			    &outcome, &e) != CA_OK) {
				die("revoke", &e);
				goto out;
			}
		}
		if (batch_end(&txn, i, n) != 0)
			goto out;
	}
	printf("filled %" PRIu64 " certificates in %.2f s\n", n, now_s() - t0);
	rc = 0;
out:
	store_txn_abort(txn);
	store_close(st);
	return rc;
}

static int
cmd_compact(const char *dir)
{
	struct store	*st = NULL;
	struct ca_error	 e;
	struct stat	 before, after;
	char		 cert[4096], key[4096], db[4096], tmp[4096];
	char		 from[4096], to[4096];
	int		 rc = 1;

	paths_of(dir, cert, key, db, sizeof(cert));
	if (path_join(tmp, sizeof(tmp), db, "compact.tmp") != CA_OK ||
	    path_join(from, sizeof(from), tmp, "data.mdb") != CA_OK ||
	    path_join(to, sizeof(to), db, "data.mdb") != CA_OK) {
		fprintf(stderr, "fill_store: %s: path too long\n", dir);
		return 1;
	}
	if (stat(to, &before) != 0) {
		fprintf(stderr, "fill_store: %s: %s\n", to, strerror(errno));
		return 1;
	}
	/* What an interrupted compaction left is ours to remove. */
	(void)unlink(from);
	(void)rmdir(tmp);
	if (dir_make(tmp, 0700, &e) != CA_OK)
		return die("compact", &e);
	if (open_store(db, &st, &e) != CA_OK || store_copy(st, tmp, &e) !=
	    CA_OK) {
		die("compact", &e);
		goto out;
	}
	store_close(st);
	st = NULL;
	if (rename(from, to) != 0 || stat(to, &after) != 0) {
		fprintf(stderr, "fill_store: %s: %s\n", to, strerror(errno));
		goto out;
	}
	printf("compacted %s: %lld -> %lld bytes\n", to,
	    (long long)before.st_size, (long long)after.st_size);
	rc = 0;
out:
	store_close(st);
	(void)unlink(from);
	(void)rmdir(tmp);
	return rc;
}

static int
cmd_build(const char *dir, int repeat, const char *out)
{
	struct ca_paths		 p;
	struct ca		*ca = NULL;
	struct store		*st = NULL;
	struct crl_options	 o;
	struct ca_error		 e;
	struct rusage		 ru;
	char			 cert[4096], key[4096], db[4096];
	int			 rc = 1;

	paths_of(dir, cert, key, db, sizeof(cert));
	p.cert = cert;
	p.key = key;
	if (ca_open(&p, &ca, &e) != CA_OK)
		return die("ca", &e);
	if (open_store(db, &st, &e) != CA_OK) {
		die("store", &e);
		goto done;
	}
	crl_options_default(&o);
	/* The benchmark goes past ALB's quota on purpose. */
	o.max_entries = UINT64_MAX;
	o.warn_entries = UINT64_MAX;
	for (int i = 0; i < repeat; i++) {
		struct crl_result	r;
		double			t0 = now_s(), t1, t2;

		memset(&r, 0, sizeof(r));
		if (crl_build(ca, st, &o, &r, &e) != CA_OK) {
			die("build", &e);
			goto done;
		}
		t1 = now_s();
		if (out != NULL && crl_write_files(out, &r, &e) != CA_OK) {
			crl_result_clear(&r);
			die("write", &e);
			goto done;
		}
		t2 = now_s();
		printf("crl %" PRIu64 ": %" PRIu64 " entries, DER %zu bytes, "
		    "PEM %zu bytes, build %.3f s, write %.3f s\n", r.number,
		    r.entries, r.der_len, r.pem_len, t1 - t0, t2 - t1);
		crl_result_clear(&r);
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("peak RSS %ld MB\n", ru.ru_maxrss / 1024);
	rc = 0;
done:
	store_close(st);
	ca_free(ca);
	return rc;
}

/* ---- filter: the status listings against the filtered walk ---- */

#define FILTER_PAGE	100

struct page {
	enum store_status_filter	 f;
	int64_t				 now;
	size_t				 n;
	bool				 filter;	/* the walk: filter here */
};

static int
page_cb(const struct cert_record *rec, void *arg)
{
	struct page	*p = arg;
	bool		 expired = rec->not_after != STORE_NOT_AFTER_UNKNOWN &&
	    rec->not_after < p->now;
	int		 st = rec->status == CERT_STATUS_REVOKED ?
	    STORE_FILTER_REVOKED : expired ? STORE_FILTER_EXPIRED :
	    STORE_FILTER_VALID;

	if (p->filter && st != (int)p->f)
		return 0;
	return ++p->n >= FILTER_PAGE ? 1 : 0;
}

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
cmd_filter(const char *dir, int rounds)
{
	static const char	*names[] = { "valid", "revoked", "expired" };
	struct store		*st = NULL;
	struct store_options	 so;
	struct ca_error		 e;
	char			 cert[4096], key[4096], db[4096];
	double			*t = NULL;
	int			 rc = 1;

	paths_of(dir, cert, key, db, sizeof(cert));
	memset(&so, 0, sizeof(so));
	so.dir = db;
	so.read_only = 1;
	if (store_open(&so, &st, &e) != CA_OK)
		return die("store", &e);
	if ((t = calloc((size_t)rounds * 2, sizeof(*t))) == NULL)
		goto out;
	printf("%-8s %8s  %-26s  %-26s\n", "status", "page", "by index (ms)",
	    "filtered walk (ms)");
	printf("%-8s %8s  %-26s  %-26s\n", "", "", "min / median / max",
	    "min / median / max");
	for (int f = STORE_FILTER_VALID; f <= STORE_FILTER_EXPIRED; f++) {
		struct page	p;
		size_t		n_index = 0, n_walk = 0;

		for (int r = 0; r < rounds; r++) {
			double t0;

			/* alternated: index then walk, each round */
			memset(&p, 0, sizeof(p));
			p.f = (enum store_status_filter)f;
			p.now = time_now();
			t0 = now_s();
			if (store_cert_foreach_status(st, p.f, p.now, NULL, 0,
			    FILTER_PAGE, page_cb, &p, &e) != CA_OK) {
				die("listing", &e);
				goto out;
			}
			t[r] = (now_s() - t0) * 1e3;
			n_index = p.n;
			memset(&p, 0, sizeof(p));
			p.f = (enum store_status_filter)f;
			p.now = time_now();
			p.filter = true;
			t0 = now_s();
			if (store_cert_foreach(st, NULL, 0, page_cb, &p, &e) !=
			    CA_OK) {
				die("walk", &e);
				goto out;
			}
			t[rounds + r] = (now_s() - t0) * 1e3;
			n_walk = p.n;
		}
		if (n_index != n_walk) {
			fprintf(stderr, "fill_store: %s: %zu by index, %zu by "
			    "the walk\n", names[f], n_index, n_walk);
			goto out;
		}
		qsort(t, (size_t)rounds, sizeof(*t), dbl_cmp);
		qsort(t + rounds, (size_t)rounds, sizeof(*t), dbl_cmp);
		printf("%-8s %8zu  %7.3f / %7.3f / %7.3f  %7.1f / %7.1f / "
		    "%7.1f\n", names[f], n_index, t[0], t[rounds / 2],
		    t[rounds - 1], t[rounds], t[rounds + rounds / 2],
		    t[2 * rounds - 1]);
	}
	rc = 0;
out:
	free(t);
	store_close(st);
	return rc;
}

int
main(int argc, char **argv)
{
	uint64_t	n = 0, seed = 0x9e3779b97f4a7c15ULL;
	const char	*index = NULL, *out = NULL;
	int		reasons = 1, repeat = 1;

	if (argc >= 3 && strcmp(argv[1], "init") == 0)
		return cmd_init(argv[2], argc > 3 && strcmp(argv[3], "ecdsa")
		    == 0);
	if (argc >= 4 && strcmp(argv[1], "fill") == 0 &&
	    parse_u64(argv[3], 1, 100000000, &n) == CA_OK) {
		for (int i = 4; i < argc; i++) {
			if (strcmp(argv[i], "--index") == 0 && i + 1 < argc)
				index = argv[++i];
			else if (strcmp(argv[i], "--no-reasons") == 0)
				reasons = 0;
			else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
				seed = strtoull(argv[++i], NULL, 0) | 1;
			else
				goto usage;
		}
		return cmd_fill(argv[2], n, index, reasons, seed);
	}
	if (argc >= 4 && strcmp(argv[1], "certs") == 0 &&
	    parse_u64(argv[3], 1, 100000000, &n) == CA_OK) {
		int none_expired = 0;

		for (int i = 4; i < argc; i++) {
			if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
				seed = strtoull(argv[++i], NULL, 0) | 1;
			else if (strcmp(argv[i], "--none-expired") == 0)
				none_expired = 1;
			else
				goto usage;
		}
		return cmd_certs(argv[2], n, seed, none_expired);
	}
	if (argc == 3 && strcmp(argv[1], "compact") == 0)
		return cmd_compact(argv[2]);
	if (argc >= 3 && strcmp(argv[1], "filter") == 0) {
		for (int i = 3; i < argc; i++) {
			if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
				repeat = parse_u64(argv[++i], 1, 1000, &n) ==
				    CA_OK ? (int)n : 0;
			else
				goto usage;
		}
		return cmd_filter(argv[2], repeat > 1 ? repeat : 5);
	}
	if (argc >= 3 && strcmp(argv[1], "build") == 0) {
		for (int i = 3; i < argc; i++) {
			if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
				repeat = parse_u64(argv[++i], 1, 1000, &n) ==
				    CA_OK ? (int)n : 0;
			else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
				out = argv[++i];
			else
				goto usage;
		}
		return cmd_build(argv[2], repeat > 0 ? repeat : 1, out);
	}
usage:
	fprintf(stderr, "usage: fill_store init DATA_DIR [ecdsa]\n"
	    "       fill_store fill DATA_DIR N [--index FILE] [--no-reasons] "
	    "[--seed S]\n"
	    "       fill_store certs DATA_DIR N [--seed S] [--none-expired]\n"
	    "       fill_store compact DATA_DIR\n"
	    "       fill_store filter DATA_DIR [--rounds K]\n"
	    "       fill_store build DATA_DIR [--repeat K] [--out DIR]\n");
	return 2;
}
