#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void
hex_format(const uint8_t *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int
hex_parse_exact(const char *text, uint8_t *out, size_t n)
{
	size_t	digits = 0, o = 0;
	int	hi = -1, v;

	if (text == NULL)
		return CA_EMALF;
	/* Check everything first: out is written only on success. */
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == ':')
			continue;
		if (hex_digit((unsigned char)*p) < 0 || ++digits > 2 * n)
			return CA_EMALF;
	}
	if (digits != 2 * n)
		return CA_EMALF;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == ':')
			continue;
		v = hex_digit((unsigned char)*p);
		if (hi < 0) {
			hi = v;
		} else {
			out[o++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	return CA_OK;
}

int
serial_parse(const char *text, uint8_t *out, size_t *len, struct ca_error *err)
{
	uint8_t	 raw[64];
	size_t	 nibbles = 0, n, skip = 0, o = 0;
	const char *p = text;

	if (text == NULL || *text == '\0')
		return ca_error_set(err, CA_EMALF, "empty serial number");
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	/* Count the hex digits first so that an odd count pads on the left. */
	for (const char *q = p; *q != '\0'; q++) {
		if (*q == ':')
			continue;
		if (hex_digit((unsigned char)*q) < 0)
			return ca_error_set(err, CA_EMALF,
			    "serial number '%.64s': '%c' is not a hex digit",
			    text, *q);
		if (++nibbles > 2 * sizeof(raw))
			return ca_error_set(err, CA_EMALF,
			    "serial number is longer than 20 octets "
			    "(RFC 5280 section 4.1.2.2)");
	}
	if (nibbles == 0)
		return ca_error_set(err, CA_EMALF, "empty serial number");
	n = (nibbles + 1) / 2;
	memset(raw, 0, sizeof(raw));
	{
		size_t i = (nibbles % 2) ? 1 : 0;	/* nibble index in raw */
		for (const char *q = p; *q != '\0'; q++, i++) {
			if (*q == ':') {
				i--;
				continue;
			}
			raw[i / 2] |= (uint8_t)(hex_digit((unsigned char)*q) <<
			    ((i % 2) ? 0 : 4));
		}
	}
	while (skip < n && raw[skip] == 0)
		skip++;
	if (skip == n)
		return ca_error_set(err, CA_EMALF,
		    "serial number zero is not allowed (RFC 5280 section "
		    "4.1.2.2: serials are positive)");
	/* 20 octets of value; a sign pad in front is tolerated (RFC 5280 asks
	 * relying parties to handle such serials gracefully). */
	if (n - skip > SERIAL_MAX)
		return ca_error_set(err, CA_EMALF,
		    "serial number is longer than 20 octets "
		    "(RFC 5280 section 4.1.2.2)");
	/* Output only on success (STYLE.md). */
	if (raw[skip] & 0x80)
		out[o++] = 0;
	memcpy(out + o, raw + skip, n - skip);
	*len = o + n - skip;
	return CA_OK;
}

void
serial_format(const uint8_t *serial, size_t len, char *out)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t i = 0, o = 0;

	if (len > 1 && serial[0] == 0)
		i = 1;
	for (; i < len && i < SERIAL_MAX + 1; i++) {
		out[o++] = digits[serial[i] >> 4];
		out[o++] = digits[serial[i] & 0xf];
	}
	out[o] = '\0';
}

int
parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (text == NULL || *text == '\0')
		return CA_EINVAL;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return CA_EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return CA_EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < min || v > max)
		return CA_EINVAL;
	*out = v;
	return CA_OK;
}

int
parse_duration(const char *text, int64_t *seconds)
{
	char		 digits[32];
	size_t		 n;
	uint64_t	 v, unit = 1;
	const uint64_t	 limit = 100ULL * 366 * 86400;

	if (text == NULL)
		return CA_EINVAL;
	n = strlen(text);
	if (n == 0 || n >= sizeof(digits))
		return CA_EINVAL;
	memcpy(digits, text, n + 1);
	switch (digits[n - 1]) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	case 'w': unit = 7 * 86400; break;
	default: n++; break;
	}
	digits[n - 1] = '\0';
	if (parse_u64(digits, 0, limit, &v) != CA_OK || v > limit / unit)
		return CA_EINVAL;
	*seconds = (int64_t)(v * unit);
	return CA_OK;
}

int64_t
time_now(void)
{
	const char	*fake = getenv("MTLSCA_FAKE_NOW");
	int64_t		 t;

	if (fake != NULL && time_parse(fake, &t) == CA_OK)
		return t;
	return (int64_t)time(NULL);
}

int64_t
time_real_now(void)
{
	return (int64_t)time(NULL);
}

void
time_format(int64_t t, char out[21])
{
	struct tm	tm;
	time_t		tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 21, "invalid-time");
}

int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t		era;
	unsigned	yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* n decimal digits at text[at..], nothing else (no sign, no space). */
static int
digits_at(const char *text, size_t at, size_t n, unsigned *out)
{
	unsigned v = 0;

	for (size_t i = at; i < at + n; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(text[i] - '0');
	}
	*out = v;
	return 0;
}

/*
 * RFC 3339 §5.6: time-offset = "Z" / time-numoffset, time-numoffset =
 * ("+" / "-") time-hour ":" time-minute, hour 00-23, minute 00-59. The
 * colon is required ("+0900" is ISO 8601 basic format, not RFC 3339).
 * "-00:00" (§4.3: UTC, local offset unknown) is UTC. Seconds east of UTC.
 */
static int
offset_parse(const char *text, int64_t *east)
{
	unsigned h, m;

	if ((text[0] == 'Z' || text[0] == 'z') && text[1] == '\0') {
		*east = 0;
		return 0;
	}
	if ((text[0] != '+' && text[0] != '-') || strlen(text) != 6 ||
	    digits_at(text, 1, 2, &h) != 0 || text[3] != ':' ||
	    digits_at(text, 4, 2, &m) != 0 || h > 23 || m > 59)
		return -1;
	*east = (int64_t)h * 3600 + (int64_t)m * 60;
	if (text[0] == '-')
		*east = -*east;
	return 0;
}

int
time_parse(const char *text, int64_t *out)
{
	unsigned	y, mo, d, h, mi, s, mdays;
	int64_t		east;
	size_t		i = 19;
	static const unsigned days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };

	/* "YYYY-MM-DDTHH:MM:SS" exactly: sscanf's %u would also take signs
	   and spaces, which are not RFC 3339. RFC 3339 §5.6 allows a space
	   or a lower-case t for the T. */
	if (text == NULL || strlen(text) < 20 ||
	    digits_at(text, 0, 4, &y) != 0 || text[4] != '-' ||
	    digits_at(text, 5, 2, &mo) != 0 || text[7] != '-' ||
	    digits_at(text, 8, 2, &d) != 0 ||
	    (text[10] != 'T' && text[10] != 't' && text[10] != ' ') ||
	    digits_at(text, 11, 2, &h) != 0 || text[13] != ':' ||
	    digits_at(text, 14, 2, &mi) != 0 || text[16] != ':' ||
	    digits_at(text, 17, 2, &s) != 0)
		return CA_EINVAL;
	/* time-secfrac: "." 1*DIGIT, kept to the second (rounded down). */
	if (text[i] == '.') {
		size_t from = ++i;

		while (text[i] >= '0' && text[i] <= '9')
			i++;
		if (i == from)
			return CA_EINVAL;
	}
	if (offset_parse(text + i, &east) != 0)
		return CA_EINVAL;
	/* A leap second (60) has no POSIX time: refused. */
	if (mo < 1 || mo > 12 || h > 23 || mi > 59 || s > 59)
		return CA_EINVAL;
	mdays = days[mo - 1];
	/* February 29 only in leap years (Gregorian rule). */
	if (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		mdays = 29;
	if (d < 1 || d > mdays)
		return CA_EINVAL;
	/* Local time minus the offset is UTC. */
	*out = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 +
	    (int64_t)mi * 60 + s - east;
	return CA_OK;
}

void *
malloc_big(size_t n)
{
	void *p = NULL;

	if (n < 2 * MALLOC_BIG_PAGE)
		return malloc(n);
	if (posix_memalign(&p, MALLOC_BIG_PAGE, n) != 0)
		return NULL;
	/* Only advice: without transparent huge pages (or with none free)
	   the pages are 4 KB, as from malloc. */
	(void)madvise(p, n / MALLOC_BIG_PAGE * MALLOC_BIG_PAGE, MADV_HUGEPAGE);
	return p;
}

int
file_read_stat(const char *path, size_t max, uint8_t **out, size_t *len,
    struct stat *st_out, struct ca_error *err)
{
	struct stat	 st;
	uint8_t		*buf = NULL;
	size_t		 got = 0;
	int		 fd, rc = CA_OK;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return ca_error_set(err, errno == ENOENT ? CA_ENOENT : CA_EIO,
		    "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		rc = ca_error_set(err, CA_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = ca_error_set(err, CA_EIO, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = ca_error_set(err, CA_ETOOBIG,
		    "%s: %lld bytes, over the limit of %zu", path,
		    (long long)st.st_size, max);
		goto out;
	}
	if ((buf = malloc_big((size_t)st.st_size + 1)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = ca_error_set(err, CA_EIO, "%s: short read", path);
			goto out;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	if (st_out != NULL)
		*st_out = st;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

int
file_read(const char *path, size_t max, uint8_t **out, size_t *len,
    struct ca_error *err)
{
	return file_read_stat(path, max, out, len, NULL, err);
}

int
fsync_dir_of(const char *path)
{
	char	*copy = strdup(path);
	int	 fd, rc = 0;

	if (copy == NULL)
		return -1;
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		rc = -1;
	else {
		rc = fsync(fd);
		close(fd);
	}
	free(copy);
	return rc;
}

int
file_lock(const char *path, void (*on_wait)(void *), void *arg, int *fd,
    struct ca_error *err)
{
	int	f, rc;

	*fd = -1;
	if ((f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return ca_error_set(err, CA_EIO, "cannot open the lock file "
		    "%s: %s", path, strerror(errno));
	while ((rc = flock(f, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
		;
	if (rc != 0 && errno == EWOULDBLOCK) {
		if (on_wait != NULL)
			on_wait(arg);
		while ((rc = flock(f, LOCK_EX)) != 0 && errno == EINTR)
			;
	}
	if (rc != 0) {
		rc = ca_error_set(err, CA_EIO, "cannot lock %s: %s", path,
		    strerror(errno));
		close(f);
		return rc;
	}
	*fd = f;
	return CA_OK;
}

void
file_unlock(int fd)
{
	if (fd >= 0)
		close(fd);	/* closing the last descriptor drops the lock */
}

int
file_atomic_open(struct file_atomic *f, const char *path, mode_t mode,
    int excl, struct ca_error *err)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->excl = excl;
	if (snprintf(f->path, sizeof(f->path), "%s", path) >=
	    (int)sizeof(f->path) || snprintf(f->tmp, sizeof(f->tmp),
	    "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(f->tmp))
		return ca_error_set(err, CA_EINVAL, "path too long: %s", path);
	if (excl && access(path, F_OK) == 0)
		return ca_error_set(err, CA_EEXIST, "%s already exists", path);
	f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, mode);
	if (f->fd < 0)
		return ca_error_set(err, CA_EIO, "%s: %s", f->tmp,
		    strerror(errno));
	if (fchmod(f->fd, mode) != 0) {
		int rc = ca_error_set(err, CA_EIO, "%s: %s", f->tmp,
		    strerror(errno));
		file_atomic_abort(f);
		return rc;
	}
	return CA_OK;
}

static int
file_atomic_fail(struct file_atomic *f, struct ca_error *err)
{
	int rc = ca_error_set(err, errno == ENOSPC ? CA_ESPACE : CA_EIO,
	    "writing %s: %s", f->path, strerror(errno));

	file_atomic_abort(f);
	return rc;
}

int
file_atomic_write(struct file_atomic *f, const void *buf, size_t len,
    struct ca_error *err)
{
	const uint8_t	*p = buf;
	size_t		 done = 0;

	if (f->fd < 0)
		return ca_error_set(err, CA_EINVAL, "writing %s: not open",
		    f->path);
	f->synced = false;
	while (done < len) {
		ssize_t w = write(f->fd, p + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return file_atomic_fail(f, err);
		}
		done += (size_t)w;
	}
	return CA_OK;
}

int
file_atomic_commit(struct file_atomic *f, struct stat *st,
    struct ca_error *err)
{
	int rc;

	if (f->fd < 0)
		return ca_error_set(err, CA_EINVAL, "writing %s: not open",
		    f->path);
	if (!f->synced && fsync(f->fd) != 0)
		return file_atomic_fail(f, err);
	if (f->excl) {
		/* link() refuses an existing target: no window between check
		   and use. */
		if (link(f->tmp, f->path) != 0) {
			rc = ca_error_set(err, errno == EEXIST ? CA_EEXIST :
			    CA_EIO, "%s: %s", f->path, strerror(errno));
			file_atomic_abort(f);
			return rc;
		}
		unlink(f->tmp);
	} else if (rename(f->tmp, f->path) != 0)
		return file_atomic_fail(f, err);
	f->tmp[0] = '\0';
	/* After the rename: it changes the file's ctime. */
	if (st != NULL && fstat(f->fd, st) != 0)
		return file_atomic_fail(f, err);
	rc = close(f->fd);
	f->fd = -1;
	if (rc != 0)
		return file_atomic_fail(f, err);
	if (fsync_dir_of(f->path) != 0)
		return ca_error_set(err, CA_EIO, "fsync of the directory of %s: %s",
		    f->path, strerror(errno));
	return CA_OK;
}

int
file_atomic_sync(struct file_atomic *f, struct ca_error *err)
{
	if (f->fd < 0)
		return ca_error_set(err, CA_EINVAL, "writing %s: not open",
		    f->path);
	if (fsync(f->fd) != 0)
		return file_atomic_fail(f, err);
	f->synced = true;
	return CA_OK;
}

void
file_atomic_abort(struct file_atomic *f)
{
	int saved = errno;

	if (f->fd >= 0)
		close(f->fd);
	if (f->fd >= 0 || f->tmp[0] != '\0')
		unlink(f->tmp);
	f->fd = -1;
	f->tmp[0] = '\0';
	errno = saved;
}

int
file_write_atomic(const char *path, const void *buf, size_t len, mode_t mode,
    int excl, struct ca_error *err)
{
	struct file_atomic	f;
	int			rc;

	if ((rc = file_atomic_open(&f, path, mode, excl, err)) != CA_OK ||
	    (rc = file_atomic_write(&f, buf, len, err)) != CA_OK)
		return rc;
	return file_atomic_commit(&f, NULL, err);
}

int
dir_make(const char *path, mode_t mode, struct ca_error *err)
{
	char		buf[4096];
	struct stat	st;
	size_t		n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return ca_error_set(err, CA_EINVAL, "bad directory path");
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return ca_error_set(err, CA_EIO, "mkdir %s: %s", buf,
			    strerror(errno));
		buf[i] = path[i];
	}
	/* mkdir's EEXIST does not say the existing thing is a directory. */
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return ca_error_set(err, CA_EIO, "%s is not a directory", path);
	return CA_OK;
}

int
path_join(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	return (n < 0 || (size_t)n >= size) ? CA_ETOOBIG : CA_OK;
}

bool
utf8_valid(const uint8_t *s, size_t n, bool no_controls)
{
	for (size_t i = 0; i < n;) {
		uint32_t	c = s[i];
		size_t		k;

		if (c < 0x80) {
			if (no_controls && (c < 0x20 || c == 0x7f))
				return false;
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			k = 1, c &= 0x1f;
		else if ((c & 0xf0) == 0xe0)
			k = 2, c &= 0x0f;
		else if ((c & 0xf8) == 0xf0)
			k = 3, c &= 0x07;
		else
			return false;
		if (k > n - i - 1)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			c = (c << 6) | (s[i + j] & 0x3f);
		}
		/* overlong, surrogates, beyond Unicode */
		if ((k == 1 && c < 0x80) || (k == 2 && c < 0x800) ||
		    (k == 3 && c < 0x10000) || c > 0x10ffff ||
		    (c >= 0xd800 && c <= 0xdfff))
			return false;
		if (no_controls && c < 0xa0)	/* C1 */
			return false;
		i += k + 1;
	}
	return true;
}

bool
subject_cn(const char *subject, char *out, size_t size)
{
	const char *p = subject;

	if (out == NULL || size == 0)
		return false;
	while (p != NULL && *p != '\0') {
		bool at_cn = (p[0] == 'C' || p[0] == 'c') &&
		    (p[1] == 'N' || p[1] == 'n') && p[2] == '=';
		size_t o = 0;

		if (at_cn)
			p += 3;
		while (*p != '\0' && *p != ',' && *p != '+') {
			if (*p == '\\' && p[1] != '\0')
				p++;
			if (at_cn && o + 1 < size)
				out[o++] = *p;
			p++;
		}
		if (at_cn) {
			out[o] = '\0';
			return true;
		}
		if (*p != '\0')
			p++;
	}
	return false;
}

int64_t
backoff_delay(int64_t base, int64_t max, unsigned k, uint32_t rnd)
{
	int64_t	 d = base;

	for (unsigned i = 1; i < k && d < max; i++)
		d = d > INT64_MAX / 2 ? max : d * 2;
	if (d > max)
		d = max;
	return d / 2 + (int64_t)(rnd % (uint64_t)(d - d / 2 + 1));
}
