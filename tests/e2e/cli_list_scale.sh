#!/bin/bash
# `mtlsca list` at scale (issue 15): 100,000 records (fill_store certs, a
# tenth revoked, about a quarter expired). --json streams: its output is
# one JSON array of every record, parsed and counted, and the process stays
# small (the whole array used to be built first: 3 GB at 1M records).
# --status filters agree with a brute-force filter of the full listing,
# and so do the admin API's (see http_service for the HTTP side). The
# store fill_store compact makes for cfssl_bench.sh lists the same records.
. "$(dirname "$0")/lib.sh"
tmpdir
FILL=${MTLSCA_BUILD:-$(dirname "$MTLSCA")}/tests/fill_store
[ -x "$FILL" ] || fail "no fill_store at $FILL"
N=100000

"$FILL" init "$T/d" ecdsa >/dev/null || fail "fill_store init"
"$FILL" certs "$T/d" "$N" >/dev/null || fail "fill_store certs"

# peak RSS in MB of one run of the CLI, its output in $1. Under
# AddressSanitizer freed memory is held back (its quarantine, up to 256 MB)
# and would count as ours: no quarantine here (other builds ignore it).
rss_run() {
	local out=$1; shift
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" \
	    /usr/bin/time -f '%M' -o "$T/rss" "$MTLSCA" --data-dir "$T/d" "$@" \
	    >"$out" 2>"$T/err" || fail "mtlsca $*: $(cat "$T/err")"
	echo $(( $(tail -1 "$T/rss") / 1024 ))
}

note "list --json: one array of $N records, in constant memory"
rss=$(rss_run all.json list --json)
"$PY" - "$N" <<'PY' || fail "list --json output"
import json, sys
n = int(sys.argv[1])
a = json.load(open("all.json"))
assert isinstance(a, list) and len(a) == n, len(a)
serials = [o["serial"] for o in a]
assert len(set(serials)) == n
assert serials == sorted(serials), "not in serial order"
st = {}
for o in a:
    st[o["status"]] = st.get(o["status"], 0) + 1
assert st.get("revoked") == n // 10, st
assert st.get("expired", 0) > n // 10 and st.get("valid", 0) > n // 3, st
PY
# 100k records are ~90 MB of store and were ~300 MB of JSON tree.
[ "$rss" -lt 48 ] || fail "list --json peaked at $rss MB for $N records"
note "peak RSS of list --json: $rss MB"
rss=$(rss_run all.txt list)
[ "$(wc -l <all.txt)" = $((N + 1)) ] || fail "list: $(wc -l <all.txt) lines"
[ "$rss" -lt 48 ] || fail "list peaked at $rss MB for $N records"

note "list --status: the same records as a brute-force filter"
for s in valid revoked expired; do
	rss_run "$s.json" list --status "$s" --json >/dev/null
	"$PY" - "$s" <<'PY' || fail "list --status $s"
import json, sys
s = sys.argv[1]
want = sorted(o["serial"] for o in json.load(open("all.json")) if o["status"] == s)
got = json.load(open(s + ".json"))
assert all(o["status"] == s for o in got)
assert sorted(o["serial"] for o in got) == want, (len(got), len(want))
PY
done
run_ok "$MTLSCA" --data-dir "$T/d" list --cn host-4242 --json
"$PY" -c 'import json,sys; a = json.loads(sys.argv[1]); assert len(a) == 1 and a[0]["subject"] == "CN=host-4242,O=bench", a' "$OUT" ||
    fail "list --cn"
run_ok "$MTLSCA" --data-dir "$T/d" list --cn no-such-host --json
assert_eq "[]" "$OUT" "an empty listing"

note "fill_store compact (cfssl_bench.sh's BENCH_COMPACT): the same records"
size0=$(stat -c %s "$T/d/db/data.mdb")
"$FILL" compact "$T/d" >/dev/null || fail "fill_store compact"
size1=$(stat -c %s "$T/d/db/data.mdb")
# The fill's bulk transactions leave free pages (and the store keeps a
# zeroed tail): the copy has neither.
[ "$size1" -lt "$size0" ] || fail "compaction left $size1 of $size0 bytes"
[ ! -e "$T/d/db/compact.tmp" ] || fail "compact.tmp left behind"
rss_run compact.json list --json >/dev/null
cmp -s all.json compact.json || fail "the compacted store lists other records"
