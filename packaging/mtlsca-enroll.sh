#!/bin/sh
# mtlsca-enroll.sh: enroll and renew mtlsca client certificates on machines
# without mtlsca (macOS included), with POSIX sh, openssl (or LibreSSL) and
# curl only. Same options, files and exit statuses as `mtlsca enroll` and
# `mtlsca renew --if-due` (see `mtlsca-enroll.sh --help`).
#
#   mtlsca-enroll.sh enroll --server https://ca.example:8443 \
#       --ca-fingerprint 3f2a... --token-file token.txt --cn laptop-42 \
#       --out-dir ~/.mtlsca [--p12 laptop.p12 --p12-legacy]
#   mtlsca-enroll.sh renew --server https://ca.example:8443 \
#       --cert ~/.mtlsca/cert.pem --key ~/.mtlsca/key.pem --if-due \
#       --exec /usr/local/bin/reload-my-app
#
# The key is made here and never leaves the machine. Exit status: 0 done,
# 1 failed, 2 usage error, 3 not due (renew --if-due). MTLSCA_FAKE_NOW
# (RFC 3339 UTC) stands in for the clock, as for mtlsca (tests).
set -eu

# Installed as mtlsca-enroll (the package, make install); mtlsca-enroll.sh
# in the source tree.
PROG=${0##*/}
SKEW_WARN=300

usage() {
	cat <<EOF
usage: $PROG enroll --server URL (--token T | --token-file F)
                        --cn NAME (--ca-file F | --ca-fingerprint SHA256)
                        [--san dns:|ip:|email:|uri:NAME]... [--key-type TYPE]
                        [--profile P] [--days N] [--out-dir DIR] [--force]
                        [--p12 FILE [--p12-legacy] [--p12-password-file F]
                        [--p12-name NAME]]
       $PROG renew --server URL --cert FILE --key FILE
                        [--ca-file F] [--chain FILE] [--rekey [--key-type T]]
                        [--days N] [--if-due] [--force] [--exec CMD [ARG...]]

enroll: make a key (never sent) and a CSR, send it with the enrollment token,
write DIR/key.pem (0600), DIR/cert.pem, DIR/chain.pem and DIR/ca.pem. With
--ca-fingerprint, the server's /ca.pem is fetched and trusted only if its
SHA-256 fingerprint matches; the token is sent only to a verified server.

renew: renew over mutual TLS with the current certificate and key (same
subject and names, same validity length), replace the files (keeping their
modes), then run --exec CMD (no shell). --if-due: only once 2/3 of the
validity has passed, else exit 3. Run it from cron, launchd or a timer.

  --key-type TYPE   ecdsa-p256 (default), ecdsa-p384, ecdsa-p521, rsa2048,
                    rsa3072, rsa4096
  --p12 FILE        also a PKCS#12 file: AES-256-CBC, PBKDF2, SHA-256 MAC;
                    --p12-legacy: 3DES and SHA-1 MAC (macOS keychain, older
                    Windows); password from --p12-password-file or asked

Exit status: 0 done, 1 failed, 2 usage error, 3 not due (renew --if-due).
EOF
}

die() {
	echo "$PROG: $*" >&2
	exit 1
}

usage_error() {
	echo "$PROG: $*" >&2
	usage >&2
	exit 2
}

warn() {
	echo "$PROG: warning: $*" >&2
}

need_value() {	# OPTION ARGC
	[ "$2" -ge 2 ] || usage_error "$1 needs a value"
}

for tool in openssl curl; do
	command -v "$tool" >/dev/null 2>&1 ||
	    die "$tool is required (install it, or use mtlsca itself)"
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mtlsca-enroll.XXXXXX") ||
    die "cannot make a temporary directory"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM HUP
umask 077
# Only the anchors given: an empty directory where curl would look for
# the system's.
mkdir "$TMP/no-capath"

# ---- time, without GNU or BSD date specifics ----

# days_from_civil Y M D (Howard Hinnant's algorithm, as common/util.c).
days_from_civil() {
	_y=$1 _m=$2 _d=$3
	[ "$_m" -le 2 ] && _y=$((_y - 1))
	_era=$(( (_y >= 0 ? _y : _y - 399) / 400 ))
	_yoe=$((_y - _era * 400))
	_mp=$(( (_m + 9) % 12 ))
	_doy=$(( (153 * _mp + 2) / 5 + _d - 1 ))
	_doe=$((_yoe * 365 + _yoe / 4 - _yoe / 100 + _doy))
	echo $((_era * 146097 + _doe - 719468))
}

month_number() {
	case $1 in
	Jan) echo 1 ;; Feb) echo 2 ;; Mar) echo 3 ;; Apr) echo 4 ;;
	May) echo 5 ;; Jun) echo 6 ;; Jul) echo 7 ;; Aug) echo 8 ;;
	Sep) echo 9 ;; Oct) echo 10 ;; Nov) echo 11 ;; Dec) echo 12 ;;
	*) echo 0 ;;
	esac
}

# epoch Y M D HH:MM:SS
epoch() {
	_t=$4
	_h=${_t%%:*}; _t=${_t#*:}; _mi=${_t%%:*}; _s=${_t#*:}
	echo $(( $(days_from_civil "$1" "$2" "$3") * 86400 + ${_h#0} * 3600 \
	    + ${_mi#0} * 60 + ${_s#0} ))
}

# openssl's "Nov 29 03:41:29 2027 GMT" -> seconds since the epoch.
openssl_time() {
	# shellcheck disable=SC2086
	set -- $1
	epoch "$4" "$(month_number "$1")" "$2" "$3"
}

# RFC 7231 "Sun, 06 Nov 1994 08:49:37 GMT" -> seconds since the epoch.
http_time() {
	# shellcheck disable=SC2086
	set -- $1
	epoch "$4" "$(month_number "$3")" "${2#0}" "$5"
}

# RFC 3339 "2026-11-29T03:41:29Z" -> seconds since the epoch.
rfc3339_time() {
	_v=$1
	_y=${_v%%-*}; _v=${_v#*-}; _mo=${_v%%-*}; _v=${_v#*-}
	_dd=${_v%%[T ]*}; _v=${_v#*[T ]}; _v=${_v%Z}
	epoch "$_y" "${_mo#0}" "${_dd#0}" "$_v"
}

now() {
	if [ -n "${MTLSCA_FAKE_NOW:-}" ]; then
		rfc3339_time "$MTLSCA_FAKE_NOW"
	else
		date -u +%s
	fi
}

fmt_time() {	# epoch -> RFC 3339 (for messages), via date when it can
	date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null ||
	    date -u -r "$1" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo "$1"
}

duration() {
	_s=$1
	[ "$_s" -lt 0 ] && _s=$((-_s))
	if [ "$_s" -ge 86400 ]; then echo "$((_s / 86400))d $((_s % 86400 / 3600))h"
	elif [ "$_s" -ge 3600 ]; then echo "$((_s / 3600))h $((_s % 3600 / 60))m"
	else echo "$((_s / 60))m $((_s % 60))s"; fi
}

# ---- certificates and keys ----

cert_not_before() { openssl_time "$(openssl x509 -in "$1" -noout -startdate | sed 's/^notBefore=//')"; }
cert_not_after() { openssl_time "$(openssl x509 -in "$1" -noout -enddate | sed 's/^notAfter=//')"; }
cert_serial() { openssl x509 -in "$1" -noout -serial | sed 's/^serial=//' | tr a-f A-F; }
cert_subject() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject= *//'; }

# The public key of a certificate or of a private key, as PEM.
cert_pub() { openssl x509 -in "$1" -noout -pubkey; }
key_pub() { openssl pkey -in "$1" -pubout 2>/dev/null; }

key_matches() {	# CERT KEY
	[ "$(cert_pub "$1")" = "$(key_pub "$2")" ]
}

key_new() {	# TYPE OUT: PKCS#8, unencrypted, mode 0600
	case $1 in
	ecdsa-p256) openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/raw.key" ;;
	ecdsa-p384) openssl ecparam -name secp384r1 -genkey -noout -out "$TMP/raw.key" ;;
	ecdsa-p521) openssl ecparam -name secp521r1 -genkey -noout -out "$TMP/raw.key" ;;
	rsa2048|rsa3072|rsa4096)
		openssl genrsa -out "$TMP/raw.key" "${1#rsa}" 2>/dev/null ;;
	*) usage_error "--key-type $1: expected ecdsa-p256, ecdsa-p384, ecdsa-p521, rsa2048, rsa3072 or rsa4096" ;;
	esac || die "openssl could not make a $1 key"
	openssl pkcs8 -topk8 -nocrypt -in "$TMP/raw.key" -out "$2" ||
	    die "openssl pkcs8 failed"
	rm -f "$TMP/raw.key"
}

key_type_of() {	# KEY -> ecdsa-p256 ... rsa4096
	_txt=$(openssl pkey -in "$1" -noout -text 2>/dev/null) ||
	    die "$1 is not an unencrypted private key"
	case $_txt in
	*prime256v1*|*P-256*) echo ecdsa-p256 ;;
	*secp384r1*|*P-384*) echo ecdsa-p384 ;;
	*secp521r1*|*P-521*) echo ecdsa-p521 ;;
	*"(2048 bit"*) echo rsa2048 ;;
	*"(3072 bit"*) echo rsa3072 ;;
	*"(4096 bit"*) echo rsa4096 ;;
	*) die "$1: not one of the key types mtlsca issues for" ;;
	esac
}

# An OpenSSL config value: every byte but [A-Za-z0-9] escaped.
conf_escape() {
	printf '%s' "$1" | sed 's/[^A-Za-z0-9]/\\&/g'
}

# san_conf SPEC -> "DNS:x", "IP:x", "email:x" or "URI:x" (guessing without
# a prefix, as mtlsca does).
san_conf() {
	_v=${1#*:}
	case $1 in
	dns:*|DNS:*) _k=DNS ;;
	ip:*|IP:*) _k=IP ;;
	email:*|EMAIL:*) _k=email ;;
	uri:*|URI:*) _k=URI ;;
	*://*) _k=URI _v=$1 ;;
	*@*) _k=email _v=$1 ;;
	*)
		_v=$1
		if printf '%s' "$1" | grep -Eq '^[0-9.]+$|^[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*$'; then
			_k=IP
		else
			_k=DNS
		fi ;;
	esac
	case $_v in
	''|*[!!-~]*|*,*) usage_error "--san $1: printable ASCII, no spaces or commas" ;;
	esac
	echo "$_k:$_v"
}

# csr_write KEY OUT: [dn] lines in $TMP/dn.conf, SANs in $SANS (comma list).
csr_write() {
	{
		echo "[req]"
		echo "prompt = no"
		echo "utf8 = yes"
		echo "string_mask = utf8only"
		echo "distinguished_name = dn"
		[ -n "$SANS" ] && echo "req_extensions = ext"
		echo "[dn]"
		cat "$TMP/dn.conf"
		if [ -n "$SANS" ]; then
			echo "[ext]"
			echo "subjectAltName = $SANS"
		fi
	} >"$TMP/req.conf"
	openssl req -new -config "$TMP/req.conf" -key "$1" -out "$2" ||
	    die "openssl req could not make the CSR"
}

# ---- HTTP ----

# The sentence of a curl failure (its exit status).
curl_reason() {	# STATUS URL
	case $1 in
	6) echo "cannot resolve the server's name in $2" ;;
	7) echo "cannot connect to $2 (is \`mtlsca serve\` running and listening there?)" ;;
	28) echo "no answer from $2 in time" ;;
	35) echo "the TLS handshake with $2 failed" ;;
	51|60) echo "$SERVER is not trusted: its TLS certificate is not signed by the CA in $CA_FILE, or not for this host name; nothing was sent" ;;
	58) echo "cannot use the TLS client certificate or key" ;;
	77) echo "cannot use $CA_FILE as the CA file" ;;
	*) echo "curl failed ($1) on $2" ;;
	esac
}

# A string field of a JSON object (the server's error bodies), unescaped.
json_field() {	# FILE NAME
	awk -v name="$2" '
	{ text = text $0 " " }
	END {
		i = index(text, "\"" name "\"")
		if (i == 0) exit
		rest = substr(text, i + length(name) + 2)
		sub(/^[ \t]*:[ \t]*"/, "", rest)
		out = ""
		for (k = 1; k <= length(rest); k++) {
			c = substr(rest, k, 1)
			if (c == "\\") { k++; c = substr(rest, k, 1); if (c == "n" || c == "t") c = " " }
			else if (c == "\"") break
			out = out c
		}
		print out
	}' "$1"
}

# The server's sentence for a refusal, or the body's start.
server_message() {	# FILE STATUS
	_m=$(json_field "$1" message)
	if [ -n "$_m" ]; then
		printf '%s (HTTP %s %s)' "$_m" "$2" "$(json_field "$1" error)"
	else
		printf 'HTTP %s from the server: %s' "$2" \
		    "$(dd if="$1" bs=120 count=1 2>/dev/null | tr -c '[:print:]' ' ')"
	fi
}

# post PATH BODYFILE [curl options]: the chain in $TMP/resp, the headers in
# $TMP/headers; sets HTTP_STATUS. Dies on transport failures.
post() {
	_path=$1 _body=$2
	shift 2
	_rc=0
	HTTP_STATUS=$(curl -sS -o "$TMP/resp" -D "$TMP/headers" -w '%{http_code}' \
	    --proto =https --tlsv1.2 --connect-timeout 15 --max-time 60 \
	    --cacert "$CA_FILE" --capath "$TMP/no-capath" \
	    -H "Content-Type: application/x-pem-file" \
	    -H "Accept: application/pem-certificate-chain" \
	    "$@" --data-binary "@$_body" "$SERVER$_path" 2>"$TMP/curl.err") || _rc=$?
	[ "$_rc" -eq 0 ] || die "$(curl_reason "$_rc" "$SERVER$_path")"
}

# Warn when the server's Date and our clock disagree, and when the
# certificate is not valid yet by our clock.
clock_warn() {	# CERT
	_d=$(sed -n 's/^[Dd]ate:[[:space:]]*\(.*[^[:space:]]\)[[:space:]]*$/\1/p' "$TMP/headers" | head -n 1)
	_here=$(now)
	if [ -n "$_d" ]; then
		_srv=$(http_time "$_d")
		_skew=$((_here - _srv))
		if [ "$_skew" -gt "$SKEW_WARN" ] || [ "$_skew" -lt "-$SKEW_WARN" ]; then
			_dir="ahead of"
			[ "$_skew" -lt 0 ] && _dir=behind
			warn "this machine's clock is $(duration "$_skew") $_dir the server's (server: $_d): TLS peers will see certificates as not yet valid or expired; fix the clock (NTP)"
		fi
	fi
	_nb=$(cert_not_before "$1")
	if [ "$_nb" -gt $((_here + 60)) ]; then
		warn "the certificate is valid from $(fmt_time "$_nb"), $(duration $((_nb - _here))) from now by this machine's clock: until then TLS peers with this clock refuse it"
	fi
}

# Split the answer (leaf, then CA) into $TMP/leaf.pem and $TMP/ca.pem and
# check it: our key, signed by the CA that came with it.
answer_check() {	# KEY
	awk -v leaf="$TMP/leaf.pem" -v ca="$TMP/ca.pem" '
	    /-----BEGIN CERTIFICATE-----/ { n++ }
	    n == 1 { print > leaf }
	    n > 1 { print > ca }' "$TMP/resp"
	[ -s "$TMP/leaf.pem" ] && [ -s "$TMP/ca.pem" ] ||
	    die "the server's answer is not a certificate chain"
	key_matches "$TMP/leaf.pem" "$1" ||
	    die "the server's certificate is not for our key"
	_nt=
	openssl verify -help 2>&1 | grep -q no_check_time && _nt=-no_check_time
	# shellcheck disable=SC2086
	openssl verify $_nt -CAfile "$TMP/ca.pem" "$TMP/leaf.pem" >/dev/null 2>&1 ||
	    die "the server's certificate does not chain to the CA it sent"
}

# install SRC DST MODE: replace DST atomically (rename in its directory);
# an existing DST keeps its mode and owner (cp -p), a new one gets MODE.
install_file() {
	_tmp="$2.tmp.$$"
	if [ -f "$2" ]; then
		cp -p "$2" "$_tmp" && cat "$1" >"$_tmp"
	else
		cp "$1" "$_tmp" && chmod "$3" "$_tmp"
	fi || { rm -f "$_tmp"; return 1; }
	mv -f "$_tmp" "$2"
}

read_secret() {	# FILE PROMPT CONFIRM -> stdout
	if [ -n "$1" ]; then
		[ -r "$1" ] || die "cannot read $1"
		_sec=$(sed -n '1p' "$1" | tr -d '\r')
		[ -n "$_sec" ] || die "$1: the first line must hold the secret"
		printf '%s' "$_sec"
		return
	fi
	[ -r /dev/tty ] || die "no terminal to ask for the password: give --p12-password-file FILE"
	stty -echo </dev/tty 2>/dev/null || true
	printf '%s' "$2" >/dev/tty
	IFS= read -r _sec </dev/tty || _sec=
	printf '\n' >/dev/tty
	if [ "$3" = yes ]; then
		printf 'again: ' >/dev/tty
		IFS= read -r _again </dev/tty || _again=
		printf '\n' >/dev/tty
	else
		_again=$_sec
	fi
	stty echo </dev/tty 2>/dev/null || true
	[ -n "$_sec" ] || die "no password typed"
	[ "$_sec" = "$_again" ] || die "the two entries differ"
	printf '%s' "$_sec"
}

# fingerprint normalisation: lower-case hex, no separators or prefix.
fp_normalise() {
	_f=$(printf '%s' "$1" | tr 'A-F' 'a-f' | tr -d ' \t')
	case $_f in
	sha256fingerprint=*) _f=${_f#sha256fingerprint=} ;;
	sha256:*|sha256=*) _f=${_f#sha256?} ;;
	sha-256:*) _f=${_f#sha-256:} ;;
	esac
	_f=$(printf '%s' "$_f" | tr -d ':')
	case $_f in
	*[!0-9a-f]*) echo bad ;;
	*) [ ${#_f} -eq 64 ] && echo "$_f" || echo bad ;;
	esac
}

# ---- enroll ----

cmd_enroll() {
	SERVER='' TOKEN='' TOKEN_FILE='' CN='' CA_FILE='' FP='' KEY_TYPE=ecdsa-p256
	PROFILE='' DAYS='' DIR=. FORCE=no P12='' P12_LEGACY=no P12_PW_FILE='' P12_NAME=''
	SANS=
	while [ $# -gt 0 ]; do
		case $1 in
		--server) need_value "$1" $#; SERVER=$2; shift ;;
		--token) need_value "$1" $#; TOKEN=$2; shift ;;
		--token-file) need_value "$1" $#; TOKEN_FILE=$2; shift ;;
		--cn) need_value "$1" $#; CN=$2; shift ;;
		--san) need_value "$1" $#
			_s=$(san_conf "$2") || exit 2
			SANS=${SANS:+$SANS,}$_s; shift ;;
		--key-type) need_value "$1" $#; KEY_TYPE=$2; shift ;;
		--profile) need_value "$1" $#; PROFILE=$2; shift ;;
		--days) need_value "$1" $#; DAYS=$2; shift ;;
		--out-dir) need_value "$1" $#; DIR=$2; shift ;;
		--ca-file) need_value "$1" $#; CA_FILE=$2; shift ;;
		--ca-fingerprint) need_value "$1" $#; FP=$2; shift ;;
		--force) FORCE=yes ;;
		--p12) need_value "$1" $#; P12=$2; shift ;;
		--p12-legacy) P12_LEGACY=yes ;;
		--p12-password-file) need_value "$1" $#; P12_PW_FILE=$2; shift ;;
		--p12-name) need_value "$1" $#; P12_NAME=$2; shift ;;
		-h|--help) usage; exit 0 ;;
		*) usage_error "enroll: unknown option $1" ;;
		esac
		shift
	done
	[ -n "$SERVER" ] && [ -n "$CN" ] ||
	    usage_error "enroll: --server and --cn are required"
	{ [ -n "$TOKEN" ] && [ -z "$TOKEN_FILE" ]; } ||
	    { [ -z "$TOKEN" ] && [ -n "$TOKEN_FILE" ]; } ||
	    usage_error "enroll: one of --token and --token-file"
	{ [ -n "$CA_FILE" ] && [ -z "$FP" ]; } || { [ -z "$CA_FILE" ] && [ -n "$FP" ]; } ||
	    usage_error "enroll: one of --ca-file and --ca-fingerprint"
	case $SERVER in https://*) ;; *) usage_error "--server $SERVER: the URL must start with https://" ;; esac
	SERVER=${SERVER%/}
	case $KEY_TYPE in ecdsa-p256|ecdsa-p384|ecdsa-p521|rsa2048|rsa3072|rsa4096) ;;
	*) usage_error "--key-type $KEY_TYPE: expected ecdsa-p256, ecdsa-p384, ecdsa-p521, rsa2048, rsa3072 or rsa4096" ;;
	esac
	case $PROFILE in *[!A-Za-z0-9._-]*) usage_error "--profile $PROFILE: a profile name" ;; esac
	case $DAYS in *[!0-9]*) usage_error "--days $DAYS: a number of days" ;; esac
	if [ -n "$FP" ]; then
		FP=$(fp_normalise "$FP")
		[ "$FP" != bad ] || usage_error "--ca-fingerprint: 64 hex digits, with or without ':'"
	fi
	if [ -z "$P12" ] && { [ "$P12_LEGACY" = yes ] || [ -n "$P12_PW_FILE" ] || [ -n "$P12_NAME" ]; }; then
		usage_error "enroll: --p12-legacy, --p12-password-file and --p12-name go with --p12 FILE"
	fi

	# Everything that can fail fails before the token is spent.
	if [ ! -d "$DIR" ]; then
		# A new directory gets 0755 (the key inside is 0600); an
		# existing one keeps its mode.
		(umask 022 && mkdir -p "$DIR") || die "cannot create $DIR"
	fi
	if [ "$FORCE" != yes ] && { [ -e "$DIR/key.pem" ] || [ -e "$DIR/cert.pem" ] ||
	    { [ -n "$P12" ] && [ -e "$P12" ]; }; }; then
		die "$DIR already holds an identity (key.pem, cert.pem or the --p12 file): --force replaces it, or choose another --out-dir"
	fi
	: >"$DIR/.mtlsca-enroll.$$" 2>/dev/null || die "cannot write in $DIR"
	rm -f "$DIR/.mtlsca-enroll.$$"
	if [ -n "$TOKEN_FILE" ]; then
		[ -r "$TOKEN_FILE" ] || die "cannot read $TOKEN_FILE"
		TOKEN=$(sed -n '1p' "$TOKEN_FILE" | tr -d '\r')
		[ -n "$TOKEN" ] || die "$TOKEN_FILE: the first line must hold the token"
	fi
	if [ -n "$P12" ]; then
		read_secret "$P12_PW_FILE" "PKCS#12 password: " yes >"$TMP/p12pw"
	fi

	if [ -n "$FP" ]; then
		# Bootstrap: an unverified GET that carries nothing secret;
		# its answer is trusted only if the fingerprint matches.
		_rc=0
		curl -sS -k --proto =https --connect-timeout 15 --max-time 60 \
		    -o "$TMP/bundle.pem" "$SERVER/ca.pem" 2>"$TMP/curl.err" || _rc=$?
		[ "$_rc" -eq 0 ] || die "$(curl_reason "$_rc" "$SERVER/ca.pem")"
		awk -v dir="$TMP" '
		    /-----BEGIN CERTIFICATE-----/ { n++ }
		    n > 0 { print > (dir "/bundle." n ".pem") }
		    /-----END CERTIFICATE-----/ { close(dir "/bundle." n ".pem") }' "$TMP/bundle.pem"
		_got=
		for _c in "$TMP"/bundle.[0-9]*.pem; do
			[ -f "$_c" ] || continue
			_h=$(openssl x509 -in "$_c" -noout -fingerprint -sha256 2>/dev/null |
			    sed 's/.*=//' | tr -d ':' | tr 'A-F' 'a-f')
			[ -n "$_got" ] || _got=$_h
			if [ "$_h" = "$FP" ]; then
				cp "$_c" "$TMP/anchor.pem"
				break
			fi
		done
		[ -s "$TMP/anchor.pem" ] ||
		    die "CA fingerprint mismatch: the server's CA certificate is ${_got:-(none)}, expected $FP (--ca-fingerprint)"
		CA_FILE=$TMP/anchor.pem
	else
		[ -r "$CA_FILE" ] || die "--ca-file: cannot read $CA_FILE"
	fi

	key_new "$KEY_TYPE" "$TMP/key.pem"
	conf_line=$(conf_escape "$CN")
	printf 'CN = %s\n' "$conf_line" >"$TMP/dn.conf"
	csr_write "$TMP/key.pem" "$TMP/req.csr"

	_q=
	[ -z "$PROFILE" ] || _q="profile=$PROFILE"
	[ -z "$DAYS" ] || _q="${_q:+$_q&}days=$DAYS"
	[ -z "$_q" ] || _q="?$_q"
	printf 'Authorization: Bearer %s\n' "$TOKEN" >"$TMP/auth"
	post "/v1/certificates$_q" "$TMP/req.csr" -H "@$TMP/auth"
	rm -f "$TMP/auth"
	if [ "$HTTP_STATUS" != 201 ]; then
		case $HTTP_STATUS in
		401|403) die "the server refused the enrollment: $(server_message "$TMP/resp" "$HTTP_STATUS")" ;;
		*) die "enrollment failed: $(server_message "$TMP/resp" "$HTTP_STATUS")" ;;
		esac
	fi
	answer_check "$TMP/key.pem"
	clock_warn "$TMP/leaf.pem"

	# The key first: a certificate without its key is useless.
	_serial=$(cert_serial "$TMP/leaf.pem")
	install_file "$TMP/key.pem" "$DIR/key.pem" 600 &&
	    install_file "$TMP/leaf.pem" "$DIR/cert.pem" 644 &&
	    install_file "$TMP/resp" "$DIR/chain.pem" 644 &&
	    install_file "$TMP/ca.pem" "$DIR/ca.pem" 644 ||
	    die "certificate $_serial was issued but not all files were written in $DIR"
	chmod 600 "$DIR/key.pem"
	if [ -n "$P12" ]; then
		p12_write "$DIR/key.pem" "$DIR/cert.pem" "$DIR/ca.pem" "$P12"
	fi
	_nb=$(cert_not_before "$DIR/cert.pem")
	_na=$(cert_not_after "$DIR/cert.pem")
	echo "enrolled $(cert_subject "$DIR/cert.pem")"
	echo "  serial:       $_serial"
	echo "  valid:        $(fmt_time "$_nb") to $(fmt_time "$_na")"
	echo "  renew after:  $(fmt_time $((_nb + (_na - _nb) * 2 / 3))) (2/3 of the validity)"
	echo "  key:          $DIR/key.pem ($KEY_TYPE, mode 0600)"
	echo "  certificate:  $DIR/cert.pem"
	echo "  chain:        $DIR/chain.pem"
	echo "  CA:           $DIR/ca.pem${FP:+ (SHA-256 $FP, as --ca-fingerprint)}"
	[ -z "$P12" ] || echo "  PKCS#12:      $P12 ($P12_LABEL)"
}

p12_write() {	# KEY CERT CA OUT
	if [ "$P12_LEGACY" = yes ]; then
		P12_LABEL="legacy: 3DES, SHA-1 MAC"
		set -- "$@" -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1
	else
		P12_LABEL="AES-256-CBC, PBKDF2-SHA256, SHA-256 MAC"
		set -- "$@" -keypbe AES-256-CBC -certpbe AES-256-CBC -macalg sha256
	fi
	_k=$1 _c=$2 _ca=$3 _o=$4
	shift 4
	_name=${P12_NAME:-$(openssl x509 -in "$_c" -noout -subject -nameopt sep_multiline,utf8,sname | sed -n 's/^ *CN=//p' | head -n 1)}
	openssl pkcs12 -export -inkey "$_k" -in "$_c" -certfile "$_ca" \
	    -name "${_name:-mtlsca}" -passout "file:$TMP/p12pw" "$@" \
	    -out "$TMP/out.p12" || die "openssl pkcs12 failed"
	install_file "$TMP/out.p12" "$_o" 600 || die "cannot write $_o"
}

# ---- renew ----

cmd_renew() {
	SERVER='' CERT='' KEY='' CA_FILE='' CHAIN='' REKEY=no KEY_TYPE='' DAYS='' IF_DUE=no
	FORCE=no
	while [ $# -gt 0 ]; do
		case $1 in
		--server) need_value "$1" $#; SERVER=$2; shift ;;
		--cert) need_value "$1" $#; CERT=$2; shift ;;
		--key) need_value "$1" $#; KEY=$2; shift ;;
		--ca-file) need_value "$1" $#; CA_FILE=$2; shift ;;
		--chain) need_value "$1" $#; CHAIN=$2; shift ;;
		--rekey) REKEY=yes ;;
		--key-type) need_value "$1" $#; KEY_TYPE=$2; shift ;;
		--days) need_value "$1" $#; DAYS=$2; shift ;;
		--if-due) IF_DUE=yes ;;
		--force) FORCE=yes ;;
		--daemon) usage_error "renew: --daemon is mtlsca's; run this script from cron, launchd or a timer with --if-due" ;;
		--exec) shift; [ "${1:-}" != -- ] || shift
			[ $# -gt 0 ] || usage_error "renew: --exec needs a command"
			break ;;
		-h|--help) usage; exit 0 ;;
		*) usage_error "renew: unknown option $1" ;;
		esac
		shift
	done
	# What is left in "$@" is the hook.
	[ -n "$SERVER" ] && [ -n "$CERT" ] && [ -n "$KEY" ] ||
	    usage_error "renew: --server, --cert and --key are required"
	case $SERVER in https://*) ;; *) usage_error "--server $SERVER: the URL must start with https://" ;; esac
	SERVER=${SERVER%/}
	[ -z "$KEY_TYPE" ] || [ "$REKEY" = yes ] || usage_error "renew: --key-type goes with --rekey"
	case $DAYS in *[!0-9]*) usage_error "--days $DAYS: a number of days" ;; esac
	if [ -z "$CA_FILE" ]; then
		CA_FILE=$(dirname "$CERT")/ca.pem
		[ -r "$CA_FILE" ] || die "renew: no --ca-file, and no ca.pem beside $CERT"
	fi
	[ -r "$CERT" ] || die "cannot read $CERT"
	[ -r "$KEY" ] || die "cannot read $KEY"
	openssl x509 -in "$CERT" -noout 2>/dev/null || die "$CERT is not a PEM certificate"
	key_matches "$CERT" "$KEY" || die "$KEY does not match $CERT"

	_serial=$(cert_serial "$CERT")
	_nb=$(cert_not_before "$CERT")
	_na=$(cert_not_after "$CERT")
	_now=$(now)
	_due=$((_nb + (_na - _nb) * 2 / 3))
	if [ "$_now" -ge "$_na" ]; then
		die "renew: $CERT (serial $_serial) expired on $(fmt_time "$_na"): renewal needs a valid certificate; enroll again"
	fi
	if [ "$IF_DUE" = yes ] && [ "$FORCE" != yes ] && [ "$_now" -lt "$_due" ]; then
		echo "not due: $CERT (serial $_serial) renews after $(fmt_time "$_due") (2/3 of its validity); --force renews now"
		exit 3
	fi

	_usekey=$KEY
	if [ "$REKEY" = yes ]; then
		[ -n "$KEY_TYPE" ] || KEY_TYPE=$(key_type_of "$KEY")
		key_new "$KEY_TYPE" "$TMP/newkey.pem"
		_usekey=$TMP/newkey.pem
	fi
	# Same subject, attribute by attribute; same subjectAltNames.
	openssl x509 -in "$CERT" -noout -subject -nameopt sep_multiline,utf8,sname |
	    sed -n 's/^    //p' | awk '{ n++; i = index($0, "="); printf "%d.%s=%s\n", n, substr($0, 1, i - 1), substr($0, i + 1) }' |
	    while IFS= read -r _line; do
		_t=${_line%%=*}
		printf '%s = %s\n' "$_t" "$(conf_escape "${_line#*=}")"
	    done >"$TMP/dn.conf"
	SANS=$(openssl x509 -in "$CERT" -noout -text |
	    sed -n '/X509v3 Subject Alternative Name:/{n;p;}' |
	    sed 's/^ *//; s/IP Address:/IP:/g; s/, /,/g')
	csr_write "$_usekey" "$TMP/req.csr"
	if [ -z "$DAYS" ]; then
		DAYS=$(( (_na - _nb + 43200) / 86400 ))
		[ "$DAYS" -ge 1 ] || DAYS=1
	fi
	post "/v1/certificates/renew?days=$DAYS" "$TMP/req.csr" --cert "$CERT" --key "$KEY"
	if [ "$HTTP_STATUS" != 201 ]; then
		case $HTTP_STATUS in
		409) die "renew: the certificate $_serial was already renewed (server: $(server_message "$TMP/resp" "$HTTP_STATUS")): use the newer certificate, or enroll again if it is lost" ;;
		401|403) die "renew: the server refused the renewal of $_serial: $(server_message "$TMP/resp" "$HTTP_STATUS")" ;;
		*) die "renew: $(server_message "$TMP/resp" "$HTTP_STATUS")" ;;
		esac
	fi
	answer_check "$_usekey"
	[ "$(cert_subject "$TMP/leaf.pem")" = "$(cert_subject "$CERT")" ] ||
	    die "renew: the server's certificate names $(cert_subject "$TMP/leaf.pem"), not $(cert_subject "$CERT"): not written"
	clock_warn "$TMP/leaf.pem"

	# The key first (with --rekey); if the certificate then fails, the
	# old key goes back so that the pair on disk always matches.
	_new=$(cert_serial "$TMP/leaf.pem")
	if [ "$REKEY" = yes ]; then
		cp -p "$KEY" "$TMP/oldkey.pem"
		install_file "$TMP/newkey.pem" "$KEY" 600 ||
		    die "renew: certificate $_new was issued but $KEY could not be written"
	fi
	# A file that held a chain gets the new chain.
	if [ "$(grep -c -- '-----BEGIN CERTIFICATE-----' "$CERT")" -gt 1 ]; then
		_src=$TMP/resp
	else
		_src=$TMP/leaf.pem
	fi
	if ! install_file "$_src" "$CERT" 644; then
		[ "$REKEY" = yes ] && install_file "$TMP/oldkey.pem" "$KEY" 600
		die "renew: certificate $_new was issued but $CERT could not be written"
	fi
	if [ -n "$CHAIN" ]; then
		install_file "$TMP/resp" "$CHAIN" 644 ||
		    die "renew: certificate $_new is in $CERT but $CHAIN could not be written"
	fi
	_nk=
	[ "$REKEY" = no ] || _nk=", new key"
	echo "renewed $(cert_subject "$CERT"): serial $_new (was $_serial), valid $(fmt_time "$(cert_not_before "$CERT")") to $(fmt_time "$(cert_not_after "$CERT")")$_nk"
	if [ $# -gt 0 ]; then
		_hrc=0
		MTLSCA_CERT=$CERT MTLSCA_KEY=$KEY MTLSCA_SERIAL=$_new \
		    MTLSCA_NOT_AFTER=$(fmt_time "$(cert_not_after "$CERT")") \
		    "$@" || _hrc=$?
		[ "$_hrc" -eq 0 ] || die "renew: the certificate is renewed, but $1 exited with $_hrc"
	fi
}

[ $# -gt 0 ] || usage_error "a command: enroll or renew"
cmd=$1
shift
case $cmd in
enroll) cmd_enroll "$@" ;;
renew) cmd_renew "$@" ;;
-h|--help|help) usage ;;
*) usage_error "no command '$cmd'" ;;
esac
