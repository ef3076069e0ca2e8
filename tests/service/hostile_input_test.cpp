// Hostile or broken server answers at the service layer: huge and deeply nested JSON, wrong types, text
// that cannot be a CID, odd names and huge metadata. No crash, bounded memory, a clear EIO.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <fstream>

#include "../../src/service/http_call.hpp"
#include "../support/emulator_process.hpp"
#include "pinfs/http/fake_http_client.hpp"
#include "pinfs/service/aioz_service.hpp"
#include "pinfs/service/factory.hpp"
#include "pinfs/service/json_decode.hpp"
#include "pinfs/service/pinata_service.hpp"

namespace pinfs::service {
namespace {

using http::FakeHttpClient;

constexpr const char* kBase = "http://127.0.0.1:9/api";
constexpr const char* kCid = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";

std::string staged(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

struct HostileInput : ::testing::Test {
  std::shared_ptr<FakeHttpClient> fake = std::make_shared<FakeHttpClient>();
  PinataService pinata{fake, kBase, Credentials{"jwt", "", "", ""}};
  AiozService aioz{fake, kBase, Credentials{"", "k", "s", ""}};

  // Every request the service makes, with the reply cap it asked for.
  std::vector<std::size_t> caps;
  void answer_with(std::string body, long status = 200) {
    fake->set_handler(
        [this, body = std::move(body), status](const http::Request& r) -> Result<http::Response> {
          caps.push_back(r.max_body);
          http::Response response;
          response.status = status;
          response.body = body;
          return response;
        });
  }
};

TEST_F(HostileInput, TenMegabytesOfJsonAreRefusedAndEveryReplyIsCapped) {
  std::string huge =
      R"({"IpfsHash":")" + std::string(kCid) + R"(","padding":")" + std::string(10u << 20, 'x') + "\"}";
  answer_with(huge);
  const auto path = staged("hostile-upload", "hello world\n");
  auto pin = pinata.upload_file(FileUpload{path, "f", {}, 1, {}});
  ASSERT_FALSE(pin.has_value());
  EXPECT_EQ(pin.error().errnum, EIO);
  EXPECT_NE(pin.error().message.find("larger than 1048576 bytes"), std::string::npos) << pin.error().message;
  ASSERT_EQ(caps.size(), 1u);
  EXPECT_EQ(caps[0], detail::kMaxReply);
  // List pages get the larger cap, every other call the small one.
  answer_with(R"({"count":0,"rows":[]})");
  ASSERT_TRUE(pinata.list({}).has_value());
  EXPECT_EQ(caps.back(), detail::kMaxListReply);
  answer_with(R"({"data":{"totals":{"files":0,"size":0},"pins":[]},"status":"success"})");
  ASSERT_TRUE(aioz.list({}).has_value());
  EXPECT_EQ(caps.back(), detail::kMaxListReply);
  ASSERT_TRUE(aioz.totals().has_value());
  EXPECT_EQ(caps.back(), detail::kMaxReply);
}

TEST_F(HostileInput, DeeplyNestedJsonIsAClearErrorNotAStackOverflow) {
  // 900,000 levels: a recursive parser would overflow the stack long before the end.
  for (const std::string& body : {std::string(900'000, '['), "{\"rows\":" + std::string(900'000, '[')}) {
    answer_with(body);
    auto page = pinata.list({});
    ASSERT_FALSE(page.has_value());
    EXPECT_EQ(page.error().errnum, EIO);
    EXPECT_NE(page.error().message.find("malformed JSON"), std::string::npos) << page.error().message;
  }
  // Well-formed but deep where a scalar belongs: decoded as absent.
  std::string deep;
  for (int i = 0; i < 100'000; ++i) deep += "{\"a\":";
  deep += "1";
  for (int i = 0; i < 100'000; ++i) deep += "}";
  auto pin =
      json::decode_pinata_upload(R"({"IpfsHash":")" + std::string(kCid) + R"(","PinSize":)" + deep + "}");
  ASSERT_TRUE(pin.has_value()) << pin.error().describe();
  EXPECT_EQ(pin->size, 0u);
  EXPECT_FALSE(json::error_reason(std::string(500'000, '{')).empty());
}

TEST_F(HostileInput, WrongTypesAreAbsentFieldsOrClearErrors) {
  // Objects and arrays where strings and numbers belong.
  auto pin = json::decode_pinata_upload(R"({"IpfsHash":{"x":1},"PinSize":"12"})");
  ASSERT_FALSE(pin.has_value());
  EXPECT_NE(pin.error().message.find("no IpfsHash"), std::string::npos);
  auto page = json::decode_pinata_pin_list(
      R"({"count":"many","rows":[{"ipfs_pin_hash":")" + std::string(kCid) +
      R"(","size":[1],"date_pinned":{"y":1},"metadata":{"name":["n"],"keyvalues":[1,2]},"number_of_files":"x"}]})");
  ASSERT_TRUE(page.has_value()) << page.error().describe();
  ASSERT_EQ(page->pins.size(), 1u);
  EXPECT_EQ(page->pins[0].size, 0u);
  EXPECT_EQ(page->pins[0].pinned_at, 0);
  EXPECT_EQ(page->pins[0].name, "");
  EXPECT_TRUE(page->pins[0].keyvalues.empty());
  EXPECT_FALSE(page->total.has_value());
  auto aioz_page = json::decode_aioz_pin_list(R"({"data":{"totals":[],"pins":"none"}})");
  ASSERT_FALSE(aioz_page.has_value());
  EXPECT_EQ(aioz_page.error().errnum, EIO);
}

TEST_F(HostileInput, RowsWhoseCidCannotBeACidAreLeftOutAndPagingGoesOn) {
  // Text that would become a path under /.pinfs/by-cid/ or a URL segment: refused per row.
  std::string rows;
  for (const char* bad : {"../../etc/passwd", "a/b", "bafy\\nx", "", "Qm space"}) {
    rows += std::string(R"({"id":"bad","ipfs_pin_hash":")") + bad + R"("},)";
  }
  rows += std::string(R"({"id":"good","ipfs_pin_hash":")") + kCid + R"("})";
  answer_with(R"({"count":12,"rows":[)" + rows + "]}");
  ListQuery q;
  q.page_size = 6;
  auto page = pinata.list(q);
  ASSERT_TRUE(page.has_value()) << page.error().describe();
  ASSERT_EQ(page->pins.size(), 1u);
  EXPECT_EQ(page->pins[0].id, "good");
  EXPECT_EQ(page->next_cursor, "6");  // the page held 6 rows: the next page starts after all of them
  auto upload = json::decode_pinata_upload(R"({"IpfsHash":"../x"})");
  ASSERT_FALSE(upload.has_value());
  EXPECT_NE(upload.error().message.find("is not a CID"), std::string::npos);
  auto aioz_pin = json::decode_aioz_pin(R"({"data":{"id":"i","cid":"x/y"},"status":"success"})");
  ASSERT_FALSE(aioz_pin.has_value());
  EXPECT_EQ(aioz_pin.error().errnum, EIO);
}

TEST_F(HostileInput, NamesAreDecodedByteForByteForTheVfsToEscape) {
  const std::vector<std::string> names = {"a/b",
                                          std::string("nul\0here", 8),
                                          "..",
                                          ".",
                                          "-rf",
                                          "line\nbreak",
                                          std::string(255, 'n'),
                                          std::string(1000, 'm'),
                                          "bad\xff\xfeutf8",
                                          "100%2F.txt"};
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  rapidjson::Value rows(rapidjson::kArrayType);
  for (const auto& n : names) {
    rapidjson::Value row(rapidjson::kObjectType), md(rapidjson::kObjectType);
    md.AddMember("name", rapidjson::Value(n.data(), static_cast<rapidjson::SizeType>(n.size()), a), a);
    row.AddMember("ipfs_pin_hash", rapidjson::Value(kCid, a), a);
    row.AddMember("metadata", md, a);
    rows.PushBack(row, a);
  }
  doc.AddMember("rows", rows, a);
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  doc.Accept(w);
  auto page = json::decode_pinata_pin_list(std::string(sb.GetString(), sb.GetSize()));
  ASSERT_TRUE(page.has_value()) << page.error().describe();
  ASSERT_EQ(page->pins.size(), names.size());
  for (std::size_t i = 0; i < names.size(); ++i) EXPECT_EQ(page->pins[i].name, names[i]) << i;
}

TEST_F(HostileInput, NamesAndMetadataGoOutAsJsonThatDecodesToTheSameBytes) {
  const std::string name = std::string("we\"ird\\ \0 \n name", 17) + "\xff";
  const std::string megabyte(1u << 20, 'v');
  answer_with(R"({"id":"j","ipfsHash":")" + std::string(kCid) + R"(","status":"searching"})");
  auto job = pinata.pin_by_cid(kCid, name, {{"big", megabyte}, {"k\"ey", "v\nal"}});
  ASSERT_TRUE(job.has_value()) << job.error().describe();
  const auto sent = fake->seen().back().body;
  rapidjson::Document d;
  d.Parse(sent.data(), sent.size());
  ASSERT_FALSE(d.HasParseError());
  const auto& md = d["pinataMetadata"];
  EXPECT_EQ(std::string(md["name"].GetString(), md["name"].GetStringLength()), name);
  EXPECT_EQ(md["keyvalues"]["big"].GetStringLength(), megabyte.size());
  EXPECT_EQ(std::string(md["keyvalues"]["k\"ey"].GetString()), "v\nal");
}

TEST_F(HostileInput, MegabyteMetadataValuesInAListAreKept) {
  const std::string megabyte(1u << 20, 'z');
  answer_with(R"({"rows":[{"ipfs_pin_hash":")" + std::string(kCid) +
              R"(","metadata":{"name":"m","keyvalues":{"big":")" + megabyte + R"("}}}]})");
  auto page = pinata.list({});
  ASSERT_TRUE(page.has_value()) << page.error().describe();
  ASSERT_EQ(page->pins.size(), 1u);
  EXPECT_EQ(page->pins[0].keyvalues.at("big").size(), megabyte.size());
}

TEST_F(HostileInput, ErrorBodiesOfAnyShapeGiveAReadableReason) {
  for (const std::string& body : {std::string(2u << 20, '{'), std::string("\x01\x02\x03 binary\n\r", 12),
                                  std::string(R"({"error":{"reason":[1,2],"details":{"a":1}}})"),
                                  std::string(R"({"error":null,"message":7})")}) {
    fake->push(500, body);
    auto r = pinata.totals();
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().errnum, EIO);
    EXPECT_LT(r.error().message.size(), 400u);
    for (char c : r.error().message) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << r.error().message;
  }
}

TEST_F(HostileInput, GatewayRefusesACidOfAnotherCodecBeforeAnyRequest) {
  ServiceConfig c;
  c.provider = "pinata";
  c.api_url = "http://127.0.0.1:9";
  c.gateway_url = "http://127.0.0.1:9";
  c.credentials.jwt = "jwt";
  c.max_retries = 0;
  auto gateway = make_gateway(c);
  ASSERT_TRUE(gateway.has_value()) << gateway.error().describe();
  // dag-cbor (0x71) and dag-json: valid CIDs, but not content pinfs can read.
  for (const char* cid : {"bafyreigoswsg4iddq6gqexlizzkduic652iolmy2mwolrr6bbd5twezucq",
                          "baguqeeragoswsg4iddq6gqexlizzkduic652iolmy2mwolrr6bbd5twezucq"}) {
    auto block = (*gateway)->block(cid);
    ASSERT_FALSE(block.has_value()) << cid;
    EXPECT_EQ(block.error().errnum, EINVAL) << block.error().describe();
    auto read = (*gateway)->read(cid, "", 0, 10, [](const char*, std::size_t) { return true; });
    ASSERT_FALSE(read.has_value());
    EXPECT_EQ(read.error().errnum, EINVAL);
  }
}

// Over real HTTP: the curl client stops reading at the cap, so memory stays bounded whatever is sent.
TEST(HostileInputOverHttp, AnOversizedReplyIsCutAtTheCap) {
  pinfs::testing::EmulatorProcess emu;
  const std::string body = R"({"message":")" + std::string(3u << 20, 'x') + "\"}";
  rapidjson::Document rule(rapidjson::kObjectType);
  auto& a = rule.GetAllocator();
  rule.AddMember("path_prefix", "/data/testAuthentication", a);
  rule.AddMember("action", "status", a);
  rule.AddMember("status", 200, a);
  rule.AddMember("body", rapidjson::Value(body.c_str(), static_cast<rapidjson::SizeType>(body.size()), a), a);
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  rule.Accept(w);
  int status = 0;
  emu.request_with_status("POST", "/_emulator/faults", sb.GetString(), status);
  ASSERT_EQ(status, 200);
  ServiceConfig c;
  c.provider = "pinata";
  c.api_url = emu.base_url();
  c.gateway_url = emu.base_url();
  c.credentials.jwt = emu.jwt();
  c.rate_per_minute = 0;
  c.list_rate_per_minute = 0;
  auto svc = make_pin_service(c);
  ASSERT_TRUE(svc.has_value());
  auto auth = (*svc)->check_auth();
  ASSERT_FALSE(auth.has_value());
  EXPECT_EQ(auth.error().errnum, EIO);
  EXPECT_NE(auth.error().message.find("larger than"), std::string::npos) << auth.error().message;
}

}  // namespace
}  // namespace pinfs::service
