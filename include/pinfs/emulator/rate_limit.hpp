// Per-class request limits (--rate-limit CLASS=N/min): a fixed one-minute window per class,
// which gives the X-RateLimit-Reset epoch second the providers report.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "pinfs/common/error.hpp"

namespace pinfs::emulator {

struct RateDecision {
  bool limited = false;   // a limit is configured for the class
  bool announce = false;  // the reply carries X-RateLimit-* (every class but control)
  bool allowed = true;
  int limit = 0;
  int remaining = 0;
  std::int64_t reset_epoch_s = 0;
  int retry_after_s = 0;
};

class RateLimiter {
 public:
  // What a class without a limit announces, so that a client is not held back by its own guesses.
  static constexpr int kUnlimited = 1000000;
  // Parses "pinata-data=30", "aioz=180/min", "gateway=10/s" is refused (minutes only).
  Result<void> add_rule(const std::string& spec);
  RateDecision check(const std::string& rate_class);
  bool empty() const { return limits_.empty(); }

 private:
  struct Window {
    std::int64_t start_s = 0;
    int used = 0;
  };
  std::map<std::string, int> limits_;  // set before serving, read-only afterwards
  std::mutex mu_;                      // guards windows_; leaf lock
  std::map<std::string, Window> windows_;
};

}  // namespace pinfs::emulator
