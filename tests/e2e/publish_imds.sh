#!/bin/bash
# Credentials from the EC2 instance role through IMDSv2 (token PUT, role GET,
# credentials GET) against a local stand-in. The role's key is Swift's
# test:tester (tempauth keys are account:user), and the ELBv2 stand-in
# accepts that key only WITH the role's session token: a publish that works
# proves the token came from IMDS and was signed.
set -u
. "${MTLSCA_SRC:-$(dirname "$0")/../..}/tests/aws/lib.sh"
M=${MTLSCA:?path of the mtlsca binary}
aws_setup
start_swift
ELB_CREDS="test:tester,testing,roletoken" start_elbv2
start_imds --access-key test:tester --secret-key testing --token roletoken

conf() {	# conf IMDS_ENDPOINT
	cat >"$T/ca.conf" <<CONF
data_dir = "$T/data";
publishers = (
	{ type = "s3"; name = "bucket"; bucket = "crls"; region = "us-east-1";
	  endpoint = "$S3_EP"; imds_endpoint = "$1"; },
	{ type = "alb"; name = "alb"; trust_store_arn = "$ARN";
	  region = "us-east-1"; endpoint = "$ELB_EP"; s3 = "bucket";
	  imds_endpoint = "$1"; }
);
CONF
}
imds() { $PY -c "import json,urllib.request as u; print(json.load(u.urlopen('$IMDS_EP/_state'))['$1'])"; }
mt() { "$M" --config "$T/ca.conf" "$@"; }
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE
export AWS_SHARED_CREDENTIALS_FILE=/nonexistent HOME="$T"
conf "http://127.0.0.1:9"
mt init --key-type ecdsa-p256 >/dev/null || fail "init"
mt revoke --force 4A00000000000000000000000000BB01 >/dev/null || fail "revoke"
mt crl >/dev/null || fail "crl"

# No credentials anywhere (IMDS unreachable): a clear failure.
if mt publish 2>"$T/err0"; then fail "publish without credentials succeeded"; fi
grep -q "no AWS credentials" "$T/err0" || { cat "$T/err0"; fail "no credentials message"; }

# The same key without the session token: the ELBv2 stand-in refuses.
AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing mt publish 2>"$T/err1" &&
	fail "ELBv2 accepted a request without the session token"
grep -q "InvalidClientTokenId" "$T/err1" || { cat "$T/err1"; fail "expected InvalidClientTokenId"; }

# The instance role: token PUT, then credentials, and everything succeeds.
conf "$IMDS_EP"
mt publish 2>"$T/err2" || { cat "$T/err2"; fail "publish with the instance role"; }
[ "$(imds token_put)" -ge 1 ] || fail "no IMDSv2 token PUT"
[ "$(imds creds_get)" -ge 1 ] || fail "no credentials GET"
[ "$(imds unauthorized)" = 0 ] || fail "a metadata GET came without the IMDSv2 token"
[ "$(elb_state 'len(r)')" = 1 ] || fail "no list added"
[ "$(elb_state "r[0]['entries']")" = 1 ] || fail "entries"
echo PASS
