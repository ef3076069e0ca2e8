#include "pinfs/service/faulty_pin_service.hpp"

#include <gtest/gtest.h>

#include "pinfs/http/fake_http_client.hpp"
#include "pinfs/service/pinata_service.hpp"

namespace pinfs::service {
namespace {

using namespace std::chrono_literals;

// A minimal inner service: the faulty wrapper is tested against the real Pinata client over a
// fake transport, so "the call reached the service" is visible as an HTTP request.
struct Stack {
  std::shared_ptr<http::FakeHttpClient> fake = std::make_shared<http::FakeHttpClient>();
  FaultyPinService faulty{
      std::make_shared<PinataService>(fake, "http://127.0.0.1:9", Credentials{"jwt-x", "", "", ""}), 42};
  Stack() {
    fake->set_handler([](const http::Request& r) -> Result<http::Response> {
      http::Response res;
      res.status = 200;
      res.body = r.url.find("userPinnedDataTotal") != std::string::npos
                     ? R"({"pin_count":1,"pin_size_total":2})"
                     : R"({"count":0,"rows":[]})";
      return res;
    });
  }
};

TEST(FaultyPinService, FailsTheNextNCallsOfOneKind) {
  Stack s;
  s.faulty.faults().add(FaultRule{"totals", Error{EAGAIN, "injected 429", true}, 0, 2, 1.0, false});
  auto a = s.faulty.totals();
  auto b = s.faulty.totals();
  auto c = s.faulty.totals();
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().errnum, EAGAIN);
  EXPECT_TRUE(a.error().retryable);
  ASSERT_FALSE(b.has_value());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->pin_count, 1u);
  EXPECT_TRUE(s.faulty.list({}).has_value());  // other calls untouched
  EXPECT_EQ(s.faulty.faults().calls("totals"), 3u);
  EXPECT_EQ(s.faulty.faults().injected("totals"), 2u);
  EXPECT_EQ(s.faulty.faults().injected("*"), 2u);
  EXPECT_EQ(s.fake->calls(), 2u);  // injected failures never reached the service
}

TEST(FaultyPinService, SkipLetsEarlyCallsThrough) {
  Stack s;
  s.faulty.faults().add(FaultRule{"*", Error{EIO, "third call fails", false}, 2, 1, 1.0, false});
  EXPECT_TRUE(s.faulty.totals().has_value());
  EXPECT_TRUE(s.faulty.list({}).has_value());
  EXPECT_FALSE(s.faulty.totals().has_value());
  EXPECT_TRUE(s.faulty.totals().has_value());
}

TEST(FaultyPinService, ProbabilityIsSeededAndRoughlyRight) {
  Stack s;
  s.faulty.faults().add(FaultRule{"list", Error{EIO, "flaky", true}, 0, -1, 0.3, false});
  int failures = 0;
  for (int i = 0; i < 1000; ++i) failures += s.faulty.list({}).has_value() ? 0 : 1;
  EXPECT_GT(failures, 220);
  EXPECT_LT(failures, 380);
  EXPECT_EQ(s.faulty.faults().injected("list"), static_cast<std::uint64_t>(failures));
}

TEST(FaultyPinService, AfterCallReachesTheServiceButLosesTheAnswer) {
  Stack s;
  s.faulty.faults().add(FaultRule{"totals", Error{EIO, "reply lost", true}, 0, 1, 1.0, true});
  EXPECT_FALSE(s.faulty.totals().has_value());
  EXPECT_EQ(s.fake->calls(), 1u);
}

TEST(FaultyPinService, LatencyIsAdded) {
  Stack s;
  s.faulty.faults().set_latency("totals", 150ms);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(s.faulty.totals().has_value());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 140ms);
  start = std::chrono::steady_clock::now();
  ASSERT_TRUE(s.faulty.list({}).has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);
  s.faulty.faults().clear();
  start = std::chrono::steady_clock::now();
  ASSERT_TRUE(s.faulty.totals().has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);
}

TEST(FaultyPinService, ForwardsCapabilities) {
  Stack s;
  EXPECT_TRUE(s.faulty.capabilities().metadata_update);
  EXPECT_EQ(s.faulty.capabilities().max_keyvalues, 10u);
}

}  // namespace
}  // namespace pinfs::service
