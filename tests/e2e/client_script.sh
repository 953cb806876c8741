#!/bin/bash
# packaging/mtlsca-enroll.sh (POSIX sh + openssl + curl) under dash against
# a real `mtlsca serve`: fingerprint bootstrap (a wrong one refused before
# the token is sent), the same files and outputs as `mtlsca enroll`, renew
# --if-due (exit 3 when not due; MTLSCA_FAKE_NOW past 2/3 renews and runs
# the hook), PKCS#12 in both forms, and interoperation with mtlsca renew.
. "$(dirname "$0")/client_lib.sh"

command -v dash >/dev/null || fail "dash is missing (Debian's /bin/sh)"
SCRIPT="$MTLSCA_SRC/packaging/mtlsca-enroll.sh"
cl_serve
s() { dash "$SCRIPT" "$@"; }

# The script is POSIX sh: dash parses it, and it runs under dash below.
dash -n "$SCRIPT" || fail "dash -n"
run_rc 0 s --help
has "$OUT" "usage: mtlsca-enroll.sh enroll"
run_rc 2 s enroll --server "$U" --token x
run_rc 2 s enroll --server "http://x" --token x --cn a --ca-file "$D/ca.pem"

FP=$(cl_fingerprint)
[ ${#FP} = 64 ] || fail "no fingerprint in serve's ready line"
FP_COLONS=$(printf '%s' "$FP" | tr a-f A-F | sed 's/../&:/g; s/:$//')

# ---- wrong fingerprint: refused, nothing sent, token intact ----
T1=$(token)
WRONG=$(cl_wrong "$FP")
before=$(requests /v1/certificates)
run_rc 1 s enroll --server "$U" --ca-fingerprint "$WRONG" --token "$T1" --cn shelly --out-dir sh1
has "$OUT" "CA fingerprint mismatch"
has "$OUT" "$FP"
has "$OUT" "$WRONG"
[ "$(requests /v1/certificates)" = "$before" ] || fail "an enrollment request reached the server"
[ ! -e sh1/key.pem ] || fail "a key was written"
ok "wrong fingerprint: both printed, no enrollment request, nothing written"

# ---- enroll: the same files as mtlsca enroll ----
printf '%s\n' "$T1" > t1
printf 'pass word\n' > pw
run_rc 0 s enroll --server "$U" --ca-fingerprint "$FP_COLONS" --token-file t1 \
    --cn "shelly/laptop" --san dns:shelly.example --san 10.1.1.1 --days 30 \
    --out-dir sh1 --p12 sh1.p12 --p12-legacy --p12-password-file pw
S0=$(serial sh1/cert.pem)
has "$OUT" "enrolled CN=shelly/laptop"
has "$OUT" "serial:       $S0"
has "$OUT" "PKCS#12:      sh1.p12 (legacy: 3DES, SHA-1 MAC)"
[ "$(stat -c %a sh1/key.pem)" = 600 ] || fail "key mode $(stat -c %a sh1/key.pem)"
for f in cert chain ca; do
	[ "$(stat -c %a "sh1/$f.pem")" = 644 ] || fail "$f.pem mode"
done
openssl verify -CAfile "$D/ca.pem" sh1/cert.pem >/dev/null || fail "openssl verify"
cmp -s sh1/ca.pem "$D/ca.pem" || fail "ca.pem"
cat sh1/cert.pem sh1/ca.pem | cmp -s - sh1/chain.pem || fail "chain.pem"
[ "$(cert_pub sh1/cert.pem)" = "$(pub sh1/key.pem)" ] || fail "cert/key"
[ "$(openssl x509 -in sh1/cert.pem -noout -subject)" = "subject=CN = shelly/laptop" ] ||
    fail "subject: $(openssl x509 -in sh1/cert.pem -noout -subject)"
has "$(openssl x509 -in sh1/cert.pem -noout -ext subjectAltName)" "DNS:shelly.example, IP Address:10.1.1.1"
[ "$(days_of sh1/cert.pem)" = 30 ] || fail "--days 30"
info=$(openssl pkcs12 -legacy -in sh1.p12 -info -noout -passin file:pw 2>&1) || fail "pkcs12: $info"
has "$info" "MAC: sha1"
has "$info" "pbeWithSHA1And3-KeyTripleDES-CBC"
openssl pkcs12 -legacy -in sh1.p12 -nocerts -nodes -passin file:pw 2>/dev/null |
    openssl pkey -pubout > p12.pub || fail "key from sh1.p12"
[ "$(cat p12.pub)" = "$(pub sh1/key.pem)" ] || fail "sh1.p12 holds another key"
ct=$(certtool --p12-info --inder --infile sh1.p12 --password "pass word" 2>&1) || fail "certtool: $ct"
has "$ct" "PKCS12-3DES-SHA1"
ok "enroll under dash: fingerprint with colons, key 0600, cert/chain/CA, SANs, 30 days, legacy PKCS#12"

run_rc 1 s enroll --server "$U" --ca-file "$D/ca.pem" --token-file t1 --cn shelly --out-dir sh2
has "$OUT" "the server refused the enrollment: enrollment token has already been used (HTTP 403 forbidden)"
run_rc 1 s enroll --server "$U" --ca-file "$D/ca.pem" --token "$(token)" --cn shelly --out-dir sh1
has "$OUT" "--force replaces it"
DEAD=$(free_port)
run_rc 1 s enroll --server "https://127.0.0.1:$DEAD" --ca-file "$D/ca.pem" --token x --cn a --out-dir sh3
has "$OUT" "cannot connect"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout o.key \
    -subj "/CN=other" -days 1 -out other.pem 2>/dev/null
run_rc 1 s enroll --server "$U" --ca-file other.pem --token x --cn a --out-dir sh3
has "$OUT" "is not trusted"
ok "refused token (the server's message), existing identity, unreachable, untrusted"

T2=$(token)
run_rc 0 s enroll --server "$U" --ca-file "$D/ca.pem" --token "$T2" --cn modern \
    --key-type rsa2048 --out-dir sh4 --p12 sh4.p12 --p12-password-file pw
openssl pkey -in sh4/key.pem -noout -text | grep -q "(2048 bit" || fail "rsa2048"
[ "$(stat -c %a sh4)" = 755 ] || fail "a new --out-dir is $(stat -c %a sh4), not 755"
mkdir -m 700 priv
run_rc 0 s enroll --server "$U" --ca-file "$D/ca.pem" --token "$(token)" --cn priv --out-dir priv
[ "$(stat -c %a priv)" = 700 ] || fail "an existing --out-dir lost its mode: $(stat -c %a priv)"
info=$(openssl pkcs12 -in sh4.p12 -info -noout -passin file:pw 2>&1) || fail "pkcs12: $info"
has "$info" "MAC: sha256"
has "$info" "PBES2, PBKDF2, AES-256-CBC"
has "$info" "PRF hmacWithSHA256"
ok "--key-type rsa2048, modern PKCS#12 (AES-256-CBC, PBKDF2-SHA256, SHA-256 MAC)"

# Clock skew: two hours behind.
run_rc 0 env MTLSCA_FAKE_NOW="$(two_hours_ago)" dash "$SCRIPT" enroll --server "$U" \
    --ca-file "$D/ca.pem" --token "$(token)" --cn skew --out-dir sh5
has "$OUT" "this machine's clock is 2h 0m behind the server's"
has "$OUT" "the certificate is valid from"
ok "clock skew warnings"

# ---- renew --if-due ----
before=$(sha256sum sh1/cert.pem sh1/key.pem)
run_rc 3 s renew --server "$U" --cert sh1/cert.pem --key sh1/key.pem --if-due \
    --exec sh -c 'echo "$MTLSCA_SERIAL" > "$0"' "$W/hook"
has "$OUT" "not due: sh1/cert.pem (serial $S0) renews after"
[ "$(sha256sum sh1/cert.pem sh1/key.pem)" = "$before" ] || fail "files changed while not due"
[ ! -e hook ] || fail "hook ran while not due"
k0=$(pub sh1/key.pem)
run_rc 0 env MTLSCA_FAKE_NOW="$(past_due sh1/cert.pem)" dash "$SCRIPT" renew \
    --server "$U" --cert sh1/cert.pem --key sh1/key.pem --if-due --rekey \
    --exec sh -c 'echo "$MTLSCA_SERIAL" > "$0"' "$W/hook"
S1=$(serial sh1/cert.pem)
[ "$S1" != "$S0" ] || fail "not renewed"
has "$OUT" "renewed CN=shelly/laptop: serial $S1 (was $S0)"
[ "$(cat hook)" = "$S1" ] || fail "hook: $(cat hook 2>&1)"
[ "$(pub sh1/key.pem)" != "$k0" ] || fail "--rekey kept the key"
[ "$(stat -c %a sh1/key.pem)" = 600 ] || fail "key mode after rekey"
[ "$(cert_pub sh1/cert.pem)" = "$(pub sh1/key.pem)" ] || fail "cert/key"
openssl verify -CAfile "$D/ca.pem" sh1/cert.pem >/dev/null || fail "verify renewed"
[ "$(openssl x509 -in sh1/cert.pem -noout -subject)" = "subject=CN = shelly/laptop" ] || fail "subject"
has "$(openssl x509 -in sh1/cert.pem -noout -ext subjectAltName)" "DNS:shelly.example, IP Address:10.1.1.1"
[ "$(days_of sh1/cert.pem)" = 30 ] || fail "validity length not kept"
ok "renew --if-due: exit 3 when not due; past 2/3 renews (--rekey, same subject/SANs/days) and runs the hook"

# ---- interoperation: each renews what the other made ----
run_rc 0 "$MTLSCA" renew --server "$U" --cert sh1/cert.pem --key sh1/key.pem
run_rc 0 "$MTLSCA" enroll --server "$U" --ca-file "$D/ca.pem" --token "$(token)" \
    --cn native --san uri:spiffe://example/native --out-dir nat
run_rc 0 s renew --server "$U" --cert nat/cert.pem --key nat/key.pem
has "$(openssl x509 -in nat/cert.pem -noout -ext subjectAltName)" "URI:spiffe://example/native"
ok "mtlsca renews the script's certificate and the script mtlsca's"

hl_stop "$(printf '%s\n' "${HL_PIDS[@]}" | head -1)"
echo "PASS"
