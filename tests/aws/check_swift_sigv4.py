#!/usr/bin/python3
"""
Prove that the Swift S3 server the tests use really checks SigV4, with
requests signed by botocore and sent raw:
  - a correct PUT succeeds (200) and reads back;
  - the same PUT signed with a wrong secret gets 403 SignatureDoesNotMatch;
  - a body that does not match its signed x-amz-content-sha256 gets 400
    (BadDigest in Swift 2.30, XAmzContentSHA256Mismatch in later ones) and
    the object keeps its old content.
Usage: check_swift_sigv4.py ENDPOINT BUCKET
"""
import hashlib
import http.client
import sys
import urllib.parse

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def send(endpoint, method, key, body, secret, tamper=None):
    url = "%s/%s" % (endpoint, key)
    req = AWSRequest(method=method, url=url, data=body, headers={
        "x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
    S3SigV4Auth(Credentials("test:tester", secret), "s3",
                "us-east-1").add_auth(req)
    if tamper is not None:
        body = tamper
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    headers = dict(req.headers.items())
    assert "Content-MD5" not in headers
    headers["Content-Length"] = str(len(body))
    c.request(method, u.path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    return r.status, data


def main():
    endpoint, bucket = sys.argv[1], sys.argv[2]
    fails = 0

    st, _ = send(endpoint, "PUT", bucket + "/sigv4-check", b"good", "testing")
    print("correct secret: HTTP %d" % st)
    fails += st != 200
    st, data = send(endpoint, "GET", bucket + "/sigv4-check", b"", "testing")
    fails += st != 200 or data != b"good"

    st, data = send(endpoint, "PUT", bucket + "/sigv4-check", b"evil",
                    "wrong-secret")
    print("wrong secret: HTTP %d %s" % (st, b"SignatureDoesNotMatch" in data))
    fails += st != 403 or b"SignatureDoesNotMatch" not in data

    st, data = send(endpoint, "PUT", bucket + "/sigv4-check", b"good",
                    "testing", tamper=b"evil")
    print("body hash mismatch: HTTP %d %r" % (st, data[:200]))
    # Swift 2.30 names it BadDigest (no Content-MD5 was sent: it is the
    # SHA-256 check); newer ones XAmzContentSHA256Mismatch.
    fails += st != 400 or not (b"XAmzContentSHA256Mismatch" in data or
                               b"BadDigest" in data)

    st, data = send(endpoint, "GET", bucket + "/sigv4-check", b"", "testing")
    fails += data != b"good"
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
