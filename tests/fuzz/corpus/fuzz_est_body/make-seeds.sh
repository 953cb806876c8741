#!/bin/sh
# Seeds for fuzz_est_body: "AUTHORIZATION\nCONTENT-TYPE\nBODY", each named
# after the rule it exercises, around tests/data/csr/accept's requests.
# Run from this directory: sh make-seeds.sh
set -eu
acc=../../../data/csr/accept
der() { openssl req -in "$acc/$1" -outform DER; }
seed() {	# NAME AUTH CT (BODY on stdin)
	{ printf '%s\n%s\n' "$2" "$3"; cat; } >"$1"
}
BASIC="Basic $(printf 'device-7:est-token' | openssl base64 -A)"
der ecdsa-p256.pem | openssl base64 | seed ok-64-columns "$BASIC" application/pkcs10
der rsa-2048.pem | openssl base64 -A | seed ok-one-line "" application/pkcs10
der with-sans.pem | openssl base64 | sed 's/$/\r/' |
    seed ok-crlf "basic OnRva2Vu" "application/pkcs10; charset=us-ascii"
der ecdsa-p384.pem | openssl base64 | tr '\n' ' ' |
    seed ok-spaces "Basic dXNlcjpwYXNz" application/pkcs10
seed reject-pem "$BASIC" application/pkcs10 <"$acc/ecdsa-p256.pem"
der ecdsa-p256.pem | seed reject-raw-der "$BASIC" application/pkcs10
der ecdsa-p256.pem | openssl base64 | seed reject-content-type "$BASIC" \
    application/x-pem-file
der ecdsa-p256.pem | openssl base64 -A | cut -c 1-101 |
    seed reject-cut "$BASIC" application/pkcs10
printf 'QR==' | seed reject-bits-under-padding "Bearer x" application/pkcs10
printf 'QQ=A' | seed reject-data-in-padding "Basic dXNlcg==" application/pkcs10
printf 'aGVsbG8=' | seed reject-not-der "Basic !!" application/pkcs10
printf '' | seed reject-empty "Basic dTpwAHE=" application/pkcs10
head -c 16400 /dev/zero | tr '\0' '0' | openssl base64 |
    seed reject-over-csr-max "Basic dXNlcjpwYXNz" application/pkcs10
