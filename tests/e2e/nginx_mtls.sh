#!/bin/bash
# nginx as the load balancer in front of an mTLS service: it trusts our
# /ca.pem and checks our /crl.pem. A freshly enrolled client gets in; once
# revoked (CRL refreshed, nginx reloaded) the same client is refused.
. "$(dirname "$0")/http_lib.sh"

D="$HL_TMP/data"
HP=$(free_port)
PP=$(free_port)
NP=$(free_port)
ENROLL="nginx-enroll-$RANDOM$RANDOM"
ADMIN="nginx-admin-$RANDOM$RANDOM"
CONF="$HL_TMP/mtlsca.conf"
hl_config "$CONF" "$D" "$HP" "$PP" "
profiles = ( { name = \"client\"; tokens = [ \"$(hl_sha256 "$ENROLL")\" ]; } );
admins = { token_hashes = [ \"$(hl_sha256 "$ADMIN")\" ]; };"
hl_init "$CONF"
hl_start serve --config "$CONF" serve
CA="$D/ca.pem"
U="https://localhost:$HP"
P="http://127.0.0.1:$PP"

# What a load balancer is given: the bundle and the CRL, from our endpoints;
# nginx's own server certificate: the one mtlsca issued for localhost.
N="$HL_TMP/nginx"
curl -sSf -o "$HL_TMP/lb-ca.pem" "$P/ca.pem" || fail "GET /ca.pem"
curl -sSf -o "$HL_TMP/lb-crl.pem" "$P/crl.pem" || fail "GET /crl.pem"
hl_nginx "$N" "$NP" "$HL_TMP/lb-ca.pem" "$HL_TMP/lb-crl.pem" \
    "$D/private/server.pem" "$D/private/server.key"
NGINX=$HL_NGINX
ok "nginx on 127.0.0.1:$NP with ssl_verify_client on, our ca.pem and crl.pem"

hl_csr client "/CN=nginx-client"
code=$(hl_curl "$HL_TMP/client.pem" --cacert "$CA" \
    -H "Authorization: Bearer $ENROLL" -H "Content-Type: application/x-pem-file" \
    -H "Accept: application/pem-certificate-chain" \
    --data-binary "@$HL_TMP/client.csr" "$U/v1/certificates")
[ "$code" = 201 ] || fail "enroll $code"
SERIAL=$(openssl x509 -in "$HL_TMP/client.pem" -noout -serial | cut -d= -f2)
CLIENT=(--cacert "$CA" --cert "$HL_TMP/client.pem" --key "$HL_TMP/client.key")

code=$(hl_curl "$HL_TMP/n1" "${CLIENT[@]}" "https://localhost:$NP/")
[ "$code" = 200 ] || fail "enrolled client through nginx: $code $(cat "$HL_TMP/n1")"
grep -q "CN=nginx-client" "$HL_TMP/n1" || fail "nginx saw: $(cat "$HL_TMP/n1")"
code=$(hl_curl "$HL_TMP/n0" --cacert "$CA" "https://localhost:$NP/")
[ "$code" = 400 ] || fail "no client certificate should be refused: $code"
ok "enrolled client: 200 through nginx; no certificate: 400"

code=$(hl_curl "$HL_TMP/rv.json" --cacert "$CA" -H "Authorization: Bearer $ADMIN" \
    -H "Content-Type: application/json" -d '{"reason": "keyCompromise"}' \
    "$U/v1/certificates/$SERIAL/revoke")
[ "$code" = 200 ] || fail "revoke $code $(cat "$HL_TMP/rv.json")"
hl_wait_crl "$P/crl" "$SERIAL" 3 >/dev/null || fail "/crl lacks $SERIAL"
curl -sSf -o "$N/crl.pem" "$P/crl.pem" || fail "GET /crl.pem"
kill -HUP "$NGINX"
# The reload is asynchronous: wait for the new worker to answer with the
# new CRL.
refused=0
for _ in $(seq 1 50); do
	code=$(hl_curl "$HL_TMP/n2" "${CLIENT[@]}" "https://localhost:$NP/")
	if [ "$code" = 400 ]; then refused=1; break; fi
	sleep 0.1
done
[ "$refused" = 1 ] || fail "revoked client still gets $code through nginx"
grep -q "certificate revoked" "$N/logs/error.log" ||
    fail "nginx did not log a revoked certificate: $(tail -5 "$N/logs/error.log")"
ok "after revoke + CRL refresh + nginx reload: the same client is refused (400, certificate revoked)"

hl_csr other "/CN=nginx-other"
code=$(hl_curl "$HL_TMP/other.pem" --cacert "$CA" \
    -H "Authorization: Bearer $ENROLL" -H "Content-Type: application/x-pem-file" \
    -H "Accept: application/pem-certificate-chain" \
    --data-binary "@$HL_TMP/other.csr" "$U/v1/certificates")
[ "$code" = 201 ] || fail "enroll other $code"
code=$(hl_curl "$HL_TMP/n3" --cacert "$CA" --cert "$HL_TMP/other.pem" \
    --key "$HL_TMP/other.key" "https://localhost:$NP/")
[ "$code" = 200 ] || fail "an unrevoked client is refused after the reload: $code"
ok "another client still gets in"

kill -QUIT "$NGINX"
wait "$NGINX" 2>/dev/null
hl_stop "$(printf '%s\n' "${HL_PIDS[@]}" | head -1)"
echo "PASS"
