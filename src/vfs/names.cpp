#include "pinfs/vfs/names.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace pinfs::vfs {

namespace {

// The escape sequences, upper or lower hex; returns the decoded char or -1.
int escape_at(std::string_view text, std::size_t i) {
  if (text[i] != '%' || i + 2 >= text.size()) return -1;
  char a = text[i + 1], b = static_cast<char>(std::toupper(static_cast<unsigned char>(text[i + 2])));
  if (a == '2' && b == '5') return '%';
  if (a == '2' && b == 'F') return '/';
  if (a == '0' && b == '0') return 0;
  if (a == '2' && b == 'E') return '.';
  return -1;
}

}  // namespace

std::string escape_name(std::string_view name) {
  if (name == ".") return "%2E";
  if (name == "..") return "%2E%2E";
  std::string out;
  out.reserve(name.size());
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '/')
      out += "%2F";
    else if (c == '\0')
      out += "%00";
    else if (c == '%' && escape_at(name, i) >= 0)
      out += "%25";
    else
      out += c;
  }
  return out;
}

std::string unescape_name(std::string_view shown) {
  std::string out;
  out.reserve(shown.size());
  for (std::size_t i = 0; i < shown.size(); ++i) {
    int c = escape_at(shown, i);
    if (c >= 0) {
      out += static_cast<char>(c);
      i += 2;
    } else {
      out += shown[i];
    }
  }
  return out;
}

std::string insert_suffix(std::string_view name, std::string_view suffix) {
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return std::string(name) + "~" + std::string(suffix);
  return std::string(name.substr(0, dot)) + "~" + std::string(suffix) + std::string(name.substr(dot));
}

std::string cid_suffixed(std::string_view name, std::string_view cid) {
  return insert_suffix(name, cid.size() > 8 ? cid.substr(cid.size() - 8) : cid);
}

std::vector<std::string> shown_names(const std::vector<service::Pin>& pins) {
  std::vector<PinName> slim;
  slim.reserve(pins.size());
  for (const auto& pin : pins) slim.push_back({pin.name, pin.cid, pin.id});
  return shown_names(slim);
}

namespace {

// Index runs of equal names (sorted by name, not by a map of groups: on 100,000 pins the map was the largest
// thing a rebuild held); each member of a run of two or more is renamed by `rename`.
void rename_runs(std::vector<std::string>& names, const std::function<std::string(std::size_t)>& rename) {
  std::vector<std::uint32_t> order(names.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return names[a] < names[b]; });
  std::vector<std::uint32_t> members;
  for (std::size_t at = 0; at < order.size();) {
    std::size_t end = at + 1;
    while (end < order.size() && names[order[end]] == names[order[at]]) ++end;
    if (end - at >= 2) {
      members.assign(order.begin() + at, order.begin() + end);
      for (auto i : members) names[i] = rename(i);  // after the run is read: its names change
    }
    at = end;
  }
}

}  // namespace

void suffix_collisions(std::vector<std::string>& names,
                       const std::function<std::string_view(std::size_t)>& cid,
                       const std::function<std::string_view(std::size_t)>& id) {
  rename_runs(names, [&](std::size_t i) { return cid_suffixed(names[i], cid(i)); });
  rename_runs(names, [&](std::size_t i) { return names[i] + "~" + escape_name(id(i)); });
}

std::vector<std::string> shown_names(const std::vector<PinName>& pins) {
  std::vector<std::string> names(pins.size());
  for (std::size_t i = 0; i < pins.size(); ++i)
    names[i] = pins[i].name.empty() ? pins[i].cid : escape_name(pins[i].name);
  suffix_collisions(
      names, [&](std::size_t i) -> std::string_view { return pins[i].cid; },
      [&](std::size_t i) -> std::string_view { return pins[i].id; });
  return names;
}

}  // namespace pinfs::vfs
