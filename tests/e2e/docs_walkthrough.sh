#!/bin/bash
# The quickstarts, run as written: README's "Five minutes with mtlsca" and
# docs/README.ja.md's "1. クイックスタート". For each, every ```sh block of
# that section, in order, in one bash with -euo pipefail, from a source tree
# whose build/ is the binary under test. Only the line that sets the ports
# is replaced (by free ones; tests never use fixed ports). The blocks start
# the service, enroll a client, put a real nginx in front with our CA and
# CRL, revoke the client, and check that nginx refuses it and logs why.
# Expected output: a comment line right after a command (not after another
# comment), in ASCII, not starting with a capital letter; each piece of it
# between "..." must appear in what the walkthrough printed.
. "$(dirname "$0")/lib.sh"
tmpdir

NGINX=/usr/sbin/nginx
[ -x "$NGINX" ] || fail "$NGINX is missing: run ./packaging/test.sh"
PORTS_LINE='HTTPS=8443 HTTP=8080 LB=9443'

free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Whatever a walkthrough started is stopped on any failure: it runs in its
# own process group; nginx leaves the group (it daemonizes), so it is
# stopped through its pid file.
WALK_PID=
stop_all() {
	local pf
	for pf in "$T"/*/tmp/*/lb/nginx.pid; do
		[ -s "$pf" ] && kill -QUIT "$(cat "$pf")" 2>/dev/null
	done
	[ -n "$WALK_PID" ] && kill -TERM -- "-$WALK_PID" 2>/dev/null
	return 0
}
trap 'rc=$?; stop_all; (exit $rc); _cleanup' EXIT

# walkthrough NAME DOC HEADING: run the sh blocks of DOC's section HEADING
# (a level-2 heading, up to the next one) in $T/NAME.
walkthrough() {
	local name=$1 doc=$2 heading=$3 w="$T/$1" n rc out exp rest piece d serial
	mkdir -p "$w/src" "$w/tmp"
	"$PY" - "$doc" "$heading" "$w/walk.sh" "$w/expected" <<'PYEOF' ||
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
start = text.index("\n## " + sys.argv[2] + "\n")
end = text.index("\n## ", start + 1)
blocks = re.findall(r"^```sh\n(.*?)^```$", text[start:end], re.S | re.M)
if len(blocks) < 4:
    sys.exit("only %d sh blocks in the section" % len(blocks))
with open(sys.argv[3], "w") as f:
    for b in blocks:
        f.write(b + "\n")
with open(sys.argv[4], "w") as f:
    for b in blocks:
        prev = ""
        for line in b.splitlines():
            if (line.startswith("# ") and line.isascii() and
                    not line[2:3].isupper() and prev and
                    not prev.startswith("#")):
                f.write(line[2:] + "\n")
            prev = line
PYEOF
	    fail "$doc: no section '## $heading' with its sh blocks"
	n=$(grep -c "^$PORTS_LINE" "$w/walk.sh" || true)
	assert_eq 1 "$n" "$doc: lines setting the ports ('$PORTS_LINE')"
	sed -i "s/^$PORTS_LINE/HTTPS=$(free_port) HTTP=$(free_port) LB=$(free_port)/" \
	    "$w/walk.sh"
	[ -s "$w/expected" ] || fail "$doc: no expected output in the blocks"
	note "$name: $(grep -c '' "$w/walk.sh") lines of $doc; $(grep '^HTTPS=' "$w/walk.sh")"

	# A source tree whose build/ holds the binary under test.
	ln -s "$(dirname "$MTLSCA")" "$w/src/build"
	(cd "$w/src" && TMPDIR="$w/tmp" exec setsid timeout 300 \
	    bash -euo pipefail "$w/walk.sh" >"$w/out" 2>&1) &
	WALK_PID=$!
	rc=0
	wait "$WALK_PID" || rc=$?
	WALK_PID=
	[ "$rc" = 0 ] || fail "$name: the walkthrough stopped with status $rc: ---
$(tail -30 "$w/out")"
	note "$name: the walkthrough ran to its end"

	out=$(cat "$w/out")
	while IFS= read -r exp; do
		rest=$exp
		while [ -n "$rest" ]; do
			piece=${rest%%...*}
			if [ "$piece" = "$rest" ]; then rest=; else rest=${rest#*...}; fi
			piece=$(echo "$piece" | sed 's/^ *//; s/ *$//')
			[ -z "$piece" ] || assert_contains "$out" "$piece" \
			    "$name: the output (expected: $exp)"
		done
	done <"$w/expected"
	note "$name: every expected line is there: $(tr '\n' '|' <"$w/expected")"

	# What the blocks leave behind, checked independently.
	d=$(echo "$w"/tmp/tmp.*)
	[ -d "$d" ] || fail "$name: no mktemp -d directory under TMPDIR"
	assert_contains "$out" "hello CN=client1" "$name: nginx before the revocation"
	assert_contains "$out" "400 The SSL certificate error" "$name: nginx after it"
	grep -q "\[info\].*(23:certificate revoked)" "$d/lb/error.log" ||
	    fail "$name: nginx's error.log lacks the reason: $(tail -3 "$d/lb/error.log")"
	serial=$(openssl x509 -in "$d/client.pem" -noout -serial | cut -d= -f2)
	openssl crl -in "$d/mtlsca-data/public/crl.pem" -noout -text |
	    grep -q "Serial Number: $serial" || fail "$name: $serial is not in crl.pem"
	openssl verify -CAfile "$d/mtlsca-data/ca.pem" "$d/client2/cert.pem" \
	    >/dev/null || fail "$name: mtlsca enroll's client2/cert.pem does not verify"
	[ ! -e "$d/mtlsca-data/first-start-tokens.txt" ] ||
	    fail "$name: the tokens file is still there"
	grep -q "mtlsca: stopped" "$d/serve.log" || fail "$name: serve did not stop cleanly"
	note "$name: client1 refused by nginx after its revocation (reason at info); client2 enrolled"
}

walkthrough en "$MTLSCA_SRC/README.md" "Five minutes with mtlsca"
walkthrough ja "$MTLSCA_SRC/docs/README.ja.md" "1. クイックスタート"
