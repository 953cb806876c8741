#!/usr/bin/env bash
# backup and restore (issue 12), with the real binary and real peers:
# - `backup` while `serve` enrolls clients under load: every certificate a
#   client received before the backup began is in the restored store;
# - the file is a tar (GNU tar lists and extracts it) whose manifest's
#   SHA-256s match sha256sum's of the extracted parts; mode 0600;
# - `backup --verify` passes it and catches one flipped byte;
# - `restore` refuses a data directory that holds a CA, a damaged file
#   (changing nothing), and with --force keeps what it replaces;
# - a later revocation that only the replaced public/crl.der knows comes
#   back ("recovered from CRL N" in the audit), and the next CRL's number
#   is above every one written before (openssl crl reads both).
. "$(dirname "$0")/http_lib.sh"

D="$HL_TMP/data"
HP=$(free_port)
PP=$(free_port)
STATIC="e2e-static-$RANDOM$RANDOM$RANDOM"
CONF="$HL_TMP/mtlsca.conf"
hl_config "$CONF" "$D" "$HP" "$PP" "
profiles = ( { name = \"client\"; tokens = [ \"$(hl_sha256 "$STATIC")\" ]; } );"
M() { "$MTLSCA" --config "$CONF" "$@"; }
crl_number() {	# FILE (DER): its cRLNumber, as openssl reads it
	openssl crl -inform DER -in "$1" -noout -crlnumber | sed 's/^crlNumber=0x//'
}

hl_init "$CONF"
hl_start serve --config "$CONF" serve
SERVER=$HL_PID
CA="$D/ca.pem"
U="https://localhost:$HP"

N=60
for i in $(seq 1 $N); do
	hl_csr "c$i" "/CN=load-$i"
done
# Enroll under load in the background; each serial a client received is
# appended to received.txt once its answer is complete.
(
	for i in $(seq 1 $N); do
		code=$(hl_curl "$HL_TMP/c$i.json" --cacert "$CA" \
		    -H "Authorization: Bearer $STATIC" \
		    -H "Content-Type: application/x-pem-file" \
		    --data-binary "@$HL_TMP/c$i.csr" "$U/v1/certificates")
		[ "$code" = 201 ] || { echo "enroll $i: $code" >&2; exit 1; }
		echo "$(hl_json "$HL_TMP/c$i.json" serial)" >>"$HL_TMP/received.txt"
	done
) &
LOAD=$!
for _ in $(seq 1 200); do
	[ -f "$HL_TMP/received.txt" ] &&
	    [ "$(wc -l <"$HL_TMP/received.txt")" -ge 10 ] && break
	sleep 0.05
done
cp "$HL_TMP/received.txt" "$HL_TMP/before.txt"
M backup --out "$HL_TMP/b1.mtlsca-backup" >"$HL_TMP/backup.out" 2>&1 ||
    fail "backup under load: $(cat "$HL_TMP/backup.out")"
wait "$LOAD" || fail "enrollment under load failed"
BEFORE=$(wc -l <"$HL_TMP/before.txt")
AFTER=$(wc -l <"$HL_TMP/received.txt")
[ "$BEFORE" -ge 10 ] && [ "$AFTER" = "$N" ] || fail "load: $BEFORE / $AFTER"
ok "backup taken while serve enrolled ($BEFORE of $N certificates received before it)"

B="$HL_TMP/b1.mtlsca-backup"
[ "$(stat -c %a "$B")" = 600 ] || fail "backup mode $(stat -c %a "$B")"
tar -tf "$B" >"$HL_TMP/parts.txt" || fail "tar cannot list the backup"
for p in db/data.mdb ca.pem public/crl.der public/crl.pem manifest.json; do
	grep -qx "$p" "$HL_TMP/parts.txt" || fail "no $p in the backup"
done
! grep -q private "$HL_TMP/parts.txt" || fail "the key without --include-key"
mkdir "$HL_TMP/x" && tar -xf "$B" -C "$HL_TMP/x"
"$PY" - "$HL_TMP/x" <<'EOF' || fail "manifest against sha256 of the extracted parts"
import hashlib, json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))
assert m["format"] == "mtlsca-backup" and m["version"] == 1, m
names = sorted(p["name"] for p in m["parts"])
assert names == ["ca.pem", "db/data.mdb", "public/crl.der", "public/crl.pem",
                 "public/crls.pem"], names
for p in m["parts"]:
    data = open(os.path.join(d, p["name"]), "rb").read()
    assert len(data) == p["size"], p
    assert hashlib.sha256(data).hexdigest() == p["sha256"], p
ca = open(os.path.join(d, "ca.pem")).read()
import subprocess
der = subprocess.run(["openssl", "x509", "-outform", "DER"], input=ca.encode(),
                     capture_output=True, check=True).stdout
assert hashlib.sha256(der).hexdigest() == m["ca"]["sha256"]
EOF
ok "the backup is a tar, mode 0600, whose manifest matches sha256sum of each part"

out=$(M backup --verify "$B") || fail "verify: $out"
case "$out" in *"result:       OK"*) ;; *) fail "verify: $out" ;; esac
# One flipped byte inside the store copy (after the first header).
cp "$B" "$HL_TMP/bad.mtlsca-backup"
"$PY" - "$HL_TMP/bad.mtlsca-backup" <<'EOF'
import sys
f = open(sys.argv[1], "r+b")
f.seek(512 + 4000)
b = f.read(1)
f.seek(512 + 4000)
f.write(bytes([b[0] ^ 0x01]))
EOF
rc=0; out=$(M backup --verify "$HL_TMP/bad.mtlsca-backup" 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "verify of a flipped byte: exit $rc: $out"
case "$out" in *"db/data.mdb: its SHA-256"*"damaged"*) ;; *) fail "verify: $out" ;; esac
ok "backup --verify passes the backup and names the part with one flipped byte"

# A revocation after the backup, written to public/crl.der by serve.
LATE=$(sed -n 2p "$HL_TMP/before.txt")
M revoke --reason keyCompromise "$LATE" >/dev/null 2>&1 || fail "revoke $LATE"
for _ in $(seq 1 100); do
	openssl crl -inform DER -in "$D/public/crl.der" -noout -text 2>/dev/null |
	    tr -d ' :' | grep -qi "SerialNumber$LATE\$" && break
	sleep 0.1
done
openssl crl -inform DER -in "$D/public/crl.der" -noout -text | tr -d ' :' |
    grep -qi "SerialNumber$LATE\$" || fail "serve did not publish the revocation"
PUBLISHED=$(crl_number "$D/public/crl.der")
hl_stop "$SERVER"

# Restore into a fresh data directory: the store of the backup.
D2="$HL_TMP/data2"
mkdir -p "$D2/private" && cp -p "$D/private/ca.key" "$D2/private/ca.key"
M --data-dir "$D2" restore "$B" >"$HL_TMP/r2.out" 2>&1 ||
    fail "restore: $(cat "$HL_TMP/r2.out")"
M --data-dir "$D2" list >"$HL_TMP/list2.txt"
while read -r s; do
	grep -q "^$s " "$HL_TMP/list2.txt" || fail "$s was received before the backup, not restored"
done <"$HL_TMP/before.txt"
cmp -s "$D/ca.pem" "$D2/ca.pem" || fail "the CA certificate differs"
ok "every certificate received before the backup is in the restored store"

# Refusals: a data directory holding a CA; a damaged file changes nothing.
rc=0; out=$(M --data-dir "$D2" restore "$B" 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "restore over a CA: exit $rc"
assert() { case "$1" in *"$2"*) ;; *) fail "expected '$2' in: $1" ;; esac; }
assert "$out" "not empty"
D3="$HL_TMP/data3"
rc=0; out=$(M --data-dir "$D3" restore "$HL_TMP/bad.mtlsca-backup" 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "restore of a damaged backup: exit $rc"
assert "$out" "nothing was changed"
[ ! -e "$D3/db" ] && [ ! -e "$D3/ca.pem" ] || fail "a damaged restore left files"
ok "restore refuses a data directory with a CA, and a damaged backup changes nothing"

# --force over the live directory, whose public/crl.der knows LATE.
M restore --force "$B" >"$HL_TMP/r.out" 2>&1 || fail "restore --force: $(cat "$HL_TMP/r.out")"
ls "$D" | grep -q '^db.before-restore-' || fail "the replaced store was not kept"
M show "$LATE" >"$HL_TMP/show.txt" 2>&1 || fail "show $LATE"
grep -qi "revoked" "$HL_TMP/show.txt" || fail "the later revocation was lost: $(cat "$HL_TMP/show.txt")"
M audit | grep -q "serial=$LATE reason=1 recovered from CRL $((16#$PUBLISHED))" ||
    fail "no audit entry for the recovery: $(M audit | tail -5)"
M crl >/dev/null
NEXT=$(crl_number "$D/public/crl.der")
[ $((16#$NEXT)) -gt $((16#$PUBLISHED)) ] || fail "CRL number $NEXT after $PUBLISHED"
openssl crl -inform DER -in "$D/public/crl.der" -noout -text | tr -d ' :' |
    grep -qi "SerialNumber$LATE\$" || fail "the next CRL does not list $LATE"
ok "restore --force recovered revocation $LATE from CRL $((16#$PUBLISHED)); the next CRL is $((16#$NEXT))"

# --include-key: the key comes back, mode 0600.
M backup --out "$HL_TMP/k.mtlsca-backup" --include-key >/dev/null 2>&1 || fail "backup --include-key"
tar -tf "$HL_TMP/k.mtlsca-backup" | grep -qx private/ca.key || fail "no key in the backup"
D4="$HL_TMP/data4"
M --data-dir "$D4" restore "$HL_TMP/k.mtlsca-backup" >/dev/null 2>&1 || fail "restore with key"
[ "$(stat -c %a "$D4/private/ca.key")" = 600 ] || fail "restored key mode"
cmp -s "$D/private/ca.key" "$D4/private/ca.key" || fail "restored key differs"
M --data-dir "$D4" crl >/dev/null 2>&1 || fail "the restored CA cannot sign a CRL"
ok "backup --include-key restores a working CA (key mode 0600)"
echo "PASS"
