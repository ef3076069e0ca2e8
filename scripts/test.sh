#!/usr/bin/env bash
# The test command of the README: configure, build, run every GoogleTest suite with ctest.
#   scripts/test.sh              # release build in build/
#   PINFS_SANITIZE=ON scripts/test.sh   # ASan + UBSan build in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=${PINFS_SANITIZE:-OFF}
build_dir=build
[ "$sanitize" = "ON" ] && build_dir=build-asan
jobs=$(nproc)

# Warnings are errors here (and in CI); a user's or packager's plain `cmake` build keeps them warnings.
cmake -S . -B "$build_dir" -DPINFS_SANITIZE="$sanitize" -DPINFS_WERROR=ON >/dev/null
cmake --build "$build_dir" -j"$jobs"
ctest --test-dir "$build_dir" --output-on-failure -j"$jobs" --timeout 600
