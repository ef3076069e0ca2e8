#include <cstring>
#include <thread>

#include "pinfs/cache/content_cache.hpp"
#include "vfs_fixture.hpp"

namespace pinfs::vfs::testing {
namespace {

using Reading = VfsFixture;

TEST_F(Reading, read_range_returns_the_content) {
  auto content = pattern(3 * 1024 * 1024 + 17);
  fake_->add_file("big.bin", content);
  start();
  EXPECT_EQ(*cat("/big.bin"), content);
}

TEST_F(Reading, read_range_asks_only_for_a_window) {
  auto content = pattern(40 << 20);
  fake_->add_file("huge.bin", content);
  start();
  auto entry = walk("/huge.bin");
  auto opened = vfs_->open(entry->ino, O_RDONLY);
  ASSERT_TRUE(opened);
  std::vector<char> buf(4096);
  auto n = vfs_->read(opened->fh, 20 << 20, buf.size(), buf.data());  // a random read in the middle
  ASSERT_TRUE(n);
  EXPECT_EQ(std::string(buf.data(), *n), content.substr(20 << 20, 4096));
  EXPECT_EQ(fake_->counters().gateway_read.load(), 1u);
  EXPECT_EQ(fake_->counters().bytes_served.load(), 1u << 20);  // the initial 1 MiB window, not the file
  vfs_->release(opened->fh);
}

TEST_F(Reading, read_ahead_grows_on_sequential_reads) {
  auto content = pattern(64 << 20);
  fake_->add_file("seq.bin", content);
  start();
  auto entry = walk("/seq.bin");
  auto opened = vfs_->open(entry->ino, O_RDONLY);
  std::vector<char> buf(128 * 1024);
  std::uint64_t offset = 0;
  while (offset < content.size()) {
    auto n = vfs_->read(opened->fh, offset, buf.size(), buf.data());
    ASSERT_TRUE(n);
    ASSERT_EQ(std::memcmp(buf.data(), content.data() + offset, *n), 0);
    offset += *n;
  }
  vfs_->release(opened->fh);
  // 1+2+4+8+16+16+16+1 MiB: far fewer requests than 512 reads of 128 KiB.
  EXPECT_LE(fake_->counters().gateway_read.load(), 9u);
  EXPECT_EQ(fake_->counters().bytes_served.load(), content.size());
}

// Once reading is sequential, the window after the one being read is fetched in the background: the reader
// finds it in the cache instead of waiting for the network.
TEST_F(Reading, read_ahead_prefetches_the_next_window) {
  auto content = pattern(16 << 20);
  fake_->add_file("seq.bin", content);
  start();
  auto entry = walk("/seq.bin");
  auto opened = vfs_->open(entry->ino, O_RDONLY);
  ASSERT_TRUE(opened);
  std::vector<char> buf(128 * 1024);
  auto read_at = [&](std::uint64_t offset) {
    auto n = vfs_->read(opened->fh, offset, buf.size(), buf.data());
    ASSERT_TRUE(n);
    ASSERT_EQ(*n, buf.size());
    ASSERT_EQ(std::memcmp(buf.data(), content.data() + offset, *n), 0);
  };
  // The first miss fetches a 1 MiB window; reading on into the second makes the reading sequential:
  // [1, 3) MiB is fetched and [3, 5) MiB prefetched.
  for (std::uint64_t offset = 0; offset <= (1u << 20); offset += buf.size()) read_at(offset);
  auto served = [&] { return fake_->counters().bytes_served.load(); };
  for (int i = 0; i < 500 && served() < (5u << 20); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(served(), 5u << 20) << "the next window was not prefetched";
  const auto reads = fake_->counters().gateway_read.load();
  EXPECT_EQ(reads, 3u);
  // Reading on into the prefetched window finds it cached, and starts the prefetch of [5, 9) MiB.
  for (std::uint64_t offset = (1u << 20) + buf.size(); offset <= (3u << 20); offset += buf.size())
    read_at(offset);
  for (int i = 0; i < 500 && served() < (9u << 20); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(served(), 9u << 20);
  EXPECT_EQ(fake_->counters().gateway_read.load(), reads + 1);
  vfs_->release(opened->fh);
}

TEST_F(Reading, read_cache_second_read_never_touches_the_network) {
  auto content = pattern(5 << 20);
  fake_->add_file("cached.bin", content);
  start();
  EXPECT_EQ(*cat("/cached.bin"), content);
  auto reads = fake_->counters().gateway_read.load();
  fake_->fail_next(service::FakeOp::GatewayRead, Error{EIO, "network down"}, -1);
  EXPECT_EQ(*cat("/cached.bin"), content);
  EXPECT_EQ(fake_->counters().gateway_read.load(), reads);
}

TEST_F(Reading, read_gateway_error_is_the_errno) {
  fake_->add_file("f", "abc");
  start();
  fake_->fail_next(service::FakeOp::GatewayRead, Error{ETIMEDOUT, "stalled"});
  auto got = cat("/f");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errnum, ETIMEDOUT);
  EXPECT_EQ(*cat("/f"), "abc");  // a failure is not cached
}

TEST_F(Reading, read_cache_is_bounded_by_size) {
  options_.cache_max_bytes = 3 << 20;
  auto a = pattern(2 << 20, 1), b = pattern(2 << 20, 2);
  fake_->add_file("a", a);
  fake_->add_file("b", b);
  start();
  EXPECT_EQ(*cat("/a"), a);
  EXPECT_EQ(*cat("/b"), b);  // evicts a
  auto before = fake_->counters().gateway_read.load();
  EXPECT_EQ(*cat("/b"), b);
  EXPECT_EQ(fake_->counters().gateway_read.load(), before);
  EXPECT_EQ(*cat("/a"), a);
  EXPECT_GT(fake_->counters().gateway_read.load(), before);
}

TEST_F(Reading, write_immutable_open_pin_for_writing_is_erofs) {
  fake_->add_file("pinned", "abc");
  start();
  auto entry = walk("/pinned");
  auto opened = vfs_->open(entry->ino, O_WRONLY);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().errnum, EROFS);
  auto truncated = vfs_->truncate(entry->ino, 0);
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().errnum, EROFS);
  auto appended = vfs_->open(entry->ino, O_RDWR | O_APPEND);
  ASSERT_FALSE(appended);
  EXPECT_EQ(appended.error().errnum, EROFS);
}

}  // namespace
}  // namespace pinfs::vfs::testing
