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
import threading

import standin


class Handler(standin.Handler):
    def send(self, status, body, ctype="application/json"):
        standin.Handler.send(self, status, body, ctype)

    args = None
    lock = threading.Lock()
    counts = {"served": 0, "unauthorized": 0}

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
    standin.serve(Handler, "container_creds", args.port, args.port_file)


if __name__ == "__main__":
    main()
