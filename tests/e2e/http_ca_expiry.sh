#!/bin/bash
# The CA's own expiry (issue 12), checked against openssl's reading of the
# certificates: a 10-day CA under a 365-day profile cuts every client to
# its notAfter and says so ("truncated": true with the reason in the
# enrollment answer, a warning from `sign`, the audit entry); serve warns
# at start; status and /metrics give the level; MTLSCA_FAKE_NOW walks it
# through 7 days and expired. A CA that outlives the profile says nothing.
. "$(dirname "$0")/http_lib.sh"

D="$HL_TMP/data"
HP=$(free_port)
PP=$(free_port)
STATIC="e2e-static-$RANDOM$RANDOM$RANDOM"
CONF="$HL_TMP/mtlsca.conf"
hl_config "$CONF" "$D" "$HP" "$PP" "
profiles = ( { name = \"client\"; days = 365;
	tokens = [ \"$(hl_sha256 "$STATIC")\" ]; } );"
M() { "$MTLSCA" --config "$CONF" "$@"; }
enddate() { openssl x509 -in "$1" -noout -enddate | sed 's/notAfter=//'; }

"$MTLSCA" --config "$CONF" init --days 10 >"$HL_TMP/init.out" 2>&1 ||
    fail "init: $(cat "$HL_TMP/init.out")"
CA="$D/ca.pem"
CA_END=$(enddate "$CA")

# sign: cut, and said.
hl_csr s "/CN=short-sign"
M sign --csr "$HL_TMP/s.csr" --out "$HL_TMP/s.pem" 2>"$HL_TMP/sign.err" || fail "sign"
[ "$(enddate "$HL_TMP/s.pem")" = "$CA_END" ] ||
    fail "sign: notAfter $(enddate "$HL_TMP/s.pem"), the CA's is $CA_END"
grep -q "warning: validity truncated: the CA certificate expires on" "$HL_TMP/sign.err" ||
    fail "sign did not say it cut the validity: $(cat "$HL_TMP/sign.err")"
ok "sign cut the certificate to the CA's notAfter ($CA_END, as openssl reads both) and said so"

# status: the level.
M status >"$HL_TMP/status.out" 2>&1 || true
grep -q "CA expiry: .*sooner than the longest profile validity.*(30d)" "$HL_TMP/status.out" ||
    fail "status: $(grep 'CA expiry' "$HL_TMP/status.out")"
MTLSCA_FAKE_NOW=$(date -u -d "+5 days" +%Y-%m-%dT%H:%M:%SZ) M status 2>&1 |
    grep -q "CA expiry: .*(7d)" || fail "status 5 days on"
MTLSCA_FAKE_NOW=$(date -u -d "+11 days" +%Y-%m-%dT%H:%M:%SZ) M status 2>&1 |
    grep -q "CA expiry: *the CA expired on .*(expired)" || fail "status 11 days on"
# status --json: the same level, and the CA's notAfter as openssl reads it.
M status --json >"$HL_TMP/status.json" 2>/dev/null || true
lvl=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["ca_expiry"])' "$HL_TMP/status.json") ||
    fail "status --json: $(cat "$HL_TMP/status.json")"
[ "$lvl" = 30d ] || fail "status --json: ca_expiry $lvl"
na=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["ca_not_after"])' "$HL_TMP/status.json")
[ "$na" = "$(date -u -d "$(openssl x509 -in "$D/ca.pem" -noout -enddate | cut -d= -f2)" +%s)" ] ||
    fail "status --json: ca_not_after $na"
ok "status gives the CA's expiry level (30d, then 7d and expired with MTLSCA_FAKE_NOW; --json too)"

# serve: a warning at start; the enrollment answer and the audit say it.
hl_start serve --config "$CONF" serve
U="https://localhost:$HP"
P="http://127.0.0.1:$PP"
grep -q "warning mtlsca: the CA expires on .*sooner than the longest profile validity" \
    "$HL_TMP/serve.err" || fail "no start-up warning"
hl_csr e "/CN=short-enroll"
code=$(hl_curl "$HL_TMP/e.json" --cacert "$CA" -H "Authorization: Bearer $STATIC" \
    -H "Content-Type: application/x-pem-file" --data-binary "@$HL_TMP/e.csr" \
    "$U/v1/certificates")
[ "$code" = 201 ] || fail "enroll: $code $(cat "$HL_TMP/e.json")"
[ "$(hl_json "$HL_TMP/e.json" truncated)" = true ] || fail "no truncated: $(cat "$HL_TMP/e.json")"
hl_json "$HL_TMP/e.json" truncated_reason | grep -q "expires on .*not the 365 day(s) asked" ||
    fail "reason: $(hl_json "$HL_TMP/e.json" truncated_reason)"
hl_json "$HL_TMP/e.json" certificate >"$HL_TMP/e.pem"
[ "$(enddate "$HL_TMP/e.pem")" = "$CA_END" ] || fail "enroll: notAfter $(enddate "$HL_TMP/e.pem")"
SERIAL=$(hl_json "$HL_TMP/e.json" serial)
M audit | grep "serial=$SERIAL" | grep -q "truncated: the CA certificate expires on" ||
    fail "audit: $(M audit | grep "serial=$SERIAL")"
curl -sS "$P/metrics" | grep -qx 'mtlsca_ca_expiry_warning{level="30d"} 1' ||
    fail "metrics: $(curl -sS "$P/metrics" | grep ca_expiry)"
ok "enrollment answers \"truncated\": true with the reason; audit, start-up warning and /metrics say it"
hl_stop "$HL_PID"

# A CA that outlives the profile: nothing cut, nothing said.
D2="$HL_TMP/data2"
CONF2="$HL_TMP/mtlsca2.conf"
HP2=$(free_port)
PP2=$(free_port)
hl_config "$CONF2" "$D2" "$HP2" "$PP2" "
profiles = ( { name = \"client\"; days = 365;
	tokens = [ \"$(hl_sha256 "$STATIC")\" ]; } );"
"$MTLSCA" --config "$CONF2" init --days 1024 >/dev/null 2>&1 || fail "init 2"
hl_start serve2 --config "$CONF2" serve
! grep -q "warning: the CA expires" "$HL_TMP/serve2.err" || fail "a warning for a 1024-day CA"
code=$(hl_curl "$HL_TMP/f.json" --cacert "$D2/ca.pem" -H "Authorization: Bearer $STATIC" \
    -H "Content-Type: application/x-pem-file" --data-binary "@$HL_TMP/e.csr" \
    "https://localhost:$HP2/v1/certificates")
[ "$code" = 201 ] || fail "enroll 2: $code"
[ "$(hl_json "$HL_TMP/f.json" truncated)" = false ] || fail "truncated for a long CA"
curl -sS "http://127.0.0.1:$PP2/metrics" | grep -qx 'mtlsca_ca_expiry_warning{level="ok"} 0' ||
    fail "metrics 2"
"$MTLSCA" --config "$CONF2" status 2>&1 | grep -q "CA expiry: .*(ok)" || fail "status 2"
ok "a CA that outlives the profile: not truncated, no warning, level ok"
hl_stop "$HL_PID"
echo PASS
