#!/usr/bin/python3
"""
A stand-in for the ELBv2 trust-store API (AWS Query protocol, 2015-12-01),
for tests. It implements the documented subset mtlsca uses:
AddTrustStoreRevocations, RemoveTrustStoreRevocations,
DescribeTrustStoreRevocations, ModifyTrustStore and
GetTrustStoreCaCertificatesBundle, with AWS's XML shapes and error codes
(botocore's service-2.json).

- Every request's SigV4 signature is recomputed with python3-botocore's
  SigV4Auth (an implementation independent of mtlsca's) over the received
  method, path, query, signed headers and body; a mismatch is a 403
  SignatureDoesNotMatch, an unknown key 403 InvalidClientTokenId.
- Add fetches the named object from the S3 endpoint (the Swift launcher) and
  refuses with InvalidRevocationContent anything that is not exactly one PEM
  CRL; RevocationContentNotFound when the object is missing.
- Quotas: 500,000 revoked entries and 30 revocation lists per trust store
  (both can be lowered for tests); over either,
  TooManyTrustStoreRevocationEntries.
- The CA bundle: --bundle FILE is the trust store's bundle at creation
  (none: empty). ModifyTrustStore fetches the new one from S3 and refuses
  (InvalidCaCertificatesBundle) what ALB refuses: anything but PEM
  certificates one after another (no blank line, no text), more than 25 of
  them, one over 16 KB. GetTrustStoreCaCertificatesBundle answers a
  Location, a presigned-style URL on this server that serves the bundle as
  it was at that call.
- A request log: every API call with its parameters, in order
  (GET /_state "requests"; "calls" has the action names).

Test hooks (not AWS): GET /_state returns the state as JSON;
POST /_fault?action=NAME&status=500&count=N makes the next N calls of NAME
fail with that status (5xx: InternalFailure); with &lost=1 the call is
carried out first and only its answer is the failure (an answer lost on the
way back: the caller cannot tell it from a call that never ran); &skip=K
lets the next K calls through before the N failures begin;
POST /_drop[?id=N] removes lists as another admin would.
POST /_check[?at=UNIXTIME] with a PEM client certificate (its chain may
follow) answers {"ok": bool, "reason": str} the way an ALB in mTLS verify
mode decides from this trust store: a CA of the bundle whose subject is
the issuer and whose key verifies the signature, inside the validity (at
the time given, else now), and no CRL of the trust store that this CA
signed lists the serial (a CA with no CRL there is not checked: ALB's
rule). Nothing of mtlsca is asked: only the bundle and the CRLs ALB holds.

Usage: elbv2.py --s3-endpoint URL --trust-store ARN
                --cred AK,SK[,TOKEN[|TOKEN...]]...
                [--max-entries N] [--max-lists N] [--port-file FILE]
"""
import argparse
import datetime
import hashlib
import json
import os
import re
import sys
import threading
import urllib.parse
import uuid

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from cryptography import x509
from cryptography.hazmat.primitives import hashes

import standin

NS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
PEM_CRL = re.compile(
    rb"\A-----BEGIN X509 CRL-----\r?\n[A-Za-z0-9+/=\r\n]+"
    rb"-----END X509 CRL-----\r?\n?\Z")
PEM_CERT = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+"
    rb"-----END CERTIFICATE-----\r?\n?")


class ApiError(Exception):
    def __init__(self, code, message, status=400, kind="Sender"):
        Exception.__init__(self, message)
        self.code, self.message, self.status, self.kind = \
            code, message, status, kind


class State(object):
    def __init__(self, args):
        self.lock = threading.Lock()
        self.args = args
        self.creds = {}
        for c in args.cred:
            # "AK,SK" or "AK,SK,TOKEN[|TOKEN...]" (tempauth keys hold a
            # ':'; one key may come with several session tokens).
            parts = c.split(",")
            self.creds[parts[0]] = (parts[1], parts[2].split("|")
                                    if len(parts) > 2 else None)
        bundle = b""
        if args.bundle:
            with open(args.bundle, "rb") as f:
                bundle = f.read()
        self.stores = {args.trust_store: {"revocations": {},
                                          "bundle": bundle,
                                          "bundle_sha256": None,
                                          "ca_certs": len(
                                              PEM_CERT.findall(bundle)),
                                          "modify_count": 0,
                                          "modify_keys": []}}
        self.locations = {}
        self.contents = {}      # RevocationId -> the CRL ALB copied
        self.requests = []
        self.next_id = 1
        self.faults = {}
        self.calls = []
        self.conns = set()

    def dump(self):
        with self.lock:
            out = {"calls": self.calls, "trust_stores": {},
                   "connections": len(self.conns),
                   "requests": self.requests}
            for arn, ts in self.stores.items():
                out["trust_stores"][arn] = {
                    "revocations": [
                        dict(id=i, **r) for i, r in
                        sorted(ts["revocations"].items())],
                    "bundle_sha256": ts["bundle_sha256"],
                    "ca_certs": ts["ca_certs"],
                    "modify_count": ts["modify_count"],
                    "modify_keys": ts["modify_keys"],
                    "bundle_fingerprints": fingerprints(ts["bundle"]),
                }
            return out


def fingerprints(bundle):
    """SHA-256 of each certificate's DER, as openssl -fingerprint."""
    out = []
    for pem in PEM_CERT.findall(bundle):
        c = x509.load_pem_x509_certificate(pem)
        out.append(c.fingerprint(hashes.SHA256()).hex())
    return out


def s3_client(args):
    s = botocore.session.get_session()
    return s.create_client(
        "s3", region_name="us-east-1", endpoint_url=args.s3_endpoint,
        aws_access_key_id=args.s3_access_key,
        aws_secret_access_key=args.s3_secret_key,
        config=Config(signature_version="s3v4",
                      s3={"addressing_style": "path"},
                      retries={"max_attempts": 1}))


def fetch(args, bucket, key, version, not_found_code):
    c = s3_client(args)
    kw = {"Bucket": bucket, "Key": key}
    if version:
        kw["VersionId"] = version
    try:
        return c.get_object(**kw)["Body"].read()
    except Exception as e:  # NoSuchKey, NoSuchBucket, connection...
        raise ApiError(not_found_code,
                       "S3 object s3://%s/%s could not be read: %s"
                       % (bucket, key, e))


def xml_escape(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;"))


def members(tag, items):
    out = "<%s>" % tag
    for it in items:
        out += "<member>" + "".join(
            "<%s>%s</%s>" % (k, xml_escape(v), k) for k, v in it) + \
            "</member>"
    return out + "</%s>" % tag


def list_param(params, prefix):
    """AWS Query lists: Prefix.member.1, Prefix.member.2, ..."""
    out = []
    i = 1
    while "%s.member.%d" % (prefix, i) in params or \
            any(k.startswith("%s.member.%d." % (prefix, i)) for k in params):
        out.append(i)
        i += 1
    return out


class Handler(standin.Handler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, fmt, *a):
        if os.environ.get("ELBV2_VERBOSE"):
            sys.stderr.write("elbv2: " + (fmt % a) + "\n")

    def send(self, status, body, ctype="text/xml"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def send_error_xml(self, e):
        body = ('<ErrorResponse xmlns="%s"><Error><Type>%s</Type>'
                '<Code>%s</Code><Message>%s</Message></Error>'
                '<RequestId>%s</RequestId></ErrorResponse>'
                % (NS, e.kind, e.code, xml_escape(e.message), uuid.uuid4()))
        self.send(e.status, body)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        if self.path == "/_state":
            self.send(200, json.dumps(self.state.dump()), "application/json")
        elif u.path.startswith("/_bundle/") or \
                u.path.startswith("/_revocation/"):
            # The presigned URL: it must come back whole, query included.
            with self.state.lock:
                got = self.state.locations.get(self.path)
            if got is None:
                self.send(403, "<Error><Code>AccessDenied</Code><Message>"
                          "Request has expired or the signature does not "
                          "match</Message></Error>", "application/xml")
                return
            data = got
            self.send_response(200)
            self.send_header("Content-Type", "application/x-pem-file")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self.send(404, "not found", "text/plain")

    def read_body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n else b""

    def check_signature(self, body):
        """Recompute SigV4 with botocore over what was received."""
        authz = self.headers.get("Authorization", "")
        m = re.match(r"AWS4-HMAC-SHA256 Credential=([^/]+(?:/[^/]+)*?)/"
                     r"(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                     r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$",
                     authz)
        if not m:
            raise ApiError("IncompleteSignature",
                           "Authorization header is missing or malformed",
                           403)
        ak, date, region, service, signed, sig = m.groups()
        if service != "elasticloadbalancing":
            raise ApiError("SignatureDoesNotMatch",
                           "Credential should be scoped to correct service: "
                           "'elasticloadbalancing'.", 403)
        if region != self.state.args.region:
            raise ApiError("SignatureDoesNotMatch",
                           "Credential should be scoped to a valid region",
                           403)
        if ak not in self.state.creds:
            raise ApiError("InvalidClientTokenId",
                           "The security token included in the request is "
                           "invalid.", 403)
        secret, tokens = self.state.creds[ak]
        token = self.headers.get("X-Amz-Security-Token")
        if tokens is not None and token not in tokens:
            raise ApiError("InvalidClientTokenId",
                           "The security token included in the request is "
                           "invalid.", 403)
        amz_date = self.headers.get("X-Amz-Date", "")
        try:
            t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
        except ValueError:
            raise ApiError("IncompleteSignature", "bad X-Amz-Date", 403)
        skew = abs((datetime.datetime.utcnow() - t).total_seconds())
        if skew > 900:
            raise ApiError("SignatureDoesNotMatch",
                           "Signature expired: more than 15 minutes of "
                           "clock skew", 403)
        names = signed.split(";")
        if "host" not in names or "x-amz-date" not in names:
            raise ApiError("SignatureDoesNotMatch",
                           "host and x-amz-date must be signed", 403)
        headers = {}
        for n in names:
            v = self.headers.get_all(n)
            if v is None:
                raise ApiError("SignatureDoesNotMatch",
                               "signed header %s is absent" % n, 403)
            headers[n] = ",".join(v)
        url = "http://%s%s" % (headers["host"], self.path)
        req = AWSRequest(method=self.command, url=url, data=body,
                         headers=headers)
        req.context["timestamp"] = amz_date
        auth = SigV4Auth(Credentials(ak, secret, token),
                         "elasticloadbalancing", region)
        creq = auth.canonical_request(req)
        sts = auth.string_to_sign(req, creq)
        want = auth.signature(sts, req)
        if want != sig:
            raise ApiError("SignatureDoesNotMatch",
                           "The request signature we calculated does not "
                           "match the signature you provided.", 403)

    def do_POST(self):
        body = self.read_body()
        u = urllib.parse.urlsplit(self.path)
        if u.path == "/":
            with self.state.lock:
                # One TCP connection per client address and port: how
                # many the callers opened (keep-alive reuse).
                self.state.conns.add(self.client_address)
        if u.path == "/_drop":
            # Someone else removes lists behind mtlsca's back.
            q = dict(urllib.parse.parse_qsl(u.query))
            with self.state.lock:
                for ts in self.state.stores.values():
                    for rid in list(ts["revocations"]):
                        if "id" not in q or int(q["id"]) == rid:
                            del ts["revocations"][rid]
            self.send(200, "ok", "text/plain")
            return
        if u.path == "/_check":
            q = dict(urllib.parse.parse_qsl(u.query))
            ok, why = self.check_client(body, q.get("at"))
            self.send(200, json.dumps({"ok": ok, "reason": why}),
                      "application/json")
            return
        if u.path == "/_fault":
            q = dict(urllib.parse.parse_qsl(u.query))
            with self.state.lock:
                self.state.faults[q["action"]] = (int(q.get("status", 500)),
                                                  int(q.get("count", 1)),
                                                  q.get("code"),
                                                  q.get("lost") == "1",
                                                  int(q.get("skip", 0)))
            self.send(200, "ok", "text/plain")
            return
        try:
            self.check_signature(body)
            if not self.headers.get("Content-Type", "").startswith(
                    "application/x-www-form-urlencoded"):
                raise ApiError("InvalidAction", "form body expected")
            params = dict(urllib.parse.parse_qsl(body.decode(),
                                                 keep_blank_values=True))
            if params.get("Version") != "2015-12-01":
                raise ApiError("InvalidAction", "Version must be 2015-12-01")
            action = params.get("Action", "")
            fault = None
            with self.state.lock:
                self.state.calls.append(action)
                self.state.requests.append(
                    {k: v for k, v in params.items() if k != "Version"})
                f = self.state.faults.get(action)
                if f and f[4] > 0:
                    self.state.faults[action] = f[:4] + (f[4] - 1,)
                elif f and f[1] > 0:
                    self.state.faults[action] = (f[0], f[1] - 1) + f[2:]
                    fault = f
            if fault and not fault[3]:
                self.raise_fault(fault)
            fn = getattr(self, "op_" + action, None)
            if fn is None:
                raise ApiError("InvalidAction",
                               "Could not find operation %s" % action)
            result = fn(params)
            if fault:
                self.raise_fault(fault)     # done, but the answer is lost
            self.send(200, '<%sResponse xmlns="%s"><%sResult>%s</%sResult>'
                      '<ResponseMetadata><RequestId>%s</RequestId>'
                      '</ResponseMetadata></%sResponse>'
                      % (action, NS, action, result, action, uuid.uuid4(),
                         action))
        except ApiError as e:
            self.send_error_xml(e)

    def check_client(self, pem, at):
        from cryptography.hazmat.primitives.asymmetric import ec, padding
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError as e:
            return False, "not a certificate: %s" % e
        when = datetime.datetime.utcfromtimestamp(
            int(at) if at else int(datetime.datetime.utcnow().timestamp()))
        with self.state.lock:
            ts = next(iter(self.state.stores.values()))
            bundle = ts["bundle"]
            crls = [self.state.contents[rid]
                    for rid in ts["revocations"]
                    if rid in self.state.contents]

        def signed_by(obj, ca):
            key = ca.public_key()
            try:
                if isinstance(key, ec.EllipticCurvePublicKey):
                    key.verify(obj.signature, obj.tbs_certificate_bytes
                               if hasattr(obj, "tbs_certificate_bytes")
                               else obj.tbs_certlist_bytes,
                               ec.ECDSA(obj.signature_hash_algorithm))
                else:
                    key.verify(obj.signature, obj.tbs_certificate_bytes
                               if hasattr(obj, "tbs_certificate_bytes")
                               else obj.tbs_certlist_bytes,
                               padding.PKCS1v15(),
                               obj.signature_hash_algorithm)
                return True
            except Exception:
                return False

        issuer = None
        for block in PEM_CERT.findall(bundle):
            ca = x509.load_pem_x509_certificate(block)
            if ca.subject == cert.issuer and signed_by(cert, ca):
                issuer = ca
                break
        if issuer is None:
            return False, "no CA of the trust store issued it"
        if when < cert.not_valid_before or when > cert.not_valid_after:
            return False, "outside its validity"
        for data in crls:
            crl = x509.load_pem_x509_crl(data)
            if crl.issuer != issuer.subject or not signed_by(crl, issuer):
                continue
            if crl.get_revoked_certificate_by_serial_number(
                    cert.serial_number) is not None:
                return False, "revoked (CRL of %s)" % \
                    issuer.subject.rfc4514_string()
        return True, "trusted by %s" % issuer.subject.rfc4514_string()

    @staticmethod
    def raise_fault(f):
        if f[0] >= 500:
            raise ApiError(f[2] or "InternalFailure", "injected failure",
                           f[0], "Receiver")
        raise ApiError(f[2] or "Throttling", "injected failure", f[0])

    def store(self, params):
        arn = params.get("TrustStoreArn")
        ts = self.state.stores.get(arn)
        if ts is None:
            raise ApiError("TrustStoreNotFound",
                           "Trust store '%s' not found" % arn)
        return arn, ts

    def op_AddTrustStoreRevocations(self, p):
        arn, ts = self.store(p)
        idx = list_param(p, "RevocationContents")
        if not idx:
            raise ApiError("ValidationError",
                           "RevocationContents must not be empty")
        added = []
        for i in idx:
            pre = "RevocationContents.member.%d." % i
            bucket, key = p.get(pre + "S3Bucket"), p.get(pre + "S3Key")
            rtype = p.get(pre + "RevocationType", "CRL")
            if rtype != "CRL":
                raise ApiError("ValidationError", "RevocationType must be CRL")
            data = fetch(self.state.args, bucket, key,
                         p.get(pre + "S3ObjectVersion"),
                         "RevocationContentNotFound")
            if len(data) > 50 * 1000 * 1000:
                raise ApiError("InvalidRevocationContent",
                               "The revocation file is larger than 50 MB")
            if not PEM_CRL.match(data):
                raise ApiError("InvalidRevocationContent",
                               "The revocation file s3://%s/%s is not "
                               "exactly one PEM-encoded CRL" % (bucket, key))
            try:
                crl = x509.load_pem_x509_crl(data)
                n = len(crl)
                for r in crl:
                    if r.serial_number < 0:
                        raise ValueError("negative serial")
            except ValueError as e:
                raise ApiError("InvalidRevocationContent",
                               "The CRL could not be parsed: %s" % e)
            added.append((bucket, key, n, hashlib.sha256(data).hexdigest(),
                          data))
        with self.state.lock:
            total = sum(r["entries"] for r in ts["revocations"].values())
            total += sum(a[2] for a in added)
            lists = len(ts["revocations"]) + len(added)
            if total > self.state.args.max_entries or \
                    lists > self.state.args.max_lists:
                raise ApiError("TooManyTrustStoreRevocationEntries",
                               "The trust store would hold %d revocation "
                               "entries in %d lists; the limits are %d "
                               "entries and %d lists"
                               % (total, lists, self.state.args.max_entries,
                                  self.state.args.max_lists))
            out = []
            for bucket, key, n, digest, data in added:
                rid = self.state.next_id
                self.state.next_id += 1
                ts["revocations"][rid] = {"bucket": bucket, "key": key,
                                          "entries": n, "sha256": digest}
                self.state.contents[rid] = data
                out.append([("TrustStoreArn", arn), ("RevocationId", rid),
                            ("RevocationType", "CRL"),
                            ("NumberOfRevokedEntries", n)])
        return members("TrustStoreRevocations", out)

    def op_RemoveTrustStoreRevocations(self, p):
        arn, ts = self.store(p)
        ids = [int(p["RevocationIds.member.%d" % i])
               for i in list_param(p, "RevocationIds")]
        if not ids:
            raise ApiError("ValidationError",
                           "RevocationIds must not be empty")
        with self.state.lock:
            for rid in ids:
                if rid not in ts["revocations"]:
                    raise ApiError("RevocationIdNotFound",
                                   "Revocation ID '%d' not found" % rid)
            for rid in ids:
                del ts["revocations"][rid]
        return ""

    def op_DescribeTrustStoreRevocations(self, p):
        arn, ts = self.store(p)
        ids = [int(p["RevocationIds.member.%d" % i])
               for i in list_param(p, "RevocationIds")]
        page = int(p.get("PageSize", "400"))
        if page < 1 or page > 400:
            raise ApiError("ValidationError", "PageSize must be 1..400")
        marker = int(p.get("Marker", "0") or "0")
        with self.state.lock:
            for rid in ids:
                if rid not in ts["revocations"]:
                    raise ApiError("RevocationIdNotFound",
                                   "Revocation ID '%d' not found" % rid)
            all_ids = sorted(i for i in ts["revocations"]
                             if (not ids or i in ids))
            sel = all_ids[marker:marker + page]
            out = [[("TrustStoreArn", arn), ("RevocationId", i),
                     ("RevocationType", "CRL"),
                     ("NumberOfRevokedEntries",
                      ts["revocations"][i]["entries"])] for i in sel]
            nxt = ""
            if marker + page < len(all_ids):
                nxt = "<NextMarker>%d</NextMarker>" % (marker + page)
        return members("TrustStoreRevocations", out) + nxt

    def op_ModifyTrustStore(self, p):
        arn, ts = self.store(p)
        bucket = p.get("CaCertificatesBundleS3Bucket")
        key = p.get("CaCertificatesBundleS3Key")
        if not bucket or not key:
            raise ApiError("ValidationError", "bundle bucket and key needed")
        data = fetch(self.state.args, bucket, key,
                     p.get("CaCertificatesBundleS3ObjectVersion"),
                     "CaCertificatesBundleNotFound")
        certs = PEM_CERT.findall(data)
        if not certs or b"".join(certs) != data or len(certs) > 25:
            raise ApiError("InvalidCaCertificatesBundle",
                           "The CA bundle must be 1 to 25 PEM certificates "
                           "and nothing else")
        for c in certs:
            if len(c) > 16 * 1024:
                raise ApiError("InvalidCaCertificatesBundle",
                               "A CA certificate is over 16 KB")
            try:
                x509.load_pem_x509_certificate(c)
            except ValueError as e:
                raise ApiError("InvalidCaCertificatesBundle", str(e))
        with self.state.lock:
            ts["bundle"] = data
            ts["bundle_sha256"] = hashlib.sha256(data).hexdigest()
            ts["ca_certs"] = len(certs)
            ts["modify_count"] += 1
            ts["modify_keys"].append(key)
            total = sum(r["entries"] for r in ts["revocations"].values())
        name = arn.rsplit("/", 2)[-2] if arn.count("/") >= 2 else "ts"
        return members("TrustStores", [[
            ("Name", name), ("TrustStoreArn", arn), ("Status", "ACTIVE"),
            ("NumberOfCaCertificates", len(certs)),
            ("TotalRevokedEntries", total)]])


    def op_GetTrustStoreCaCertificatesBundle(self, p):
        arn, ts = self.store(p)
        # Like S3's presigned URLs: a path and a query that only this
        # answer knows, serving the bundle as it is now.
        path = "/_bundle/%s?X-Amz-Algorithm=AWS4-HMAC-SHA256" \
            "&X-Amz-Expires=600&X-Amz-Signature=%s" % (
                uuid.uuid4().hex, hashlib.sha256(
                    uuid.uuid4().bytes).hexdigest())
        with self.state.lock:
            self.state.locations[path] = ts["bundle"]
        host = self.headers.get("Host", "127.0.0.1")
        return "<Location>%s</Location>" % xml_escape(
            "http://%s%s" % (host, path))


    def op_GetTrustStoreRevocationContent(self, p):
        arn, ts = self.store(p)
        rid = int(p.get("RevocationId", "0") or "0")
        with self.state.lock:
            if rid not in ts["revocations"]:
                raise ApiError("RevocationIdNotFound",
                               "Revocation ID '%d' not found" % rid)
            # A presigned URL to the copy ALB made at the add.
            path = "/_revocation/%s?X-Amz-Algorithm=AWS4-HMAC-SHA256" \
                "&X-Amz-Expires=600&X-Amz-Signature=%s" % (
                    uuid.uuid4().hex, hashlib.sha256(
                        uuid.uuid4().bytes).hexdigest())
            self.state.locations[path] = self.state.contents[rid]
        host = self.headers.get("Host", "127.0.0.1")
        return "<Location>%s</Location>" % xml_escape(
            "http://%s%s" % (host, path))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--s3-endpoint", required=True)
    ap.add_argument("--s3-access-key", default="test:tester")
    ap.add_argument("--s3-secret-key", default="testing")
    ap.add_argument("--trust-store", required=True)
    ap.add_argument("--cred", action="append", default=[])
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--max-entries", type=int, default=500000)
    ap.add_argument("--max-lists", type=int, default=30)
    ap.add_argument("--bundle")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    args = ap.parse_args()
    Handler.state = State(args)
    standin.serve(Handler, "elbv2", args.port, args.port_file)


if __name__ == "__main__":
    main()
