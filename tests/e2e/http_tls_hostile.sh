#!/bin/bash
# The HTTPS listener asks every client for a certificate. A client with no
# token and no key presents a self-made certificate with a huge RSA
# modulus and public exponent and a random CertificateVerify: checking
# that signature used to cost the server seconds of CPU per handshake. The
# key is now refused, as ALB would refuse it, before any signature is
# checked: a hostile handshake costs the server about what an ordinary
# mTLS one does (asserted on CPU seconds from /proc, over both TLS 1.2 and
# 1.3), the service stays responsive, and the refusals are counted. The
# CertificateRequest offers only the signature algorithms ALB accepts.
. "$(dirname "$0")/http_lib.sh"

HOSTILE="$MTLSCA_BUILD/tests/tls_hostile"
[ -x "$HOSTILE" ] || fail "no $HOSTILE"
HP=$(free_port)
PP=$(free_port)
TOKEN="hostile-$RANDOM$RANDOM"
CONF="$HL_TMP/mtlsca.conf"
hl_config "$CONF" "$HL_TMP/data" "$HP" "$PP" "
profiles = ( { name = \"client\"; tokens = [ \"$(hl_sha256 "$TOKEN")\" ]; } );"
hl_init "$CONF"	# serve --config never creates a CA
hl_start serve --config "$CONF" serve
CA="$HL_TMP/data/ca.pem"

# An ordinary client certificate of this CA, for the baseline.
hl_csr alice "/CN=alice"
code=$(hl_curl "$HL_TMP/alice.json" --cacert "$CA" -H "Authorization: Bearer $TOKEN" \
    -H "Content-Type: application/x-pem-file" -H "Accept: application/pem-certificate-chain" \
    --data-binary @"$HL_TMP/alice.csr" "https://localhost:$HP/v1/certificates")
[ "$code" = 201 ] || fail "enroll alice: $code"
cp "$HL_TMP/alice.json" "$HL_TMP/alice.pem"

cpu() {	# the server's user + system CPU, in clock ticks
	awk '{ print $14 + $15 }' "/proc/$HL_PID/stat"
}
HZ=$(getconf CLK_TCK)
N=6

t0=$(cpu)
for _ in $(seq 1 $N); do
	curl -sS -o /dev/null --cacert "$CA" --cert "$HL_TMP/alice.pem" \
	    --key "$HL_TMP/alice.key" "https://localhost:$HP/healthz" ||
	    fail "ordinary mTLS request"
done
ordinary=$(( $(cpu) - t0 ))
ok "$N ordinary mTLS handshakes: $ordinary ticks of server CPU (HZ $HZ)"

# 12,288-bit modulus and exponent: about 1 s of CPU per check before.
"$PY" "$MTLSCA_SRC/tests/tools/hostile_cert.py" 12288 12288 "$HL_TMP/hostile.der"
for v in tls12 tls13; do
	t0=$(cpu)
	out=$("$HOSTILE" 127.0.0.1 "$HP" "$HL_TMP/hostile.der" $N $v) ||
	    fail "tls_hostile $v"
	spent=$(( $(cpu) - t0 ))
	[ "$out" = "refused $N completed 0" ] || fail "$v: $out"
	# A small multiple of the ordinary cost, plus two ticks of slack for
	# the 10 ms granularity; before, 50+ ticks a handshake.
	limit=$(( 3 * ordinary + 2 ))
	[ "$spent" -le "$limit" ] ||
	    fail "$v: $N hostile handshakes cost $spent ticks; ordinary $ordinary (limit $limit)"
	ok "$N hostile $v handshakes refused: $spent ticks of server CPU (ordinary $ordinary)"
done
grep -q "refused the TLS handshake of 127.0.0.1: its client certificate: RSA key of 12288 bits" \
    "$HL_TMP/serve.err" || fail "no log line: $(cat "$HL_TMP/serve.err")"
n=$(curl -sS "http://127.0.0.1:$PP/metrics" | sed -n 's/^mtlsca_http_tls_refused_total //p')
[ "$n" = $((2 * N)) ] || fail "mtlsca_http_tls_refused_total $n, not $((2 * N))"
[ "$(hl_curl "$HL_TMP/h.json" --cacert "$CA" "https://localhost:$HP/healthz")" = 200 ] ||
    fail "healthz after the hostile handshakes"
ok "refusals logged and counted ($n); the service answers"

# A chain deeper than ALB's 4 is refused as well (its keys are fine).
for i in 1 2 3 4; do cat "$HL_TMP/alice.pem"; done >"$HL_TMP/deep.pem"
cat "$HL_TMP/alice.pem" "$HL_TMP/deep.pem" >"$HL_TMP/chain5.pem"
curl -sS -o /dev/null --cacert "$CA" --cert "$HL_TMP/chain5.pem" \
    --key "$HL_TMP/alice.key" "https://localhost:$HP/healthz" 2>/dev/null &&
    fail "a chain of 5 certificates was accepted"
ok "a chain of 5 client certificates is refused"

# The CertificateRequest's signature algorithms: ALB's, no SHA-1/SHA-224.
for v in -tls1_2 -tls1_3; do
	sigs=$(openssl s_client $v -connect "127.0.0.1:$HP" -servername localhost \
	    </dev/null 2>/dev/null | sed -n 's/^Requested Signature Algorithms: //p')
	[ -n "$sigs" ] || fail "$v: no CertificateRequest signature algorithms"
	bad=$(printf '%s\n' "$sigs" | tr ':' '\n' |
	    grep -iE '^(dsa|ed25519|ed448)|sha1$|sha224$' || true)
	[ -z "$bad" ] || fail "$v offers $(echo $bad): $sigs"
	case "$sigs" in
	*ECDSA+SHA256*) ;;
	*) fail "$v does not offer ECDSA+SHA256: $sigs";;
	esac
	ok "$v CertificateRequest: $sigs"
done
hl_stop "$HL_PID"
echo "PASS"
