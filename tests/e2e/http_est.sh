#!/bin/bash
# EST (RFC 7030) end to end, with curl and openssl sending exactly what an
# EST client sends: base64 DER bodies (with and without line breaks and
# Content-Transfer-Encoding), HTTP Basic with the enrollment token as the
# password, the current certificate as the TLS client certificate to
# re-enroll. Checked by `openssl pkcs7`, `certtool --p7-info`,
# `openssl verify` and `openssl asn1parse`: cacerts (the CA itself),
# simpleenroll (a certificate for the CSR's key), a profile by its CA label,
# csrattrs (200 and 204), simplereenroll (and a revoked certificate
# refused), every error path with its status, text body and challenge, the
# audit log, the metrics, and the pool threading mode.
. "$(dirname "$0")/http_lib.sh"

D="$HL_TMP/data"
HP=$(free_port)
PP=$(free_port)
STATIC="est-static-$RANDOM$RANDOM$RANDOM"
DEV="est-device-$RANDOM$RANDOM$RANDOM"
CONF="$HL_TMP/mtlsca.conf"
hl_config "$CONF" "$D" "$HP" "$PP" "
profiles = (
	{ name = \"client\"; tokens = [ \"$(hl_sha256 "$STATIC")\" ]; },
	{ name = \"device\"; days = 30; server_auth = false;
	  subject_required = [ \"CN\", \"O\" ];
	  tokens = [ \"$(hl_sha256 "$DEV")\" ]; },
	{ name = \"open\"; subject_required = [ ]; }
);"
M() { "$MTLSCA" --config "$CONF" "$@"; }

hl_init "$CONF"	# serve --config never creates a CA
hl_start serve --config "$CONF" serve
CA="$D/ca.pem"
U="https://localhost:$HP/.well-known/est"
P="http://127.0.0.1:$PP/.well-known/est"

# est OUT ARGS...: curl with the CA trusted, headers in OUT.h, the body in
# OUT, the status printed.
est() {
	local out="$1"; shift
	curl -sS --cacert "$CA" -D "$out.h" -o "$out" -w '%{http_code}' "$@"
}
# header FILE NAME: a response header's value (the last one of that name).
header() {
	tr -d '\r' <"$1.h" | sed -n "s/^$2: //Ip" | tail -n 1
}
# b64 NAME: NAME.csr (PEM) as the base64 DER an EST client sends.
b64() {
	openssl req -in "$HL_TMP/$1.csr" -outform DER | openssl base64 \
	    >"$HL_TMP/$1.b64" || fail "base64 of $1"
}
# enroll OUT USER:TOKEN BODYFILE [PATH [curl args]]: POST simpleenroll.
enroll() {
	local out="$1" cred="$2" body="$3" path="${4:-simpleenroll}"
	shift 4 2>/dev/null || shift $#
	est "$HL_TMP/$out" -u "$cred" -H "Content-Type: application/pkcs10" \
	    -H "Content-Transfer-Encoding: base64" --data-binary "@$body" \
	    "$@" "$U/$path"
}
# certs_of FILE OUT: the certificates of a base64 certs-only response,
# as PEM, after openssl and certtool both read it.
certs_of() {
	openssl base64 -d -in "$1" -out "$1.p7.der" || fail "base64 -d $1"
	openssl pkcs7 -inform DER -in "$1.p7.der" -print_certs -out "$2" \
	    2>"$1.p7.err" || fail "openssl pkcs7 $1: $(cat "$1.p7.err")"
	certtool --p7-info --inder --infile "$1.p7.der" >"$1.p7.info" 2>&1 ||
	    fail "certtool --p7-info $1: $(cat "$1.p7.info")"
	grep -q "Number of certificates: 1" "$1.p7.info" ||
	    fail "certtool: not one certificate: $(cat "$1.p7.info")"
}
# expect_text OUT STATUS GOT [WORDS]: a refusal as RFC 7030 gives it.
expect_text() {
	[ "$3" = "$2" ] || fail "expected $2, got $3: $(cat "$1")"
	case "$(header "$1" Content-Type)" in
	text/plain*) ;;
	*) fail "$2 without a text/plain body: $(cat "$1.h")" ;;
	esac
	[ -s "$1" ] && ! grep -q '^{' "$1" || fail "$2: body '$(cat "$1")'"
	[ -z "${4:-}" ] || grep -qi -- "$4" "$1" ||
	    fail "$2: the body does not say '$4': $(cat "$1")"
}
# same_key CERT KEY: the certificate carries KEY's public key.
same_key() {
	cmp -s <(openssl x509 -in "$1" -noout -pubkey) \
	    <(openssl pkey -in "$2" -pubout) || fail "$1 is not for $2"
}

# ---- cacerts (section 4.1) ----
code=$(est "$HL_TMP/cacerts" "$U/cacerts")
[ "$code" = 200 ] || fail "cacerts: $code $(cat "$HL_TMP/cacerts")"
[ "$(header "$HL_TMP/cacerts" Content-Type)" = \
    "application/pkcs7-mime; smime-type=certs-only" ] ||
    fail "cacerts Content-Type: $(cat "$HL_TMP/cacerts.h")"
[ "$(header "$HL_TMP/cacerts" Content-Transfer-Encoding)" = base64 ] ||
    fail "cacerts without Content-Transfer-Encoding: base64"
! grep -q -- '-----' "$HL_TMP/cacerts" || fail "cacerts is PEM, not base64"
certs_of "$HL_TMP/cacerts" "$HL_TMP/cacerts.pem"
cmp -s <(openssl x509 -in "$CA" -outform DER) \
    <(openssl x509 -in "$HL_TMP/cacerts.pem" -outform DER) ||
    fail "cacerts does not carry the CA certificate"
code=$(est "$HL_TMP/cacerts2" "$U/device/cacerts")
[ "$code" = 200 ] && cmp -s "$HL_TMP/cacerts" "$HL_TMP/cacerts2" ||
    fail "cacerts under the device label: $code"
ok "cacerts: the CA, read by openssl pkcs7 and certtool --p7-info"

# ---- csrattrs (section 4.5) ----
code=$(est "$HL_TMP/attrs" "$U/csrattrs")
[ "$code" = 200 ] || fail "csrattrs: $code"
[ "$(header "$HL_TMP/attrs" Content-Type)" = application/csrattrs ] ||
    fail "csrattrs Content-Type: $(cat "$HL_TMP/attrs.h")"
openssl base64 -d -in "$HL_TMP/attrs" | openssl asn1parse -inform DER \
    >"$HL_TMP/attrs.txt" || fail "csrattrs is not base64 DER"
[ "$(grep -c OBJECT "$HL_TMP/attrs.txt")" = 1 ] &&
    grep -q ":commonName" "$HL_TMP/attrs.txt" ||
    fail "csrattrs of the client profile: $(cat "$HL_TMP/attrs.txt")"
code=$(est "$HL_TMP/attrs" "$U/device/csrattrs")
openssl base64 -d -in "$HL_TMP/attrs" | openssl asn1parse -inform DER \
    >"$HL_TMP/attrs.txt" || fail "device csrattrs is not base64 DER"
[ "$code" = 200 ] && grep -q ":commonName" "$HL_TMP/attrs.txt" &&
    grep -q ":organizationName" "$HL_TMP/attrs.txt" ||
    fail "csrattrs of the device profile: $code $(cat "$HL_TMP/attrs.txt")"
code=$(est "$HL_TMP/attrs" "$U/open/csrattrs")
[ "$code" = 204 ] && [ ! -s "$HL_TMP/attrs" ] ||
    fail "csrattrs of a profile that requires nothing: $code"
ok "csrattrs: the required subject attributes; 204 when none"

# ---- simpleenroll (section 4.2.1) ----
hl_csr ec "/CN=est-ec"
b64 ec
code=$(enroll ec.out "user:$STATIC" "$HL_TMP/ec.b64")
[ "$code" = 200 ] || fail "simpleenroll: $code $(cat "$HL_TMP/ec.out")"
[ "$(header "$HL_TMP/ec.out" Content-Type)" = \
    "application/pkcs7-mime; smime-type=certs-only" ] ||
    fail "simpleenroll Content-Type: $(cat "$HL_TMP/ec.out.h")"
[ "$(header "$HL_TMP/ec.out" Content-Transfer-Encoding)" = base64 ] ||
    fail "simpleenroll without Content-Transfer-Encoding: base64"
certs_of "$HL_TMP/ec.out" "$HL_TMP/ec.pem"
openssl verify -CAfile "$CA" "$HL_TMP/ec.pem" >/dev/null ||
    fail "openssl verify of the EST certificate"
same_key "$HL_TMP/ec.pem" "$HL_TMP/ec.key"
openssl x509 -in "$HL_TMP/ec.pem" -noout -subject | grep -q "CN = est-ec" ||
    fail "subject of the EST certificate"
EC_SERIAL=$(openssl x509 -in "$HL_TMP/ec.pem" -noout -serial | cut -d= -f2)
ok "simpleenroll: openssl verifies the certificate, for the CSR's key"

# The same body on one line, without Content-Transfer-Encoding; and with
# CRLF line breaks (RFC 2045), as MIME writes base64.
hl_csr rsa "/CN=est-rsa" rsa 2048
openssl req -in "$HL_TMP/rsa.csr" -outform DER | openssl base64 -A \
    >"$HL_TMP/rsa.b64"
code=$(est "$HL_TMP/rsa.out" -u "x:$STATIC" \
    -H "Content-Type: application/pkcs10" \
    --data-binary "@$HL_TMP/rsa.b64" "$U/simpleenroll")
[ "$code" = 200 ] || fail "one-line base64: $code $(cat "$HL_TMP/rsa.out")"
certs_of "$HL_TMP/rsa.out" "$HL_TMP/rsa.pem"
same_key "$HL_TMP/rsa.pem" "$HL_TMP/rsa.key"
hl_csr crlf "/CN=est-crlf"
b64 crlf
sed 's/$/\r/' "$HL_TMP/crlf.b64" >"$HL_TMP/crlf.crlf"
code=$(enroll crlf.out "x:$STATIC" "$HL_TMP/crlf.crlf")
[ "$code" = 200 ] || fail "CRLF base64: $code $(cat "$HL_TMP/crlf.out")"
ok "base64 on one line without Content-Transfer-Encoding, and with CRLF"

# ---- the CA label selects a profile ----
hl_csr dev "/CN=est-dev/O=Example"
b64 dev
code=$(enroll dev.out "x:$DEV" "$HL_TMP/dev.b64" device/simpleenroll)
[ "$code" = 200 ] || fail "device label: $code $(cat "$HL_TMP/dev.out")"
certs_of "$HL_TMP/dev.out" "$HL_TMP/dev.pem"
openssl verify -CAfile "$CA" "$HL_TMP/dev.pem" >/dev/null || fail "verify dev"
end=$(date -d "$(openssl x509 -in "$HL_TMP/dev.pem" -noout -enddate |
    cut -d= -f2)" +%s)
left=$(( (end - $(date +%s)) / 86400 ))
[ "$left" -ge 29 ] && [ "$left" -le 30 ] ||
    fail "the device profile gives 30 days, the certificate $left"
! openssl x509 -in "$HL_TMP/dev.pem" -noout -ext extendedKeyUsage |
    grep -q "TLS Web Server" || fail "device profile: serverAuth present"
ok "/.well-known/est/device/simpleenroll: the device profile (30 days)"

# ---- error paths (RFC 7030 section 4.2.3: 4xx with a text body) ----
code=$(est "$HL_TMP/e" -H "Content-Type: application/pkcs10" \
    --data-binary "@$HL_TMP/ec.b64" "$U/simpleenroll")
expect_text "$HL_TMP/e" 401 "$code" "Basic"
[ "$(header "$HL_TMP/e" WWW-Authenticate)" = 'Basic realm="mtlsca EST"' ] ||
    fail "401 without the Basic challenge: $(cat "$HL_TMP/e.h")"
code=$(est "$HL_TMP/e" -H "Authorization: Bearer $STATIC" \
    -H "Content-Type: application/pkcs10" \
    --data-binary "@$HL_TMP/ec.b64" "$U/simpleenroll")
expect_text "$HL_TMP/e" 401 "$code" "Basic"
[ "$(header "$HL_TMP/e" WWW-Authenticate)" = 'Basic realm="mtlsca EST"' ] ||
    fail "a Bearer token: no Basic challenge"
ok "no credentials, or not Basic: 401 with the Basic challenge"

code=$(enroll e "x:wrong-token" "$HL_TMP/ec.b64")
expect_text "$HL_TMP/e" 403 "$code" "unknown enrollment token"
code=$(est "$HL_TMP/e" -H "Authorization: Basic !!notbase64" \
    -H "Content-Type: application/pkcs10" \
    --data-binary "@$HL_TMP/ec.b64" "$U/simpleenroll")
expect_text "$HL_TMP/e" 403 "$code" "base64"
code=$(est "$HL_TMP/e" -H "Authorization: Basic $(printf %s "$STATIC" |
    openssl base64 -A)" -H "Content-Type: application/pkcs10" \
    --data-binary "@$HL_TMP/ec.b64" "$U/simpleenroll")
expect_text "$HL_TMP/e" 403 "$code" "':'"
code=$(enroll e "x:$STATIC" "$HL_TMP/dev.b64" device/simpleenroll)
expect_text "$HL_TMP/e" 403 "$code" "profile 'client'"
ok "wrong token, undecodable credentials, another profile's token: 403"

BOUND=$(M token create --profile client --cn est-alice 2>/dev/null) ||
    fail "token create"
hl_csr alice "/CN=est-alice"
b64 alice
code=$(enroll e "bob:$BOUND" "$HL_TMP/alice.b64")
expect_text "$HL_TMP/e" 403 "$code" "bound to CN 'est-alice'"
code=$(enroll e "est-alice:$BOUND" "$HL_TMP/ec.b64")
expect_text "$HL_TMP/e" 403 "$code" "bound to CN"
code=$(enroll alice.out "est-alice:$BOUND" "$HL_TMP/alice.b64")
[ "$code" = 200 ] || fail "bound token, its CN: $code $(cat "$HL_TMP/alice.out")"
ok "CN-bound token: another user name 403, another CN 403, its CN 200"

hl_csr pem "/CN=est-pem"
code=$(enroll e "x:$STATIC" "$HL_TMP/pem.csr")
expect_text "$HL_TMP/e" 400 "$code" "BEGIN"
head -c 100 "$HL_TMP/ec.b64" | tr -d '\n' >"$HL_TMP/cut.b64"
code=$(enroll e "x:$STATIC" "$HL_TMP/cut.b64")
expect_text "$HL_TMP/e" 400 "$code" "multiple of 4"
printf 'QQ=A\n' >"$HL_TMP/pad.b64"
code=$(enroll e "x:$STATIC" "$HL_TMP/pad.b64")
expect_text "$HL_TMP/e" 400 "$code" "padding"
printf 'QR==\n' >"$HL_TMP/bits.b64"
code=$(enroll e "x:$STATIC" "$HL_TMP/bits.b64")
expect_text "$HL_TMP/e" 400 "$code" "under the padding"
printf 'hello, EST' | openssl base64 >"$HL_TMP/hello.b64"
code=$(enroll e "x:$STATIC" "$HL_TMP/hello.b64")
expect_text "$HL_TMP/e" 400 "$code" "not a PKCS#10"
printf '\x30\x03\x02\x01\x00' | openssl base64 >"$HL_TMP/seq.b64"
code=$(enroll e "x:$STATIC" "$HL_TMP/seq.b64")
expect_text "$HL_TMP/e" 400 "$code"
code=$(est "$HL_TMP/e" -u "x:$STATIC" -H "Content-Type: application/x-pem-file" \
    --data-binary "@$HL_TMP/ec.b64" "$U/simpleenroll")
expect_text "$HL_TMP/e" 415 "$code" "application/pkcs10"
code=$(est "$HL_TMP/e" -u "x:$STATIC" --data-binary "@$HL_TMP/ec.b64" \
    "$U/simpleenroll")
expect_text "$HL_TMP/e" 415 "$code" "application/pkcs10"
ok "PEM, cut, bad padding, padding bits, not a CSR: 400; not pkcs10: 415"

hl_csr weak "/CN=est-weak" rsa 1024
b64 weak
code=$(enroll e "x:$STATIC" "$HL_TMP/weak.b64")
expect_text "$HL_TMP/e" 400 "$code" "2048"
hl_csr noorg "/CN=est-noorg"
b64 noorg
code=$(enroll e "x:$DEV" "$HL_TMP/noorg.b64" device/simpleenroll)
expect_text "$HL_TMP/e" 400 "$code" "has no O, which profile device"
ok "policy: RSA-1024 400, a required O missing 400 (the sentence says why)"

# Caps: the body (http.body_max, 64 KiB) and the decoded request
# (CA_CSR_MAX, 16 KiB).
head -c 70000 /dev/zero | tr '\0' 'A' >"$HL_TMP/big.b64"
code=$(enroll e "x:$STATIC" "$HL_TMP/big.b64")
expect_text "$HL_TMP/e" 413 "$code"
head -c 20000 /dev/urandom | openssl base64 >"$HL_TMP/wide.b64"
code=$(enroll e "x:$STATIC" "$HL_TMP/wide.b64")
expect_text "$HL_TMP/e" 413 "$code" "16384"
ok "70 KB body: 413; 20 KB once decoded: 413"

code=$(est "$HL_TMP/e" "$U/nowhere/cacerts")
expect_text "$HL_TMP/e" 404 "$code" "client, device, open"
code=$(enroll e "x:$STATIC" "$HL_TMP/ec.b64" nowhere/simpleenroll)
expect_text "$HL_TMP/e" 404 "$code" "label"
code=$(est "$HL_TMP/e" -u "x:$STATIC" "$U/simpleenroll")
expect_text "$HL_TMP/e" 405 "$code"
[ "$(header "$HL_TMP/e" Allow)" = POST ] || fail "405 without Allow: POST"
code=$(curl -sS -D "$HL_TMP/e.h" -o "$HL_TMP/e" -w '%{http_code}' "$P/cacerts")
expect_text "$HL_TMP/e" 404 "$code" "HTTPS"
ok "unknown label 404, GET simpleenroll 405, EST over plain HTTP 404"

# ---- simplereenroll (section 4.2.2) with the certificate it renews ----
hl_csr re "/CN=est-ec"
b64 re
USR=(--cert "$HL_TMP/ec.pem" --key "$HL_TMP/ec.key")
code=$(est "$HL_TMP/re.out" "${USR[@]}" -H "Content-Type: application/pkcs10" \
    -H "Content-Transfer-Encoding: base64" --data-binary "@$HL_TMP/re.b64" \
    "$U/simplereenroll")
[ "$code" = 200 ] || fail "simplereenroll: $code $(cat "$HL_TMP/re.out")"
certs_of "$HL_TMP/re.out" "$HL_TMP/re.pem"
openssl verify -CAfile "$CA" "$HL_TMP/re.pem" >/dev/null || fail "verify re"
same_key "$HL_TMP/re.pem" "$HL_TMP/re.key"
RE_SERIAL=$(openssl x509 -in "$HL_TMP/re.pem" -noout -serial | cut -d= -f2)
[ "$RE_SERIAL" != "$EC_SERIAL" ] || fail "re-enrollment kept the serial"
ok "simplereenroll with the client certificate: a new key, $RE_SERIAL"

code=$(est "$HL_TMP/e" "${USR[@]}" -H "Content-Type: application/pkcs10" \
    --data-binary "@$HL_TMP/alice.b64" "$U/simplereenroll")
expect_text "$HL_TMP/e" 400 "$code" "subject"
code=$(est "$HL_TMP/e" "${USR[@]}" -H "Content-Type: application/pkcs10" \
    --data-binary "@$HL_TMP/re.b64" "$U/device/simplereenroll")
expect_text "$HL_TMP/e" 400 "$code" "profile 'client'"
code=$(est "$HL_TMP/e" -u "x:$STATIC" -H "Content-Type: application/pkcs10" \
    --data-binary "@$HL_TMP/re.b64" "$U/simplereenroll")
expect_text "$HL_TMP/e" 403 "$code" "client certificate"
ok "re-enroll: another subject 400, another profile's label 400, no certificate 403"

M revoke "$RE_SERIAL" --reason superseded >/dev/null 2>"$HL_TMP/revoke.err" ||
    fail "mtlsca revoke: $(cat "$HL_TMP/revoke.err")"
code=$(est "$HL_TMP/e" --cert "$HL_TMP/re.pem" --key "$HL_TMP/re.key" \
    -H "Content-Type: application/pkcs10" --data-binary "@$HL_TMP/re.b64" \
    "$U/simplereenroll")
expect_text "$HL_TMP/e" 403 "$code" "revoked"
ok "a revoked certificate cannot re-enroll: 403"

# A client certificate does not stand in for the token on simpleenroll.
code=$(est "$HL_TMP/e" --cert "$HL_TMP/rsa.pem" --key "$HL_TMP/rsa.key" \
    -H "Content-Type: application/pkcs10" --data-binary "@$HL_TMP/re.b64" \
    "$U/simpleenroll")
expect_text "$HL_TMP/e" 401 "$code"
ok "simpleenroll with a client certificate and no token: 401"

# ---- audit and metrics ----
sleep 1.5	# refusals are written once a second
M audit >"$HL_TMP/audit.txt" 2>&1 || fail "mtlsca audit: $(cat "$HL_TMP/audit.txt")"
grep -q "refuse	POST /.well-known/est/simpleenroll status=401" "$HL_TMP/audit.txt" ||
    fail "no EST 401 in the audit log"
grep -q "refuse	POST /.well-known/est/simpleenroll status=400" "$HL_TMP/audit.txt" ||
    fail "no EST 400 (a refusal by policy) in the audit log"
grep -q "static-token:.*	issue	serial=.*profile=client subject=CN=est-ec" \
    "$HL_TMP/audit.txt" || fail "no EST issue in the audit log"
grep -q "static-token:.*	issue	.*profile=device subject=.*CN=est-dev" \
    "$HL_TMP/audit.txt" || fail "no device issue in the audit log"
grep -q "token:.*	issue	.*CN=est-alice" "$HL_TMP/audit.txt" ||
    fail "no one-time token issue in the audit log"
grep -qi "cert:.*	renew	serial=$RE_SERIAL.*renews=$EC_SERIAL" \
    "$HL_TMP/audit.txt" || fail "no EST renewal in the audit log"
! grep -q -e "$STATIC" -e "$DEV" -e "$BOUND" "$HL_TMP/audit.txt" \
    "$HL_TMP/serve.err" || fail "a token in clear in the audit or the log"
curl -sS "http://127.0.0.1:$PP/metrics" >"$HL_TMP/metrics.txt"
grep -q 'route="/.well-known/est/simpleenroll",status="200"} 4' \
    "$HL_TMP/metrics.txt" ||
    fail "metrics: $(grep est/simpleenroll "$HL_TMP/metrics.txt")"
grep -q 'route="/.well-known/est/{name}/csrattrs",status="204"} 1' \
    "$HL_TMP/metrics.txt" || fail "metrics: no 204 for csrattrs"
ok "audit: EST issues and the renewal, no token in clear; metrics per route"
hl_stop "$HL_PID"

# ---- the pool: the connection is suspended while its certificate commits ----
CONF2="$HL_TMP/mtlsca-pool.conf"
sed 's/^http = {/http = { threading = "pool"; threads = 2;/' "$CONF" >"$CONF2"
hl_start serve2 --config "$CONF2" serve
hl_csr pool "/CN=est-pool"
b64 pool
code=$(enroll pool.out "x:$STATIC" "$HL_TMP/pool.b64")
[ "$code" = 200 ] || fail "pool simpleenroll: $code $(cat "$HL_TMP/pool.out")"
certs_of "$HL_TMP/pool.out" "$HL_TMP/pool.pem"
openssl verify -CAfile "$CA" "$HL_TMP/pool.pem" >/dev/null || fail "verify pool"
hl_csr pool2 "/CN=est-pool"
b64 pool2
code=$(est "$HL_TMP/pool2.out" --cert "$HL_TMP/pool.pem" \
    --key "$HL_TMP/pool.key" -H "Content-Type: application/pkcs10" \
    --data-binary "@$HL_TMP/pool2.b64" "$U/simplereenroll")
[ "$code" = 200 ] || fail "pool simplereenroll: $code $(cat "$HL_TMP/pool2.out")"
certs_of "$HL_TMP/pool2.out" "$HL_TMP/pool2.pem"
same_key "$HL_TMP/pool2.pem" "$HL_TMP/pool2.key"
code=$(enroll e "x:$STATIC" "$HL_TMP/weak.b64")
expect_text "$HL_TMP/e" 400 "$code" "2048"
ok "pool mode: simpleenroll, simplereenroll, a refusal"
hl_stop "$HL_PID"
echo "PASS"
