/*
 * mtlsca import: adopt a CA made with openssl (the runbook's rootCA.pem and
 * rootCA.key), its history (index.txt) and the certificates it issued,
 * without reissuing anything. Everything is read and checked before
 * anything is written; the records go into the store in one write batch,
 * and if that fails the copied CA files are removed again: all or nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cmd/cmd.h"
#include "cmd/cmd_int.h"
#include "crl/crl.h"

/* index.txt of 10 million lines is about 1 GB; a real CA's is far less. */
#define INDEX_FILE_MAX		(1024u * 1024 * 1024)
#define CERT_FILE_MAX		(1024u * 1024)

struct item {
	struct cert_record	 rec;		/* owns subject and der */
	char			 status;	/* 'V', 'E', 'R'; 0: from --certs */
	int64_t			 revoked_at;
	int			 reason;
	unsigned long		 line;		/* in index.txt; 0: --certs */
};

struct items {
	struct item	*v;
	size_t		 n, cap;
	unsigned long	 lineno;	/* lines seen, for messages */
	struct ca_error	*err;
};

static int
serial_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

static int
item_cmp(const void *x, const void *y)
{
	const struct item *a = x, *b = y;

	return serial_cmp(a->rec.serial, a->rec.serial_len, b->rec.serial,
	    b->rec.serial_len);
}

static struct item *
items_find(struct items *it, const uint8_t *serial, size_t len)
{
	struct item key;

	if (it->n == 0)
		return NULL;
	memset(&key, 0, sizeof(key));
	memcpy(key.rec.serial, serial, len);
	key.rec.serial_len = len;
	return bsearch(&key, it->v, it->n, sizeof(*it->v), item_cmp);
}

static struct item *
items_add(struct items *it)
{
	if (it->n == it->cap) {
		size_t		 ncap = it->cap ? it->cap * 2 : 64;
		struct item	*nv = realloc(it->v, ncap * sizeof(*nv));

		if (nv == NULL)
			return NULL;
		it->v = nv;
		it->cap = ncap;
	}
	memset(&it->v[it->n], 0, sizeof(it->v[0]));
	return &it->v[it->n++];
}

static void
items_free(struct items *it)
{
	for (size_t i = 0; i < it->n; i++)
		cert_record_clear(&it->v[i].rec);
	free(it->v);
	it->v = NULL;
	it->n = it->cap = 0;
}

/* ---- OpenSSL's one-line subject to RFC 4514 ---- */

/*
 * Append value to out with RFC 4514 §2.4 escaping. Control characters, and
 * every non-ASCII byte of a value that is not UTF-8 (a T61String, say), are
 * written as hex pairs: the text stays printable and valid UTF-8 (list,
 * show and JSON print it as is). out holds 3 bytes per input byte.
 */
static void
rfc4514_value(const char *v, size_t n, char *out, size_t *o, size_t cap)
{
	bool utf8 = utf8_valid((const uint8_t *)v, n, false);

	for (size_t i = 0; i < n && *o + 4 < cap; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
			*o += (size_t)snprintf(out + *o, cap - *o, "\\%02X", c);
			continue;
		}
		if (c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' ||
		    c == '>' || c == ';' || c == '=' ||
		    (i == 0 && (c == '#' || c == ' ')) ||
		    (i == n - 1 && c == ' '))
			out[(*o)++] = '\\';
		out[(*o)++] = (char)c;
	}
}

/* An attribute type (RFC 4514 §3): a keystring (ALPHA *(ALPHA / DIGIT /
   "-")) or a numericoid. Anything else could smuggle RDNs into the text. */
static bool
attr_type_ok(const char *p, size_t n)
{
	bool	alpha = n > 0 && ((p[0] >= 'A' && p[0] <= 'Z') ||
		    (p[0] >= 'a' && p[0] <= 'z'));

	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (c >= '0' && c <= '9')
			continue;
		if (alpha && (c == '-' || (c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z')))
			continue;
		if (!alpha && c == '.' && i > 0 && i + 1 < n && p[i - 1] != '.')
			continue;
		return false;
	}
	return n > 0;
}

/*
 * "/C=JP/ST=Yamanashi/CN=sample-2" (X509_NAME_oneline, what index.txt
 * holds) becomes "CN=sample-2,ST=Yamanashi,C=JP": RFC 4514 §2.1 writes
 * the RDNs in reverse order. OpenSSL writes non-ASCII bytes as \xHH and
 * joins multi-valued RDNs with '+'; a '/' inside a value is not escaped
 * there, so a piece without '=' continues the previous value.
 */
static int
subject_from_oneline(const char *in, char **out)
{
	struct { const char *p; size_t n; } pieces[64];
	char	*dec = NULL, *res = NULL;
	size_t	 np = 0, len = strlen(in), o = 0, cap;
	int	 rc = CA_EMALF;

	if (len == 0 || in[0] != '/')
		return CA_EMALF;
	/* \xHH back to bytes first. */
	if ((dec = malloc(len + 1)) == NULL)
		return CA_ENOMEM;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\\' && i + 3 < len + 1 && in[i + 1] == 'x' &&
		    hex_digit(in[i + 2]) >= 0 && hex_digit(in[i + 3]) >= 0) {
			dec[o++] = (char)(hex_digit(in[i + 2]) << 4 |
			    hex_digit(in[i + 3]));
			i += 3;
		} else
			dec[o++] = in[i];
	}
	dec[o] = '\0';
	len = o;
	for (size_t i = 1, start = 1; i <= len; i++) {
		if (i < len && dec[i] != '/')
			continue;
		if (memchr(dec + start, '=', i - start) == NULL) {
			if (np == 0)
				goto out;
			pieces[np - 1].n = (size_t)(dec + i - pieces[np - 1].p);
		} else {
			if (np == sizeof(pieces) / sizeof(pieces[0]))
				goto out;
			pieces[np].p = dec + start;
			pieces[np].n = i - start;
			np++;
		}
		start = i + 1;
	}
	if (np == 0)
		goto out;
	cap = 4 * len + 16;
	if ((res = malloc(cap)) == NULL) {
		rc = CA_ENOMEM;
		goto out;
	}
	o = 0;
	for (size_t k = np; k-- > 0;) {
		/* Within one RDN, "+" separates AVAs: keep them in order. */
		const char	*p = pieces[k].p, *end = p + pieces[k].n;

		if (k != np - 1)
			res[o++] = ',';
		while (p < end) {
			const char *plus = memchr(p, '+', (size_t)(end - p));
			const char *ava_end = plus != NULL ? plus : end;
			const char *eq = memchr(p, '=', (size_t)(ava_end - p));

			/* '+' inside a value: the rest is still the value. */
			if (plus != NULL) {
				const char *next_eq = memchr(plus + 1, '=',
				    (size_t)(end - plus - 1));
				const char *next_plus = memchr(plus + 1, '+',
				    (size_t)(end - plus - 1));
				if (next_eq == NULL || (next_plus != NULL &&
				    next_plus < next_eq)) {
					ava_end = end;
					plus = NULL;
				}
			}
			if (eq == NULL || !attr_type_ok(p, (size_t)(eq - p)))
				goto out;
			memcpy(res + o, p, (size_t)(eq - p));
			o += (size_t)(eq - p);
			res[o++] = '=';
			rfc4514_value(eq + 1, (size_t)(ava_end - eq - 1), res,
			    &o, cap);
			if (plus == NULL)
				break;
			res[o++] = '+';
			p = plus + 1;
		}
	}
	res[o] = '\0';
	*out = res;
	res = NULL;
	rc = CA_OK;
out:
	free(res);
	free(dec);
	return rc;
}

/* ---- index.txt ---- */

static int
index_line_cb(const struct ca_index_line *line, void *arg)
{
	struct items	*it = arg;
	struct item	*x;

	it->lineno++;
	if ((x = items_add(it)) == NULL)
		return ca_error_set(it->err, CA_ENOMEM, "out of memory");
	memcpy(x->rec.serial, line->serial, line->serial_len);
	x->rec.serial_len = line->serial_len;
	x->rec.status = CERT_STATUS_VALID;
	x->rec.not_after = line->not_after;
	x->status = line->status;
	x->revoked_at = line->revoked_at;
	x->reason = line->reason;
	x->line = it->lineno;
	if (line->subject != NULL && line->subject[0] != '\0' &&
	    subject_from_oneline(line->subject, &x->rec.subject) != CA_OK)
		return ca_error_set(it->err, CA_EMALF, "index.txt entry %lu: "
		    "subject '%.80s' is not OpenSSL's /TYPE=value/... form",
		    it->lineno, line->subject);
	/* RFC 5280 §5.3.1: removeFromCRL belongs to delta CRLs only. */
	if (line->status == 'R' && (line->reason == 8 || line->reason == 7 ||
	    line->reason > 10))
		return ca_error_set(it->err, CA_EMALF, "index.txt entry %lu: "
		    "reason %d cannot be on a CRL (RFC 5280 section 5.3.1)",
		    it->lineno, line->reason);
	return 0;
}

static int
index_load(const char *path, struct items *it, struct ca_error *err)
{
	uint8_t	*buf = NULL;
	size_t	 len;
	int	 rc;

	if ((rc = file_read(path, INDEX_FILE_MAX, &buf, &len, err)) != CA_OK)
		return rc;
	it->err = err;
	rc = ca_openssl_index_parse((const char *)buf, len, index_line_cb, it,
	    err);
	free(buf);
	if (rc != CA_OK)
		return rc;
	qsort(it->v, it->n, sizeof(*it->v), item_cmp);
	for (size_t i = 1; i < it->n; i++)
		if (item_cmp(&it->v[i - 1], &it->v[i]) == 0) {
			char hex[SERIAL_HEX_MAX + 2];

			serial_format(it->v[i].rec.serial,
			    it->v[i].rec.serial_len, hex);
			return ca_error_set(err, CA_EMALF, "%s: serial %s "
			    "appears twice (entries %lu and %lu)", path, hex,
			    it->v[i - 1].line, it->v[i].line);
		}
	return CA_OK;
}

/* ---- --certs DIR ---- */

struct cert_stats {
	size_t	attached, added, skipped;
};

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
certs_load(const char *dir, struct ca *ca, struct items *it,
    struct cert_stats *stats, struct ca_error *err)
{
	DIR		*d = NULL;
	struct dirent	*de;
	char		**names = NULL, path[CONFIG_PATH_MAX + 256];
	size_t		 n = 0, cap = 0, base = it->n, ca_len;
	const uint8_t	*ca_der = ca_cert_der(ca, &ca_len);
	int		 rc = CA_OK;

	if ((d = opendir(dir)) == NULL)
		return ca_error_set(err, CA_EIO, "--certs %s: %s", dir,
		    strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (!ends_with(de->d_name, ".pem") || de->d_name[0] == '.')
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			char **nn = realloc(names, ncap * sizeof(*nn));

			if (nn == NULL) {
				rc = ca_error_set(err, CA_ENOMEM,
				    "out of memory");
				goto out;
			}
			names = nn;
			cap = ncap;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			rc = ca_error_set(err, CA_ENOMEM, "out of memory");
			goto out;
		}
		n++;
	}
	/* A stable order: the report reads the same on every run. */
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		struct cert_record	 rec;
		struct ca_error		 cerr;
		struct item		*x;
		uint8_t			*buf = NULL;
		size_t			 len;

		memset(&rec, 0, sizeof(rec));
		if (path_join(path, sizeof(path), dir, names[i]) != CA_OK) {
			rc = ca_error_set(err, CA_EINVAL, "--certs %s: path of "
			    "%s is too long", dir, names[i]);
			goto out;
		}
		if (file_read(path, CERT_FILE_MAX, &buf, &len, &cerr) != CA_OK) {
			rc = ca_error_set(err, cerr.code, "%s", cerr.msg);
			goto out;
		}
		rc = cmd_cert_load(buf, len, ca, &rec, &cerr);
		free(buf);
		if (rc == CA_EMALF || rc == CA_EPOLICY || rc == CA_ETOOBIG) {
			/* Keys, CRLs and other CAs' certificates share such
			 * directories: say so and go on. */
			fprintf(stderr, "mtlsca: import: skipped %s: %s\n",
			    path, cerr.msg);
			stats->skipped++;
			rc = CA_OK;
			continue;
		}
		if (rc != CA_OK) {
			rc = ca_error_set(err, rc, "%s: %s", path, cerr.msg);
			goto out;
		}
		if (rec.der_len == ca_len && memcmp(rec.der, ca_der,
		    ca_len) == 0) {
			fprintf(stderr, "mtlsca: import: skipped %s: the CA "
			    "certificate itself\n", path);
			stats->skipped++;
			cert_record_clear(&rec);
			continue;
		}
		/* The index part of the array is sorted; new ones follow. */
		{
			struct items idx = *it;
			idx.n = base;
			x = items_find(&idx, rec.serial, rec.serial_len);
		}
		for (size_t k = base; x == NULL && k < it->n; k++)
			if (serial_cmp(it->v[k].rec.serial,
			    it->v[k].rec.serial_len, rec.serial,
			    rec.serial_len) == 0)
				x = &it->v[k];
		if (x != NULL) {
			if (x->rec.der != NULL) {
				fprintf(stderr, "mtlsca: import: skipped %s: "
				    "same serial as a file already read\n",
				    path);
				stats->skipped++;
				cert_record_clear(&rec);
				continue;
			}
			/* The certificate is the authority on its own
			 * subject and validity. */
			free(x->rec.subject);
			x->rec.subject = rec.subject;
			x->rec.der = rec.der;
			x->rec.der_len = rec.der_len;
			x->rec.not_before = rec.not_before;
			x->rec.not_after = rec.not_after;
			stats->attached++;
			continue;
		}
		if ((x = items_add(it)) == NULL) {
			cert_record_clear(&rec);
			rc = ca_error_set(err, CA_ENOMEM, "out of memory");
			goto out;
		}
		x->rec = rec;
		x->status = 0;
		stats->added++;
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

/* An option given twice: which one was meant? Refuse rather than guess. */
static int
given_twice(const char *cmd, const char *opt)
{
	cmd_fail("%s: %s given twice", cmd, opt);
	return cmd_usage_print(cmd, true);
}

/*
 * OpenSSL's crlnumber file (`openssl ca`'s crlnumber setting): the hex
 * number of the NEXT CRL it would issue, on one line. *next gets it.
 */
static int
crlnumber_load(const char *path, uint64_t *next, struct ca_error *err)
{
	uint8_t		*buf = NULL;
	size_t		 len, i = 0, digits = 0;
	uint64_t	 v = 0;
	int		 rc;

	if ((rc = file_read(path, 4096, &buf, &len, err)) != CA_OK)
		return rc;
	while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
		i++;
	for (; i < len && hex_digit(buf[i]) >= 0; i++, digits++) {
		if (v >> 60) {
			rc = ca_error_set(err, CA_EPOLICY, "%s: a CRL number "
			    "over 64 bits: mtlsca's counter cannot carry it "
			    "over", path);
			goto out;
		}
		v = (v << 4) | (uint64_t)hex_digit(buf[i]);
	}
	while (i < len && (buf[i] == '\n' || buf[i] == '\r' ||
	    buf[i] == ' ' || buf[i] == '\t'))
		i++;
	if (digits == 0 || i != len) {
		rc = ca_error_set(err, CA_EMALF, "%s is not an openssl "
		    "crlnumber file (one hexadecimal number on one line)",
		    path);
		goto out;
	}
	*next = v;
	rc = CA_OK;
out:
	free(buf);
	return rc;
}

int
cmd_import(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
		{ "ca-cert", required_argument, NULL, 'c' },
		{ "ca-key", required_argument, NULL, 'k' },
		{ "openssl-index", required_argument, NULL, 'i' },
		{ "certs", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "openssl-crlnumber", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ca_paths		 src, dst;
	struct ca_error		 err;
	struct ca		*ca = NULL;
	struct store		*st = NULL;
	struct store_txn	*txn = NULL;
	struct items		 it;
	struct cert_stats	 stats;
	struct cert_record	 carec;
	const char		*cert = NULL, *key = NULL, *index = NULL;
	const char		*certs = NULL, *crlnumber = NULL;
	char			 found[CONFIG_PATH_MAX + 16];
	uint64_t		 crl_next = 0;
	bool			 have_crlnumber = false;
	const uint8_t		*der;
	size_t			 der_len, nv = 0, ne = 0, nr = 0;
	struct stat		 sb;
	int64_t			 now = time_now();
	bool			 copied = false, json = false;
	char			 who[96], detail[CONFIG_PATH_MAX + 64];
	int			 ch, status = CMD_FAIL;

	memset(&it, 0, sizeof(it));
	memset(&stats, 0, sizeof(stats));
	memset(&carec, 0, sizeof(carec));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			if (cert != NULL)
				return given_twice("import", "--ca-cert");
			cert = optarg;
			break;
		case 'k':
			if (key != NULL)
				return given_twice("import", "--ca-key");
			key = optarg;
			break;
		case 'i':
			if (index != NULL)
				return given_twice("import", "--openssl-index");
			index = optarg;
			break;
		case 'd':
			if (certs != NULL)
				return given_twice("import", "--certs");
			certs = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'n':
			if (crlnumber != NULL)
				return given_twice("import",
				    "--openssl-crlnumber");
			crlnumber = optarg;
			break;
		case 'h':
			return cmd_usage_print("import", false);
		default:
			cmd_fail("import: unknown option or missing value: %s",
			    argv[optind - 1]);
			return cmd_usage_print("import", true);
		}
	}
	if (optind != argc || cert == NULL || key == NULL) {
		cmd_fail(optind != argc ? "import: unexpected argument" :
		    "import: --ca-cert and --ca-key are required");
		return cmd_usage_print("import", true);
	}
	ca_error_clear(&err);
	if (stat(cfg->ca_cert, &sb) == 0 || stat(cfg->ca_key, &sb) == 0)
		return cmd_fail("a CA already exists in %s (%s): import never "
		    "overwrites one; use another --data-dir", cfg->data_dir,
		    stat(cfg->ca_cert, &sb) == 0 ? cfg->ca_cert : cfg->ca_key);

	if (cmd_store_refuse_records(cfg, &err) != CA_OK)
		return cmd_fail_err(&err);

	/* 1. Everything is read and checked before anything is written. The
	 * source CA is opened where it is: same checks as ca_import (a CA,
	 * key matches, key mode 0600). */
	src.cert = cert;
	src.key = key;
	if (ca_open(&src, &ca, &err) != CA_OK) {
		status = cmd_fail_err(&err);
		goto out;
	}
	if (index != NULL && index_load(index, &it, &err) != CA_OK) {
		status = cmd_fail("%s; nothing was imported", err.msg);
		goto out;
	}
	if (certs != NULL && certs_load(certs, ca, &it, &stats, &err) !=
	    CA_OK) {
		status = cmd_fail("%s; nothing was imported", err.msg);
		goto out;
	}
	/* The runbook's CRL number: given, or the crlnumber file beside
	   index.txt (where `openssl ca` keeps it). */
	if (crlnumber == NULL && index != NULL) {
		const char *slash = strrchr(index, '/');

		snprintf(found, sizeof(found), "%.*scrlnumber", slash != NULL ?
		    (int)(slash - index + 1) : 0, index);
		if (stat(found, &sb) == 0)
			crlnumber = found;
	}
	if (crlnumber != NULL) {
		if (crlnumber_load(crlnumber, &crl_next, &err) != CA_OK) {
			status = cmd_fail("%s; nothing was imported", err.msg);
			goto out;
		}
		have_crlnumber = true;
	}

	/* 2. The CA files, then the records in one batch. */
	dst.cert = cfg->ca_cert;
	dst.key = cfg->ca_key;
	if (ca_import(&dst, cert, key, &err) != CA_OK) {
		status = cmd_fail_err(&err);
		goto out;
	}
	copied = true;
	if (cmd_store_open(cfg, false, &st, &err) != CA_OK ||
	    store_txn_begin(st, &txn, &err) != CA_OK) {
		status = cmd_fail("%s; nothing was imported", err.msg);
		goto out;
	}
	for (size_t i = 0; i < it.n; i++) {
		struct item		*x = &it.v[i];
		struct store_revocation	 rv;
		char			 hex[SERIAL_HEX_MAX + 2];
		int			 outcome;

		serial_format(x->rec.serial, x->rec.serial_len, hex);
		x->rec.issued_at = x->rec.not_before != 0 ? x->rec.not_before :
		    now;
		if (store_txn_cert_put(txn, &x->rec, &err) != CA_OK) {
			status = cmd_fail("serial %s: %s; nothing was imported",
			    hex, err.msg);
			goto out;
		}
		if (x->status == 'R') {
			memset(&rv, 0, sizeof(rv));
			rv.serial = x->rec.serial;
			rv.serial_len = x->rec.serial_len;
			rv.revoked_at = x->revoked_at;
			rv.reason = (uint8_t)x->reason;
			rv.force = false;
			rv.not_after = x->rec.not_after;
			if (store_txn_cert_revoke(txn, &rv, crl_entry_encode,
			    &outcome, &err) != CA_OK) {
				status = cmd_fail("serial %s: %s; nothing was "
				    "imported", hex, err.msg);
				goto out;
			}
			nr++;
		} else if (x->rec.not_after < now)
			ne++;
		else
			nv++;
	}
	/* openssl's next number is ours: RFC 5280 section 5.2.3, the
	   numbers of one issuer's CRLs rise strictly. */
	if (have_crlnumber && crl_next > 0 && store_txn_counter_raise(txn,
	    STORE_COUNTER_CRL, crl_next - 1, &err) != CA_OK) {
		status = cmd_fail("%s; nothing was imported", err.msg);
		goto out;
	}
	cmd_who(who, sizeof(who));
	snprintf(detail, sizeof(detail), "ca=%s records=%zu", cert, it.n);
	if (store_txn_audit_append(txn, now, who, "import", detail, &err) !=
	    CA_OK || store_txn_commit(txn, &err) != CA_OK) {
		txn = NULL;
		status = cmd_fail("%s; nothing was imported", err.msg);
		goto out;
	}
	txn = NULL;
	copied = false;		/* committed: the CA stays */

	der = ca_cert_der(ca, &der_len);
	if (cmd_cert_load(der, der_len, NULL, &carec, &err) != CA_OK) {
		status = cmd_fail_err(&err);
		goto out;
	}
	if (json) {
		json_t	*o = json_pack("{s:s?, s:s, s:s, s:I, s:I, s:I, s:I, "
		    "s:o, s:o, s:o}", "subject", carec.subject, "ca_cert",
		    cfg->ca_cert, "ca_key", cfg->ca_key, "records",
		    (json_int_t)it.n, "valid", (json_int_t)nv, "expired",
		    (json_int_t)ne, "revoked", (json_int_t)nr,
		    "certs_attached", certs != NULL ?
		    json_integer((json_int_t)stats.attached) : json_null(),
		    "certs_added", certs != NULL ?
		    json_integer((json_int_t)stats.added) : json_null(),
		    "certs_skipped", certs != NULL ?
		    json_integer((json_int_t)stats.skipped) : json_null());
		char	*text = o != NULL ? json_dumps(o, JSON_INDENT(2)) :
		    NULL;

		json_decref(o);
		/* Committed: the import stands even if stdout fails. */
		if (text == NULL)
			status = cmd_fail("imported, but out of memory for the "
			    "JSON report");
		else {
			printf("%s\n", text);
			status = CMD_OK;
		}
		free(text);
		goto out;
	}
	printf("imported CA %s\n  cert: %s\n  key:  %s (mode 0600)\n",
	    carec.subject != NULL ? carec.subject : "", cfg->ca_cert,
	    cfg->ca_key);
	printf("%zu certificate record(s): %zu valid, %zu expired, %zu "
	    "revoked\n", it.n, nv, ne, nr);
	if (certs != NULL)
		printf("%zu certificate file(s) attached to index entries, %zu "
		    "added, %zu skipped\n", stats.attached, stats.added,
		    stats.skipped);
	if (have_crlnumber)
		printf("CRL number carried over from %s: the next CRL is %llu "
		    "(0x%llX), as openssl's would have been\n", crlnumber,
		    (unsigned long long)(crl_next > 0 ? crl_next : 1),
		    (unsigned long long)(crl_next > 0 ? crl_next : 1));
	status = CMD_OK;
out:
	store_txn_abort(txn);
	store_close(st);
	if (copied) {
		/* The batch failed: leave the data directory as it was. */
		unlink(cfg->ca_cert);
		unlink(cfg->ca_key);
	}
	cert_record_clear(&carec);
	items_free(&it);
	ca_free(ca);
	return status;
}
