#!/bin/bash
# An S3 outage under `serve` (s3 + alb publishers, real Swift, the ELBv2
# stand-in): S3 stopped, a serial revoked from the CLI. The local crl.pem
# lists it at once (publishing holds no CRL lock); /healthz answers 503
# once publish.max_lag has passed, with a JSON reason; /metrics says
# mtlsca_publisher_up 0; the failure is logged once although the publisher
# retries every few seconds. S3 back on the same port: the trust store gets
# the new list within a backoff step, with no restart and no new
# revocation; /healthz 200 again, and the revoke-to-enforced histogram
# counts the revocation.
set -u
. "${MTLSCA_SRC:-$(dirname "$0")/../..}/tests/aws/lib.sh"
M=${MTLSCA:?path of the mtlsca binary}
aws_setup
start_swift
start_elbv2
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP_PORT=$(free_port)
HTTPS_PORT=$(free_port)

cat >"$T/ca.conf" <<CONF
data_dir = "$T/data";
crl = { refresh = "1h"; debounce = "1s"; };
http = { listen = "127.0.0.1"; http_port = $HTTP_PORT; https_port = $HTTPS_PORT; };
publish = { retry_min = "1s"; retry_max = "2s"; max_lag = "4s"; };
publishers = (
$(aws_publishers "$S3_EP" svc)
);
CONF
aws_test_creds
mt() { "$M" --config "$T/ca.conf" "$@"; }
mt init --key-type ecdsa-p256 >/dev/null || fail "init"
"$M" --config "$T/ca.conf" serve >"$T/serve.log" 2>&1 &
SERVE_PID=$!
AWS_PIDS+=($SERVE_PID)
U="http://127.0.0.1:$HTTP_PORT"

# until SECONDS CMD...: run CMD every 0.2 s until it succeeds.
until_ok() {
	local n=$(( $1 * 5 )) i
	shift
	for i in $(seq 1 $n); do
		"$@" 2>/dev/null && return 0
		kill -0 $SERVE_PID 2>/dev/null || { cat "$T/serve.log"; fail "serve died"; }
		sleep 0.2
	done
	return 1
}
elb_true() { [ "$(elb_state "$1")" = True ]; }
healthz() { curl -s -o "$T/health.json" -w '%{http_code}' "$U/healthz"; }
healthz_is() { [ "$(healthz)" = "$1" ]; }
metric() { curl -sf "$U/metrics" | grep -F "$1" | awk '{print $2}'; }
metric_ge() { [ "$(metric "$1")" -ge "$2" ]; }
crl_lists() { openssl crl -in "$T/data/public/crl.pem" -noout -text | grep -q "$1"; }

until_ok 30 elb_true "len(r) == 1" || { cat "$T/serve.log"; fail "the first CRL was not published"; }
ID1=$(elb_state "r[0]['id']")
E1=$(elb_state "r[0]['entries']")
[ "$(healthz)" = 200 ] || fail "healthz before the outage: $(cat "$T/health.json")"
[ "$(metric 'mtlsca_publisher_up{publisher="bucket",type="s3"}')" = 1 ] || fail "bucket not up before the outage"

echo "--- S3 stopped"
kill "$SWIFT_PID"
wait "$SWIFT_PID" 2>/dev/null
mt revoke --force 4A00000000000000000000000000DD01 >/dev/null || fail "revoke"
GEN0=$(mt status | sed -n 's/^revocation generation: *//p')
t0=$(date +%s%N)
until_ok 10 crl_lists 4A00000000000000000000000000DD01 || fail "the local CRL does not list the revocation"
echo "local crl.pem lists the revocation after $(( ($(date +%s%N) - t0) / 1000000 )) ms, S3 down"
N2=$(( $(openssl crl -in "$T/data/public/crl.pem" -noout -crlnumber | sed 's/.*=//') ))

until_ok 30 healthz_is 503 || fail "healthz stayed $(healthz) during the outage: $(cat "$T/health.json")"
cat "$T/health.json"; echo
reason=$($PY -c "import json; print(json.load(open('$T/health.json'))['error'])")
case "$reason" in publisher_failing|crl_not_enforced) ;; *) fail "healthz reason '$reason'" ;; esac
grep -q '"message": *".*bucket' "$T/health.json" || grep -q '"message": *".*alb' "$T/health.json" ||
    fail "the 503 does not name the publisher"
[ "$(metric 'mtlsca_publisher_up{publisher="bucket",type="s3"}')" = 0 ] || fail "mtlsca_publisher_up is not 0 for bucket"
# Several retries by now, one log line for them.
until_ok 20 metric_ge 'mtlsca_publisher_failures_total{publisher="bucket",type="s3"}' 3 ||
    fail "bucket did not retry on its own"
grep "bucket: CRL $N2 not published" "$T/serve.log"
[ "$(grep -c "bucket: CRL $N2 not published" "$T/serve.log")" = 1 ] || fail "the failure was logged more than once"
[ "$(elb_state "r[0]['id']")" = "$ID1" ] || fail "the trust store changed while S3 was down"

echo "--- S3 back on port $S3_PORT"
rm -f "$T/s3.port"
$PY "$AWS_DIR/swift_s3.py" --dir "$T/swift" --port "$S3_PORT" --port-file "$T/s3.port" \
	>>"$T/swift.log" 2>&1 &
AWS_PIDS+=($!)
wait_port "$T/s3.port" >/dev/null || { cat "$T/swift.log"; fail "Swift did not come back"; }
t1=$(date +%s%N)
until_ok 60 elb_true "len(r) == 1 and r[0]['id'] != $ID1" || { cat "$T/serve.log"; elb_state r; fail "no new list after S3 came back"; }
echo "S3 back to the trust store's new list: $(( ($(date +%s%N) - t1) / 1000000 )) ms (publish.retry_max 2 s)"
[ "$(elb_state "r[0]['entries']")" = $((E1 + 1)) ] || fail "entry count"
kill -0 $SERVE_PID || fail "serve is not the one that started"
[ "$(mt status | sed -n 's/^revocation generation: *//p')" = "$GEN0" ] ||
    fail "the revocation generation moved: the recovery needed a revocation?"
grep -q "bucket: published CRL $N2 .* after [0-9]* failed attempts" "$T/serve.log" || fail "the recovery is not logged"
until_ok 10 healthz_is 200 || fail "healthz after the recovery: $(cat "$T/health.json")"
[ "$(metric 'mtlsca_publisher_up{publisher="alb",type="alb"}')" = 1 ] || fail "alb not up after the recovery"
[ "$(metric 'mtlsca_publisher_revoke_to_enforced_seconds_count{publisher="alb",type="alb"}')" = 1 ] ||
    fail "the revoke-to-enforced histogram did not count the revocation"
curl -sf "$U/metrics" | grep 'revoke_to_enforced_seconds.*alb' | head -20
echo PASS
