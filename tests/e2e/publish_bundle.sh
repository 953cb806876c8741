#!/bin/bash
# The trust store's CA bundle is merged, never replaced: a trust store made
# with another team's CA keeps it after mtlsca publishes (this CA added),
# an extra_ca_files root (a migration) joins it, a fingerprint in
# remove_ca_fingerprints takes one out, and ModifyTrustStore runs only when
# the set of certificates changes, each time naming an S3 object whose key
# is its content's SHA-256. ALB's bundle limits (25 certificates, 16 KB
# each) are enforced before anything is sent.
set -u
. "${MTLSCA_SRC:-$(dirname "$0")/../..}/tests/aws/lib.sh"
M=${MTLSCA:?path of the mtlsca binary}
aws_setup
start_swift

# another_ca NAME [openssl req options...]: NAME.pem, a self-signed CA.
another_ca() {
	local name=$1
	shift
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T/$name.key" -out "$T/$name.pem" -days 30 \
	    -subj "/O=Other team/CN=$name" \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign "$@" 2>/dev/null ||
	    fail "openssl req for $name"
}
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }
another_ca team-ca
another_ca old-root
TEAM=$(fp "$T/team-ca.pem")
OLD=$(fp "$T/old-root.pem")
start_elbv2 --bundle "$T/team-ca.pem"

conf() {	# conf [extra alb keys]
	cat >"$T/ca.conf" <<CONF
data_dir = "$T/data";
publishers = (
	{ type = "s3"; name = "bucket"; bucket = "crls"; prefix = "b";
	  region = "us-east-1"; endpoint = "$S3_EP";
	  imds_endpoint = "http://127.0.0.1:9"; },
	{ type = "alb"; name = "alb"; trust_store_arn = "$ARN";
	  region = "us-east-1"; endpoint = "$ELB_EP"; s3 = "bucket";
	  imds_endpoint = "http://127.0.0.1:9"; $1 }
);
CONF
}
aws_test_creds
mt() { "$M" --config "$T/ca.conf" "$@"; }
fps() { elb_state "' '.join(sorted(ts['bundle_fingerprints']))"; }
sorted() { printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }
conf ""
mt init --key-type ecdsa-p256 >/dev/null || fail "init"
OURS=$(fp "$T/data/ca.pem")
[ "$(fps)" = "$TEAM" ] || fail "the stand-in did not start with the team's CA"

echo "--- first publish: the team's CA stays, ours joins"
mt revoke --force 4A00000000000000000000000000FF01 >/dev/null && mt crl >/dev/null || fail "crl"
mt publish 2>"$T/log1" || { cat "$T/log1"; fail "publish 1"; }
grep "CA bundle" "$T/log1"
[ "$(fps)" = "$(sorted "$TEAM" "$OURS")" ] || fail "bundle after the first publish: $(fps)"
[ "$(elb_state "ts['modify_count']")" = 1 ] || fail "modify count"
KEY=$(elb_state "ts['modify_keys'][-1]")
s3cli get crls "$KEY" "$T/bundle1.pem" || fail "the bundle Modify named is not in S3"
case "$KEY" in "b/ca-bundles/$(sha256sum <"$T/bundle1.pem" | cut -d' ' -f1).pem") ;;
	*) fail "the bundle's key $KEY is not its content's SHA-256" ;; esac
# PEM only, no blank line, and openssl reads every certificate of it.
grep -q '^$' "$T/bundle1.pem" && fail "a blank line in the bundle"
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/bundle1.pem")" = 2 ] || fail "bundle certificate count"
openssl verify -CAfile "$T/bundle1.pem" "$T/data/ca.pem" >/dev/null || fail "openssl does not find our CA in the bundle"
openssl verify -CAfile "$T/bundle1.pem" "$T/team-ca.pem" >/dev/null || fail "openssl does not find the team's CA in the bundle"
grep -q "added: CN=mtlsca" "$T/log1" || grep -q "added: .*$(echo "$OURS" | cut -c1-16)" "$T/log1" || fail "the log does not say what was added"

echo "--- nothing changed: no Modify"
mt revoke --force 4A00000000000000000000000000FF02 >/dev/null && mt crl >/dev/null || fail "crl 2"
mt publish 2>/dev/null || fail "publish 2"
[ "$(elb_state "ts['modify_count']")" = 1 ] || fail "ModifyTrustStore sent with nothing to change"
[ "$(elb_state "s['calls'].count('GetTrustStoreCaCertificatesBundle')")" = 2 ] || fail "the bundle was not read at each publish"

echo "--- another team changes the bundle behind our back: theirs kept, ours put back"
another_ca newcomer
NEW=$(fp "$T/newcomer.pem")
cat "$T/team-ca.pem" "$T/newcomer.pem" >"$T/their.pem"
s3cli put crls their/bundle.pem "$T/their.pem" || fail "put their bundle"
elb_call ModifyTrustStore "TrustStoreArn=$ARN" CaCertificatesBundleS3Bucket=crls \
    CaCertificatesBundleS3Key=their/bundle.pem >/dev/null || fail "their ModifyTrustStore"
[ "$(fps)" = "$(sorted "$TEAM" "$NEW")" ] || fail "their Modify did not take"
mt revoke --force 4A00000000000000000000000000FF03 >/dev/null && mt crl >/dev/null || fail "crl 3"
mt publish 2>/dev/null || fail "publish 3"
[ "$(fps)" = "$(sorted "$TEAM" "$NEW" "$OURS")" ] || fail "bundle after their change: $(fps)"

echo "--- extra_ca_files: the old root joins; --dry-run first, read-only"
conf "extra_ca_files = [ \"$T/old-root.pem\" ];"
mt revoke --force 4A00000000000000000000000000FF04 >/dev/null && mt crl >/dev/null || fail "crl 4"
N4=$(( $(openssl crl -in "$T/data/public/crl.pem" -noout -crlnumber | sed 's/.*=//') ))
ID3=$(elb_state "r[0]['id']")
E3=$(elb_state "r[0]['entries']")
nreq=$(elb_state "len(s['requests'])")
objects=$(s3cli ls crls | wc -l)
mt status >"$T/status.before" || fail "status"
mt publish --dry-run >"$T/plan" 2>"$T/plan.err" || { cat "$T/plan.err"; fail "dry run"; }
cat "$T/plan"
grep -q "CRL $N4 (4 entries): the gate passes it" "$T/plan" || fail "plan: gate"
grep -q "would PUT s3://crls/b/crl/$N4.pem" "$T/plan" || fail "plan: the s3 keys"
grep -q "CA bundle: would ModifyTrustStore with 4 certificates" "$T/plan" || fail "plan: bundle"
sed -n '/kept:/,/added:/p' "$T/plan" | grep -q "CN=team-ca.*SHA-256 $TEAM" || fail "plan: the team's CA is not kept"
sed -n '/added:/,/removed:/p' "$T/plan" | grep -q "CN=old-root.*SHA-256 $OLD" || fail "plan: the old root is not added"
grep -q "removed: none" "$T/plan" || fail "plan: something would be removed"
grep -q "would add: CRL $N4 (4 entries) from s3://crls/b/crl/$N4.pem" "$T/plan" || fail "plan: the list to add"
grep -q "would remove: RevocationId $ID3 ($E3 entries, this CA's)" "$T/plan" || fail "plan: the list to remove"
# The stand-in's request log: nothing but reads since the dry run began.
actions=$(elb_state "' '.join(sorted(set(q['Action'] for q in s['requests'][$nreq:])))")
echo "dry run's ELBv2 actions: $actions"
[ "$actions" = "DescribeTrustStoreRevocations GetTrustStoreCaCertificatesBundle" ] ||
    fail "the dry run sent other than read-only actions: $actions"
[ "$(s3cli ls crls | wc -l)" = "$objects" ] || fail "the dry run put something in S3"
[ "$(elb_state "r[0]['id']")" = "$ID3" ] || fail "the dry run changed the trust store's lists"
mt status >"$T/status.after" || fail "status"
cmp -s "$T/status.before" "$T/status.after" || fail "the dry run changed the recorded state"
# And the real publish does what the plan said.
mt publish 2>/dev/null || fail "publish 4"
[ "$(fps)" = "$(sorted "$TEAM" "$NEW" "$OURS" "$OLD")" ] || fail "bundle with the extra file: $(fps)"

echo "--- remove_ca_fingerprints: the team's CA leaves, named by its SHA-256 (colons allowed)"
COLONS=$(openssl x509 -in "$T/team-ca.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
conf "extra_ca_files = [ \"$T/old-root.pem\" ]; remove_ca_fingerprints = [ \"$COLONS\" ];"
mods=$(elb_state "ts['modify_count']")
mt revoke --force 4A00000000000000000000000000FF05 >/dev/null && mt crl >/dev/null || fail "crl 5"
mt publish 2>"$T/log5" || { cat "$T/log5"; fail "publish 5"; }
[ "$(fps)" = "$(sorted "$NEW" "$OURS" "$OLD")" ] || fail "bundle after the removal: $(fps)"
[ "$(elb_state "ts['modify_count']")" = $((mods + 1)) ] || fail "one Modify for the removal"
grep -q "removed: CN=team-ca" "$T/log5" || fail "the log does not say what was removed: $(cat "$T/log5")"

echo "--- this CA's own fingerprint cannot be removed"
conf "remove_ca_fingerprints = [ \"$OURS\" ];"
mt publish 2>"$T/own" && fail "a configuration removing this CA was accepted"
grep -q "this CA's own certificate" "$T/own" || fail "$(cat "$T/own")"

echo "--- ALB's limits: 26 certificates are refused before anything is sent"
: >"$T/many.pem"
for i in $(seq 1 24); do
	another_ca "many$i"
	cat "$T/many$i.pem" >>"$T/many.pem"
done
conf "extra_ca_files = [ \"$T/old-root.pem\", \"$T/many.pem\" ];"
mods=$(elb_state "ts['modify_count']")
mt revoke --force 4A00000000000000000000000000FF06 >/dev/null && mt crl >/dev/null || fail "crl 6"
mt publish 2>"$T/many.log" && fail "a bundle of 27 certificates was sent"
grep -q "ALB takes at most 25" "$T/many.log" || fail "$(cat "$T/many.log")"
[ "$(elb_state "ts['modify_count']")" = "$mods" ] || fail "Modify called over the limit"
[ "$(fps)" = "$(sorted "$NEW" "$OURS" "$OLD")" ] || fail "the bundle changed over the limit"

echo "--- a certificate over 16 KB of PEM is refused"
another_ca big -addext "subjectAltName=$(for i in $(seq 1 600); do printf 'DNS:host-%04d.a-rather-long-domain-name.example,' "$i"; done | sed 's/,$//')"
[ "$(wc -c <"$T/big.pem")" -gt 16384 ] || fail "the test's big certificate is not big: $(wc -c <"$T/big.pem")"
conf "extra_ca_files = [ \"$T/big.pem\" ];"
mt publish 2>"$T/big.log" && fail "a certificate over 16 KB was sent"
grep -q "at most 16 KB per certificate" "$T/big.log" || fail "$(cat "$T/big.log")"
[ "$(elb_state "ts['modify_count']")" = "$mods" ] || fail "Modify called with a certificate over 16 KB"
echo PASS
