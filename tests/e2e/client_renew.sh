#!/bin/bash
# mtlsca renew against a real `mtlsca serve`: --if-due before 2/3 of the
# validity does nothing and exits 3; with MTLSCA_FAKE_NOW past 2/3 it
# renews over mTLS, replaces the files (keeping their modes), keeps the
# subject, SANs and validity length, and runs the hook; --rekey changes the
# key; a revoked or expired certificate is refused with a reason; --daemon
# renews once, runs the hook, does not hammer the server when the new
# certificate is due at once, and stops on SIGTERM; the systemd units
# verify and their command line, expanded as systemd does, works.
. "$(dirname "$0")/client_lib.sh"

cl_serve
enroll() {	# DIR CN [more enroll options]
	local dir=$1 cn=$2
	shift 2
	run_rc 0 m enroll --server "$U" --ca-file "$D/ca.pem" --token "$(token)" \
	    --cn "$cn" --out-dir "$dir" "$@"
}
enroll a alice --days 30 --san dns:alice.example --san ip:10.0.0.9
S0=$(serial a/cert.pem)
chmod 640 a/cert.pem
HOOK=(--exec -- sh -c 'echo "$MTLSCA_SERIAL $MTLSCA_CERT $MTLSCA_NOT_AFTER" >> "$0"' "$W/hook.log")

# ---- not due: nothing happens, exit 3 ----
before=$(sha256sum a/cert.pem a/key.pem)
key_hash=$(sha256sum < a/key.pem)
run_rc 3 m renew --server "$U" --cert a/cert.pem --key a/key.pem --if-due "${HOOK[@]}"
has "$OUT" "not due: a/cert.pem (serial $S0) renews after"
[ "$(sha256sum a/cert.pem a/key.pem)" = "$before" ] || fail "files changed while not due"
[ ! -e hook.log ] || fail "the hook ran while not due"
# Just before 2/3 (by the fake clock) is still not due.
nb=$(epoch a/cert.pem startdate)
na=$(epoch a/cert.pem enddate)
run_rc 3 env MTLSCA_FAKE_NOW="$(rfc3339 $((nb + (na - nb) * 2 / 3 - 60)))" \
    "$MTLSCA" renew --server "$U" --cert a/cert.pem --key a/key.pem --if-due
ok "not due: exit 3, files untouched, no hook"

# ---- past 2/3: renewed, files replaced, hook run ----
run_rc 0 env MTLSCA_FAKE_NOW="$(past_due a/cert.pem)" "$MTLSCA" renew \
    --server "$U" --cert a/cert.pem --key a/key.pem --if-due "${HOOK[@]}"
S1=$(serial a/cert.pem)
[ "$S1" != "$S0" ] || fail "the serial did not change"
has "$OUT" "renewed CN=alice: serial $S1 (was $S0)"
[ "$(wc -l < hook.log)" = 1 ] || fail "hook ran $(wc -l < hook.log) times"
has "$(cat hook.log)" "$S1 a/cert.pem 20" "the hook's environment"
[ "$(stat -c %a a/cert.pem)" = 640 ] || fail "cert mode not kept: $(stat -c %a a/cert.pem)"
[ "$(stat -c %a a/key.pem)" = 600 ] || fail "key mode $(stat -c %a a/key.pem)"
[ "$(sha256sum < a/key.pem)" = "$key_hash" ] || fail "the key changed without --rekey"
openssl verify -CAfile "$D/ca.pem" a/cert.pem >/dev/null || fail "openssl verify"
[ "$(cert_pub a/cert.pem)" = "$(pub a/key.pem)" ] || fail "cert/key mismatch"
[ "$(openssl x509 -in a/cert.pem -noout -subject)" = "subject=CN = alice" ] || fail "subject changed"
sans=$(openssl x509 -in a/cert.pem -noout -ext subjectAltName)
has "$sans" "DNS:alice.example, IP Address:10.0.0.9" "the renewed SANs"
[ "$(days_of a/cert.pem)" = 30 ] || fail "the validity length was not kept"
m --config "$CONF" audit | grep -q "renews=$S0" || fail "the server's audit has no renewal of $S0"
ok "past 2/3 (MTLSCA_FAKE_NOW): renewed over mTLS, same subject/SANs/30 days, mode 0640 kept, hook ran once"

# ---- the superseded certificate ----
# (kept from the first enrollment: a second renewal of the same certificate
# must not give a second identity; the server refuses it with 409.)
enroll old oscar --days 30
cp old/cert.pem old-first.pem
run_rc 0 m renew --server "$U" --cert old/cert.pem --key old/key.pem
cp old-first.pem old/cert.pem
rc=0
OUT=$(m renew --server "$U" --cert old/cert.pem --key old/key.pem 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "second renewal exited $rc: $OUT"
has "$OUT" "was already renewed"
has "$OUT" "use the newer certificate"
ok "a second renewal of the same certificate: refused, 'use the newer certificate'"

# ---- --rekey ----
k_before=$(pub a/key.pem)
run_rc 0 env MTLSCA_FAKE_NOW="$(past_due a/cert.pem)" "$MTLSCA" renew \
    --server "$U" --cert a/cert.pem --key a/key.pem --if-due --rekey \
    --chain a/chain.pem
has "$OUT" "new key"
[ "$(pub a/key.pem)" != "$k_before" ] || fail "--rekey kept the key"
[ "$(stat -c %a a/key.pem)" = 600 ] || fail "key mode after --rekey: $(stat -c %a a/key.pem)"
openssl pkey -in a/key.pem -noout -text | grep -q "ASN1 OID: prime256v1" ||
    fail "--rekey changed the key type"
[ "$(cert_pub a/cert.pem)" = "$(pub a/key.pem)" ] || fail "cert/key mismatch"
cat a/cert.pem "$D/ca.pem" | cmp -s - a/chain.pem || fail "--chain not rewritten"
run_rc 0 env MTLSCA_FAKE_NOW="$(past_due a/cert.pem)" "$MTLSCA" renew \
    --server "$U" --cert a/cert.pem --key a/key.pem --rekey --key-type rsa3072
openssl pkey -in a/key.pem -noout -text | grep -q "(3072 bit" || fail "--key-type rsa3072"
[ "$(cert_pub a/cert.pem)" = "$(pub a/key.pem)" ] || fail "cert/key mismatch"
ok "--rekey: a new key of the same type (or --key-type), key 0600, --chain rewritten"

# A certificate file holding a chain keeps holding one.
cat a/cert.pem a/ca.pem > a/fullchain.pem
run_rc 0 m renew --server "$U" --cert a/fullchain.pem --key a/key.pem --ca-file a/ca.pem
[ "$(grep -c 'BEGIN CERTIFICATE' a/fullchain.pem)" = 2 ] || fail "the chain file lost its CA"
openssl verify -CAfile a/ca.pem a/fullchain.pem >/dev/null || fail "verify fullchain"
ok "a certificate file that held a chain gets the new chain"
# a/cert.pem was renewed into a/fullchain.pem: go on with the newest.
sed -n '1,/END CERTIFICATE/p' a/fullchain.pem > a/cert.pem

# ---- refusals ----
enroll r rita --days 30
code=$(hl_curl "$HL_TMP/rv.json" --cacert "$D/ca.pem" -H "Authorization: Bearer $ADMIN" \
    -H "Content-Type: application/json" -d '{"reason": "keyCompromise"}' \
    "$U/v1/certificates/$(serial r/cert.pem)/revoke")
[ "$code" = 200 ] || fail "revoke: $code $(cat "$HL_TMP/rv.json")"
run_rc 1 m renew --server "$U" --cert r/cert.pem --key r/key.pem
has "$OUT" "the server refused the renewal of $(serial r/cert.pem)"
has "$OUT" "was revoked at"
run_rc 1 env MTLSCA_FAKE_NOW="$(rfc3339 $(( $(epoch a/cert.pem enddate) + 60 )))" \
    "$MTLSCA" renew --server "$U" --cert a/cert.pem --key a/key.pem --if-due
has "$OUT" "expired on"
has "$OUT" "enroll again"
run_rc 1 m renew --server "$U" --cert a/cert.pem --key r/key.pem
has "$OUT" "does not match"
DEAD=$(free_port)
run_rc 1 m renew --server "https://127.0.0.1:$DEAD" --cert a/cert.pem --key a/key.pem
has "$OUT" "cannot connect"
# A failing hook: the exit status says so, the certificate stays renewed.
s_before=$(serial a/cert.pem)
run_rc 1 m renew --server "$U" --cert a/cert.pem --key a/key.pem --exec false
has "$OUT" "the certificate is renewed, but false exited with 1"
[ "$(serial a/cert.pem)" != "$s_before" ] || fail "not renewed"
ok "revoked, expired, wrong key, unreachable, failing hook: exit 1 with the reason"

run_rc 2 m renew --server "$U" --cert a/cert.pem
run_rc 2 m renew --server "$U" --cert a/cert.pem --key a/key.pem --if-due --daemon
run_rc 2 m renew --server "$U" --cert a/cert.pem --key a/key.pem --key-type rsa2048
run_rc 2 m renew --server "$U" --cert a/cert.pem --key a/key.pem --exec
ok "usage errors exit 2"

# ---- --daemon ----
# wait_log FILE TEXT: up to 10 s for TEXT to appear in FILE.
wait_log() {
	for _ in $(seq 1 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# daemon_stop PID ERRFILE: SIGTERM, and the exit status must be 0.
daemon_stop() {
	local rc=0
	kill -TERM "$1"
	wait "$1" || rc=$?
	[ "$rc" = 0 ] || fail "daemon exited $rc after SIGTERM: $(cat "$2")"
	has "$(cat "$2")" "stopped"
}
enroll dm dmitri --days 30
DS0=$(serial dm/cert.pem)
MTLSCA_FAKE_NOW="$(past_due dm/cert.pem)" "$MTLSCA" renew --server "$U" \
    --cert dm/cert.pem --key dm/key.pem --daemon \
    --exec sh -c 'echo "$MTLSCA_SERIAL" >> "$0"' "$W/daemon-hook.log" \
    >"$HL_TMP/daemon.out" 2>"$HL_TMP/daemon.err" &
DPID=$!
HL_PIDS+=("$DPID")
wait_log "$HL_TMP/daemon.err" "already due by this machine's clock" ||
    fail "daemon: no renewal seen: $(cat "$HL_TMP/daemon.err" "$HL_TMP/daemon.out")"
sleep 1
[ "$(wc -l < daemon-hook.log)" = 1 ] || fail "daemon: the hook ran $(wc -l < daemon-hook.log) times"
[ "$(cat daemon-hook.log)" = "$(serial dm/cert.pem)" ] || fail "daemon: hook saw another serial"
[ "$(serial dm/cert.pem)" != "$DS0" ] || fail "daemon: not renewed"
has "$(cat "$HL_TMP/daemon.out")" "renewed CN=dmitri"
daemon_stop "$DPID" "$HL_TMP/daemon.err"
ok "--daemon past due: renewed once, hook once, waits instead of hammering, SIGTERM exits 0"

# Not due: it sleeps until 2/3 plus at most an hour of jitter.
"$MTLSCA" renew --server "$U" --cert dm/cert.pem --key dm/key.pem --daemon \
    >"$HL_TMP/daemon2.out" 2>"$HL_TMP/daemon2.err" &
DPID=$!
HL_PIDS+=("$DPID")
wait_log "$HL_TMP/daemon2.err" "renews at" || true
at=$(sed -n 's/.* renews at \([0-9TZ:-]*\)$/\1/p' "$HL_TMP/daemon2.err" | head -1)
[ -n "$at" ] || fail "daemon: no 'renews at': $(cat "$HL_TMP/daemon2.err")"
at_s=$(date -u -d "$at" +%s)
nb=$(epoch dm/cert.pem startdate)
na=$(epoch dm/cert.pem enddate)
due=$((nb + (na - nb) * 2 / 3))
[ "$at_s" -ge "$due" ] && [ "$at_s" -le $((due + 3600)) ] ||
    fail "daemon renews at $at, due at $(rfc3339 "$due")"
daemon_stop "$DPID" "$HL_TMP/daemon2.err"
lacks "$(cat "$HL_TMP/daemon2.out")" "renewed"
ok "--daemon not due: sleeps until $at (2/3 + jitter), SIGTERM exits 0"

# ---- the systemd units ----
UNITS="$MTLSCA_SRC/packaging/systemd"
SD="$HL_TMP/systemd"
mkdir -p "$SD"
# The unit runs /usr/bin/mtlsca (the package's): the one under test here.
sed "s|^ExecStart=/usr/bin/mtlsca |ExecStart=$MTLSCA |" "$UNITS/mtlsca-renew@.service" \
    >"$SD/mtlsca-renew@web.service"
cp "$UNITS/mtlsca-renew@.timer" "$SD/mtlsca-renew@web.timer"
if command -v systemd-analyze >/dev/null; then
	v=$(systemd-analyze verify --man=no "$SD/mtlsca-renew@web.service" \
	    "$SD/mtlsca-renew@web.timer" 2>&1) || fail "systemd-analyze verify: $v"
	[ -z "$v" ] || fail "systemd-analyze verify warns: $v"
	ok "systemd-analyze verify: mtlsca-renew@.service and .timer are clean"
else
	echo "note - systemd-analyze is not installed: the units are checked below only"
fi
grep -q '^SuccessExitStatus=3$' "$UNITS/mtlsca-renew@.service" ||
    fail "the service must count 'not due' (3) as success"
# The unit's command line with renew.conf.example's variables (pointing at
# our files), expanded as systemd does: ${X} one word, $X split on spaces.
enroll sd sam --days 30
sed -e "s|^MTLSCA_SERVER=.*|MTLSCA_SERVER=$U|" \
    -e "s|^MTLSCA_CERT=.*|MTLSCA_CERT=$W/sd/cert.pem|" \
    -e "s|^MTLSCA_KEY=.*|MTLSCA_KEY=$W/sd/key.pem|" \
    -e "s|^MTLSCA_RENEW_ARGS=.*|MTLSCA_RENEW_ARGS=--rekey --exec touch $W/sd-hook|" \
    "$UNITS/renew.conf.example" >"$SD/web.conf"
unit_run() {	# run ExecStart from the unit with $SD/web.conf
	local line word args=() name val
	declare -A env=()
	while IFS='=' read -r name val; do
		case $name in ''|'#'*) continue ;; esac
		env[$name]=$val
	done <"$SD/web.conf"
	line=$(sed -n 's/^ExecStart=//p' "$SD/mtlsca-renew@web.service")
	for word in $line; do
		case $word in
		'${'*'}') name=${word#\$\{}; args+=("${env[${name%\}}]}") ;;
		'$'*) read -r -a split <<<"${env[${word#\$}]}"; args+=("${split[@]}") ;;
		*) args+=("$word") ;;
		esac
	done
	"${args[@]}"
}
run_rc 3 unit_run
has "$OUT" "not due"
export MTLSCA_FAKE_NOW
MTLSCA_FAKE_NOW=$(past_due sd/cert.pem)
run_rc 0 unit_run
unset MTLSCA_FAKE_NOW
has "$OUT" "renewed CN=sam"
[ -e sd-hook ] || fail "the unit's hook did not run"
ok "the unit's ExecStart with renew.conf.example: exit 3 when not due, renews and runs the hook when due"

hl_stop "$(printf '%s\n' "${HL_PIDS[@]}" | head -1)"
echo "PASS"
