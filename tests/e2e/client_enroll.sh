#!/bin/bash
# mtlsca enroll against a real `mtlsca serve`: step's fingerprint bootstrap
# (a wrong fingerprint is refused before the token leaves the machine: the
# server never sees an enrollment request and the one-time token still
# works afterwards), the files it writes (checked with openssl), the
# certificate through nginx, the errors people meet (unreachable server,
# untrusted server, refused token, clock skew), PKCS#12 in both forms read
# back by openssl and certtool, and --help / the man page.
. "$(dirname "$0")/client_lib.sh"

cl_serve

# ---- the fingerprint: serve, status and openssl agree ----
FP=$(cl_fingerprint)
[ ${#FP} = 64 ] || fail "serve's ready line has no CA fingerprint: $(cat "$HL_TMP/serve.err")"
# (not a terminal: the first-start text is in a 0600 file of the data dir)
FIRST="$D/first-start-tokens.txt"
has "$(cat "$FIRST")" "CA certificate SHA-256 fingerprint: $FP" "serve's first-start text"
has "$(cat "$FIRST")" "mtlsca enroll --server https://localhost:$HP --ca-fingerprint $FP" "serve's first-start text"
run_rc 0 m --config "$CONF" status
has "$OUT" "CA fingerprint:      $FP"
OSSL_FP=$(openssl x509 -in "$D/ca.pem" -noout -fingerprint -sha256)
[ "$(printf '%s' "${OSSL_FP#*=}" | tr -d : | tr A-F a-f)" = "$FP" ] ||
    fail "openssl says $OSSL_FP, serve says $FP"
ok "serve, status and openssl print the same CA fingerprint"

# The enroll command serve prints on its first start works as printed.
printed=$(sed -n 's/^  \(mtlsca enroll .*\)$/\1/p' "$FIRST")
[ -n "$printed" ] || fail "no mtlsca enroll command printed"
run_rc 0 env PATH="$(dirname "$MTLSCA"):$PATH" bash -c "$printed"
openssl verify -CAfile "$D/ca.pem" client1/cert.pem >/dev/null ||
    fail "the printed command's certificate does not verify"
ok "the printed 'mtlsca enroll --ca-fingerprint' command works as printed"

# ---- a wrong fingerprint: refused before the token is sent ----
T1=$(token --cn alice --san dns:alice.example --san ip:10.0.0.7 --san email:alice@example.com --san uri:spiffe://example/alice)
[ -n "$T1" ] || fail "token create"
WRONG=$(cl_wrong "$FP")
enroll_before=$(requests /v1/certificates)
ca_before=$(requests /ca.pem)
run_rc 1 m enroll --server "$U" --ca-fingerprint "$WRONG" --token "$T1" \
    --cn alice --out-dir alice
has "$OUT" "fingerprint mismatch"
has "$OUT" "$FP" "the mismatch message (the server's fingerprint)"
has "$OUT" "$WRONG" "the mismatch message (the expected one)"
[ ! -e alice/key.pem ] && [ ! -e alice/cert.pem ] || fail "files written after a mismatch"
[ -z "$(ls -A alice 2>/dev/null)" ] || fail "leftovers in alice/: $(ls -A alice)"
[ "$(requests /ca.pem)" -gt "$ca_before" ] || fail "enroll did not fetch /ca.pem"
[ "$(requests /v1/certificates)" = "$enroll_before" ] ||
    fail "the server saw an enrollment request after a fingerprint mismatch"
lacks "$(m --config "$CONF" audit)" "CN=alice" "the audit log"
ok "wrong fingerprint: both printed, no enrollment request reached the server"

# ---- the right one (as openssl prints it): the same one-time token works ----
run_rc 0 m enroll --server "$U" --ca-fingerprint "$OSSL_FP" --token "$T1" \
    --cn alice --san dns:alice.example --san ip:10.0.0.7 \
    --san email:alice@example.com --san uri:spiffe://example/alice \
    --out-dir alice
SERIAL=$(openssl x509 -in alice/cert.pem -noout -serial | cut -d= -f2)
has "$OUT" "serial:       $SERIAL"
has "$OUT" "enrolled CN=alice"
NOT_AFTER=$(date -u -d "$(openssl x509 -in alice/cert.pem -noout -enddate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)
has "$OUT" "to $NOT_AFTER" "the printed expiry"
[ "$(stat -c %a alice/key.pem)" = 600 ] || fail "key.pem mode $(stat -c %a alice/key.pem)"
for f in cert chain ca; do
	[ "$(stat -c %a "alice/$f.pem")" = 644 ] || fail "$f.pem mode $(stat -c %a "alice/$f.pem")"
done
openssl verify -CAfile "$D/ca.pem" alice/cert.pem >/dev/null || fail "openssl verify"
cmp -s alice/ca.pem "$D/ca.pem" || fail "alice/ca.pem is not the CA certificate"
cat alice/cert.pem alice/ca.pem | cmp -s - alice/chain.pem || fail "chain.pem is not cert + CA"
[ "$(cert_pub alice/cert.pem)" = "$(pub alice/key.pem)" ] ||
    fail "the certificate is not for the key"
openssl pkey -in alice/key.pem -noout -text | grep -q "ASN1 OID: prime256v1" ||
    fail "default key type is not P-256"
sans=$(openssl x509 -in alice/cert.pem -noout -ext subjectAltName)
for s in DNS:alice.example "IP Address:10.0.0.7" email:alice@example.com URI:spiffe://example/alice; do
	has "$sans" "$s" "the certificate's SANs"
done
ok "enrolled with the fingerprint in openssl's form: key 0600, cert/chain/CA verify, SANs kept"

run_rc 1 m enroll --server "$U" --ca-file "$D/ca.pem" --token "$T1" --cn alice \
    --out-dir alice2
has "$OUT" "the server refused the enrollment"
has "$OUT" "already been used" "the server's own message"
[ ! -e alice2/key.pem ] || fail "a key was written after a refusal"
ok "the one-time token is spent now: refused with the server's message, nothing written"

# ---- trust from a CA file; key type, profile and days ----
T2=$(token)
run_rc 0 m enroll --server "$U/" --ca-file "$D/ca.pem" --token-file <(echo "$T2") \
    --cn bob --key-type rsa2048 --profile client --days 30 --out-dir bob
openssl pkey -in bob/key.pem -noout -text | grep -q "(2048 bit" || fail "not RSA 2048"
[ "$(stat -c %a bob)" = 755 ] || fail "a new --out-dir is $(stat -c %a bob), not 755"
mkdir -m 700 priv
run_rc 0 m enroll --server "$U" --ca-file "$D/ca.pem" --token "$(token)" --cn priv --out-dir priv
[ "$(stat -c %a priv)" = 700 ] || fail "an existing --out-dir lost its mode: $(stat -c %a priv)"
[ "$(days_of bob/cert.pem)" = 30 ] || fail "--days 30 gave $(days_of bob/cert.pem) days"
ok "--ca-file, --token-file, --key-type rsa2048, --days 30"

# An existing identity is never replaced by accident.
before=$(sha256sum bob/key.pem bob/cert.pem)
T3=$(token)
run_rc 1 m enroll --server "$U" --ca-file "$D/ca.pem" --token "$T3" --cn bob --out-dir bob
has "$OUT" "--force replaces it"
[ "$(sha256sum bob/key.pem bob/cert.pem)" = "$before" ] || fail "bob's files changed"
run_rc 0 m enroll --server "$U" --ca-file "$D/ca.pem" --token "$T3" --cn bob --out-dir bob --force
[ "$(sha256sum bob/key.pem bob/cert.pem)" != "$before" ] || fail "--force did not replace"
ok "an existing identity: refused without --force (token kept), replaced with it"

# ---- errors people meet ----
DEAD=$(free_port)
T4=$(token)
run_rc 1 m enroll --server "https://127.0.0.1:$DEAD" --ca-file "$D/ca.pem" --token "$T4" \
    --cn carol --out-dir carol
has "$OUT" "cannot connect to https://127.0.0.1:$DEAD"
run_rc 1 m enroll --server "https://127.0.0.1:$DEAD" --ca-fingerprint "$FP" --token "$T4" \
    --cn carol --out-dir carol
has "$OUT" "cannot connect"
# A CA that did not sign the server's certificate: nothing is sent.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
    -subj "/CN=other CA" -days 2 -out other-ca.pem 2>/dev/null || fail "openssl req -x509"
enroll_before=$(requests /v1/certificates)
run_rc 1 m enroll --server "$U" --ca-file other-ca.pem --token "$T4" --cn carol --out-dir carol
has "$OUT" "is not trusted"
has "$OUT" "nothing was sent"
[ "$(requests /v1/certificates)" = "$enroll_before" ] || fail "a request reached the server"
run_rc 1 m enroll --server "$U" --ca-file "$D/ca.pem" --token not-a-token --cn carol --out-dir carol
has "$OUT" "unknown enrollment token (HTTP 403 forbidden)"
# A token cannot smuggle a header line into the request.
run_rc 1 m enroll --server "$U" --ca-file "$D/ca.pem" --token "$T4"$'\r\nX-Injected: 1' \
    --cn carol --out-dir carol
has "$OUT" "the token holds a space, a control character"
# The token was never used: it still enrolls.
run_rc 0 m enroll --server "$U" --ca-file "$D/ca.pem" --token "$T4" --cn carol --out-dir carol
ok "unreachable, untrusted (nothing sent) and refused-token errors say what happened"

# Clock skew: this machine two hours behind the server.
T5=$(token)
run_rc 0 env MTLSCA_FAKE_NOW="$(two_hours_ago)" "$MTLSCA" enroll --server "$U" --ca-file "$D/ca.pem" \
    --token "$T5" --cn dave --out-dir dave
has "$OUT" "warning: this machine's clock is 2h 0m behind the server's"
has "$OUT" "warning: the certificate is valid from"
run_rc 0 m enroll --server "$U" --ca-file "$D/ca.pem" --token "$(token)" --cn erin --out-dir erin
lacks "$OUT" "warning" "a run with a good clock"
ok "clock skew: the Date header and a future notBefore are reported"

# ---- usage errors ----
run_rc 2 m enroll --server "$U" --ca-file "$D/ca.pem" --token x
run_rc 2 m enroll --server "$U" --ca-file "$D/ca.pem" --ca-fingerprint "$FP" --token x --cn a
run_rc 2 m enroll --server "http://127.0.0.1:$PP" --ca-file "$D/ca.pem" --token x --cn a
has "$OUT" "https://"
run_rc 2 m enroll --server "$U" --ca-fingerprint 1234 --token x --cn a
run_rc 2 m enroll --server "$U" --ca-file "$D/ca.pem" --token x --cn a --san "ip:10.0.0.300"
run_rc 2 m enroll --server "$U" --ca-file "$D/ca.pem" --token x --cn a --key-type dsa
ok "usage errors exit 2"

# ---- the result through nginx, as a load balancer checks it ----
NP=$(free_port)
curl -sSf -o "$HL_TMP/lb-ca.pem" "$P/ca.pem" || fail "GET /ca.pem"
curl -sSf -o "$HL_TMP/lb-crl.pem" "$P/crl.pem" || fail "GET /crl.pem"
hl_nginx "$HL_TMP/nginx" "$NP" "$HL_TMP/lb-ca.pem" "$HL_TMP/lb-crl.pem" \
    "$D/private/server.pem" "$D/private/server.key"
code=$(hl_curl "$HL_TMP/n1" --cacert alice/ca.pem --cert alice/cert.pem \
    --key alice/key.pem "https://localhost:$NP/")
[ "$code" = 200 ] || fail "alice through nginx: $code $(cat "$HL_TMP/n1")"
grep -q "hello CN=alice serial $SERIAL" "$HL_TMP/n1" || fail "nginx saw: $(cat "$HL_TMP/n1")"
code=$(hl_curl "$HL_TMP/n2" --cacert alice/ca.pem --cert bob/cert.pem \
    --key bob/key.pem "https://localhost:$NP/")
[ "$code" = 200 ] || fail "bob (RSA) through nginx: $code"
code=$(hl_curl "$HL_TMP/n3" --cacert alice/ca.pem "https://localhost:$NP/")
[ "$code" = 400 ] || fail "no client certificate: $code"
ok "curl with the enrolled files gets through nginx (ssl_verify_client on)"

# ---- PKCS#12 ----
printf 'correct horse\n' > pw
printf 'wrong horse\n' > badpw
run_rc 0 m enroll --server "$U" --ca-file "$D/ca.pem" --token "$(token)" --cn frank \
    --out-dir frank --p12 frank.p12 --p12-password-file pw
has "$OUT" "PKCS#12:      frank.p12 (AES-256-CBC, PBKDF2-SHA256, SHA-256 MAC)"
run_rc 0 m export-p12 --cert frank/cert.pem --key frank/key.pem --chain frank/ca.pem \
    --out frank-legacy.p12 --legacy --password-file pw --name "Frank's laptop"
has "$OUT" "legacy: 3DES, SHA-1 MAC"
[ "$(stat -c %a frank.p12)" = 600 ] && [ "$(stat -c %a frank-legacy.p12)" = 600 ] ||
    fail "PKCS#12 files must be 0600"

info=$(openssl pkcs12 -in frank.p12 -info -noout -passin file:pw 2>&1) ||
    fail "openssl pkcs12 -info (modern): $info"
has "$info" "MAC: sha256"
has "$info" "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC"
has "$info" "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC"
has "$info" "PRF hmacWithSHA256"
lacks "$info" "3DES"
info=$(openssl pkcs12 -legacy -in frank-legacy.p12 -info -noout -passin file:pw 2>&1) ||
    fail "openssl pkcs12 -legacy -info: $info"
has "$info" "MAC: sha1"
has "$info" "PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC"
has "$info" "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC"
lacks "$info" "AES"

for p in frank.p12 frank-legacy.p12; do
	legacy=()
	[ "$p" = frank-legacy.p12 ] && legacy=(-legacy)
	openssl pkcs12 "${legacy[@]}" -in "$p" -nodes -passin file:pw -out "$p.pem" 2>/dev/null ||
	    fail "openssl cannot read $p"
	openssl pkcs12 "${legacy[@]}" -in "$p" -nodes -passin file:badpw -out /dev/null 2>/dev/null &&
	    fail "openssl read $p with the wrong password"
	# The key and the leaf inside match each other and the originals.
	openssl pkcs12 "${legacy[@]}" -in "$p" -nokeys -clcerts -passin file:pw -out "$p.crt" 2>/dev/null
	openssl pkcs12 "${legacy[@]}" -in "$p" -nocerts -nodes -passin file:pw -out "$p.key" 2>/dev/null
	[ "$(cert_pub "$p.crt")" = "$(pub "$p.key")" ] || fail "$p: key and certificate differ"
	[ "$(pub "$p.key")" = "$(pub frank/key.pem)" ] || fail "$p: not frank's key"
	cmp -s <(openssl x509 -in "$p.crt") <(openssl x509 -in frank/cert.pem) || fail "$p: not frank's certificate"
	[ "$(grep -c 'BEGIN CERTIFICATE' "$p.pem")" = 2 ] || fail "$p: the CA is not inside"
	ct=$(certtool --p12-info --inder --infile "$p" --password "correct horse" 2>&1) ||
	    fail "certtool --p12-info $p: $ct"
	has "$ct" "Type: Certificate"
	has "$ct" "ENCRYPTED PRIVATE KEY"
	if [ "$p" = frank.p12 ]; then
		has "$ct" "Schema: PBES2-AES256-CBC"
		has "$ct" "MAC: SHA256"
		has "$(openssl pkcs12 -in "$p" -info -nokeys -passin file:pw 2>/dev/null)" "friendlyName: frank"
	else
		has "$ct" "Schema: PKCS12-3DES-SHA1"
		has "$ct" "MAC: SHA1"
		has "$(openssl pkcs12 -legacy -in "$p" -info -nokeys -passin file:pw 2>/dev/null)" "friendlyName: Frank's laptop"
	fi
	certtool --p12-info --inder --infile "$p" --password "wrong horse" >/dev/null 2>&1 &&
	    fail "certtool read $p with the wrong password"
done
ok "PKCS#12 modern (AES-256-CBC, PBKDF2-SHA256, SHA-256 MAC) and legacy (3DES, SHA-1): openssl and certtool read both, wrong password fails, key matches certificate"

run_rc 1 m export-p12 --cert frank/cert.pem --key alice/key.pem --out x.p12 --password-file pw
has "$OUT" "does not match"
run_rc 1 m export-p12 --cert frank/cert.pem --key frank/key.pem --out frank.p12 --password-file pw
has "$OUT" "already exists"
# No password file and no terminal: a clear refusal, not a hang.
run_rc 1 setsid -w "$MTLSCA" export-p12 --cert frank/cert.pem --key frank/key.pem --out y.p12
has "$OUT" "--password-file"
[ ! -e x.p12 ] && [ ! -e y.p12 ] || fail "a PKCS#12 file was written after a refusal"
ok "export-p12 refuses a key that is not the certificate's, an existing file, no password"

# ---- help and the man page ----
MAN="$MTLSCA_SRC/packaging/mtlsca.1"
man_text=$(sed 's/\\-/-/g' "$MAN")
run_rc 0 m --help
main_help=$OUT
for c in enroll renew export-p12; do
	has "$main_help" "  $c " "mtlsca --help"
	run_rc 0 m "$c" --help
	has "$OUT" "usage: mtlsca $c"
	help_out=$OUT
	run_rc 0 m help "$c"
	[ "$OUT" = "$help_out" ] || fail "help $c differs from $c --help"
	has "$man_text" ".SS \"mtlsca $c" "man page section for $c"
	for o in $(printf '%s\n' "$help_out" | grep -o -E -- '--[a-z][a-z0-9-]*' | sort -u); do
		has "$man_text" "$o" "man page (option $o of $c)"
	done
done
ok "--help of enroll, renew, export-p12 on stdout; the man page covers their options"

hl_stop "$(printf '%s\n' "${HL_PIDS[@]}" | head -1)"
echo "PASS"
