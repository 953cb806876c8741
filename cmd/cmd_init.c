/*
 * mtlsca init: create the CA (key and self-signed certificate, the
 * runbook's v3_ca profile) and its store. Never overwrites an existing CA.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/cmd_int.h"

static const char *const key_type_names[] = {
	[CA_KEY_RSA2048] = "rsa2048",
	[CA_KEY_RSA3072] = "rsa3072",
	[CA_KEY_RSA4096] = "rsa4096",
	[CA_KEY_ECDSA_P256] = "ecdsa-p256",
	[CA_KEY_ECDSA_P384] = "ecdsa-p384",
	[CA_KEY_ECDSA_P521] = "ecdsa-p521",
};

/* An option given twice: which one was meant? Refuse rather than guess. */
static int
given_twice(const char *cmd, const char *opt)
{
	cmd_fail("%s: %s given twice", cmd, opt);
	return cmd_usage_print(cmd, true);
}

int
cmd_init(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
		{ "subject", required_argument, NULL, 's' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "days", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ca_init_options	 opt;
	struct ca_paths		 paths;
	struct ca_error		 err;
	struct store		*st = NULL;
	struct ca		*ca = NULL;
	struct cert_record	 rec;
	const char		*subject = NULL;
	char			 db[CONFIG_PATH_MAX], expires[21];
	const uint8_t		*der;
	size_t			 der_len;
	uint64_t		 days = cfg->ca_days;
	int			 ch, status = CMD_FAIL;
	unsigned		 seen = 0;

	memset(&rec, 0, sizeof(rec));
	memset(&opt, 0, sizeof(opt));
	opt.key_type = cfg->ca_key_type;
	if (cfg->ca_subject[0] != '\0')
		subject = cfg->ca_subject;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (seen & 1)
				return given_twice("init", "--subject");
			seen |= 1;
			subject = optarg;
			break;
		case 'k':
			if (seen & 2)
				return given_twice("init", "--key-type");
			seen |= 2;
			if (ca_key_type_parse(optarg, &opt.key_type) != CA_OK) {
				cmd_fail("--key-type %s: expected rsa2048, "
				    "rsa3072, rsa4096, ecdsa-p256, ecdsa-p384 "
				    "or ecdsa-p521", optarg);
				return CMD_USAGE;
			}
			break;
		case 'd':
			if (seen & 4)
				return given_twice("init", "--days");
			seen |= 4;
			if (parse_u64(optarg, 1, 36500, &days) != CA_OK) {
				cmd_fail("--days %s: expected a number of days "
				    "from 1 to 36500", optarg);
				return CMD_USAGE;
			}
			break;
		case 'h':
			return cmd_usage_print("init", false);
		default:
			cmd_fail("init: unknown option or missing value: %s",
			    argv[optind - 1]);
			return cmd_usage_print("init", true);
		}
	}
	if (optind != argc) {
		cmd_fail("init: unexpected argument '%s'", argv[optind]);
		return cmd_usage_print("init", true);
	}
	opt.subject = subject;
	opt.days = (unsigned)days;
	paths.cert = cfg->ca_cert;
	paths.key = cfg->ca_key;
	ca_error_clear(&err);

	if (cmd_store_refuse_records(cfg, &err) != CA_OK)
		return cmd_fail_err(&err);
	if (ca_init(&paths, &opt, &err) != CA_OK) {
		if (err.code == CA_EEXIST)
			return cmd_fail("%s; init never overwrites a CA (remove "
			    "both files by hand, or use another --data-dir)",
			    err.msg);
		return cmd_fail_err(&err);
	}
	/* Load it back as every other command will: this checks the key
	 * mode, that key and certificate match, and that it is a CA. */
	if (ca_open(&paths, &ca, &err) != CA_OK ||
	    cmd_store_open(cfg, false, &st, &err) != CA_OK) {
		status = cmd_fail("the CA was written but cannot be used: %s",
		    err.msg);
		goto out;
	}
	der = ca_cert_der(ca, &der_len);
	if (cmd_cert_load(der, der_len, NULL, &rec, &err) != CA_OK) {
		status = cmd_fail_err(&err);
		goto out;
	}
	(void)config_path(cfg, "db", db, sizeof(db));
	cmd_time(ca_not_after(ca), expires);
	printf("CA created\n"
	    "  subject:  %s\n"
	    "  key type: %s\n"
	    "  expires:  %s\n"
	    "  cert:     %s\n"
	    "  key:      %s (mode 0600)\n"
	    "  store:    %s\n", rec.subject != NULL ? rec.subject : "",
	    key_type_names[opt.key_type], expires, cfg->ca_cert, cfg->ca_key,
	    db);
	status = CMD_OK;
out:
	cert_record_clear(&rec);
	ca_free(ca);
	store_close(st);
	return status;
}
