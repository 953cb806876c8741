#!/bin/bash
# Client-side costs, against what users would otherwise run, in the same
# run: one enrollment with `mtlsca enroll` (fingerprint bootstrap included),
# with packaging/mtlsca-enroll.sh, and with the bare recipe serve prints
# (openssl req + curl); one renewal with mtlsca and with the script; one
# PKCS#12 with `mtlsca export-p12` and with `openssl pkcs12 -export`, in
# both forms.
#
#   MTLSCA=build/mtlsca tests/bench/client_bench.sh
#
# Environment: MTLSCA (default build/mtlsca), CLIENT_BENCH_ROUNDS (default 7).
# Each round runs every contender once, in turn (alternated, so that a busy
# neighbour slows all of them alike). Per contender: CPU seconds (user +
# system of the whole process tree, from wait4 through /usr/bin/time) and
# wall seconds as min / median / max, and the peak RSS of the largest
# process. The server's work is not counted: it is the same for all. This
# prints figures; it fails only when a tool fails, never on a timing.
set -u

SRC=$(cd "$(dirname "$0")/../.." && pwd)
MTLSCA=$(realpath "${MTLSCA:-$SRC/build/mtlsca}")
SCRIPT=$SRC/packaging/mtlsca-enroll.sh
ROUNDS=${CLIENT_BENCH_ROUNDS:-7}
PY=/usr/bin/python3

die() { echo "client_bench: $*" >&2; exit 2; }
[ -x "$MTLSCA" ] || die "no mtlsca binary at $MTLSCA (set MTLSCA)"
[ -x /usr/bin/time ] || die "needs /usr/bin/time"

WORK=$(mktemp -d /tmp/client-bench.XXXXXX)
SERVE_PID=
cleanup() {
	[ -n "$SERVE_PID" ] && kill -TERM "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID"
	rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK" || die "cd"

port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HP=$(port)
PP=$(port)
TOKEN="bench-token-$RANDOM$RANDOM$RANDOM"
HASH=$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
cat >bench.conf <<EOF
data_dir = "$WORK/data";
http = { listen = "127.0.0.1"; https_port = $HP; http_port = $PP;
	server_names = [ "localhost", "127.0.0.1" ]; };
profiles = ( { name = "client"; tokens = [ "$HASH" ]; } );
EOF
# `serve --config` never makes a CA.
"$MTLSCA" --config bench.conf init >init.out 2>&1 || die "init: $(cat init.out)"
"$MTLSCA" --config bench.conf serve >serve.out 2>serve.err &
SERVE_PID=$!
for _ in $(seq 1 200); do
	grep -q "mtlsca: ready" serve.err 2>/dev/null && break
	sleep 0.1
done
grep -q "mtlsca: ready" serve.err || die "serve did not start: $(cat serve.err)"
U="https://localhost:$HP"
FP=$(sed -n 's/.*CA fingerprint SHA-256 \([0-9a-f]\{64\}\)).*/\1/p' serve.err)
CA=$WORK/data/ca.pem
printf '%s\n' "$TOKEN" >token
printf 'bench password\n' >pw

# The contenders. Each is a function of the round number r that does one
# operation in its own directory.
c_mtlsca_enroll() {
	"$MTLSCA" enroll --server "$U" --ca-fingerprint "$FP" --token-file token \
	    --cn "m$1" --out-dir "m$1"
}
c_script_enroll() {
	sh "$SCRIPT" enroll --server "$U" --ca-fingerprint "$FP" --token-file token \
	    --cn "s$1" --out-dir "s$1"
}
c_recipe_enroll() {
	mkdir -p "r$1" && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -keyout "r$1/key.pem" -subj "/CN=r$1" -out "r$1/csr.pem" 2>/dev/null &&
	    curl -sS --fail --cacert "$CA" -H "Authorization: Bearer $TOKEN" \
	    -H "Content-Type: application/x-pem-file" \
	    -H "Accept: application/pem-certificate-chain" \
	    --data-binary "@r$1/csr.pem" -o "r$1/cert.pem" "$U/v1/certificates"
}
c_mtlsca_renew() { "$MTLSCA" renew --server "$U" --cert "m$1/cert.pem" --key "m$1/key.pem"; }
c_script_renew() { sh "$SCRIPT" renew --server "$U" --cert "s$1/cert.pem" --key "s$1/key.pem"; }
c_mtlsca_p12() {
	"$MTLSCA" export-p12 --cert "m$1/cert.pem" --key "m$1/key.pem" --chain "m$1/ca.pem" \
	    --out "m$1.p12" --password-file pw --force
}
c_mtlsca_p12_legacy() {
	"$MTLSCA" export-p12 --cert "m$1/cert.pem" --key "m$1/key.pem" --chain "m$1/ca.pem" \
	    --out "m$1-legacy.p12" --password-file pw --legacy --force
}
c_openssl_p12() {
	openssl pkcs12 -export -inkey "m$1/key.pem" -in "m$1/cert.pem" -certfile "m$1/ca.pem" \
	    -passout file:pw -out "o$1.p12"
}
c_openssl_p12_legacy() {
	openssl pkcs12 -export -legacy -inkey "m$1/key.pem" -in "m$1/cert.pem" \
	    -certfile "m$1/ca.pem" -passout file:pw -out "o$1-legacy.p12"
}

# One timed run: appends "cpu wall rss_kb" to FILE.
timed() {	# FILE FUNCTION ROUND
	local out=$1 t0 t1
	shift
	t0=$(date +%s%N)
	# Functions run in a bash child so that time sees the whole tree.
	/usr/bin/time -f '%U %S %M' -o "$WORK/t" bash -c "$(declare -f "$1"); \
	    U='$U' FP='$FP' CA='$CA' TOKEN='$TOKEN' MTLSCA='$MTLSCA' SCRIPT='$SCRIPT'; $1 $2" \
	    >"$WORK/last.out" 2>&1 || die "$1 failed: $(cat "$WORK/last.out")"
	t1=$(date +%s%N)
	awk -v a="$t0" -v b="$t1" '{ printf "%.4f %.4f %d\n", $1 + $2, (b - a) / 1e9, $3 }' \
	    "$WORK/t" >>"$out"
}

stats() {	# FILE COLUMN -> "min median max"
	awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ a[NR] = $1 } END {
	    m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
	    printf "%.3f %.3f %.3f", a[1], m, a[NR] }'
}
median() { stats "$1" "$2" | awk '{ print $2 }'; }

groups=("enroll: c_mtlsca_enroll c_script_enroll c_recipe_enroll"
    "renew: c_mtlsca_renew c_script_renew"
    "PKCS#12 (modern): c_mtlsca_p12 c_openssl_p12"
    "PKCS#12 (legacy): c_mtlsca_p12_legacy c_openssl_p12_legacy")
for r in $(seq 1 "$ROUNDS"); do
	for g in "${groups[@]}"; do
		for c in ${g#*: }; do
			timed "$WORK/$c.dat" "$c" "$r"
		done
	done
done

echo "client_bench: $ROUNDS rounds, alternated; $(nproc) cores; $(openssl version | cut -d' ' -f1-2); curl $(curl --version | head -1 | cut -d' ' -f2)"
for g in "${groups[@]}"; do
	echo
	echo "${g%%:*}"
	printf '  %-22s %-24s %-24s %s\n' "" "CPU s (min med max)" "wall s (min med max)" "peak RSS"
	first=
	for c in ${g#*: }; do
		f=$WORK/$c.dat
		rss=$(awk '$3 > m { m = $3 } END { print m }' "$f")
		printf '  %-22s %-24s %-24s %6d KiB\n' "${c#c_}" "$(stats "$f" 1)" "$(stats "$f" 2)" "$rss"
		[ -n "$first" ] || first=$c
	done
	for c in ${g#*: }; do
		[ "$c" = "$first" ] && continue
		awk -v a="$(median "$WORK/$first.dat" 1)" -v b="$(median "$WORK/$c.dat" 1)" \
		    -v n="${first#c_}" -v o="${c#c_}" \
		    'BEGIN { if (a > 0) printf "  CPU ratio %s / %s: %.2f\n", o, n, b / a }'
	done
done
echo
echo "PKCS#12 iterations: mtlsca (GnuTLS) $(openssl pkcs12 -in m1.p12 -info -noout -passin file:pw 2>&1 | sed -n 's/^MAC: .*Iteration \([0-9]*\).*/\1/p'), openssl $(openssl pkcs12 -in o1.p12 -info -noout -passin file:pw 2>&1 | sed -n 's/^MAC: .*Iteration \([0-9]*\).*/\1/p') (each guess at a password costs that many hash rounds per bag)"
