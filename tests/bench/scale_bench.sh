#!/bin/bash
# Scale benchmark (issue 15): what a store of 1M certificates and a CRL of
# 500k entries cost the operator, in the same run.
#
#   tests/bench/scale_bench.sh
#   SCALE_CERTS=100000 SCALE_REVOKED=50000 tests/bench/scale_bench.sh  # quick
#
# Environment:
#   MTLSCA          the binary (default build/mtlsca)
#   FILL_STORE      tests/tools/fill_store (default next to the binary)
#   SCALE_CERTS     certificates in the listing store (default 1000000;
#                   a tenth revoked, none expired: fill_store certs
#                   --none-expired)
#   SCALE_REVOKED   entries of the CRL store (default 500000)
#   SCALE_ROUNDS    rounds of each timed step (default 5)
#   SCALE_BUILDS    CRL builds in the serve heap step (default 6)
#   SCALE_DIR       work directory (default a fresh mktemp -d, removed)
#   SCALE_STEPS     which steps to run (default "1 2 3 4 5"; 3 needs 2)
#
# Steps, each printing min / median / max over SCALE_ROUNDS:
#  1. filters: fill_store filter (in process) pages of 100 of each status
#     through the status indexes, beside the same page found by filtering
#     the full walk (the path before the indexes); then `mtlsca list
#     --status expired --json` (nothing expired: the answer is []) as a
#     process, wall time and peak RSS.
#  2. list --json of every record: wall and peak RSS (it streams).
#  3. revoke --file of 400,000 serials: peak RSS (the report's 16 bytes a
#     line, not the records).
#  4. start-up of `serve` with SCALE_REVOKED revoked, to "mtlsca: ready":
#     with the CRL files this data directory wrote (trusted by their
#     identity: inode, size, mtime, ctime), then, alternated, with crl.pem
#     changed by one trailing newline (parsed and verified in full, as
#     before issue 15), then once more (trusted by hash: the full check
#     recorded no identity; this start records it).
#  5. the service's anonymous RSS (its heap) after each of SCALE_BUILDS CRL
#     builds of SCALE_REVOKED entries, each set off by one more revocation.
# Figures only: this fails when a tool fails, never on a timing.
set -u

SRC=$(cd "$(dirname "$0")/../.." && pwd)
MTLSCA=${MTLSCA:-$SRC/build/mtlsca}
FILL_STORE=${FILL_STORE:-$(dirname "$MTLSCA")/tests/fill_store}
CERTS=${SCALE_CERTS:-1000000}
REVOKED=${SCALE_REVOKED:-500000}
ROUNDS=${SCALE_ROUNDS:-5}
BUILDS=${SCALE_BUILDS:-6}
STEPS=" ${SCALE_STEPS:-1 2 3 4 5} "
step() { case $STEPS in *" $1 "*) return 0 ;; esac; return 1; }

die() { echo "scale_bench: $*" >&2; exit 2; }
[ -x "$MTLSCA" ] || die "no mtlsca binary at $MTLSCA (set MTLSCA)"
[ -x "$FILL_STORE" ] || die "no fill_store at $FILL_STORE (build the tests)"
[ -x /usr/bin/time ] || die "needs /usr/bin/time"
command -v python3 >/dev/null || die "needs python3"

if [ -n "${SCALE_DIR:-}" ]; then
	WORK=$SCALE_DIR
	mkdir -p "$WORK"
else
	WORK=$(mktemp -d /tmp/scale-bench.XXXXXX)
fi
cleanup() {
	[ -f "$WORK/serve.pid" ] && kill "$(cat "$WORK/serve.pid")" 2>/dev/null
	[ -n "${SCALE_DIR:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

# "min / median / max" of the numbers on stdin, with $1 decimals.
mmm() {
	sort -g | awk -v d="${1:-3}" '{ a[NR] = $1 } END {
	    if (NR == 0) { print "-"; exit }
	    m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
	    f = "%." d "f / %." d "f / %." d "f\n"
	    printf f, a[1], m, a[NR] }'
}

# One run under /usr/bin/time: "wall_s peak_mb"; output in $WORK/out.log.
timed() {
	local t0 t1
	t0=$(date +%s%N)
	/usr/bin/time -f '%M' -o "$WORK/time.log" "$@" >"$WORK/out.log" \
	    2>"$WORK/err.log" || die "$* failed: $(tail -3 "$WORK/err.log")"
	t1=$(date +%s%N)
	awk -v a="$t0" -v b="$t1" -v m="$(tail -1 "$WORK/time.log")" \
	    'BEGIN { printf "%.4f %d\n", (b - a) / 1e9, m / 1024 }'
}

free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

L=$WORK/list
if step 1 || step 2 || step 3; then
"$FILL_STORE" init "$L" ecdsa >/dev/null || die "init"
"$FILL_STORE" certs "$L" "$CERTS" --none-expired || die "fill certs"
fi

if step 1; then
echo "== 1. filters at $CERTS certificates (a tenth revoked, none expired)"
"$FILL_STORE" filter "$L" --rounds "$ROUNDS" || die "filter"
w=() r=()
for ((i = 0; i < ROUNDS; i++)); do
	read -r a b < <(timed "$MTLSCA" --data-dir "$L" list --status expired \
	    --json)
	[ "$(tr -d ' \n' <"$WORK/out.log")" = "[]" ] ||
	    die "list --status expired found something"
	w+=("$a") r+=("$b")
done
echo "mtlsca list --status expired --json (the process): wall s" \
    "$(printf '%s\n' "${w[@]}" | mmm 3), peak RSS MB" \
    "$(printf '%s\n' "${r[@]}" | mmm 0)"

fi

if step 2 || step 3; then
echo "== 2. list --json of $CERTS records (streamed)"
read -r a b < <(timed "$MTLSCA" --data-dir "$L" list --json)
n=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' \
    "$WORK/out.log") || die "list --json is not JSON"
[ "$n" = "$CERTS" ] || die "list --json: $n records, not $CERTS"
echo "list --json: $n records parsed, wall ${a} s, peak RSS ${b} MB" \
    "(before issue 15: 3 GB and 25 s at 1M)"

fi

if step 3; then
echo "== 3. revoke --file"
K=$((CERTS * 4 / 10))
[ "$K" -le 400000 ] || K=400000
python3 - "$WORK/out.log" "$K" >"$WORK/serials.txt" <<'PY' || die "serials"
import json, sys
k = int(sys.argv[2])
for o in json.load(open(sys.argv[1])):
    if o["status"] == "valid":
        print(o["serial"])
        k -= 1
        if k == 0:
            break
PY
rm -f "$WORK/out.log"
read -r a b < <(timed "$MTLSCA" --data-dir "$L" revoke --file \
    "$WORK/serials.txt" --reason superseded)
echo "revoke --file of $K serials: wall ${a} s, peak RSS ${b} MB" \
    "(before issue 15: 790 MB at 400k)"
fi
rm -rf "$L"

C=$WORK/crl
if step 4 || step 5; then
"$FILL_STORE" init "$C" ecdsa >/dev/null || die "init"
"$FILL_STORE" fill "$C" "$REVOKED" >/dev/null || die "fill revoked"
HTTPS=$(free_port) HTTP=$(free_port)
cat >"$WORK/serve.conf" <<EOF
data_dir = "$C";
store = { map_size = "8G"; };
crl = { validity = "7d"; refresh = "1d"; debounce = "0s";
	warn_entries = 10000000; max_entries = 10000000; };
http = { listen = "127.0.0.1"; https_port = $HTTPS; http_port = $HTTP;
	server_names = [ "localhost" ]; };
EOF
"$MTLSCA" --config "$WORK/serve.conf" crl >/dev/null 2>&1 || die "mtlsca crl"
fi

# start: serve until "mtlsca: ready" (its pid in serve.pid); prints the
# seconds it took and the CPU seconds it used (user + system, /proc).
start() {
	python3 - "$MTLSCA" "$WORK/serve.conf" "$WORK/serve.pid" \
	    "$WORK/serve.err" <<'PY'
import os, subprocess, sys, time
err = open(sys.argv[4], "wb")
t0 = time.monotonic()
p = subprocess.Popen([sys.argv[1], "--config", sys.argv[2], "serve"],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=err, close_fds=True)
open(sys.argv[3], "w").write(str(p.pid))
while b"mtlsca: ready" not in open(sys.argv[4], "rb").read():
    if p.poll() is not None:
        sys.exit("serve exited before it was ready")
    time.sleep(0.002)
wall = time.monotonic() - t0
f = open("/proc/%d/stat" % p.pid).read().rsplit(")", 1)[1].split()
print("%.4f %.4f" % (wall, (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")))
PY
}
stop() {
	local pid
	pid=$(cat "$WORK/serve.pid")
	kill -TERM "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}
if step 4; then
echo "== 4. serve start-up with $REVOKED revoked"
trusted=() full=() hashed=() tcpu=() fcpu=() hcpu=()
for ((i = 0; i < ROUNDS; i++)); do
	read -r t c < <(start) || die "serve did not start"
	stop
	trusted+=("$t") tcpu+=("$c")
	echo >>"$C/public/crl.pem"	# no longer the recorded file
	read -r t c < <(start) || die "serve did not start"
	stop
	full+=("$t") fcpu+=("$c")
	# the full check recorded its hashes; this start compares them
	read -r t c < <(start) || die "serve did not start"
	stop
	hashed+=("$t") hcpu+=("$c")
	# and recorded the identities: the next round starts trusted
done
ts=$(printf '%s\n' "${trusted[@]}" | mmm 3)
fs=$(printf '%s\n' "${full[@]}" | mmm 3)
hs=$(printf '%s\n' "${hashed[@]}" | mmm 3)
tc=$(printf '%s\n' "${tcpu[@]}" | mmm 3)
fc=$(printf '%s\n' "${fcpu[@]}" | mmm 3)
hc=$(printf '%s\n' "${hcpu[@]}" | mmm 3)
echo "to ready, files trusted by identity:    wall s $ts, CPU s $tc"
echo "to ready, files trusted by hash:        wall s $hs, CPU s $hc"
echo "to ready, crl.pem re-read and verified: wall s $fs, CPU s $fc"
echo "ratio of CPU medians (verified / trusted by identity):" "$(awk \
    -v a="$(echo "$fc" | cut -d/ -f2)" -v b="$(echo "$tc" | cut -d/ -f2)" \
    'BEGIN { printf "%.1fx\n", a / b }')"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

if step 5; then
echo "== 5. serve's heap across $BUILDS CRL builds of $REVOKED entries"
start >/dev/null || die "serve did not start"
pid=$(cat "$WORK/serve.pid")
rss() { awk '/^RssAnon/ { printf "%d", $2 / 1024 }' "/proc/$pid/status"; }
num() { stat -c %Y.%s "$C/public/crl.der"; }
printf 'after start: %s MB' "$(rss)"
for ((i = 1; i <= BUILDS; i++)); do
	before=$(num)
	serial=$(printf '7f%030x' "$((RANDOM * 32768 + RANDOM + i))")
	"$MTLSCA" --config "$WORK/serve.conf" revoke "$serial" --force \
	    >/dev/null 2>&1 || die "revoke $serial"
	for ((j = 0; j < 600; j++)); do
		[ "$(num)" != "$before" ] && break
		sleep 0.1
	done
	[ "$(num)" != "$before" ] || die "no CRL build after a revocation"
	sleep 1		# the build's buffers handed back
	printf ', build %d: %s MB' "$i" "$(rss)"
done
echo
stop
echo "(before issue 15: 53 -> 217 MB and staying, glibc's mmap threshold" \
    "raised by the first big free)"
fi
