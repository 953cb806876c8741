#!/bin/bash
# serve's log lines (common/log.h): with log.format = "json", every stderr
# line is one JSON object with time (RFC 3339, UTC), level and msg, and an
# issuance, a refusal and a revocation are each one line with their fields
# (serial, profile, peer, reason); after a SIGHUP to format "text" and level
# "warning", lines are "TIME LEVEL mtlsca: MSG" and an issuance (info) is
# no longer written.
. "$(dirname "$0")/http_lib.sh"

HP=$(free_port)
PP=$(free_port)
D="$HL_TMP/data"
CONF="$HL_TMP/mtlsca.conf"
TOK="logs-t-$RANDOM$RANDOM"
ADMIN="logs-a-$RANDOM$RANDOM"
write_conf() {	# write_conf LOG: the configuration, with a log group
	hl_config "$CONF.new" "$D" "$HP" "$PP" "
profiles = ( { name = \"client\"; tokens = [ \"$(hl_sha256 "$TOK")\" ]; } );
admins = { token_hashes = [ \"$(hl_sha256 "$ADMIN")\" ]; };
$1"
	mv "$CONF.new" "$CONF"
}
write_conf 'log = { format = "json"; level = "info"; };'
hl_init "$CONF"
hl_start serve --config "$CONF" serve
CA="$D/ca.pem"
U="https://localhost:$HP"
ERR="$HL_TMP/serve.err"

enroll() {	# enroll NAME TOKEN -> status
	hl_csr "$1" "/CN=$1"
	hl_curl "$HL_TMP/$1.json" --cacert "$CA" -H "Authorization: Bearer $2" \
	    -H "Content-Type: application/x-pem-file" \
	    --data-binary @"$HL_TMP/$1.csr" "$U/v1/certificates"
}
# wait_log PATTERN: until a line of the log matches (the audit flushes
# refusals once a second).
wait_log() {
	for _ in $(seq 1 100); do
		grep -q -- "$1" "$ERR" && return 0
		sleep 0.05
	done
	fail "no line matching '$1' in the log"
}

[ "$(enroll alice "$TOK")" = 201 ] || fail "enroll: $(cat "$HL_TMP/alice.json")"
SERIAL=$(hl_json "$HL_TMP/alice.json" serial)
code=$(enroll mallory "wrong-$RANDOM")
hl_expect_error "$HL_TMP/mallory.json" 403 "$code" forbidden
code=$(hl_curl "$HL_TMP/rv.json" --cacert "$CA" -H "Authorization: Bearer $ADMIN" \
    -H "Content-Type: application/json" -d '{"reason": "keyCompromise"}' \
    "$U/v1/certificates/$SERIAL/revoke")
[ "$code" = 200 ] || fail "revoke: $code $(cat "$HL_TMP/rv.json")"
wait_log '"event":"refuse"'
wait_log '"event":"revoke"'

# Every line: one JSON object with time, level and msg; the events with
# their fields, each once.
"$PY" - "$ERR" "$SERIAL" <<'EOF' || fail "json lines: $(cat "$ERR")"
import json, re, sys
path, serial = sys.argv[1], sys.argv[2]
lines = open(path, encoding="utf-8").read().splitlines()
assert lines, "no line"
events, objs = {}, []
for n, line in enumerate(lines, 1):
    try:
        o = json.loads(line)
    except ValueError as e:
        sys.exit(f"line {n} is not JSON ({e}): {line!r}")
    assert isinstance(o, dict), f"line {n}: not an object"
    objs.append(o)
    for k in ("time", "level", "msg"):
        assert isinstance(o.get(k), str) and o[k], f"line {n}: no {k}: {line}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["time"]), \
        f"line {n}: time {o['time']!r} is not RFC 3339 UTC"
    assert o["level"] in ("error", "warning", "notice", "info", "debug"), \
        f"line {n}: level {o['level']!r}"
    if "event" in o:
        events.setdefault(o["event"], []).append(o)
iss = [o for o in events.get("issue", []) if o.get("serial") == serial]
assert len(iss) == 1, f"issuance of {serial}: {len(iss)} lines"
assert iss[0]["profile"] == "client" and iss[0]["peer"] == "127.0.0.1", iss[0]
assert iss[0]["level"] == "info", iss[0]
rv = events.get("revoke", [])
assert len(rv) == 1 and rv[0]["serial"] == serial, rv
assert rv[0]["reason"] == "keyCompromise" and rv[0]["peer"] == "127.0.0.1", rv
assert rv[0]["level"] == "notice", rv
rf = [o for o in events.get("refuse", []) if o.get("reason") == "token_unknown"]
assert len(rf) == 1 and rf[0]["peer"] == "127.0.0.1", rf
assert any(o["msg"].startswith("ready (") for o in objs), "no ready line"
print(f"{len(lines)} lines")
EOF
ok "json: every line parses with time, level and msg; issue, refuse and revoke logged once with their fields"

# SIGHUP: text lines from now on, and only warnings and above.
write_conf 'log = { format = "text"; level = "warning"; };'
n=$(wc -l <"$ERR")
kill -HUP "$HL_PID"
sleep 1
kill -0 "$HL_PID" 2>/dev/null || fail "SIGHUP stopped serve"
[ "$(enroll bob "$TOK")" = 201 ] || fail "enroll after the reload"
BOB=$(hl_json "$HL_TMP/bob.json" serial)
write_conf 'log = { format = "text"; level = "info"; };'
kill -HUP "$HL_PID"	# the reload line is a notice: written at info
wait_log "SIGHUP: reloaded"
hl_stop "$HL_PID"
tail -n +"$((n + 1))" "$ERR" >"$HL_TMP/text.log"
[ -s "$HL_TMP/text.log" ] || fail "no text line after the reload"
! grep -q -- "$BOB" "$HL_TMP/text.log" ||
    fail "an issuance (info) was logged at level warning: $(grep -- "$BOB" "$HL_TMP/text.log")"
if grep -Ev '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z (error|warning|notice|info|debug) mtlsca: [^ ]' \
    "$HL_TMP/text.log"; then
	fail "the lines above are not TIME LEVEL mtlsca: MSG"
fi
grep -Eq 'Z notice mtlsca: SIGHUP: reloaded ' "$HL_TMP/text.log" ||
    fail "no reload line: $(cat "$HL_TMP/text.log")"
grep -Eq 'Z notice mtlsca: stopped$' "$HL_TMP/text.log" ||
    fail "no stop line: $(cat "$HL_TMP/text.log")"
ok "text: every line is RFC 3339 time, level, message; level warning leaves out an issuance"
