/*
 * OpenSSL's CA database (index.txt, written by `openssl ca`), so that an
 * existing CA can be adopted with its history. One line per certificate,
 * six tab-separated fields (apps/lib/apps.c, TXT_DB):
 *   status  expiry  revocation  serial  filename  subject
 * status V (valid), R (revoked) or E (expired); times are ASN.1 UTCTime
 * "YYMMDDHHMMSSZ" or GeneralizedTime "YYYYMMDDHHMMSSZ"; revocation is empty
 * unless R: "time[,reason[,extra]]" with OpenSSL's reason spellings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "ca/ca.h"

#define INDEX_LINES_MAX		10000000UL
#define INDEX_FIELDS		6

static int
digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* UTCTime (RFC 5280 §4.1.2.5.1: YY < 50 is 20YY) or GeneralizedTime. */
static int
asn1_time_parse(const char *s, size_t n, int64_t *out)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	unsigned	y, mo, d, h, mi, sec;
	size_t		yl;

	if (n == 13)
		yl = 2;
	else if (n == 15)
		yl = 4;
	else
		return -1;
	if (s[n - 1] != 'Z' || digits(s, yl, &y) != 0 ||
	    digits(s + yl, 2, &mo) != 0 || digits(s + yl + 2, 2, &d) != 0 ||
	    digits(s + yl + 4, 2, &h) != 0 || digits(s + yl + 6, 2, &mi) != 0 ||
	    digits(s + yl + 8, 2, &sec) != 0)
		return -1;
	if (yl == 2)
		y += y < 50 ? 2000 : 1900;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
	    mi > 59 || sec > 59)
		return -1;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) ||
	    y % 400 == 0))
		return -1;
	*out = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 +
	    (int64_t)mi * 60 + sec;
	return 0;
}

/*
 * OpenSSL's reason strings (apps/ca.c crl_reasons[]): the RFC names with
 * its own capitals ("CACompromise"), matched case-insensitively, plus
 * three pseudo-reasons it writes with an extra field:
 *   holdInstruction,<OID>     -> certificateHold
 *   keyTime,<GeneralizedTime> -> keyCompromise (with an invalidity date)
 *   CAkeyTime,<time>          -> cACompromise
 * The extra field is checked for shape and dropped: DESIGN.md's CRL
 * entries carry only the reason code.
 */
static int
revocation_parse(char *field, int64_t *at, int *reason)
{
	char	*comma = strchr(field, ',');
	char	*extra = NULL;

	*reason = 0;
	if (comma != NULL) {
		*comma = '\0';
		if ((extra = strchr(comma + 1, ',')) != NULL)
			*extra++ = '\0';
	}
	if (asn1_time_parse(field, strlen(field), at) != 0)
		return -1;
	if (comma == NULL)
		return 0;		/* no reason: unspecified */
	if (strcasecmp(comma + 1, "holdInstruction") == 0) {
		if (extra == NULL || *extra == '\0')
			return -1;
		for (const char *p = extra; *p; p++)
			if (!((*p >= '0' && *p <= '9') || *p == '.'))
				return -1;
		*reason = 6;
		return 0;
	}
	if (strcasecmp(comma + 1, "keyTime") == 0 ||
	    strcasecmp(comma + 1, "CAkeyTime") == 0) {
		int64_t t;
		if (extra == NULL || asn1_time_parse(extra, strlen(extra),
		    &t) != 0)
			return -1;
		*reason = strcasecmp(comma + 1, "keyTime") == 0 ? 1 : 2;
		return 0;
	}
	if (extra != NULL)
		return -1;
	return ca_reason_parse(comma + 1, reason) == CA_OK ? 0 : -1;
}

static int
line_parse(char *line, unsigned long lineno, struct ca_index_line *out,
    struct ca_error *err)
{
	char		*f[INDEX_FIELDS];
	char		*p = line;
	size_t		 n = 0;
	struct ca_error	 serr;

	for (;;) {
		char *tab = strchr(p, '\t');
		if (n == INDEX_FIELDS)
			return ca_error_set(err, CA_EMALF, "index.txt line %lu: "
			    "more than %d tab-separated fields", lineno,
			    INDEX_FIELDS);
		f[n++] = p;
		if (tab == NULL)
			break;
		*tab = '\0';
		p = tab + 1;
	}
	if (n != INDEX_FIELDS)
		return ca_error_set(err, CA_EMALF, "index.txt line %lu: %zu "
		    "fields, expected %d (status, expiry, revocation, serial, "
		    "file, subject)", lineno, n, INDEX_FIELDS);
	memset(out, 0, sizeof(*out));
	if (strlen(f[0]) != 1 || (f[0][0] != 'V' && f[0][0] != 'R' &&
	    f[0][0] != 'E'))
		return ca_error_set(err, CA_EMALF, "index.txt line %lu: status "
		    "'%.8s' is not V, R or E", lineno, f[0]);
	out->status = f[0][0];
	if (asn1_time_parse(f[1], strlen(f[1]), &out->not_after) != 0)
		return ca_error_set(err, CA_EMALF, "index.txt line %lu: expiry "
		    "'%.20s' is not YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ", lineno,
		    f[1]);
	if (out->status == 'R') {
		char copy[128];
		snprintf(copy, sizeof(copy), "%s", f[2]);
		if (strlen(f[2]) >= sizeof(copy) ||
		    revocation_parse(f[2], &out->revoked_at, &out->reason) != 0)
			return ca_error_set(err, CA_EMALF, "index.txt line %lu: "
			    "revocation '%.60s' is not time[,reason] with an "
			    "RFC 5280 reason", lineno, copy);
	} else if (f[2][0] != '\0')
		return ca_error_set(err, CA_EMALF, "index.txt line %lu: status "
		    "%c with a revocation date", lineno, out->status);
	if (f[3][0] == '-' || serial_parse(f[3], out->serial,
	    &out->serial_len, &serr) != CA_OK)
		return ca_error_set(err, CA_EMALF, "index.txt line %lu: serial "
		    "'%.48s': %s", lineno, f[3], f[3][0] == '-' ?
		    "negative serials are not supported" : serr.msg);
	for (const char *q = f[3]; *q; q++)
		if (*q == ':' || *q == 'x' || *q == 'X')
			return ca_error_set(err, CA_EMALF, "index.txt line %lu: "
			    "serial '%.48s' is not plain hex", lineno, f[3]);
	out->subject = f[5];
	return CA_OK;
}

int
ca_openssl_index_parse(const char *text, size_t len,
    int (*cb)(const struct ca_index_line *line, void *ctx), void *ctx,
    struct ca_error *err)
{
	struct ca_index_line	 line;
	char			*buf = NULL;
	size_t			 pos = 0, cap = 0;
	unsigned long		 lineno = 0;
	int			 rc = CA_OK;

	if (text == NULL && len > 0)
		return ca_error_set(err, CA_EINVAL, "no index.txt text");
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;
		size_t n = end - pos;

		if (++lineno > INDEX_LINES_MAX) {
			rc = ca_error_set(err, CA_ETOOBIG, "index.txt has more "
			    "than %lu lines", INDEX_LINES_MAX);
			goto out;
		}
		if (n > 0 && text[pos + n - 1] == '\r')
			n--;
		if (memchr(text + pos, '\0', n) != NULL) {
			rc = ca_error_set(err, CA_EMALF, "index.txt line %lu: "
			    "NUL byte", lineno);
			goto out;
		}
		if (n == 0) {			/* blank line */
			pos = end + 1;
			continue;
		}
		if (n + 1 > cap) {
			char *nb = realloc(buf, n + 1);
			if (nb == NULL) {
				rc = ca_error_set(err, CA_ENOMEM,
				    "out of memory");
				goto out;
			}
			buf = nb;
			cap = n + 1;
		}
		memcpy(buf, text + pos, n);
		buf[n] = '\0';
		if ((rc = line_parse(buf, lineno, &line, err)) != CA_OK)
			goto out;
		if ((rc = cb(&line, ctx)) != 0)
			goto out;
		pos = end + 1;
	}
out:
	free(buf);
	return rc;
}
