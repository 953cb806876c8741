#!/usr/bin/python3
"""
A stand-in for AWS STS AssumeRoleWithWebIdentity (Query API, 2011-06-15),
for tests of the web identity credentials source.

AssumeRoleWithWebIdentity is not signed in AWS (the web identity token is
the proof), so there is no signature to check. The request's shape is
checked instead, against python3-botocore's own model of the STS API
(independent of mtlsca): POST, a form body, Action and Version as the model
says, every required member present, no member the operation does not
have, each within the model's type, length and pattern constraints
(botocore's ParamValidator plus the max lengths and patterns it leaves
out), no Authorization header (nothing to sign with: the caller has no
credentials yet). Then RoleArn and WebIdentityToken must be the expected
ones (the token is read from --token-file at each request, as a platform
rotates it): InvalidIdentityToken / AccessDenied otherwise, with AWS's XML
error shape.

The answer carries --access-key / --secret-key and a session token
--session-token (with "-N" appended when --rotate is given), expiring
--expires seconds later. GET /_state returns counters as JSON.

Usage: sts.py --role-arn ARN --token-file FILE --access-key AK
              --secret-key SK --session-token T [--expires S] [--rotate]
              [--port-file FILE]
"""
import argparse
import datetime
import json
import re
import threading
import urllib.parse
import uuid

import botocore.session
from botocore.validate import ParamValidator

import standin

NS = "https://sts.amazonaws.com/doc/2011-06-15/"
MODEL = botocore.session.get_session().get_service_model("sts")
OP = MODEL.operation_model("AssumeRoleWithWebIdentity")


class Refused(Exception):
    def __init__(self, status, code, message):
        Exception.__init__(self, message)
        self.status, self.code, self.message = status, code, message


def check_shape(params):
    """The request against botocore's model of the operation."""
    if params.pop("Action", None) != OP.name:
        raise Refused(400, "InvalidAction", "Action must be %s" % OP.name)
    if params.pop("Version", None) != MODEL.api_version:
        raise Refused(400, "InvalidAction",
                      "Version must be %s" % MODEL.api_version)
    shape = OP.input_shape
    typed = {}
    for name, value in params.items():
        if name not in shape.members:
            raise Refused(400, "InvalidParameter",
                          "%s is not a member of %s" % (name, shape.name))
        m = shape.members[name]
        if m.type_name == "integer":
            try:
                typed[name] = int(value)
            except ValueError:
                raise Refused(400, "ValidationError",
                              "%s must be an integer" % name)
        elif m.type_name == "string":
            typed[name] = value
        else:
            raise Refused(400, "ValidationError",
                          "%s: this stand-in takes strings and integers "
                          "only" % name)
    report = ParamValidator().validate(typed, shape)
    if report.has_errors():
        raise Refused(400, "ValidationError", report.generate_report())
    for name, value in typed.items():
        meta = shape.members[name].metadata
        if isinstance(value, str):
            if "max" in meta and len(value) > meta["max"]:
                raise Refused(400, "ValidationError",
                              "%s is longer than %d" % (name, meta["max"]))
            pat = meta.get("pattern")
            # The model's \\u escapes beyond the BMP are not Python
            # regexes: check the ASCII-only patterns (RoleSessionName).
            if pat and "\\u" not in pat and \
                    not re.fullmatch(pat, value, re.ASCII):
                raise Refused(400, "ValidationError",
                              "%s does not match %s" % (name, pat))
        elif "min" in meta and not meta["min"] <= value <= meta["max"]:
            raise Refused(400, "ValidationError",
                          "%s out of range" % name)
    return typed


class Handler(standin.Handler):
    def send(self, status, body, ctype="text/xml"):
        standin.Handler.send(self, status, body, ctype)

    args = None
    lock = threading.Lock()
    counts = {"calls": 0, "issued": 0, "refused": 0,
              "last_session_name": "", "last_refusal": ""}

    def do_GET(self):
        if self.path != "/_state":
            return self.send(404, "not found", "text/plain")
        with self.lock:
            self.send(200, json.dumps(self.counts), "application/json")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0") or "0")
        body = self.rfile.read(n) if n else b""
        a = self.args
        with self.lock:
            self.counts["calls"] += 1
        try:
            if urllib.parse.urlsplit(self.path).path != "/":
                raise Refused(404, "NotFound", "POST / only")
            if not self.headers.get("Content-Type", "").startswith(
                    "application/x-www-form-urlencoded"):
                raise Refused(400, "InvalidParameter", "form body expected")
            if self.headers.get("Authorization") is not None:
                raise Refused(400, "InvalidParameter",
                              "AssumeRoleWithWebIdentity is not signed")
            pairs = urllib.parse.parse_qsl(body.decode(),
                                           keep_blank_values=True,
                                           strict_parsing=True)
            params = dict(pairs)
            if len(params) != len(pairs):
                raise Refused(400, "InvalidParameter", "a member twice")
            p = check_shape(params)
            if p["RoleArn"] != a.role_arn:
                raise Refused(403, "AccessDenied",
                              "Not authorized to perform "
                              "sts:AssumeRoleWithWebIdentity")
            with open(a.token_file) as f:
                want = f.read().strip()
            if p["WebIdentityToken"] != want:
                raise Refused(400, "InvalidIdentityToken",
                              "Couldn't retrieve verification key from "
                              "your identity provider")
        except Refused as e:
            with self.lock:
                self.counts["refused"] += 1
                self.counts["last_refusal"] = "%s: %s" % (e.code, e.message)
            return self.send(e.status,
                             '<ErrorResponse xmlns="%s"><Error><Type>Sender'
                             '</Type><Code>%s</Code><Message>%s</Message>'
                             '</Error><RequestId>%s</RequestId>'
                             '</ErrorResponse>' % (NS, e.code, e.message,
                                                   uuid.uuid4()))
        with self.lock:
            self.counts["issued"] += 1
            self.counts["last_session_name"] = p["RoleSessionName"]
            k = self.counts["issued"]
        exp = datetime.datetime.utcnow() + \
            datetime.timedelta(seconds=a.expires)
        token = a.session_token + ("-%d" % k if a.rotate else "")
        self.send(200, (
            '<AssumeRoleWithWebIdentityResponse xmlns="%s">'
            '<AssumeRoleWithWebIdentityResult>'
            '<SubjectFromWebIdentityToken>system:serviceaccount:mtlsca'
            '</SubjectFromWebIdentityToken>'
            '<Audience>sts.amazonaws.com</Audience>'
            '<AssumedRoleUser><Arn>%s/%s</Arn><AssumedRoleId>AROA:%s'
            '</AssumedRoleId></AssumedRoleUser>'
            '<Credentials><SessionToken>%s</SessionToken>'
            '<SecretAccessKey>%s</SecretAccessKey>'
            '<Expiration>%s</Expiration>'
            '<AccessKeyId>%s</AccessKeyId></Credentials>'
            '<Provider>oidc.test</Provider>'
            '</AssumeRoleWithWebIdentityResult>'
            '<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata>'
            '</AssumeRoleWithWebIdentityResponse>') % (
                NS, a.role_arn, p["RoleSessionName"], p["RoleSessionName"],
                token, a.secret_key, exp.strftime("%Y-%m-%dT%H:%M:%SZ"),
                a.access_key, uuid.uuid4()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--role-arn", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-key", required=True)
    ap.add_argument("--session-token", required=True)
    ap.add_argument("--expires", type=int, default=3600)
    ap.add_argument("--rotate", action="store_true")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    Handler.args = args = ap.parse_args()
    standin.serve(Handler, "sts", args.port, args.port_file)


if __name__ == "__main__":
    main()
