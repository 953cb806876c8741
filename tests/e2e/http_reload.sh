#!/bin/bash
# SIGHUP re-reads the configuration (systemctl reload): profiles, static
# tokens, admins, publishers and limits change while serving, without a
# restart and without dropping a request; a file that does not load is
# refused with the reason and everything running stays; a setting read at
# start only (a port) is named and kept until a restart.
. "$(dirname "$0")/http_lib.sh"

HP=$(free_port)
PP=$(free_port)
D="$HL_TMP/data"
CONF="$HL_TMP/mtlsca.conf"
T1="reload-t1-$RANDOM$RANDOM"
T2="reload-t2-$RANDOM$RANDOM"
T3="reload-t3-$RANDOM$RANDOM"
A1="reload-a1-$RANDOM$RANDOM"
A2="reload-a2-$RANDOM$RANDOM"
write_conf() {	# write_conf EXTRA: the configuration, atomically
	hl_config "$CONF.new" "$D" "$HP" "$PP" "$1"
	mv "$CONF.new" "$CONF"
}
write_conf "profiles = ( { name = \"client\"; tokens = [ \"$(hl_sha256 "$T1")\" ]; } );
admins = { token_hashes = [ \"$(hl_sha256 "$A1")\" ]; };"
hl_init "$CONF"
hl_start serve --config "$CONF" serve
CA="$D/ca.pem"
U="https://localhost:$HP"

enroll() {	# enroll NAME TOKEN [QUERY] -> status
	hl_csr "$1" "/CN=$1"
	hl_curl "$HL_TMP/$1.json" --cacert "$CA" -H "Authorization: Bearer $2" \
	    -H "Content-Type: application/x-pem-file" \
	    --data-binary @"$HL_TMP/$1.csr" "$U/v1/certificates${3:-}"
}
admin() {	# admin TOKEN -> status of GET /v1/crl/status
	hl_curl "$HL_TMP/admin.json" --cacert "$CA" -H "Authorization: Bearer $1" \
	    "$U/v1/crl/status"
}
hup() {		# hup WHAT: SIGHUP, then wait for the log line WHAT (a count)
	local before
	before=$(grep -c "mtlsca: SIGHUP" "$HL_TMP/serve.err" || true)
	kill -HUP "$HL_PID"
	for _ in $(seq 1 100); do
		[ "$(grep -c "mtlsca: SIGHUP" "$HL_TMP/serve.err" || true)" -gt "$before" ] &&
		    break
		sleep 0.05
	done
	sleep 0.2	# every line of this reload
	grep -q "$1" "$HL_TMP/serve.err" || fail "no '$1' in the log: $(tail -n 5 "$HL_TMP/serve.err")"
	kill -0 "$HL_PID" 2>/dev/null || fail "SIGHUP stopped serve"
}

[ "$(enroll c1 "$T1")" = 201 ] || fail "T1 before the reload"
[ "$(admin "$A1")" = 200 ] || fail "A1 before the reload"
ok "before: static token T1 enrolls, admin token A1 reads"

# New tokens, a new profile, new admins, a smaller body_max, a publisher.
write_conf "profiles = ( { name = \"client\"; tokens = [ \"$(hl_sha256 "$T2")\" ]; },
	{ name = \"device\"; days = 30; tokens = [ \"$(hl_sha256 "$T3")\" ]; } );
admins = { token_hashes = [ \"$(hl_sha256 "$A2")\" ]; };
publishers = ( { type = \"dir\"; name = \"www\"; path = \"$HL_TMP/www\"; } );"
sed -i 's/^http = {/http = { body_max = 16384;/' "$CONF"
hup "mtlsca: SIGHUP: reloaded $CONF: 2 profile(s), 2 static token(s)"
grep -q "(restarted)" "$HL_TMP/serve.err" || fail "the publishers were not started anew"
code=$(enroll c2 "$T1")
hl_expect_error "$HL_TMP/c2.json" 403 "$code" forbidden
[ "$(enroll c3 "$T2")" = 201 ] || fail "T2 after the reload: $(cat "$HL_TMP/c3.json")"
[ "$(enroll d1 "$T3")" = 201 ] || fail "the new profile: $(cat "$HL_TMP/d1.json")"
[ "$(hl_json "$HL_TMP/d1.json" profile)" = device ] || fail "profile $(cat "$HL_TMP/d1.json")"
code=$(admin "$A1")
hl_expect_error "$HL_TMP/admin.json" 403 "$code" forbidden
[ "$(admin "$A2")" = 200 ] || fail "A2 after the reload"
head -c 20000 /dev/zero | tr '\0' A >"$HL_TMP/big.csr"
code=$(hl_curl "$HL_TMP/big.json" --cacert "$CA" -H "Authorization: Bearer $T2" \
    -H "Content-Type: application/x-pem-file" --data-binary @"$HL_TMP/big.csr" \
    "$U/v1/certificates")
hl_expect_error "$HL_TMP/big.json" 413 "$code" too_big
for _ in $(seq 1 100); do
	[ -s "$HL_TMP/www/crl.pem" ] && break
	sleep 0.05
done
[ -s "$HL_TMP/www/crl.pem" ] || fail "the new dir publisher did not publish"
cmp -s "$HL_TMP/www/crl.pem" "$D/public/crl.pem" || fail "www/crl.pem is not the current CRL"
curl -sS -o "$HL_TMP/metrics" "http://127.0.0.1:$PP/metrics"
grep -q 'mtlsca_certificates_issued_total{profile="device"} 1' "$HL_TMP/metrics" ||
    fail "/metrics lacks the new profile's count: $(grep issued_total "$HL_TMP/metrics")"
ok "after SIGHUP: T1 403, T2 enrolls, T3 in a new profile, A1 403, A2 reads, body_max 16 KiB, the new publisher published"

# A file that does not load changes nothing.
cp "$CONF" "$HL_TMP/good.conf"
printf 'http = { body_max = ;\n' >>"$CONF"
hup "mtlsca: SIGHUP: $CONF is refused: $CONF:[0-9]*: .*; the running configuration stays"
[ "$(enroll c4 "$T2")" = 201 ] || fail "T2 after a refused reload"
[ "$(admin "$A2")" = 200 ] || fail "A2 after a refused reload"
cp "$HL_TMP/good.conf" "$CONF"
chmod 0666 "$CONF"
hup "is refused: $CONF is writable by others (mode 0666)"
chmod 0644 "$CONF"
ok "a broken file and a world-writable one: refused with the reason, the running configuration stays"

# Settings read at start only are named and kept.
NP=$(free_port)
sed -i "s/https_port = $HP/https_port = $NP/" "$CONF"
hup "mtlsca: SIGHUP: http.https_port changed: it takes effect on restart"
[ "$(admin "$A2")" = 200 ] || fail "not serving on $HP any more"
ok "http.https_port changed: named, kept until a restart"
hl_stop "$HL_PID"
echo "PASS"
