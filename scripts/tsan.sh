#!/usr/bin/env bash
# ThreadSanitizer run over the threaded layers: builds build-tsan/ with -fsanitize=thread and runs the http,
# service, vfs and cache suites (the emulator they start is built the same way). Any data race or
# lock-order inversion fails the run (halt_on_error).
#   scripts/tsan.sh [LABEL...]      default: http service vfs cache
set -euo pipefail
cd "$(dirname "$0")/.."
labels=("$@")
[ ${#labels[@]} -eq 0 ] && labels=(http service vfs cache)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
jobs=${JOBS:-2}

cmake -S . -B build-tsan "${launcher[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
targets=(pinfs-emulator)
for l in "${labels[@]}"; do targets+=("test_$l"); done
cmake --build build-tsan -j"$jobs" --target "${targets[@]}"
regex=$(IFS='|'; echo "${labels[*]}")
# tests/tsan.supp: reports from uninstrumented third-party libraries only (each entry says why).
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp ${TSAN_OPTIONS:-}" \
  ctest --test-dir build-tsan -L "^($regex)\$" -j"$jobs" --output-on-failure --timeout 900
