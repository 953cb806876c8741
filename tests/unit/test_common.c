/*
 * Unit tests of common/: serial numbers as text, bounded number and duration
 * parsing, RFC 3339 times, atomic file writes and capped reads.
 */
#include <fcntl.h>
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

#include "common/err.h"
#include "common/util.h"

/* Parse text and compare with the expected content bytes. */
static void
serial_ok(const char *text, const uint8_t *want, size_t want_len)
{
	uint8_t		out[SERIAL_MAX + 1];
	size_t		len = 0;
	struct ca_error	e;

	ca_error_clear(&e);
	assert_int_equal(serial_parse(text, out, &len, &e), CA_OK);
	assert_int_equal(len, want_len);
	assert_memory_equal(out, want, want_len);
}

static void
serial_bad(const char *text)
{
	uint8_t		out[SERIAL_MAX + 1];
	size_t		len = 12345;
	struct ca_error	e;

	memset(out, 0xAA, sizeof(out));
	ca_error_clear(&e);
	assert_int_equal(serial_parse(text, out, &len, &e), CA_EMALF);
	assert_int_equal(e.code, CA_EMALF);
	assert_true(strlen(e.msg) > 0);
	/* Outputs are written only on success. */
	assert_int_equal(len, 12345);
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], 0xAA);
}

static void
test_serial_parse(void **state)
{
	static const uint8_t s1[] = { 0x01, 0x23, 0xab };
	static const uint8_t s2[] = { 0x00, 0x80 };
	static const uint8_t s3[] = { 0x7f };
	static const uint8_t s4[] = { 0x0a, 0xbc };
	static const uint8_t s5[] = { 0x01 };
	uint8_t	twenty[SERIAL_MAX], padded[SERIAL_MAX + 1];
	char	text[128];

	(void)state;
	serial_ok("0123AB", s1, sizeof(s1));
	serial_ok("0123ab", s1, sizeof(s1));		/* lower case */
	serial_ok("01:23:ab", s1, sizeof(s1));		/* colons */
	serial_ok("0x0123AB", s1, sizeof(s1));		/* 0x prefix */
	serial_ok("0X01:23:Ab", s1, sizeof(s1));
	serial_ok("000000123ab", s1, sizeof(s1));	/* leading zeros */
	serial_ok("80", s2, sizeof(s2));		/* top bit: sign pad */
	serial_ok("0080", s2, sizeof(s2));
	serial_ok("7f", s3, sizeof(s3));
	serial_ok("abc", s4, sizeof(s4));		/* odd digit count */
	serial_ok("1", s5, sizeof(s5));

	/* 20 octets of value: the maximum; with the top bit set, 21 content
	   octets (value + sign pad). */
	memset(twenty, 0x11, sizeof(twenty));
	memset(text, '1', 40);
	text[40] = '\0';
	serial_ok(text, twenty, sizeof(twenty));
	memset(text, 'F', 40);
	padded[0] = 0;
	memset(padded + 1, 0xff, SERIAL_MAX);
	serial_ok(text, padded, sizeof(padded));
	/* Leading zeros do not count towards the 20 octets. */
	memset(text, '0', 10);
	memset(text + 10, '1', 40);
	text[50] = '\0';
	serial_ok(text, twenty, sizeof(twenty));
	/* 21 octets of value are refused, top bit or not. */
	memset(text, '1', 42);
	text[42] = '\0';
	serial_bad(text);
	memset(text, '1', 41);
	text[41] = '\0';
	serial_bad(text);

	serial_bad("");
	serial_bad("0");		/* zero is not a valid serial */
	serial_bad("00:00");
	serial_bad("0x");
	serial_bad("0x0");
	serial_bad(":");
	serial_bad("12G4");		/* junk */
	serial_bad("-1");
	serial_bad(" 12");
	serial_bad("12 ");
	serial_bad("0x-12");
	assert_int_equal(serial_parse(NULL, twenty, &(size_t){0}, NULL),
	    CA_EMALF);
}

static void
test_serial_format(void **state)
{
	static const uint8_t	s1[] = { 0x01, 0x23, 0xab };
	static const uint8_t	s2[] = { 0x00, 0x80 };
	static const uint8_t	s3[] = { 0x0a };
	uint8_t			big[SERIAL_MAX + 1], back[SERIAL_MAX + 1];
	char			out[SERIAL_HEX_MAX + 2];
	size_t			len;

	(void)state;
	serial_format(s1, sizeof(s1), out);
	assert_string_equal(out, "0123AB");
	/* ALB's form: upper case, no sign pad, no separators. */
	serial_format(s2, sizeof(s2), out);
	assert_string_equal(out, "80");
	serial_format(s3, sizeof(s3), out);
	assert_string_equal(out, "0A");

	big[0] = 0;
	for (size_t i = 1; i < sizeof(big); i++)
		big[i] = (uint8_t)(0x80 + i);
	serial_format(big, sizeof(big), out);
	assert_int_equal(strlen(out), 40);
	assert_int_equal(serial_parse(out, back, &len, NULL), CA_OK);
	assert_int_equal(len, sizeof(big));
	assert_memory_equal(back, big, sizeof(big));
}

static void
test_parse_u64(void **state)
{
	uint64_t v = 77;

	(void)state;
	assert_int_equal(parse_u64("0", 0, 10, &v), CA_OK);
	assert_int_equal(v, 0);
	assert_int_equal(parse_u64("18446744073709551615", 0, UINT64_MAX, &v),
	    CA_OK);
	assert_true(v == UINT64_MAX);
	v = 77;
	assert_int_equal(parse_u64("18446744073709551616", 0, UINT64_MAX, &v),
	    CA_EINVAL);
	assert_int_equal(parse_u64("99999999999999999999", 0, UINT64_MAX, &v),
	    CA_EINVAL);
	assert_int_equal(parse_u64("184467440737095516150", 0, UINT64_MAX,
	    &v), CA_EINVAL);
	assert_int_equal(v, 77);
	assert_int_equal(parse_u64("11", 0, 10, &v), CA_EINVAL);
	assert_int_equal(parse_u64("4", 5, 10, &v), CA_EINVAL);
	assert_int_equal(parse_u64("", 0, 10, &v), CA_EINVAL);
	assert_int_equal(parse_u64(NULL, 0, 10, &v), CA_EINVAL);
	assert_int_equal(parse_u64("-1", 0, 10, &v), CA_EINVAL);
	assert_int_equal(parse_u64("+1", 0, 10, &v), CA_EINVAL);
	assert_int_equal(parse_u64(" 1", 0, 10, &v), CA_EINVAL);
	assert_int_equal(parse_u64("1 ", 0, 10, &v), CA_EINVAL);
	assert_int_equal(parse_u64("0x1", 0, 10, &v), CA_EINVAL);
	assert_int_equal(v, 77);
	assert_int_equal(parse_u64("10", 0, 10, &v), CA_OK);
	assert_int_equal(v, 10);
}

static void
test_parse_duration(void **state)
{
	int64_t s = -1;

	(void)state;
	assert_int_equal(parse_duration("90", &s), CA_OK);
	assert_int_equal(s, 90);
	assert_int_equal(parse_duration("90s", &s), CA_OK);
	assert_int_equal(s, 90);
	assert_int_equal(parse_duration("15m", &s), CA_OK);
	assert_int_equal(s, 900);
	assert_int_equal(parse_duration("24h", &s), CA_OK);
	assert_int_equal(s, 86400);
	assert_int_equal(parse_duration("7d", &s), CA_OK);
	assert_int_equal(s, 7 * 86400);
	assert_int_equal(parse_duration("2w", &s), CA_OK);
	assert_int_equal(s, 14 * 86400);
	assert_int_equal(parse_duration("0", &s), CA_OK);
	assert_int_equal(s, 0);
	/* 100 years at most. */
	assert_int_equal(parse_duration("36600d", &s), CA_OK);
	assert_int_equal(s, 36600LL * 86400);
	s = -1;
	assert_int_equal(parse_duration("36601d", &s), CA_EINVAL);
	assert_int_equal(parse_duration("99999999999999999999d", &s),
	    CA_EINVAL);
	assert_int_equal(parse_duration("", &s), CA_EINVAL);
	assert_int_equal(parse_duration("d", &s), CA_EINVAL);
	assert_int_equal(parse_duration("1y", &s), CA_EINVAL);
	assert_int_equal(parse_duration("-1d", &s), CA_EINVAL);
	assert_int_equal(parse_duration("1.5h", &s), CA_EINVAL);
	assert_int_equal(parse_duration("1 h", &s), CA_EINVAL);
	assert_int_equal(parse_duration("1hh", &s), CA_EINVAL);
	assert_int_equal(parse_duration(NULL, &s), CA_EINVAL);
	assert_int_equal(s, -1);
}

static void
time_round_trip(const char *text, int64_t want)
{
	int64_t	t = -1;
	char	out[21];

	assert_int_equal(time_parse(text, &t), CA_OK);
	assert_true(t == want);
	time_format(t, out);
	assert_string_equal(out, text);
}

static void
test_time(void **state)
{
	int64_t	t = 42;
	char	out[21];

	(void)state;
	time_round_trip("1970-01-01T00:00:00Z", 0);
	time_round_trip("2000-02-29T12:00:00Z", 951825600);	/* leap day */
	time_round_trip("2024-02-29T00:00:00Z", 1709164800);
	time_round_trip("2026-11-29T03:41:29Z", 1795923689);
	/* The UTCTime / GeneralizedTime boundary of RFC 5280 §4.1.2.5. */
	time_round_trip("2049-12-31T23:59:59Z", 2524607999);
	time_round_trip("2050-01-01T00:00:00Z", 2524608000);
	time_round_trip("9999-12-31T23:59:59Z", 253402300799);
	assert_int_equal(time_parse("2026-11-29 03:41:29Z", &t), CA_OK);
	assert_true(t == 1795923689);

	t = 42;
	/* No February 29 outside leap years (1900 and 2100 are not). */
	assert_int_equal(time_parse("2025-02-29T00:00:00Z", &t), CA_EINVAL);
	assert_int_equal(time_parse("1900-02-29T00:00:00Z", &t), CA_EINVAL);
	assert_int_equal(time_parse("2100-02-29T00:00:00Z", &t), CA_EINVAL);
	assert_int_equal(time_parse("2026-04-31T00:00:00Z", &t), CA_EINVAL);
	assert_int_equal(time_parse("2026-13-01T00:00:00Z", &t), CA_EINVAL);
	assert_int_equal(time_parse("2026-00-01T00:00:00Z", &t), CA_EINVAL);
	assert_int_equal(time_parse("2026-01-00T00:00:00Z", &t), CA_EINVAL);
	assert_int_equal(time_parse("2026-01-01T24:00:00Z", &t), CA_EINVAL);
	assert_int_equal(time_parse("2026-01-01T00:60:00Z", &t), CA_EINVAL);
	assert_int_equal(time_parse("2026-01-01T00:00:60Z", &t), CA_EINVAL);
	assert_int_equal(time_parse("2026-01-01T00:00:00", &t), CA_EINVAL);
	assert_int_equal(time_parse("2026-01-01T00:00:00+", &t), CA_EINVAL);
	assert_int_equal(time_parse("2026-01-01X00:00:00Z", &t), CA_EINVAL);
	assert_int_equal(time_parse("2026-01-01T00:00:00ZZ", &t), CA_EINVAL);
	/* Signs and spaces that sscanf would have taken. */
	assert_int_equal(time_parse("+202-01-01T00:00:00Z", &t), CA_EINVAL);
	assert_int_equal(time_parse("2026- 1-01T00:00:00Z", &t), CA_EINVAL);
	assert_int_equal(time_parse("2026-01-01T+1:00:00Z", &t), CA_EINVAL);
	assert_int_equal(time_parse("", &t), CA_EINVAL);
	assert_int_equal(time_parse(NULL, &t), CA_EINVAL);
	assert_true(t == 42);

	/* RFC 3339 offsets: converted to UTC. */
	assert_int_equal(time_parse("2026-12-05T09:00:00+09:00", &t), CA_OK);
	assert_true(t == 1796428800);	/* 2026-12-05T00:00:00Z */
	assert_int_equal(time_parse("2026-12-04T18:30:00-05:30", &t), CA_OK);
	assert_true(t == 1796428800);
	assert_int_equal(time_parse("2026-12-05T00:00:00-00:00", &t), CA_OK);
	assert_true(t == 1796428800);	/* RFC 3339 §4.3: UTC */
	assert_int_equal(time_parse("2026-12-05t00:00:00z", &t), CA_OK);
	assert_true(t == 1796428800);
	assert_int_equal(time_parse("2026-12-05T00:00:00.999Z", &t), CA_OK);
	assert_true(t == 1796428800);	/* fractions dropped */
	assert_int_equal(time_parse("2026-12-05T09:00:00.5+09:00", &t), CA_OK);
	assert_true(t == 1796428800);
	/* Offset bounds: 23:59 either way, across a day and a year. */
	assert_int_equal(time_parse("2026-01-01T00:00:00+23:59", &t), CA_OK);
	assert_true(t == 1767225600 - 86340);
	assert_int_equal(time_parse("2025-12-31T23:59:59-23:59", &t), CA_OK);
	assert_true(t == 1767225599 + 86340);
	/* A leap day in local time that is February 28 in UTC. */
	assert_int_equal(time_parse("2024-02-29T08:00:00+09:00", &t), CA_OK);
	time_format(t, out);
	assert_string_equal(out, "2024-02-28T23:00:00Z");
	/* ... and March 1 local time that is the leap day in UTC. */
	assert_int_equal(time_parse("2024-03-01T01:00:00+05:00", &t), CA_OK);
	time_format(t, out);
	assert_string_equal(out, "2024-02-29T20:00:00Z");
	/* The leap day must exist in its own (local) calendar. */
	t = 42;
	assert_int_equal(time_parse("2025-02-29T08:00:00+09:00", &t),
	    CA_EINVAL);
	assert_int_equal(time_parse("2026-01-01T00:00:00+24:00", &t),
	    CA_EINVAL);
	assert_int_equal(time_parse("2026-01-01T00:00:00+09:60", &t),
	    CA_EINVAL);
	assert_int_equal(time_parse("2026-01-01T00:00:00-99:00", &t),
	    CA_EINVAL);
	/* ISO 8601 basic and short forms are not RFC 3339. */
	assert_int_equal(time_parse("2026-01-01T00:00:00+0900", &t), CA_EINVAL);
	assert_int_equal(time_parse("2026-01-01T00:00:00+09", &t), CA_EINVAL);
	assert_int_equal(time_parse("2026-01-01T00:00:00+9:00", &t),
	    CA_EINVAL);
	assert_int_equal(time_parse("2026-01-01T00:00:00+09:00Z", &t),
	    CA_EINVAL);
	assert_int_equal(time_parse("2026-01-01T00:00:00 +09:00", &t),
	    CA_EINVAL);
	assert_int_equal(time_parse("2026-01-01T00:00:00.Z", &t), CA_EINVAL);
	assert_int_equal(time_parse("2026-01-01T00:00:00,5Z", &t), CA_EINVAL);
	assert_int_equal(time_parse("2026-01-01T00:00:00+09:0a", &t),
	    CA_EINVAL);
	assert_true(t == 42);

	time_format(1709251199, out);		/* the second before March */
	assert_string_equal(out, "2024-02-29T23:59:59Z");
}

static void
test_fake_now(void **state)
{
	(void)state;
	setenv("MTLSCA_FAKE_NOW", "2030-06-01T00:00:00Z", 1);
	assert_true(time_now() == 1906502400);
	unsetenv("MTLSCA_FAKE_NOW");
	assert_true(time_now() > 1700000000);
}

static char tmpdir[64];

static int
setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mtlsca-common-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_file_write_read(void **state)
{
	char		 path[256], tmp[300];
	uint8_t		*buf = NULL;
	size_t		 len = 0;
	struct stat	 sb;
	struct ca_error	 e;

	(void)state;
	assert_int_equal(path_join(path, sizeof(path), tmpdir, "f.txt"),
	    CA_OK);
	assert_int_equal(file_write_atomic(path, "hello", 5, 0600, 1, &e),
	    CA_OK);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* No temporary left behind. */
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	assert_int_not_equal(access(tmp, F_OK), 0);

	/* excl refuses an existing file and leaves it alone. */
	ca_error_clear(&e);
	assert_int_equal(file_write_atomic(path, "other", 5, 0600, 1, &e),
	    CA_EEXIST);
	assert_int_equal(e.code, CA_EEXIST);
	assert_int_not_equal(access(tmp, F_OK), 0);
	assert_int_equal(file_read(path, 100, &buf, &len, &e), CA_OK);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(buf[5], '\0');
	free(buf);
	buf = NULL;

	/* Without excl it replaces, with the new mode. */
	assert_int_equal(file_write_atomic(path, "bye", 3, 0644, 0, &e),
	    CA_OK);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	assert_int_equal(file_read(path, 3, &buf, &len, &e), CA_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "bye", 3);
	free(buf);
	buf = NULL;

	/* The cap: one byte over is refused with a sentence. */
	ca_error_clear(&e);
	assert_int_equal(file_read(path, 2, &buf, &len, &e), CA_ETOOBIG);
	assert_null(buf);
	assert_non_null(strstr(e.msg, path));

	/* Empty file. */
	assert_int_equal(file_write_atomic(path, "", 0, 0600, 0, &e), CA_OK);
	assert_int_equal(file_read(path, 0, &buf, &len, &e), CA_OK);
	assert_int_equal(len, 0);
	assert_int_equal(buf[0], '\0');
	free(buf);
	buf = NULL;

	/* Missing file and directory. */
	assert_int_equal(path_join(path, sizeof(path), tmpdir, "none"), CA_OK);
	assert_int_equal(file_read(path, 10, &buf, &len, &e), CA_ENOENT);
	assert_int_equal(file_read(tmpdir, 10, &buf, &len, &e), CA_EIO);
	assert_null(buf);

	/* A directory that does not exist cannot be written into. */
	assert_int_equal(path_join(path, sizeof(path), tmpdir, "no/such"),
	    CA_OK);
	assert_int_equal(file_write_atomic(path, "x", 1, 0600, 0, &e), CA_EIO);
}

/*
 * A file written in pieces: nothing at the path until the commit, which
 * reports the stat of the file as it is then (ctime after the rename);
 * an abort leaves neither file nor temporary; excl refuses an existing
 * path at the commit too. file_read_stat describes the bytes it read,
 * and malloc_big's huge-page buffers are freed and realloc'd as malloc's.
 */
static void
test_file_atomic(void **state)
{
	struct file_atomic	 f;
	struct stat		 st, sb;
	struct ca_error		 e;
	char			 path[256], tmp[300];
	uint8_t			*buf = NULL, *big;
	size_t			 len = 0;

	(void)state;
	assert_int_equal(path_join(path, sizeof(path), tmpdir, "pieces"),
	    CA_OK);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	assert_int_equal(file_atomic_open(&f, path, 0640, 0, &e), CA_OK);
	assert_int_equal(file_atomic_write(&f, "one ", 4, &e), CA_OK);
	assert_int_equal(file_atomic_write(&f, "two", 3, &e), CA_OK);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_int_equal(access(tmp, F_OK), 0);
	assert_int_equal(file_atomic_commit(&f, &st, &e), CA_OK);
	file_atomic_abort(&f);		/* harmless after a commit */
	assert_int_not_equal(access(tmp, F_OK), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(st.st_ino, sb.st_ino);
	assert_int_equal(st.st_size, 7);
	assert_int_equal(sb.st_mode & 0777, 0640);
	assert_int_equal(st.st_ctim.tv_sec, sb.st_ctim.tv_sec);
	assert_int_equal(st.st_ctim.tv_nsec, sb.st_ctim.tv_nsec);
	assert_int_equal(file_read(path, 100, &buf, &len, &e), CA_OK);
	assert_int_equal(len, 7);
	assert_memory_equal(buf, "one two", 7);
	free(buf);
	buf = NULL;

	/* Given up: the old file stays, no temporary. */
	assert_int_equal(file_atomic_open(&f, path, 0644, 0, &e), CA_OK);
	assert_int_equal(file_atomic_write(&f, "three", 5, &e), CA_OK);
	file_atomic_abort(&f);
	assert_int_not_equal(access(tmp, F_OK), 0);
	assert_int_equal(file_read_stat(path, 100, &buf, &len, &sb, &e),
	    CA_OK);
	assert_int_equal(len, 7);
	assert_int_equal(sb.st_ino, st.st_ino);
	free(buf);
	buf = NULL;

	/* excl: refused at the open, and at the commit when the path
	   appeared in between. */
	assert_int_equal(file_atomic_open(&f, path, 0644, 1, &e), CA_EEXIST);
	assert_int_equal(path_join(path, sizeof(path), tmpdir, "pieces.x"),
	    CA_OK);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	assert_int_equal(file_atomic_open(&f, path, 0644, 1, &e), CA_OK);
	{
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);

		assert_true(fd >= 0);
		close(fd);
	}
	assert_int_equal(file_atomic_commit(&f, NULL, &e), CA_EEXIST);
	assert_int_not_equal(access(tmp, F_OK), 0);

	/* A buffer of megabytes: written over, grown, freed. */
	assert_non_null(big = malloc_big(5u << 20));
	assert_int_equal((uintptr_t)big % MALLOC_BIG_PAGE, 0);
	memset(big, 0xa5, 5u << 20);
	assert_non_null(big = realloc(big, 9u << 20));
	assert_int_equal(big[(5u << 20) - 1], 0xa5);
	free(big);
}

static void
test_dir_make(void **state)
{
	char		path[256], file[256];
	struct stat	sb;
	struct ca_error	e;

	(void)state;
	snprintf(path, sizeof(path), "%s/a/b/c", tmpdir);
	assert_int_equal(dir_make(path, 0700, &e), CA_OK);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(dir_make(path, 0700, &e), CA_OK);	/* again */
	snprintf(file, sizeof(file), "%s/a/file", tmpdir);
	assert_int_equal(file_write_atomic(file, "x", 1, 0600, 0, &e), CA_OK);
	assert_int_equal(dir_make(file, 0700, &e), CA_EIO);

	assert_int_equal(path_join(path, 8, "abc", "def"), CA_OK);
	assert_string_equal(path, "abc/def");
	assert_int_equal(path_join(path, 7, "abc", "def"), CA_ETOOBIG);
}

/* utf8_valid: RFC 3629's refusals, and controls only when asked. */
static void
test_utf8_valid(void **state)
{
	static const struct {
		const char	*s;
		bool		 any, clean;	/* no_controls false, true */
	} cases[] = {
		{ "", true, true },
		{ "plain ASCII", true, true },
		{ "caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x94\x91", true, true },
		{ "tab\there", true, false },		/* C0 */
		{ "del\x7f", true, false },
		{ "c1\xc2\x85", true, false },		/* U+0085 */
		{ "nbsp\xc2\xa0", true, true },		/* U+00A0, first after C1 */
		{ "\xc0\xaf", false, false },		/* overlong '/' */
		{ "\xe0\x80\xaf", false, false },	/* overlong, 3 bytes */
		{ "\xed\xa0\x80", false, false },	/* surrogate U+D800 */
		{ "\xf4\x90\x80\x80", false, false },	/* U+110000 */
		{ "\xf4\x8f\xbf\xbf", true, true },	/* U+10FFFF */
		{ "cut\xe6\x9d", false, false },	/* truncated */
		{ "\x80", false, false },		/* lone continuation */
		{ "\xe6x\xb1", false, false },		/* bad continuation */
		{ "\xf8\x88\x80\x80\x80", false, false },	/* 5 bytes */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const uint8_t	*s = (const uint8_t *)cases[i].s;
		size_t		 n = strlen(cases[i].s);

		if (utf8_valid(s, n, false) != cases[i].any ||
		    utf8_valid(s, n, true) != cases[i].clean)
			fail_msg("case %zu", i);
	}
	/* A NUL inside is a C0 control. */
	assert_true(utf8_valid((const uint8_t *)"a\0b", 3, false));
	assert_false(utf8_valid((const uint8_t *)"a\0b", 3, true));
}

static void
count_wait(void *arg)
{
	(*(int *)arg)++;
}

/*
 * file_lock: free, it takes the lock without waiting; held by another
 * process, it says so once and returns only after that process let go.
 */
static void
test_file_lock(void **state)
{
	char		 path[256], done[300];
	struct stat	 sb;
	struct ca_error	 e;
	int		 fd = -1, fd2 = -1, waits = 0, sync[2], status;
	pid_t		 child;
	char		 c;

	(void)state;
	snprintf(path, sizeof(path), "%s/crl.lock", tmpdir);
	snprintf(done, sizeof(done), "%s/released", tmpdir);
	assert_int_equal(file_lock(path, count_wait, &waits, &fd, &e), CA_OK);
	assert_true(fd >= 0);
	assert_int_equal(waits, 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	file_unlock(fd);

	assert_int_equal(pipe(sync), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int f = -1;

		if (file_lock(path, NULL, NULL, &f, NULL) != CA_OK)
			_exit(1);
		(void)!write(sync[1], "L", 1);	/* held */
		usleep(300 * 1000);
		/* Mark the release before it happens: once the parent has
		 * the lock, the mark must be there. */
		if (file_write_atomic(done, "x", 1, 0600, 0, NULL) != CA_OK)
			_exit(1);
		file_unlock(f);
		_exit(0);
	}
	assert_int_equal(read(sync[0], &c, 1), 1);
	assert_int_equal(file_lock(path, count_wait, &waits, &fd2, &e), CA_OK);
	assert_int_equal(waits, 1);
	assert_int_equal(stat(done, &sb), 0);
	file_unlock(fd2);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(sync[0]);
	close(sync[1]);

	/* A directory that does not exist: a sentence naming the path. */
	snprintf(path, sizeof(path), "%s/missing/crl.lock", tmpdir);
	assert_int_equal(file_lock(path, NULL, NULL, &fd, &e), CA_EIO);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(e.msg, path));
	file_unlock(-1);	/* a no-op */
}

static void
test_errors(void **state)
{
	struct ca_error	e;
	char		long_text[600];

	(void)state;
	assert_string_equal(ca_strerror(CA_ESPACE), "store full");
	assert_string_equal(ca_errname(CA_EMALF), "malformed");
	assert_string_equal(ca_strerror(-999), "unknown error");
	assert_string_equal(ca_errname(-999), "internal");
	assert_int_equal(ca_error_set(NULL, CA_EIO, "x"), CA_EIO);
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	assert_int_equal(ca_error_set(&e, CA_EINVAL, "%s", long_text),
	    CA_EINVAL);
	assert_int_equal(e.code, CA_EINVAL);
	assert_int_equal(strlen(e.msg), sizeof(e.msg) - 1);
	ca_error_clear(&e);
	assert_int_equal(e.code, CA_OK);
	assert_string_equal(e.msg, "");
	ca_error_clear(NULL);
	/* A refusal names its rule; a plain error, or a cleared one, none. */
	assert_int_equal(ca_refuse(&e, CA_EPOLICY, "some_rule", "no %d", 7),
	    CA_EPOLICY);
	assert_int_equal(e.code, CA_EPOLICY);
	assert_string_equal(e.reason, "some_rule");
	assert_string_equal(e.msg, "no 7");
	assert_int_equal(ca_error_set(&e, CA_EIO, "disk"), CA_EIO);
	assert_null(e.reason);
	ca_refuse(&e, CA_EPOLICY, "some_rule", "no");
	ca_error_clear(&e);
	assert_null(e.reason);
	assert_int_equal(ca_refuse(NULL, CA_EAUTH, "x", "y"), CA_EAUTH);
}

static void
test_hex(void **state)
{
	static const uint8_t	bytes[4] = { 0x00, 0x7f, 0xa5, 0xff };
	uint8_t			out[4], keep[4] = { 1, 2, 3, 4 };
	char			text[9];

	(void)state;
	hex_format(bytes, 4, text);
	assert_string_equal(text, "007fa5ff");
	hex_format(bytes, 0, text);
	assert_string_equal(text, "");
	assert_int_equal(hex_parse_exact("007FA5ff", out, 4), CA_OK);
	assert_memory_equal(out, bytes, 4);
	/* openssl's fingerprint form, separators anywhere */
	assert_int_equal(hex_parse_exact("00:7F:A5:FF", out, 4), CA_OK);
	assert_memory_equal(out, bytes, 4);
	assert_int_equal(hex_parse_exact("0:07fa5ff:", out, 4), CA_OK);
	assert_memory_equal(out, bytes, 4);
	/* exactly 2n digits, hex only; out untouched on failure */
	memcpy(out, keep, 4);
	assert_int_equal(hex_parse_exact("007fa5", out, 4), CA_EMALF);
	assert_int_equal(hex_parse_exact("007fa5ff00", out, 4), CA_EMALF);
	assert_int_equal(hex_parse_exact("007fa5f", out, 4), CA_EMALF);
	assert_int_equal(hex_parse_exact("007fa5fg", out, 4), CA_EMALF);
	assert_int_equal(hex_parse_exact("007fa5 f", out, 4), CA_EMALF);
	assert_int_equal(hex_parse_exact("", out, 4), CA_EMALF);
	assert_int_equal(hex_parse_exact(NULL, out, 4), CA_EMALF);
	assert_memory_equal(out, keep, 4);
}

/* 5 s doubling to 5 min, each wait anywhere in [d/2, d]. */
static void
test_backoff(void **state)
{
	static const int64_t d[] = { 5000, 10000, 20000, 40000, 80000, 160000,
	    300000, 300000, 300000 };
	(void)state;

	for (unsigned k = 1; k <= 9; k++) {
		assert_int_equal(backoff_delay(5000, 300000, k, 0),
		    d[k - 1] / 2);
		assert_int_equal(backoff_delay(5000, 300000, k,
		    (uint32_t)(d[k - 1] / 2)), d[k - 1]);
		for (uint32_t r = 0; r < 100000; r += 7919) {
			int64_t w = backoff_delay(5000, 300000, k, r);

			assert_true(w >= d[k - 1] / 2 && w <= d[k - 1]);
		}
	}
	/* No overflow however long the streak. */
	assert_int_equal(backoff_delay(5000, 300000, 4000000000u, 0), 150000);
	assert_int_equal(backoff_delay(1, 1, 1, 12345), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serial_parse),
		cmocka_unit_test(test_serial_format),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_fake_now),
		cmocka_unit_test_setup_teardown(test_file_write_read,
		    setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_dir_make, setup_dir,
		    teardown_dir),
		cmocka_unit_test_setup_teardown(test_file_atomic, setup_dir,
		    teardown_dir),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test_setup_teardown(test_file_lock, setup_dir,
		    teardown_dir),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
