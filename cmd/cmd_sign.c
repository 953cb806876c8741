/*
 * mtlsca sign: one CSR, one profile. The certificate leaves the process
 * only after ca_sign() returned, that is after the store committed it with
 * its audit entry (DESIGN.md "Data flow": a client never holds a
 * certificate the store does not know).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cmd/cmd.h"
#include "cmd/cmd_int.h"

/* An option given twice: which one was meant? Refuse rather than guess. */
static int
given_twice(const char *cmd, const char *opt)
{
	cmd_fail("%s: %s given twice", cmd, opt);
	return cmd_usage_print(cmd, true);
}

int
cmd_sign(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
		{ "csr", required_argument, NULL, 'c' },
		{ "profile", required_argument, NULL, 'p' },
		{ "days", required_argument, NULL, 'd' },
		{ "out", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct ca_profile	*profile = &cfg->profiles[0];
	struct ca_error		 err;
	struct store		*st = NULL;
	struct ca		*ca = NULL;
	struct ca_csr		*csr = NULL;
	struct ca_issued	 iss;
	const char		*csr_path = NULL, *out_path = NULL, *what;
	char			 serial[SERIAL_HEX_MAX + 2], expires[21];
	char			 who[96];
	uint8_t			*buf = NULL;
	size_t			 len;
	uint64_t		 days = 0;
	int			 ch, status = CMD_FAIL, profile_set = 0;
	bool			 json = false;
	json_t			*o = NULL;
	char			*text = NULL, nb[21];

	memset(&iss, 0, sizeof(iss));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			if (csr_path != NULL)
				return given_twice("sign", "--csr");
			csr_path = optarg;
			break;
		case 'p':
			if (profile_set++)
				return given_twice("sign", "--profile");
			if ((profile = config_profile(cfg, optarg)) == NULL) {
				cmd_fail("--profile %s: no such profile in %s",
				    optarg, cfg->source);
				return CMD_USAGE;
			}
			break;
		case 'd':
			if (days != 0)
				return given_twice("sign", "--days");
			if (parse_u64(optarg, 1, 36500, &days) != CA_OK) {
				cmd_fail("--days %s: expected a number of days "
				    "from 1 to 36500", optarg);
				return CMD_USAGE;
			}
			break;
		case 'o':
			if (out_path != NULL)
				return given_twice("sign", "--out");
			out_path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return cmd_usage_print("sign", false);
		default:
			cmd_fail("sign: unknown option or missing value: %s",
			    argv[optind - 1]);
			return cmd_usage_print("sign", true);
		}
	}
	if (optind != argc || csr_path == NULL) {
		cmd_fail(optind != argc ? "sign: unexpected argument" :
		    "sign: --csr FILE is required");
		return cmd_usage_print("sign", true);
	}
	if (out_path != NULL && (what = cmd_ca_file_of(cfg, out_path)) != NULL)
		return cmd_fail("--out %s is the CA %s: refusing to overwrite "
		    "the CA %s", out_path, what, what);
	ca_error_clear(&err);
	if (file_read(csr_path, CA_CSR_MAX, &buf, &len, &err) != CA_OK) {
		if (err.code == CA_ETOOBIG)
			status = cmd_fail("%s: a CSR is at most %d bytes",
			    csr_path, CA_CSR_MAX);
		else
			status = cmd_fail_err(&err);
		goto out;
	}
	if (ca_csr_parse(buf, len, &csr, &err) != CA_OK) {
		status = cmd_fail("%s: %s", csr_path, err.msg);
		goto out;
	}
	if (cmd_ca_open(cfg, &ca, &err) != CA_OK ||
	    cmd_store_open(cfg, false, &st, &err) != CA_OK) {
		status = cmd_fail_err(&err);
		goto out;
	}
	cmd_who(who, sizeof(who));
	if (ca_sign(ca, st, csr, profile, (unsigned)days, who, &iss, &err) !=
	    CA_OK) {
		status = cmd_fail("%s: %s", csr_path, err.msg);
		goto out;
	}
	serial_format(iss.serial, iss.serial_len, serial);
	cmd_time(iss.not_after, expires);
	if (out_path != NULL) {
		if (file_write_atomic(out_path, iss.pem, strlen(iss.pem), 0644,
		    0, &err) != CA_OK) {
			status = cmd_fail("certificate %s is recorded but could "
			    "not be written: %s (mtlsca show %s --pem prints "
			    "it)", serial, err.msg, serial);
			goto out;
		}
	} else if (json) {
		/* The PEM goes into the JSON object below. */
	} else if (fputs(iss.pem, stdout) == EOF) {
		status = cmd_fail("certificate %s is recorded but could not be "
		    "written to stdout (mtlsca show %s --pem prints it)",
		    serial, serial);
		goto out;
	}
	fprintf(stderr, "signed %s (profile %s, serial %s, expires %s)%s%s\n",
	    iss.subject != NULL ? iss.subject : "", iss.profile, serial,
	    expires, out_path != NULL ? " -> " : "",
	    out_path != NULL ? out_path : "");
	if (iss.truncated)
		fprintf(stderr, "mtlsca: warning: validity truncated: %s\n",
		    iss.truncated_reason);
	if (json) {
		cmd_time(iss.not_before, nb);
		o = json_pack("{s:s, s:s?, s:s, s:s, s:s, s:s, s:s?}",
		    "serial", serial, "subject", iss.subject, "profile",
		    iss.profile, "not_before", nb, "not_after", expires,
		    "pem", iss.pem, "out", out_path);
		if (o == NULL || (text = json_dumps(o, JSON_INDENT(2))) ==
		    NULL || printf("%s\n", text) < 0) {
			status = cmd_fail("certificate %s is recorded but the "
			    "JSON could not be written (mtlsca show %s --json "
			    "prints it)", serial, serial);
			goto out;
		}
	}
	status = CMD_OK;
out:
	free(text);
	json_decref(o);
	ca_issued_clear(&iss);
	ca_csr_free(csr);
	ca_free(ca);
	store_close(st);
	free(buf);
	return status;
}
