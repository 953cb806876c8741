#!/bin/bash
# The backup schedule (issue 12): `serve` with backup = { every; dir;
# s3_publisher; keep } writes a backup at start (none made yet) to the
# directory and to Swift's S3 (PREFIX/backup/<time>.mtlsca-backup), the
# same bytes, which `backup --verify` passes; a restart does not make one
# early; `backup --scheduled` runs it now and both places keep only the
# newest `keep`; a schedule without a destination, or naming no s3
# publisher, is refused with the file and line.
set -u
. "${MTLSCA_SRC:-$(dirname "$0")/../..}/tests/aws/lib.sh"
M=${MTLSCA:?path of the mtlsca binary}
aws_setup
start_swift
port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cat >"$T/ca.conf" <<CONF
data_dir = "$T/data";
http = { listen = "127.0.0.1"; http_port = $(port); https_port = $(port); };
publishers = (
	{ type = "s3"; name = "bucket"; bucket = "crls"; prefix = "site";
	  region = "us-east-1"; endpoint = "$S3_EP";
	  imds_endpoint = "http://127.0.0.1:9"; }
);
backup = { every = "1d"; dir = "$T/bk"; s3_publisher = "bucket"; keep = 2; };
CONF
aws_test_creds
mt() { "$M" --config "$T/ca.conf" "$@"; }
mt init --key-type ecdsa-p256 >/dev/null || fail "init"

serve() {
	"$M" --config "$T/ca.conf" serve >"$T/serve.log" 2>&1 &
	SERVE_PID=$!
	AWS_PIDS+=($SERVE_PID)
	for _ in $(seq 1 100); do
		grep -q "mtlsca: ready" "$T/serve.log" && return 0
		kill -0 $SERVE_PID 2>/dev/null || { cat "$T/serve.log"; fail "serve died"; }
		sleep 0.1
	done
	fail "serve not ready"
}
stop() { kill -TERM $SERVE_PID; wait $SERVE_PID; }

serve
for _ in $(seq 1 100); do
	[ "$(ls "$T/bk" 2>/dev/null | wc -l)" = 1 ] && [ -n "$(s3cli ls crls site/backup/)" ] && break
	sleep 0.1
done
F=$(ls "$T/bk")
[ -n "$F" ] || { cat "$T/serve.log"; fail "no backup in the directory"; }
[[ "$F" =~ ^[0-9]{8}T[0-9]{6}Z\.mtlsca-backup$ ]] || fail "name $F"
[ "$(stat -c %a "$T/bk/$F")" = 600 ] || fail "mode of $F"
[ "$(s3cli ls crls site/backup/)" = "site/backup/$F" ] || fail "S3: $(s3cli ls crls site/backup/)"
s3cli get crls "site/backup/$F" "$T/from-s3" || fail "get from S3"
cmp -s "$T/from-s3" "$T/bk/$F" || fail "the S3 copy differs"
mt backup --verify "$T/from-s3" >/dev/null || fail "verify the S3 copy"
grep -q "mtlsca: backup: s3://crls/site/backup/$F" "$T/serve.log" || fail "serve did not say it"
echo "ok - serve wrote $F to the directory and to S3 (same bytes, verified)"

stop
serve
sleep 2
[ "$(ls "$T/bk" | wc -l)" = 1 ] || fail "a restart made a backup before it was due: $(ls "$T/bk")"
stop
echo "ok - a restart does not make one before it is due"

# (Real time, not MTLSCA_FAKE_NOW: S3 refuses a skewed signature.)
for _ in 1 2; do
	sleep 1.1
	mt backup --scheduled >"$T/sched.out" 2>&1 ||
	    fail "backup --scheduled: $(cat "$T/sched.out")"
done
[ "$(ls "$T/bk" | wc -l)" = 2 ] || fail "keep = 2 in the directory: $(ls "$T/bk")"
[ ! -e "$T/bk/$F" ] || fail "the oldest was kept"
[ "$(s3cli ls crls site/backup/ | wc -l)" = 2 ] || fail "keep = 2 in S3: $(s3cli ls crls site/backup/)"
! s3cli ls crls site/backup/ | grep -q "$F" || fail "the oldest is still in S3"
[ "$(ls "$T/bk")" = "$(s3cli ls crls site/backup/ | sed 's|site/backup/||')" ] ||
    fail "the directory and S3 keep different backups"
echo "ok - backup --scheduled: the directory and S3 keep the newest 2"

sed 's|backup = {.*|backup = { every = "1d"; keep = 2; };|' "$T/ca.conf" >"$T/bad1.conf"
out=$("$M" --config "$T/bad1.conf" status 2>&1) && fail "accepted a schedule without destination"
case "$out" in *"bad1.conf:"*"needs a dir, an s3_publisher, or both"*) ;; *) fail "$out" ;; esac
sed 's|s3_publisher = "bucket"|s3_publisher = "nope"|' "$T/ca.conf" >"$T/bad2.conf"
out=$("$M" --config "$T/bad2.conf" status 2>&1) && fail "accepted an unknown s3 publisher"
case "$out" in *"\"nope\" is not an s3 publisher"*) ;; *) fail "$out" ;; esac
echo "ok - a schedule without a destination or with an unknown publisher is refused"
echo PASS
