// Mount table parsing and the mountpoint checks `pinfs mount` makes before touching the service.
#include "pinfs/cli/mountpoint.hpp"

#include <gtest/gtest.h>

#include "cli_test_support.hpp"

namespace pinfs::cli {
namespace {

using testing::TempDir;

TEST(MountInfo, ParsesFstypeSourceAndEscapedMountpoints) {
  const std::string text =
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
      "95 22 0:50 / /mnt/my\\040drive rw,nosuid,nodev,relatime shared:60 - fuse.pinfs pinfs:work "
      "rw,user_id=0,group_id=0\n"
      "96 22 0:51 / /tmp/x rw master:3 shared:4 - tmpfs tmpfs rw\n"
      "garbage line\n";
  auto mounts = parse_mountinfo(text);
  ASSERT_EQ(mounts.size(), 3u);
  EXPECT_EQ(mounts[0].mountpoint, "/");
  EXPECT_EQ(mounts[0].fstype, "ext4");
  EXPECT_EQ(mounts[1].mountpoint, "/mnt/my drive");
  EXPECT_EQ(mounts[1].fstype, kFuseType);
  EXPECT_EQ(mounts[1].source, "pinfs:work");
  EXPECT_EQ(mounts[2].fstype, "tmpfs");  // two optional fields before the dash
}

TEST(MountInfo, ReadsThisProcessTable) {
  auto root = mounted_at("/");
  ASSERT_TRUE(root.has_value());
  EXPECT_FALSE(root->fstype.empty());
}

TEST(Mountpoint, MissingDirectorySaysHowToCreateIt) {
  TempDir dir;
  auto r = check_mountpoint(dir.path() + "/nope");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum, ENOENT);
  EXPECT_NE(r.error().message.find("mkdir -p " + dir.path() + "/nope"), std::string::npos)
      << r.error().message;
}

TEST(Mountpoint, FileIsNotADirectory) {
  TempDir dir;
  auto r = check_mountpoint(dir.write("file", "x"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum, ENOTDIR);
}

TEST(Mountpoint, AlreadyMountedIsRefused) {
  auto r = check_mountpoint("/proc");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum, EBUSY);
  EXPECT_NE(r.error().message.find("already a mountpoint"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("proc"), std::string::npos) << r.error().message;
}

TEST(Mountpoint, EmptyDirectoryIsCanonicalised) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/a/mnt");
  std::filesystem::create_symlink(dir.path() + "/a/mnt", dir.path() + "/link");
  auto r = check_mountpoint(dir.path() + "/link/");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, std::filesystem::canonical(dir.path() + "/a/mnt").string());
}

TEST(Mountpoint, AbsolutePathResolvesTheParentButNotTheLeaf) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/real/mnt");
  std::filesystem::create_symlink(dir.path() + "/real", dir.path() + "/alias");
  const std::string real = std::filesystem::canonical(dir.path() + "/real").string();
  EXPECT_EQ(absolute_path(dir.path() + "/alias/mnt/"), real + "/mnt");
  EXPECT_EQ(absolute_path(dir.path() + "/alias/gone"), real + "/gone");  // need not exist
  EXPECT_EQ(absolute_path("/"), "/");
}

TEST(Mountpoint, UnmountingSomethingNotMountedReportsFusermountsReason) {
  TempDir dir;
  auto r = fusermount_unmount(dir.path(), false);
  ASSERT_FALSE(r);
  EXPECT_FALSE(r.error().message.empty());
}

}  // namespace
}  // namespace pinfs::cli
