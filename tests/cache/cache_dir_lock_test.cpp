#include "pinfs/cache/cache_dir_lock.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

namespace pinfs::cache {
namespace {

class CacheDirLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pinfs-lock-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = std::string(tmpl) + "/cache";
  }
  void TearDown() override { std::filesystem::remove_all(std::filesystem::path(dir_).parent_path()); }
  std::string dir_;
};

TEST_F(CacheDirLockTest, a_second_mount_is_refused_at_once_naming_the_dir_and_pid) {
  auto first = CacheDirLock::acquire(dir_);
  ASSERT_TRUE(first) << first.error().describe();
  auto second = CacheDirLock::acquire(dir_);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().errnum, EBUSY);
  EXPECT_NE(second.error().message.find(dir_), std::string::npos);
  EXPECT_NE(second.error().message.find("pid " + std::to_string(::getpid())), std::string::npos);
  first->reset();
  EXPECT_TRUE(CacheDirLock::acquire(dir_));  // released with its owner
}

TEST_F(CacheDirLockTest, the_kernel_releases_the_lock_of_a_killed_daemon) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto lock = CacheDirLock::acquire(dir_);
    char ok = lock ? 'y' : 'n';
    (void)!::write(ready[1], &ok, 1);
    ::pause();  // held until SIGKILL
    ::_exit(0);
  }
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ASSERT_EQ(ok, 'y');
  auto refused = CacheDirLock::acquire(dir_);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("pid " + std::to_string(child)), std::string::npos);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  auto after = CacheDirLock::acquire(dir_);
  EXPECT_TRUE(after) << after.error().describe();
}

}  // namespace
}  // namespace pinfs::cache
