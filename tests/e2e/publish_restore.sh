#!/bin/bash
# Restore of an OLDER backup after later revocations were published (issue
# 12), against Swift's S3 API (a versioned bucket) and the ELBv2 stand-in:
# - restore reads the s3 publisher's crl/latest.der: the next CRL's number
#   is above every published one, and it still lists the revocation made
#   after the backup ("recovered from CRL N" in the audit);
# - S3 never holds two different objects for one CRL number (every
#   crl/<n>.pem has exactly one version);
# - the trust store ends with exactly one list of this CA: the list the
#   restored state never recorded is recognised by its content (ALB's copy,
#   GetTrustStoreRevocationContent) and replaced by the next publish.
set -u
. "${MTLSCA_SRC:-$(dirname "$0")/../..}/tests/aws/lib.sh"
M=${MTLSCA:?path of the mtlsca binary}
aws_setup
start_swift
start_elbv2

cat >"$T/ca.conf" <<CONF
data_dir = "$T/data";
publishers = (
$(aws_publishers "$S3_EP" prod/ca)
);
CONF
aws_test_creds
mt() { "$M" --config "$T/ca.conf" "$@"; }
num() { echo $(( $(openssl crl -inform "$2" -in "$1" -noout -crlnumber | sed 's/.*=//') )); }
lists() { elb_state "len(r)"; }

mt init --key-type ecdsa-p256 >/dev/null || fail "init"
A=4A0B0C0D0E0F10111213141516171801
B=4A0B0C0D0E0F10111213141516171802
mt revoke --force "$A" >/dev/null || fail "revoke A"
mt crl >/dev/null && mt publish >/dev/null 2>&1 || fail "crl/publish 1"
mt backup --out "$T/old.mtlsca-backup" --include-key >/dev/null || fail "backup"
N1=$(num "$T/data/public/crl.der" DER)

# After the backup: B revoked, CRL N1+1 published to S3 and the trust store.
mt revoke --force --reason keyCompromise "$B" >/dev/null || fail "revoke B"
mt crl >/dev/null && mt publish >/dev/null 2>&1 || fail "crl/publish 2"
N2=$(num "$T/data/public/crl.der" DER)
[ "$N2" = $((N1 + 1)) ] || fail "numbers $N1 $N2"
[ "$(lists)" = 1 ] || fail "before the loss: $(lists) lists"

# The machine is lost; the older backup is restored on a new one.
mv "$T/data" "$T/lost"
mt restore "$T/old.mtlsca-backup" >"$T/restore.out" 2>&1 || fail "restore: $(cat "$T/restore.out")"
cat "$T/restore.out"
grep -q "recovered 1 revocation(s) the store lacked from CRL $N2 (s3 publisher 'bucket'" "$T/restore.out" ||
    fail "no recovery from S3's latest.der"
mt show "$B" | grep -qi revoked || fail "B is not revoked after the restore"
mt audit | grep -q "serial=$B reason=1 recovered from CRL $N2 (s3 publisher 'bucket': s3://crls/prod/ca/crl/latest.der)" ||
    fail "no audit entry: $(mt audit | tail -3)"
echo "ok - restore recovered $B from S3's latest.der (CRL $N2)"

mt crl >/dev/null || fail "crl 3"
N3=$(num "$T/data/public/crl.der" DER)
[ "$N3" -gt "$N2" ] || fail "next CRL $N3 is not above the published $N2"
openssl crl -inform DER -in "$T/data/public/crl.der" -noout -text | tr -d ' :' >"$T/crl3.txt"
grep -qi "SerialNumber$A\$" "$T/crl3.txt" && grep -qi "SerialNumber$B\$" "$T/crl3.txt" ||
    fail "CRL $N3 does not list both revocations"
mt publish >"$T/publish.out" 2>&1 || fail "publish 3: $(cat "$T/publish.out")"
grep -q "is this CA's but was not recorded" "$T/publish.out" || fail "orphan not recognised: $(cat "$T/publish.out")"
echo "ok - CRL $N3 (above $N2) lists both revocations and is published"

# S3: one object per number, never two versions.
s3cli versions crls prod/ca/crl/ >"$T/versions.txt" || fail "list versions"
cat "$T/versions.txt"
for n in "$N1" "$N2" "$N3"; do
	[ "$(grep -c "^prod/ca/crl/$n.pem " "$T/versions.txt")" = 1 ] ||
	    fail "crl/$n.pem has $(grep -c "^prod/ca/crl/$n.pem " "$T/versions.txt") versions"
done
echo "ok - S3 holds exactly one object for each CRL number"

# ALB: exactly one list of this CA, CRL N3's, with both entries.
[ "$(lists)" = 1 ] || fail "the trust store holds $(lists) lists: $(elb_state r)"
[ "$(elb_state "r[0]['key']")" = "prod/ca/crl/$N3.pem" ] || fail "list $(elb_state r)"
[ "$(elb_state "r[0]['entries']")" = 2 ] || fail "entries $(elb_state r)"
echo "ok - the trust store holds exactly one list of this CA (CRL $N3)"
echo PASS
