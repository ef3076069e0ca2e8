// Fault injection through /_emulator/faults, stats through /_emulator/stats, and rate limits.
#include <chrono>

#include "emulator_test_support.hpp"
#include "pinfs/cid/cid.hpp"

namespace pinfs::testing {
namespace {

using namespace std::chrono_literals;

class FaultsTest : public ::testing::Test {
 protected:
  EmulatorProcess emu;
  httplib::Client cli = client_for(emu);

  void add(const std::string& rules) {
    int status = 0;
    auto body = emu.request_with_status("POST", "/_emulator/faults", rules, status);
    ASSERT_EQ(status, 200) << body;
    ASSERT_NE(body.find("fault-"), std::string::npos);
  }
};

TEST_F(FaultsTest, StatusWithRetryAfterForACount) {
  add(R"({"method":"POST","path_prefix":"/pinning/pinFileToIPFS","action":"status","status":503,"retry_after":2,"times":2})");
  for (int i = 0; i < 2; ++i) {
    auto r = pinata_upload(cli, emu, {{"file", "x", "x.txt", ""}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->get_header_value("Retry-After"), "2");
    EXPECT_TRUE(parse_json(r->body).HasMember("error"));
  }
  auto ok = pinata_upload(cli, emu, {{"file", "x", "x.txt", ""}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  // Other methods and paths were never affected; AIOZ faults use AIOZ's error shape.
  add(R"({"path_prefix":"/api/","action":"status","status":500})");
  auto a = cli.Get("/api/apiKeys/testAuthentication", aioz_headers(emu));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 500);
  EXPECT_TRUE(parse_json(a->body).HasMember("message"));
  EXPECT_EQ(emu.request("DELETE", "/_emulator/faults"), "{\"cleared\":true}");
  auto b = cli.Get("/api/apiKeys/testAuthentication", aioz_headers(emu));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, 200);
}

TEST_F(FaultsTest, ProbabilityZeroNeverFiresAndOneAlwaysDoes) {
  add(R"({"path_prefix":"/data/testAuthentication","action":"status","status":502,"probability":0.0})");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(cli.Get("/data/testAuthentication", jwt_headers(emu))->status, 200);
  emu.request("DELETE", "/_emulator/faults");
  add(R"({"path_prefix":"/data/testAuthentication","action":"status","status":502,"probability":1.0})");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(cli.Get("/data/testAuthentication", jwt_headers(emu))->status, 502);
  emu.request("DELETE", "/_emulator/faults");
  add(R"({"path_prefix":"/data/testAuthentication","action":"status","status":502,"probability":0.5})");
  int fired = 0;
  for (int i = 0; i < 60; ++i) fired += cli.Get("/data/testAuthentication", jwt_headers(emu))->status == 502;
  EXPECT_GT(fired, 5);
  EXPECT_LT(fired, 55);
}

TEST_F(FaultsTest, ResetResponseAfterNBytes) {
  std::string data = random_bytes(300000, 9);
  std::string cid = pinata_upload_cid(cli, emu, "r.bin", data, 1);
  add(R"({"method":"GET","path_prefix":"/ipfs/","action":"reset_response","after_bytes":1000,"times":1})");
  std::string got;
  auto r = cli.Get(("/ipfs/" + cid).c_str(), [&](const char* d, size_t n) {
    got.append(d, n);
    return true;
  });
  EXPECT_FALSE(r);  // the connection closed before Content-Length bytes
  EXPECT_EQ(got.size(), 1000u);
  EXPECT_EQ(got, data.substr(0, 1000));
  auto again = cli.Get(("/ipfs/" + cid).c_str());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body.size(), data.size());
  // On a JSON reply too.
  add(R"({"path_prefix":"/data/pinList","action":"reset_response","after_bytes":10,"times":1})");
  EXPECT_FALSE(cli.Get("/data/pinList", jwt_headers(emu)));
}

TEST_F(FaultsTest, ResetRequestDuringUpload) {
  add(R"({"method":"POST","path_prefix":"/pinning/pinFileToIPFS","action":"reset_request","after_bytes":100000,"times":1})");
  auto r = cli.Post("/pinning/pinFileToIPFS", jwt_headers(emu),
                    form({{"file", random_bytes(2000000, 1), "big", ""}}));
  EXPECT_TRUE(!r || r->status >= 400);  // no success reply: the connection was cut
  auto list = parse_json(cli.Get("/data/pinList", jwt_headers(emu))->body);
  EXPECT_EQ(list["count"].GetInt(), 0);  // nothing was pinned
  auto ok = cli.Post("/pinning/pinFileToIPFS", jwt_headers(emu),
                     form({{"file", random_bytes(2000000, 1), "big", ""}}));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  add(R"({"path_prefix":"/data/testAuthentication","action":"reset_request","times":1})");
  EXPECT_FALSE(cli.Get("/data/testAuthentication", jwt_headers(emu)));
}

TEST_F(FaultsTest, StallDelaysTheReply) {
  add(R"({"path_prefix":"/data/testAuthentication","action":"stall","stall_ms":700,"times":1})");
  auto start = std::chrono::steady_clock::now();
  auto r = cli.Get("/data/testAuthentication", jwt_headers(emu));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 650ms);
}

TEST_F(FaultsTest, TruncatedAndMalformedBodies) {
  pinata_upload_cid(cli, emu, "a", "a", 1);
  std::string good = cli.Get("/data/pinList", jwt_headers(emu))->body;
  add(R"({"path_prefix":"/data/pinList","action":"truncate","times":1})");
  auto t = cli.Get("/data/pinList", jwt_headers(emu));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->body, good.substr(0, good.size() / 2));
  add(R"({"path_prefix":"/data/pinList","action":"malformed","times":1})");
  auto m = cli.Get("/data/pinList", jwt_headers(emu));
  ASSERT_TRUE(m);
  rapidjson::Document d;
  d.Parse(m->body.c_str());
  EXPECT_TRUE(d.HasParseError());
}

TEST_F(FaultsTest, WrongCidInReplies) {
  add(R"({"method":"POST","path_prefix":"/pinning/pinFileToIPFS","action":"wrong_cid","times":1})");
  auto r = pinata_upload(cli, emu, {{"file", "hello world\n", "h.txt", ""}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  std::string cid = str(parse_json(r->body), "IpfsHash");
  EXPECT_NE(cid, "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
  EXPECT_TRUE(cid::Cid::parse(cid).has_value());  // still a valid CID, of the same version
  EXPECT_EQ(cid.rfind("Qm", 0), 0u);
  // Gateway bytes no longer hash to the CID.
  std::string v1 = pinata_upload_cid(cli, emu, "g", "gateway bytes", 1);
  add(R"({"path_prefix":"/ipfs/","action":"wrong_cid","times":1})");
  auto g = cli.Get(("/ipfs/" + v1).c_str());
  ASSERT_TRUE(g);
  EXPECT_EQ(g->body.size(), 13u);
  EXPECT_NE(g->body, "gateway bytes");
}

TEST_F(FaultsTest, BadRulesAndListing) {
  int status = 0;
  emu.request_with_status("POST", "/_emulator/faults", R"({"action":"explode"})", status);
  EXPECT_EQ(status, 400);
  emu.request_with_status("POST", "/_emulator/faults", "not json", status);
  EXPECT_EQ(status, 400);
  emu.request_with_status("POST", "/_emulator/faults", R"({"action":"status","probability":2})", status);
  EXPECT_EQ(status, 400);
  add(R"({"rules":[{"path_prefix":"/a","action":"stall","ms":1},{"path_prefix":"/b","action":"truncate","times":3}]})");
  auto list = parse_json(emu.request("GET", "/_emulator/faults"));
  ASSERT_EQ(list["rules"].Size(), 2u);
  EXPECT_EQ(str(list["rules"][1], "action"), "truncate");
  EXPECT_EQ(list["rules"][1]["times"].GetInt(), 3);
}

TEST_F(FaultsTest, StatsCountRequestsBytesAndUploads) {
  pinata_upload_cid(cli, emu, "s", std::string(5000, 's'), 1);
  cli.Get("/data/pinList", jwt_headers(emu));
  cli.Get("/data/pinList", jwt_headers(emu));
  cli.Delete("/pinning/unpin/QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o", jwt_headers(emu));
  auto s = parse_json(emu.request("GET", "/_emulator/stats"));
  EXPECT_EQ(s["requests"]["POST /pinning/pinFileToIPFS"].GetInt(), 1);
  EXPECT_EQ(s["requests"]["GET /data/pinList"].GetInt(), 2);
  EXPECT_EQ(s["requests"]["DELETE /pinning/unpin/{cid}"].GetInt(), 1);
  EXPECT_EQ(s["uploads"].GetInt(), 1);
  EXPECT_GT(s["bytes_in"].GetUint64(), 5000u);
  EXPECT_GT(s["bytes_out"].GetUint64(), 100u);
  // Unpin of a CID that is not pinned: 400, as Pinata answers (PROTOCOLS.md §1).
  EXPECT_EQ(s["responses_by_status"]["400"].GetInt(), 1);
}

TEST(EmulatorRateLimit, LimitsAClassWithHeaders) {
  EmulatorProcess emu({{"--rate-limit", "pinata-data=3/min", "--rate-limit", "aioz=2"}, ""});
  auto cli = client_for(emu);
  for (int i = 0; i < 3; ++i) {
    auto r = cli.Get("/data/testAuthentication", jwt_headers(emu));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("X-RateLimit-Limit"), "3");
    EXPECT_EQ(r->get_header_value("X-RateLimit-Remaining"), std::to_string(2 - i));
    auto reset = std::stoll(r->get_header_value("X-RateLimit-Reset"));
    auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    EXPECT_GT(reset, now);
    EXPECT_LE(reset, now + 61);
  }
  auto limited = cli.Get("/data/pinList", jwt_headers(emu));
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  EXPECT_FALSE(limited->get_header_value("Retry-After").empty());
  EXPECT_GT(std::stoi(limited->get_header_value("Retry-After")), 0);
  EXPECT_EQ(limited->get_header_value("X-RateLimit-Remaining"), "0");
  EXPECT_EQ(str(parse_json(limited->body)["error"], "reason"), "RATE_LIMITED");
  // Another class has its own budget; a class without a limit announces a large one.
  auto pinning = cli.Get("/pinning/pinJobs", jwt_headers(emu));
  ASSERT_TRUE(pinning);
  EXPECT_EQ(pinning->status, 200);
  EXPECT_EQ(pinning->get_header_value("X-RateLimit-Limit"), "1000000");
  EXPECT_EQ(cli.Get("/api/apiKeys/testAuthentication", aioz_headers(emu))->status, 200);
  EXPECT_EQ(cli.Get("/api/apiKeys/testAuthentication", aioz_headers(emu))->status, 200);
  auto aioz = cli.Get("/api/apiKeys/testAuthentication", aioz_headers(emu));
  ASSERT_TRUE(aioz);
  EXPECT_EQ(aioz->status, 429);
  EXPECT_TRUE(parse_json(aioz->body).HasMember("message"));
  // The control API is never limited.
  auto stats = parse_json(emu.request("GET", "/_emulator/stats"));
  EXPECT_EQ(stats["responses_by_status"]["429"].GetInt(), 2);
}

TEST(EmulatorRateLimit, OffByDefaultAndAnnouncedAsUnlimited) {
  EmulatorProcess emu;
  auto cli = client_for(emu);
  for (int i = 0; i < 40; ++i) {
    auto r = cli.Get("/data/testAuthentication", jwt_headers(emu));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("X-RateLimit-Limit"), "1000000");
    EXPECT_EQ(r->get_header_value("X-RateLimit-Remaining"), "1000000");
    EXPECT_FALSE(r->get_header_value("X-RateLimit-Reset").empty());
  }
  auto control = cli.Get("/_emulator/stats");
  ASSERT_TRUE(control);
  EXPECT_FALSE(control->has_header("X-RateLimit-Limit"));  // the control API is not part of the service
}

}  // namespace
}  // namespace pinfs::testing
