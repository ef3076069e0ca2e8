#include "json_util.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

#include "pinfs/service/json_decode.hpp"

namespace pinfs::service::json {

Result<rapidjson::Document> parse(std::string_view body, std::string_view what) {
  rapidjson::Document doc;
  // Iterative: a reply of a million '[' must not overflow the stack.
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError()) {
    return fail(EIO, std::string(what) + ": malformed JSON at offset " +
                         std::to_string(doc.GetErrorOffset()) + ": " +
                         rapidjson::GetParseError_En(doc.GetParseError()));
  }
  if (!doc.IsObject()) return fail(EIO, std::string(what) + ": expected a JSON object");
  return doc;
}

const Value* member(const Value& object, const char* key) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(key);
  if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

const Value* object_member(const Value& object, const char* key) {
  const Value* v = member(object, key);
  return v && v->IsObject() ? v : nullptr;
}

const Value* array_member(const Value& object, const char* key) {
  const Value* v = member(object, key);
  return v && v->IsArray() ? v : nullptr;
}

namespace {
std::string scalar_text(const Value& v) {
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsUint64()) return std::to_string(v.GetUint64());
  if (v.IsNumber()) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    v.Accept(writer);
    return buffer.GetString();
  }
  return {};
}
}  // namespace

std::string string_member(const Value& object, const char* key) {
  const Value* v = member(object, key);
  return v ? scalar_text(*v) : std::string();
}

std::optional<std::uint64_t> uint_member(const Value& object, const char* key) {
  const Value* v = member(object, key);
  if (!v) return std::nullopt;
  if (v->IsUint64()) return v->GetUint64();
  if (v->IsDouble() && v->GetDouble() >= 0 && v->GetDouble() < 18446744073709551616.0)  // 2^64
    return static_cast<std::uint64_t>(v->GetDouble());
  if (v->IsString()) {
    const std::string s(v->GetString(), v->GetStringLength());
    if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    return std::stoull(s);
  }
  return std::nullopt;
}

bool bool_member(const Value& object, const char* key, bool fallback) {
  const Value* v = member(object, key);
  if (!v) return fallback;
  if (v->IsBool()) return v->GetBool();
  if (v->IsString()) return std::string_view(v->GetString()) == "true";
  if (v->IsNumber()) return v->GetDouble() != 0;
  return fallback;
}

std::int64_t time_member(const Value& object, const char* key) {
  const Value* v = member(object, key);
  if (!v) return 0;
  if (v->IsString()) return parse_time(std::string_view(v->GetString(), v->GetStringLength())).value_or(0);
  if (v->IsInt64()) return v->GetInt64();  // some answers use epoch seconds
  return 0;
}

KeyValues keyvalues_of(const Value* object) {
  KeyValues out;
  if (!object || !object->IsObject()) return out;
  for (auto it = object->MemberBegin(); it != object->MemberEnd(); ++it) {
    if (it->value.IsNull() || it->value.IsObject() || it->value.IsArray()) continue;
    out.emplace(std::string(it->name.GetString(), it->name.GetStringLength()), scalar_text(it->value));
  }
  return out;
}

std::optional<std::int64_t> parse_time(std::string_view text) {
  int year, month, day, hour = 0, minute = 0, second = 0, consumed = 0;
  const std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &year, &month, &day, &consumed) != 3) return std::nullopt;
  std::size_t pos = static_cast<std::size_t>(consumed);
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == ' ')) {
    int used = 0;
    if (std::sscanf(s.c_str() + pos + 1, "%2d:%2d:%2d%n", &hour, &minute, &second, &used) != 3)
      return std::nullopt;
    pos += 1 + static_cast<std::size_t>(used);
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    }
  }
  long offset = 0;
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh = 0, om = 0;
    const int n = std::sscanf(s.c_str() + pos + 1, "%2d:%2d", &oh, &om);
    if (n < 1) return std::nullopt;
    offset = (s[pos] == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
  } else if (pos < s.size() && s[pos] != 'Z') {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  if (year < 1970) return 0;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<std::int64_t>(timegm(&tm)) - offset;
}

std::string format_time(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[40];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return buffer;
}

std::string error_reason(std::string_view body) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (!doc.HasParseError() && doc.IsObject()) {
    if (const Value* err = object_member(doc, "error")) {
      std::string reason = string_member(*err, "reason");
      const std::string details = string_member(*err, "details");
      if (reason.empty()) reason = string_member(*err, "message");
      if (!details.empty()) reason += reason.empty() ? details : ": " + details;
      if (!reason.empty()) return reason;
    }
    for (const char* key : {"error", "message", "msg", "detail"}) {
      std::string text = string_member(doc, key);
      if (!text.empty()) return text;
    }
  }
  std::string text(body.substr(0, 200));
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return text;
}

std::string keyvalues_json(const KeyValues& keyvalues) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  for (const auto& [k, v] : keyvalues) {
    writer.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
    writer.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  }
  writer.EndObject();
  return buffer.GetString();
}

Result<void> check_cid(const std::string& cid, std::string_view what, std::string_view field) {
  // The text becomes a URL segment and a name under /.pinfs/by-cid/: only the characters of base32/base58
  // CIDs pass. Codec and hash are checked where the CID is used (gateway reads, the upload's CID check).
  constexpr std::size_t kMaxCidText = 200;
  const bool shaped =
      !cid.empty() && cid.size() <= kMaxCidText &&
      std::all_of(cid.begin(), cid.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); });
  if (cid.empty() || shaped) return {};
  std::string shown = cid.substr(0, 80);
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return fail(EIO, std::string(what) + ": " + std::string(field) + " '" + shown +
                       "' is not a CID (only letters and digits, at most 200)");
}

}  // namespace pinfs::service::json
