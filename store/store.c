/*
 * The LMDB environment and every transaction of mtlsca.
 *
 * One environment per process (LMDB forbids opening the same file twice in
 * one process), shared by the CLI and a running server across processes.
 * LMDB's single writer makes counters strictly increasing and serials unique
 * across all of them. Commits are synchronous (never MDB_NOSYNC): a client
 * never holds a certificate that a crash could make the store forget.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "store/snapshot.h"
#include "store/store_int.h"

/*
 * 2: version 1 plus the "cn" index (CN, NUL, serial -> nothing), built from
 * the records when a version-1 store is first opened for writing.
 * 3: plus "renewals" (serial renewed -> be64 time, the new serial), empty
 * when an older store is first opened for writing (renewals before it were
 * not recorded).
 * 4: "expiry" holds the certificates that are not revoked only (a
 * revocation moves the key from "expiry" to "revoked", which has the same
 * keys), so that each status is one index: valid and expired are two
 * ranges of "expiry", revoked is "revoked" (store_cert_foreach_status).
 * The revoked keys leave "expiry" when an older store is first opened for
 * writing.
 */
#define STORE_SCHEMA_VERSION	4
/* The map's first size, and the least room kept free ahead of writes. */
#define STORE_MAP_START		(64ULL << 20)
#define STORE_HEADROOM_MIN	(16ULL << 20)
/* A status listing's page reads at most this many index keys, then walks
   (store_cert_foreach_status). */
#define STORE_STATUS_INDEX_MAX	4096
/* How long a growth waits for this process's open transactions to end
   before it leaves the map as it is for now. */
#define STORE_GROW_WAIT_S	2
/* The zeroed tail of data.mdb (tail_extend): an eighth of the data, within
   these bounds, and never more than an eighth of the disk's free room. */
#define STORE_TAIL_MIN		(256ULL << 10)
#define STORE_TAIL_MAX		(64ULL << 20)
#define STORE_READERS_DEFAULT	512
#define STORE_META_MAX		16384
#define STORE_META_NAME_MAX	128
/* How long a thread that must adopt a grown map waits for the other
   threads' transactions to end before it gives up. */
#define STORE_RESIZE_WAIT_S	10
/* A revoked-index scan hands the map pages it has read back to the kernel
   every this many entries (see map_window below). */
#define STORE_SCAN_DROP_EVERY	16384
/* A listing drops more often: its records (about 1 KB) are spread over a
   leaf page each few, and each page that faults maps its neighbours too. */
#define STORE_LIST_DROP_EVERY	256

/* Private meta names. */
#define META_SCHEMA		"schema_version"
#define META_REVOKED_ENTRIES	"revoked_entries"
#define META_REVOKED_BYTES	"revoked_bytes"
#define META_AUDIT_SEQ		"audit_seq"
/* The revoked-index snapshot the store trusts (snapshot.h), and whether
   revocations go to the revocation log (set once a snapshot was tried). */
#define META_REVSNAP		"revoked_snapshot"
#define META_REVLOG_ON		"revocation_log"
/* A scan through the snapshot writes a new one when the log since holds
   more than this many entries, or an eighth of the index. */
#define REVSNAP_REFRESH_MIN	256
/* Log entries a snapshot's record removes at most. */
#define REVLOG_TRIM_MAX		100000

struct store {
	MDB_env		*env;
	MDB_dbi		 certs, expiry, revoked, meta, tokens, audit, cn;
	MDB_dbi		 renewals;
	MDB_dbi		 revlog;	/* be64(generation) -> key, value */
	int		 read_only;
	bool		 has_revlog;	/* a read-only open before it: no */
	/* One thread writes the snapshot at a time (its temporary file is
	   named after the process); the others scan without writing. */
	pthread_mutex_t	 snap_mu;
	_Atomic uint64_t scans_snapshot, scans_index, snaps_written;
	_Atomic uint64_t scans_restarted;
	void		(*snap_hook)(void *);
	void		*snap_hook_ctx;
	bool		 has_cn;	/* a read-only open of version 1: no */
	bool		 has_renewals;	/* a read-only open before 3: no */
	bool		 live_expiry;	/* a read-only open before 4: no */
	size_t		 status_index_max;	/* see store_options */
	char		*dir;
	/*
	 * mdb_env_set_mapsize(env, 0), the answer to MDB_MAP_RESIZED, may only
	 * run while this process has no transaction open: count them, and let
	 * a resizer hold new ones back until the others are done.
	 */
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	unsigned	 active;
	int		 resizing;
	/* Growth (under lock): the limit (0: the disk), room a transaction
	   that ran short asked for, growths so far. */
	uint64_t	 bound;
	uint64_t	 want_free;
	uint64_t	 grown;
	/* The end of data.mdb as this process last saw or made it (see
	   tail_extend; only a write transaction, which holds LMDB's writer
	   lock, reads or sets it). */
	uint64_t	 file_end;
	uint64_t	 tail_retry;	/* no new attempt below this use */
};

struct store_txn {
	struct store	*st;
	MDB_txn		*txn;
};

static bool map_can_grow(struct store *st, size_t mapped);
static int revlog_put(struct store *st, MDB_txn *txn, uint64_t gen,
    const MDB_val *k, const MDB_val *v, struct ca_error *err);

/* ---- errors ---- */

/* The room left on the store's disk for us (not root's reserve); false
   when the system will not say. */
static bool
disk_avail(const struct store *st, uint64_t *out)
{
	struct statvfs vfs;

	if (statvfs(st->dir, &vfs) != 0)
		return false;
	*out = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	return true;
}

/* Less than a commit's worth of pages free on the store's disk. */
static bool
disk_nearly_full(const struct store *st)
{
	uint64_t avail;

	return disk_avail(st, &avail) && avail < (1ULL << 20);
}

static int
store_fail(struct store *st, int mrc, struct ca_error *err, const char *what)
{
	const char	*dir = st != NULL ? st->dir : "?";
	MDB_envinfo	 info;

	switch (mrc) {
	case MDB_SUCCESS:
		return CA_OK;
	case MDB_MAP_FULL:
		memset(&info, 0, sizeof(info));
		if (st != NULL)
			mdb_env_info(st->env, &info);
		if (st != NULL && map_can_grow(st, info.me_mapsize))
			return ca_error_set(err, CA_ESPACE,
			    "%s: this transaction needed more room than the "
			    "store at %s had mapped (%zu bytes); the map grows "
			    "before the next one: try again", what, dir,
			    info.me_mapsize);
		if (st != NULL && st->bound == 0)
			return ca_error_set(err, CA_ESPACE,
			    "%s: the store at %s is full: the disk has no room "
			    "left to grow it (%zu bytes mapped)", what, dir,
			    info.me_mapsize);
		return ca_error_set(err, CA_ESPACE,
		    "%s: the store at %s is full: it reached its limit, "
		    "store.map_size (%zu bytes): raise store.map_size in the "
		    "configuration", what, dir, info.me_mapsize);
	case MDB_TXN_FULL:
		return ca_error_set(err, CA_ESPACE,
		    "%s: too many changes for one transaction of the store at "
		    "%s: split the batch", what, dir);
	case MDB_READERS_FULL:
		return ca_error_set(err, CA_EIO,
		    "%s: too many readers of the store at %s at once: raise "
		    "store.max_readers in the configuration", what, dir);
	case MDB_NOTFOUND:
		return ca_error_set(err, CA_ENOENT, "%s: not found", what);
	case MDB_KEYEXIST:
		return ca_error_set(err, CA_EEXIST, "%s: already in the store",
		    what);
	case ENOMEM:
		return ca_error_set(err, CA_ENOMEM, "%s: out of memory", what);
	case EIO:
		/* LMDB reports a page write cut short as EIO: at the end of
		   a full disk (or of the zeroed tail on one) it means ENOSPC. */
		if (st == NULL || !disk_nearly_full(st))
			goto other;
		/* FALLTHROUGH */
	case ENOSPC:
		return ca_error_set(err, CA_ESPACE,
		    "%s: no space left on the disk of the store at %s", what,
		    dir);
	case EACCES:
	case EROFS:
		return ca_error_set(err, CA_EIO,
		    "%s: the store at %s is not writable (%s)", what, dir,
		    mdb_strerror(mrc));
	default:
	other:
		return ca_error_set(err, CA_EIO, "%s: store at %s: %s", what,
		    dir, mdb_strerror(mrc));
	}
}

static int
write_not_allowed(struct store *st, struct ca_error *err)
{
	return ca_error_set(err, CA_EINVAL,
	    "the store at %s was opened read-only", st->dir);
}

/* ---- transactions, and adopting a map another process grew ---- */

static void
txn_enter(struct store *st)
{
	pthread_mutex_lock(&st->lock);
	while (st->resizing)
		pthread_cond_wait(&st->cond, &st->lock);
	st->active++;
	pthread_mutex_unlock(&st->lock);
}

static void
txn_leave(struct store *st)
{
	pthread_mutex_lock(&st->lock);
	assert(st->active > 0);
	st->active--;
	if (st->active == 0)
		pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
}

static int
adopt_mapsize(struct store *st, struct ca_error *err)
{
	struct timespec	 until;
	int		 rc = CA_OK, mrc, waited = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += STORE_RESIZE_WAIT_S;
	pthread_mutex_lock(&st->lock);
	if (st->resizing) {
		/* Another thread is adopting the new size: wait, then retry. */
		while (st->resizing && waited == 0)
			waited = pthread_cond_timedwait(&st->cond, &st->lock,
			    &until);
		goto out;
	}
	st->resizing = 1;
	while (st->active > 0 && waited == 0)
		waited = pthread_cond_timedwait(&st->cond, &st->lock, &until);
	if (st->active > 0)
		rc = ca_error_set(err, CA_EIO,
		    "another process grew the store at %s and this process "
		    "could not adopt the new size: a transaction stayed open "
		    "for %d seconds", st->dir, STORE_RESIZE_WAIT_S);
	else if ((mrc = mdb_env_set_mapsize(st->env, 0)) != MDB_SUCCESS)
		rc = store_fail(st, mrc, err, "adopting the new map size");
	st->resizing = 0;
	pthread_cond_broadcast(&st->cond);
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/*
 * Growing the map. LMDB lets a process change its map size only while it
 * has no transaction open (mdb_env_set_mapsize); other processes adopt the
 * new size through MDB_MAP_RESIZED (adopt_mapsize). So before each write
 * transaction the store makes sure that the map has room ahead of the data:
 * as much as is used, at least STORE_HEADROOM_MIN, and whatever a
 * transaction that ran short asked for; growing doubles that room, within
 * the limit (the map is address space: a large one costs nothing). A store is then full only at its limit: store.map_size, or
 * the disk when there is none.
 */

static uint64_t
page_size_of(struct store *st)
{
	MDB_stat ms;

	if (mdb_env_stat(st->env, &ms) != MDB_SUCCESS || ms.ms_psize == 0)
		return 4096;
	return ms.ms_psize;
}

/* Bytes of the data file in use (its pages up to the last one written),
   and the map's size, as the newest meta page says. */
static void
map_used(struct store *st, uint64_t *used, uint64_t *mapped)
{
	MDB_envinfo info;

	memset(&info, 0, sizeof(info));
	(void)mdb_env_info(st->env, &info);
	*used = ((uint64_t)info.me_last_pgno + 1) * page_size_of(st);
	*mapped = info.me_mapsize;
}

/* What the map may grow to: the bound, or, unbounded, the data file plus
   the free space of its disk. */
static uint64_t
map_limit(struct store *st)
{
	struct stat	sb;
	char		path[4096];
	uint64_t	file = 0, avail = 0;

	if (st->bound != 0)
		return st->bound;
	if (path_join(path, sizeof(path), st->dir, "data.mdb") == CA_OK &&
	    stat(path, &sb) == 0)
		file = (uint64_t)sb.st_size;
	(void)disk_avail(st, &avail);	/* unknown: 0, the file alone */
	/* 1 TiB of address space at most, as store.map_size allows. */
	if (avail > (1ULL << 40) - file)
		avail = (1ULL << 40) - file;
	return file + avail;
}

static bool
map_can_grow(struct store *st, size_t mapped)
{
	bool can;

	if (st->read_only)
		return false;
	pthread_mutex_lock(&st->lock);
	/* The next write transaction asks for twice the map, or more. */
	if (st->want_free < (uint64_t)mapped)
		st->want_free = (uint64_t)mapped;
	pthread_mutex_unlock(&st->lock);
	can = map_limit(st) > (uint64_t)mapped + (1ULL << 20);
	return can;
}

/* The size the map should have now, or 0 when it has room enough. Called
   with st->lock held. */
static uint64_t
map_target(struct store *st, uint64_t extra)
{
	uint64_t used, mapped, room, limit, size;

	map_used(st, &used, &mapped);
	/* A transaction of random inserts copies most leaf pages it touches
	   before the old ones are free again: as much room as is used. */
	room = used;
	if (room < STORE_HEADROOM_MIN)
		room = STORE_HEADROOM_MIN;
	if (room < extra)
		room = extra;
	if (room < st->want_free)
		room = st->want_free;
	if (mapped >= used && mapped - used >= room)
		return 0;
	limit = map_limit(st);
	if (room > UINT64_MAX / 4 || used > UINT64_MAX / 2)
		size = limit;
	else
		size = used + 2 * room;
	size = (size + (1ULL << 20) - 1) & ~((1ULL << 20) - 1);
	if (size > limit)
		size = limit & ~(page_size_of(st) - 1);
	return size > mapped ? size : 0;
}

/*
 * Grow the map if it runs short of room (extra: bytes a caller is about to
 * write). Waits a little for this process's other transactions to end;
 * when they do not, the map stays as it is until the next write.
 */
static void
map_grow(struct store *st, uint64_t extra)
{
	struct timespec	 until;
	uint64_t	 size;
	int		 waited = 0;

	if (st->read_only)
		return;
	pthread_mutex_lock(&st->lock);
	if ((size = map_target(st, extra)) == 0) {
		pthread_mutex_unlock(&st->lock);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += STORE_GROW_WAIT_S;
	if (st->resizing) {
		pthread_mutex_unlock(&st->lock);
		return;		/* another thread is at it */
	}
	st->resizing = 1;
	while (st->active > 0 && waited == 0)
		waited = pthread_cond_timedwait(&st->cond, &st->lock, &until);
	/* Again, now that nothing can commit: the size may have moved. */
	if (st->active == 0 && (size = map_target(st, extra)) != 0 &&
	    mdb_env_set_mapsize(st->env, (size_t)size) == MDB_SUCCESS) {
		st->grown++;
		st->want_free = 0;
	}
	st->resizing = 0;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
}

void
store_reserve(struct store *st, uint64_t bytes)
{
	if (st != NULL)
		map_grow(st, bytes);
}

void
store_map_stats(struct store *st, struct store_map_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return;
	map_used(st, &out->used, &out->mapped);
	out->limit = map_limit(st);
	pthread_mutex_lock(&st->lock);
	out->grown = st->grown;
	pthread_mutex_unlock(&st->lock);
}

/*
 * A zeroed tail ahead of the data. LMDB writes a growing store's new pages
 * past the end of data.mdb, so nearly every commit changed the file's size,
 * and its fdatasync then wrote the inode and the block bitmaps too (ext4
 * without a journal; with one, a journal commit): more synchronous writes
 * a commit. Zeros written ahead in chunks make a commit's pages overwrites
 * of blocks the file has, and the size changes once a chunk: the
 * committer's kernel CPU fell from 13.0 to 8.4 % of the service's under
 * the cfssl benchmark (fdatasync 6.0 -> 2.8 %; design note 30).
 *
 * Safe because it runs inside a write transaction: LMDB's writer lock
 * keeps every other writer, in this process or another, from writing
 * pages meanwhile, and the zeros only go past the file's end, where no
 * page is. LMDB reads nothing past its last page, so a tail cut short (a
 * crash, a full disk) is harmless. Best effort: a failure only leaves the
 * size changing with each commit, as without it.
 */
static void
tail_extend(struct store *st)
{
	static const uint8_t	zeros[64 * 1024];
	struct stat		sb;
	uint64_t		used, mapped, chunk, want, avail;
	mdb_filehandle_t	fd;

	map_used(st, &used, &mapped);
	chunk = used / 8;
	if (chunk < STORE_TAIL_MIN)
		chunk = STORE_TAIL_MIN;
	if (chunk > STORE_TAIL_MAX)
		chunk = STORE_TAIL_MAX;
	/* Half a chunk left, or a refusal not long ago: no system call. */
	if (st->file_end >= used + chunk / 2 || used < st->tail_retry)
		return;
	st->tail_retry = used + chunk / 2;
	if (mdb_env_get_fd(st->env, &fd) != MDB_SUCCESS || fstat(fd, &sb) != 0)
		return;
	st->file_end = (uint64_t)sb.st_size;
	want = used + chunk;
	if (want > mapped)	/* LMDB cannot write past its map */
		want = mapped;
	want &= ~(page_size_of(st) - 1);
	if (st->file_end >= used + chunk / 2 || st->file_end >= want)
		return;
	/* Never the last of a disk: other files need room too. */
	if (!disk_avail(st, &avail) || avail / 8 < want - st->file_end)
		return;
	while (st->file_end < want) {
		size_t	n = sizeof(zeros);
		ssize_t	w;

		if (want - st->file_end < n)
			n = (size_t)(want - st->file_end);
		w = pwrite(fd, zeros, n, (off_t)st->file_end);
		if (w <= 0)
			break;
		st->file_end += (uint64_t)w;
	}
}

static int
txn_begin(struct store *st, unsigned flags, MDB_txn **out,
    struct ca_error *err)
{
	int mrc, rc;

	if ((flags & MDB_RDONLY) == 0)
		map_grow(st, 0);
	for (int tries = 0;; tries++) {
		txn_enter(st);
		mrc = mdb_txn_begin(st->env, NULL, flags, out);
		if (mrc == MDB_SUCCESS && (flags & MDB_RDONLY) == 0)
			tail_extend(st);
		if (mrc == MDB_SUCCESS)
			return CA_OK;
		txn_leave(st);
		if (mrc != MDB_MAP_RESIZED || tries >= 3)
			return store_fail(st, mrc, err,
			    "starting a transaction");
		if ((rc = adopt_mapsize(st, err)) != CA_OK)
			return rc;
	}
}

/* Abort (or end a read) and release the slot. NULL-safe. */
static void
txn_end(struct store *st, MDB_txn *txn)
{
	if (txn == NULL)
		return;
	mdb_txn_abort(txn);
	txn_leave(st);
}

static int
txn_commit(struct store *st, MDB_txn *txn, struct ca_error *err)
{
	int mrc = mdb_txn_commit(txn);	/* frees txn, even on failure */

	txn_leave(st);
	return store_fail(st, mrc, err, "committing to the store");
}

/* ---- small helpers over a transaction ---- */

static int
meta_name_ok(const char *name)
{
	size_t n;

	if (name == NULL)
		return 0;
	n = strnlen(name, STORE_META_NAME_MAX + 1);
	return n > 0 && n <= STORE_META_NAME_MAX;
}

static int
counter_read(struct store *st, MDB_txn *txn, const char *name, uint64_t *out,
    struct ca_error *err)
{
	MDB_val	k = { strlen(name), (void *)name }, v;
	int	mrc;

	mrc = mdb_get(txn, st->meta, &k, &v);
	if (mrc == MDB_NOTFOUND) {
		*out = 0;
		return CA_OK;
	}
	if (mrc != MDB_SUCCESS)
		return store_fail(st, mrc, err, "reading a counter");
	if (v.mv_size != 8)
		return ca_error_set(err, CA_EMALF,
		    "the store's counter \"%s\" is %zu bytes long instead of 8: "
		    "the store is damaged", name, v.mv_size);
	*out = store_be64_get(v.mv_data);
	return CA_OK;
}

static int
counter_write(struct store *st, MDB_txn *txn, const char *name, uint64_t val,
    struct ca_error *err)
{
	uint8_t	buf[8];
	MDB_val	k = { strlen(name), (void *)name }, v = { 8, buf };

	store_be64_put(buf, val);
	return store_fail(st, mdb_put(txn, st->meta, &k, &v, 0), err,
	    "writing a counter");
}

static int
counter_add(struct store *st, MDB_txn *txn, const char *name, int64_t delta,
    uint64_t *out, struct ca_error *err)
{
	uint64_t	v;
	int		rc;

	if ((rc = counter_read(st, txn, name, &v, err)) != CA_OK)
		return rc;
	if ((delta > 0 && v > UINT64_MAX - (uint64_t)delta) ||
	    (delta < 0 && v < (uint64_t)-delta))
		return ca_error_set(err, CA_EIO,
		    "the store's counter \"%s\" would leave its range: the "
		    "store is damaged", name);
	v += (uint64_t)delta;
	if ((rc = counter_write(st, txn, name, v, err)) != CA_OK)
		return rc;
	if (out != NULL)
		*out = v;
	return CA_OK;
}

static void
fmt_serial(const uint8_t *serial, size_t len, char out[SERIAL_HEX_MAX + 2])
{
	if (len < 1 || len > SERIAL_MAX + 1)
		snprintf(out, SERIAL_HEX_MAX + 2, "(invalid)");
	else
		serial_format(serial, len, out);
}

static int
serial_ok(const uint8_t *serial, size_t len)
{
	return serial != NULL && len >= 1 && len <= SERIAL_MAX + 1;
}

/* Read and decode the record of serial; CA_ENOENT if absent. */
static int
record_get(struct store *st, MDB_txn *txn, const uint8_t *serial, size_t len,
    struct cert_record *out, struct ca_error *err)
{
	char	hex[SERIAL_HEX_MAX + 2];
	MDB_val	k = { len, (void *)serial }, v;
	int	mrc;

	fmt_serial(serial, len, hex);
	mrc = mdb_get(txn, st->certs, &k, &v);
	if (mrc == MDB_NOTFOUND)
		return ca_error_set(err, CA_ENOENT,
		    "serial %s is not in the store", hex);
	if (mrc != MDB_SUCCESS)
		return store_fail(st, mrc, err, "reading a certificate");
	if (store_record_decode(v.mv_data, v.mv_size, out) != CA_OK)
		return ca_error_set(err, CA_EMALF,
		    "the store's record of serial %s is damaged or of an "
		    "unknown version", hex);
	if (out->serial_len != len || memcmp(out->serial, serial, len) != 0) {
		cert_record_clear(out);
		return ca_error_set(err, CA_EMALF,
		    "the store's record of serial %s names another serial: the "
		    "store is damaged", hex);
	}
	return CA_OK;
}

static int
record_put(struct store *st, MDB_txn *txn, const struct cert_record *rec,
    unsigned flags, struct ca_error *err)
{
	char	 hex[SERIAL_HEX_MAX + 2];
	uint8_t	*buf = NULL;
	size_t	 len;
	MDB_val	 k, v;
	int	 rc, mrc;

	fmt_serial(rec->serial, rec->serial_len, hex);
	if ((rc = store_record_encode(rec, &buf, &len)) != CA_OK) {
		rc = rc == CA_ENOMEM ? ca_error_set(err, rc, "out of memory") :
		    ca_error_set(err, rc, "certificate record of serial %s "
		    "breaks a bound of the store (serial 1..21 bytes, profile "
		    "under 32 bytes, subject up to 4096 bytes, certificate up "
		    "to 64 KiB, a valid CRL reason)", hex);
		goto out;
	}
	k.mv_size = rec->serial_len;
	k.mv_data = (void *)rec->serial;
	v.mv_size = len;
	v.mv_data = buf;
	mrc = mdb_put(txn, st->certs, &k, &v, flags);
	if (mrc == MDB_KEYEXIST)
		rc = ca_error_set(err, CA_EEXIST,
		    "serial %s is already in the store (serial numbers are "
		    "unique, RFC 5280 section 4.1.2.2)", hex);
	else
		rc = store_fail(st, mrc, err, "recording a certificate");
out:
	free(buf);
	return rc;
}

static int
index_put(struct store *st, MDB_txn *txn, MDB_dbi dbi, int64_t not_after,
    const uint8_t *serial, size_t serial_len, const void *val, size_t len,
    unsigned flags, struct ca_error *err)
{
	uint8_t	key[STORE_INDEX_KEY_MAX];
	MDB_val	k, v = { len, (void *)val };

	k.mv_data = key;
	k.mv_size = store_index_key(key, not_after, serial, serial_len);
	return store_fail(st, mdb_put(txn, dbi, &k, &v, flags), err,
	    "writing an index of the store");
}

/* The "cn" index entry of a record: CN, NUL, serial. None without a CN. */
static int
cn_put(struct store *st, MDB_txn *txn, const struct cert_record *rec,
    struct ca_error *err)
{
	uint8_t	key[STORE_CN_MAX + 1 + SERIAL_MAX + 1];
	char	cn[STORE_CN_MAX];
	size_t	n;
	MDB_val	k, v = { 0, (void *)"" };

	if (rec->subject == NULL || !subject_cn(rec->subject, cn, sizeof(cn)) ||
	    cn[0] == '\0')
		return CA_OK;
	n = strlen(cn);
	memcpy(key, cn, n + 1);
	memcpy(key + n + 1, rec->serial, rec->serial_len);
	k.mv_data = key;
	k.mv_size = n + 1 + rec->serial_len;
	return store_fail(st, mdb_put(txn, st->cn, &k, &v, 0), err,
	    "writing the CN index of the store");
}

/* ---- open and close ---- */

static int
open_dbis(struct store *st, MDB_txn *txn, struct ca_error *err)
{
	static const char *names[] = { "certs", "expiry", "revoked", "meta",
	    "tokens", "audit", "cn", "renewals", "revlog" };
	MDB_dbi		*dbis[] = { &st->certs, &st->expiry, &st->revoked,
	    &st->meta, &st->tokens, &st->audit, &st->cn, &st->renewals,
	    &st->revlog };
	unsigned	 flags = st->read_only ? 0 : MDB_CREATE;
	int		 mrc;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		mrc = mdb_dbi_open(txn, names[i], flags, dbis[i]);
		/* A version-1 store read without migrating: scan for CNs. */
		if (dbis[i] == &st->cn) {
			st->has_cn = mrc == MDB_SUCCESS;
			if (mrc == MDB_NOTFOUND)
				continue;
		}
		/* An older store read without migrating: no renewal known. */
		if (dbis[i] == &st->renewals) {
			st->has_renewals = mrc == MDB_SUCCESS;
			if (mrc == MDB_NOTFOUND)
				continue;
		}
		/* Read-only, older: every scan reads the revoked index. */
		if (dbis[i] == &st->revlog) {
			st->has_revlog = mrc == MDB_SUCCESS;
			if (mrc == MDB_NOTFOUND)
				continue;
		}
		if (mrc == MDB_NOTFOUND)
			return ca_error_set(err, CA_ENOENT,
			    "no store at %s (it has no \"%s\" database): run "
			    "`mtlsca init` first", st->dir, names[i]);
		if (mrc != MDB_SUCCESS)
			return store_fail(st, mrc, err, "opening the store");
	}
	return CA_OK;
}

/* Version 1 to 2: the "cn" index from every record, in the open's write. */
static int
cn_index_build(struct store *st, MDB_txn *txn, struct ca_error *err)
{
	MDB_cursor		*cur = NULL;
	MDB_val			 k, v;
	struct cert_record	 rec;
	int			 rc = CA_OK, mrc;

	memset(&rec, 0, sizeof(rec));
	if ((mrc = mdb_cursor_open(txn, st->certs, &cur)) != MDB_SUCCESS)
		return store_fail(st, mrc, err, "indexing CNs");
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (store_record_decode(v.mv_data, v.mv_size, &rec) != CA_OK) {
			rc = ca_error_set(err, CA_EMALF, "indexing CNs: a "
			    "record of the store is damaged");
			break;
		}
		rc = cn_put(st, txn, &rec, err);
		cert_record_clear(&rec);
		if (rc != CA_OK)
			break;
	}
	if (rc == CA_OK && mrc != MDB_NOTFOUND)
		rc = store_fail(st, mrc, err, "indexing CNs");
	mdb_cursor_close(cur);
	return rc;
}

/* Version 3 to 4: the revoked certificates leave "expiry" (both indexes
   have the keys be64(not_after) || serial). */
static int
expiry_unrevoke(struct store *st, MDB_txn *txn, struct ca_error *err)
{
	MDB_cursor	*cur = NULL;
	MDB_val		 k, v;
	int		 rc = CA_OK, mrc;

	if ((mrc = mdb_cursor_open(txn, st->revoked, &cur)) != MDB_SUCCESS)
		return store_fail(st, mrc, err, "moving revoked keys");
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		MDB_val key = k;
		int	drc = mdb_del(txn, st->expiry, &key, NULL);

		if (drc != MDB_SUCCESS && drc != MDB_NOTFOUND) {
			rc = store_fail(st, drc, err, "moving revoked keys");
			break;
		}
	}
	if (rc == CA_OK && mrc != MDB_NOTFOUND)
		rc = store_fail(st, mrc, err, "moving revoked keys");
	mdb_cursor_close(cur);
	return rc;
}

static int
check_schema(struct store *st, MDB_txn *txn, struct ca_error *err)
{
	uint64_t	v;
	int		rc;

	if ((rc = counter_read(st, txn, META_SCHEMA, &v, err)) != CA_OK)
		return rc;
	if (v == 0) {
		if (st->read_only)
			return ca_error_set(err, CA_ENOENT,
			    "no store at %s (it was never initialised): run "
			    "`mtlsca init` first", st->dir);
		st->live_expiry = true;
		return counter_write(st, txn, META_SCHEMA,
		    STORE_SCHEMA_VERSION, err);
	}
	if (v < STORE_SCHEMA_VERSION && st->read_only)
		return CA_OK;	/* readable as is; CN and status listings scan */
	if (v < STORE_SCHEMA_VERSION) {
		/* 2 to 3: "renewals" was created empty by open_dbis. */
		if (v == 1 && (rc = cn_index_build(st, txn, err)) != CA_OK)
			return rc;
		if ((rc = expiry_unrevoke(st, txn, err)) != CA_OK)
			return rc;
		st->live_expiry = true;
		return counter_write(st, txn, META_SCHEMA,
		    STORE_SCHEMA_VERSION, err);
	}
	st->live_expiry = true;
	if (v != STORE_SCHEMA_VERSION)
		return ca_error_set(err, CA_EINVAL,
		    "the store at %s has schema version %llu but this mtlsca "
		    "understands version %d only: use the mtlsca release that "
		    "wrote it", st->dir, (unsigned long long)v,
		    STORE_SCHEMA_VERSION);
	return CA_OK;
}

/*
 * The map's first size: what the data file holds plus room (LMDB raises a
 * smaller size to the data's anyway), STORE_MAP_START for a new store,
 * never past the bound.
 */
static uint64_t
initial_map(struct store *st, const struct store_options *opt,
    const char *path)
{
	struct stat	sb;
	uint64_t	size = opt->initial_map_size;

	if (size == 0) {
		size = STORE_MAP_START;
		if (stat(path, &sb) == 0 && (uint64_t)sb.st_size / 4 * 5 > size)
			size = (uint64_t)sb.st_size / 4 * 5;
	}
	if (st->bound != 0 && size > st->bound)
		size = st->bound;
	return (size + 4095) & ~4095ULL;
}

int
store_open(const struct store_options *opt, struct store **out,
    struct ca_error *err)
{
	struct store	*st = NULL;
	MDB_txn		*txn = NULL;
	char		 path[4096];
	struct stat	 sb;
	int		 rc, mrc, dead;

	if (opt == NULL || opt->dir == NULL || opt->dir[0] == '\0' ||
	    out == NULL)
		return ca_error_set(err, CA_EINVAL, "no store directory given");
	if (path_join(path, sizeof(path), opt->dir, "data.mdb") != CA_OK)
		return ca_error_set(err, CA_EINVAL, "store path too long: %s",
		    opt->dir);
	if (opt->read_only && stat(path, &sb) != 0)
		return ca_error_set(err, CA_ENOENT,
		    "no store at %s: run `mtlsca init` first", opt->dir);
	if (!opt->read_only && (rc = dir_make(opt->dir, 0700, err)) != CA_OK)
		return rc;

	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->dir = strdup(opt->dir)) == NULL) {
		if (st != NULL)
			free(st);
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	}
	st->read_only = opt->read_only;
	st->status_index_max = opt->status_index_max != 0 ?
	    opt->status_index_max : STORE_STATUS_INDEX_MAX;
	st->bound = opt->map_size;
	st->snap_hook = opt->snapshot_hook;
	st->snap_hook_ctx = opt->snapshot_hook_ctx;
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->cond, NULL);
	pthread_mutex_init(&st->snap_mu, NULL);

	if ((mrc = mdb_env_create(&st->env)) != MDB_SUCCESS) {
		st->env = NULL;
		rc = store_fail(st, mrc, err, "creating the LMDB environment");
		goto out;
	}
	/* certs, expiry, revoked, meta, tokens, audit, cn, renewals,
	   revlog */
	if ((mrc = mdb_env_set_maxdbs(st->env, 9)) != MDB_SUCCESS ||
	    (mrc = mdb_env_set_maxreaders(st->env, opt->max_readers != 0 ?
	    opt->max_readers : STORE_READERS_DEFAULT)) != MDB_SUCCESS ||
	    (mrc = mdb_env_set_mapsize(st->env, (size_t)initial_map(st, opt,
	    path))) != MDB_SUCCESS) {
		rc = store_fail(st, mrc, err, "configuring the store");
		goto out;
	}
	/* MDB_NOTLS: read transactions are not tied to a thread, and the
	   reader table is sized by max_readers, not by the thread count. */
	mrc = mdb_env_open(st->env, opt->dir,
	    MDB_NOTLS | (opt->read_only ? MDB_RDONLY : 0), 0600);
	if (mrc == ENOENT) {
		rc = ca_error_set(err, CA_ENOENT,
		    "no store at %s: run `mtlsca init` first", opt->dir);
		goto out;
	}
	if (mrc == MDB_INVALID || mrc == MDB_VERSION_MISMATCH) {
		rc = ca_error_set(err, CA_EINVAL,
		    "%s is not an LMDB store this mtlsca can read (%s)", path,
		    mdb_strerror(mrc));
		goto out;
	}
	if (mrc != MDB_SUCCESS) {
		rc = store_fail(st, mrc, err, "opening the store");
		goto out;
	}
	/* Free the reader slots of processes that died holding one (a crashed
	   CLI must not pin old pages forever). */
	if ((mrc = mdb_reader_check(st->env, &dead)) != MDB_SUCCESS) {
		rc = store_fail(st, mrc, err, "checking the store's readers");
		goto out;
	}

	if ((rc = txn_begin(st, opt->read_only ? MDB_RDONLY : 0, &txn,
	    err)) != CA_OK)
		goto out;
	if ((rc = open_dbis(st, txn, err)) != CA_OK ||
	    (rc = check_schema(st, txn, err)) != CA_OK)
		goto out;
	/* Committing (even a read transaction) keeps the DBI handles. */
	rc = txn_commit(st, txn, err);
	txn = NULL;
	if (rc != CA_OK)
		goto out;
	*out = st;
	st = NULL;
out:
	txn_end(st, txn);
	store_close(st);
	return rc;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->env != NULL)
		mdb_env_close(st->env);
	pthread_cond_destroy(&st->cond);
	pthread_mutex_destroy(&st->lock);
	pthread_mutex_destroy(&st->snap_mu);
	free(st->dir);
	free(st);
}

/* ---- batches ---- */

int
store_txn_begin(struct store *st, struct store_txn **out, struct ca_error *err)
{
	struct store_txn	*t;
	int			 rc;

	if (st == NULL || out == NULL)
		return ca_error_set(err, CA_EINVAL, "no store");
	if (st->read_only)
		return write_not_allowed(st, err);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	t->st = st;
	if ((rc = txn_begin(st, 0, &t->txn, err)) != CA_OK) {
		free(t);
		return rc;
	}
	*out = t;
	return CA_OK;
}

int
store_txn_commit(struct store_txn *txn, struct ca_error *err)
{
	int rc;

	if (txn == NULL)
		return ca_error_set(err, CA_EINVAL, "no transaction");
	rc = txn_commit(txn->st, txn->txn, err);
	free(txn);
	return rc;
}

void
store_txn_abort(struct store_txn *txn)
{
	if (txn == NULL)
		return;
	txn_end(txn->st, txn->txn);
	free(txn);
}

int
store_txn_cert_put(struct store_txn *txn, const struct cert_record *rec,
    struct ca_error *err)
{
	struct store	*st;
	int		 rc;

	if (txn == NULL || rec == NULL)
		return ca_error_set(err, CA_EINVAL, "no record");
	st = txn->st;
	/*
	 * A revoked certificate enters through store_cert_revoke, which also
	 * writes its CRL entry: a revoked record without one would silently
	 * drop out of every CRL.
	 */
	if (rec->status != CERT_STATUS_VALID || rec->revoked_at != 0)
		return ca_error_set(err, CA_EINVAL,
		    "store_cert_put records valid certificates only: record it "
		    "valid, then revoke it in the same batch so that its CRL "
		    "entry is written");
	if ((rc = record_put(st, txn->txn, rec, MDB_NOOVERWRITE, err)) !=
	    CA_OK || (rc = cn_put(st, txn->txn, rec, err)) != CA_OK)
		return rc;
	return index_put(st, txn->txn, st->expiry, rec->not_after,
	    rec->serial, rec->serial_len, "", 0, 0, err);
}

/* The work of both store_cert_revoke and store_txn_cert_revoke. */
static int
txn_revoke(struct store_txn *txn, const struct store_revocation *rv,
    store_entry_encoder enc, int *outcome, struct cert_record *rec_out,
    struct ca_error *err)
{
	struct store		*st;
	struct cert_record	 rec;
	struct ca_error		 e2;
	char			 hex[SERIAL_HEX_MAX + 2];
	/* The value: the entry's DER, after REVOKED_CA_TAG and the CA id
	   when a later CA than the first issued the certificate. */
	uint8_t			 val[REVOKED_CA_HDR + STORE_ENTRY_MAX];
	uint8_t			 ikey[STORE_INDEX_KEY_MAX], *entry;
	size_t			 elen = 0, hdr = 0;
	MDB_val			 k, v;
	unsigned		 pflags;
	uint64_t		 gen;
	int			 rc, mrc, result, fresh = 0;

	memset(&rec, 0, sizeof(rec));
	if (txn == NULL || rv == NULL || enc == NULL || outcome == NULL)
		return ca_error_set(err, CA_EINVAL, "bad revocation request");
	st = txn->st;
	if (!serial_ok(rv->serial, rv->serial_len))
		return ca_error_set(err, CA_EINVAL,
		    "a serial number has 1 to 21 content octets (RFC 5280 "
		    "section 4.1.2.2)");
	fmt_serial(rv->serial, rv->serial_len, hex);
	if (rv->reason > 10 || rv->reason == 7 || rv->reason == 8)
		return ca_error_set(err, CA_EINVAL,
		    "revocation reason %u of serial %s is not one a CRL "
		    "entry may carry (RFC 5280 section 5.3.1)", rv->reason,
		    hex);

	rc = record_get(st, txn->txn, rv->serial, rv->serial_len, &rec, &e2);
	if (rc == CA_ENOENT && rv->force) {
		/* A certificate the store never saw (issued elsewhere, or
		   lost): remember it so that it stays revoked. */
		memset(&rec, 0, sizeof(rec));
		memcpy(rec.serial, rv->serial, rv->serial_len);
		rec.serial_len = rv->serial_len;
		/* A zeroed not_after would key the entry as expired in 1970
		   and drop it from every CRL at once: unknown instead. */
		rec.not_after = rv->not_after > 0 ? rv->not_after :
		    STORE_NOT_AFTER_UNKNOWN;
		rec.ca_id = rv->ca_id;
		if (rec.ca_id == 0) {
			uint64_t active = 0;

			/* The active CA's CRL lists it (ca rotate records
			   which that is). */
			if ((rc = counter_read(st, txn->txn,
			    STORE_COUNTER_CA_ACTIVE, &active, err)) != CA_OK)
				goto out;
			rec.ca_id = active > STORE_CA_FIRST &&
			    active <= UINT32_MAX ? (uint32_t)active :
			    STORE_CA_FIRST;
		}
		fresh = 1;
	} else if (rc == CA_ENOENT) {
		rc = ca_error_set(err, CA_ENOENT,
		    "serial %s is not in the store (force the revocation to "
		    "revoke a certificate the store never recorded)", hex);
		goto out;
	} else if (rc != CA_OK) {
		if (err != NULL)
			*err = e2;
		goto out;
	}

	if (rec.status == CERT_STATUS_REVOKED) {
		/* RFC 5280 §5.3.1: a key compromise discovered later must be
		   told to relying parties; the revocation date stays the
		   first one (the certificate was not valid since then). */
		if (rv->reason != 1 || rec.reason == 1) {
			result = STORE_REVOKE_ALREADY;
			goto done;
		}
		rec.reason = rv->reason;
		result = STORE_REVOKE_RAISED;
	} else {
		rec.status = CERT_STATUS_REVOKED;
		rec.reason = rv->reason;
		rec.revoked_at = rv->revoked_at;
		result = STORE_REVOKE_NEW;
	}

	if (rec.ca_id > STORE_CA_FIRST) {
		val[0] = REVOKED_CA_TAG;
		val[1] = (uint8_t)(rec.ca_id >> 24);
		val[2] = (uint8_t)(rec.ca_id >> 16);
		val[3] = (uint8_t)(rec.ca_id >> 8);
		val[4] = (uint8_t)rec.ca_id;
		hdr = REVOKED_CA_HDR;
	}
	entry = val + hdr;
	if ((rc = enc(&rec, entry, STORE_ENTRY_MAX, &elen)) != 0) {
		rc = ca_error_set(err, rc < 0 ? rc : CA_EINVAL,
		    "could not encode the CRL entry of serial %s", hex);
		goto out;
	}
	if (elen == 0 || elen > STORE_ENTRY_MAX || entry[0] == REVOKED_CA_TAG) {
		rc = ca_error_set(err, CA_EINVAL,
		    "the CRL entry of serial %s is %zu bytes (1..%d allowed, "
		    "the first one not 0)",
		    hex, elen, STORE_ENTRY_MAX);
		goto out;
	}

	k.mv_data = ikey;
	k.mv_size = store_index_key(ikey, rec.not_after, rec.serial,
	    rec.serial_len);
	if (result == STORE_REVOKE_RAISED) {
		/* Replace the entry in place; the byte total follows. */
		if ((mrc = mdb_get(txn->txn, st->revoked, &k, &v)) !=
		    MDB_SUCCESS) {
			rc = mrc == MDB_NOTFOUND ? ca_error_set(err, CA_EIO,
			    "serial %s is marked revoked but has no CRL entry: "
			    "the store is damaged", hex) :
			    store_fail(st, mrc, err, "reading a CRL entry");
			goto out;
		}
		if ((rc = counter_add(st, txn->txn, META_REVOKED_BYTES,
		    -(int64_t)v.mv_size, NULL, err)) != CA_OK)
			goto out;
		pflags = 0;
	} else {
		if ((rc = counter_add(st, txn->txn, META_REVOKED_ENTRIES, 1,
		    NULL, err)) != CA_OK)
			goto out;
		pflags = MDB_NOOVERWRITE;
	}
	if ((rc = counter_add(st, txn->txn, META_REVOKED_BYTES,
	    (int64_t)(hdr + elen), NULL, err)) != CA_OK)
		goto out;
	v.mv_size = hdr + elen;
	v.mv_data = val;
	if ((mrc = mdb_put(txn->txn, st->revoked, &k, &v, pflags)) !=
	    MDB_SUCCESS) {
		rc = mrc == MDB_KEYEXIST ? ca_error_set(err, CA_EIO,
		    "serial %s is not marked revoked but has a CRL entry: the "
		    "store is damaged", hex) :
		    store_fail(st, mrc, err, "writing a CRL entry");
		goto out;
	}
	if ((rc = record_put(st, txn->txn, &rec, fresh ? MDB_NOOVERWRITE : 0,
	    err)) != CA_OK)
		goto out;
	if (fresh && (rc = cn_put(st, txn->txn, &rec, err)) != CA_OK)
		goto out;
	/* Revoked: its key moves from "expiry" to "revoked" (schema 4). */
	if (result == STORE_REVOKE_NEW && !fresh &&
	    (mrc = mdb_del(txn->txn, st->expiry, &k, NULL)) != MDB_SUCCESS &&
	    mrc != MDB_NOTFOUND) {
		rc = store_fail(st, mrc, err, "updating the expiry index");
		goto out;
	}
	if ((rc = counter_add(st, txn->txn, STORE_COUNTER_REVGEN, 1, &gen,
	    err)) != CA_OK ||
	    (rc = revlog_put(st, txn->txn, gen, &k, &v, err)) != CA_OK)
		goto out;
done:
	*outcome = result;
	if (rec_out != NULL) {
		*rec_out = rec;
		memset(&rec, 0, sizeof(rec));
	}
	rc = CA_OK;
out:
	cert_record_clear(&rec);
	return rc;
}

int
store_txn_cert_revoke(struct store_txn *txn, const struct store_revocation *rv,
    store_entry_encoder enc, int *outcome, struct ca_error *err)
{
	return txn_revoke(txn, rv, enc, outcome, NULL, err);
}

/* ---- single operations: one batch each ---- */

int
store_cert_put(struct store *st, const struct cert_record *rec,
    struct ca_error *err)
{
	struct store_txn	*txn = NULL;
	int			 rc;

	if ((rc = store_txn_begin(st, &txn, err)) != CA_OK)
		return rc;
	if ((rc = store_txn_cert_put(txn, rec, err)) != CA_OK) {
		store_txn_abort(txn);
		return rc;
	}
	return store_txn_commit(txn, err);
}

int
store_cert_revoke(struct store *st, const struct store_revocation *rv,
    store_entry_encoder enc, int *outcome, struct cert_record *rec_out,
    struct ca_error *err)
{
	struct store_txn	*txn = NULL;
	struct cert_record	 rec;
	int			 rc, result;

	memset(&rec, 0, sizeof(rec));
	if ((rc = store_txn_begin(st, &txn, err)) != CA_OK)
		return rc;
	if ((rc = txn_revoke(txn, rv, enc, &result,
	    rec_out != NULL ? &rec : NULL, err)) != CA_OK) {
		store_txn_abort(txn);
		return rc;
	}
	if ((rc = store_txn_commit(txn, err)) != CA_OK) {
		cert_record_clear(&rec);
		return rc;
	}
	if (outcome != NULL)
		*outcome = result;
	if (rec_out != NULL)
		*rec_out = rec;
	return CA_OK;
}

int
store_cert_get(struct store *st, const uint8_t *serial, size_t len,
    struct cert_record *out, struct ca_error *err)
{
	MDB_txn	*txn = NULL;
	int	 rc;

	if (st == NULL || out == NULL || !serial_ok(serial, len))
		return ca_error_set(err, CA_EINVAL,
		    "a serial number has 1 to 21 content octets (RFC 5280 "
		    "section 4.1.2.2)");
	if ((rc = txn_begin(st, MDB_RDONLY, &txn, err)) != CA_OK)
		return rc;
	rc = record_get(st, txn, serial, len, out, err);
	txn_end(st, txn);
	return rc;
}

/* ---- the revocation log ---- */

/*
 * Once a snapshot of the revoked index was tried (META_REVLOG_ON), every
 * change to the index is also appended to "revlog" under its revocation
 * generation: the key and the value it now has. A scan through the
 * snapshot of generation G then needs the log's entries after G, and
 * checks that there is one for every generation since (design note 26).
 */
static int
revlog_put(struct store *st, MDB_txn *txn, uint64_t gen, const MDB_val *k,
    const MDB_val *v, struct ca_error *err)
{
	uint8_t		lkey[8], lval[1 + STORE_INDEX_KEY_MAX +
			    REVSNAP_VALUE_MAX];
	MDB_val		lk = { sizeof(lkey), lkey }, lv;
	uint64_t	on;
	int		rc;

	if (!st->has_revlog)
		return CA_OK;
	if ((rc = counter_read(st, txn, META_REVLOG_ON, &on, err)) != CA_OK)
		return rc;
	if (on == 0)
		return CA_OK;
	if (k->mv_size > STORE_INDEX_KEY_MAX || v->mv_size == 0 ||
	    v->mv_size > REVSNAP_VALUE_MAX)
		return ca_error_set(err, CA_EINVAL, "a CRL entry too large "
		    "for the revocation log");
	store_be64_put(lkey, gen);
	lval[0] = (uint8_t)k->mv_size;
	memcpy(lval + 1, k->mv_data, k->mv_size);
	memcpy(lval + 1 + k->mv_size, v->mv_data, v->mv_size);
	lv.mv_size = 1 + k->mv_size + v->mv_size;
	lv.mv_data = lval;
	/* Generations only rise: the log is appended at its end. */
	return store_fail(st, mdb_put(txn, st->revlog, &lk, &lv, MDB_APPEND),
	    err, "writing the revocation log");
}

/* ---- reading the map without keeping it resident ---- */

/*
 * The pages of the map a scan has read since its last drop: the span of the
 * value pointers it handed out, page-aligned when dropped. A zeroed window
 * never drops anything.
 */
struct map_window {
	uintptr_t	lo, hi;
	uintptr_t	page;		/* page size; 0: never drop */
	uintptr_t	map_size;	/* no span of the map is larger */
};

static void
map_window_init(struct store *st, struct map_window *w)
{
	MDB_envinfo	info;
	unsigned	flags = 0;
	long		page = sysconf(_SC_PAGESIZE);

	w->lo = UINTPTR_MAX;
	w->hi = 0;
	w->page = page > 0 ? (uintptr_t)page : 0;
	/* Inside a transaction, the map can not be resized under us. */
	memset(&info, 0, sizeof(info));
	if (mdb_env_info(st->env, &info) != MDB_SUCCESS)
		w->page = 0;
	w->map_size = info.me_mapsize;
	/* Dropping is only harmless on a read-only mapping (see
	   store_revoked_scan); store_open never asks for MDB_WRITEMAP. */
	if (mdb_env_get_flags(st->env, &flags) != MDB_SUCCESS ||
	    (flags & MDB_WRITEMAP) != 0) {
		assert((flags & MDB_WRITEMAP) == 0);
		w->page = 0;
	}
}

static void
map_window_note(struct map_window *w, const MDB_val *v)
{
	uintptr_t p = (uintptr_t)v->mv_data;

	if (v->mv_size == 0)
		return;
	if (p < w->lo)
		w->lo = p;
	if (p + v->mv_size > w->hi)
		w->hi = p + v->mv_size;
}

static void
map_window_drop(struct map_window *w)
{
	uintptr_t lo, hi;

	if (w->page == 0 || w->lo >= w->hi)
		return;
	lo = w->lo & ~(w->page - 1);
	hi = (w->hi + w->page - 1) & ~(w->page - 1);
	/* Every noted pointer is inside the map; a span wider than the map
	   would mean one was not, and MADV_DONTNEED on anonymous memory
	   zeroes it: never risk that. */
	assert(hi - lo <= w->map_size);
	if (hi - lo > w->map_size)
		return;
	/* Advice only: if the kernel refuses, the pages stay mapped, as they
	   would without it. */
	(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
	w->lo = UINTPTR_MAX;
	w->hi = 0;
}

/*
 * The walk of store_cert_foreach and store_cert_foreach_cn. With cn, over
 * the "cn" index (keys CN, NUL, serial: a CN's certificates in serial
 * order), or, on a version-1 store opened read-only, over every record with
 * that CN.
 */
static int
cert_walk(struct store *st, const char *cn, const uint8_t *after,
    size_t after_len, store_cert_cb cb, void *ctx, struct ca_error *err)
{
	MDB_txn			*txn = NULL;
	MDB_cursor		*cur = NULL;
	MDB_val			 k, v, sk;
	struct cert_record	 rec;
	uint8_t			 key[STORE_CN_MAX + 1 + SERIAL_MAX + 1];
	char			 hex[SERIAL_HEX_MAX + 2], rcn[STORE_CN_MAX];
	size_t			 plen = 0;
	bool			 by_index = cn != NULL && st->has_cn;
	MDB_cursor_op		 op = MDB_FIRST;
	struct map_window	 win;
	uint64_t		 seen = 0;
	int			 rc, mrc;

	memset(&rec, 0, sizeof(rec));
	memset(&win, 0, sizeof(win));
	if (cn != NULL) {
		if ((plen = strlen(cn) + 1) > STORE_CN_MAX)
			return ca_error_set(err, CA_EINVAL, "a CN is at most "
			    "%d bytes", STORE_CN_MAX - 1);
		memcpy(key, cn, plen);
	}
	if ((rc = txn_begin(st, MDB_RDONLY, &txn, err)) != CA_OK)
		return rc;
	/* A listing of the whole store reads every record once: its pages
	   are handed back as it goes (see store_revoked_scan). */
	map_window_init(st, &win);
	if ((mrc = mdb_cursor_open(txn, by_index ? st->cn : st->certs,
	    &cur)) != MDB_SUCCESS) {
		rc = store_fail(st, mrc, err, "listing certificates");
		goto out;
	}
	if (by_index) {
		/* From the CN's first entry, or from `after` within it. */
		if (after != NULL)
			memcpy(key + plen, after, after_len);
		k.mv_size = plen + after_len;
		k.mv_data = key;
		op = MDB_SET_RANGE;
	} else if (after != NULL) {
		k.mv_size = after_len;
		k.mv_data = (void *)after;
		op = MDB_SET_RANGE;
	}
	for (;;) {
		mrc = mdb_cursor_get(cur, &k, &v, op);
		op = MDB_NEXT;
		if (mrc == MDB_NOTFOUND)
			break;
		if (mrc != MDB_SUCCESS) {
			rc = store_fail(st, mrc, err, "listing certificates");
			goto out;
		}
		sk = k;
		if (by_index) {
			if (k.mv_size <= plen || memcmp(k.mv_data, key, plen))
				break;		/* past the CN */
			sk.mv_data = (uint8_t *)k.mv_data + plen;
			sk.mv_size = k.mv_size - plen;
			if ((mrc = mdb_get(txn, st->certs, &sk, &v)) !=
			    MDB_SUCCESS) {
				fmt_serial(sk.mv_data, sk.mv_size, hex);
				rc = mrc == MDB_NOTFOUND ? ca_error_set(err,
				    CA_EIO, "the CN index names serial %s, "
				    "which has no record: the store is "
				    "damaged", hex) : store_fail(st, mrc, err,
				    "listing certificates");
				goto out;
			}
		}
		/* MDB_SET_RANGE lands on `after` itself when it exists. */
		if (after != NULL && sk.mv_size == after_len &&
		    memcmp(sk.mv_data, after, after_len) == 0)
			continue;
		if (store_record_decode(v.mv_data, v.mv_size, &rec) != CA_OK) {
			fmt_serial(sk.mv_data, sk.mv_size, hex);
			rc = ca_error_set(err, CA_EMALF,
			    "the store's record of serial %s is damaged or of "
			    "an unknown version", hex);
			goto out;
		}
		if (cn != NULL && !by_index && (rec.subject == NULL ||
		    !subject_cn(rec.subject, rcn, sizeof(rcn)) ||
		    strcmp(rcn, cn) != 0)) {
			cert_record_clear(&rec);
			continue;
		}
		/* The record is a copy: the value's pages may go. */
		map_window_note(&win, &v);
		rc = cb(&rec, ctx);
		cert_record_clear(&rec);
		if (rc < 0) {
			ca_error_set(err, rc, "listing certificates: %s",
			    ca_strerror(rc));
			goto out;
		}
		if (rc > 0)
			break;
		if (++seen % STORE_LIST_DROP_EVERY == 0)
			map_window_drop(&win);
	}
	rc = CA_OK;
out:
	map_window_drop(&win);
	cert_record_clear(&rec);
	if (cur != NULL)
		mdb_cursor_close(cur);
	txn_end(st, txn);
	return rc;
}

int
store_cert_foreach(struct store *st, const uint8_t *after, size_t after_len,
    store_cert_cb cb, void *ctx, struct ca_error *err)
{
	if (st == NULL || cb == NULL ||
	    (after != NULL && !serial_ok(after, after_len)))
		return ca_error_set(err, CA_EINVAL, "bad certificate listing");
	return cert_walk(st, NULL, after, after_len, cb, ctx, err);
}

int
store_cert_foreach_cn(struct store *st, const char *cn, const uint8_t *after,
    size_t after_len, store_cert_cb cb, void *ctx, struct ca_error *err)
{
	if (st == NULL || cb == NULL || cn == NULL ||
	    (after != NULL && !serial_ok(after, after_len)))
		return ca_error_set(err, CA_EINVAL, "bad certificate listing");
	return cert_walk(st, cn, after, after_len, cb, ctx, err);
}

/* ---- listings by status ---- */

/* A serial as LMDB orders keys (memcmp, then the shorter first). */
struct ser {
	uint8_t	b[SERIAL_MAX + 1];
	uint8_t	len;
};

static int
ser_cmp(const void *a, const void *b)
{
	const struct ser	*x = a, *y = b;
	size_t			 n = x->len < y->len ? x->len : y->len;
	int			 c = memcmp(x->b, y->b, n);

	return c != 0 ? c : (int)x->len - (int)y->len;
}

/* The serials found so far: all of them, or (limit) the smallest ones in a
   max-heap. */
struct serset {
	struct ser	*v;
	size_t		 n, cap, limit;
};

static void
heap_down(struct ser *v, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct ser t;

		if (l < n && ser_cmp(&v[l], &v[m]) > 0)
			m = l;
		if (r < n && ser_cmp(&v[r], &v[m]) > 0)
			m = r;
		if (m == i)
			return;
		t = v[i];
		v[i] = v[m];
		v[m] = t;
		i = m;
	}
}

static void
heap_up(struct ser *v, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		struct ser t;

		if (ser_cmp(&v[p], &v[i]) >= 0)
			return;
		t = v[i];
		v[i] = v[p];
		v[p] = t;
		i = p;
	}
}

static int
serset_add(struct serset *s, const uint8_t *serial, size_t len)
{
	struct ser x;

	if (len < 1 || len > SERIAL_MAX + 1)
		return CA_EMALF;
	memcpy(x.b, serial, len);
	x.len = (uint8_t)len;
	if (s->limit != 0 && s->n == s->limit) {
		/* Full: keep it only if smaller than the largest kept. */
		if (ser_cmp(&x, &s->v[0]) >= 0)
			return CA_OK;
		s->v[0] = x;
		heap_down(s->v, s->n, 0);
		return CA_OK;
	}
	if (s->n == s->cap) {
		size_t		 ncap = s->cap ? s->cap * 2 : 256;
		struct ser	*nv;

		if (s->limit != 0 && ncap > s->limit)
			ncap = s->limit;
		if ((nv = realloc(s->v, ncap * sizeof(*nv))) == NULL)
			return CA_ENOMEM;
		s->v = nv;
		s->cap = ncap;
	}
	s->v[s->n++] = x;
	if (s->limit != 0)
		heap_up(s->v, s->n - 1);
	return CA_OK;
}

/*
 * Collect the serials of the index keys (be64(not_after) || serial) of dbi
 * in [lo, hi) (as unsigned be64; hi 0: to the end) that come after `after`.
 * With a budget, at most *budget keys are read; *dense when there were more.
 */
static int
index_collect(struct store *st, MDB_txn *txn, MDB_dbi dbi, uint64_t lo,
    uint64_t hi, const struct ser *after, struct serset *s, size_t *budget,
    bool *dense, struct ca_error *err)
{
	MDB_cursor	*cur = NULL;
	MDB_val		 k, v;
	uint8_t		 start[8];
	MDB_cursor_op	 op = MDB_SET_RANGE;
	int		 rc = CA_OK, mrc;

	if ((mrc = mdb_cursor_open(txn, dbi, &cur)) != MDB_SUCCESS)
		return store_fail(st, mrc, err, "listing certificates");
	store_be64_put(start, lo);
	k.mv_size = sizeof(start);
	k.mv_data = start;
	for (;;) {
		struct ser x;

		mrc = mdb_cursor_get(cur, &k, &v, op);
		op = MDB_NEXT;
		if (mrc == MDB_NOTFOUND)
			break;
		if (mrc != MDB_SUCCESS) {
			rc = store_fail(st, mrc, err, "listing certificates");
			break;
		}
		if (k.mv_size < 9 || k.mv_size > STORE_INDEX_KEY_MAX) {
			rc = ca_error_set(err, CA_EMALF, "an index key of the "
			    "store is damaged");
			break;
		}
		if (hi != 0 && store_be64_get(k.mv_data) >= hi)
			break;
		/* Out of budget: too many to read for one page. */
		if (budget != NULL && (*budget)-- == 0) {
			*dense = true;
			break;
		}
		x.len = (uint8_t)(k.mv_size - 8);
		memcpy(x.b, (uint8_t *)k.mv_data + 8, x.len);
		if (after != NULL && ser_cmp(&x, after) <= 0)
			continue;
		if ((rc = serset_add(s, x.b, x.len)) != CA_OK) {
			rc = ca_error_set(err, rc, "listing certificates: %s",
			    ca_strerror(rc));
			break;
		}
	}
	mdb_cursor_close(cur);
	return rc;
}

/* Has dbi a key in [lo, hi)? */
static int
index_any(struct store *st, MDB_txn *txn, MDB_dbi dbi, uint64_t lo,
    uint64_t hi, bool *any, struct ca_error *err)
{
	MDB_cursor	*cur = NULL;
	MDB_val		 k, v;
	uint8_t		 start[8];
	int		 mrc;

	if ((mrc = mdb_cursor_open(txn, dbi, &cur)) != MDB_SUCCESS)
		return store_fail(st, mrc, err, "listing certificates");
	store_be64_put(start, lo);
	k.mv_size = sizeof(start);
	k.mv_data = start;
	mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	mdb_cursor_close(cur);
	if (mrc == MDB_NOTFOUND) {
		*any = false;
		return CA_OK;
	}
	if (mrc != MDB_SUCCESS)
		return store_fail(st, mrc, err, "listing certificates");
	*any = k.mv_size >= 8 && (hi == 0 || store_be64_get(k.mv_data) < hi);
	return CA_OK;
}

static bool
status_is(const struct cert_record *rec, enum store_status_filter f,
    int64_t now)
{
	bool expired = rec->not_after != STORE_NOT_AFTER_UNKNOWN &&
	    rec->not_after < now;

	if (rec->status == CERT_STATUS_REVOKED)
		return f == STORE_FILTER_REVOKED;
	return f == (expired ? STORE_FILTER_EXPIRED : STORE_FILTER_VALID);
}

struct status_scan {
	enum store_status_filter	 f;
	int64_t				 now;
	size_t				 limit, n;
	store_cert_cb			 cb;
	void				*ctx;
};

static int
status_scan_cb(const struct cert_record *rec, void *arg)
{
	struct status_scan	*ss = arg;
	int			 rc;

	if (!status_is(rec, ss->f, ss->now))
		return 0;
	if ((rc = ss->cb(rec, ss->ctx)) != 0)
		return rc;
	return ss->limit != 0 && ++ss->n >= ss->limit ? 1 : 0;
}

int
store_cert_foreach_status(struct store *st, enum store_status_filter f,
    int64_t now, const uint8_t *after, size_t after_len, size_t limit,
    store_cert_cb cb, void *ctx, struct ca_error *err)
{
	struct status_scan	 ss = { f, now, limit, 0, cb, ctx };
	struct serset		 set = { NULL, 0, 0, limit };
	struct cert_record	 rec;
	struct ser		 a;
	MDB_txn			*txn = NULL;
	MDB_val			 k, v;
	/* be64 order of the signed not_after: negative times sort last */
	const uint64_t		 t_now = now < 0 ? 0 : (uint64_t)now;
	const uint64_t		 t_neg = 1ULL << 63;
	size_t			 budget = st != NULL ? st->status_index_max : 0;
	bool			 any = true, dense = false;
	int			 rc, mrc;

	memset(&rec, 0, sizeof(rec));
	if (st == NULL || cb == NULL || f > STORE_FILTER_EXPIRED ||
	    (after != NULL && !serial_ok(after, after_len)))
		return ca_error_set(err, CA_EINVAL, "bad certificate listing");
	if (after != NULL) {
		memcpy(a.b, after, after_len);
		a.len = (uint8_t)after_len;
	}
	/* An older store read as it is: the walk, filtered. */
	if (!st->live_expiry)
		return cert_walk(st, NULL, after, after_len, status_scan_cb,
		    &ss, err);
	if ((rc = txn_begin(st, MDB_RDONLY, &txn, err)) != CA_OK)
		return rc;
	switch (f) {
	case STORE_FILTER_VALID:
		/* Valid certificates are most of a store: walk the records
		   in serial order, unless the index says there are none. */
		if ((rc = index_any(st, txn, st->expiry, t_now, t_neg, &any,
		    err)) != CA_OK || !any)
			goto out;
		txn_end(st, txn);
		txn = NULL;
		return cert_walk(st, NULL, after, after_len, status_scan_cb,
		    &ss, err);
	case STORE_FILTER_REVOKED:
		rc = index_collect(st, txn, st->revoked, 0, 0, after != NULL ?
		    &a : NULL, &set, limit != 0 ? &budget : NULL, &dense, err);
		break;
	case STORE_FILTER_EXPIRED:
		/* not_after < now: [0, now), and the negative times. */
		if ((rc = index_collect(st, txn, st->expiry, 0, t_now,
		    after != NULL ? &a : NULL, &set, limit != 0 ? &budget :
		    NULL, &dense, err)) == CA_OK && !dense)
			rc = index_collect(st, txn, st->expiry, t_neg, 0,
			    after != NULL ? &a : NULL, &set, limit != 0 ?
			    &budget : NULL, &dense, err);
		break;
	}
	if (rc != CA_OK)
		goto out;
	/* Many of this status: a page is nearer in the records' order. */
	if (dense) {
		free(set.v);
		txn_end(st, txn);
		return cert_walk(st, NULL, after, after_len, status_scan_cb,
		    &ss, err);
	}
	if (set.n > 1)
		qsort(set.v, set.n, sizeof(*set.v), ser_cmp);
	for (size_t i = 0; i < set.n; i++) {
		k.mv_size = set.v[i].len;
		k.mv_data = set.v[i].b;
		if ((mrc = mdb_get(txn, st->certs, &k, &v)) != MDB_SUCCESS) {
			rc = mrc == MDB_NOTFOUND ? ca_error_set(err, CA_EIO,
			    "an index of the store names a serial without a "
			    "record: the store is damaged") :
			    store_fail(st, mrc, err, "listing certificates");
			goto out;
		}
		if (store_record_decode(v.mv_data, v.mv_size, &rec) != CA_OK) {
			rc = ca_error_set(err, CA_EMALF, "a record of the "
			    "store is damaged or of an unknown version");
			goto out;
		}
		/* The indexes and the records are one snapshot. */
		rc = status_is(&rec, f, now) ? cb(&rec, ctx) : 0;
		cert_record_clear(&rec);
		if (rc < 0) {
			ca_error_set(err, rc, "listing certificates: %s",
			    ca_strerror(rc));
			goto out;
		}
		if (rc > 0)
			break;
	}
	rc = CA_OK;
out:
	cert_record_clear(&rec);
	free(set.v);
	txn_end(st, txn);
	return rc;
}

/* ---- the revoked index ---- */

/*
 * Whose entry a revoked-index value is: a later CA's starts with
 * REVOKED_CA_TAG and its be32 id; any other value is the entry itself, of
 * the first CA (every store before CA rotation). An entry never starts
 * with REVOKED_CA_TAG (0x00: no DER element does; txn_revoke refuses an
 * encoder's entry that would). 0 for a tagged value too short to hold an
 * entry (never listed).
 */
static uint32_t
revoked_value_ca(const MDB_val *v)
{
	const uint8_t *p = v->mv_data;

	if (v->mv_size >= 1 && p[0] != REVOKED_CA_TAG)
		return STORE_CA_FIRST;
	if (v->mv_size > REVOKED_CA_HDR)
		return ((uint32_t)p[1] << 24) | ((uint32_t)p[2] << 16) |
		    ((uint32_t)p[3] << 8) | p[4];
	return 0;
}

/*
 * Why the scan drops the pages it has read: LMDB reads through its file
 * mapping, and every page of it the process touches counts in its resident
 * set until unmapped. The revoked index is spread over the whole data file
 * (its pages were allocated alongside the certificate records and the expiry
 * index, in random key order), and the kernel maps the cached neighbours of
 * each page that faults (fault-around), so a scan of 1M entries left the
 * whole 478 MB file in the RSS of `mtlsca crl`, 490 of its 584 MB. Each
 * value is consumed by the visitor before the next one is read (the visitor
 * contract: the bytes are borrowed for the call), so every
 * STORE_SCAN_DROP_EVERY entries, and at the end, the span of pages the scan
 * read is handed back with MADV_DONTNEED: peak RSS of the map stays a few
 * tens of MB whatever the CRL size.
 *
 * This is only correct because the environment is never opened with
 * MDB_WRITEMAP: the map is then a read-only MAP_SHARED mapping of the file,
 * MADV_DONTNEED drops only page-table entries, and any later access (by
 * this scan, or by another thread's transaction whose pages share the
 * span) faults the same bytes back from the page cache. LMDB never writes
 * a page a live snapshot can see, so those bytes are the snapshot's.
 * map_window_init checks the flag.
 */
/* ---- the scan's pieces ---- */

/* Where the scan sends each entry: the visitor (its CA's entries only) and
   the new snapshot (every entry), if one is being written. */
struct scan_out {
	const struct store_revoked_visitor *vis;
	uint32_t		 want_ca;
	struct revsnap_writer	*snap;
};

static int
scan_emit(struct scan_out *o, const uint8_t *key, size_t klen,
    const uint8_t *val, size_t vlen, struct ca_error *err)
{
	MDB_val	v = { vlen, (void *)val };
	size_t	hdr = o->want_ca > STORE_CA_FIRST ? REVOKED_CA_HDR : 0;
	int	rc;

	/* The snapshot is a cache: if it cannot be written, the scan goes
	   on without it. */
	if (o->snap != NULL && revsnap_writer_add(o->snap, key, klen, val,
	    vlen, NULL) != CA_OK) {
		revsnap_writer_free(o->snap);
		o->snap = NULL;
	}
	if (revoked_value_ca(&v) != o->want_ca)
		return 0;
	if ((rc = o->vis->entry(o->vis->ctx, val + hdr, vlen - hdr)) < 0)
		ca_error_set(err, rc, "building the revocation list: %s",
		    ca_strerror(rc));
	return rc;
}

/* One change the revocation log holds: the key and its value since. */
struct log_change {
	const uint8_t	*key, *val;
	size_t		 klen, vlen;
	uint64_t	 gen;
};

static int
log_change_cmp(const void *a, const void *b)
{
	const struct log_change *x = a, *y = b;
	int c = revsnap_key_cmp(x->key, x->klen, y->key, y->klen);

	if (c != 0)
		return c;
	return x->gen < y->gen ? -1 : x->gen > y->gen;
}

/*
 * The log's changes after generation from, in key order with the latest
 * value of each key, into *out (malloc'd; pointers into txn's pages).
 * CA_ENOENT when the log lacks a generation between from and to: the
 * snapshot can then not be completed from it.
 */
static int
log_changes(struct store *st, MDB_txn *txn, uint64_t from, uint64_t to,
    struct log_change **out, size_t *n_out, struct ca_error *err)
{
	MDB_cursor		*cur = NULL;
	MDB_val			 k, v;
	struct log_change	*c = NULL;
	uint8_t			 start[8];
	uint64_t		 want = to - from, got = 0, expect = from + 1;
	size_t			 n = 0;
	int			 rc = CA_OK, mrc;

	MDB_stat		 ms;

	*out = NULL;
	*n_out = 0;
	if (to < from)
		return CA_ENOENT;
	/* Fewer entries than generations: a hole, found before allocating
	   for every generation (the index is read instead, as it is when
	   the array does not fit in memory). */
	if ((mrc = mdb_stat(txn, st->revlog, &ms)) != MDB_SUCCESS)
		return store_fail(st, mrc, err, "reading the revocation log");
	if (ms.ms_entries < want || want > SIZE_MAX / sizeof(*c))
		return CA_ENOENT;
	if (want > 0 && (c = malloc((size_t)want * sizeof(*c))) == NULL)
		return CA_ENOENT;
	if ((mrc = mdb_cursor_open(txn, st->revlog, &cur)) != MDB_SUCCESS) {
		rc = store_fail(st, mrc, err, "reading the revocation log");
		goto out;
	}
	store_be64_put(start, from + 1);
	k.mv_size = sizeof(start);
	k.mv_data = start;
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *p = v.mv_data;

		/* One entry per generation, in order, none past to. */
		if (k.mv_size != 8 || store_be64_get(k.mv_data) != expect ||
		    got == want || v.mv_size < 1 || p[0] < 9 ||
		    p[0] > STORE_INDEX_KEY_MAX ||
		    v.mv_size <= 1 + (size_t)p[0] ||
		    v.mv_size - 1 - p[0] > REVSNAP_VALUE_MAX) {
			rc = CA_ENOENT;
			goto out;
		}
		c[n].gen = expect++;
		c[n].klen = p[0];
		c[n].key = p + 1;
		c[n].val = p + 1 + p[0];
		c[n].vlen = v.mv_size - 1 - p[0];
		n++;
		got++;
	}
	if (mrc != MDB_NOTFOUND) {
		rc = store_fail(st, mrc, err, "reading the revocation log");
		goto out;
	}
	if (got != want) {
		rc = CA_ENOENT;
		goto out;
	}
	if (n > 1)
		qsort(c, n, sizeof(*c), log_change_cmp);
	/* The latest change of each key wins. */
	{
		size_t w = 0;

		for (size_t i = 0; i < n; i++) {
			if (i + 1 < n && revsnap_key_cmp(c[i].key, c[i].klen,
			    c[i + 1].key, c[i + 1].klen) == 0)
				continue;
			c[w++] = c[i];
		}
		n = w;
	}
	*out = c;
	*n_out = n;
	c = NULL;
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	free(c);
	return rc;
}

/*
 * The snapshot the store recorded, if it can stand in for the index in
 * txn: its file is the one recorded, it holds every key the scan needs
 * (its cut-off is not above min_not_after), and the log holds every
 * change since. Otherwise *snap stays NULL and the index is read.
 */
static int
snapshot_usable(struct store *st, MDB_txn *txn, int64_t min_not_after,
    uint64_t gen, struct revsnap **snap, struct log_change **changes,
    size_t *n_changes, struct ca_error *err)
{
	MDB_val			 k = { strlen(META_REVSNAP), META_REVSNAP }, v;
	struct revsnap_meta	 m;
	char			 path[4096];
	int			 rc, mrc;

	*snap = NULL;
	if (!st->has_revlog)
		return CA_OK;
	mrc = mdb_get(txn, st->meta, &k, &v);
	if (mrc == MDB_NOTFOUND)
		return CA_OK;
	if (mrc != MDB_SUCCESS)
		return store_fail(st, mrc, err, "reading the snapshot record");
	if (revsnap_meta_decode(v.mv_data, v.mv_size, &m) != CA_OK ||
	    m.min_not_after > (min_not_after > 0 ? min_not_after : 0) ||
	    path_join(path, sizeof(path), st->dir, REVSNAP_NAME) != CA_OK)
		return CA_OK;
	rc = log_changes(st, txn, m.generation, gen, changes, n_changes, err);
	if (rc == CA_ENOENT)
		return CA_OK;
	if (rc != CA_OK)
		return rc;
	if (revsnap_open(path, &m, snap, NULL) != CA_OK) {
		free(*changes);
		*changes = NULL;
		*n_changes = 0;
	}
	return CA_OK;
}

/*
 * Snapshot and log merged, in key order: what the index holds. The
 * snapshot's verdict comes at its end (revsnap_finish), also when the
 * visitor stopped or failed first (an entry of a damaged file may be
 * why): *damaged then says that what the visitor got is void.
 */
static int
scan_merged(struct revsnap *snap, const struct log_change *c, size_t n,
    int64_t min_not_after, struct scan_out *o, bool *damaged,
    struct ca_error *err)
{
	struct revsnap_entry	 e;
	uint64_t		 min = min_not_after > 0 ?
	    (uint64_t)min_not_after : 0;
	bool			 have;
	size_t			 i = 0;
	int			 rc = 0, cmp;

	*damaged = false;
	while (i < n && store_be64_get(c[i].key) < min)
		i++;
	have = revsnap_next(snap, min_not_after, &e);
	while (have || i < n) {
		cmp = !have ? 1 : i == n ? -1 :
		    revsnap_key_cmp(e.key, e.klen, c[i].key, c[i].klen);
		if (cmp < 0)
			rc = scan_emit(o, e.key, e.klen, e.val, e.vlen, err);
		else
			rc = scan_emit(o, c[i].key, c[i].klen, c[i].val,
			    c[i].vlen, err);
		if (rc != 0)
			break;
		if (cmp >= 0)
			i++;
		if (cmp <= 0)
			have = revsnap_next(snap, min_not_after, &e);
	}
	if (revsnap_finish(snap, NULL) != CA_OK) {
		*damaged = true;
		return 0;
	}
	return rc;
}

/*
 * Record the snapshot just written, unless a newer one was recorded
 * meanwhile: trim the log of what it holds, and only then, if the log
 * holds every generation since it, name it in meta. Revocations go to the
 * log from now on, if they did not already.
 */
static bool
snapshot_record(struct store *st, const struct revsnap_meta *m)
{
	MDB_txn		*txn = NULL;
	MDB_cursor	*cur = NULL;
	MDB_val		 k = { strlen(META_REVSNAP), META_REVSNAP }, v, lk, lv;
	MDB_stat	 ms;
	struct revsnap_meta cur_m;
	uint8_t		 buf[REVSNAP_META_LEN];
	uint64_t	 gen, older = 0, trimmed = 0;
	bool		 recorded = false;
	int		 mrc;

	if (txn_begin(st, 0, &txn, NULL) != CA_OK)
		return false;
	mrc = mdb_get(txn, st->meta, &k, &v);
	if ((mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND) ||
	    (mrc == MDB_SUCCESS && revsnap_meta_decode(v.mv_data, v.mv_size,
	    &cur_m) == CA_OK && cur_m.generation > m->generation))
		goto out;
	if (counter_read(st, txn, STORE_COUNTER_REVGEN, &gen, NULL) != CA_OK ||
	    counter_write(st, txn, META_REVLOG_ON, 1, NULL) != CA_OK ||
	    mdb_cursor_open(txn, st->revlog, &cur) != MDB_SUCCESS ||
	    mdb_stat(txn, st->revlog, &ms) != MDB_SUCCESS)
		goto out;
	/* Covered: one log entry for each generation after this one. */
	for (mrc = mdb_cursor_get(cur, &lk, &lv, MDB_FIRST);
	    mrc == MDB_SUCCESS && lk.mv_size == 8 &&
	    store_be64_get(lk.mv_data) <= m->generation;
	    mrc = mdb_cursor_get(cur, &lk, &lv, MDB_NEXT))
		older++;
	if (gen < m->generation || ms.ms_entries - older != gen -
	    m->generation) {
		/* Not all logged yet (the log was just switched on): the
		   next scan writes another. Whatever was recorded stays. */
		mdb_cursor_close(cur);
		cur = NULL;
		(void)txn_commit(st, txn, NULL);
		txn = NULL;
		goto out;
	}
	/* At most REVLOG_TRIM_MAX a time (one write transaction can dirty
	   only so many pages); what is left below the generation is passed
	   over by the readers and trimmed by the next record. */
	for (mrc = mdb_cursor_get(cur, &lk, &lv, MDB_FIRST);
	    mrc == MDB_SUCCESS && lk.mv_size == 8 &&
	    store_be64_get(lk.mv_data) <= m->generation &&
	    trimmed < REVLOG_TRIM_MAX;
	    mrc = mdb_cursor_get(cur, &lk, &lv, MDB_FIRST), trimmed++)
		if (mdb_cursor_del(cur, 0) != MDB_SUCCESS)
			goto out;
	mdb_cursor_close(cur);
	cur = NULL;
	revsnap_meta_encode(m, buf);
	v.mv_size = sizeof(buf);
	v.mv_data = buf;
	if (mdb_put(txn, st->meta, &k, &v, 0) != MDB_SUCCESS)
		goto out;
	recorded = txn_commit(st, txn, NULL) == CA_OK;
	txn = NULL;
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	txn_end(st, txn);
	return recorded;
}

/*
 * Why the scan drops the pages it has read: LMDB reads through its file
 * mapping, and every page of it the process touches counts in its resident
 * set until unmapped. The revoked index is spread over the whole data file
 * (its pages were allocated alongside the certificate records and the expiry
 * index, in random key order), and the kernel maps the cached neighbours of
 * each page that faults (fault-around), so a scan of 1M entries left the
 * whole 478 MB file in the RSS of `mtlsca crl`, 490 of its 584 MB. Each
 * value is consumed by the visitor before the next one is read (the visitor
 * contract: the bytes are borrowed for the call), so every
 * STORE_SCAN_DROP_EVERY entries, and at the end, the span of pages the scan
 * read is handed back with MADV_DONTNEED: peak RSS of the map stays a few
 * tens of MB whatever the CRL size.
 *
 * This is only correct because the environment is never opened with
 * MDB_WRITEMAP: the map is then a read-only MAP_SHARED mapping of the file,
 * MADV_DONTNEED drops only page-table entries, and any later access (by
 * this scan, or by another thread's transaction whose pages share the
 * span) faults the same bytes back from the page cache. LMDB never writes
 * a page a live snapshot can see, so those bytes are the snapshot's.
 * map_window_init checks the flag.
 *
 * Faulting those scattered leaves in is still most of a CRL build's time
 * (0.9-1.9 s of CPU at 1M entries), so the scan reads the index itself
 * only when it has no usable snapshot (design note 26): it then writes one
 * as it goes, and later scans read that file front to back and merge the
 * revocation log's few changes since.
 */
static int
scan_index(struct store *st, MDB_txn *txn, int64_t min_not_after,
    struct scan_out *o, struct ca_error *err)
{
	MDB_cursor	*cur = NULL;
	MDB_val		 k, v;
	struct map_window win;
	uint8_t		 start[8];
	uint64_t	 seen = 0;
	MDB_cursor_op	 op = MDB_SET_RANGE;
	int		 rc = 0, mrc;

	map_window_init(st, &win);
	if ((mrc = mdb_cursor_open(txn, st->revoked, &cur)) != MDB_SUCCESS)
		return store_fail(st, mrc, err, "reading revoked certificates");
	/* Keys are be64(not_after) || serial, so entries that expired before
	   the cut-off are one prefix, skipped by one seek. */
	if (min_not_after <= 0)
		op = MDB_FIRST;
	store_be64_put(start, (uint64_t)min_not_after);
	k.mv_size = sizeof(start);
	k.mv_data = start;
	for (;;) {
		mrc = mdb_cursor_get(cur, &k, &v, op);
		op = MDB_NEXT;
		if (mrc == MDB_NOTFOUND)
			break;
		if (mrc != MDB_SUCCESS) {
			rc = store_fail(st, mrc, err,
			    "reading revoked certificates");
			break;
		}
		/* Only the value is noted: in a read transaction LMDB hands
		   out pointers into its map (the key lies on the same leaf
		   page), whereas the first key may still be our buffer. */
		map_window_note(&win, &v);
		if ((rc = scan_emit(o, k.mv_data, k.mv_size, v.mv_data,
		    v.mv_size, err)) != 0)
			break;
		if (++seen % STORE_SCAN_DROP_EVERY == 0)
			map_window_drop(&win);
	}
	map_window_drop(&win);
	mdb_cursor_close(cur);
	return rc;
}

/* begin() of the visitor, if it has one: 0 to go on, else what the scan
   returns (an error, or CA_OK when the visitor declined). */
static int
visitor_begin(const struct store_revoked_visitor *vis, uint64_t entries,
    uint64_t bytes, bool *go, struct ca_error *err)
{
	int rc;

	*go = true;
	if (vis->begin == NULL || (rc = vis->begin(vis->ctx, entries,
	    bytes)) == 0)
		return CA_OK;
	*go = false;
	if (rc < 0)
		return ca_error_set(err, rc, "building the revocation list: %s",
		    ca_strerror(rc));
	return CA_OK;
}

/* A new snapshot file, written as the scan goes, if this thread may
   (one writer at a time: *locked says it holds the lock). */
static void
snapshot_writer_start(struct store *st, uint64_t gen, int64_t min_not_after,
    struct scan_out *o, bool *locked)
{
	char path[4096];

	if (!*locked && pthread_mutex_trylock(&st->snap_mu) != 0)
		return;
	*locked = true;
	if (path_join(path, sizeof(path), st->dir, REVSNAP_NAME) == CA_OK)
		(void)revsnap_writer_open(path, gen, min_not_after > 0 ?
		    min_not_after : 0, &o->snap, NULL);
}

int
store_revoked_scan(struct store *st, int64_t min_not_after,
    const struct store_revoked_visitor *vis, struct ca_error *err)
{
	MDB_txn			*txn = NULL;
	struct revsnap		*snap = NULL;
	struct log_change	*changes = NULL;
	struct revsnap_meta	 m;
	struct scan_out		 o;
	uint64_t		 entries, bytes, gen;
	size_t			 n_changes = 0;
	bool			 locked = false, go, damaged = false;
	int			 rc;

	if (st == NULL || vis == NULL || vis->entry == NULL)
		return ca_error_set(err, CA_EINVAL, "bad revoked-index scan");
	memset(&o, 0, sizeof(o));
	o.vis = vis;
	o.want_ca = vis->ca_id > STORE_CA_FIRST ? vis->ca_id : STORE_CA_FIRST;
	/* One snapshot for the counters and the entries: the bounds handed
	   to begin() hold for everything entry() will see. */
	if ((rc = txn_begin(st, MDB_RDONLY, &txn, err)) != CA_OK)
		return rc;
	if ((rc = counter_read(st, txn, META_REVOKED_ENTRIES, &entries,
	    err)) != CA_OK ||
	    (rc = counter_read(st, txn, META_REVOKED_BYTES, &bytes, err)) !=
	    CA_OK ||
	    (rc = counter_read(st, txn, STORE_COUNTER_REVGEN, &gen, err)) !=
	    CA_OK)
		goto out;
	if ((rc = visitor_begin(vis, entries, bytes, &go, err)) != CA_OK ||
	    !go)
		goto out;
	if ((rc = snapshot_usable(st, txn, min_not_after, gen, &snap,
	    &changes, &n_changes, err)) != CA_OK)
		goto out;
	/* A new snapshot when there is none, or the log since has grown. */
	if (!st->read_only && st->has_revlog && (snap == NULL ||
	    n_changes > REVSNAP_REFRESH_MIN + entries / 8))
		snapshot_writer_start(st, gen, min_not_after, &o, &locked);
	if (snap != NULL) {
		atomic_fetch_add(&st->scans_snapshot, 1);
		rc = scan_merged(snap, changes, n_changes, min_not_after, &o,
		    &damaged, err);
	}
	if (damaged) {
		/* Found damaged part way (it is checked as it is read): the
		   visitor starts over, from the index, and the file is
		   replaced as that scan goes. */
		atomic_fetch_add(&st->scans_restarted, 1);
		revsnap_writer_free(o.snap);
		o.snap = NULL;
		if (!st->read_only && st->has_revlog)
			snapshot_writer_start(st, gen, min_not_after, &o,
			    &locked);
		if ((rc = visitor_begin(vis, entries, bytes, &go, err)) !=
		    CA_OK || !go)
			goto out;
	}
	if (snap == NULL || damaged) {
		atomic_fetch_add(&st->scans_index, 1);
		rc = scan_index(st, txn, min_not_after, &o, err);
	}
	if (rc < 0)
		goto out;
	txn_end(st, txn);
	txn = NULL;
	/* A scan the visitor stopped early wrote only part of the index. */
	if (o.snap != NULL && rc == 0 &&
	    revsnap_writer_commit(o.snap, &m, NULL) == CA_OK) {
		if (st->snap_hook != NULL)
			st->snap_hook(st->snap_hook_ctx);
		if (snapshot_record(st, &m))
			atomic_fetch_add(&st->snaps_written, 1);
	}
	rc = CA_OK;	/* or the visitor stopped the scan */
out:
	revsnap_writer_free(o.snap);
	if (locked)
		pthread_mutex_unlock(&st->snap_mu);
	revsnap_free(snap);
	free(changes);
	txn_end(st, txn);
	return rc;
}

void
store_scan_stats(struct store *st, struct store_scan_stats *out)
{
	out->via_snapshot = atomic_load(&st->scans_snapshot);
	out->via_index = atomic_load(&st->scans_index);
	out->written = atomic_load(&st->snaps_written);
	out->restarted = atomic_load(&st->scans_restarted);
}

/* ---- meta ---- */

int
store_counter_get(struct store *st, const char *name, uint64_t *out,
    struct ca_error *err)
{
	MDB_txn		*txn = NULL;
	uint64_t	 v;
	int		 rc;

	if (st == NULL || out == NULL || !meta_name_ok(name))
		return ca_error_set(err, CA_EINVAL, "bad counter name");
	if ((rc = txn_begin(st, MDB_RDONLY, &txn, err)) != CA_OK)
		return rc;
	if ((rc = counter_read(st, txn, name, &v, err)) == CA_OK)
		*out = v;
	txn_end(st, txn);
	return rc;
}

int
store_counter_next(struct store *st, const char *name, uint64_t *out,
    struct ca_error *err)
{
	struct store_txn	*txn = NULL;
	uint64_t		 v;
	int			 rc;

	if (st == NULL || out == NULL || !meta_name_ok(name) ||
	    strcmp(name, META_SCHEMA) == 0)
		return ca_error_set(err, CA_EINVAL, "bad counter name");
	if ((rc = store_txn_begin(st, &txn, err)) != CA_OK)
		return rc;
	if ((rc = counter_add(st, txn->txn, name, 1, &v, err)) != CA_OK) {
		store_txn_abort(txn);
		return rc;
	}
	/* The value counts only once it is durable. */
	if ((rc = store_txn_commit(txn, err)) == CA_OK)
		*out = v;
	return rc;
}

int
store_txn_counter_raise(struct store_txn *txn, const char *name, uint64_t v,
    struct ca_error *err)
{
	uint64_t	cur;
	int		rc;

	if (txn == NULL || !meta_name_ok(name) ||
	    strcmp(name, META_SCHEMA) == 0)
		return ca_error_set(err, CA_EINVAL, "bad counter name");
	if ((rc = counter_read(txn->st, txn->txn, name, &cur, err)) != CA_OK)
		return rc;
	return cur < v ? counter_write(txn->st, txn->txn, name, v, err) :
	    CA_OK;
}

int
store_counter_raise(struct store *st, const char *name, uint64_t v,
    uint64_t *out, struct ca_error *err)
{
	struct store_txn	*txn = NULL;
	uint64_t		 cur;
	int			 rc;

	if (st == NULL || !meta_name_ok(name) || strcmp(name, META_SCHEMA) == 0)
		return ca_error_set(err, CA_EINVAL, "bad counter name");
	if ((rc = store_txn_begin(st, &txn, err)) != CA_OK)
		return rc;
	if ((rc = counter_read(st, txn->txn, name, &cur, err)) != CA_OK ||
	    (cur < v && (rc = counter_write(st, txn->txn, name, v, err)) !=
	    CA_OK)) {
		store_txn_abort(txn);
		return rc;
	}
	if ((rc = store_txn_commit(txn, err)) == CA_OK && out != NULL)
		*out = cur < v ? v : cur;
	return rc;
}

/* put (when to != NULL) and delete (when from != NULL) in one write
   transaction. */
static int
meta_write(struct store *st, const char *from, const char *to,
    const void *val, size_t len, struct ca_error *err)
{
	struct store_txn	*txn = NULL;
	MDB_val			 k, v;
	int			 rc, mrc;

	if (st == NULL || (to != NULL && !meta_name_ok(to)) ||
	    (from != NULL && !meta_name_ok(from)) || (val == NULL && len > 0))
		return ca_error_set(err, CA_EINVAL, "bad store meta name");
	if ((to != NULL && strcmp(to, META_SCHEMA) == 0) ||
	    (from != NULL && strcmp(from, META_SCHEMA) == 0))
		return ca_error_set(err, CA_EINVAL,
		    "the store's schema version is not a setting");
	if (len > STORE_META_MAX)
		return ca_error_set(err, CA_ETOOBIG,
		    "store meta value \"%s\" of %zu bytes is over the limit of "
		    "%d", to, len, STORE_META_MAX);
	if ((rc = store_txn_begin(st, &txn, err)) != CA_OK)
		return rc;
	if (from != NULL) {
		k.mv_size = strlen(from);
		k.mv_data = (void *)from;
		mrc = mdb_del(txn->txn, st->meta, &k, NULL);
		if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND) {
			rc = store_fail(st, mrc, err, "deleting store meta");
			store_txn_abort(txn);
			return rc;
		}
	}
	if (to != NULL) {
		k.mv_size = strlen(to);
		k.mv_data = (void *)to;
		v.mv_size = len;
		v.mv_data = (void *)(len > 0 ? val : "");
		if ((rc = store_fail(st, mdb_put(txn->txn, st->meta, &k, &v, 0),
		    err, "writing store meta")) != CA_OK) {
			store_txn_abort(txn);
			return rc;
		}
	}
	return store_txn_commit(txn, err);
}

int
store_meta_put(struct store *st, const char *name, const void *val,
    size_t len, struct ca_error *err)
{
	if (name == NULL)
		return ca_error_set(err, CA_EINVAL, "bad store meta name");
	return meta_write(st, NULL, name, val, len, err);
}

int
store_meta_delete(struct store *st, const char *name, struct ca_error *err)
{
	if (name == NULL)
		return ca_error_set(err, CA_EINVAL, "bad store meta name");
	return meta_write(st, name, NULL, NULL, 0, err);
}

int
store_meta_move(struct store *st, const char *from, const char *to,
    const void *val, size_t len, struct ca_error *err)
{
	if (from == NULL || to == NULL)
		return ca_error_set(err, CA_EINVAL, "bad store meta name");
	return meta_write(st, from, to, val, len, err);
}

int
store_meta_get(struct store *st, const char *name, uint8_t **out, size_t *len,
    struct ca_error *err)
{
	MDB_txn	*txn = NULL;
	MDB_val	 k, v;
	uint8_t	*buf;
	int	 rc, mrc;

	if (st == NULL || out == NULL || len == NULL || !meta_name_ok(name))
		return ca_error_set(err, CA_EINVAL, "bad store meta name");
	if ((rc = txn_begin(st, MDB_RDONLY, &txn, err)) != CA_OK)
		return rc;
	k.mv_size = strlen(name);
	k.mv_data = (void *)name;
	mrc = mdb_get(txn, st->meta, &k, &v);
	if (mrc == MDB_NOTFOUND)
		rc = ca_error_set(err, CA_ENOENT,
		    "the store has no \"%s\" value", name);
	else if (mrc != MDB_SUCCESS)
		rc = store_fail(st, mrc, err, "reading store meta");
	else if ((buf = malloc(v.mv_size + 1)) == NULL)
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
	else {
		/* NUL after the value (not counted) so text can be used as
		   is. */
		if (v.mv_size > 0)
			memcpy(buf, v.mv_data, v.mv_size);
		buf[v.mv_size] = '\0';
		*out = buf;
		*len = v.mv_size;
	}
	txn_end(st, txn);
	return rc;
}

/* ---- tokens ---- */

int
store_token_put(struct store *st, const uint8_t hash[STORE_TOKEN_HASH_LEN],
    const struct store_token *tok, struct ca_error *err)
{
	struct store_txn	*txn = NULL;
	uint8_t			 buf[STORE_TOKEN_ENC_MAX];
	MDB_val			 k, v;
	int			 rc, mrc;

	if (st == NULL || hash == NULL || tok == NULL)
		return ca_error_set(err, CA_EINVAL, "bad token");
	if (store_token_encode(tok, buf, &v.mv_size) != CA_OK)
		return ca_error_set(err, CA_EINVAL,
		    "token profile must be under %d bytes and CN under %d",
		    STORE_PROFILE_MAX, STORE_CN_MAX);
	if ((rc = store_txn_begin(st, &txn, err)) != CA_OK)
		return rc;
	k.mv_size = STORE_TOKEN_HASH_LEN;
	k.mv_data = (void *)hash;
	v.mv_data = buf;
	mrc = mdb_put(txn->txn, st->tokens, &k, &v, MDB_NOOVERWRITE);
	if (mrc != MDB_SUCCESS) {
		rc = mrc == MDB_KEYEXIST ? ca_error_set(err, CA_EEXIST,
		    "an enrollment token with this hash already exists") :
		    store_fail(st, mrc, err, "recording a token");
		store_txn_abort(txn);
		return rc;
	}
	return store_txn_commit(txn, err);
}

static int
token_read(struct store *st, MDB_txn *txn,
    const uint8_t hash[STORE_TOKEN_HASH_LEN], struct store_token *out,
    int unknown_code, struct ca_error *err)
{
	MDB_val	k = { STORE_TOKEN_HASH_LEN, (void *)hash }, v;
	int	mrc;

	mrc = mdb_get(txn, st->tokens, &k, &v);
	if (mrc == MDB_NOTFOUND)
		return ca_refuse(err, unknown_code, STORE_REASON_TOKEN_UNKNOWN,
		    "unknown enrollment token");
	if (mrc != MDB_SUCCESS)
		return store_fail(st, mrc, err, "reading a token");
	if (store_token_decode(v.mv_data, v.mv_size, out) != CA_OK)
		return ca_error_set(err, CA_EMALF,
		    "the store's record of an enrollment token is damaged");
	return CA_OK;
}

int
store_token_foreach(struct store *st, store_token_cb cb, void *ctx,
    struct ca_error *err)
{
	struct store_token	 tok;
	MDB_txn			*txn = NULL;
	MDB_cursor		*cur = NULL;
	MDB_val			 k, v;
	int			 rc, mrc;

	if (st == NULL || cb == NULL)
		return ca_error_set(err, CA_EINVAL, "bad token listing");
	if ((rc = txn_begin(st, MDB_RDONLY, &txn, err)) != CA_OK)
		return rc;
	if ((mrc = mdb_cursor_open(txn, st->tokens, &cur)) != MDB_SUCCESS) {
		rc = store_fail(st, mrc, err, "listing tokens");
		goto out;
	}
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != STORE_TOKEN_HASH_LEN ||
		    store_token_decode(v.mv_data, v.mv_size, &tok) != CA_OK) {
			rc = ca_error_set(err, CA_EMALF, "the store's record of "
			    "an enrollment token is damaged");
			goto out;
		}
		if ((rc = cb(k.mv_data, &tok, ctx)) != CA_OK) {
			ca_error_set(err, rc, "listing tokens stopped");
			goto out;
		}
	}
	if (mrc != MDB_NOTFOUND)
		rc = store_fail(st, mrc, err, "listing tokens");
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	txn_end(st, txn);
	return rc;
}

int
store_txn_token_delete(struct store_txn *txn,
    const uint8_t hash[STORE_TOKEN_HASH_LEN], struct ca_error *err)
{
	MDB_val	k = { STORE_TOKEN_HASH_LEN, (void *)hash };
	int	mrc;

	if (txn == NULL || hash == NULL)
		return ca_error_set(err, CA_EINVAL, "bad token");
	mrc = mdb_del(txn->txn, txn->st->tokens, &k, NULL);
	if (mrc == MDB_NOTFOUND)
		return ca_error_set(err, CA_ENOENT, "no such enrollment token");
	if (mrc != MDB_SUCCESS)
		return store_fail(txn->st, mrc, err, "deleting a token");
	return CA_OK;
}

int
store_token_get(struct store *st, const uint8_t hash[STORE_TOKEN_HASH_LEN],
    struct store_token *out, struct ca_error *err)
{
	MDB_txn	*txn = NULL;
	int	 rc;

	if (st == NULL || hash == NULL || out == NULL)
		return ca_error_set(err, CA_EINVAL, "bad token");
	if ((rc = txn_begin(st, MDB_RDONLY, &txn, err)) != CA_OK)
		return rc;
	rc = token_read(st, txn, hash, out, CA_ENOENT, err);
	txn_end(st, txn);
	return rc;
}

int
store_txn_token_use(struct store_txn *txn,
    const uint8_t hash[STORE_TOKEN_HASH_LEN], int64_t now,
    struct store_token *out, struct ca_error *err)
{
	struct store_token	 tok, used;
	uint8_t			 buf[STORE_TOKEN_ENC_MAX];
	MDB_val			 k, v;
	int			 rc;

	if (txn == NULL || hash == NULL)
		return ca_error_set(err, CA_EINVAL, "bad token");
	if ((rc = token_read(txn->st, txn->txn, hash, &tok, CA_EAUTH, err)) !=
	    CA_OK)
		return rc;
	if (now >= tok.expires_at)
		return ca_refuse(err, CA_EAUTH, STORE_REASON_TOKEN_EXPIRED,
		    "enrollment token has expired");
	if (tok.uses_left == 0)
		return ca_refuse(err, CA_EAUTH, STORE_REASON_TOKEN_USED,
		    "enrollment token has already been used");
	used = tok;
	used.uses_left--;
	if ((rc = store_token_encode(&used, buf, &v.mv_size)) != CA_OK)
		return ca_error_set(err, rc, "re-encoding a token");
	k.mv_size = STORE_TOKEN_HASH_LEN;
	k.mv_data = (void *)hash;
	v.mv_data = buf;
	if ((rc = store_fail(txn->st, mdb_put(txn->txn, txn->st->tokens, &k,
	    &v, 0), err, "using a token")) != CA_OK)
		return rc;
	if (out != NULL)
		*out = tok;
	return CA_OK;
}

/* ---- renewals ---- */

/* Value: be64 time, then the new serial's content octets. */
static int
renewal_read(struct store *st, MDB_txn *txn, const uint8_t *old,
    size_t old_len, struct store_renewal *out, struct ca_error *err)
{
	MDB_val		k = { old_len, (void *)old }, v;
	const uint8_t	*p;
	int		mrc;

	if (!st->has_renewals)
		return CA_ENOENT;
	if ((mrc = mdb_get(txn, st->renewals, &k, &v)) == MDB_NOTFOUND)
		return CA_ENOENT;
	if (mrc != MDB_SUCCESS)
		return store_fail(st, mrc, err, "reading a renewal");
	if (v.mv_size < 9 || v.mv_size > 8 + SERIAL_MAX + 1)
		return ca_error_set(err, CA_EMALF, "a renewal record of the "
		    "store is damaged");
	p = v.mv_data;
	out->at = (int64_t)store_be64_get(p);
	out->serial_len = v.mv_size - 8;
	memcpy(out->serial, p + 8, out->serial_len);
	return CA_OK;
}

int
store_renewal_get(struct store *st, const uint8_t *old, size_t old_len,
    struct store_renewal *out, struct ca_error *err)
{
	MDB_txn	*txn = NULL;
	int	 rc;

	if (st == NULL || out == NULL || !serial_ok(old, old_len))
		return ca_error_set(err, CA_EINVAL, "a serial number has 1 to "
		    "21 content octets (RFC 5280 section 4.1.2.2)");
	if ((rc = txn_begin(st, MDB_RDONLY, &txn, err)) != CA_OK)
		return rc;
	rc = renewal_read(st, txn, old, old_len, out, err);
	txn_end(st, txn);
	return rc;
}

int
store_txn_renewal_put(struct store_txn *txn, const uint8_t *old,
    size_t old_len, const uint8_t *new_serial, size_t new_len, int64_t at,
    struct ca_error *err)
{
	struct store_renewal	prev;
	uint8_t			buf[8 + SERIAL_MAX + 1];
	char			a[SERIAL_HEX_MAX + 2], b[SERIAL_HEX_MAX + 2];
	MDB_val			k, v;
	int			rc;

	if (txn == NULL || !serial_ok(old, old_len) ||
	    !serial_ok(new_serial, new_len))
		return ca_error_set(err, CA_EINVAL, "a serial number has 1 to "
		    "21 content octets (RFC 5280 section 4.1.2.2)");
	if ((rc = renewal_read(txn->st, txn->txn, old, old_len, &prev,
	    err)) == CA_OK) {
		fmt_serial(old, old_len, a);
		fmt_serial(prev.serial, prev.serial_len, b);
		return ca_refuse(err, CA_EEXIST, STORE_REASON_RENEWED,
		    "the certificate %s was already renewed by %s: a "
		    "certificate can be renewed once; renew %s instead", a, b,
		    b);
	}
	if (rc != CA_ENOENT)
		return rc;
	store_be64_put(buf, (uint64_t)at);
	memcpy(buf + 8, new_serial, new_len);
	k.mv_size = old_len;
	k.mv_data = (void *)old;
	v.mv_size = 8 + new_len;
	v.mv_data = buf;
	return store_fail(txn->st, mdb_put(txn->txn, txn->st->renewals, &k,
	    &v, MDB_NOOVERWRITE), err, "recording a renewal");
}

/* ---- audit ---- */

int
store_txn_audit_append(struct store_txn *txn, int64_t at, const char *who,
    const char *action, const char *detail, struct ca_error *err)
{
	struct store	*st;
	uint8_t		*buf = NULL, key[8];
	uint64_t	 seq;
	MDB_val		 k, v;
	int		 rc;

	if (txn == NULL)
		return ca_error_set(err, CA_EINVAL, "no transaction");
	st = txn->st;
	if ((rc = store_audit_encode(at, who, action, detail, &buf,
	    &v.mv_size)) != CA_OK) {
		rc = rc == CA_ENOMEM ? ca_error_set(err, rc, "out of memory") :
		    ca_error_set(err, rc, "audit entry: who is at most %d "
		    "bytes and action at most %d", STORE_AUDIT_WHO_MAX,
		    STORE_AUDIT_ACTION_MAX);
		goto out;
	}
	if ((rc = counter_add(st, txn->txn, META_AUDIT_SEQ, 1, &seq, err)) !=
	    CA_OK)
		goto out;
	store_be64_put(key, seq);
	k.mv_size = sizeof(key);
	k.mv_data = key;
	v.mv_data = buf;
	/* MDB_APPEND: keys only grow, so the page split is the cheap one. */
	rc = store_fail(st, mdb_put(txn->txn, st->audit, &k, &v,
	    MDB_APPEND | MDB_NOOVERWRITE), err, "appending to the audit log");
out:
	free(buf);
	return rc;
}

int
store_audit_append(struct store *st, int64_t at, const char *who,
    const char *action, const char *detail, struct ca_error *err)
{
	struct store_txn	*txn = NULL;
	int			 rc;

	if ((rc = store_txn_begin(st, &txn, err)) != CA_OK)
		return rc;
	if ((rc = store_txn_audit_append(txn, at, who, action, detail,
	    err)) != CA_OK) {
		store_txn_abort(txn);
		return rc;
	}
	return store_txn_commit(txn, err);
}

int
store_audit_foreach(struct store *st, uint64_t from,
    int (*cb)(const struct store_audit *a, void *ctx), void *ctx,
    struct ca_error *err)
{
	MDB_txn			*txn = NULL;
	MDB_cursor		*cur = NULL;
	MDB_val			 k, v;
	struct store_audit	 a;
	uint8_t			 start[8];
	MDB_cursor_op		 op = MDB_SET_RANGE;
	int			 rc, mrc;

	if (st == NULL || cb == NULL)
		return ca_error_set(err, CA_EINVAL, "bad audit listing");
	if ((rc = txn_begin(st, MDB_RDONLY, &txn, err)) != CA_OK)
		return rc;
	if ((mrc = mdb_cursor_open(txn, st->audit, &cur)) != MDB_SUCCESS) {
		rc = store_fail(st, mrc, err, "reading the audit log");
		goto out;
	}
	store_be64_put(start, from);
	k.mv_size = sizeof(start);
	k.mv_data = start;
	for (;;) {
		mrc = mdb_cursor_get(cur, &k, &v, op);
		op = MDB_NEXT;
		if (mrc == MDB_NOTFOUND)
			break;
		if (mrc != MDB_SUCCESS) {
			rc = store_fail(st, mrc, err, "reading the audit log");
			goto out;
		}
		if (k.mv_size != 8 ||
		    store_audit_decode(v.mv_data, v.mv_size, &a) != CA_OK) {
			rc = ca_error_set(err, CA_EMALF,
			    "an entry of the store's audit log is damaged");
			goto out;
		}
		a.seq = store_be64_get(k.mv_data);
		if ((rc = cb(&a, ctx)) != 0) {
			if (rc < 0) {
				ca_error_set(err, rc,
				    "reading the audit log: %s",
				    ca_strerror(rc));
				goto out;
			}
			break;
		}
	}
	rc = CA_OK;
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	txn_end(st, txn);
	return rc;
}

/* ---- copies and figures (backup) ---- */

int
store_copy(struct store *st, const char *dir, struct ca_error *err)
{
	MDB_txn	*txn = NULL;
	char	 path[4096];
	int	 fd = -1, rc, mrc = MDB_SUCCESS;

	if (st == NULL || dir == NULL)
		return ca_error_set(err, CA_EINVAL, "no store or directory");
	if (path_join(path, sizeof(path), dir, "data.mdb") != CA_OK)
		return ca_error_set(err, CA_EINVAL, "path too long: %s", dir);
	/* 0600: the store holds token hashes and the audit log. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) <
	    0)
		return ca_error_set(err, errno == EEXIST ? CA_EEXIST : CA_EIO,
		    "%s: %s", path, strerror(errno));
	for (int tries = 0; tries < 3; tries++) {
		/*
		 * A read transaction of ours around LMDB's copy (which opens
		 * its own) keeps this process from adopting a map another
		 * process grew while the copy reads it; when LMDB says the
		 * map moved, the next begin adopts it and the copy restarts.
		 */
		if ((rc = txn_begin(st, MDB_RDONLY, &txn, err)) != CA_OK)
			goto out;
		if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
			rc = ca_error_set(err, CA_EIO, "%s: %s", path,
			    strerror(errno));
			goto out;
		}
		/* LMDB's own copy of one snapshot, compacted (free pages
		   left out): writers go on meanwhile. */
		mrc = mdb_env_copyfd2(st->env, fd, MDB_CP_COMPACT);
		txn_end(st, txn);
		txn = NULL;
		if (mrc != MDB_MAP_RESIZED)
			break;
	}
	if (mrc != MDB_SUCCESS) {
		rc = store_fail(st, mrc, err, "copying the store");
		goto out;
	}
	if (fsync(fd) != 0) {
		rc = ca_error_set(err, CA_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = CA_OK;
out:
	txn_end(st, txn);
	if (close(fd) != 0 && rc == CA_OK)
		rc = ca_error_set(err, CA_EIO, "%s: %s", path, strerror(errno));
	if (rc != CA_OK)
		unlink(path);
	return rc;
}

int
store_stats(struct store *st, struct store_stats *out, struct ca_error *err)
{
	MDB_txn		*txn = NULL;
	MDB_stat	 ms;
	MDB_dbi		 dbis[4];
	uint64_t	*to[4];
	int		 rc = CA_OK, mrc;

	if (st == NULL || out == NULL)
		return ca_error_set(err, CA_EINVAL, "no store");
	memset(out, 0, sizeof(*out));
	dbis[0] = st->certs;
	to[0] = &out->certs;
	dbis[1] = st->revoked;
	to[1] = &out->revoked;
	dbis[2] = st->tokens;
	to[2] = &out->tokens;
	dbis[3] = st->audit;
	to[3] = &out->audit;
	if ((rc = txn_begin(st, MDB_RDONLY, &txn, err)) != CA_OK)
		return rc;
	for (size_t i = 0; i < 4; i++) {
		if ((mrc = mdb_stat(txn, dbis[i], &ms)) != MDB_SUCCESS) {
			rc = store_fail(st, mrc, err, "reading the store's "
			    "figures");
			goto out;
		}
		*to[i] = ms.ms_entries;
	}
	if ((rc = counter_read(st, txn, META_SCHEMA, &out->schema, err)) !=
	    CA_OK ||
	    (rc = counter_read(st, txn, STORE_COUNTER_CRL, &out->crl_number,
	    err)) != CA_OK ||
	    (rc = counter_read(st, txn, STORE_COUNTER_REVGEN, &out->revgen,
	    err)) != CA_OK)
		goto out;
out:
	txn_end(st, txn);
	return rc;
}
