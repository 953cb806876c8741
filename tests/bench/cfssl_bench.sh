#!/bin/bash
# Issuance CPU per certificate, mtlsca against cfssl (issue 15), side by side
# in one run. Not a timed test: it prints figures and fails only when a
# server fails.
#
# Both servers sign with the same P-256 CA key and certificate (made by
# `mtlsca init`) and get the same CSR, from wrk with the
# same threads and connections; rounds alternate between them so that the
# machine's load falls on both alike. For each round, a server's CPU
# (user + system of every thread, from /proc/PID/stat) over the round is
# divided by the certificates it answered:
#   cfssl serve (Debian's golang-cfssl): POST /api/v1/cfssl/sign, plain
#       HTTP, nothing stored;
#   mtlsca serve: POST /v1/certificates over HTTPS (TLS 1.3, keep-alive),
#       every certificate committed to LMDB (synchronous commits) with its
#       audit entry before the answer.
# Both log alike: by default no line a certificate (BENCH_LOG=quiet:
# cfssl -loglevel 2, warnings; mtlsca log.level "notice", which logs
# start, stop and refusals but no issuance); BENCH_LOG=info has each log
# every certificate at its default level (cfssl -loglevel 1: four lines a
# certificate; mtlsca "info": one).
# Printed: min / median / max over the rounds, and cfssl's median over
# mtlsca's (above 1.00: mtlsca spends less CPU per certificate).
#
#   MTLSCA=build/mtlsca tests/bench/cfssl_bench.sh
# Knobs: BENCH_ROUNDS (5), BENCH_SECONDS per round and server (5),
# BENCH_CONNECTIONS (16), BENCH_THREADS (2), BENCH_FILL (0): certificates
# put in mtlsca's store before the rounds (tests/tools/fill_store certs),
# for the figure at a large store; BENCH_COMPACT (0): 1 replaces the filled
# store with LMDB's compacted copy (fill_store compact, what `mtlsca
# backup` writes) before the rounds, dropping the free pages the bulk fill
# leaves (LMDB rewrites that list with every commit until growth has used
# it up; a store grown an enrollment at a time keeps about one commit's);
# BENCH_LOG (quiet).
HERE="$(cd "$(dirname "$0")" && pwd)"
MTLSCA_SRC="${MTLSCA_SRC:-$(cd "$HERE/../.." && pwd)}"
MTLSCA="${MTLSCA:-$MTLSCA_SRC/build/mtlsca}"
MTLSCA_BUILD="${MTLSCA_BUILD:-$(dirname "$MTLSCA")}"
export MTLSCA
. "$MTLSCA_SRC/tests/e2e/http_lib.sh"

ROUNDS="${BENCH_ROUNDS:-5}"
SECS="${BENCH_SECONDS:-5}"
CONNS="${BENCH_CONNECTIONS:-16}"
WTHREADS="${BENCH_THREADS:-2}"
FILL="${BENCH_FILL:-0}"
LOG="${BENCH_LOG:-quiet}"
case "$LOG" in
quiet) CFSSL_LOGLEVEL=2; MTLSCA_LOG=notice ;;
info) CFSSL_LOGLEVEL=1; MTLSCA_LOG=info ;;
*) fail "BENCH_LOG is quiet or info, not '$LOG'" ;;
esac
command -v wrk >/dev/null || fail "wrk is not installed"
command -v cfssl >/dev/null || fail "cfssl is not installed (golang-cfssl)"
TICKS=$(getconf CLK_TCK)
TOKEN="bench-$RANDOM$RANDOM$RANDOM"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# round PID URL BODY CTYPE TOKEN EXPECT OUT: one wrk run; prints
# "cpu_seconds answered".
round() {
	local pid=$1 t0 t1 n
	t0=$(cpu_ticks "$pid")
	BENCH_CSR="$3" BENCH_CONTENT_TYPE="$4" BENCH_TOKEN="$5" \
	    BENCH_EXPECT="$6" wrk -t"$WTHREADS" -c"$CONNS" -d"${SECS}s" \
	    -s "$HERE/enroll.lua" "$2" >"$7" 2>&1
	t1=$(cpu_ticks "$pid")
	grep -q "^status other: 0$" "$7" || fail "unexpected answers: $(cat "$7")"
	n=$(sed -n "s/^status $6: //p" "$7")
	[ "${n:-0}" -gt 0 ] || fail "no certificate in the round: $(cat "$7")"
	echo "$(( t1 - t0 )) $n"
}

# stats: "min median max" of the numbers on stdin.
stats() {
	sort -g | awk '{ a[NR] = $1 } END { printf "%d %d %d\n", a[1],
	    (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2, a[NR] }'
}

D="$HL_TMP/mtlsca"
HP=$(free_port)
PP=$(free_port)
CP=$(free_port)
conf="$HL_TMP/mtlsca.conf"
hl_config "$conf" "$D" "$HP" "$PP" "
ca = { key_type = \"ecdsa-p256\"; };
log = { level = \"$MTLSCA_LOG\"; };
profiles = ( { name = \"client\"; tokens = [ \"$(hl_sha256 "$TOKEN")\" ]; } );"
sed -i "s/^http = {/http = { max_connections = 1024; per_ip_connections = 1024; per_ip_pending = 1024;/" "$conf"
# The CA first (`serve --config` never makes one), then the fill.
hl_init "$conf"
if [ "$FILL" -gt 0 ]; then
	"$MTLSCA_BUILD/tests/fill_store" certs "$D" "$FILL" >/dev/null ||
	    fail "fill_store certs $FILL"
	if [ "${BENCH_COMPACT:-0}" = 1 ]; then
		"$MTLSCA_BUILD/tests/fill_store" compact "$D" ||
		    fail "fill_store compact"
	fi
fi
hl_start serve --config "$conf" serve
mpid=$HL_PID

# cfssl with the same key and certificate, the runbook's client profile
# (digital signature, key encipherment, server and client auth), a year.
cat >"$HL_TMP/cfssl.json" <<-CFG
{ "signing": { "default": { "expiry": "8760h",
  "usages": ["digital signature", "key encipherment", "server auth", "client auth"] } } }
CFG
cfssl serve -address 127.0.0.1 -port "$CP" -ca "$D/ca.pem" \
    -ca-key "$D/private/ca.key" -config "$HL_TMP/cfssl.json" \
    -loglevel "$CFSSL_LOGLEVEL" \
    >"$HL_TMP/cfssl.log" 2>&1 &
cpid=$!
HL_PIDS+=("$cpid")
for _ in $(seq 50); do
	curl -s -o /dev/null "http://127.0.0.1:$CP/api/v1/cfssl/info" -d '{}' && break
	sleep 0.1
done

hl_csr bench "/CN=bench-client"
CSR="$HL_TMP/bench.csr"
"$PY" -c 'import json,sys; print(json.dumps({"certificate_request": open(sys.argv[1]).read()}))' \
    "$CSR" >"$HL_TMP/sign.json"

# One certificate each, checked: same issuer, both verify with openssl.
code=$(hl_curl "$HL_TMP/one.json" --cacert "$D/ca.pem" -H "Authorization: Bearer $TOKEN" \
    -H "Content-Type: application/x-pem-file" --data-binary "@$CSR" \
    "https://localhost:$HP/v1/certificates")
[ "$code" = 201 ] || fail "mtlsca enrollment: $code $(cat "$HL_TMP/one.json")"
hl_json "$HL_TMP/one.json" certificate >"$HL_TMP/m.pem"
curl -s -d @"$HL_TMP/sign.json" "http://127.0.0.1:$CP/api/v1/cfssl/sign" >"$HL_TMP/c.json"
"$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["result"]["certificate"])' \
    "$HL_TMP/c.json" >"$HL_TMP/c.pem" || fail "cfssl sign: $(cat "$HL_TMP/c.json" "$HL_TMP/cfssl.log")"
for f in m c; do
	openssl verify -CAfile "$D/ca.pem" "$HL_TMP/$f.pem" >/dev/null ||
	    fail "$f.pem does not verify against the shared CA"
done

echo "== $ROUNDS alternated rounds of ${SECS}s each, wrk -t$WTHREADS -c$CONNS, $(nproc) cores, store filled with $FILL$([ "$FILL" -gt 0 ] && [ "${BENCH_COMPACT:-0}" = 1 ] && echo " (compacted)"), logs $LOG (mtlsca $MTLSCA_LOG, cfssl -loglevel $CFSSL_LOGLEVEL)"
: >"$HL_TMP/m.us"
: >"$HL_TMP/c.us"
for r in $(seq "$ROUNDS"); do
	read -r mt mn < <(round "$mpid" "https://127.0.0.1:$HP/v1/certificates" \
	    "$CSR" application/x-pem-file "$TOKEN" 201 "$HL_TMP/wrk-m.txt")
	read -r ct cn < <(round "$cpid" "http://127.0.0.1:$CP/api/v1/cfssl/sign" \
	    "$HL_TMP/sign.json" application/json "" 200 "$HL_TMP/wrk-c.txt")
	mu=$(( mt * 1000000 / TICKS / mn ))
	cu=$(( ct * 1000000 / TICKS / cn ))
	echo "$mu" >>"$HL_TMP/m.us"
	echo "$cu" >>"$HL_TMP/c.us"
	printf 'round %d: mtlsca %d certs, %d us/cert; cfssl %d certs, %d us/cert\n' \
	    "$r" "$mn" "$mu" "$cn" "$cu"
done
read -r mmin mmed mmax < <(stats <"$HL_TMP/m.us")
read -r cmin cmed cmax < <(stats <"$HL_TMP/c.us")
echo
printf '%-52s %22s\n' "server" "CPU us per certificate"
printf '%-52s %22s\n' "" "min / median / max"
printf '%-52s %22s\n' "cfssl serve (plain HTTP, stores nothing)" "$cmin / $cmed / $cmax"
printf '%-52s %22s\n' "mtlsca serve (HTTPS, durable LMDB commit)" "$mmin / $mmed / $mmax"
printf 'cfssl / mtlsca (median): %s\n' "$("$PY" -c "print('%.2f' % ($cmed / $mmed))")"
