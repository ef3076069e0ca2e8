#include "pinfs/cache/journal.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
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

// A row is written at create ("writing") and becomes "queued" at close; the state survives a reopen.
TEST(JournalTest, durable_staged_state_moves_from_writing_to_queued) {
  char tmpl[] = "/tmp/pinfs-journal-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/journal.sqlite";
  {
    auto journal = open_sqlite_journal(path);
    ASSERT_TRUE(journal);
    JournalEntry open_file;
    open_file.name = "open.bin";
    open_file.staging_path = "/x/open";
    open_file.state = "writing";
    ASSERT_TRUE((*journal)->add(open_file));
    JournalEntry closed = open_file;
    closed.name = "closed.bin";
    auto id = (*journal)->add(closed);
    ASSERT_TRUE(id);
    closed.id = *id;
    closed.cid = "bafyClosed";
    closed.state = "queued";
    ASSERT_TRUE((*journal)->update(closed));
  }
  auto journal = open_sqlite_journal(path);
  ASSERT_TRUE(journal);
  auto entries = (*journal)->entries();
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].state, "writing");
  EXPECT_EQ((*entries)[1].state, "queued");
  EXPECT_EQ((*entries)[1].cid, "bafyClosed");
  std::filesystem::remove_all(tmpl);
}

// A journal written before rows had a state: its rows were all closed files, so they read as "queued".
TEST(JournalTest, durable_staged_old_journal_rows_read_as_queued) {
  char tmpl[] = "/tmp/pinfs-journal-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/journal.sqlite";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(
                  db,
                  "CREATE TABLE uploads(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
                  " staging_path TEXT NOT NULL, cid TEXT NOT NULL, size INTEGER NOT NULL,"
                  " keyvalues TEXT NOT NULL, replaces_id TEXT NOT NULL, replaces_cid TEXT NOT NULL);"
                  "INSERT INTO uploads(name, staging_path, cid, size, keyvalues, replaces_id, replaces_cid)"
                  " VALUES('old.bin', '/x/old', 'bafyOld', 3, '', '', '');",
                  nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto journal = open_sqlite_journal(path);
  ASSERT_TRUE(journal) << journal.error().describe();
  auto entries = (*journal)->entries();
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].name, "old.bin");
  EXPECT_EQ((*entries)[0].state, "queued");
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace pinfs::cache
