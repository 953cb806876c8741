#!/bin/bash
# Verifier benchmark (not a timed test: it prints figures, and fails only
# when something answers wrongly). On these cores, with the load generator
# beside the server:
#  1. GET /v1/verify under wrk (keep-alive, BENCH_CONNECTIONS clients),
#     ALB's passthrough header cycling through BENCH_CLIENTS enrolled
#     certificates (the cache holds them all after the first pass):
#     verifications/s, p50, p99, and the server's CPU per verification
#     (utime + stime of every thread, from /proc, over the run);
#  2. what users would otherwise run to check a client certificate against
#     a CRL: nginx with ssl_verify_client on and ssl_crl, one full mTLS
#     handshake per verification (openssl s_time -new, one client per
#     core): handshakes/s and nginx's CPU per handshake. Not the same work
#     — the handshake includes the key exchange and nginx's own signature —
#     but it is what a CRL-checked verification costs at a proxy that
#     terminates TLS itself, and the only place nginx checks a CRL;
#  3. revoke -> refused, BENCH_REVOKES times, with wrk's load running:
#     from the moment `mtlsca revoke` (the CLI, another process) returns to
#     the first 403 on one keep-alive connection, and how many requests in
#     between were still answered 200 (0 is "the next request"). Beside it
#     the same for the CRL path at its fastest: serve's schedule with
#     crl.debounce 0, a watcher that reloads nginx (SIGHUP) the moment
#     public/crl.pem changes, and a new mTLS connection per try.
# Steps 1 and 2 alternate for BENCH_ROUNDS rounds; min/median/max printed.
#
#   MTLSCA=build/mtlsca tests/bench/verify_bench.sh
# Knobs: BENCH_SECONDS (10), BENCH_ROUNDS (3), BENCH_CONNECTIONS (32),
# BENCH_THREADS (2, wrk's), BENCH_CLIENTS (64), BENCH_REVOKES (5).
HERE="$(cd "$(dirname "$0")" && pwd)"
MTLSCA_SRC="${MTLSCA_SRC:-$(cd "$HERE/../.." && pwd)}"
MTLSCA="${MTLSCA:-$MTLSCA_SRC/build/mtlsca}"
. "$MTLSCA_SRC/tests/e2e/http_lib.sh"

SECS="${BENCH_SECONDS:-10}"
ROUNDS="${BENCH_ROUNDS:-3}"
CONNS="${BENCH_CONNECTIONS:-32}"
WTHREADS="${BENCH_THREADS:-2}"
CLIENTS="${BENCH_CLIENTS:-64}"
REVOKES="${BENCH_REVOKES:-5}"
CORES=$(nproc)
TICKS=$(getconf CLK_TCK)
command -v wrk >/dev/null || fail "wrk is not installed"
command -v nginx >/dev/null || fail "nginx is not installed"

D="$HL_TMP/data"
HP=$(free_port); PP=$(free_port); VP=$(free_port); NS=$(free_port)
TOKEN="bench-$RANDOM$RANDOM$RANDOM"
CONF="$HL_TMP/bench.conf"
cat >"$CONF" <<EOF
data_dir = "$D";
crl = { validity = "1d"; refresh = "1h"; debounce = "0s"; };
http = { listen = "127.0.0.1"; https_port = $HP; http_port = $PP;
	server_names = [ "localhost", "127.0.0.1" ];
	max_connections = 1024; per_ip_connections = 1024;
	per_ip_pending = 1024; };
profiles = ( { name = "client"; tokens = [ "$(hl_sha256 "$TOKEN")" ]; } );
verify = { port = $VP; source = "alb-passthrough"; };
EOF
# `serve --config` never makes a CA.
hl_init "$CONF"
hl_start serve --config "$CONF" serve
SERVE=$HL_PID
CA="$D/ca.pem"

# ---- clients: BENCH_CLIENTS good ones, BENCH_REVOKES to revoke ----
hl_csr bench "/CN=bench-client"
enroll() {	# OUT.pem
	local code
	code=$(hl_curl "$1" --cacert "$CA" -H "Authorization: Bearer $TOKEN" \
	    -H "Content-Type: application/x-pem-file" \
	    -H "Accept: application/pem-certificate-chain" \
	    --data-binary "@$HL_TMP/bench.csr" "https://localhost:$HP/v1/certificates")
	[ "$code" = 201 ] || fail "enroll: $code"
}
mkdir -p "$HL_TMP/c"
for i in $(seq 1 "$CLIENTS"); do enroll "$HL_TMP/c/good-$i.pem"; done
for i in $(seq 1 "$REVOKES"); do
	enroll "$HL_TMP/c/victim-$i.pem"
	enroll "$HL_TMP/c/crl-victim-$i.pem"
done
# ALB's encoding, one header per line.
"$PY" - "$HL_TMP/c" "$CLIENTS" >"$HL_TMP/headers.txt" <<'EOF'
import sys, urllib.parse
for i in range(1, int(sys.argv[2]) + 1):
    pem = open("%s/good-%d.pem" % (sys.argv[1], i)).read()
    print(urllib.parse.quote(pem, safe="-_.~+=/"))
EOF
echo "== $CLIENTS clients enrolled (P-256 keys, RSA-2048 CA); $CORES cores, wrk -t$WTHREADS -c$CONNS -d${SECS}s"
: >"$HL_TMP/load"

cpu_ticks() {	# PID...: utime + stime, threads that ended included
	local t=0 p
	for p in "$@"; do
		t=$(( t + $(awk '{ print $14 + $15 }' "/proc/$p/stat") ))
	done
	echo "$t"
}
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
stats() {	# FILE: "min median max"
	echo "$(sort -g "$1" | head -1) $(median <"$1") $(sort -g "$1" | tail -1)"
}

# ---- nginx: the CRL path ----
N="$HL_TMP/nginx"
mkdir -p "$N/logs" "$N/tmp"
cp "$D/private/server.pem" "$N/server.pem"
cp "$D/private/server.key" "$N/server.key"
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root;"
cat >"$N/nginx.conf" <<EOF
$USER_LINE
worker_processes $CORES;
daemon off;
pid $N/nginx.pid;
error_log $N/logs/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $N/tmp/body;
	proxy_temp_path $N/tmp/proxy;
	fastcgi_temp_path $N/tmp/fastcgi;
	uwsgi_temp_path $N/tmp/uwsgi;
	scgi_temp_path $N/tmp/scgi;
	server {
		listen 127.0.0.1:$NS ssl;
		ssl_certificate $N/server.pem;
		ssl_certificate_key $N/server.key;
		ssl_session_cache off;
		ssl_session_tickets off;
		ssl_verify_client on;
		ssl_client_certificate $CA;
		ssl_crl $D/public/crl.pem;
		location / { return 200 "ok\n"; }
	}
}
EOF
nginx -p "$N" -c "$N/nginx.conf" 2>"$HL_TMP/nginx.err" &
NGINX=$!
HL_PIDS+=("$NGINX")
for _ in $(seq 1 50); do
	curl -s -o /dev/null --cacert "$CA" --cert "$HL_TMP/c/good-1.pem" \
	    --key "$HL_TMP/bench.key" "https://localhost:$NS/" && break
	sleep 0.1
done

OURS_RATE="$HL_TMP/ours.rate"; OURS_P50="$HL_TMP/ours.p50"; OURS_P99="$HL_TMP/ours.p99"
OURS_CPU="$HL_TMP/ours.cpu"; NGX_RATE="$HL_TMP/ngx.rate"; NGX_CPU="$HL_TMP/ngx.cpu"
: >"$OURS_RATE"; : >"$OURS_P50"; : >"$OURS_P99"; : >"$OURS_CPU"; : >"$NGX_RATE"; : >"$NGX_CPU"

run_ours() {
	local t0 t1 n rate
	t0=$(cpu_ticks "$SERVE")
	BENCH_HEADERS="$HL_TMP/headers.txt" BENCH_EXPECT=200 wrk -t"$WTHREADS" \
	    -c"$CONNS" -d"${SECS}s" --latency -s "$HERE/verify.lua" \
	    "http://127.0.0.1:$VP/v1/verify" >"$HL_TMP/wrk.txt" 2>&1
	t1=$(cpu_ticks "$SERVE")
	grep -q "^status other: 0$" "$HL_TMP/wrk.txt" ||
	    fail "some verifications were not 200: $(cat "$HL_TMP/wrk.txt")"
	n=$(sed -n 's/^status 200: //p' "$HL_TMP/wrk.txt")
	rate=$(sed -n 's/^Requests\/sec: *\([0-9.]*\)/\1/p' "$HL_TMP/wrk.txt")
	echo "${rate%.*}" >>"$OURS_RATE"
	sed -n 's/^p50_ms //p' "$HL_TMP/wrk.txt" >>"$OURS_P50"
	sed -n 's/^p99_ms //p' "$HL_TMP/wrk.txt" >>"$OURS_P99"
	"$PY" -c "print(round(($t1 - $t0) / $TICKS * 1e6 / max($n, 1), 1))" >>"$OURS_CPU"
	cut -d' ' -f1 /proc/loadavg >>"$HL_TMP/load"
	echo "  verifier: ${rate%.*}/s p50 $(tail -1 "$OURS_P50") ms p99 $(tail -1 "$OURS_P99") ms, $(tail -1 "$OURS_CPU") us CPU per verification (load average $(tail -1 "$HL_TMP/load"))"
}

run_nginx() {
	local pids t0 t1 n=0 c i st=()
	pids=$(pgrep -P "$NGINX" | tr '\n' ' ')
	# shellcheck disable=SC2086
	t0=$(cpu_ticks $pids)
	for i in $(seq 1 "$CORES"); do
		openssl s_time -connect "127.0.0.1:$NS" -new -time "$SECS" \
		    -cert "$HL_TMP/c/good-$i.pem" -key "$HL_TMP/bench.key" \
		    -CAfile "$CA" >"$HL_TMP/s_time.$i" 2>&1 &
		st+=($!)
	done
	wait "${st[@]}"
	# shellcheck disable=SC2086
	t1=$(cpu_ticks $pids)
	for i in $(seq 1 "$CORES"); do
		c=$(sed -n 's/^\([0-9]*\) connections in .* real seconds.*/\1/p' "$HL_TMP/s_time.$i" | tail -1)
		[ -n "$c" ] || fail "openssl s_time: $(cat "$HL_TMP/s_time.$i")"
		n=$(( n + c ))
	done
	[ "$n" -gt 0 ] || fail "no handshake through nginx"
	echo $(( n / SECS )) >>"$NGX_RATE"
	"$PY" -c "print(round(($t1 - $t0) / $TICKS * 1e6 / $n, 1))" >>"$NGX_CPU"
	echo "  nginx ssl_verify_client + ssl_crl: $(( n / SECS )) handshakes/s, $(tail -1 "$NGX_CPU") us nginx CPU per handshake"
}

for r in $(seq 1 "$ROUNDS"); do
	echo "== round $r"
	run_ours
	run_nginx
done
curl -sS "http://127.0.0.1:$VP/metrics" >"$HL_TMP/metrics.txt"
grep -E "^mtlsca_verify_cache_(hit_ratio|entries)" "$HL_TMP/metrics.txt" | sed 's/^/  /'
# The verification itself (headers decoded, verified, answered), from the
# server's own histogram: the bucket that holds its 99th percentile.
HANDLER_P99=$(awk -F'[{}" ]+' '/^mtlsca_verify_duration_seconds_bucket/ { le[n] = $3; c[n++] = $NF }
    /^mtlsca_verify_duration_seconds_count/ { total = $2 }
    END { for (i = 0; i < n; i++) if (c[i] >= 0.99 * total) { print le[i] * 1000; exit } }' "$HL_TMP/metrics.txt")

# ---- revoke -> refused ----
# ours: with wrk's load on the good clients in the background
BENCH_HEADERS="$HL_TMP/headers.txt" BENCH_EXPECT=200 wrk -t"$WTHREADS" \
    -c"$CONNS" -d"$(( REVOKES * 3 + 10 ))s" -s "$HERE/verify.lua" \
    "http://127.0.0.1:$VP/v1/verify" >"$HL_TMP/wrk-bg.txt" 2>&1 &
WRK_BG=$!
sleep 1
"$PY" - "$MTLSCA" "$CONF" "$VP" "$HL_TMP/c" "$REVOKES" >"$HL_TMP/revoke.txt" <<'EOF' || fail "revoke -> refused: $(cat "$HL_TMP/revoke.txt")"
import http.client, subprocess, sys, time, urllib.parse
mtlsca, conf, port, cdir, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
conn = http.client.HTTPConnection("127.0.0.1", port)
def ask(h):
    conn.request("GET", "/v1/verify", headers={"X-Amzn-Mtls-Clientcert": h})
    r = conn.getresponse()
    r.read()
    return r.status
for i in range(1, n + 1):
    path = "%s/victim-%d.pem" % (cdir, i)
    h = urllib.parse.quote(open(path).read(), safe="-_.~+=/")
    assert ask(h) == 200, "victim %d not good before" % i
    serial = subprocess.run(["openssl", "x509", "-in", path, "-noout",
        "-serial"], capture_output=True, text=True).stdout.split("=")[1].strip()
    subprocess.run([mtlsca, "--config", conf, "revoke", serial], check=True,
        capture_output=True)
    t0 = time.monotonic()
    late = 0
    while True:
        st = ask(h)
        if st == 403:
            break
        assert st == 200, st
        late += 1
    print("%.2f %d" % ((time.monotonic() - t0) * 1000, late))
EOF
kill "$WRK_BG" 2>/dev/null; wait "$WRK_BG" 2>/dev/null
awk '{ print $1 }' "$HL_TMP/revoke.txt" >"$HL_TMP/revoke.ms"
LATE=$(awk '{ s += $2 } END { print s + 0 }' "$HL_TMP/revoke.txt")

# the CRL path: serve's schedule (debounce 0), nginx reloaded at once
(
	last=$(stat -c %i.%Y "$D/public/crl.pem" 2>/dev/null)
	while kill -0 "$NGINX" 2>/dev/null; do
		now=$(stat -c %i.%Y "$D/public/crl.pem" 2>/dev/null)
		if [ "$now" != "$last" ]; then
			kill -HUP "$NGINX"
			last=$now
		fi
		sleep 0.01
	done
) &
WATCH=$!
HL_PIDS+=("$WATCH")
"$PY" - "$MTLSCA" "$CONF" "$NS" "$HL_TMP/c" "$REVOKES" "$CA" "$HL_TMP/bench.key" >"$HL_TMP/crl.txt" <<'EOF' || fail "CRL path: $(cat "$HL_TMP/crl.txt")"
import socket, ssl, subprocess, sys, time
mtlsca, conf, port, cdir, n, ca, key = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), sys.argv[6], sys.argv[7]
def ask(cert):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    try:
        with socket.create_connection(("127.0.0.1", port)) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                t.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
                data = t.recv(100)
                return int(data.split()[1])
    except (ssl.SSLError, ConnectionError, IndexError, ValueError):
        return 0
for i in range(1, n + 1):
    path = "%s/crl-victim-%d.pem" % (cdir, i)
    assert ask(path) == 200, "CRL victim %d not good before" % i
    serial = subprocess.run(["openssl", "x509", "-in", path, "-noout",
        "-serial"], capture_output=True, text=True).stdout.split("=")[1].strip()
    subprocess.run([mtlsca, "--config", conf, "revoke", serial], check=True,
        capture_output=True)
    t0 = time.monotonic()
    while ask(path) == 200:
        if time.monotonic() - t0 > 30:
            raise SystemExit("not refused after 30 s")
    print("%.1f" % ((time.monotonic() - t0) * 1000))
EOF
kill "$WATCH" 2>/dev/null

echo
echo "verify_bench: $CORES cores shared by wrk (-t$WTHREADS -c$CONNS) and the server; $ROUNDS rounds of ${SECS}s; min / median / max"
printf '  %-44s %s\n' "verifications/s (GET /v1/verify)" "$(stats "$OURS_RATE")"
printf '  %-44s %s\n' "p50 ms" "$(stats "$OURS_P50")"
printf '  %-44s %s\n' "p99 ms" "$(stats "$OURS_P99")"
printf '  %-44s %s\n' "server CPU us per verification" "$(stats "$OURS_CPU")"
printf '  %-44s %s\n' "p99 of the handler alone (histogram), ms" "<= $HANDLER_P99"
printf '  %-44s %s\n' "load average during the rounds" "$(stats "$HL_TMP/load")"
printf '  %-44s %s\n' "nginx ssl_verify_client+ssl_crl handshakes/s" "$(stats "$NGX_RATE")"
printf '  %-44s %s\n' "nginx CPU us per mTLS handshake" "$(stats "$NGX_CPU")"
printf '  %-44s %s\n' "revoke -> refused, verifier (ms)" "$(stats "$HL_TMP/revoke.ms")"
printf '  %-44s %s\n' "  requests still 200 after revoke returned" "$LATE (of $REVOKES revocations)"
printf '  %-44s %s\n' "revoke -> refused, CRL + nginx reload (ms)" "$(stats "$HL_TMP/crl.txt")"
"$PY" -c "
import statistics as s
o = [float(x) for x in open('$OURS_CPU')]; n = [float(x) for x in open('$NGX_CPU')]
a = [float(x) for x in open('$HL_TMP/revoke.ms')]; b = [float(x) for x in open('$HL_TMP/crl.txt')]
print('  ratios (medians): nginx CPU per handshake / verifier CPU per verification = %.1f;' % (s.median(n) / s.median(o)))
print('                    CRL path revoke->refused / verifier revoke->refused = %.0f' % (s.median(b) / max(s.median(a), 0.01)))"
kill -QUIT "$NGINX"
wait "$NGINX" 2>/dev/null
hl_stop "$SERVE"
