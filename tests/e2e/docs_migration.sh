#!/bin/bash
# docs/README.ja.md, "2.2 既存の CA を取り込む": its sh blocks, in order, as
# written (bash -euo pipefail), in a directory holding what the OpenSSL
# runbook leaves (shared/fixtures/openssl-runbook: rootCA.pem, rootCA.key,
# index.txt, crl.pem, and the issued certificates gathered in issued/).
# The blocks import the CA, list it, make and check a CRL, compare its
# serials with the runbook's CRL, and sign a certificate that verifies
# against the same rootCA.pem. Checked here independently: the import's
# records, the revoked serial on mtlsca's CRL, the new certificate.
. "$(dirname "$0")/lib.sh"
tmpdir

RB=$(runbook_dir)
DOC="$MTLSCA_SRC/docs/README.ja.md"
mkdir -p "$T/runbook" "$T/bin" "$T/tmp"
sh "$RB/make-runbook-ca.sh" "$T/runbook" >/dev/null || fail "make-runbook-ca.sh"
cd "$T/runbook"
mkdir issued && cp sample-2.pem sample-3.pem issued/
ln -s "$MTLSCA" "$T/bin/mtlsca"

"$PY" - "$DOC" "$T/walk.sh" <<'PYEOF' || fail "$DOC: no section 2.2 with sh blocks"
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
start = text.index("\n### 2.2 ")
end = text.index("\n### ", start + 1)
blocks = re.findall(r"^```sh\n(.*?)^```$", text[start:end], re.S | re.M)
if len(blocks) < 3:
    sys.exit("only %d sh blocks in section 2.2" % len(blocks))
open(sys.argv[2], "w").write("\n".join(blocks))
PYEOF
note "$(grep -c '' "$T/walk.sh") lines of section 2.2"

rc=0
PATH="$T/bin:$PATH" TMPDIR="$T/tmp" timeout 120 bash -euo pipefail "$T/walk.sh" \
    >"$T/out" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "section 2.2 stopped with status $rc: ---
$(tail -30 "$T/out")"
OUT=$(cat "$T/out")
note "section 2.2 ran to its end"

# What the guide says the import shows and does.
assert_contains "$OUT" "2 certificate record(s): 1 valid, 0 expired, 1 revoked"
assert_contains "$OUT" "2 certificate file(s) attached to index entries"
assert_contains "$OUT" "result:      OK, the load balancer would accept it"
assert_contains "$OUT" "sample-4.pem: OK"
D=$(echo "$T"/tmp/tmp.*)
[ -f "$D/mtlsca-data/ca.pem" ] || fail "no CA in the guide's \$D/mtlsca-data"
cmp -s "$D/mtlsca-data/ca.pem" rootCA.pem || fail "the imported CA is not rootCA.pem"
S2=$(openssl x509 -in sample-2.pem -noout -serial | cut -d= -f2)
S3=$(openssl x509 -in sample-3.pem -noout -serial | cut -d= -f2)
LIST=$("$MTLSCA" --data-dir "$D/mtlsca-data" list)
echo "$LIST" | grep -q "^$S2 *valid .*CN=sample-2" || fail "sample-2 not valid: $LIST"
echo "$LIST" | grep -q "^$S3 *revoked .*CN=sample-3" || fail "sample-3 not revoked: $LIST"
openssl verify -crl_check -CAfile rootCA.pem -CRLfile "$D/mtlsca-data/public/crl.pem" \
    sample-3.pem >/dev/null 2>&1 && fail "sample-3 passes mtlsca's CRL"
openssl verify -crl_check -CAfile rootCA.pem -CRLfile "$D/mtlsca-data/public/crl.pem" \
    sample-2.pem >/dev/null || fail "sample-2 refused with mtlsca's CRL"
# The guide's comm printed nothing: no serial of the runbook's CRL is lost.
! grep -qx "$S3" "$T/out" || fail "the guide's comm says $S3 is missing from mtlsca's CRL"
note "imported: sample-2 valid, sample-3 revoked and on mtlsca's CRL; sample-4 verifies against rootCA.pem"
