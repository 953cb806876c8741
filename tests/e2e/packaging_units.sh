#!/bin/bash
# The systemd units in packaging/systemd/ (every file there, so units added
# later are checked too): `systemd-analyze verify` has nothing to say about
# any of them (templates as an instance), mtlsca.service keeps the promises
# the README makes (Type=notify with a watchdog, SIGHUP reload, the mtlsca
# user, /var/lib/mtlsca) and its exposure score from
# `systemd-analyze security --offline=true` is at most 2.0, also with each
# drop-in its comments document (ports below 1024, SoftHSM). Two controls
# show the checks can fail here: a misspelled directive makes verify speak,
# and the unit without its hardening scores above 2.0.
. "$(dirname "$0")/lib.sh"

if ! command -v systemd-analyze >/dev/null 2>&1; then
	# ./packaging/test.sh installs systemd (which ships it).
	echo "SKIP: systemd-analyze is not installed (apt-get install systemd)"
	exit 0
fi
UNITS="$MTLSCA_SRC/packaging/systemd"
MAIN="$UNITS/mtlsca.service"
MAX_EXPOSURE=2.0
tmpdir

# Where verify looks for man:mtlsca(1) (Documentation=).
mkdir -p man/man1
cp "$MTLSCA_SRC/packaging/mtlsca.1" man/man1/
export MANPATH="$T/man"

# stage FILE DIR: FILE in DIR with the binary of this build for
# /usr/bin/mtlsca (verify checks that ExecStart exists), a template
# (name@.service) as the instance name@test.service; prints the copy.
stage() {
	local base dst
	base=$(basename "$1")
	case "$base" in
	*@.*) base="${base%%@.*}@test.${base##*@.}" ;;
	esac
	dst="$2/$base"
	sed "s|/usr/bin/mtlsca|$MTLSCA|g" "$1" >"$dst"
	echo "$dst"
}

# verify_quiet FILE...: systemd-analyze verify exits 0 and says nothing.
verify_quiet() {
	local out rc=0
	out=$(systemd-analyze verify "$@" 2>&1) || rc=$?
	[ "$rc" -eq 0 ] && [ -z "$out" ] ||
	    fail "systemd-analyze verify $* (exit $rc): $out"
}

# exposure FILE: the overall exposure level (0.0 to 10.0).
exposure() {
	systemd-analyze security --offline=true "$1" 2>&1 |
	    sed -n 's/^→ Overall exposure level for .*: \([0-9.]*\) .*/\1/p'
}

# at_most A B: A <= B for decimals.
at_most() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 <= b + 0) }'
}

# ---- every unit file verifies cleanly ----
mkdir -p units
n=0
for f in "$UNITS"/*; do
	case "$f" in
	*.service | *.timer | *.socket | *.path | *.target) ;;
	*) continue ;;
	esac
	stage "$f" units >/dev/null
	n=$((n + 1))
done
[ "$n" -ge 1 ] || fail "no unit files in $UNITS"
# All together, so that a timer finds its service.
verify_quiet units/*
note "systemd-analyze verify: $n unit file(s) clean: $(ls units | tr '\n' ' ')"

# ---- what mtlsca.service promises ----
for line in "Type=notify" "NotifyAccess=main" "ExecReload=/bin/kill -HUP \$MAINPID" \
    "User=mtlsca" "StateDirectory=mtlsca" "StateDirectoryMode=0700" \
    "ConfigurationDirectory=mtlsca" \
    "ExecStart=/usr/bin/mtlsca --config /etc/mtlsca/ca.conf serve"; do
	grep -qxF "$line" "$MAIN" || fail "mtlsca.service lacks '$line'"
done
grep -q '^WatchdogSec=[1-9]' "$MAIN" || fail "mtlsca.service: no WatchdogSec"

# ---- exposure, as it is and with each documented drop-in ----
score=$(exposure "$MAIN")
at_most "$score" "$MAX_EXPOSURE" ||
    fail "mtlsca.service exposure '$score', at most $MAX_EXPOSURE wanted"
note "mtlsca.service: exposure $score (at most $MAX_EXPOSURE)"
for f in "$UNITS"/*.service; do
	[ "$f" = "$MAIN" ] && continue
	note "$(basename "$f"): exposure $(exposure "$f") (not asserted)"
done

# The drop-ins are the comment blocks that start with "#   [Service]".
awk '
/^#   \[Service\]$/ { n++; f = sprintf("dropin%d.conf", n); print "[Service]" > f; on = 1; next }
on && /^#   [A-Za-z]+=/ { sub(/^#   /, ""); print > f; next }
{ on = 0 }
END { print n + 0 }' "$MAIN" >dropins.count
nd=$(cat dropins.count)
[ "$nd" -ge 2 ] || fail "expected the port and SoftHSM drop-ins in the comments, found $nd"
for i in $(seq 1 "$nd"); do
	mkdir -p "with$i" "with$i.staged"
	# A unit file may repeat a section: the drop-in's lines come last,
	# as systemd applies a drop-in.
	cat "$MAIN" "dropin$i.conf" >"with$i/mtlsca.service"
	verify_quiet "$(stage "with$i/mtlsca.service" "with$i.staged")"
	s=$(exposure "with$i/mtlsca.service")
	at_most "$s" "$MAX_EXPOSURE" ||
	    fail "mtlsca.service with drop-in $i ($(tr '\n' ' ' <"dropin$i.conf")): exposure $s"
	note "with drop-in $i ($(sed 1d "dropin$i.conf" | tr '\n' ' ')): exposure $s"
done

# ---- controls: the checks can fail ----
mkdir -p bad bad.staged
sed 's/^ProtectSystem=/ProtectSytem=/' "$MAIN" >bad/mtlsca.service
out=$(systemd-analyze verify "$(stage bad/mtlsca.service bad.staged)" 2>&1) ||
    true
assert_contains "$out" "ProtectSytem" "verify of a misspelled unit"
mkdir -p soft
sed '/^# Hardening/,/^\[Install\]/{/^\[Install\]/!d}' "$MAIN" >soft/mtlsca.service
s=$(exposure soft/mtlsca.service)
at_most "$s" "$MAX_EXPOSURE" &&
    fail "the unit without its hardening scores $s: the score check cannot fail"
note "controls: a typo is reported; without hardening the score is $s"
