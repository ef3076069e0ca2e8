#include "pinfs/cache/content_cache.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "pinfs/cid/importer.hpp"

namespace pinfs::cache {
namespace {

class ContentCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pinfs-cache-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(ContentCacheTest, ranges_merge_and_partial_coverage_is_a_miss) {
  auto cache = ContentCache::open(dir_ + "/c", 1 << 20);
  ASSERT_TRUE(cache);
  std::string a(100, 'a'), b(100, 'b');
  ASSERT_TRUE((*cache)->write("cid1", 0, a.data(), a.size()));
  ASSERT_TRUE((*cache)->write("cid1", 150, b.data(), b.size()));
  char out[300];
  EXPECT_TRUE(*(*cache)->read("cid1", 10, 50, out));
  EXPECT_FALSE(*(*cache)->read("cid1", 50, 150, out));  // the hole 100..150
  ASSERT_TRUE((*cache)->write("cid1", 90, std::string(70, 'c').data(), 70));
  EXPECT_TRUE(*(*cache)->read("cid1", 0, 250, out));
  EXPECT_EQ(out[0], 'a');
  EXPECT_EQ(out[95], 'c');
  EXPECT_EQ(out[200], 'b');
  EXPECT_EQ((*cache)->stats().bytes, 250u);
  EXPECT_FALSE(*(*cache)->read("other", 0, 1, out));
}

// Page-aligned leaves go to the file with O_DIRECT (their whole pages) and the rest buffered; unaligned ones
// buffered. Either way the file holds exactly the bytes written, next to each other and over earlier ones.
TEST_F(ContentCacheTest, aligned_and_unaligned_writes_hold_the_same_bytes) {
  auto cache = ContentCache::open(dir_ + "/c", 64 << 20);
  ASSERT_TRUE(cache);
  constexpr std::size_t kSize = 3 * 4096 + 100;
  char* aligned = static_cast<char*>(std::aligned_alloc(4096, 4 * 4096));
  ASSERT_NE(aligned, nullptr);
  std::string expected(4096 + kSize + 4096 + 7, '\0');
  for (std::size_t i = 0; i < kSize; ++i) aligned[i] = static_cast<char>('a' + i % 23);
  std::copy_n(aligned, kSize, expected.begin() + 4096);
  ASSERT_TRUE((*cache)->write("cid", 4096, aligned, kSize));  // pages direct, 100 bytes buffered
  std::string unaligned(4096 + 7, 'u');
  std::copy(unaligned.begin(), unaligned.end(), expected.begin() + 4096 + kSize);
  ASSERT_TRUE((*cache)->write("cid", 4096 + kSize, unaligned.data(), unaligned.size()));
  std::string head(4096, 'h');
  std::copy(head.begin(), head.end(), expected.begin());
  ASSERT_TRUE((*cache)->write("cid", 0, head.data(), head.size()));
  for (std::size_t i = 0; i < 4096; ++i) aligned[i] = 'z';  // one aligned page over the first written one
  std::fill_n(expected.begin() + 4096, 4096, 'z');
  ASSERT_TRUE((*cache)->write("cid", 4096, aligned, 4096));
  std::free(aligned);

  std::string out(expected.size(), '\0');
  ASSERT_TRUE(*(*cache)->read("cid", 0, out.size(), out.data()));
  EXPECT_EQ(out, expected);
  std::ifstream file(dir_ + "/c/cid", std::ios::binary);
  std::string on_disk((std::istreambuf_iterator<char>(file)), {});
  EXPECT_EQ(on_disk, expected);
  EXPECT_EQ((*cache)->stats().bytes, expected.size());
}

TEST_F(ContentCacheTest, lru_evicts_least_recently_used_cid) {
  auto cache = ContentCache::open(dir_ + "/c", 250);
  ASSERT_TRUE(cache);
  std::string data(100, 'x');
  char out[100];
  ASSERT_TRUE((*cache)->write("one", 0, data.data(), 100));
  ASSERT_TRUE((*cache)->write("two", 0, data.data(), 100));
  EXPECT_TRUE(*(*cache)->read("one", 0, 100, out));  // one is now the most recent
  ASSERT_TRUE((*cache)->write("three", 0, data.data(), 100));
  EXPECT_TRUE((*cache)->contains("one", 0, 100));
  EXPECT_FALSE((*cache)->contains("two", 0, 100));
  EXPECT_TRUE((*cache)->contains("three", 0, 100));
  EXPECT_EQ((*cache)->stats().evictions, 1u);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/c/two"));
}

TEST_F(ContentCacheTest, adopt_file_moves_a_complete_copy_in) {
  auto cache = ContentCache::open(dir_ + "/c", 1 << 20);
  ASSERT_TRUE(cache);
  std::string staged = dir_ + "/staged";
  {
    std::ofstream out(staged);
    out << "0123456789";
  }
  ASSERT_TRUE((*cache)->adopt_file("cidX", staged, 10));
  EXPECT_FALSE(std::filesystem::exists(staged));
  char out[4];
  ASSERT_TRUE(*(*cache)->read("cidX", 6, 4, out));
  EXPECT_EQ(std::string(out, 4), "6789");
  EXPECT_EQ((*cache)->stats().bytes, 10u);
}

std::string cid_of(const std::string& content) {
  cid::FileImporter importer(cid::ImportOptions{}, [](const cid::Cid&, cid::ByteView) {});
  importer.update(cid::ByteView(reinterpret_cast<const std::uint8_t*>(content.data()), content.size()));
  return importer.finish().cid.to_string();
}

class PersistentContentCache : public ContentCacheTest {
 protected:
  std::unique_ptr<ContentCache> open_cache(std::uint64_t max_bytes = 1 << 20, std::uint64_t min_free = 0) {
    ContentCacheOptions options;
    options.max_bytes = max_bytes;
    options.min_free_bytes = min_free;
    auto cache = ContentCache::open(dir_ + "/c", options);
    EXPECT_TRUE(cache) << cache.error().describe();
    return cache ? std::move(*cache) : nullptr;
  }
  std::string content_ = std::string(300'000, 'q') + "tail";  // more than one 256 KiB chunk: a dag-pb root
  std::string cid_ = cid_of(content_);
};

TEST_F(PersistentContentCache, complete_entries_are_kept_across_mounts_and_served_once_checked) {
  const std::string small = "small file";
  const std::string small_cid = cid_of(small);
  {
    auto cache = open_cache();
    ASSERT_TRUE(cache->write(cid_, 0, content_.data(), 200'000));
    ASSERT_TRUE(cache->write(cid_, 200'000, content_.data() + 200'000, content_.size() - 200'000));
    ASSERT_TRUE(cache->write(small_cid, 0, small.data(), small.size()));
    ASSERT_TRUE(cache->write("bafkpartial", 10, "xyz", 3));  // not from 0: cannot be complete
    EXPECT_EQ(cache->held_size(cid_), 0u);                   // written in this mount: nothing to check
  }
  auto cache = open_cache();
  EXPECT_EQ(cache->stats().kept, 2u);
  EXPECT_EQ(cache->stats().entries, 2u);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/c/bafkpartial"));
  EXPECT_EQ(cache->held_size(cid_), content_.size());
  std::string out(content_.size(), '\0');
  // Not served before the caller checked it: a miss, no descriptor, not contained.
  EXPECT_FALSE(*cache->read(cid_, 0, 10, out.data()));
  EXPECT_EQ(cache->open_range(cid_, 0, 10), -1);
  EXPECT_FALSE(cache->contains(cid_, 0, 10));
  // The bytes are there for checking.
  ASSERT_TRUE(cache->read_held(cid_, 0, content_.size(), out.data()));
  EXPECT_EQ(out, content_);
  EXPECT_FALSE(cache->read_held(cid_, 1, content_.size(), out.data()));  // past its end
  // Checked in two pieces: the first is served alone, then the whole.
  cache->trust(cid_, 0, 262'144);
  EXPECT_TRUE(cache->contains(cid_, 0, 262'144));
  EXPECT_FALSE(cache->contains(cid_, 0, 262'145));
  cache->trust(cid_, 262'144, content_.size() - 262'144);
  EXPECT_EQ(cache->held_size(cid_), 0u);
  std::fill(out.begin(), out.end(), '\0');
  ASSERT_TRUE(*cache->read(cid_, 0, content_.size(), out.data()));
  EXPECT_EQ(out, content_);
  int fd = cache->open_range(cid_, 0, content_.size());
  EXPECT_GE(fd, 0);
  if (fd >= 0) ::close(fd);
  EXPECT_EQ(cache->stats().dropped, 0u);
}

TEST_F(PersistentContentCache, bytes_rewritten_over_a_kept_entry_are_trusted_and_replace_a_corrupted_leaf) {
  {
    auto cache = open_cache();
    ASSERT_TRUE(cache->write(cid_, 0, content_.data(), content_.size()));
  }
  {  // one flipped byte, same size: only the caller's check against the CID can tell
    std::fstream f(dir_ + "/c/" + cid_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(123'456);
    f.put('Z');
  }
  auto cache = open_cache();
  EXPECT_EQ(cache->stats().kept, 1u);
  std::string out(content_.size(), '\0');
  ASSERT_TRUE(cache->read_held(cid_, 0, 262'144, out.data()));
  EXPECT_EQ(out[123'456], 'Z');  // what the VFS's check finds wrong, so it fetches that leaf again
  ASSERT_TRUE(cache->write(cid_, 0, content_.data(), 262'144));  // the fetched leaf replaces it
  EXPECT_EQ(cache->stats().bytes, content_.size());              // no byte counted twice
  EXPECT_TRUE(cache->contains(cid_, 0, 262'144));
  cache->trust(cid_, 262'144, content_.size() - 262'144);  // the other leaf matched
  ASSERT_TRUE(*cache->read(cid_, 0, content_.size(), out.data()));
  EXPECT_EQ(out, content_);
}

TEST_F(PersistentContentCache, a_truncated_file_is_dropped_at_open) {
  {
    auto cache = open_cache();
    ASSERT_TRUE(cache->write(cid_, 0, content_.data(), content_.size()));
  }
  std::filesystem::resize_file(dir_ + "/c/" + cid_, 1000);
  std::ofstream(dir_ + "/c/stray-file") << "no entry";  // a crash between a write and its row
  auto cache = open_cache();
  EXPECT_EQ(cache->stats().kept, 0u);
  EXPECT_EQ(cache->stats().bytes, 0u);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/c/" + cid_));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/c/stray-file"));
}

TEST_F(PersistentContentCache, the_lru_order_is_kept_across_mounts) {
  const std::string a = "content a", b = "content b", c = "content c";
  {
    auto cache = open_cache();
    for (const auto* s : {&a, &b, &c}) ASSERT_TRUE(cache->write(cid_of(*s), 0, s->data(), s->size()));
    char out[16];
    ASSERT_TRUE(*cache->read(cid_of(a), 0, a.size(), out));  // a is now the most recent, b the least
  }
  auto cache = open_cache(20);  // room for two of the three
  EXPECT_EQ(cache->stats().entries, 2u);
  EXPECT_EQ(cache->held_size(cid_of(b)), 0u);  // evicted
  EXPECT_EQ(cache->held_size(cid_of(a)), a.size());
  EXPECT_EQ(cache->held_size(cid_of(c)), c.size());
}

TEST_F(PersistentContentCache, the_free_disk_floor_is_never_crossed) {
  auto cache = open_cache(1 << 20, std::uint64_t{1} << 62);  // a floor no disk can leave free
  ASSERT_TRUE(cache->write(cid_, 0, content_.data(), content_.size()));
  EXPECT_EQ(cache->stats().bytes, 0u);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/c/" + cid_));
  const std::string staged = dir_ + "/staged";
  std::ofstream(staged) << "staged";
  EXPECT_FALSE(cache->adopt_file(cid_of("staged"), staged, 6));
  EXPECT_TRUE(std::filesystem::exists(staged));  // left alone
}

}  // namespace
}  // namespace pinfs::cache
