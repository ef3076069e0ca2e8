// RapidJSON accessors that treat absent, null and wrongly typed fields as "not there".
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pinfs/common/error.hpp"
#include "pinfs/service/pin_service.hpp"

namespace pinfs::service::json {

using Value = rapidjson::Value;

// Parses a whole body; EIO "<what>: malformed JSON at offset N: reason" on failure.
Result<rapidjson::Document> parse(std::string_view body, std::string_view what);

const Value* member(const Value& object, const char* key);         // nullptr unless present and not null
const Value* object_member(const Value& object, const char* key);  // nullptr unless an object
const Value* array_member(const Value& object, const char* key);   // nullptr unless an array
std::string string_member(const Value& object, const char* key);   // numbers are printed; else ""
std::optional<std::uint64_t> uint_member(const Value& object, const char* key);  // number or digit string
bool bool_member(const Value& object, const char* key, bool fallback = false);
std::int64_t time_member(const Value& object, const char* key);  // 0 when absent or unparseable
KeyValues keyvalues_of(const Value* object);  // strings kept, numbers/bools printed, nulls dropped
// Empty or CID-shaped text (letters and digits, at most 200); else EIO "<what>: <field> … is not a CID".
Result<void> check_cid(const std::string& cid, std::string_view what, std::string_view field);

}  // namespace pinfs::service::json
