// Restart with the same --data keeps pins, metadata, unpins, jobs and content; concurrent
// requests are safe.
#include <atomic>
#include <thread>

#include "emulator_test_support.hpp"

namespace pinfs::testing {
namespace {

TEST(EmulatorPersistence, RestartKeepsEverything) {
  EmulatorProcess emu;
  auto cli = client_for(emu);
  std::string kept = pinata_upload_cid(cli, emu, "kept.txt", "kept across restarts", 1,
                                       R"({"name":"kept","keyvalues":{"a":"1"}})");
  std::string gone = pinata_upload_cid(cli, emu, "gone.txt", "unpinned before restart", 0);
  ASSERT_TRUE(cli.Delete(("/pinning/unpin/" + gone).c_str(), jwt_headers(emu)));
  ASSERT_EQ(cli.Put("/pinning/hashMetadata", jwt_headers(emu),
                    R"({"ipfsPinHash":")" + kept + R"(","name":"kept renamed","keyvalues":{"b":2}})",
                    "application/json")
                ->status,
            200);
  auto a = cli.Post("/api/pinning/", aioz_headers(emu), form({{"file", "aioz upload", "a.txt", ""}}));
  ASSERT_TRUE(a);
  std::string aioz_id = str(parse_json(a->body)["data"], "id");
  auto job = cli.Post(
      "/pinning/pinByHash", jwt_headers(emu),
      R"({"hashToPin":"bafkreigoswsg4iddq6gqexlizzkduic652iolmy2mwolrr6bbd5twezucq","pinataMetadata":{"name":"waiting"}})",
      "application/json");
  ASSERT_TRUE(job);
  std::string job_id = str(parse_json(job->body), "id");
  std::string before = cli.Get("/data/pinList?status=all", jwt_headers(emu))->body;

  emu.restart();
  auto cli2 = client_for(emu);
  std::string after = cli2.Get("/data/pinList?status=all", jwt_headers(emu))->body;
  EXPECT_EQ(parse_json(after)["count"].GetInt(), parse_json(before)["count"].GetInt());
  EXPECT_EQ(after, before);  // same ids, dates, metadata, order
  auto kept_list = parse_json(cli2.Get(("/data/pinList?cid=" + kept).c_str(), jwt_headers(emu))->body);
  auto row = kept_list["rows"][0].GetObject();  // a view into kept_list, which must outlive it
  EXPECT_EQ(str(row["metadata"], "name"), "kept renamed");
  EXPECT_EQ(str(row["metadata"]["keyvalues"], "a"), "1");
  EXPECT_EQ(row["metadata"]["keyvalues"]["b"].GetInt(), 2);
  auto un =
      parse_json(cli2.Get(("/data/pinList?status=unpinned&cid=" + gone).c_str(), jwt_headers(emu))->body);
  EXPECT_EQ(un["rows"].Size(), 1u);
  auto got = cli2.Get(("/api/pinning/" + aioz_id).c_str(), aioz_headers(emu));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  auto jobs = parse_json(cli2.Get("/pinning/pinJobs", jwt_headers(emu))->body);
  ASSERT_EQ(jobs["count"].GetInt(), 1);
  EXPECT_EQ(str(jobs["rows"][0], "id"), job_id);
  auto content = cli2.Get(("/ipfs/" + kept).c_str());
  ASSERT_TRUE(content);
  EXPECT_EQ(content->body, "kept across restarts");
  // The same user id, and the same credentials still work.
  EXPECT_EQ(str(parse_json(after)["rows"][0], "user_id"), str(parse_json(before)["rows"][0], "user_id"));
}

TEST(EmulatorPersistence, SurvivesKill9) {
  EmulatorProcess emu;
  auto cli = client_for(emu);
  std::string cid = pinata_upload_cid(cli, emu, "k.txt", "acknowledged before kill -9", 1);
  ::kill(emu.pid(), SIGKILL);
  emu.restart();
  auto cli2 = client_for(emu);
  auto d = parse_json(cli2.Get(("/data/pinList?status=pinned&cid=" + cid).c_str(), jwt_headers(emu))->body);
  EXPECT_EQ(d["rows"].Size(), 1u);
}

TEST(EmulatorConcurrency, ParallelUploadsAndListsAreConsistent) {
  EmulatorProcess emu;
  constexpr int kThreads = 8, kPerThread = 10;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto cli = client_for(emu);
      for (int i = 0; i < kPerThread; ++i) {
        std::string content = "thread " + std::to_string(t) + " file " + std::to_string(i);
        auto path = (t % 2) ? "/api/pinning/" : "/pinning/pinFileToIPFS";
        auto h = (t % 2) ? aioz_headers(emu) : jwt_headers(emu);
        auto r = cli.Post(path, h, form({{"file", content, "f.txt", ""}}));
        if (!r || (r->status != 200 && r->status != 201)) ++failures;
        auto l = cli.Get("/data/pinList?pageLimit=5", jwt_headers(emu));
        if (!l || l->status != 200) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto cli = client_for(emu);
  auto d = parse_json(cli.Get("/data/userPinnedDataTotal", jwt_headers(emu))->body);
  EXPECT_EQ(d["pin_count"].GetInt(), kThreads * kPerThread);
  emu.restart();
  auto cli2 = client_for(emu);
  auto d2 = parse_json(cli2.Get("/data/userPinnedDataTotal", jwt_headers(emu))->body);
  EXPECT_EQ(d2["pin_count"].GetInt(), kThreads * kPerThread);
}

}  // namespace
}  // namespace pinfs::testing
