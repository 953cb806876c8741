#!/bin/sh
# Run every test: set up and build as ./packaging/setup.sh does, install the
# test peers that are missing, then run ctest on build/. Idempotent.
#
#   ./packaging/test.sh                   every test
#   ./packaging/test.sh -R serve_notify   ctest's own options pass through
#
# Environment: as setup.sh (MTLSCA_SETUP_NO_APT, MTLSCA_BUILD_DIR...), and
#   MTLSCA_TEST_JOBS=N      ctest -jN (default 2)
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${MTLSCA_BUILD_DIR:-$src/build}

# The end-to-end tests' independent checkers and peers (openssl, certtool,
# python3-cryptography, curl, nginx, Swift's S3 API, botocore for the ELBv2
# stand-in, SoftHSM for PKCS#11), the benchmarks (wrk, time; golang-cfssl:
# the issuance CPU baseline of tests/bench/cfssl_bench.sh), clang for the
# fuzz targets, systemd-analyze for the unit checks, and what building the
# .deb and its chroot test need (debhelper, lintian, debootstrap), strace
# for the system calls e2e/http_tls_push.sh counts, valgrind for
# unit.test_http_tlspush_memcheck.
TEST_PKGS="gnutls-bin openssl python3 python3-cryptography curl nginx-light
lmdb-utils python3-swift python3-botocore wrk time clang libclang-rt-14-dev
softhsm2 systemd dpkg-dev debhelper lintian debootstrap golang-cfssl strace valgrind"

"$src/packaging/setup.sh"
. "$src/packaging/apt.sh"
# shellcheck disable=SC2086
apt_ensure $TEST_PKGS

exec ctest --test-dir "$build" --output-on-failure \
    -j"${MTLSCA_TEST_JOBS:-2}" "$@"
