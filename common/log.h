/*
 * The log sink: every line `serve` (and what it runs) has to say goes
 * through here, in one of four shapes:
 *
 *   plain    "mtlsca: warning: MSG"          one-shot commands (the default)
 *   text     "2026-12-05T11:14:44.123Z warning mtlsca: MSG"
 *   json     {"time":"...","level":"warning","msg":"MSG","serial":"..."}
 *   journal  native journald fields (PRIORITY, MESSAGE, MTLSCA_SERIAL...)
 *            through sd_journal_sendv when built with libsystemd, else
 *            "<4>mtlsca: MSG" lines that journald reads the level of
 *
 * The state (fd, level, format) belongs to this module: set by log_setup()
 * at start and again on a reload; each line is one write(2), so threads
 * never interleave within a line. A message never carries a secret: the
 * callers log hashes, serials and names, never tokens, keys or headers.
 */
#ifndef MTLSCA_COMMON_LOG_H
#define MTLSCA_COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* The syslog(3) priorities journald uses (PRIORITY=3...7). */
enum log_level {
	LOG_LEVEL_ERROR = 3,
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_NOTICE = 5,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

enum log_format {
	LOG_FORMAT_PLAIN = 0,
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
	LOG_FORMAT_JOURNAL,	/* chosen by log_setup, never configured */
};

/*
 * A structured field: name in lower case letters, digits and '_'
 * ("serial", "publisher", "profile", "peer"); it becomes MTLSCA_SERIAL in
 * the journal and "serial" in json. A NULL value is left out. Text and
 * plain lines show the message only: it says the same in words.
 */
struct log_field {
	const char	*name;
	const char	*value;
};

#define LOG_FIELDS(a)	(a), (sizeof(a) / sizeof((a)[0]))

/*
 * Where and what to log from now on: lines go to fd (borrowed: it must
 * stay open), those above level are dropped. LOG_FORMAT_TEXT turns into
 * LOG_FORMAT_JOURNAL when fd is journald's stream ($JOURNAL_STREAM names
 * fd's device and inode, as systemd.exec(5) documents). Safe to call while
 * other threads log.
 */
void log_setup(int fd, enum log_level level, enum log_format format);

/* The format log_setup chose (after the journald check). */
enum log_format log_format_active(void);

/* Would a line at level be written? (To skip building a costly one.) */
bool log_enabled(enum log_level level);

/* "error", "warning", "notice", "info", "debug" <-> the levels; the
   parsers return CA_OK or CA_EINVAL. "text" and "json" for the formats. */
const char *log_level_name(enum log_level level);
int log_level_parse(const char *text, enum log_level *out);
int log_format_parse(const char *text, enum log_format *out);

/* One line. */
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * One line for an event ("issue", "revoke", "refuse", "publish"...: the
 * MTLSCA_EVENT field, "event" in json; NULL for none) with n fields.
 */
void log_event(enum log_level level, const char *event,
    const struct log_field *fields, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
