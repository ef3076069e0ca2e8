#include "pinfs/cache/pin_index.hpp"

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
    synced_at_ = synced_at;
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
  std::optional<std::int64_t> synced_at() const override {
    std::lock_guard lock(mu_);
    return synced_at_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, service::Pin> pins_;  // by pin_key
  std::optional<std::int64_t> synced_at_;
  std::uint64_t generation_ = 0;
};

}  // namespace

std::unique_ptr<PinIndex> make_memory_pin_index() {
  return std::make_unique<MemoryPinIndex>();
}

}  // namespace pinfs::cache
