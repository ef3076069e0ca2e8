#!/usr/bin/env bash
# Builds the coverage-guided fuzz targets (tests/fuzz/) with clang + libFuzzer + ASan + UBSan over the real
# decoders, unchanged, and runs each for SECONDS (default 60; one target per core at a time) starting from
# its seed corpus in tests/fuzz/corpus/<target>/. A crash, leak, timeout or broken invariant fails the
# script and leaves the input in build-fuzz/artifacts/<target>/; copy it into the corpus folder as a
# regression input (test_fuzz replays every corpus file in the ordinary build).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      e.g. scripts/fuzz.sh 30 service_json cid_text
#
# Needs clang-16 with libc++ (libstdc++ 12 has no std::expected under clang): scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
all_targets=(service_json cid_text dagpb multipart config)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")

CXX="${FUZZ_CXX:-clang++-16}"
command -v "$CXX" >/dev/null || { echo "fuzz.sh: $CXX not found (apt-get install clang-16 libc++-16-dev libc++abi-16-dev libclang-rt-16-dev)" >&2; exit 2; }
launcher=""
command -v ccache >/dev/null && launcher=ccache

fuzzer_runtime="$("$CXX" -print-file-name=libclang_rt.fuzzer-x86_64.a)"
[ -f "$fuzzer_runtime" ] || fuzzer_runtime="$(dirname "$("$CXX" -print-libgcc-file-name --rtlib=compiler-rt)")/libclang_rt.fuzzer-x86_64.a"
out=build-fuzz
mkdir -p "$out/obj" "$out/bin"
# libc++ throughout; spdlog, fmt and toml++ header-only so that no libstdc++-built library is linked.
flags=(-std=c++2b -stdlib=libc++ -O1 -g -fno-omit-frame-pointer -Iinclude -Isrc
       -DSPDLOG_HEADER_ONLY -DFMT_HEADER_ONLY -DTOML_HEADER_ONLY=1
       # toml++'s own debug assertions are off, as in Debian's libtomlplusplus that pinfs links (NDEBUG):
       # toml++ 3.3 asserts on "[.key]" in parse_key; the target checks what pinfs does with toml++'s answers.
       "-DTOML_ASSERT(expr)=((void)0)"
       -fsanitize=address,undefined -fno-sanitize-recover=all -fsanitize-ignorelist=tests/fuzz/ubsan_ignorelist.txt
       -Wno-unused-command-line-argument)
sources=(
  src/common/error.cpp src/common/log.cpp
  src/cid/cid.cpp src/cid/multibase.cpp src/cid/dagpb.cpp src/cid/importer.cpp src/cid/directory.cpp
  src/service/json_util.cpp src/service/pinata_json.cpp src/service/aioz_json.cpp
  src/emulator/upload.cpp src/emulator/block_store.cpp src/emulator/json_util.cpp
  src/cli/config.cpp src/cli/credentials.cpp
  tests/fuzz/targets.cpp
)
objects=()
pids=()
for src in "${sources[@]}"; do
  obj="$out/obj/$(echo "$src" | tr / _).o"
  objects+=("$obj")
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find include src/service -newer "$obj" -name '*.hpp' -print -quit)" ]; then
    $launcher "$CXX" "${flags[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj" &
    pids+=($!)
    if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
  fi
done
for p in "${pids[@]}"; do wait "$p"; done

for t in "${targets[@]}"; do
  # Debian's libFuzzer runtime is itself built on libstdc++: link it by hand, with libstdc++ after it (the two
  # standard libraries live in different namespaces, std:: vs std::__1::, and do not meet).
  $launcher "$CXX" "${flags[@]}" -fsanitize=fuzzer-no-link -DPINFS_FUZZ_TARGET="$t" tests/fuzz/libfuzzer_main.cc \
    "${objects[@]}" -lcrypto -Wl,--whole-archive "$fuzzer_runtime" -Wl,--no-whole-archive -l:libstdc++.so.6 \
    -o "$out/bin/fuzz_$t"
done

run_target() {  # run_target TARGET: one libFuzzer process for $seconds; its verdict in $out/TARGET.status
  local t=$1 work="$out/corpus/$1" artifacts="$out/artifacts/$1/"
  mkdir -p "$work" "$artifacts"
  if "$out/bin/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -print_final_stats=1 -artifact_prefix="$artifacts" "$work" "tests/fuzz/corpus/$t" >"$out/$t.log" 2>&1; then
    echo ok >"$out/$t.status"
  else
    echo failed >"$out/$t.status"
  fi
}

# One target per core at a time (each libFuzzer process is single-threaded).
running=()
for t in "${targets[@]}"; do
  echo "fuzz.sh: $t for ${seconds}s"
  rm -f "$out/$t.status"
  run_target "$t" &
  running+=($!)
  if [ ${#running[@]} -ge "$(nproc)" ]; then wait "${running[0]}"; running=("${running[@]:1}"); fi
done
for p in "${running[@]}"; do wait "$p"; done

status=0
for t in "${targets[@]}"; do
  if [ "$(cat "$out/$t.status" 2>/dev/null)" != ok ]; then
    echo "fuzz.sh: $t FAILED; input in $out/artifacts/$t/, log $out/$t.log" >&2
    tail -40 "$out/$t.log" >&2
    status=1
  else
    printf '%s: ' "$t"
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$out/$t.log" | tr '\n' ' '; echo
  fi
done
exit $status
