"""
What the HTTP stand-ins of tests/aws/ share: a base handler (HTTP/1.1,
quiet, send()) and serve(), which binds a free 127.0.0.1 port (or the one
asked for), writes it to the port file atomically once it listens, and
serves until killed.
"""
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        if os.environ.get("STANDIN_VERBOSE"):
            sys.stderr.write(type(self).__name__ + ": " + (fmt % a) + "\n")

    def send(self, status, body, ctype="text/plain"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve(handler, name, port=0, port_file=None):
    srv = ThreadingHTTPServer(("127.0.0.1", port), handler)
    port = srv.server_address[1]
    if port_file:
        with open(port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.rename(port_file + ".tmp", port_file)
    sys.stdout.write("%s: listening on 127.0.0.1:%d\n" % (name, port))
    sys.stdout.flush()
    srv.serve_forever()
