#include "pinfs/cli/status_view.hpp"

#include <fcntl.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace pinfs::cli {
namespace {

std::uint64_t u64(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return 0;
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd()) return 0;
  if (it->value.IsUint64()) return it->value.GetUint64();
  if (it->value.IsNumber() && it->value.GetDouble() > 0)
    return static_cast<std::uint64_t>(it->value.GetDouble());
  return 0;
}

std::string str(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return {};
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

std::string percent(std::uint64_t part, std::uint64_t whole) {
  if (whole == 0) return "-";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.0f%%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return buf;
}

}  // namespace

std::size_t MountStatus::in_flight() const {
  return static_cast<std::size_t>(std::count_if(pending.begin(), pending.end(), [](const PendingUpload& p) {
    return p.state == "queued" || p.state == "uploading";
  }));
}

std::uint64_t MountStatus::in_flight_bytes_left() const {
  std::uint64_t left = 0;
  for (const auto& p : pending)
    if ((p.state == "queued" || p.state == "uploading") && p.size > p.sent) left += p.size - p.sent;
  return left;
}

Result<MountStatus> parse_status(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return fail(EINVAL, std::string("status is not JSON: ") +
                            (doc.HasParseError() ? rapidjson::GetParseError_En(doc.GetParseError())
                                                 : "not an object"));
  }
  MountStatus s;
  s.upload_mode = str(doc, "upload_mode");
  if (auto it = doc.FindMember("totals"); it != doc.MemberEnd()) {
    s.pins = u64(it->value, "pins");
    s.bytes = u64(it->value, "bytes");
  }
  if (auto it = doc.FindMember("pending_uploads"); it != doc.MemberEnd() && it->value.IsArray()) {
    for (const auto& p : it->value.GetArray())
      s.pending.push_back(
          PendingUpload{str(p, "name"), str(p, "state"), str(p, "reason"), u64(p, "size"), u64(p, "sent")});
  }
  if (auto it = doc.FindMember("jobs"); it != doc.MemberEnd() && it->value.IsArray()) {
    for (const auto& j : it->value.GetArray()) s.job_lines.emplace_back(str(j, "name"), str(j, "status"));
    s.jobs = s.job_lines.size();
  }
  if (auto it = doc.FindMember("directories"); it != doc.MemberEnd() && it->value.IsArray())
    for (const auto& d : it->value.GetArray()) s.directories.emplace_back(str(d, "name"), str(d, "status"));
  if (auto it = doc.FindMember("notices"); it != doc.MemberEnd() && it->value.IsArray())
    for (const auto& n : it->value.GetArray()) s.notices.emplace_back(str(n, "cid"), str(n, "notice"));
  if (auto it = doc.FindMember("cache"); it != doc.MemberEnd() && it->value.IsObject()) {
    s.has_cache = true;
    s.cache_bytes = u64(it->value, "bytes");
    s.cache_max = u64(it->value, "max_bytes");
    s.cache_entries = u64(it->value, "entries");
    s.cache_hits = u64(it->value, "hits");
    s.cache_misses = u64(it->value, "misses");
  }
  if (auto it = doc.FindMember("index"); it != doc.MemberEnd() && it->value.IsObject()) {
    s.has_index = true;
    s.index_pins = u64(it->value, "pins");
    auto seconds = [&](const char* key) -> std::int64_t {
      auto m = it->value.FindMember(key);
      return m != it->value.MemberEnd() && m->value.IsInt64() ? m->value.GetInt64() : 0;
    };
    s.last_sync = seconds("last_sync");
    s.next_refresh = seconds("next_refresh");
    s.poll_interval = seconds("poll_interval");
    auto complete = it->value.FindMember("complete");
    s.index_complete =
        complete != it->value.MemberEnd() && complete->value.IsBool() && complete->value.GetBool();
  }
  if (auto it = doc.FindMember("requests"); it != doc.MemberEnd() && it->value.IsObject()) {
    for (const auto& m : it->value.GetObject())
      s.requests.emplace_back(m.name.GetString(), m.value.IsUint64() ? m.value.GetUint64() : 0);
  }
  return s;
}

std::string progress_bar(std::uint64_t done, std::uint64_t total, std::size_t width) {
  const std::size_t inner = width > 2 ? width - 2 : 1;
  const double fraction =
      total == 0 ? 0.0 : std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
  const auto filled = static_cast<std::size_t>(fraction * static_cast<double>(inner) + 0.5);
  char pct[8];
  std::snprintf(pct, sizeof pct, "%3.0f%%", fraction * 100.0);
  std::string bar = "[";  // appended, not "[" + …: GCC 12 -O3 misreports that (-Wrestrict)
  bar.append(filled, '#');
  bar.append(inner - filled, '-');
  bar += "] ";
  bar += pct;
  return bar;
}

std::string human_bytes(std::uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  std::size_t u = 0;
  while (v >= 1024.0 && u + 1 < std::size(units)) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string render_status(const MountStatus& s, const std::string& mountpoint) {
  std::string out = mountpoint + "\n";
  out += "  pinned:   " + std::to_string(s.pins) + (s.pins == 1 ? " pin, " : " pins, ") +
         human_bytes(s.bytes) + "\n";
  if (!s.upload_mode.empty()) out += "  uploads:  " + s.upload_mode + "\n";
  if (s.has_index) {
    auto utc = [](std::int64_t t) {
      std::time_t tt = t;
      std::tm tm{};
      gmtime_r(&tt, &tm);
      char buf[32];
      std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
      return std::string(buf);
    };
    out += "  index:    " + std::to_string(s.index_pins) + (s.index_pins == 1 ? " pin" : " pins");
    if (!s.index_complete)
      out += ", first listing in progress";
    else
      out += ", last sync " + (s.last_sync ? utc(s.last_sync) : std::string("never"));
    if (s.next_refresh) out += ", next refresh " + utc(s.next_refresh);
    if (s.poll_interval) out += " (every " + std::to_string(s.poll_interval) + " s)";
    out += "\n";
  }
  if (s.pending.empty()) {
    out += "  pending:  none\n";
  } else {
    out += "  pending:  " + std::to_string(s.pending.size()) +
           (s.pending.size() == 1 ? " upload" : " uploads") + " (" + human_bytes(s.in_flight_bytes_left()) +
           " left to send)\n";
    std::size_t name_width = 0;
    for (const auto& p : s.pending)
      name_width = std::max(name_width, std::min<std::size_t>(p.name.size(), 40));
    for (const auto& p : s.pending) {
      std::string name = p.name.size() > 40 ? p.name.substr(0, 39) + "~" : p.name;
      name.resize(name_width, ' ');
      std::string state = p.state;
      state.resize(9, ' ');
      out += "    " + name + "  " + state + " " + progress_bar(p.sent, p.size) + "  " + human_bytes(p.sent) +
             " / " + human_bytes(p.size);
      if (!p.reason.empty()) out += "  (" + p.reason + ")";
      out += "\n";
    }
  }
  if (s.jobs > 0) {
    out += "  jobs:     " + std::to_string(s.jobs) + "\n";
    for (const auto& [name, status] : s.job_lines) out += "    " + name + "  " + status + "\n";
  }
  if (!s.directories.empty()) {
    out += "  new directories:\n";
    for (const auto& [name, status] : s.directories) out += "    " + name + "/  " + status + "\n";
  }
  for (const auto& [cid, notice] : s.notices) out += "  notice: " + cid + ": " + notice + "\n";
  if (s.has_cache) {
    out += "  cache:    " + human_bytes(s.cache_bytes) + " of " + human_bytes(s.cache_max) + " in " +
           std::to_string(s.cache_entries) + " entries; hit rate " +
           percent(s.cache_hits, s.cache_hits + s.cache_misses) + " (" + std::to_string(s.cache_hits) +
           " hits, " + std::to_string(s.cache_misses) + " misses)\n";
  }
  if (!s.requests.empty()) {
    out += "  requests:";
    std::string line;
    for (const auto& [name, count] : s.requests) {
      std::string item =
          " " + name + " " +
          (name.find("bytes") != std::string::npos ? human_bytes(count) : std::to_string(count));
      if (line.size() + item.size() > 90) {
        out += line + "\n           ";
        line.clear();
      }
      line += (line.empty() ? "" : ",") + item;
    }
    out += line + "\n";
  }
  return out;
}

Result<std::string> read_status_file(const std::string& mountpoint) {
  const std::string path = mountpoint + "/.pinfs/status";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail_errno("cannot read " + path);
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto e = fail_errno("cannot read " + path);
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

}  // namespace pinfs::cli
