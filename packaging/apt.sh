# Sourced by packaging/setup.sh and packaging/test.sh: apt_ensure PKG...
# installs the packages that are not installed yet, and touches apt only
# then (a second run is quick and works offline). As root it uses apt-get
# directly, otherwise sudo. MTLSCA_SETUP_NO_APT=1 skips it. apt may be busy
# (another setup running beside this one): wait for its locks and retry.

apt_ensure() {
	_missing=
	[ "${MTLSCA_SETUP_NO_APT:-}" = 1 ] && return 0
	for _p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$_p" 2>/dev/null |
		    grep -q "install ok installed"; then
			_missing="$_missing $_p"
		fi
	done
	if [ -z "$_missing" ]; then
		echo "$(basename "$0"): all packages present"
		return 0
	fi
	if [ "$(id -u)" -eq 0 ]; then
		_sudo=
	elif command -v sudo >/dev/null 2>&1; then
		_sudo=sudo
	else
		echo "$(basename "$0"): not root and no sudo: cannot install" \
		    "$_missing" >&2
		return 1
	fi
	echo "$(basename "$0"): installing:$_missing"
	for _try in 1 2 3 4 5; do
		# shellcheck disable=SC2086
		if $_sudo env DEBIAN_FRONTEND=noninteractive apt-get \
		    -o DPkg::Lock::Timeout=300 update &&
		    $_sudo env DEBIAN_FRONTEND=noninteractive apt-get \
		    -o DPkg::Lock::Timeout=300 install -y \
		    --no-install-recommends $_missing; then
			return 0
		fi
		echo "$(basename "$0"): apt failed (try $_try of 5)," \
		    "retrying in 20 s" >&2
		sleep 20
	done
	return 1
}
