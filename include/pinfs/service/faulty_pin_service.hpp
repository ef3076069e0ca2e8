// Fault injection for the layers above (mountpoint-s3's FailureClient idea): wraps any
// PinService (and optionally a Gateway) and makes chosen calls fail, by count or by
// probability, or slow them down.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "pinfs/service/pin_service.hpp"

namespace pinfs::service {

// Call names: "check_auth", "list", "get", "upload_file", "upload_directory", "pin_by_cid",
// "list_jobs", "update_metadata", "rename", "unpin", "totals", "read", "block"; "*" matches all.
struct FaultRule {
  std::string call = "*";
  Error error{EIO, "injected fault", true};
  std::uint64_t skip = 0;    // let this many matching calls through first
  std::int64_t times = 1;    // how many faults to inject; -1: forever
  double probability = 1.0;  // chance that an eligible call fails
  // The call reaches the inner service and only its answer is replaced by the error (a reply
  // lost on the way back): for testing that a replayed upload does not pin twice.
  bool after_call = false;
};

class FaultPlan {
 public:
  explicit FaultPlan(std::uint64_t seed = 1) : random_(seed) {}

  void add(FaultRule rule);
  void set_latency(const std::string& call, std::chrono::milliseconds latency);  // "*" for all
  void clear();

  // Counts the call, sleeps its latency, and says which rule (if any) fires for it.
  std::optional<FaultRule> on_call(const std::string& call);

  std::uint64_t calls(const std::string& call) const;     // every call seen, "*" = total
  std::uint64_t injected(const std::string& call) const;  // faults injected, "*" = total

 private:
  struct Active {
    FaultRule rule;
    std::uint64_t seen = 0;
    std::int64_t fired = 0;
  };
  mutable std::mutex mutex_;  // guards everything below; never held while sleeping
  std::vector<Active> rules_;
  std::map<std::string, std::chrono::milliseconds> latency_;
  std::map<std::string, std::uint64_t> calls_;
  std::map<std::string, std::uint64_t> injected_;
  std::mt19937_64 random_;
};

class FaultyPinService final : public PinService {
 public:
  explicit FaultyPinService(std::shared_ptr<PinService> inner, std::uint64_t seed = 1);

  FaultPlan& faults() { return plan_; }
  PinService& inner() { return *inner_; }

  Capabilities capabilities() const override { return inner_->capabilities(); }
  Result<void> check_auth() override;
  Result<PinPage> list(const ListQuery& query) override;
  Result<Pin> get(const PinRef& ref) override;
  Result<Pin> upload_file(const FileUpload& upload) override;
  Result<Pin> upload_directory(const DirectoryUpload& upload) override;
  Result<PinJob> pin_by_cid(const std::string& cid, const std::string& name,
                            const KeyValues& keyvalues) override;
  Result<std::vector<PinJob>> list_jobs() override;
  Result<void> update_metadata(const PinRef& ref, const std::optional<std::string>& name,
                               const KeyValueChanges& changes) override;
  Result<Pin> rename(const Pin& pin, const std::string& new_name) override;
  Result<void> unpin(const PinRef& ref) override;
  Result<Totals> totals() override;

 private:
  template <typename F>
  auto run(const std::string& call, F&& body) -> decltype(body());

  std::shared_ptr<PinService> inner_;
  FaultPlan plan_;
};

class FaultyGateway final : public Gateway {
 public:
  explicit FaultyGateway(std::shared_ptr<Gateway> inner, std::uint64_t seed = 1);

  FaultPlan& faults() { return plan_; }

  Result<std::uint64_t> read(const std::string& cid, const std::string& path, std::uint64_t offset,
                             std::uint64_t length, const ByteSink& sink) override;
  Result<std::vector<std::uint8_t>> block(const std::string& cid) override;

 private:
  std::shared_ptr<Gateway> inner_;
  FaultPlan plan_;
};

}  // namespace pinfs::service
