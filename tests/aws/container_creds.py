#!/usr/bin/python3
"""
A stand-in for the container credentials endpoint (the ECS agent's task
role endpoint, the EKS Pod Identity agent), for tests:

  GET PATH  with  Authorization: TOKEN   -> credentials JSON
  (a wrong or missing Authorization: 401, as the EKS agent answers)

The JSON is what those agents send: AccessKeyId, SecretAccessKey, Token,
Expiration (ISO 8601, --expires seconds ahead), RoleArn. GET /_state
returns counters as JSON.

Usage: container_creds.py --token TOKEN --access-key AK --secret-key SK
           --session-token T [--path /creds] [--expires S] [--port-file F]
"""
import argparse
import datetime
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    args = None
    lock = threading.Lock()
    counts = {"served": 0, "unauthorized": 0}

    def log_message(self, fmt, *a):
        pass

    def send(self, status, body, ctype="application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        a = self.args
        if self.path == "/_state":
            with self.lock:
                return self.send(200, json.dumps(self.counts))
        if self.path != a.path:
            return self.send(404, '{"message": "not found"}')
        if self.headers.get("Authorization") != a.token:
            with self.lock:
                self.counts["unauthorized"] += 1
            return self.send(401, '{"code": "InvalidToken", '
                             '"message": "unauthorized"}')
        with self.lock:
            self.counts["served"] += 1
        exp = datetime.datetime.utcnow() + \
            datetime.timedelta(seconds=a.expires)
        self.send(200, json.dumps({
            "AccessKeyId": a.access_key,
            "SecretAccessKey": a.secret_key,
            "Token": a.session_token,
            "AccountId": "123456789012",
            "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "RoleArn": "arn:aws:iam::123456789012:role/mtlsca-task",
        }))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--token", required=True)
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-key", required=True)
    ap.add_argument("--session-token", required=True)
    ap.add_argument("--path", default="/v1/credentials")
    ap.add_argument("--expires", type=int, default=3600)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    Handler.args = args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    port = srv.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.rename(args.port_file + ".tmp", args.port_file)
    sys.stdout.write("container_creds: listening on 127.0.0.1:%d\n" % port)
    sys.stdout.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
