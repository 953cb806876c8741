/*
 * mtlsca export-p12, and what enroll shares with it: secrets read from a
 * file or typed at a terminal without echo, and PKCS#12 files written with
 * mode 0600 (they hold the key).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "cmd/cmd.h"
#include "cmd/cmd_client.h"
#include "cmd/cmd_int.h"
#include "common/util.h"

#define PEM_FILE_MAX	(256 * 1024)

/* One line from the terminal, echo off; false on EOF or error. */
static bool
tty_line(int fd, const char *prompt, char *out, size_t size)
{
	struct termios	old, quiet;
	bool		restore = false, ok = false;
	size_t		n = 0;
	char		c;

	if (write(fd, prompt, strlen(prompt)) < 0)
		return false;
	if (tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		restore = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
	}
	for (;;) {
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (c == '\n' || c == '\r') {
			ok = true;
			break;
		}
		if (n + 1 < size)
			out[n++] = c;
		else
			n = size;	/* too long: refused below */
	}
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &old);
	(void)!write(fd, "\n", 1);
	if (n >= size)
		return false;
	out[n] = '\0';
	gnutls_memset(&c, 0, sizeof(c));
	return ok;
}

/*
 * The first line of a file, which may be a pipe (--token-file <(vault ...),
 * /dev/stdin): read up to the first newline, never more than fits.
 */
static int
first_line(const char *file, char out[CMD_SECRET_MAX], struct ca_error *err)
{
	size_t	n = 0;
	bool	eol = false;
	int	fd, rc = CA_OK;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		return ca_error_set(err, errno == ENOENT ? CA_ENOENT : CA_EIO,
		    "%s: %s", file, strerror(errno));
	while (!eol && n < CMD_SECRET_MAX) {
		ssize_t r = read(fd, out + n, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = ca_error_set(err, CA_EIO, "%s: %s", file,
			    strerror(errno));
			break;
		}
		if (r == 0)
			break;
		if (out[n] == '\n' || out[n] == '\r')
			eol = true;
		else
			n++;
	}
	close(fd);
	if (rc == CA_OK && (n == 0 || n >= CMD_SECRET_MAX))
		rc = ca_error_set(err, CA_EINVAL, "%s: the first line must hold "
		    "the secret (1 to %d bytes)", file, CMD_SECRET_MAX - 1);
	if (rc != CA_OK) {
		gnutls_memset(out, 0, CMD_SECRET_MAX);
		return rc;
	}
	out[n] = '\0';
	return CA_OK;
}

int
cmd_secret_read(const char *file, const char *prompt, bool confirm,
    const char *option, char out[CMD_SECRET_MAX], struct ca_error *err)
{
	char	 again[CMD_SECRET_MAX];
	int	 fd, rc;

	if (file != NULL)
		return first_line(file, out, err);
	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) < 0)
		return ca_error_set(err, CA_EINVAL, "no terminal to ask for it: "
		    "give %s FILE", option);
	rc = CA_OK;
	if (!tty_line(fd, prompt, out, CMD_SECRET_MAX) || out[0] == '\0')
		rc = ca_error_set(err, CA_EINVAL, "no password typed (1 to %d "
		    "bytes)", CMD_SECRET_MAX - 1);
	else if (confirm && (!tty_line(fd, "again: ", again,
	    sizeof(again)) || strcmp(out, again) != 0))
		rc = ca_error_set(err, CA_EINVAL, "the two entries differ");
	close(fd);
	gnutls_memset(again, 0, sizeof(again));
	if (rc != CA_OK)
		gnutls_memset(out, 0, CMD_SECRET_MAX);
	return rc;
}

const char *
cmd_p12_label(enum ca_p12_mode mode)
{
	return mode == CA_P12_LEGACY ? "legacy: 3DES, SHA-1 MAC" :
	    "AES-256-CBC, PBKDF2-SHA256, SHA-256 MAC";
}

int
cmd_p12_write(const char *path, const char *key_pem, size_t key_len,
    const char *certs_pem, size_t certs_len, enum ca_p12_mode mode,
    const char *password, const char *name, struct ca_error *err)
{
	struct ca_p12_options	 o = { password, name, mode };
	uint8_t			*der = NULL;
	size_t			 len = 0;
	int			 rc;

	if ((rc = ca_p12_build(key_pem, key_len, certs_pem, certs_len, &o,
	    &der, &len, err)) != CA_OK)
		return rc;
	rc = file_write_atomic(path, der, len, 0600, 0, err);
	free(der);
	return rc;
}

char *
cmd_chain_join(const char *leaf, const char *ca)
{
	size_t	 l1 = strlen(leaf), l2 = strlen(ca);
	char	*s = malloc(l1 + l2 + 2), *p = s;

	if (s == NULL)
		return NULL;
	memcpy(p, leaf, l1);
	p += l1;
	if (l1 > 0 && p[-1] != '\n')
		*p++ = '\n';
	memcpy(p, ca, l2 + 1);
	return s;
}

int
cmd_export_p12(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "chain", required_argument, NULL, 'C' },
		{ "out", required_argument, NULL, 'o' },
		{ "legacy", no_argument, NULL, 'l' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char		*cert = NULL, *key = NULL, *chain = NULL;
	const char		*out = NULL, *pwfile = NULL, *name = NULL;
	enum ca_p12_mode	 mode = CA_P12_MODERN;
	struct ca_error		 err;
	char			 pw[CMD_SECRET_MAX];
	uint8_t			*cbuf = NULL, *kbuf = NULL, *chbuf = NULL;
	char			*certs = NULL;
	size_t			 clen = 0, klen = 0, chlen = 0;
	bool			 force = false;
	int			 ch, status = CMD_FAIL;

	(void)cfg;
	memset(pw, 0, sizeof(pw));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'C': chain = optarg; break;
		case 'o': out = optarg; break;
		case 'l': mode = CA_P12_LEGACY; break;
		case 'p': pwfile = optarg; break;
		case 'n': name = optarg; break;
		case 'f': force = true; break;
		case 'h':
			return cmd_usage_print("export-p12", false);
		default:
			cmd_fail("export-p12: unknown option or missing value: "
			    "%s", argv[optind - 1]);
			return cmd_usage_print("export-p12", true);
		}
	}
	if (optind != argc || cert == NULL || key == NULL || out == NULL) {
		cmd_fail(optind != argc ? "export-p12: unexpected argument" :
		    "export-p12: --cert, --key and --out are required");
		return cmd_usage_print("export-p12", true);
	}
	ca_error_clear(&err);
	if (!force && access(out, F_OK) == 0)
		return cmd_fail("%s already exists (--force replaces it)", out);
	if (file_read(cert, PEM_FILE_MAX, &cbuf, &clen, &err) != CA_OK ||
	    file_read(key, PEM_FILE_MAX, &kbuf, &klen, &err) != CA_OK ||
	    (chain != NULL && file_read(chain, PEM_FILE_MAX, &chbuf, &chlen,
	    &err) != CA_OK)) {
		status = cmd_fail_err(&err);
		goto out;
	}
	/* Before the password is asked for: is this the right key? */
	if (ca_key_matches_cert((char *)kbuf, klen, (char *)cbuf, clen,
	    &err) != CA_OK) {
		status = cmd_fail("%s, %s: %s", key, cert, err.msg);
		goto out;
	}
	certs = cmd_chain_join((char *)cbuf, chbuf != NULL ? (char *)chbuf :
	    "");
	if (certs == NULL) {
		status = cmd_fail("out of memory");
		goto out;
	}
	if (cmd_secret_read(pwfile, "PKCS#12 password: ", true,
	    "--password-file", pw, &err) != CA_OK) {
		status = cmd_fail("PKCS#12 password: %s", err.msg);
		goto out;
	}
	if (cmd_p12_write(out, (char *)kbuf, klen, certs, strlen(certs), mode,
	    pw, name, &err) != CA_OK) {
		status = cmd_fail("%s: %s", out, err.msg);
		goto out;
	}
	printf("wrote %s (PKCS#12, %s)\n", out, cmd_p12_label(mode));
	status = CMD_OK;
out:
	gnutls_memset(pw, 0, sizeof(pw));
	if (kbuf != NULL) {
		gnutls_memset(kbuf, 0, klen);
		free(kbuf);
	}
	free(cbuf);
	free(chbuf);
	free(certs);
	return status;
}
