# Helpers for the client-side end-to-end tests (client_*.sh): a running
# `mtlsca serve` with an admin token, one-time enrollment tokens, and small
# certificate facts through openssl. Source it; running it alone does
# nothing.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	echo "client_lib.sh: a helper library for the client e2e tests"
	exit 0
fi
. "$(dirname "${BASH_SOURCE[0]}")/http_lib.sh"

# Under the sanitizers, a report must never pass for an expected failure
# (exit 1 or 3): give them exit statuses of their own, as lib.sh does.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=87"

# cl_serve: start serve on free ports with an admin token. Sets D (data),
# CONF, ADMIN, U (the HTTPS URL), P (the plain HTTP one) and W (a work
# directory, the current one from now on).
cl_serve() {
	D="$HL_TMP/data"
	HP=$(free_port)
	PP=$(free_port)
	ADMIN="client-admin-$RANDOM$RANDOM"
	CONF="$HL_TMP/mtlsca.conf"
	hl_config "$CONF" "$D" "$HP" "$PP" "
admins = { token_hashes = [ \"$(hl_sha256 "$ADMIN")\" ]; };"
	hl_init "$CONF"
	hl_start serve --config "$CONF" serve
	U="https://localhost:$HP"
	P="http://127.0.0.1:$PP"
	W="$HL_TMP/work"
	mkdir -p "$W"
	cd "$W" || fail "cd $W"
}

m() { "$MTLSCA" "$@"; }

# run_rc N CMD...: run, require exit status N; both streams in $OUT.
run_rc() {
	local want=$1 rc=0
	shift
	OUT=$("$@" 2>&1) || rc=$?
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want: $OUT"
}
has() { case "$1" in *"$2"*) ;; *) fail "${3:-output} lacks '$2': $1" ;; esac; }
lacks() { case "$1" in *"$2"*) fail "${3:-output} has '$2': $1" ;; esac; }

# A one-time enrollment token for the client profile (token create ARGS).
token() { "$MTLSCA" --config "$CONF" token create --profile client --uses 1 "$@" 2>/dev/null; }

# Requests the server counted on a route (every status), from /metrics.
requests() {
	curl -sS "$P/metrics" | awk -v r="route=\"$1\"" '
	    index($0, "mtlsca_http_requests_total{") == 1 && index($0, r) { n += $NF }
	    END { print n + 0 }'
}

# serve's CA fingerprint, from its ready line.
cl_fingerprint() {
	sed -n 's/.*CA fingerprint SHA-256 \([0-9a-f]\{64\}\)).*/\1/p' "$HL_TMP/serve.err"
}

# FP with its last hex digit changed.
cl_wrong() {
	local fp=$1
	if [ "${fp: -1}" = 0 ]; then echo "${fp%?}1"; else echo "${fp%?}0"; fi
}

serial() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
epoch() { date -u -d "$(openssl x509 -in "$1" -noout "-$2" | cut -d= -f2)" +%s; }
rfc3339() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
days_of() { echo $(( ($(epoch "$1" enddate) - $(epoch "$1" startdate)) / 86400 )); }
pub() { openssl pkey -in "$1" -pubout; }
cert_pub() { openssl x509 -in "$1" -noout -pubkey; }

# An RFC 3339 time at 70% (past 2/3) of a certificate's validity.
past_due() {
	local nb na
	nb=$(epoch "$1" startdate)
	na=$(epoch "$1" enddate)
	rfc3339 $((nb + (na - nb) * 7 / 10))
}

# Two hours ago (a clock behind the server's).
two_hours_ago() { rfc3339 $(( $(date +%s) - 7200 )); }
