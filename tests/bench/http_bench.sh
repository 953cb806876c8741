#!/bin/bash
# Issuance benchmark (not a timed test): for a P-256 and an RSA-2048 CA,
#  1. the in-process issuance rate on all cores (tests/tools/issue_bench:
#     parse and verify the CSR, build, sign; no HTTP, no store);
#  2. HTTPS enrollment with keep-alive from concurrent clients (wrk with
#     tests/bench/enroll.lua POSTing one fixed CSR, a static token), every
#     certificate committed to LMDB before its response; rate, p50, p99;
#  3. revoke-to-new-/crl latency (default crl.debounce 2 s);
#  4. CPU per certificate: the server's (from /proc, all its threads)
#     against in-process issuance's (cores / in-process rate).
#
#   MTLSCA=build/mtlsca MTLSCA_BUILD=build tests/bench/http_bench.sh
# Knobs: BENCH_SECONDS (10), BENCH_CONNECTIONS (32), BENCH_THREADS (2),
# BENCH_THREADING=connection (the default)|pool: the http.threading setting.
HERE="$(cd "$(dirname "$0")" && pwd)"
MTLSCA_SRC="${MTLSCA_SRC:-$(cd "$HERE/../.." && pwd)}"
MTLSCA_BUILD="${MTLSCA_BUILD:-$(dirname "${MTLSCA:-}")}"
. "$MTLSCA_SRC/tests/e2e/http_lib.sh"

SECS="${BENCH_SECONDS:-10}"
CONNS="${BENCH_CONNECTIONS:-32}"
WTHREADS="${BENCH_THREADS:-2}"
ISSUE_BENCH="$MTLSCA_BUILD/tests/issue_bench"
[ -x "$ISSUE_BENCH" ] || fail "no $ISSUE_BENCH (build the issue_bench target)"
command -v wrk >/dev/null || fail "wrk is not installed"
TOKEN="bench-$RANDOM$RANDOM$RANDOM"
ADMIN="bench-admin-$RANDOM$RANDOM"
CORES=$(nproc)
TICKS=$(getconf CLK_TCK)
# utime + stime of a process, in clock ticks (threads that ended included).
server_cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}
SUMMARY="$HL_TMP/summary"
printf '%-10s %12s %12s %7s %9s %9s %10s %12s %14s\n' CA in-process https ratio \
    p50_ms p99_ms certs/txn 'revoke->crl' 'cpu_us/cert' >"$SUMMARY"

run_one() {
	local kind="$1" keytype="$2"
	local D="$HL_TMP/$kind" HP PP conf inproc rate p50 p99 commits committed srv_us inp_us
	local serial ms t0
	HP=$(free_port)
	PP=$(free_port)
	conf="$HL_TMP/$kind.conf"
	mkdir -p "$D"
	hl_config "$conf" "$D/data" "$HP" "$PP" "
ca = { key_type = \"$keytype\"; };
profiles = ( { name = \"client\"; tokens = [ \"$(hl_sha256 "$TOKEN")\" ]; } );
admins = { token_hashes = [ \"$(hl_sha256 "$ADMIN")\" ]; };"
	# The default debounce, for the revoke-to-CRL figure.
	sed -i 's/debounce = "1s"/debounce = "2s"/' "$conf"
	sed -i "s/^http = {/http = { max_connections = 1024; per_ip_connections = 1024; threading = \"${BENCH_THREADING:-connection}\";/" "$conf"
	hl_start "serve-$kind" --config "$conf" serve
	local pid=$HL_PID
	hl_csr "bench-$kind" "/CN=bench-client"
	local csr="$HL_TMP/bench-$kind.csr"

	echo "== $kind CA ($keytype), $CORES cores"
	# In-process rate just before and just after the HTTPS run, averaged:
	# on a shared machine the load may change in between.
	inproc_run() {
		"$ISSUE_BENCH" "$D/data/ca.pem" "$D/data/private/ca.key" "$csr" \
		    5 "$CORES" | tee /dev/stderr |
		    sed -n 's/.*rate \([0-9]*\)\/s.*/\1/p'
	}
	local in1 in2 cpu0 cpu1
	in1=$(inproc_run)
	cpu0=$(server_cpu_ticks "$pid")
	BENCH_CSR="$csr" BENCH_TOKEN="$TOKEN" wrk -t"$WTHREADS" -c"$CONNS" \
	    -d"${SECS}s" --latency -s "$HERE/enroll.lua" \
	    "https://127.0.0.1:$HP/v1/certificates" >"$HL_TMP/wrk-$kind.txt"
	cpu1=$(server_cpu_ticks "$pid")
	cat "$HL_TMP/wrk-$kind.txt"
	in2=$(inproc_run)
	inproc=$(( (in1 + in2) / 2 ))
	grep -q "^status 201: [1-9]" "$HL_TMP/wrk-$kind.txt" || fail "no 201 in the run"
	grep -q "^status other: 0$" "$HL_TMP/wrk-$kind.txt" ||
	    fail "some enrollments were not 201"
	rate=$(sed -n 's/^Requests\/sec: *\([0-9.]*\)/\1/p' "$HL_TMP/wrk-$kind.txt")
	p50=$(sed -n 's/^p50_ms //p' "$HL_TMP/wrk-$kind.txt")
	p99=$(sed -n 's/^p99_ms //p' "$HL_TMP/wrk-$kind.txt")
	curl -s "http://127.0.0.1:$PP/metrics" >"$HL_TMP/metrics-$kind.txt"
	commits=$(sed -n 's/^mtlsca_store_commits_total //p' "$HL_TMP/metrics-$kind.txt")
	committed=$(sed -n 's/^mtlsca_store_committed_certificates_total //p' \
	    "$HL_TMP/metrics-$kind.txt")
	echo "committed $committed certificates in $commits write transactions"
	# CPU per certificate, the server's own (user + system, every thread)
	# against in-process issuance's (all cores busy): what the HTTP, TLS
	# and store path costs, whatever share of the cores wrk took.
	srv_us=$("$PY" -c "print(round(($cpu1 - $cpu0) / $TICKS * 1e6 / max($committed, 1)))")
	inp_us=$(( CORES * 1000000 / inproc ))
	echo "CPU per certificate: server ${srv_us} us, in-process ${inp_us} us"

	# Revoke-to-/crl: one revocation over the API, poll /crl.
	serial=$(curl -sS --cacert "$D/data/ca.pem" -H "Authorization: Bearer $TOKEN" \
	    -H "Content-Type: application/x-pem-file" --data-binary "@$csr" \
	    "https://localhost:$HP/v1/certificates" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["serial"])')
	t0=$(date +%s%N)
	curl -sSf -o /dev/null --cacert "$D/data/ca.pem" -X POST \
	    -H "Authorization: Bearer $ADMIN" \
	    "https://localhost:$HP/v1/certificates/$serial/revoke" || fail "revoke"
	ms=$(hl_wait_crl "http://127.0.0.1:$PP/crl" "$serial" 10) || fail "no CRL"
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))	# from the revoke request
	echo "revoke -> new /crl listing it: ${ms} ms"
	hl_stop "$pid"
	printf '%-10s %10s/s %10s/s %6s%% %9s %9s %10s %10sms %14s\n' "$kind" "$inproc" \
	    "${rate%.*}" "$(( ${rate%.*} * 100 / inproc ))" "$p50" "$p99" \
	    "$("$PY" -c "print(round($committed/max($commits,1),1))")" "$ms" \
	    "$srv_us/$inp_us" >>"$SUMMARY"
}

run_one p256 ecdsa-p256
run_one rsa2048 rsa2048
echo
echo "threading: ${BENCH_THREADING:-connection}; wrk -t$WTHREADS -c$CONNS -d${SECS}s on the same $CORES cores"
cat "$SUMMARY"
