# Helpers for the service's end-to-end tests (http_*.sh, nginx_*.sh).
# Source it; running it alone does nothing.
#
# Environment (from CTest): MTLSCA (the binary), MTLSCA_SRC, MTLSCA_BUILD,
# MTLSCA_TEST_DATA.

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	echo "http_lib.sh: a helper library for the http e2e tests"
	exit 0
fi

set -u
: "${MTLSCA:?MTLSCA must point at the mtlsca binary}"
MTLSCA_TEST_DATA="${MTLSCA_TEST_DATA:-${MTLSCA_SRC:-.}/tests/data}"
PY=/usr/bin/python3	# Debian's interpreter (the pyenv one lacks modules)

HL_PIDS=()
HL_TMP="$(mktemp -d /tmp/mtlsca-e2e.XXXXXX)"
. "$(dirname "${BASH_SOURCE[0]}")/logs_lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/nginx_lib.sh"
E2E_SECRETS_FILE="$HL_TMP/.secrets"

hl_cleanup() {
	local pid
	for pid in "${HL_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${HL_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	e2e_logs_keep "$HL_TMP"
	if [ "${HL_KEEP:-0}" = 1 ]; then
		echo "kept $HL_TMP"
	else
		rm -rf "$HL_TMP"
	fi
}
trap hl_cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	for f in "$HL_TMP"/*.err; do
		[ -f "$f" ] && { echo "--- $f (tail)"; tail -n 30 "$f"; } >&2
	done
	exit 1
}

ok() {
	echo "ok - $*"
}

# A free TCP port on 127.0.0.1 (the kernel picks; we release it at once).
free_port() {
	"$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# hl_start NAME ARGS...: run "$MTLSCA" ARGS in the background with its
# stdout/stderr in $HL_TMP/NAME.out/.err, wait for its "ready (data in"
# line (in any log.format). Sets HL_PID.
hl_start() {
	local name="$1"; shift
	"$MTLSCA" "$@" >"$HL_TMP/$name.out" 2>"$HL_TMP/$name.err" &
	HL_PID=$!
	HL_PIDS+=("$HL_PID")
	for _ in $(seq 1 200); do
		if grep -q "ready (data in" "$HL_TMP/$name.err" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$HL_PID" 2>/dev/null; then
			fail "$name exited before it was ready"
		fi
		sleep 0.1
	done
	fail "$name was not ready in 20 s"
}

# hl_stop PID: SIGTERM and wait; the exit status must be 0.
hl_stop() {
	local pid="$1" rc
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	[ "$rc" = 0 ] || fail "server exited with $rc after SIGTERM"
}

# hl_config FILE DATA_DIR HTTPS_PORT HTTP_PORT [EXTRA libconfig text]
hl_config() {
	cat >"$1" <<EOF
data_dir = "$2";
crl = { validity = "1d"; refresh = "1h"; debounce = "1s"; };
http = { listen = "127.0.0.1"; https_port = $3; http_port = $4;
	server_names = [ "localhost", "127.0.0.1" ]; };
${5:-}
EOF
}

# hl_init CONF: create the CA the configuration names (`serve --config`
# never creates one: a mistyped data_dir must not mint a new CA).
hl_init() {
	"$MTLSCA" --config "$1" init >"$HL_TMP/init.out" 2>&1 ||
	    fail "mtlsca init: $(cat "$HL_TMP/init.out")"
}

# hl_listeners PORT: how many TCP sockets listen on PORT (from /proc, as
# minimal Debian has no ss).
hl_listeners() {
	awk -v p="$(printf '%04X' "$1")" '$4 == "0A" && $2 ~ (":" p "$") { n++ }
	    END { print n + 0 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

hl_sha256() {	# the SHA-256 of a token a test chose (a secret, remembered)
	e2e_secret "$1"
	printf '%s' "$1" | sha256sum | cut -d' ' -f1
}

# hl_csr NAME SUBJ [rsa BITS | ec]: NAME.key and NAME.csr made by openssl.
hl_csr() {
	local name="$1" subj="$2" kind="${3:-ec}" bits="${4:-2048}"
	if [ "$kind" = rsa ]; then
		openssl req -new -newkey "rsa:$bits" -nodes \
		    -keyout "$HL_TMP/$name.key" -subj "$subj" \
		    -out "$HL_TMP/$name.csr" 2>/dev/null
	else
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		    -nodes -keyout "$HL_TMP/$name.key" -subj "$subj" \
		    -out "$HL_TMP/$name.csr" 2>/dev/null
	fi || fail "openssl req for $name"
}

# hl_curl OUTFILE ARGS...: curl that records the body in OUTFILE and prints
# the status code.
hl_curl() {
	local out="$1"; shift
	curl -sS -o "$out" -w '%{http_code}' "$@"
}

# hl_json FILE EXPR: a field of a JSON file ("error", "serial"...).
hl_json() {
	"$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    d = d[int(k)] if isinstance(d, list) else d[k]
print(d if not isinstance(d, bool) else str(d).lower())' "$1" "$2"
}

# hl_expect_error FILE STATUS GOT CODE: status and JSON error code.
hl_expect_error() {
	local file="$1" want="$2" got="$3" code="$4"
	[ "$got" = "$want" ] || fail "expected $want, got $got: $(cat "$file")"
	[ "$(hl_json "$file" error)" = "$code" ] ||
	    fail "expected error $code: $(cat "$file")"
	[ -n "$(hl_json "$file" message)" ] || fail "no message: $(cat "$file")"
}

# hl_crl_has URL SERIAL: does the DER CRL at URL list SERIAL (hex)?
hl_crl_has() {
	curl -sSf -o "$HL_TMP/crl.check.der" "$1" || return 1
	openssl crl -inform DER -in "$HL_TMP/crl.check.der" -noout -text \
	    2>/dev/null | tr -d ' :' | grep -qi "SerialNumber$2\$"
}

# hl_wait_crl URL SERIAL SECONDS: wait until the CRL lists SERIAL; prints
# the milliseconds it took.
hl_wait_crl() {
	local t0 t1
	t0=$(date +%s%N)
	while ! hl_crl_has "$1" "$2"; do
		t1=$(date +%s%N)
		[ $(( (t1 - t0) / 1000000 )) -lt $(( $3 * 1000 )) ] || return 1
		sleep 0.05
	done
	t1=$(date +%s%N)
	echo $(( (t1 - t0) / 1000000 ))
}

# hl_nginx DIR PORT CA_PEM CRL_PEM SERVER_PEM SERVER_KEY: nginx as an mTLS
# terminator (what ALB does in verify mode) on 127.0.0.1:PORT, trusting
# CA_PEM and checking CRL_PEM, answering "hello <subject> serial <serial>".
# Its files live in DIR (copies of the four given). Sets HL_NGINX (the
# pid, also stopped on exit) once it answers TLS.
hl_nginx() {
	local n="$1" port="$2"
	command -v nginx >/dev/null ||
	    fail "nginx is missing: run packaging/setup.sh"
	mkdir -p "$n/logs" "$n/tmp"
	cp "$3" "$n/ca.pem"
	cp "$4" "$n/crl.pem"
	cp "$5" "$n/server.pem"
	cp "$6" "$n/server.key"
	hl_nginx_conf "$n" "$port" "$n/ca.pem" "$n/crl.pem"
	nginx -t -p "$n" -c "$n/nginx.conf" >"$HL_TMP/nginx-t.err" 2>&1 ||
	    fail "nginx -t: $(cat "$HL_TMP/nginx-t.err")"
	nginx -p "$n" -c "$n/nginx.conf" 2>"$HL_TMP/nginx.err" &
	HL_NGINX=$!
	HL_PIDS+=("$HL_NGINX")
	for _ in $(seq 1 50); do
		[ -s "$n/nginx.pid" ] &&
		    curl -s -o /dev/null -k "https://127.0.0.1:$port/" && return 0
		sleep 0.1
	done
	fail "nginx did not answer on 127.0.0.1:$port"
}
