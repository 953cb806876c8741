#!/bin/bash
# The README's run command: `mtlsca serve` with no configuration, in an
# empty directory. It must create the CA, print the tokens and the exact
# commands to enroll and revoke, and those commands must work as printed
# (run literally, in order, with the ports it printed).
#
# The embedded default listens on 8443/8080; when another process holds one
# of them, the test moves both with --https-port/--http-port (the printed
# commands then carry those ports).
. "$(dirname "$0")/http_lib.sh"

WORK="$HL_TMP/cwd"
mkdir -p "$WORK"
cd "$WORK" || fail "cd"

port_free() {
	"$PY" -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}

ARGS=(serve)
if ! port_free 8443 || ! port_free 8080; then
	ARGS+=(--https-port "$(free_port)" --http-port "$(free_port)")
	echo "# 8443 or 8080 in use here: serve ${ARGS[*]}"
fi
hl_start serve "${ARGS[@]}"
[ -f mtlsca-data/ca.pem ] || fail "no CA in ./mtlsca-data"
[ -f mtlsca-data/private/ca.key ] || fail "no CA key"
[ "$(stat -c %a mtlsca-data/private/ca.key)" = 600 ] || fail "CA key mode"
ok "serve on the embedded default created ./mtlsca-data"

# Not a terminal: the tokens go to a 0600 file whose path is logged, never
# to stdout (under systemd, the journal).
FIRST=mtlsca-data/first-start-tokens.txt
[ -f "$FIRST" ] || fail "no $FIRST: $(cat "$HL_TMP/serve.err")"
[ "$(stat -c %a "$FIRST")" = 600 ] || fail "$FIRST is not mode 0600"
grep -q "$FIRST" "$HL_TMP/serve.err" || fail "the log does not name $FIRST"
for tok in $(sed -n 's/^  \(admin\|enrollment\) token: *\([^ ]*\).*/\2/p' "$FIRST"); do
	[ ${#tok} = 43 ] || fail "odd token '$tok' in $FIRST"
	! grep -q -- "$tok" "$HL_TMP/serve.out" "$HL_TMP/serve.err" ||
	    fail "a first-start token reached stdout or stderr"
done
ok "first-start tokens in $FIRST (0600), not in the log"

# The printed commands, in order, as printed.
grep -E '^  (openssl|curl) ' "$FIRST" | sed 's/^  //' >"$HL_TMP/cmds.sh"
[ "$(grep -c '^curl .*/v1/certificates$' "$HL_TMP/cmds.sh")" = 1 ] ||
    fail "no enroll command printed: $(cat "$FIRST")"
grep -q '/revoke$' "$HL_TMP/cmds.sh" || fail "no revoke command printed"
n=0
while IFS= read -r cmd; do
	n=$((n + 1))
	echo "\$ ${cmd:0:40}..."
	bash -c "$cmd" >"$HL_TMP/cmd$n.out" 2>&1 ||
	    fail "printed command $n failed: $cmd: $(cat "$HL_TMP/cmd$n.out")"
done <"$HL_TMP/cmds.sh"
ok "all $n printed commands ran"

openssl verify -CAfile mtlsca-data/ca.pem client.pem >/dev/null ||
    fail "client.pem does not verify"
SERIAL=$(openssl x509 -in client.pem -noout -serial | cut -d= -f2)
grep -q '"status":"revoked"' "$HL_TMP/cmd3.out" ||
    fail "revoke answered: $(cat "$HL_TMP/cmd3.out")"
openssl crl -in crl.pem -CAfile mtlsca-data/ca.pem -noout 2>&1 |
    grep -q "verify OK" || fail "the downloaded CRL does not verify"
ok "client.pem verifies; revoke answered revoked; crl.pem verifies"

HTTP_PORT=$(grep -oE 'http://localhost:[0-9]+/crl.pem' "$HL_TMP/cmds.sh" |
    grep -oE '[0-9]+' | head -1)
ms=$(hl_wait_crl "http://127.0.0.1:$HTTP_PORT/crl" "$SERIAL" 4) ||
    fail "the revoked serial is not in /crl"
ok "the revoked serial $SERIAL is in /crl (${ms} ms after the commands)"
hl_stop "$HL_PID"

# On a terminal, the first start prints the tokens and writes no file.
# (The terminal's transcript is not a log: the tokens are meant for it.)
mkdir -p "$HL_TMP/tty" && cd "$HL_TMP/tty" || fail "cd"
TP=$(free_port)
script -qfec "exec '$MTLSCA' serve --https-port $TP --http-port 0" \
    "$HL_TMP/tty.typescript" </dev/null >/dev/null 2>&1 &
SCRIPT_PID=$!
for _ in $(seq 1 200); do
	grep -q "mtlsca: ready" "$HL_TMP/tty.typescript" 2>/dev/null && break
	sleep 0.1
done
TTY_SERVE=$(pgrep -f -- "serve --https-port $TP") || fail "serve on a tty did not start"
kill -TERM $TTY_SERVE
wait "$SCRIPT_PID" 2>/dev/null || true
grep -q "admin token:" "$HL_TMP/tty.typescript" || fail "no tokens on the terminal: $(cat "$HL_TMP/tty.typescript")"
[ ! -e mtlsca-data/first-start-tokens.txt ] || fail "a token file beside a terminal"
ok "on a terminal the tokens are printed, and no file is written"
echo "PASS"
