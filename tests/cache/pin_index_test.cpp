#include "pinfs/cache/pin_index.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>

namespace pinfs::cache {
namespace {

namespace fs = std::filesystem;

service::Pin make_pin(int i) {
  service::Pin pin;
  pin.id = "id-" + std::to_string(i);
  pin.cid = "bafkcid" + std::to_string(i);
  pin.name = "file-" + std::to_string(i) + ".txt";
  pin.size = 1000u + static_cast<unsigned>(i);
  pin.pinned_at = 1'700'000'000 + i;
  return pin;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/pinfs-index-XXXXXX";
    if (::mkdtemp(tmpl)) path_ = tmpl;
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The same contract for both implementations: the in-memory index (tests) and SQLite (the daemon).
class PinIndexContract : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      auto opened = open_sqlite_pin_index(dir_.path() + "/index.db");
      ASSERT_TRUE(opened) << opened.error().describe();
      index_ = std::move(*opened);
    } else {
      index_ = make_memory_pin_index();
    }
  }
  TempDir dir_;
  std::unique_ptr<PinIndex> index_;
};

TEST_P(PinIndexContract, every_pin_field_round_trips) {
  service::Pin pin = make_pin(1);
  pin.is_dir = true;
  pin.size_is_dag = true;
  pin.size = 5'000'000'000ull;  // beyond 32 bits
  pin.name = "naïve name with spaces/and:colons";
  pin.keyvalues = {{"a", "1"}, {"empty", ""}, {"unicode", "ü€"}, {std::string("nul\0key", 7), "v"}};
  index_->upsert(pin);
  auto found = index_->find("id-1");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, pin.id);
  EXPECT_EQ(found->cid, pin.cid);
  EXPECT_EQ(found->name, pin.name);
  EXPECT_EQ(found->size, pin.size);
  EXPECT_EQ(found->pinned_at, pin.pinned_at);
  EXPECT_TRUE(found->is_dir);
  EXPECT_TRUE(found->size_is_dag);
  EXPECT_EQ(found->keyvalues, pin.keyvalues);
  EXPECT_FALSE(index_->find("id-2"));
}

TEST_P(PinIndexContract, pins_without_an_id_are_keyed_by_cid) {
  service::Pin pin = make_pin(7);
  pin.id.clear();
  index_->upsert(pin);
  EXPECT_TRUE(index_->find("cid:bafkcid7"));
  EXPECT_EQ(index_->size(), 1u);
}

TEST_P(PinIndexContract, apply_is_one_generation_and_lookups_by_cid_and_name) {
  const auto g0 = index_->generation();
  std::vector<service::Pin> pins;
  for (int i = 0; i < 5; ++i) pins.push_back(make_pin(i));
  pins[3].cid = pins[1].cid;  // two pins of one CID
  pins[4].name = pins[2].name;
  index_->apply(pins, {});
  EXPECT_EQ(index_->generation(), g0 + 1);
  EXPECT_EQ(index_->size(), 5u);
  EXPECT_EQ(index_->by_cid(pins[1].cid).size(), 2u);
  EXPECT_EQ(index_->by_name(pins[2].name).size(), 2u);
  EXPECT_TRUE(index_->by_name("nothing").empty());

  service::Pin renamed = pins[0];
  renamed.name = "renamed";
  index_->apply({renamed}, {"id-1", "id-missing"});
  EXPECT_EQ(index_->generation(), g0 + 2);
  EXPECT_EQ(index_->size(), 4u);
  EXPECT_EQ(index_->find("id-0")->name, "renamed");
  EXPECT_EQ(index_->by_cid(pins[1].cid).size(), 1u);

  index_->erase("id-2");
  EXPECT_EQ(index_->generation(), g0 + 3);
  EXPECT_EQ(index_->size(), 3u);
  index_->upsert(renamed);  // replacing a row does not grow the count
  EXPECT_EQ(index_->size(), 3u);
}

TEST_P(PinIndexContract, replace_all_replaces_and_marks_complete) {
  index_->apply({make_pin(1), make_pin(2)}, {});
  EXPECT_FALSE(index_->synced_at());
  index_->replace_all({make_pin(3)}, 1234);
  EXPECT_EQ(index_->size(), 1u);
  EXPECT_FALSE(index_->find("id-1"));
  EXPECT_TRUE(index_->find("id-3"));
  auto state = index_->sync_state();
  EXPECT_TRUE(state.complete);
  EXPECT_EQ(state.synced_at, 1234);
  EXPECT_EQ(state.reconciled_at, 1234);
  EXPECT_EQ(index_->synced_at(), 1234);
}

TEST_P(PinIndexContract, for_each_visits_every_pin_once_and_may_call_back) {
  std::vector<service::Pin> pins;
  for (int i = 0; i < 2500; ++i) pins.push_back(make_pin(i));  // more than one streamed page
  index_->apply(pins, {});
  std::set<std::string> seen;
  std::size_t finds = 0;
  index_->for_each([&](const service::Pin& pin) {
    EXPECT_TRUE(seen.insert(pin.id).second);
    if (pin.id == "id-42") finds += index_->find("id-43") ? 1 : 0;  // no deadlock for the SQLite index
  });
  EXPECT_EQ(seen.size(), 2500u);
  EXPECT_EQ(finds, 1u);
  EXPECT_EQ(index_->all().size(), 2500u);
}

INSTANTIATE_TEST_SUITE_P(Backends, PinIndexContract, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "sqlite" : "memory"; });

TEST(SqlitePinIndex, pins_and_sync_state_persist_across_reopen) {
  TempDir dir;
  const std::string path = dir.path() + "/index.db";
  {
    auto index = open_sqlite_pin_index(path);
    ASSERT_TRUE(index);
    service::Pin pin = make_pin(1);
    pin.keyvalues = {{"k", "v"}};
    (*index)->apply({pin, make_pin(2)}, {});
    (*index)->set_sync_state(SyncState{.synced_at = 100, .reconciled_at = 50, .complete = true});
  }
  auto index = open_sqlite_pin_index(path);
  ASSERT_TRUE(index);
  EXPECT_EQ((*index)->size(), 2u);
  EXPECT_EQ((*index)->find("id-1")->keyvalues.at("k"), "v");
  auto state = (*index)->sync_state();
  EXPECT_TRUE(state.complete);
  EXPECT_EQ(state.synced_at, 100);
  EXPECT_EQ(state.reconciled_at, 50);
  (*index)->set_sync_state(SyncState{});  // cleared values are cleared in the file too
  index->reset();
  auto again = open_sqlite_pin_index(path);
  ASSERT_TRUE(again);
  EXPECT_FALSE((*again)->sync_state().complete);
  EXPECT_FALSE((*again)->sync_state().synced_at);
}

TEST(SqlitePinIndex, a_corrupt_file_is_set_aside_and_a_new_index_started) {
  TempDir dir;
  const std::string path = dir.path() + "/index.db";
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string(8192, 'x');  // not a database at all
  }
  auto index = open_sqlite_pin_index(path);
  ASSERT_TRUE(index) << index.error().describe();
  EXPECT_EQ((*index)->size(), 0u);
  EXPECT_FALSE((*index)->sync_state().complete);
  (*index)->upsert(make_pin(1));
  EXPECT_EQ((*index)->size(), 1u);
  int aside = 0;
  for (const auto& entry : fs::directory_iterator(dir.path()))
    if (entry.path().filename().string().starts_with("index.db.corrupt-")) {
      ++aside;
      EXPECT_EQ(fs::file_size(entry.path()), 8192u);  // kept as it was, for a post-mortem
    }
  EXPECT_EQ(aside, 1);
}

TEST(SqlitePinIndex, a_damaged_table_is_set_aside) {
  TempDir dir;
  const std::string path = dir.path() + "/index.db";
  {
    auto index = open_sqlite_pin_index(path);
    ASSERT_TRUE(index);
    std::vector<service::Pin> pins;
    for (int i = 0; i < 3000; ++i) pins.push_back(make_pin(i));
    (*index)->apply(pins, {});
  }
  // Overwrite pages in the middle of the file (the table's b-tree), keeping the header valid.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    const auto size = fs::file_size(path);
    ASSERT_GT(size, 64u * 1024);
    f.seekp(static_cast<std::streamoff>(size / 2));
    f << std::string(32 * 1024, '\xff');
  }
  auto index = open_sqlite_pin_index(path);
  ASSERT_TRUE(index) << index.error().describe();
  EXPECT_EQ((*index)->size(), 0u);
  EXPECT_FALSE((*index)->sync_state().complete);
}

TEST(SqlitePinIndex, an_index_of_another_schema_is_set_aside) {
  TempDir dir;
  const std::string path = dir.path() + "/index.db";
  {
    auto index = open_sqlite_pin_index(path);
    ASSERT_TRUE(index);
    (*index)->upsert(make_pin(1));
  }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  auto index = open_sqlite_pin_index(path);
  ASSERT_TRUE(index);
  EXPECT_EQ((*index)->size(), 0u);
}

TEST(SqlitePinIndex, holds_and_lists_100000_pins) {
  TempDir dir;
  const std::string path = dir.path() + "/index.db";
  {
    auto index = open_sqlite_pin_index(path);
    ASSERT_TRUE(index);
    for (int start = 0; start < 100'000; start += 1000) {  // as a listing stores them: a page at a time
      std::vector<service::Pin> page;
      for (int i = start; i < start + 1000; ++i) page.push_back(make_pin(i));
      (*index)->apply(page, {});
    }
    EXPECT_EQ((*index)->size(), 100'000u);
  }
  auto index = open_sqlite_pin_index(path);
  ASSERT_TRUE(index);
  EXPECT_EQ((*index)->size(), 100'000u);
  std::size_t visited = 0;
  std::uint64_t size_sum = 0;
  (*index)->for_each([&](const service::Pin& pin) {
    ++visited;
    size_sum += pin.size;
  });
  EXPECT_EQ(visited, 100'000u);
  EXPECT_EQ(size_sum, 100'000ull * 1000 + 99'999ull * 100'000 / 2);
  EXPECT_EQ((*index)->by_name("file-77777.txt").size(), 1u);
  EXPECT_EQ((*index)->by_cid("bafkcid12345").front().id, "id-12345");
}

}  // namespace
}  // namespace pinfs::cache
