#!/usr/bin/env bash
# The command line as an operator meets it (issue 14, CLI):
# - every command's --help (and `help CMD`): exit 0, on stdout only, the
#   command's usage, each of its options named (the lists below are this
#   test's own, not read from the binary), and each option in the man page;
#   usage errors on stderr with exit 2;
# - every --json output parsed by python3's json, its values checked against
#   what independent tools say (openssl, sha256sum, the store's own list);
# - RFC 3339 offsets in --time, stored in UTC;
# - token list / token revoke against a running serve (a revoked token is
#   refused 403), admin token rotate (the new token works, the old one is
#   refused at once), the service's HTTPS certificate marked in list/show;
# - `mtlsca completion bash` loaded by bash, and its completions.
. "$(dirname "$0")/lib.sh"
tmpdir

MAN=$MTLSCA_SRC/packaging/mtlsca.1
# py EXPR FILE: evaluate EXPR with d = the JSON document in FILE.
py() {
	"$PY" -c 'import json, sys
d = json.load(open(sys.argv[2]))
v = eval(sys.argv[1])
print(str(v).lower() if isinstance(v, bool) else v)' "$1" "$2" ||
	    fail "python3 could not evaluate $1 on $2: $(head -c 400 "$2")"
}
# man_re TEXT: a regular expression for TEXT as the man page writes it
# (every - as \-).
man_re() {
	printf '%s' "$1" | sed 's/-/\\\\-/g'
}
# json_of FILE CMD...: run CMD (exit 0), stdout into FILE, must parse.
json_of() {
	local f=$1 rc=0
	shift
	"$@" >"$f" 2>"$f.err" || rc=$?
	[ "$rc" -eq 0 ] || fail "'$*' exited $rc: $(cat "$f.err")"
	"$PY" -c 'import json, sys; json.load(open(sys.argv[1]))' "$f" ||
	    fail "'$*' --json output is not JSON: $(head -c 400 "$f")"
}

# ---- 1. --help --------------------------------------------------------------
note "--help for every command"
declare -A OPTS=(
	[init]="--subject --key-type --days"
	[import]="--ca-cert --ca-key --openssl-index --certs --openssl-crlnumber --json"
	[sign]="--csr --profile --days --out --json"
	[list]="--status --cn --json"
	[show]="--pem --json"
	[revoke]="--reason --time --force --file --dry-run --json"
	[crl]="--out --pem --check --json"
	[serve]="--config --listen --https-port --http-port --verify-port"
	[token]="--profile --cn --san --ttl --uses --all --json"
	[audit]="--from --json"
	[publish]="--crl --dry-run --json"
	[status]="--metrics --json"
	[enroll]="--server --token --token-file --cn --san --key-type --profile --days --ca-file --ca-fingerprint --out-dir --force --p12 --p12-legacy --p12-password-file --p12-name"
	[renew]="--server --cert --key --ca-file --chain --rekey --key-type --days --if-due --daemon --force --exec"
	[export-p12]="--cert --key --out --chain --legacy --password-file --name --force"
	[verify]="--chain --json"
	[admin]="--json"
	[ca]="--key-type --subject --days --json"
	[completion]=""
	[backup]="--out --include-key --force --verify --scheduled"
	[restore]="--force"
)
# The commands the main help lists: a command added there without a
# help text (or left out of OPTS) fails here.
cmds=$("$MTLSCA" --help | awk '/^Commands:/ { on = 1; next }
    on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }')
[ "$(echo "$cmds" | wc -l)" -ge 18 ] || fail "mtlsca --help lists: $cmds"
for c in $cmds; do
	[ -n "${OPTS[$c]+set}" ] || fail "mtlsca --help lists $c: add it to OPTS"
	for form in "$c --help" "$c -h" "help $c"; do
		rc=0
		# shellcheck disable=SC2086
		"$MTLSCA" $form >help.out 2>help.err || rc=$?
		[ "$rc" -eq 0 ] || fail "mtlsca $form exited $rc"
		[ ! -s help.err ] || fail "mtlsca $form wrote to stderr: $(cat help.err)"
		head -1 help.out | grep -q "^usage: mtlsca $c\b" ||
		    fail "mtlsca $form: no usage line: $(head -3 help.out)"
		# More than a bare usage line: what it does, each option.
		[ "$(wc -l <help.out)" -ge 4 ] ||
		    fail "mtlsca $form is $(wc -l <help.out) line(s)"
		[ "$(tail -c1 help.out | od -An -c | tr -d ' ')" = '\n' ] ||
		    fail "mtlsca $form does not end with a newline"
	done
	# The man page: a section for the command, each option in it (written
	# \-\-name there), up to the next command's section.
	grep -q "^\\.SS \"mtlsca $(man_re "$c")\b" "$MAN" ||
	    fail "packaging/mtlsca.1 has no section for $c"
	MN=$(printf '%s' "$c" | sed 's/-/\\-/g') awk '
	    /^\.SS "mtlsca / { p = ".SS \"mtlsca " ENVIRON["MN"]
		on = index($0, p " ") == 1 || index($0, p "\"") == 1 }
	    /^\.SH/ { on = 0 } on' "$MAN" >man.sec
	for o in ${OPTS[$c]}; do
		grep -q -- "$o\b" help.out || fail "mtlsca $c --help: no $o"
		grep -q -- "$(man_re "$o")" man.sec ||
		    fail "packaging/mtlsca.1 does not document $c $o"
	done
done
# A usage error: stderr, exit 2, nothing on stdout.
for c in serve token audit status publish admin completion sign; do
	rc=0
	"$MTLSCA" "$c" --no-such-option >err.out 2>err.err || rc=$?
	[ "$rc" -eq 2 ] || fail "mtlsca $c --no-such-option exited $rc"
	[ ! -s err.out ] || fail "mtlsca $c usage error on stdout: $(cat err.out)"
	grep -q "^usage: mtlsca $c" err.err ||
	    fail "mtlsca $c usage error without the usage: $(cat err.err)"
done

# ---- 2. --json, with values checked -------------------------------------
note "--json outputs"
run_ok m init --subject "CN=Polish CA"
CAFP=$(openssl x509 -in data/ca.pem -noout -fingerprint -sha256 |
    cut -d= -f2 | tr -d : | tr A-F a-f)

json_of status.json m status --json
assert_eq "$CAFP" "$(py 'd["ca_fingerprint"]' status.json)" "status ca_fingerprint"
assert_eq 0 "$(py 'd["crl_number"]' status.json)" "status crl_number"
assert_eq 0 "$(py 'len(d["publishers"])' status.json)" "status publishers"
run_status 2 m status --json --metrics

make_csr alice ec:prime256v1 /CN=alice
json_of sign.json m sign --csr alice.csr --json
py 'd["pem"]' sign.json >alice.pem
SER=$(serial_of alice.pem)
assert_eq "$SER" "$(py 'd["serial"]' sign.json)" "sign serial (openssl)"
assert_eq "CN=alice" "$(py 'd["subject"]' sign.json)" "sign subject"
assert_eq client "$(py 'd["profile"]' sign.json)" "sign profile"
assert_eq None "$(py 'd["out"]' sign.json)" "sign out"
assert_eq "$(date -u -d "$(openssl x509 -in alice.pem -noout -enddate |
    cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)" "$(py 'd["not_after"]' sign.json)" \
    "sign not_after (openssl)"
openssl verify -CAfile data/ca.pem alice.pem >/dev/null ||
    fail "the PEM in sign --json does not verify"
json_of sign2.json m sign --csr alice.csr --out bob.pem --json
assert_eq "$PWD/bob.pem" "$PWD/$(py 'd["out"]' sign2.json)" "sign --out"
SER2=$(serial_of bob.pem)
assert_eq "$SER2" "$(py 'd["serial"]' sign2.json)" "sign --out serial"

# --time with an offset: 09:00 at +09:00 is 00:00 UTC.
LOCAL=$(TZ=Asia/Tokyo date -d '-2 hours' +%Y-%m-%dT%H:%M:%S+09:00)
UTC=$(date -u -d "$LOCAL" +%Y-%m-%dT%H:%M:%SZ)
json_of revoke.json m revoke "$SER" --reason keyCompromise --time "$LOCAL" --json
assert_eq revoked "$(py 'd["results"][0]["outcome"]' revoke.json)" "revoke outcome"
assert_eq "$SER" "$(py 'd["results"][0]["serial"]' revoke.json)" "revoke serial"
assert_eq keyCompromise "$(py 'd["results"][0]["reason"]' revoke.json)" "revoke reason"
assert_eq "$UTC" "$(py 'd["results"][0]["revoked_at"]' revoke.json)" "revoke --time offset"
assert_eq 1 "$(py 'd["revoked"]' revoke.json)" "revoke count"
json_of revoke2.json m revoke "$SER" --json
assert_eq unchanged "$(py 'd["results"][0]["outcome"]' revoke2.json)" "revoke again"
assert_eq "$UTC" "$(py 'd["results"][0]["revoked_at"]' revoke2.json)" "revoke again time"
printf '%s\n%s\n' "$SER" "$SER2" >serials.txt
json_of dry.json m revoke --file serials.txt --dry-run --json
assert_eq "unchanged would_revoke" \
    "$(py '" ".join(r["outcome"] for r in d["results"])' dry.json)" "dry run"
assert_eq true "$(py 'd["dry_run"]' dry.json)" "dry_run"
json_of show.json m show "$SER2" --json
assert_eq valid "$(py 'd["status"]' show.json)" "dry run wrote nothing"
assert_eq false "$(py 'd["service_https"]' show.json)" "a client certificate is not the service's"
run_status 2 m revoke "$SER" --time 2026-01-01T00:00:00+0900
assert_contains "$OUT" "RFC 3339"

json_of crl.json m crl --json
assert_eq 1 "$(py 'd["number"]' crl.json)" "crl number"
assert_eq 1 "$(py 'd["entries"]' crl.json)" "crl entries"
assert_eq "$T/data/public/crl.pem" "$(py 'd["files"][1]' crl.json)" "crl files"
openssl crl -in data/public/crl.pem -noout -text >crl.txt
grep -q "X509v3 CRL Number: *$" crl.txt && sed -n '/CRL Number/{n;p}' crl.txt |
    grep -qx ' *1' || fail "openssl: CRL number is not 1: $(cat crl.txt)"
assert_eq "$(date -u -d "$(openssl crl -in data/public/crl.pem -noout \
    -nextupdate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)" \
    "$(py 'd["next_update"]' crl.json)" "crl next_update (openssl)"
json_of check.json m crl --check data/public/crl.pem --json
assert_eq true "$(py 'd["ok"]' check.json)" "crl --check ok"
assert_eq verified "$(py 'd["signature"]' check.json)" "crl --check signature"
assert_eq PEM "$(py 'd["format"]' check.json)" "crl --check format"
assert_eq 1 "$(py 'd["entries"]' check.json)" "crl --check entries"
assert_eq "$(stat -c %s data/public/crl.pem)" "$(py 'd["bytes"]' check.json)" "crl --check bytes"
# A failing check is still JSON on stdout, with exit 1.
rc=0
m crl --check data/public/crl.der --json >bad.json 2>/dev/null || rc=$?
assert_eq 1 "$rc" "crl --check of DER"
assert_eq false "$(py 'd["ok"]' bad.json)" "crl --check DER ok"
assert_eq DER "$(py 'd["format"]' bad.json)" "crl --check DER format"
json_of status2.json m status --json
assert_eq 1 "$(py 'd["crl_number"]' status2.json)" "status crl_number after crl"
assert_eq 1 "$(py 'd["revocation_generation"]' status2.json)" "status revocation_generation"

# token generate / create: the hash is the SHA-256 of the token.
json_of gen.json m token generate --json
assert_eq "$(printf '%s' "$(py 'd["token"]' gen.json)" | sha256sum | cut -d' ' -f1)" \
    "$(py 'd["sha256"]' gen.json)" "token generate sha256"
json_of tok.json m token create --cn carol --san dns:carol.example --uses 3 --ttl 2h --json
TOK=$(py 'd["token"]' tok.json)
TOKH=$(printf '%s' "$TOK" | sha256sum | cut -d' ' -f1)
assert_eq "${TOKH:0:8}" "$(py 'd["id"]' tok.json)" "token id = 8 hex digits of its hash"
assert_eq "carol dns:carol.example 3 True" \
    "$(py '" ".join(map(str, [d["cn"], d["sans"][0], d["uses"], d["bound"]]))' tok.json)" \
    "token create fields"

# audit --json: one object per line.
m audit --json >audit.jsonl
"$PY" -c 'import json, sys
acts = [json.loads(l)["action"] for l in open(sys.argv[1])]
assert acts.count("issue") == 2 and "revoke" in acts and "token-create" in acts, acts' \
    audit.jsonl || fail "audit --json: $(cat audit.jsonl)"

# import --json: an OpenSSL-made CA with one issued certificate.
mkdir imp imp/certs
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout imp/ca.key -out imp/ca.pem -subj /CN=Old\ CA -days 30 \
    -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
chmod 600 imp/ca.key
openssl x509 -req -in alice.csr -CA imp/ca.pem -CAkey imp/ca.key \
    -set_serial 0x1234ABCD -days 10 -out imp/certs/a.pem 2>/dev/null
printf 'V\t%s\t\t1234ABCD\tunknown\t/CN=alice\n' \
    "$(date -u -d '+10 days' +%y%m%d%H%M%SZ)" >imp/index.txt
json_of import.json "$MTLSCA" --data-dir imported import --ca-cert imp/ca.pem \
    --ca-key imp/ca.key --openssl-index imp/index.txt --certs imp/certs --json
assert_eq "1 1 0 0 1" "$(py '" ".join(str(d[k]) for k in ("records", "valid",
    "expired", "revoked", "certs_attached"))' import.json)" "import counts"
assert_eq "CN=Old CA" "$(py 'd["subject"]' import.json)" "import subject"
"$MTLSCA" --data-dir imported list --json >implist.json
assert_eq 1234ABCD "$(py 'd[0]["serial"]' implist.json)" "imported serial"

# publish --json, with a dir publisher.
mkdir pubdir
cat >pub.conf <<EOF
data_dir = "$T/data";
publishers = ( { type = "dir"; name = "www"; path = "$T/pubdir"; } );
EOF
json_of publish.json "$MTLSCA" --config pub.conf publish --json
assert_eq "1 1 1 False" "$(py '" ".join(str(d[k]) for k in ("crl_number",
    "entries", "publishers", "dry_run"))' publish.json)" "publish --json"
cmp -s data/public/crl.pem pubdir/crl.pem || fail "publish --json did not publish"
json_of pstatus.json "$MTLSCA" --config pub.conf status --json
assert_eq "www dir ok 1" "$(py '" ".join(str(d["publishers"][0][k]) for k in
    ("name", "type", "status", "crl_number"))' pstatus.json)" "status --json publisher"
json_of pdry.json "$MTLSCA" --config pub.conf publish --dry-run --json
assert_eq true "$(py 'd["dry_run"]' pdry.json)" "publish --dry-run --json"
assert_contains "$(py 'd["plan"]' pdry.json)" "www" "publish dry-run plan"

# ---- 3. serve: token list / revoke, admin token rotate, the service's cert
note "tokens and the admin token against a running serve"
PORT=$("$PY" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$MTLSCA" --data-dir "$T/srv" serve --https-port "$PORT" --http-port 0 \
    --verify-port 0 >serve.out 2>serve.err &
SPID=$!
trap 'st=$?; kill $SPID 2>/dev/null; wait $SPID 2>/dev/null; (exit $st); _cleanup' EXIT
for _ in $(seq 1 200); do
	grep -q "mtlsca: ready" serve.err && break
	kill -0 $SPID 2>/dev/null || fail "serve exited: $(cat serve.err)"
	sleep 0.1
done
grep -q "mtlsca: ready" serve.err || fail "serve not ready: $(cat serve.err)"
s() { "$MTLSCA" --data-dir "$T/srv" "$@"; }
ADMIN=$(awk '/admin token:/ { print $3 }' srv/first-start-tokens.txt)
[ -n "$ADMIN" ] || fail "no admin token in first-start-tokens.txt"
BOOTH=$(awk '/enrollment token:/ { print $3 }' srv/first-start-tokens.txt |
    tr -d '\n' | sha256sum | cut -d' ' -f1)
code() {	# code TOKEN METHOD PATH [curl args]: the HTTP status
	local tok=$1 meth=$2 path=$3
	shift 3
	curl -sS -o resp.json -w '%{http_code}' --cacert srv/ca.pem \
	    -H "Authorization: Bearer $tok" -X "$meth" "$@" \
	    "https://127.0.0.1:$PORT$path"
}
enroll() {	# enroll TOKEN CN: the HTTP status of one enrollment
	make_csr "$2" ec:prime256v1 "/CN=$2"
	code "$1" POST /v1/certificates -H "Content-Type: application/x-pem-file" \
	    --data-binary "@$2.csr"
}

json_of t.json s token create --cn dave --uses 2 --json
DTOK=$(py 'd["token"]' t.json)
DID=$(py 'd["id"]' t.json)
assert_eq 201 "$(enroll "$DTOK" dave)" "enrollment with a store token"
json_of tl.json s token list --json
assert_eq "dave 1 usable False" "$(py '" ".join(str(x) for t in d if
    t["id"] == "'"$DID"'" for x in (t["cn"], t["uses_left"], t["state"],
    "token" in t or "sha256" in t or "hash" in t))' tl.json)" "token list entry"
assert_eq "client 100" "$(py '" ".join(str(x) for t in d if
    t["id"] == "'"${BOOTH:0:8}"'" for x in (t["profile"], t["uses_left"]))' tl.json)" \
    "token list: the first start's enrollment token"
# Never the token or its hash, in either format.
s token list --all >tl.txt
for f in tl.json tl.txt; do
	assert_not_contains "$(cat $f)" "$DTOK" "token list ($f)"
	assert_not_contains "$(cat $f)" "$(printf '%s' "$DTOK" | sha256sum |
	    cut -c1-16)" "token list ($f)"
done
grep -q "^$DID  *client  *usable  *1 .*CN=dave\$" tl.txt ||
    fail "token list text: $(cat tl.txt)"
run_status 2 s token revoke 12
run_status 1 s token revoke ffffffffff
json_of tr.json s token revoke "$DID" --json
assert_eq "$DID true" "$(py 'd["id"] + " " + str(d["revoked"]).lower()' tr.json)" "token revoke"
# The same CN, with a use left: only the revocation refuses it.
assert_eq 403 "$(enroll "$DTOK" dave)" "a revoked token"
assert_eq token_unknown "$(py 'd.get("reason", d["error"])' resp.json)" \
    "a revoked token's refusal"
s token list --all --json >tl2.json
assert_eq 0 "$(py 'sum(1 for t in d if t["id"] == "'"$DID"'")' tl2.json)" "revoked token listed"
s audit --json | grep -q '"action":"token-revoke"' || fail "no token-revoke audit entry"

assert_eq 200 "$(code "$ADMIN" GET /v1/certificates)" "admin token before rotate"
json_of rot.json s admin token rotate --json
NEW=$(py 'd["token"]' rot.json)
assert_eq "$(printf '%s' "$NEW" | sha256sum | cut -c1-8)" "$(py 'd["id"]' rot.json)" "rotate id"
assert_eq 403 "$(code "$ADMIN" GET /v1/certificates)" "the old admin token after rotate"
assert_eq 200 "$(code "$NEW" GET /v1/certificates)" "the new admin token"
assert_eq 200 "$(code "$NEW" POST "/v1/certificates/$(s list --cn dave --json |
    "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["serial"])')/revoke" \
    -H "Content-Type: application/json" -d '{}')" "revoke with the new admin token"
run_status 2 s admin token
run_status 2 s admin token rotate extra

# The service's own HTTPS certificate, marked in list and show.
SRVSER=$(openssl s_client -connect "127.0.0.1:$PORT" -CAfile srv/ca.pem \
    </dev/null 2>/dev/null | openssl x509 -noout -serial | cut -d= -f2 | tr a-f A-F)
[ -n "$SRVSER" ] || fail "no certificate from serve"
json_of sl.json s list --json
assert_eq "$SRVSER" "$(py '" ".join(c["serial"] for c in d if c["service_https"])' sl.json)" \
    "list --json: the served certificate, and only it, is marked"
s list >sl.txt
assert_eq 1 "$(grep -c 'service HTTPS' sl.txt)" "list: one mark"
grep -q "^$SRVSER .*\[service HTTPS\]\$" sl.txt || fail "list: $(cat sl.txt)"
s show "$SRVSER" | grep -q "^role: .*HTTPS" || fail "show: no role line"
json_of ss.json s show "$SRVSER" --json
assert_eq true "$(py 'd["service_https"]' ss.json)" "show --json service_https"

# ---- 4. completion ------------------------------------------------------------
note "bash completion"
out=$(bash -c "source <('$MTLSCA' completion bash) && complete -p mtlsca")
assert_contains "$out" "-F _mtlsca mtlsca" "complete -p"
comp() {	# comp WORDS...: what bash would offer for the last word
	bash -c 'source <("$0" completion bash)
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _mtlsca
echo "${COMPREPLY[*]}"' "$MTLSCA" "$@"
}
assert_eq revoke "$(comp mtlsca revo)" "a command"
assert_eq "--reason" "$(comp mtlsca revoke --rea)" "an option"
assert_eq "list" "$(comp mtlsca token li)" "a subcommand"
assert_eq "--json" "$(comp mtlsca --data-dir d status --js)" "after a global option"
assert_eq keyCompromise "$(comp mtlsca revoke --reason keyC)" "a value"
assert_eq rotate "$(comp mtlsca admin token ro)" "admin token rotate"
assert_contains "$(comp mtlsca '')" "completion" "the command list"
run_status 2 "$MTLSCA" completion zsh
