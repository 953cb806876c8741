/*
 * Unit tests of common/archive.c: round trips, GNU tar as an independent
 * reader (and writer) of the same files, and hostile archives (names that
 * leave the directory, links, bad checksums, truncation).
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
#include <unistd.h>

#include <cmocka.h>

#include "common/archive.h"
#include "common/err.h"

struct acc {
	uint8_t	buf[200000];
	size_t	n;
};

static int
acc_sink(void *ctx, const uint8_t *p, size_t n)
{
	struct acc *a = ctx;

	assert_true(a->n + n <= sizeof(a->buf));
	memcpy(a->buf + a->n, p, n);
	a->n += n;
	return 0;
}

static char tmpdir[64];

static int
setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mtlsca-archive-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_names(void **state)
{
	assert_true(archive_name_ok("manifest.json"));
	assert_true(archive_name_ok("db/data.mdb"));
	assert_true(archive_name_ok("public/crl.der"));
	assert_false(archive_name_ok(""));
	assert_false(archive_name_ok("/etc/passwd"));
	assert_false(archive_name_ok("../x"));
	assert_false(archive_name_ok("a/../../x"));
	assert_false(archive_name_ok("a/./x"));
	assert_false(archive_name_ok("a//x"));
	assert_false(archive_name_ok("dir/"));
	assert_false(archive_name_ok("a b"));
	assert_false(archive_name_ok("a\\b"));
}

/* Write two members (one from memory, one from a file), read them back
   with our reader and with tar. */
static void
test_round_trip(void **state)
{
	static uint8_t	 big[70001];
	struct archive_entry e;
	struct acc	*a = calloc(1, sizeof(*a));
	struct ca_error	 err;
	char		 path[128], src[128], cmd[512], line[256];
	int		 out, in, fd;
	FILE		*p;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	snprintf(src, sizeof(src), "%s/src.bin", tmpdir);
	fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
	close(fd);

	snprintf(path, sizeof(path), "%s/a.tar", tmpdir);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(out >= 0);
	assert_int_equal(archive_put(out, "manifest.json", 0644, 1700000000,
	    -1, "{}\n", 3, NULL, NULL, &err), CA_OK);
	in = open(src, O_RDONLY);
	a->n = 0;
	assert_int_equal(archive_put(out, "db/data.mdb", 0600, 1700000000, in,
	    NULL, sizeof(big), acc_sink, a, &err), CA_OK);
	/* The sink saw every byte, in order. */
	assert_int_equal(a->n, sizeof(big));
	assert_memory_equal(a->buf, big, sizeof(big));
	close(in);
	/* A file shorter than announced is an error, not a short member. */
	in = open(src, O_RDONLY);
	assert_int_equal(archive_put(out, "x", 0600, 0, in, NULL,
	    sizeof(big) + 1, NULL, NULL, &err), CA_EIO);
	close(in);
	close(out);

	/* Again, clean, and read back. */
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(archive_put(out, "manifest.json", 0644, 1700000000,
	    -1, "{}\n", 3, NULL, NULL, &err), CA_OK);
	in = open(src, O_RDONLY);
	assert_int_equal(archive_put(out, "db/data.mdb", 0600, 1700000000, in,
	    NULL, sizeof(big), NULL, NULL, &err), CA_OK);
	close(in);
	assert_int_equal(archive_end(out, &err), CA_OK);
	close(out);

	in = open(path, O_RDONLY);
	assert_int_equal(archive_next(in, &e, &err), CA_OK);
	assert_string_equal(e.name, "manifest.json");
	assert_int_equal(e.size, 3);
	assert_int_equal(e.mode, 0644);
	assert_int_equal(e.mtime, 1700000000);
	a->n = 0;
	assert_int_equal(archive_data(in, &e, acc_sink, a, &err), CA_OK);
	assert_int_equal(a->n, 3);
	assert_memory_equal(a->buf, "{}\n", 3);
	assert_int_equal(archive_next(in, &e, &err), CA_OK);
	assert_string_equal(e.name, "db/data.mdb");
	assert_int_equal(e.size, sizeof(big));
	a->n = 0;
	assert_int_equal(archive_data(in, &e, acc_sink, a, &err), CA_OK);
	assert_memory_equal(a->buf, big, sizeof(big));
	assert_int_equal(archive_next(in, &e, &err), CA_ENOENT);
	close(in);

	/* GNU tar reads it: names, sizes, and the bytes. */
	snprintf(cmd, sizeof(cmd), "tar -tvf '%s' 2>&1", path);
	p = popen(cmd, "r");
	assert_non_null(fgets(line, sizeof(line), p));
	assert_non_null(strstr(line, "manifest.json"));
	assert_non_null(fgets(line, sizeof(line), p));
	assert_non_null(strstr(line, "70001"));
	assert_non_null(strstr(line, "db/data.mdb"));
	assert_int_equal(pclose(p), 0);
	snprintf(cmd, sizeof(cmd), "cd '%s' && mkdir x && tar -xf a.tar -C x "
	    "&& cmp x/db/data.mdb src.bin", tmpdir);
	assert_int_equal(system(cmd), 0);
	free(a);
}

/* What tar writes that this format refuses: links, directories, names
   that leave the directory; and damage. */
static void
test_hostile(void **state)
{
	struct archive_entry e;
	struct ca_error	 err;
	char		 cmd[512], path[128];
	int		 in, fd;
	uint8_t		 b;

	snprintf(cmd, sizeof(cmd), "cd '%s' && echo hi > f && ln -s /etc/passwd "
	    "l && tar --format=ustar -cf link.tar l && tar --format=ustar "
	    "-cf dir.tar x 2>/dev/null; mkdir -p x && tar --format=ustar "
	    "-cf dir.tar x && tar --format=ustar -P -cf abs.tar '%s/f' && "
	    "tar --format=ustar -cf ok.tar f", tmpdir, tmpdir);
	assert_int_equal(system(cmd), 0);

	snprintf(path, sizeof(path), "%s/link.tar", tmpdir);
	in = open(path, O_RDONLY);
	assert_int_equal(archive_next(in, &e, &err), CA_EMALF);
	assert_non_null(strstr(err.msg, "regular file"));
	close(in);
	snprintf(path, sizeof(path), "%s/dir.tar", tmpdir);
	in = open(path, O_RDONLY);
	assert_int_equal(archive_next(in, &e, &err), CA_EMALF);
	close(in);
	snprintf(path, sizeof(path), "%s/abs.tar", tmpdir);
	in = open(path, O_RDONLY);
	assert_int_equal(archive_next(in, &e, &err), CA_EMALF);
	close(in);

	/* tar's own plain file reads. */
	snprintf(path, sizeof(path), "%s/ok.tar", tmpdir);
	in = open(path, O_RDONLY);
	assert_int_equal(archive_next(in, &e, &err), CA_OK);
	assert_string_equal(e.name, "f");
	assert_int_equal(e.size, 3);
	assert_int_equal(archive_data(in, &e, NULL, NULL, &err), CA_OK);
	assert_int_equal(archive_next(in, &e, &err), CA_ENOENT);
	close(in);

	/* One flipped byte in the header: the checksum says so. */
	fd = open(path, O_RDWR);
	assert_int_equal(pread(fd, &b, 1, 10), 1);
	b ^= 0x01;
	assert_int_equal(pwrite(fd, &b, 1, 10), 1);
	close(fd);
	in = open(path, O_RDONLY);
	assert_int_equal(archive_next(in, &e, &err), CA_EMALF);
	assert_non_null(strstr(err.msg, "checksum"));
	close(in);

	/* Truncated inside the data. */
	snprintf(cmd, sizeof(cmd), "cd '%s' && head -c 20000 /dev/urandom > "
	    "r && tar --format=ustar -cf r.tar r && truncate -s 5000 r.tar",
	    tmpdir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/r.tar", tmpdir);
	in = open(path, O_RDONLY);
	assert_int_equal(archive_next(in, &e, &err), CA_OK);
	assert_int_equal(archive_data(in, &e, NULL, NULL, &err), CA_EMALF);
	assert_non_null(strstr(err.msg, "truncated"));
	close(in);
	/* Truncated at a header. */
	in = open("/dev/null", O_RDONLY);
	assert_int_equal(archive_next(in, &e, &err), CA_EMALF);
	close(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
