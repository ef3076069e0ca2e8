// Fuzz targets over the real parsers. Each takes any bytes and must neither crash nor leak nor hang; a
// parser's answer (value or Error) is checked for the invariants it promises. The same functions run
// under libFuzzer (libfuzzer_main.cc, scripts/fuzz.sh) and, replaying tests/fuzz/corpus/, in test_fuzz.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pinfs::fuzz {

using Target = void (*)(const std::uint8_t* data, std::size_t size);

void service_json(const std::uint8_t* data, std::size_t size);  // every Pinata/AIOZ decoder, error_reason
void cid_text(const std::uint8_t* data, std::size_t size);   // Cid::parse, from_bytes, normalize, multibase
void dagpb(const std::uint8_t* data, std::size_t size);      // decode_pb, decode_unixfs, round trips
void multipart(const std::uint8_t* data, std::size_t size);  // the emulator's MultipartIngest + upload root
void config(const std::uint8_t* data, std::size_t size);     // the config file parser (TOML)

struct NamedTarget {
  const char* name;  // also the corpus folder: tests/fuzz/corpus/<name>/
  Target fn;
};
const std::vector<NamedTarget>& all_targets();

}  // namespace pinfs::fuzz
