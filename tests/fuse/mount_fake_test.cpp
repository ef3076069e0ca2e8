// The adapter for real: the VFS over the in-memory fake, mounted with libfuse, driven with syscalls.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "pinfs/fuse/session.hpp"
#include "pinfs/service/fake_pin_service.hpp"
#include "pinfs/vfs/vfs.hpp"

namespace pinfs::fuse {
namespace {

class MountFake : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pinfs-mount-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    mnt_ = dir_ + "/mnt";
    std::filesystem::create_directories(mnt_);
    fake_ = std::make_shared<service::FakePinService>();
    fake_->add_file("hello.txt", "hello from the fake\n", 1, {{"color", "blue"}});
    fake_->add_directory("site", {{"index.html", "<html/>"}, {"img/a.png", "PNG"}});
  }

  void mount(unsigned read_ahead_kib = 256) {
    vfs::VfsOptions options;
    options.cache_dir = dir_ + "/cache";
    options.uid = ::getuid();
    options.gid = ::getgid();
    vfs_ = std::make_unique<vfs::Vfs>(fake_, fake_, options);
    ASSERT_TRUE(vfs_->start());
    MountOptions mount_options;
    mount_options.mountpoint = mnt_;
    mount_options.max_threads = 4;
    mount_options.read_ahead_kib = read_ahead_kib;
    server_ = std::thread([this, mount_options] {
      auto result = serve(*vfs_, mount_options, [this] {
        std::lock_guard lock(mu_);
        ready_ = true;
        cv_.notify_all();
      });
      std::lock_guard lock(mu_);
      if (!result) error_ = result.error().describe();
      done_ = true;
      cv_.notify_all();
    });
    std::unique_lock lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, std::chrono::seconds(10), [this] { return ready_ || done_; }));
    ASSERT_TRUE(ready_) << "mount failed: " << error_;
  }

  void TearDown() override {
    if (server_.joinable()) {
      bool mounted = false;
      {
        std::lock_guard lock(mu_);
        mounted = ready_ && !done_;
      }
      if (mounted && ::umount2(mnt_.c_str(), 0) != 0) ::umount2(mnt_.c_str(), MNT_DETACH);
      server_.join();
    }
    if (vfs_) (void)vfs_->shutdown(false);
    vfs_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string path(const std::string& name) const { return mnt_ + "/" + name; }

  std::vector<std::string> ls(const std::string& rel = "") {
    std::vector<std::string> names;
    DIR* d = ::opendir(path(rel).c_str());
    EXPECT_NE(d, nullptr) << strerror(errno);
    if (!d) return names;
    while (auto* entry = ::readdir(d))
      if (std::string(entry->d_name) != "." && std::string(entry->d_name) != "..")
        names.push_back(entry->d_name);
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string slurp(const std::string& rel) {
    std::ifstream in(path(rel), std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }

  // The mount's read-ahead as the kernel holds it, in KiB (-1 when it cannot be read).
  int read_ahead_kib() const {
    struct stat st {};
    if (::stat(mnt_.c_str(), &st) != 0) return -1;
    std::ifstream in("/sys/class/bdi/" + std::to_string(major(st.st_dev)) + ":" +
                     std::to_string(minor(st.st_dev)) + "/read_ahead_kb");
    int kib = -1;
    in >> kib;
    return kib;
  }

  std::string dir_, mnt_;
  std::shared_ptr<service::FakePinService> fake_;
  std::unique_ptr<vfs::Vfs> vfs_;
  std::thread server_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false, done_ = false;
  std::string error_;
};

TEST_F(MountFake, fuse_lists_stats_and_reads_pins) {
  mount();
  EXPECT_EQ(ls(), (std::vector<std::string>{".pinfs", "hello.txt", "site"}));
  struct stat st {};
  ASSERT_EQ(::stat(path("hello.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 20);
  EXPECT_EQ(st.st_mode, S_IFREG | 0444);
  EXPECT_EQ(st.st_blksize, 1 << 20);  // cp and cat size their buffers by it: 1 MiB writes, not 128 KiB
  EXPECT_EQ(slurp("hello.txt"), "hello from the fake\n");
  EXPECT_EQ(ls("site"), (std::vector<std::string>{"img", "index.html"}));
  EXPECT_EQ(slurp("site/img/a.png"), "PNG");
}

TEST_F(MountFake, fuse_write_close_pins_and_close_reports_upload_failure) {
  mount();
  int fd = ::open(path("new.txt").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  ASSERT_GE(fd, 0) << strerror(errno);
  ASSERT_EQ(::write(fd, "written", 7), 7);
  ASSERT_EQ(::close(fd), 0);
  ASSERT_TRUE(fake_->find_by_name("new.txt"));
  EXPECT_EQ(slurp("new.txt"), "written");

  fake_->fail_next(service::FakeOp::UploadFile, Error{EDQUOT, "over quota"});
  fd = ::open(path("big.txt").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "data", 4), 4);
  EXPECT_EQ(::close(fd), -1);
  EXPECT_EQ(errno, EDQUOT);
  EXPECT_FALSE(fake_->find_by_name("big.txt"));

  fd = ::open(path("hello.txt").c_str(), O_WRONLY);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, EROFS);
}

TEST_F(MountFake, fuse_xattrs_rm_mv_ln) {
  mount();
  char buf[256];
  auto n = ::getxattr(path("hello.txt").c_str(), "user.meta.color", buf, sizeof buf);
  ASSERT_EQ(n, 4);
  EXPECT_EQ(std::string(buf, 4), "blue");
  EXPECT_EQ(::getxattr(path("hello.txt").c_str(), "user.pinfs.cid", nullptr, 0),
            static_cast<ssize_t>(fake_->find_by_name("hello.txt")->cid.size()));
  ASSERT_EQ(::setxattr(path("hello.txt").c_str(), "user.meta.size", "L", 1, 0), 0);
  EXPECT_EQ(fake_->find_by_name("hello.txt")->keyvalues.at("size"), "L");
  EXPECT_EQ(::setxattr(path("hello.txt").c_str(), "user.pinfs.cid", "x", 1, 0), -1);
  EXPECT_EQ(errno, EPERM);

  ASSERT_EQ(::rename(path("hello.txt").c_str(), path("renamed.txt").c_str()), 0);
  EXPECT_TRUE(fake_->find_by_name("renamed.txt"));
  ASSERT_EQ(::unlink(path("renamed.txt").c_str()), 0);
  EXPECT_FALSE(fake_->find_by_name("renamed.txt"));

  auto cid = fake_->store_content("linked");
  ASSERT_EQ(::symlink(("/ipfs/" + cid).c_str(), path("link").c_str()), 0);
  char target[256];
  auto len = ::readlink(path("link").c_str(), target, sizeof target);
  ASSERT_GT(len, 0);
  EXPECT_EQ(std::string(target, len), "/ipfs/" + cid);
  EXPECT_EQ(::symlink("/ipfs/garbage", path("bad").c_str()), -1);
  EXPECT_EQ(errno, EINVAL);

  std::ifstream status(path(".pinfs/status"));
  std::string text((std::istreambuf_iterator<char>(status)), {});
  EXPECT_NE(text.find("\"totals\""), std::string::npos);
}

TEST_F(MountFake, fuse_read_ahead_is_set_when_a_file_is_first_opened) {
  mount(2048);
  EXPECT_EQ(slurp("hello.txt"), "hello from the fake\n");
  // Root may write the mount's sysfs entry; anyone else keeps the kernel's 128 KiB (and a log line).
  EXPECT_EQ(read_ahead_kib(), ::geteuid() == 0 ? 2048 : 128);
}

TEST_F(MountFake, fuse_read_ahead_zero_leaves_the_kernels) {
  mount(0);
  EXPECT_EQ(slurp("hello.txt"), "hello from the fake\n");
  EXPECT_EQ(read_ahead_kib(), 128);
}

TEST(ReadAheadFile, names_the_device_of_the_last_mount_at_the_path_with_escapes_undone) {
  const std::string mountinfo =
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
      "40 22 0:51 / /mnt/my\\040drive rw,nosuid shared:2 - fuse.pinfs pinfs:work rw\n"
      "41 40 0:52 / /mnt/my\\040drive rw,nosuid shared:3 - fuse.pinfs pinfs:work rw\n"
      "42 22 0:53 / /mnt/other rw - fuse.pinfs pinfs rw\n";
  EXPECT_EQ(read_ahead_file(mountinfo, "/mnt/my drive"), "/sys/class/bdi/0:52/read_ahead_kb");
  EXPECT_EQ(read_ahead_file(mountinfo, "/mnt/other"), "/sys/class/bdi/0:53/read_ahead_kb");
  EXPECT_EQ(read_ahead_file(mountinfo, "/mnt/my\\040drive"), "");
  EXPECT_EQ(read_ahead_file(mountinfo, "/mnt/none"), "");
  EXPECT_EQ(read_ahead_file("garbage\n\n", "/"), "");
}

TEST_F(MountFake, fuse_unmount_returns_from_serve) {
  mount();
  ASSERT_EQ(::umount2(mnt_.c_str(), 0), 0) << strerror(errno);
  server_.join();
  std::lock_guard lock(mu_);
  EXPECT_TRUE(done_);
  EXPECT_EQ(error_, "");
}

}  // namespace
}  // namespace pinfs::fuse
