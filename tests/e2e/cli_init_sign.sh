#!/bin/bash
# init (RSA and ECDSA CAs) -> openssl req CSR -> mtlsca sign; the result is
# checked by three independent verifiers (openssl, certtool,
# python3-cryptography) and its extensions are compared with what the
# runbook's `openssl x509 -req -extfile client_ext.cnf` makes from the same
# CSR. Also: key file modes, init refusing to overwrite, list/show output.
. "$(dirname "$0")/lib.sh"
tmpdir
RUNBOOK=$(runbook_dir)

# ---- help and usage ----
run_ok "$MTLSCA" --help
assert_contains "$OUT" "Commands:"
HELP=$OUT
for c in init import sign list show revoke crl serve token audit publish status; do
	assert_contains "$HELP" "  $c " "mtlsca --help"
	run_ok "$MTLSCA" help "$c"
	assert_contains "$OUT" "usage: mtlsca $c" "mtlsca help $c"
	run_ok "$MTLSCA" "$c" --help
	assert_contains "$OUT" "usage: mtlsca $c" "mtlsca $c --help"
done
run_ok "$MTLSCA" --version
assert_contains "$OUT" "mtlsca "
run_status 2 "$MTLSCA"
run_status 2 "$MTLSCA" no-such-command
run_status 2 "$MTLSCA" sign --no-such-option
run_status 2 "$MTLSCA" init --key-type dsa1024
assert_contains "$OUT" "mtlsca: --key-type dsa1024"

# ---- argument edge cases: nothing silently dropped or cut ----
# An option given twice is a mistake to point out, not "the last one wins".
run_status 2 "$MTLSCA" --config a.conf --config b.conf list
assert_contains "$OUT" "--config given twice"
run_status 2 "$MTLSCA" --data-dir=a list --data-dir b
assert_contains "$OUT" "--data-dir given twice"
run_status 2 "$MTLSCA" sign --csr a.csr --csr b.csr
assert_contains "$OUT" "sign: --csr given twice"
run_status 2 "$MTLSCA" sign --csr a.csr --out a.pem --out b.pem
assert_contains "$OUT" "sign: --out given twice"
run_status 2 "$MTLSCA" init --days 10 --days 20
assert_contains "$OUT" "init: --days given twice"
run_status 2 "$MTLSCA" import --ca-cert a --ca-key b --ca-cert c
assert_contains "$OUT" "import: --ca-cert given twice"
run_status 2 "$MTLSCA" revoke 01 --reason keyCompromise --reason superseded
assert_contains "$OUT" "revoke: --reason given twice"
# "--" ends the options: what follows is an argument.
run_status 2 "$MTLSCA" sign -- --csr a.csr
assert_contains "$OUT" "unexpected argument"
# A token hash of a prefix would never match: a token too long is refused.
long=$(head -c 1500 /dev/zero | tr '\0' 'a')
run_status 1 "$MTLSCA" token hash "$long"
assert_contains "$OUT" "longer than"
OUT=$(printf '%s\n' "$long" | "$MTLSCA" token hash 2>&1) && fail "token hash took a 1500-byte token on stdin: $OUT"
assert_contains "$OUT" "longer than"
t1023=$(head -c 1023 /dev/zero | tr '\0' 'b')
run_ok "$MTLSCA" token hash "$t1023"
h1=$OUT
OUT=$(printf '%s\n' "$t1023" | "$MTLSCA" token hash 2>&1) || fail "token hash refused a 1023-byte token on stdin: $OUT"
assert_eq "$h1" "$OUT" "token hash of the same 1023-byte token"

# extensions: the "X509v3 extensions" block of `openssl x509 -text`, with
# key identifier values masked (they differ by key), one line per
# extension name + value.
extensions() {
	openssl x509 -in "$1" -noout -text |
	    sed -n '/X509v3 extensions:/,/Signature Algorithm:/p' |
	    grep -v 'Signature Algorithm:' | grep -v 'X509v3 extensions:' |
	    sed -E 's/^ +//; s/([0-9A-F]{2}:){5,}[0-9A-F]{2}/<KEYID>/' |
	    paste -sd'|' | sed 's/|X509v3 /\nX509v3 /g' | sort
}

# which_key OUT: "key type" line of init's report.
for kt in rsa2048 ecdsa-p256; do
	note "CA with $kt"
	D="$T/data-$kt"
	mi() { "$MTLSCA" --data-dir "$D" "$@"; }
	run_ok mi init --key-type "$kt" --subject "CN=Test CA $kt,O=mtlsca tests" --days 800
	assert_contains "$OUT" "CA created"
	assert_contains "$OUT" "CN=Test CA $kt,O=mtlsca tests"
	assert_contains "$OUT" "key type: $kt"
	assert_contains "$OUT" "$D/ca.pem"
	assert_file "$D/ca.pem"
	assert_file "$D/private/ca.key"
	assert_eq 600 "$(mode "$D/private/ca.key")" "CA key mode"
	assert_eq 700 "$(mode "$D/private")" "private/ mode"
	[ -d "$D/db" ] || fail "init did not create the store $D/db"
	# The runbook's v3_ca, checked by openssl.
	ca_text=$(openssl x509 -in "$D/ca.pem" -noout -text)
	assert_contains "$ca_text" "X509v3 Basic Constraints: critical"
	assert_contains "$ca_text" "CA:TRUE"
	assert_contains "$ca_text" "Certificate Sign, CRL Sign"
	assert_contains "$ca_text" "X509v3 Subject Key Identifier"
	case $kt in
	rsa*) assert_contains "$ca_text" "rsaEncryption" ;;
	ecdsa*) assert_contains "$ca_text" "id-ecPublicKey" ;;
	esac

	# init twice refuses, and leaves the CA as it was.
	sum=$(sha256sum "$D/ca.pem" "$D/private/ca.key")
	run_status 1 mi init --key-type "$kt"
	assert_contains "$OUT" "mtlsca: "
	assert_contains "$OUT" "already exists"
	assert_contains "$OUT" "never overwrites"
	assert_eq "$sum" "$(sha256sum "$D/ca.pem" "$D/private/ca.key")" "CA files after a second init"

	# Client CSRs: RSA and EC keys.
	for ck in rsa:2048 ec:P-256; do
		name="client-${kt}-${ck%%:*}"
		make_csr "$name" "$ck"
		run_ok mi sign --csr "$name.csr" --out "$name.pem"
		assert_contains "$OUT" "serial "
		assert_file "$name.pem"
		serial=$(serial_of "$name.pem")
		assert_contains "$OUT" "serial $serial"
		# 16 bytes, top bits 01 (DESIGN.md).
		assert_eq 32 "${#serial}" "serial length of $name"
		case ${serial:0:1} in
		4|5|6|7) ;;
		*) fail "serial $serial does not start with bits 01" ;;
		esac

		run_ok openssl verify -CAfile "$D/ca.pem" "$name.pem"
		assert_contains "$OUT" "$name.pem: OK"
		run_ok certtool --verify --load-ca-certificate "$D/ca.pem" --infile "$name.pem"
		assert_contains "$OUT" "Chain verification output: Verified."
		run_ok "$PY" - "$D/ca.pem" "$name.pem" <<'EOF'
import sys
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.hazmat.primitives.asymmetric import rsa, ec, padding
ca = x509.load_pem_x509_certificate(open(sys.argv[1], 'rb').read())
c = x509.load_pem_x509_certificate(open(sys.argv[2], 'rb').read())
assert c.issuer == ca.subject, "issuer != CA subject"
pub = ca.public_key()
if isinstance(pub, rsa.RSAPublicKey):
    pub.verify(c.signature, c.tbs_certificate_bytes, padding.PKCS1v15(),
               c.signature_hash_algorithm)
else:
    pub.verify(c.signature, c.tbs_certificate_bytes,
               ec.ECDSA(c.signature_hash_algorithm))
bc = c.extensions.get_extension_for_class(x509.BasicConstraints).value
assert not bc.ca, "client certificate is a CA"
eku = c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
assert ExtendedKeyUsageOID.CLIENT_AUTH in eku and ExtendedKeyUsageOID.SERVER_AUTH in eku
aki = c.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
assert aki.key_identifier == ski.digest, "AKI != CA SKI"
ku = c.extensions.get_extension_for_class(x509.KeyUsage).value
assert ku.digital_signature
is_rsa = isinstance(c.public_key(), rsa.RSAPublicKey)
assert ku.key_encipherment == is_rsa, "keyEncipherment %s for %s" % (ku.key_encipherment, "RSA" if is_rsa else "EC")
assert c.serial_number > 0
print("python3-cryptography: OK")
EOF
		assert_contains "$OUT" "python3-cryptography: OK"

		# The runbook's certificate for the same CSR, same CA.
		openssl x509 -req -in "$name.csr" -CA "$D/ca.pem" \
		    -CAkey "$D/private/ca.key" -CAcreateserial \
		    -out "$name.runbook.pem" -days 365 \
		    -extfile "$RUNBOOK/client_ext.cnf" -extensions v3_req 2>/dev/null
		ours=$(extensions "$name.pem")
		ref=$(extensions "$name.runbook.pem")
		# Five extensions each: AKI, basicConstraints, EKU, keyUsage, SKI.
		assert_eq 5 "$(printf '%s\n' "$ours" | grep -c '^X509v3 ')" "extension count of $name"
		case $ck in
		rsa:*)
			# RFC 5480 aside, identical to the runbook's.
			assert_eq "$ref" "$ours" "extensions of $name vs the runbook's"
			assert_contains "$ours" "Key Encipherment"
			;;
		ec:*)
			# An EC key cannot encipher keys (RFC 5480 section 3):
			# the runbook's keyEncipherment is left out, nothing
			# else differs.
			assert_not_contains "$ours" "Key Encipherment" "EC client certificate extensions"
			ref=$(printf '%s\n' "$ref" |
			    sed 's/Digital Signature, Key Encipherment/Digital Signature/')
			assert_eq "$ref" "$ours" "extensions of $name vs the runbook's (keyEncipherment aside)"
			;;
		esac
		assert_contains "$ours" "TLS Web Server Authentication, TLS Web Client Authentication"
		assert_contains "$ours" "CA:FALSE"

		# show: the record, and --pem gives the file byte for byte.
		run_ok mi show "$serial"
		assert_contains "$OUT" "serial:      $serial"
		assert_contains "$OUT" "status:      valid"
		assert_contains "$OUT" "CN=$name"
		assert_contains "$OUT" "profile:     client"
		mi show "$serial" --pem > shown.pem || fail "show --pem failed"
		cmp -s shown.pem "$name.pem" || fail "show --pem differs from the signed file"
		# Input accepts colons and lower case.
		colon=$(echo "$serial" | tr A-F a-f | sed 's/../&:/g; s/:$//')
		run_ok mi show "$colon"
		assert_contains "$OUT" "serial:      $serial"
		run_ok mi show "$serial" --json
		[ "$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["serial"], d["status"])')" = "$serial valid" ] ||
		    fail "show --json: $OUT"
	done

	# Without --out the PEM goes to stdout, serial and expiry to stderr.
	make_csr stdout-$kt rsa:2048
	mi sign --csr "stdout-$kt.csr" > "stdout-$kt.pem" 2> sign.err || fail "sign to stdout failed"
	run_ok openssl verify -CAfile "$D/ca.pem" "stdout-$kt.pem"
	assert_contains "$(cat sign.err)" "expires"
	assert_not_contains "$(cat sign.err)" "BEGIN CERTIFICATE" "sign's stderr"

	# --days is honoured and capped by the profile's max_days.
	make_csr days-$kt rsa:2048
	run_ok mi sign --csr "days-$kt.csr" --days 30 --out "days-$kt.pem"
	end=$(date -u -d "$(openssl x509 -in "days-$kt.pem" -noout -enddate | cut -d= -f2)" +%s)
	now=$(date -u +%s)
	diff=$(( (end - now) / 86400 ))
	[ "$diff" -ge 29 ] && [ "$diff" -le 30 ] || fail "--days 30 gave $diff days"
	run_status 1 mi sign --csr "days-$kt.csr" --days 900
	assert_contains "$OUT" "mtlsca: "

	# list: header, upper-case hex serials, statuses.
	run_ok mi list
	assert_contains "$OUT" "SERIAL"
	count=$(printf '%s\n' "$OUT" | tail -n +2 | wc -l)
	assert_eq 4 "$count" "certificates listed for $kt"
	while read -r s st na subj; do
		[[ "$s" =~ ^[0-9A-F]+$ ]] || fail "list serial '$s' is not upper-case hex"
		assert_eq valid "$st" "status of $s"
		[[ "$na" =~ ^20[0-9][0-9]-[01][0-9]-[0-3][0-9]T ]] || fail "list not_after '$na'"
	done < <(printf '%s\n' "$OUT" | tail -n +2)
	run_ok mi list --status revoked
	assert_eq 1 "$(printf '%s\n' "$OUT" | wc -l)" "revoked list (header only)"
	run_ok mi list --json
	n=$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')
	assert_eq 4 "$n" "list --json entries"
	run_status 2 mi list --status bogus

	# The key file must stay private: 0644 makes sign refuse, saying why.
	chmod 644 "$D/private/ca.key"
	make_csr mode-$kt rsa:2048
	run_status 1 mi sign --csr "mode-$kt.csr" --out "mode-$kt.pem"
	assert_contains "$OUT" "mtlsca: "
	assert_contains "$OUT" "must be 0600"
	[ ! -e "mode-$kt.pem" ] || fail "a certificate was written with a 0644 key"
	chmod 600 "$D/private/ca.key"
	run_ok mi sign --csr "mode-$kt.csr" --out "mode-$kt.pem"
done

# --out never replaces the CA's own files (a typo must not destroy the key).
make_csr clobber rsa:2048
cp "$T/data-rsa2048/private/ca.key" key.before
run_status 1 "$MTLSCA" --data-dir "$T/data-rsa2048" sign --csr clobber.csr --out "$T/data-rsa2048/private/ca.key"
assert_contains "$OUT" "refusing to overwrite the CA key"
cmp -s key.before "$T/data-rsa2048/private/ca.key" || fail "sign --out replaced the CA key"
run_status 1 "$MTLSCA" --data-dir "$T/data-rsa2048" crl --out "$T/data-rsa2048/ca.pem"
assert_contains "$OUT" "refusing to overwrite the CA certificate"
run_ok openssl x509 -in "$T/data-rsa2048/ca.pem" -noout

# A CSR the profile cannot take: no CN (required), and garbage.
openssl req -new -newkey rsa:2048 -nodes -keyout nocn.key -out nocn.csr -subj "/O=no cn" 2>/dev/null
run_status 1 "$MTLSCA" --data-dir "$T/data-rsa2048" sign --csr nocn.csr
assert_contains "$OUT" "CN"
echo "not a csr" > junk.csr
run_status 1 "$MTLSCA" --data-dir "$T/data-rsa2048" sign --csr junk.csr
assert_contains "$OUT" "mtlsca: junk.csr:"
# A weak key is refused with the load balancer's rule.
openssl req -new -newkey rsa:1024 -nodes -keyout weak.key -out weak.csr -subj "/CN=weak" 2>/dev/null
run_status 1 "$MTLSCA" --data-dir "$T/data-rsa2048" sign --csr weak.csr
assert_contains "$OUT" "2048"

# A store that holds another CA's certificates is never adopted by a new CA
# (its serials would land on the new CA's CRL): init and import refuse.
cp -a "$T/data-rsa2048" "$T/orphan"
rm "$T/orphan/ca.pem" "$T/orphan/private/ca.key"
run_status 1 "$MTLSCA" --data-dir "$T/orphan" init
assert_contains "$OUT" "already holds certificates"
[ ! -e "$T/orphan/ca.pem" ] || fail "init over another CA's store wrote ca.pem"
run_status 1 "$MTLSCA" --data-dir "$T/orphan" import --ca-cert "$T/data-ecdsa-p256/ca.pem" --ca-key "$T/data-ecdsa-p256/private/ca.key"
assert_contains "$OUT" "already holds certificates"
[ ! -e "$T/orphan/ca.pem" ] || fail "import over another CA's store wrote ca.pem"

# Commands before init say what to do.
run_status 1 "$MTLSCA" --data-dir "$T/nothing" list
assert_contains "$OUT" "mtlsca init"
run_status 1 "$MTLSCA" --data-dir "$T/nothing" sign --csr mode-rsa2048.csr
assert_contains "$OUT" "mtlsca init"
