#include "pinfs/service/faulty_pin_service.hpp"

#include <spdlog/spdlog.h>

#include <thread>

namespace pinfs::service {

void FaultPlan::add(FaultRule rule) {
  std::lock_guard lock(mutex_);
  rules_.push_back({std::move(rule), 0, 0});
}

void FaultPlan::set_latency(const std::string& call, std::chrono::milliseconds latency) {
  std::lock_guard lock(mutex_);
  latency_[call] = latency;
}

void FaultPlan::clear() {
  std::lock_guard lock(mutex_);
  rules_.clear();
  latency_.clear();
}

std::optional<FaultRule> FaultPlan::on_call(const std::string& call) {
  std::chrono::milliseconds delay{0};
  std::optional<FaultRule> fired;
  {
    std::lock_guard lock(mutex_);
    ++calls_[call];
    ++calls_["*"];
    if (auto it = latency_.find(call); it != latency_.end()) {
      delay = it->second;
    } else if (auto all = latency_.find("*"); all != latency_.end()) {
      delay = all->second;
    }
    for (auto& active : rules_) {
      if (active.rule.call != "*" && active.rule.call != call) continue;
      if (active.rule.times >= 0 && active.fired >= active.rule.times) continue;
      if (active.seen++ < active.rule.skip) continue;
      if (active.rule.probability < 1.0 &&
          std::uniform_real_distribution<double>(0.0, 1.0)(random_) >= active.rule.probability) {
        continue;
      }
      ++active.fired;
      ++injected_[call];
      ++injected_["*"];
      fired = active.rule;
      break;
    }
  }
  if (delay.count() > 0) std::this_thread::sleep_for(delay);
  if (fired) spdlog::debug("fault injected into {}: {}", call, fired->error.message);
  return fired;
}

std::uint64_t FaultPlan::calls(const std::string& call) const {
  std::lock_guard lock(mutex_);
  auto it = calls_.find(call);
  return it == calls_.end() ? 0 : it->second;
}

std::uint64_t FaultPlan::injected(const std::string& call) const {
  std::lock_guard lock(mutex_);
  auto it = injected_.find(call);
  return it == injected_.end() ? 0 : it->second;
}

FaultyPinService::FaultyPinService(std::shared_ptr<PinService> inner, std::uint64_t seed)
    : inner_(std::move(inner)), plan_(seed) {}

template <typename F>
auto FaultyPinService::run(const std::string& call, F&& body) -> decltype(body()) {
  auto rule = plan_.on_call(call);
  if (!rule) return body();
  if (rule->after_call) (void)body();
  return std::unexpected(rule->error);
}

Result<void> FaultyPinService::check_auth() {
  return run("check_auth", [&] { return inner_->check_auth(); });
}
Result<PinPage> FaultyPinService::list(const ListQuery& query) {
  return run("list", [&] { return inner_->list(query); });
}
Result<Pin> FaultyPinService::get(const PinRef& ref) {
  return run("get", [&] { return inner_->get(ref); });
}
Result<Pin> FaultyPinService::upload_file(const FileUpload& upload) {
  return run("upload_file", [&] { return inner_->upload_file(upload); });
}
Result<Pin> FaultyPinService::upload_directory(const DirectoryUpload& upload) {
  return run("upload_directory", [&] { return inner_->upload_directory(upload); });
}
Result<PinJob> FaultyPinService::pin_by_cid(const std::string& cid, const std::string& name,
                                            const KeyValues& keyvalues) {
  return run("pin_by_cid", [&] { return inner_->pin_by_cid(cid, name, keyvalues); });
}
Result<std::vector<PinJob>> FaultyPinService::list_jobs() {
  return run("list_jobs", [&] { return inner_->list_jobs(); });
}
Result<void> FaultyPinService::update_metadata(const PinRef& ref, const std::optional<std::string>& name,
                                               const KeyValueChanges& changes) {
  return run("update_metadata", [&] { return inner_->update_metadata(ref, name, changes); });
}
Result<Pin> FaultyPinService::rename(const Pin& pin, const std::string& new_name) {
  return run("rename", [&] { return inner_->rename(pin, new_name); });
}
Result<void> FaultyPinService::unpin(const PinRef& ref) {
  return run("unpin", [&] { return inner_->unpin(ref); });
}
Result<Totals> FaultyPinService::totals() {
  return run("totals", [&] { return inner_->totals(); });
}

FaultyGateway::FaultyGateway(std::shared_ptr<Gateway> inner, std::uint64_t seed)
    : inner_(std::move(inner)), plan_(seed) {}

Result<std::uint64_t> FaultyGateway::read(const std::string& cid, const std::string& path,
                                          std::uint64_t offset, std::uint64_t length, const ByteSink& sink) {
  auto rule = plan_.on_call("read");
  if (!rule) return inner_->read(cid, path, offset, length, sink);
  if (rule->after_call) (void)inner_->read(cid, path, offset, length, sink);
  return std::unexpected(rule->error);
}

Result<std::vector<std::uint8_t>> FaultyGateway::block(const std::string& cid) {
  auto rule = plan_.on_call("block");
  if (!rule) return inner_->block(cid);
  if (rule->after_call) (void)inner_->block(cid);
  return std::unexpected(rule->error);
}

}  // namespace pinfs::service
