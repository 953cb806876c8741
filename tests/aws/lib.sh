# Helpers for the publishing end-to-end tests (sourced). Every server runs
# on a free 127.0.0.1 port chosen by the server itself (reported in a port
# file) and is killed by the EXIT trap that aws_setup installs.
PY=/usr/bin/python3
AWS_DIR="${MTLSCA_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/tests/aws"
AWS_PIDS=()

aws_cleanup() {
	local p
	for p in "${AWS_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${AWS_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	if [ -n "${KEEP_TMP:-}" ]; then
		echo "kept $T"
	else
		rm -rf "$T"
	fi
}

# aws_setup: a temp dir $T and the trap.
aws_setup() {
	T=$(mktemp -d /tmp/mtlsca-pub-XXXXXX)
	trap aws_cleanup EXIT
	trap "exit 1" INT TERM
	# A missing module is a broken setup, not a reason to skip.
	$PY -c 'import swift, botocore, cryptography' || {
		echo "FAIL: /usr/bin/python3 lacks python3-swift/botocore/cryptography (packaging/setup.sh installs them)" >&2
		exit 1
	}
}

# aws_publishers S3_ENDPOINT PREFIX: the libconfig groups of an s3
# publisher "bucket" (bucket crls, PREFIX) and an alb publisher "alb" that
# reads from it, both with IMDS pointed at a closed port, so that only the
# test credentials below can sign.
aws_publishers() {
	cat <<CONF
	{ type = "s3"; name = "bucket"; bucket = "crls"; prefix = "$2";
	  region = "us-east-1"; endpoint = "$1";
	  imds_endpoint = "http://127.0.0.1:9"; },
	{ type = "alb"; name = "alb"; trust_store_arn = "$ARN";
	  region = "us-east-1"; endpoint = "$ELB_EP"; s3 = "bucket";
	  imds_endpoint = "http://127.0.0.1:9"; }
CONF
}

# aws_test_creds: the key both stand-ins accept, in the environment, and
# no other source of credentials.
aws_test_creds() {
	export AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing
	export AWS_SHARED_CREDENTIALS_FILE=/nonexistent
	unset AWS_SESSION_TOKEN AWS_PROFILE
}

wait_port() {
	local f=$1 i
	for i in $(seq 1 600); do
		if [ -s "$f" ]; then
			cat "$f"
			return 0
		fi
		sleep 0.1
	done
	echo "server did not start ($f)" >&2
	return 1
}

# start_swift: S3 on $S3_EP, bucket "crls" (versioned) made with botocore.
start_swift() {
	mkdir -p "$T/swift"
	$PY "$AWS_DIR/swift_s3.py" --dir "$T/swift" --port-file "$T/s3.port" \
		>"$T/swift.log" 2>&1 &
	AWS_PIDS+=($!)
	SWIFT_PID=$!
	S3_PORT=$(wait_port "$T/s3.port") || { cat "$T/swift.log"; exit 1; }
	S3_EP="http://127.0.0.1:$S3_PORT"
	s3cli mb crls --versioning
}

s3cli() {
	AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing \
		$PY "$AWS_DIR/s3cli.py" "$S3_EP" "$@"
}

# start_elbv2 [extra args]: the ELBv2 stand-in on $ELB_EP for trust store
# $ARN, accepting the keys in ELB_CREDS ("AK,SK[,TOKEN]" words; default
# test:tester/testing without a token).
ARN="arn:aws:elasticloadbalancing:us-east-1:123456789012:truststore/mtlsca-ts/0123456789abcdef"
start_elbv2() {
	rm -f "$T/elb.port"
	$PY "$AWS_DIR/elbv2.py" --s3-endpoint "$S3_EP" --trust-store "$ARN" \
		$(for c in ${ELB_CREDS:-test:tester,testing}; do echo --cred "$c"; done) \
		--port-file "$T/elb.port" "$@" >"$T/elb.log" 2>&1 &
	AWS_PIDS+=($!)
	ELB_PID=$!
	ELB_PORT=$(wait_port "$T/elb.port") || { cat "$T/elb.log"; exit 1; }
	ELB_EP="http://127.0.0.1:$ELB_PORT"
}

start_imds() {
	$PY "$AWS_DIR/imds.py" --access-key ASIAROLE --secret-key rolesecret \
		--token roletoken --port-file "$T/imds.port" "$@" \
		>"$T/imds.log" 2>&1 &
	AWS_PIDS+=($!)
	IMDS_PORT=$(wait_port "$T/imds.port") || { cat "$T/imds.log"; exit 1; }
	IMDS_EP="http://127.0.0.1:$IMDS_PORT"
}

# start_sts ROLE_ARN TOKEN_FILE SESSION_TOKEN: STS on $STS_EP handing out
# Swift's key test:tester with SESSION_TOKEN for a web identity token
# equal to TOKEN_FILE's content.
start_sts() {
	$PY "$AWS_DIR/sts.py" --role-arn "$1" --token-file "$2" \
		--access-key test:tester --secret-key testing \
		--session-token "$3" --port-file "$T/sts.port" \
		>"$T/sts.log" 2>&1 &
	AWS_PIDS+=($!)
	STS_PORT=$(wait_port "$T/sts.port") || { cat "$T/sts.log"; exit 1; }
	STS_EP="http://127.0.0.1:$STS_PORT"
}

# start_container AUTH SESSION_TOKEN: the container credentials endpoint
# on $CONTAINER_URI, for the Authorization value AUTH.
start_container() {
	$PY "$AWS_DIR/container_creds.py" --token "$1" \
		--access-key test:tester --secret-key testing \
		--session-token "$2" --port-file "$T/cont.port" \
		>"$T/cont.log" 2>&1 &
	AWS_PIDS+=($!)
	CONT_PORT=$(wait_port "$T/cont.port") || { cat "$T/cont.log"; exit 1; }
	CONTAINER_URI="http://127.0.0.1:$CONT_PORT/v1/credentials"
}

# server_state URL KEY: a counter from a stand-in's /_state.
server_state() {
	$PY -c "import json,urllib.request as u; print(json.load(u.urlopen('$1/_state'))['$2'])"
}

# elb_call ACTION NAME=VALUE...: an ELBv2 Query API call to the stand-in as
# another admin would make it (signed by botocore's SigV4Auth; Debian's
# botocore predates the trust store operations). Prints the answer.
elb_call() {
	$PY - "$ELB_EP" "$@" <<'EOF'
import sys, urllib.parse, urllib.request
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
ep, action = sys.argv[1], sys.argv[2]
params = [("Action", action), ("Version", "2015-12-01")] + \
    [tuple(a.split("=", 1)) for a in sys.argv[3:]]
body = urllib.parse.urlencode(params)
req = AWSRequest(method="POST", url=ep + "/", data=body, headers={
    "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
SigV4Auth(Credentials("test:tester", "testing"), "elasticloadbalancing",
          "us-east-1").add_auth(req)
r = urllib.request.urlopen(urllib.request.Request(
    ep + "/", data=body.encode(), headers=dict(req.headers), method="POST"))
sys.stdout.write(r.read().decode() + "\n")
EOF
}

# elb_state PYEXPR: evaluate PYEXPR with s = the stand-in's state and
# r = this trust store's revocation lists.
elb_state() {
	$PY -c "
import json, urllib.request
s = json.load(urllib.request.urlopen('$ELB_EP/_state'))
r = s['trust_stores']['$ARN']['revocations']
ts = s['trust_stores']['$ARN']
print($1)"
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
