#!/bin/bash
# CRL generation benchmark: `mtlsca crl` against `openssl ca -gencrl` over the
# same N revoked entries (same serials, dates and reasons), in the same run.
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
#
# The store is filled through the library (fill_store: store_txn_* batches
# of 10,000 with crl_entry_encode), never through N CLI calls. Both tools
# write their files to disk (mtlsca: public/crl.der and public/crl.pem;
# openssl: one PEM). Peak RSS is /usr/bin/time -v's "Maximum resident set
# size". This prints figures; it never fails on a timing. `mtlsca crl`
# enforces crl.max_entries (at most ALB's 500,000), so above that only the
# library path (fill_store build, the same crl_build + crl_write_files) is
# timed for mtlsca.
set -u

SRC=$(cd "$(dirname "$0")/../.." && pwd)
MTLSCA=${MTLSCA:-$SRC/build/mtlsca}
FILL_STORE=${FILL_STORE:-$(dirname "$MTLSCA")/tests/fill_store}
SIZES=${CRL_BENCH_SIZES:-1000 10000 100000 1000000}
RUNS=${CRL_BENCH_RUNS:-3}
REASONS=${CRL_BENCH_REASONS:-1}
DO_OPENSSL=${CRL_BENCH_OPENSSL:-1}
ALB_MAX=500000

die() { echo "crl_bench: $*" >&2; exit 2; }
[ -x "$FILL_STORE" ] || die "no fill_store at $FILL_STORE (build the tests)"
[ -x /usr/bin/time ] || die "needs /usr/bin/time"
HAVE_CLI=1
[ -x "$MTLSCA" ] || { HAVE_CLI=0; echo "crl_bench: no $MTLSCA: timing the library path only"; }

if [ -n "${CRL_BENCH_DIR:-}" ]; then
	WORK=$CRL_BENCH_DIR
	mkdir -p "$WORK"
else
	WORK=$(mktemp -d /tmp/crl-bench.XXXXXX)
	trap 'rm -rf "$WORK"' EXIT
fi

# One timed run: prints "seconds maxrss_kb", the command's status last.
timed() {
	local log=$WORK/time.log t0 t1 rc wall rss
	# Wall time from the clock (time -v rounds to 10 ms), RSS from time.
	t0=$(date +%s%N)
	/usr/bin/time -v -o "$log" "$@" >"$WORK/out.log" 2>&1
	rc=$?
	t1=$(date +%s%N)
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log")
	echo "$wall $rss $rc"
}

# Median of the numbers on stdin.
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "-";
    else if (NR % 2) print a[(NR + 1) / 2];
    else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# Run a command RUNS times; "median_s peak_mb status".
bench() {
	local t=() r=() rc=0 i out
	for ((i = 0; i < RUNS; i++)); do
		out=$(timed "$@")
		t+=("$(echo "$out" | cut -d' ' -f1)")
		r+=("$(echo "$out" | cut -d' ' -f2)")
		[ "$(echo "$out" | cut -d' ' -f3)" = 0 ] || rc=1
	done
	printf '%s %s %s\n' "$(printf '%s\n' "${t[@]}" | median)" \
	    "$(printf '%s\n' "${r[@]}" | sort -g | tail -1 | awk '{ printf "%d", $1 / 1024 }')" "$rc"
}

printf '%-9s %-26s %-18s %-18s %-9s\n' "entries" "mtlsca crl (median, peak)" \
    "library (build)" "openssl ca -gencrl" "ratio"
for n in $SIZES; do
	d=$WORK/n$n
	rm -rf "$d"
	mkdir -p "$d/openssl"
	"$FILL_STORE" init "$d" >/dev/null || die "init failed"
	fill_args=(fill "$d" "$n" --index "$d/openssl/index.txt")
	[ "$REASONS" = 1 ] || fill_args+=(--no-reasons)
	"$FILL_STORE" "${fill_args[@]}" >/dev/null || die "fill of $n failed"

	# mtlsca: the real binary when within its limits.
	cli="-"
	if [ "$HAVE_CLI" = 1 ] && [ "$n" -le "$ALB_MAX" ]; then
		read -r cs cm crc < <(bench "$MTLSCA" --data-dir "$d" crl)
		if [ "$crc" = 0 ] && [ -s "$d/public/crl.der" ] &&
		    [ -s "$d/public/crl.pem" ]; then
			cli="${cs}s ${cm}MB"
		else
			cli="failed: $(tail -1 "$WORK/out.log")"
			cs=""
		fi
	else
		cs=""
	fi
	# The library path (crl_build + crl_write_files), every size.
	read -r ls lm lrc < <(bench "$FILL_STORE" build "$d" --out "$d/lib")
	lib="${ls}s ${lm}MB"
	[ "$lrc" = 0 ] || lib="failed"

	ossl="skipped"
	os=""
	if [ "$DO_OPENSSL" = 1 ]; then
		o=$d/openssl
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
		read -r os om orc < <(bench openssl ca -config "$o/openssl.cnf" \
		    -gencrl -out "$o/crl.pem")
		if [ "$orc" = 0 ]; then
			ossl="${os}s ${om}MB"
		else
			ossl="failed: $(tail -1 "$WORK/out.log")"
			os=""
		fi
	fi
	ratio="-"
	base=${cs:-$ls}
	if [ -n "$os" ] && [ -n "$base" ]; then
		ratio=$(awk -v a="$os" -v b="$base" 'BEGIN { if (b > 0)
		    printf "%.1fx", a / b; else print "-" }')
	fi
	printf '%-9s %-26s %-18s %-18s %-9s\n' "$n" "$cli" "$lib" "$ossl" "$ratio"
	# Keep the disk small between sizes.
	[ -n "${CRL_BENCH_DIR:-}" ] || rm -rf "$d"
done
echo "(medians of $RUNS runs; peak = largest maximum RSS; ratio = openssl / mtlsca)"
exit 0
