// AIOZ W3IPFS's API over HTTP: upload (201), pins list with its parameters and totals, get,
// unpin by id, pin by hash, directory uploads, and the one account shared with Pinata.
#include <thread>

#include "emulator_test_support.hpp"
#include "pinfs/cid/importer.hpp"

namespace pinfs::testing {
namespace {

class AiozTest : public ::testing::Test {
 protected:
  EmulatorProcess emu;
  httplib::Client cli = client_for(emu);

  rapidjson::Document upload(const std::vector<Part>& parts, int expect = 201) {
    auto r = cli.Post("/api/pinning/", aioz_headers(emu), form(parts));
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, expect) << r->body;
    return parse_json(r->body);
  }
  rapidjson::Document get(const std::string& path, int expect = 200) {
    auto r = cli.Get(path.c_str(), aioz_headers(emu));
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, expect) << path << " → " << r->body;
    return parse_json(r->body);
  }
};

void expect_pin_object(const rapidjson::Value& pin) {
  for (const char* k :
       {"id", "file_record_id", "root_hash", "cid", "size", "user_id", "date_pinned", "date_unpinned",
        "pinned", "is_pin_by_hash", "sub_hash_status", "is_dir", "metadata", "status"})
    EXPECT_TRUE(pin.HasMember(k)) << "pin object lacks " << k;
}

TEST_F(AiozTest, UploadReturns201WithTheEnvelopeAndCidV1) {
  auto d = upload({{"file", "hello world\n", "hello.txt", "text/plain"},
                   {"metadata", R"({"name":"sample name","keyvalues":{"key1":"value1"}})", "", ""}});
  EXPECT_EQ(str(d, "status"), "success");
  auto& pin = d["data"];
  expect_pin_object(pin);
  EXPECT_EQ(str(pin, "cid"), "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4");
  EXPECT_EQ(str(pin, "root_hash"), "1220a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447");
  EXPECT_EQ(pin["size"].GetInt(), 12);
  EXPECT_TRUE(pin["pinned"].GetBool());
  EXPECT_FALSE(pin["is_pin_by_hash"].GetBool());
  EXPECT_FALSE(pin["is_dir"].GetBool());
  EXPECT_EQ(str(pin, "date_unpinned"), "0001-01-01T00:00:00Z");
  EXPECT_EQ(str(pin["metadata"], "name"), "sample name");
  EXPECT_EQ(str(pin["metadata"]["keyvalues"], "key1"), "value1");
  EXPECT_EQ(str(pin, "status"), "DONE");
  // date_pinned has microseconds, as in the seed examples.
  EXPECT_EQ(std::string(pin["date_pinned"].GetString()).size(),
            std::string("2023-05-23T08:29:43.264508Z").size());
}

TEST_F(AiozTest, LargeUploadIsMultiChunkCidV1) {
  std::string big = random_bytes(3 * 262144 + 1000, 7);
  auto d = upload({{"file", big, "big.bin", "application/octet-stream"}});
  std::string cid = str(d["data"], "cid");
  EXPECT_EQ(cid.rfind("bafybei", 0), 0u);
  EXPECT_EQ(d["data"]["size"].GetUint64(), big.size());
  auto g = cli.Get(("/ipfs/" + cid).c_str());
  ASSERT_TRUE(g);
  EXPECT_EQ(g->body, big);
}

TEST_F(AiozTest, DirectoryUpload) {
  auto d = upload({{"file", "one", "dir/a.txt", ""}, {"file", "two", "dir/sub/b.txt", ""}});
  auto& pin = d["data"];
  EXPECT_TRUE(pin["is_dir"].GetBool());
  EXPECT_EQ(str(pin["metadata"], "name"), "dir");
  EXPECT_EQ(pin["size"].GetInt(), 6);
  std::string cid = str(pin, "cid");
  EXPECT_EQ(cid.rfind("bafybei", 0), 0u);
  auto b = cli.Get(("/ipfs/" + cid + "/sub/b.txt").c_str());
  ASSERT_TRUE(b);
  EXPECT_EQ(b->body, "two");
}

TEST_F(AiozTest, DirectoryPartsKeepEmptyDirectories) {
  auto d = upload({{"file", "one", "dir/a.txt", ""}, {"file", "", "dir/empty", "application/x-directory"}});
  auto& pin = d["data"];
  EXPECT_TRUE(pin["is_dir"].GetBool());
  EXPECT_EQ(str(pin["metadata"], "name"), "dir");
  cid::FileImporter file(cid::ImportOptions{1});
  file.update(cid::ByteView(reinterpret_cast<const std::uint8_t*>("one"), 3));
  auto a = file.finish();
  auto empty = cid::build_directory({}, 1);
  auto root = cid::build_directory({{"a.txt", a.cid, a.tsize}, {"empty", empty->cid, empty->tsize}}, 1);
  EXPECT_EQ(str(pin, "cid"), root->cid.to_string());
  EXPECT_EQ(pin["size"].GetInt(), 3);
}

TEST_F(AiozTest, GetPinByIdAndUnknownId) {
  auto d = upload({{"file", "get me", "g.txt", ""}});
  std::string id = str(d["data"], "id");
  auto g = get("/api/pinning/" + id);
  EXPECT_EQ(str(g, "status"), "success");
  expect_pin_object(g["data"]);
  EXPECT_EQ(str(g["data"], "id"), id);
  EXPECT_EQ(str(g["data"], "cid"), str(d["data"], "cid"));
  auto missing = get("/api/pinning/00000000-0000-4000-8000-000000000000", 404);
  EXPECT_TRUE(missing.HasMember("message"));
}

TEST_F(AiozTest, PinsListParametersAndTotals) {
  // Three pins: names c, a, b; sizes 30, 10, 20; created in that order.
  std::vector<std::string> ids;
  const std::pair<const char*, std::size_t> items[] = {{"c", 30}, {"a", 10}, {"b", 20}};
  for (auto& [name, size] : items) {
    auto d = upload({{"file", std::string(size, name[0]), name, ""}});
    ids.push_back(str(d["data"], "id"));
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  auto names = [&](const std::string& q) {
    auto d = get("/api/pinning/pins/" + q);
    std::string out;
    for (auto& p : d["data"]["pins"].GetArray()) out += str(p["metadata"], "name");
    return out;
  };
  auto all = get("/api/pinning/pins/");
  EXPECT_EQ(str(all, "status"), "success");
  EXPECT_EQ(all["data"]["totals"]["files"].GetInt(), 3);
  EXPECT_EQ(all["data"]["totals"]["size"].GetInt(), 60);
  EXPECT_EQ(names(""), "bac");  // default created_at DESC
  EXPECT_EQ(names("?sortBy=created_at&sortOrder=ASC"), "cab");
  EXPECT_EQ(names("?sortBy=name&sortOrder=ASC"), "abc");
  EXPECT_EQ(names("?sortBy=size&sortOrder=DESC"), "cba");
  EXPECT_EQ(names("?offset=1&limit=1&sortBy=name&sortOrder=ASC"), "b");
  EXPECT_EQ(names("?offset=0&limit=10&pinned=true&sortBy=name&sortOrder=ASC"), "abc");
  ASSERT_TRUE(cli.Delete(("/api/pinning/unpin/" + ids[1]).c_str(), aioz_headers(emu)));
  EXPECT_EQ(names("?pinned=true&sortBy=name&sortOrder=ASC"), "bc");
  EXPECT_EQ(names("?pinned=false"), "a");
  EXPECT_EQ(names("?pinned=all&sortBy=name&sortOrder=ASC"), "abc");
  auto pinned = get("/api/pinning/pins/?pinned=true");
  EXPECT_EQ(pinned["data"]["totals"]["files"].GetInt(), 2);
  EXPECT_EQ(pinned["data"]["totals"]["size"].GetInt(), 50);
  get("/api/pinning/pins/?sortBy=color", 400);
  get("/api/pinning/pins/?sortOrder=UP", 400);
  get("/api/pinning/pins/?pinned=maybe", 400);
  get("/api/pinning/pins/?limit=0", 400);
}

TEST_F(AiozTest, UnpinTakesThePinIdAndReturnsThePin) {
  auto d = upload({{"file", "unpin me", "u.txt", ""}});
  std::string id = str(d["data"], "id");
  std::string cid = str(d["data"], "cid");
  auto by_cid = cli.Delete(("/api/pinning/unpin/" + cid).c_str(), aioz_headers(emu));
  ASSERT_TRUE(by_cid);
  EXPECT_EQ(by_cid->status, 404);  // the CID is not an id
  auto r = cli.Delete(("/api/pinning/unpin/" + id).c_str(), aioz_headers(emu));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto body = parse_json(r->body);
  EXPECT_EQ(str(body, "status"), "success");
  EXPECT_FALSE(body["data"]["pinned"].GetBool());
  EXPECT_NE(str(body["data"], "date_unpinned"), "0001-01-01T00:00:00Z");
  EXPECT_FALSE(get("/api/pinning/" + id)["data"]["pinned"].GetBool());
}

TEST_F(AiozTest, PinByHashOfHeldAndUnknownContent) {
  auto d = upload({{"file", "held content", "h.txt", ""}});
  std::string cid = str(d["data"], "cid");
  auto r =
      cli.Post("/api/pinning/pinByHash", aioz_headers(emu),
               R"({"hash_to_pin":")" + cid + R"(","metadata":{"name":"second name","keyvalues":{"k":"v"}}})",
               "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto p = parse_json(r->body);
  expect_pin_object(p["data"]);
  EXPECT_TRUE(p["data"]["is_pin_by_hash"].GetBool());
  EXPECT_TRUE(p["data"]["pinned"].GetBool());
  EXPECT_EQ(str(p["data"]["metadata"], "name"), "second name");
  std::string id2 = str(p["data"], "id");
  EXPECT_NE(id2, str(d["data"], "id"));  // a pin of its own: rename = pin by hash + unpin old id
  EXPECT_EQ(get("/api/pinning/pins/?pinned=true")["data"]["totals"]["files"].GetInt(), 2);

  auto u = cli.Post(
      "/api/pinning/pinByHash", aioz_headers(emu),
      R"({"hash_to_pin":"bafkreigoswsg4iddq6gqexlizzkduic652iolmy2mwolrr6bbd5twezucq","metadata":{"name":"x"}})",
      "application/json");
  ASSERT_TRUE(u);
  ASSERT_EQ(u->status, 200);
  auto up = parse_json(u->body);
  EXPECT_FALSE(up["data"]["pinned"].GetBool());
  EXPECT_TRUE(up["data"]["is_pin_by_hash"].GetBool());
  auto job = get("/api/pinning/" + str(up["data"], "id"));
  EXPECT_FALSE(job["data"]["pinned"].GetBool());
  auto bad = cli.Post("/api/pinning/pinByHash", aioz_headers(emu), R"({"hash_to_pin":"not-a-cid"})",
                      "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  auto none = cli.Post("/api/pinning/pinByHash", aioz_headers(emu), R"({})", "application/json");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 400);
}

TEST_F(AiozTest, OneAccountAcrossBothApis) {
  auto a = upload({{"file", "from aioz", "from-aioz.txt", ""}});
  std::string aioz_cid = str(a["data"], "cid");
  std::string pinata_cid = pinata_upload_cid(cli, emu, "from-pinata.txt", "from pinata", 1);
  auto list = cli.Get("/data/pinList?status=pinned", jwt_headers(emu));
  ASSERT_TRUE(list);
  EXPECT_NE(list->body.find(aioz_cid), std::string::npos);
  auto pins = get("/api/pinning/pins/");
  EXPECT_EQ(pins["data"]["totals"]["files"].GetInt(), 2);
  bool found = false;
  for (auto& p : pins["data"]["pins"].GetArray()) found = found || str(p, "cid") == pinata_cid;
  EXPECT_TRUE(found);
  // Unpinning through Pinata shows in AIOZ.
  ASSERT_TRUE(cli.Delete(("/pinning/unpin/" + aioz_cid).c_str(), jwt_headers(emu)));
  EXPECT_FALSE(get("/api/pinning/" + str(a["data"], "id"))["data"]["pinned"].GetBool());
}

TEST_F(AiozTest, UploadErrors) {
  auto r = cli.Post("/api/pinning/", aioz_headers(emu), "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(parse_json(r->body).HasMember("message"));
  upload({{"file", "x", "x.txt", ""}, {"metadata", "{not json", "", ""}}, 400);
}

}  // namespace
}  // namespace pinfs::testing
