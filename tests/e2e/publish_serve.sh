#!/bin/bash
# `serve` with s3 + alb publishers: at start the CRL is published; revoke a
# serial from another process; within one publish cycle the new PEM is in
# S3 under a new key, the trust store holds exactly one list for this CA
# with the right entry count, and the old RevocationId is gone.
set -u
. "${MTLSCA_SRC:-$(dirname "$0")/../..}/tests/aws/lib.sh"
M=${MTLSCA:?path of the mtlsca binary}
aws_setup
start_swift
start_elbv2
HTTP_PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HTTPS_PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cat >"$T/ca.conf" <<CONF
data_dir = "$T/data";
crl = { refresh = "1h"; debounce = "1s"; };
http = { listen = "127.0.0.1"; http_port = $HTTP_PORT; https_port = $HTTPS_PORT; };
publishers = (
$(aws_publishers "$S3_EP" svc)
);
CONF
aws_test_creds
mt() { "$M" --config "$T/ca.conf" "$@"; }

# A mistyped data_dir (a volume not mounted...): serve must not make a CA
# of its own and hand it to the trust store. Refused, nothing created,
# not one call to S3 or ELBv2.
sed "s|data_dir = \"$T/data\"|data_dir = \"$T/dtaa\"|" "$T/ca.conf" >"$T/typo.conf"
rc=0
timeout 20 "$M" --config "$T/typo.conf" serve >"$T/typo.log" 2>&1 || rc=$?
cat "$T/typo.log"
[ "$rc" = 1 ] || fail "serve with a data_dir holding no CA exited $rc"
grep -q "no CA in $T/dtaa: run \`mtlsca init\`" "$T/typo.log" || fail "the refusal does not name the directory and mtlsca init"
grep -q "mtlsca import" "$T/typo.log" || fail "the refusal does not name mtlsca import"
[ ! -e "$T/dtaa" ] || fail "serve created $T/dtaa"
[ "$(elb_state "len(s['calls'])")" = 0 ] || fail "ELBv2 was called: $(elb_state "s['calls']")"
[ -z "$(s3cli ls crls)" ] || fail "something was put in S3: $(s3cli ls crls)"

mt init --key-type ecdsa-p256 >/dev/null || fail "init"
# Not through mt(): $! must be the server itself, so that the EXIT trap
# kills it rather than a subshell that would leave it running.
"$M" --config "$T/ca.conf" serve >"$T/serve.log" 2>&1 &
SERVE_PID=$!
AWS_PIDS+=($SERVE_PID)

# wait_for PYEXPR SECONDS: until the stand-in's state makes PYEXPR true.
wait_for() {
	local i
	for i in $(seq 1 $(( $2 * 5 ))); do
		[ "$(elb_state "$1" 2>/dev/null)" = True ] && return 0
		kill -0 $SERVE_PID 2>/dev/null || { cat "$T/serve.log"; fail "serve died"; }
		sleep 0.2
	done
	return 1
}
wait_for "len(r) == 1" 30 || { cat "$T/serve.log"; fail "the first CRL was not published"; }
ID1=$(elb_state "r[0]['id']")
E1=$(elb_state "r[0]['entries']")

t0=$(date +%s)
mt revoke --force 4A00000000000000000000000000CC01 >/dev/null || fail "revoke"
wait_for "len(r) == 1 and r[0]['id'] != $ID1" 30 || { cat "$T/serve.log"; elb_state r; fail "no new list after the revocation"; }
t1=$(date +%s)
echo "revocation to ALB list swap: $((t1 - t0)) s"
[ "$(elb_state "r[0]['entries']")" = $((E1 + 1)) ] || fail "entry count"
[ "$(elb_state "[i['id'] for i in r].count($ID1)")" = 0 ] || fail "old id still there"
KEY=$(elb_state "r[0]['key']")
s3cli get crls "$KEY" "$T/got.pem" || fail "no $KEY in S3"
openssl crl -in "$T/got.pem" -noout -text | grep -q "4A00000000000000000000000000CC01" || fail "the serial is not on the CRL in S3"
case "$KEY" in svc/crl/*.pem) ;; *) fail "unexpected key $KEY" ;; esac

mt status >"$T/status" || fail "status while serving"
cat "$T/status"
grep -q "revocation id:    $(elb_state "r[0]['id']")" "$T/status" || fail "status lacks the new RevocationId"
echo PASS
