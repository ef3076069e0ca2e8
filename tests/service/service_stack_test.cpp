#include "pinfs/service/service_stack.hpp"

#include <gtest/gtest.h>

#include "pinfs/common/log.hpp"
#include "pinfs/http/fake_http_client.hpp"
#include "pinfs/service/pinata_service.hpp"

namespace pinfs::service {
namespace {

using namespace std::chrono_literals;

ServiceConfig config(const std::string& provider) {
  ServiceConfig c;
  c.provider = provider;
  c.api_url = "http://127.0.0.1:9/api";
  c.gateway_url = "http://127.0.0.1:9";
  c.credentials.api_key = "stack-key-1234";
  c.credentials.api_secret = "stack-secret-5678";
  return c;
}

TEST(ResolveConfig, FillsProviderDefaultsAndRejectsBadInput) {
  ServiceConfig c;
  c.provider = "pinata";
  c.credentials.jwt = "jwt-abcdef";
  auto pinata = resolve_config(c);
  ASSERT_TRUE(pinata.has_value());
  EXPECT_EQ(pinata->api_url, "https://api.pinata.cloud");
  EXPECT_EQ(pinata->gateway_url, "https://gateway.pinata.cloud");
  c.provider = "aioz";
  auto aioz_without_keys = resolve_config(c);
  ASSERT_FALSE(aioz_without_keys.has_value());
  EXPECT_EQ(aioz_without_keys.error().errnum, EINVAL);
  c.credentials.api_key = "k-123456";
  c.credentials.api_secret = "s-123456";
  auto aioz = resolve_config(c);
  ASSERT_TRUE(aioz.has_value());
  EXPECT_EQ(aioz->api_url, "https://api.w3ipfs.storage/api");
  c.provider = "ipfs.io";
  EXPECT_FALSE(resolve_config(c).has_value());
  c.provider = "aioz";
  c.api_url = "ftp://example";
  EXPECT_FALSE(resolve_config(c).has_value());
  ServiceConfig empty;
  empty.provider = "pinata";
  EXPECT_FALSE(resolve_config(empty).has_value());
}

TEST(ResolveConfig, RegistersCredentialsAsSecrets) {
  auto c = config("aioz");
  ASSERT_TRUE(resolve_config(c).has_value());
  const std::string text = log::redact("key=stack-key-1234 secret=stack-secret-5678");
  EXPECT_EQ(text.find("stack-key-1234"), std::string::npos);
  EXPECT_EQ(text.find("stack-secret-5678"), std::string::npos);
}

TEST(ServiceStack, ServiceUnavailableThreeTimesThenSuccess) {
  auto fake = std::make_shared<http::FakeHttpClient>();
  auto c = config("aioz");
  c.rate_per_minute = 0;  // unlimited: this test is about retries
  auto service = make_pin_service_over(c, fake);
  ASSERT_TRUE(service.has_value());
  for (int i = 0; i < 3; ++i) fake->push(503, "", {{"retry-after", "0"}});
  fake->push(200, R"({"data":{"totals":{"files":5,"size":6},"pins":[]},"status":"success"})");
  auto totals = (*service)->totals();
  ASSERT_TRUE(totals.has_value()) << totals.error().describe();
  EXPECT_EQ(totals->pin_count, 5u);
  EXPECT_EQ(fake->calls(), 4u);
}

TEST(ServiceStack, UnauthorizedIsNotRetriedAndIsEacces) {
  auto fake = std::make_shared<http::FakeHttpClient>();
  auto c = config("pinata");
  c.rate_per_minute = 0;
  c.list_rate_per_minute = 0;
  auto service = make_pin_service_over(c, fake);
  ASSERT_TRUE(service.has_value());
  fake->push(401, R"({"error":{"reason":"INVALID_CREDENTIALS","details":"Invalid/expired credentials"}})");
  auto auth = (*service)->check_auth();
  ASSERT_FALSE(auth.has_value());
  EXPECT_EQ(auth.error().errnum, EACCES);
  EXPECT_EQ(fake->calls(), 1u);
}

TEST(ServiceStack, RetriesExhaustedOn429GiveEagain) {
  auto fake = std::make_shared<http::FakeHttpClient>();
  auto c = config("aioz");
  c.rate_per_minute = 0;
  c.max_retries = 2;
  auto service = make_pin_service_over(c, fake);
  ASSERT_TRUE(service.has_value());
  fake->set_handler([](const http::Request&) -> Result<http::Response> {
    http::Response r;
    r.status = 429;
    r.headers = {{"retry-after", "0"}};
    return r;
  });
  auto totals = (*service)->totals();
  ASSERT_FALSE(totals.has_value());
  EXPECT_EQ(totals.error().errnum, EAGAIN);
  EXPECT_EQ(fake->calls(), 3u);
}

TEST(ServiceStack, PinataDataClassHasItsOwnSlowerBucket) {
  auto fake = std::make_shared<http::FakeHttpClient>();
  fake->set_handler([](const http::Request& r) -> Result<http::Response> {
    http::Response res;
    res.status = 200;
    res.body = r.url.find("/data/") != std::string::npos ? R"({"pin_count":1,"pin_size_total":1})"
                                                         : R"({"count":0,"rows":[]})";
    return res;
  });
  auto c = config("pinata");
  c.rate_per_minute = 6000;      // overall: 1000 at once, then 5000/min
  c.list_rate_per_minute = 600;  // under /data/: 100 at once, then 500/min (one per 120 ms)
  auto service = make_pin_service_over(c, fake);
  ASSERT_TRUE(service.has_value());
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 105; ++i) ASSERT_TRUE((*service)->totals().has_value());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 590ms);  // 5 waits of 120 ms after the burst
  start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*service)->list_jobs().has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 200ms);  // /pinning/ only draws on the overall bucket
}

TEST(ServiceStack, GatewayOverFakeTransport) {
  auto fake = std::make_shared<http::FakeHttpClient>();
  auto gateway = make_gateway_over(config("pinata"), fake);
  ASSERT_TRUE(gateway.has_value());
  fake->push(206, "abc");
  std::string got;
  auto n = (*gateway)->read("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4", "", 0, 3,
                            [&](const char* d, std::size_t s) {
                              got.append(d, s);
                              return true;
                            });
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(got, "abc");
}

TEST(Factory, BuildsRealClients) {
  auto service = make_pin_service(config("pinata"));
  ASSERT_TRUE(service.has_value());
  EXPECT_TRUE((*service)->capabilities().metadata_update);
  auto aioz = make_pin_service(config("aioz"));
  ASSERT_TRUE(aioz.has_value());
  EXPECT_FALSE((*aioz)->capabilities().metadata_update);
  EXPECT_TRUE(make_gateway(config("aioz")).has_value());
  EXPECT_FALSE(make_pin_service(ServiceConfig{}).has_value());
}

}  // namespace
}  // namespace pinfs::service
