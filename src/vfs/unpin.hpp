// Unpinning one name of content that has several. Pinata unpins by CID (DELETE /pinning/unpin/{cid}): every
// pin of the content goes, whatever its name. `cp x a; cp x b` gives two pins of one CID (b is pinned by
// CID, [write.dedupe]), so an `rm b` that unpinned would take `a` with it. While the index shows another
// row of the CID, removing a name therefore only hides its row for the mount (the row stays on the service:
// a remount shows it again), and the removal of the last name shown unpins the CID, every row with it.
// Services that unpin by pin id (AIOZ) unpin the row itself.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "pinfs/cache/pin_index.hpp"
#include "pinfs/common/error.hpp"
#include "pinfs/service/pin_service.hpp"

namespace pinfs::vfs {

// The pin index as the mount shows it: the index, less the rows hidden by unpin_name(). Listings and polls
// that bring a hidden row back leave it out. Thread-safe like the index; mu_ is a leaf (taken inside none
// of the index's calls, and no index call is made under it).
class ShownPins final : public cache::PinIndex {
 public:
  explicit ShownPins(std::unique_ptr<cache::PinIndex> index) : index_(std::move(index)) {}
  void hide(const std::string& key);  // out of the index, and kept out for the mount

  void replace_all(std::vector<service::Pin> pins, std::int64_t synced_at) override;
  void upsert(const service::Pin& pin) override;
  void erase(const std::string& key) override { index_->erase(key); }
  void apply(const std::vector<service::Pin>& upserts, const std::vector<std::string>& erase_keys) override;
  std::vector<service::Pin> all() const override { return index_->all(); }
  void for_each(const std::function<void(const service::Pin&)>& visit) const override {
    index_->for_each(visit);
  }
  std::optional<service::Pin> find(const std::string& key) const override { return index_->find(key); }
  std::vector<service::Pin> by_cid(const std::string& cid) const override { return index_->by_cid(cid); }
  std::vector<service::Pin> by_name(const std::string& name) const override { return index_->by_name(name); }
  std::size_t size() const override { return index_->size(); }
  std::uint64_t generation() const override { return index_->generation(); }
  cache::SyncState sync_state() const override { return index_->sync_state(); }
  void set_sync_state(const cache::SyncState& state) override { index_->set_sync_state(state); }

 private:
  void drop_hidden(std::vector<service::Pin>& pins) const;  // takes mu_ once
  std::unique_ptr<cache::PinIndex> index_;
  mutable std::mutex mu_;         // leaf: hidden_
  std::set<std::string> hidden_;  // pin keys
};

enum class Unpinned { Unpinned, KeptForAnotherName };

// Unpins `ref` (the index row `key`), or hides it as above; the row leaves the index either way once the
// call succeeded. `what` names the removal in the log ("rm a").
Result<Unpinned> unpin_name(service::PinService& service, ShownPins& index, const service::PinRef& ref,
                            const std::string& key, const std::string& what);

}  // namespace pinfs::vfs
