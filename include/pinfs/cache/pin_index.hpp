// The local index of the account's pins: what `ls` of the root is served from between polls.
// In memory for now; the persistent SQLite implementation (remount without a round trip, incremental
// refresh) is the next issue and slots in behind this interface.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pinfs/service/pin_service.hpp"

namespace pinfs::cache {

// How the index (and the VFS's inode keys) name a pin: its id, or "cid:<cid>" when the service gave none
// (Pinata's upload reply carries no row id; Pinata addresses pins by CID anyway).
inline std::string pin_key(const std::string& id, const std::string& cid) {
  return id.empty() ? "cid:" + cid : id;
}
inline std::string pin_key(const service::Pin& pin) {
  return pin_key(pin.id, pin.cid);
}
inline std::string pin_key(const service::PinRef& ref) {
  return pin_key(ref.id, ref.cid);
}

class PinIndex {
 public:
  virtual ~PinIndex() = default;
  virtual void replace_all(std::vector<service::Pin> pins, std::int64_t synced_at) = 0;
  virtual void upsert(const service::Pin& pin) = 0;
  virtual void erase(const std::string& key) = 0;  // by pin_key
  virtual std::vector<service::Pin> all() const = 0;
  virtual std::optional<service::Pin> find(const std::string& key) const = 0;
  virtual std::vector<service::Pin> by_cid(const std::string& cid) const = 0;
  virtual std::size_t size() const = 0;
  virtual std::uint64_t generation() const = 0;  // bumps on every change, so views know to rebuild
  virtual std::optional<std::int64_t> synced_at() const = 0;  // unix seconds of the last full listing
};

std::unique_ptr<PinIndex> make_memory_pin_index();

}  // namespace pinfs::cache
