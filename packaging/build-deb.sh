#!/bin/sh
# Build the Debian package (packaging/debian/) into build/deb/:
#
#   ./packaging/build-deb.sh        ->  build/deb/mtlsca_VERSION_ARCH.deb
#
# dpkg-buildpackage wants debian/ at the root of the source tree and writes
# its results into the parent directory, after running `debian/rules clean`
# on the tree. Rather than a debian/ at the root of the repository (and
# .debs beside the work tree), this stages a copy of the source (the files
# git knows, as they are in the work tree, plus new ones it does not ignore)
# in build/deb/mtlsca-VERSION/ with packaging/debian/ as its debian/, and
# runs `dpkg-buildpackage -us -uc -b` there: a clean tree every time, no
# stale build/ picked up, nothing written outside build/. Then lintian,
# which must report no error and no warning (MTLSCA_DEB_NO_LINTIAN=1 skips
# it). Needs debhelper, dpkg-dev and lintian: ./packaging/test.sh installs
# them.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
out=${MTLSCA_DEB_DIR:-$src/build/deb}
deb=$src/packaging/debian

version=$(dpkg-parsechangelog -l "$deb/changelog" -S Version)
upstream=${version%%-*}
cmake_version=$(sed -n 's/^project(mtlsca VERSION \([0-9.]*\).*/\1/p' \
    "$src/CMakeLists.txt")
if [ "$upstream" != "$cmake_version" ]; then
	echo "build-deb.sh: packaging/debian/changelog says $version," \
	    "CMakeLists.txt $cmake_version: add a changelog entry" >&2
	exit 1
fi

stage=$out/mtlsca-$upstream
rm -rf "$out"
mkdir -p "$stage"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# Files deleted in the work tree but still in the index are skipped.
	(cd "$src" && git ls-files -z --cached --others --exclude-standard |
	    tar --null --ignore-failed-read -T - -cf - 2>/dev/null) |
	    tar -xf - -C "$stage"
else
	(cd "$src" && tar --exclude='./build*' --exclude=./.git \
	    --exclude=./mtlsca-data -cf - .) | tar -xf - -C "$stage"
fi
cp -R "$deb" "$stage/debian"

(cd "$stage" && dpkg-buildpackage -us -uc -b -jauto)

changes=$out/mtlsca_${version}_$(dpkg-architecture -qDEB_HOST_ARCH).changes
if [ "${MTLSCA_DEB_NO_LINTIAN:-}" != 1 ]; then
	# Errors and warnings fail; informational tags are shown.
	lintian --info --display-info --fail-on error,warning "$changes"
fi
ls -l "$out"/*.deb
