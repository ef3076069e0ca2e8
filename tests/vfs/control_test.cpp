#include "vfs_fixture.hpp"

namespace pinfs::vfs::testing {
namespace {

using Control = VfsFixture;

TEST_F(Control, control_readonly_status_is_json_with_totals) {
  fake_->add_file("a", "12345");
  fake_->add_file("b", "123");
  start();
  ls();
  auto status = cat("/.pinfs/status");
  ASSERT_TRUE(status) << status.error().describe();
  EXPECT_NE(status->find("\"totals\":{\"pins\":2,\"bytes\":8}"), std::string::npos) << *status;
  EXPECT_NE(status->find("\"pending_uploads\":[]"), std::string::npos);
  EXPECT_NE(status->find("\"cache\":{"), std::string::npos);
  EXPECT_NE(status->find("\"requests\":{\"list\":1"), std::string::npos);
  EXPECT_EQ(status->back(), '\n');
}

TEST_F(Control, control_readonly_status_lists_a_failed_upload) {
  start();
  fake_->fail_next(service::FakeOp::UploadFile, Error{EIO, "boom"});
  ASSERT_FALSE(put("stuck.bin", "abc"));
  auto status = cat("/.pinfs/status");
  ASSERT_TRUE(status);
  EXPECT_NE(status->find("\"name\":\"stuck.bin\""), std::string::npos) << *status;
  EXPECT_NE(status->find("\"state\":\"failed\""), std::string::npos);
}

TEST_F(Control, control_readonly_nothing_can_be_created_or_removed) {
  start();
  auto control = walk("/.pinfs");
  ASSERT_TRUE(control);
  EXPECT_EQ(control->attr.st_mode, S_IFDIR | 0555);
  auto names = ls("/.pinfs");
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"by-cid", "jobs", "status"}));
  EXPECT_EQ(vfs_->create(control->ino, "x", 0644, O_WRONLY | O_CREAT).error().errnum, EROFS);
  EXPECT_EQ(vfs_->mkdir(control->ino, "x", 0755).error().errnum, EROFS);
  EXPECT_EQ(vfs_->unlink(control->ino, "status").error().errnum, EROFS);
  EXPECT_EQ(vfs_->unlink(kRootIno, ".pinfs").error().errnum, EROFS);
  EXPECT_EQ(vfs_->rmdir(kRootIno, ".pinfs").error().errnum, EROFS);
  auto status = walk("/.pinfs/status");
  EXPECT_EQ(vfs_->open(status->ino, O_WRONLY).error().errnum, EROFS);
}

TEST_F(Control, control_readonly_by_cid_addresses_every_pin) {
  auto pin = fake_->add_file("named.txt", "by cid content");
  start();
  auto names = ls("/.pinfs/by-cid");
  EXPECT_EQ(names, std::vector<std::string>{pin.cid});
  EXPECT_EQ(cat_text("/.pinfs/by-cid/" + pin.cid), "by cid content");
  auto by_cid = walk("/.pinfs/by-cid/" + pin.cid);
  auto by_name = walk("/named.txt");
  EXPECT_EQ(by_cid->ino, by_name->ino);
  EXPECT_FALSE(walk("/.pinfs/by-cid/bafynotpinned"));
}

TEST_F(Control, symlink_pin_by_cid_shows_link_then_the_pin) {
  auto cid = fake_->store_content("remote content");
  start();
  auto link = vfs_->symlink("/ipfs/" + cid, kRootIno, "fetched.txt");
  ASSERT_TRUE(link) << link.error().describe();
  EXPECT_TRUE(S_ISLNK(link->attr.st_mode));
  EXPECT_EQ(*vfs_->readlink(link->ino), "/ipfs/" + cid);
  EXPECT_EQ(fake_->counters().pin_by_cid.load(), 1u);
  EXPECT_EQ(xattr("/fetched.txt", "user.pinfs.status"), "searching");
  auto jobs = ls("/.pinfs/jobs");
  ASSERT_EQ(jobs.size(), 1u);
  auto job = cat("/.pinfs/jobs/" + jobs[0]);
  ASSERT_TRUE(job);
  EXPECT_NE(job->find("\"cid\":\"" + cid + "\""), std::string::npos) << *job;

  EXPECT_EQ(fake_->complete_jobs(), 1u);
  ASSERT_TRUE(vfs_->refresh());
  auto entry = walk("/fetched.txt");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->ino, link->ino);
  EXPECT_TRUE(S_ISREG(entry->attr.st_mode));
  EXPECT_EQ(cat_text("/fetched.txt"), "remote content");
}

TEST_F(Control, symlink_pin_by_cid_invalid_target_is_einval) {
  start();
  for (std::string target : {"/ipfs/notacid", "relative", "/ipfs/", "/ipns/bafyfoo"}) {
    auto link = vfs_->symlink(target, kRootIno, "bad");
    ASSERT_FALSE(link) << target;
    EXPECT_EQ(link.error().errnum, EINVAL) << target;
  }
  EXPECT_EQ(fake_->counters().pin_by_cid.load(), 0u);
}

}  // namespace
}  // namespace pinfs::vfs::testing
