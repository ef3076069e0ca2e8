// Retries, backoff and rate limiting as a decorator over any HttpClient.
#pragma once

#include <chrono>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "pinfs/http/http_client.hpp"
#include "pinfs/http/rate_limiter.hpp"

namespace pinfs::http {

struct RetryPolicy {
  int max_retries = 5;
  std::chrono::milliseconds base_delay{250};
  std::chrono::milliseconds max_delay{30000};
  // A Retry-After / X-RateLimit-Reset longer than this is cut to it (a stuck clock must not hang a mount).
  std::chrono::milliseconds max_server_delay{120000};
};

// Full jitter (AWS architecture blog): uniform in [0, min(max_delay, base * 2^attempt)].
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt, double unit_random);

// How long the server asked us to wait: Retry-After (delta seconds or HTTP date), else, when the
// rate window is spent (429 or X-RateLimit-Remaining: 0), X-RateLimit-Reset (epoch seconds or a
// small delta), measured from `now`.
std::optional<std::chrono::milliseconds> server_delay(const Response& response, std::time_t now);

// The X-RateLimit-Limit / -Remaining / -Reset of a reply (Reset in epoch seconds, or a small delta), with the
// reset placed on the steady clock. Empty when the reply carries none of them or they do not parse.
RateAnnouncement announced_limits(const Response& response, std::chrono::system_clock::time_point wall_now,
                                  Clock::time_point now);

class RetryingClient final : public HttpClient {
 public:
  using Sleeper = std::function<void(std::chrono::milliseconds)>;

  RetryingClient(std::shared_ptr<HttpClient> inner, RetryPolicy policy, std::shared_ptr<RateLimiter> limiter,
                 Sleeper sleeper = {});
  // Retries transport errors and retryable statuses; the last response (or error) is returned
  // as is, so the caller maps it through error_map.hpp.
  Result<Response> perform(const Request& request) override;

 private:
  bool replayable(const Request& request, bool not_processed) const;

  std::shared_ptr<HttpClient> inner_;
  RetryPolicy policy_;
  std::shared_ptr<RateLimiter> limiter_;
  Sleeper sleep_;
};

}  // namespace pinfs::http
