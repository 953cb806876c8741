#!/bin/bash
# `mtlsca serve` with an HTTPS certificate and key of the operator's own
# (http.tls_cert / http.tls_key), made by openssl under another CA: a key
# that others can read is refused with a sentence naming the mode; at 0640
# (a group such as ssl-cert may read it) the service starts and curl
# verifies the operator's certificate, not one issued by mtlsca; one that
# expires within 30 days is warned about, and /metrics gives its expiry.
# The names of the certificate served are guarded like http.server_names:
# no enrollment obtains them. A served certificate this CA revoked is
# replaced at start, the operator's (by one mtlsca issues) as well as
# mtlsca's own.
. "$(dirname "$0")/http_lib.sh"

T="$HL_TMP"
HP=$(free_port)
PP=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/own-ca.key" -out "$T/own-ca.pem" -days 30 \
    -subj "/CN=Operator Web CA" 2>/dev/null || fail "own CA"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/web.key" -out "$T/web.csr" -subj "/CN=localhost" \
    2>/dev/null || fail "web CSR"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:ca.example.com\n' >"$T/web.ext"
openssl x509 -req -in "$T/web.csr" -CA "$T/own-ca.pem" \
    -CAkey "$T/own-ca.key" -CAcreateserial -days 20 -extfile "$T/web.ext" \
    -out "$T/web.pem" 2>/dev/null || fail "web cert"

CONF="$T/mtlsca.conf"
TOKEN="tls-files-$RANDOM$RANDOM"
hl_config "$CONF" "$T/data" "$HP" "$PP" "
profiles = ( { name = \"client\"; tokens = [ \"$(hl_sha256 "$TOKEN")\" ]; } );"
sed -i "s|^http = {|http = { tls_cert = \"$T/web.pem\"; tls_key = \"$T/web.key\";|" "$CONF"
hl_init "$CONF"

chmod 644 "$T/web.key"
timeout 20 "$MTLSCA" --config "$CONF" serve >"$T/refused.out" 2>"$T/refused.err"
rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "serve started with a 0644 HTTPS key (rc $rc)"
grep -q "HTTPS key $T/web.key has mode 0644: others must have no access" \
    "$T/refused.err" || fail "no sentence about the key mode: $(cat "$T/refused.err")"
ok "a world-readable HTTPS key is refused: $(grep 'HTTPS key' "$T/refused.err")"

chmod 640 "$T/web.key"
hl_start serve --config "$CONF" serve
code=$(curl -sS -o "$T/health" -w '%{http_code}' --cacert "$T/own-ca.pem" \
    "https://localhost:$HP/healthz") || fail "curl with the operator's CA"
[ "$code" = 200 ] || fail "healthz over the operator's certificate: $code"
openssl s_client -connect "127.0.0.1:$HP" -servername localhost \
    </dev/null 2>/dev/null | openssl x509 -noout -issuer >"$T/issuer" ||
    fail "s_client"
grep -q "Operator Web CA" "$T/issuer" || fail "served $(cat "$T/issuer")"
[ ! -e "$T/data/private/server.pem" ] || fail "mtlsca issued a server certificate anyway"
ok "serve uses the operator's certificate (0640 key), curl verifies it"

# ca.example.com is only in the served certificate, not in server_names.
for asked in "/CN=ca.example.com" "/CN=alice/subjectAltName"; do
	if [ "$asked" = "/CN=ca.example.com" ]; then
		hl_csr guard "$asked"
	else
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		    -nodes -keyout "$T/guard.key" -subj /CN=alice \
		    -addext "subjectAltName=DNS:CA.example.com" \
		    -out "$T/guard.csr" 2>/dev/null || fail "CSR"
	fi
	code=$(hl_curl "$T/guard.json" --cacert "$T/own-ca.pem" \
	    -H "Authorization: Bearer $TOKEN" \
	    -H "Content-Type: application/x-pem-file" --data-binary @"$T/guard.csr" \
	    "https://localhost:$HP/v1/certificates")
	hl_expect_error "$T/guard.json" 422 "$code" policy
	grep -q "ca.example.com" "$T/guard.json" || fail "refusal does not name it: $(cat "$T/guard.json")"
done
ok "the served certificate's own names cannot be enrolled (CN and DNS SAN)"

# 20 days of validity: under the 30 days mtlsca keeps for its own, so a
# warning at start, and the exact notAfter in /metrics.
grep -Eq "mtlsca: warning: the HTTPS certificate $T/web.pem expires on .*, in (19|20) day\(s\): replace http.tls_cert" \
    "$T/serve.err" || fail "no expiry warning: $(cat "$T/serve.err")"
left=$(curl -sS "http://127.0.0.1:$PP/metrics" | sed -n 's/^mtlsca_https_cert_expiry_seconds //p')
na=$(date -u -d "$(openssl x509 -in "$T/web.pem" -noout -enddate | cut -d= -f2)" +%s)
diff=$(( na - $(date -u +%s) - left ))
[ "${diff#-}" -le 5 ] || fail "mtlsca_https_cert_expiry_seconds $left, openssl says $(( na - $(date -u +%s) ))"
ok "an HTTPS certificate of 20 days: warned at start, $left s in /metrics"
hl_stop "$HL_PID"

# Sixty days on, it has expired: said at start, and the service still
# starts (the public CRL must stay up).
export MTLSCA_FAKE_NOW
MTLSCA_FAKE_NOW=$(date -u -d '+60 days' +%Y-%m-%dT%H:%M:%SZ)
hl_start expired --config "$CONF" serve
unset MTLSCA_FAKE_NOW
grep -q "mtlsca: warning: the HTTPS certificate $T/web.pem expired on .*: clients will refuse it; replace http.tls_cert" \
    "$T/expired.err" || fail "no warning for an expired certificate: $(cat "$T/expired.err")"
left=$(curl -sS "http://127.0.0.1:$PP/metrics" | sed -n 's/^mtlsca_https_cert_expiry_seconds //p')
[ "$left" -lt 0 ] || fail "expired, yet mtlsca_https_cert_expiry_seconds is $left"
ok "an expired HTTPS certificate: warned at start, $left s in /metrics"
hl_stop "$HL_PID"

# An operator's certificate that this CA issued, then revoked: replaced by
# one mtlsca issues itself, with a warning, until the file is replaced.
M() { "$MTLSCA" --config "$CONF" "$@"; }
hl_csr web2 "/CN=localhost"
M sign --csr "$T/web2.csr" --out "$T/web2.pem" 2>/dev/null || fail "sign web2"
cp "$T/web2.key" "$T/web.key" && chmod 640 "$T/web.key"
cp "$T/web2.pem" "$T/web.pem"
W2=$(openssl x509 -in "$T/web2.pem" -noout -serial | cut -d= -f2)
M revoke "$W2" --reason keyCompromise >/dev/null 2>&1 || fail "revoke web2"
hl_start revoked --config "$CONF" serve
grep -q "warning: $T/web.pem: the HTTPS certificate (serial $W2) is revoked: serving a certificate mtlsca issues itself" \
    "$T/revoked.err" || fail "no warning about the revoked certificate: $(cat "$T/revoked.err")"
got=$(openssl s_client -connect "127.0.0.1:$HP" -servername localhost </dev/null 2>/dev/null |
    openssl x509 -noout -serial | cut -d= -f2)
[ -n "$got" ] && [ "$got" != "$W2" ] || fail "still serving the revoked $W2"
OWN=$(openssl x509 -in "$T/data/private/server.pem" -noout -serial | cut -d= -f2)
[ "$got" = "$OWN" ] || fail "serving $got, not mtlsca's own $OWN"
ok "a revoked operator certificate is replaced by mtlsca's own ($OWN)"
hl_stop "$HL_PID"

# mtlsca's own, revoked while the service was down: a new one at start.
sed -i "s|tls_cert = \"$T/web.pem\"; tls_key = \"$T/web.key\";||" "$CONF"
M revoke "$OWN" --reason superseded >/dev/null 2>&1 || fail "revoke own"
hl_start own --config "$CONF" serve
grep -q "the server certificate (serial $OWN) is revoked: issuing a new one" \
    "$T/own.err" || fail "no word about the revoked own certificate: $(cat "$T/own.err")"
NEW=$(openssl x509 -in "$T/data/private/server.pem" -noout -serial | cut -d= -f2)
[ "$NEW" != "$OWN" ] || fail "the revoked own certificate was kept"
got=$(openssl s_client -connect "127.0.0.1:$HP" -servername localhost </dev/null 2>/dev/null |
    openssl x509 -noout -serial | cut -d= -f2)
[ "$got" = "$NEW" ] || fail "serving $got, not the new $NEW"
ok "mtlsca's own certificate, revoked: replaced at start ($OWN -> $NEW)"
hl_stop "$HL_PID"
ok "http_tls_files passed"
