#!/bin/bash
# Publishing faults with the real binary: S3 down (retried, exit 1, last good
# CRL stays in the trust store, status shows the error), a gate refusal (a
# CRL that does not verify is never uploaded), a wrong secret (fails loudly,
# secret never printed), and the ELBv2 quota (TooManyTrustStoreRevocationEntries
# -> remove first, then add, with the gap logged).
set -u
. "${MTLSCA_SRC:-$(dirname "$0")/../..}/tests/aws/lib.sh"
M=${MTLSCA:?path of the mtlsca binary}
aws_setup
start_swift
# A trust store that holds at most 3 entries in total.
start_elbv2 --max-entries 3

conf() {	# conf S3_ENDPOINT
	cat >"$T/ca.conf" <<CONF
data_dir = "$T/data";
publishers = (
$(aws_publishers "$1" "")
);
CONF
}
aws_test_creds
mt() { "$M" --config "$T/ca.conf" "$@"; }
conf "$S3_EP"
mt init --key-type ecdsa-p256 >/dev/null || fail "init"
mt revoke --force 4A00000000000000000000000000AA01 >/dev/null || fail "revoke"
mt crl >/dev/null && mt publish >/dev/null 2>&1 || fail "first publish"
ID1=$(elb_state "r[0]['id']")

# 1. S3 down: retried, fails, the trust store keeps its list.
mt revoke --force 4A00000000000000000000000000AA02 >/dev/null || fail "revoke 2"
mt crl >/dev/null || fail "crl 2"
conf "http://127.0.0.1:9"
start=$(date +%s%N)
if mt publish 2>"$T/err1"; then fail "publish with S3 down succeeded"; fi
cat "$T/err1"
grep -q "after 4 attempts" "$T/err1" || fail "no retries reported"
[ "$(elb_state "r[0]['id']")" = "$ID1" ] || fail "trust store changed"
mt status >"$T/status1"
grep -A8 "publisher bucket" "$T/status1" | grep -q "FAILING" || fail "status does not show the failure"
grep -q "after 4 attempts" "$T/status1" || fail "status lacks the error"
# S3 back: the same CRL goes out.
conf "$S3_EP"
mt publish >/dev/null 2>&1 || fail "publish after S3 came back"
[ "$(elb_state "r[0]['entries']")" = 2 ] || fail "entries after recovery"

# 2. Gate: a CRL file whose signature is broken is refused before upload.
mt revoke --force 4A00000000000000000000000000AA03 >/dev/null || fail "revoke 3"
mt crl >/dev/null || fail "crl 3"
N3=$(( $(openssl crl -in "$T/data/public/crl.pem" -noout -crlnumber | sed 's/.*=//') ))
openssl crl -in "$T/data/public/crl.pem" -outform DER -out "$T/bad.der"
# Flip one bit in the last byte of the signature.
$PY -c "
import sys; b = bytearray(open('$T/bad.der','rb').read()); b[-1] ^= 1
open('$T/bad.der','wb').write(bytes(b))"
openssl crl -inform DER -in "$T/bad.der" -out "$T/bad.pem"
if mt publish --crl "$T/bad.pem" 2>"$T/err2"; then fail "gate let a bad CRL through"; fi
cat "$T/err2"
grep -q "gate" "$T/err2" || fail "the refusal does not say gate"
s3cli get crls "crl/$N3.pem" "$T/x" && fail "a refused CRL reached S3"
[ "$(elb_state "r[0]['entries']")" = 2 ] || fail "a refused CRL reached ALB"
mt status | grep -q "gate" || fail "status does not show the gate's reason"

# 3. Wrong secret: S3 says 403 once (no retry), the secret is not printed.
AWS_SECRET_ACCESS_KEY=sekrit-not-this-one mt publish 2>"$T/err3" && fail "wrong secret accepted"
cat "$T/err3"
grep -q "SignatureDoesNotMatch" "$T/err3" || fail "no SignatureDoesNotMatch"
grep -q "sekrit" "$T/err3" && fail "the secret was printed"
mt status | grep -q "sekrit" && fail "the secret is in the status"

# 4. Quota: 2 old + 3 new entries > 3: ALB refuses the add, mtlsca removes
#    the old list first, then adds, and logs the gap.
mt publish 2>"$T/err4" || { cat "$T/err4"; fail "publish under quota pressure"; }
cat "$T/err4"
grep -q "removing the old list first" "$T/err4" || fail "the gap is not logged"
[ "$(elb_state 'len(r)')" = 1 ] || fail "expected one list after the swap"
[ "$(elb_state "r[0]['entries']")" = 3 ] || fail "entries after the quota swap"
echo PASS
