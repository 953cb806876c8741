#!/bin/bash
# The configuration: ca.conf.example loads cleanly and behaves like the
# defaults; no file means ./mtlsca-data; --data-dir overrides data_dir on
# every command; bad files are refused at start with FILE:LINE and what was
# expected; unknown keys are refused.
. "$(dirname "$0")/lib.sh"
tmpdir
EXAMPLE="$MTLSCA_SRC/ca.conf.example"
assert_file "$EXAMPLE"

note "ca.conf.example loads and works"
sed "s|^data_dir = .*|data_dir = \"$T/example-data\";|" "$EXAMPLE" > example.conf
grep -q "^data_dir = \"$T/example-data\";" example.conf || fail "could not point the example at a test directory"
run_ok "$MTLSCA" --config example.conf init
assert_contains "$OUT" "$T/example-data/ca.pem"
assert_contains "$OUT" "key type: rsa2048"
assert_contains "$OUT" "CN=mtlsca demo CA"
make_csr ex rsa:2048
run_ok "$MTLSCA" --config example.conf sign --csr ex.csr --profile client --out ex.pem
run_ok "$MTLSCA" sign --csr ex.csr --config example.conf --out ex2.pem
run_ok openssl verify -CAfile "$T/example-data/ca.pem" ex.pem ex2.pem
run_ok "$MTLSCA" --config example.conf crl
assert_contains "$OUT" "CRL number 1"
nu=$(openssl crl -in "$T/example-data/public/crl.pem" -noout -nextupdate | cut -d= -f2)
lu=$(openssl crl -in "$T/example-data/public/crl.pem" -noout -lastupdate | cut -d= -f2)
assert_eq 604800 $(( $(date -u -d "$nu" +%s) - $(date -u -d "$lu" +%s) )) "validity = 7d"
# The example's publishers and admins are commented out: publish says so.
run_status 1 "$MTLSCA" --config example.conf publish
assert_contains "$OUT" "no publishers"
# Every key the loader accepts (the keys[] tables of cmd/config.c) is
# documented in the example.
keys=$(awk '/keys\[\] = \{/ { on = 1 } on { print } /NULL \};/ { on = 0 }' \
    "$MTLSCA_SRC/cmd/config.c" | grep -o '"[a-z_0-9]*"' | tr -d '"' | sort -u)
[ "$(printf '%s\n' "$keys" | wc -l)" -gt 40 ] || fail "could not read the key tables of cmd/config.c"
for k in $keys; do
	grep -Eq "(^|[^a-z_])$k( =|:|,| \(|\)|\$)" "$EXAMPLE" || fail "key '$k' is not documented in ca.conf.example"
done

note "no file: ./mtlsca-data"
mkdir cwd && cd cwd
run_ok "$MTLSCA" init --key-type ecdsa-p256
assert_contains "$OUT" "./mtlsca-data/ca.pem"
assert_file mtlsca-data/ca.pem
assert_eq 600 "$(mode mtlsca-data/private/ca.key)"
assert_eq 700 "$(mode mtlsca-data/private)"
run_ok "$MTLSCA" list
cd "$T"

note "--data-dir overrides data_dir on every command"
run_ok "$MTLSCA" --config example.conf --data-dir "$T/other" init --key-type ecdsa-p384
assert_contains "$OUT" "$T/other/ca.pem"
assert_contains "$OUT" "key type: ecdsa-p384"
run_ok "$MTLSCA" --config example.conf list --data-dir "$T/other"
assert_not_contains "$OUT" "$(serial_of ex.pem)" "list of the other data dir"
run_ok "$MTLSCA" --config=example.conf list
assert_contains "$OUT" "$(serial_of ex.pem)" "list of the example's data dir"
run_ok "$MTLSCA" --data-dir="$T/other" crl
assert_file "$T/other/public/crl.pem"
# Explicit ca.cert / ca.key in the file are kept under --data-dir.
cat > explicit.conf <<EOF
ca = { cert = "$T/example-data/ca.pem"; key = "$T/example-data/private/ca.key"; };
EOF
run_ok "$MTLSCA" --config explicit.conf --data-dir "$T/explicit" sign --csr ex.csr --out ex3.pem
run_ok openssl verify -CAfile "$T/example-data/ca.pem" ex3.pem

note "bad files: FILE:LINE: what was expected"
# bad_conf LINE EXPECTED-TEXT: the file on stdin must be refused naming
# bad.conf:LINE and EXPECTED-TEXT; no command runs.
bad_conf() {
	cat > bad.conf
	run_status 1 "$MTLSCA" --config bad.conf --data-dir "$T/never" list
	assert_contains "$OUT" "mtlsca: bad.conf:$1:" "refusal of a bad configuration"
	assert_contains "$OUT" "$2" "refusal of a bad configuration"
	[ ! -e "$T/never" ] || fail "a refused configuration created the data directory"
}
printf 'data_dir = "x";\ncrl = {\n\tvalidity = "7d"\n\trefresh = ;\n};\n' | bad_conf 4 "syntax error"
printf 'data_dir = "x";\nstore = {\n\tmapsize = "1G";\n};\n' | bad_conf 3 "store.mapsize: unknown key (expected one of: map_size, max_readers)"
printf 'colour = "blue";\n' | bad_conf 1 "colour: unknown key"
printf 'store = { map_size = "lots"; };\n' | bad_conf 1 "expected a size"
printf 'store = { map_size = 12; };\n' | bad_conf 1 "out of range"
printf 'store = { max_readers = 70000; };\n' | bad_conf 1 "70000 is out of range"
printf 'ca = { key_type = "dsa"; };\n' | bad_conf 1 "not a key type"
printf 'ca = { days = "ten"; };\n' | bad_conf 1 "expected a whole number"
printf 'crl = {\n\tvalidity = 7;\n};\n' | bad_conf 2 'expected a duration in double quotes'
printf 'crl = {\n\tvalidity = "7 days";\n};\n' | bad_conf 2 'expected a duration'
printf 'crl = {\n\tvalidity = "2d";\n\trefresh = "1d";\n};\n' | bad_conf 3 "refresh (1d) must be at most a third of crl.validity (2d)"
printf 'crl = {\n\tdebounce = "1h";\n};\n' | bad_conf 2 "debounce (1h) must be shorter than crl.refresh (1h)"
printf 'crl = {\n\tdebounce = "2h";\n};\n' | bad_conf 2 '"2h" is out of range: expected 0s to 1h'
printf 'crl = {\n\tmax_entries = 10000001;\n};\n' | bad_conf 2 "expected 1 to 10000000 (ALB accepts at most 500000"
printf 'crl = {\n\tmax_entries = 0;\n};\n' | bad_conf 2 "expected 1 to 10000000"
printf 'crl = { keep_expired = "sometimes"; };\n' | bad_conf 1 '"forever"'
printf 'http = {\n\tthreading = "forks";\n};\n' | bad_conf 2 '"forks" is not a threading mode'
printf 'profiles = (\n\t{ name = "a"; },\n\t{ name = "b"; days = 900; }\n);\n' | bad_conf 3 "profiles[1].days: days (900) must not exceed max_days (825)"
printf 'profiles = ( { days = 30; } );\n' | bad_conf 1 "needs a name"
printf 'profiles = ( { name = "a"; }, { name = "a"; } );\n' | bad_conf 1 "defined twice"
printf 'profiles = ( { name = "a"; subject_allowed = ["CN", "XX"]; } );\n' | bad_conf 1 'unknown subject attribute "XX"'
printf 'profiles = ( { name = "a"; subject_allowed = ["O"]; } );\n' | bad_conf 1 '"CN" is required but not in subject_allowed'
printf 'profiles = ( { name = "a"; tokens = ["abc"]; } );\n' | bad_conf 1 "64 hex digits"
printf 'profiles = ( { name = "a"; server_auth = false; client_auth = false; } );\n' | bad_conf 1 "neither server_auth nor client_auth"
printf 'profiles = ( { name = "a"; allow_ip = "no"; } );\n' | bad_conf 1 "expected true or false"
printf 'http = {\n\tlisten = "localhost";\n};\n' | bad_conf 2 "not an IPv4 or IPv6 address"
printf 'http = { https_port = 70000; };\n' | bad_conf 1 "out of range"
printf 'http = { server_names = ["ca.example.com", "bad name"]; };\n' | bad_conf 1 "http.server_names[1]: \"bad name\" is not a DNS name or an IP address"
# serve --listen is checked as http.listen is: refused before anything starts.
run_status 2 "$MTLSCA" --data-dir "$T/never" serve --listen localhost
assert_contains "$OUT" "--listen localhost: expected an IPv4 or IPv6 address"
run_status 2 "$MTLSCA" --data-dir "$T/never" serve --listen "127.0.0.1$(head -c 80 /dev/zero | tr '\0' 1)"
[ ! -e "$T/never" ] || fail "a refused serve created the data directory"
printf 'http = { tls_cert = "/x.pem"; };\n' | bad_conf 1 "tls_cert and tls_key go together"
printf 'http = { server_names = []; };\n' | bad_conf 1 "at least one name"
printf 'http = { max_connections = 10; per_ip_connections = 20; };\n' | bad_conf 1 "per_ip_connections (20) must not exceed"
printf 'http = { request_timeout = 0; };\n' | bad_conf 1 "http.request_timeout: 0 is out of range: expected 1 to 600"
printf 'http = { request_timeout = 601; };\n' | bad_conf 1 "expected 1 to 600"
printf 'admins = { fingerprints = ["zz"]; };\n' | bad_conf 1 "SHA-256"
printf 'admins = { people = []; };\n' | bad_conf 1 "unknown key"
printf 'publishers = ( { type = "ftp"; name = "x"; } );\n' | bad_conf 1 '"ftp" is not a publisher type'
printf 'publishers = ( { type = "dir"; name = "x"; } );\n' | bad_conf 1 "needs a path"
printf 'publishers = ( { type = "dir"; name = "x"; path = "/p"; bucket = "b"; } );\n' | bad_conf 1 "bucket: unknown key"
printf 'publishers = (\n\t{ type = "alb"; name = "a"; trust_store_arn = "arn:aws:x"; region = "r"; s3 = "up"; }\n);\n' | bad_conf 2 'does not name an s3 publisher listed before this one'
printf 'publishers = (\n\t{ type = "s3"; name = "x"; bucket = "b"; region = "r"; },\n\t{ type = "s3"; name = "x"; bucket = "b"; region = "r"; }\n);\n' | bad_conf 3 "defined twice"
printf 'publish = { retry_min = "1m"; retry_max = "10s"; };\n' | bad_conf 1 "retry_max must not be shorter than retry_min"
printf 'publishers = ( { type = "exec"; name = "x"; } );\n' | bad_conf 1 "an exec publisher needs a command"
printf 'publishers = ( { type = "exec"; name = "x"; command = [ "nginx", "-s", "reload" ]; } );\n' | bad_conf 1 '"nginx" is not an absolute path'
printf 'publishers = ( { type = "exec"; name = "x"; command = [ "/bin/true" ]; timeout = "2h"; } );\n' | bad_conf 1 "publishers[0].timeout: \"2h\" is out of range"
printf 'publishers = ( { type = "exec"; name = "x"; command = [ "/bin/true" ]; path = "/p"; } );\n' | bad_conf 1 "path: unknown key"
printf 'publish = { max_lag = "0s"; };\n' | bad_conf 1 "publish.max_lag"
printf 'publish = { retry = "1s"; };\n' | bad_conf 1 "publish.retry: unknown key"

note "crl.max_entries above ALB's quota (nginx, HAProxy have none)"
# ALB's 500,000 is the alb publisher's business; `mtlsca crl` takes up to
# 10,000,000 and refuses a CRL over the configured bound.
printf 'data_dir = "%s";\ncrl = {\n\twarn_entries = 1000000;\n\tmax_entries = 10000000;\n};\n' "$T/example-data" > big.conf
run_ok "$MTLSCA" --config big.conf crl
assert_contains "$OUT" "CRL number"
printf 'data_dir = "%s";\ncrl = {\n\twarn_entries = 1;\n\tmax_entries = 1;\n};\n' "$T/example-data" > one.conf
run_ok "$MTLSCA" --config one.conf revoke 4242 --force --reason superseded
run_ok "$MTLSCA" --config one.conf revoke 4243 --force --reason superseded
run_status 1 "$MTLSCA" --config one.conf crl
assert_contains "$OUT" "over crl.max_entries (1)"
run_ok "$MTLSCA" --config big.conf crl
assert_contains "$OUT" "2 entries"

note "a complete publishers list loads"
cat > pubs.conf <<EOF
data_dir = "$T/example-data";
publishers = (
	{ type = "dir"; name = "www"; path = "$T/www"; },
	{ type = "s3"; name = "up"; bucket = "b"; prefix = "p"; region = "eu-west-1"; endpoint = "http://127.0.0.1:1"; },
	{ type = "alb"; name = "lb"; trust_store_arn = "arn:aws:elasticloadbalancing:eu-west-1:1:truststore/x/y"; region = "eu-west-1"; s3_publisher = "up"; }
);
admins = { fingerprints = [ "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89" ]; };
EOF
run_ok "$MTLSCA" --config pubs.conf list

note "a configuration others may write is refused, with its mode named"
cp one.conf shared.conf
chmod 0664 shared.conf
run_status 1 "$MTLSCA" --config shared.conf list
assert_contains "$OUT" "shared.conf is writable by its group (mode 0664)"
assert_contains "$OUT" "chmod go-w"
chmod 0646 shared.conf
run_status 1 "$MTLSCA" --config shared.conf list
assert_contains "$OUT" "writable by others (mode 0646)"
chmod 0640 shared.conf
run_ok "$MTLSCA" --config shared.conf list

note "help needs no configuration"
run_ok "$MTLSCA" --config bad.conf crl --help
assert_contains "$OUT" "usage: mtlsca crl"
run_status 2 "$MTLSCA" list --config

note "the man page covers every command and option of --help"
MAN="$MTLSCA_SRC/packaging/mtlsca.1"
assert_file "$MAN"
man_text=$(sed 's/\\-/-/g' "$MAN")
cmds=$("$MTLSCA" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }')
[ "$(printf '%s\n' "$cmds" | wc -l)" -ge 12 ] || fail "--help lists too few commands: $cmds"
for c in $cmds; do
	assert_contains "$man_text" ".SS \"mtlsca $c" "man page section for $c"
done
for c in init import sign list show revoke crl; do
	for o in $("$MTLSCA" help "$c" | grep -o -E -- '--[a-z][a-z-]*' | sort -u); do
		assert_contains "$man_text" "$o" "man page (option $o of $c)"
	done
done
for o in $("$MTLSCA" --help | grep -o -E -- '--[a-z][a-z-]*' | sort -u); do
	assert_contains "$man_text" "$o" "man page (global option $o)"
done
