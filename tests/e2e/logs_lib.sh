# Keeping serve's logs for the check that no secret reaches a log line
# (tests/e2e/log_secrets.sh, run by CTest after every e2e test). Sourced by
# the e2e helpers (lib.sh, http_lib.sh, tests/aws/lib.sh); each calls
# e2e_logs_keep DIR in its exit trap, after its servers have stopped and
# before DIR is removed.
#
# MTLSCA_E2E_LOGS (set by CTest): where the logs go, one directory per test
# run, with secrets.txt: the secrets that test made or used (one a line).

# e2e_secret VALUE: remember VALUE as a secret of this test (a token a
# test chose, say). Written to a file: it works from a $(...) subshell.
e2e_secret() {
	[ -n "${E2E_SECRETS_FILE:-}" ] && [ -n "$1" ] &&
	    printf '%s\n' "$1" >>"$E2E_SECRETS_FILE"
	return 0
}

# e2e_logs_keep DIR: copy serve's logs under DIR (files *.err and *.log
# that serve wrote: they have its "ready (data in" line or its start
# failure) and the secrets found under DIR.
e2e_logs_keep() {
	local dir="$1" dest f n=0
	[ -n "${MTLSCA_E2E_LOGS:-}" ] && [ -d "$dir" ] || return 0
	dest="$MTLSCA_E2E_LOGS/$(basename "${0%.sh}").$$.$(basename "$dir")"
	mkdir -p "$dest" || return 0
	while IFS= read -r -d '' f; do
		if grep -Eqs 'ready \(data in|mtlsca: serve: |"msg":"serve: ' "$f"; then
			n=$((n + 1))
			cp "$f" "$dest/$n.$(basename "$f")" || true
		fi
	done < <(find "$dir" -type f \( -name '*.err' -o -name '*.log' \) \
	    -size -50M -print0 2>/dev/null)
	{
		[ -n "${E2E_SECRETS_FILE:-}" ] && cat "$E2E_SECRETS_FILE" 2>/dev/null
		# The first start's tokens, wherever serve wrote them.
		grep -rhoE '(admin|enrollment) token: +[A-Za-z0-9_-]+' "$dir" \
		    2>/dev/null | sed -E 's/.*: +//'
		# Two lines of each private key's base64: enough to find any
		# piece of it in a log.
		grep -rlZ -- '-----BEGIN [A-Z ]*PRIVATE KEY-----' "$dir" \
		    2>/dev/null | xargs -0 -r awk '
			/-----BEGIN [A-Z ]*PRIVATE KEY-----/ { k = 1; c = 0; next }
			/-----END/ { k = 0 }
			k && c < 2 && length($0) >= 40 { print; c++ }'
		printf '%s\n' "${AWS_SECRET_ACCESS_KEY:-}"
	} 2>/dev/null | awk 'length($0) >= 8' | sort -u >"$dest/secrets.txt" ||
	    true
	return 0
}
