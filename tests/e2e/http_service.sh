#!/bin/bash
# `mtlsca serve` end to end, with curl and openssl as independent clients:
# enrollment (EC and RSA CSRs made by openssl, certificates checked with
# `openssl verify`), token refusals, body and policy limits, admin by mTLS
# certificate and by token, a non-admin certificate refused, revocations
# (over HTTP and by the CLI from another process) reaching /crl within 3 s,
# renewal, the audit log, a restart in the other threading mode that keeps
# everything, and a second serve on the same ports refused.
. "$(dirname "$0")/http_lib.sh"

D="$HL_TMP/data"
HP=$(free_port)
PP=$(free_port)
STATIC="e2e-static-$RANDOM$RANDOM$RANDOM"
ADMIN="e2e-admin-$RANDOM$RANDOM$RANDOM"
CONF="$HL_TMP/mtlsca.conf"
hl_config "$CONF" "$D" "$HP" "$PP" "
profiles = ( { name = \"client\"; tokens = [ \"$(hl_sha256 "$STATIC")\" ]; } );
admins = { subjects = [ \"CN=e2e-admin\" ];
	token_hashes = [ \"$(hl_sha256 "$ADMIN")\" ]; };"
M() { "$MTLSCA" --config "$CONF" "$@"; }

hl_init "$CONF"
hl_start serve --config "$CONF" serve
SERVER=$HL_PID
CA="$D/ca.pem"
U="https://localhost:$HP"
P="http://127.0.0.1:$PP"
[ -f "$CA" ] || fail "no CA"
grep -q "admin token:" "$D/first-start-tokens.txt" || fail "no first-start tokens"
ok "serve wrote its first-start tokens (stdout is not a terminal)"
left=$(curl -sS "$P/metrics" | sed -n 's/^mtlsca_https_cert_expiry_seconds //p')
[ "$left" -gt $(( 364 * 86400 )) ] && [ "$left" -le $(( 365 * 86400 )) ] ||
    fail "mtlsca_https_cert_expiry_seconds '$left': the issued one has 365 days"
! grep -q "warning: the HTTPS certificate" "$HL_TMP/serve.err" ||
    fail "an expiry warning for a certificate of 365 days"

enroll() {	# enroll NAME TOKEN -> prints status; body in NAME.json
	hl_curl "$HL_TMP/$1.json" --cacert "$CA" \
	    -H "Authorization: Bearer $2" \
	    -H "Content-Type: application/x-pem-file" \
	    --data-binary "@$HL_TMP/$1.csr" "$U/v1/certificates"
}
take_cert() {	# NAME: NAME.pem from NAME.json, checked by openssl
	"$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["certificate"], end="")' \
	    "$HL_TMP/$1.json" >"$HL_TMP/$1.pem"
	openssl verify -CAfile "$CA" "$HL_TMP/$1.pem" >/dev/null ||
	    fail "openssl verify $1"
	hl_json "$HL_TMP/$1.json" serial
}

# ---- enrollment ----
hl_csr ec "/CN=e2e-ec"
hl_csr rsa "/CN=e2e-rsa/O=Example" rsa 2048
[ "$(enroll ec "$STATIC")" = 201 ] || fail "EC enroll: $(cat "$HL_TMP/ec.json")"
EC_SERIAL=$(take_cert ec)
[ "$(enroll rsa "$STATIC")" = 201 ] || fail "RSA enroll: $(cat "$HL_TMP/rsa.json")"
RSA_SERIAL=$(take_cert rsa)
openssl x509 -in "$HL_TMP/rsa.pem" -noout -ext extendedKeyUsage |
    grep -q "TLS Web Client Authentication" || fail "no clientAuth EKU"
ok "enrolled EC ($EC_SERIAL) and RSA ($RSA_SERIAL); openssl verify passes"

hl_csr chain "/CN=e2e-chain"
code=$(hl_curl "$HL_TMP/chain.pem" --cacert "$CA" \
    -H "Authorization: Bearer $STATIC" -H "Content-Type: application/x-pem-file" \
    -H "Accept: application/pem-certificate-chain" \
    --data-binary "@$HL_TMP/chain.csr" "$U/v1/certificates")
[ "$code" = 201 ] || fail "PEM chain enroll $code"
[ "$(grep -c 'BEGIN CERTIFICATE' "$HL_TMP/chain.pem")" = 2 ] || fail "chain"
openssl verify -CAfile "$CA" "$HL_TMP/chain.pem" >/dev/null || fail "chain verify"
ok "Accept: application/pem-certificate-chain"

# ---- refusals ----
code=$(enroll ec "wrong-token")
hl_expect_error "$HL_TMP/ec.json" 403 "$code" forbidden
code=$(hl_curl "$HL_TMP/ec.json" --cacert "$CA" -u user:pass \
    -H "Content-Type: application/x-pem-file" \
    --data-binary "@$HL_TMP/ec.csr" "$U/v1/certificates")
hl_expect_error "$HL_TMP/ec.json" 401 "$code" unauthorized
ok "wrong token: 403; no bearer token: 401"

ONCE=$(M token create --profile client --uses 1 2>/dev/null) ||
    fail "token create"
[ -n "$ONCE" ] || fail "token create printed nothing"
hl_csr once "/CN=once"
[ "$(enroll once "$ONCE")" = 201 ] || fail "one-time token: $(cat "$HL_TMP/once.json")"
code=$(enroll once "$ONCE")
hl_expect_error "$HL_TMP/once.json" 403 "$code" forbidden
grep -q "used" "$HL_TMP/once.json" || fail "no 'used' in $(cat "$HL_TMP/once.json")"
ok "one-time token: first 201, second refused"

BOUND=$(M token create --profile client --cn alice --ttl 1h 2>/dev/null)
code=$(enroll once "$BOUND")
hl_expect_error "$HL_TMP/once.json" 403 "$code" forbidden
hl_csr alice "/CN=alice"
[ "$(enroll alice "$BOUND")" = 201 ] || fail "CN-bound token for alice"
ok "CN-bound token: other CN 403, its CN 201"

printf 'this is not a CSR\n' >"$HL_TMP/bad.csr"
code=$(enroll bad "$STATIC")
hl_expect_error "$HL_TMP/bad.json" 400 "$code" malformed
ok "malformed CSR: 400 ($(hl_json "$HL_TMP/bad.json" message))"

hl_csr weak "/CN=weak" rsa 1024
code=$(enroll weak "$STATIC")
hl_expect_error "$HL_TMP/weak.json" 422 "$code" policy
grep -q 1024 "$HL_TMP/weak.json" && grep -q 2048 "$HL_TMP/weak.json" ||
    fail "the 422 does not name the rule: $(cat "$HL_TMP/weak.json")"
ok "RSA-1024: 422 ($(hl_json "$HL_TMP/weak.json" message))"

# The service's own name cannot be enrolled (it would carry serverAuth).
hl_csr impostor "/CN=localhost" ec
code=$(enroll impostor "$STATIC")
hl_expect_error "$HL_TMP/impostor.json" 422 "$code" policy
grep -q impersonate "$HL_TMP/impostor.json" ||
    fail "the 422 does not say why: $(cat "$HL_TMP/impostor.json")"
ok "CN=localhost (a server name): 422 ($(hl_json "$HL_TMP/impostor.json" message))"

head -c 71680 /dev/zero | tr '\0' 'A' >"$HL_TMP/big.csr"
code=$(enroll big "$STATIC")
hl_expect_error "$HL_TMP/big.json" 413 "$code" too_big
head -c 3000000 /dev/zero | tr '\0' 'A' >"$HL_TMP/huge.csr"
code=$(enroll huge "$STATIC")
hl_expect_error "$HL_TMP/huge.json" 413 "$code" too_big
# A chunked body has no Content-Length: past the cap it is drained and
# answered 413 as well; past 1 MiB the connection closes.
code=$(hl_curl "$HL_TMP/chunk.json" --cacert "$CA" -H "Authorization: Bearer $STATIC" \
    -H "Content-Type: application/x-pem-file" -H "Transfer-Encoding: chunked" \
    --data-binary "@$HL_TMP/big.csr" "$U/v1/certificates" 2>/dev/null)
hl_expect_error "$HL_TMP/chunk.json" 413 "$code" too_big
code=$(hl_curl "$HL_TMP/chunk.json" --cacert "$CA" -H "Authorization: Bearer $STATIC" \
    -H "Content-Type: application/x-pem-file" -H "Transfer-Encoding: chunked" \
    --data-binary "@$HL_TMP/huge.csr" "$U/v1/certificates" 2>/dev/null)
# (curl reports the 100 Continue it had, or 000: no final answer.)
case "$code" in 000|100) ;; *) fail "a chunked body of 3 MB answered $code";; esac
ok "70 KiB and 3 MB bodies: 413; chunked 70 KiB: 413, chunked 3 MB: closed"

# The request line and headers are capped by mtlsca itself, so that the
# answer is JSON, not libmicrohttpd's HTML.
long=$(head -c 9000 /dev/zero | tr '\0' a)
code=$(hl_curl "$HL_TMP/uri.json" --cacert "$CA" "$U/v1/crl/status?x=$long")
hl_expect_error "$HL_TMP/uri.json" 414 "$code" uri_too_long
code=$(hl_curl "$HL_TMP/hdr.json" --cacert "$CA" -H "X-A: $long" -H "X-B: $long" "$U/healthz")
hl_expect_error "$HL_TMP/hdr.json" 431 "$code" headers_too_large
# A malformed token, whatever its length, is a token refused: 403.
code=$(hl_curl "$HL_TMP/tok.json" --cacert "$CA" -H "Authorization: Bearer $(head -c 600 /dev/zero | tr '\0' t)" \
    "$U/v1/crl/status")
hl_expect_error "$HL_TMP/tok.json" 403 "$code" forbidden
[ "$(hl_json "$HL_TMP/tok.json" reason)" = token_malformed ] || fail "no reason: $(cat "$HL_TMP/tok.json")"
ok "URL over 8 KiB: 414 JSON; headers over 16 KiB: 431 JSON; a 600-byte token: 403"

code=$(hl_curl "$HL_TMP/nf.json" --cacert "$CA" "$U/v1/nothing-here")
hl_expect_error "$HL_TMP/nf.json" 404 "$code" not_found
code=$(hl_curl "$HL_TMP/nf.json" "$P/nothing")
hl_expect_error "$HL_TMP/nf.json" 404 "$code" not_found
code=$(hl_curl "$HL_TMP/nf.json" -X PUT "$P/crl")
hl_expect_error "$HL_TMP/nf.json" 405 "$code" method_not_allowed
ok "unknown route: 404; wrong method: 405"

# ---- public files ----
[ "$(hl_curl "$HL_TMP/ca-bundle.pem" "$P/ca.pem")" = 200 ] || fail "/ca.pem"
cmp -s <(openssl x509 -in "$CA" -outform DER) \
    <(openssl x509 -in "$HL_TMP/ca-bundle.pem" -outform DER) || fail "/ca.pem differs"
! grep -q '^$' "$HL_TMP/ca-bundle.pem" || fail "blank line in /ca.pem"
[ "$(head -c 27 "$HL_TMP/ca-bundle.pem")" = "-----BEGIN CERTIFICATE-----" ] ||
    fail "text before the PEM in /ca.pem"
[ "$(hl_curl "$HL_TMP/crl.pem" "$P/crl.pem")" = 200 ] || fail "/crl.pem"
openssl crl -in "$HL_TMP/crl.pem" -CAfile "$CA" -noout 2>&1 | grep -q "verify OK" ||
    fail "/crl.pem does not verify"
[ "$(hl_curl "$HL_TMP/h.json" "$P/healthz")" = 200 ] || fail "/healthz"
[ "$(hl_curl "$HL_TMP/metrics.txt" "$P/metrics")" = 200 ] || fail "/metrics"
for m in mtlsca_certificates_issued_total mtlsca_crl_number mtlsca_crl_entries \
    mtlsca_crl_bytes mtlsca_crl_next_update_seconds \
    mtlsca_crl_last_success_timestamp_seconds mtlsca_http_requests_total \
    mtlsca_http_request_duration_seconds_bucket mtlsca_ca_expiry_seconds \
    mtlsca_revocations_total; do
	grep -q "^$m" "$HL_TMP/metrics.txt" || fail "metric $m missing"
done
# A small exposition-format parser (Prometheus text 0.0.4): HELP and TYPE
# before samples, label syntax, histograms cumulative and ending in +Inf
# equal to _count, with _sum.
"$PY" - "$HL_TMP/metrics.txt" <<'PYEOF' || fail "/metrics is not a valid exposition"
import re, sys
types, helps, hist = {}, set(), {}
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\})? (\S+)$')
for line in open(sys.argv[1]).read().split("\n")[:-1]:
    if line.startswith("# HELP "):
        helps.add(line.split()[2]); continue
    if line.startswith("# TYPE "):
        _, _, name, t = line.split()
        assert name in helps and t in ("counter", "gauge", "histogram"), line
        types[name] = t; continue
    m = sample.match(line)
    assert m, "bad line: " + line
    name, labels, value = m.group(1), m.group(3) or "", float(m.group(4))
    lab = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels))
    base = re.sub(r'_(bucket|sum|count)$', '', name)
    if name in types:
        assert types[name] != "histogram", line
        continue
    assert types.get(base) == "histogram", "no TYPE for " + line
    key = (base, tuple(sorted((k, v) for k, v in lab.items() if k != "le")))
    h = hist.setdefault(key, {"b": []})
    if name.endswith("_bucket"):
        h["b"].append((float("inf") if lab["le"] == "+Inf" else float(lab["le"]), value))
    else:
        h[name[len(base) + 1:]] = value
assert hist, "no histogram"
for key, h in hist.items():
    les = [b[0] for b in h["b"]]
    vals = [b[1] for b in h["b"]]
    assert les == sorted(les) and les[-1] == float("inf"), key
    assert vals == sorted(vals), ("not cumulative", key, vals)
    assert vals[-1] == h["count"] and "sum" in h, key
PYEOF
ok "/ca.pem, /crl.pem (openssl verifies), /healthz, /metrics (a valid exposition)"

# ---- admin ----
# An admin subject is an admin credential: an enrollment token cannot mint
# one; the admin token can.
hl_csr admin "/CN=e2e-admin"
code=$(enroll admin "$STATIC")
hl_expect_error "$HL_TMP/admin.json" 403 "$code" forbidden
[ "$(enroll admin "$ADMIN")" = 201 ] || fail "admin enroll: $(cat "$HL_TMP/admin.json")"
take_cert admin >/dev/null
ok "admin subject: enrollment token 403, admin token 201"
ADM=(--cert "$HL_TMP/admin.pem" --key "$HL_TMP/admin.key")
USR=(--cert "$HL_TMP/ec.pem" --key "$HL_TMP/ec.key")

code=$(hl_curl "$HL_TMP/l.json" --cacert "$CA" "$U/v1/certificates")
hl_expect_error "$HL_TMP/l.json" 401 "$code" unauthorized
code=$(hl_curl "$HL_TMP/l.json" --cacert "$CA" "${USR[@]}" "$U/v1/certificates")
hl_expect_error "$HL_TMP/l.json" 403 "$code" forbidden
code=$(hl_curl "$HL_TMP/l.json" --cacert "$CA" -H "Authorization: Bearer $STATIC" \
    "$U/v1/certificates")
hl_expect_error "$HL_TMP/l.json" 403 "$code" forbidden
ok "admin routes: no credentials 401, user certificate 403, enrollment token 403"

code=$(hl_curl "$HL_TMP/l.json" --cacert "$CA" "${ADM[@]}" "$U/v1/certificates?cn=e2e-ec")
[ "$code" = 200 ] || fail "list as admin: $code $(cat "$HL_TMP/l.json")"
[ "$(hl_json "$HL_TMP/l.json" certificates.0.serial)" = "$EC_SERIAL" ] ||
    fail "cn filter: $(cat "$HL_TMP/l.json")"

# Renewal over mTLS, before the EC certificate is revoked.
hl_csr renew "/CN=e2e-ec"
code=$(hl_curl "$HL_TMP/renew.json" --cacert "$CA" "${USR[@]}" \
    -H "Content-Type: application/x-pem-file" \
    --data-binary "@$HL_TMP/renew.csr" "$U/v1/certificates/renew")
[ "$code" = 201 ] || fail "renew: $code $(cat "$HL_TMP/renew.json")"
RENEW_SERIAL=$(take_cert renew)
[ "$RENEW_SERIAL" != "$EC_SERIAL" ] || fail "renew kept the serial"
ok "renewal over mTLS: $RENEW_SERIAL"

code=$(hl_curl "$HL_TMP/rv.json" --cacert "$CA" "${ADM[@]}" \
    -H "Content-Type: application/json" -d '{"reason": "keyCompromise"}' \
    "$U/v1/certificates/$EC_SERIAL/revoke")
[ "$code" = 200 ] || fail "revoke by admin cert: $code $(cat "$HL_TMP/rv.json")"
ms=$(hl_wait_crl "$P/crl" "$EC_SERIAL" 3) || fail "/crl lacks $EC_SERIAL after 3 s"
ok "revoked by admin certificate; in /crl after ${ms} ms"

code=$(hl_curl "$HL_TMP/rv.json" --cacert "$CA" -H "Authorization: Bearer $ADMIN" \
    -X POST "$U/v1/certificates/$RSA_SERIAL/revoke")
[ "$code" = 200 ] || fail "revoke by admin token: $code $(cat "$HL_TMP/rv.json")"
ms=$(hl_wait_crl "$P/crl" "$RSA_SERIAL" 3) || fail "/crl lacks $RSA_SERIAL after 3 s"
ok "revoked by admin token; in /crl after ${ms} ms"

code=$(hl_curl "$HL_TMP/l.json" --cacert "$CA" "${USR[@]}" \
    -H "Content-Type: application/x-pem-file" \
    --data-binary "@$HL_TMP/renew.csr" "$U/v1/certificates/renew")
hl_expect_error "$HL_TMP/l.json" 403 "$code" forbidden
ok "a revoked certificate cannot renew"

hl_csr victim "/CN=cli-victim"
[ "$(enroll victim "$STATIC")" = 201 ] || fail "victim enroll"
VICTIM=$(take_cert victim)
M revoke "$VICTIM" --reason superseded >/dev/null 2>"$HL_TMP/revoke.err" ||
    fail "mtlsca revoke: $(cat "$HL_TMP/revoke.err")"
ms=$(hl_wait_crl "$P/crl" "$VICTIM" 3) || fail "CLI revocation not in /crl after 3 s"
ok "revoked by the CLI in another process; in /crl after ${ms} ms"

code=$(hl_curl "$HL_TMP/s.json" --cacert "$CA" -H "Authorization: Bearer $ADMIN" \
    "$U/v1/crl/status")
[ "$code" = 200 ] || fail "crl status $code"
CRLNUM=$(hl_json "$HL_TMP/s.json" number)
[ "$(hl_json "$HL_TMP/s.json" entries)" -ge 3 ] || fail "entries: $(cat "$HL_TMP/s.json")"
code=$(hl_curl "$HL_TMP/s.json" --cacert "$CA" "${ADM[@]}" -X POST "$U/v1/crl")
[ "$code" = 200 ] || fail "POST /v1/crl $code"
[ "$(hl_json "$HL_TMP/s.json" number)" -gt "$CRLNUM" ] || fail "CRL number did not rise"
CRLNUM=$(hl_json "$HL_TMP/s.json" number)
ok "POST /v1/crl: CRL $CRLNUM"

# The schedule takes turns with `mtlsca crl` and `publish` in other
# processes: while another holds data/crl.lock, POST /v1/crl waits.
rm -f "$HL_TMP/order"
flock "$D/crl.lock" sh -c "sleep 1; echo holder >> '$HL_TMP/order'" &
holder=$!
for _ in $(seq 100); do
	flock -n "$D/crl.lock" true || break
	sleep 0.02
done
code=$(hl_curl "$HL_TMP/s.json" --cacert "$CA" "${ADM[@]}" -X POST "$U/v1/crl")
echo serve >> "$HL_TMP/order"
wait "$holder"
[ "$code" = 200 ] || fail "POST /v1/crl with the lock held elsewhere: $code"
[ "$(tr '\n' ' ' < "$HL_TMP/order")" = "holder serve " ] ||
    fail "the CRL run did not wait for the lock: $(cat "$HL_TMP/order")"
grep -q "waiting for another mtlsca process to finish its CRL run" "$HL_TMP/serve.err" ||
    fail "serve did not say why the CRL run waited"
[ "$(hl_json "$HL_TMP/s.json" number)" -gt "$CRLNUM" ] || fail "CRL number did not rise"
CRLNUM=$(hl_json "$HL_TMP/s.json" number)
ok "POST /v1/crl waits while another process holds crl.lock: CRL $CRLNUM"

M audit >"$HL_TMP/audit.txt" 2>&1 || fail "mtlsca audit: $(cat "$HL_TMP/audit.txt")"
grep -q "	issue	" "$HL_TMP/audit.txt" || fail "no issue in the audit log"
grep -q "	revoke	serial=$EC_SERIAL" "$HL_TMP/audit.txt" || fail "no revoke in the audit log"
grep -q "	renew	" "$HL_TMP/audit.txt" || fail "no renew in the audit log"
grep -q "cert:.*CN=e2e-admin	revoke" "$HL_TMP/audit.txt" || fail "who is missing"
! grep -q -e "$STATIC" -e "$ADMIN" -e "$ONCE" "$HL_TMP/audit.txt" ||
    fail "a token in clear in the audit log"
! grep -q -e "$STATIC" -e "$ADMIN" -e "$ONCE" "$HL_TMP/serve.err" ||
    fail "a token in clear in the server log"
ok "audit log: who, what, when; no token in clear"

# ---- restart keeps everything ----
TWO=$(M token create --profile client --uses 2 2>/dev/null)
hl_csr two "/CN=two"
[ "$(enroll two "$TWO")" = 201 ] || fail "two-use token, first use"
COUNT=$(curl -sS --cacert "$CA" -H "Authorization: Bearer $ADMIN" \
    "$U/v1/certificates?limit=1000" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["certificates"]))')
hl_stop "$SERVER"
grep -q "mtlsca: stopped" "$HL_TMP/serve.err" || fail "no clean stop"
ok "SIGTERM: clean stop"

# The restart runs the other threading mode: three event loops, each on a
# socket of its own (SO_REUSEPORT) on the same port.
CONF2="$HL_TMP/mtlsca-pool.conf"
sed 's/^http = {/http = { threading = "pool"; threads = 3;/' "$CONF" >"$CONF2"
M() { "$MTLSCA" --config "$CONF2" "$@"; }
rm -f "$D/first-start-tokens.txt"	# read, then deleted, as it asks
hl_start serve2 --config "$CONF2" serve
[ "$(hl_listeners "$HP")" = 3 ] ||
    fail "pool mode: $(hl_listeners "$HP") listening sockets on $HP, not 3"
[ ! -e "$D/first-start-tokens.txt" ] && ! grep -q "admin token:" "$HL_TMP/serve2.out" ||
    fail "tokens made again on restart"
[ "$(hl_curl "$HL_TMP/h.json" "$P/healthz")" = 200 ] || fail "healthz after restart"
code=$(hl_curl "$HL_TMP/s.json" --cacert "$CA" -H "Authorization: Bearer $ADMIN" \
    "$U/v1/crl/status")
[ "$code" = 200 ] || fail "admin token after restart: $code"
[ "$(hl_json "$HL_TMP/s.json" number)" -ge "$CRLNUM" ] || fail "CRL number went back"
hl_crl_has "$P/crl" "$VICTIM" || fail "CRL lost an entry on restart"
N2=$(curl -sS --cacert "$CA" -H "Authorization: Bearer $ADMIN" \
    "$U/v1/certificates?limit=1000" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["certificates"]))')
[ "$N2" = "$COUNT" ] || fail "certificates: $COUNT before, $N2 after"
code=$(enroll once "$ONCE")
hl_expect_error "$HL_TMP/once.json" 403 "$code" forbidden
[ "$(enroll two "$TWO")" = 201 ] || fail "two-use token, second use after restart"
code=$(enroll two "$TWO")
hl_expect_error "$HL_TMP/two.json" 403 "$code" forbidden
[ "$(enroll ec "$STATIC")" = 201 ] || fail "static token after restart"
ok "restart keeps the store ($N2 certificates), CRL number, tokens and their uses"

# A second serve on ports in use is refused, in either mode; SO_REUSEPORT
# must not let it share the port with the first.
for conf in "$CONF2" "$CONF"; do
	rc=0
	timeout 20 "$MTLSCA" --config "$conf" serve >"$HL_TMP/second.out" \
	    2>"$HL_TMP/second.err" || rc=$?
	[ "$rc" = 1 ] || fail "a second serve ($conf) exited with $rc"
	grep -q "cannot listen on 127.0.0.1 port $HP (HTTPS).*in use" "$HL_TMP/second.err" ||
	    fail "second serve: $(cat "$HL_TMP/second.err")"
done
[ "$(hl_listeners "$HP")" = 3 ] || fail "the second serve left a socket"
[ "$(enroll ec "$STATIC")" = 201 ] || fail "enroll after the refused second serve"
ok "a second serve on the same ports is refused (pool and connection modes)"
hl_stop "$HL_PID"
echo "PASS"
