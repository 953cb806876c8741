#!/bin/bash
# revoke (reasons, idempotence, raising to keyCompromise, unknown serials,
# --force, --file with --dry-run) and crl (number, AKI, reasons, dates),
# checked by openssl, certtool and python3-cryptography; the CRL makes
# `openssl verify -crl_check` refuse the revoked certificate only.
. "$(dirname "$0")/lib.sh"
tmpdir

run_ok m init --subject "CN=Revocation Test CA,O=mtlsca tests"
for n in a b c d e f; do
	make_csr "$n" rsa:2048
	run_ok m sign --csr "$n.csr" --out "$n.pem"
	eval "S_$n=\$(serial_of $n.pem)"
done

note "revoke: reasons, twice, raise"
run_ok m revoke "$S_a" --reason superseded
assert_contains "$OUT" "$S_a: revoked on "
assert_contains "$OUT" "(superseded)"
first_time=$(printf '%s' "$OUT" | sed -E 's/.*revoked on ([^ ]+) .*/\1/')
run_ok m revoke "$S_a" --reason affiliationChanged
assert_contains "$OUT" "$S_a: already revoked on $first_time (superseded); nothing changed"
run_ok m revoke "$S_a" --reason keyCompromise
assert_contains "$OUT" "$S_a: reason raised to keyCompromise"
run_ok m revoke "$S_a" --reason keyCompromise
assert_contains "$OUT" "already revoked on $first_time (keyCompromise); nothing changed"
run_ok m show "$S_a"
assert_contains "$OUT" "status:      revoked"
assert_contains "$OUT" "revoked:     $first_time (keyCompromise)"

# --time and lower case / colons in the serial.
b_colon=$(echo "$S_b" | tr A-F a-f | sed 's/../&:/g; s/:$//')
run_ok m revoke "$b_colon" --reason cessationOfOperation --time 2025-01-02T03:04:05Z
assert_contains "$OUT" "$S_b: revoked on 2025-01-02T03:04:05Z (cessationOfOperation)"

note "revoke: refusals"
run_status 1 m revoke 0123456789ABCDEF
assert_contains "$OUT" "mtlsca: serial 0123456789ABCDEF is not in the store"
run_ok m revoke 0123456789ABCDEF --force --reason keyCompromise
assert_contains "$OUT" "0123456789ABCDEF: revoked on"
assert_contains "$OUT" "did not know"
run_status 2 m revoke "not-hex"
assert_contains "$OUT" "mtlsca: "
run_status 2 m revoke "$S_c" --reason bogus
assert_contains "$OUT" "keyCompromise"
run_status 2 m revoke "$S_c" --reason removeFromCRL
assert_contains "$OUT" "delta CRL"
run_status 2 m revoke "$S_c" --time yesterday
assert_contains "$OUT" "RFC 3339"
run_status 2 m revoke "$S_c" --time 2999-01-01T00:00:00Z
assert_contains "$OUT" "future"
run_status 2 m revoke
run_ok m show "$S_c"
assert_contains "$OUT" "status:      valid"

note "revoke --file"
cat > list.txt <<EOF
# incident 42
$S_c

$(echo "$S_d" | tr A-F a-f)   # trailing comment
$S_a
0AAAAAAAAAAAAAAAAAAAAAAAAAAAAA01
EOF
run_status 1 m revoke --file list.txt --reason keyCompromise
assert_contains "$OUT" "list.txt:6: serial 0AAAAAAAAAAAAAAAAAAAAAAAAAAAAA01 is not in the store"
assert_contains "$OUT" "nothing was revoked"
run_ok m show "$S_c"
assert_contains "$OUT" "status:      valid" "c after a refused --file"
sed -i '$d' list.txt
run_ok m revoke --file list.txt --reason keyCompromise --dry-run
assert_contains "$OUT" "$S_c: would be revoked (keyCompromise)"
assert_contains "$OUT" "$S_d: would be revoked (keyCompromise)"
assert_contains "$OUT" "$S_a: already revoked on $first_time (keyCompromise); nothing would change"
assert_contains "$OUT" "nothing written"
run_ok m show "$S_c"
assert_contains "$OUT" "status:      valid" "c after --dry-run"
echo "zz-not-a-serial" >> bad-list.txt
run_status 1 m revoke --file bad-list.txt
assert_contains "$OUT" "bad-list.txt:1:"
run_ok m revoke --file list.txt --reason keyCompromise
assert_contains "$OUT" "$S_c: revoked on"
assert_contains "$OUT" "2 revoked, 0 reason(s) raised, 1 already revoked"
run_ok m list --status revoked
for s in "$S_a" "$S_b" "$S_c" "$S_d" 0123456789ABCDEF; do
	assert_contains "$OUT" "$s" "list --status revoked"
done
assert_not_contains "$OUT" "$S_e" "list --status revoked"
run_ok m list --status valid
assert_contains "$OUT" "$S_e"
assert_not_contains "$OUT" "$S_a"
# --cn: exactly that CN's certificates (make_csr's CN is the name), with
# --status and --json; no prefix matches.
make_csr e2 rsa:2048 "/O=second/CN=e"
run_ok m sign --csr e2.csr --out e2.pem
S_e2=$(serial_of e2.pem)
run_ok m list --cn e
assert_eq 3 "$(printf '%s\n' "$OUT" | wc -l)" "list --cn e: a header and 2 lines"
assert_contains "$OUT" "$S_e"
assert_contains "$OUT" "$S_e2"
assert_not_contains "$OUT" "$S_f"
run_ok m list --cn a --status valid
assert_eq 1 "$(printf '%s\n' "$OUT" | wc -l)" "list --cn a --status valid: a is revoked"
run_ok m list --cn e --json
assert_eq 2 "$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')" "list --cn e --json"
run_status 2 m list --cn ""
assert_contains "$OUT" "--cn: expected a CN, not an empty string"
# expired = valid and past notAfter (time pinned two years ahead).
MTLSCA_FAKE_NOW=2040-01-01T00:00:00Z run_ok m list --status expired
assert_contains "$OUT" "$S_e" "list --status expired in 2040"
assert_not_contains "$OUT" "$S_a" "list --status expired in 2040 (revoked)"

note "crl"
run_ok m crl
assert_contains "$OUT" "CRL number 1: 5 entries"
assert_file data/public/crl.der
assert_file data/public/crl.pem
text=$(openssl crl -inform DER -in data/public/crl.der -noout -text)
assert_contains "$text" "X509v3 CRL Number:"
printf '%s\n' "$text" | grep -A1 "X509v3 CRL Number" | grep -qx ' *1' || fail "openssl: CRL number is not 1: $text"
assert_contains "$text" "X509v3 Authority Key Identifier"
ski=$(openssl x509 -in data/ca.pem -noout -text | grep -A1 "Subject Key Identifier" | tail -1 | tr -d ' ')
assert_contains "$text" "$ski" "CRL AKI (CA SKI $ski)"
for s in "$S_a" "$S_c" "$S_d" 0123456789ABCDEF; do
	printf '%s\n' "$text" | grep -A4 "Serial Number: $s" | grep -q "Key Compromise" ||
	    fail "CRL entry $s is not keyCompromise: $text"
done
printf '%s\n' "$text" | grep -A4 "Serial Number: $S_b" | grep -q "Cessation Of Operation" ||
    fail "CRL entry $S_b is not cessationOfOperation"
printf '%s\n' "$text" | grep -A2 "Serial Number: $S_b" | grep -q "Jan  2 03:04:05 2025 GMT" ||
    fail "CRL entry $S_b does not carry --time"
assert_not_contains "$text" "$S_e" "CRL"
openssl crl -in data/public/crl.pem -noout >/dev/null 2>&1 || fail "openssl cannot read crl.pem"
cmp -s <(openssl crl -in data/public/crl.pem -outform DER) data/public/crl.der ||
    fail "crl.pem and crl.der are not the same CRL"

run_ok certtool --crl-info --inder --infile data/public/crl.der
assert_contains "$OUT" "Revoked certificates (5)"
run_ok certtool --verify-crl --load-ca-certificate data/ca.pem --infile data/public/crl.pem
assert_contains "$OUT" "Verification output: Verified"

run_ok "$PY" - data/ca.pem data/public/crl.der "$S_a" "$S_b" "$S_e" <<'EOF'
import sys, datetime
from cryptography import x509
ca = x509.load_pem_x509_certificate(open(sys.argv[1], 'rb').read())
crl = x509.load_der_x509_crl(open(sys.argv[2], 'rb').read())
sa, sb, se = (int(s, 16) for s in sys.argv[3:6])
assert crl.is_signature_valid(ca.public_key()), "signature"
assert crl.issuer == ca.subject, "issuer"
num = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
assert num == 1, num
aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
assert aki.key_identifier == ski.digest, "AKI"
lu = crl.last_update_utc if hasattr(crl, "last_update_utc") else crl.last_update.replace(tzinfo=datetime.timezone.utc)
nu = crl.next_update_utc if hasattr(crl, "next_update_utc") else crl.next_update.replace(tzinfo=datetime.timezone.utc)
assert nu - lu == datetime.timedelta(days=7), nu - lu
now = datetime.datetime.now(datetime.timezone.utc)
assert abs((now - lu).total_seconds()) < 600, lu
def reason(sn):
    e = crl.get_revoked_certificate_by_serial_number(sn)
    assert e is not None, hex(sn)
    return e, e.extensions.get_extension_for_class(x509.CRLReason).value.reason
e, r = reason(sa)
assert r == x509.ReasonFlags.key_compromise, r
e, r = reason(sb)
assert r == x509.ReasonFlags.cessation_of_operation, r
rd = e.revocation_date_utc if hasattr(e, "revocation_date_utc") else e.revocation_date.replace(tzinfo=datetime.timezone.utc)
assert rd == datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc), rd
assert crl.get_revoked_certificate_by_serial_number(se) is None
assert len(crl) == 5, len(crl)
print("python3-cryptography: OK")
EOF
assert_contains "$OUT" "python3-cryptography: OK"

run_status 2 openssl verify -crl_check -CAfile data/ca.pem -CRLfile data/public/crl.pem a.pem
assert_contains "$OUT" "certificate revoked"
run_ok openssl verify -crl_check -CAfile data/ca.pem -CRLfile data/public/crl.pem e.pem
assert_contains "$OUT" "e.pem: OK"

note "crl --check"
run_ok m crl --check data/public/crl.pem
assert_contains "$OUT" "number:      1"
assert_contains "$OUT" "entries:     5"
assert_contains "$OUT" "verified"
assert_contains "$OUT" "OK"
run_status 1 m crl --check data/public/crl.der
assert_contains "$OUT" "PEM"
assert_contains "$OUT" "FAILED"
echo "garbage" > junk.pem
run_status 1 m crl --check junk.pem
# A CRL signed by another CA fails the signature check against ours.
run_ok "$MTLSCA" --data-dir other init --key-type ecdsa-p256
run_ok "$MTLSCA" --data-dir other crl
run_status 1 m crl --check other/public/crl.pem
assert_contains "$OUT" "FAILED"

note "crl: numbers rise, --out"
run_ok m crl --out out.der
assert_contains "$OUT" "CRL number 2:"
run_ok m crl --out out.pem --pem
assert_contains "$OUT" "CRL number 3:"
cmp -s out.pem data/public/crl.pem || fail "--out --pem differs from public/crl.pem"
openssl crl -inform DER -in out.der -noout -text | grep -A1 "CRL Number" | grep -qx ' *2' ||
    fail "out.der is not CRL number 2"
openssl crl -in data/public/crl.pem -noout -text | grep -A1 "CRL Number" | grep -qx ' *3' ||
    fail "public/crl.pem is not CRL number 3"
run_status 2 m crl --pem

note "crl and publish take turns with other processes (data/crl.lock, data/publish.lock)"
# hold_lock LOCK: another process holds data/LOCK for 1 s, then writes
# "holder" to the file order; returns once the lock is taken.
hold_lock() {
	rm -f order
	flock "data/$1" sh -c 'sleep 1; echo holder >> order' &
	HOLDER=$!
	for _ in $(seq 100); do
		flock -n "data/$1" true || return 0
		sleep 0.02
	done
	fail "the test's lock holder never took data/$1"
}
hold_lock crl.lock
run_ok m crl
echo crl >> order
wait "$HOLDER"
assert_eq "holder crl" "$(tr '\n' ' ' < order | sed 's/ $//')" "mtlsca crl waited for the lock holder"
assert_contains "$OUT" "waiting for another mtlsca process (serve or crl) to finish its CRL run"
assert_contains "$OUT" "CRL number 4:"
printf 'publishers = ( { type = "dir"; name = "www"; path = "%s/www"; } );\n' "$PWD" > pub.conf
hold_lock publish.lock
run_ok m --config pub.conf publish
echo publish >> order
wait "$HOLDER"
assert_eq "holder publish" "$(tr '\n' ' ' < order | sed 's/ $//')" "mtlsca publish waited for the lock holder"
assert_contains "$OUT" "waiting for another mtlsca process (serve or publish) to finish publishing"
cmp -s www/crl.pem data/public/crl.pem || fail "publish did not copy CRL 4 to www/"
# Publishing never waits for a CRL build, nor a build for a publisher: a
# run of the publishers goes ahead while crl.lock is held.
hold_lock crl.lock
run_ok m --config pub.conf publish
echo publish >> order
wait "$HOLDER"
assert_eq "publish holder" "$(tr '\n' ' ' < order | sed 's/ $//')" "mtlsca publish waited for crl.lock"
# No CA there: refused, and nothing created in its place.
run_status 1 "$MTLSCA" --data-dir "$T/none" --config pub.conf publish
assert_contains "$OUT" "no CA certificate at $T/none/ca.pem"
[ ! -e "$T/none" ] || fail "publish created $T/none"
# Free: no wait, no message.
run_ok m crl
assert_not_contains "$OUT" "waiting"

note "configuration drives the CRL"
cat > short.conf <<EOF
crl = {
	validity = "2d";
	refresh = "12h";
};
EOF
run_ok m --config short.conf crl
assert_contains "$OUT" "CRL number 6:"
nu=$(openssl crl -in data/public/crl.pem -noout -nextupdate | cut -d= -f2)
lu=$(openssl crl -in data/public/crl.pem -noout -lastupdate | cut -d= -f2)
assert_eq 172800 $(( $(date -u -d "$nu" +%s) - $(date -u -d "$lu" +%s) )) "CRL validity with crl.validity = 2d"

note "a bad configuration is refused with file:line"
cat > bad.conf <<EOF
crl = {
	validity = "2d";
	refresh = "1d";
};
EOF
run_status 1 m --config bad.conf crl
assert_contains "$OUT" "mtlsca: bad.conf:3: crl.refresh:"
assert_contains "$OUT" "at most a third of crl.validity"
openssl crl -in data/public/crl.pem -noout -text | grep -A1 "CRL Number" | grep -qx ' *6' ||
    fail "a refused configuration still made a CRL"

note "the audit log records what the command line did"
run_ok m audit
for a in issue revoke crl; do
	printf '%s\n' "$OUT" | grep -q "cli:.*	$a	" || fail "no '$a' entry from the command line in the audit log: $OUT"
done
printf '%s\n' "$OUT" | grep -q "revoke	serial=$S_c reason=keyCompromise file=list.txt" ||
    fail "the --file revocation of $S_c is not in the audit log"
