// Pieces of request building that Pinata and AIOZ share: JSON metadata, list cursors, multipart file parts.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "pinfs/cid/cid.hpp"
#include "pinfs/common/error.hpp"
#include "pinfs/http/http_client.hpp"
#include "pinfs/service/pin_service.hpp"

namespace pinfs::service::detail {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

inline void write_string(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// {"name": …, "keyvalues": {…}}; an empty keyvalues object is left out unless asked for.
inline void write_metadata(Writer& w, const std::string& name, const KeyValues& keyvalues,
                           bool empty_keyvalues) {
  w.StartObject();
  w.Key("name");
  write_string(w, name);
  if (empty_keyvalues || !keyvalues.empty()) {
    w.Key("keyvalues");
    w.StartObject();
    for (const auto& [k, v] : keyvalues) {
      write_string(w, k);
      write_string(w, v);
    }
    w.EndObject();
  }
  w.EndObject();
}

inline std::string metadata_json(const std::string& name, const KeyValues& keyvalues, bool empty_keyvalues) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  write_metadata(w, name, keyvalues, empty_keyvalues);
  return buffer.GetString();
}

inline std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// ListQuery cursors of both providers are offsets; empty is the first page.
inline Result<std::uint64_t> parse_cursor(const std::string& cursor) {
  if (cursor.empty()) return 0;
  std::uint64_t offset = 0;
  auto [end, ec] = std::from_chars(cursor.data(), cursor.data() + cursor.size(), offset);
  if (ec != std::errc() || end != cursor.data() + cursor.size())
    return fail(EINVAL, "bad list cursor: " + cursor);
  return offset;
}

inline std::string without_trailing_slashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// Two spellings of one CID (v0 and v1 of one DAG, any multibase) are the same; text that does not parse is
// compared as text.
inline bool same_cid(const std::string& a, const std::string& b) {
  if (a == b) return true;
  auto pa = cid::Cid::parse(a);
  auto pb = cid::Cid::parse(b);
  return pa && pb && pa->to_v1() == pb->to_v1();
}

// One `file` part per file, named by its path under the upload's base directory, as both services expect;
// then one empty `application/x-directory` part per empty directory (Kubo's multipart convention for
// directories, the only way a multipart upload can carry one).
inline void add_directory_files(http::MultipartBody& body, const DirectoryUpload& upload) {
  for (const auto& file : upload.files) {
    body.parts.push_back(
        {"file", upload.name + "/" + file.relative_path, "application/octet-stream", "", file.local_path});
  }
  for (const auto& dir : upload.directories)
    body.parts.push_back({"file", upload.name + "/" + dir, "application/x-directory", "", ""});
}

}  // namespace pinfs::service::detail
