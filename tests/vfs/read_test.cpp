#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
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
  EXPECT_EQ(cat_text("/big.bin"), content);
}

// A random read fetches the leaves it touches (256 KiB each), not a window: `dd skip=` stays small.
TEST_F(Reading, read_random_fetches_only_the_leaves_it_touches) {
  auto content = pattern(40 << 20);
  fake_->add_file("huge.bin", content);
  start();
  auto entry = walk("/huge.bin");
  auto opened = vfs_->open(entry->ino, O_RDONLY);
  ASSERT_TRUE(opened);
  std::vector<char> buf(1 << 20);
  auto n = vfs_->read(opened->fh, 20 << 20, 4096, buf.data());  // a random read in the middle
  ASSERT_TRUE(n);
  EXPECT_EQ(std::string(buf.data(), *n), content.substr(20 << 20, 4096));
  EXPECT_EQ(fake_->counters().gateway_read.load(), 1u);
  EXPECT_EQ(fake_->counters().bytes_served.load(), 262144u);            // one leaf
  n = vfs_->read(opened->fh, (7 << 20) + 100, buf.size(), buf.data());  // dd bs=1M skip=…, unaligned
  ASSERT_TRUE(n);
  EXPECT_EQ(std::string(buf.data(), *n), content.substr((7 << 20) + 100, buf.size()));
  EXPECT_EQ(fake_->counters().bytes_served.load(), 262144u * 6);  // the five leaves it touches
  vfs_->release(opened->fh);
}

TEST_F(Reading, read_ahead_sequential_reads_fetch_every_byte_once_in_parts) {
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
  // One leaf, then 4 MiB parts: far fewer requests than 512 reads of 128 KiB, and no byte twice.
  EXPECT_LE(fake_->counters().gateway_read.load(), 64u / 4 + 2);
  EXPECT_EQ(fake_->counters().bytes_served.load(), content.size());
}

// Counts the ranged requests in flight at once (with a little latency so that they overlap).
class ConcurrencyGateway final : public service::Gateway {
 public:
  explicit ConcurrencyGateway(std::shared_ptr<service::Gateway> inner) : inner_(std::move(inner)) {}
  Result<std::uint64_t> read(const std::string& cid, const std::string& path, std::uint64_t offset,
                             std::uint64_t length, const service::ByteSink& sink) override {
    const int now = ++in_flight_;
    for (int seen = max_.load(); now > seen && !max_.compare_exchange_weak(seen, now);) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto got = inner_->read(cid, path, offset, length, sink);
    --in_flight_;
    return got;
  }
  Result<std::vector<std::uint8_t>> block(const std::string& cid) override { return inner_->block(cid); }
  int max_in_flight() const { return max_; }

 private:
  std::shared_ptr<service::Gateway> inner_;
  std::atomic<int> in_flight_{0}, max_{0};
};

// Once reading is sequential, several parts are fetched at once ahead of the reader, never more than the
// per-file bound (16 parts of 4 MiB); reads arriving out of order (as kernel read-ahead threads deliver
// them) keep the stream sequential and fetch nothing twice.
TEST_F(Reading, read_ahead_parallel_parts_tolerate_out_of_order_reads) {
  auto content = pattern(96 << 20);
  fake_->add_file("seq.bin", content);
  auto gateway = std::make_shared<ConcurrencyGateway>(fake_);
  vfs_ = std::make_unique<Vfs>(fake_, gateway, options_);
  ASSERT_TRUE(vfs_->start());
  auto entry = walk("/seq.bin");
  auto opened = vfs_->open(entry->ino, O_RDONLY);
  ASSERT_TRUE(opened);
  constexpr std::size_t kRead = 128 * 1024;
  std::vector<char> buf(kRead);
  for (std::uint64_t pair = 0; pair < content.size(); pair += 2 * kRead) {
    for (std::uint64_t offset : {pair + kRead, pair}) {  // the second half of each pair first
      auto n = vfs_->read(opened->fh, offset, kRead, buf.data());
      ASSERT_TRUE(n);
      ASSERT_EQ(*n, kRead);
      ASSERT_EQ(std::memcmp(buf.data(), content.data() + offset, kRead), 0) << offset;
    }
  }
  vfs_->release(opened->fh);
  EXPECT_GE(gateway->max_in_flight(), 2) << "parts were not fetched in parallel";
  EXPECT_LE(gateway->max_in_flight(), 16 + 1);  // the parts in flight plus one read of the reader's own
  EXPECT_EQ(fake_->counters().bytes_served.load(), content.size());
  EXPECT_LE(fake_->counters().gateway_read.load(), 96u / 4 + 3);
}

TEST_F(Reading, read_cache_second_read_never_touches_the_network) {
  auto content = pattern(5 << 20);
  fake_->add_file("cached.bin", content);
  start();
  EXPECT_EQ(cat_text("/cached.bin"), content);
  auto reads = fake_->counters().gateway_read.load();
  fake_->fail_next(service::FakeOp::GatewayRead, Error{EIO, "network down"}, -1);
  EXPECT_EQ(cat_text("/cached.bin"), content);
  EXPECT_EQ(fake_->counters().gateway_read.load(), reads);
}

// [read.cache-kept] The disk cache of an earlier mount serves a read once each leaf was checked against the
// CID its parent names: nothing of the file from the gateway, and a corrupted leaf is fetched again.
TEST_F(Reading, read_cache_kept_across_a_remount_is_checked_leaf_by_leaf) {
  auto content = pattern(5 << 20);
  auto pin = fake_->add_file("kept.bin", content);
  start();
  ASSERT_EQ(cat_text("/kept.bin"), content);
  ASSERT_TRUE(vfs_->shutdown(true));
  vfs_.reset();
  const auto served = fake_->counters().bytes_served.load();

  start();
  EXPECT_EQ(cat_text("/kept.bin"), content);
  EXPECT_EQ(fake_->counters().bytes_served.load(), served);  // no file byte from the gateway
  EXPECT_EQ(xattr("/kept.bin", "user.pinfs.verified"), "true");
  ASSERT_TRUE(vfs_->shutdown(true));
  vfs_.reset();

  {  // one flipped byte in the third leaf, same size: only the check against its CID can tell
    std::fstream f(options_.cache_dir + "/content/" + pin.cid,
                   std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f);
    f.seekp(2 * 262144 + 99);
    f.put(static_cast<char>(content[2 * 262144 + 99] ^ 1));
  }
  start();
  EXPECT_EQ(cat_text("/kept.bin"), content);
  EXPECT_EQ(fake_->counters().bytes_served.load(), served + 262144);  // that leaf alone, fetched again
  ASSERT_TRUE(vfs_->shutdown(true));
  vfs_.reset();
  start();
  // The gateway down: the fetched leaf was written over the bad one, and the DAG's inner nodes were kept.
  fake_->fail_next(service::FakeOp::GatewayRead, Error{EIO, "network down"}, -1);
  fake_->fail_next(service::FakeOp::GatewayBlock, Error{EIO, "network down"}, -1);
  EXPECT_EQ(cat_text("/kept.bin"), content);
}

TEST_F(Reading, read_gateway_error_is_the_errno) {
  fake_->add_file("f", "abc");  // one raw block: fetched as a block
  auto big = pattern(3 << 20);
  fake_->add_file("big", big);  // several leaves: fetched by ranges
  start();
  fake_->fail_next(service::FakeOp::GatewayBlock, Error{ETIMEDOUT, "stalled"});
  auto got = cat("/f");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errnum, ETIMEDOUT);
  EXPECT_EQ(cat_text("/f"), "abc");  // a failure is not cached
  fake_->fail_next(service::FakeOp::GatewayRead, Error{EIO, "503 after retries"}, -1);
  got = cat("/big");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errnum, EIO);
  fake_->clear_failures();
  EXPECT_EQ(cat_text("/big"), big);
}

TEST_F(Reading, read_cache_is_bounded_by_size) {
  options_.cache_max_bytes = 3 << 20;
  auto a = pattern(2 << 20, 1), b = pattern(2 << 20, 2);
  fake_->add_file("a", a);
  fake_->add_file("b", b);
  start();
  EXPECT_EQ(cat_text("/a"), a);
  EXPECT_EQ(cat_text("/b"), b);  // evicts a
  auto before = fake_->counters().gateway_read.load();
  EXPECT_EQ(cat_text("/b"), b);
  EXPECT_EQ(fake_->counters().gateway_read.load(), before);
  EXPECT_EQ(cat_text("/a"), a);
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

namespace pinfs::vfs::testing {
namespace {

// [read.cache] A cached range is handed out as a slice of the cache file (for the adapter to reply from the
// descriptor); a range not cached yet is not.
TEST_F(Reading, read_cache_cached_range_is_a_slice_of_the_cache_file) {
  auto content = pattern(3 << 20);
  fake_->add_file("c.bin", content);
  start();
  auto entry = walk("/c.bin");
  auto opened = vfs_->open(entry->ino, O_RDONLY);
  ASSERT_TRUE(opened);
  EXPECT_FALSE(vfs_->read_cached(opened->fh, 4096, 8192).has_value());
  ASSERT_EQ(cat_text("/c.bin"), content);
  auto slice = vfs_->read_cached(opened->fh, (2 << 20) + 5, 1 << 20);
  ASSERT_TRUE(slice.has_value());
  EXPECT_EQ(slice->offset, (2u << 20) + 5);
  EXPECT_EQ(slice->size, (1u << 20) - 5);  // up to the end of the file
  std::string got(slice->size, '\0');
  EXPECT_EQ(::pread(slice->fd, got.data(), got.size(), static_cast<off_t>(slice->offset)),
            static_cast<ssize_t>(got.size()));
  ::close(slice->fd);
  EXPECT_TRUE(got == content.substr((2 << 20) + 5));
  EXPECT_FALSE(vfs_->read_cached(opened->fh, content.size(), 10).has_value());
  vfs_->release(opened->fh);
}

}  // namespace
}  // namespace pinfs::vfs::testing
