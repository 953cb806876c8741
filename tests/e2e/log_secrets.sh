#!/bin/bash
# No secret in any log line, across the whole e2e suite. Every e2e test
# keeps serve's logs and the secrets it made or used (logs_lib.sh) in
# $MTLSCA_E2E_LOGS; CTest runs this after all of them (a fixture's
# cleanup, tests/CMakeLists.txt). A log line fails it when it holds:
#   - a secret its test recorded: a token the test chose, a first-start
#     token, a piece of a private key's base64, the AWS secret key;
#   - a private key's PEM marker, or a credential after its scheme
#     ("Bearer abcdefgh...", "Basic ...");
#   - a token as mtlsca makes them (43 base64url characters on their own:
#     `token create` and the first start), recorded or not.
set -u
: "${MTLSCA_E2E_LOGS:?set by CTest: where the e2e tests keep the logs}"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

if [ ! -d "$MTLSCA_E2E_LOGS" ]; then
	echo "skip: no e2e test ran before this one (ctest -L e2e runs them all)"
	exit 77
fi
logs=0
secrets=0
bad=0
for dir in "$MTLSCA_E2E_LOGS"/*/; do
	[ -d "$dir" ] || continue
	s="$dir/secrets.txt"
	[ -s "$s" ] && secrets=$((secrets + $(wc -l <"$s")))
	run=$(basename "$dir")
	kept=$(find "$dir" -maxdepth 1 -type f ! -name secrets.txt ! -name '.*' | wc -l)
	# The http and serve tests start serve through http_lib.sh: each
	# must have kept a log, or the keeping is broken and this proves
	# nothing.
	if [[ "$run" =~ ^(http|serve)_[a-z_]+\.[0-9]+\.mtlsca-e2e\. ]] &&
	    [ "$kept" = 0 ]; then
		echo "$run: kept no serve log" >&2
		bad=1
	fi
	for log in "$dir"/*; do
		[ "$(basename "$log")" = secrets.txt ] && continue
		[ -f "$log" ] || continue
		logs=$((logs + 1))
		where="$(basename "$dir")/$(basename "$log")"
		if [ -s "$s" ] && grep -nF -f "$s" "$log" >"$dir/.hits"; then
			echo "$where: a secret of the test:" >&2
			head -n 3 "$dir/.hits" >&2
			bad=1
		fi
		# A credential's value after its scheme. The refusals name the
		# header in words ("Bearer TOKEN", "Basic credentials"): a value
		# is 8 characters or more with a capital, a digit or a symbol.
		if { grep -n 'PRIVATE KEY' "$log"
		    grep -noEi '(bearer|basic) +[A-Za-z0-9._~+/=-]{8,}' "$log" |
		    awk '$NF ~ /[A-Z0-9._~+\/=-]/'; } >"$dir/.hits" &&
		    [ -s "$dir/.hits" ]; then
			echo "$where: a key or a credential header:" >&2
			head -n 3 "$dir/.hits" >&2
			bad=1
		fi
		if grep -nE '(^|[^A-Za-z0-9_-])[A-Za-z0-9_-]{43}([^A-Za-z0-9_-]|$)' \
		    "$log" >"$dir/.hits"; then
			echo "$where: a generated token:" >&2
			head -n 3 "$dir/.hits" >&2
			bad=1
		fi
	done
done
[ "$bad" = 0 ] || fail "secrets in the logs above"
echo "ok - $logs serve logs of $(ls -d "$MTLSCA_E2E_LOGS"/*/ | wc -l) test runs: none of $secrets recorded secrets, no key, no credential header, no generated token"
