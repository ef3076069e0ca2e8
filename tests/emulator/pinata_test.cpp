// Pinata's API over HTTP against the real binary: uploads, JSON pins, metadata, unpin, totals.
#include "emulator_test_support.hpp"
#include "pinfs/cid/importer.hpp"

namespace pinfs::testing {
namespace {

constexpr const char* kHelloV0 = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";
constexpr const char* kHelloV1 = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";

class PinataTest : public ::testing::Test {
 protected:
  EmulatorProcess emu;
  httplib::Client cli = client_for(emu);

  rapidjson::Document pin_list(const std::string& query, const httplib::Headers& h = {}) {
    auto r = cli.Get(("/data/pinList" + query).c_str(), h.empty() ? jwt_headers(emu) : h);
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << query << " → " << r->body;
    return parse_json(r->body);
  }
};

TEST_F(PinataTest, PinFileDefaultsToCidV0AndReportsResponseFields) {
  auto r = pinata_upload(cli, emu, {{"file", "hello world\n", "hello.txt", "text/plain"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto d = parse_json(r->body);
  EXPECT_EQ(str(d, "IpfsHash"), kHelloV0);
  ASSERT_TRUE(d.HasMember("PinSize") && d["PinSize"].IsUint64());
  EXPECT_EQ(d["PinSize"].GetUint64(), 20u);  // the v0 leaf's block: 12 bytes + dag-pb/UnixFS framing
  ASSERT_TRUE(d.HasMember("Timestamp") && d["Timestamp"].IsString());
  EXPECT_EQ(std::string(d["Timestamp"].GetString()).back(), 'Z');
  ASSERT_TRUE(d.HasMember("isDuplicate"));
  EXPECT_FALSE(d["isDuplicate"].GetBool());
  auto again = pinata_upload(cli, emu, {{"file", "hello world\n", "hello.txt", "text/plain"}});
  ASSERT_TRUE(again);
  EXPECT_TRUE(parse_json(again->body)["isDuplicate"].GetBool());
}

TEST_F(PinataTest, CidVersionOptionBeforeOrAfterTheFile) {
  // pinataOptions after the file part: the file is spooled until the version is known.
  auto after = pinata_upload(
      cli, emu, {{"file", "hello world\n", "a.txt", ""}, {"pinataOptions", "{\"cidVersion\":1}", "", ""}});
  ASSERT_TRUE(after);
  EXPECT_EQ(str(parse_json(after->body), "IpfsHash"), kHelloV1);
  auto before = pinata_upload(
      cli, emu, {{"pinataOptions", "{\"cidVersion\":0}", "", ""}, {"file", "hello world\n", "a.txt", ""}});
  ASSERT_TRUE(before);
  EXPECT_EQ(str(parse_json(before->body), "IpfsHash"), kHelloV0);
  auto bad =
      pinata_upload(cli, emu, {{"file", "x", "a.txt", ""}, {"pinataOptions", "{\"cidVersion\":7}", "", ""}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

TEST_F(PinataTest, MetadataNameAndKeyvaluesAreStored) {
  auto cid = pinata_upload_cid(cli, emu, "f.bin", "content one", 1,
                               R"({"name":"custom name","keyvalues":{"color":"red","n":5}})");
  auto d = pin_list("?cid=" + cid);
  ASSERT_EQ(d["rows"].Size(), 1u);
  auto& row = d["rows"][0];
  EXPECT_EQ(str(row["metadata"], "name"), "custom name");
  EXPECT_EQ(str(row["metadata"]["keyvalues"], "color"), "red");
  EXPECT_EQ(row["metadata"]["keyvalues"]["n"].GetInt(), 5);
  for (const char* k : {"id", "ipfs_pin_hash", "size", "user_id", "date_pinned", "date_unpinned", "metadata",
                        "regions", "mime_type", "number_of_files"})
    EXPECT_TRUE(row.HasMember(k)) << k;
  EXPECT_TRUE(row["date_unpinned"].IsNull());
  ASSERT_TRUE(row["regions"].IsArray() && row["regions"].Size() == 1);
  for (const char* k : {"regionId", "currentReplicationCount", "desiredReplicationCount"})
    EXPECT_TRUE(row["regions"][0].HasMember(k)) << k;
  // Name defaults to the file name.
  auto cid2 = pinata_upload_cid(cli, emu, "default-name.txt", "content two", 1);
  EXPECT_EQ(str(pin_list("?cid=" + cid2)["rows"][0]["metadata"], "name"), "default-name.txt");
  // More than 10 keyvalues on upload are refused.
  std::string many = "{";
  for (int i = 0; i < 11; ++i) many += std::string(i ? "," : "") + "\"k" + std::to_string(i) + "\":\"v\"";
  many += "}";
  auto r = pinata_upload(
      cli, emu, {{"file", "x11", "x.txt", ""}, {"pinataMetadata", "{\"keyvalues\":" + many + "}", "", ""}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST_F(PinataTest, DirectoryUploadSharesOneBaseDirectory) {
  auto r = pinata_upload(cli, emu,
                         {{"file", "<h1>index</h1>\n", "site/index.html", "text/html"},
                          {"file", "png-bytes", "site/img/a.png", "image/png"},
                          {"file", "deeper", "site/img/sub/b.txt", "text/plain"},
                          {"pinataOptions", "{\"cidVersion\":1}", "", ""},
                          {"pinataMetadata", "{\"name\":\"site\"}", "", ""}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  std::string root = str(parse_json(r->body), "IpfsHash");
  EXPECT_EQ(root.rfind("bafybei", 0), 0u) << root;
  auto idx = cli.Get(("/ipfs/" + root + "/index.html").c_str());
  ASSERT_TRUE(idx);
  EXPECT_EQ(idx->body, "<h1>index</h1>\n");
  auto deep = cli.Get(("/ipfs/" + root + "/img/sub/b.txt").c_str());
  ASSERT_TRUE(deep);
  EXPECT_EQ(deep->body, "deeper");
  auto row = pin_list("?cid=" + root);
  ASSERT_EQ(row["rows"].Size(), 1u);
  EXPECT_EQ(row["rows"][0]["number_of_files"].GetInt(), 3);
  // The same tree as v0 gives a Qm root with the same files.
  auto v0 = pinata_upload(cli, emu,
                          {{"file", "<h1>index</h1>\n", "site/index.html", ""},
                           {"file", "png-bytes", "site/img/a.png", ""},
                           {"file", "deeper", "site/img/sub/b.txt", ""}});
  ASSERT_TRUE(v0);
  std::string root0 = str(parse_json(v0->body), "IpfsHash");
  EXPECT_EQ(root0.rfind("Qm", 0), 0u);
  auto png = cli.Get(("/ipfs/" + root0 + "/img/a.png").c_str());
  ASSERT_TRUE(png);
  EXPECT_EQ(png->body, "png-bytes");
}

// Kubo's multipart convention: an empty `application/x-directory` part is a directory, so an upload keeps
// empty ones (docs/EMULATOR.md; docs/SEMANTICS.md [dir.empty]).
TEST_F(PinataTest, DirectoryPartsKeepEmptyDirectories) {
  auto r = pinata_upload(cli, emu,
                         {{"pinataOptions", "{\"cidVersion\":1}", "", ""},
                          {"file", "x", "site/a.txt", ""},
                          {"file", "", "site/empty", "application/x-directory"},
                          {"file", "", "site/only/inner", "application/x-directory"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  cid::ImportOptions options;
  options.cid_version = 1;
  cid::FileImporter file(options);
  file.update(cid::ByteView(reinterpret_cast<const std::uint8_t*>("x"), 1));
  auto a = file.finish();
  auto empty = cid::build_directory({}, 1);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->cid.to_string(), "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354");
  auto only = cid::build_directory({{"inner", empty->cid, empty->tsize}}, 1);
  auto root = cid::build_directory(
      {{"a.txt", a.cid, a.tsize}, {"empty", empty->cid, empty->tsize}, {"only", only->cid, only->tsize}}, 1);
  EXPECT_EQ(str(parse_json(r->body), "IpfsHash"), root->cid.to_string());
  auto row = pin_list("?cid=" + root->cid.to_string());
  ASSERT_EQ(row["rows"].Size(), 1u);
  EXPECT_EQ(row["rows"][0]["number_of_files"].GetInt(), 1);  // directories are not files
  // A directory part with content is not a directory.
  auto bad = pinata_upload(
      cli, emu, {{"file", "x", "site/a.txt", ""}, {"file", "body", "site/d", "application/x-directory"}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
}

TEST_F(PinataTest, WrapWithDirectoryPutsTheFileInADirectory) {
  auto r = pinata_upload(cli, emu,
                         {{"file", "hello world\n", "hello.txt", ""},
                          {"pinataOptions", "{\"cidVersion\":1,\"wrapWithDirectory\":true}", "", ""}});
  ASSERT_TRUE(r);
  std::string root = str(parse_json(r->body), "IpfsHash");
  EXPECT_NE(root, kHelloV1);
  auto f = cli.Get(("/ipfs/" + root + "/hello.txt").c_str());
  ASSERT_TRUE(f);
  EXPECT_EQ(f->status, 200);
  EXPECT_EQ(f->body, "hello world\n");
}

TEST_F(PinataTest, PinJsonStoresTheSerializedContent) {
  auto r = cli.Post(
      "/pinning/pinJSONToIPFS", jwt_headers(emu),
      R"({"pinataContent":{"a":1,"b":"two"},"pinataMetadata":{"name":"doc","keyvalues":{"k":"v"}},"pinataOptions":{"cidVersion":1}})",
      "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  std::string cid = str(parse_json(r->body), "IpfsHash");
  EXPECT_EQ(cid.rfind("bafkrei", 0), 0u);
  auto g = cli.Get(("/ipfs/" + cid).c_str());
  ASSERT_TRUE(g);
  EXPECT_EQ(g->body, R"({"a":1,"b":"two"})");
  auto listed = pin_list("?cid=" + cid);
  auto row = listed["rows"][0].GetObject();  // a view into listed, which must outlive it
  EXPECT_EQ(str(row["metadata"], "name"), "doc");
  auto bad = cli.Post("/pinning/pinJSONToIPFS", jwt_headers(emu), "not json", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

TEST_F(PinataTest, HashMetadataUpdatesAddsAndRemoves) {
  auto cid = pinata_upload_cid(cli, emu, "m.txt", "metadata target", 1,
                               R"({"name":"m","keyvalues":{"a":"1","b":"2"}})");
  auto put = [&](const std::string& body) {
    auto r = cli.Put("/pinning/hashMetadata", key_headers(emu), body, "application/json");
    EXPECT_TRUE(r);
    return r;
  };
  auto r =
      put(R"({"ipfsPinHash":")" + cid + R"(","name":"renamed","keyvalues":{"a":"updated","b":null,"c":3}})");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body, "OK");
  auto row = pin_list("?cid=" + cid);
  auto& md = row["rows"][0]["metadata"];
  EXPECT_EQ(str(md, "name"), "renamed");
  EXPECT_EQ(str(md["keyvalues"], "a"), "updated");
  EXPECT_FALSE(md["keyvalues"].HasMember("b"));
  EXPECT_EQ(md["keyvalues"]["c"].GetInt(), 3);
  // 2 existing + 9 new = 11 keys: refused, nothing changes.
  std::string nine;
  for (int i = 0; i < 9; ++i) nine += ",\"n" + std::to_string(i) + "\":\"x\"";
  auto over = put(R"({"ipfsPinHash":")" + cid + R"(","keyvalues":{"z":"1")" + nine + "}}");
  EXPECT_EQ(over->status, 400);
  EXPECT_EQ(str(parse_json(over->body)["error"], "reason"), "KEYVALUE_LIMIT_EXCEEDED");
  EXPECT_EQ(pin_list("?cid=" + cid)["rows"][0]["metadata"]["keyvalues"].MemberCount(), 2u);
  // Exactly 10 is fine.
  std::string eight;
  for (int i = 0; i < 8; ++i) eight += std::string(i ? "," : "") + "\"e" + std::to_string(i) + "\":\"x\"";
  EXPECT_EQ(put(R"({"ipfsPinHash":")" + cid + R"(","keyvalues":{)" + eight + "}}")->status, 200);
  EXPECT_EQ(put(R"({"ipfsPinHash":"bafkreigoswsg4iddq6gqexlizzkduic652iolmy2mwolrr6bbd5twezucq","name":"x"})")
                ->status,
            404);
  EXPECT_EQ(put(R"({"name":"no hash"})")->status, 400);
}

TEST_F(PinataTest, UnpinByCidMarksThePinUnpinned) {
  auto cid = pinata_upload_cid(cli, emu, "u.txt", "to be unpinned", 1);
  auto del = cli.Delete(("/pinning/unpin/" + cid).c_str(), jwt_headers(emu));
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200);
  EXPECT_EQ(del->body, "OK");
  EXPECT_EQ(pin_list("?status=pinned&cid=" + cid)["rows"].Size(), 0u);
  auto un = pin_list("?status=unpinned&cid=" + cid);
  ASSERT_EQ(un["rows"].Size(), 1u);
  EXPECT_TRUE(un["rows"][0]["date_unpinned"].IsString());
  // Source: captured Pinata replies, PROTOCOLS.md §1 "Answers and leniencies confirmed": 400, not 404.
  auto again = cli.Delete(("/pinning/unpin/" + cid).c_str(), jwt_headers(emu));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 400);
  auto err = parse_json(again->body);
  EXPECT_EQ(str(err["error"], "reason"), "CURRENT_USER_HAS_NOT_PINNED_CID");
  EXPECT_EQ(str(err["error"], "details"), "The current user has not pinned the cid: " + cid);
  // Uploading it again pins it anew.
  EXPECT_EQ(pinata_upload_cid(cli, emu, "u.txt", "to be unpinned", 1), cid);
  EXPECT_EQ(pin_list("?status=pinned&cid=" + cid)["rows"].Size(), 1u);
}

TEST_F(PinataTest, UserPinnedDataTotalCountsPinnedContent) {
  auto total = [&] {
    auto r = cli.Get("/data/userPinnedDataTotal", jwt_headers(emu));
    EXPECT_TRUE(r);
    return parse_json(r->body);
  };
  auto t0 = total();
  EXPECT_EQ(t0["pin_count"].GetInt(), 0);
  pinata_upload_cid(cli, emu, "a", std::string(100, 'a'), 1);
  auto cid = pinata_upload_cid(cli, emu, "b", std::string(50, 'b'), 1);
  auto t1 = total();
  EXPECT_EQ(t1["pin_count"].GetInt(), 2);
  EXPECT_EQ(t1["pin_size_total"].GetInt(), 150);
  EXPECT_TRUE(t1.HasMember("pin_size_with_replications_total"));
  cli.Delete(("/pinning/unpin/" + cid).c_str(), jwt_headers(emu));
  auto t2 = total();
  EXPECT_EQ(t2["pin_count"].GetInt(), 1);
  EXPECT_EQ(t2["pin_size_total"].GetInt(), 100);
}

TEST_F(PinataTest, BothAuthStylesWorkOnEveryCall) {
  for (auto& h : {jwt_headers(emu), key_headers(emu)}) {
    auto up = cli.Post("/pinning/pinFileToIPFS", h, form({{"file", "auth style", "s.txt", ""}}));
    ASSERT_TRUE(up);
    EXPECT_EQ(up->status, 200);
    for (const char* path :
         {"/data/pinList", "/pinning/pinJobs", "/data/userPinnedDataTotal", "/data/testAuthentication"}) {
      auto r = cli.Get(path, h);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 200) << path;
    }
  }
}

TEST_F(PinataTest, UploadWithoutFileOrMultipartIsRejected) {
  auto r = cli.Post("/pinning/pinFileToIPFS", jwt_headers(emu), "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  auto r2 = pinata_upload(cli, emu, {{"pinataMetadata", "{\"name\":\"x\"}", "", ""}});
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 400);
}

}  // namespace
}  // namespace pinfs::testing
