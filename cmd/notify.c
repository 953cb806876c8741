/*
 * sd_notify(3) for `serve` (cmd/notify.h). systemd's side of the protocol:
 * with Type=notify the unit is "started" only on READY=1, so that units
 * ordered after it (and `systemctl start`) wait until the HTTPS port
 * answers; STOPPING=1 shows "deactivating" while requests in flight finish;
 * with WatchdogSec= set, a process that sends no WATCHDOG=1 within it is
 * killed and, with Restart=, started again (sd_watchdog_enabled(3)
 * recommends a keep-alive at half the interval).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifdef MTLSCA_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "cmd/notify.h"

#ifdef MTLSCA_HAVE_SYSTEMD

/* Failures are reported, not fatal: systemd's own timeouts take over. */
static void
notify_send(const char *state, const char *what)
{
	int r;

	if ((r = sd_notify(0, state)) < 0)
		fprintf(stderr, "mtlsca: sd_notify %s: %s\n", what,
		    strerror(-r));
}

static void
deadline_set(struct cmd_notify *n)
{
	clock_gettime(CLOCK_MONOTONIC, &n->next);
	n->next.tv_sec += (time_t)(n->interval_us / 1000000);
	n->next.tv_nsec += (long)(n->interval_us % 1000000) * 1000;
	if (n->next.tv_nsec >= 1000000000L) {
		n->next.tv_sec++;
		n->next.tv_nsec -= 1000000000L;
	}
}

void
cmd_notify_ready(struct cmd_notify *n, const char *fmt, ...)
{
	char		 state[256];
	va_list		 ap;
	uint64_t	 usec = 0;
	int		 len;

	memset(n, 0, sizeof(*n));
	/* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is
	   this process. */
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		n->interval_us = usec / 2;
		if (n->interval_us == 0)
			n->interval_us = 1;
		deadline_set(n);
	}
	len = snprintf(state, sizeof(state), "READY=1\nSTATUS=");
	va_start(ap, fmt);
	vsnprintf(state + len, sizeof(state) - (size_t)len, fmt, ap);
	va_end(ap);
	notify_send(state, "READY=1");
}

void
cmd_notify_stopping(void)
{
	notify_send("STOPPING=1\nSTATUS=finishing requests in flight",
	    "STOPPING=1");
}

int
cmd_notify_sigwait(struct cmd_notify *n, const sigset_t *set, int *sig)
{
	struct timespec	now, left;
	int		s;

	if (n->interval_us == 0)
		return sigwait(set, sig);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > n->next.tv_sec ||
		    (now.tv_sec == n->next.tv_sec &&
		    now.tv_nsec >= n->next.tv_nsec)) {
			notify_send("WATCHDOG=1", "WATCHDOG=1");
			/* From now, not from the missed deadline: no burst
			   after the process was stopped for a while. */
			deadline_set(n);
			continue;
		}
		left.tv_sec = n->next.tv_sec - now.tv_sec;
		left.tv_nsec = n->next.tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000L;
		}
		if ((s = sigtimedwait(set, NULL, &left)) > 0) {
			*sig = s;
			return 0;
		}
		if (errno != EAGAIN && errno != EINTR) {
			/* Never a loop that no signal can end: without the
			   watchdog, systemd restarts us when it expires. */
			fprintf(stderr, "mtlsca: sigtimedwait: %s: the "
			    "watchdog keep-alive stops\n", strerror(errno));
			n->interval_us = 0;
			return sigwait(set, sig);
		}
	}
}

#else /* !MTLSCA_HAVE_SYSTEMD */

void
cmd_notify_ready(struct cmd_notify *n, const char *fmt, ...)
{
	(void)fmt;
	memset(n, 0, sizeof(*n));
}

void
cmd_notify_stopping(void)
{
}

int
cmd_notify_sigwait(struct cmd_notify *n, const sigset_t *set, int *sig)
{
	(void)n;
	return sigwait(set, sig);
}

#endif
