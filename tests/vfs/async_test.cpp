#include <filesystem>
#include <thread>

#include "vfs_fixture.hpp"

namespace pinfs::vfs::testing {
namespace {

using Async = VfsFixture;

bool eventually(const std::function<bool()>& condition) {
  for (int i = 0; i < 500; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

TEST_F(Async, write_async_close_returns_before_the_upload) {
  options_.upload = UploadMode::Async;
  std::mutex gate;
  gate.lock();  // holds every upload until the test lets go
  fake_->set_upload_hook([&](const service::FileUpload&) { std::lock_guard wait(gate); });
  start();
  ASSERT_TRUE(put("later.bin", "async bytes"));
  EXPECT_FALSE(fake_->find_by_name("later.bin"));
  EXPECT_TRUE(eventually([&] { return xattr("/later.bin", "user.pinfs.status") == "uploading"; }));
  gate.unlock();
  EXPECT_TRUE(eventually([&] { return fake_->find_by_name("later.bin").has_value(); }));
  EXPECT_TRUE(eventually([&] { return xattr("/later.bin", "user.pinfs.status") == "pinned"; }));
  EXPECT_TRUE(std::filesystem::is_empty(options_.cache_dir + "/staging"));
}

TEST_F(Async, write_async_retries_and_shows_failed_reason) {
  options_.upload = UploadMode::Async;
  options_.upload_retry_delay = std::chrono::milliseconds(100);
  fake_->fail_next(service::FakeOp::UploadFile, Error{EAGAIN, "HTTP 503"}, 2);
  start();
  ASSERT_TRUE(put("retry.bin", "x"));
  EXPECT_TRUE(eventually([&] { return xattr("/retry.bin", "user.pinfs.status").starts_with("failed: "); }));
  EXPECT_TRUE(eventually([&] { return fake_->find_by_name("retry.bin").has_value(); }));
  EXPECT_GE(fake_->counters().upload_file.load(), 3u);
}

TEST_F(Async, durable_staged_journal_resumes_on_the_next_mount) {
  options_.upload = UploadMode::Async;
  fake_->fail_next(service::FakeOp::UploadFile, Error{EIO, "offline"}, -1);
  start();
  ASSERT_TRUE(put("survivor.txt", "must not be lost"));
  ASSERT_TRUE(vfs_->shutdown(false));  // like kill -9 as far as the service knows: nothing pinned
  vfs_.reset();
  EXPECT_FALSE(fake_->find_by_name("survivor.txt"));

  fake_->clear_failures();
  start();  // a new mount over the same cache dir
  EXPECT_TRUE(eventually([&] { return fake_->find_by_name("survivor.txt").has_value(); }));
  EXPECT_EQ(*cat("/survivor.txt"), "must not be lost");
}

TEST_F(Async, write_async_shutdown_waits_for_uploads) {
  options_.upload = UploadMode::Async;
  options_.upload_retry_delay = std::chrono::milliseconds(60000);  // the worker will not retry in time
  fake_->fail_next(service::FakeOp::UploadFile, Error{EIO, "blip"});
  start();
  ASSERT_TRUE(put("final.txt", "abc"));
  EXPECT_TRUE(eventually([&] { return fake_->counters().upload_file.load() >= 1; }));
  auto done = vfs_->shutdown(true);
  ASSERT_TRUE(done) << done.error().describe();
  EXPECT_TRUE(fake_->find_by_name("final.txt"));
}

TEST_F(Async, write_sync_failed_upload_is_journaled_and_finished_at_shutdown) {
  start();
  fake_->fail_next(service::FakeOp::UploadFile, Error{EIO, "blip"});
  ASSERT_FALSE(put("late.txt", "abc"));
  ASSERT_TRUE(vfs_->shutdown(true));
  EXPECT_TRUE(fake_->find_by_name("late.txt"));
}

TEST_F(Async, write_async_rename_of_a_queued_file_pins_the_new_name) {
  options_.upload = UploadMode::Async;
  std::mutex gate;
  gate.lock();
  fake_->set_upload_hook([&](const service::FileUpload&) { std::lock_guard wait(gate); });
  start();
  ASSERT_TRUE(put("tmp.part", "content"));
  ASSERT_TRUE(vfs_->rename(kRootIno, "tmp.part", kRootIno, "final.bin", 0));
  gate.unlock();
  EXPECT_TRUE(eventually([&] { return fake_->find_by_name("final.bin").has_value(); }));
  EXPECT_FALSE(fake_->find_by_name("tmp.part"));
}

TEST_F(Async, mkdir_directory_pin_after_quiet_delay) {
  start();
  auto dir = vfs_->mkdir(kRootIno, "album", 0755);
  ASSERT_TRUE(dir);
  auto sub = vfs_->mkdir(dir->ino, "raw", 0755);
  ASSERT_TRUE(sub);
  ASSERT_TRUE(put("a.jpg", "AAAA", dir->ino));
  ASSERT_TRUE(put("b.jpg", pattern(300000), dir->ino));
  ASSERT_TRUE(put("c.cr2", "raw!", sub->ino));
  EXPECT_EQ(fake_->counters().upload_file.load(), 0u);  // files of a new directory are not pinned one by one
  EXPECT_TRUE(eventually([&] { return fake_->counters().upload_directory.load() == 1; }));
  auto pin = fake_->find_by_name("album");
  ASSERT_TRUE(pin);
  EXPECT_TRUE(pin->is_dir);
  EXPECT_TRUE(eventually([&] { return xattr("/album", "user.pinfs.cid") == pin->cid; }));
  auto names = ls("/album");
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"a.jpg", "b.jpg", "raw"}));
  EXPECT_EQ(*cat("/album/raw/c.cr2"), "raw!");
  EXPECT_EQ(*cat("/album/b.jpg"), pattern(300000));
}

TEST_F(Async, mkdir_directory_pin_on_fsync_of_the_directory) {
  options_.dir_quiet_delay = std::chrono::milliseconds(3600000);
  start();
  auto dir = vfs_->mkdir(kRootIno, "docs", 0755);
  ASSERT_TRUE(put("x.txt", "x", dir->ino));
  EXPECT_EQ(fake_->counters().upload_directory.load(), 0u);
  ASSERT_TRUE(vfs_->fsyncdir(dir->ino));
  EXPECT_EQ(fake_->counters().upload_directory.load(), 1u);
  EXPECT_TRUE(fake_->find_by_name("docs"));
}

TEST_F(Async, mkdir_directory_pin_at_shutdown) {
  options_.dir_quiet_delay = std::chrono::milliseconds(3600000);
  start();
  auto dir = vfs_->mkdir(kRootIno, "atexit", 0755);
  ASSERT_TRUE(put("y.txt", "y", dir->ino));
  ASSERT_TRUE(vfs_->shutdown(true));
  EXPECT_TRUE(fake_->find_by_name("atexit"));
}

TEST_F(Async, mkdir_directory_pin_waits_for_open_files) {
  options_.dir_quiet_delay = std::chrono::milliseconds(1);
  start();
  auto dir = vfs_->mkdir(kRootIno, "busy", 0755);
  auto created = vfs_->create(dir->ino, "open.txt", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(vfs_->write(created->file.fh, 0, "x", 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(fake_->counters().upload_directory.load(), 0u);
  ASSERT_TRUE(vfs_->flush(created->file.fh));
  vfs_->release(created->file.fh);
  EXPECT_TRUE(eventually([&] { return fake_->counters().upload_directory.load() == 1; }));
}

}  // namespace
}  // namespace pinfs::vfs::testing
