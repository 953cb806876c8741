#!/bin/sh
# Set up a Debian 12 machine to build, run and test mtlsca, then build it
# into build/. Idempotent: run it again at any time.
#
#   ./packaging/setup.sh
#
# As root it uses apt-get directly; otherwise through sudo. Environment:
#   MTLSCA_SETUP_NO_APT=1   skip the package installation (build only)
#   MTLSCA_BUILD_DIR=DIR    build directory (default: build)
#   MTLSCA_BUILD_TYPE=TYPE  CMake build type (default: RelWithDebInfo)
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${MTLSCA_BUILD_DIR:-$src/build}
type=${MTLSCA_BUILD_TYPE:-RelWithDebInfo}

# Exactly what building, running and testing everything needs.
BUILD_PKGS="cmake gcc make pkg-config libgnutls28-dev liblmdb-dev
libconfig-dev libjansson-dev libmicrohttpd-dev libcurl4-gnutls-dev
libxml2-dev libcmocka-dev"
# The end-to-end tests' independent checkers and peers, the benchmarks
# (golang-cfssl: the issuance CPU baseline of tests/bench/cfssl_bench.sh),
# and clang for the fuzz targets.
TEST_PKGS="gnutls-bin openssl python3 python3-cryptography curl nginx-light
lmdb-utils python3-swift python3-botocore wrk time clang libclang-rt-14-dev
softhsm2 golang-cfssl"

if [ "${MTLSCA_SETUP_NO_APT:-}" != 1 ]; then
	if [ "$(id -u)" -eq 0 ]; then
		SUDO=
	elif command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "setup.sh: not root and no sudo: cannot install packages" >&2
		exit 1
	fi
	# Only touch apt when something is missing: a second run is quick
	# and works offline.
	missing=
	for p in $BUILD_PKGS $TEST_PKGS; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q "install ok installed"; then
			missing="$missing $p"
		fi
	done
	if [ -n "$missing" ]; then
		echo "setup.sh: installing:$missing"
		$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
		# shellcheck disable=SC2086
		$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y \
		    --no-install-recommends $BUILD_PKGS $TEST_PKGS
	else
		echo "setup.sh: all packages present"
	fi
fi

cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE="$type" -DMTLSCA_WERROR=ON
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)"
echo "setup.sh: built $build/mtlsca; run the tests with:"
echo "  ctest --test-dir $build --output-on-failure -j2"
