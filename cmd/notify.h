/*
 * `serve` under systemd (Type=notify, sd_notify(3)): READY=1 once the
 * listeners accept connections, STOPPING=1 when a stop signal arrives, and
 * WATCHDOG=1 every half of WATCHDOG_USEC from the main thread's signal wait,
 * when systemd asked for a watchdog for this process (WATCHDOG_PID).
 *
 * Built without libsystemd (MTLSCA_HAVE_SYSTEMD undefined) or started
 * without NOTIFY_SOCKET, the calls send nothing and cmd_notify_sigwait() is
 * sigwait(). Not a public header: only cmd/ includes it.
 */
#ifndef MTLSCA_CMD_NOTIFY_H
#define MTLSCA_CMD_NOTIFY_H

#include <signal.h>
#include <stdint.h>
#include <time.h>

struct cmd_notify {
	uint64_t	interval_us;	/* between two WATCHDOG=1; 0: none */
	struct timespec	next;		/* CLOCK_MONOTONIC of the next one */
};

/*
 * The service is up: send READY=1 with STATUS=<printf>, and fill *n (the
 * watchdog's interval and its first deadline). Call once, before
 * cmd_notify_sigwait().
 */
void cmd_notify_ready(struct cmd_notify *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A stop was asked for: STOPPING=1. */
void cmd_notify_stopping(void);

/*
 * sigwait(3) that sends WATCHDOG=1 on time while it waits. Returns 0 with
 * *sig set to one of the signals in *set, or an errno value.
 */
int cmd_notify_sigwait(struct cmd_notify *n, const sigset_t *set, int *sig);

#endif
