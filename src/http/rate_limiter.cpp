#include "pinfs/http/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <thread>

namespace pinfs::http {

TokenBucket::TokenBucket(double rate_per_minute, double burst, Clock::time_point now)
    : rate_per_minute_(rate_per_minute), burst_(std::max(1.0, burst)), tokens_(burst_), last_(now) {}

void TokenBucket::refill(Clock::time_point now) {
  if (now <= last_) return;
  const double seconds = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + seconds * rate_per_minute_ / 60.0);
  last_ = now;
}

Clock::duration TokenBucket::reserve(Clock::time_point now) {
  Clock::duration wait = Clock::duration::zero();
  if (blocked_until_ > now) wait = blocked_until_ - now;
  if (rate_per_minute_ <= 0) return wait;
  refill(now);
  tokens_ -= 1.0;
  if (tokens_ < 0) {
    // Debt is paid back at the refill rate: later callers queue behind earlier ones.
    const auto debt = std::chrono::duration<double>(-tokens_ * 60.0 / rate_per_minute_);
    wait = std::max(wait, std::chrono::duration_cast<Clock::duration>(debt));
  }
  return wait;
}

void TokenBucket::block_until(Clock::time_point until) {
  blocked_until_ = std::max(blocked_until_, until);
}

void RateLimiter::set_rate(const std::string& rate_class, double rate_per_minute, double burst) {
  std::lock_guard lock(mutex_);
  buckets_.insert_or_assign(rate_class, TokenBucket(rate_per_minute, burst));
}

void RateLimiter::set_limit_per_minute(const std::string& rate_class, double limit) {
  if (limit <= 0) return set_rate(rate_class, 0);
  const double burst = std::max(1.0, std::floor(limit / 6));
  set_rate(rate_class, std::max(limit - burst, limit / 2), burst);
}

void RateLimiter::acquire(const std::string& rate_class) {
  Clock::duration wait{};
  {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    if (auto it = buckets_.find(kOverall); it != buckets_.end()) wait = it->second.reserve(now);
    if (!rate_class.empty()) {
      if (auto it = buckets_.find(rate_class); it != buckets_.end()) {
        wait = std::max(wait, it->second.reserve(now));
      }
    }
  }
  if (wait > Clock::duration::zero()) std::this_thread::sleep_for(wait);
}

void RateLimiter::block_until(const std::string& rate_class, Clock::time_point until) {
  std::lock_guard lock(mutex_);
  auto overall = buckets_.find(kOverall);
  if (overall == buckets_.end()) overall = buckets_.emplace(kOverall, TokenBucket(0, 1)).first;  // unlimited
  overall->second.block_until(until);
  if (!rate_class.empty()) {
    if (auto it = buckets_.find(rate_class); it != buckets_.end()) it->second.block_until(until);
  }
}

}  // namespace pinfs::http
