#include "pinfs/cache/index_sync.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "pinfs/service/fake_pin_service.hpp"

namespace pinfs::cache {
namespace {

using service::FakePinService;
using service::Pin;

class IndexSyncTest : public ::testing::Test {
 protected:
  IndexSyncTest() : fake_(std::make_shared<FakePinService>()), index_(make_memory_pin_index()) {}

  IndexSync make_sync(std::chrono::seconds reconcile = std::chrono::hours(6)) {
    IndexSyncOptions options;
    options.reconcile_interval = reconcile;
    options.clock = [fake = fake_] { return fake->now(); };
    return IndexSync(fake_, *index_, options);
  }
  void add_pins(int n) {
    for (int i = 0; i < n; ++i) {
      Pin pin;
      pin.cid = "bafkfake" + std::to_string(next_);
      pin.name = "f" + std::to_string(next_++);
      fake_->add_pin(pin);
    }
  }
  std::uint64_t service_lists() const { return fake_->counters().list.load(); }
  bool indexed_by_name(const std::string& name) const { return !index_->by_name(name).empty(); }

  std::shared_ptr<FakePinService> fake_;
  std::unique_ptr<PinIndex> index_;
  int next_ = 0;
};

TEST_F(IndexSyncTest, a_cold_listing_costs_exactly_one_call_per_1000_pins) {
  add_pins(2500);
  auto sync = make_sync();
  auto listing = sync.start_full();
  std::size_t streamed = 0;
  while (!listing->done()) {
    auto page = listing->next();
    ASSERT_TRUE(page);
    streamed += page->size();
    EXPECT_EQ(index_->size(), streamed);  // each page is in the index before it is handed out
  }
  auto changes = listing->finish();
  ASSERT_TRUE(changes);
  EXPECT_TRUE(changes->full);
  EXPECT_TRUE(changes->initial);
  EXPECT_TRUE(changes->upserted.empty());  // a first listing does not copy the account into the change set
  EXPECT_EQ(streamed, 2500u);
  EXPECT_EQ(service_lists(), 3u);
  EXPECT_EQ(sync.list_calls(), 3u);
  EXPECT_TRUE(index_->sync_state().complete);
  EXPECT_EQ(index_->sync_state().synced_at, index_->sync_state().reconciled_at);

  fake_ = std::make_shared<FakePinService>();  // exactly 2000: no third, empty page
  index_ = make_memory_pin_index();
  add_pins(2000);
  auto sync2 = make_sync();
  ASSERT_TRUE(sync2.refresh());
  EXPECT_EQ(service_lists(), 2u);
  EXPECT_EQ(index_->size(), 2000u);
}

TEST_F(IndexSyncTest, an_unchanged_account_refreshes_in_at_most_two_calls) {
  add_pins(3000);
  auto sync = make_sync();
  ASSERT_TRUE(sync.refresh());  // the first: a full listing
  const auto before = service_lists();
  fake_->advance_clock(60);
  auto changes = sync.refresh();
  ASSERT_TRUE(changes);
  EXPECT_FALSE(changes->full);
  EXPECT_TRUE(changes->empty());
  EXPECT_LE(service_lists() - before, 2u);
  EXPECT_EQ(index_->sync_state().synced_at, fake_->now());
}

TEST_F(IndexSyncTest, refresh_finds_new_and_removed_pins_incrementally) {
  add_pins(1500);
  auto sync = make_sync();
  ASSERT_TRUE(sync.refresh());
  fake_->advance_clock(60);
  auto added = fake_->add_file("new.txt", "fresh content");
  auto gone = fake_->find_by_name("f10");
  ASSERT_TRUE(gone);
  ASSERT_TRUE(fake_->unpin({gone->id, gone->cid}));
  const auto before = service_lists();
  auto changes = sync.refresh();
  ASSERT_TRUE(changes);
  EXPECT_FALSE(changes->full);
  ASSERT_EQ(changes->upserted.size(), 1u);
  EXPECT_EQ(changes->upserted[0].name, "new.txt");
  ASSERT_EQ(changes->removed.size(), 1u);
  EXPECT_EQ(changes->removed[0].name, "f10");
  EXPECT_TRUE(indexed_by_name("new.txt"));
  EXPECT_FALSE(indexed_by_name("f10"));
  EXPECT_EQ(index_->size(), 1500u);
  EXPECT_LE(service_lists() - before, 2u);  // not a listing of all 1,500
}

TEST_F(IndexSyncTest, the_margin_looks_back_before_the_last_sync_and_no_further) {
  add_pins(10);
  auto sync = make_sync();
  ASSERT_TRUE(sync.refresh());
  const std::int64_t synced = *index_->sync_state().synced_at;
  fake_->advance_clock(30);
  Pin late;  // committed late: dated inside the margin (300 s) before the last sync
  late.cid = "bafklate";
  late.name = "late";
  late.pinned_at = synced - 200;
  fake_->add_pin(late);
  Pin old;  // dated beyond the margin: only a full listing can see it
  old.cid = "bafkold";
  old.name = "old";
  old.pinned_at = synced - 1000;
  fake_->add_pin(old);
  ASSERT_TRUE(sync.refresh());
  EXPECT_TRUE(indexed_by_name("late"));
  EXPECT_FALSE(indexed_by_name("old"));
}

TEST_F(IndexSyncTest, a_due_reconcile_catches_a_rename_made_through_the_api) {
  add_pins(5);
  fake_->advance_clock(1000);  // the pins are older than the incremental look-back
  auto sync = make_sync(std::chrono::seconds(3600));
  ASSERT_TRUE(sync.refresh());
  auto pin = fake_->find_by_name("f3");
  ASSERT_TRUE(pin);
  ASSERT_TRUE(fake_->update_metadata({pin->id, pin->cid}, "renamed", {{"k", "v"}}));
  fake_->advance_clock(60);
  ASSERT_TRUE(sync.refresh());  // incremental: no "changed since" filter exists for renames
  EXPECT_TRUE(indexed_by_name("f3"));
  EXPECT_GT(sync.next_reconcile_at(), fake_->now());
  fake_->advance_clock(3600);
  EXPECT_LE(sync.next_reconcile_at(), fake_->now());
  auto changes = sync.refresh();
  ASSERT_TRUE(changes);
  EXPECT_TRUE(changes->full);
  EXPECT_FALSE(changes->initial);
  ASSERT_EQ(changes->upserted.size(), 1u);  // only what changed, not every pin listed
  EXPECT_EQ(changes->upserted[0].name, "renamed");
  EXPECT_EQ(changes->upserted[0].keyvalues.at("k"), "v");
  EXPECT_FALSE(indexed_by_name("f3"));
  EXPECT_TRUE(indexed_by_name("renamed"));
  EXPECT_EQ(index_->sync_state().reconciled_at, fake_->now());
}

TEST_F(IndexSyncTest, a_full_listing_removes_unseen_pins_and_asks_about_young_ones) {
  add_pins(3);
  Pin stale;  // in the index, gone from the service
  stale.id = "gone-1";
  stale.cid = "bafkgone";
  stale.name = "gone";
  stale.pinned_at = fake_->now() - 10'000;
  index_->upsert(stale);
  auto sync = make_sync();
  auto listing = sync.start_full();
  while (!listing->done()) ASSERT_TRUE(listing->next());
  Pin fresh;  // uploaded through the mount after its page was read
  fresh.cid = "bafkfresh";
  fresh.name = "fresh";
  fresh = fake_->add_pin(fresh);
  index_->upsert(fresh);
  Pin vanished;  // made and removed elsewhere since the last poll: dated within the margin, on no page
  vanished.id = "vanished-1";
  vanished.cid = "bafkvanished";
  vanished.name = "vanished";
  vanished.pinned_at = fake_->now();
  index_->upsert(vanished);
  const auto calls = service_lists();
  auto changes = listing->finish();
  ASSERT_TRUE(changes);
  std::vector<std::string> removed;
  for (const auto& pin : changes->removed) removed.push_back(pin.name);
  std::sort(removed.begin(), removed.end());
  EXPECT_EQ(removed, (std::vector<std::string>{"gone", "vanished"}));
  EXPECT_EQ(service_lists(), calls + 2);  // the two young unseen pins asked about by CID, the old one not
  EXPECT_TRUE(indexed_by_name("fresh"));
  EXPECT_FALSE(indexed_by_name("vanished"));
  EXPECT_EQ(index_->size(), 4u);
  EXPECT_FALSE(listing->finish());  // once only
}

TEST_F(IndexSyncTest, a_listing_that_raced_a_removal_removes_nothing_and_lists_again) {
  add_pins(2000);
  fake_->advance_clock(1000);  // every pin older than the margin
  auto sync = make_sync();
  ASSERT_TRUE(sync.refresh());
  Pin stale;  // gone from the service
  stale.id = "stale";
  stale.cid = "bafkstale";
  stale.name = "stale";
  stale.pinned_at = 1;
  index_->upsert(stale);
  auto listing = sync.start_full();
  ASSERT_TRUE(listing->next());
  auto victim = fake_->find_by_name("f1999");  // on the first (newest) page: later pages shift by one
  ASSERT_TRUE(victim);
  ASSERT_TRUE(fake_->unpin({victim->id, victim->cid}));
  while (!listing->done()) ASSERT_TRUE(listing->next());  // f999 is skipped
  auto changes = listing->finish();
  ASSERT_TRUE(changes);
  EXPECT_TRUE(changes->removed.empty());
  EXPECT_EQ(index_->size(), 2001u);
  EXPECT_TRUE(indexed_by_name("f999"));  // not dropped for being skipped
  EXPECT_TRUE(index_->sync_state().complete);
  EXPECT_LE(sync.next_reconcile_at(), fake_->now());  // so the next refresh is a full listing
  auto again = sync.refresh();
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->full);
  EXPECT_EQ(again->removed.size(), 2u);
  EXPECT_EQ(index_->size(), 1999u);
  EXPECT_FALSE(indexed_by_name("stale"));
  EXPECT_FALSE(indexed_by_name("f1999"));
  EXPECT_TRUE(indexed_by_name("f999"));
}

TEST_F(IndexSyncTest, a_pin_known_by_its_id_replaces_the_row_an_upload_reply_left) {
  auto pinned = fake_->add_file("up.txt", "uploaded");
  Pin from_reply = pinned;
  from_reply.id.clear();  // Pinata's upload reply has no row id
  index_->upsert(from_reply);
  auto sync = make_sync();
  auto changes = sync.refresh();
  ASSERT_TRUE(changes);
  EXPECT_FALSE(index_->find("cid:" + pinned.cid));
  EXPECT_TRUE(index_->find(pinned.id));
  EXPECT_EQ(index_->size(), 1u);
}

TEST_F(IndexSyncTest, a_failed_page_is_retried_and_refresh_reports_the_error) {
  add_pins(1500);
  auto sync = make_sync();
  auto listing = sync.start_full();
  ASSERT_TRUE(listing->next());
  fake_->fail_next(service::FakeOp::List, Error{EIO, "injected", true});
  auto failed = listing->next();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().errnum, EIO);
  EXPECT_FALSE(listing->done());
  auto page = listing->next();  // the same page again
  ASSERT_TRUE(page);
  EXPECT_EQ(page->size(), 500u);
  ASSERT_TRUE(listing->finish());
  EXPECT_EQ(index_->size(), 1500u);

  fake_->advance_clock(10);
  fake_->fail_next(service::FakeOp::List, Error{EAGAIN, "rate limited", true});
  auto refreshed = sync.refresh();
  ASSERT_FALSE(refreshed);
  EXPECT_EQ(refreshed.error().errnum, EAGAIN);
  EXPECT_EQ(index_->size(), 1500u);
}

}  // namespace
}  // namespace pinfs::cache
