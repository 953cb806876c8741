#!/bin/sh
# Set up a Debian 12 machine to build and run mtlsca, then build it into
# build/. Idempotent: run it again at any time. The test peers (nginx, an S3
# server, clang...) are ./packaging/test.sh's.
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

# Exactly what building and running need: the compiler, the libraries,
# libsystemd (sd_notify under systemd) and cmocka (the unit tests are part
# of the build).
BUILD_PKGS="cmake gcc make pkg-config libgnutls28-dev liblmdb-dev
libconfig-dev libjansson-dev libmicrohttpd-dev libcurl4-gnutls-dev
libxml2-dev libcmocka-dev libsystemd-dev"

. "$src/packaging/apt.sh"
# shellcheck disable=SC2086
apt_ensure $BUILD_PKGS

cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE="$type" -DMTLSCA_WERROR=ON
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)"
echo "setup.sh: built $build/mtlsca; run every test with ./packaging/test.sh"
