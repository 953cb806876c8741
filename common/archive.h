/*
 * A POSIX ustar archive (POSIX.1-2008 "pax" interchange format, ustar
 * headers only), written and read as a stream: what `mtlsca backup` files
 * are, so that an operator can look into one with `tar tvf`. Only regular
 * files, names of at most 100 bytes made of [A-Za-z0-9._/-] with no ".."
 * component and no leading '/', sizes below 8 GiB: a reader refuses
 * anything else (CA_EMALF), so a hostile archive cannot name a path
 * outside the directory it is restored into.
 */
#ifndef MTLSCA_COMMON_ARCHIVE_H
#define MTLSCA_COMMON_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define ARCHIVE_NAME_MAX	100
#define ARCHIVE_SIZE_MAX	077777777777ULL	/* 11 octal digits */

/* Is name one this format writes and reads? */
bool archive_name_ok(const char *name);

/* Called with each chunk of a file's data as it is written or read. */
typedef int (*archive_sink)(void *ctx, const uint8_t *p, size_t n);

/*
 * Append name (mode's permission bits, mtime) with size bytes read from
 * the file descriptor in (exactly size: CA_EIO if it ends early), or from
 * buf when in is -1. Each chunk also goes to sink (may be NULL): a hash.
 */
int archive_put(int out, const char *name, unsigned mode, int64_t mtime,
    int in, const void *buf, uint64_t size, archive_sink sink, void *ctx,
    struct ca_error *err);
/* The end of the archive: two zero blocks. */
int archive_end(int out, struct ca_error *err);

struct archive_entry {
	char		name[ARCHIVE_NAME_MAX + 1];
	unsigned	mode;
	uint64_t	size;
	int64_t		mtime;
};
/*
 * Read the next header from in: CA_OK with *e filled, CA_ENOENT at the end
 * of the archive (the zero blocks), CA_EMALF with a sentence for anything
 * else (a bad checksum, a type other than a regular file, a name this
 * format refuses, a truncated archive).
 */
int archive_next(int in, struct archive_entry *e, struct ca_error *err);
/* Read e's data (and its padding), each chunk to sink (may be NULL). A
   sink's non-zero result stops the read and is returned. */
int archive_data(int in, const struct archive_entry *e, archive_sink sink,
    void *ctx, struct ca_error *err);

#endif
