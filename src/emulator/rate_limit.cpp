#include "pinfs/emulator/rate_limit.hpp"

#include <chrono>

namespace pinfs::emulator {

Result<void> RateLimiter::add_rule(const std::string& spec) {
  auto eq = spec.find('=');
  if (eq == std::string::npos || eq == 0) return fail(EINVAL, "rate limit must be CLASS=N/min: " + spec);
  std::string cls = spec.substr(0, eq);
  std::string rest = spec.substr(eq + 1);
  auto slash = rest.find('/');
  if (slash != std::string::npos) {
    std::string unit = rest.substr(slash + 1);
    if (unit != "min" && unit != "m" && unit != "minute")
      return fail(EINVAL, "rate limit unit must be /min: " + spec);
    rest = rest.substr(0, slash);
  }
  int n = 0;
  try {
    std::size_t used = 0;
    n = std::stoi(rest, &used);
    if (used != rest.size()) throw std::invalid_argument(rest);
  } catch (...) {
    return fail(EINVAL, "rate limit count is not a number: " + spec);
  }
  if (n <= 0) return fail(EINVAL, "rate limit must be positive: " + spec);
  static const char* known[] = {"pinata-data", "pinata-pinning", "aioz", "gateway", "all"};
  bool ok = false;
  for (auto* k : known) ok = ok || cls == k;
  if (!ok)
    return fail(EINVAL,
                "unknown rate-limit class '" + cls + "' (pinata-data, pinata-pinning, aioz, gateway, all)");
  limits_[cls] = n;
  return {};
}

RateDecision RateLimiter::check(const std::string& rate_class) {
  RateDecision d;
  if (rate_class == "control") return d;
  std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  auto unlimited = [&] {
    d.announce = true;
    d.limit = d.remaining = kUnlimited;
    d.reset_epoch_s = now + 60;
    return d;
  };
  auto it = limits_.find(rate_class);
  std::string key = rate_class;
  if (it == limits_.end()) {
    if (rate_class == "other") return unlimited();
    it = limits_.find("all");
    key = "all";
    if (it == limits_.end()) return unlimited();
  }
  d.limited = true;
  d.announce = true;
  d.limit = it->second;
  std::lock_guard lock(mu_);
  auto& w = windows_[key];
  if (w.start_s == 0 || now >= w.start_s + 60) {
    w.start_s = now;
    w.used = 0;
  }
  d.reset_epoch_s = w.start_s + 60;
  if (w.used >= d.limit) {
    d.allowed = false;
    d.remaining = 0;
    d.retry_after_s = static_cast<int>(std::max<std::int64_t>(1, d.reset_epoch_s - now));
    return d;
  }
  ++w.used;
  d.remaining = d.limit - w.used;
  return d;
}

}  // namespace pinfs::emulator
