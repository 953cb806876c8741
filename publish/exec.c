/*
 * The exec publisher: nginx, HAProxy and Envoy load a CRL file only when
 * told to (nginx -s reload, a HAProxy runtime command, an Envoy hot
 * restart...). Once every publisher listed before it has the CRL (runner.c),
 * its command runs: no shell (argv as configured, argv[0] an absolute path),
 * a clean environment (no AWS credentials leak into it: PATH,
 * MTLSCA_CRL_NUMBER, MTLSCA_CRL_ENTRIES and MTLSCA_CA_NS, "" for the
 * active CA or a retiring CA's namespace), stdin from
 * /dev/null, its own process group; its exit status is its result, and a
 * command still running at the timeout is killed with its group.
 */
#define _GNU_SOURCE	/* posix_spawn_file_actions_addclosefrom_np */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "publish/publish_int.h"

#define EXEC_TIMEOUT_DEFAULT	30
#define EXEC_OUTPUT_KEEP	2048	/* the tail of what it printed */

static int
exec_check(const struct publish_conf *conf, size_t i, struct ca_error *err)
{
	const struct publish_conf *c = &conf[i];

	if (c->argc == 0 || c->argc > PUBLISH_ARGV_MAX)
		return ca_error_set(err, CA_EINVAL, "exec publisher '%s' needs "
		    "a command of 1 to %d words", c->name, PUBLISH_ARGV_MAX);
	if (c->argv[0][0] != '/')
		return ca_error_set(err, CA_EINVAL, "exec publisher '%s': the "
		    "command's first word must be an absolute path (there is "
		    "no shell and no PATH search)", c->name);
	if (c->timeout < 0 || c->timeout > 3600)
		return ca_error_set(err, CA_EINVAL, "exec publisher '%s': the "
		    "timeout must be 1 s to 1 h", c->name);
	return CA_OK;
}

static int
exec_open(struct publisher *p, struct ca_error *err)
{
	(void)err;
	if (p->conf.timeout == 0)
		p->conf.timeout = EXEC_TIMEOUT_DEFAULT;
	return CA_OK;
}

static void
exec_destination(const struct publisher *p, char *out, size_t size)
{
	size_t	 o;

	o = (size_t)snprintf(out, size, "exec:");
	for (size_t i = 0; i < p->conf.argc && o < size; i++)
		o += (size_t)snprintf(out + o, size - o, "%s%s", i ? " " : "",
		    p->conf.argv[i]);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The last line of what the command printed, for the error. */
static void
last_line(const char *buf, size_t len, char *out, size_t size)
{
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
	    buf[len - 1] == ' '))
		len--;
	size_t start = len;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	snprintf(out, size, "%.*s", (int)(len - start), buf + start);
	for (char *q = out; *q != '\0'; q++)
		if ((unsigned char)*q < 0x20)
			*q = ' ';
}

/* Read what is there to read from fd into the tail buffer; false at the
   end of the stream. */
static bool
read_tail(int fd, char *out, size_t cap, size_t *got)
{
	char	 buf[512];
	ssize_t	 n = read(fd, buf, sizeof(buf));
	size_t	 k;

	if (n <= 0)
		return n < 0 && errno == EINTR;
	k = (size_t)n;
	if (*got + k > cap) {
		size_t drop = *got + k - cap;

		if (drop > *got)
			drop = *got;
		memmove(out, out + drop, *got - drop);
		*got -= drop;
	}
	if (k > cap)
		k = cap;
	memcpy(out + *got, buf + (size_t)n - k, k);
	*got += k;
	return true;
}

/*
 * Run argv; CA_OK when it exits 0 within timeout_s, else CA_EIO with what
 * happened and the last line it printed.
 */
static int
run_command(const struct publisher *p, const struct crl_snapshot *crl,
    struct ca_error *err)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 at;
	sigset_t			 none, dfl;
	char				*argv[PUBLISH_ARGV_MAX + 1];
	char				 number[48], entries[48];
	char				 ns[PUBLISH_NS_MAX + 16];
	char				*envp[] = {
	    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	    number, entries, ns, NULL };
	char				 out[EXEC_OUTPUT_KEEP], line[200];
	size_t				 got = 0;
	int				 pipefd[2] = { -1, -1 }, status = 0;
	int				 rc, sr;
	bool				 fa_ok = false, at_ok = false;
	bool				 exited = false, timed_out = false;
	pid_t				 pid = -1;
	int64_t				 deadline;

	snprintf(number, sizeof(number), "MTLSCA_CRL_NUMBER=%" PRIu64,
	    crl->number);
	snprintf(entries, sizeof(entries), "MTLSCA_CRL_ENTRIES=%" PRIu64,
	    crl->entries);
	/* Whose CRL: "" for the active CA, a retiring CA's namespace. */
	snprintf(ns, sizeof(ns), "MTLSCA_CA_NS=%s", p->set->ns);
	for (size_t i = 0; i < p->conf.argc; i++)
		argv[i] = (char *)p->conf.argv[i];
	argv[p->conf.argc] = NULL;
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		rc = ca_error_set(err, CA_EIO, "pipe: %s", strerror(errno));
		goto out;
	}
	if (posix_spawn_file_actions_init(&fa) != 0) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	fa_ok = true;
	if (posix_spawnattr_init(&at) != 0) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	at_ok = true;
	/* stdin /dev/null, stdout and stderr into the pipe, nothing else
	   of ours (the store, sockets) open in the child. */
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);	/* serve ignores it: the child must not */
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	if (posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
	    0) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2) != 0 ||
	    posix_spawn_file_actions_addclosefrom_np(&fa, 3) != 0 ||
	    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) != 0 ||
	    posix_spawnattr_setpgroup(&at, 0) != 0 ||
	    posix_spawnattr_setsigmask(&at, &none) != 0 ||
	    posix_spawnattr_setsigdefault(&at, &dfl) != 0) {
		rc = ca_error_set(err, CA_ENOMEM, "cannot prepare the command");
		goto out;
	}
	if ((sr = posix_spawn(&pid, argv[0], &fa, &at, argv, envp)) != 0) {
		pid = -1;
		rc = ca_error_set(err, CA_EIO, "%s: %s", argv[0],
		    strerror(sr));
		goto out;
	}
	close(pipefd[1]);
	pipefd[1] = -1;
	deadline = mono_ms() + p->conf.timeout * 1000;
	/* Read what it says until it exits (not until the pipe closes: a
	   daemon it starts may keep it open) or the timeout. */
	while (!exited) {
		struct pollfd	 pfd = { pipefd[0], POLLIN, 0 };
		int64_t		 left = deadline - mono_ms();
		pid_t		 w;

		if (left <= 0) {
			timed_out = true;
			break;
		}
		if (pipefd[0] >= 0 && poll(&pfd, 1, left > 50 ? 50 : (int)left)
		    > 0) {
			if (!read_tail(pipefd[0], out, sizeof(out), &got)) {
				close(pipefd[0]);
				pipefd[0] = -1;
			}
		} else if (pipefd[0] < 0) {
			struct timespec ts = { 0, 20 * 1000000L };

			nanosleep(&ts, NULL);
		}
		while ((w = waitpid(pid, &status, WNOHANG)) == -1 &&
		    errno == EINTR)
			;
		if (w == pid)
			exited = true;
	}
	if (timed_out) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
		rc = ca_error_set(err, CA_EIO, "%s did not finish within %lld "
		    "s: killed", argv[0], (long long)p->conf.timeout);
		goto out;
	}
	/* What it wrote just before it exited. */
	while (pipefd[0] >= 0) {
		struct pollfd pfd = { pipefd[0], POLLIN, 0 };

		if (poll(&pfd, 1, 0) <= 0 ||
		    !read_tail(pipefd[0], out, sizeof(out), &got))
			break;
	}
	last_line(out, got, line, sizeof(line));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		rc = CA_OK;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 127 &&
	    got == 0)
		rc = ca_error_set(err, CA_EIO, "%s exited with status 127 (not "
		    "found or not executable?)", argv[0]);
	else if (WIFEXITED(status))
		rc = ca_error_set(err, CA_EIO, "%s exited with status %d%s%s",
		    argv[0], WEXITSTATUS(status), line[0] ? ": " : "", line);
	else
		rc = ca_error_set(err, CA_EIO, "%s was killed by signal %d%s%s",
		    argv[0], WIFSIGNALED(status) ? WTERMSIG(status) : 0,
		    line[0] ? ": " : "", line);
out:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (at_ok)
		posix_spawnattr_destroy(&at);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	return rc;
}

static int
exec_run(struct publisher *p, const struct crl_snapshot *crl,
    struct publish_state *s, struct ca_error *err)
{
	(void)s;
	return run_command(p, crl, err);
}

static int
exec_plan(struct publisher *p, const struct crl_snapshot *crl,
    const struct publish_state *s, struct awsbuf *b, struct ca_error *err)
{
	char	 cmd[PUBLISH_DEST_MAX];

	(void)crl;
	(void)s;
	(void)err;
	exec_destination(p, cmd, sizeof(cmd));
	return awsbuf_printf(b, "  would run %s (timeout %lld s, "
	    "MTLSCA_CA_NS=%s) once the publishers before it have the CRL\n",
	    cmd + strlen("exec:"), (long long)p->conf.timeout, p->set->ns);
}

static int
exec_status(const struct publisher *p, const struct publish_state *s,
    struct awsbuf *b)
{
	char	 cmd[PUBLISH_DEST_MAX];

	(void)s;
	exec_destination(p, cmd, sizeof(cmd));
	return awsbuf_printf(b, "  command:          %s (timeout %lld s)\n",
	    cmd + strlen("exec:"), (long long)p->conf.timeout);
}

const struct publish_ops publish_exec_ops = {
	.name = "exec",
	.check = exec_check,
	.open = exec_open,
	.destination = exec_destination,
	.plan = exec_plan,
	.run = exec_run,
	.status = exec_status,
};
