#!/usr/bin/python3
"""systemd's side of sd_notify(3), for tests/e2e/serve_notify.sh.

    notify_listener.py SOCKET LOG HTTPS_PORT CA_PEM SERVE_STDERR

Binds a unix datagram socket at SOCKET (what NOTIFY_SOCKET names) and writes
one JSON line per datagram to LOG: {"t": monotonic seconds, "state": text}.
When a datagram holds READY=1, before anything else it records in "said"
whether serve's stderr (the file SERVE_STDERR) already has its line
"mtlsca: ready", printed once the listeners are up, then connects to the
HTTPS port at once and asks for /healthz (TLS checked against CA_PEM, name
"localhost"), as a unit ordered after mtlsca.service would, and records
what came back in "https": an HTTP status line, or the error. Runs until
SIGTERM.
"""
import json
import os
import signal
import socket
import ssl
import sys
import time


def https_probe(port, ca):
    try:
        # Connect first: a port that is not listening yet refuses now.
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        ctx = ssl.create_default_context(cafile=ca)
        with raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                            b"Connection: close\r\n\r\n")
                data = b""
                while b"\r\n" not in data:
                    chunk = tls.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                return data.split(b"\r\n", 1)[0].decode("ascii", "replace")
    except (OSError, ssl.SSLError) as e:
        return "error: %s" % e


def main():
    path, log, port, ca, serve_err = (sys.argv[1], sys.argv[2],
                                      int(sys.argv[3]), sys.argv[4],
                                      sys.argv[5])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path + ".tmp")
    os.rename(path + ".tmp", path)  # the test waits for SOCKET to appear
    with open(log, "a", encoding="utf-8") as out:
        while True:
            msg = sock.recv(4096).decode("utf-8", "replace")
            rec = {"t": time.monotonic(), "state": msg}
            if "READY=1" in msg.split("\n"):
                with open(serve_err, "rb") as f:
                    rec["said"] = b"mtlsca: ready" in f.read()
                rec["https"] = https_probe(port, ca)
            out.write(json.dumps(rec) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
