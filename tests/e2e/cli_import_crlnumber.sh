#!/bin/bash
# import carries the runbook's CRL number over (issue 12): `openssl ca`
# keeps the NEXT number in the crlnumber file beside index.txt; after the
# import, mtlsca's first CRL has exactly that number (openssl crl reads it),
# above every CRL the runbook made. Also with --openssl-crlnumber FILE, and
# a file that is not a crlnumber is refused with nothing imported.
. "$(dirname "$0")/lib.sh"
tmpdir
RUNBOOK=$(runbook_dir)
R="$T/runbook"
"$RUNBOOK/make-runbook-ca.sh" "$R" > /dev/null || fail "make-runbook-ca.sh failed"
# The runbook with numbered CRLs: two more, from 0x1000.
(cd "$R" &&
    sed -i 's/^database = \$dir\/index.txt$/&\ncrlnumber = $dir\/crlnumber/' crl.cnf &&
    echo 1000 >crlnumber &&
    openssl ca -config crl.cnf -gencrl -out crl1.pem 2>/dev/null &&
    openssl ca -config crl.cnf -gencrl -out crl2.pem 2>/dev/null) ||
    fail "openssl ca -gencrl with a crlnumber"
LAST=$(openssl crl -in "$R/crl2.pem" -noout -crlnumber | sed 's/.*=0x//')
NEXT=$(tr -d '\n' <"$R/crlnumber")
assert_eq 1001 "$LAST" "the runbook's last CRL number"
assert_eq 1002 "$NEXT" "the runbook's crlnumber file"

note "found beside index.txt"
run_ok m import --ca-cert "$R/rootCA.pem" --ca-key "$R/rootCA.key" \
    --openssl-index "$R/index.txt"
assert_contains "$OUT" "CRL number carried over from $R/crlnumber: the next CRL is 4098 (0x1002)"
run_ok m crl
got=$(openssl crl -inform DER -in data/public/crl.der -noout -crlnumber | sed 's/.*=0x//')
assert_eq 1002 "$got" "mtlsca's first CRL number"
openssl crl -inform DER -in data/public/crl.der -noout -text | tr -d ' :' |
    grep -qi "SerialNumber$(serial_of "$R/sample-3.pem")\$" || fail "sample-3 not on the CRL"

note "given explicitly, in another data directory"
echo 7FFF >"$T/num"
run_ok "$MTLSCA" --data-dir "$T/d2" import --ca-cert "$R/rootCA.pem" --ca-key "$R/rootCA.key" \
    --openssl-crlnumber "$T/num"
run_ok "$MTLSCA" --data-dir "$T/d2" crl
got=$(openssl crl -inform DER -in "$T/d2/public/crl.der" -noout -crlnumber | sed 's/.*=0x//')
assert_eq 7FFF "$got" "CRL number from --openssl-crlnumber"

note "a bad crlnumber file: refused, nothing imported"
echo "not hex" >"$T/bad"
run_status 1 "$MTLSCA" --data-dir "$T/d3" import --ca-cert "$R/rootCA.pem" --ca-key "$R/rootCA.key" \
    --openssl-crlnumber "$T/bad"
assert_contains "$OUT" "not an openssl crlnumber file"
[ ! -e "$T/d3/ca.pem" ] || fail "a refused import left ca.pem"
