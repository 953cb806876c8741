/*
 * The log sink (common/log.h). The state is three atomics that log_setup
 * sets: a line reads each once, so a reload that changes the format while
 * another thread logs gives that line the old shape or the new one, never a
 * mix. Lines are built in a buffer on the stack and written with one
 * write(2): a pipe or a journald stream never sees two threads' bytes
 * within one line (POSIX makes writes up to PIPE_BUF atomic on pipes; our
 * lines are capped below it where it matters, at LINE_MAX_BYTES).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#ifdef MTLSCA_HAVE_SYSTEMD
#include <systemd/sd-journal.h>
#endif

#include "common/err.h"
#include "common/log.h"

#define MSG_MAX		1024	/* the message, before escaping */
#define LINE_MAX_BYTES	4096	/* PIPE_BUF on Linux */
#define FIELDS_MAX	16

static atomic_int	sink_fd = 2;
static atomic_int	sink_level = LOG_LEVEL_INFO;
static atomic_int	sink_format = LOG_FORMAT_PLAIN;
static atomic_bool	sink_native;	/* the journal's socket takes fields */

/* Where sd_journal_sendv writes; it drops lines silently without it. */
#define JOURNAL_SOCKET	"/run/systemd/journal/socket"

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARNING] = "warning",
	[LOG_LEVEL_NOTICE] = "notice",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

const char *
log_level_name(enum log_level level)
{
	if (level < LOG_LEVEL_ERROR || level > LOG_LEVEL_DEBUG)
		return "error";
	return level_names[level];
}

int
log_level_parse(const char *text, enum log_level *out)
{
	for (int l = LOG_LEVEL_ERROR; l <= LOG_LEVEL_DEBUG; l++)
		if (strcmp(text, level_names[l]) == 0) {
			*out = (enum log_level)l;
			return CA_OK;
		}
	return CA_EINVAL;
}

int
log_format_parse(const char *text, enum log_format *out)
{
	if (strcmp(text, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (strcmp(text, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return CA_EINVAL;
	return CA_OK;
}

/*
 * systemd.exec(5): $JOURNAL_STREAM is "DEVICE:INODE" of the stream
 * journald connected to stdout/stderr. Compared with fd itself, so that a
 * service whose stderr was redirected elsewhere (a file, a pipe to a
 * shipper) keeps its text lines.
 */
static bool
under_journald(int fd)
{
	const char		*env = getenv("JOURNAL_STREAM");
	unsigned long long	 dev, ino;
	struct stat		 sb;
	char			 end;

	if (env == NULL || sscanf(env, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return false;
	if (fstat(fd, &sb) != 0)
		return false;
	return (unsigned long long)sb.st_dev == dev &&
	    (unsigned long long)sb.st_ino == ino;
}

void
log_setup(int fd, enum log_level level, enum log_format format)
{
	if (format == LOG_FORMAT_TEXT && under_journald(fd))
		format = LOG_FORMAT_JOURNAL;
	/* sd_journal_sendv(3) returns success when the socket is missing
	   (a container that has the stream but not the socket): the line
	   would be lost, so the stream gets it instead. */
	atomic_store(&sink_native, format == LOG_FORMAT_JOURNAL &&
	    access(JOURNAL_SOCKET, W_OK) == 0);
	atomic_store(&sink_fd, fd);
	atomic_store(&sink_level, (int)level);
	atomic_store(&sink_format, (int)format);
}

enum log_format
log_format_active(void)
{
	return (enum log_format)atomic_load(&sink_format);
}

bool
log_enabled(enum log_level level)
{
	return (int)level <= atomic_load(&sink_level);
}

/* All of buf, however many write(2)s a signal splits it into. */
static void
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;		/* nowhere left to say it */
		}
		buf += n;
		len -= (size_t)n;
	}
}

/*
 * A line per message: control characters (a CR/LF in a peer's name could
 * forge a line) become spaces in the shapes that are read line by line.
 */
static void
flatten(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

/* "2026-12-05T11:14:44.123Z": RFC 3339, UTC, milliseconds. */
static void
now_text(char out[64])
{
	struct timespec	ts;
	struct tm	tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L);
}

/* A JSON string of s; bytes that are not UTF-8 become '?'. */
static json_t *
json_text(const char *s)
{
	json_t	*j = json_string(s);
	char	*c;

	if (j != NULL || (c = strdup(s)) == NULL)
		return j;
	for (char *p = c; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(c);
	free(c);
	return j;
}

/* The json shape; false (nothing written) when out of memory. */
static bool
emit_json(int fd, enum log_level level, const char *event,
    const struct log_field *fields, size_t n, const char *msg)
{
	char	 t[64], *s = NULL;
	json_t	*o;
	bool	 ok = false;

	now_text(t);
	if ((o = json_object()) == NULL)
		return false;
	if (json_object_set_new(o, "time", json_string(t)) != 0 ||
	    json_object_set_new(o, "level",
	    json_string(log_level_name(level))) != 0 ||
	    json_object_set_new(o, "msg", json_text(msg)) != 0 ||
	    (event != NULL && json_object_set_new(o, "event",
	    json_string(event)) != 0))
		goto out;
	for (size_t i = 0; i < n; i++)
		if (fields[i].value != NULL && json_object_set_new(o,
		    fields[i].name, json_text(fields[i].value)) != 0)
			goto out;
	if ((s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		goto out;
	{
		size_t	len = strlen(s);
		char	*line = malloc(len + 2);

		if (line == NULL)
			goto out;
		memcpy(line, s, len);
		line[len] = '\n';
		write_all(fd, line, len + 1);
		free(line);
	}
	ok = true;
out:
	free(s);
	json_decref(o);
	return ok;
}

#ifdef MTLSCA_HAVE_SYSTEMD
/*
 * Native fields (systemd.journal-fields(7)); SYSLOG_IDENTIFIER so that
 * `journalctl -t mtlsca` finds the lines as it does the stream's. False
 * when the journal's socket refuses them: the caller writes a line.
 */
static bool
emit_journal(enum log_level level, const char *event,
    const struct log_field *fields, size_t n, const char *msg)
{
	char		buf[LINE_MAX_BYTES], *p = buf;
	struct iovec	iov[FIELDS_MAX + 4];
	size_t		left = sizeof(buf), k = 0;
	int		len;

#define ADD(...) do {							\
	len = snprintf(p, left, __VA_ARGS__);				\
	if (len < 0 || (size_t)len >= left)				\
		return false;						\
	iov[k].iov_base = p;						\
	iov[k++].iov_len = (size_t)len;					\
	p += len + 1;							\
	left -= (size_t)len + 1;					\
} while (0)
	ADD("MESSAGE=%s", msg);
	ADD("PRIORITY=%d", (int)level);
	ADD("SYSLOG_IDENTIFIER=mtlsca");
	if (event != NULL)
		ADD("MTLSCA_EVENT=%s", event);
	for (size_t i = 0; i < n && k < FIELDS_MAX + 4; i++) {
		char name[64];
		size_t j;

		if (fields[i].value == NULL)
			continue;
		for (j = 0; fields[i].name[j] != '\0' && j < sizeof(name) - 1;
		    j++)
			name[j] = (char)(fields[i].name[j] >= 'a' &&
			    fields[i].name[j] <= 'z' ? fields[i].name[j] - 32 :
			    fields[i].name[j]);
		name[j] = '\0';
		ADD("MTLSCA_%s=%s", name, fields[i].value);
	}
#undef ADD
	return sd_journal_sendv(iov, (int)k) >= 0;
}
#endif

static void emit(enum log_level, const char *, const struct log_field *,
    size_t, const char *, va_list) __attribute__((format(printf, 5, 0)));

static void
emit(enum log_level level, const char *event, const struct log_field *fields,
    size_t n, const char *fmt, va_list ap)
{
	char		msg[MSG_MAX], line[LINE_MAX_BYTES], t[64];
	int		fd = atomic_load(&sink_fd);
	int		len = 0;

	if (!log_enabled(level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	switch ((enum log_format)atomic_load(&sink_format)) {
	case LOG_FORMAT_JSON:
		if (emit_json(fd, level, event, fields, n, msg))
			return;
		/* out of memory: a text line still says it */
		/* FALLTHROUGH */
	case LOG_FORMAT_TEXT:
		flatten(msg);
		now_text(t);
		len = snprintf(line, sizeof(line), "%s %s mtlsca: %s\n", t,
		    log_level_name(level), msg);
		break;
	case LOG_FORMAT_JOURNAL:
#ifdef MTLSCA_HAVE_SYSTEMD
		if (atomic_load(&sink_native) &&
		    emit_journal(level, event, fields, n, msg))
			return;
#endif
		/* journald reads "<N>" as the line's priority (its
		   SyslogLevelPrefix=, on by default); it adds the time. */
		flatten(msg);
		len = snprintf(line, sizeof(line), "<%d>mtlsca: %s\n",
		    (int)level, msg);
		break;
	case LOG_FORMAT_PLAIN:
	default:
		flatten(msg);
		len = snprintf(line, sizeof(line), "mtlsca: %s%s\n",
		    level == LOG_LEVEL_ERROR ? "error: " :
		    level == LOG_LEVEL_WARNING ? "warning: " : "", msg);
		break;
	}
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(line)) {
		len = (int)sizeof(line) - 1;
		line[len - 1] = '\n';
	}
	write_all(fd, line, (size_t)len);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(level, NULL, NULL, 0, fmt, ap);
	va_end(ap);
}

void
log_event(enum log_level level, const char *event,
    const struct log_field *fields, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(level, event, fields, n, fmt, ap);
	va_end(ap);
}
