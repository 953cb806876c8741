#!/bin/bash
# Adopt the CA the manual OpenSSL runbook makes (shared/fixtures): its key,
# certificate, index.txt (sample-2 valid, sample-3 revoked keyCompromise)
# and certificate files. Then mtlsca signs with it, and its CRL makes
# `openssl verify -crl_check` refuse sample-3 and accept sample-2.
. "$(dirname "$0")/lib.sh"
tmpdir
RUNBOOK=$(runbook_dir)
R="$T/runbook"
"$RUNBOOK/make-runbook-ca.sh" "$R" > /dev/null || fail "make-runbook-ca.sh failed"
assert_file "$R/index.txt"
S2=$(serial_of "$R/sample-2.pem")
S3=$(serial_of "$R/sample-3.pem")
note "runbook serials: sample-2 $S2, sample-3 $S3"

note "refusals leave nothing behind"
run_status 2 m import --ca-cert "$R/rootCA.pem"
assert_contains "$OUT" "--ca-key"
# A key others can read may have leaked: refused.
cp "$R/rootCA.key" open.key
chmod 644 open.key
run_status 1 m import --ca-cert "$R/rootCA.pem" --ca-key open.key
assert_contains "$OUT" "0600"
[ ! -e data/ca.pem ] || fail "a refused import left data/ca.pem"
# A damaged index.txt: nothing imported, no CA files.
cp "$R/index.txt" bad-index.txt
printf 'V\tnot-a-date\t\t0A\tunknown\t/CN=x\n' >> bad-index.txt
run_status 1 m import --ca-cert "$R/rootCA.pem" --ca-key "$R/rootCA.key" --openssl-index bad-index.txt
assert_contains "$OUT" "line 3"
assert_contains "$OUT" "nothing was imported"
[ ! -e data/ca.pem ] || fail "a failed import left data/ca.pem"
[ ! -e data/private/ca.key ] || fail "a failed import left data/private/ca.key"
# The key of another CA does not match the certificate.
openssl genrsa -out other.key 2048 2>/dev/null
chmod 600 other.key
run_status 1 m import --ca-cert "$R/rootCA.pem" --ca-key other.key
[ ! -e data/ca.pem ] || fail "a mismatched key left data/ca.pem"

note "import"
run_ok m import --ca-cert "$R/rootCA.pem" --ca-key "$R/rootCA.key" \
    --openssl-index "$R/index.txt" --certs "$R"
assert_contains "$OUT" "imported CA CN=sample,OU=tech,O=shika-darake,L=Tsuru,ST=Yamanashi,C=JP"
assert_contains "$OUT" "2 certificate record(s): 1 valid, 0 expired, 1 revoked"
assert_contains "$OUT" "2 certificate file(s) attached to index entries, 0 added"
# rootCA.pem itself and crl.pem are not client certificates of this CA.
assert_contains "$OUT" "skipped $R/rootCA.pem: the CA certificate itself"
assert_contains "$OUT" "skipped $R/crl.pem"
assert_eq 600 "$(mode data/private/ca.key)" "imported key mode"
cmp -s <(openssl x509 -in data/ca.pem -outform DER) <(openssl x509 -in "$R/rootCA.pem" -outform DER) ||
    fail "data/ca.pem is not rootCA.pem"

run_ok m list
assert_eq 3 "$(printf '%s\n' "$OUT" | wc -l)" "list lines (header + 2)"
printf '%s\n' "$OUT" | grep -E "^$S2 +valid +[0-9T:Z-]+ +CN=sample-2,OU=tech,O=shika-darake,L=Tsuru,ST=Yamanashi,C=JP$" >/dev/null ||
    fail "list does not show sample-2 valid: $OUT"
printf '%s\n' "$OUT" | grep -E "^$S3 +revoked +[0-9T:Z-]+ +CN=sample-3,OU=tech" >/dev/null ||
    fail "list does not show sample-3 revoked: $OUT"
run_ok m show "$S3"
assert_contains "$OUT" "(keyCompromise)"
assert_contains "$OUT" "profile:     (imported)"
# The revocation time is index.txt's.
idx_time=$(awk -F'\t' '$1=="R"{print $3}' "$R/index.txt" | cut -d, -f1)
want=$(date -u -d "20${idx_time:0:2}-${idx_time:2:2}-${idx_time:4:2} ${idx_time:6:2}:${idx_time:8:2}:${idx_time:10:2}" +%Y-%m-%dT%H:%M:%SZ)
assert_contains "$OUT" "revoked:     $want (keyCompromise)"
# The certificate files are attached: show --pem gives them back.
m show "$S2" --pem > s2.pem || fail "show --pem sample-2"
cmp -s <(openssl x509 -in s2.pem -outform DER) <(openssl x509 -in "$R/sample-2.pem" -outform DER) ||
    fail "show --pem of sample-2 is not sample-2.pem"

# Importing again is refused: a CA is never overwritten.
run_status 1 m import --ca-cert "$R/rootCA.pem" --ca-key "$R/rootCA.key"
assert_contains "$OUT" "already exists"

note "index only, then a directory with an unknown certificate"
D2="$T/data2"
run_ok "$MTLSCA" --data-dir "$D2" import --ca-cert "$R/rootCA.pem" --ca-key "$R/rootCA.key" --openssl-index "$R/index.txt"
assert_contains "$OUT" "2 certificate record(s)"
run_ok "$MTLSCA" --data-dir "$D2" show "$S2"
assert_contains "$OUT" "certificate: not recorded"
assert_contains "$OUT" "subject:     CN=sample-2,OU=tech,O=shika-darake,L=Tsuru,ST=Yamanashi,C=JP"
D3="$T/data3"
mkdir certs-only
cp "$R/sample-2.pem" certs-only/
run_ok "$MTLSCA" --data-dir "$D3" import --ca-cert "$R/rootCA.pem" --ca-key "$R/rootCA.key" --certs certs-only
assert_contains "$OUT" "0 certificate file(s) attached to index entries, 1 added"
run_ok "$MTLSCA" --data-dir "$D3" list
assert_contains "$OUT" "$S2"

note "OpenSSL one-line subjects become RFC 4514 text"
D4="$T/data4"
printf 'V\t%s\t\t%s\tunknown\t%s\n' 301231235959Z 1A2B "/C=JP/O=A+B/CN=Doe, John" > odd-index.txt
printf 'V\t%s\t\t%s\tunknown\t%s\n' 301231235959Z 1A2C '/CN=caf\xC3\xA9 #1/emailAddress=a@example.com' >> odd-index.txt
printf 'E\t%s\t\t%s\tunknown\t%s\n' 200101000000Z 1A2D "/CN=old" >> odd-index.txt
printf 'R\t%s\t%s\t%s\tunknown\t%s\n' 301231235959Z 240102030405Z,superseded 1A2E "/CN=gone" >> odd-index.txt
run_ok "$MTLSCA" --data-dir "$D4" import --ca-cert "$R/rootCA.pem" --ca-key "$R/rootCA.key" --openssl-index odd-index.txt
assert_contains "$OUT" "4 certificate record(s): 2 valid, 1 expired, 1 revoked"
run_ok "$MTLSCA" --data-dir "$D4" show 1A2B
assert_contains "$OUT" 'subject:     CN=Doe\, John,O=A\+B,C=JP'
run_ok "$MTLSCA" --data-dir "$D4" show 1a:2c
assert_contains "$OUT" 'subject:     emailAddress=a@example.com,CN=café #1'
run_ok "$MTLSCA" --data-dir "$D4" list --status expired
assert_contains "$OUT" "1A2D"
run_ok "$MTLSCA" --data-dir "$D4" show 1A2E
assert_contains "$OUT" "revoked:     2024-01-02T03:04:05Z (superseded)"

# Bytes OpenSSL wrote as \xHH come back as RFC 4514 hex pairs when they are
# control characters or not UTF-8: never raw escape sequences for a terminal.
D5="$T/data5"
printf 'V\t%s\t\t%s\tunknown\t%s\n' 301231235959Z 1B01 '/CN=a\x1B[31mb' > ctl-index.txt
printf 'V\t%s\t\t%s\tunknown\t%s\n' 301231235959Z 1B02 '/CN=x\xFFy' >> ctl-index.txt
run_ok "$MTLSCA" --data-dir "$D5" import --ca-cert "$R/rootCA.pem" --ca-key "$R/rootCA.key" --openssl-index ctl-index.txt
run_ok "$MTLSCA" --data-dir "$D5" show 1B01
assert_contains "$OUT" 'subject:     CN=a\1B[31mb'
printf '%s' "$OUT" | grep -q $'\x1b' && fail "show printed a raw ESC byte: $OUT"
run_ok "$MTLSCA" --data-dir "$D5" show 1B02 --json
assert_contains "$OUT" '"subject": "CN=x\\FFy"'
# An attribute type is a name or an OID: anything else would smuggle RDNs
# into the RFC 4514 text.
D6="$T/data6"
printf 'V\t%s\t\t%s\tunknown\t%s\n' 301231235959Z 1C01 '/CN,OU=evil=x' > type-index.txt
run_status 1 "$MTLSCA" --data-dir "$D6" import --ca-cert "$R/rootCA.pem" --ca-key "$R/rootCA.key" --openssl-index type-index.txt
assert_contains "$OUT" "entry 1: subject"
assert_contains "$OUT" "nothing was imported"
[ ! -e "$D6/ca.pem" ] || fail "a refused import left $D6/ca.pem"

note "signing with the imported CA"
make_csr newclient rsa:2048
run_ok m sign --csr newclient.csr --out newclient.pem
run_ok openssl verify -CAfile "$R/rootCA.pem" newclient.pem
assert_contains "$OUT" "newclient.pem: OK"

note "the CRL of the imported CA"
run_ok m crl
assert_contains "$OUT" "CRL number 1: 1 entry"
text=$(openssl crl -in data/public/crl.pem -noout -text)
assert_contains "$text" "Serial Number: $S3"
printf '%s\n' "$text" | grep -A4 "Serial Number: $S3" | grep -q "Key Compromise" ||
    fail "sample-3 is not on the CRL as keyCompromise: $text"
assert_not_contains "$text" "$S2" "CRL"
run_status 2 openssl verify -crl_check -CAfile "$R/rootCA.pem" -CRLfile data/public/crl.pem "$R/sample-3.pem"
assert_contains "$OUT" "certificate revoked"
run_ok openssl verify -crl_check -CAfile "$R/rootCA.pem" -CRLfile data/public/crl.pem "$R/sample-2.pem"
run_ok openssl verify -crl_check -CAfile "$R/rootCA.pem" -CRLfile data/public/crl.pem newclient.pem
run_ok m crl --check data/public/crl.pem
assert_contains "$OUT" "OK"
# Revoking sample-2 now puts it on the next CRL.
run_ok m revoke "$S2" --reason superseded
run_ok m crl
assert_contains "$OUT" "CRL number 2: 2 entries"
run_status 2 openssl verify -crl_check -CAfile "$R/rootCA.pem" -CRLfile data/public/crl.pem "$R/sample-2.pem"
