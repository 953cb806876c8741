/*
 * ustar (POSIX.1-2008, pax format's ustar header), the subset
 * common/archive.h describes: 512-byte header blocks, data padded to 512,
 * two zero blocks at the end.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/archive.h"

#define BLOCK	512
#define CHUNK	(64 * 1024)

/* Header fields: offset and length (POSIX.1-2008, pax, ustar header). */
#define H_NAME		0
#define H_MODE		100
#define H_UID		108
#define H_GID		116
#define H_SIZE		124
#define H_MTIME		136
#define H_CHKSUM	148
#define H_TYPE		156
#define H_MAGIC		257
#define H_VERSION	263

bool
archive_name_ok(const char *name)
{
	size_t	n;
	const char *seg;

	if (name == NULL || (n = strnlen(name, ARCHIVE_NAME_MAX + 1)) == 0 ||
	    n > ARCHIVE_NAME_MAX || name[0] == '/' || name[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-' || c == '/'))
			return false;
	}
	/* No empty, "." or ".." component. */
	for (seg = name; seg != NULL && *seg != '\0';) {
		const char	*slash = strchr(seg, '/');
		size_t		 l = slash != NULL ? (size_t)(slash - seg) :
		    strlen(seg);

		if (l == 0 || (l == 1 && seg[0] == '.') ||
		    (l == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
		seg = slash != NULL ? slash + 1 : NULL;
	}
	return true;
}

static int
write_all(int fd, const void *buf, size_t n, struct ca_error *err)
{
	const uint8_t	*p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return ca_error_set(err, CA_EIO, "writing the archive: "
			    "%s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
	return CA_OK;
}

/* Exactly n bytes, or CA_EIO / *short_read. */
static int
read_all(int fd, void *buf, size_t n, size_t *got, struct ca_error *err)
{
	uint8_t	*p = buf;

	*got = 0;
	while (*got < n) {
		ssize_t r = read(fd, p + *got, n - *got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return ca_error_set(err, CA_EIO, "reading: %s",
			    strerror(errno));
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return CA_OK;
}

static void
octal(uint8_t *field, size_t width, uint64_t v)
{
	/* width - 1 digits, zero-padded, then a NUL. */
	for (size_t i = width - 1; i-- > 0;) {
		field[i] = (uint8_t)('0' + (v & 7));
		v >>= 3;
	}
	field[width - 1] = '\0';
}

static bool
parse_octal(const uint8_t *field, size_t width, uint64_t *out)
{
	uint64_t	v = 0;
	size_t		i = 0;
	bool		any = false;

	while (i < width && field[i] == ' ')
		i++;
	for (; i < width && field[i] >= '0' && field[i] <= '7'; i++) {
		if (v > (UINT64_MAX >> 3))
			return false;
		v = (v << 3) | (uint64_t)(field[i] - '0');
		any = true;
	}
	/* Then only NULs or spaces. */
	for (; i < width; i++)
		if (field[i] != '\0' && field[i] != ' ')
			return false;
	*out = v;
	return any;
}

static unsigned
checksum(const uint8_t *h)
{
	unsigned sum = 0;

	for (size_t i = 0; i < BLOCK; i++)
		sum += (i >= H_CHKSUM && i < H_CHKSUM + 8) ? ' ' : h[i];
	return sum;
}

int
archive_put(int out, const char *name, unsigned mode, int64_t mtime, int in,
    const void *buf, uint64_t size, archive_sink sink, void *ctx,
    struct ca_error *err)
{
	uint8_t		 h[BLOCK], chunk[CHUNK];
	uint64_t	 left = size;
	size_t		 pad;
	int		 rc;

	if (!archive_name_ok(name))
		return ca_error_set(err, CA_EINVAL, "archive member name "
		    "'%s' is not one this format takes", name ? name : "");
	if (size > ARCHIVE_SIZE_MAX || (in < 0 && buf == NULL && size > 0))
		return ca_error_set(err, CA_ETOOBIG, "%s: %llu bytes: over the "
		    "archive's 8 GiB per file", name, (unsigned long long)size);
	memset(h, 0, sizeof(h));
	memcpy(h + H_NAME, name, strlen(name));
	octal(h + H_MODE, 8, mode & 0777);
	octal(h + H_UID, 8, 0);
	octal(h + H_GID, 8, 0);
	octal(h + H_SIZE, 12, size);
	octal(h + H_MTIME, 12, mtime > 0 ? (uint64_t)mtime : 0);
	h[H_TYPE] = '0';
	memcpy(h + H_MAGIC, "ustar", 6);
	memcpy(h + H_VERSION, "00", 2);
	octal(h + H_CHKSUM, 7, checksum(h));
	h[H_CHKSUM + 7] = ' ';
	if ((rc = write_all(out, h, sizeof(h), err)) != CA_OK)
		return rc;
	while (left > 0) {
		size_t		 n = left < CHUNK ? (size_t)left : CHUNK, got;
		const uint8_t	*p;

		if (in >= 0) {
			if ((rc = read_all(in, chunk, n, &got, err)) != CA_OK)
				return rc;
			if (got != n)
				return ca_error_set(err, CA_EIO, "%s: the file "
				    "ended %llu bytes early", name,
				    (unsigned long long)(left - got));
			p = chunk;
		} else
			p = (const uint8_t *)buf + (size - left);
		if (sink != NULL && (rc = sink(ctx, p, n)) != 0)
			return rc;
		if ((rc = write_all(out, p, n, err)) != CA_OK)
			return rc;
		left -= n;
	}
	pad = (size_t)((BLOCK - size % BLOCK) % BLOCK);
	memset(h, 0, sizeof(h));
	return pad > 0 ? write_all(out, h, pad, err) : CA_OK;
}

int
archive_end(int out, struct ca_error *err)
{
	uint8_t z[2 * BLOCK];

	memset(z, 0, sizeof(z));
	return write_all(out, z, sizeof(z), err);
}

int
archive_next(int in, struct archive_entry *e, struct ca_error *err)
{
	uint8_t		h[BLOCK];
	uint64_t	sum, v;
	size_t		got, n;
	bool		zero = true;
	int		rc;

	if ((rc = read_all(in, h, sizeof(h), &got, err)) != CA_OK)
		return rc;
	if (got != sizeof(h))
		return ca_error_set(err, CA_EMALF, "the archive is truncated "
		    "(no end-of-archive blocks)");
	for (size_t i = 0; i < sizeof(h); i++)
		zero = zero && h[i] == 0;
	if (zero)
		return CA_ENOENT;
	memset(e, 0, sizeof(*e));
	if (!parse_octal(h + H_CHKSUM, 8, &sum) || sum != checksum(h))
		return ca_error_set(err, CA_EMALF, "an archive header's "
		    "checksum does not match: the file is damaged or not a "
		    "backup");
	if (memcmp(h + H_MAGIC, "ustar", 6) != 0 ||
	    memcmp(h + H_VERSION, "00", 2) != 0)
		return ca_error_set(err, CA_EMALF, "not a ustar archive");
	if (h[H_TYPE] != '0' && h[H_TYPE] != '\0')
		return ca_error_set(err, CA_EMALF, "an archive member is not "
		    "a regular file (type '%c')", h[H_TYPE]);
	/* The prefix field (345..499) is not used by this format. */
	for (size_t i = 345; i < 500; i++)
		if (h[i] != 0)
			return ca_error_set(err, CA_EMALF, "an archive member "
			    "has a name prefix: not one of ours");
	n = strnlen((const char *)h + H_NAME, ARCHIVE_NAME_MAX);
	memcpy(e->name, h + H_NAME, n);
	e->name[n] = '\0';
	if (!archive_name_ok(e->name))
		return ca_error_set(err, CA_EMALF, "archive member name '%.100s'"
		    " is refused (only [A-Za-z0-9._/-], no '..', no leading "
		    "'/')", e->name);
	if (!parse_octal(h + H_SIZE, 12, &e->size) ||
	    !parse_octal(h + H_MODE, 8, &v))
		return ca_error_set(err, CA_EMALF, "%s: bad size or mode in "
		    "its header", e->name);
	e->mode = (unsigned)(v & 0777);
	if (parse_octal(h + H_MTIME, 12, &v))
		e->mtime = v > INT64_MAX ? 0 : (int64_t)v;
	return CA_OK;
}

int
archive_data(int in, const struct archive_entry *e, archive_sink sink,
    void *ctx, struct ca_error *err)
{
	uint8_t		 chunk[CHUNK];
	uint64_t	 left = e->size + (BLOCK - e->size % BLOCK) % BLOCK;
	uint64_t	 data = e->size;
	size_t		 got;
	int		 rc;

	while (left > 0) {
		size_t n = left < CHUNK ? (size_t)left : CHUNK, d;

		if ((rc = read_all(in, chunk, n, &got, err)) != CA_OK)
			return rc;
		if (got != n)
			return ca_error_set(err, CA_EMALF, "%s: the archive "
			    "ends inside it (truncated)", e->name);
		d = data < n ? (size_t)data : n;
		if (d > 0 && sink != NULL && (rc = sink(ctx, chunk, d)) != 0)
			return rc;
		data -= d;
		left -= n;
	}
	return CA_OK;
}
