// The emulator answers as the real services do where public sources say so. Each test names its source:
// PROTOCOLS.md §1/§2 ("Answers and leniencies confirmed"), the official @pinata/sdk 2.1.0 source
// (src/commands/…, src/util/validators.ts) and the providers' API docs.
#include "emulator_test_support.hpp"

namespace pinfs::testing {
namespace {

constexpr const char* kHelloV1 = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";
constexpr const char* kUnknown = "bafkreigoswsg4iddq6gqexlizzkduic652iolmy2mwolrr6bbd5twezucq";

class FidelityTest : public ::testing::Test {
 protected:
  EmulatorProcess emu;
  httplib::Client cli = client_for(emu);

  httplib::Result post_json(const std::string& path, const std::string& body) {
    auto r = cli.Post(path.c_str(), jwt_headers(emu), body, "application/json");
    EXPECT_TRUE(r);
    return r;
  }
  rapidjson::Document jobs() {
    auto r = cli.Get("/pinning/pinJobs", jwt_headers(emu));
    EXPECT_TRUE(r && r->status == 200);
    return parse_json(r ? r->body : "{}");
  }
};

// Source: PROTOCOLS.md §1 "Answers and leniencies confirmed" (captured replies): 400, not 404, with the
// reason CURRENT_USER_HAS_NOT_PINNED_CID, also for text that is not a CID at all.
TEST_F(FidelityTest, PinataUnpinOfWhatIsNotPinnedIs400WithTheReason) {
  for (const std::string& cid : {std::string(kUnknown), std::string("not-a-cid")}) {
    auto r = cli.Delete(("/pinning/unpin/" + cid).c_str(), jwt_headers(emu));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << cid;
    auto body = parse_json(r->body);
    EXPECT_EQ(str(body["error"], "reason"), "CURRENT_USER_HAS_NOT_PINNED_CID");
    EXPECT_NE(str(body["error"], "details").find(cid), std::string::npos);
  }
}

// Source: PROTOCOLS.md §1 (an official SDK sends hostNodes "" by default; Pinata accepts it); issue 12.
TEST_F(FidelityTest, PinataPinByHashTakesHostNodesEmptyStringAsNone) {
  auto r = post_json("/pinning/pinByHash",
                     std::string(R"({"hashToPin":")") + kUnknown +
                         R"(","pinataMetadata":{"name":"by-hash"},"pinataOptions":{"hostNodes":""}})");
  ASSERT_EQ(r->status, 200) << r->body;
  auto reply = parse_json(r->body);
  EXPECT_EQ(str(reply, "ipfsHash"), kUnknown);
  auto list = jobs();
  ASSERT_EQ(list["rows"].Size(), 1u);
  EXPECT_TRUE(list["rows"][0]["host_nodes"].IsNull() ||
              (list["rows"][0]["host_nodes"].IsArray() && list["rows"][0]["host_nodes"].Empty()));
  // A wrong shape is still refused: six nodes, or a number.
  auto six =
      post_json("/pinning/pinByHash", std::string(R"({"hashToPin":")") + kUnknown +
                                          R"(","pinataOptions":{"hostNodes":["a","b","c","d","e","f"]}})");
  EXPECT_EQ(six->status, 400);
  auto number = post_json("/pinning/pinByHash", std::string(R"({"hashToPin":")") + kUnknown +
                                                    R"(","pinataOptions":{"hostNodes":7}})");
  EXPECT_EQ(number->status, 400);
}

// Source: @pinata/sdk 2.1.0 src/commands/pinning/pinByHash.ts always sends "pinataOptions": {} and no
// pinataMetadata when none was given.
TEST_F(FidelityTest, PinataPinByHashAsTheSdkSendsIt) {
  auto r = post_json("/pinning/pinByHash",
                     std::string(R"({"hashToPin":")") + kUnknown + R"(","pinataOptions":{}})");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(str(parse_json(r->body), "ipfsHash"), kUnknown);
}

// Source: @pinata/sdk 2.1.0 src/util/validators.ts validateMetadata: keyvalue values may be strings,
// booleans or numbers; at most 10 keys.
TEST_F(FidelityTest, PinataKeyvaluesMayBeStringsBooleansOrNumbers) {
  auto cid = pinata_upload_cid(cli, emu, "kv.txt", "hello world\n", 1,
                               R"({"name":"kv","keyvalues":{"s":"x","b":true,"n":2.5}})");
  ASSERT_EQ(cid, kHelloV1);
  auto r = cli.Get(("/data/pinList?cid=" + cid).c_str(), jwt_headers(emu));
  ASSERT_TRUE(r && r->status == 200);
  auto doc = parse_json(r->body);  // kept: kv points into it
  auto& kv = doc["rows"][0]["metadata"]["keyvalues"];
  ASSERT_TRUE(kv.IsObject());
  EXPECT_EQ(str(kv, "s"), "x");
  EXPECT_TRUE(kv["b"].IsBool() && kv["b"].GetBool());
  EXPECT_TRUE(kv["n"].IsNumber());
}

// Source: @pinata/sdk 2.1.0 src/commands/data/pinList/queryBuilder.ts: every filter ends in '&' (so the
// query ends in one), metadata[name] and metadata[keyvalues] go unencoded, includeCount as given.
TEST_F(FidelityTest, PinataPinListQueryAsTheSdkBuildsIt) {
  pinata_upload_cid(cli, emu, "q.txt", "hello world\n", 1, R"({"name":"q name","keyvalues":{"k":"v"}})");
  auto r = cli.Get(
      R"(/data/pinList?includeCount=false&status=pinned&pageLimit=10&metadata[name]=q&metadata[keyvalues]={"k":{"value":"v","op":"eq"}}&)",
      jwt_headers(emu));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto body = parse_json(r->body);
  EXPECT_FALSE(body.HasMember("count"));  // includeCount=false: the SDK never needs count
  ASSERT_EQ(body["rows"].Size(), 1u);
  EXPECT_EQ(str(body["rows"][0], "ipfs_pin_hash"), kHelloV1);
}

// Source: AIOZ W3IPFS API docs (PROTOCOLS.md §2): GET {base}/apiKeys/testAuthentication under the API base
// ".../api", which the emulator mounts at /api; the AIOZ client calls exactly that path.
TEST_F(FidelityTest, AiozTestAuthenticationUnderTheApiBase) {
  auto ok = cli.Get("/api/apiKeys/testAuthentication", aioz_headers(emu));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(str(parse_json(ok->body), "message"),
            "Congratulations! You are communicating with the Web3 IPFS API!");
  auto bad = cli.Get("/api/apiKeys/testAuthentication",
                     httplib::Headers{{"pinning_api_key", "x"}, {"pinning_secret_key", "y"}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 401);
}

// Source: PROTOCOLS.md §1: 401/403 carry {"error":{"reason","details"}}; testAuthentication answers 200 for
// any valid key.
TEST_F(FidelityTest, PinataUnauthorizedCarriesTheJsonErrorShape) {
  auto r = cli.Get("/data/testAuthentication", httplib::Headers{{"Authorization", "Bearer wrong"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  auto body = parse_json(r->body);
  EXPECT_EQ(str(body["error"], "reason"), "INVALID_CREDENTIALS");
  EXPECT_EQ(str(body["error"], "details"), "Invalid/expired credentials");
}

}  // namespace
}  // namespace pinfs::testing
