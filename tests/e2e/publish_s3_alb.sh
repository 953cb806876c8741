#!/bin/bash
# Publishing with the real binary: `mtlsca crl` + `mtlsca publish` with dir,
# s3 and alb publishers against Swift's S3 API and the ELBv2 stand-in (which
# checks every signature with botocore and fetches the CRL from Swift).
# Revoke -> new PEM under a new key, exactly one list for this CA with the
# right entry count, the old id gone; status shows it all.
set -u
. "${MTLSCA_SRC:-$(dirname "$0")/../..}/tests/aws/lib.sh"
M=${MTLSCA:?path of the mtlsca binary}
aws_setup
start_swift
start_elbv2

cat >"$T/ca.conf" <<CONF
data_dir = "$T/data";
publishers = (
	{ type = "dir"; name = "www"; path = "$T/www"; },
$(aws_publishers "$S3_EP" prod/ca)
);
CONF
aws_test_creds
mt() { "$M" --config "$T/ca.conf" "$@"; }

mt init --key-type ecdsa-p256 >/dev/null || fail "init"
mt revoke --force 4A0B0C0D0E0F10111213141516171801 >/dev/null || fail "revoke 1"
mt crl >/dev/null || fail "crl 1"
# openssl prints crlNumber=0x01: bash arithmetic reads the hex.
N1=$(( $(openssl crl -in "$T/data/public/crl.pem" -noout -crlnumber | sed 's/.*=//') ))
mt publish || fail "publish 1"

# dir: the same bytes.
cmp "$T/www/crl.pem" "$T/data/public/crl.pem" || fail "dir crl.pem"
cmp "$T/www/crl.der" "$T/data/public/crl.der" || fail "dir crl.der"
cmp "$T/www/ca.pem" "$T/data/ca.pem" || fail "dir ca.pem"
# s3: the numbered key, latest, the bundle.
s3cli get crls "prod/ca/crl/$N1.pem" "$T/got1.pem" || fail "no crl/$N1.pem in S3"
cmp "$T/got1.pem" "$T/data/public/crl.pem" || fail "S3 crl/$N1.pem differs"
s3cli get crls prod/ca/crl/latest.der "$T/got1.der" || fail "no latest.der"
cmp "$T/got1.der" "$T/data/public/crl.der" || fail "S3 latest.der differs"
s3cli get crls prod/ca/ca.pem "$T/gotca.pem" || fail "no ca.pem in S3"
cmp "$T/gotca.pem" "$T/data/ca.pem" || fail "S3 ca.pem differs"
# alb: one list, one entry; the bundle set once.
[ "$(elb_state 'len(r)')" = 1 ] || fail "expected one list, got $(elb_state 'r')"
[ "$(elb_state "r[0]['entries']")" = 1 ] || fail "entries"
[ "$(elb_state "r[0]['key']")" = "prod/ca/crl/$N1.pem" ] || fail "key"
[ "$(elb_state "ts['modify_count']")" = 1 ] || fail "ModifyTrustStore count"
ID1=$(elb_state "r[0]['id']")

# A second revocation: a new key, a new list, the old id gone.
mt revoke --force 4A0B0C0D0E0F10111213141516171802 >/dev/null || fail "revoke 2"
mt crl >/dev/null || fail "crl 2"
N2=$((N1 + 1))
mt publish || fail "publish 2"
s3cli get crls "prod/ca/crl/$N2.pem" "$T/got2.pem" || fail "no crl/$N2.pem"
cmp "$T/got2.pem" "$T/data/public/crl.pem" || fail "S3 crl/$N2.pem differs"
s3cli get crls "prod/ca/crl/$N1.pem" "$T/got1b.pem" || fail "old key must stay"
[ "$(elb_state 'len(r)')" = 1 ] || fail "expected exactly one list"
[ "$(elb_state "r[0]['entries']")" = 2 ] || fail "entries after swap"
ID2=$(elb_state "r[0]['id']")
[ "$ID2" != "$ID1" ] || fail "the RevocationId did not change"
[ "$(elb_state "[i['id'] for i in r].count($ID1)")" = 0 ] || fail "old id still there"
[ "$(elb_state "ts['modify_count']")" = 1 ] || fail "bundle re-sent without a change"
# Every ELBv2 call was signed correctly (the stand-in refuses otherwise),
# and each publish looked at the trust store before its Add (the Add is
# recorded as pending against that snapshot: publish_aws.c).
# Each publish read the trust store's CA bundle; only the first changed it.
calls=$(elb_state "','.join(c.replace('TrustStoreRevocations', '').replace('GetTrustStoreCaCertificatesBundle', 'GetBundle') for c in s['calls'])")
echo "ELBv2 calls: $calls"
[ "$calls" = "Describe,GetBundle,ModifyTrustStore,Describe,Add,Describe,GetBundle,Describe,Add,Remove" ] ||
    fail "unexpected ELBv2 calls: $calls"

# Publishing the same CRL again is a no-op that succeeds.
mt publish || fail "republish"
[ "$(elb_state "r[0]['id']")" = "$ID2" ] || fail "republish changed the list"

mt status >"$T/status" || fail "status"
cat "$T/status"
grep -q "revocation id:    $ID2" "$T/status" || fail "status lacks the RevocationId"
grep -q "ALB entries:      2" "$T/status" || fail "status lacks ALB's entry count"
grep -q "CRL published:    $N2" "$T/status" || fail "status lacks the CRL number"
grep -q "object:           prod/ca/crl/$N2.pem" "$T/status" || fail "status lacks the key"
mt status --metrics >"$T/metrics" || fail "status --metrics"
grep -q "mtlsca_publisher_alb_revocation_id{publisher=\"alb\",type=\"alb\"} $ID2" "$T/metrics" || fail "metrics"
grep -q 'mtlsca_publisher_up{publisher="bucket",type="s3"} 1' "$T/metrics" || fail "metrics up"

# The same publisher names, another prefix and directory: new destinations,
# so the current CRL goes there at once (state is kept per destination, not
# per name); the trust store, which has it, gets no new list.
adds=$(elb_state "s['calls'].count('AddTrustStoreRevocations')")
sed -i -e 's|prefix = "prod/ca"|prefix = "prod/moved"|' -e "s|$T/www|$T/www2|" "$T/ca.conf"
mt publish || fail "publish to the moved prefix"
s3cli get crls "prod/moved/crl/$N2.pem" "$T/moved.pem" || fail "nothing under the new prefix"
cmp "$T/moved.pem" "$T/data/public/crl.pem" || fail "the new prefix's CRL differs"
cmp "$T/www2/crl.pem" "$T/data/public/crl.pem" || fail "the new directory's CRL differs"
[ "$(elb_state "s['calls'].count('AddTrustStoreRevocations')")" = "$adds" ] || fail "ALB got a list it had"
mt status | grep -A12 "publisher bucket" | grep -q "object:           prod/moved/crl/$N2.pem" ||
    fail "status does not show the new destination's key"
echo PASS
