/*
 * common/log.c: the shapes of a line, read back from a pipe: text (an RFC
 * 3339 UTC time, the level, the message on one line), json (parses, with
 * time, level, msg, the event and the fields), plain (the one-shot
 * commands'), the level filter, and the switch to journald's shape when
 * $JOURNAL_STREAM names the fd (and only then).
 */
#include <fcntl.h>
#include <regex.h>
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
#include <jansson.h>

#include "common/err.h"
#include "common/log.h"

struct pipe_fds {
	int	rd, wr;
};

static int
setup(void **state)
{
	static struct pipe_fds	p;
	int			fds[2];

	/* Not blocking: a line that was not written fails the test rather
	   than hanging it. */
	if (pipe(fds) != 0 || fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0)
		return -1;
	p.rd = fds[0];
	p.wr = fds[1];
	unsetenv("JOURNAL_STREAM");
	*state = &p;
	return 0;
}

static int
teardown(void **state)
{
	struct pipe_fds *p = *state;

	log_setup(2, LOG_LEVEL_INFO, LOG_FORMAT_PLAIN);
	close(p->rd);
	close(p->wr);
	unsetenv("JOURNAL_STREAM");
	return 0;
}

/* What the sink wrote since the last call (the pipe is not blocking on
   an empty read: each test writes before it reads). */
static size_t
drain(struct pipe_fds *p, char *buf, size_t size)
{
	ssize_t	n;
	size_t	got = 0;

	/* A write(2) per line: one read gets what is there. */
	n = read(p->rd, buf, size - 1);
	if (n > 0)
		got = (size_t)n;
	buf[got] = '\0';
	return got;
}

static bool
matches(const char *text, const char *pattern)
{
	regex_t	re;
	bool	ok;

	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	ok = regexec(&re, text, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

static void
test_text(void **state)
{
	struct pipe_fds	*p = *state;
	char		 buf[8192];
	struct log_field f[] = { { "serial", "4A3F" }, { "peer", NULL } };

	log_setup(p->wr, LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
	assert_int_equal(log_format_active(), LOG_FORMAT_TEXT);
	log_event(LOG_LEVEL_NOTICE, "revoke", LOG_FIELDS(f),
	    "revoked serial %s", "4A3F");
	drain(p, buf, sizeof(buf));
	/* RFC 3339 section 5.6, UTC, with milliseconds; one line. */
	assert_true(matches(buf, "^[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:"
	    "[0-5][0-9]:[0-6][0-9]\\.[0-9]{3}Z notice mtlsca: revoked serial "
	    "4A3F\n$"));
	/* A CR/LF in a message (a peer's name, say) cannot forge a line. */
	log_msg(LOG_LEVEL_WARNING, "a\nb\rc");
	drain(p, buf, sizeof(buf));
	assert_true(matches(buf, "Z warning mtlsca: a b c\n$"));
	/* The level filter: debug is not written at info. */
	log_msg(LOG_LEVEL_DEBUG, "not shown");
	log_msg(LOG_LEVEL_ERROR, "shown");
	drain(p, buf, sizeof(buf));
	assert_null(strstr(buf, "not shown"));
	assert_true(matches(buf, "^[^\n]*Z error mtlsca: shown\n$"));
	assert_true(log_enabled(LOG_LEVEL_INFO));
	assert_false(log_enabled(LOG_LEVEL_DEBUG));
}

static void
test_json(void **state)
{
	struct pipe_fds	*p = *state;
	char		 buf[8192], big[3000];
	json_t		*o;
	json_error_t	 jerr;
	struct log_field f[] = { { "serial", "4A3F" }, { "profile", "client" },
	    { "peer", NULL }, { "publisher", "s3\"x" } };

	log_setup(p->wr, LOG_LEVEL_DEBUG, LOG_FORMAT_JSON);
	log_event(LOG_LEVEL_INFO, "issue", LOG_FIELDS(f), "issued \"%s\"\n%s",
	    "4A3F", "x");
	drain(p, buf, sizeof(buf));
	/* One line: its only newline is the last byte. */
	assert_ptr_equal(strchr(buf, '\n'), buf + strlen(buf) - 1);
	o = json_loads(buf, 0, &jerr);
	assert_non_null(o);
	assert_non_null(json_string_value(json_object_get(o, "time")));
	assert_true(matches(json_string_value(json_object_get(o, "time")),
	    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"));
	assert_string_equal(json_string_value(json_object_get(o, "level")),
	    "info");
	assert_string_equal(json_string_value(json_object_get(o, "msg")),
	    "issued \"4A3F\"\nx");
	assert_string_equal(json_string_value(json_object_get(o, "event")),
	    "issue");
	assert_string_equal(json_string_value(json_object_get(o, "serial")),
	    "4A3F");
	assert_string_equal(json_string_value(json_object_get(o, "profile")),
	    "client");
	assert_string_equal(json_string_value(json_object_get(o,
	    "publisher")), "s3\"x");
	assert_null(json_object_get(o, "peer"));	/* NULL: left out */
	json_decref(o);
	/* Bytes that are not UTF-8 still make a line that parses. */
	log_msg(LOG_LEVEL_DEBUG, "bad \xff\xfe utf-8");
	drain(p, buf, sizeof(buf));
	o = json_loads(buf, 0, &jerr);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "level")),
	    "debug");
	assert_null(json_object_get(o, "event"));
	json_decref(o);
	/* A long message is cut, still one object on one line. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_msg(LOG_LEVEL_INFO, "%s", big);
	drain(p, buf, sizeof(buf));
	assert_non_null(o = json_loads(buf, 0, &jerr));
	json_decref(o);
}

static void
test_plain(void **state)
{
	struct pipe_fds	*p = *state;
	char		 buf[1024];

	log_setup(p->wr, LOG_LEVEL_INFO, LOG_FORMAT_PLAIN);
	log_msg(LOG_LEVEL_WARNING, "careful");
	drain(p, buf, sizeof(buf));
	assert_string_equal(buf, "mtlsca: warning: careful\n");
	log_msg(LOG_LEVEL_NOTICE, "ready");
	drain(p, buf, sizeof(buf));
	assert_string_equal(buf, "mtlsca: ready\n");
}

static void
test_parse(void **state)
{
	enum log_level	l;
	enum log_format	f;

	(void)state;
	assert_int_equal(log_level_parse("notice", &l), CA_OK);
	assert_int_equal(l, LOG_LEVEL_NOTICE);
	assert_int_equal(log_level_parse("warn", &l), CA_EINVAL);
	assert_int_equal(log_level_parse("", &l), CA_EINVAL);
	assert_string_equal(log_level_name(LOG_LEVEL_DEBUG), "debug");
	assert_int_equal(log_format_parse("json", &f), CA_OK);
	assert_int_equal(f, LOG_FORMAT_JSON);
	assert_int_equal(log_format_parse("journal", &f), CA_EINVAL);
}

/* systemd.exec(5): JOURNAL_STREAM="DEVICE:INODE" of the stream. */
static void
test_journald(void **state)
{
	struct pipe_fds	*p = *state;
	struct stat	 sb;
	char		 env[64], buf[1024];

	assert_int_equal(fstat(p->wr, &sb), 0);
	/* Another stream's (stderr redirected by hand): text stays. */
	snprintf(env, sizeof(env), "%llu:%llu",
	    (unsigned long long)sb.st_dev, (unsigned long long)sb.st_ino + 1);
	setenv("JOURNAL_STREAM", env, 1);
	log_setup(p->wr, LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
	assert_int_equal(log_format_active(), LOG_FORMAT_TEXT);
	/* Ours: journald's shape. json, asked for, stays json. */
	snprintf(env, sizeof(env), "%llu:%llu",
	    (unsigned long long)sb.st_dev, (unsigned long long)sb.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_setup(p->wr, LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	assert_int_equal(log_format_active(), LOG_FORMAT_JSON);
	log_setup(p->wr, LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
	assert_int_equal(log_format_active(), LOG_FORMAT_JOURNAL);
	/* Without a journal socket to take the native fields (as here),
	   the line carries its priority for journald, and no time. */
	if (access("/run/systemd/journal/socket", W_OK) != 0) {
		log_msg(LOG_LEVEL_WARNING, "to the journal");
		drain(p, buf, sizeof(buf));
		assert_string_equal(buf, "<4>mtlsca: to the journal\n");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain, setup, teardown),
		cmocka_unit_test(test_parse),
		cmocka_unit_test_setup_teardown(test_journald, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
