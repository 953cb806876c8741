/*
 * mtlsca renew: keep a client certificate alive. Renewal goes over mutual
 * TLS with the current certificate (POST /v1/certificates/renew), keeps the
 * subject and subjectAltNames, and is due at 2/3 of the validity (step's
 * rule), which leaves a third of the lifetime to retry and to notice.
 *
 * Modes: once now (a person at a terminal); --if-due (timers and cron: exit
 * 3 without touching anything when not due); --daemon (sleep until due plus
 * jitter, retry failures with backoff). One renewal at a time per
 * certificate file (a lock beside it), because the server renews each
 * certificate once: the loser of a race would be refused.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "cmd/cmd.h"
#include "cmd/cmd_client.h"
#include "cmd/cmd_int.h"
#include "common/pem.h"
#include "common/util.h"

#ifdef MTLSCA_HAVE_CLIENT

#define PEM_FILE_MAX	(256 * 1024)
/* Daemon retry after a failure: 1 minute, doubling up to an hour. */
#define BACKOFF_MIN_S	60
#define BACKOFF_MAX_S	3600
/* The daemon re-reads the files at least this often (someone may have
   replaced them) and its jitter is at most this. */
#define WAKE_MAX_S	3600

struct renew_opts {
	const char		*server;
	const char		*cert;
	const char		*key;
	const char		*ca_file;
	const char		*chain;
	bool			 rekey;
	bool			 key_type_set;
	enum ca_key_type	 key_type;
	unsigned		 days;
	char			*const *exec;	/* NULL-terminated, or NULL */
	char			 ca_default[PATH_MAX];
	char			 lock[PATH_MAX];
};

/* What one attempt did. */
enum outcome { RENEWED, NOT_DUE, FAILED };

struct attempt {
	struct client_cert_info	old;	/* the certificate before */
	struct client_cert_info	now;	/* after (== old unless RENEWED) */
	int64_t			due;
};

/* "mtlsca: renew: <sentence>" on stderr (the daemon's log lines too). */
#define say(...)	((void)cmd_fail("renew: " __VA_ARGS__))

/*
 * Put a sentence in front of the one *err holds ("<fmt>: <err->msg>"),
 * with code. The old message is copied first: it is both source and
 * destination.
 */
static int
err_wrap(struct ca_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
err_wrap(struct ca_error *err, int code, const char *fmt, ...)
{
	char	old[sizeof(err->msg)], head[sizeof(err->msg)];
	va_list	ap;

	snprintf(old, sizeof(old), "%s", err->msg);
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	return ca_error_set(err, code, "%s: %s", head, old);
}

static void
lock_wait(void *arg)
{
	say("%s is being renewed by another process: waiting",
	    (const char *)arg);
}

/* The mode and owner path has now, or 0600/-1 for a file that is new. */
static void
file_meta(const char *path, mode_t *mode, uid_t *uid, gid_t *gid,
    mode_t dflt)
{
	struct stat sb;

	*mode = dflt;
	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (stat(path, &sb) == 0) {
		*mode = sb.st_mode & 07777;
		*uid = sb.st_uid;
		*gid = sb.st_gid;
	}
}

/*
 * Replace path (through a symlink, the file it names) atomically, keeping
 * its mode and, when we may, its owner.
 */
static int
replace(const char *path, const char *text, size_t len, mode_t dflt,
    struct ca_error *err)
{
	char	 real[PATH_MAX];
	mode_t	 mode;
	uid_t	 uid;
	gid_t	 gid;
	int	 rc;

	if (realpath(path, real) == NULL)
		snprintf(real, sizeof(real), "%s", path);
	file_meta(real, &mode, &uid, &gid, dflt);
	if ((rc = file_write_atomic(real, text, len, mode, 0, err)) != CA_OK)
		return rc;
	if (uid != (uid_t)-1 && (uid != geteuid() || gid != getegid()) &&
	    chown(real, uid, gid) != 0 && geteuid() == 0)
		say("warning: %s: cannot restore its owner: %s", real,
		    strerror(errno));
	return CA_OK;
}

/* Run the hook: fork and exec, no shell; its exit status, or -1. */
static int
hook_run(const struct renew_opts *o, const struct client_cert_info *c)
{
	char		 na[21];
	pid_t		 pid;
	int		 st;
	sigset_t	 none;

	time_format(c->not_after, na);
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0) {
		say("cannot start %s: %s", o->exec[0], strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* The daemon blocks its signals; the hook must not inherit
		   that. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setenv("MTLSCA_CERT", o->cert, 1);
		setenv("MTLSCA_KEY", o->key, 1);
		setenv("MTLSCA_SERIAL", c->serial, 1);
		setenv("MTLSCA_NOT_AFTER", na, 1);
		execvp(o->exec[0], o->exec);
		fprintf(stderr, "mtlsca: renew: cannot run %s: %s\n",
		    o->exec[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static int
read_pair(const struct renew_opts *o, char **cert, size_t *clen, char **key,
    size_t *klen, struct ca_error *err)
{
	uint8_t	*c = NULL, *k = NULL;
	int	 rc;

	if ((rc = file_read(o->cert, PEM_FILE_MAX, &c, clen, err)) != CA_OK)
		return rc;
	if ((rc = file_read(o->key, PEM_FILE_MAX, &k, klen, err)) != CA_OK) {
		free(c);
		return rc;
	}
	*cert = (char *)c;
	*key = (char *)k;
	return CA_OK;
}

static void
secret_free(char *s, size_t len)
{
	if (s != NULL) {
		gnutls_memset(s, 0, len);
		free(s);
	}
}

/* Append ca_pem to the CA file at path unless it holds it already;
   best effort (a failure is said, the renewal stands). */
static void
ca_file_learn(const char *path, const char *ca_pem)
{
	struct ca_error	 e;
	uint8_t		*old = NULL;
	size_t		 len;
	char		*text;

	if (ca_pem == NULL || ca_pem[0] == '\0' ||
	    file_read(path, 1024 * 1024, &old, &len, &e) != CA_OK) {
		free(old);
		return;
	}
	text = (char *)old;	/* file_read's buffer: NUL-terminated */
	if (strstr(text, ca_pem) != NULL ||
	    pem_cat(&text, &len, ca_pem, strlen(ca_pem)) != CA_OK) {
		free(text);
		return;
	}
	if (replace(path, text, len, 0644, &e) != CA_OK)
		say("%s: the new CA could not be added: %s", path, e.msg);
	else
		say("%s: added the CA that issued the new certificate", path);
	free(text);
}

/*
 * One attempt under the lock: read the files, decide, renew, replace.
 * Due delay seconds after the 2/3 point (the daemon's jitter); force:
 * renew whether due or not.
 */
static enum outcome
attempt(const struct renew_opts *o, bool force, int64_t delay,
    struct attempt *a, struct ca_error *err)
{
	struct client_conn	 conn;
	struct client_issued	 iss;
	struct client_cert_info	 leaf;
	char			*cert = NULL, *key = NULL, *newkey = NULL;
	char			*csr = NULL, *out = NULL, t1[21], t2[21];
	const char		*usekey;
	size_t			 clen = 0, klen = 0, nklen = 0, ulen;
	enum ca_key_type	 kt;
	enum outcome		 res = FAILED;
	int64_t			 now;
	int			 lock = -1;
	unsigned		 days;

	memset(&iss, 0, sizeof(iss));
	memset(&conn, 0, sizeof(conn));
	if (file_lock(o->lock, lock_wait, (void *)o->cert, &lock, err) !=
	    CA_OK)
		goto out;
	if (read_pair(o, &cert, &clen, &key, &klen, err) != CA_OK ||
	    client_cert_info(cert, clen, &a->old, err) != CA_OK)
		goto out;
	a->now = a->old;
	if (ca_key_matches_cert(key, klen, cert, clen, err) != CA_OK) {
		err_wrap(err, CA_EINVAL, "%s does not match %s", o->key,
		    o->cert);
		goto out;
	}
	now = time_now();
	a->due = client_renew_due(a->old.not_before, a->old.not_after);
	if (now >= a->old.not_after) {
		time_format(a->old.not_after, t1);
		ca_error_set(err, CA_EPOLICY, "%s (serial %s) expired on %s: "
		    "renewal needs a valid certificate; enroll again",
		    o->cert, a->old.serial, t1);
		goto out;
	}
	if (!force && now < a->due + delay) {
		res = NOT_DUE;
		goto out;
	}

	/* The key the new certificate is for. */
	usekey = key;
	ulen = klen;
	if (o->rekey) {
		if (o->key_type_set)
			kt = o->key_type;
		else if (ca_key_type_of(key, klen, &kt, err) != CA_OK)
			goto out;
		if (ca_key_generate(kt, &newkey, &nklen, err) != CA_OK)
			goto out;
		usekey = newkey;
		ulen = nklen;
	}
	if (client_csr_renewal(usekey, ulen, cert, clen, &csr, err) != CA_OK)
		goto out;
	/* The same validity length as now, unless --days says otherwise. */
	days = o->days;
	if (days == 0) {
		int64_t span = a->old.not_after - a->old.not_before;

		days = (unsigned)((span + 43200) / 86400);
		if (days == 0)
			days = 1;
		if (days > 36500)
			days = 36500;
	}
	conn.server = o->server;
	conn.ca_file = o->ca_file;
	conn.cert_file = o->cert;
	conn.key_file = o->key;
	if (client_renew(&conn, csr, days, &iss, err) != CA_OK) {
		if (err->code == CA_EEXIST)
			err_wrap(err, CA_EEXIST, "the certificate %s was "
			    "already renewed: use the newer certificate, or "
			    "enroll again if it is lost; the server says",
			    a->old.serial);
		else if (err->code == CA_EAUTH || err->code == CA_EFORBIDDEN)
			err_wrap(err, err->code, "the server refused the "
			    "renewal of %s", a->old.serial);
		goto out;
	}
	if (cmd_issued_check(&iss, usekey, ulen, &leaf, err) != CA_OK)
		goto out;
	if (strcmp(leaf.subject, a->old.subject) != 0) {
		ca_error_set(err, CA_EPOLICY, "the server's certificate names "
		    "%s, not %s: not written", leaf.subject, a->old.subject);
		goto out;
	}
	cmd_clock_warn(&iss, &leaf);

	/*
	 * Replace the files: the key first (with --rekey), then the
	 * certificate. Should the certificate fail, the old key goes back,
	 * so that the pair on disk always matches.
	 */
	if (newkey != NULL && replace(o->key, newkey, nklen, 0600, err) !=
	    CA_OK) {
		err_wrap(err, CA_EIO, "certificate %s was issued but %s "
		    "could not be written", leaf.serial, o->key);
		goto out;
	}
	/* A file that held a chain gets the new chain. */
	out = a->old.n_certs > 1 ? cmd_chain_join(iss.cert_pem, iss.ca_pem) :
	    strdup(iss.cert_pem);
	if (out == NULL || replace(o->cert, out, strlen(out), 0644, err) !=
	    CA_OK) {
		struct ca_error e2;

		if (out == NULL)
			ca_error_set(err, CA_ENOMEM, "out of memory");
		if (newkey != NULL && replace(o->key, key, klen, 0600, &e2) !=
		    CA_OK)
			say("%s now holds the new key but %s the old "
			    "certificate: %s", o->key, o->cert, e2.msg);
		err_wrap(err, CA_EIO, "certificate %s was issued but %s "
		    "could not be written", leaf.serial, o->cert);
		goto out;
	}
	if (o->chain != NULL) {
		free(out);
		if ((out = cmd_chain_join(iss.cert_pem, iss.ca_pem)) == NULL)
			ca_error_set(err, CA_ENOMEM, "out of memory");
		if (out == NULL || replace(o->chain, out, strlen(out), 0644,
		    err) != CA_OK) {
			err_wrap(err, CA_EIO, "certificate %s is in %s but %s "
			    "could not be written", leaf.serial, o->cert,
			    o->chain);
			goto out;
		}
	}
	/* After a CA rotation the answer's CA is the new one: the ca.pem
	   beside the certificate (enroll's) learns it, next to the CA it
	   held, so that the next renewal verifies the service once the old
	   CA has retired and the service stops sending its cross
	   certificate. */
	if (o->ca_file == o->ca_default)
		ca_file_learn(o->ca_default, iss.ca_pem);
	a->now = leaf;
	time_format(leaf.not_before, t1);
	time_format(leaf.not_after, t2);
	printf("renewed %s: serial %s (was %s), valid %s to %s%s\n",
	    leaf.subject, leaf.serial, a->old.serial, t1, t2,
	    newkey != NULL ? ", new key" : "");
	fflush(stdout);
	res = RENEWED;
out:
	file_unlock(lock);
	client_issued_clear(&iss);
	secret_free(key, klen);
	secret_free(newkey, nklen);
	free(cert);
	free(csr);
	free(out);
	return res;
}

/* After a renewal: the hook, if any. false when it failed. */
static bool
after_renewal(const struct renew_opts *o, const struct attempt *a)
{
	int rc;

	if (o->exec == NULL)
		return true;
	if ((rc = hook_run(o, &a->now)) == 0)
		return true;
	say("the certificate is renewed, but %s exited with %d", o->exec[0],
	    rc);
	return false;
}

/* A uniform random number in [0, n). */
static int64_t
rnd_below(int64_t n)
{
	uint64_t r = 0;

	if (n <= 0)
		return 0;
	if (gnutls_rnd(GNUTLS_RND_NONCE, &r, sizeof(r)) < 0)
		return n / 2;
	return (int64_t)(r % (uint64_t)n);
}

/*
 * Sleep up to s seconds, waking for SIGTERM/SIGINT (returns -1: stop) or
 * SIGHUP (returns 1: look now); 0 when the time is up.
 */
static int
nap(const sigset_t *sigs, int64_t s)
{
	struct timespec	ts;
	int		sig;

	if (s < 1)
		s = 1;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = 0;
	sig = sigtimedwait(sigs, NULL, &ts);
	if (sig == SIGTERM || sig == SIGINT)
		return -1;
	return sig == SIGHUP ? 1 : 0;
}

/* The daemon's jitter for a certificate: up to a twentieth of its
   validity, at most an hour, so that a fleet does not renew in step. */
static int64_t
jitter_for(const struct client_cert_info *c)
{
	int64_t span = c->not_after - c->not_before;

	return rnd_below((span / 20 < WAKE_MAX_S ? span / 20 : WAKE_MAX_S) + 1);
}

static int
daemon_loop(const struct renew_opts *o, bool force)
{
	struct client_cert_info	 peek;
	struct attempt		 a;
	struct ca_error		 err;
	sigset_t		 sigs;
	char			 t[21], d[32], cur[SERIAL_HEX_MAX + 2] = "";
	char			*cert = NULL;
	size_t			 clen;
	int64_t			 backoff = BACKOFF_MIN_S, jitter = 0, wait;
	int64_t			 guard;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	say("watching %s (daemon; SIGHUP checks now, SIGTERM stops)",
	    o->cert);
	for (;;) {
		enum outcome res;

		/* A new certificate in the file (ours, or put there by
		   someone else): draw its jitter and say when it renews. */
		if (file_read(o->cert, PEM_FILE_MAX, (uint8_t **)&cert, &clen,
		    NULL) == CA_OK && client_cert_info(cert, clen, &peek,
		    NULL) == CA_OK && strcmp(cur, peek.serial) != 0) {
			snprintf(cur, sizeof(cur), "%s", peek.serial);
			jitter = jitter_for(&peek);
			time_format(client_renew_due(peek.not_before,
			    peek.not_after) + jitter, t);
			say("%s (serial %s) renews at %s", o->cert, cur, t);
		}
		free(cert);
		cert = NULL;

		ca_error_clear(&err);
		memset(&a, 0, sizeof(a));
		res = attempt(o, force, jitter, &a, &err);
		force = false;
		if (res == FAILED) {
			if (a.old.serial[0] != '\0' &&
			    time_now() >= a.old.not_after) {
				say("%s", err.msg);
				return CMD_FAIL;	/* nothing to retry */
			}
			cmd_duration(backoff, d, sizeof(d));
			say("%s; retrying in %s", err.msg, d);
			if (nap(&sigs, backoff - backoff / 5 +
			    rnd_below(backoff / 5 * 2 + 1)) < 0)
				break;
			backoff = backoff * 2 < BACKOFF_MAX_S ? backoff * 2 :
			    BACKOFF_MAX_S;
			continue;
		}
		backoff = BACKOFF_MIN_S;
		if (res == RENEWED) {
			(void)after_renewal(o, &a);
			if (time_now() < client_renew_due(a.now.not_before,
			    a.now.not_after))
				continue;
			/*
			 * Renewed and due again at once by our clock: the
			 * clocks disagree. Do not hammer the server: wait a
			 * sixth of the validity, at most an hour.
			 */
			guard = (a.now.not_after - a.now.not_before) / 6;
			if (guard > WAKE_MAX_S)
				guard = WAKE_MAX_S;
			cmd_duration(guard, d, sizeof(d));
			say("warning: the new certificate is already due by "
			    "this machine's clock: check the clock; next try "
			    "in %s", d);
			if (nap(&sigs, guard) < 0)
				break;
			continue;
		}
		/* Not due: sleep until then, waking at least hourly to
		   re-read the files. */
		wait = a.due + jitter - time_now();
		if (wait > WAKE_MAX_S)
			wait = WAKE_MAX_S;
		if (nap(&sigs, wait) < 0)
			break;
	}
	say("stopped");
	return CMD_OK;
}

int
cmd_renew(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "ca-file", required_argument, NULL, 'a' },
		{ "chain", required_argument, NULL, 'C' },
		{ "rekey", no_argument, NULL, 'r' },
		{ "key-type", required_argument, NULL, 't' },
		{ "days", required_argument, NULL, 'd' },
		{ "if-due", no_argument, NULL, 'i' },
		{ "daemon", no_argument, NULL, 'D' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct renew_opts	 o;
	struct attempt		 a;
	struct ca_error		 err;
	uint64_t		 days = 0;
	bool			 if_due = false, daemon = false, force = false;
	char			 copy[PATH_MAX], t[21];
	int			 ch, n;

	(void)cfg;
	memset(&o, 0, sizeof(o));
	/* --exec takes the rest of the line, before getopt can reorder it. */
	for (n = 1; n < argc; n++)
		if (strcmp(argv[n], "--exec") == 0) {
			char **cmd = argv + n + 1;

			if (*cmd != NULL && strcmp(*cmd, "--") == 0)
				cmd++;
			if (*cmd == NULL) {
				cmd_fail("renew: --exec needs a command");
				return cmd_usage_print("renew", true);
			}
			o.exec = cmd;
			argc = n;
			break;
		}
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o.server = optarg; break;
		case 'c': o.cert = optarg; break;
		case 'k': o.key = optarg; break;
		case 'a': o.ca_file = optarg; break;
		case 'C': o.chain = optarg; break;
		case 'r': o.rekey = true; break;
		case 't':
			if (ca_key_type_parse(optarg, &o.key_type) != CA_OK) {
				cmd_fail("renew: --key-type %s: expected "
				    "ecdsa-p256, ecdsa-p384, ecdsa-p521, "
				    "rsa2048, rsa3072 or rsa4096", optarg);
				return CMD_USAGE;
			}
			o.key_type_set = true;
			break;
		case 'd':
			if (parse_u64(optarg, 1, 36500, &days) != CA_OK) {
				cmd_fail("renew: --days %s: expected a number "
				    "of days from 1 to 36500", optarg);
				return CMD_USAGE;
			}
			o.days = (unsigned)days;
			break;
		case 'i': if_due = true; break;
		case 'D': daemon = true; break;
		case 'f': force = true; break;
		case 'h':
			return cmd_usage_print("renew", false);
		default:
			cmd_fail("renew: unknown option or missing value: %s",
			    argv[optind - 1]);
			return cmd_usage_print("renew", true);
		}
	}
	if (optind != argc) {
		cmd_fail("renew: unexpected argument '%s'", argv[optind]);
		return cmd_usage_print("renew", true);
	}
	if (o.server == NULL || o.cert == NULL || o.key == NULL) {
		cmd_fail("renew: --server, --cert and --key are required");
		return cmd_usage_print("renew", true);
	}
	if (if_due && daemon) {
		cmd_fail("renew: --if-due or --daemon, not both");
		return cmd_usage_print("renew", true);
	}
	if (o.key_type_set && !o.rekey) {
		cmd_fail("renew: --key-type goes with --rekey");
		return cmd_usage_print("renew", true);
	}
	if (strncmp(o.server, "https://", 8) != 0) {
		cmd_fail("renew: --server %s: the URL must start with https://",
		    o.server);
		return CMD_USAGE;
	}
	if (o.ca_file == NULL) {
		/* enroll writes ca.pem beside cert.pem. */
		snprintf(copy, sizeof(copy), "%s", o.cert);
		if (path_join(o.ca_default, sizeof(o.ca_default),
		    dirname(copy), "ca.pem") != CA_OK ||
		    access(o.ca_default, R_OK) != 0)
			return cmd_fail("renew: no --ca-file, and no ca.pem "
			    "beside %s", o.cert);
		o.ca_file = o.ca_default;
	}
	if (snprintf(o.lock, sizeof(o.lock), "%s.lock", o.cert) >=
	    (int)sizeof(o.lock))
		return cmd_fail("renew: --cert: path too long");

	if (daemon)
		return daemon_loop(&o, force);

	ca_error_clear(&err);
	memset(&a, 0, sizeof(a));
	switch (attempt(&o, force || !if_due, 0, &a, &err)) {
	case NOT_DUE:
		time_format(a.due, t);
		printf("not due: %s (serial %s) renews after %s (2/3 of its "
		    "validity); --force renews now\n", o.cert, a.old.serial, t);
		return CMD_NOT_DUE;
	case RENEWED:
		return after_renewal(&o, &a) ? CMD_OK : CMD_FAIL;
	case FAILED:
		break;
	}
	return cmd_fail("renew: %s", err.msg);
}

#else /* !MTLSCA_HAVE_CLIENT */

int
cmd_renew(int argc, char **argv, struct config *cfg)
{
	(void)argc;
	(void)argv;
	(void)cfg;
	return cmd_fail("renew: this build has no HTTPS client (libcurl was "
	    "not found)");
}

#endif
