// libFuzzer entry point for one target, chosen at compile time: -DPINFS_FUZZ_TARGET=service_json.
// Built only by scripts/fuzz.sh (clang, -fsanitize=fuzzer); the ordinary build replays the corpus instead.
#include "fuzz_targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  pinfs::fuzz::PINFS_FUZZ_TARGET(data, size);
  return 0;
}
