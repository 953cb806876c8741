/*
 * mtlsca: one executable, subcommands. main() takes the global options
 * (--config, --data-dir, wherever they appear before a "--"), loads and
 * validates the configuration once, and hands the rest of argv to the
 * subcommand. Exit status: 0 success, 1 failure (a sentence on stderr),
 * 2 usage error.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "cmd/cmd.h"
#include "cmd/cmd_int.h"

#ifndef MTLSCA_VERSION
#define MTLSCA_VERSION "0.0.0"
#endif

static const char main_usage[] =
"usage: mtlsca [--config FILE] [--data-dir DIR] COMMAND [OPTIONS]\n"
"       mtlsca --help | --version | help COMMAND\n"
"\n"
"A private certificate authority for mutual TLS (AWS ALB trust stores,\n"
"nginx, HAProxy, Envoy...).\n"
"\n"
"Global options (before or after COMMAND):\n"
"  --config FILE     configuration file (libconfig syntax, see\n"
"                    ca.conf.example); without it the built-in defaults\n"
"  --data-dir DIR    data directory, overrides data_dir (default\n"
"                    ./mtlsca-data)\n"
"  -h, --help        this help\n"
"  -V, --version     the version\n"
"\n"
"Commands:\n"
"  init      create a CA (key, self-signed certificate) and its store\n"
"  import    adopt an existing OpenSSL CA with its index.txt and certificates\n"
"  sign      sign a CSR with a profile\n"
"  list      list the certificates in the store\n"
"  show      show one certificate\n"
"  revoke    revoke certificates by serial\n"
"  crl       build and write a new CRL, or check a CRL file\n"
"  serve     run the HTTPS service (enrollment, admin API, CRL schedule)\n"
"  token     manage enrollment tokens\n"
"  audit     print the audit log\n"
"  publish   run the configured CRL publishers once (--dry-run: say what\n"
"            they would do, with read-only calls)\n"
"  status    show the CRL and publisher status, and the CA's fingerprint\n"
"  enroll    get a client certificate from a mtlsca server (key made here)\n"
"  renew     renew a client certificate over mTLS (once due, or as a daemon)\n"
"  export-p12  write a key and its certificate as a PKCS#12 file\n"
"  verify    is a client certificate good right now? (as GET /v1/verify)\n"
"  admin     admin token rotate: replace the store's admin token\n"
"  ca        ca rotate: a new active CA, the old one retiring; ca list\n"
"  completion  completion bash: a bash completion script\n"
"  backup    write a consistent backup of the CA while it runs, or --verify one\n"
"  restore   restore a backup, recovering what was published since\n"
"\n"
"'mtlsca help COMMAND' or 'mtlsca COMMAND --help' shows a command's options.\n"
"Exit status: 0 success, 1 failure, 2 usage error; renew --if-due: 3 when\n"
"not due.\n";

static const struct {
	const char	*name;
	int		(*fn)(int, char **, struct config *);
} commands[] = {
	{ "init", cmd_init },
	{ "import", cmd_import },
	{ "sign", cmd_sign },
	{ "list", cmd_list },
	{ "show", cmd_show },
	{ "revoke", cmd_revoke },
	{ "crl", cmd_crl },
	{ "serve", cmd_serve },
	{ "token", cmd_token },
	{ "audit", cmd_audit },
	{ "publish", cmd_publish },
	{ "status", cmd_status },
	{ "enroll", cmd_enroll },
	{ "renew", cmd_renew },
	{ "export-p12", cmd_export_p12 },
	{ "verify", cmd_verify },
	{ "admin", cmd_admin },
	{ "ca", cmd_ca },
	{ "completion", cmd_completion },
	{ "backup", cmd_backup },
	{ "restore", cmd_restore },
};

static int
(*command_find(const char *name))(int, char **, struct config *)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return commands[i].fn;
	return NULL;
}

/*
 * Take "--config FILE", "--config=FILE", "--data-dir DIR" and
 * "--data-dir=DIR" out of argv (up to a "--"), so that every subcommand
 * accepts them in any position. Returns -1 on a missing value, -2 (with
 * *twice naming it) on an option given twice: which one was meant?
 */
static int
global_options(int *argc, char **argv, const char **config,
    const char **data_dir, const char **twice)
{
	int	i, o = 0;
	bool	done = false;

	for (i = 0; i < *argc; i++) {
		const char	*a = argv[i];
		const char	**dst = NULL;
		size_t		 n = 0;

		if (!done && strcmp(a, "--") == 0)
			done = true;
		if (!done && strncmp(a, "--config", 8) == 0 &&
		    (a[8] == '\0' || a[8] == '=')) {
			dst = config;
			n = 8;
		} else if (!done && strncmp(a, "--data-dir", 10) == 0 &&
		    (a[10] == '\0' || a[10] == '=')) {
			dst = data_dir;
			n = 10;
		}
		if (dst == NULL) {
			argv[o++] = argv[i];
			continue;
		}
		if (*dst != NULL) {
			*twice = dst == config ? "--config" : "--data-dir";
			return -2;
		}
		if (a[n] == '=')
			*dst = a + n + 1;
		else if (i + 1 < *argc)
			*dst = argv[++i];
		else
			return -1;
		if (**dst == '\0')
			return -1;
	}
	argv[o] = NULL;
	*argc = o;
	return 0;
}

int
main(int argc, char **argv)
{
	static struct config	 cfg;	/* large: not on the stack */
	struct ca_error		 err;
	const char		*config = NULL, *data_dir = NULL, *name;
	const char		*twice = NULL;
	int			(*fn)(int, char **, struct config *);
	char			*help_argv[3];
	int			 status;

	/* A peer closing a socket must not kill the process (STYLE.md). */
	signal(SIGPIPE, SIG_IGN);
	switch (global_options(&argc, argv, &config, &data_dir, &twice)) {
	case 0:
		break;
	case -2:
		fprintf(stderr, "mtlsca: %s given twice\n%s", twice,
		    main_usage);
		return CMD_USAGE;
	default:
		fprintf(stderr, "mtlsca: --config and --data-dir need a value\n"
		    "%s", main_usage);
		return CMD_USAGE;
	}
	if (argc < 2) {
		fputs(main_usage, stderr);
		return CMD_USAGE;
	}
	name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
		fputs(main_usage, stdout);
		return CMD_OK;
	}
	if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
		printf("mtlsca %s (GnuTLS %s)\n", MTLSCA_VERSION,
		    gnutls_check_version(NULL));
		return CMD_OK;
	}
	if (strcmp(name, "help") == 0) {
		if (argc == 2) {
			fputs(main_usage, stdout);
			return CMD_OK;
		}
		if (argc != 3 || (fn = command_find(argv[2])) == NULL) {
			fprintf(stderr, "mtlsca: no command '%s'\n%s",
			    argv[2], main_usage);
			return CMD_USAGE;
		}
		/* The command prints its own help, without loading any
		 * configuration. */
		help_argv[0] = argv[2];
		help_argv[1] = (char *)"--help";
		help_argv[2] = NULL;
		config_defaults(&cfg);
		return fn(2, help_argv, &cfg);
	}
	if (name[0] == '-') {
		fprintf(stderr, "mtlsca: unknown option '%s' before the "
		    "command\n%s", name, main_usage);
		return CMD_USAGE;
	}
	if ((fn = command_find(name)) == NULL) {
		fprintf(stderr, "mtlsca: no command '%s'\n%s", name,
		    main_usage);
		return CMD_USAGE;
	}

	config_defaults(&cfg);
	ca_error_clear(&err);
	/* "COMMAND --help" answers even when the configuration is broken. */
	for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return fn(argc - 1, argv + 1, &cfg);
	if (config != NULL && config_load(config, &cfg, &err) != CA_OK)
		return cmd_fail_err(&err);
	if (data_dir != NULL && config_set_data_dir(&cfg, data_dir, &err) !=
	    CA_OK)
		return cmd_fail_err(&err);

	status = fn(argc - 1, argv + 1, &cfg);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "mtlsca: writing the output failed\n");
		status = CMD_FAIL;
	}
	return status;
}
