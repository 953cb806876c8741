#!/bin/bash
# A full disk must not stop a service whose CA, store and CRL are intact:
# `serve` restarted on a data directory whose file system is full starts,
# serves /healthz, /crl and /ca.pem, and answers an enrollment it cannot
# record with 507 and a sentence (nothing is half-written). A small tmpfs
# is the disk; where mounting is not allowed the test is skipped (77).
. "$(dirname "$0")/http_lib.sh"

DISK="$HL_TMP/disk"
mkdir -p "$DISK"
if ! mount -t tmpfs -o size=4m,mode=0700 tmpfs "$DISK" 2>/dev/null; then
	echo "SKIP: cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN)"
	exit 77
fi
# As hl_cleanup, with the tmpfs unmounted before HL_TMP is removed.
trap 'for p in "${HL_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
      for p in "${HL_PIDS[@]}"; do wait "$p" 2>/dev/null; done
      umount "$DISK" 2>/dev/null; rm -rf "$HL_TMP"' EXIT

HP=$(free_port)
PP=$(free_port)
TOKEN="full-disk-$RANDOM$RANDOM"
CONF="$HL_TMP/mtlsca.conf"
hl_config "$CONF" "$DISK/data" "$HP" "$PP" "
store = { map_size = \"64M\"; };
profiles = ( { name = \"client\"; tokens = [ \"$(hl_sha256 "$TOKEN")\" ]; } );"

submit() {	# submit NAME -> status of NAME.csr's enrollment; body in NAME.json
	hl_curl "$HL_TMP/$1.json" --cacert "$DISK/data/ca.pem" \
	    -H "Authorization: Bearer $TOKEN" \
	    -H "Content-Type: application/x-pem-file" \
	    --data-binary @"$HL_TMP/$1.csr" "https://localhost:$HP/v1/certificates"
}
enroll() {	# enroll NAME -> status, with a fresh CSR for /CN=NAME
	hl_csr "$1" "/CN=$1"
	submit "$1"
}

hl_init "$CONF"	# serve --config never creates a CA
hl_start first --config "$CONF" serve
[ "$(enroll alice)" = 201 ] || fail "enroll on a disk with room: $(cat "$HL_TMP/alice.json")"
hl_stop "$HL_PID"
ok "first start on a 4 MiB tmpfs: CA, store, CRL, one certificate"

# Fill it up.
dd if=/dev/zero of="$DISK/filler" bs=64k 2>/dev/null || true
if printf x >"$DISK/probe" 2>/dev/null && [ -s "$DISK/probe" ]; then
	fail "the tmpfs is not full"
fi
rm -f "$DISK/probe"
ok "the data directory's file system is full ($(df -k "$DISK" | awk 'NR == 2 { print $4 }') KiB free)"

hl_start full --config "$CONF" serve
for path in healthz crl ca.pem; do
	code=$(hl_curl "$HL_TMP/$path.body" "http://127.0.0.1:$PP/$path")
	[ "$code" = 200 ] || fail "/$path on a full disk: $code $(cat "$HL_TMP/$path.body")"
done
cmp -s "$HL_TMP/ca.pem.body" "$DISK/data/ca.pem" || fail "/ca.pem differs from the CA"
ok "serve starts on a full disk and serves /healthz, /crl and /ca.pem"

# The store keeps a zeroed tail ahead of its data (store.c, tail_extend:
# 256 KiB here), room the disk gave before it filled: about a hundred
# certificates fit in it, then the store is full.
hl_csr bob "/CN=bob"
taken=0
for _ in $(seq 600); do
	code=$(submit bob)
	[ "$code" = 201 ] || break
	taken=$((taken + 1))
done
hl_expect_error "$HL_TMP/bob.json" 507 "$code" store_full
[ "$taken" -lt 600 ] || fail "600 certificates on a full disk"
ok "an enrollment it cannot record: 507 ($(hl_json "$HL_TMP/bob.json" message)), after $taken in the store's zeroed tail"

rm -f "$DISK/filler"
[ "$(enroll carol)" = 201 ] || fail "enroll once there is room again: $(cat "$HL_TMP/carol.json")"
n=$("$MTLSCA" --config "$CONF" list --json | "$PY" -c 'import json, sys
print(len(json.load(sys.stdin)))')
[ "$n" -ge 3 ] || fail "the store lists $n certificates (alice, the server, carol)"
bobs=$("$MTLSCA" --config "$CONF" list | grep -c "CN=bob")
[ "$bobs" = "$taken" ] || fail "$bobs records of bob for $taken enrollments: the refused one left a record"
ok "room again: enrollment works, and the refused one left nothing"
hl_stop "$HL_PID"
echo "PASS"
