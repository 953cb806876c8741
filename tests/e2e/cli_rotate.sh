#!/bin/bash
# `mtlsca ca rotate` on the command line (issue 12), for a CA adopted from
# the OpenSSL runbook with `import` (a fresh `init` goes the same way, and
# publish_rotation.sh runs it through serve, S3, ALB and nginx):
# - the new CA is the configured one and signs; the runbook's CA retires
#   with its certificates (counted by `ca list`);
# - `mtlsca crl` builds one CRL per CA, each listing only its own
#   revocations (openssl reads them); crls.pem holds both, and openssl
#   verify -crl_check with both CAs refuses exactly the revoked ones;
# - the cross certificate chains the new CA to the old one for openssl;
# - an interrupted rotation (the new CA recorded, the files not installed)
#   is finished by the next command; a second rotation retires CA 2 too.
. "$(dirname "$0")/lib.sh"
tmpdir
RUNBOOK=$(runbook_dir)
R="$T/runbook"
"$RUNBOOK/make-runbook-ca.sh" "$R" >/dev/null || fail "make-runbook-ca.sh failed"
run_ok m import --ca-cert "$R/rootCA.pem" --ca-key "$R/rootCA.key" \
    --openssl-index "$R/index.txt" --certs "$R"
make_csr "$T/a" ec:prime256v1 "/CN=a"
run_ok m sign --csr "$T/a.csr" --out "$T/a.pem"

note "rotate"
run_ok m ca rotate --key-type ecdsa-p384 --days 400
assert_contains "$OUT" "CA 2 is active: CN=sample 2,OU=tech"
assert_contains "$OUT" "CA 1 is retiring"
assert_not_contains "$OUT" "serve is running"
openssl x509 -in data/ca.pem -noout -text | grep -q "NIST CURVE: P-384" || fail "the new CA is not P-384"
cmp -s data/ca.pem data/cas/2/ca.pem || fail "the configured ca.pem is not CA 2"
cmp -s "$R/rootCA.pem" data/cas/1/ca.pem || fail "cas/1/ca.pem is not the runbook's CA"
assert_eq 600 "$(mode data/cas/1/ca.key)" "cas/1/ca.key mode"
assert_eq 600 "$(mode data/private/ca.key)" "the new configured key's mode"
run_ok m ca list --json
echo "$OUT" | python3 -c '
import json, sys
cas = {c["id"]: c for c in json.load(sys.stdin)}
assert cas[1]["state"] == "retiring" and cas[2]["state"] == "active", cas
# the runbook s 2 certificates, a, the cross certificate
assert (cas[1]["certificates"], cas[1]["revoked"]) == (4, 1), cas[1]
assert cas[2]["certificates"] == 0, cas[2]' || fail "ca list: $OUT"
# The cross certificate: CA 2 signed by CA 1 (openssl builds the chain).
openssl verify -CAfile "$R/rootCA.pem" data/cas/2/cross-1.pem >/dev/null ||
    fail "the cross certificate does not verify under CA 1"

note "sign and revoke under both CAs"
make_csr "$T/b" ec:prime256v1 "/CN=b"
make_csr "$T/c" ec:prime256v1 "/CN=c"
run_ok m sign --csr "$T/b.csr" --out "$T/b.pem"
run_ok m sign --csr "$T/c.csr" --out "$T/c.pem"
openssl x509 -in "$T/b.pem" -noout -issuer | grep -q "CN = sample 2" || fail "b is not CA 2's"
run_ok m revoke "$(serial_of "$T/a.pem")"
run_ok m revoke "$(serial_of "$T/c.pem")"
run_ok m show "$(serial_of "$T/a.pem")"
assert_contains "$OUT" "issuer:      CA 1 (CN=sample,OU=tech"
run_ok m list
assert_contains "$OUT" "CN=b  [CA 2]"
run_ok m crl --json
echo "$OUT" | python3 -c '
import json, sys
o = json.load(sys.stdin)
assert o["entries"] == 1 and len(o["retiring"]) == 1, o
assert o["retiring"][0]["ca"] == 1 and o["retiring"][0]["entries"] == 2, o' ||
    fail "crl --json: $OUT"
crl_serials() { openssl crl -in "$1" -noout -text | tr -d ' :' | sed -n 's/^SerialNumber//p' | sort; }
assert_eq "$(serial_of "$T/c.pem")" "$(crl_serials data/public/crl.pem)" "CA 2's CRL"
assert_eq "$(printf '%s\n' "$(serial_of "$T/a.pem")" "$(serial_of "$R/sample-3.pem")" | sort)" \
    "$(crl_serials data/public/ca-1/crl.pem)" "CA 1's CRL"
openssl crl -in data/public/ca-1/crl.pem -noout -issuer | grep -q "OU = tech, CN = sample$" || fail "CA 1's CRL issuer"
assert_eq 2 "$(grep -c 'BEGIN X509 CRL' data/public/crls.pem)" "CRLs in crls.pem"
cat data/cas/1/ca.pem data/cas/2/ca.pem >"$T/both.pem"
for f in "$R/sample-2.pem" "$T/b.pem"; do
	openssl verify -crl_check -CAfile "$T/both.pem" -CRLfile data/public/crls.pem "$f" >/dev/null 2>&1 ||
	    fail "$f is refused"
done
for f in "$R/sample-3.pem" "$T/a.pem" "$T/c.pem"; do
	out=$(openssl verify -crl_check -CAfile "$T/both.pem" -CRLfile data/public/crls.pem "$f" 2>&1) &&
	    fail "$f verifies"
	assert_contains "$out" "certificate revoked" "$f"
done
# With the active CA's crl.pem alone, openssl cannot check CA 1's clients:
# why crls.pem exists.
out=$(openssl verify -crl_check -CAfile "$T/both.pem" -CRLfile data/public/crl.pem "$R/sample-2.pem" 2>&1) &&
    fail "crl.pem alone should not cover CA 1"
assert_contains "$out" "unable to get certificate CRL"

note "an interrupted rotation is finished by the next command"
cp data/ca.pem "$T/ca2.pem"
run_ok m ca rotate
assert_contains "$OUT" "CA 3 is active"
# Put back CA 2's files as if the rotation stopped before step 5.
cp "$T/ca2.pem" data/ca.pem
cp data/cas/2/ca.key data/private/ca.key
run_ok m sign --csr "$T/b.csr" --out "$T/b3.pem"
assert_contains "$OUT" "finishing the rotation to CA 3"
openssl x509 -in "$T/b3.pem" -noout -issuer | grep -q "CN = sample 3" || fail "b3 is not CA 3's: the rotation was not finished"
run_ok m ca list
assert_contains "$OUT" "2    retiring"
assert_contains "$OUT" "3    active"
run_ok m crl
assert_eq 3 "$(grep -c 'BEGIN X509 CRL' data/public/crls.pem)" "CRLs in crls.pem with two retiring CAs"

note "a pkcs11 key is not rotated"
sed 's/^x//' >"$T/p11.conf" <<CONF
xdata_dir = "$T/data";
xca = { key = "pkcs11:token=none;object=none"; };
CONF
chmod 600 "$T/p11.conf"
run_status 1 "$MTLSCA" --config "$T/p11.conf" ca rotate
assert_contains "$OUT" "the CA key is in a token"
