#include "pinfs/http/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace pinfs::http {
namespace {

using namespace std::chrono_literals;

const auto t0 = Clock::time_point{} + 1000s;

int granted_at(RateLimiter& limiter, const std::string& cls, Clock::time_point now, int tries) {
  int n = 0;
  for (int i = 0; i < tries; ++i) n += limiter.try_acquire(cls, now).granted ? 1 : 0;
  return n;
}

RateAnnouncement window(long long limit, long long remaining, Clock::time_point reset) {
  return {limit, remaining, reset};
}

TEST(TokenBucket, BurstIsFreeThenOneTokenPerRefillInterval) {
  TokenBucket bucket(60, 3, t0);  // one per second, three at once
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(bucket.available_in(t0), Clock::duration::zero());
    bucket.take(t0);
  }
  const auto fourth = bucket.available_in(t0);
  EXPECT_GE(fourth, 999ms);
  EXPECT_LE(fourth, 1001ms);
  EXPECT_EQ(bucket.available_in(t0 + 1s), Clock::duration::zero());
}

TEST(TokenBucket, RefillsOverTimeUpToBurst) {
  TokenBucket bucket(30, 2, t0);  // one per two seconds
  bucket.take(t0);
  bucket.take(t0);
  EXPECT_GT(bucket.available_in(t0 + 1s), Clock::duration::zero());
  EXPECT_EQ(bucket.available_in(t0 + 2s), Clock::duration::zero());
  const auto later = t0 + 3600s;  // a long idle period refills to the burst, not beyond
  bucket.take(later);
  bucket.take(later);
  EXPECT_GT(bucket.available_in(later), Clock::duration::zero());
}

TEST(RateLimiter, AssumedRateLetsASixthGoAtOnceThenSpacesTheRest) {
  RateLimiter limiter;
  limiter.assume_per_minute("data", 30);  // burst 5, then 25/min
  EXPECT_EQ(granted_at(limiter, "data", t0, 10), 5);
  auto g = limiter.try_acquire("data", t0);
  EXPECT_FALSE(g.granted);
  EXPECT_GE(g.wait, 2399ms);  // 60 s / 25
  EXPECT_LE(g.wait, 2401ms);
  EXPECT_EQ(granted_at(limiter, "other", t0, 100), 100);  // no assumption, nothing announced: unlimited
}

TEST(RateLimiter, SharedAssumptionCapsEveryUnannouncedClass) {
  RateLimiter limiter;
  limiter.assume_per_minute(RateLimiter::kOverall, 60);  // burst 10
  limiter.assume_per_minute("a", 60);
  limiter.assume_per_minute("b", 60);
  EXPECT_EQ(granted_at(limiter, "a", t0, 6) + granted_at(limiter, "b", t0, 6), 10);
}

TEST(RateLimiter, AnnouncedLimitReplacesTheAssumption) {
  RateLimiter limiter;
  limiter.assume_per_minute(RateLimiter::kOverall, 60);
  limiter.assume_per_minute("pin", 60);  // burst 10
  auto first = limiter.try_acquire("pin", t0);
  ASSERT_TRUE(first.granted);
  // The service says 600 a minute, 599 left after this one: the guess no longer holds anything back.
  limiter.learn("pin", window(600, 599, t0 + 60s), first.ticket, t0);
  for (int i = 0; i < 599; ++i) {  // each answered before the window ends (none still in flight)
    auto g = limiter.try_acquire("pin", t0);
    ASSERT_TRUE(g.granted) << i;
    limiter.learn("pin", RateAnnouncement{}, g.ticket, t0);
  }
  auto next = limiter.try_acquire("pin", t0 + 1s);
  EXPECT_FALSE(next.granted);  // the window is spent: wait for its reset, not for a guess
  EXPECT_EQ(next.wait, 59s);
  EXPECT_EQ(granted_at(limiter, "pin", t0 + 60s, 601), 600);  // the next window, as large as the last
}

TEST(RateLimiter, RequestsSentAfterTheAnsweredOneCountAgainstWhatRemains) {
  RateLimiter limiter;
  const auto a = limiter.try_acquire("c", t0);
  ASSERT_EQ(granted_at(limiter, "c", t0, 4), 4);  // four more in flight when a's reply arrives
  limiter.learn("c", window(10, 9, t0 + 60s), a.ticket, t0);
  EXPECT_EQ(granted_at(limiter, "c", t0, 10), 5);  // 9 left when a was counted, 4 of them already taken
  // A late reply from before: it cannot give back what is already spent.
  limiter.learn("c", window(10, 8, t0 + 60s), a.ticket + 1, t0);
  EXPECT_EQ(limiter.announced("c", t0)->remaining, 0);
}

// Concurrent uploads (--transfers): a reply may overtake requests granted before it, which the service has
// not counted yet; they still land in its window.
TEST(RateLimiter, RequestsGrantedBeforeTheAnsweredOneAndStillInFlightCountToo) {
  RateLimiter limiter;
  const auto a = limiter.try_acquire("c", t0);
  ASSERT_EQ(granted_at(limiter, "c", t0, 2), 2);
  const auto d = limiter.try_acquire("c", t0);  // a, b, c and d in flight; d's reply comes first
  limiter.learn("c", window(10, 9, t0 + 60s), d.ticket, t0);
  EXPECT_EQ(granted_at(limiter, "c", t0, 20), 6);             // 10 in the window with a, b, c and d
  limiter.learn("c", window(10, 8, t0 + 60s), a.ticket, t0);  // nothing given back
  EXPECT_EQ(limiter.announced("c", t0)->remaining, 0);
}

TEST(RateLimiter, RequestsInFlightAtALocalRolloverCountInTheNewWindow) {
  RateLimiter limiter;
  const auto a = limiter.try_acquire("c", t0);
  limiter.learn("c", window(4, 3, t0 + 60s), a.ticket, t0);
  const auto b = limiter.try_acquire("c", t0 + 59s);
  ASSERT_EQ(granted_at(limiter, "c", t0 + 59s, 2), 2);  // b, c, d in flight as the window ends
  // They may reach the service after its reset: only one more fits the new window.
  EXPECT_EQ(granted_at(limiter, "c", t0 + 60s, 4), 1);
  limiter.learn("c", window(4, 3, t0 + 120s), b.ticket, t0 + 60s);  // b counted in the new window
  EXPECT_EQ(granted_at(limiter, "c", t0 + 60s, 4), 0);
  // A request that failed without a reply is answered too: it no longer holds a place.
  limiter.learn("c", RateAnnouncement{}, b.ticket + 1, t0 + 61s);
  limiter.learn("c", RateAnnouncement{}, b.ticket + 2, t0 + 61s);
  limiter.learn("c", RateAnnouncement{}, b.ticket + 3, t0 + 61s);
  EXPECT_EQ(granted_at(limiter, "c", t0 + 120s, 10), 4);
}

TEST(RateLimiter, NewWindowRestoresWhatTheServiceSays) {
  RateLimiter limiter;
  const auto a = limiter.try_acquire("c", t0);
  limiter.learn("c", window(3, 0, t0 + 10s), a.ticket, t0);
  EXPECT_FALSE(limiter.try_acquire("c", t0 + 1s).granted);
  const auto b = limiter.try_acquire("c", t0 + 10s);  // rolled locally
  ASSERT_TRUE(b.granted);
  limiter.learn("c", window(3, 2, t0 + 70s), b.ticket, t0 + 10s);
  EXPECT_EQ(granted_at(limiter, "c", t0 + 10s, 5), 2);
  // A reply about the window that is over changes nothing.
  limiter.learn("c", window(3, 3, t0 + 10s), b.ticket, t0 + 10s);
  EXPECT_EQ(limiter.announced("c", t0 + 10s)->remaining, 0);
}

TEST(RateLimiter, UnlimitedAnnouncementNeverHoldsBack) {
  RateLimiter limiter;
  limiter.assume_per_minute("c", 6);  // burst 1
  const auto a = limiter.try_acquire("c", t0);
  limiter.learn("c", window(1'000'000, 1'000'000, t0 + 60s), a.ticket, t0);
  EXPECT_EQ(granted_at(limiter, "c", t0, 5000), 5000);
}

TEST(RateLimiter, BlockHoldsOnlyItsClass) {
  RateLimiter limiter;
  limiter.block_until("data", t0 + 5s);
  auto g = limiter.try_acquire("data", t0 + 1s);
  EXPECT_FALSE(g.granted);
  EXPECT_EQ(g.wait, 4s);
  EXPECT_TRUE(limiter.try_acquire("pinning", t0 + 1s).granted);
  EXPECT_TRUE(limiter.try_acquire("data", t0 + 5s).granted);
}

TEST(RateLimiter, RemainingZeroWithoutLimitBlocksUntilReset) {
  RateLimiter limiter;
  RateAnnouncement a;
  a.remaining = 0;
  a.reset = t0 + 3s;
  limiter.learn("c", a, 0, t0);
  EXPECT_FALSE(limiter.try_acquire("c", t0 + 2s).granted);
  EXPECT_TRUE(limiter.try_acquire("c", t0 + 3s).granted);
  EXPECT_FALSE(limiter.announced("c", t0).has_value());
  limiter.learn("c", window(0, 0, t0 + 60s), 0, t0 + 3s);  // "0 a minute" is no window to live by
  EXPECT_FALSE(limiter.announced("c", t0 + 3s).has_value());
}

// A waiter held by a guess goes as soon as an announcement allows more (no waiting on a guessed limit).
TEST(RateLimiter, AnnouncementWakesWaitersHeldByTheAssumption) {
  RateLimiter limiter;
  limiter.assume_per_minute("c", 1);  // burst 1, then one per two minutes
  const auto first = limiter.acquire("c");
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    limiter.acquire("c");
    done = true;
  });
  limiter.learn("c", window(100, 99, Clock::now() + 60s), first, Clock::now());
  waiter.join();  // would block for two minutes on the assumption
  EXPECT_TRUE(done);
  EXPECT_EQ(limiter.announced("c", Clock::now())->remaining, 98);
}

}  // namespace
}  // namespace pinfs::http
