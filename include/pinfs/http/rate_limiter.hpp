// Token buckets per endpoint class (DESIGN.md §4: requests obey the provider's rate limits).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace pinfs::http {

using Clock = std::chrono::steady_clock;

class TokenBucket {
 public:
  // rate_per_minute <= 0 means unlimited. burst: tokens available at once (>= 1).
  TokenBucket(double rate_per_minute, double burst, Clock::time_point now = Clock::now());

  // Takes one token (possibly going into debt) and says how long the caller must wait
  // before sending. Pure bookkeeping, so it can be tested with a synthetic clock.
  Clock::duration reserve(Clock::time_point now);
  // Nothing may be sent before `until` (a 429 or an exhausted X-RateLimit-Remaining).
  void block_until(Clock::time_point until);
  double rate_per_minute() const { return rate_per_minute_; }

 private:
  void refill(Clock::time_point now);

  double rate_per_minute_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
  Clock::time_point blocked_until_{};
};

class RateLimiter {
 public:
  static constexpr const char* kOverall = "";

  // Configures a bucket; the "" class is the overall bucket every request draws from.
  void set_rate(const std::string& rate_class, double rate_per_minute, double burst = 1);
  // A provider's "N requests per minute": never more than N in any 60 s, yet a few calls in a row (a mount's
  // first listing after its credential check) need not wait. A sixth of N may go at once; the rest of the
  // minute's allowance refills evenly (burst + refill per minute = N). N <= 0: unlimited.
  void set_limit_per_minute(const std::string& rate_class, double limit);
  // Blocks until the overall bucket and the request's own class both allow one request.
  void acquire(const std::string& rate_class);
  // Both the request's class and the overall bucket wait until `until`.
  void block_until(const std::string& rate_class, Clock::time_point until);

 private:
  std::mutex mutex_;  // guards buckets_; never held while sleeping
  std::map<std::string, TokenBucket> buckets_;
};

}  // namespace pinfs::http
