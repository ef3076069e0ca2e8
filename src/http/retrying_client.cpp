#include "pinfs/http/retrying_client.hpp"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

#include "pinfs/http/error_map.hpp"

namespace pinfs::http {
namespace {

double unit_random() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

std::optional<long long> parse_integer(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size() && text[i] == ' ') ++i;
  if (i == text.size()) return std::nullopt;
  long long value = 0;
  for (; i < text.size() && text[i] != ' '; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    if (value > 1'000'000'000'000LL) return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

bool body_replays_from_disk(const Body& body) {
  return std::holds_alternative<FileBody>(body) || std::holds_alternative<GrowingFileBody>(body) ||
         std::holds_alternative<MultipartBody>(body);
}

}  // namespace

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt, double unit) {
  const double cap = static_cast<double>(policy.max_delay.count());
  const double exp = static_cast<double>(policy.base_delay.count()) * std::ldexp(1.0, std::min(attempt, 30));
  const double ceiling = std::min(cap, exp);
  return std::chrono::milliseconds(static_cast<long long>(std::clamp(unit, 0.0, 1.0) * ceiling));
}

std::optional<std::chrono::milliseconds> server_delay(const Response& response, std::time_t now) {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  if (auto retry_after = response.header("retry-after")) {
    if (auto delta = parse_integer(*retry_after))
      return std::chrono::duration_cast<milliseconds>(seconds(*delta));
    const std::time_t when = curl_getdate(retry_after->c_str(), nullptr);
    if (when != -1)
      return std::chrono::duration_cast<milliseconds>(seconds(std::max<std::time_t>(0, when - now)));
  }
  // The reset time describes the rate window, not this answer: it only matters when the window
  // is spent (a 503 carrying it must not wait a whole minute).
  // A 429 whose own announcement says the window still has room (a fault, a per-call limit) is not about
  // the window: it is backed off like a 503 rather than waiting for the reset.
  const auto remaining = response.header("x-ratelimit-remaining");
  const bool window_spent = remaining ? *remaining == "0" : response.status == 429;
  if (auto reset = response.header("x-ratelimit-reset"); reset && window_spent) {
    if (auto value = parse_integer(*reset)) {
      // Providers send epoch seconds; a small number can only be a delta.
      const long long delta = *value > 1'000'000'000LL ? *value - static_cast<long long>(now) : *value;
      return std::chrono::duration_cast<milliseconds>(seconds(std::max(0LL, delta)));
    }
  }
  return std::nullopt;
}

RateAnnouncement announced_limits(const Response& response, std::chrono::system_clock::time_point wall_now,
                                  Clock::time_point now) {
  RateAnnouncement a;
  auto number = [&](const char* name) -> std::optional<long long> {
    auto value = response.header(name);
    return value ? parse_integer(*value) : std::nullopt;
  };
  a.limit = number("x-ratelimit-limit");
  a.remaining = number("x-ratelimit-remaining");
  if (auto reset = number("x-ratelimit-reset")) {
    const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(wall_now.time_since_epoch());
    // Providers send epoch seconds; a small number can only be a delta.
    const auto delta = *reset > 1'000'000'000LL ? std::chrono::seconds(*reset) - wall
                                                : std::chrono::milliseconds(std::chrono::seconds(*reset));
    a.reset = now + std::max(std::chrono::milliseconds(0), delta);
  }
  return a;
}

RetryingClient::RetryingClient(std::shared_ptr<HttpClient> inner, RetryPolicy policy,
                               std::shared_ptr<RateLimiter> limiter, Sleeper sleeper)
    : inner_(std::move(inner)), policy_(policy), limiter_(std::move(limiter)), sleep_(std::move(sleeper)) {
  if (!sleep_) sleep_ = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
}

bool RetryingClient::replayable(const Request& request, bool not_processed) const {
  return request.idempotent || not_processed || body_replays_from_disk(request.body);
}

Result<Response> RetryingClient::perform(const Request& request) {
  // Once bytes reached the caller's sink a blind retry would deliver them twice; the caller
  // (the gateway) resumes with a Range instead.
  std::uint64_t delivered = 0;
  Request attempt_request = request;
  if (request.sink) {
    attempt_request.sink = [&delivered, &request](const char* data, std::size_t size) {
      delivered += size;
      return request.sink(data, size);
    };
  }
  const std::string_view method = method_name(request.method);

  for (int attempt = 0;; ++attempt) {
    const std::uint64_t ticket = limiter_ ? limiter_->acquire(request.rate_class) : 0;
    auto result = inner_->perform(attempt_request);
    if (limiter_) {
      const auto now = Clock::now();
      RateAnnouncement announced;  // empty without a reply: the request is only no longer in flight
      if (result) announced = announced_limits(*result, std::chrono::system_clock::now(), now);
      // A stuck clock must not hang a mount (as with Retry-After).
      if (announced.reset) announced.reset = std::min(*announced.reset, now + policy_.max_server_delay);
      limiter_->learn(request.rate_class, announced, ticket, now);
    }

    bool retry = false;
    bool not_processed = false;
    std::optional<std::chrono::milliseconds> delay;
    long long blocked_ms = 0;
    std::string why;
    if (!result) {
      const int e = result.error().errnum;
      not_processed = e == ECONNREFUSED || e == EHOSTUNREACH;
      retry = result.error().retryable;
      why = result.error().message;
    } else {
      result->attempts = attempt + 1;
      const Outcome outcome = classify_status(result->status);
      const auto server = server_delay(*result, std::time(nullptr));
      if (result->ok()) return result;  // an exhausted window was learned above
      retry = outcome.retryable;
      not_processed = outcome.not_processed;
      why = "HTTP " + std::to_string(result->status);
      if (server && retry) delay = std::min(*server, policy_.max_server_delay);
      if (delay && result->status == 429 && limiter_) {
        // Every request of this class waits, not just this one; acquire() does the waiting.
        limiter_->block_until(request.rate_class, Clock::now() + *delay);
        blocked_ms = delay->count();
        delay = std::chrono::milliseconds(0);
      }
    }

    if (!retry || attempt >= policy_.max_retries || delivered > 0 || !replayable(request, not_processed)) {
      if (attempt > 0 || retry) {
        spdlog::debug("http {} {}: giving up after {} attempt(s): {}", method, request.url, attempt + 1, why);
      }
      return result;
    }
    auto wait = delay ? *delay : backoff_delay(policy_, attempt, unit_random());
    spdlog::warn("http {} {}: {}, retry {}/{} in {} ms", method, request.url, why, attempt + 1,
                 policy_.max_retries, blocked_ms > 0 ? blocked_ms : wait.count());
    if (wait.count() > 0) sleep_(wait);
  }
}

}  // namespace pinfs::http
