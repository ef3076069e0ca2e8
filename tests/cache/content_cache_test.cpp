#include "pinfs/cache/content_cache.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

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

}  // namespace
}  // namespace pinfs::cache
