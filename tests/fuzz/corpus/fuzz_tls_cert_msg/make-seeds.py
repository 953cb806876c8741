#!/usr/bin/env python3
"""Seeds for fuzz_tls_cert_msg: TLS Certificate messages (flag byte, then
the body) around a real P-256 client certificate and a hostile RSA one.
Run from this directory: python3 make-seeds.py"""
import os
import subprocess
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
tools = os.path.join(here, "..", "..", "..", "tools")


def u24(n):
    return n.to_bytes(3, "big")


def msg12(certs):
    body = b"".join(u24(len(c)) + c for c in certs)
    return b"\0" + u24(len(body)) + body


def msg13(certs, ctx=b""):
    body = b"".join(u24(len(c)) + c + b"\0\0" for c in certs)
    return b"\1" + bytes([len(ctx)]) + ctx + u24(len(body)) + body


with tempfile.TemporaryDirectory() as t:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                    os.path.join(t, "k"), "-subj", "/CN=seed", "-days", "1",
                    "-outform", "DER", "-out", os.path.join(t, "c")],
                   check=True, capture_output=True)
    good = open(os.path.join(t, "c"), "rb").read()
    subprocess.run(["python3", os.path.join(tools, "hostile_cert.py"),
                    "9000", "9000", os.path.join(t, "h")], check=True)
    bad = open(os.path.join(t, "h"), "rb").read()

seeds = {
    "tls12-p256": msg12([good]),
    "tls13-p256": msg13([good]),
    "tls12-empty": msg12([]),
    "tls13-empty-with-context": msg13([], b"\x07\x07"),
    "tls12-huge-rsa": msg12([bad]),
    "tls13-huge-rsa": msg13([bad]),
    "tls12-chain-of-5": msg12([good] * 5),
    "tls12-truncated": msg12([good])[:-7],
    "tls13-bad-extension-length": msg13([good])[:-2] + b"\xff\xff",
}
for name, data in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
