#!/bin/bash
# The exec publisher reloads a real nginx: serve's dir publisher writes the
# bundle and the CRL where nginx reads them, and an exec publisher runs
# `nginx -s reload` after it. Nobody else touches nginx: once a client is
# revoked over the API, nginx refuses it. Until nginx runs, the reload
# fails and is retried on its own (logged once).
. "$(dirname "$0")/http_lib.sh"

NGINX_BIN=$(command -v nginx) || { echo "FAIL: nginx is missing: run packaging/setup.sh" >&2; exit 1; }

D="$HL_TMP/data"
HP=$(free_port)
PP=$(free_port)
NP=$(free_port)
ENROLL="exec-enroll-$RANDOM$RANDOM"
ADMIN="exec-admin-$RANDOM$RANDOM"
N="$HL_TMP/nginx"
mkdir -p "$N/logs" "$N/tmp" "$N/pki"
CONF="$HL_TMP/mtlsca.conf"
hl_config "$CONF" "$D" "$HP" "$PP" "
profiles = ( { name = \"client\"; tokens = [ \"$(hl_sha256 "$ENROLL")\" ]; } );
admins = { token_hashes = [ \"$(hl_sha256 "$ADMIN")\" ]; };
publish = { retry_min = \"1s\"; retry_max = \"2s\"; };
publishers = (
	{ type = \"dir\"; name = \"pki\"; path = \"$N/pki\"; },
	{ type = \"exec\"; name = \"nginx\";
	  command = [ \"$NGINX_BIN\", \"-p\", \"$N\", \"-c\", \"$N/nginx.conf\", \"-s\", \"reload\" ];
	  timeout = \"10s\"; }
);"
hl_init "$CONF"
# nginx's own server certificate (not the CA's business here).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost -days 2 \
    -keyout "$N/server.key" -out "$N/server.pem" 2>/dev/null || fail "nginx's certificate"
hl_nginx_conf "$N" "$NP" "$N/pki/ca.pem" "$N/pki/crl.pem" daemon
hl_start serve --config "$CONF" serve
CA="$D/ca.pem"
U="https://localhost:$HP"
for _ in $(seq 1 100); do
	[ -s "$N/pki/crl.pem" ] && break
	sleep 0.1
done
[ -s "$N/pki/crl.pem" ] && [ -s "$N/pki/ca.pem" ] || fail "the dir publisher wrote nothing in $N/pki"

# The reload fails while nginx is not running: retried, logged once.
for _ in $(seq 1 50); do
	[ "$(grep -c "nginx: CRL 1 not published" "$HL_TMP/serve.err")" -ge 1 ] && break
	sleep 0.1
done
grep -q "nginx: CRL 1 not published: $NGINX_BIN exited with status 1" "$HL_TMP/serve.err" ||
    fail "the failed reload is not logged with nginx's exit status"
sleep 3
[ "$(grep -c "nginx: CRL 1 not published" "$HL_TMP/serve.err")" = 1 ] ||
    fail "the failed reload is logged more than once"

# nginx as a daemon: `nginx -s reload` signals the master through its pid
# file; the test stops it with -s quit.
"$NGINX_BIN" -p "$N" -c "$N/nginx.conf" 2>"$HL_TMP/nginx.err" || fail "nginx: $(cat "$HL_TMP/nginx.err")"
trap '"$NGINX_BIN" -p "$N" -c "$N/nginx.conf" -s quit 2>/dev/null; hl_cleanup' EXIT
for _ in $(seq 1 100); do
	grep -q "nginx: published CRL 1 .*after" "$HL_TMP/serve.err" && break
	sleep 0.1
done
grep -q "nginx: published CRL 1 .*after [0-9]* failed attempt" "$HL_TMP/serve.err" ||
    fail "the reload did not succeed on its own once nginx ran: $(grep nginx: "$HL_TMP/serve.err")"
ok "the exec publisher retried the reload on its own until nginx ran"

hl_csr client "/CN=exec-client"
code=$(hl_curl "$HL_TMP/client.pem" --cacert "$CA" \
    -H "Authorization: Bearer $ENROLL" -H "Content-Type: application/x-pem-file" \
    -H "Accept: application/pem-certificate-chain" \
    --data-binary "@$HL_TMP/client.csr" "$U/v1/certificates")
[ "$code" = 201 ] || fail "enroll $code"
SERIAL=$(openssl x509 -in "$HL_TMP/client.pem" -noout -serial | cut -d= -f2)
CLIENT=(--cacert "$N/server.pem" --cert "$HL_TMP/client.pem" --key "$HL_TMP/client.key")
code=$(hl_curl "$HL_TMP/n1" "${CLIENT[@]}" "https://localhost:$NP/")
[ "$code" = 200 ] || fail "enrolled client through nginx: $code $(cat "$HL_TMP/n1")"
ok "enrolled client: 200 through nginx"

code=$(hl_curl "$HL_TMP/rv.json" --cacert "$CA" -H "Authorization: Bearer $ADMIN" \
    -H "Content-Type: application/json" -d '{"reason": "keyCompromise"}' \
    "$U/v1/certificates/$SERIAL/revoke")
[ "$code" = 200 ] || fail "revoke $code $(cat "$HL_TMP/rv.json")"
t0=$(date +%s%N)
refused=0
for _ in $(seq 1 150); do
	code=$(hl_curl "$HL_TMP/n2" "${CLIENT[@]}" "https://localhost:$NP/")
	if [ "$code" = 400 ]; then refused=1; break; fi
	sleep 0.1
done
[ "$refused" = 1 ] || fail "revoked client still gets $code through nginx: $(grep nginx: "$HL_TMP/serve.err")"
grep -q "certificate revoked" "$N/logs/error.log" ||
    fail "nginx did not log a revoked certificate: $(tail -5 "$N/logs/error.log")"
grep -q "nginx: published CRL 2" "$HL_TMP/serve.err" || fail "the exec publisher did not run for CRL 2"
ok "revoked over the API: nginx, reloaded by the exec publisher, refuses the client after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
M() { "$MTLSCA" --config "$CONF" "$@"; }
M status | grep -A6 "publisher nginx (exec)" | grep -q "CRL published:    2" || fail "status: $(M status)"
echo PASS
