#include "pinfs/service/pinata_service.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <fstream>

#include "pinfs/http/fake_http_client.hpp"

namespace pinfs::service {
namespace {

using http::FakeHttpClient;
using http::Method;

constexpr const char* kBase = "http://127.0.0.1:9/api";

std::string staged(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

std::string header(const FakeHttpClient::Seen& s, const std::string& name) {
  for (const auto& [k, v] : s.headers) {
    if (k == name) return v;
  }
  return {};
}

const http::MultipartPart* part(const FakeHttpClient::Seen& s, const std::string& name, std::size_t nth = 0) {
  for (const auto& p : s.parts) {
    if (p.name == name && nth-- == 0) return &p;
  }
  return nullptr;
}

struct PinataTest : ::testing::Test {
  std::shared_ptr<FakeHttpClient> fake = std::make_shared<FakeHttpClient>();
  PinataService service{fake, std::string(kBase) + "/", Credentials{"jwt-token-123", "", "", ""}};
};

TEST_F(PinataTest, UsesBearerOrKeyPair) {
  fake->push(200, R"({"message":"Congratulations!"})");
  ASSERT_TRUE(service.check_auth().has_value());
  auto seen = fake->seen();
  EXPECT_EQ(seen[0].url, std::string(kBase) + "/data/testAuthentication");
  EXPECT_EQ(header(seen[0], "Authorization"), "Bearer jwt-token-123");
  EXPECT_EQ(seen[0].rate_class, kPinataDataClass);

  auto pair_fake = std::make_shared<FakeHttpClient>();
  PinataService pair(pair_fake, kBase, Credentials{"", "key-1", "secret-1", ""});
  pair_fake->push(401,
                  R"({"error":{"reason":"INVALID_CREDENTIALS","details":"Invalid/expired credentials"}})");
  auto auth = pair.check_auth();
  ASSERT_FALSE(auth.has_value());
  EXPECT_EQ(auth.error().errnum, EACCES);
  EXPECT_NE(auth.error().message.find("INVALID_CREDENTIALS"), std::string::npos);
  auto s = pair_fake->seen();
  EXPECT_EQ(header(s[0], "pinata_api_key"), "key-1");
  EXPECT_EQ(header(s[0], "pinata_secret_api_key"), "secret-1");
  EXPECT_EQ(header(s[0], "Authorization"), "");
}

TEST_F(PinataTest, ListPagesWithPageLimitAndOffsetOfPinnedOnly) {
  fake->push(200,
             R"({"count":3,"rows":[{"ipfs_pin_hash":"c1","metadata":{"name":"a"}},{"ipfs_pin_hash":"c2"}]})");
  fake->push(200, R"({"count":3,"rows":[{"ipfs_pin_hash":"c3"}]})");
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
  EXPECT_EQ(second->pins.size(), 1u);
  EXPECT_EQ(second->next_cursor, "");
  auto seen = fake->seen();
  EXPECT_NE(seen[0].url.find("/data/pinList?"), std::string::npos);
  EXPECT_NE(seen[0].url.find("status=pinned"), std::string::npos);
  EXPECT_NE(seen[0].url.find("pageLimit=2"), std::string::npos);
  EXPECT_NE(seen[0].url.find("pageOffset=0"), std::string::npos);
  EXPECT_NE(seen[1].url.find("pageOffset=2"), std::string::npos);
  EXPECT_EQ(seen[0].rate_class, kPinataDataClass);
  EXPECT_EQ(seen[0].method, Method::Get);
}

TEST_F(PinataTest, ListClampsPageSizeAndPassesFilters) {
  fake->push(200, R"({"count":0,"rows":[]})");
  ListQuery q;
  q.page_size = 50000;
  q.name_contains = "a b";
  q.pinned_after = 1546300800;
  auto page = service.list(q);
  ASSERT_TRUE(page.has_value());
  EXPECT_TRUE(page->next_cursor.empty());
  const std::string url = fake->seen()[0].url;
  EXPECT_NE(url.find("pageLimit=1000"), std::string::npos) << url;
  EXPECT_NE(url.find("metadata%5Bname%5D=a%20b"), std::string::npos) << url;
  EXPECT_NE(url.find("pinStart=2019-01-01T00%3A00%3A00.000Z"), std::string::npos) << url;
  ListQuery bad;
  bad.cursor = "x1";
  auto rejected = service.list(bad);
  ASSERT_FALSE(rejected.has_value());
  EXPECT_EQ(rejected.error().errnum, EINVAL);
}

TEST_F(PinataTest, GetQueriesPinListByCidAndMissingIsEnoent) {
  fake->push(200,
             R"({"count":2,"rows":[{"ipfs_pin_hash":"other"},{"id":"7","ipfs_pin_hash":"bafyX","size":5}]})");
  auto pin = service.get(PinRef{"", "bafyX"});
  ASSERT_TRUE(pin.has_value());
  EXPECT_EQ(pin->id, "7");
  EXPECT_NE(fake->seen()[0].url.find("cid=bafyX"), std::string::npos);
  fake->push(200, R"({"count":0,"rows":[]})");
  auto missing = service.get(PinRef{"", "bafyY"});
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().errnum, ENOENT);
}

TEST_F(PinataTest, UploadFileSendsCidVersionExplicitlyAndStreamsTheFile) {
  fake->push(200, R"({"IpfsHash":"bafkreiabc","PinSize":11,"Timestamp":"2024-01-01T00:00:00Z"})");
  FileUpload up;
  up.local_path = staged("pinata_up.bin", "hello world");
  up.name = "docs/hello.txt";
  up.keyvalues = {{"k", "v"}};
  up.cid_version = 1;
  auto pin = service.upload_file(up);
  ASSERT_TRUE(pin.has_value()) << pin.error().describe();
  EXPECT_EQ(pin->cid, "bafkreiabc");
  EXPECT_EQ(pin->name, "docs/hello.txt");
  EXPECT_EQ(pin->size, 11u);
  EXPECT_EQ(pin->keyvalues, up.keyvalues);
  const auto s = fake->seen()[0];
  EXPECT_EQ(s.url, std::string(kBase) + "/pinning/pinFileToIPFS");
  EXPECT_EQ(s.method, Method::Post);
  EXPECT_FALSE(s.idempotent);
  const auto* file = part(s, "file");
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->file_path, up.local_path);  // streamed from disk, not copied into memory
  EXPECT_EQ(file->filename, "hello.txt");
  const auto* options = part(s, "pinataOptions");
  ASSERT_NE(options, nullptr);
  rapidjson::Document o;
  o.Parse(options->data.c_str());
  ASSERT_TRUE(o.IsObject());
  ASSERT_TRUE(o.HasMember("cidVersion"));
  EXPECT_EQ(o["cidVersion"].GetInt(), 1);
  const auto* metadata = part(s, "pinataMetadata");
  ASSERT_NE(metadata, nullptr);
  rapidjson::Document m;
  m.Parse(metadata->data.c_str());
  EXPECT_STREQ(m["name"].GetString(), "docs/hello.txt");
  EXPECT_STREQ(m["keyvalues"]["k"].GetString(), "v");

  fake->push(200, R"({"IpfsHash":"Qm1","PinSize":11})");
  up.cid_version = 0;
  ASSERT_TRUE(service.upload_file(up).has_value());
  o.Parse(part(fake->seen()[1], "pinataOptions")->data.c_str());
  EXPECT_EQ(o["cidVersion"].GetInt(), 0);
}

TEST_F(PinataTest, UploadDirectoryNamesPartsUnderTheBaseDirectory) {
  fake->push(200, R"({"IpfsHash":"bafybeidir","PinSize":30})");
  DirectoryUpload up;
  up.name = "site";
  up.files = {{"index.html", staged("d1", "<html>")}, {"img/a.png", staged("d2", "png")}};
  auto pin = service.upload_directory(up);
  ASSERT_TRUE(pin.has_value());
  EXPECT_TRUE(pin->is_dir);
  EXPECT_EQ(pin->name, "site");
  const auto s = fake->seen()[0];
  ASSERT_NE(part(s, "file", 0), nullptr);
  ASSERT_NE(part(s, "file", 1), nullptr);
  EXPECT_EQ(part(s, "file", 0)->filename, "site/index.html");
  EXPECT_EQ(part(s, "file", 1)->filename, "site/img/a.png");
  EXPECT_EQ(part(s, "file", 1)->file_path, up.files[1].local_path);
}

TEST_F(PinataTest, UpdateMetadataSendsNullToRemoveAKey) {
  fake->push(200, "OK");
  KeyValueChanges changes{{"keep", std::string("new")}, {"drop", std::nullopt}};
  auto r = service.update_metadata(PinRef{"", "bafyZ"}, std::nullopt, changes);
  ASSERT_TRUE(r.has_value()) << r.error().describe();
  const auto s = fake->seen()[0];
  EXPECT_EQ(s.method, Method::Put);
  EXPECT_EQ(s.url, std::string(kBase) + "/pinning/hashMetadata");
  rapidjson::Document d;
  d.Parse(s.body.c_str());
  ASSERT_TRUE(d.IsObject()) << s.body;
  EXPECT_STREQ(d["ipfsPinHash"].GetString(), "bafyZ");
  EXPECT_FALSE(d.HasMember("name"));
  EXPECT_STREQ(d["keyvalues"]["keep"].GetString(), "new");
  EXPECT_TRUE(d["keyvalues"]["drop"].IsNull());
}

TEST_F(PinataTest, RenameIsHashMetadataWithTheNewName) {
  fake->push(200, "OK");
  Pin pin{"1", "bafyR", "old", 3, 0, false, {}};
  auto renamed = service.rename(pin, "new name");
  ASSERT_TRUE(renamed.has_value());
  EXPECT_EQ(renamed->name, "new name");
  EXPECT_EQ(renamed->cid, "bafyR");
  rapidjson::Document d;
  d.Parse(fake->seen()[0].body.c_str());
  EXPECT_STREQ(d["name"].GetString(), "new name");
  EXPECT_EQ(fake->calls(), 1u);  // no data transfer
}

TEST_F(PinataTest, PinByCidAndJobs) {
  fake->push(200, R"({"id":"job1","ipfsHash":"QmJ","status":"searching","name":"n"})");
  auto job = service.pin_by_cid("QmJ", "n", {{"a", "b"}});
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->status, "searching");
  rapidjson::Document d;
  d.Parse(fake->seen()[0].body.c_str());
  EXPECT_STREQ(d["hashToPin"].GetString(), "QmJ");
  EXPECT_STREQ(d["pinataMetadata"]["name"].GetString(), "n");
  EXPECT_STREQ(d["pinataMetadata"]["keyvalues"]["a"].GetString(), "b");
  fake->push(200, R"({"count":1,"rows":[{"id":"job1","ipfs_pin_hash":"QmJ","status":"retrieving"}]})");
  auto jobs = service.list_jobs();
  ASSERT_TRUE(jobs.has_value());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].status, "retrieving");
  EXPECT_NE(fake->seen()[1].url.find("/pinning/pinJobs"), std::string::npos);
}

TEST_F(PinataTest, UnpinByCidAndTotals) {
  fake->push(200, "OK");
  ASSERT_TRUE(service.unpin(PinRef{"1", "bafyU"}).has_value());
  EXPECT_EQ(fake->seen()[0].method, Method::Delete);
  EXPECT_EQ(fake->seen()[0].url, std::string(kBase) + "/pinning/unpin/bafyU");
  // A bare 404 (a wrong API path, say) is not taken for "already unpinned".
  fake->push(404, "<html>Not Found</html>");
  auto missing = service.unpin(PinRef{"", "bafyV"});
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().errnum, ENOENT);
  fake->push(200, R"({"pin_count":2,"pin_size_total":99})");
  auto totals = service.totals();
  ASSERT_TRUE(totals.has_value());
  EXPECT_EQ(totals->pin_count, 2u);
  EXPECT_EQ(totals->size_total, 99u);
}

TEST_F(PinataTest, ErrorsMapThroughTheTable) {
  struct Case {
    long status;
    const char* body;
    int errnum;
  };
  for (const Case& c :
       {Case{403, R"({"error":{"reason":"API_KEY_REVOKED"}})", EACCES},
        Case{400, R"({"error":{"reason":"KEYS_MUST_BE_STRINGS"}})", EINVAL}, Case{413, "too large", EFBIG},
        Case{409, "", EDQUOT}, Case{403, R"({"error":"over_free_limit"})", EDQUOT}, Case{429, "", EAGAIN},
        Case{500, "<html>oops</html>", EIO}}) {
    fake->push(c.status, c.body);
    auto r = service.totals();
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().errnum, c.errnum) << c.status << " " << c.body;
  }
  fake->push(200, "{not json");
  auto bad = service.totals();
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().errnum, EIO);
  fake->push(fail(ETIMEDOUT, "timed out", true));
  auto slow = service.totals();
  ASSERT_FALSE(slow.has_value());
  EXPECT_EQ(slow.error().errnum, ETIMEDOUT);
}

TEST_F(PinataTest, Capabilities) {
  const auto c = service.capabilities();
  EXPECT_TRUE(c.metadata_update);
  EXPECT_EQ(c.max_keyvalues, 10u);
  EXPECT_EQ(c.max_page_size, 1000u);
  EXPECT_TRUE(c.pin_jobs);
}

}  // namespace
}  // namespace pinfs::service
