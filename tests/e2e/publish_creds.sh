#!/bin/bash
# AWS credentials from web identity (EKS IRSA: a token file exchanged with
# STS AssumeRoleWithWebIdentity) and from the container endpoint (ECS task
# roles, EKS Pod Identity), with `mtlsca publish` against Swift and the
# ELBv2 stand-in. The stand-in accepts Swift's key only with the session
# token the source hands out, so a publish that succeeds proves where the
# credentials came from. The STS stand-in checks the request's shape
# against botocore's model (the call is unsigned in AWS). With no source
# at all, the error lists every one, in the SDKs' order.
set -u
. "${MTLSCA_SRC:-$(dirname "$0")/../..}/tests/aws/lib.sh"
M=${MTLSCA:?path of the mtlsca binary}
aws_setup
start_swift
ELB_CREDS="test:tester,testing,sts-session|container-session" start_elbv2
ROLE="arn:aws:iam::123456789012:role/mtlsca-publisher"
printf 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.sig\n' >"$T/token"
start_sts "$ROLE" "$T/token" sts-session
printf 'pod-identity-token\n' >"$T/pod-token"
start_container pod-identity-token container-session

cat >"$T/ca.conf" <<CONF
data_dir = "$T/data";
publishers = (
$(aws_publishers "$S3_EP" creds)
);
CONF
mt() { "$M" --config "$T/ca.conf" "$@"; }
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE
export AWS_SHARED_CREDENTIALS_FILE=/nonexistent HOME="$T"
mt init --key-type ecdsa-p256 >/dev/null || fail "init"

# Nothing: every source, in order, and why it was skipped.
mt revoke --force 4A00000000000000000000000000EE01 >/dev/null || fail "revoke"
mt crl >/dev/null || fail "crl"
if mt publish 2>"$T/err0"; then fail "publish without credentials succeeded"; fi
cat "$T/err0"
grep -q "no AWS credentials: environment: no AWS_ACCESS_KEY_ID; web identity: no AWS_WEB_IDENTITY_TOKEN_FILE; shared file: no /nonexistent; container: no AWS_CONTAINER_CREDENTIALS_\*_URI; instance role: no answer from http://127.0.0.1:9" "$T/err0" ||
    fail "the error does not list every source in order"

echo "--- web identity"
AWS_WEB_IDENTITY_TOKEN_FILE="$T/token" AWS_ROLE_ARN="$ROLE" \
    AWS_ENDPOINT_URL_STS="$STS_EP" mt publish 2>"$T/err1" || { cat "$T/err1"; fail "publish with web identity"; }
[ "$(server_state "$STS_EP" issued)" -ge 1 ] || fail "STS issued nothing"
[ "$(server_state "$STS_EP" refused)" = 0 ] || fail "STS refused a request: $(server_state "$STS_EP" last_refusal)"
case "$(server_state "$STS_EP" last_session_name)" in mtlsca-*) ;; *) fail "session name" ;; esac
[ "$(elb_state 'len(r)')" = 1 ] || fail "no list added with web identity credentials"
# A token STS does not take: a clear failure, and no fall back to the
# container endpoint, configured too.
printf 'eyJ.other.token\n' >"$T/token2"
mt revoke --force 4A00000000000000000000000000EE02 >/dev/null || fail "revoke 2"
mt crl >/dev/null || fail "crl 2"
served=$(server_state "${CONTAINER_URI%/v1/credentials}" served)
if AWS_WEB_IDENTITY_TOKEN_FILE="$T/token2" AWS_ROLE_ARN="$ROLE" AWS_ENDPOINT_URL_STS="$STS_EP" \
    AWS_CONTAINER_CREDENTIALS_FULL_URI="$CONTAINER_URI" AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$T/pod-token" \
    mt publish 2>"$T/err2"; then fail "publish with a refused web identity token succeeded"; fi
grep -q "AWS credentials (web identity): STS AssumeRoleWithWebIdentity: HTTP 400 InvalidIdentityToken" "$T/err2" ||
    { cat "$T/err2"; fail "the STS refusal is not said"; }
[ "$(server_state "${CONTAINER_URI%/v1/credentials}" served)" = "$served" ] ||
    fail "the container endpoint was asked after web identity failed"

echo "--- container credentials (EKS Pod Identity)"
AWS_CONTAINER_CREDENTIALS_FULL_URI="$CONTAINER_URI" AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$T/pod-token" \
    mt publish 2>"$T/err3" || { cat "$T/err3"; fail "publish with container credentials"; }
[ "$(server_state "${CONTAINER_URI%/v1/credentials}" served)" -gt "$served" ] || fail "the container endpoint served nothing"
[ "$(server_state "${CONTAINER_URI%/v1/credentials}" unauthorized)" = 0 ] || fail "a request without the authorization token"
[ "$(elb_state 'len(r)')" = 1 ] || fail "expected one list"
[ "$(elb_state "r[0]['entries']")" = 2 ] || fail "the container-credentials publish did not swap the list"
echo PASS
