#include "pinfs/cache/journal.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace pinfs::cache {
namespace {

TEST(JournalTest, durable_staged_entries_survive_reopen) {
  char tmpl[] = "/tmp/pinfs-journal-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/journal.sqlite";
  std::int64_t kept = 0;
  {
    auto journal = open_sqlite_journal(path);
    ASSERT_TRUE(journal);
    JournalEntry a;
    a.name = "a.txt";
    a.staging_path = "/x/a";
    a.cid = "bafyA";
    a.size = 5;
    a.keyvalues = {{"k", "v"}, {"k2", "v2"}};
    auto id = (*journal)->add(a);
    ASSERT_TRUE(id);
    JournalEntry b = a;
    b.name = "b.txt";
    auto bid = (*journal)->add(b);
    ASSERT_TRUE(bid);
    ASSERT_TRUE((*journal)->remove(*id));
    b.id = *bid;
    b.name = "renamed.txt";
    b.replaces_cid = "bafyOld";
    ASSERT_TRUE((*journal)->update(b));
    kept = *bid;
  }
  auto journal = open_sqlite_journal(path);
  ASSERT_TRUE(journal);
  auto entries = (*journal)->entries();
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].id, kept);
  EXPECT_EQ((*entries)[0].name, "renamed.txt");
  EXPECT_EQ((*entries)[0].replaces_cid, "bafyOld");
  EXPECT_EQ((*entries)[0].keyvalues.at("k2"), "v2");
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace pinfs::cache
