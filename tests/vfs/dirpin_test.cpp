// Directory pins under rm -rf, and new directories as pins: empty directories kept (or the user told), the
// directory CID checked against the tree's. docs/SEMANTICS.md [dirpin.rm], [dir.empty], [dir.verify].
#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "vfs_fixture.hpp"

namespace pinfs::vfs::testing {
namespace {

using DirPin = VfsFixture;

Ino ino_of(Result<Entry> entry) {
  return entry ? entry->ino : 0;
}

// rm -rf: every file unlinked, every directory removed bottom-up, then the top: the pin is unpinned.
TEST_F(DirPin, rm_rf_of_a_directory_pin_unpins_it) {
  fake_->add_directory("tree", {{"a.txt", "1"}, {"sub/b.txt", "2"}, {"sub/deeper/c.txt", "3"}});
  start();
  Ino top = ino_of(walk("/tree"));
  Ino sub = ino_of(walk("/tree/sub"));
  Ino deeper = ino_of(walk("/tree/sub/deeper"));
  ASSERT_TRUE(top && sub && deeper);
  ASSERT_TRUE(vfs_->unlink(top, "a.txt"));
  EXPECT_EQ(ls("/tree"), (std::vector<std::string>{"sub"}));
  EXPECT_FALSE(walk("/tree/a.txt"));
  auto not_empty = vfs_->rmdir(top, "sub");
  ASSERT_FALSE(not_empty);
  EXPECT_EQ(not_empty.error().errnum, ENOTEMPTY);
  ASSERT_TRUE(vfs_->unlink(sub, "b.txt"));
  ASSERT_TRUE(vfs_->unlink(deeper, "c.txt"));
  ASSERT_TRUE(vfs_->rmdir(sub, "deeper"));
  ASSERT_TRUE(vfs_->rmdir(top, "sub"));
  EXPECT_TRUE(ls("/tree").empty());
  EXPECT_EQ(fake_->counters().unpin.load(), 0u);  // nothing unpinned until the top goes
  ASSERT_TRUE(vfs_->rmdir(kRootIno, "tree"));
  EXPECT_EQ(fake_->counters().unpin.load(), 1u);
  EXPECT_TRUE(fake_->pins().empty());
  EXPECT_FALSE(walk("/tree"));
}

// Removing only some entries stays refused in effect: they come back (with a log line) when the pin's top
// directory is not removed within removal_grace, and the pin is untouched.
TEST_F(DirPin, removals_inside_a_pin_not_followed_by_its_removal_come_back) {
  options_.removal_grace = std::chrono::milliseconds(1);
  fake_->add_directory("keep", {{"a.txt", "1"}, {"sub/b.txt", "2"}});
  start();
  Ino top = ino_of(walk("/keep"));
  Ino sub = ino_of(walk("/keep/sub"));
  ASSERT_TRUE(top && sub);
  ASSERT_TRUE(vfs_->unlink(top, "a.txt"));
  ASSERT_TRUE(vfs_->unlink(sub, "b.txt"));
  EXPECT_TRUE(eventually([&] {
    vfs_->run_background_once();
    return walk("/keep/a.txt") && walk("/keep/sub/b.txt");
  }));
  EXPECT_EQ(ls("/keep"), (std::vector<std::string>{"a.txt", "sub"}));
  EXPECT_EQ(cat_text("/keep/sub/b.txt"), "2");
  EXPECT_EQ(fake_->counters().unpin.load(), 0u);
  EXPECT_EQ(fake_->pins().size(), 1u);
}

TEST_F(DirPin, removal_grace_zero_refuses_removals_inside_a_pin) {
  options_.removal_grace = std::chrono::milliseconds(0);
  fake_->add_directory("ro", {{"a.txt", "1"}});
  start();
  Ino top = ino_of(walk("/ro"));
  auto refused = vfs_->unlink(top, "a.txt");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().errnum, EROFS);
  EXPECT_TRUE(walk("/ro/a.txt"));
}

// A subdirectory inside a pin is removed only once it is empty (as on any filesystem), never alone unpinned.
TEST_F(DirPin, rmdir_inside_a_pin_needs_it_empty_and_unpins_nothing) {
  fake_->add_directory("p", {{"sub/b.txt", "2"}});
  start();
  Ino top = ino_of(walk("/p"));
  auto refused = vfs_->rmdir(top, "sub");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().errnum, ENOTEMPTY);
  EXPECT_EQ(ls("/p"), (std::vector<std::string>{"sub"}));
  EXPECT_EQ(fake_->counters().unpin.load(), 0u);
}

// rm -rf of a new directory before its upload: everything goes, nothing is uploaded.
TEST_F(DirPin, rm_rf_of_a_new_directory_uploads_nothing) {
  start();
  auto d = vfs_->mkdir(kRootIno, "fresh", 0755);
  ASSERT_TRUE(d);
  auto s = vfs_->mkdir(d->ino, "s", 0755);
  ASSERT_TRUE(s);
  ASSERT_TRUE(vfs_->mkdir(d->ino, "empty", 0755));
  ASSERT_TRUE(put("a", "1", d->ino));
  ASSERT_TRUE(put("b", "2", s->ino));
  ASSERT_TRUE(vfs_->unlink(d->ino, "a"));
  ASSERT_TRUE(vfs_->unlink(s->ino, "b"));
  ASSERT_TRUE(vfs_->rmdir(d->ino, "s"));
  ASSERT_TRUE(vfs_->rmdir(d->ino, "empty"));
  ASSERT_TRUE(vfs_->rmdir(kRootIno, "fresh"));
  std::this_thread::sleep_for(options_.dir_quiet_delay * 2);
  vfs_->run_background_once();
  EXPECT_EQ(fake_->counters().upload_directory.load(), 0u);
  EXPECT_EQ(fake_->counters().upload_file.load(), 0u);
  EXPECT_FALSE(walk("/fresh"));
  EXPECT_TRUE(std::filesystem::is_empty(options_.cache_dir + "/staging"));
}

// Builds fresh/{f, empty/, s/{g, e2/}} and returns the top's inode.
Ino make_tree(VfsFixture& t, Vfs& vfs) {
  auto d = vfs.mkdir(kRootIno, "fresh", 0755);
  EXPECT_TRUE(d);
  if (!d) return 0;
  EXPECT_TRUE(vfs.mkdir(d->ino, "empty", 0755));
  auto s = vfs.mkdir(d->ino, "s", 0755);
  EXPECT_TRUE(s);
  if (!s) return 0;
  EXPECT_TRUE(vfs.mkdir(s->ino, "e2", 0755));
  (void)t;
  return d->ino;
}

class DirUpload : public VfsFixture {
 protected:
  Ino tree() {
    Ino top = make_tree(*this, *vfs_);
    auto s = vfs_->lookup(top, "s");
    EXPECT_TRUE(put("f", "top file", top));
    EXPECT_TRUE(put("g", "inner file", s->ino));
    return top;
  }
};

TEST_F(DirUpload, empty_directories_are_kept_in_the_pin) {
  options_.dir_quiet_delay = std::chrono::hours(1);
  start();
  Ino top = tree();
  auto ok = vfs_->fsyncdir(top);
  ASSERT_TRUE(ok) << ok.error().describe();
  auto pin = fake_->find_by_name("fresh");
  ASSERT_TRUE(pin);
  EXPECT_TRUE(pin->is_dir);
  EXPECT_EQ(ls("/fresh"), (std::vector<std::string>{"empty", "f", "s"}));
  EXPECT_EQ(ls("/fresh/s"), (std::vector<std::string>{"e2", "g"}));
  EXPECT_TRUE(ls("/fresh/empty").empty());
  EXPECT_EQ(cat_text("/fresh/s/g"), "inner file");
  EXPECT_EQ(xattr("/fresh", "user.pinfs.status"), "pinned");
  EXPECT_EQ(xattr("/fresh", "user.pinfs.verified"), "true");
  // The same tree imported by the fake from scratch has the pin's CID.
  service::FakePinService other;
  auto same = other.add_directory("x", {{"f", "top file"}, {"s/g", "inner file"}});
  EXPECT_NE(same.cid, pin->cid);  // the empty directories are part of the pin's CID
}

// Pinata keeps one pin a CID: the same tree copied in again under another name is answered isDuplicate
// with the first pin, and no pin of the new name is made. A pin-by-CID job names it, and the directory is
// that pin once it shows; the first stays as it was.
TEST_F(DirUpload, the_same_tree_again_under_another_name_is_pinned_by_cid) {
  options_.dir_quiet_delay = std::chrono::hours(1);
  fake_->set_duplicates_by_cid(true);
  start();
  auto a = vfs_->mkdir(kRootIno, "a", 0755);
  ASSERT_TRUE(put("f", "same bytes", a->ino));
  ASSERT_TRUE(vfs_->fsyncdir(a->ino));
  auto b = vfs_->mkdir(kRootIno, "b", 0755);
  ASSERT_TRUE(put("f", "same bytes", b->ino));
  auto waiting = vfs_->fsyncdir(b->ino);
  ASSERT_FALSE(waiting);
  EXPECT_EQ(waiting.error().errnum, EAGAIN);
  EXPECT_EQ(xattr("/b", "user.pinfs.status"), "pinning by CID");
  EXPECT_EQ(fake_->counters().pin_by_cid.load(), 1u);
  EXPECT_EQ(cat_text("/b/f"), "same bytes");  // readable from staging meanwhile
  fake_->complete_jobs();
  ASSERT_TRUE(vfs_->refresh());         // the poller's refresh lists the job's pin
  ASSERT_TRUE(vfs_->fsyncdir(b->ino));  // the directory is that pin: no second upload
  EXPECT_EQ(fake_->counters().upload_directory.load(), 2u);
  EXPECT_EQ(xattr("/b", "user.pinfs.status"), "pinned");
  ASSERT_TRUE(fake_->find_by_name("a") && fake_->find_by_name("b"));
  EXPECT_EQ(fake_->find_by_name("b")->cid, fake_->find_by_name("a")->cid);
  EXPECT_EQ(cat_text("/b/f"), "same bytes");
  EXPECT_TRUE(std::filesystem::is_empty(options_.cache_dir + "/staging"));
}

TEST_F(DirUpload, a_service_that_drops_empty_directories_is_reported) {
  options_.dir_quiet_delay = std::chrono::hours(1);
  fake_->set_drop_directory_parts(true);
  start();
  Ino top = tree();
  auto ok = vfs_->fsyncdir(top);
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(ls("/fresh"), (std::vector<std::string>{"f", "s"}));
  auto status = xattr("/fresh", "user.pinfs.status");
  EXPECT_EQ(status, "pinned; empty directories not kept by the service: empty, s/e2");
  auto json = vfs_->status_json();
  EXPECT_NE(json.find("empty directories not kept by the service: empty, s/e2"), std::string::npos) << json;
}

TEST_F(DirUpload, a_wrong_directory_cid_fails_and_keeps_everything_staged) {
  options_.dir_quiet_delay = std::chrono::milliseconds(20);
  fake_->set_wrong_cid(true);
  start();
  Ino top = tree();
  auto failed = vfs_->fsyncdir(top);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().errnum, EIO);
  EXPECT_NE(failed.error().message.find("CID mismatch"), std::string::npos) << failed.error().message;
  EXPECT_TRUE(xattr("/fresh", "user.pinfs.status").starts_with("failed: CID mismatch"))
      << xattr("/fresh", "user.pinfs.status");
  EXPECT_NE(vfs_->status_json().find("failed: CID mismatch"), std::string::npos);
  EXPECT_EQ(cat_text("/fresh/s/g"), "inner file");  // still the staged file
  // Not retried by the quiet pass while the tree is unchanged (the answer would be the same).
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  vfs_->run_background_once();
  EXPECT_EQ(fake_->counters().upload_directory.load(), 1u);
  fake_->set_wrong_cid(false);
  auto ok = vfs_->fsyncdir(top);  // fsync retries at once
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(xattr("/fresh", "user.pinfs.status"), "pinned");
  EXPECT_EQ(ls("/fresh"), (std::vector<std::string>{"empty", "f", "s"}));
  EXPECT_EQ(cat_text("/fresh/f"), "top file");
}

}  // namespace
}  // namespace pinfs::vfs::testing
