/*
 * The revoked-index snapshot file (see snapshot.h for its layout and
 * design note 26 for why it exists). Written through a megabyte buffer and
 * file_atomic (fsync, rename); read with pread through a megabyte buffer,
 * so that reading 70 MB costs a megabyte of resident memory.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "store/snapshot.h"
#include "store/store_int.h"

static const uint8_t magic[16] = "mtlsca-revsnap\n";
#define REVSNAP_VERSION	2	/* 2: the sum in four lanes */
#define WRITE_BUF	(1u << 20)
#define READ_BUF	(1u << 20)	/* the reader's buffer */
#define ENTRY_HDR	3	/* key length u8, value length be16 */
#define KEY_MIN		9	/* be64(not_after) and a serial octet */

static void
put64(uint8_t *p, uint64_t v)
{
	store_be64_put(p, v);
}

static uint64_t
get64(const uint8_t *p)
{
	return store_be64_get(p);
}

/* ---- the checksum ---- */

#define SUM_MUL		0x9e3779b97f4a7c15ULL	/* odd */

static inline uint64_t
sum_word(uint64_t h, uint64_t w)
{
	return (((h << 27) | (h >> 37)) ^ w) * SUM_MUL;
}

/* 8 bytes, little-endian on any CPU. */
static inline uint64_t
load_le64(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return le64toh(w);
}

/* The next word goes to lane words % 4. */
static inline void
sum_next(struct revsnap_summer *s, uint64_t w)
{
	unsigned lane = (unsigned)(s->words++ & 3);

	s->h[lane] = sum_word(s->h[lane], w);
}

void
revsnap_sum_init(struct revsnap_summer *s)
{
	s->h[0] = 0x243f6a8885a308d3ULL;
	s->h[1] = 0x13198a2e03707344ULL;
	s->h[2] = 0xa4093822299f31d0ULL;
	s->h[3] = 0x082efa98ec4e6c89ULL;
	s->words = 0;
	s->carry = 0;
	s->len = 0;
	s->n = 0;
}

void
revsnap_sum_update(struct revsnap_summer *s, const uint8_t *p, size_t n)
{
	s->len += n;
	/* Finish a word begun by the last call, then words up to lane 0. */
	while (n > 0 && s->n > 0) {
		s->carry |= (uint64_t)*p++ << (8 * s->n);
		n--;
		if (++s->n == 8) {
			sum_next(s, s->carry);
			s->carry = 0;
			s->n = 0;
		}
	}
	for (; n >= 8 && (s->words & 3) != 0; p += 8, n -= 8)
		sum_next(s, load_le64(p));
	/* Four independent chains: each step waits for its own lane only. */
	for (; n >= 32; p += 32, n -= 32) {
		s->h[0] = sum_word(s->h[0], load_le64(p));
		s->h[1] = sum_word(s->h[1], load_le64(p + 8));
		s->h[2] = sum_word(s->h[2], load_le64(p + 16));
		s->h[3] = sum_word(s->h[3], load_le64(p + 24));
		s->words += 4;
	}
	for (; n >= 8; p += 8, n -= 8)
		sum_next(s, load_le64(p));
	for (; n > 0; n--)
		s->carry |= (uint64_t)*p++ << (8 * s->n++);
}

uint64_t
revsnap_sum_final(const struct revsnap_summer *s)
{
	struct revsnap_summer	t = *s;
	uint64_t		h;

	if (t.n > 0)
		sum_next(&t, t.carry);
	/* Each step is a bijection of either input with the other fixed: a
	   change in one lane changes the result. */
	h = sum_word(t.h[0], t.h[1]);
	h = sum_word(h, t.h[2]);
	h = sum_word(h, t.h[3]);
	h = sum_word(h, t.len);
	h ^= h >> 31;
	return h;
}

uint64_t
revsnap_sum(const uint8_t *p, size_t n)
{
	struct revsnap_summer s;

	revsnap_sum_init(&s);
	revsnap_sum_update(&s, p, n);
	return revsnap_sum_final(&s);
}

int
revsnap_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c;

	/* Keys begin with be64(notAfter): one 64-bit comparison mostly
	   decides (a scan compares every entry with the last one). */
	if (alen >= 8 && blen >= 8) {
		uint64_t x = get64(a), y = get64(b);

		if (x != y)
			return x < y ? -1 : 1;
		a += 8;
		b += 8;
		alen -= 8;
		blen -= 8;
	}
	c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

void
revsnap_meta_encode(const struct revsnap_meta *m,
    uint8_t out[REVSNAP_META_LEN])
{
	put64(out, m->generation);
	put64(out + 8, (uint64_t)m->min_not_after);
	put64(out + 16, m->count);
	put64(out + 24, m->bytes);
	memcpy(out + 32, m->nonce, REVSNAP_NONCE);
	put64(out + 40, m->dev);
	put64(out + 48, m->ino);
	put64(out + 56, m->size);
	put64(out + 64, (uint64_t)m->mtime_ns);
	put64(out + 72, (uint64_t)m->ctime_ns);
	put64(out + 80, m->sum);
}

int
revsnap_meta_decode(const uint8_t *buf, size_t len, struct revsnap_meta *m)
{
	if (len != REVSNAP_META_LEN)
		return CA_EMALF;
	m->generation = get64(buf);
	m->min_not_after = (int64_t)get64(buf + 8);
	m->count = get64(buf + 16);
	m->bytes = get64(buf + 24);
	memcpy(m->nonce, buf + 32, REVSNAP_NONCE);
	m->dev = get64(buf + 40);
	m->ino = get64(buf + 48);
	m->size = get64(buf + 56);
	m->mtime_ns = (int64_t)get64(buf + 64);
	m->ctime_ns = (int64_t)get64(buf + 72);
	m->sum = get64(buf + 80);
	return CA_OK;
}

static void
header_encode(uint8_t h[REVSNAP_HEADER], const struct revsnap_meta *m)
{
	memset(h, 0, REVSNAP_HEADER);
	memcpy(h, magic, sizeof(magic));
	h[19] = REVSNAP_VERSION;
	put64(h + 24, m->generation);
	put64(h + 32, (uint64_t)m->min_not_after);
	put64(h + 40, m->count);
	put64(h + 48, m->bytes);
	memcpy(h + 56, m->nonce, REVSNAP_NONCE);
}

/* ---- writing ---- */

struct revsnap_writer {
	struct file_atomic	 f;
	bool			 open;
	struct revsnap_meta	 m;
	uint8_t			*buf;
	size_t			 len;
	uint8_t			 last[STORE_INDEX_KEY_MAX];
	size_t			 last_len;
	struct revsnap_summer	 sum;
};

static int
writer_flush(struct revsnap_writer *w, struct ca_error *err)
{
	int rc;

	if (w->len == 0)
		return CA_OK;
	rc = file_atomic_write(&w->f, w->buf, w->len, err);
	w->len = 0;
	return rc;
}

/*
 * Remove what a writer killed mid-way left (path.tmp.PID of a process that
 * is gone): at 1M entries each is 73 MB that nothing else would remove.
 */
static void
sweep_stale(const char *path)
{
	char		 dir[4096], prefix[512], victim[4096 + 512];
	const char	*slash = strrchr(path, '/');
	size_t		 dlen = slash != NULL ? (size_t)(slash - path) : 0;
	DIR		*d;
	struct dirent	*de;

	if (dlen >= sizeof(dir) || snprintf(prefix, sizeof(prefix), "%s.tmp.",
	    slash != NULL ? slash + 1 : path) >= (int)sizeof(prefix))
		return;
	memcpy(dir, path, dlen);
	dir[dlen] = '\0';
	if ((d = opendir(dlen > 0 ? dir : ".")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char	*end;
		long	 pid;

		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		pid = strtol(de->d_name + strlen(prefix), &end, 10);
		if (*end != '\0' || pid <= 0 || pid == (long)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (snprintf(victim, sizeof(victim), "%s/%s", dlen > 0 ? dir :
		    ".", de->d_name) < (int)sizeof(victim))
			(void)unlink(victim);
	}
	closedir(d);
}

int
revsnap_writer_open(const char *path, uint64_t generation,
    int64_t min_not_after, struct revsnap_writer **out, struct ca_error *err)
{
	struct revsnap_writer	*w;
	int			 rc;

	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->buf = malloc(WRITE_BUF)) == NULL) {
		free(w);
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	}
	w->m.generation = generation;
	w->m.min_not_after = min_not_after;
	revsnap_sum_init(&w->sum);
	if (getrandom(w->m.nonce, sizeof(w->m.nonce), 0) !=
	    (ssize_t)sizeof(w->m.nonce)) {
		rc = ca_error_set(err, CA_EIO, "getrandom: %s",
		    strerror(errno));
		goto fail;
	}
	sweep_stale(path);
	if ((rc = file_atomic_open(&w->f, path, 0600, 0, err)) != CA_OK)
		goto fail;
	w->open = true;
	/* The header is written last, over these zeros: a torn file has no
	   magic. */
	memset(w->buf, 0, REVSNAP_HEADER);
	w->len = REVSNAP_HEADER;
	*out = w;
	return CA_OK;
fail:
	revsnap_writer_free(w);
	return rc;
}

int
revsnap_writer_add(struct revsnap_writer *w, const uint8_t *key, size_t klen,
    const uint8_t *val, size_t vlen, struct ca_error *err)
{
	int rc;

	if (klen < KEY_MIN || klen > STORE_INDEX_KEY_MAX || vlen == 0 ||
	    vlen > REVSNAP_VALUE_MAX)
		return ca_error_set(err, CA_EINVAL, "a revoked-index entry "
		    "out of bounds (key %zu, value %zu bytes)", klen, vlen);
	if (w->m.count > 0 &&
	    revsnap_key_cmp(w->last, w->last_len, key, klen) >= 0)
		return ca_error_set(err, CA_EINVAL, "revoked-index entries "
		    "out of order");
	if (WRITE_BUF - w->len < ENTRY_HDR + klen + vlen &&
	    (rc = writer_flush(w, err)) != CA_OK)
		return rc;
	w->buf[w->len] = (uint8_t)klen;
	w->buf[w->len + 1] = (uint8_t)(vlen >> 8);
	w->buf[w->len + 2] = (uint8_t)vlen;
	memcpy(w->buf + w->len + ENTRY_HDR, key, klen);
	memcpy(w->buf + w->len + ENTRY_HDR + klen, val, vlen);
	revsnap_sum_update(&w->sum, w->buf + w->len, ENTRY_HDR + klen + vlen);
	w->len += ENTRY_HDR + klen + vlen;
	memcpy(w->last, key, klen);
	w->last_len = klen;
	w->m.count++;
	w->m.bytes += ENTRY_HDR + klen + vlen;
	return CA_OK;
}

int
revsnap_writer_commit(struct revsnap_writer *w, struct revsnap_meta *out,
    struct ca_error *err)
{
	uint8_t		h[REVSNAP_HEADER];
	struct stat	st;
	int		rc;

	if ((rc = writer_flush(w, err)) != CA_OK)
		return rc;
	w->m.sum = revsnap_sum_final(&w->sum);
	header_encode(h, &w->m);
	if (pwrite(w->f.fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return ca_error_set(err, CA_EIO, "%s: %s", w->f.tmp,
		    strerror(errno));
	if ((rc = file_atomic_commit(&w->f, &st, err)) != CA_OK)
		return rc;
	w->open = false;
	w->m.dev = (uint64_t)st.st_dev;
	w->m.ino = (uint64_t)st.st_ino;
	w->m.size = (uint64_t)st.st_size;
	w->m.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
	    st.st_mtim.tv_nsec;
	w->m.ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 +
	    st.st_ctim.tv_nsec;
	*out = w->m;
	return CA_OK;
}

void
revsnap_writer_free(struct revsnap_writer *w)
{
	if (w == NULL)
		return;
	if (w->open)
		file_atomic_abort(&w->f);
	free(w->buf);
	free(w);
}

/* ---- reading ---- */

/*
 * The reader checks as it reads, in the one pass a scan makes: bounds and
 * order of each entry as it is handed out, the count and the entries' sum
 * when the end is reached (revsnap_finish). A reader that finds damage
 * stops there; what it handed out before is then void, and the caller
 * starts over from the index.
 *
 * It reads with pread into a buffer of its own, not through a mapping: a
 * file truncated under the reader (by anyone) then reads short and is
 * damage, where a mapping would have raised SIGBUS in the whole process;
 * and the page cache's pages never count in the reader's resident memory.
 */
struct revsnap {
	int		 fd;
	size_t		 size;		/* the file's, when opened */
	uint8_t		*buf;		/* READ_BUF bytes */
	size_t		 buf_off;	/* the file offset of buf[0] */
	size_t		 buf_len;	/* bytes read into buf */
	size_t		 pos;		/* file offset of the next entry */
	size_t		 summed;	/* summed up to here */
	struct revsnap_meta want;	/* what the store recorded */
	struct revsnap_summer sum;
	uint64_t	 n;		/* entries read */
	uint8_t		 last[STORE_INDEX_KEY_MAX];	/* the last key */
	size_t		 last_len;
	char		 why[160];	/* the damage found, or "" */
};

static void
damaged(struct revsnap *s, const char *why)
{
	if (s->why[0] == '\0')
		snprintf(s->why, sizeof(s->why), "revoked-index snapshot "
		    "damaged at byte %zu: %s", s->pos, why);
	s->pos = s->size;	/* nothing more is handed out */
}

/*
 * At least need bytes from pos in the buffer (need <= READ_BUF): what
 * was read before pos is summed, the rest moved to the buffer's start,
 * and the buffer filled from the file. false (damage noted) when the file
 * ends, or reads short, before.
 */
static bool
have(struct revsnap *s, size_t need)
{
	size_t keep, want;

	if (s->buf_off + s->buf_len - s->pos >= need)
		return true;
	if (s->size - s->pos < need) {
		damaged(s, "an entry past the end of the file");
		return false;
	}
	revsnap_sum_update(&s->sum, s->buf + (s->summed - s->buf_off),
	    s->pos - s->summed);
	s->summed = s->pos;
	keep = s->buf_off + s->buf_len - s->pos;
	memmove(s->buf, s->buf + (s->pos - s->buf_off), keep);
	s->buf_off = s->pos;
	s->buf_len = keep;
	want = s->size - (s->buf_off + keep);
	if (want > READ_BUF - keep)
		want = READ_BUF - keep;
	while (want > 0) {
		ssize_t got = pread(s->fd, s->buf + s->buf_len, want,
		    (off_t)(s->buf_off + s->buf_len));

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			damaged(s, got < 0 ? strerror(errno) :
			    "the file is shorter than it was");
			return false;
		}
		s->buf_len += (size_t)got;
		want -= (size_t)got;
	}
	return s->buf_off + s->buf_len - s->pos >= need;
}

/* The entry at pos, checked against the file's end and the bounds of
   its lengths; false (damage noted) when it breaks one. */
static bool
entry_at(struct revsnap *s, struct revsnap_entry *e)
{
	const uint8_t	*p;
	size_t		 klen, vlen;

	if (!have(s, ENTRY_HDR))
		return false;
	p = s->buf + (s->pos - s->buf_off);
	klen = p[0];
	vlen = (size_t)p[1] << 8 | p[2];
	if (klen < KEY_MIN || klen > STORE_INDEX_KEY_MAX || vlen == 0 ||
	    vlen > REVSNAP_VALUE_MAX) {
		damaged(s, "an entry out of bounds");
		return false;
	}
	if (!have(s, ENTRY_HDR + klen + vlen))
		return false;
	e->key = s->buf + (s->pos - s->buf_off) + ENTRY_HDR;
	e->klen = klen;
	e->val = e->key + klen;
	e->vlen = vlen;
	return true;
}

/* The header against what the store recorded. */
static int
check_header(const uint8_t *h, size_t size, const struct revsnap_meta *want,
    struct ca_error *err)
{
	if (memcmp(h, magic, sizeof(magic)) != 0 || h[16] != 0 ||
	    h[17] != 0 || h[18] != 0 || h[19] != REVSNAP_VERSION ||
	    h[20] != 0 || h[21] != 0 || h[22] != 0 || h[23] != 0)
		return ca_error_set(err, CA_EMALF, "not a revoked-index "
		    "snapshot of this version");
	if (get64(h + 24) != want->generation ||
	    (int64_t)get64(h + 32) != want->min_not_after ||
	    get64(h + 40) != want->count || get64(h + 48) != want->bytes ||
	    memcmp(h + 56, want->nonce, REVSNAP_NONCE) != 0 ||
	    want->bytes != size - REVSNAP_HEADER)
		return ca_error_set(err, CA_ENOENT, "the snapshot is not the "
		    "one the store recorded");
	return CA_OK;
}

int
revsnap_open(const char *path, const struct revsnap_meta *want,
    struct revsnap **out, struct ca_error *err)
{
	struct revsnap	*s = NULL;
	struct stat	 st;
	uint8_t		 h[REVSNAP_HEADER];
	int		 fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return ca_error_set(err, errno == ENOENT ? CA_ENOENT : CA_EIO,
		    "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		rc = ca_error_set(err, CA_EIO, "%s: %s", path,
		    strerror(errno));
		goto fail;
	}
	/* The identity first: a file rewritten, touched or replaced since
	   the store recorded it is not read at all. */
	if ((uint64_t)st.st_dev != want->dev ||
	    (uint64_t)st.st_ino != want->ino ||
	    (uint64_t)st.st_size != want->size ||
	    (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec !=
	    want->mtime_ns ||
	    (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec !=
	    want->ctime_ns || st.st_size < REVSNAP_HEADER) {
		rc = ca_error_set(err, CA_ENOENT, "%s is not the snapshot the "
		    "store recorded", path);
		goto fail;
	}
	if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		rc = ca_error_set(err, CA_ENOENT, "%s: shorter than it was",
		    path);
		goto fail;
	}
	if ((rc = check_header(h, (size_t)st.st_size, want, err)) != CA_OK)
		goto fail;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->buf = malloc(READ_BUF)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto fail;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	s->fd = fd;
	s->size = (size_t)st.st_size;
	s->want = *want;
	s->pos = s->summed = s->buf_off = REVSNAP_HEADER;
	revsnap_sum_init(&s->sum);
	*out = s;
	return CA_OK;
fail:
	if (s != NULL)
		free(s->buf);
	free(s);
	close(fd);
	return rc;
}

bool
revsnap_next(struct revsnap *s, int64_t from, struct revsnap_entry *e)
{
	uint64_t from_key = from > 0 ? (uint64_t)from : 0;
	uint64_t min = s->want.min_not_after > 0 ?
	    (uint64_t)s->want.min_not_after : 0;

	while (s->pos < s->size) {
		if (!entry_at(s, e))
			break;
		if (get64(e->key) < min || (s->n > 0 &&
		    revsnap_key_cmp(s->last, s->last_len, e->key, e->klen) >=
		    0)) {
			damaged(s, "an entry out of order");
			break;
		}
		if (++s->n > s->want.count) {
			damaged(s, "more entries than its header says");
			break;
		}
		memcpy(s->last, e->key, e->klen);
		s->last_len = e->klen;
		s->pos += ENTRY_HDR + e->klen + e->vlen;
		if (get64(e->key) >= from_key)
			return true;
	}
	return false;
}

int
revsnap_finish(struct revsnap *s, struct ca_error *err)
{
	struct revsnap_entry e;

	/* Read on to the end if the caller stopped early: the verdict is on
	   the whole file. */
	while (revsnap_next(s, INT64_MAX, &e))
		;
	if (s->why[0] == '\0') {
		revsnap_sum_update(&s->sum, s->buf + (s->summed - s->buf_off),
		    s->pos - s->summed);
		s->summed = s->pos;
		if (s->n != s->want.count)
			snprintf(s->why, sizeof(s->why), "the revoked-index "
			    "snapshot holds %llu entries, not %llu",
			    (unsigned long long)s->n,
			    (unsigned long long)s->want.count);
		else if (revsnap_sum_final(&s->sum) != s->want.sum)
			snprintf(s->why, sizeof(s->why), "the revoked-index "
			    "snapshot was changed since it was written (its "
			    "sum differs)");
	}
	if (s->why[0] != '\0')
		return ca_error_set(err, CA_EMALF, "%s", s->why);
	return CA_OK;
}

void
revsnap_free(struct revsnap *s)
{
	if (s == NULL)
		return;
	close(s->fd);
	free(s->buf);
	free(s);
}
