#!/bin/bash
# CRL generation benchmark: the real `mtlsca crl` against `openssl ca -gencrl`
# over the same N revoked entries (same serials, dates and reasons), in the
# same run.
#
#   tests/bench/crl_bench.sh                  # N = 1k 10k 100k 1M
#   CRL_BENCH_SIZES="1000 10000" tests/bench/crl_bench.sh   # quick
#
# Environment:
#   MTLSCA            the binary (default build/mtlsca)
#   FILL_STORE        tests/tools/fill_store (default next to the binary)
#   CRL_BENCH_SIZES   entry counts (default "1000 10000 100000 1000000")
#   CRL_BENCH_RUNS    runs per tool and size; the median is shown (default 3)
#   CRL_BENCH_REASONS 1 (default) = reasons on the entries, 0 = none
#   CRL_BENCH_DIR     work directory (default a fresh mktemp -d, removed)
#   CRL_BENCH_OPENSSL 0 skips openssl (it takes ~7-13 s per run at 1M)
#   CRL_BENCH_NEW     revocations added before each round after the first
#                     (default 1000): the steady state of a CA whose CRL
#                     is rebuilt after new revocations
#
# The store is filled through the library (fill_store: store_txn_* batches
# of 10,000 with crl_entry_encode), never through N CLI calls. Then, for
# every N, the binary runs as an operator would:
#   mtlsca --config bench.conf --data-dir DIR crl
# which takes the next cRLNumber, builds, signs and verifies the CRL and
# writes DIR/public/crl.der and DIR/public/crl.pem (fsync'd, renamed);
# bench.conf raises crl.max_entries to 10,000,000 (ALB's 500,000 quota is
# its publisher's business, not the CLI's). openssl writes one PEM. Both
# run with the store or index already in the page cache (it was just
# written). Rounds alternate (mtlsca, openssl, mtlsca, ...); wall time is
# shown as min/median/max, CPU (user + system) as its median, peak RSS as
# the largest "Maximum resident set size" of /usr/bin/time -v. This
# prints figures; it fails only when a tool fails, never on a timing.
#
# Two rows per N (design note 26). "first": the first CRL of the store,
# which reads the revoked index itself and writes the snapshot
# (db/revoked.snap) as it goes: what `mtlsca crl` costs once, after an
# upgrade or a restore. "+NEW": each later round first adds NEW
# revocations to both (fill_store, appended to openssl's index.txt), then
# both build: mtlsca from the snapshot and the revocation log, openssl
# from its whole index as always. RUNS such rounds.
set -u

SRC=$(cd "$(dirname "$0")/../.." && pwd)
MTLSCA=${MTLSCA:-$SRC/build/mtlsca}
FILL_STORE=${FILL_STORE:-$(dirname "$MTLSCA")/tests/fill_store}
SIZES=${CRL_BENCH_SIZES:-1000 10000 100000 1000000}
RUNS=${CRL_BENCH_RUNS:-3}
REASONS=${CRL_BENCH_REASONS:-1}
DO_OPENSSL=${CRL_BENCH_OPENSSL:-1}
NEW=${CRL_BENCH_NEW:-1000}

die() { echo "crl_bench: $*" >&2; exit 2; }
[ -x "$MTLSCA" ] || die "no mtlsca binary at $MTLSCA (set MTLSCA)"
[ -x "$FILL_STORE" ] || die "no fill_store at $FILL_STORE (build the tests)"
[ -x /usr/bin/time ] || die "needs /usr/bin/time"

if [ -n "${CRL_BENCH_DIR:-}" ]; then
	WORK=$CRL_BENCH_DIR
	mkdir -p "$WORK"
else
	WORK=$(mktemp -d /tmp/crl-bench.XXXXXX)
	trap 'rm -rf "$WORK"' EXIT
fi

# The configuration of every mtlsca run: no cap below the largest N.
CONF=$WORK/bench.conf
cat >"$CONF" <<-EOF
	store = { map_size = "8G"; };
	crl = {
		warn_entries = 500000;
		max_entries = 10000000;
	};
EOF

# One timed run: prints "seconds maxrss_kb status cpu_seconds".
timed() {
	local log=$WORK/time.log t0 t1 rc wall rss cpu
	# Wall time from the clock (time -v rounds to 10 ms), RSS from time.
	t0=$(date +%s%N)
	/usr/bin/time -v -o "$log" "$@" >"$WORK/out.log" 2>&1
	rc=$?
	t1=$(date +%s%N)
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log")
	cpu=$(awk -F': ' '/User time|System time/ { c += $2 }
	    END { printf "%.2f", c }' "$log")
	echo "$wall ${rss:-0} $rc $cpu"
}

# "min/median/max" of the numbers on stdin; "median" alone with -m.
mmm() { sort -g | awk -v only="${1:-}" '{ a[NR] = $1 } END {
    if (NR == 0) { print "-"; exit }
    m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
    if (only == "-m") printf "%.3f\n", m
    else printf "%.2f/%.2f/%.2f\n", a[1], m, a[NR] }'; }

# After an mtlsca run: both files replaced, and the CLI counted N entries.
check_mtlsca() {
	local n=$CUR_N
	[ -s "$CUR_DIR/public/crl.der" ] && [ -s "$CUR_DIR/public/crl.pem" ] &&
	    [ "$CUR_DIR/public/crl.pem" -nt "$WORK/stamp" ] &&
	    grep -q ": $n entr" "$WORK/out.log"
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b > 0)
	    printf "%.1fx", a / b; else print "-" }'
}

# One row pair: LABEL WHAT AWK-FILTER over the runs files (round wall rss
# cpu per line).
row() {
	local label=$1 what=$2 sel=$3 mf=$d/mtlsca.runs of=$d/openssl.runs
	local cs cm cli ccpu os om ossl ocpu
	col() { awk "$sel { print \$$1 }" "$2" 2>/dev/null; }
	peak() { col 3 "$1" | sort -g | tail -1 |
	    awk '{ printf "%d", $1 / 1024 }'; }
	cs=$(col 2 "$mf" | mmm -m) cm=$(peak "$mf")
	cli="$(col 2 "$mf" | mmm) ${cm}MB"
	ccpu=$(col 4 "$mf" | mmm -m)
	ossl="skipped" os="" om="" ocpu=""
	if [ "$DO_OPENSSL" = 1 ]; then
		os=$(col 2 "$of" | mmm -m) om=$(peak "$of")
		ossl="$(col 2 "$of" | mmm) ${om}MB"
		ocpu=$(col 4 "$of" | mmm -m)
	fi
	printf '%-9s %-26s %-26s %-9s %-9s\n' "$label" "$cli" "$ossl" \
	    "$(ratio "$os" "$cs")" "$(ratio "$om" "$cm")"
	printf '%-9s %-26s %-26s %-9s\n' "$what" "CPU s median $ccpu" \
	    "${ocpu:+CPU s median $ocpu}" "$(ratio "$ocpu" "$ccpu")"
}

printf '%-9s %-26s %-26s %-9s %-9s\n' "entries" "mtlsca crl" \
    "openssl ca -gencrl" "time" "RSS"
printf '%-9s %-26s %-26s %-9s %-9s\n' "" "wall s min/med/max, MB" \
    "wall s min/med/max, MB" "ossl/mtl" "ossl/mtl"
status=0
for n in $SIZES; do
	d=$WORK/n$n
	o=$d/openssl
	rm -rf "$d"
	mkdir -p "$o"
	"$FILL_STORE" init "$d" >/dev/null || die "init failed"
	fill_args=(fill "$d" "$n" --index "$o/index.txt")
	[ "$REASONS" = 1 ] || fill_args+=(--no-reasons)
	"$FILL_STORE" "${fill_args[@]}" >/dev/null || die "fill of $n failed"
	cp "$d/ca.pem" "$o/ca.pem"
	cp "$d/private/ca.key" "$o/ca.key"
	echo 01 >"$o/crlnumber"
	cat >"$o/openssl.cnf" <<-EOF
	[ ca ]
	default_ca = CA_default
	[ CA_default ]
	dir = $o
	database = \$dir/index.txt
	certificate = \$dir/ca.pem
	private_key = \$dir/ca.key
	crlnumber = \$dir/crlnumber
	new_certs_dir = \$dir
	default_md = sha256
	default_crl_days = 7
	crl_extensions = crl_ext
	unique_subject = no
	[ crl_ext ]
	authorityKeyIdentifier = keyid:always
	EOF

	# Round 0: the first CRL of each. Rounds 1..RUNS: NEW more
	# revocations, then mtlsca (the real binary, DER and PEM written),
	# then openssl.
	CUR_DIR=$d total=$n
	for ((i = 0; i <= RUNS; i++)); do
		if [ "$i" -gt 0 ]; then
			fill_args=(fill "$d" "$NEW" --index "$o/new.txt"
			    --seed "$((i * 7919))")
			[ "$REASONS" = 1 ] || fill_args+=(--no-reasons)
			"$FILL_STORE" "${fill_args[@]}" >/dev/null ||
			    die "adding $NEW to $n failed"
			cat "$o/new.txt" >>"$o/index.txt"
			total=$((total + NEW))
		fi
		CUR_N=$total
		touch "$WORK/stamp"
		sleep 0.01
		read -r w r rc c < <(timed "$MTLSCA" --config "$CONF" \
		    --data-dir "$d" crl)
		if [ "$rc" != 0 ] || ! check_mtlsca; then
			echo "crl_bench: mtlsca crl at $total: $(tail -1 \
			    "$WORK/out.log")" >&2
			status=1
		fi
		echo "$i $w $r $c" >>"$d/mtlsca.runs"
		[ "$DO_OPENSSL" = 1 ] || continue
		read -r w r rc c < <(timed openssl ca -config "$o/openssl.cnf" \
		    -gencrl -out "$o/crl.pem")
		if [ "$rc" != 0 ]; then
			echo "crl_bench: openssl at $total: $(tail -1 \
			    "$WORK/out.log")" >&2
			status=1
		fi
		echo "$i $w $r $c" >>"$d/openssl.runs"
	done
	row "$n" first '$1 == 0'
	row "+$NEW" "$RUNS rounds" '$1 > 0'
	# Keep the disk small between sizes.
	[ -n "${CRL_BENCH_DIR:-}" ] || rm -rf "$d"
done
echo "(first build, then $RUNS rounds of +$NEW revocations, alternated; warm page cache; MB = largest maximum RSS;" \
    "ratios of medians = openssl / mtlsca: above 1x, mtlsca is faster or" \
    "smaller; load average $(cut -d' ' -f1-3 /proc/loadavg))"
exit $status
