#!/bin/sh
# Regenerates tests/data/csr/issue/: the CSRs tests/unit/test_ca_certder.c
# issues under every profile option with both certificate writers (ours and
# GnuTLS's crt builder) and compares byte for byte. RSA and EC keys, every
# subjectAltName type, UTF-8 and PrintableString subjects, every subject
# attribute type mtlsca knows, an empty subject. Needs the openssl CLI 3.x.
#   sh tests/data/csr/make-issue-corpus.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)/issue
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$here"
mkdir -p "$here"

# req KEYSPEC OUT SUBJ [extra openssl req args...]
req() {
	spec=$1 out=$2 subj=$3
	shift 3
	openssl genpkey $spec -out "$tmp/k.pem" 2>/dev/null
	openssl req -utf8 -new -key "$tmp/k.pem" -subj "$subj" -out "$here/$out" "$@"
}
ec="-algorithm EC -pkeyopt ec_paramgen_curve:P-256"
rsa="-algorithm RSA -pkeyopt rsa_keygen_bits:2048"

req "$ec" ec-utf8-subject.pem \
    "/C=DE/ST=Bayern/L=München/O=Ünïcode GmbH/OU=it's ops/CN=José Müller/emailAddress=jose@example.com"
req "$ec" ec-all-sans.pem "/CN=all-sans" -addext \
    "subjectAltName=DNS:a.example.com,DNS:*.b.example.com,email:ops@example.com,URI:spiffe://example.com/ns/prod/sa/api,IP:192.0.2.7,IP:2001:db8::7"
req "$rsa" rsa-sans-only.pem "/" -addext \
    "subjectAltName=DNS:no-subject.example.com,IP:198.51.100.1"
req "$ec" ec-every-attribute.pem \
    "/C=FR/ST=Ile-de-France/L=Paris/O=Org/OU=One/OU=Two/CN=every/serialNumber=SN-42/street=1 rue X/title=Dr/postalCode=75001/SN=Doe/GN=Jane/DC=example/UID=jdoe/emailAddress=j@example.com"
req "$rsa" rsa-printable.pem "/O=Example (Test), Inc./OU=a\\+b=c?/CN=host-1.example.com" \
    -addext "subjectAltName=DNS:host-1.example.com,email:h@example.com"
req "-algorithm EC -pkeyopt ec_paramgen_curve:P-384" ec384-long-cn.pem \
    "/CN=$(printf 'x%.0s' $(seq 1 56)).example" -sha384
req "-algorithm RSA -pkeyopt rsa_keygen_bits:3072" rsa3072-utf8-cn.pem \
    "/CN=日本語の名前/O=株式会社"
