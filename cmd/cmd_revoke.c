/*
 * mtlsca revoke: by serial, or a file of serials. Revoking is idempotent:
 * a second revocation keeps the first time and may only raise the reason
 * to keyCompromise (the store decides, inside its write transaction). The
 * outcome is printed plainly, so that an operator re-running a list after
 * an incident sees what actually changed.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmd/cmd.h"
#include "cmd/cmd_int.h"
#include "crl/crl.h"

/* A revocation list file: 16 MiB is over 300,000 serials. */
#define REVOKE_FILE_MAX		(16u * 1024 * 1024)

struct serial_item {
	uint8_t		serial[SERIAL_MAX + 1];
	size_t		len;
	unsigned long	line;
};

/*
 * What the report of one line of a --file needs from the store, and no
 * more: a full record holds the certificate and its subject (about 1 KB),
 * which at 400,000 lines was 790 MB of heap for nothing.
 */
struct serial_state {
	int64_t		revoked_at;
	uint8_t		status;
	uint8_t		reason;
	bool		known;
	int8_t		outcome;
};

static const char *
outcome_word(int outcome)
{
	return outcome == STORE_REVOKE_NEW ? "revoked" :
	    outcome == STORE_REVOKE_RAISED ? "raised" : "already";
}

static const char *
reason_word(int code)
{
	const char *n = ca_reason_name(code);

	return n != NULL ? n : "unspecified";
}

/*
 * --json: one object per serial in results, {serial, outcome, revoked_at,
 * reason, known}; outcome "revoked", "raised", "unchanged", or with
 * --dry-run "would_revoke", "would_raise", "unchanged".
 */
static int
json_outcome(json_t *results, const char *hex, const char *outcome,
    int64_t revoked_at, int reason, bool known)
{
	char	 t[21];
	json_t	*o;

	cmd_time(revoked_at, t);
	o = json_pack("{s:s, s:s, s:s?, s:s, s:b}", "serial", hex, "outcome",
	    outcome, "revoked_at", revoked_at != 0 ? t : NULL, "reason",
	    reason_word(reason), "known", known);
	if (o == NULL || json_array_append_new(results, o) != 0)
		return cmd_fail("out of memory");
	return CMD_OK;
}

/* {"results": [...], "revoked": N, "raised": N, "unchanged": N,
   "dry_run": B} on stdout. */
static int
json_summary(json_t *results, bool dry_run)
{
	size_t	 counts[3] = { 0, 0, 0 }, i;
	json_t	*o, *v;
	char	*text = NULL;
	int	 status = CMD_FAIL;

	json_array_foreach(results, i, v) {
		const char *w = json_string_value(json_object_get(v,
		    "outcome"));

		counts[strstr(w, "revoke") != NULL ? 0 :
		    strstr(w, "raise") != NULL ? 1 : 2]++;
	}
	o = json_pack("{s:O, s:I, s:I, s:I, s:b}", "results", results,
	    "revoked", (json_int_t)counts[0], "raised", (json_int_t)counts[1],
	    "unchanged", (json_int_t)counts[2], "dry_run", dry_run);
	if (o == NULL || (text = json_dumps(o, JSON_INDENT(2))) == NULL)
		status = cmd_fail("out of memory");
	else {
		printf("%s\n", text);
		status = CMD_OK;
	}
	free(text);
	json_decref(o);
	return status;
}

/* Print what happened to one serial; rec is the final record. With
   results (--json), add it there instead. */
static void
print_outcome(const char *hex, int outcome, const struct cert_record *rec,
    bool known, json_t *results)
{
	char t[21];

	if (results != NULL) {
		(void)json_outcome(results, hex, outcome == STORE_REVOKE_NEW ?
		    "revoked" : outcome == STORE_REVOKE_RAISED ? "raised" :
		    "unchanged", rec->revoked_at, rec->reason, known);
		return;
	}
	cmd_time(rec->revoked_at, t);
	switch (outcome) {
	case STORE_REVOKE_NEW:
		printf("%s: revoked on %s (%s)%s\n", hex, t,
		    reason_word(rec->reason), known ? "" :
		    "; the store did not know this serial (--force)");
		break;
	case STORE_REVOKE_RAISED:
		printf("%s: reason raised to keyCompromise (revoked on %s)\n",
		    hex, t);
		break;
	default:
		printf("%s: already revoked on %s (%s); nothing changed\n", hex,
		    t, reason_word(rec->reason));
		break;
	}
}

static int
parse_reason(const char *text, int *code)
{
	if (ca_reason_parse(text, code) != CA_OK) {
		cmd_fail("--reason %s: expected an RFC 5280 reason: "
		    "unspecified, keyCompromise, cACompromise, "
		    "affiliationChanged, superseded, cessationOfOperation, "
		    "certificateHold, privilegeWithdrawn or aACompromise", text);
		return -1;
	}
	/* RFC 5280 §5.3.1: removeFromCRL only appears in delta CRLs. */
	if (*code == 8) {
		cmd_fail("--reason removeFromCRL is only for delta CRLs (RFC "
		    "5280 section 5.3.1), which mtlsca does not issue");
		return -1;
	}
	return 0;
}

/* One serial, one transaction (crl_revoke). */
static int
revoke_one(struct config *cfg, const char *text, int reason, int64_t at,
    bool force, json_t *results)
{
	struct ca_error		 err;
	struct store		*st = NULL;
	struct cert_record	 rec, before;
	uint8_t			 serial[SERIAL_MAX + 1];
	size_t			 len;
	char			 hex[SERIAL_HEX_MAX + 2], detail[160];
	bool			 known = true;
	int			 outcome, status = CMD_FAIL;

	memset(&rec, 0, sizeof(rec));
	memset(&before, 0, sizeof(before));
	ca_error_clear(&err);
	if (serial_parse(text, serial, &len, &err) != CA_OK) {
		cmd_fail_err(&err);
		return CMD_USAGE;
	}
	serial_format(serial, len, hex);
	if (cmd_store_open(cfg, false, &st, &err) != CA_OK) {
		status = cmd_fail_err(&err);
		goto out;
	}
	if (force) {
		int grc = store_cert_get(st, serial, len, &before, &err);

		if (grc == CA_ENOENT)
			known = false;
		else if (grc != CA_OK) {
			status = cmd_fail_err(&err);
			goto out;
		}
	}
	if (crl_revoke(st, serial, len, reason, at, force, &outcome, &rec,
	    &err) != CA_OK) {
		if (err.code == CA_ENOENT)
			status = cmd_fail("serial %s is not in the store: "
			    "nothing revoked (--force revokes it anyway, for "
			    "a certificate this CA issued elsewhere)", hex);
		else
			status = cmd_fail("%s: %s", hex, err.msg);
		goto out;
	}
	print_outcome(hex, outcome, &rec, known, results);
	snprintf(detail, sizeof(detail), "serial=%s reason=%s outcome=%s%s",
	    hex, reason_word(rec.reason), outcome_word(outcome),
	    known ? "" : " forced");
	cmd_audit_note(st, "revoke", detail);
	status = CMD_OK;
out:
	cert_record_clear(&before);
	cert_record_clear(&rec);
	store_close(st);
	return status;
}

/* Parse the file: every line checked before anything is written. */
static int
read_serials(const char *path, struct serial_item **out, size_t *n)
{
	struct ca_error		 err;
	struct serial_item	*items = NULL;
	uint8_t			*buf = NULL;
	size_t			 len, cap = 0, count = 0;
	char			*p, *line, *next;
	unsigned long		 lineno = 0;
	int			 rc = -1;

	ca_error_clear(&err);
	if (file_read(path, REVOKE_FILE_MAX, &buf, &len, &err) != CA_OK) {
		cmd_fail_err(&err);
		return -1;
	}
	if (memchr(buf, '\0', len) != NULL) {
		cmd_fail("%s: a NUL byte; expected one serial per line", path);
		goto out;
	}
	for (line = (char *)buf; line != NULL; line = next) {
		char *end;

		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		while (isspace((unsigned char)*line))
			line++;
		end = line + strlen(line);
		while (end > line && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*line == '\0')
			continue;
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct serial_item *ni = realloc(items,
			    ncap * sizeof(*ni));

			if (ni == NULL) {
				cmd_fail("out of memory");
				goto out;
			}
			items = ni;
			cap = ncap;
		}
		if (serial_parse(line, items[count].serial, &items[count].len,
		    &err) != CA_OK) {
			cmd_fail("%s:%lu: %s; nothing was revoked", path, lineno,
			    err.msg);
			goto out;
		}
		items[count++].line = lineno;
	}
	if (count == 0) {
		cmd_fail("%s: no serial numbers in it", path);
		goto out;
	}
	*out = items;
	*n = count;
	items = NULL;
	rc = 0;
out:
	free(items);
	free(buf);
	return rc;
}

/*
 * A file of serials: one write batch, so the list is revoked entirely or
 * not at all (an unknown serial without --force stops everything).
 */
static int
revoke_file(struct config *cfg, const char *path, int reason, int64_t at,
    bool force, bool dry_run, json_t *results)
{
	struct ca_error		 err;
	struct store		*st = NULL;
	struct store_txn	*txn = NULL;
	struct serial_item	*items = NULL;
	struct serial_state	*recs = NULL;
	char			 hex[SERIAL_HEX_MAX + 2], t[21];
	char			 who[96], detail[CONFIG_PATH_MAX + 128];
	size_t			 n = 0, unknown = 0, counts[3] = { 0, 0, 0 };
	int			 status = CMD_FAIL;

	if (read_serials(path, &items, &n) != 0)
		return CMD_FAIL;
	ca_error_clear(&err);
	if ((recs = calloc(n, sizeof(*recs))) == NULL) {
		status = cmd_fail("out of memory");
		goto out;
	}
	if (cmd_store_open(cfg, dry_run, &st, &err) != CA_OK) {
		status = cmd_fail_err(&err);
		goto out;
	}
	/* Look every serial up first: the report, and the refusal of
	 * unknown serials before anything is written. */
	for (size_t i = 0; i < n; i++) {
		struct cert_record	rec;
		int			grc;

		memset(&rec, 0, sizeof(rec));
		grc = store_cert_get(st, items[i].serial, items[i].len, &rec,
		    &err);
		recs[i].known = grc == CA_OK;
		recs[i].status = rec.status;
		recs[i].reason = rec.reason;
		recs[i].revoked_at = rec.revoked_at;
		cert_record_clear(&rec);
		if (grc == CA_OK)
			continue;
		if (grc == CA_ENOENT)
			unknown++;
		else {
			status = cmd_fail_err(&err);
			goto out;
		}
	}
	if (unknown > 0 && !force) {
		for (size_t i = 0; i < n; i++)
			if (!recs[i].known) {
				serial_format(items[i].serial, items[i].len,
				    hex);
				fprintf(stderr, "mtlsca: %s:%lu: serial %s is "
				    "not in the store\n", path, items[i].line,
				    hex);
			}
		status = cmd_fail("%zu unknown serial(s) in %s: nothing %s "
		    "revoked (--force revokes them anyway)", unknown, path,
		    dry_run ? "would be" : "was");
		goto out;
	}
	if (dry_run) {
		for (size_t i = 0; i < n; i++) {
			serial_format(items[i].serial, items[i].len, hex);
			cmd_time(recs[i].revoked_at, t);
			if (results != NULL) {
				bool revoked = recs[i].known &&
				    recs[i].status == CERT_STATUS_REVOKED;

				if (json_outcome(results, hex, !revoked ?
				    "would_revoke" : reason == 1 &&
				    recs[i].reason != 1 ? "would_raise" :
				    "unchanged", revoked ? recs[i].revoked_at :
				    0, revoked ? recs[i].reason : reason,
				    recs[i].known) != CMD_OK)
					goto out;
				continue;
			}
			if (!recs[i].known)
				printf("%s: would be revoked (%s); the store "
				    "does not know it (--force)\n", hex,
				    reason_word(reason));
			else if (recs[i].status != CERT_STATUS_REVOKED)
				printf("%s: would be revoked (%s)\n", hex,
				    reason_word(reason));
			else if (reason == 1 && recs[i].reason != 1)
				printf("%s: already revoked on %s (%s); reason "
				    "would be raised to keyCompromise\n", hex,
				    t, reason_word(recs[i].reason));
			else
				printf("%s: already revoked on %s (%s); nothing "
				    "would change\n", hex, t,
				    reason_word(recs[i].reason));
		}
		if (results == NULL)
			printf("dry run: %zu serial(s) checked, nothing "
			    "written\n", n);
		status = CMD_OK;
		goto out;
	}
	if (at == 0)
		at = time_now();
	cmd_who(who, sizeof(who));
	/* One transaction for the whole file: room for every record, index
	   and audit entry it may write (about 1 KB a line, pages included). */
	store_reserve(st, (uint64_t)n * 1024);
	if (store_txn_begin(st, &txn, &err) != CA_OK) {
		status = cmd_fail_err(&err);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_revocation rv;
		int			outcome = 0;

		memset(&rv, 0, sizeof(rv));
		rv.serial = items[i].serial;
		rv.serial_len = items[i].len;
		rv.revoked_at = at;
		rv.reason = (uint8_t)reason;
		rv.force = force;
		rv.not_after = STORE_NOT_AFTER_UNKNOWN;
		serial_format(items[i].serial, items[i].len, hex);
		snprintf(detail, sizeof(detail), "serial=%s reason=%s file=%s",
		    hex, reason_word(reason), path);
		if (store_txn_cert_revoke(txn, &rv, crl_entry_encode,
		    &outcome, &err) != CA_OK ||
		    store_txn_audit_append(txn, at, who, "revoke", detail,
		    &err) != CA_OK) {
			status = cmd_fail("%s:%lu: %s: %s; nothing was revoked",
			    path, items[i].line, hex, err.msg);
			goto out;
		}
		recs[i].outcome = (int8_t)outcome;
	}
	if (store_txn_commit(txn, &err) != CA_OK) {
		txn = NULL;
		status = cmd_fail("%s; nothing was revoked", err.msg);
		goto out;
	}
	txn = NULL;
	for (size_t i = 0; i < n; i++) {
		struct cert_record	shown;
		int			outcome = recs[i].outcome;

		memset(&shown, 0, sizeof(shown));
		shown.status = recs[i].status;
		shown.reason = recs[i].reason;
		shown.revoked_at = recs[i].revoked_at;
		serial_format(items[i].serial, items[i].len, hex);
		/* The time and reason as the transaction left them. */
		if (outcome == STORE_REVOKE_NEW) {
			shown.revoked_at = at;
			shown.reason = (uint8_t)reason;
		} else if (outcome == STORE_REVOKE_RAISED)
			shown.reason = 1;
		else if (shown.status != CERT_STATUS_REVOKED) {
			/* Listed twice: revoked by its first line. */
			shown.revoked_at = at;
			shown.reason = (uint8_t)reason;
		}
		print_outcome(hex, outcome, &shown, recs[i].known, results);
		if (outcome >= 0 && outcome <= 2)
			counts[outcome]++;
	}
	if (results == NULL)
		printf("%zu revoked, %zu reason(s) raised, %zu already "
		    "revoked\n", counts[STORE_REVOKE_NEW],
		    counts[STORE_REVOKE_RAISED], counts[STORE_REVOKE_ALREADY]);
	status = CMD_OK;
out:
	store_txn_abort(txn);
	free(recs);
	free(items);
	store_close(st);
	return status;
}

/* An option given twice: which one was meant? Refuse rather than guess. */
static int
given_twice(const char *cmd, const char *opt)
{
	cmd_fail("%s: %s given twice", cmd, opt);
	return cmd_usage_print(cmd, true);
}

int
cmd_revoke(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "time", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'f' },
		{ "file", required_argument, NULL, 'F' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char	*file = NULL;
	int64_t		 at = 0;
	int		 reason = 0, ch, status;
	unsigned	 seen = 0;
	bool		 force = false, dry_run = false, json = false;
	json_t		*results = NULL;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			if (seen & 1)
				return given_twice("revoke", "--reason");
			seen |= 1;
			if (parse_reason(optarg, &reason) != 0)
				return CMD_USAGE;
			break;
		case 't':
			if (seen & 2)
				return given_twice("revoke", "--time");
			seen |= 2;
			if (time_parse(optarg, &at) != CA_OK || at <= 0) {
				cmd_fail("--time %s: expected an RFC 3339 time "
				    "such as 2026-01-31T12:00:00Z or "
				    "2026-01-31T21:00:00+09:00", optarg);
				return CMD_USAGE;
			}
			if (at > time_now() + 300) {
				cmd_fail("--time %s is in the future: a "
				    "revocation date says when it happened "
				    "(RFC 5280 section 5.1.2.6)", optarg);
				return CMD_USAGE;
			}
			break;
		case 'f':
			force = true;
			break;
		case 'F':
			if (file != NULL)
				return given_twice("revoke", "--file");
			file = optarg;
			break;
		case 'n':
			dry_run = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return cmd_usage_print("revoke", false);
		default:
			cmd_fail("revoke: unknown option or missing value: %s",
			    argv[optind - 1]);
			return cmd_usage_print("revoke", true);
		}
	}
	if (file != NULL && optind != argc) {
		cmd_fail("revoke: give SERIAL or --file, not both");
		return cmd_usage_print("revoke", true);
	}
	if (file == NULL && dry_run) {
		cmd_fail("revoke: --dry-run goes with --file");
		return cmd_usage_print("revoke", true);
	}
	if (file == NULL && argc - optind != 1) {
		cmd_fail("revoke: expected one SERIAL (or --file FILE)");
		return cmd_usage_print("revoke", true);
	}
	if (json && (results = json_array()) == NULL)
		return cmd_fail("out of memory");
	status = file != NULL ? revoke_file(cfg, file, reason, at, force,
	    dry_run, results) : revoke_one(cfg, argv[optind], reason, at,
	    force, results);
	if (status == CMD_OK && json)
		status = json_summary(results, dry_run);
	json_decref(results);
	return status;
}
