#!/bin/bash
# The migration of docs/README.ja.md, sections 2.2-2.4, against Swift's S3
# API and the ELBv2 stand-in: a trust store that the OpenSSL runbook fed by
# hand (its rootCA.pem as the bundle, its crl.pem added as a revocation
# list from the console) taken over by mtlsca after `import`. mtlsca adds
# and swaps its own lists and never touches the one it did not add (dry run
# included); the operator removes that one (RemoveTrustStoreRevocations, as
# `aws elbv2 remove-trust-store-revocations` sends it) and from then on the
# trust store holds exactly mtlsca's list. The bundle, which already holds
# the imported root, is never modified.
set -u
. "${MTLSCA_SRC:-$(dirname "$0")/../..}/tests/aws/lib.sh"
M=${MTLSCA:?path of the mtlsca binary}
aws_setup
start_swift

# The runbook's CA, as make-runbook-ca.sh leaves it.
RB=
for d in "${MTLSCA_RUNBOOK:-}" "$MTLSCA_SRC/../shared/fixtures/openssl-runbook" \
    /work/shared/fixtures/openssl-runbook; do
	[ -n "$d" ] && [ -x "$d/make-runbook-ca.sh" ] && RB=$d && break
done
[ -n "$RB" ] || fail "cannot find shared/fixtures/openssl-runbook (set MTLSCA_RUNBOOK)"
sh "$RB/make-runbook-ca.sh" "$T/runbook" >/dev/null || fail "make-runbook-ca.sh"
mkdir "$T/issued" && cp "$T/runbook"/sample-*.pem "$T/issued/"

# The trust store as the runbook left it: bundle = rootCA.pem, and the
# runbook's CRL uploaded and added by hand.
start_elbv2 --bundle "$T/runbook/rootCA.pem"
aws_test_creds
s3cli put crls manual/crl.pem "$T/runbook/crl.pem" || fail "upload the runbook's CRL"
elb_call AddTrustStoreRevocations TrustStoreArn="$ARN" \
    RevocationContents.member.1.S3Bucket=crls \
    RevocationContents.member.1.S3Key=manual/crl.pem \
    RevocationContents.member.1.RevocationType=CRL >"$T/add.xml" ||
    fail "the hand-made AddTrustStoreRevocations"
HAND=$(sed -n 's|.*<RevocationId>\([0-9]*\)</RevocationId>.*|\1|p' "$T/add.xml")
[ -n "$HAND" ] || fail "no RevocationId in $(cat "$T/add.xml")"
ids() { elb_state "' '.join(str(i['id']) for i in r)"; }
[ "$(ids)" = "$HAND" ] || fail "the trust store holds $(ids)"

cat >"$T/ca.conf" <<CONF
data_dir = "$T/data";
publishers = (
$(aws_publishers "$S3_EP" prod/mtlsca)
);
CONF
mt() { "$M" --config "$T/ca.conf" "$@"; }

mt import --ca-cert "$T/runbook/rootCA.pem" --ca-key "$T/runbook/rootCA.key" \
    --openssl-index "$T/runbook/index.txt" --certs "$T/issued" >/dev/null ||
    fail "import"
mt crl >/dev/null || fail "crl"

# The dry run: the hand list is counted, never listed for removal.
mt publish --dry-run >"$T/dry" 2>&1 || fail "publish --dry-run: $(cat "$T/dry")"
cat "$T/dry"
grep -q "CA bundle: unchanged (1 certificates), no ModifyTrustStore" "$T/dry" ||
    fail "the dry run would change the bundle"
grep -q "revocation lists: the trust store holds 1" "$T/dry" || fail "dry run: lists"
grep -q "would remove: none" "$T/dry" || fail "the dry run would remove the hand list"
[ "$(ids)" = "$HAND" ] || fail "the dry run changed the lists: $(ids)"

# First publish: mtlsca's list beside the hand one.
mt publish >"$T/pub1" 2>&1 || fail "publish 1: $(cat "$T/pub1")"
grep -q "reconciled with the trust store (1 lists in it, 0 of them this CA's)" "$T/pub1" ||
    fail "publish 1 log: $(cat "$T/pub1")"
M1=$(mt status | sed -n 's/^  revocation id: *//p')
[ -n "$M1" ] && [ "$M1" != "$HAND" ] || fail "status: revocation id '$M1'"
[ "$(ids)" = "$HAND $M1" ] || fail "after publish 1 the trust store holds $(ids)"
[ "$(elb_state "[i['entries'] for i in r if i['id'] == $M1][0]")" = 1 ] ||
    fail "mtlsca's list lacks the runbook's revoked certificate"

# A revocation: mtlsca swaps its own list, the hand list stays.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/s4.key" -out "$T/s4.csr" -subj "/CN=sample-4" 2>/dev/null
mt sign --csr "$T/s4.csr" --out "$T/s4.pem" 2>/dev/null || fail "sign"
openssl verify -CAfile "$T/runbook/rootCA.pem" "$T/s4.pem" >/dev/null ||
    fail "a certificate signed after the import does not verify with rootCA.pem"
mt revoke "$(openssl x509 -in "$T/s4.pem" -noout -serial | cut -d= -f2)" \
    --reason keyCompromise >/dev/null || fail "revoke"
mt crl >/dev/null && mt publish >"$T/pub2" 2>&1 || fail "publish 2: $(cat "$T/pub2")"
M2=$(mt status | sed -n 's/^  revocation id: *//p')
[ "$(ids)" = "$HAND $M2" ] && [ "$M2" != "$M1" ] ||
    fail "after publish 2 the trust store holds $(ids) (hand $HAND, mtlsca $M1 -> $M2)"

# The operator retires the hand list; mtlsca's goes on alone.
elb_call RemoveTrustStoreRevocations TrustStoreArn="$ARN" \
    RevocationIds.member.1="$HAND" >/dev/null || fail "RemoveTrustStoreRevocations"
[ "$(ids)" = "$M2" ] || fail "after the removal the trust store holds $(ids)"
mt revoke --force 4A0B0C0D0E0F10111213141516171801 >/dev/null || fail "revoke 2"
mt crl >/dev/null && mt publish >"$T/pub3" 2>&1 || fail "publish 3: $(cat "$T/pub3")"
grep -q "reconciled with the trust store (1 lists in it, 1 of them this CA's)" "$T/pub3" ||
    fail "publish 3 log: $(cat "$T/pub3")"
M3=$(mt status | sed -n 's/^  revocation id: *//p')
[ "$(ids)" = "$M3" ] && [ "$M3" != "$M2" ] || fail "after publish 3: $(ids)"
[ "$(elb_state "r[0]['entries']")" = 3 ] || fail "entries: $(elb_state 'r')"
[ "$(elb_state "ts['modify_count']")" = 0 ] || fail "the bundle was modified"
echo "hand list $HAND kept through publishes ($M1, $M2), removed by hand; mtlsca's $M3 alone"
echo PASS
