#!/bin/sh
# Regenerates the CSR corpus used by tests/unit/test_ca.c and seeds the
# fuzz_csr target. Every file is named after the rule it exercises:
#   accept/*  must parse (ca_csr_parse returns CA_OK)
#   reject/*  must be refused; test_ca.c holds the expected code and a
#             keyword of the message for each file name.
# Needs the openssl CLI (3.x) and certtool (gnutls-bin). The keys are
# throw-away and not kept. Run from anywhere:
#   sh tests/data/csr/make-corpus.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
acc=$here/accept
rej=$here/reject
rm -rf "$acc" "$rej"
mkdir -p "$acc" "$rej"

subj="/C=JP/ST=Yamanashi/L=Tsuru/O=shika-darake/OU=tech/CN=sample-2"

# req KEYSPEC OUT [extra openssl req args...]
req() {
	spec=$1 out=$2
	shift 2
	openssl genpkey $spec -out "$tmp/k.pem" 2>/dev/null
	openssl req -new -key "$tmp/k.pem" -subj "$subj" -out "$out" "$@"
}

# ---- accepted ----
req "-algorithm RSA -pkeyopt rsa_keygen_bits:2048" "$acc/rsa-2048.pem"
cp "$tmp/k.pem" "$tmp/rsa2048.key"
openssl req -in "$acc/rsa-2048.pem" -outform DER -out "$acc/rsa-2048.der"
req "-algorithm RSA -pkeyopt rsa_keygen_bits:4096" "$acc/rsa-4096.pem"
req "-algorithm RSA -pkeyopt rsa_keygen_bits:2048" "$acc/rsa-pss.pem" \
    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -sha256
req "-algorithm EC -pkeyopt ec_paramgen_curve:P-256" "$acc/ecdsa-p256.pem"
cp "$tmp/k.pem" "$tmp/p256.key"
req "-algorithm EC -pkeyopt ec_paramgen_curve:P-384" "$acc/ecdsa-p384.pem" \
    -sha384
req "-algorithm EC -pkeyopt ec_paramgen_curve:P-521" "$acc/ecdsa-p521.pem" \
    -sha512
# P-256 key signed with SHA-512: ALB checks the hash, not the pairing.
openssl req -new -key "$tmp/p256.key" -subj "$subj" -sha512 \
    -out "$acc/ecdsa-p256-sha512.pem"
openssl req -new -key "$tmp/rsa2048.key" -subj "$subj" -sha384 \
    -out "$acc/sha384.pem"
openssl req -new -key "$tmp/rsa2048.key" -subj "$subj" -sha512 \
    -out "$acc/sha512.pem"
openssl req -new -key "$tmp/rsa2048.key" -subj "$subj" \
    -addext "subjectAltName=DNS:client.example.com,email:ops@example.com,URI:spiffe://example.com/client,IP:192.0.2.7,IP:2001:db8::7" \
    -out "$acc/with-sans.pem"
openssl req -new -key "$tmp/p256.key" -subj "/CN=only-cn" \
    -out "$acc/cn-only.pem"
# Extension request with CA:FALSE is harmless (and never copied).
openssl req -new -key "$tmp/p256.key" -subj "/CN=asks-ca-false" \
    -addext "basicConstraints=CA:FALSE" -addext "keyUsage=keyCertSign" \
    -out "$acc/ca-false-requested.pem"
# No CN at all: parses; profiles that require CN refuse it at issuance.
openssl req -new -key "$tmp/p256.key" -subj "/O=shika-darake/OU=tech" \
    -out "$acc/no-cn.pem"
# Netscape/MSIE label, and whitespace around the block.
sed 's/CERTIFICATE REQUEST/NEW CERTIFICATE REQUEST/' "$acc/rsa-2048.pem" \
    > "$acc/new-label.pem"
{ printf '\n  \n'; cat "$acc/ecdsa-p256.pem"; printf '\n\n'; } \
    > "$acc/whitespace-around.pem"
# GnuTLS-made request.
certtool --generate-privkey --key-type ecdsa --curve secp384r1 \
    --outfile "$tmp/ct.key" 2>/dev/null
cat > "$tmp/ct.tmpl" <<EOF
cn = "certtool-client"
organization = "shika-darake"
dns_name = "certtool.example.com"
EOF
certtool --generate-request --load-privkey "$tmp/ct.key" \
    --template "$tmp/ct.tmpl" --hash SHA384 2>/dev/null |
    sed -n '/-----BEGIN/,/-----END/p' > "$acc/certtool-ecdsa-p384.pem"

# ---- refused ----
req "-algorithm RSA -pkeyopt rsa_keygen_bits:1024" "$rej/rsa-1024.pem"
# Above ALB's 8192 bits.
openssl genrsa -out "$tmp/big.key" 8320 2>/dev/null
openssl req -new -key "$tmp/big.key" -subj "$subj" -out "$rej/rsa-8320.pem"
# Keys whose signature would cost seconds to check: refused by the key
# rule before any signature is.
python3 "$here/hostile-rsa.py" "$rej"
req "-algorithm ED25519" "$rej/ed25519.pem"
req "-algorithm ED448" "$rej/ed448.pem"
openssl genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:2048 \
    -out "$tmp/dsa.param" 2>/dev/null
openssl genpkey -paramfile "$tmp/dsa.param" -out "$tmp/dsa.key"
openssl req -new -key "$tmp/dsa.key" -subj "$subj" -sha256 \
    -out "$rej/dsa.pem"
req "-algorithm EC -pkeyopt ec_paramgen_curve:secp256k1" \
    "$rej/ecdsa-secp256k1.pem"
req "-algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048" "$rej/rsa-pss-key.pem"
openssl req -new -key "$tmp/rsa2048.key" -subj "$subj" -sha1 \
    -out "$rej/sha1.pem"
openssl req -new -key "$tmp/rsa2048.key" -subj "$subj" -md5 \
    -out "$rej/md5.pem"
openssl req -new -key "$tmp/rsa2048.key" -subj "$subj" -sha224 \
    -out "$rej/sha224.pem"
openssl req -new -key "$tmp/p256.key" -subj "/CN=wants-to-be-a-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -out "$rej/ca-true-requested.pem"

# Flip one bit in the last byte of the signature.
openssl req -in "$acc/rsa-2048.pem" -outform DER -out "$tmp/ok.der"
n=$(wc -c < "$tmp/ok.der")
last=$(tail -c 1 "$tmp/ok.der" | od -An -tu1 | tr -d ' ')
{ head -c $((n - 1)) "$tmp/ok.der"; printf "\\$(printf %03o $((last ^ 1)))"; } \
    > "$tmp/bad.der"
openssl req -inform DER -in "$tmp/bad.der" -out "$rej/bad-signature.pem"
# DER followed by junk; a non-minimal (BER) outer length.
{ cat "$tmp/ok.der"; printf 'JUNK'; } > "$rej/trailing-garbage.der"
{ printf '\060\203\000'; dd if="$tmp/ok.der" bs=1 skip=2 count=2 2>/dev/null
  tail -c +5 "$tmp/ok.der"; } > "$rej/ber-length.der"
head -c 200 "$tmp/ok.der" > "$rej/truncated.der"
cat "$acc/rsa-2048.pem" "$acc/ecdsa-p256.pem" > "$rej/two-csrs.pem"
{ cat "$acc/rsa-2048.pem"; echo "trailing text"; } > "$rej/text-after.pem"
openssl req -x509 -new -key "$tmp/p256.key" -subj "/CN=a-certificate" \
    -days 1 -out "$rej/not-a-csr.pem"
printf 'hello, this is not a CSR\n' > "$rej/not-pem-not-der.txt"
: > "$rej/empty"
# Over CA_CSR_MAX (16 KiB) before anything is parsed.
{ cat "$acc/rsa-2048.pem"; head -c 17000 /dev/zero | tr '\0' ' '; } \
    > "$rej/oversized.pem"
# 33 subjectAltNames (CA_SAN_MAX is 32).
sans=$(i=0; while [ $i -lt 33 ]; do printf 'DNS:h%d.example.com,' $i;
    i=$((i + 1)); done)
openssl req -new -key "$tmp/p256.key" -subj "/CN=many-sans" \
    -addext "subjectAltName=${sans%,}" -out "$rej/too-many-sans.pem"
# A CN of 300 bytes (CA_NAME_MAX is 256). OpenSSL caps CN at 64
# characters; certtool does not.
printf 'cn = "%s"\n' "$(head -c 300 /dev/zero | tr '\0' a)" > "$tmp/long.tmpl"
certtool --generate-request --load-privkey "$tmp/ct.key" \
    --template "$tmp/long.tmpl" 2>/dev/null |
    sed -n '/-----BEGIN/,/-----END/p' > "$rej/long-cn.pem"
# A subject value as BMPString: with string_mask "pkix" OpenSSL picks
# BMPString for non-ASCII text (mtlsca copies UTF8/Printable/IA5 only).
printf '[req]\ndistinguished_name = dn\nstring_mask = pkix\n[dn]\n' \
    > "$tmp/bmp.cnf"
openssl req -new -key "$tmp/p256.key" -config "$tmp/bmp.cnf" -utf8 \
    -subj "/CN=$(printf 'caf\303\251')" -out "$rej/bmpstring-subject.pem"
echo "corpus written to $here"
