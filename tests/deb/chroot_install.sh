#!/bin/bash
# The Debian package on a fresh Debian 12: install the .deb with apt into a
# debootstrap'ed bookworm chroot (variant minbase, so that its Depends must
# bring everything), check what it installed (the mtlsca user, /var/lib/mtlsca
# 0700, the conffile, the unit verified by systemd-analyze inside the chroot
# and its exposure score), then, as the mtlsca user: `mtlsca --version`,
# `mtlsca init`, and `serve` started as mtlsca.service would start it (its
# ExecStart, User, UMask, WorkingDirectory, StateDirectory and environment,
# no capabilities and no new privileges: systemd itself does not run in a
# chroot), /healthz over HTTPS and the CRL checked by openssl, SIGTERM and a
# clean exit. Last, a purge keeps the CA (/var/lib/mtlsca).
#
#   tests/deb/chroot_install.sh build/deb/mtlsca_VERSION_ARCH.deb
#
# Root only (.ci/run runs it). The debootstrap result is cached as a tar
# (a cold run makes it, in a few minutes), and so are the .debs apt fetches:
#   MTLSCA_CHROOT_CACHE   cache directory (default /var/cache/mtlsca-ci, or
#                         build/chroot-cache where that is not writable)
#   MTLSCA_CHROOT_MAX_AGE_DAYS  make the base again when older (default 30)
#   MTLSCA_DEBIAN_MIRROR  default http://deb.debian.org/debian
#   KEEP_CHROOT=1         keep the chroot (mounts are always undone)
set -euo pipefail

[ $# -eq 1 ] && [ -f "$1" ] || {
	echo "usage: $0 PACKAGE.deb" >&2
	exit 2
}
[ "$(id -u)" -eq 0 ] || {
	echo "chroot_install.sh: needs root (debootstrap, chroot, mount)" >&2
	exit 2
}
deb=$(realpath "$1")
src=$(cd "$(dirname "$0")/../.." && pwd)
suite=bookworm
arch=$(dpkg --print-architecture)
mirror=${MTLSCA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
max_age=${MTLSCA_CHROOT_MAX_AGE_DAYS:-30}
cache=${MTLSCA_CHROOT_CACHE:-/var/cache/mtlsca-ci}
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
	cache=$src/build/chroot-cache
	mkdir -p "$cache"
fi
base=$cache/debian-$suite-minbase-$arch.tar
archives=$cache/apt-archives-$suite-$arch
mkdir -p "$archives/partial"

work=$(mktemp -d "${TMPDIR:-/tmp}/mtlsca-chroot-XXXXXX")
root=$work/root
serve_pid=
passed=0

# Undo every mount under $work, innermost first, whatever happened.
unmount_all() {
	local m
	for m in $(awk -v w="$work/" 'index($2, w) == 1 { print $2 }' \
	    /proc/mounts | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
}

# Every process still running inside the chroot (a serve left by a failure).
kill_chrooted() {
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		case "$r" in
		"$root" | "$root"/*) kill -KILL "${p#/proc/}" 2>/dev/null || true ;;
		esac
	done
}

cleanup() {
	local rc=$?
	if [ -n "$serve_pid" ] && kill -0 "$serve_pid" 2>/dev/null; then
		kill -KILL "$serve_pid" 2>/dev/null || true
		wait "$serve_pid" 2>/dev/null || true
	fi
	kill_chrooted
	unmount_all
	if awk -v w="$work/" 'index($2, w) == 1 { f = 1 } END { exit !f }' \
	    /proc/mounts; then
		echo "chroot_install.sh: mounts left under $work; not removing it" >&2
		rc=1
	elif [ "${KEEP_CHROOT:-}" = 1 ]; then
		echo "kept $root"
	else
		rm -rf --one-file-system "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

fail() {
	echo "FAIL [chroot_install]: $*" >&2
	[ -f "$work/serve.err" ] && { echo "--- serve's stderr"; tail -n 30 "$work/serve.err"; } >&2
	exit 1
}

ok() {
	passed=$((passed + 1))
	echo "ok - $*"
}

in_chroot() {
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	    DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"
}

# as_mtlsca CMD...: sets RUN to the command line that runs CMD in the
# chroot as the mtlsca user, as the unit runs it: its working directory and
# umask, no capabilities (an empty bounding set), no new privileges, the
# environment systemd gives a User= service. Each step execs the next, so
# "${RUN[@]}" & leaves mtlsca's own pid in $!.
as_mtlsca() {
	RUN=(chroot "$root" /usr/bin/setpriv --reuid="$unit_user"
	    --regid="$unit_user" --init-groups --no-new-privs
	    --bounding-set=-all --inh-caps=-all --
	    /bin/sh -c 'umask "$1" && cd "$2" && shift 2 && exec "$@"' sh
	    "$unit_umask" "$unit_wd" /usr/bin/env -i
	    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin
	    HOME="$home" USER="$unit_user" LOGNAME="$unit_user"
	    SHELL="$shell" STATE_DIRECTORY="/var/lib/$unit_state"
	    CONFIGURATION_DIRECTORY="/etc/$unit_conf" "$@")
}

free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

t0=$SECONDS

# ---- a fresh bookworm: from the cache, or debootstrap ----
if [ -f "$base" ] && [ -n "$(find "$base" -mtime -"$max_age")" ]; then
	cache_state=warm
	mkdir "$root"
	tar -C "$root" -xf "$base"
else
	cache_state=cold
	debootstrap --variant=minbase "$suite" "$root" "$mirror" \
	    >"$work/debootstrap.log" 2>&1 ||
	    { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap"; }
	tar -C "$root" -cf "$base.tmp.$$" . && mv "$base.tmp.$$" "$base"
fi
t_base=$SECONDS
echo "--- base system ($cache_state cache): $((t_base - t0)) s"

cp /etc/resolv.conf "$root/etc/resolv.conf"
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb ${mirror%/debian}/debian-security $suite-security main
EOF
mount -t proc proc "$root/proc"
mount --bind "$archives" "$root/var/cache/apt/archives"
cp "$deb" "$root/tmp/"
in_chroot apt-get -q update >"$work/apt.log" 2>&1 ||
    { tail -n 20 "$work/apt.log" >&2; fail "apt-get update in the chroot"; }
in_chroot apt-get -q install -y --no-install-recommends \
    "/tmp/$(basename "$deb")" >>"$work/apt.log" 2>&1 ||
    { tail -n 30 "$work/apt.log" >&2; fail "apt-get install of $(basename "$deb")"; }
t_install=$SECONDS
echo "--- apt-get install into the chroot: $((t_install - t_base)) s"

# ---- what the package installed ----
[ "$(in_chroot dpkg-query -W -f='${Status}' mtlsca)" = "install ok installed" ] ||
    fail "mtlsca is not installed"
IFS=: read -r _ _ uid _ _ home shell <<<"$(in_chroot getent passwd mtlsca)" ||
    fail "no mtlsca user"
[ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] || fail "mtlsca's uid $uid is not a system uid"
[ "$home:$shell" = "/var/lib/mtlsca:/usr/sbin/nologin" ] ||
    fail "mtlsca's home and shell: $home:$shell"
ok "system user mtlsca (uid $uid, home $home, shell $shell)"
# Names as the chroot's passwd has them (stat in the chroot): the host's
# may give the same uid to another user.
st=$(in_chroot stat -c '%a %U %G' /var/lib/mtlsca)
[ "$st" = "700 mtlsca mtlsca" ] || fail "/var/lib/mtlsca: $st"
ok "/var/lib/mtlsca: 0700 mtlsca:mtlsca"
in_chroot dpkg-query -W -f='${Conffiles}\n' mtlsca | grep -q '^ /etc/mtlsca/ca.conf ' ||
    fail "/etc/mtlsca/ca.conf is not a conffile"
grep -qx 'data_dir = "/var/lib/mtlsca";' "$root/etc/mtlsca/ca.conf" ||
    fail "/etc/mtlsca/ca.conf does not set data_dir to /var/lib/mtlsca"
[ -f "$root/usr/share/man/man1/mtlsca.1.gz" ] || fail "no man page"
ok "conffile /etc/mtlsca/ca.conf (data_dir /var/lib/mtlsca), mtlsca(1)"

unit=$root/lib/systemd/system/mtlsca.service
[ -f "$unit" ] || fail "no /lib/systemd/system/mtlsca.service"
# man-db is not in a minimal system: Documentation= is checked in
# tests/e2e/packaging_units.sh.
out=$(in_chroot systemd-analyze verify --man=no /lib/systemd/system/mtlsca.service 2>&1) ||
    fail "systemd-analyze verify in the chroot: $out"
[ -z "$out" ] || fail "systemd-analyze verify in the chroot: $out"
score=$(in_chroot systemd-analyze security --offline=true \
    /lib/systemd/system/mtlsca.service 2>&1 |
    sed -n 's/^→ Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
awk -v s="$score" 'BEGIN { exit !(s != "" && s + 0 <= 2.0) }' ||
    fail "exposure of the installed unit: '$score'"
ok "installed unit: systemd-analyze verify clean, exposure $score"

key() {	# the unit's last KEY= value
	sed -n "s/^$1=//p" "$unit" | tail -n 1
}
unit_user=$(key User)
unit_umask=$(key UMask)
unit_wd=$(key WorkingDirectory)
unit_state=$(key StateDirectory)
unit_conf=$(key ConfigurationDirectory)
read -r -a exec_start <<<"$(key ExecStart)"
[ "$unit_user" = mtlsca ] && [ -n "$unit_umask" ] && [ -n "$unit_wd" ] &&
    [ "${exec_start[0]}" = /usr/bin/mtlsca ] ||
    fail "unexpected unit: User=$unit_user UMask=$unit_umask WorkingDirectory=$unit_wd ExecStart=${exec_start[*]}"

# ---- as the mtlsca user ----
as_mtlsca /usr/bin/mtlsca --version
version=$("${RUN[@]}") || fail "mtlsca --version: $version"
want=$(dpkg-deb -f "$deb" Version)
case "$version" in
"mtlsca ${want%%-*} "*) ;;
*) fail "mtlsca --version says '$version', the package is $want" ;;
esac
ok "as mtlsca: $version"

as_mtlsca /usr/bin/mtlsca --config /etc/mtlsca/ca.conf init \
    --subject "CN=chroot test CA,O=mtlsca CI" --key-type ecdsa-p256
out=$("${RUN[@]}" 2>&1) ||
    fail "mtlsca init as mtlsca: $out"
for f in ca.pem private/ca.key db; do
	[ -e "$root/var/lib/mtlsca/$f" ] || fail "init made no /var/lib/mtlsca/$f"
done
st=$(in_chroot stat -c '%a %U' /var/lib/mtlsca/private/ca.key)
[ "$st" = "600 mtlsca" ] || fail "ca.key: $st"
ok "as mtlsca: mtlsca init (CA key 0600 mtlsca)"

hp=$(free_port)
pp=$(free_port)
as_mtlsca "${exec_start[@]}" --https-port "$hp" --http-port "$pp"
"${RUN[@]}" >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
for _ in $(seq 1 300); do
	grep -q "mtlsca: ready" "$work/serve.err" && break
	kill -0 "$serve_pid" 2>/dev/null || fail "serve exited before it was ready"
	sleep 0.1
done
grep -q "mtlsca: ready" "$work/serve.err" || fail "serve was not ready in 30 s"
ids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$serve_pid/status")
[ "$ids" = "$uid $uid $uid $uid" ] ||
    fail "serve's real/effective/saved/fs uids: $ids, not mtlsca's $uid"
grep -q '^CapEff:[[:space:]]*0*$' "/proc/$serve_pid/status" ||
    fail "serve has capabilities: $(grep Cap "/proc/$serve_pid/status")"
ca=$root/var/lib/mtlsca/ca.pem
code=
for _ in $(seq 1 50); do	# 503 until the first CRL is written
	code=$(curl -sS -o "$work/healthz" -w '%{http_code}' --cacert "$ca" \
	    "https://localhost:$hp/healthz") || true
	[ "$code" = 200 ] && break
	sleep 0.2
done
[ "$code" = 200 ] || fail "/healthz over HTTPS: $code $(cat "$work/healthz" 2>/dev/null)"
curl -sSf -o "$work/crl.pem" "http://127.0.0.1:$pp/crl.pem" ||
    fail "GET /crl.pem"
openssl crl -in "$work/crl.pem" -CAfile "$ca" -noout 2>&1 | grep -q "verify OK" ||
    fail "the CRL does not verify against the CA"
ok "as mtlsca: serve (uid mtlsca, no capabilities): /healthz 200 over HTTPS, the CRL verifies"

kill -TERM "$serve_pid"
rc=0
wait "$serve_pid" || rc=$?
serve_pid=
[ "$rc" -eq 0 ] || fail "serve exited with $rc after SIGTERM"
grep -q "mtlsca: stopped" "$work/serve.err" || fail "no 'mtlsca: stopped'"
others=$(in_chroot find /var/lib/mtlsca ! -user mtlsca -printf '%P\n')
[ -z "$others" ] || fail "files under /var/lib/mtlsca not owned by mtlsca: $others"
open=$(in_chroot find /var/lib/mtlsca -type f -perm /077 ! -path '*/public/*' \
    ! -name '*.pem' -printf '%P %m\n')
[ -z "$open" ] || fail "group or others may read (UMask=0077?): $open"
ok "SIGTERM: exit 0; all of /var/lib/mtlsca is mtlsca's, only certificates and public/ readable by others"

as_mtlsca /usr/bin/mtlsca --config /etc/mtlsca/ca.conf list
out=$("${RUN[@]}" 2>&1) ||
    fail "mtlsca list as mtlsca: $out"
[ -n "$out" ] || fail "mtlsca list shows nothing (serve issued its HTTPS certificate)"
ok "as mtlsca: mtlsca list ($(printf '%s\n' "$out" | wc -l) line(s))"

# ---- purge: the configuration goes, the CA stays ----
in_chroot apt-get -q purge -y mtlsca >>"$work/apt.log" 2>&1 ||
    { tail -n 20 "$work/apt.log" >&2; fail "apt-get purge mtlsca"; }
[ ! -e "$root/usr/bin/mtlsca" ] && [ ! -e "$root/etc/mtlsca/ca.conf" ] ||
    fail "purge left the binary or the conffile"
[ -f "$root/var/lib/mtlsca/private/ca.key" ] && [ -d "$root/var/lib/mtlsca/db" ] ||
    fail "purge removed the CA in /var/lib/mtlsca"
ok "purge: binary and conffile gone, /var/lib/mtlsca (CA key, store) kept"

t_end=$SECONDS
echo "--- chroot step: $((t_end - t0)) s (base $((t_base - t0)) s, $cache_state cache; install $((t_install - t_base)) s; checks $((t_end - t_install)) s)"
echo "chroot_install: $passed passed, 0 failed"
