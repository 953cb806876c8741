#!/usr/bin/env python3
"""A self-made certificate (DER) whose RSA key makes any signature check
expensive: a modulus and a public exponent of MODBITS and EXPBITS bits,
random (nothing is ever signed with it), and a random signature. For the
TLS tests: tls_hostile presents it with a random CertificateVerify.

  hostile_cert.py MODBITS EXPBITS OUT.der"""
import datetime
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
    b = v.to_bytes((v.bit_length() + 8) // 8, "big")
    while len(b) > 1 and b[0] == 0 and b[1] < 0x80:
        b = b[1:]
    return tlv(0x02, b)


def seq(*parts):
    return tlv(0x30, b"".join(parts))


def odd(bits):
    return int.from_bytes(os.urandom(bits // 8), "big") | (1 << (bits - 1)) | 1


def utc(t):
    return tlv(0x17, t.strftime("%y%m%d%H%M%SZ").encode())


modbits, expbits, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
RSA_ENC = bytes.fromhex("06092a864886f70d0101010500")
SHA256_RSA = bytes.fromhex("06092a864886f70d01010b0500")
name = seq(tlv(0x31, seq(bytes.fromhex("0603550403"), tlv(0x0C, b"hostile"))))
now = datetime.datetime.now(datetime.timezone.utc)
spki = seq(tlv(0x30, RSA_ENC),
           tlv(0x03, b"\0" + seq(integer(odd(modbits)), integer(odd(expbits)))))
tbs = seq(tlv(0xA0, integer(2)), integer(int.from_bytes(os.urandom(15), "big")),
          tlv(0x30, SHA256_RSA), name,
          seq(utc(now - datetime.timedelta(days=1)),
              utc(now + datetime.timedelta(days=30))),
          name, spki)
der = seq(tbs, tlv(0x30, SHA256_RSA), tlv(0x03, b"\0" + os.urandom(modbits // 8)))
with open(out, "wb") as f:
    f.write(der)
