#!/bin/bash
# Issuance benchmark (not a timed test): for a P-256 and an RSA-2048 CA,
#  1. the in-process issuance rate on all cores (tests/tools/issue_bench:
#     parse and verify the CSR, build, sign; no HTTP, no store);
#  2. HTTPS enrollment with keep-alive from concurrent clients (wrk with
#     tests/bench/enroll.lua POSTing one fixed CSR, a static token), every
#     certificate committed to LMDB before its response; rate, p50, p99;
#  3. revoke-to-new-/crl latency (default crl.debounce 2 s);
#  4. CPU per certificate: the server's (from /proc, all its threads)
#     against in-process issuance's (cores / in-process rate), and wrk's
#     own CPU per request: the share of the cores the load generator takes
#     from the server when both run on the same machine;
#  5. the floor: the same POST refused at authentication, before any CSR
#     work. Its CPU per request (server and wrk) plus in-process issuance's
#     gives the ceiling HTTPS issuance could reach on these cores with the
#     load generator beside the server (the "ceiling" column, as a share
#     of the in-process rate).
#
#   MTLSCA=build/mtlsca MTLSCA_BUILD=build tests/bench/http_bench.sh
# Knobs: BENCH_SECONDS (10), BENCH_CONNECTIONS (32), BENCH_THREADS (2),
# BENCH_THREADING=connection (the default)|pool: the http.threading setting;
# BENCH_CAS="p256 rsa2048" (the default): which CAs to run.
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
# wrk_run TOKEN EXPECT SECONDS OUT: one wrk run against the server $pid;
# sets WRK_SRV_S (the server's CPU seconds over the run) and WRK_CLIENT_S
# (wrk's user + system seconds, from bash's `time`).
wrk_run() {
	local t0 t1 times
	t0=$(server_cpu_ticks "$pid")
	times=$( { TIMEFORMAT='%U %S'; time BENCH_CSR="$csr" BENCH_TOKEN="$1" \
	    BENCH_EXPECT="$2" wrk -t"$WTHREADS" -c"$CONNS" -d"$3s" --latency \
	    -s "$HERE/enroll.lua" "https://127.0.0.1:$HP/v1/certificates" \
	    >"$4"; } 2>&1 )
	t1=$(server_cpu_ticks "$pid")
	WRK_SRV_S=$("$PY" -c "print(($t1 - $t0) / $TICKS)")
	WRK_CLIENT_S=$("$PY" -c "print(sum(map(float, '$times'.split())))")
}
# per_item_us SECONDS COUNT: microseconds per item.
per_item_us() {
	"$PY" -c "print(round($1 * 1e6 / max($2, 1)))"
}
SUMMARY="$HL_TMP/summary"
printf '%-10s %12s %12s %7s %9s %9s %10s %12s %14s %8s %8s\n' CA in-process https ratio \
    p50_ms p99_ms certs/txn 'revoke->crl' 'cpu_us/cert' 'wrk_us' 'ceiling' >"$SUMMARY"

run_one() {
	local kind="$1" keytype="$2"
	local D="$HL_TMP/$kind" HP PP conf inproc rate p50 p99 commits committed srv_us inp_us floor_n floor_srv floor_wrk ceiling
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
	sed -i "s/^http = {/http = { max_connections = 1024; per_ip_connections = 1024; per_ip_pending = 1024; threading = \"${BENCH_THREADING:-connection}\";/" "$conf"
	# `serve --config` never makes a CA: init makes it, with ca.key_type.
	hl_init "$conf"
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
	local in1 in2 srv_us wrk_us floor
	in1=$(inproc_run)
	wrk_run "$TOKEN" 201 "$SECS" "$HL_TMP/wrk-$kind.txt"
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
	srv_us=$(per_item_us "$WRK_SRV_S" "$committed")
	wrk_us=$(per_item_us "$WRK_CLIENT_S" "$committed")
	inp_us=$(( CORES * 1000000 / inproc ))
	echo "CPU per certificate: server ${srv_us} us, in-process ${inp_us} us; wrk ${wrk_us} us per request"

	# The floor: the same POST refused at authentication (403), so no CSR
	# work at all. Its CPU per request (server + wrk), added to in-process
	# issuance's, bounds what HTTPS issuance can reach on these cores with
	# the load generator beside the server.
	wrk_run "wrong-$TOKEN" 403 5 "$HL_TMP/floor-$kind.txt"
	grep -q "^status other: 0$" "$HL_TMP/floor-$kind.txt" ||
	    fail "some floor requests were not 403"
	floor=$(sed -n 's/^Requests\/sec: *\([0-9.]*\)/\1/p' "$HL_TMP/floor-$kind.txt")
	floor_n=$(sed -n 's/^status 403: //p' "$HL_TMP/floor-$kind.txt")
	floor_srv=$(per_item_us "$WRK_SRV_S" "$floor_n")
	floor_wrk=$(per_item_us "$WRK_CLIENT_S" "$floor_n")
	ceiling=$(( CORES * 1000000 / (floor_srv + floor_wrk + inp_us) ))
	echo "floor (403 before any CSR work): ${floor%.*}/s, server ${floor_srv} us + wrk ${floor_wrk} us per request"
	echo "ceiling for HTTPS issuance here: $ceiling/s, $(( ceiling * 100 / inproc ))% of in-process"

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
	printf '%-10s %10s/s %10s/s %6s%% %9s %9s %10s %10sms %14s %8s %7s%%\n' "$kind" "$inproc" \
	    "${rate%.*}" "$(( ${rate%.*} * 100 / inproc ))" "$p50" "$p99" \
	    "$("$PY" -c "print(round($committed/max($commits,1),1))")" "$ms" \
	    "$srv_us/$inp_us" "$wrk_us" "$(( ceiling * 100 / inproc ))" >>"$SUMMARY"
}

for ca in ${BENCH_CAS:-p256 rsa2048}; do
	case "$ca" in
	p256) run_one p256 ecdsa-p256 ;;
	rsa2048) run_one rsa2048 rsa2048 ;;
	*) fail "BENCH_CAS: unknown CA '$ca' (p256, rsa2048)" ;;
	esac
done
echo
echo "threading: ${BENCH_THREADING:-connection}; wrk -t$WTHREADS -c$CONNS -d${SECS}s on the same $CORES cores"
cat "$SUMMARY"
