/*
 * mtlsca crl: build, sign and write a new CRL (the next cRLNumber; DER and
 * PEM from the same bytes, each replaced atomically), or check any CRL file
 * the way the load balancer would before someone uploads it.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cmd/cmd.h"
#include "cmd/cmd_int.h"
#include "common/util.h"
#include "crl/crl.h"

/* Read a little more than ALB's cap so that crl_check can name it. */
#define CRL_CHECK_READ_MAX	(CRL_ALB_MAX_BYTES + 1024 * 1024)


/*
 * --check --json: {file, bytes, format, number, entries, this_update,
 * next_update, signature ("verified", "failed", "not checked"), ok,
 * problem}.
 */
static int
crl_check_json(const char *path, size_t len, const struct crl_check_report
    *rep, bool with_ca, bool ok, const char *problem)
{
	char t1[21], t2[21];

	cmd_time(rep->this_update, t1);
	cmd_time(rep->next_update, t2);
	return cmd_json_print(json_pack("{s:s, s:I, s:s, s:o, s:I, s:s?, s:s?, "
	    "s:s, s:b, s:s?}", "file", path, "bytes", (json_int_t)len,
	    "format", rep->pem ? "PEM" : "DER", "number", rep->has_number ?
	    json_integer((json_int_t)rep->number) : json_null(), "entries",
	    (json_int_t)rep->entries, "this_update", rep->this_update != 0 ?
	    t1 : NULL, "next_update", rep->has_next ? t2 : NULL, "signature",
	    !with_ca ? "not checked" : rep->signature_ok ? "verified" :
	    "failed", "ok", ok, "problem", ok ? NULL : problem));
}

static int
crl_check_file(struct config *cfg, const char *path, bool json)
{
	struct crl_check_report	 rep;
	struct ca_error		 err, cerr;
	struct ca		*ca = NULL;
	struct stat		 sb;
	uint8_t			*buf = NULL;
	size_t			 len;
	char			 t1[21], t2[21];
	int			 rc, status = CMD_FAIL;

	memset(&rep, 0, sizeof(rep));
	ca_error_clear(&err);
	ca_error_clear(&cerr);
	if (file_read(path, CRL_CHECK_READ_MAX, &buf, &len, &err) != CA_OK) {
		if (err.code == CA_ETOOBIG)
			return cmd_fail("%s: over the load balancer's limit of "
			    "50 MB per CRL file", path);
		return cmd_fail_err(&err);
	}
	/* With a CA at hand the check covers issuer, AKI and signature. */
	if (stat(cfg->ca_cert, &sb) == 0 && cmd_ca_open(cfg, &ca, &cerr) !=
	    CA_OK)
		fprintf(stderr, "mtlsca: warning: not checking the signature: "
		    "%s\n", cerr.msg);
	rc = crl_check(buf, len, ca, &rep, &err);
	if (json) {
		bool		 ok = rc == CA_OK && rep.problems[0] == '\0';
		const char	*why = rep.problems[0] != '\0' ? rep.problems :
		    err.msg;

		status = crl_check_json(path, len, &rep, ca != NULL, ok, why);
		if (status == CMD_OK && !ok)
			status = cmd_fail("%s: %s", path, err.msg[0] != '\0' ?
			    err.msg : rep.problems);
		goto out;
	}
	cmd_time(rep.this_update, t1);
	cmd_time(rep.next_update, t2);
	printf("file:        %s (%zu bytes)\n", path, len);
	printf("format:      %s\n", rep.pem ? "PEM" :
	    "DER (the load balancer takes PEM only)");
	if (rep.has_number)
		printf("number:      %llu\n", (unsigned long long)rep.number);
	else
		printf("number:      none\n");
	printf("entries:     %llu\n", (unsigned long long)rep.entries);
	printf("thisUpdate:  %s\n", t1);
	printf("nextUpdate:  %s\n", t2);
	if (ca != NULL)
		printf("signature:   %s (CA %s)\n", rep.signature_ok ?
		    "verified" : "NOT verified", cfg->ca_cert);
	else
		printf("signature:   not checked (no CA at %s)\n",
		    cfg->ca_cert);
	if (rc == CA_OK && rep.problems[0] == '\0') {
		printf("result:      OK, the load balancer would accept it\n");
		status = CMD_OK;
	} else {
		printf("result:      FAILED: %s\n", rep.problems[0] != '\0' ?
		    rep.problems : err.msg);
		status = cmd_fail("%s: %s", path, err.msg[0] != '\0' ?
		    err.msg : rep.problems);
	}
out:
	ca_free(ca);
	free(buf);
	return status;
}

int
cmd_crl(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "pem", no_argument, NULL, 'p' },
		{ "check", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct crl_options	 opt;
	struct crl_result	 res;
	struct ca_error		 err;
	struct store		*st = NULL;
	struct ca		*ca = NULL;
	const char		*out_path = NULL, *check = NULL, *what;
	char			 pub[CONFIG_PATH_MAX], t1[21], t2[21];
	char			 detail[128];
	struct cmd_cas		 cas;
	json_t			*retiring = NULL;
	char			 der_path[CONFIG_PATH_MAX + 16];
	char			 pem_path[CONFIG_PATH_MAX + 16];
	bool			 pem = false, json = false;
	int			 ch, rc, status = CMD_FAIL, lock = -1;

	memset(&cas, 0, sizeof(cas));
	memset(&res, 0, sizeof(res));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out_path = optarg;
			break;
		case 'p':
			pem = true;
			break;
		case 'c':
			check = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return cmd_usage_print("crl", false);
		default:
			cmd_fail("crl: unknown option or missing value: %s",
			    argv[optind - 1]);
			return cmd_usage_print("crl", true);
		}
	}
	if (optind != argc) {
		cmd_fail("crl: unexpected argument '%s'", argv[optind]);
		return cmd_usage_print("crl", true);
	}
	if (check != NULL) {
		if (out_path != NULL || pem) {
			cmd_fail("crl: --check does not build a CRL: no --out "
			    "or --pem with it");
			return cmd_usage_print("crl", true);
		}
		return crl_check_file(cfg, check, json);
	}
	if (pem && out_path == NULL) {
		cmd_fail("crl: --pem chooses the format of --out PATH "
		    "(public/crl.pem is always written)");
		return cmd_usage_print("crl", true);
	}
	if (out_path != NULL && (what = cmd_ca_file_of(cfg, out_path)) != NULL)
		return cmd_fail("--out %s is the CA %s: refusing to overwrite "
		    "the CA %s", out_path, what, what);
	ca_error_clear(&err);
	if (config_path(cfg, "public", pub, sizeof(pub)) != CA_OK) {
		status = cmd_fail("data_dir %s: path too long", cfg->data_dir);
		goto out;
	}
	if (cmd_ca_open(cfg, &ca, &err) != CA_OK ||
	    cmd_store_open(cfg, false, &st, &err) != CA_OK) {
		status = cmd_fail_err(&err);
		goto out;
	}
	/* Take turns with `serve` and `publish` (see CMD_CRL_LOCK). */
	if (cmd_crl_lock(cfg, &lock, &err) != CA_OK) {
		status = cmd_fail_err(&err);
		goto out;
	}
	crl_options_default(&opt);
	opt.validity = cfg->crl_validity;
	opt.keep_expired = cfg->crl_keep_expired;
	opt.warn_entries = cfg->crl_warn_entries;
	opt.max_entries = cfg->crl_max_entries;
	/* The PEM goes straight into the files, never whole in memory; the
	   files are written while the CRL is verified. */
	opt.pem_unheld = true;
	opt.write_dir = pub;
	if (crl_build(ca, st, &opt, &res, &err) != CA_OK) {
		status = cmd_fail("building the CRL: %s", err.msg);
		goto out;
	}
	/* Each retiring CA's CRL (CA rotation), then crls.pem with all. */
	if (cmd_cas_open(cfg, ca, time_now(), &cas, &err) != CA_OK ||
	    (retiring = json_array()) == NULL) {
		status = cmd_fail("%s", err.msg[0] ? err.msg : "out of memory");
		goto out;
	}
	for (size_t i = 1; i < cas.n; i++) {
		struct crl_result	r2;
		char			dir[CONFIG_PATH_MAX];

		memset(&r2, 0, sizeof(r2));
		cmd_cas_public_dir(pub, &cas, i, dir, sizeof(dir));
		opt.write_dir = dir;
		rc = crl_build(cas.ca[i], st, &opt, &r2, &err);
		opt.write_dir = NULL;
		if (rc != CA_OK) {
			crl_result_clear(&r2);
			status = cmd_fail("retiring CA %" PRIu32 "'s CRL: %s",
			    cas.id[i], err.msg);
			goto out;
		}
		(void)crl_files_record(st, cas.ca[i], &r2, NULL);
		snprintf(detail, sizeof(detail), "number=%llu entries=%llu "
		    "ca=%" PRIu32, (unsigned long long)r2.number,
		    (unsigned long long)r2.entries, cas.id[i]);
		cmd_audit_note(st, "crl", detail);
		if (json)
			json_array_append_new(retiring, json_pack("{s:I, s:I, "
			    "s:I, s:s}", "ca", (json_int_t)cas.id[i], "number",
			    (json_int_t)r2.number, "entries",
			    (json_int_t)r2.entries, "dir", dir));
		else
			printf("retiring CA %" PRIu32 ": CRL number %llu, %llu "
			    "entr%s -> %s\n", cas.id[i],
			    (unsigned long long)r2.number,
			    (unsigned long long)r2.entries,
			    r2.entries == 1 ? "y" : "ies", dir);
		crl_result_clear(&r2);
	}
	if (crl_files_combine(pub, &res, &err) != CA_OK) {
		status = cmd_fail("%s", err.msg);
		goto out;
	}
	/* So that serve, at its start, trusts these files by their identity
	   (crl/trust.c). */
	if (crl_files_record(st, ca, &res, &err) != CA_OK)
		fprintf(stderr, "mtlsca: crl: %s (serve will check the CRL "
		    "in full at its start)\n", err.msg);
	if (out_path != NULL && (pem ? crl_write_pem(out_path, &res, &err) :
	    file_write_atomic(out_path, res.der, res.der_len, 0644, 0,
	    &err)) != CA_OK) {
		status = cmd_fail("CRL %llu: %s", (unsigned long long)res.number,
		    err.msg);
		goto out;
	}
	snprintf(detail, sizeof(detail), "number=%llu entries=%llu",
	    (unsigned long long)res.number, (unsigned long long)res.entries);
	cmd_audit_note(st, "crl", detail);
	cmd_time(res.this_update, t1);
	cmd_time(res.next_update, t2);
	if (res.warned)
		fprintf(stderr, "mtlsca: warning: %s\n", res.warning);
	if (json) {
		snprintf(der_path, sizeof(der_path), "%s/crl.der", pub);
		snprintf(pem_path, sizeof(pem_path), "%s/crl.pem", pub);
		status = cmd_json_print(json_pack("{s:I, s:I, s:s, s:s, "
		    "s:[s, s, s*], s:s?, s:o}", "number", (json_int_t)res.number,
		    "entries", (json_int_t)res.entries, "this_update", t1,
		    "next_update", t2, "files", der_path, pem_path, out_path,
		    "warning", res.warned ? res.warning : NULL, "retiring",
		    retiring));
		retiring = NULL;
		goto out;
	}
	printf("CRL number %llu: %llu entr%s, thisUpdate %s, nextUpdate %s\n",
	    (unsigned long long)res.number, (unsigned long long)res.entries,
	    res.entries == 1 ? "y" : "ies", t1, t2);
	printf("wrote %s/crl.der and %s/crl.pem%s%s\n", pub, pub,
	    out_path != NULL ? " and " : "", out_path != NULL ? out_path : "");
	status = CMD_OK;
out:
	json_decref(retiring);
	cmd_cas_close(&cas);
	file_unlock(lock);
	crl_result_clear(&res);
	ca_free(ca);
	store_close(st);
	return status;
}
