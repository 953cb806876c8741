#!/usr/bin/python3
"""Independent check of a CRL with python3-cryptography (run with the Debian
interpreter, /usr/bin/python3).

    check_crl.py CRL.der CA.pem EXPECT.json

EXPECT: {"number": N, "this_update": epoch, "next_update": epoch,
         "entries": {"SERIALHEX": "reason name or null", ...}}
Prints "OK" and exits 0, or names the first mismatch and exits 1.
"""
import calendar
import json
import sys

from cryptography import x509
from cryptography.x509.oid import CRLEntryExtensionOID, ExtensionOID


def epoch(dt):
    return calendar.timegm(dt.utctimetuple())


def main():
    der = open(sys.argv[1], "rb").read()
    ca = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
    want = json.load(open(sys.argv[3]))
    crl = x509.load_der_x509_crl(der)

    def bad(msg):
        print("MISMATCH: " + msg)
        sys.exit(1)

    if not crl.is_signature_valid(ca.public_key()):
        bad("signature does not verify with the CA key")
    if crl.issuer.public_bytes() != ca.subject.public_bytes():
        bad("issuer is not the CA subject")
    num = crl.extensions.get_extension_for_oid(ExtensionOID.CRL_NUMBER)
    if num.critical or num.value.crl_number != want["number"]:
        bad("cRLNumber %r" % (num.value.crl_number,))
    aki = crl.extensions.get_extension_for_oid(
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    ski = ca.extensions.get_extension_for_oid(
        ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    if aki.critical or aki.value.key_identifier != ski.value.digest:
        bad("AKI is not the CA's SKI")
    if epoch(crl.last_update) != want["this_update"]:
        bad("thisUpdate %s" % crl.last_update)
    if epoch(crl.next_update) != want["next_update"]:
        bad("nextUpdate %s" % crl.next_update)
    got = {}
    for rc in crl:
        h = "%X" % rc.serial_number
        try:
            r = rc.extensions.get_extension_for_oid(
                CRLEntryExtensionOID.CRL_REASON).value.reason.name
        except x509.ExtensionNotFound:
            r = None
        if r == "unspecified":
            bad("serial %s carries reason unspecified (should be absent)"
                % h)
        got[h] = [r, epoch(rc.revocation_date)]
    exp = want["entries"]
    if set(got) != set(exp):
        bad("serials %s vs expected %s" % (sorted(got), sorted(exp)))
    for h, (reason, when) in exp.items():
        if got[h][0] != reason:
            bad("serial %s reason %s, expected %s" % (h, got[h][0], reason))
        if got[h][1] != when:
            bad("serial %s revocationDate %s, expected %s"
                % (h, got[h][1], when))
    print("OK")


main()
