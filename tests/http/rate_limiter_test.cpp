#include "pinfs/http/rate_limiter.hpp"

#include <gtest/gtest.h>

namespace pinfs::http {
namespace {

using namespace std::chrono_literals;

TEST(TokenBucket, BurstIsFreeThenRequestsAreSpacedAtTheRate) {
  const auto t0 = Clock::time_point{} + 1000s;
  TokenBucket bucket(60, 3, t0);  // one per second, three at once
  EXPECT_EQ(bucket.reserve(t0), Clock::duration::zero());
  EXPECT_EQ(bucket.reserve(t0), Clock::duration::zero());
  EXPECT_EQ(bucket.reserve(t0), Clock::duration::zero());
  const auto fourth = bucket.reserve(t0);
  EXPECT_GE(fourth, 999ms);
  EXPECT_LE(fourth, 1001ms);
  const auto fifth = bucket.reserve(t0);  // queued behind the fourth
  EXPECT_GE(fifth, 1999ms);
}

TEST(TokenBucket, RefillsOverTimeUpToBurst) {
  const auto t0 = Clock::time_point{} + 1000s;
  TokenBucket bucket(30, 2, t0);  // one per two seconds
  bucket.reserve(t0);
  bucket.reserve(t0);
  EXPECT_EQ(bucket.reserve(t0 + 2s), Clock::duration::zero());
  // a long idle period refills to the burst, not beyond
  const auto later = t0 + 3600s;
  EXPECT_EQ(bucket.reserve(later), Clock::duration::zero());
  EXPECT_EQ(bucket.reserve(later), Clock::duration::zero());
  EXPECT_GT(bucket.reserve(later), Clock::duration::zero());
}

TEST(TokenBucket, UnlimitedBucketStillHonoursBlock) {
  const auto t0 = Clock::time_point{} + 1000s;
  TokenBucket bucket(0, 1, t0);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(bucket.reserve(t0), Clock::duration::zero());
  bucket.block_until(t0 + 5s);
  EXPECT_EQ(bucket.reserve(t0 + 1s), 4s);
  EXPECT_EQ(bucket.reserve(t0 + 6s), Clock::duration::zero());
}

TEST(RateLimiter, BurstOfCallsStaysUnderConfiguredRate) {
  RateLimiter limiter;
  limiter.set_rate(RateLimiter::kOverall, 600, 1);  // 10 per second
  const auto start = Clock::now();
  for (int i = 0; i < 6; ++i) limiter.acquire("");
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 490ms);  // first is free, five more at 100 ms each
  EXPECT_LT(elapsed, 2s);
}

TEST(RateLimiter, ClassBucketIsStricterThanOverall) {
  RateLimiter limiter;
  limiter.set_rate(RateLimiter::kOverall, 6000, 1);
  limiter.set_rate("data", 300, 1);  // 5 per second
  auto start = Clock::now();
  for (int i = 0; i < 3; ++i) limiter.acquire("data");
  EXPECT_GE(Clock::now() - start, 390ms);
  start = Clock::now();
  for (int i = 0; i < 3; ++i) limiter.acquire("other");
  EXPECT_LT(Clock::now() - start, 150ms);
}

TEST(RateLimiter, BlockUntilHoldsEveryClass) {
  RateLimiter limiter;
  limiter.block_until("data", Clock::now() + 300ms);
  const auto start = Clock::now();
  limiter.acquire("anything");
  EXPECT_GE(Clock::now() - start, 280ms);
}

}  // namespace
}  // namespace pinfs::http
