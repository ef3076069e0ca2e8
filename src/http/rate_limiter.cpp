#include "pinfs/http/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>

namespace pinfs::http {

TokenBucket::TokenBucket(double rate_per_minute, double burst, Clock::time_point now)
    : rate_per_minute_(rate_per_minute), burst_(std::max(1.0, burst)), tokens_(burst_), last_(now) {}

void TokenBucket::refill(Clock::time_point now) {
  if (now <= last_) return;
  const double seconds = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + seconds * rate_per_minute_ / 60.0);
  last_ = now;
}

Clock::duration TokenBucket::available_in(Clock::time_point now) {
  if (rate_per_minute_ <= 0) return Clock::duration::zero();
  refill(now);
  if (tokens_ >= 1.0) return Clock::duration::zero();
  const auto missing = std::chrono::duration<double>((1.0 - tokens_) * 60.0 / rate_per_minute_);
  return std::max(Clock::duration(1), std::chrono::ceil<Clock::duration>(missing));
}

void TokenBucket::take(Clock::time_point now) {
  if (rate_per_minute_ <= 0) return;
  refill(now);
  tokens_ -= 1.0;
}

void RateLimiter::assume_per_minute(const std::string& rate_class, double limit) {
  std::lock_guard lock(mutex_);
  auto& st = state(rate_class);
  if (limit <= 0) {
    st.assumed.reset();
  } else {
    const double burst = std::max(1.0, std::floor(limit / 6));
    st.assumed.emplace(std::max(limit - burst, limit / 2), burst);
  }
  changed_.notify_all();
}

RateLimiter::ClassState& RateLimiter::state(const std::string& rate_class) {
  return classes_[rate_class];
}

void RateLimiter::roll(ClassState& st, Clock::time_point now) {
  Window& w = *st.window;
  if (now < w.reset) return;
  // The service said nothing newer: assume the next window is as long and as large as the last. Requests
  // still in flight may reach it after its reset and count in the new window.
  const auto behind = (now - w.reset) / RateLimiter::kWindow;
  w.reset += RateLimiter::kWindow * (behind + 1);
  w.remaining = std::max(0LL, w.limit - static_cast<long long>(st.in_flight.size()));
}

RateLimiter::Grant RateLimiter::try_acquire(const std::string& rate_class, Clock::time_point now) {
  auto& st = state(rate_class);
  Grant g;
  if (st.blocked_until > now) {
    g.wait = st.blocked_until - now;
    return g;
  }
  if (st.window) {
    roll(st, now);
    if (st.window->remaining <= 0) {
      g.wait = st.window->reset - now;
      return g;
    }
    --st.window->remaining;
  } else {
    // Unannounced: the class's own assumption and the shared one (for a fresh account's first burst).
    ClassState* overall = rate_class == kOverall ? nullptr : &state(kOverall);
    Clock::duration wait{};
    if (st.assumed) wait = st.assumed->available_in(now);
    if (overall && overall->assumed) wait = std::max(wait, overall->assumed->available_in(now));
    if (overall && overall->blocked_until > now) wait = std::max(wait, overall->blocked_until - now);
    if (wait > Clock::duration::zero()) {
      g.wait = wait;
      return g;
    }
    if (st.assumed) st.assumed->take(now);
    if (overall && overall->assumed) overall->assumed->take(now);
  }
  g.granted = true;
  g.ticket = ++st.granted;
  st.in_flight.insert(g.ticket);
  return g;
}

std::uint64_t RateLimiter::acquire(const std::string& rate_class) {
  std::unique_lock lock(mutex_);
  for (;;) {
    auto g = try_acquire(rate_class, Clock::now());
    if (g.granted) return g.ticket;
    changed_.wait_for(lock, g.wait);
  }
}

void RateLimiter::learn(const std::string& rate_class, const RateAnnouncement& a, std::uint64_t ticket,
                        Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto& st = state(rate_class);
  st.in_flight.erase(ticket);
  if (a.empty()) return;
  if (!a.limit || *a.limit <= 0) {  // a limit of 0 would stop the class for good: not a usable window
    // Only "nothing left until then": honour it without inventing a limit.
    if (a.remaining && *a.remaining <= 0 && a.reset) st.blocked_until = std::max(st.blocked_until, *a.reset);
    changed_.notify_all();
    return;
  }
  const long long limit = *a.limit;
  const Clock::time_point reset = a.reset.value_or(now + kWindow);
  const long long later = ticket <= st.granted ? static_cast<long long>(st.granted - ticket) : 0;
  // Granted before this one and still unanswered: perhaps not yet counted (they arrive after this one).
  const auto earlier =
      static_cast<long long>(std::distance(st.in_flight.begin(), st.in_flight.lower_bound(ticket)));
  const long long left = std::max(0LL, a.remaining.value_or(limit - 1) - later - earlier);
  // Resets are whole seconds: within a second is the same window.
  constexpr auto kSame = std::chrono::milliseconds(1000);
  if (!st.window || reset > st.window->reset + kSame) {
    st.window = Window{limit, left, reset};
  } else if (reset + kSame >= st.window->reset) {
    st.window->limit = limit;
    st.window->remaining = std::min(st.window->remaining, left);
  }  // else: a late reply about a window already over
  changed_.notify_all();
}

void RateLimiter::block_until(const std::string& rate_class, Clock::time_point until) {
  std::lock_guard lock(mutex_);
  auto& st = state(rate_class);
  st.blocked_until = std::max(st.blocked_until, until);
  changed_.notify_all();
}

std::optional<RateLimiter::Window> RateLimiter::announced(const std::string& rate_class,
                                                          Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto& st = state(rate_class);
  if (!st.window) return std::nullopt;
  roll(st, now);
  return st.window;
}

}  // namespace pinfs::http
