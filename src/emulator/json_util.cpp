#include "pinfs/emulator/json_util.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>

namespace pinfs::emulator {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string iso_time(std::int64_t us, int digits) {
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::int64_t frac = us % 1000000;
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (digits > 0) {
    char f[16];
    std::snprintf(f, sizeof f, "%06lld", static_cast<long long>(frac));
    out += '.';
    out.append(f, static_cast<std::size_t>(std::min(digits, 6)));
  }
  out += 'Z';
  return out;
}

std::optional<std::int64_t> parse_iso(std::string_view text) {
  std::string s(text);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &consumed) != 3) return std::nullopt;
  std::size_t pos = static_cast<std::size_t>(consumed);
  std::int64_t frac_us = 0;
  int tz_offset_s = 0;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == ' ')) {
    int c2 = 0;
    if (std::sscanf(s.c_str() + pos + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &c2) != 3) return std::nullopt;
    pos += 1 + static_cast<std::size_t>(c2);
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      std::int64_t scale = 100000;
      while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
        frac_us += (s[pos] - '0') * scale;
        scale /= 10;
        ++pos;
      }
    }
    if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
      int sign = s[pos] == '-' ? -1 : 1;
      int th = 0, tm = 0;
      std::string rest = s.substr(pos + 1);
      if (std::sscanf(rest.c_str(), "%2d:%2d", &th, &tm) < 1) return std::nullopt;
      tz_offset_s = sign * (th * 3600 + tm * 60);
    }
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  std::time_t t = ::timegm(&tm);
  return (static_cast<std::int64_t>(t) - tz_offset_s) * 1000000 + frac_us;
}

namespace {
std::mt19937_64& rng() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen;
}
}  // namespace

std::string new_uuid() {
  std::uint64_t a = rng()(), b = rng()();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

std::string random_token(std::size_t length) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;  // credentials: use the OS entropy source directly
  std::uniform_int_distribution<std::size_t> pick(0, sizeof(alphabet) - 2);
  std::string s;
  for (std::size_t i = 0; i < length; ++i) s += alphabet[pick(rd)];
  return s;
}

bool kv_from_json(const rapidjson::Value& v, KvValue& out) {
  if (v.IsString()) {
    out.type = KvValue::Type::String;
    out.str.assign(v.GetString(), v.GetStringLength());
    return true;
  }
  if (v.IsNumber()) {
    out.type = KvValue::Type::Number;
    out.num = v.GetDouble();
    return true;
  }
  if (v.IsBool()) {
    out.type = KvValue::Type::Bool;
    out.boolean = v.GetBool();
    return true;
  }
  return false;
}

void kv_write(JsonWriter& w, const KvValue& v) {
  switch (v.type) {
    case KvValue::Type::String:
      w.String(v.str.c_str(), static_cast<rapidjson::SizeType>(v.str.size()));
      break;
    case KvValue::Type::Number:
      if (std::floor(v.num) == v.num && std::fabs(v.num) < 9e15)
        w.Int64(static_cast<std::int64_t>(v.num));
      else
        w.Double(v.num);
      break;
    case KvValue::Type::Bool:
      w.Bool(v.boolean);
      break;
  }
}

void keyvalues_write(JsonWriter& w, const KeyValues& kvs) {
  w.StartObject();
  for (auto& [k, v] : kvs) {
    w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
    kv_write(w, v);
  }
  w.EndObject();
}

std::string kv_as_text(const KvValue& v) {
  switch (v.type) {
    case KvValue::Type::String:
      return v.str;
    case KvValue::Type::Number: {
      rapidjson::StringBuffer sb;
      JsonWriter w(sb);
      kv_write(w, v);
      return sb.GetString();
    }
    case KvValue::Type::Bool:
      return v.boolean ? "true" : "false";
  }
  return {};
}

std::string json_escape_string(std::string_view s) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return sb.GetString();
}

std::string guess_mime(std::string_view name) {
  static const std::pair<const char*, const char*> table[] = {
      {".txt", "text/plain"},      {".html", "text/html"},      {".htm", "text/html"},
      {".css", "text/css"},        {".js", "text/javascript"},  {".json", "application/json"},
      {".png", "image/png"},       {".jpg", "image/jpeg"},      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},       {".svg", "image/svg+xml"},   {".webp", "image/webp"},
      {".pdf", "application/pdf"}, {".mp4", "video/mp4"},       {".mp3", "audio/mpeg"},
      {".zip", "application/zip"}, {".gz", "application/gzip"}, {".tar", "application/x-tar"},
      {".md", "text/markdown"},    {".xml", "application/xml"}, {".wasm", "application/wasm"},
  };
  auto dot = name.rfind('.');
  if (dot != std::string_view::npos) {
    std::string ext(name.substr(dot));
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    for (auto& [e, m] : table)
      if (ext == e) return m;
  }
  return "application/octet-stream";
}

}  // namespace pinfs::emulator
