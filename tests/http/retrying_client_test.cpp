#include "pinfs/http/retrying_client.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "pinfs/http/fake_http_client.hpp"

namespace pinfs::http {
namespace {

using namespace std::chrono_literals;

struct Harness {
  std::shared_ptr<FakeHttpClient> fake = std::make_shared<FakeHttpClient>();
  std::vector<std::chrono::milliseconds> sleeps;
  RetryingClient client;

  explicit Harness(RetryPolicy policy = {}, std::shared_ptr<RateLimiter> limiter = nullptr)
      : client(fake, policy, std::move(limiter),
               [this](std::chrono::milliseconds d) { sleeps.push_back(d); }) {}
};

Request get(std::string url = "http://127.0.0.1:1/x") {
  Request r;
  r.url = std::move(url);
  return r;
}

TEST(Backoff, FullJitterStaysWithinExponentialCeiling) {
  RetryPolicy p;
  p.base_delay = 100ms;
  p.max_delay = 1000ms;
  EXPECT_EQ(backoff_delay(p, 0, 1.0), 100ms);
  EXPECT_EQ(backoff_delay(p, 1, 1.0), 200ms);
  EXPECT_EQ(backoff_delay(p, 3, 1.0), 800ms);
  EXPECT_EQ(backoff_delay(p, 4, 1.0), 1000ms);  // capped
  EXPECT_EQ(backoff_delay(p, 40, 1.0), 1000ms);
  EXPECT_EQ(backoff_delay(p, 3, 0.0), 0ms);
  EXPECT_EQ(backoff_delay(p, 3, 0.5), 400ms);
}

TEST(ServerDelay, ParsesRetryAfterSecondsDateAndRateLimitReset) {
  Response r;
  r.headers = {{"retry-after", "7"}};
  EXPECT_EQ(server_delay(r, 1'700'000'000), 7000ms);
  r.headers = {{"retry-after", "Sun, 06 Nov 1994 08:49:37 GMT"}};
  EXPECT_EQ(server_delay(r, 784111777 - 30), 30000ms);
  r.status = 429;
  r.headers = {{"x-ratelimit-reset", "1700000012"}};
  EXPECT_EQ(server_delay(r, 1'700'000'000), 12000ms);
  r.headers = {{"x-ratelimit-reset", "3"}};
  EXPECT_EQ(server_delay(r, 1'700'000'000), 3000ms);
  r.status = 503;  // the window is not what failed
  EXPECT_EQ(server_delay(r, 1'700'000'000), std::nullopt);
  r.headers = {{"x-ratelimit-reset", "3"}, {"x-ratelimit-remaining", "0"}};
  EXPECT_EQ(server_delay(r, 1'700'000'000), 3000ms);
  r.status = 0;
  r.headers = {{"retry-after", "soon"}};
  EXPECT_EQ(server_delay(r, 1'700'000'000), std::nullopt);
  r.headers = {};
  EXPECT_EQ(server_delay(r, 1'700'000'000), std::nullopt);
}

TEST(AnnouncedLimits, ParsesLimitRemainingAndResetOntoTheSteadyClock) {
  const auto wall = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  const auto now = Clock::time_point{} + 1000s;
  Response r;
  r.headers = {
      {"x-ratelimit-limit", "60"}, {"x-ratelimit-remaining", "59"}, {"x-ratelimit-reset", "1700000042"}};
  auto a = announced_limits(r, wall, now);
  EXPECT_EQ(a.limit, 60);
  EXPECT_EQ(a.remaining, 59);
  EXPECT_EQ(a.reset, now + 42s);
  r.headers = {{"x-ratelimit-reset", "5"}};  // a small number is a delta
  EXPECT_EQ(announced_limits(r, wall, now).reset, now + 5s);
  r.headers = {{"x-ratelimit-reset", "1600000000"}};  // in the past: now
  EXPECT_EQ(announced_limits(r, wall, now).reset, now);
  r.headers = {{"x-ratelimit-limit", "many"}};
  EXPECT_TRUE(announced_limits(r, wall, now).empty());
  r.headers = {};
  EXPECT_TRUE(announced_limits(r, wall, now).empty());
}

TEST(RetryingClient, LearnsTheAnnouncedWindowFromEveryReply) {
  auto limiter = std::make_shared<RateLimiter>();
  limiter->assume_per_minute("c", 6);  // one at once, then one every 12 s
  Harness h({}, limiter);
  h.fake->set_handler([](const Request&) -> Result<Response> {
    Response r;
    r.status = 200;
    r.headers = {
        {"x-ratelimit-limit", "1000"}, {"x-ratelimit-remaining", "900"}, {"x-ratelimit-reset", "30"}};
    return r;
  });
  Request req = get();
  req.rate_class = "c";
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(h.client.perform(req).has_value());  // the guess would take 4 min
  auto w = limiter->announced("c", Clock::now());
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->limit, 1000);
  // Same window on every reply: what remains only goes down, by the 19 sent after the first answer.
  EXPECT_EQ(w->remaining, 900 - 19);
  EXPECT_TRUE(h.sleeps.empty());
}

TEST(RetryingClient, AnExhaustedWindowHoldsTheNextRequestOfItsClass) {
  auto limiter = std::make_shared<RateLimiter>();
  Harness h({}, limiter);
  h.fake->push(200, "ok",
               {{"x-ratelimit-limit", "5"}, {"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", "1"}});
  h.fake->push(200, "ok");
  h.fake->push(200, "ok");
  Request req = get();
  req.rate_class = "c";
  ASSERT_TRUE(h.client.perform(req).has_value());
  Request other = get();
  other.rate_class = "d";
  auto start = Clock::now();
  ASSERT_TRUE(h.client.perform(other).has_value());
  EXPECT_LT(Clock::now() - start, 500ms);  // another class is not held
  ASSERT_TRUE(h.client.perform(req).has_value());
  EXPECT_GE(Clock::now() - start, 900ms);
}

TEST(RetryingClient, ServiceUnavailableThreeTimesThenSuccess) {
  Harness h;
  for (int i = 0; i < 3; ++i) h.fake->push(503, "busy");
  h.fake->push(200, "ok");
  auto r = h.client.perform(get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");
  EXPECT_EQ(r->attempts, 4);
  EXPECT_EQ(h.fake->calls(), 4u);
  EXPECT_EQ(h.sleeps.size(), 3u);
}

TEST(RetryingClient, GivesUpAfterMaxRetriesAndReturnsLastResponse) {
  RetryPolicy p;
  p.max_retries = 2;
  Harness h(p);
  h.fake->set_handler([](const Request&) -> Result<Response> {
    Response r;
    r.status = 502;
    return r;
  });
  auto r = h.client.perform(get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(h.fake->calls(), 3u);
}

TEST(RetryingClient, HonoursRetryAfterOn429) {
  Harness h;
  h.fake->push(429, "slow down", {{"retry-after", "3"}});
  h.fake->push(200, "ok");
  auto r = h.client.perform(get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  ASSERT_EQ(h.sleeps.size(), 1u);
  EXPECT_EQ(h.sleeps[0], 3000ms);
}

TEST(RetryingClient, RetryAfterIsCappedByPolicy) {
  RetryPolicy p;
  p.max_server_delay = 1500ms;
  Harness h(p);
  h.fake->push(503, "", {{"retry-after", "3600"}});
  h.fake->push(200, "ok");
  ASSERT_TRUE(h.client.perform(get()).has_value());
  ASSERT_EQ(h.sleeps.size(), 1u);
  EXPECT_EQ(h.sleeps[0], 1500ms);
}

TEST(RetryingClient, With429TheLimiterMakesEveryoneWait) {
  auto limiter = std::make_shared<RateLimiter>();
  Harness h({}, limiter);
  h.fake->push(429, "", {{"retry-after", "1"}});
  h.fake->push(200, "ok");
  const auto start = Clock::now();
  ASSERT_TRUE(h.client.perform(get()).has_value());
  EXPECT_GE(Clock::now() - start, 950ms);
  EXPECT_EQ(h.fake->calls(), 2u);
}

TEST(RetryingClient, ClientErrorsAreNeverRetried) {
  for (long status : {400L, 401L, 403L, 404L, 409L, 413L}) {
    Harness h;
    h.fake->push(status, "no");
    h.fake->push(200, "should not be reached");
    auto r = h.client.perform(get());
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, status);
    EXPECT_EQ(h.fake->calls(), 1u) << status;
    EXPECT_TRUE(h.sleeps.empty());
  }
}

TEST(RetryingClient, TransportErrorsAreRetriedWhenRetryable) {
  Harness h;
  h.fake->push(fail(EIO, "connection reset", true));
  h.fake->push(200, "ok");
  auto r = h.client.perform(get());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(h.fake->calls(), 2u);

  Harness h2;
  h2.fake->push(fail(EACCES, "bad certificate", false));
  auto r2 = h2.client.perform(get());
  ASSERT_FALSE(r2.has_value());
  EXPECT_EQ(r2.error().errnum, EACCES);
  EXPECT_EQ(h2.fake->calls(), 1u);
}

TEST(RetryingClient, NonIdempotentJsonPostRetriedOnlyWhenNotProcessed) {
  Request post = get();
  post.method = Method::Post;
  post.idempotent = false;
  post.body = BufferBody{"{}"};

  Harness h;
  h.fake->push(500, "maybe pinned");
  h.fake->push(200, "second");
  auto r = h.client.perform(post);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);  // the server may have acted: not sent twice
  EXPECT_EQ(h.fake->calls(), 1u);

  Harness h2;
  h2.fake->push(429, "");
  h2.fake->push(fail(ECONNREFUSED, "refused", true));
  h2.fake->push(200, "ok");
  auto r2 = h2.client.perform(post);
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(r2->status, 200);
  EXPECT_EQ(h2.fake->calls(), 3u);
}

TEST(RetryingClient, UploadFromStagedFileIsReplayed) {
  const std::string path = ::testing::TempDir() + "/retry_upload.bin";
  std::ofstream(path) << "staged bytes";
  Request post = get();
  post.method = Method::Post;
  post.idempotent = false;
  post.body = FileBody{path};
  Harness h;
  h.fake->push(fail(EIO, "reset mid-upload", true));
  h.fake->push(502, "");
  h.fake->push(200, "pinned");
  auto r = h.client.perform(post);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  const auto seen = h.fake->seen();
  ASSERT_EQ(seen.size(), 3u);
  for (const auto& s : seen) EXPECT_EQ(s.body, "staged bytes");  // each attempt re-read the file
  std::remove(path.c_str());
}

TEST(RetryingClient, NoRetryOnceBytesReachedTheSink) {
  Harness h;
  int calls = 0;
  h.fake->set_handler([&calls](const Request& req) -> Result<Response> {
    ++calls;
    req.sink("partial", 7);
    return fail(EIO, "reset after some bytes", true);
  });
  Request r = get();
  std::string got;
  r.sink = [&got](const char* d, std::size_t n) {
    got.append(d, n);
    return true;
  };
  auto result = h.client.perform(r);
  ASSERT_FALSE(result.has_value());
  EXPECT_TRUE(result.error().retryable);  // the caller may resume with a Range
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got, "partial");
}

}  // namespace
}  // namespace pinfs::http
