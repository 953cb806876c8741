/*
 * libFuzzer target for the revoked-index snapshot reader (store/snapshot.c):
 * the input is written to a file, and the reader is asked to trust it as
 * the store would (identity from fstat, header fields and the entries'
 * sum from the input itself, so that the checks past them run). Every
 * entry handed out must have keys strictly rising and every length in
 * bounds; a file revsnap_finish accepts must have held exactly the count
 * its header states; nothing may read out of bounds, leak or crash.
 * Seeds: tests/fuzz/corpus/fuzz_revsnap (written by revsnap_writer, see
 * tests/unit/test_store_snapshot.c).
 * corpus: fuzz/corpus/fuzz_revsnap
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/snapshot.h"
#include "store/store_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A check that aborts whatever NDEBUG says (the targets are also built
   with -UNDEBUG, tests/CMakeLists.txt, for the others' assert()s). */
#define CHECK(c)	do { if (!(c)) abort(); } while (0)

static uint64_t
be64(const uint8_t *p)
{
	return store_be64_get(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct revsnap_meta	 m;
	struct revsnap		*s = NULL;
	struct revsnap_entry	 e;
	uint8_t			 prev[STORE_INDEX_KEY_MAX];
	size_t			 prev_len = 0;
	struct stat		 sb;
	char			 path[64];
	uint64_t		 n = 0;
	int			 fd;

	snprintf(path, sizeof(path), "/tmp/fuzz-revsnap-%ld", (long)getpid());
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	if (fstat(fd, &sb) != 0)
		abort();
	close(fd);
	memset(&m, 0, sizeof(m));
	m.dev = (uint64_t)sb.st_dev;
	m.ino = (uint64_t)sb.st_ino;
	m.size = (uint64_t)sb.st_size;
	m.mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
	    sb.st_mtim.tv_nsec;
	m.ctime_ns = (int64_t)sb.st_ctim.tv_sec * 1000000000 +
	    sb.st_ctim.tv_nsec;
	if (size >= REVSNAP_HEADER) {
		m.generation = be64(data + 24);
		m.min_not_after = (int64_t)be64(data + 32);
		m.count = be64(data + 40);
		m.bytes = be64(data + 48);
		memcpy(m.nonce, data + 56, REVSNAP_NONCE);
		/* The sum of what follows, as the writer would record it. */
		m.sum = revsnap_sum(data + REVSNAP_HEADER,
		    size - REVSNAP_HEADER);
	}
	if (revsnap_open(path, &m, &s, NULL) == 0) {
		while (revsnap_next(s, 0, &e)) {
			CHECK(e.klen >= 9 && e.klen <= STORE_INDEX_KEY_MAX);
			CHECK(e.vlen >= 1 && e.vlen <= REVSNAP_VALUE_MAX);
			/* The bytes are the reader's until its next call. */
			CHECK(n == 0 || revsnap_key_cmp(prev, prev_len,
			    e.key, e.klen) < 0);
			CHECK(be64(e.key) >= (uint64_t)(m.min_not_after > 0 ?
			    m.min_not_after : 0));
			memcpy(prev, e.key, e.klen);
			prev_len = e.klen;
			n++;
		}
		/* Entries out of bounds or order are never handed out (the
		   checks above); the whole file is accepted only with the
		   count its header states. */
		if (revsnap_finish(s, NULL) == 0)
			CHECK(n == m.count);
		else
			CHECK(n <= m.count);
		revsnap_free(s);
		/* From a cut-off taken from the input: never more entries. */
		if (revsnap_open(path, &m, &s, NULL) == 0) {
			uint64_t k = 0;

			while (revsnap_next(s, (int64_t)(size * 7919), &e))
				k++;
			CHECK(k <= n);
			revsnap_free(s);
		}
	}
	unlink(path);
	return 0;
}
