// `pinfs status` output from a mount's /.pinfs/status JSON.
#include "pinfs/cli/status_view.hpp"

#include <gtest/gtest.h>

namespace pinfs::cli {
namespace {

const char* kStatus = R"({"upload_mode":"async","totals":{"pins":3,"bytes":3145728},
"pending_uploads":[
 {"name":"big.iso","size":1073741824,"sent":536870912,"state":"uploading","cid":"","reason":""},
 {"name":"notes.txt","size":100,"sent":0,"state":"queued","cid":"","reason":""},
 {"name":"bad.bin","size":10,"sent":0,"state":"failed","cid":"","reason":"HTTP 500"}],
"jobs":[{"id":"j1","cid":"bafy","name":"linked","status":"searching","queued_at":1}],
"cache":{"bytes":2048,"max_bytes":10737418240,"entries":2,"hits":3,"misses":1,"evictions":0},
"requests":{"list":4,"uploads":2,"gateway_bytes":5242880},
"index":{"pins":3,"complete":true,"last_sync":1700000000,"last_reconcile":1700000000,"next_refresh":1700000060,
 "poll_interval":60}}
)";

TEST(StatusView, ParsesEverySection) {
  auto s = parse_status(kStatus);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->upload_mode, "async");
  EXPECT_EQ(s->pins, 3u);
  EXPECT_EQ(s->bytes, 3145728u);
  ASSERT_EQ(s->pending.size(), 3u);
  EXPECT_EQ(s->in_flight(), 2u);  // the failed one is not waited for
  EXPECT_EQ(s->in_flight_bytes_left(), 536870912u + 100u);
  EXPECT_EQ(s->jobs, 1u);
  EXPECT_TRUE(s->has_cache);
  EXPECT_EQ(s->cache_hits, 3u);
  ASSERT_EQ(s->requests.size(), 3u);
  EXPECT_EQ(s->requests[0].first, "list");
  EXPECT_EQ(s->requests[0].second, 4u);
  EXPECT_TRUE(s->has_index);
  EXPECT_TRUE(s->index_complete);
  EXPECT_EQ(s->index_pins, 3u);
  EXPECT_EQ(s->last_sync, 1700000000);
  EXPECT_EQ(s->next_refresh, 1700000060);
}

TEST(StatusView, RendersProgressBarsAndFigures) {
  auto s = parse_status(kStatus);
  ASSERT_TRUE(s);
  std::string text = render_status(*s, "/mnt/pin");
  EXPECT_NE(text.find("/mnt/pin\n"), std::string::npos) << text;
  EXPECT_NE(text.find("3 pins, 3.0 MiB"), std::string::npos) << text;
  EXPECT_NE(text.find("big.iso"), std::string::npos) << text;
  EXPECT_NE(text.find("[##############--------------]  50%"), std::string::npos) << text;
  EXPECT_NE(text.find("512.0 MiB / 1.0 GiB"), std::string::npos) << text;
  EXPECT_NE(text.find("(HTTP 500)"), std::string::npos) << text;
  EXPECT_NE(text.find("linked  searching"), std::string::npos) << text;
  EXPECT_NE(text.find("hit rate 75%"), std::string::npos) << text;
  EXPECT_NE(text.find("gateway_bytes 5.0 MiB"), std::string::npos) << text;
  EXPECT_NE(
      text.find("index:    3 pins, last sync 2023-11-14 22:13:20 UTC, next refresh 2023-11-14 22:14:20 UTC "
                "(every 60 s)"),
      std::string::npos)
      << text;
}

TEST(StatusView, NothingPending) {
  auto s = parse_status(R"({"totals":{"pins":1,"bytes":5},"pending_uploads":[]})");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->in_flight(), 0u);
  EXPECT_NE(render_status(*s, "/m").find("pending:  none"), std::string::npos);
  EXPECT_NE(render_status(*s, "/m").find("1 pin, 5 B"), std::string::npos);
}

TEST(StatusView, ProgressBarEdges) {
  EXPECT_EQ(progress_bar(0, 0, 12), "[----------]   0%");
  EXPECT_EQ(progress_bar(10, 10, 12), "[##########] 100%");
  EXPECT_EQ(progress_bar(20, 10, 12), "[##########] 100%");
}

TEST(StatusView, GarbageIsAnError) {
  EXPECT_FALSE(parse_status("not json"));
  EXPECT_FALSE(parse_status("[1,2]"));
}

}  // namespace
// docs/SEMANTICS.md [dir.verify], [dir.empty]: a new directory whose upload failed, and what a pin lacks.
TEST(StatusView, ShowsNewDirectoriesAndNotices) {
  auto s = parse_status(
      R"({"upload_mode":"sync","directories":[{"name":"tree","status":"failed: CID mismatch: service pinned X"}],)"
      R"("notices":[{"cid":"bafyroot","notice":"empty directories not kept by the service: a, b/c"}]})");
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(s->directories.size(), 1u);
  EXPECT_EQ(s->directories[0].first, "tree");
  ASSERT_EQ(s->notices.size(), 1u);
  std::string text = render_status(*s, "/mnt/pin");
  EXPECT_NE(text.find("new directories:\n    tree/  failed: CID mismatch: service pinned X\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("notice: bafyroot: empty directories not kept by the service: a, b/c\n"),
            std::string::npos)
      << text;
}

}  // namespace pinfs::cli
