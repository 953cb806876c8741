#!/bin/bash
# `mtlsca serve` under systemd's notify protocol (Type=notify in
# packaging/systemd/mtlsca.service), with a python3 listener standing in for
# systemd on NOTIFY_SOCKET (a unix datagram socket): READY=1 comes once the
# HTTPS port answers (the moment READY arrives the listener checks that serve
# has printed "mtlsca: ready", which follows the listeners' start, and asks
# the HTTPS port for /healthz),
# WATCHDOG=1 every half of WATCHDOG_USEC when WATCHDOG_PID is serve's pid
# and never when it is another process's, STOPPING=1 on SIGTERM before a
# clean exit; SIGHUP (the unit's ExecReload=) stops nothing; a NOTIFY_SOCKET
# nobody listens on is reported, not fatal.
. "$(dirname "$0")/http_lib.sh"

if ! ldd "$MTLSCA" 2>/dev/null | grep -q 'libsystemd\.so'; then
	# Only a build made without libsystemd-dev (MTLSCA_SYSTEMD=OFF or
	# AUTO without it): setup.sh installs it, so CI never gets here.
	echo "SKIP: $MTLSCA was built without libsystemd (no sd_notify)"
	exit 0
fi

D="$HL_TMP/data"
HP=$(free_port)
PP=$(free_port)
CONF="$HL_TMP/mtlsca.conf"
hl_config "$CONF" "$D" "$HP" "$PP"
hl_init "$CONF"
LISTENER="$(dirname "$0")/notify_listener.py"

# listen NAME SERVE: a fresh listener on $HL_TMP/NAME.sock logging to
# NAME.log, for the serve whose stderr is $HL_TMP/SERVE.err.
listen() {
	rm -f "$HL_TMP/$1.sock" "$HL_TMP/$1.log"
	: >"$HL_TMP/$1.log"
	: >"$HL_TMP/$2.err"
	"$PY" "$LISTENER" "$HL_TMP/$1.sock" "$HL_TMP/$1.log" "$HP" \
	    "$D/ca.pem" "$HL_TMP/$2.err" 2>"$HL_TMP/$1-listener.err" &
	HL_PIDS+=("$!")
	LISTENER_PID=$!
	for _ in $(seq 1 100); do
		[ -S "$HL_TMP/$1.sock" ] && return 0
		sleep 0.05
	done
	fail "the notify listener did not bind $HL_TMP/$1.sock"
}

# serve NAME WATCHDOG_PID_MODE ENV...: serve in the background with ENV
# (NOTIFY_SOCKET=..., WATCHDOG_USEC=...). WATCHDOG_PID_MODE "self" exports
# serve's own pid (the shell's pid, which exec hands to mtlsca), "other"
# the pid of this script, "none" nothing. Sets SERVE_PID.
serve() {
	local name=$1 mode=$2
	shift 2
	sh -c 'case "$1" in
	self) WATCHDOG_PID=$$; export WATCHDOG_PID ;;
	other) WATCHDOG_PID=$2; export WATCHDOG_PID ;;
	esac
	shift 2
	exec env "$@"' sh "$mode" "$$" "$@" "$MTLSCA" --config "$CONF" serve \
	    >"$HL_TMP/$name.out" 2>"$HL_TMP/$name.err" &
	SERVE_PID=$!
	HL_PIDS+=("$SERVE_PID")
}

# wait_for LOG STATE: until a datagram holding STATE is in LOG (20 s).
wait_for() {
	for _ in $(seq 1 200); do
		grep -q "\"state\": \"[^\"]*$2" "$1" && return 0
		kill -0 "$SERVE_PID" 2>/dev/null ||
		    fail "serve exited before $2: $(cat "$HL_TMP"/*.err)"
		sleep 0.1
	done
	fail "no $2 on NOTIFY_SOCKET in 20 s: $(cat "$1")"
}

stop() {	# SIGTERM, then a clean exit
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID" || fail "serve exited with $? after SIGTERM"
}

# ---- READY after the listeners, the watchdog, STOPPING ----
listen n1 s1
serve s1 self NOTIFY_SOCKET="$HL_TMP/n1.sock" WATCHDOG_USEC=1000000
wait_for "$HL_TMP/n1.log" READY=1
ready=$("$PY" -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
r = [x for x in r if "READY=1" in x["state"].split("\n")]
print(len(r), r[0]["said"], r[0]["https"], "|",
      r[0]["state"].replace("\n", " "))' "$HL_TMP/n1.log")
case "$ready" in
"1 True HTTP/1.1 "[0-9][0-9][0-9]*) ;;
*) fail "READY=1 before the HTTPS port answered (or twice): $ready" ;;
esac
case "$ready" in
*"STATUS=serving on 127.0.0.1: HTTPS port $HP, HTTP port $PP") ;;
*) fail "READY=1's STATUS: $ready" ;;
esac
ok "READY=1 once, when the HTTPS port already answered: ${ready%%|*}"

# WATCHDOG_USEC = 1 s: a keep-alive every 0.5 s. Three seconds of them;
# bounds loose enough for a loaded machine, tight enough that no watchdog,
# a watchdog at the full interval (systemd would kill us on any delay) or a
# busy loop cannot pass.
# Counted in the listener's clock, over the 3 s after READY=1.
sleep 3.5
watch=$("$PY" -c 'import json, statistics, sys
r = [json.loads(l) for l in open(sys.argv[1])]
t0 = [x["t"] for x in r if "READY=1" in x["state"].split("\n")][0]
w = [x["t"] for x in r if x["state"] == "WATCHDOG=1" and x["t"] - t0 <= 3]
gaps = [b - a for a, b in zip([t0] + w, w)]
print(len(w), "%.3f" % (statistics.median(gaps) if gaps else 0),
      "%.3f" % (min(gaps) if gaps else 0))' "$HL_TMP/n1.log")
read -r n median shortest <<<"$watch"
[ "$n" -ge 4 ] && [ "$n" -le 7 ] ||
    fail "$n WATCHDOG=1 in 3 s with WATCHDOG_USEC=1000000 (expected 6)"
"$PY" -c 'import sys; m, s = map(float, sys.argv[1:])
sys.exit(0 if 0.4 <= m <= 0.75 and s >= 0.3 else 1)' "$median" "$shortest" ||
    fail "WATCHDOG=1 every ${median} s (shortest ${shortest} s), expected 0.5 s"
ok "WATCHDOG=1 x$n, every ${median} s (half of WATCHDOG_USEC)"

# SIGHUP (ExecReload= in the unit) neither stops serve nor its watchdog.
before=$(grep -c '"state": "WATCHDOG=1"' "$HL_TMP/n1.log")
kill -HUP "$SERVE_PID"
sleep 1.2
kill -0 "$SERVE_PID" 2>/dev/null || fail "SIGHUP stopped serve"
after=$(grep -c '"state": "WATCHDOG=1"' "$HL_TMP/n1.log")
[ "$after" -gt "$before" ] || fail "no WATCHDOG=1 after SIGHUP"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$D/ca.pem" \
    "https://localhost:$HP/healthz") || true
[ "$code" = 200 ] || fail "/healthz answered '$code' after SIGHUP"
ok "SIGHUP: serve runs on, WATCHDOG=1 goes on ($before, then $after)"

stop
tail -n 1 "$HL_TMP/n1.log" | grep -q '"state": "STOPPING=1' ||
    fail "the last datagram is not STOPPING=1: $(tail -n 2 "$HL_TMP/n1.log")"
grep -q "mtlsca: stopped" "$HL_TMP/s1.err" || fail "no clean stop"
ok "SIGTERM: STOPPING=1, then exit 0"
kill -TERM "$LISTENER_PID"

# ---- WATCHDOG_PID names another process: no keep-alives from us ----
listen n2 s2
serve s2 other NOTIFY_SOCKET="$HL_TMP/n2.sock" WATCHDOG_USEC=200000
wait_for "$HL_TMP/n2.log" READY=1
sleep 1.5
! grep -q WATCHDOG "$HL_TMP/n2.log" ||
    fail "WATCHDOG=1 sent although WATCHDOG_PID is another process"
stop
wait_for_stop=$(grep -c STOPPING=1 "$HL_TMP/n2.log" || true)
[ "$wait_for_stop" = 1 ] || fail "STOPPING=1 $wait_for_stop times"
ok "WATCHDOG_PID of another process: READY and STOPPING, no WATCHDOG=1"
kill -TERM "$LISTENER_PID"

# ---- nobody on NOTIFY_SOCKET: serve says so and serves all the same ----
serve s3 none NOTIFY_SOCKET="$HL_TMP/nobody.sock"
for _ in $(seq 1 200); do
	grep -q "mtlsca: ready" "$HL_TMP/s3.err" && break
	kill -0 "$SERVE_PID" 2>/dev/null || fail "serve s3 exited"
	sleep 0.1
done
grep -q "mtlsca: sd_notify READY=1: " "$HL_TMP/s3.err" ||
    fail "no warning for an unreachable NOTIFY_SOCKET: $(cat "$HL_TMP/s3.err")"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$D/ca.pem" \
    "https://localhost:$HP/healthz") || true
case "$code" in
200 | 503) ;;
*) fail "/healthz answered '$code' with an unreachable NOTIFY_SOCKET" ;;
esac
stop
ok "an unreachable NOTIFY_SOCKET: a warning, and the service runs"
echo "PASS serve_notify"
