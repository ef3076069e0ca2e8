#include "pinfs/service/aioz_service.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <fstream>

#include "pinfs/http/fake_http_client.hpp"

namespace pinfs::service {
namespace {

using http::FakeHttpClient;
using http::Method;

constexpr const char* kBase = "http://127.0.0.1:9/api";

std::string pin_json(const std::string& id, const std::string& cid, const std::string& name,
                     bool pinned = true, const std::string& status = "DONE") {
  return R"({"id":")" + id + R"(","cid":")" + cid + R"(","size":5,"pinned":)" + (pinned ? "true" : "false") +
         R"(,"is_dir":false,"metadata":{"name":")" + name + R"("},"status":")" + status +
         R"(","date_pinned":"2024-01-01T00:00:00Z","date_unpinned":"0001-01-01T00:00:00Z"})";
}
std::string envelope(const std::string& data) {
  return R"({"data":)" + data + R"(,"status":"success"})";
}
std::string list_json(std::size_t total, const std::vector<std::string>& pins) {
  std::string joined;
  for (const auto& p : pins) joined += (joined.empty() ? "" : ",") + p;
  return envelope(R"({"totals":{"files":)" + std::to_string(total) + R"(,"size":10},"pins":[)" + joined +
                  "]}");
}

std::string header(const FakeHttpClient::Seen& s, const std::string& name) {
  for (const auto& [k, v] : s.headers) {
    if (k == name) return v;
  }
  return {};
}

struct AiozTest : ::testing::Test {
  std::shared_ptr<FakeHttpClient> fake = std::make_shared<FakeHttpClient>();
  AiozService service{fake, kBase, Credentials{"", "key-A", "secret-A", ""}};
};

TEST_F(AiozTest, AuthHeadersAndTestAuthentication) {
  fake->push(200, R"({"message":"Congratulations! You are communicating with the Web3 IPFS API!"})");
  ASSERT_TRUE(service.check_auth().has_value());
  const auto s = fake->seen()[0];
  EXPECT_EQ(s.url, std::string(kBase) + "/apiKeys/testAuthentication");
  EXPECT_EQ(header(s, "pinning_api_key"), "key-A");
  EXPECT_EQ(header(s, "pinning_secret_key"), "secret-A");
}

TEST_F(AiozTest, ListUsesOffsetLimitAndPinnedTrue) {
  fake->push(200, list_json(3, {pin_json("1", "c1", "a"), pin_json("2", "c2", "b")}));
  fake->push(200, list_json(3, {pin_json("3", "c3", "c")}));
  ListQuery q;
  q.page_size = 2;
  auto first = service.list(q);
  ASSERT_TRUE(first.has_value()) << first.error().describe();
  EXPECT_EQ(first->pins.size(), 2u);
  EXPECT_EQ(first->next_cursor, "2");
  EXPECT_EQ(first->total, 3u);
  q.cursor = first->next_cursor;
  auto second = service.list(q);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->next_cursor, "");
  const auto seen = fake->seen();
  EXPECT_NE(seen[0].url.find("/pinning/pins/?offset=0&limit=2&pinned=true"), std::string::npos)
      << seen[0].url;
  EXPECT_NE(seen[1].url.find("offset=2"), std::string::npos);
}

TEST_F(AiozTest, ListFiltersClientSide) {
  fake->push(200, list_json(3, {pin_json("1", "c1", "alpha"), pin_json("2", "c2", "beta"),
                                pin_json("3", "c3", "alphabet")}));
  ListQuery q;
  q.name_contains = "alpha";
  auto page = service.list(q);
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->pins.size(), 2u);
  EXPECT_EQ(page->pins[0].id, "1");
  EXPECT_EQ(page->pins[1].id, "3");
}

TEST_F(AiozTest, GetByIdAndNotPinnedIsEnoent) {
  fake->push(200, envelope(pin_json("id-9", "bafk9", "nine")));
  auto pin = service.get(PinRef{"id-9", ""});
  ASSERT_TRUE(pin.has_value());
  EXPECT_EQ(pin->cid, "bafk9");
  EXPECT_EQ(fake->seen()[0].url, std::string(kBase) + "/pinning/id-9");
  fake->push(200, envelope(pin_json("id-8", "bafk8", "eight", false, "UNPINNED")));
  auto gone = service.get(PinRef{"id-8", ""});
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error().errnum, ENOENT);
  fake->push(404, R"({"message":"pin not found"})");
  auto missing = service.get(PinRef{"id-7", ""});
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().errnum, ENOENT);
}

TEST_F(AiozTest, GetByCidScansPages) {
  std::vector<std::string> page1;
  for (int i = 0; i < 1000; ++i)
    page1.push_back(pin_json("p" + std::to_string(i), "c" + std::to_string(i), "n"));
  fake->push(200, list_json(1001, page1));
  fake->push(200, list_json(1001, {pin_json("wanted", "target", "t")}));
  auto pin = service.get(PinRef{"", "target"});
  ASSERT_TRUE(pin.has_value()) << pin.error().describe();
  EXPECT_EQ(pin->id, "wanted");
  EXPECT_EQ(fake->calls(), 2u);
  fake->push(200, list_json(0, {}));
  auto none = service.get(PinRef{"", "absent"});
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().errnum, ENOENT);
}

TEST_F(AiozTest, UploadSendsFileAndMetadataParts) {
  const std::string path = ::testing::TempDir() + "/aioz_up.bin";
  std::ofstream(path) << "data";
  fake->push(201, envelope(pin_json("new", "bafkreinew", "")));
  FileUpload up;
  up.local_path = path;
  up.name = "report.pdf";
  up.keyvalues = {{"k", "v"}};
  auto pin = service.upload_file(up);
  ASSERT_TRUE(pin.has_value()) << pin.error().describe();
  EXPECT_EQ(pin->id, "new");
  EXPECT_EQ(pin->name, "report.pdf");
  EXPECT_EQ(pin->keyvalues, up.keyvalues);
  const auto s = fake->seen()[0];
  EXPECT_EQ(s.url, std::string(kBase) + "/pinning/");
  ASSERT_EQ(s.parts.size(), 2u);
  EXPECT_EQ(s.parts[0].name, "metadata");
  EXPECT_EQ(s.parts[1].name, "file");
  EXPECT_EQ(s.parts[1].file_path, path);
  rapidjson::Document d;
  d.Parse(s.parts[0].data.c_str());
  EXPECT_STREQ(d["name"].GetString(), "report.pdf");
  EXPECT_STREQ(d["keyvalues"]["k"].GetString(), "v");

  up.cid_version = 0;
  auto v0 = service.upload_file(up);
  ASSERT_FALSE(v0.has_value());
  EXPECT_EQ(v0.error().errnum, ENOTSUP);
  EXPECT_EQ(fake->calls(), 1u);
}

TEST_F(AiozTest, UploadDirectoryPartsAreNamedDirSlashPath) {
  const std::string a = ::testing::TempDir() + "/aioz_a", b = ::testing::TempDir() + "/aioz_b";
  std::ofstream(a) << "a";
  std::ofstream(b) << "b";
  fake->push(201, envelope(pin_json("d", "bafydir", "photos")));
  DirectoryUpload up;
  up.name = "photos";
  up.files = {{"x.jpg", a}, {"2024/y.jpg", b}};
  auto pin = service.upload_directory(up);
  ASSERT_TRUE(pin.has_value());
  EXPECT_TRUE(pin->is_dir);
  const auto s = fake->seen()[0];
  ASSERT_EQ(s.parts.size(), 3u);
  EXPECT_EQ(s.parts[0].name, "metadata");
  EXPECT_EQ(s.parts[1].filename, "photos/x.jpg");
  EXPECT_EQ(s.parts[2].filename, "photos/2024/y.jpg");
}

TEST_F(AiozTest, RenamePinsByHashUnderNewNameThenUnpinsOldId) {
  fake->push(200, envelope(pin_json("new-id", "bafyR", "renamed", false, "PINNING")));
  fake->push(200, envelope(pin_json("old-id", "bafyR", "orig", false, "UNPINNED")));
  Pin pin{"old-id", "bafyR", "orig", 5, 0, false, {{"k", "v"}}};
  auto renamed = service.rename(pin, "renamed");
  ASSERT_TRUE(renamed.has_value()) << renamed.error().describe();
  EXPECT_EQ(renamed->id, "new-id");
  EXPECT_EQ(renamed->name, "renamed");
  const auto seen = fake->seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].url, std::string(kBase) + "/pinning/pinByHash");
  rapidjson::Document d;
  d.Parse(seen[0].body.c_str());
  EXPECT_STREQ(d["hash_to_pin"].GetString(), "bafyR");
  EXPECT_STREQ(d["metadata"]["name"].GetString(), "renamed");
  EXPECT_STREQ(d["metadata"]["keyvalues"]["k"].GetString(), "v");
  EXPECT_EQ(seen[1].method, Method::Delete);
  EXPECT_EQ(seen[1].url, std::string(kBase) + "/pinning/unpin/old-id");
}

TEST_F(AiozTest, RenameUndoesTheNewPinWhenTheOldCannotBeRemoved) {
  fake->push(200, envelope(pin_json("new-id", "bafyR", "renamed")));
  fake->push(403, R"({"message":"forbidden"})");
  fake->push(200, envelope(pin_json("new-id", "bafyR", "renamed", false)));
  Pin pin{"old-id", "bafyR", "orig", 5, 0, false, {}};
  auto renamed = service.rename(pin, "renamed");
  ASSERT_FALSE(renamed.has_value());
  EXPECT_EQ(renamed.error().errnum, EACCES);
  const auto seen = fake->seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2].url, std::string(kBase) + "/pinning/unpin/new-id");
}

TEST_F(AiozTest, NoMetadataUpdateNorJobList) {
  auto r = service.update_metadata(PinRef{"1", "c"}, std::nullopt, {{"k", std::string("v")}});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().errnum, ENOTSUP);
  auto j = service.list_jobs();
  ASSERT_FALSE(j.has_value());
  EXPECT_EQ(j.error().errnum, ENOTSUP);
  EXPECT_EQ(fake->calls(), 0u);
  EXPECT_FALSE(service.capabilities().metadata_update);
}

TEST_F(AiozTest, UnpinByIdOrByCidLookup) {
  fake->push(200, envelope(pin_json("i1", "c1", "n", false)));
  ASSERT_TRUE(service.unpin(PinRef{"i1", "c1"}).has_value());
  EXPECT_EQ(fake->seen()[0].url, std::string(kBase) + "/pinning/unpin/i1");
  fake->push(200, list_json(1, {pin_json("i2", "c2", "n")}));
  fake->push(200, envelope(pin_json("i2", "c2", "n", false)));
  ASSERT_TRUE(service.unpin(PinRef{"", "c2"}).has_value());
  EXPECT_EQ(fake->seen()[2].url, std::string(kBase) + "/pinning/unpin/i2");
}

TEST_F(AiozTest, PinByCidReportsStatus) {
  fake->push(200, envelope(pin_json("j", "bafyJ", "job", false, "PINNING")));
  auto job = service.pin_by_cid("bafyJ", "job", {});
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->id, "j");
  EXPECT_EQ(job->status, "PINNING");
  fake->push(200, envelope(pin_json("j2", "bafyJ", "job", true)));
  EXPECT_EQ(service.pin_by_cid("bafyJ", "job", {})->status, "pinned");
}

TEST_F(AiozTest, TotalsFromListTotals) {
  fake->push(200, list_json(42, {}));
  auto t = service.totals();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->pin_count, 42u);
  EXPECT_EQ(t->size_total, 10u);
}

}  // namespace
}  // namespace pinfs::service
