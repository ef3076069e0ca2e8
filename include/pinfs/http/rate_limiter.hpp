// Request limits per endpoint class (DESIGN.md §4: requests obey the provider's rate limits).
//
// A class starts with an assumed rate (the plan's documented one, or a profile's), kept as a token bucket so
// that the first burst of a fresh mount is safe for the lowest plan. Once the service has announced its limit
// for the class (X-RateLimit-Limit / -Remaining / -Reset on a reply), that announcement alone decides: a
// request goes while the announced window has requests left, else it waits for the window's reset. The
// assumption is never consulted again for that class, so nothing waits on a guess once the service has said
// more is allowed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace pinfs::http {

using Clock = std::chrono::steady_clock;

class TokenBucket {
 public:
  // rate_per_minute <= 0 means unlimited. burst: tokens available at once (>= 1).
  TokenBucket(double rate_per_minute, double burst, Clock::time_point now = Clock::now());

  // How long until one token is there (zero: now). Pure bookkeeping, testable with a synthetic clock.
  Clock::duration available_in(Clock::time_point now);
  void take(Clock::time_point now);
  double rate_per_minute() const { return rate_per_minute_; }

 private:
  void refill(Clock::time_point now);

  double rate_per_minute_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

// What one reply said about its class's window (retrying_client.hpp parses it from the headers).
struct RateAnnouncement {
  std::optional<long long> limit;          // X-RateLimit-Limit: requests per window
  std::optional<long long> remaining;      // X-RateLimit-Remaining, counting the request this answers
  std::optional<Clock::time_point> reset;  // X-RateLimit-Reset: when the window refills
  bool empty() const { return !limit && !remaining && !reset; }
};

class RateLimiter {
 public:
  static constexpr const char* kOverall = "";
  // Length of a window the service did not describe further (every documented limit is per minute).
  static constexpr std::chrono::seconds kWindow{60};

  // Assumes "N requests per minute" for a class until the service announces its own: never more than N in any
  // 60 s, yet a few calls in a row need not wait: a sixth of N may go at once, the rest of the minute's
  // allowance refills evenly. N <= 0: no assumption (unlimited until announced). The kOverall class is an
  // assumption shared by every class the service has not described yet (a free plan's account-wide rate).
  void assume_per_minute(const std::string& rate_class, double limit);

  struct Grant {
    bool granted = false;
    Clock::duration wait{};  // when not granted: how long until it is worth asking again
    std::uint64_t ticket = 0;
  };
  // Takes one request of the class if it may go at `now`. Pure bookkeeping (tests pass a synthetic clock).
  Grant try_acquire(const std::string& rate_class, Clock::time_point now);
  // Blocks until try_acquire grants; woken early when an announcement or a block changes the picture.
  // Returns the ticket to hand to learn() with the reply.
  std::uint64_t acquire(const std::string& rate_class);
  // The request holding `ticket` is answered (call it for every grant, with an empty announcement when the
  // request failed without a reply). Requests still in flight may not have been counted by the service when
  // it answered, whether granted before or after this one (concurrent uploads), so they are taken off what it
  // said remains; and when a window rolls over locally, the ones in flight count against the new window.
  void learn(const std::string& rate_class, const RateAnnouncement& announced, std::uint64_t ticket,
             Clock::time_point now);
  // Nothing of the class goes before `until` (a 429's Retry-After).
  void block_until(const std::string& rate_class, Clock::time_point until);

  struct Window {
    long long limit = 0;
    long long remaining = 0;
    Clock::time_point reset{};
  };
  // The announced window as this limiter now sees it; nullopt while the class runs on its assumption.
  std::optional<Window> announced(const std::string& rate_class, Clock::time_point now);

 private:
  struct ClassState {
    std::optional<TokenBucket> assumed;
    std::optional<Window> window;  // set by the first announcement, then the only rule
    Clock::time_point blocked_until{};
    std::uint64_t granted = 0;          // tickets handed out
    std::set<std::uint64_t> in_flight;  // granted, not yet answered (learn)
  };
  ClassState& state(const std::string& rate_class);  // mutex_ held
  static void roll(ClassState& st, Clock::time_point now);

  std::mutex mutex_;  // guards classes_; leaf lock, released while waiting
  std::condition_variable changed_;
  std::map<std::string, ClassState> classes_;
};

}  // namespace pinfs::http
