#!/bin/bash
# CA rotation (issue 12) with the real parts: Swift's S3 API, the ELBv2
# stand-in (which judges a client certificate from its trust store alone,
# as ALB's verify mode does: POST /_check), nginx as a TLS terminator.
# - after `mtlsca ca rotate` and a restart, serve signs with the new CA;
#   the trust store holds both CAs and two revocation lists, one per CA,
#   each CRL from its own S3 key;
# - a client of the old CA still passes nginx and the ALB check, one
#   revoked under the old CA is refused by both, a client of the new CA
#   passes; nginx is given /ca.pem and /crls.pem as they are served;
# - once the old CA's last certificate has expired (MTLSCA_FAKE_NOW), the
#   next start retires it: its list leaves the trust store, the bundle
#   keeps both CAs (a CA leaves only by remove_ca_fingerprints), /ca.pem
#   and /crls.pem keep the new CA alone.
set -u
. "${MTLSCA_SRC:-$(dirname "$0")/../..}/tests/aws/lib.sh"
. "$AWS_DIR/../e2e/nginx_lib.sh"
M=${MTLSCA:?path of the mtlsca binary}
aws_setup
start_swift
start_elbv2
command -v nginx >/dev/null || fail "nginx is missing: run packaging/setup.sh"
port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP_PORT=$(port)
HTTPS_PORT=$(port)
NGINX_PORT=$(port)

cat >"$T/ca.conf" <<CONF
data_dir = "$T/data";
crl = { refresh = "1h"; debounce = "0s"; };
http = { listen = "127.0.0.1"; http_port = $HTTP_PORT; https_port = $HTTPS_PORT; };
publishers = (
$(aws_publishers "$S3_EP" prod/ca),
	{ type = "dir"; name = "files"; path = "$T/pubdir"; }
);
CONF
chmod 600 "$T/ca.conf"
aws_test_creds
mt() { "$M" --config "$T/ca.conf" "$@"; }
P="http://127.0.0.1:$HTTP_PORT"
lists() { elb_state "len(r)"; }
csr() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T/$1.key" -subj "/CN=$1" -out "$T/$1.csr" 2>/dev/null ||
	    fail "csr $1"
}
serial() { openssl x509 -in "$T/$1.pem" -noout -serial | cut -d= -f2; }
alb_check() {	# NAME [AT]: the stand-in's verdict on NAME.pem
	curl -sS -X POST --data-binary "@$T/$1.pem" "$ELB_EP/_check${2:+?at=$2}"
}
serve_start() {	# [env...]
	env "$@" "$M" --config "$T/ca.conf" serve >>"$T/serve.log" 2>&1 &
	SERVE_PID=$!
	AWS_PIDS+=($SERVE_PID)
}
serve_stop() {
	kill "$SERVE_PID" && wait "$SERVE_PID" 2>/dev/null
}
wait_for() {	# PYEXPR SECONDS: until the stand-in's state makes it true
	local i
	for i in $(seq 1 $(( $2 * 5 ))); do
		[ "$(elb_state "$1" 2>/dev/null)" = True ] && return 0
		kill -0 "$SERVE_PID" 2>/dev/null || { cat "$T/serve.log"; fail "serve died"; }
		sleep 0.2
	done
	return 1
}
wait_log() {	# TEXT SECONDS: until serve's log holds TEXT
	local i
	for i in $(seq 1 $(( $2 * 5 ))); do
		grep -q "$1" "$T/serve.log" && return 0
		kill -0 "$SERVE_PID" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

# ---- CA 1 and its clients: two certificates of 2 days ----
mt init --key-type ecdsa-p256 --subject "CN=Rotation Test CA" >/dev/null || fail "init"
for c in old-ok old-bad; do
	csr "$c"
	mt sign --csr "$T/$c.csr" --days 2 --out "$T/$c.pem" >/dev/null 2>&1 || fail "sign $c"
done
CA1_FP=$(openssl x509 -in "$T/data/ca.pem" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)
cp "$T/data/ca.pem" "$T/ca1.pem"
serve_start
wait_for "len(r) == 1" 30 || { cat "$T/serve.log"; fail "CA 1's CRL was not published"; }
# A client enrolled over the API: its ca.pem holds CA 1 alone.
TOK=$(mt token create --cn renewer --uses 1 2>/dev/null | head -1)
"$M" enroll --server "https://localhost:$HTTPS_PORT" --ca-file "$T/data/ca.pem" \
    --token "$TOK" --cn renewer --days 2 --out-dir "$T/renewer" >"$T/enroll.out" 2>&1 ||
    fail "enroll: $(cat "$T/enroll.out")"
[ "$(grep -c "BEGIN CERTIFICATE" "$T/renewer/ca.pem")" = 1 ] || fail "renewer/ca.pem"

# ---- the rotation, while serve runs: it is told to restart ----
mt ca rotate >"$T/rotate.out" 2>&1 || fail "ca rotate: $(cat "$T/rotate.out")"
cat "$T/rotate.out"
grep -q "warning: serve is running on $T/data and still signs with CA 1: restart it now" "$T/rotate.out" ||
    fail "rotate did not say serve must restart"
serve_stop

grep -q "^CA 2 is active: CN=Rotation Test CA 2" "$T/rotate.out" || fail "rotate did not name the new CA"
mt ca list --json >"$T/list.json" || fail "ca list"
$PY - "$T/list.json" "$(date -u -d "+2 days" +%Y-%m-%d)" <<'EOF' || fail "ca list: $(cat "$T/list.json")"
import json, sys
cas = {c["id"]: c for c in json.load(open(sys.argv[1]))}
assert cas[1]["state"] == "retiring" and cas[2]["state"] == "active", cas
assert cas[1]["certificates"] == 5 and cas[2]["certificates"] == 0, cas
assert cas[1]["last_certificate_expires"][:10] == sys.argv[2], cas
EOF
cmp -s "$T/ca1.pem" "$T/data/ca.pem" && fail "the configured ca.pem is still CA 1"
[ "$(stat -c %a "$T/data/cas/1/ca.key")" = 600 ] || fail "cas/1/ca.key is not 0600"
[ "$(stat -c %a "$T/data/cas/2/ca.key")" = 600 ] || fail "cas/2/ca.key is not 0600"
echo "ok - ca rotate: CA 2 active (configured ca.pem replaced), CA 1 retiring until its clients expire (3 clients, its HTTPS certificate, the cross certificate)"

serve_start
wait_for "len(r) == 2" 30 || { cat "$T/serve.log"; fail "two lists were not published: $(elb_state r)"; }
wait_log "retiring CA 1" 30 || fail "serve did not say CA 1 is retiring"
# Its recovery read every published CRL with the CA that signed it (the
# plain S3 keys still held CA 1's).
grep -q "could not be read" "$T/serve.log" && fail "recovery at start: $(grep "could not be read" "$T/serve.log")"
for i in $(seq 1 50); do curl -sf -o /dev/null "$P/ca.pem" && break; sleep 0.2; done

# A client of the new CA (enrolled through mtlsca sign: same engine).
csr new-ok
mt sign --csr "$T/new-ok.csr" --out "$T/new-ok.pem" >/dev/null 2>&1 || fail "sign new-ok"
openssl x509 -in "$T/new-ok.pem" -noout -issuer | grep -q "Rotation Test CA 2" || fail "new-ok is not CA 2's"
mt show "$(serial new-ok)" | grep -q "^issuer:      CA 2 (CN=Rotation Test CA 2)" || fail "show does not name CA 2"
mt show "$(serial old-ok)" | grep -q "^issuer:      CA 1 (CN=Rotation Test CA)" || fail "show does not name CA 1"
# The service's HTTPS certificate moved to the new CA.
openssl s_client -connect "127.0.0.1:$HTTPS_PORT" </dev/null 2>/dev/null |
    grep -q "issuer=CN = Rotation Test CA 2" || fail "the HTTPS certificate is not CA 2's"
echo "ok - serve signs with CA 2 (new client, its own HTTPS certificate); list/show name the issuer"

# The client that trusts CA 1 alone renews: serve sends CA 2 cross-signed
# by CA 1 after its certificate; the renewal comes from CA 2, and the
# client's ca.pem learns CA 2.
openssl s_client -showcerts -connect "127.0.0.1:$HTTPS_PORT" </dev/null 2>/dev/null >"$T/chain.txt"
[ "$(grep -c "BEGIN CERTIFICATE" "$T/chain.txt")" = 2 ] || fail "serve does not send the cross certificate"
grep -q "1 s:CN = Rotation Test CA 2" "$T/chain.txt" && grep -q "i:CN = Rotation Test CA\$" "$T/chain.txt" ||
    fail "the second certificate is not CA 2 signed by CA 1: $(grep -E '^ *[0-9] [si]:' "$T/chain.txt")"
"$M" renew --server "https://localhost:$HTTPS_PORT" --cert "$T/renewer/cert.pem" \
    --key "$T/renewer/key.pem" >"$T/renew.out" 2>&1 || fail "renew: $(cat "$T/renew.out")"
openssl x509 -in "$T/renewer/cert.pem" -noout -issuer | grep -q "Rotation Test CA 2" ||
    fail "the renewed certificate is not CA 2's"
[ "$(grep -c "BEGIN CERTIFICATE" "$T/renewer/ca.pem")" = 2 ] || fail "renewer/ca.pem did not learn CA 2"
echo "ok - a client trusting CA 1 alone renews through the cross certificate and moves to CA 2"

# Revoke a client of the retiring CA: its CRL (and only its) lists it.
mt revoke --reason keyCompromise "$(serial old-bad)" >/dev/null || fail "revoke old-bad"
wait_for "any(x['entries'] == 1 for x in r) and len(r) == 2" 30 ||
    fail "CA 1's list with the revocation was not published: $(elb_state r)"
sleep 1
openssl crl -in "$T/data/public/ca-1/crl.pem" -noout -text | tr -d ' :' |
    grep -qi "SerialNumber$(serial old-bad)\$" || fail "CA 1's CRL lacks old-bad"
openssl crl -in "$T/data/public/crl.pem" -noout -text | grep -q "No Revoked Certificates" ||
    fail "CA 2's CRL lists a serial it never issued"
[ "$(grep -c "BEGIN X509 CRL" "$T/pubdir/crls.pem")" = 2 ] || fail "the dir publisher's crls.pem lacks a CRL"
[ "$(grep -c "BEGIN CERTIFICATE" "$T/pubdir/ca.pem")" = 2 ] || fail "the dir publisher's ca.pem lacks a CA"
s3cli get crls prod/ca/ca.pem >"$T/s3-ca.pem" 2>/dev/null &&
    [ "$(grep -c "BEGIN CERTIFICATE" "$T/s3-ca.pem")" = 2 ] || fail "S3's ca.pem lacks a CA"
# Two lists, each from its own S3 key and each signed by its CA.
keys=$(elb_state "sorted(x['key'] for x in r)")
echo "$keys" | grep -q "prod/ca/crl/" && echo "$keys" | grep -q "prod/ca/ca-1/crl/" ||
    fail "lists' keys: $keys"
[ "$(elb_state "len(ts['bundle_fingerprints'])")" = 2 ] || fail "bundle: $(elb_state "ts['bundle_fingerprints']")"
echo "ok - trust store: both CAs in the bundle, two lists ($keys)"

# The ALB stand-in's verdicts, from its trust store alone.
for c in old-ok new-ok; do
	alb_check "$c" | grep -q '"ok": true' || fail "ALB refuses $c: $(alb_check "$c")"
done
alb_check old-bad | grep -q '"ok": false, "reason": "revoked' || fail "ALB accepts old-bad: $(alb_check old-bad)"
echo "ok - ALB check: old-ok and new-ok pass, old-bad (revoked under CA 1) refused"

# nginx, given what serve publishes: /ca.pem (both CAs) and /crls.pem.
N="$T/nginx"
mkdir -p "$N"
curl -sSf -o "$N/ca.pem" "$P/ca.pem" || fail "GET /ca.pem"
curl -sSf -o "$N/crl.pem" "$P/crls.pem" || fail "GET /crls.pem"
[ "$(grep -c "BEGIN CERTIFICATE" "$N/ca.pem")" = 2 ] || fail "/ca.pem does not hold both CAs"
[ "$(grep -c "BEGIN X509 CRL" "$N/crl.pem")" = 2 ] || fail "/crls.pem does not hold both CRLs"
cp "$T/data/private/server.pem" "$N/server.pem"
cp "$T/data/private/server.key" "$N/server.key"
hl_nginx_conf "$N" "$NGINX_PORT" "$N/ca.pem" "$N/crl.pem"
nginx -p "$N" -c "$N/nginx.conf" 2>"$T/nginx.err" &
AWS_PIDS+=($!)
for _ in $(seq 1 50); do
	curl -s -o /dev/null -k "https://127.0.0.1:$NGINX_PORT/" && break
	sleep 0.1
done
through() {	# NAME: nginx's HTTP status for NAME's certificate
	curl -s -o /dev/null -w '%{http_code}' -k --cert "$T/$1.pem" \
	    --key "$T/$1.key" "https://127.0.0.1:$NGINX_PORT/"
}
[ "$(through old-ok)" = 200 ] || fail "nginx refuses old-ok: $(tail -3 "$N/logs/error.log")"
[ "$(through new-ok)" = 200 ] || fail "nginx refuses new-ok: $(tail -3 "$N/logs/error.log")"
[ "$(through old-bad)" = 400 ] || fail "nginx lets old-bad in"
grep -q "certificate revoked" "$N/logs/error.log" || fail "nginx did not log old-bad as revoked"
echo "ok - nginx with /ca.pem and /crls.pem: old-ok and new-ok 200, old-bad 400 (revoked)"
serve_stop

# ---- CA 1's last certificate has expired: the next start retires it ----
LATER=$(date -u -d "+3 days" +%Y-%m-%dT%H:%M:%SZ)
serve_start MTLSCA_FAKE_NOW="$LATER"
wait_for "len(r) == 1" 30 || { cat "$T/serve.log"; fail "CA 1's list was not removed: $(elb_state r)"; }
# The list goes while the retirement is under way (the public files, the
# state file and the audit follow it); its last step is the log line.
wait_log "CA 1 retired" 30 || { cat "$T/serve.log"; fail "serve did not say CA 1 retired"; }
keys=$(elb_state "[x['key'] for x in r]")
echo "$keys" | grep -q "ca-1" && fail "the list left is CA 1's: $keys"
[ "$(elb_state "len(ts['bundle_fingerprints'])")" = 2 ] ||
    fail "the bundle lost a CA without remove_ca_fingerprints: $(elb_state "ts['bundle_fingerprints']")"
elb_state "ts['bundle_fingerprints']" | grep -q "$CA1_FP" || fail "CA 1 left the trust store's bundle"
for i in $(seq 1 50); do curl -sf -o /dev/null "$P/ca.pem" && break; sleep 0.2; done
[ "$(curl -sSf "$P/ca.pem" | grep -c "BEGIN CERTIFICATE")" = 1 ] || fail "/ca.pem still holds CA 1"
[ "$(curl -sSf "$P/crls.pem" | grep -c "BEGIN X509 CRL")" = 1 ] || fail "/crls.pem still holds CA 1's CRL"
[ ! -e "$T/data/public/ca-1" ] || fail "public/ca-1 is still there"
[ ! -e "$T/pubdir/ca-1" ] || fail "the dir publisher kept ca-1/"
[ "$(grep -c "BEGIN X509 CRL" "$T/pubdir/crls.pem")" = 1 ] || fail "the dir publisher's crls.pem keeps CA 1's CRL"
head -1 "$T/data/cas/1/state" | grep -qx retired || fail "cas/1/state: $(cat "$T/data/cas/1/state")"
mt ca list | grep -q "^1 *retired" || fail "ca list: $(mt ca list)"
# No cross certificate any more; the renewed client still verifies the
# service with its ca.pem.
openssl s_client -showcerts -connect "127.0.0.1:$HTTPS_PORT" </dev/null 2>/dev/null |
    grep -c "BEGIN CERTIFICATE" | grep -qx 1 || fail "serve still sends the cross certificate"
curl -sS -o /dev/null --cacert "$T/renewer/ca.pem" "https://localhost:$HTTPS_PORT/ca.pem" ||
    fail "the renewed client no longer verifies the service"
mt audit | grep -q "ca 1 retired" || fail "no audit entry for the retirement"
serve_stop
echo "ok - after CA 1's last certificate expired: its list removed, the bundle keeps both CAs, /ca.pem and /crls.pem the new CA only"
echo PASS
