// Pin-by-CID jobs: held content pins within about a second; unknown content searches, then
// expires after --job-expiry; content uploaded later completes a searching job.
#include <thread>

#include "emulator_test_support.hpp"
#include "pinfs/cid/cid.hpp"

namespace pinfs::testing {
namespace {

using namespace std::chrono_literals;

rapidjson::Document jobs(httplib::Client& cli, const EmulatorProcess& emu, const std::string& query) {
  auto r = cli.Get(("/pinning/pinJobs" + query).c_str(), jwt_headers(emu));
  EXPECT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  return parse_json(r->body);
}

std::string pin_by_hash(httplib::Client& cli, const EmulatorProcess& emu, const std::string& cid,
                        const std::string& name) {
  auto r = cli.Post(
      "/pinning/pinByHash", jwt_headers(emu),
      R"({"hashToPin":")" + cid + R"(","pinataMetadata":{"name":")" + name +
          R"(","keyvalues":{"src":"job"}},"pinataOptions":{"hostNodes":["/ip4/127.0.0.1/tcp/4001"]}})",
      "application/json");
  EXPECT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  auto d = parse_json(r->body);
  EXPECT_EQ(str(d, "ipfsHash"), cid);
  EXPECT_EQ(str(d, "name"), name);
  EXPECT_TRUE(str(d, "status") == "prechecking" || str(d, "status") == "searching");
  return str(d, "id");
}

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return cond();
}

TEST(EmulatorJobs, HeldContentPinsWithinASecond) {
  EmulatorProcess emu;
  auto cli = client_for(emu);
  std::string cid = pinata_upload_cid(cli, emu, "held.bin", random_bytes(700000, 5), 0);
  ASSERT_TRUE(cli.Delete(("/pinning/unpin/" + cid).c_str(), jwt_headers(emu)));
  auto start = std::chrono::steady_clock::now();
  std::string id = pin_by_hash(cli, emu, cid, "by hash");
  ASSERT_TRUE(wait_for(
      [&] {
        auto d =
            parse_json(cli.Get(("/data/pinList?status=pinned&cid=" + cid).c_str(), jwt_headers(emu))->body);
        return d["rows"].Size() == 1;
      },
      1500ms));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
  auto row = parse_json(cli.Get(("/data/pinList?status=pinned&cid=" + cid).c_str(), jwt_headers(emu))->body);
  EXPECT_EQ(str(row["rows"][0], "id"), id);  // the pin takes the job's id
  EXPECT_EQ(str(row["rows"][0]["metadata"], "name"), "by hash");
  EXPECT_EQ(str(row["rows"][0]["metadata"]["keyvalues"], "src"), "job");
  EXPECT_GT(row["rows"][0]["size"].GetUint64(), 700000u);
  EXPECT_EQ(jobs(cli, emu, "?ipfs_pin_hash=" + cid)["count"].GetInt(), 0);  // done jobs leave the queue
  // The AIOZ face sees it too, as a pin by hash.
  auto a = cli.Get(("/api/pinning/" + id).c_str(), aioz_headers(emu));
  ASSERT_TRUE(a);
  EXPECT_TRUE(parse_json(a->body)["data"]["is_pin_by_hash"].GetBool());
}

TEST(EmulatorJobs, UnknownContentSearchesThenExpires) {
  EmulatorProcess emu({{"--job-expiry", "2"}, ""});
  auto cli = client_for(emu);
  const std::string cid = "bafkreigoswsg4iddq6gqexlizzkduic652iolmy2mwolrr6bbd5twezucq";
  std::string id = pin_by_hash(cli, emu, cid, "missing");
  std::this_thread::sleep_for(600ms);
  auto d = jobs(cli, emu, "?ipfs_pin_hash=" + cid);
  ASSERT_EQ(d["count"].GetInt(), 1);
  auto& row = d["rows"][0];
  EXPECT_EQ(str(row, "id"), id);
  EXPECT_EQ(str(row, "status"), "searching");
  for (const char* k :
       {"id", "ipfs_pin_hash", "date_queued", "name", "status", "keyvalues", "host_nodes", "pin_policy"})
    EXPECT_TRUE(row.HasMember(k)) << k;
  EXPECT_EQ(std::string(row["host_nodes"][0].GetString()), "/ip4/127.0.0.1/tcp/4001");
  EXPECT_EQ(jobs(cli, emu, "?status=searching")["count"].GetInt(), 1);
  EXPECT_EQ(jobs(cli, emu, "?status=expired")["count"].GetInt(), 0);
  ASSERT_TRUE(wait_for([&] { return jobs(cli, emu, "?status=expired")["count"].GetInt() == 1; }, 3000ms));
  EXPECT_EQ(jobs(cli, emu, "?status=searching")["count"].GetInt(), 0);
  auto aioz = parse_json(cli.Get(("/api/pinning/" + id).c_str(), aioz_headers(emu))->body);
  EXPECT_EQ(str(aioz["data"], "status"), "FAILED");
}

TEST(EmulatorJobs, LaterUploadCompletesASearchingJob) {
  EmulatorProcess emu;
  auto cli = client_for(emu);
  std::string data = "arrives after the pin request";
  auto bytes = cid::ByteView(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
  std::string cid = cid::cid_of_block(1, cid::Codec::Raw, bytes).to_string();  // one chunk: the raw leaf
  std::string id = pin_by_hash(cli, emu, cid, "late");
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(str(jobs(cli, emu, "?ipfs_pin_hash=" + cid)["rows"][0], "status"), "searching");
  pinata_upload_cid(cli, emu, "x", data, 1);
  ASSERT_TRUE(
      wait_for([&] { return jobs(cli, emu, "?ipfs_pin_hash=" + cid)["count"].GetInt() == 0; }, 1500ms));
  auto a = parse_json(cli.Get(("/api/pinning/" + id).c_str(), aioz_headers(emu))->body);
  EXPECT_TRUE(a["data"]["pinned"].GetBool());
}

TEST(EmulatorJobs, PinJobsSortLimitOffsetAndErrors) {
  EmulatorProcess emu;
  auto cli = client_for(emu);
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    std::string seed = "never held " + std::to_string(i);
    std::string cid =
        cid::cid_of_block(1, cid::Codec::Raw,
                          cid::ByteView(reinterpret_cast<const std::uint8_t*>(seed.data()), seed.size()))
            .to_string();
    ids.push_back(pin_by_hash(cli, emu, cid, "job" + std::to_string(i)));
    std::this_thread::sleep_for(3ms);
  }
  auto def = jobs(cli, emu, "");
  EXPECT_EQ(def["count"].GetInt(), 7);
  EXPECT_EQ(def["rows"].Size(), 5u);             // default limit 5
  EXPECT_EQ(str(def["rows"][0], "id"), ids[6]);  // default DESC
  auto asc = jobs(cli, emu, "?sort=ASC&limit=2&offset=1");
  ASSERT_EQ(asc["rows"].Size(), 2u);
  EXPECT_EQ(str(asc["rows"][0], "id"), ids[1]);
  EXPECT_EQ(str(asc["rows"][1], "id"), ids[2]);
  for (const char* q : {"?sort=UP", "?limit=0", "?limit=1001", "?offset=-3"}) {
    auto r = cli.Get((std::string("/pinning/pinJobs") + q).c_str(), jwt_headers(emu));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << q;
  }
  auto bad = cli.Post("/pinning/pinByHash", jwt_headers(emu), R"({"hashToPin":"nope"})", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  auto too_many = cli.Post(
      "/pinning/pinByHash", jwt_headers(emu),
      R"({"hashToPin":"bafkreigoswsg4iddq6gqexlizzkduic652iolmy2mwolrr6bbd5twezucq","pinataOptions":{"hostNodes":["a","b","c","d","e","f"]}})",
      "application/json");
  ASSERT_TRUE(too_many);
  EXPECT_EQ(too_many->status, 400);
}

}  // namespace
}  // namespace pinfs::testing
