// The local index of the account's pins: what `ls` of the root and lookups are served from.
// Implementations: in memory (tests), and SQLite in the cache dir (open_sqlite_pin_index), which persists
// across mounts so that a remount answers from it before any list call and then refreshes incrementally.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pinfs/common/error.hpp"
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

// The sync bookkeeping kept beside the pins (unix seconds).
struct SyncState {
  std::optional<std::int64_t> synced_at;      // last complete listing or incremental refresh
  std::optional<std::int64_t> reconciled_at;  // last complete listing (catches renames and metadata edits)
  bool complete = false;  // a full listing has finished at least once: the index is the whole account
};

// Every method is thread-safe. Every change bumps generation() so that views built from the index know to
// rebuild; apply() bumps it once for the whole change set.
class PinIndex {
 public:
  virtual ~PinIndex() = default;
  // Replaces the whole content (a completed full listing) and marks the index complete.
  virtual void replace_all(std::vector<service::Pin> pins, std::int64_t synced_at) = 0;
  virtual void upsert(const service::Pin& pin) = 0;
  virtual void erase(const std::string& key) = 0;  // by pin_key
  // One change set in one transaction: upserts, then removals by pin_key.
  virtual void apply(const std::vector<service::Pin>& upserts,
                     const std::vector<std::string>& erase_keys) = 0;
  virtual std::vector<service::Pin> all() const = 0;
  // Visits every pin without materialising them all (large accounts).
  virtual void for_each(const std::function<void(const service::Pin&)>& visit) const = 0;
  virtual std::optional<service::Pin> find(const std::string& key) const = 0;
  virtual std::vector<service::Pin> by_cid(const std::string& cid) const = 0;
  virtual std::vector<service::Pin> by_name(const std::string& name) const = 0;  // exact metadata name
  virtual std::size_t size() const = 0;
  virtual std::uint64_t generation() const = 0;
  virtual SyncState sync_state() const = 0;
  virtual void set_sync_state(const SyncState& state) = 0;
  // Unix seconds of the last full listing or refresh; nullopt until the index is complete.
  std::optional<std::int64_t> synced_at() const {
    auto state = sync_state();
    return state.complete ? state.synced_at : std::nullopt;
  }
};

std::unique_ptr<PinIndex> make_memory_pin_index();
// The persistent index: SQLite (WAL) at path, created if missing. A file that cannot be read as an index
// (corrupt, another schema) is set aside and a new one started: the index is a cache of the account.
Result<std::unique_ptr<PinIndex>> open_sqlite_pin_index(const std::string& path);

}  // namespace pinfs::cache
