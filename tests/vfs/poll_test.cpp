// The poller and the kernel notifications: remote changes applied without an operation on the mount, the
// kernel told exactly which names and inodes changed, negative lookups answered from the index.
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "vfs_fixture.hpp"

namespace pinfs::vfs::testing {
namespace {

// Records what the VFS tells the kernel.
class RecordingNotifier final : public KernelNotifier {
 public:
  void inval_entry(Ino parent, const std::string& name) override {
    add("entry " + std::to_string(parent) + " " + name);
  }
  void inval_inode(Ino ino) override { add("inode " + std::to_string(ino)); }
  void deleted(Ino parent, Ino ino, const std::string& name) override {
    add("delete " + std::to_string(parent) + " " + std::to_string(ino) + " " + name);
  }
  std::set<std::string> notes() {
    std::lock_guard lock(mu_);
    return notes_;
  }
  // Waits (bounded) until a note arrives; the poller sends it from its own thread.
  bool wait_for(const std::string& note) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return notes_.contains(note); });
  }

 private:
  void add(std::string note) {
    std::lock_guard lock(mu_);
    notes_.insert(std::move(note));
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> notes_;
};

using Polling = VfsFixture;

TEST_F(Polling, consistency_poll_refresh_tells_the_kernel_what_changed) {
  auto kept = fake_->add_file("kept.txt", "kept");
  auto doomed = fake_->add_file("doomed.txt", "doomed");
  auto moving = fake_->add_file("old-name.txt", "moving");
  start();
  auto notifier = std::make_shared<RecordingNotifier>();
  vfs_->set_notifier(notifier);
  EXPECT_EQ(ls().size(), 4u);
  auto doomed_entry = walk("/doomed.txt");
  auto moving_entry = walk("/old-name.txt");
  ASSERT_TRUE(doomed_entry && moving_entry);

  // Made elsewhere: the service's API, not the mount.
  fake_->add_file("new.txt", "new");
  ASSERT_TRUE(fake_->unpin({doomed.id, doomed.cid}));
  ASSERT_TRUE(fake_->rename(moving, "new-name.txt"));
  ASSERT_TRUE(vfs_->refresh());

  auto notes = notifier->notes();
  EXPECT_TRUE(notes.contains("entry 1 new.txt"));
  EXPECT_TRUE(notes.contains("delete 1 " + std::to_string(doomed_entry->ino) + " doomed.txt"));
  EXPECT_TRUE(notes.contains("entry 1 old-name.txt"));
  EXPECT_TRUE(notes.contains("entry 1 new-name.txt"));
  EXPECT_TRUE(notes.contains("inode 1"));  // the root's listing changed
  for (const auto& note : notes) EXPECT_EQ(note.find("kept.txt"), std::string::npos) << note;

  auto names = ls();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{".pinfs", "kept.txt", "new-name.txt", "new.txt"}));
  auto renamed = walk("/new-name.txt");
  ASSERT_TRUE(renamed);
  EXPECT_EQ(renamed->ino, moving_entry->ino);  // [inodes.stable]: a rename elsewhere keeps the inode
  (void)kept;
}

TEST_F(Polling, consistency_poll_unchanged_account_tells_the_kernel_nothing) {
  fake_->add_file("a.txt", "a");
  start();
  auto notifier = std::make_shared<RecordingNotifier>();
  vfs_->set_notifier(notifier);
  ls();
  ASSERT_TRUE(vfs_->refresh());
  EXPECT_TRUE(notifier->notes().empty());
}

// The poller runs on its own thread: a change made elsewhere reaches the kernel with no operation on the VFS.
TEST_F(Polling, consistency_poll_poller_applies_changes_without_an_operation) {
  options_.poll_interval = std::chrono::seconds(1);
  fake_->add_file("first.txt", "1");
  start();
  auto notifier = std::make_shared<RecordingNotifier>();
  vfs_->set_notifier(notifier);
  EXPECT_EQ(ls().size(), 2u);
  auto calls = fake_->counters().list.load();
  fake_->add_file("second.txt", "2");
  ASSERT_TRUE(notifier->wait_for("entry 1 second.txt"));
  EXPECT_GT(fake_->counters().list.load(), calls);
  EXPECT_TRUE(walk("/second.txt"));
}

// [index.remount] A remount on a kept index older than a poll interval lists from it at once (no list call
// while the first listing runs), then refreshes in the background as soon as that listing is done, not a
// whole interval later. A kept index synced within the interval waits for the poller as usual.
TEST_F(Polling, index_remount_stale_index_is_refreshed_once_the_first_listing_is_done) {
  options_.poll_interval = std::chrono::seconds(3600);
  fake_->add_file("first.txt", "1");
  start();
  EXPECT_EQ(ls().size(), 2u);
  ASSERT_TRUE(vfs_->shutdown(true));
  vfs_.reset();

  start();  // synced moments ago: no early refresh
  auto calls = fake_->counters().list.load();
  EXPECT_EQ(ls().size(), 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(fake_->counters().list.load(), calls);
  ASSERT_TRUE(vfs_->shutdown(true));
  vfs_.reset();

  fake_->advance_clock(7200);  // unmounted for two intervals, and a pin made elsewhere meanwhile
  fake_->add_file("second.txt", "2");
  start();
  auto notifier = std::make_shared<RecordingNotifier>();
  vfs_->set_notifier(notifier);
  calls = fake_->counters().list.load();
  // ls by hand: the refresh starts at releasedir, so the calls are counted before it.
  auto dh = vfs_->opendir(kRootIno);
  ASSERT_TRUE(dh);
  std::vector<std::string> first;
  for (std::uint64_t offset = 0;;) {
    auto items = vfs_->readdir(*dh, offset, 100);
    ASSERT_TRUE(items);
    if (items->empty()) break;
    for (auto& item : *items)
      if (!item.dot) first.push_back(item.name);
    offset += items->size();
  }
  EXPECT_EQ(first.size(), 2u);  // the kept index: not yet the new pin
  EXPECT_EQ(std::count(first.begin(), first.end(), "second.txt"), 0);
  EXPECT_EQ(fake_->counters().list.load(), calls);  // nothing listed while ls ran
  vfs_->releasedir(*dh);
  ASSERT_TRUE(notifier->wait_for("entry 1 second.txt"));  // the refresh, within seconds, not 3600
  EXPECT_TRUE(walk("/second.txt"));
  EXPECT_LE(fake_->counters().list.load() - calls, 2u);  // an incremental refresh
}

// Names that do not exist are answered from the index: no list call, no gateway call.
TEST_F(Polling, negative_lookup_answered_from_the_index) {
  fake_->add_file("present.txt", "here");
  start();
  ls();
  auto lists = fake_->counters().list.load();
  auto blocks = fake_->counters().gateway_block.load();
  for (int i = 0; i < 20; ++i) {
    auto missing = vfs_->lookup(kRootIno, "probe-" + std::to_string(i) + ".swp");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().errnum, ENOENT);
  }
  EXPECT_EQ(fake_->counters().list.load(), lists);
  EXPECT_EQ(fake_->counters().gateway_block.load(), blocks);
  EXPECT_GT(vfs_->negative_timeout(), 0.0);
}

// A negative entry the kernel holds is invalidated by the refresh that brings the name.
TEST_F(Polling, negative_lookup_invalidated_by_the_refresh_that_brings_the_name) {
  start();
  auto notifier = std::make_shared<RecordingNotifier>();
  vfs_->set_notifier(notifier);
  ls();
  EXPECT_FALSE(vfs_->lookup(kRootIno, "later.txt"));
  fake_->add_file("later.txt", "arrived");
  ASSERT_TRUE(vfs_->refresh());
  EXPECT_TRUE(notifier->notes().contains("entry 1 later.txt"));
  EXPECT_EQ(cat_text("/later.txt"), "arrived");
}

// Content is immutable: a file open for reading keeps reading when its pin is removed elsewhere.
TEST_F(Polling, consistency_poll_open_file_keeps_reading_after_a_remote_unpin) {
  const std::string content = pattern(3 << 20);
  auto pin = fake_->add_file("big.bin", content);
  start();
  auto entry = walk("/big.bin");
  ASSERT_TRUE(entry);
  auto opened = vfs_->open(entry->ino, O_RDONLY);
  ASSERT_TRUE(opened);
  std::string got(content.size(), '\0');
  auto first = vfs_->read(opened->fh, 0, 1 << 20, got.data());
  ASSERT_TRUE(first);
  ASSERT_TRUE(fake_->unpin({pin.id, pin.cid}));
  ASSERT_TRUE(vfs_->refresh());
  EXPECT_FALSE(walk("/big.bin"));
  std::size_t at = *first;
  while (at < content.size()) {
    auto n = vfs_->read(opened->fh, at, 1 << 20, got.data() + at);
    ASSERT_TRUE(n) << n.error().describe();
    if (*n == 0) break;
    at += *n;
  }
  EXPECT_EQ(at, content.size());
  EXPECT_TRUE(got == content);
  auto attr = vfs_->getattr(entry->ino);
  ASSERT_TRUE(attr);
  EXPECT_EQ(attr->st_size, static_cast<off_t>(content.size()));
  vfs_->release(opened->fh);
}

}  // namespace
}  // namespace pinfs::vfs::testing
