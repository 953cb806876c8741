#!/usr/bin/python3
"""
A stand-in for the EC2 instance metadata service, IMDSv2 only, for tests:

  PUT /latest/api/token  (X-aws-ec2-metadata-token-ttl-seconds: 1..21600)
      -> a session token
  GET /latest/meta-data/iam/security-credentials/          -> the role name
  GET /latest/meta-data/iam/security-credentials/ROLE      -> credentials JSON
  (both need X-aws-ec2-metadata-token; without it, 401 as IMDSv2 does)

The credentials expire --expires seconds after they are handed out; each
fetch gets a new token suffix "-N" when --rotate is given, so a test can see
a refresh. GET /_state returns counters as JSON.

Usage: imds.py --access-key AK --secret-key SK --token TOKEN [--role R]
               [--expires SECONDS] [--rotate] [--port-file FILE]
"""
import argparse
import datetime
import json
import secrets
import threading

import standin


class Handler(standin.Handler):
    args = None
    lock = threading.Lock()
    tokens = set()
    counts = {"token_put": 0, "role_get": 0, "creds_get": 0,
              "unauthorized": 0}

    def do_PUT(self):
        n = int(self.headers.get("Content-Length", "0") or "0")
        if n:
            self.rfile.read(n)
        if self.path != "/latest/api/token":
            return self.send(404, "not found")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        if ttl is None or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self.send(400, "bad ttl")
        tok = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens.add(tok)
            self.counts["token_put"] += 1
        self.send(200, tok)

    def do_GET(self):
        a = self.args
        if self.path == "/_state":
            with self.lock:
                return self.send(200, json.dumps(self.counts),
                                 "application/json")
        base = "/latest/meta-data/iam/security-credentials/"
        if not self.path.startswith(base):
            return self.send(404, "not found")
        with self.lock:
            if self.headers.get("X-aws-ec2-metadata-token") not in \
                    self.tokens:
                self.counts["unauthorized"] += 1
                return self.send(401, "")
        rest = self.path[len(base):]
        if rest == "":
            with self.lock:
                self.counts["role_get"] += 1
            return self.send(200, a.role)
        if rest != a.role:
            return self.send(404, "not found")
        with self.lock:
            self.counts["creds_get"] += 1
            n = self.counts["creds_get"]
        exp = datetime.datetime.utcnow() + \
            datetime.timedelta(seconds=a.expires)
        token = a.token + ("-%d" % n if a.rotate else "")
        self.send(200, json.dumps({
            "Code": "Success",
            "LastUpdated": datetime.datetime.utcnow().strftime(
                "%Y-%m-%dT%H:%M:%SZ"),
            "Type": "AWS-HMAC",
            "AccessKeyId": a.access_key,
            "SecretAccessKey": a.secret_key,
            "Token": token,
            "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }), "application/json")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-key", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--role", default="mtlsca-role")
    ap.add_argument("--expires", type=int, default=3600)
    ap.add_argument("--rotate", action="store_true")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    Handler.args = args = ap.parse_args()
    standin.serve(Handler, "imds", args.port, args.port_file)


if __name__ == "__main__":
    main()
