#!/bin/bash
# backup and restore of a data directory that rotated its CA (issue 12):
# - the backup holds every cas/<id>/ca.pem and state (their keys only with
#   --include-key), each retiring CA's public/ca-<id>/ CRL pair and
#   public/crls.pem, each listed in the manifest with its SHA-256 (and
#   each CA's fingerprint); `backup --verify` catches a flipped byte in a
#   cas/ part;
# - restored into a new directory: `ca list` shows both CAs with the same
#   states and counts, modes are 0700 (cas/ dirs) and 0600 (keys), `crl`
#   rebuilds both CRLs, each listing its own revoked serial (openssl crl),
#   and `openssl verify -crl_check` with both CAs and public/crls.pem
#   refuses the two revoked certificates and accepts the others;
# - a later revocation that only the replaced public/ca-1/crl.der knows
#   comes back under CA 1 with `restore --force`.
. "$(dirname "$0")/lib.sh"
tmpdir

crl_serials() {	# FILE (DER): the serials it lists, one a line
	openssl crl -inform DER -in "$1" -noout -text |
	    sed -n 's/^ *Serial Number: *//p' | tr a-f A-F
}
ca_list() {	# DIR: id state sha256 last-expiry certs valid revoked
	"$MTLSCA" --data-dir "$1" ca list --json | "$PY" -c '
import json, sys
for c in json.load(sys.stdin):
    print(c["id"], c["state"], c["sha256"], c["last_certificate_expires"],
          c["certificates"], c["valid"], c["revoked"])'
}

run_ok m init --subject "CN=Rotation Backup CA,O=mtlsca tests"
for n in a b; do
	make_csr "$n" ec:prime256v1
	run_ok m sign --csr "$n.csr" --out "$n.pem"
done
run_ok m ca rotate
for n in c d e; do
	make_csr "$n" ec:prime256v1
	run_ok m sign --csr "$n.csr" --out "$n.pem"
done
for n in a b c d e; do eval "S_$n=\$(serial_of $n.pem)"; done
run_ok m revoke "$S_a" --reason keyCompromise	# CA 1's
run_ok m revoke "$S_c" --reason superseded	# CA 2's
run_ok m crl
assert_file data/public/ca-1/crl.der
ca_list data >list.before || fail "ca list"
[ "$(wc -l <list.before)" = 2 ] || fail "ca list: $(cat list.before)"

note "backup, with and without the keys"
run_ok m backup --out nokey.bk
run_ok m backup --out key.bk --include-key
tar -tf nokey.bk | sort >nokey.parts
tar -tf key.bk | sort >key.parts
for p in cas/1/ca.pem cas/1/state cas/2/ca.pem cas/2/state \
    public/ca-1/crl.der public/ca-1/crl.pem public/crls.pem; do
	grep -qx "$p" nokey.parts || fail "no $p in the backup"
	grep -qx "$p" key.parts || fail "no $p in the --include-key backup"
done
! grep -q 'ca\.key' nokey.parts || fail "a key without --include-key"
for p in private/ca.key cas/1/ca.key cas/2/ca.key; do
	grep -qx "$p" key.parts || fail "no $p with --include-key"
done
mkdir x && tar -xf key.bk -C x
"$PY" - x data <<'EOF' || fail "manifest against the extracted parts"
import base64, hashlib, json, os, sys
x, data = sys.argv[1], sys.argv[2]
m = json.load(open(os.path.join(x, "manifest.json")))
names = {p["name"] for p in m["parts"]}
for p in m["parts"]:
    raw = open(os.path.join(x, p["name"]), "rb").read()
    assert hashlib.sha256(raw).hexdigest() == p["sha256"], p
    assert len(raw) == p["size"], p
    # every part as it is in the data directory
    src = os.path.join(data, p["name"])
    if p["name"] != "db/data.mdb" and os.path.exists(src):
        assert open(src, "rb").read() == raw, p["name"]
def fp(path):
    b64 = "".join(l for l in open(path).read().splitlines()
                  if not l.startswith("-----"))
    return hashlib.sha256(base64.b64decode(b64)).hexdigest()
cas = {c["id"]: c for c in m["cas"]}
assert sorted(cas) == [1, 2], m["cas"]
assert cas[1]["state"] == "retiring" and cas[2]["state"] == "active", m["cas"]
for i in (1, 2):
    assert cas[i]["sha256"] == fp(os.path.join(x, "cas/%d/ca.pem" % i)), i
assert m["ca"]["sha256"] == cas[2]["sha256"]
assert m["includes_key"] is True
EOF
note "ok: the backups hold the registry, the retiring CA's CRLs and crls.pem; the manifest has their SHA-256 and both fingerprints"

note "backup --verify catches a flipped byte in a cas/ part"
run_ok m backup --verify key.bk
assert_contains "$OUT" "result:       OK"
assert_contains "$OUT" "ca 1          retiring"
for part in cas/1/state cas/2/ca.pem cas/1/ca.key public/ca-1/crl.der; do
	cp key.bk bad.bk
	"$PY" - bad.bk "$part" <<'EOF'
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    off = t.getmember(sys.argv[2]).offset_data
f = open(sys.argv[1], "r+b")
f.seek(off + 10)
b = f.read(1)
f.seek(off + 10)
f.write(bytes([b[0] ^ 0x01]))
EOF
	run_status 1 m backup --verify bad.bk
	assert_contains "$OUT" "$part: its SHA-256"
	run_status 1 "$MTLSCA" --data-dir "$T/bad" restore bad.bk
	[ ! -e bad/cas ] || fail "a damaged backup restored cas/"
done
note "ok: backup --verify and restore refuse a flipped byte in each cas/ and ca-1 part"

note "restore into a new directory"
run_ok "$MTLSCA" --data-dir "$T/r1" restore key.bk
ca_list r1 >list.after || fail "ca list after restore"
assert_eq "$(cat list.before)" "$(cat list.after)" "ca list after restore"
assert_eq 700 "$(mode r1/cas)"
for i in 1 2; do
	assert_eq 700 "$(mode r1/cas/$i)"
	assert_eq 600 "$(mode r1/cas/$i/ca.key)"
	cmp -s data/cas/$i/ca.key r1/cas/$i/ca.key || fail "cas/$i/ca.key"
	cmp -s data/cas/$i/state r1/cas/$i/state || fail "cas/$i/state"
done
cmp -s data/public/crls.pem r1/public/crls.pem || fail "crls.pem"
run_ok "$MTLSCA" --data-dir "$T/r1" crl
openssl crl -inform DER -in r1/public/ca-1/crl.der -CAfile r1/cas/1/ca.pem \
    -noout 2>&1 | grep -q "verify OK" || fail "CA 1's CRL signature"
openssl crl -inform DER -in r1/public/crl.der -CAfile r1/cas/2/ca.pem \
    -noout 2>&1 | grep -q "verify OK" || fail "CA 2's CRL signature"
assert_eq "$S_a" "$(crl_serials r1/public/ca-1/crl.der)" "CA 1's CRL"
assert_eq "$S_c" "$(crl_serials r1/public/crl.der)" "CA 2's CRL"
cat r1/cas/1/ca.pem r1/cas/2/ca.pem >both.pem
for n in a b c d e; do
	rc=0
	out=$(openssl verify -crl_check -CAfile both.pem \
	    -CRLfile r1/public/crls.pem "$n.pem" 2>&1) || rc=$?
	case "$n" in
	a|c)	[ "$rc" != 0 ] || fail "$n (revoked) verified: $out"
		assert_contains "$out" "certificate revoked" ;;
	*)	[ "$rc" = 0 ] || fail "$n refused: $out" ;;
	esac
done
note "ok: restored: both CAs with their states and counts, each CRL lists its own serial, openssl refuses exactly the two revoked"

note "restore without the keys"
run_ok "$MTLSCA" --data-dir "$T/r2" restore nokey.bk
assert_contains "$OUT" "put it at ca.key"
[ ! -e r2/cas/1/ca.key ] && [ ! -e r2/cas/2/ca.key ] ||
    fail "keys from a backup without them"
# The operator puts the active key back, as restore says (`ca list` opens
# the active CA with its key).
install -m 700 -d r2/private && install -m 600 data/private/ca.key r2/private/
assert_eq "$(cat list.before)" "$(ca_list r2)" "ca list without the keys"
note "ok: a backup without --include-key restores the registry without keys"

note "restore --force of the older backup keeps a later revocation of CA 1"
run_ok m revoke "$S_b" --reason cessationOfOperation
run_ok m crl
crl_serials data/public/ca-1/crl.der | grep -qx "$S_b" || fail "b not in CRL 1"
run_status 1 m restore key.bk
assert_contains "$OUT" "not empty"
run_ok m restore --force key.bk
assert_contains "$OUT" "recovered 1 revocation"
ls -d data/public/.ca-1.before-restore-* >/dev/null 2>&1 ||
    fail "the replaced public/ca-1 was not kept"
run_ok m show "$S_b"
assert_contains "$OUT" "revoked"
run_ok m crl
assert_eq "$(printf '%s\n' "$S_a" "$S_b" | sort)" \
    "$(crl_serials data/public/ca-1/crl.der | sort)" "CA 1's CRL after --force"
assert_eq "$S_c" "$(crl_serials data/public/crl.der)" "CA 2's CRL after --force"
[ "$(grep -c 'BEGIN X509 CRL' data/public/crls.pem)" = 2 ] ||
    fail "crls.pem holds $(grep -c 'BEGIN X509 CRL' data/public/crls.pem) CRLs"
note "ok: restore --force recovers a revocation only the replaced public/ca-1/crl.der had, under CA 1"
