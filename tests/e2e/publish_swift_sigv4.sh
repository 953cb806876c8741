#!/bin/bash
# The S3 server of the publishing tests (OpenStack Swift + s3api) verifies
# SigV4: a wrong secret gives 403, a body that does not match its signed
# hash gives 400. Requests are signed by botocore (independent of mtlsca).
set -u
. "${MTLSCA_SRC:-$(dirname "$0")/../..}/tests/aws/lib.sh"
aws_setup
start_swift
$PY "$AWS_DIR/check_swift_sigv4.py" "$S3_EP" crls || fail "Swift does not check SigV4"
echo PASS
