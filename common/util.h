/*
 * Small helpers every layer needs: serial numbers as text, bounded number
 * parsing, durations, times, and files written atomically.
 */
#ifndef MTLSCA_COMMON_UTIL_H
#define MTLSCA_COMMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "common/err.h"

/* RFC 5280 §4.1.2.2: serials are at most 20 octets. */
#define SERIAL_MAX	20
/* Upper-case hex of SERIAL_MAX bytes, plus NUL. */
#define SERIAL_HEX_MAX	(2 * SERIAL_MAX + 1)

/*
 * Parse a serial typed by a person or sent by ALB: hex digits, either case,
 * optional ':' separators, optional "0x" prefix. Stores the DER INTEGER
 * content bytes (minimal, with a 0x00 pad when the top bit is set) in out[],
 * which must hold SERIAL_MAX + 1 bytes; *len gets their count.
 * CA_EMALF with a sentence on anything else (empty, odd characters, zero,
 * longer than 20 octets).
 */
int serial_parse(const char *text, uint8_t *out, size_t *len,
    struct ca_error *err);

/*
 * Format DER INTEGER content bytes as upper-case hex without separators and
 * without the 0x00 sign pad: the form of X-Amzn-Mtls-Clientcert-Serial-Number.
 * out must hold SERIAL_HEX_MAX + 2 bytes.
 */
void serial_format(const uint8_t *serial, size_t len, char *out);

/* The value of one hex digit (either case), or -1. */
int hex_digit(int c);

/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void hex_format(const uint8_t *in, size_t n, char *out);

/*
 * Exactly 2n hex digits (either case, ':' separators allowed anywhere, as
 * in `openssl x509 -fingerprint`) into n bytes of out; CA_EMALF otherwise,
 * out untouched.
 */
int hex_parse_exact(const char *text, uint8_t *out, size_t n);

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (Howard Hinnant's
   algorithm); callers validate the date first. */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);

/* Decimal unsigned integer in [min, max]; no sign, no spaces, no junk. */
int parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Duration: an integer followed by an optional unit s, m, h, d or w
 * ("90", "15m", "24h", "7d"). Result in seconds, at most 100 years.
 */
int parse_duration(const char *text, int64_t *seconds);

/*
 * Exponential backoff with jitter: the k-th wait (k >= 1) lies in
 * [d/2, d], d = min(max, base * 2^(k-1)); rnd (a random number from the
 * caller: common/ has no random source) picks where, so that clients that
 * failed together do not retry together. base and max > 0.
 */
int64_t backoff_delay(int64_t base, int64_t max, unsigned k, uint32_t rnd);

/* Current time in seconds since the epoch; MTLSCA_FAKE_NOW overrides (tests). */
int64_t time_now(void);
/* The system clock, never MTLSCA_FAKE_NOW: for what another party checks
   against its own clock (AWS request signatures, credentials' expiry), so
   that a test that moves the CA's clock still talks to S3 and ELBv2. */
int64_t time_real_now(void);

/* RFC 3339 UTC ("2026-11-29T03:41:29Z") into out[21]. */
void time_format(int64_t t, char out[21]);

/*
 * Parse an RFC 3339 date-time (section 5.6) into seconds since the epoch
 * (UTC): "YYYY-MM-DDTHH:MM:SS", optional fractional seconds (dropped),
 * then "Z" or an offset "+HH:MM" / "-HH:MM" (hours 00-23, minutes 00-59,
 * the colon required), e.g. "2026-12-05T09:00:00+09:00" is
 * 2026-12-05T00:00:00Z. A space or "t" may stand for the T and "z" for
 * the Z. CA_EINVAL for anything else (leap seconds included).
 */
int time_parse(const char *text, int64_t *out);

/*
 * Read a whole file of at most max bytes. On success *out owns a buffer of
 * *len bytes plus a NUL terminator (not counted); free with free().
 * CA_ENOENT, CA_EIO, CA_ETOOBIG, with a sentence naming the path.
 */
int file_read(const char *path, size_t max, uint8_t **out, size_t *len,
    struct ca_error *err);
/* The same, also filling *st (may be NULL) with the stat of the file
   read (through the descriptor read, so it describes those bytes). */
int file_read_stat(const char *path, size_t max, uint8_t **out, size_t *len,
    struct stat *st, struct ca_error *err);

/*
 * malloc for a buffer of megabytes (a CRL's DER, a file read whole): from
 * 4 MB on, aligned on 2 MB and advised into transparent huge pages, so it
 * faults once per 2 MB rather than per 4 KB (11,000 first touches for a
 * 46 MB CRL, each dear in a VM). Freed (and realloc'd) as from malloc.
 */
#define MALLOC_BIG_PAGE	(2u << 20)
void *malloc_big(size_t n);

/*
 * Replace path atomically: write path.tmp.PID with mode, fsync, rename over
 * path, fsync the directory. Readers see the old or the new file, never a
 * part. With excl, refuse (CA_EEXIST) when path exists.
 */
int file_write_atomic(const char *path, const void *buf, size_t len,
    mode_t mode, int excl, struct ca_error *err);

/*
 * The same in pieces, for a file too big to hold in memory (a CRL's PEM):
 * file_atomic_open creates path.tmp.PID, file_atomic_write appends,
 * file_atomic_commit fsyncs, renames (links, with excl) over path and fills
 * *st (may be NULL) with the file's stat as it then is. Any failure removes
 * the temporary file; file_atomic_abort (harmless after a commit) does so
 * for a caller that gives up.
 */
struct file_atomic {
	int	fd;
	int	excl;
	bool	synced;		/* file_atomic_sync done, nothing written since */
	char	path[4096];
	char	tmp[4096];
};
int file_atomic_open(struct file_atomic *f, const char *path, mode_t mode,
    int excl, struct ca_error *err);
int file_atomic_write(struct file_atomic *f, const void *buf, size_t len,
    struct ca_error *err);
int file_atomic_commit(struct file_atomic *f, struct stat *st,
    struct ca_error *err);
/* The fsync alone, ahead of the commit (which then does not repeat it):
   for a caller that writes several files at once and names them only
   when all are on disk. */
int file_atomic_sync(struct file_atomic *f, struct ca_error *err);
void file_atomic_abort(struct file_atomic *f);

/* fsync the directory that holds path (after a rename or link in it, so
   that the new name survives a crash); -1 with errno on failure. */
int fsync_dir_of(const char *path);

/*
 * Take an exclusive advisory lock (flock) on path, created with mode 0600
 * when missing. When another process holds it, call on_wait(arg) once (if
 * not NULL; e.g. to say why the command pauses), then block until it is
 * free. *fd owns the lock until file_unlock(*fd); the kernel drops it with
 * the process, so a crash never leaves it held.
 */
int file_lock(const char *path, void (*on_wait)(void *), void *arg, int *fd,
    struct ca_error *err);
void file_unlock(int fd);

/*
 * Is s[0..n) well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or
 * code points past U+10FFFF)? With no_controls, C0 and C1 controls and DEL
 * are refused too.
 */
bool utf8_valid(const uint8_t *s, size_t n, bool no_controls);

/*
 * The first CN of an RFC 4514 string ("CN=a\\,b,O=x" -> "a,b"), unescaped
 * and cut to fit size. Attribute order in RFC 4514 text is reversed from the
 * DER, but there is one CN in the certificates this CA issues. false when
 * there is none.
 */
bool subject_cn(const char *subject, char *out, size_t size);

/* mkdir -p with mode for each created level. */
int dir_make(const char *path, mode_t mode, struct ca_error *err);

/* snprintf into a fixed buffer; CA_ETOOBIG when it does not fit. */
int path_join(char *out, size_t size, const char *dir, const char *name);

#endif
