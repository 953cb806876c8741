#!/bin/bash
# Slow clients (http.request_timeout): a connection that trickles its TLS
# handshake, its headers or its body is cut once the deadline passes, long
# before the idle timeout, in both threading modes; a well-behaved
# keep-alive client that pauses between requests is not; the cuts are
# counted in /metrics and the service goes on serving.
. "$(dirname "$0")/http_lib.sh"

STATIC="e2e-slow-$RANDOM$RANDOM$RANDOM"

# check_mode MODE: a server with request_timeout 2 s and idle timeout 30 s.
check_mode() {
	local mode="$1" D="$HL_TMP/$1" HP PP conf pid n
	HP=$(free_port)
	PP=$(free_port)
	conf="$HL_TMP/$mode.conf"
	hl_config "$conf" "$D" "$HP" "$PP" "
profiles = ( { name = \"client\"; tokens = [ \"$(hl_sha256 "$STATIC")\" ]; } );"
	sed -i "s/^http = {/http = { request_timeout = 2; timeout = 30; threading = \"$mode\";/" "$conf"
	hl_init "$conf"
	hl_start "serve-$mode" --config "$conf" serve
	pid=$HL_PID

	"$PY" - "$HP" "$PP" "$D/ca.pem" <<'EOF' || fail "$mode: slow clients (see above)"
import socket, ssl, sys, time

hp, pp, ca = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
failed = False

def connect(port, tls):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if tls:
        s = ctx.wrap_socket(s, server_hostname="localhost")
    return s

def trickle(s, first, byte, limit=15.0):
    """Send first, then byte every 0.3 s; seconds until the server cut
    the connection, or None if it never did within limit."""
    t0 = time.monotonic()
    try:
        if first:
            s.sendall(first)
        while time.monotonic() - t0 < limit:
            if byte:
                s.sendall(byte)
            s.settimeout(0.3)
            try:
                if s.recv(4096) == b"":
                    return time.monotonic() - t0
            except (socket.timeout, ssl.SSLWantReadError):
                pass
    except (OSError, ssl.SSLError):
        return time.monotonic() - t0
    return None

def check(what, t):
    global failed
    # Cut at the 2 s deadline, well before the 30 s idle timeout (which
    # trickling would reset anyway). The server's clock starts at accept,
    # ours after the TLS handshake: 1 s of slack below, for slow runs.
    if t is None or t < 1.0 or t > 12:
        print(f"FAIL: {what}: cut after {t} s, expected about 2 s")
        failed = True
    else:
        print(f"ok - {what}: cut after {t:.1f} s")

# Headers, one byte at a time, plain HTTP and HTTPS.
check("plain HTTP, trickled headers",
      trickle(connect(pp, False), b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", b"a"))
check("HTTPS, trickled headers",
      trickle(connect(hp, True), b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", b"a"))
# A body announced whole and sent a byte at a time.
check("HTTPS, trickled body",
      trickle(connect(hp, True),
              b"POST /v1/certificates HTTP/1.1\r\nHost: localhost\r\n"
              b"Content-Type: application/x-pem-file\r\nContent-Length: 4000\r\n\r\n",
              b"-"))
# A TLS handshake never finished: TCP only, silent.
check("HTTPS port, no TLS handshake", trickle(connect(hp, False), b"", b""))

# A keep-alive client that pauses 3 s (over request_timeout, under the idle
# timeout) between two whole requests is served twice.
s = connect(hp, True)
req = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
def response(s):
    """One whole response: the headers, then Content-Length bytes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            break
        body += chunk
    return head

for i in (1, 2):
    s.sendall(req)
    s.settimeout(10)
    data = response(s)
    if not data.startswith(b"HTTP/1.1 200"):
        print(f"FAIL: keep-alive request {i}: {data[:60]!r}")
        failed = True
    else:
        print(f"ok - keep-alive request {i} answered")
    if i == 1:
        time.sleep(3)
sys.exit(1 if failed else 0)
EOF
	n=$(curl -sS "http://127.0.0.1:$PP/metrics" | sed -n 's/^mtlsca_http_request_timeouts_total //p')
	[ "$n" = 4 ] || fail "$mode: mtlsca_http_request_timeouts_total is '$n', expected 4"
	grep -q "closed a connection with no complete request after 2 s" "$HL_TMP/serve-$mode.err" ||
	    fail "$mode: no log line for the cut connections"
	hl_csr "ok-$mode" "/CN=after-slow-$mode"
	[ "$(hl_curl "$HL_TMP/ok.json" --cacert "$D/ca.pem" -H "Authorization: Bearer $STATIC" \
	    -H "Content-Type: application/x-pem-file" --data-binary "@$HL_TMP/ok-$mode.csr" \
	    "https://localhost:$HP/v1/certificates")" = 201 ] || fail "$mode: enroll after the slow clients"
	hl_stop "$pid"
	ok "$mode: 4 slow connections cut at the deadline; keep-alive pause kept; service fine"
}

check_mode connection
check_mode pool
echo "PASS"
