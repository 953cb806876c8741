#!/bin/bash
# An answer's header and body leave the HTTPS listener in one sendmsg
# (http/tlspush.c keeps the header's TLS record and sends it with the
# body's), and nothing is lost or stuck doing so:
#   - five enrollments more on one keep-alive connection cost the server
#     exactly five sendmsg calls more (strace; two each before tlspush.c);
#   - a HEAD answer (a header, no body sent) arrives at once;
#   - 20,000 pipelined requests from a client that reads nothing for a
#     second, through a 4 KiB receive buffer, all get their whole answers
#     in order (the server's sends come back short and EAGAIN meanwhile).
. "$(dirname "$0")/http_lib.sh"

command -v strace >/dev/null ||
    fail "strace is not installed (packaging/test.sh installs it)"
HP=$(free_port)
PP=$(free_port)
TOKEN="push-$RANDOM$RANDOM"
CONF="$HL_TMP/mtlsca.conf"
hl_config "$CONF" "$HL_TMP/data" "$HP" "$PP" "
profiles = ( { name = \"client\"; tokens = [ \"$(hl_sha256 "$TOKEN")\" ]; } );"
hl_init "$CONF"	# serve --config never creates a CA
hl_start serve --config "$CONF" serve
CA="$HL_TMP/data/ca.pem"
hl_csr push "/CN=push-client"

# sendmsg_during N: the server's sendmsg calls while curl makes N
# enrollments over one connection (each answer checked).
sendmsg_during() {
	local n=$1 sp out="$HL_TMP/st.$1" urls=() i
	strace -f -qq -e trace=sendmsg -o "$out" -p "$HL_PID" &
	sp=$!
	for _ in $(seq 100); do
		grep -q "^TracerPid:[[:space:]]*[1-9]" "/proc/$HL_PID/status" &&
		    break
		sleep 0.05
	done
	sleep 0.2	# every thread attached
	for i in $(seq "$n"); do
		urls+=("https://localhost:$HP/v1/certificates")
	done
	curl -sS --cacert "$CA" -H "Authorization: Bearer $TOKEN" \
	    -H "Content-Type: application/x-pem-file" \
	    --data-binary @"$HL_TMP/push.csr" -w '%{http_code} %{num_connects}\n' \
	    "${urls[@]}" >"$HL_TMP/answers.$n" || fail "curl, $n enrollments"
	sleep 0.2
	kill -INT "$sp"
	wait "$sp" 2>/dev/null
	[ "$(grep -c '^201 ' "$HL_TMP/answers.$n")" = "$n" ] ||
	    fail "$n enrollments: $(cat "$HL_TMP/answers.$n")"
	# one connection: the first transfer connects, the others reuse it
	[ "$(grep -c ' 0$' "$HL_TMP/answers.$n")" = "$((n - 1))" ] ||
	    fail "not one keep-alive connection: $(cat "$HL_TMP/answers.$n")"
	[ "$(grep -o '"certificate"' "$HL_TMP/answers.$n" | wc -l)" = "$n" ] ||
	    fail "answers without their certificate"
	grep -c 'sendmsg(' "$out" | tr -d ' '
}
one=$(sendmsg_during 1)
six=$(sendmsg_during 6)
[ "$((six - one))" = 5 ] ||
    fail "5 more answers took $((six - one)) sendmsg calls (1: $one, 6: $six)"
ok "an enrollment's answer is one sendmsg (1 answer: $one calls, 6: $six)"

# HEAD: libmicrohttpd sends the header alone; it must not wait for a body.
code=$(curl -sS -I --max-time 5 --cacert "$CA" -o "$HL_TMP/head.txt" \
    -w '%{http_code}' "https://localhost:$HP/healthz") ||
    fail "HEAD /healthz did not answer in 5 s"
[ "$code" = 200 ] && grep -qi '^content-length: [1-9]' "$HL_TMP/head.txt" ||
    fail "HEAD /healthz: $code $(cat "$HL_TMP/head.txt")"
ok "a HEAD answer arrives at once"

# Back pressure: answers to pipelined requests pile up in the socket.
"$PY" - "$HP" "$CA" 20000 <<'PY' || fail "pipelined requests under back pressure"
import json, socket, ssl, sys, threading, time

port, ca, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=ca)
raw = socket.socket()
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
raw.connect(("127.0.0.1", port))
s = ctx.wrap_socket(raw, server_hostname="localhost")
req = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
# The writer on its own thread: the server stops reading while its
# answers cannot leave, and the reader must not wait for the writer.
threading.Thread(target=lambda: s.sendall(req * n), daemon=True).start()
time.sleep(1.0)
buf, got, first = b"", 0, None
s.settimeout(20)
while got < n:
    while b"\r\n\r\n" not in buf:
        data = s.recv(65536)
        if not data:
            sys.exit("connection closed after %d answers" % got)
        buf += data
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    if not lines[0].startswith("HTTP/1.1 "):
        sys.exit("answer %d starts %r" % (got, lines[0]))
    length = [int(l.split(":", 1)[1]) for l in lines
              if l.lower().startswith("content-length:")]
    if len(length) != 1:
        sys.exit("answer %d has no Content-Length: %r" % (got, head))
    while len(buf) < length[0]:
        data = s.recv(65536)
        if not data:
            sys.exit("connection closed inside answer %d" % got)
        buf += data
    body, buf = buf[:length[0]], buf[length[0]:]
    json.loads(body)
    first = first or lines[0]
    if lines[0] != first:
        sys.exit("answer %d: %s after %s" % (got, lines[0], first))
    got += 1
print("ok - %d pipelined answers, whole and in order (%s)" % (got, first))
PY

kill -0 "$HL_PID" || fail "serve died"
hl_stop "$HL_PID"
