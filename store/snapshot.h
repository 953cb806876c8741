/*
 * store/ private: the revoked-index snapshot, a flat file beside the LMDB
 * environment (db/revoked.snap) holding a copy of the revoked index as it
 * was at one revocation generation: every entry, key and value, in key
 * order, from a cut-off notAfter on. A CRL build reads it front to back
 * (70 MB at 1M entries, one sequential read) and merges the few entries
 * the revocation log holds since, instead of faulting in the index's
 * leaves, which lie scattered over the whole data file (design note 26).
 *
 * The file is a cache: the store decides whether to trust it (its meta
 * record names the file's identity, nonce and generation), and anything
 * that does not match is ignored and rebuilt from the index. Nothing
 * outside store/ includes this header.
 *
 * Layout (integers big-endian):
 *   header, 64 bytes: magic "mtlsca-revsnap\n\0" (16), version u32 (2),
 *     reserved u32 (0), generation u64, min_not_after i64, count u64,
 *     payload bytes u64, nonce (8 bytes)
 *   count entries: key length u8 (9..STORE_INDEX_KEY_MAX), value length
 *     u16 (1..REVSNAP_VALUE_MAX), key, value; keys strictly increasing in
 *     LMDB's order (memcmp, then the shorter first), none below
 *     be64(min_not_after)
 */
#ifndef MTLSCA_STORE_SNAPSHOT_H
#define MTLSCA_STORE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define REVSNAP_NAME		"revoked.snap"
#define REVSNAP_HEADER		64
#define REVSNAP_VALUE_MAX	1024	/* an entry's DER plus a CA tag */
#define REVSNAP_NONCE		8

/* What the store records of the snapshot it trusts (meta, 88 bytes). */
struct revsnap_meta {
	uint64_t	generation;	/* the revocation generation copied */
	int64_t		min_not_after;	/* entries below were left out */
	uint64_t	count;
	uint64_t	bytes;		/* payload after the header */
	uint8_t		nonce[REVSNAP_NONCE];
	/* The file's identity when written: device, inode, size, change
	   and modification times in ns (rewritten files get a new inode). */
	uint64_t	dev, ino, size;
	int64_t		mtime_ns, ctime_ns;
	/* revsnap_sum of the entries (everything after the header): catches
	   an edit in place that left the identity as it was (a write within
	   one tick of the file system's clock, before Linux 6.13). */
	uint64_t	sum;
};
#define REVSNAP_META_LEN	88

void revsnap_meta_encode(const struct revsnap_meta *m,
    uint8_t out[REVSNAP_META_LEN]);
int revsnap_meta_decode(const uint8_t *buf, size_t len,
    struct revsnap_meta *m);

/*
 * A 64-bit checksum of n bytes, not cryptographic (whoever can write the
 * file can write the store): the 8-byte words are dealt to four lanes in
 * turn, and each word goes through its lane's rotation, exclusive or and
 * multiplication by an odd constant, each a bijection, so a change
 * confined to one word always changes the sum; the lanes are then folded
 * the same way. Four lanes because each chain waits on its multiplication:
 * ~5 ms for the 73 MB of a 1M-entry snapshot, against ~20 ms with one.
 */
struct revsnap_summer {
	uint64_t	h[4], words, carry, len;
	unsigned	n;
};
void revsnap_sum_init(struct revsnap_summer *s);
void revsnap_sum_update(struct revsnap_summer *s, const uint8_t *p,
    size_t n);
uint64_t revsnap_sum_final(const struct revsnap_summer *s);
uint64_t revsnap_sum(const uint8_t *p, size_t n);

/* LMDB's default key order (mdb_cmp_memn): memcmp, then the shorter. */
int revsnap_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b,
    size_t blen);

/* ---- writing: entries in key order, then commit (fsync, rename) ---- */

struct revsnap_writer;

int revsnap_writer_open(const char *path, uint64_t generation,
    int64_t min_not_after, struct revsnap_writer **out, struct ca_error *err);
/* CA_EINVAL when the key is not above the last one or a length is out of
   bounds: the caller's order is wrong, and nothing is committed. */
int revsnap_writer_add(struct revsnap_writer *w, const uint8_t *key,
    size_t klen, const uint8_t *val, size_t vlen, struct ca_error *err);
/* Fills *out with what the store should record. */
int revsnap_writer_commit(struct revsnap_writer *w, struct revsnap_meta *out,
    struct ca_error *err);
/* Removes the temporary file unless committed. NULL-safe. */
void revsnap_writer_free(struct revsnap_writer *w);

/* ---- reading ---- */

struct revsnap;
struct revsnap_entry {
	const uint8_t	*key;
	size_t		 klen;
	const uint8_t	*val;
	size_t		 vlen;
};

/*
 * Map path and check it against want: the file's identity, then its
 * header. CA_ENOENT when there is no file or it is not the one want
 * describes, CA_EMALF when its header is damaged; the caller then reads
 * the index instead. The entries are checked as they are read.
 */
int revsnap_open(const char *path, const struct revsnap_meta *want,
    struct revsnap **out, struct ca_error *err);
/* The next entry whose key is >= be64(from) (the lower ones are read,
   checked and skipped); false at the end, or at the first entry out of
   bounds or out of order. The entry's bytes are the reader's: valid until
   the next call. */
bool revsnap_next(struct revsnap *s, int64_t from, struct revsnap_entry *e);
/*
 * The verdict on the whole file, reading on to its end if the caller
 * stopped early: CA_OK when every entry was in bounds and in order, their
 * count is the header's and their sum the one recorded; else CA_EMALF
 * (the reason in err), and every entry handed out is void.
 */
int revsnap_finish(struct revsnap *s, struct ca_error *err);
void revsnap_free(struct revsnap *s);

#endif
