# Shared helpers for the command-line end-to-end tests (sourced by
# tests/e2e/cli_*.sh). CTest sets MTLSCA (the binary), MTLSCA_SRC,
# MTLSCA_BUILD and MTLSCA_TEST_DATA; run by hand, the defaults below find
# the source tree and build/mtlsca.
#
# Every test: `set -euo pipefail`, works in its own `tmpdir` (removed on
# exit, kept with KEEP_TMP=1), and fails loudly through `fail`.

set -euo pipefail
# Files the tests write (configurations among them) are the owner's to
# write, whatever the caller's umask: mtlsca refuses a configuration
# that its group or others may write.
umask 022

MTLSCA_SRC=${MTLSCA_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MTLSCA=${MTLSCA:-$MTLSCA_SRC/build/mtlsca}
# python3 on PATH may lack the Debian modules (python3-cryptography).
PY=/usr/bin/python3
# Under the sanitizers, a report must never pass for an ordinary failure
# (run_status 1): give them exit statuses of their own.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=87"
TEST_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)
T=
. "$(dirname "${BASH_SOURCE[0]}")/logs_lib.sh"

fail() {
	echo "FAIL [$TEST_NAME]: $*" >&2
	exit 1
}

note() {
	echo "--- $*"
}

_cleanup() {
	local rc=$?
	if [ -n "$T" ] && [ -d "$T" ]; then
		e2e_logs_keep "$T"
		if [ -n "${KEEP_TMP:-}" ]; then
			echo "kept $T" >&2
		else
			rm -rf "$T"
		fi
	fi
	if [ "$rc" -eq 0 ]; then
		echo "PASS [$TEST_NAME]"
	fi
	return "$rc"
}

# tmpdir: make $T (and cd into it); removed on exit.
tmpdir() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/mtlsca-e2e-XXXXXX")
	E2E_SECRETS_FILE="$T/.secrets"
	trap _cleanup EXIT
	cd "$T"
}

assert_eq() {	# expected actual [what]
	if [ "$1" != "$2" ]; then
		fail "${3:-value}: expected '$1', got '$2'"
	fi
}

assert_contains() {	# haystack needle [what]
	case "$1" in
	*"$2"*) ;;
	*) fail "${3:-output} does not contain '$2': ---
$1
---" ;;
	esac
}

assert_not_contains() {	# haystack needle [what]
	case "$1" in
	*"$2"*) fail "${3:-output} contains '$2': ---
$1
---" ;;
	esac
}

assert_file() {
	[ -f "$1" ] || fail "missing file $1"
}

# run_ok CMD...: run, require exit 0, output (stdout+stderr) in $OUT.
run_ok() {
	local rc=0
	OUT=$("$@" 2>&1) || rc=$?
	[ "$rc" -eq 0 ] || fail "'$*' exited $rc: $OUT"
}

# run_status N CMD...: run, require exit status N, output in $OUT.
run_status() {
	local want=$1 rc=0
	shift
	OUT=$("$@" 2>&1) || rc=$?
	[ "$rc" -eq "$want" ] || fail "'$*' exited $rc, expected $want: $OUT"
}

# m ARGS...: mtlsca with the test's data directory.
m() {
	"$MTLSCA" --data-dir "$T/data" "$@"
}

# mode FILE: octal permission bits.
mode() {
	stat -c %a "$1"
}

# make_csr NAME KEYSPEC [SUBJ]: NAME.key and NAME.csr with openssl req.
#   KEYSPEC: rsa:2048, ec:P-256...
make_csr() {
	local name=$1 spec=$2 subj=${3:-/C=JP/ST=Yamanashi/L=Tsuru/O=shika-darake/OU=tech/CN=$1}
	case "$spec" in
	rsa:*)
		openssl req -new -newkey "$spec" -nodes -keyout "$name.key" \
		    -out "$name.csr" -subj "$subj" 2>/dev/null ;;
	ec:*)
		openssl ecparam -name "${spec#ec:}" -genkey -noout \
		    -out "$name.key" 2>/dev/null
		openssl req -new -key "$name.key" -out "$name.csr" \
		    -subj "$subj" 2>/dev/null ;;
	*) fail "make_csr: unknown key spec $spec" ;;
	esac
	[ -s "$name.csr" ] || fail "openssl req did not make $name.csr"
}

# serial_of CERT: upper-case hex serial, as mtlsca prints it.
serial_of() {
	openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr a-f A-F
}

# runbook_dir: where shared/fixtures/openssl-runbook is (in CI the repo is
# cloned with a copy of shared/ beside it).
runbook_dir() {
	local d
	for d in "${MTLSCA_RUNBOOK:-}" \
	    "$MTLSCA_SRC/../shared/fixtures/openssl-runbook" \
	    "$MTLSCA_SRC/shared/fixtures/openssl-runbook" \
	    /work/shared/fixtures/openssl-runbook; do
		if [ -n "$d" ] && [ -x "$d/make-runbook-ca.sh" ]; then
			(cd "$d" && pwd)
			return 0
		fi
	done
	fail "cannot find shared/fixtures/openssl-runbook (set MTLSCA_RUNBOOK)"
}

[ -x "$MTLSCA" ] || fail "no mtlsca binary at $MTLSCA (set MTLSCA)"
