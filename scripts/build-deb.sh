#!/bin/sh
# Builds the Debian package cloudaware-exporter_<version>_<arch>.deb with
# Debian's tools (dpkg-buildpackage, debhelper) from the files git tracks,
# into build/deb/ (or OUT). Runs lintian on the result.
#   scripts/build-deb.sh && apt install ./build/deb/cloudaware-exporter_*.deb
set -eu
cd "$(dirname "$0")/.."
deploy/install-deps.sh --package
out=$(realpath -m "${OUT:-build/deb}")
revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo "")

# A clean copy of the sources with the packaging as debian/: the package
# builds from what is committed or staged, never from build trees.
rm -rf "$out"
src="$out/cloudaware-exporter"
mkdir -p "$src"
git ls-files -z --cached | grep -zv '^packaging/debian/' |
  tar -c --null --no-recursion --ignore-failed-read -T - -f - 2>/dev/null | tar -C "$src" -x
cp -r packaging/debian "$src/debian"

echo "== dpkg-buildpackage (revision ${revision:-unknown})"
# -j2 unless DEB_BUILD_OPTIONS says otherwise; the host is shared.
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=2 nocheck}"
# ccache, where there is one, makes a rebuild of unchanged sources quick.
launcher=$(command -v ccache || true)
(cd "$src" && CLOUDAWARE_REVISION="$revision" CMAKE_LAUNCHER="$launcher" CCACHE_BASEDIR="$src" \
  dpkg-buildpackage -b -us -uc --no-sign >"$out/build.log" 2>&1) ||
  { tail -40 "$out/build.log"; echo "build-deb: dpkg-buildpackage failed ($out/build.log)" >&2; exit 1; }
rm -rf "$src"
deb=$(ls "$out"/cloudaware-exporter_*.deb)
echo "built $deb"

echo "== lintian"
# Errors and warnings fail the build; info and pedantic tags are shown.
lintian --info --display-info --pedantic --fail-on error,warning "$out"/*.changes
echo "lintian: no errors or warnings"
