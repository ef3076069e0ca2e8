#!/usr/bin/env bash
# Builds the Debian package from an existing build tree (default build/, the one scripts/test.sh made:
# nothing is compiled again) and checks it with lintian.
#   scripts/package.sh [BUILD_DIR]     -> BUILD_DIR/pinfs_<version>_<arch>.deb
# The tree is re-configured with the install prefix /usr (the units run /usr/bin/pinfs, the mount helper
# goes to /sbin); that changes no compile flag, so only the install rules change.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}

cmake -S . -B "$build_dir" -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
rm -f "$build_dir"/pinfs_*.deb
(cd "$build_dir" && cpack -G DEB >/dev/null)
deb=$(ls "$build_dir"/pinfs_*.deb)
echo "package: $deb"
dpkg-deb --info "$deb" | sed -n 's/^ \(Package\|Version\|Architecture\|Depends\):/  \1:/p'
dpkg-deb --contents "$deb" | awk '{print "  " $6}' | grep -v '/$'

# lintian: errors fail the build; the warnings kept are listed (and explained) in the README.
echo "lintian:"
status=0
lintian --fail-on error --tag-display-limit 0 "$deb" >"$build_dir/lintian.txt" 2>&1 || status=$?
grep -v "^running with root privileges" "$build_dir/lintian.txt" | sed 's/^/  /' || true
[ "$status" -eq 0 ] || { echo "lintian found errors" >&2; exit "$status"; }
echo "  no errors"
