#include "unpin.hpp"

#include <algorithm>

#include "pinfs/common/log.hpp"

namespace pinfs::vfs {

void ShownPins::hide(const std::string& key) {
  {
    std::lock_guard lock(mu_);
    hidden_.insert(key);
  }
  index_->erase(key);
}

void ShownPins::drop_hidden(std::vector<service::Pin>& pins) const {
  std::lock_guard lock(mu_);  // once for the whole listing: no index call is made under it
  if (hidden_.empty()) return;
  std::erase_if(pins, [&](const service::Pin& pin) { return hidden_.contains(cache::pin_key(pin)); });
}

void ShownPins::replace_all(std::vector<service::Pin> pins, std::int64_t synced_at) {
  drop_hidden(pins);
  index_->replace_all(std::move(pins), synced_at);
}

void ShownPins::upsert(const service::Pin& pin) {
  {
    std::lock_guard lock(mu_);
    if (!hidden_.empty() && hidden_.contains(cache::pin_key(pin))) return;
  }
  index_->upsert(pin);
}

void ShownPins::apply(const std::vector<service::Pin>& upserts, const std::vector<std::string>& erase_keys) {
  std::vector<service::Pin> shown = upserts;
  drop_hidden(shown);
  index_->apply(shown, erase_keys);
}

Result<Unpinned> unpin_name(service::PinService& service, ShownPins& index, const service::PinRef& ref,
                            const std::string& key, const std::string& what) {
  if (service.capabilities().unpins_by_cid) {
    for (const auto& row : index.by_cid(ref.cid)) {
      if (cache::pin_key(row) == key) continue;
      spdlog::warn(
          "{}: its content ({}) is also pinned as {}, and the service unpins by CID: not unpinned, "
          "hidden until a remount; removing every name of it unpins it",
          what, ref.cid, row.name);
      index.hide(key);
      return Unpinned::KeptForAnotherName;
    }
  }
  if (auto ok = service.unpin(ref); !ok) return std::unexpected(ok.error());
  index.erase(key);
  return Unpinned::Unpinned;
}

}  // namespace pinfs::vfs
