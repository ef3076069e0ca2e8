// [write.reopen]: writes through a descriptor after a duplicate of it was closed (the close committed the
// upload). [attr.mtime]: the mtime a program sets is kept with the pin.
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <thread>

#include "vfs_fixture.hpp"

namespace pinfs::vfs::testing {
namespace {

using Reopen = VfsFixture;
constexpr const char* kKey = "pinfs.mtime";  // the keyvalue that keeps a program's mtime
using Mtime = VfsFixture;

std::size_t pins_named(service::FakePinService& fake, const std::string& name) {
  std::size_t n = 0;
  for (const auto& pin : fake.pins()) n += pin.name == name;
  return n;
}

// bash: exec 3>log.txt; echo a >&3; echo b >&3; exec 3>&-  — each `>&3` ends with a flush of the same
// open file (a duplicate's close), the last close with flush + release.
void shell_log(Vfs& vfs, std::uint64_t fh) {
  ASSERT_TRUE(vfs.write(fh, 0, "a\n", 2));
  ASSERT_TRUE(vfs.flush(fh));
  auto second = vfs.write(fh, 2, "b\n", 2);
  ASSERT_TRUE(second) << second.error().describe();
  ASSERT_TRUE(vfs.flush(fh));
  auto third = vfs.write(fh, 4, "c\n", 2);
  ASSERT_TRUE(third) << third.error().describe();
  ASSERT_TRUE(vfs.flush(fh));
  ASSERT_TRUE(vfs.flush(fh));  // exec 3>&-
  vfs.release(fh);
}

TEST_F(Reopen, write_reopen_sync_writes_after_a_dup_close_pin_the_final_content_only) {
  start();
  auto created = vfs_->create(kRootIno, "log.txt", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(created);
  shell_log(*vfs_, created->file.fh);
  EXPECT_EQ(pins_named(*fake_, "log.txt"), 1u);  // each intermediate pin was unpinned
  auto pin = fake_->find_by_name("log.txt");
  ASSERT_TRUE(pin);
  EXPECT_EQ(pin->size, 6u);
  EXPECT_EQ(fake_->counters().upload_file.load(), 3u);
  EXPECT_EQ(fake_->counters().unpin.load(), 2u);
  EXPECT_EQ(cat_text("/log.txt"), "a\nb\nc\n");
  EXPECT_EQ(walk("/log.txt")->ino, created->entry.ino);  // the same inode throughout
  EXPECT_EQ(xattr("/log.txt", "user.pinfs.status"), "pinned");
  EXPECT_TRUE(std::filesystem::is_empty(options_.cache_dir + "/staging"));
  auto names = ls();
  EXPECT_EQ(std::count(names.begin(), names.end(), "log.txt"), 1);
}

TEST_F(Reopen, write_reopen_async_queued_upload_is_cancelled) {
  options_.upload = UploadMode::Async;
  std::mutex gate;
  gate.lock();  // the worker uploads nothing until the writer is done
  fake_->set_upload_hook([&](const service::FileUpload&) { std::lock_guard wait(gate); });
  start();
  auto created = vfs_->create(kRootIno, "log.txt", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(created);
  auto fh = created->file.fh;
  ASSERT_TRUE(vfs_->write(fh, 0, "a\n", 2));
  ASSERT_TRUE(vfs_->flush(fh));  // queued; the worker may already hold it (it then waits in the hook)
  std::thread writer([&] {
    auto more = vfs_->write(fh, 2, "b\n", 2);  // waits for an upload already running, else cancels it
    EXPECT_TRUE(more) << (more ? "" : more.error().describe());
    EXPECT_TRUE(vfs_->flush(fh));
    vfs_->release(fh);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  gate.unlock();
  writer.join();
  EXPECT_TRUE(eventually([&] { return xattr("/log.txt", "user.pinfs.status") == "pinned"; }));
  EXPECT_TRUE(eventually([&] { return pins_named(*fake_, "log.txt") == 1; }));
  EXPECT_EQ(fake_->find_by_name("log.txt")->size, 4u);
  EXPECT_EQ(cat_text("/log.txt"), "a\nb\n");
  EXPECT_LE(fake_->counters().upload_file.load(), 2u);
  EXPECT_TRUE(eventually([&] { return std::filesystem::is_empty(options_.cache_dir + "/staging"); }));
}

TEST_F(Reopen, write_reopen_async_every_dup_close_ends_in_one_pin) {
  options_.upload = UploadMode::Async;
  start();
  auto created = vfs_->create(kRootIno, "log.txt", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(created);
  shell_log(*vfs_, created->file.fh);
  EXPECT_TRUE(eventually([&] { return xattr("/log.txt", "user.pinfs.status") == "pinned"; }));
  EXPECT_TRUE(eventually([&] { return pins_named(*fake_, "log.txt") == 1; }));
  EXPECT_EQ(fake_->find_by_name("log.txt")->size, 6u);
  EXPECT_EQ(cat_text("/log.txt"), "a\nb\nc\n");
}

TEST_F(Reopen, write_reopen_content_pinned_elsewhere_leaves_no_job_pin_behind) {
  fake_->add_file("other.txt", "a\n");
  start();
  ls();
  auto created = vfs_->create(kRootIno, "log.txt", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(created);
  auto fh = created->file.fh;
  ASSERT_TRUE(vfs_->write(fh, 0, "a\n", 2));
  ASSERT_TRUE(vfs_->flush(fh));  // known content: pinned by CID, the job pending
  EXPECT_EQ(fake_->counters().pin_by_cid.load(), 1u);
  ASSERT_TRUE(vfs_->write(fh, 2, "b\n", 2));
  ASSERT_TRUE(vfs_->flush(fh));
  vfs_->release(fh);
  fake_->complete_jobs();
  ASSERT_TRUE(vfs_->refresh());
  vfs_->run_background_once();  // the job's pin appeared: unpinned
  EXPECT_EQ(pins_named(*fake_, "log.txt"), 1u);
  EXPECT_EQ(fake_->find_by_name("log.txt")->size, 4u);
  EXPECT_TRUE(fake_->find_by_name("other.txt"));
  EXPECT_EQ(cat_text("/log.txt"), "a\nb\n");
}

TEST_F(Mtime, attr_mtime_set_before_close_goes_with_the_upload) {
  start();
  auto created = vfs_->create(kRootIno, "copied.txt", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(vfs_->write(created->file.fh, 0, "bytes", 5));
  AttrChange change;
  change.mtime = timespec{1600000000, 123456789};
  change.mode = 0600;
  auto attr = vfs_->setattr(created->entry.ino, change);  // cp -p: futimens before close
  ASSERT_TRUE(attr);
  EXPECT_EQ(attr->st_mtim.tv_sec, 1600000000);
  EXPECT_EQ(attr->st_mtim.tv_nsec, 123456789);
  ASSERT_TRUE(vfs_->flush(created->file.fh));
  vfs_->release(created->file.fh);
  auto pin = fake_->find_by_name("copied.txt");
  ASSERT_TRUE(pin);
  EXPECT_EQ(pin->keyvalues.at(kKey), "1600000000.123456789");
  EXPECT_EQ(fake_->counters().update_metadata.load(), 0u);  // no call beyond the upload
  auto shown = vfs_->getattr(created->entry.ino);
  EXPECT_EQ(shown->st_mtim.tv_sec, 1600000000);
  EXPECT_EQ(shown->st_mtim.tv_nsec, 123456789);
  EXPECT_EQ(shown->st_mode, S_IFREG | 0444);  // chmod accepted, not kept
  EXPECT_EQ(xattr("/copied.txt", "user.meta.pinfs.mtime"), "1600000000.123456789");

  // a new mount: shown from the listing
  ASSERT_TRUE(vfs_->shutdown(true));
  vfs_.reset();
  start();
  auto again = walk("/copied.txt");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->attr.st_mtim.tv_sec, 1600000000);
  EXPECT_EQ(again->attr.st_mtim.tv_nsec, 123456789);
}

TEST_F(Mtime, attr_mtime_set_after_close_updates_the_pin_metadata) {
  start();
  ASSERT_TRUE(put("synced.txt", "rsync wrote me"));  // rsync: close, then utimes on the pin
  auto entry = walk("/synced.txt");
  AttrChange change;
  change.mtime = timespec{1500000000, 5};
  ASSERT_TRUE(vfs_->setattr(entry->ino, change));
  EXPECT_EQ(fake_->counters().update_metadata.load(), 1u);
  EXPECT_EQ(fake_->find_by_name("synced.txt")->keyvalues.at(kKey), "1500000000.000000005");
  EXPECT_EQ(vfs_->getattr(entry->ino)->st_mtim.tv_sec, 1500000000);
  EXPECT_EQ(vfs_->getattr(entry->ino)->st_mtim.tv_nsec, 5);
  ASSERT_TRUE(vfs_->setattr(entry->ino, change));  // the same time again costs nothing
  EXPECT_EQ(fake_->counters().update_metadata.load(), 1u);
  ASSERT_TRUE(vfs_->refresh());
  EXPECT_EQ(vfs_->getattr(entry->ino)->st_mtim.tv_sec, 1500000000);
}

TEST_F(Mtime, attr_mtime_without_one_the_pin_date_is_shown) {
  fake_->add_file("plain.txt", "x");
  start();
  auto entry = walk("/plain.txt");
  auto pin = fake_->find_by_name("plain.txt");
  EXPECT_EQ(entry->attr.st_mtim.tv_sec, pin->pinned_at);
  AttrChange now;
  now.mtime_now = true;  // plain touch of a pin: accepted, the pin keeps its date
  ASSERT_TRUE(vfs_->setattr(entry->ino, now));
  EXPECT_EQ(fake_->counters().update_metadata.load(), 0u);
  EXPECT_EQ(vfs_->getattr(entry->ino)->st_mtim.tv_sec, pin->pinned_at);
}

TEST_F(Mtime, attr_mtime_a_write_after_utimens_takes_the_write_time) {
  start();
  auto created = vfs_->create(kRootIno, "later.txt", 0644, O_WRONLY | O_CREAT);
  AttrChange change;
  change.mtime = timespec{1000, 0};
  ASSERT_TRUE(vfs_->setattr(created->entry.ino, change));
  ASSERT_TRUE(vfs_->write(created->file.fh, 0, "x", 1));
  EXPECT_GT(vfs_->getattr(created->entry.ino)->st_mtim.tv_sec, 1000);
  ASSERT_TRUE(vfs_->flush(created->file.fh));
  vfs_->release(created->file.fh);
  EXPECT_FALSE(fake_->find_by_name("later.txt")->keyvalues.contains(kKey));
}

TEST_F(Mtime, attr_mtime_not_kept_when_the_pin_has_every_key_but_accepted) {
  service::KeyValues full;
  for (int i = 0; i < 10; ++i) full["k" + std::to_string(i)] = "v";
  fake_->add_file("full.txt", "x", 1, full);
  start();
  auto entry = walk("/full.txt");
  AttrChange change;
  change.mtime = timespec{1234, 0};
  ASSERT_TRUE(vfs_->setattr(entry->ino, change));  // rsync -a / cp -p must not fail
  EXPECT_EQ(fake_->counters().update_metadata.load(), 0u);
  EXPECT_FALSE(fake_->find_by_name("full.txt")->keyvalues.contains(kKey));
}

TEST_F(Mtime, attr_mtime_async_set_while_uploading_is_sent_once_pinned) {
  options_.upload = UploadMode::Async;
  std::mutex gate;
  gate.lock();
  fake_->set_upload_hook([&](const service::FileUpload&) { std::lock_guard wait(gate); });
  start();
  ASSERT_TRUE(put("slow.txt", "slow bytes"));
  ASSERT_TRUE(eventually([&] { return xattr("/slow.txt", "user.pinfs.status") == "uploading"; }));
  AttrChange change;
  change.mtime = timespec{1400000000, 0};
  ASSERT_TRUE(vfs_->setattr(walk("/slow.txt")->ino, change));
  gate.unlock();
  EXPECT_TRUE(eventually([&] {
    auto pin = fake_->find_by_name("slow.txt");
    return pin && pin->keyvalues.contains(kKey);
  }));
  EXPECT_EQ(fake_->find_by_name("slow.txt")->keyvalues.at(kKey), "1400000000.000000000");
}

TEST_F(Mtime, attr_mtime_is_read_from_the_keyvalue_and_a_bad_one_is_ignored) {
  fake_->add_file("half.txt", "1", 1, {{kKey, "1700000000.5"}});
  auto bad = fake_->add_file("bad.txt", "2", 1, {{kKey, "soon"}});
  fake_->add_file("dots.txt", "3", 1, {{kKey, "1.2.3"}});
  start();
  auto half = walk("/half.txt");
  EXPECT_EQ(half->attr.st_mtim.tv_sec, 1700000000);
  EXPECT_EQ(half->attr.st_mtim.tv_nsec, 500000000);
  EXPECT_EQ(walk("/bad.txt")->attr.st_mtim.tv_sec, bad.pinned_at);
  EXPECT_EQ(walk("/dots.txt")->attr.st_mtim.tv_sec, fake_->find_by_name("dots.txt")->pinned_at);
}

// rsync's utimes of a file pinned a moment ago and its rename of the temp name, on two threads at once (the
// mtime's service call still running when the rename comes): the account and the index a new mount reads
// both end with the new name and the mtime ([attr.mtime], [ns.rename]).
class MtimeAndRename : public VfsFixture, public ::testing::WithParamInterface<bool> {};

TEST_P(MtimeAndRename, attr_mtime_and_a_rename_at_once_both_stay) {
  auto caps = fake_->capabilities();
  caps.metadata_update = GetParam();  // false: AIOZ, where an mtime is a pin by hash again
  fake_->set_capabilities(caps);
  start();
  ASSERT_TRUE(put(".a.bin.XyZ12", "rsync's temp file"));
  const auto ino = walk("/.a.bin.XyZ12")->ino;
  std::mutex gate;
  gate.lock();
  std::atomic<bool> entered{false};
  fake_->set_metadata_hook([&](const service::PinRef&) {
    if (entered.exchange(true)) return;  // only the first call (the mtime's) waits
    std::lock_guard wait(gate);
  });
  std::thread utimes([&] {
    AttrChange change;
    change.mtime = timespec{1308139200, 0};
    EXPECT_TRUE(vfs_->setattr(ino, change));
  });
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  std::thread mv([&] { EXPECT_TRUE(vfs_->rename(kRootIno, ".a.bin.XyZ12", kRootIno, "a.bin", 0)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the rename would be done by now
  gate.unlock();
  utimes.join();
  mv.join();
  fake_->set_metadata_hook(nullptr);

  EXPECT_EQ(fake_->pins().size(), 1u);
  auto pin = fake_->find_by_name("a.bin");
  ASSERT_TRUE(pin);
  EXPECT_EQ(pin->keyvalues[kKey], "1308139200.000000000");
  EXPECT_EQ(vfs_->getattr(ino)->st_mtim.tv_sec, 1308139200);
  ASSERT_TRUE(vfs_->shutdown(true));
  vfs_.reset();
  start();  // from the index this mount kept (no listing before the first poll)
  auto again = walk("/a.bin");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->attr.st_mtim.tv_sec, 1308139200);
  EXPECT_FALSE(walk("/.a.bin.XyZ12"));
}

INSTANTIATE_TEST_SUITE_P(Providers, MtimeAndRename, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "metadata_update" : "pin_again"; });

}  // namespace
}  // namespace pinfs::vfs::testing
