#include <linux/fs.h>

#include "vfs_fixture.hpp"

namespace pinfs::vfs::testing {
namespace {

using Namespace = VfsFixture;

TEST_F(Namespace, unlink_unpins) {
  fake_->add_file("gone.txt", "bye");
  start();
  ASSERT_TRUE(walk("/gone.txt"));
  ASSERT_TRUE(vfs_->unlink(kRootIno, "gone.txt"));
  EXPECT_EQ(fake_->counters().unpin.load(), 1u);
  EXPECT_FALSE(fake_->find_by_name("gone.txt"));
  EXPECT_FALSE(walk("/gone.txt"));
}

TEST_F(Namespace, unlink_unpins_failure_keeps_the_entry) {
  fake_->add_file("stays.txt", "x");
  start();
  fake_->fail_next(service::FakeOp::Unpin, Error{EACCES, "forbidden"});
  auto result = vfs_->unlink(kRootIno, "stays.txt");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().errnum, EACCES);
  EXPECT_TRUE(walk("/stays.txt"));
}

TEST_F(Namespace, unlink_unpins_rmdir_of_directory_pin) {
  fake_->add_directory("dir", {{"a", "1"}});
  start();
  auto rm = vfs_->unlink(kRootIno, "dir");
  ASSERT_FALSE(rm);
  EXPECT_EQ(rm.error().errnum, EISDIR);
  auto inner = walk("/dir");
  ASSERT_TRUE(vfs_->lookup(inner->ino, "a"));
  // Inside a directory pin rm only hides the entry, pending the removal of the pin (rm -rf; see
  // dirpin_test.cpp); rmdir of the pin unpins it.
  ASSERT_TRUE(vfs_->unlink(inner->ino, "a"));
  EXPECT_EQ(fake_->counters().unpin.load(), 0u);
  ASSERT_TRUE(vfs_->rmdir(kRootIno, "dir"));
  EXPECT_TRUE(fake_->pins().empty());
}

// Pinata unpins by CID: `cp x a; cp x b; rm b` must not take a with it (it did: both were unpinned).
TEST_F(Namespace, unlink_of_one_of_two_names_of_one_cid_keeps_the_other_where_unpins_are_by_cid) {
  auto caps = fake_->capabilities();
  caps.unpins_by_cid = true;  // the fake then unpins every pin of the CID, as Pinata does
  fake_->set_capabilities(caps);
  auto a = fake_->add_file("a", "the same bytes");
  auto b = fake_->add_file("b", "the same bytes");
  ASSERT_EQ(a.cid, b.cid);
  start();
  ASSERT_TRUE(vfs_->unlink(kRootIno, "b"));
  EXPECT_EQ(fake_->counters().unpin.load(), 0u);
  EXPECT_EQ(fake_->pins().size(), 2u);
  EXPECT_FALSE(walk("/b"));
  EXPECT_EQ(cat_text("/a"), "the same bytes");
  ASSERT_TRUE(vfs_->refresh());  // a full listing still holds b's row: it stays hidden for the mount
  EXPECT_FALSE(walk("/b"));
  // The last name shown goes: the CID is unpinned, every row of it with it.
  ASSERT_TRUE(vfs_->unlink(kRootIno, "a"));
  EXPECT_EQ(fake_->counters().unpin.load(), 1u);
  EXPECT_TRUE(fake_->pins().empty());
  EXPECT_FALSE(walk("/a"));
}

TEST_F(Namespace, rename_replace_onto_a_name_of_the_same_cid_keeps_the_content_where_unpins_are_by_cid) {
  auto caps = fake_->capabilities();
  caps.unpins_by_cid = true;
  fake_->set_capabilities(caps);
  fake_->add_file("a", "one content");
  fake_->add_file("b", "one content");
  start();
  ASSERT_TRUE(vfs_->rename(kRootIno, "a", kRootIno, "b", 0));
  EXPECT_EQ(fake_->counters().unpin.load(), 0u);
  EXPECT_FALSE(fake_->pins().empty());
  EXPECT_FALSE(walk("/a"));
  EXPECT_EQ(cat_text("/b"), "one content");
}

// Where unpins are by pin id (AIOZ), rm of one name unpins that pin only.
TEST_F(Namespace, unlink_of_one_of_two_names_of_one_cid_unpins_it_where_unpins_are_by_id) {
  fake_->add_file("a", "the same bytes");
  fake_->add_file("b", "the same bytes");
  start();
  ASSERT_TRUE(vfs_->unlink(kRootIno, "b"));
  EXPECT_EQ(fake_->counters().unpin.load(), 1u);
  ASSERT_EQ(fake_->pins().size(), 1u);
  EXPECT_EQ(fake_->pins()[0].name, "a");
}

TEST_F(Namespace, unlink_of_a_staged_file_discards_it_without_service_calls) {
  start();
  fake_->fail_next(service::FakeOp::UploadFile, Error{EIO, "down"});
  ASSERT_FALSE(put("draft", "x"));
  ASSERT_TRUE(vfs_->unlink(kRootIno, "draft"));
  EXPECT_EQ(fake_->counters().unpin.load(), 0u);
  EXPECT_FALSE(walk("/draft"));
  EXPECT_TRUE(std::filesystem::is_empty(options_.cache_dir + "/staging"));
}

TEST_F(Namespace, rename_metadata_no_data_transfer) {
  auto pin = fake_->add_file("old.txt", pattern(100000));
  start();
  auto before = walk("/old.txt");
  ASSERT_TRUE(vfs_->rename(kRootIno, "old.txt", kRootIno, "new.txt", 0));
  EXPECT_EQ(fake_->counters().rename.load(), 1u);
  EXPECT_EQ(fake_->counters().upload_file.load(), 0u);
  EXPECT_EQ(fake_->counters().bytes_uploaded.load(), 0u);
  EXPECT_EQ(fake_->pins()[0].name, "new.txt");
  EXPECT_FALSE(walk("/old.txt"));
  auto after = walk("/new.txt");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->ino, before->ino);  // the kernel's inode follows the rename
}

TEST_F(Namespace, rename_metadata_of_a_local_file_renames_the_staged_upload) {
  start();
  // rsync: write ".f.XXXX", close, rename to "f".
  auto created = vfs_->create(kRootIno, ".f.Ab12", 0600, O_WRONLY | O_CREAT);
  ASSERT_TRUE(vfs_->write(created->file.fh, 0, "data", 4));
  ASSERT_TRUE(vfs_->rename(kRootIno, ".f.Ab12", kRootIno, "f", 0));
  ASSERT_TRUE(vfs_->flush(created->file.fh));
  vfs_->release(created->file.fh);
  EXPECT_EQ(fake_->counters().rename.load(), 0u);
  EXPECT_EQ(fake_->counters().upload_file.load(), 1u);
  ASSERT_TRUE(fake_->find_by_name("f"));
  EXPECT_FALSE(fake_->find_by_name(".f.Ab12"));
}

TEST_F(Namespace, rename_replace_unpins_the_old_target_after_the_rename) {
  auto keep = fake_->add_file("a", "new content");
  auto old = fake_->add_file("b", "old content");
  start();
  ASSERT_TRUE(vfs_->rename(kRootIno, "a", kRootIno, "b", 0));
  auto pins = fake_->pins();
  ASSERT_EQ(pins.size(), 1u);
  EXPECT_EQ(pins[0].cid, keep.cid);
  EXPECT_EQ(pins[0].name, "b");
  EXPECT_EQ(cat_text("/b"), "new content");
  (void)old;
}

TEST_F(Namespace, rename_replace_fails_cleanly_when_the_rename_fails) {
  fake_->add_file("a", "1");
  fake_->add_file("b", "2");
  start();
  fake_->fail_next(service::FakeOp::Rename, Error{EAGAIN, "rate limited"});
  auto result = vfs_->rename(kRootIno, "a", kRootIno, "b", 0);
  ASSERT_FALSE(result);
  EXPECT_EQ(fake_->pins().size(), 2u);  // nothing unpinned
  EXPECT_EQ(fake_->counters().unpin.load(), 0u);
}

TEST_F(Namespace, rename_replace_local_onto_pin_unpins_after_upload) {
  auto old = fake_->add_file("doc.txt", "v1");
  start();
  ASSERT_TRUE(walk("/doc.txt"));
  auto created = vfs_->create(kRootIno, ".doc.txt.tmp", 0600, O_WRONLY | O_CREAT);
  ASSERT_TRUE(vfs_->write(created->file.fh, 0, "v2", 2));
  ASSERT_TRUE(vfs_->flush(created->file.fh));  // sync: pinned as ".doc.txt.tmp"
  vfs_->release(created->file.fh);
  ASSERT_TRUE(vfs_->rename(kRootIno, ".doc.txt.tmp", kRootIno, "doc.txt", 0));
  auto pins = fake_->pins();
  ASSERT_EQ(pins.size(), 1u);
  EXPECT_EQ(pins[0].name, "doc.txt");
  EXPECT_NE(pins[0].cid, old.cid);
  EXPECT_EQ(cat_text("/doc.txt"), "v2");
}

TEST_F(Namespace, rename_noreplace_and_cross_directory) {
  fake_->add_file("a", "1");
  fake_->add_file("b", "2");
  start();
  auto noreplace = vfs_->rename(kRootIno, "a", kRootIno, "b", RENAME_NOREPLACE);
  ASSERT_FALSE(noreplace);
  EXPECT_EQ(noreplace.error().errnum, EEXIST);
  auto dir = vfs_->mkdir(kRootIno, "d", 0755);
  ASSERT_TRUE(dir);
  auto cross = vfs_->rename(kRootIno, "a", dir->ino, "a", 0);
  ASSERT_FALSE(cross);
  EXPECT_EQ(cross.error().errnum, EXDEV);  // mv falls back to copy + unlink
}

}  // namespace
}  // namespace pinfs::vfs::testing
