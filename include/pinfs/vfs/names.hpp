// How pin names become file names (docs/SEMANTICS.md [names.*]): safe, unique, deterministic.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "pinfs/service/pin_service.hpp"

namespace pinfs::vfs {

// '/' → %2F, NUL → %00, a '%' that would otherwise read as one of these escapes → %25, and the names
// "." / ".." → %2E / %2E%2E. A '%' not followed by 25/2F/00/2E stays as it is, so any name a program
// creates comes back unchanged.
std::string escape_name(std::string_view name);
// The inverse, applied to names a program creates or renames to before they are sent to the service.
std::string unescape_name(std::string_view shown);

// "stem~suffix.ext" (suffix before the last extension; a leading dot does not start an extension).
std::string insert_suffix(std::string_view name, std::string_view suffix);
// [names.collision]'s first suffix: the last 8 characters of the CID, before the extension.
std::string cid_suffixed(std::string_view name, std::string_view cid);

// Shown names of pins, index-aligned with the input: escaped metadata name (CID when empty); when several
// pins share a shown name, each becomes stem~<last 8 chars of its CID>.ext; if that still collides (the same
// CID pinned twice under one name) each of those gets ~<pin id> appended instead. Depends only on the set.
std::vector<std::string> shown_names(const std::vector<service::Pin>& pins);

// What naming needs of a pin; the index's whole rows need not be held to name 100,000 pins.
struct PinName {
  std::string name, cid, id;
};
std::vector<std::string> shown_names(const std::vector<PinName>& pins);
// The collision rule above on names already escaped: cid(i) and id(i) are asked only of colliding pins
// (cid(i) may be just the CID's last 8 characters).
void suffix_collisions(std::vector<std::string>& names,
                       const std::function<std::string_view(std::size_t)>& cid,
                       const std::function<std::string_view(std::size_t)>& id);

}  // namespace pinfs::vfs
