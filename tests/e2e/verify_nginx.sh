#!/bin/bash
# The verifier behind a load balancer, with nginx as the real peer:
# auth_request to the verify listener (/auth, verify.path), the client
# certificate forwarded as ALB forwards it in each mode — passthrough
# (X-Amzn-Mtls-Clientcert, built exactly as AWS's documentation shows:
# "-----BEGIN%20CERTIFICATE-----%0A..."), verify mode (-Leaf, and the
# -Serial-Number/-Issuer headers alone) — and nginx as the "ALB" itself
# (mTLS without any CRL, $ssl_client_escaped_cert). A good client reaches
# the app with its identity headers; after `mtlsca revoke` the very next
# request is refused with no CRL built or reloaded; an expired certificate,
# another CA's, a forged header from an untrusted address (127.0.0.2) and a
# duplicated header are refused. Envoy's X-Forwarded-Client-Cert and
# HAProxy's base64 DER, sent as they send them, get the same answers, and
# so does `mtlsca verify`.
. "$(dirname "$0")/http_lib.sh"

command -v nginx >/dev/null || fail "nginx is missing: run packaging/setup.sh"

D="$HL_TMP/data"
HP=$(free_port)
PP=$(free_port)
VP=$(free_port)
NP=$(free_port)
NS=$(free_port)
ENROLL="verify-enroll-$RANDOM$RANDOM"
CONF="$HL_TMP/mtlsca.conf"
M() { "$MTLSCA" --config "$CONF" "$@"; }

# serve_with SOURCE: (re)start serve with the verifier reading SOURCE. No
# CRL is built while the test runs (debounce 1 h): revocations must be
# refused without one.
SERVE=
serve_with() {
	[ -n "$SERVE" ] && hl_stop "$SERVE"
	cat >"$CONF" <<EOF
data_dir = "$D";
crl = { validity = "1d"; refresh = "2h"; debounce = "1h"; };
http = { listen = "127.0.0.1"; https_port = $HP; http_port = $PP;
	server_names = [ "localhost", "127.0.0.1" ]; };
profiles = ( { name = "client"; tokens = [ "$(hl_sha256 "$ENROLL")" ]; } );
verify = { port = $VP; path = "/auth"; source = "$1";
	trusted_proxies = [ "127.0.0.1/32" ]; };
EOF
	[ -f "$D/ca.pem" ] || hl_init "$CONF"	# serve --config makes no CA
	hl_start "serve-$1" serve --config "$CONF"
	SERVE=$HL_PID
}
serve_with alb-passthrough
CA="$D/ca.pem"
U="https://localhost:$HP"
V="http://127.0.0.1:$VP"

enroll() {	# NAME: HL_TMP/NAME.pem and .key, enrolled over the API
	hl_csr "$1" "/CN=$1"
	code=$(hl_curl "$HL_TMP/$1.pem" --cacert "$CA" \
	    -H "Authorization: Bearer $ENROLL" \
	    -H "Content-Type: application/x-pem-file" \
	    -H "Accept: application/pem-certificate-chain" \
	    --data-binary "@$HL_TMP/$1.csr" "$U/v1/certificates")
	[ "$code" = 201 ] || fail "enroll $1: $code $(cat "$HL_TMP/$1.pem")"
}
serial() { openssl x509 -in "$HL_TMP/$1.pem" -noout -serial | cut -d= -f2; }
# ALB's encoding (AWS documentation): PEM percent-encoded, with '+', '='
# and '/' left as they are.
alb_enc() {
	"$PY" -c 'import sys, urllib.parse
print(urllib.parse.quote(open(sys.argv[1]).read(), safe="-_.~+=/"))' "$1"
}
crl_number() {
	curl -sS "http://127.0.0.1:$PP/metrics" | sed -n 's/^mtlsca_crl_number //p'
}

enroll alice
enroll bob
enroll carol
enroll dave
# Expired: signed three days ago for one day.
hl_csr old "/CN=old"
MTLSCA_FAKE_NOW=$(date -u -d '-3 days' +%Y-%m-%dT%H:%M:%SZ) \
    M sign --csr "$HL_TMP/old.csr" --days 1 --out "$HL_TMP/old.pem" \
    >/dev/null 2>&1 || fail "sign an expired certificate"
# Another CA's client.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$HL_TMP/evil-ca.key" -subj "/CN=evil CA" -days 30 \
    -out "$HL_TMP/evil-ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$HL_TMP/evil.key" -subj "/CN=alice" -out "$HL_TMP/evil.csr" \
    2>/dev/null
openssl x509 -req -in "$HL_TMP/evil.csr" -CA "$HL_TMP/evil-ca.pem" \
    -CAkey "$HL_TMP/evil-ca.key" -CAcreateserial -days 10 \
    -out "$HL_TMP/evil.pem" 2>/dev/null || fail "openssl x509 -req"
ok "clients enrolled: alice, bob, carol, dave; old (expired), evil (another CA)"

# ---- nginx: the app's front, and the "ALB" ----
N="$HL_TMP/nginx"
mkdir -p "$N/logs" "$N/tmp"
cp "$D/private/server.pem" "$N/server.pem"
cp "$D/private/server.key" "$N/server.key"
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root;"
VERIFY_LOC="proxy_pass http://127.0.0.1:$VP/auth;
		proxy_pass_request_body off;
		proxy_set_header Content-Length \"\";"
APP_LOC="auth_request_set \$mtls_result \$upstream_http_x_mtls_result;
		auth_request_set \$mtls_serial \$upstream_http_x_mtls_serial;
		auth_request_set \$mtls_subject \$upstream_http_x_mtls_subject;
		auth_request_set \$mtls_san \$upstream_http_x_mtls_san;
		auth_request_set \$mtls_profile \$upstream_http_x_mtls_profile;
		auth_request_set \$mtls_not_after \$upstream_http_x_mtls_not_after;
		proxy_set_header X-Mtls-Serial \$mtls_serial;
		proxy_set_header X-Mtls-Subject \$mtls_subject;
		proxy_set_header X-Mtls-SAN \$mtls_san;
		proxy_set_header X-Mtls-Profile \$mtls_profile;
		proxy_set_header X-Mtls-Not-After \$mtls_not_after;
		proxy_pass http://127.0.0.1:$NP/_app;
		error_page 401 403 = @denied;"
cat >"$N/nginx.conf" <<EOF
$USER_LINE
worker_processes 1;
daemon off;
pid $N/nginx.pid;
error_log $N/logs/error.log info;
events { worker_connections 64; }
http {
	access_log $N/logs/access.log;
	client_body_temp_path $N/tmp/body;
	proxy_temp_path $N/tmp/proxy;
	fastcgi_temp_path $N/tmp/fastcgi;
	uwsgi_temp_path $N/tmp/uwsgi;
	scgi_temp_path $N/tmp/scgi;
	large_client_header_buffers 4 64k;
	# Behind ALB: the test sends ALB's headers itself.
	server {
		listen 127.0.0.1:$NP;
		location = /_verify { internal; $VERIFY_LOC }
		location = /_verify_untrusted {
			internal;
			proxy_bind 127.0.0.2;
			$VERIFY_LOC
		}
		location /app { auth_request /_verify; $APP_LOC }
		location /untrusted { auth_request /_verify_untrusted; $APP_LOC }
		location @denied { return 403 "denied: \$mtls_result\n"; }
		# The application: says what it was told.
		location = /_app {
			return 200 "app: serial=\$http_x_mtls_serial subject=\$http_x_mtls_subject san=\$http_x_mtls_san profile=\$http_x_mtls_profile not_after=\$http_x_mtls_not_after\n";
		}
	}
	# nginx as the "ALB": mTLS with our CA and no CRL at all.
	server {
		listen 127.0.0.1:$NS ssl;
		ssl_certificate $N/server.pem;
		ssl_certificate_key $N/server.key;
		ssl_verify_client on;
		ssl_client_certificate $CA;
		location = /_verify {
			internal;
			proxy_set_header X-Ssl-Client-Cert \$ssl_client_escaped_cert;
			# What Envoy sends (forward_client_cert_details
			# SANITIZE_SET, set_current_client_cert_details cert).
			proxy_set_header X-Forwarded-Client-Cert "Hash=0;Cert=\\"\$ssl_client_escaped_cert\\";Subject=\\"\$ssl_client_s_dn\\"";
			$VERIFY_LOC
		}
		location / { auth_request /_verify; $APP_LOC }
		location @denied { return 403 "denied: \$mtls_result\n"; }
	}
}
EOF
nginx -t -p "$N" -c "$N/nginx.conf" >"$HL_TMP/nginx-t.err" 2>&1 ||
    fail "nginx -t: $(cat "$HL_TMP/nginx-t.err")"
nginx -p "$N" -c "$N/nginx.conf" 2>"$HL_TMP/nginx.err" &
NGINX=$!
HL_PIDS+=("$NGINX")
for _ in $(seq 1 50); do
	curl -s -o /dev/null "http://127.0.0.1:$NP/_none" && break
	sleep 0.1
done
ok "nginx: auth_request to $V/auth; plain on $NP, mTLS without a CRL on $NS"

# app NAME HEADER...: GET /app with the headers; status in CODE, body in
# $HL_TMP/app.out.
app() {
	local path="$1"; shift
	CODE=$(hl_curl "$HL_TMP/app.out" "$@" "http://127.0.0.1:$NP$path")
}

# ---- ALB passthrough ----
ALICE=$(alb_enc "$HL_TMP/alice.pem")
case "$ALICE" in -----BEGIN%20CERTIFICATE-----%0A*) ;; *) fail "not ALB's encoding: $ALICE" ;; esac
app /app -H "X-Amzn-Mtls-Clientcert: $ALICE"
[ "$CODE" = 200 ] || fail "alice (passthrough): $CODE $(cat "$HL_TMP/app.out")"
grep -q "serial=$(serial alice) subject=CN=alice san= profile=client not_after=20" \
    "$HL_TMP/app.out" || fail "the app was told: $(cat "$HL_TMP/app.out")"
# The chain as ALB forwards it: leaf first, then what the client sent.
CHAIN=$(cat "$HL_TMP/alice.pem" "$CA" > "$HL_TMP/chain.pem"; alb_enc "$HL_TMP/chain.pem")
app /app -H "X-Amzn-Mtls-Clientcert: $CHAIN"
[ "$CODE" = 200 ] || fail "alice's chain: $CODE"
ok "passthrough: alice reaches the app with X-Mtls-Serial/-Subject/-Profile/-Not-After"

BOB=$(alb_enc "$HL_TMP/bob.pem")
app /app -H "X-Amzn-Mtls-Clientcert: $BOB"
[ "$CODE" = 200 ] || fail "bob before revocation: $CODE"
crl0=$(crl_number)
M revoke "$(serial bob)" --reason keyCompromise >/dev/null || fail "mtlsca revoke"
app /app -H "X-Amzn-Mtls-Clientcert: $BOB"
[ "$CODE" = 403 ] || fail "bob after revoke: $CODE $(cat "$HL_TMP/app.out")"
grep -q "denied: revoked" "$HL_TMP/app.out" || fail "nginx saw: $(cat "$HL_TMP/app.out")"
code=$(hl_curl "$HL_TMP/v.json" -H "X-Amzn-Mtls-Clientcert: $BOB" "$V/v1/verify")
[ "$code" = 403 ] || fail "verify bob: $code"
[ "$(hl_json "$HL_TMP/v.json" reason)" = revoked ] || fail "$(cat "$HL_TMP/v.json")"
[ "$(hl_json "$HL_TMP/v.json" revocation_reason)" = keyCompromise ] || fail "$(cat "$HL_TMP/v.json")"
[ -n "$(hl_json "$HL_TMP/v.json" revoked_at)" ] || fail "no revoked_at"
[ "$(crl_number)" = "$crl0" ] || fail "a CRL was built ($crl0 -> $(crl_number))"
app /app -H "X-Amzn-Mtls-Clientcert: $ALICE"
[ "$CODE" = 200 ] || fail "alice after bob's revocation: $CODE"
ok "after mtlsca revoke: bob refused on the next request (revoked, keyCompromise), CRL still $crl0"

app /app -H "X-Amzn-Mtls-Clientcert: $(alb_enc "$HL_TMP/old.pem")"
[ "$CODE" = 403 ] && grep -q "denied: expired" "$HL_TMP/app.out" ||
    fail "expired: $CODE $(cat "$HL_TMP/app.out")"
app /app -H "X-Amzn-Mtls-Clientcert: $(alb_enc "$HL_TMP/evil.pem")"
[ "$CODE" = 403 ] && grep -q "denied: unknown_issuer" "$HL_TMP/app.out" ||
    fail "another CA's: $CODE $(cat "$HL_TMP/app.out")"
app /app -H "X-Amzn-Mtls-Clientcert: ${ALICE:0:300}"
[ "$CODE" = 403 ] && grep -q "denied: malformed" "$HL_TMP/app.out" ||
    fail "truncated: $CODE $(cat "$HL_TMP/app.out")"
app /app
[ "$CODE" = 403 ] && grep -q "denied: no_certificate" "$HL_TMP/app.out" ||
    fail "no header: $CODE $(cat "$HL_TMP/app.out")"
ok "refused: expired, unknown_issuer, malformed (truncated), no_certificate"

# A client adds its own header beside the proxy's: refused, whichever
# comes first.
app /app -H "X-Amzn-Mtls-Clientcert: $ALICE" -H "X-Amzn-Mtls-Clientcert: $BOB"
[ "$CODE" = 403 ] && grep -q "denied: duplicate_header" "$HL_TMP/app.out" ||
    fail "duplicated header: $CODE $(cat "$HL_TMP/app.out")"
app /app -H "X-Amzn-Mtls-Clientcert: $ALICE" -H "x-amzn-mtls-clientcert: $ALICE"
[ "$CODE" = 403 ] || fail "duplicated header (case): $CODE"
# A good header from an address that is not a trusted proxy.
app /untrusted -H "X-Amzn-Mtls-Clientcert: $ALICE"
[ "$CODE" = 403 ] && grep -q "denied: untrusted_proxy" "$HL_TMP/app.out" ||
    fail "untrusted proxy: $CODE $(cat "$HL_TMP/app.out")"
code=$(hl_curl "$HL_TMP/v.json" --interface 127.0.0.2 \
    -H "X-Amzn-Mtls-Clientcert: $ALICE" "$V/v1/verify")
[ "$code" = 403 ] && [ "$(hl_json "$HL_TMP/v.json" reason)" = untrusted_proxy ] ||
    fail "forged from 127.0.0.2: $code $(cat "$HL_TMP/v.json")"
ok "refused: a duplicated header; a forged header from 127.0.0.2"

# The verify listener serves the verifier, not the API.
code=$(hl_curl "$HL_TMP/v.json" "$V/v1/certificates")
[ "$code" = 404 ] || fail "the API on the verify listener: $code"
code=$(hl_curl "$HL_TMP/v.json" --cacert "$CA" -H "X-Amzn-Mtls-Clientcert: $ALICE" "$U/v1/verify")
[ "$code" = 404 ] || fail "the verifier on the API listener: $code"
curl -sS "$V/metrics" >"$HL_TMP/metrics.txt"
grep -q '^mtlsca_verify_total{result="good"} [1-9]' "$HL_TMP/metrics.txt" &&
    grep -q '^mtlsca_verify_total{result="revoked"} [1-9]' "$HL_TMP/metrics.txt" &&
    grep -q '^mtlsca_verify_total{result="duplicate_header"} [1-9]' "$HL_TMP/metrics.txt" &&
    grep -q '^mtlsca_verify_cache_hits_total [1-9]' "$HL_TMP/metrics.txt" &&
    grep -q '^mtlsca_verify_duration_seconds_count [1-9]' "$HL_TMP/metrics.txt" ||
    fail "metrics: $(grep verify "$HL_TMP/metrics.txt")"
ok "the verify listener: no API (404 both ways); /metrics counts results, cache hits, durations"

# A proxy's pool of idle keep-alive connections (more than
# http.per_ip_pending, 32, and per_ip_connections / loops) does not lock
# it out.
"$PY" - "$VP" "$ALICE" <<'PYEOF' || fail "60 idle connections from the proxy locked it out"
import http.client, socket, sys
port, cert = int(sys.argv[1]), sys.argv[2]
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(60)]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
c.request("GET", "/auth", headers={"X-Amzn-Mtls-Clientcert": cert})
assert c.getresponse().status == 200
for s in idle:
    s.close()
PYEOF
ok "60 idle connections from the trusted proxy, and it is still answered"

# ---- `mtlsca verify`: the same answers ----
M verify "$HL_TMP/alice.pem" >"$HL_TMP/cli.out" || fail "mtlsca verify alice: $(cat "$HL_TMP/cli.out")"
grep -q "^good: $(serial alice)" "$HL_TMP/cli.out" || fail "$(cat "$HL_TMP/cli.out")"
rc=0; M verify "$HL_TMP/bob.pem" >"$HL_TMP/cli.out" || rc=$?
[ "$rc" = 1 ] && grep -q "^refused (revoked)" "$HL_TMP/cli.out" || fail "cli bob: $rc $(cat "$HL_TMP/cli.out")"
rc=0; M verify "$HL_TMP/old.pem" >"$HL_TMP/cli.out" || rc=$?
[ "$rc" = 1 ] && grep -q "^refused (expired)" "$HL_TMP/cli.out" || fail "cli old: $rc"
rc=0; M verify --json "$HL_TMP/evil.pem" --chain "$HL_TMP/evil-ca.pem" >"$HL_TMP/cli.json" || rc=$?
[ "$rc" = 1 ] && [ "$(hl_json "$HL_TMP/cli.json" result)" = unknown_issuer ] || fail "cli evil: $rc"
rc=0; M verify >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "cli usage: $rc"
ok "mtlsca verify: 0 good, 1 revoked/expired/unknown_issuer, 2 usage"

# ---- ALB verify mode: the leaf, or the serial and issuer alone ----
serve_with alb-verify
ISSUER=$(openssl x509 -in "$HL_TMP/carol.pem" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//')
CAROL=$(alb_enc "$HL_TMP/carol.pem")
app /app -H "X-Amzn-Mtls-Clientcert-Leaf: $CAROL" \
    -H "X-Amzn-Mtls-Clientcert-Serial-Number: $(serial carol)" \
    -H "X-Amzn-Mtls-Clientcert-Issuer: $ISSUER" \
    -H "X-Amzn-Mtls-Clientcert-Subject: CN=carol"
[ "$CODE" = 200 ] && grep -q "subject=CN=carol" "$HL_TMP/app.out" ||
    fail "carol (verify mode, leaf): $CODE $(cat "$HL_TMP/app.out")"
app /app -H "X-Amzn-Mtls-Clientcert-Serial-Number: $(serial carol)" \
    -H "X-Amzn-Mtls-Clientcert-Issuer: $ISSUER"
[ "$CODE" = 200 ] && grep -q "serial=$(serial carol) subject=CN=carol" "$HL_TMP/app.out" ||
    fail "carol (verify mode, serial): $CODE $(cat "$HL_TMP/app.out")"
# The leaf and a serial of another certificate: one of them is forged.
app /app -H "X-Amzn-Mtls-Clientcert-Leaf: $CAROL" \
    -H "X-Amzn-Mtls-Clientcert-Serial-Number: $(serial alice)" \
    -H "X-Amzn-Mtls-Clientcert-Issuer: $ISSUER"
[ "$CODE" = 403 ] && grep -q "denied: malformed" "$HL_TMP/app.out" ||
    fail "leaf and serial disagree: $CODE $(cat "$HL_TMP/app.out")"
app /app -H "X-Amzn-Mtls-Clientcert-Serial-Number: $(serial carol)" \
    -H "X-Amzn-Mtls-Clientcert-Issuer: CN=evil CA"
[ "$CODE" = 403 ] && grep -q "denied: unknown_issuer" "$HL_TMP/app.out" ||
    fail "another issuer: $CODE $(cat "$HL_TMP/app.out")"
M revoke "$(serial carol)" >/dev/null || fail "revoke carol"
app /app -H "X-Amzn-Mtls-Clientcert-Leaf: $CAROL"
[ "$CODE" = 403 ] && grep -q "denied: revoked" "$HL_TMP/app.out" ||
    fail "carol revoked (leaf): $CODE"
app /app -H "X-Amzn-Mtls-Clientcert-Serial-Number: $(serial carol)" \
    -H "X-Amzn-Mtls-Clientcert-Issuer: $ISSUER"
[ "$CODE" = 403 ] && grep -q "denied: revoked" "$HL_TMP/app.out" ||
    fail "carol revoked (serial): $CODE"
app /app -H "X-Amzn-Mtls-Clientcert-Serial-Number: $(serial carol)" \
    -H "X-Amzn-Mtls-Clientcert-Serial-Number: $(serial alice)" \
    -H "X-Amzn-Mtls-Clientcert-Issuer: $ISSUER"
[ "$CODE" = 403 ] && grep -q "denied: duplicate_header" "$HL_TMP/app.out" ||
    fail "two serials: $CODE"
ok "verify mode: leaf and serial+issuer good; mismatch, other issuer, revoked, duplicate refused"

# ---- nginx as the ALB: its own mTLS (no CRL), our verifier behind ----
serve_with nginx
DAVE=(--cacert "$CA" --cert "$HL_TMP/dave.pem" --key "$HL_TMP/dave.key")
code=$(hl_curl "$HL_TMP/n.out" "${DAVE[@]}" "https://localhost:$NS/")
[ "$code" = 200 ] && grep -q "serial=$(serial dave) subject=CN=dave" "$HL_TMP/n.out" ||
    fail "dave through nginx mTLS: $code $(cat "$HL_TMP/n.out")"
crl0=$(crl_number)
M revoke "$(serial dave)" --reason superseded >/dev/null || fail "revoke dave"
code=$(hl_curl "$HL_TMP/n.out" "${DAVE[@]}" "https://localhost:$NS/")
[ "$code" = 403 ] && grep -q "denied: revoked" "$HL_TMP/n.out" ||
    fail "dave after revoke: $code $(cat "$HL_TMP/n.out")"
[ "$(crl_number)" = "$crl0" ] || fail "a CRL was built"
code=$(hl_curl "$HL_TMP/n.out" --cacert "$CA" --cert "$HL_TMP/alice.pem" \
    --key "$HL_TMP/alice.key" "https://localhost:$NS/")
[ "$code" = 200 ] || fail "alice through nginx mTLS: $code"
ok "nginx as the ALB (no CRL): dave in, revoked, refused on the next request; alice still in"

# ---- Envoy's X-Forwarded-Client-Cert (nginx writes it the same way) ----
serve_with envoy
code=$(hl_curl "$HL_TMP/n.out" --cacert "$CA" --cert "$HL_TMP/alice.pem" \
    --key "$HL_TMP/alice.key" "https://localhost:$NS/")
[ "$code" = 200 ] && grep -q "serial=$(serial alice) subject=CN=alice" "$HL_TMP/n.out" ||
    fail "alice through XFCC: $code $(cat "$HL_TMP/n.out")"
code=$(hl_curl "$HL_TMP/n.out" "${DAVE[@]}" "https://localhost:$NS/")
[ "$code" = 403 ] && grep -q "denied: revoked" "$HL_TMP/n.out" ||
    fail "dave through XFCC: $code $(cat "$HL_TMP/n.out")"
# ext_authz asks path_prefix + the request's path: /auth/anything.
code=$(hl_curl "$HL_TMP/v.json" -H "X-Forwarded-Client-Cert: Cert=\"$ALICE\"" \
    "$V/auth/orders/42")
[ "$code" = 200 ] || fail "/auth/orders/42: $code $(cat "$HL_TMP/v.json")"
code=$(hl_curl "$HL_TMP/v.json" -H "X-Forwarded-Client-Cert: Cert=\"$ALICE\"" \
    "$V/authx")
[ "$code" = 404 ] || fail "/authx is not below /auth: $code"
ok "Envoy's XFCC: alice in, dave refused; /auth/<path> answers as /auth (ext_authz)"

# ---- HAProxy's header: %[ssl_c_der,base64] ----
serve_with haproxy
der64() { openssl x509 -in "$HL_TMP/$1.pem" -outform DER | base64 -w0; }
code=$(hl_curl "$HL_TMP/v.json" -H "X-Ssl-Client-Der: $(der64 alice)" "$V/auth")
[ "$code" = 200 ] && [ "$(hl_json "$HL_TMP/v.json" subject)" = CN=alice ] ||
    fail "alice as HAProxy sends her: $code $(cat "$HL_TMP/v.json")"
code=$(hl_curl "$HL_TMP/v.json" -H "X-Ssl-Client-Der: $(der64 bob)" "$V/auth")
[ "$code" = 403 ] && [ "$(hl_json "$HL_TMP/v.json" reason)" = revoked ] ||
    fail "bob as HAProxy sends him: $code $(cat "$HL_TMP/v.json")"
code=$(hl_curl "$HL_TMP/v.json" -H "X-Ssl-Client-Der: $ALICE" "$V/auth")
[ "$code" = 403 ] && [ "$(hl_json "$HL_TMP/v.json" reason)" = malformed ] ||
    fail "PEM where HAProxy sends DER: $code"
ok "HAProxy's base64 DER: alice in, bob revoked, a PEM malformed"

kill -QUIT "$NGINX"
wait "$NGINX" 2>/dev/null
hl_stop "$SERVE"
echo "PASS"
