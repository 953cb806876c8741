#!/bin/bash
# No identity beyond what was granted, and every refusal audited:
#   - a token bound with --cn (and --san) grants that CN and those SANs
#     only: another SAN is refused 403, naming it;
#   - an IPv4 address written as IPv6 is refused as an IP SAN;
#   - renewal keeps exactly the identities of the certificate renewed, and
#     happens once: the second renewal of one certificate is 409, naming
#     the first;
#   - after a profile change (OU no longer copied), renewing
#     OU=contractors, CN=ops-admin does not mint the admin CN=ops-admin;
#   - refusals (401/403/409/422) and admin reads are in `mtlsca audit`,
#     with the route, the reason and the peer, never the token; repeats
#     from one address are aggregated (one entry, then "N more").
. "$(dirname "$0")/http_lib.sh"

HP=$(free_port)
PP=$(free_port)
D="$HL_TMP/data"
ADMIN="identity-admin-$RANDOM$RANDOM"
CONF="$HL_TMP/mtlsca.conf"
admins="admins = { token_hashes = [ \"$(hl_sha256 "$ADMIN")\" ]; subjects = [ \"CN=ops-admin\" ]; };"
hl_config "$CONF" "$D" "$HP" "$PP" "$admins"
M() { "$MTLSCA" --config "$CONF" "$@"; }
hl_init "$CONF"	# serve --config never creates a CA
hl_start serve --config "$CONF" serve
CA="$D/ca.pem"
U="https://localhost:$HP"

post() {	# post NAME TOKEN [CURL ARGS...] -> status; body in NAME.json
	local name="$1" tok="$2"
	shift 2
	hl_curl "$HL_TMP/$name.json" --cacert "$CA" -H "Authorization: Bearer $tok" \
	    -H "Content-Type: application/x-pem-file" \
	    -H "Accept: application/json" "$@" \
	    --data-binary @"$HL_TMP/$name.csr" "$U/v1/certificates"
}
csr() {		# csr NAME SUBJ [SAN]
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$HL_TMP/$1.key" -subj "$2" ${3:+-addext "subjectAltName=$3"} \
	    -out "$HL_TMP/$1.csr" 2>/dev/null || fail "CSR $1"
}
pem_of() {	# the certificate of NAME.json into NAME.pem
	"$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["certificate"], end="")' \
	    "$HL_TMP/$1.json" >"$HL_TMP/$1.pem"
}

# ---- bound tokens ----
T1=$(M token create --cn alice --san dns:alice.example.com --uses 2 2>/dev/null)
csr greedy "/CN=alice" "DNS:alice.example.com,DNS:payments.internal.example,URI:spiffe://example.com/admin"
code=$(post greedy "$T1")
hl_expect_error "$HL_TMP/greedy.json" 403 "$code" forbidden
grep -q "dns:payments.internal.example" "$HL_TMP/greedy.json" || fail "the SAN is not named: $(cat "$HL_TMP/greedy.json")"
[ "$(hl_json "$HL_TMP/greedy.json" reason)" = token_bound_san ] || fail "reason"
csr alice "/CN=alice" "DNS:alice.example.com"
[ "$(post alice "$T1")" = 201 ] || fail "the granted SAN: $(cat "$HL_TMP/alice.json")"
T2=$(M token create --cn bob 2>/dev/null)
csr bob "/CN=bob" "IP:10.0.0.7"
code=$(post bob "$T2")
hl_expect_error "$HL_TMP/bob.json" 403 "$code" forbidden
ok "bound tokens: a SAN not granted is refused 403 with the SAN named"

# ---- IPv4 written as IPv6 ----
csr mapped "/CN=mapped" "IP:::ffff:127.0.0.1"
code=$(post mapped "$ADMIN")
hl_expect_error "$HL_TMP/mapped.json" 422 "$code" policy
grep -q "written as IPv6" "$HL_TMP/mapped.json" || fail "$(cat "$HL_TMP/mapped.json")"
ok "IP SAN ::ffff:127.0.0.1: 422"

# ---- renewal: the same names, once ----
pem_of alice
renew() {	# renew NAME CERT KEY -> status; body in NAME.json
	hl_curl "$HL_TMP/$1.json" --cacert "$CA" --cert "$2" --key "$3" \
	    -H "Content-Type: application/x-pem-file" \
	    --data-binary @"$HL_TMP/$1.csr" "$U/v1/certificates/renew"
}
csr r1 "/CN=alice" "DNS:alice.example.com,DNS:extra.example.com"
code=$(renew r1 "$HL_TMP/alice.pem" "$HL_TMP/alice.key")
hl_expect_error "$HL_TMP/r1.json" 422 "$code" policy
grep -q "does not name dns:extra.example.com" "$HL_TMP/r1.json" || fail "$(cat "$HL_TMP/r1.json")"
csr r2 "/CN=alice" "DNS:alice.example.com"
[ "$(renew r2 "$HL_TMP/alice.pem" "$HL_TMP/alice.key")" = 201 ] || fail "renewal: $(cat "$HL_TMP/r2.json")"
NEW=$(hl_json "$HL_TMP/r2.json" serial)
code=$(renew r2 "$HL_TMP/alice.pem" "$HL_TMP/alice.key")
hl_expect_error "$HL_TMP/r2.json" 409 "$code" exists
grep -q "already renewed by $NEW" "$HL_TMP/r2.json" || fail "$(cat "$HL_TMP/r2.json")"
ok "renewal: no SAN added; once only (409 naming $NEW)"

# ---- a profile change does not mint an admin ----
csr ops "/OU=contractors/CN=ops-admin"
[ "$(post ops "$ADMIN")" = 201 ] || fail "ops: $(cat "$HL_TMP/ops.json")"
pem_of ops
hl_stop "$HL_PID"
printf '%s\n' "profiles = ( { name = \"client\"; subject_allowed = [ \"CN\" ]; } );" >>"$CONF"
hl_start serve2 --config "$CONF" serve
csr opsr "/OU=contractors/CN=ops-admin"
code=$(renew opsr "$HL_TMP/ops.pem" "$HL_TMP/ops.key")
hl_expect_error "$HL_TMP/opsr.json" 422 "$code" policy
grep -q "renewal keeps the subject" "$HL_TMP/opsr.json" || fail "$(cat "$HL_TMP/opsr.json")"
code=$(hl_curl "$HL_TMP/crl.json" --cacert "$CA" --cert "$HL_TMP/ops.pem" \
    --key "$HL_TMP/ops.key" -X POST "$U/v1/crl")
hl_expect_error "$HL_TMP/crl.json" 403 "$code" forbidden
ok "renewing OU=contractors,CN=ops-admin after the profile change: 422, not an admin"

# ---- the audit of refusals and reads ----
for i in $(seq 1 20); do
	hl_curl /dev/null --cacert "$CA" -H "Authorization: Bearer no-such-token-$i" \
	    "$U/v1/crl/status" >/dev/null
done
hl_curl /dev/null --cacert "$CA" "$U/v1/crl/status" >/dev/null
hl_curl /dev/null --cacert "$CA" -H "Authorization: Bearer $ADMIN" "$U/v1/certificates" >/dev/null
hl_curl /dev/null --cacert "$CA" -H "Authorization: Bearer $ADMIN" "$U/v1/crl/status" >/dev/null
hl_stop "$HL_PID"	# writes what is queued, repeats included
M audit >"$HL_TMP/audit.txt" || fail "mtlsca audit"
grep -q "refuse.*POST /v1/certificates status=403 reason=token_bound_san peer=127.0.0.1" "$HL_TMP/audit.txt" ||
    fail "no bound-SAN refusal in the audit: $(cat "$HL_TMP/audit.txt")"
grep -q "refuse.*POST /v1/certificates/renew status=409 reason=already_renewed" "$HL_TMP/audit.txt" ||
    fail "no 409 in the audit"
grep -q "refuse.*POST /v1/certificates/renew status=422 reason=renewal_identity" "$HL_TMP/audit.txt" ||
    fail "no renewal refusal in the audit"
grep -q "refuse.*GET /v1/crl/status status=401" "$HL_TMP/audit.txt" || fail "no 401 in the audit"
# 20 different wrong tokens from one address: one kind (address, route,
# reason), so one entry and one "19 more" — and never a token in clear.
n403=$(grep -c "refuse.*GET /v1/crl/status status=403 reason=not_admin" "$HL_TMP/audit.txt")
[ "$n403" = 1 ] || fail "20 refusals of one kind gave $n403 entries"
grep -q "repeat.*19 more in the 60 s after the first: GET /v1/crl/status status=403 reason=not_admin" \
    "$HL_TMP/audit.txt" || fail "no aggregated repeat: $(cat "$HL_TMP/audit.txt")"
grep -q "no-such-token" "$HL_TMP/audit.txt" && fail "a token in clear in the audit"
grep -q "read.*GET /v1/certificates peer=127.0.0.1" "$HL_TMP/audit.txt" || fail "no admin read"
grep -q "read.*GET /v1/crl/status peer=127.0.0.1" "$HL_TMP/audit.txt" || fail "no admin read of the CRL status"
ok "refusals ($(grep -c "	refuse	" "$HL_TMP/audit.txt")) and admin reads ($(grep -c "	read	" "$HL_TMP/audit.txt")) audited"

echo "PASS"
