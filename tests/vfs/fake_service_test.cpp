// The fake itself: other suites rely on its pagination, filters, fault injection and counters.
#include <gtest/gtest.h>

#include "pinfs/cid/importer.hpp"
#include "pinfs/service/fake_pin_service.hpp"

namespace pinfs::service {
namespace {

TEST(FakePinService, fake_paginates_and_filters) {
  FakePinService fake;
  for (int i = 0; i < 25; ++i) fake.add_file("file-" + std::to_string(i), "content " + std::to_string(i));
  ListQuery query;
  query.page_size = 10;
  std::size_t seen = 0, pages = 0;
  for (;;) {
    auto page = fake.list(query);
    ASSERT_TRUE(page);
    ++pages;
    seen += page->pins.size();
    EXPECT_EQ(page->total, 25u);
    if (page->next_cursor.empty()) break;
    query.cursor = page->next_cursor;
  }
  EXPECT_EQ(seen, 25u);
  EXPECT_EQ(pages, 3u);
  EXPECT_EQ(fake.counters().list.load(), 3u);

  ListQuery by_cid;
  by_cid.cid = fake.pins()[7].cid;
  EXPECT_EQ(fake.list(by_cid)->pins.size(), 1u);
  ListQuery by_name;
  by_name.name_contains = "file-2";
  EXPECT_EQ(fake.list(by_name)->pins.size(), 6u);  // file-2, file-20..24
}

TEST(FakePinService, fake_cids_match_the_importer_and_gateway_serves_ranges) {
  FakePinService fake;
  std::string content(600000, 'q');
  content[12345] = 'Z';
  auto pin = fake.add_file("f", content);
  cid::FileImporter importer;
  importer.update(cid::ByteView(reinterpret_cast<const std::uint8_t*>(content.data()), content.size()));
  EXPECT_EQ(pin.cid, importer.finish().cid.to_string());
  std::string got;
  auto n = fake.read(pin.cid, "", 12340, 10, [&](const char* d, std::size_t s) {
    got.append(d, s);
    return true;
  });
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 10u);
  EXPECT_EQ(got, content.substr(12340, 10));
  EXPECT_EQ(fake.counters().bytes_served.load(), 10u);
}

TEST(FakePinService, fake_directory_paths_and_blocks) {
  FakePinService fake;
  auto dir = fake.add_directory("d", {{"sub/x.txt", "xx"}});
  EXPECT_TRUE(dir.is_dir);
  EXPECT_EQ(dir.size, 2u);
  std::string got;
  ASSERT_TRUE(fake.read(dir.cid, "sub/x.txt", 0, 100, [&](const char* d, std::size_t s) {
    got.append(d, s);
    return true;
  }));
  EXPECT_EQ(got, "xx");
  EXPECT_TRUE(fake.block(dir.cid));
  EXPECT_EQ(fake.block("bafynothere").error().errnum, ENOENT);
}

TEST(FakePinService, fake_fail_next_counts_down) {
  FakePinService fake;
  fake.add_file("a", "a");
  fake.fail_next(FakeOp::Unpin, Error{EAGAIN, "busy"}, 2);
  auto ref = PinRef{fake.pins()[0].id, fake.pins()[0].cid};
  EXPECT_EQ(fake.unpin(ref).error().errnum, EAGAIN);
  EXPECT_EQ(fake.unpin(ref).error().errnum, EAGAIN);
  EXPECT_TRUE(fake.unpin(ref));
  EXPECT_EQ(fake.counters().unpin.load(), 3u);
  EXPECT_TRUE(fake.pins().empty());
}

TEST(FakePinService, fake_metadata_limits_and_capabilities) {
  FakePinService fake;
  auto pin = fake.add_file("a", "a");
  KeyValueChanges many;
  for (int i = 0; i < 11; ++i) many["k" + std::to_string(i)] = "v";
  EXPECT_EQ(fake.update_metadata({pin.id, pin.cid}, std::nullopt, many).error().errnum, E2BIG);
  Capabilities caps;
  caps.metadata_update = false;
  fake.set_capabilities(caps);
  EXPECT_EQ(fake.update_metadata({pin.id, pin.cid}, std::nullopt, {{"k", "v"}}).error().errnum, ENOTSUP);
}

TEST(FakePinService, fake_pin_by_cid_jobs_complete_only_for_stored_content) {
  FakePinService fake;
  auto known = fake.store_content("known");
  ASSERT_TRUE(fake.pin_by_cid(known, "k", {}));
  ASSERT_TRUE(fake.pin_by_cid("bafkreiunknownunknownunknownunknownunknownunknownunknownun", "u", {}));
  EXPECT_EQ(fake.complete_jobs(), 1u);
  EXPECT_TRUE(fake.find_by_name("k"));
  EXPECT_FALSE(fake.find_by_name("u"));
  auto jobs = fake.list_jobs();
  ASSERT_TRUE(jobs);
  EXPECT_EQ((*jobs)[0].status, "pinned");
  EXPECT_EQ((*jobs)[1].status, "searching");
}

}  // namespace
}  // namespace pinfs::service
