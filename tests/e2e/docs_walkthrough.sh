#!/bin/bash
# README's "Five minutes with mtlsca", run as written: every ```sh block of
# that section, in order, in one bash with -euo pipefail, from a source tree
# whose build/ is the binary under test. Only the line that sets the ports
# is replaced (by free ones; tests never use fixed ports). The blocks start
# the service, enroll a client, put a real nginx in front with our CA and
# CRL, revoke the client and check that nginx refuses it and logs why.
# A comment line right after a command (not after another comment) that does
# not start with a capital letter is expected output: each piece between "..." must appear in what
# the walkthrough printed.
. "$(dirname "$0")/lib.sh"
tmpdir

NGINX=/usr/sbin/nginx
[ -x "$NGINX" ] || fail "$NGINX is missing: run ./packaging/test.sh"
README="$MTLSCA_SRC/README.md"
PORTS_LINE='HTTPS=8443 HTTP=8080 LB=9443'

free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The section's sh blocks, and its expected-output comments.
"$PY" - "$README" "$T/walk.sh" "$T/expected" <<'PYEOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
start = text.index("\n## Five minutes with mtlsca\n")
end = text.index("\n## ", start + 1)
blocks = re.findall(r"^```sh\n(.*?)^```$", text[start:end], re.S | re.M)
if len(blocks) < 4:
    sys.exit("only %d sh blocks in the section" % len(blocks))
with open(sys.argv[2], "w") as f:
    for b in blocks:
        f.write(b + "\n")
with open(sys.argv[3], "w") as f:
    for b in blocks:
        prev = ""
        for line in b.splitlines():
            if (line.startswith("# ") and not line[2:3].isupper() and
                    prev and not prev.startswith("#")):
                f.write(line[2:] + "\n")
            prev = line
PYEOF
n=$(grep -c "^$PORTS_LINE" "$T/walk.sh" || true)
assert_eq 1 "$n" "lines setting the ports ('$PORTS_LINE') in the walkthrough"
HTTPS=$(free_port) HTTP=$(free_port) LB=$(free_port)
sed -i "s/^$PORTS_LINE/HTTPS=$HTTPS HTTP=$HTTP LB=$LB/" "$T/walk.sh"
[ -s "$T/expected" ] || fail "no expected output in the walkthrough's blocks"
note "$(grep -c '' "$T/walk.sh") lines of README; ports $HTTPS $HTTP $LB"

# A source tree whose build/ holds the binary under test (build-asan too).
mkdir -p "$T/src" "$T/tmp"
ln -s "$(dirname "$MTLSCA")" "$T/src/build"

# Its own process group, so that whatever it started is stopped on any
# failure; nginx leaves the group (it daemonizes): stopped by its pid file.
WALK_PID=
stop_all() {
	local pf
	for pf in "$T"/tmp/*/lb/nginx.pid; do
		[ -s "$pf" ] && kill -QUIT "$(cat "$pf")" 2>/dev/null
	done
	[ -n "$WALK_PID" ] && kill -TERM -- "-$WALK_PID" 2>/dev/null
	return 0
}
trap 'rc=$?; stop_all; (exit $rc); _cleanup' EXIT

cd "$T/src"
TMPDIR="$T/tmp" setsid timeout 300 bash -euo pipefail "$T/walk.sh" \
    >"$T/out" 2>&1 &
WALK_PID=$!
rc=0
wait "$WALK_PID" || rc=$?
WALK_PID=
[ "$rc" = 0 ] || fail "the walkthrough stopped with status $rc: ---
$(tail -30 "$T/out")"
note "the walkthrough ran to its end"

OUT=$(cat "$T/out")
while IFS= read -r exp; do
	rest=$exp
	while [ -n "$rest" ]; do
		piece=${rest%%...*}
		if [ "$piece" = "$rest" ]; then rest=; else rest=${rest#*...}; fi
		piece=$(echo "$piece" | sed 's/^ *//; s/ *$//')
		[ -z "$piece" ] || assert_contains "$OUT" "$piece" \
		    "the walkthrough's output (expected: $exp)"
	done
done <"$T/expected"
note "its output has every expected line: $(tr '\n' '|' <"$T/expected")"

# What the blocks leave behind, checked independently.
D=$(echo "$T"/tmp/tmp.*)
[ -d "$D" ] || fail "the walkthrough made no mktemp -d directory under TMPDIR"
assert_contains "$OUT" "hello CN=client1" "nginx's answer before the revocation"
assert_contains "$OUT" "400 The SSL certificate error" "nginx's answer after it"
grep -q "\[info\].*(23:certificate revoked)" "$D/lb/error.log" ||
    fail "nginx's error.log lacks the reason: $(tail -3 "$D/lb/error.log")"
SERIAL=$(openssl x509 -in "$D/client.pem" -noout -serial | cut -d= -f2)
openssl crl -in "$D/mtlsca-data/public/crl.pem" -noout -text |
    grep -q "Serial Number: $SERIAL" || fail "$SERIAL is not in crl.pem"
openssl verify -CAfile "$D/mtlsca-data/ca.pem" "$D/client2/cert.pem" >/dev/null ||
    fail "mtlsca enroll's client2/cert.pem does not verify"
[ ! -e "$D/mtlsca-data/first-start-tokens.txt" ] ||
    fail "the tokens file is still there"
grep -q "mtlsca: stopped" "$D/serve.log" || fail "serve did not stop cleanly"
note "client1 refused by nginx after its revocation (certificate revoked at info); client2 enrolled"
