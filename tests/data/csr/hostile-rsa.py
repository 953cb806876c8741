#!/usr/bin/env python3
"""Write CSRs whose RSA keys ALB refuses, made to cost CPU if their
signature were checked before the key's policy (make-corpus.sh runs it).
The signatures are random bytes: the key rule must refuse them first.

  hostile-rsa.py OUTDIR
writes OUTDIR/rsa-huge-modulus-and-exponent.pem (a 28,000-bit modulus and
a 28,000-bit public exponent, ~14 KiB: under CA_CSR_MAX) and
OUTDIR/rsa-exponent-65-bits.pem (2048-bit modulus, e = 2^64 + 1)."""
import base64
import os
import sys


def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        hdr = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        hdr = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + hdr + body


def integer(v):
    b = v.to_bytes((v.bit_length() + 8) // 8, "big")  # room for a sign bit
    while len(b) > 1 and b[0] == 0 and b[1] < 0x80:
        b = b[1:]
    return tlv(0x02, b)


def seq(*parts):
    return tlv(0x30, b"".join(parts))


RSA_ENC = bytes.fromhex("06092a864886f70d0101010500")  # rsaEncryption, NULL
SHA256_RSA = bytes.fromhex("06092a864886f70d01010b0500")
CN = seq(tlv(0x31, seq(bytes.fromhex("0603550403"), tlv(0x0C, b"hostile"))))


def csr(n, e, sig_len):
    spki = seq(tlv(0x30, RSA_ENC), tlv(0x03, b"\0" + seq(integer(n), integer(e))))
    info = seq(integer(0), CN, spki, tlv(0xA0, b""))
    der = seq(info, tlv(0x30, SHA256_RSA), tlv(0x03, b"\0" + os.urandom(sig_len)))
    b64 = base64.b64encode(der).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return ("-----BEGIN CERTIFICATE REQUEST-----\n" + "\n".join(lines) +
            "\n-----END CERTIFICATE REQUEST-----\n")


def odd(bits):
    return int.from_bytes(os.urandom(bits // 8), "big") | (1 << (bits - 1)) | 1


out = sys.argv[1]
with open(os.path.join(out, "rsa-huge-modulus-and-exponent.pem"), "w") as f:
    f.write(csr(odd(28000), odd(28000), 3500))
with open(os.path.join(out, "rsa-exponent-65-bits.pem"), "w") as f:
    f.write(csr(odd(2048), (1 << 64) + 1, 256))
