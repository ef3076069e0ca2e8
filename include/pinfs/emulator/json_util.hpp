// Small shared helpers for the emulator: time stamps, ids, metadata key-values and JSON text.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace pinfs::emulator {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

std::int64_t now_us();
// ISO 8601 UTC with `digits` fraction digits (Pinata 3, AIOZ 6); us == 0 with zero_text gives that text.
std::string iso_time(std::int64_t us, int digits);
// Accepts "2024-01-02", "2024-01-02T03:04:05(.fff)Z", "2024-01-02 03:04:05.000+00"; nullopt otherwise.
std::optional<std::int64_t> parse_iso(std::string_view text);
std::string new_uuid();
std::string random_token(std::size_t length);

struct KvValue {
  enum class Type { String, Number, Bool } type = Type::String;
  std::string str;
  double num = 0;
  bool boolean = false;
};
using KeyValues = std::map<std::string, KvValue>;

// Reads a JSON value into a KvValue (strings, numbers, booleans; false for anything else).
bool kv_from_json(const rapidjson::Value& v, KvValue& out);
void kv_write(JsonWriter& w, const KvValue& v);
void keyvalues_write(JsonWriter& w, const KeyValues& kvs);
std::string kv_as_text(const KvValue& v);

std::string json_escape_string(std::string_view s);  // returns a quoted JSON string
std::string guess_mime(std::string_view name);

}  // namespace pinfs::emulator
