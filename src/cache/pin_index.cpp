#include "pinfs/cache/pin_index.hpp"

#include <functional>
#include <map>
#include <mutex>

namespace pinfs::cache {

namespace {

class MemoryPinIndex final : public PinIndex {
 public:
  void replace_all(std::vector<service::Pin> pins, std::int64_t synced_at) override {
    std::lock_guard lock(mu_);
    pins_.clear();
    for (auto& pin : pins) pins_[pin_key(pin)] = std::move(pin);
    state_.synced_at = synced_at;
    state_.reconciled_at = synced_at;
    state_.complete = true;
    ++generation_;
  }
  void upsert(const service::Pin& pin) override {
    std::lock_guard lock(mu_);
    pins_[pin_key(pin)] = pin;
    ++generation_;
  }
  void erase(const std::string& id) override {
    std::lock_guard lock(mu_);
    if (pins_.erase(id)) ++generation_;
  }
  void apply(const std::vector<service::Pin>& upserts, const std::vector<std::string>& erase_keys) override {
    std::lock_guard lock(mu_);
    for (const auto& pin : upserts) pins_[pin_key(pin)] = pin;
    for (const auto& key : erase_keys) pins_.erase(key);
    ++generation_;
  }
  // visit runs without the lock (it may call back into the index), over a copy: this index is for tests.
  void for_each(const std::function<void(const service::Pin&)>& visit) const override {
    for (const auto& pin : all()) visit(pin);
  }
  std::vector<service::Pin> by_name(const std::string& name) const override {
    std::lock_guard lock(mu_);
    std::vector<service::Pin> out;
    for (const auto& [key, pin] : pins_)
      if (pin.name == name) out.push_back(pin);
    return out;
  }
  std::vector<service::Pin> all() const override {
    std::lock_guard lock(mu_);
    std::vector<service::Pin> out;
    out.reserve(pins_.size());
    for (const auto& [id, pin] : pins_) out.push_back(pin);
    return out;
  }
  std::optional<service::Pin> find(const std::string& id) const override {
    std::lock_guard lock(mu_);
    auto it = pins_.find(id);
    if (it == pins_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<service::Pin> by_cid(const std::string& cid) const override {
    std::lock_guard lock(mu_);
    std::vector<service::Pin> out;
    for (const auto& [id, pin] : pins_)
      if (pin.cid == cid) out.push_back(pin);
    return out;
  }
  std::size_t size() const override {
    std::lock_guard lock(mu_);
    return pins_.size();
  }
  std::uint64_t generation() const override {
    std::lock_guard lock(mu_);
    return generation_;
  }
  SyncState sync_state() const override {
    std::lock_guard lock(mu_);
    return state_;
  }
  void set_sync_state(const SyncState& state) override {
    std::lock_guard lock(mu_);
    state_ = state;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, service::Pin> pins_;  // by pin_key
  SyncState state_;
  std::uint64_t generation_ = 0;
};

}  // namespace

std::unique_ptr<PinIndex> make_memory_pin_index() {
  return std::make_unique<MemoryPinIndex>();
}

}  // namespace pinfs::cache
