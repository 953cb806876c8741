/*
 * mtlsca enroll: a client gets its certificate without scripting. The key
 * is made here and never leaves the machine. Trust in the server comes from
 * a CA file or, in step's bootstrap model, from the SHA-256 fingerprint of
 * the CA certificate (printed by `serve` and `mtlsca status`): the bundle is
 * fetched over an unverified connection that carries nothing secret, checked
 * against the fingerprint, and only then used to verify the server that
 * receives the token.
 *
 * Also the checks and warnings renew shares (cmd_client.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "cmd/cmd.h"
#include "cmd/cmd_client.h"
#include "cmd/cmd_int.h"
#include "common/util.h"

#ifdef MTLSCA_HAVE_CLIENT

#define PEM_FILE_MAX	(256 * 1024)

void
cmd_duration(int64_t s, char *out, size_t size)
{
	if (s < 0)
		s = -s;
	if (s >= 86400)
		snprintf(out, size, "%lldd %lldh", (long long)(s / 86400),
		    (long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(out, size, "%lldh %lldm", (long long)(s / 3600),
		    (long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(out, size, "%lldm %llds", (long long)(s / 60),
		    (long long)(s % 60));
	else
		snprintf(out, size, "%llds", (long long)s);
}

int
cmd_issued_check(const struct client_issued *iss, const char *key_pem,
    size_t key_len, struct client_cert_info *leaf, struct ca_error *err)
{
	struct ca_error e;

	ca_error_clear(&e);
	if (client_cert_info(iss->cert_pem, strlen(iss->cert_pem), leaf,
	    &e) != CA_OK)
		return ca_error_set(err, CA_EMALF, "the server's certificate: "
		    "%s", e.msg);
	/* The server must have certified our key, not some other one. */
	if (ca_key_matches_cert(key_pem, key_len, iss->cert_pem,
	    strlen(iss->cert_pem), &e) != CA_OK)
		return ca_error_set(err, CA_EPOLICY, "the server's certificate "
		    "%s is not for our key: %s", leaf->serial, e.msg);
	if (client_cert_verify(iss->cert_pem, strlen(iss->cert_pem),
	    iss->ca_pem, strlen(iss->ca_pem), &e) != CA_OK)
		return ca_error_set(err, CA_EPOLICY, "the server's certificate "
		    "%s: %s", leaf->serial, e.msg);
	return CA_OK;
}

void
cmd_clock_warn(const struct client_issued *iss,
    const struct client_cert_info *leaf)
{
	char	d[32], a[21], b[21];
	int64_t	skew;

	if (iss->server_date > 0) {
		skew = iss->local_date - iss->server_date;
		if (skew > CMD_SKEW_WARN || skew < -CMD_SKEW_WARN) {
			cmd_duration(skew, d, sizeof(d));
			time_format(iss->local_date, a);
			time_format(iss->server_date, b);
			fprintf(stderr, "mtlsca: warning: this machine's clock "
			    "is %s %s the server's (here %s, server %s): TLS "
			    "peers will see certificates as not yet valid or "
			    "expired; fix the clock (NTP)\n", d, skew > 0 ?
			    "ahead of" : "behind", a, b);
		}
	}
	/* A minute of slack: the server's clock may be a little ahead. */
	if (leaf->not_before > iss->local_date + 60) {
		cmd_duration(leaf->not_before - iss->local_date, d, sizeof(d));
		time_format(leaf->not_before, a);
		fprintf(stderr, "mtlsca: warning: the certificate is valid "
		    "from %s, %s from now by this machine's clock: until then "
		    "TLS peers with this clock refuse it\n", a, d);
	}
}

/* An option given twice: which one was meant? Refuse rather than guess. */
static int
twice(const char *opt)
{
	cmd_fail("enroll: %s given twice", opt);
	return cmd_usage_print("enroll", true);
}

struct enroll_files {
	char	key[4096];
	char	cert[4096];
	char	chain[4096];
	char	ca[4096];
};

static int
files_name(const char *dir, struct enroll_files *f, struct ca_error *err)
{
	if (path_join(f->key, sizeof(f->key), dir, "key.pem") != CA_OK ||
	    path_join(f->cert, sizeof(f->cert), dir, "cert.pem") != CA_OK ||
	    path_join(f->chain, sizeof(f->chain), dir, "chain.pem") != CA_OK ||
	    path_join(f->ca, sizeof(f->ca), dir, "ca.pem") != CA_OK)
		return ca_error_set(err, CA_EINVAL, "--out-dir %.200s: path "
		    "too long", dir);
	return CA_OK;
}

/*
 * A scratch file in dir (mode 0600) holding text, so that libcurl can read
 * the fetched CA; it also proves, before the token is spent, that the files
 * can be written there. *path is unlinked by the caller.
 */
static int
scratch_write(const char *dir, const char *text, char *path, size_t size,
    struct ca_error *err)
{
	size_t	n = strlen(text);
	int	fd;

	if (path_join(path, size, dir, ".mtlsca-enroll.XXXXXX") != CA_OK)
		return ca_error_set(err, CA_EINVAL, "path too long");
	if ((fd = mkstemp(path)) < 0) {
		int e = errno;

		path[0] = '\0';
		return ca_error_set(err, CA_EIO, "cannot write in %s: %s", dir,
		    strerror(e));
	}
	if (write(fd, text, n) != (ssize_t)n || close(fd) != 0) {
		int e = errno;

		unlink(path);
		path[0] = '\0';
		return ca_error_set(err, CA_EIO, "cannot write in %s: %s", dir,
		    strerror(e));
	}
	return CA_OK;
}

int
cmd_enroll(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "token", required_argument, NULL, 't' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "cn", required_argument, NULL, 'n' },
		{ "san", required_argument, NULL, 'a' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "profile", required_argument, NULL, 'p' },
		{ "days", required_argument, NULL, 'd' },
		{ "out-dir", required_argument, NULL, 'o' },
		{ "ca-file", required_argument, NULL, 'c' },
		{ "ca-fingerprint", required_argument, NULL, 'F' },
		{ "p12", required_argument, NULL, 'P' },
		{ "p12-legacy", no_argument, NULL, 'L' },
		{ "p12-password-file", required_argument, NULL, 'W' },
		{ "p12-name", required_argument, NULL, 'N' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client_san	 sans[CA_SAN_MAX];
	struct client_conn	 conn;
	struct client_issued	 iss;
	struct client_cert_info	 leaf;
	struct enroll_files	 f;
	struct ca_error		 err;
	enum ca_key_type	 kt = CA_KEY_ECDSA_P256;
	enum ca_p12_mode	 p12_mode = CA_P12_MODERN;
	const char		*server = NULL, *token_arg = NULL;
	const char		*token_file = NULL, *cn = NULL, *profile = NULL;
	const char		*dir = ".", *ca_file = NULL, *fp_arg = NULL;
	const char		*p12 = NULL, *p12_pwfile = NULL, *p12_name = NULL;
	char			 token[CMD_SECRET_MAX], pw[CMD_SECRET_MAX];
	char			 scratch[4096], fp_hex[CLIENT_FP_HEX];
	char			 nb[21], na[21];
	char			*bundle = NULL, *anchor = NULL, *key = NULL;
	char			*csr = NULL, *chain = NULL;
	uint8_t			 fp[32], *cabuf = NULL;
	size_t			 n_sans = 0, blen = 0, klen = 0, calen = 0;
	uint64_t		 days = 0;
	bool			 force = false, legacy_set = false;
	int			 ch, status = CMD_FAIL;

	(void)cfg;
	memset(&conn, 0, sizeof(conn));
	memset(&iss, 0, sizeof(iss));
	memset(token, 0, sizeof(token));
	memset(pw, 0, sizeof(pw));
	scratch[0] = '\0';
	fp_hex[0] = '\0';
	ca_error_clear(&err);
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (server != NULL)
				return twice("--server");
			server = optarg;
			break;
		case 't':
			if (token_arg != NULL)
				return twice("--token");
			token_arg = optarg;
			break;
		case 'T':
			if (token_file != NULL)
				return twice("--token-file");
			token_file = optarg;
			break;
		case 'n':
			if (cn != NULL)
				return twice("--cn");
			cn = optarg;
			break;
		case 'a':
			if (n_sans == CA_SAN_MAX) {
				cmd_fail("enroll: at most %d --san", CA_SAN_MAX);
				return CMD_USAGE;
			}
			if (client_san_parse(optarg, &sans[n_sans], &err) !=
			    CA_OK) {
				cmd_fail("enroll: %s", err.msg);
				return CMD_USAGE;
			}
			n_sans++;
			break;
		case 'k':
			if (ca_key_type_parse(optarg, &kt) != CA_OK) {
				cmd_fail("enroll: --key-type %s: expected "
				    "ecdsa-p256, ecdsa-p384, ecdsa-p521, "
				    "rsa2048, rsa3072 or rsa4096", optarg);
				return CMD_USAGE;
			}
			break;
		case 'p':
			if (profile != NULL)
				return twice("--profile");
			profile = optarg;
			break;
		case 'd':
			if (days != 0)
				return twice("--days");
			if (parse_u64(optarg, 1, 36500, &days) != CA_OK) {
				cmd_fail("enroll: --days %s: expected a number "
				    "of days from 1 to 36500", optarg);
				return CMD_USAGE;
			}
			break;
		case 'o':
			dir = optarg;
			break;
		case 'c':
			if (ca_file != NULL)
				return twice("--ca-file");
			ca_file = optarg;
			break;
		case 'F':
			if (fp_arg != NULL)
				return twice("--ca-fingerprint");
			fp_arg = optarg;
			if (client_fingerprint_parse(optarg, fp, &err) !=
			    CA_OK) {
				cmd_fail("enroll: --ca-fingerprint: %s",
				    err.msg);
				return CMD_USAGE;
			}
			break;
		case 'P':
			p12 = optarg;
			break;
		case 'L':
			legacy_set = true;
			p12_mode = CA_P12_LEGACY;
			break;
		case 'W':
			p12_pwfile = optarg;
			break;
		case 'N':
			p12_name = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			return cmd_usage_print("enroll", false);
		default:
			cmd_fail("enroll: unknown option or missing value: %s",
			    argv[optind - 1]);
			return cmd_usage_print("enroll", true);
		}
	}
	if (optind != argc) {
		cmd_fail("enroll: unexpected argument '%s'", argv[optind]);
		return cmd_usage_print("enroll", true);
	}
	if (server == NULL || cn == NULL || (token_arg == NULL) ==
	    (token_file == NULL) || (ca_file == NULL) == (fp_arg == NULL)) {
		cmd_fail("enroll: --server, --cn, one of --token and "
		    "--token-file, and one of --ca-file and --ca-fingerprint "
		    "are required");
		return cmd_usage_print("enroll", true);
	}
	if (p12 == NULL && (legacy_set || p12_pwfile != NULL ||
	    p12_name != NULL)) {
		cmd_fail("enroll: --p12-legacy, --p12-password-file and "
		    "--p12-name go with --p12 FILE");
		return cmd_usage_print("enroll", true);
	}
	if (strncmp(server, "https://", 8) != 0) {
		cmd_fail("enroll: --server %s: the URL must start with "
		    "https:// (the token never travels in clear)", server);
		return CMD_USAGE;
	}

	/* Everything that can fail here fails before the token is spent. */
	if (files_name(dir, &f, &err) != CA_OK ||
	    dir_make(dir, 0755, &err) != CA_OK) {
		status = cmd_fail_err(&err);
		goto out;
	}
	if (!force && (access(f.key, F_OK) == 0 || access(f.cert, F_OK) == 0 ||
	    (p12 != NULL && access(p12, F_OK) == 0))) {
		status = cmd_fail("%s already holds an identity (key.pem, "
		    "cert.pem%s): --force replaces it, or choose another "
		    "--out-dir", dir, p12 != NULL ? " or the --p12 file" : "");
		goto out;
	}
	if (token_arg != NULL)
		snprintf(token, sizeof(token), "%s", token_arg);
	else if (cmd_secret_read(token_file, "", false, "--token-file", token,
	    &err) != CA_OK) {
		status = cmd_fail("token: %s", err.msg);
		goto out;
	}
	if (p12 != NULL && cmd_secret_read(p12_pwfile, "PKCS#12 password: ",
	    true, "--p12-password-file", pw, &err) != CA_OK) {
		status = cmd_fail("PKCS#12 password: %s", err.msg);
		goto out;
	}
	if (ca_file != NULL && file_read(ca_file, PEM_FILE_MAX, &cabuf,
	    &calen, &err) != CA_OK) {
		status = cmd_fail("--ca-file: %s", err.msg);
		goto out;
	}

	conn.server = server;
	if (fp_arg != NULL) {
		/* Bootstrap: this connection is not verified and carries
		   nothing but the GET; its answer must match fp. */
		if (client_ca_fetch(&conn, &bundle, &blen, &err) != CA_OK ||
		    client_bundle_pick(bundle, blen, fp, &anchor, &err) !=
		    CA_OK) {
			status = cmd_fail("%s", err.msg);
			goto out;
		}
		client_fingerprint_format(fp, fp_hex);
		if (scratch_write(dir, anchor, scratch, sizeof(scratch),
		    &err) != CA_OK) {
			status = cmd_fail_err(&err);
			goto out;
		}
		conn.ca_file = scratch;
	} else {
		/* Prove the directory writable before the token is spent. */
		if (scratch_write(dir, "", scratch, sizeof(scratch), &err) !=
		    CA_OK) {
			status = cmd_fail_err(&err);
			goto out;
		}
		conn.ca_file = ca_file;
	}

	if (ca_key_generate(kt, &key, &klen, &err) != CA_OK ||
	    client_csr_new(key, klen, cn, sans, n_sans, &csr, &err) != CA_OK) {
		status = cmd_fail("%s", err.msg);
		goto out;
	}
	if (client_enroll(&conn, token, csr, profile, (unsigned)days, &iss,
	    &err) != CA_OK) {
		if (err.code == CA_EAUTH || err.code == CA_EFORBIDDEN)
			status = cmd_fail("the server refused the enrollment: "
			    "%s", err.msg);
		else
			status = cmd_fail("enrollment failed: %s", err.msg);
		goto out;
	}
	if (cmd_issued_check(&iss, key, klen, &leaf, &err) != CA_OK) {
		status = cmd_fail("%s", err.msg);
		goto out;
	}
	cmd_clock_warn(&iss, &leaf);
	if ((chain = cmd_chain_join(iss.cert_pem, iss.ca_pem)) == NULL) {
		status = cmd_fail("out of memory");
		goto out;
	}
	/* The key first: a certificate without its key is useless. */
	if (file_write_atomic(f.key, key, klen, 0600, 0, &err) != CA_OK ||
	    file_write_atomic(f.cert, iss.cert_pem, strlen(iss.cert_pem), 0644,
	    0, &err) != CA_OK ||
	    file_write_atomic(f.chain, chain, strlen(chain), 0644, 0, &err) !=
	    CA_OK ||
	    file_write_atomic(f.ca, iss.ca_pem, strlen(iss.ca_pem), 0644, 0,
	    &err) != CA_OK) {
		status = cmd_fail("certificate %s was issued but not all files "
		    "were written: %s", leaf.serial, err.msg);
		goto out;
	}
	if (p12 != NULL && cmd_p12_write(p12, key, klen, chain, strlen(chain),
	    p12_mode, pw, p12_name, &err) != CA_OK) {
		status = cmd_fail("%s: %s (the PEM files are written; `mtlsca "
		    "export-p12` makes it from them)", p12, err.msg);
		goto out;
	}

	time_format(leaf.not_before, nb);
	time_format(leaf.not_after, na);
	printf("enrolled %s (profile %s)\n", leaf.subject,
	    iss.profile[0] != '\0' ? iss.profile : "-");
	printf("  serial:       %s\n", leaf.serial);
	printf("  valid:        %s to %s\n", nb, na);
	printf("  renew after:  ");
	{
		char due[21];

		time_format(client_renew_due(leaf.not_before, leaf.not_after),
		    due);
		printf("%s (2/3 of the validity)\n", due);
	}
	printf("  key:          %s (%s, mode 0600)\n", f.key,
	    ca_key_type_name(kt));
	printf("  certificate:  %s\n", f.cert);
	printf("  chain:        %s\n", f.chain);
	printf("  CA:           %s%s%s%s\n", f.ca, fp_hex[0] ? " (SHA-256 " :
	    "", fp_hex, fp_hex[0] ? ", as --ca-fingerprint)" : "");
	if (p12 != NULL)
		printf("  PKCS#12:      %s (%s)\n", p12,
		    cmd_p12_label(p12_mode));
	status = CMD_OK;
out:
	if (scratch[0] != '\0')
		unlink(scratch);
	gnutls_memset(token, 0, sizeof(token));
	gnutls_memset(pw, 0, sizeof(pw));
	if (key != NULL) {
		gnutls_memset(key, 0, klen);
		free(key);
	}
	client_issued_clear(&iss);
	free(csr);
	free(chain);
	free(bundle);
	free(anchor);
	free(cabuf);
	return status;
}

#else /* !MTLSCA_HAVE_CLIENT */

int
cmd_enroll(int argc, char **argv, struct config *cfg)
{
	(void)argc;
	(void)argv;
	(void)cfg;
	return cmd_fail("enroll: this build has no HTTPS client (libcurl was "
	    "not found)");
}

#endif
