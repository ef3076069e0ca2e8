// [write.disk-full] The cache dir's file system full (a small tmpfs under the staging area): the writer gets
// ENOSPC at write(2) or close(2), the incomplete file is never uploaded, what was pinned or staged before
// reads back intact, and once space is freed the mount takes new files again — also after a remount.
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "mount_test_support.hpp"

namespace pinfs::testing {
namespace {

constexpr std::size_t kMiB = 1u << 20;

// A tmpfs of `mib` MiB on a fresh directory, unmounted (lazily, so a busy one cannot leak) when it goes.
class SmallTmpfs {
 public:
  explicit SmallTmpfs(std::size_t mib) : dir_(make_temp_dir("pinfs-disk-full-")) {
    const std::string options = "size=" + std::to_string(mib) + "m,mode=0700";
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0)
      throw std::runtime_error("mount tmpfs on " + dir_ + ": " + std::strerror(errno) + " (needs root)");
  }
  ~SmallTmpfs() {
    ::umount2(dir_.c_str(), MNT_DETACH);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  SmallTmpfs(const SmallTmpfs&) = delete;
  SmallTmpfs& operator=(const SmallTmpfs&) = delete;
  const std::string& dir() const { return dir_; }
  std::uint64_t used_bytes() const {
    struct statvfs st {};
    if (::statvfs(dir_.c_str(), &st) != 0) return ~0ull;
    return (st.f_blocks - st.f_bfree) * st.f_frsize;
  }

 private:
  std::string dir_;
};

class DiskFull : public ::testing::TestWithParam<std::string> {};

TEST_P(DiskFull, the_writer_gets_enospc_and_nothing_is_corrupted) {
  SmallTmpfs disk(8);
  PinfsMount::Options options;
  options.provider = GetParam();
  options.cache_dir = disk.dir() + "/cache";
  PinfsMount m(options);

  const std::string before = write_random_file(m.scratch() + "/before.bin", kMiB, 1);
  ASSERT_EQ(run_process({"cp", m.scratch() + "/before.bin", m.path("before.bin")}, hermetic_env()).exit_code,
            0);
  const std::string before_cid = local_cid(m.scratch() + "/before.bin");

  // Three times the disk: cp must fail, and say why.
  write_random_file(m.scratch() + "/big.bin", 24 * kMiB, 2);
  auto big = run_process({"cp", m.scratch() + "/big.bin", m.path("big.bin")}, hermetic_env());
  EXPECT_NE(big.exit_code, 0) << "cp of 24 MiB onto an 8 MiB cache dir succeeded";
  EXPECT_NE(big.err.find("No space left on device"), std::string::npos) << big.err;

  // Nothing of the incomplete file reached the service; what was there is intact.
  for (const auto& pin : m.remote_pins()) EXPECT_NE(pin.name, "big.bin") << "an incomplete file was pinned";
  EXPECT_EQ(cat(m.path("before.bin")), before);
  EXPECT_EQ(xattr(m.path("before.bin"), "user.pinfs.cid"), before_cid);

  // rm frees the space; the next file goes in and is pinned with its local CID.
  ASSERT_EQ(run_process({"rm", "-f", m.path("big.bin")}, hermetic_env()).exit_code, 0);
  EXPECT_LT(disk.used_bytes(), 6 * kMiB) << "rm of the failed file did not free its staged bytes";
  const std::string after = write_random_file(m.scratch() + "/after.bin", kMiB, 3);
  ASSERT_EQ(run_process({"cp", m.scratch() + "/after.bin", m.path("after.bin")}, hermetic_env()).exit_code,
            0);
  EXPECT_EQ(cat(m.path("after.bin")), after);
  EXPECT_EQ(xattr(m.path("after.bin"), "user.pinfs.cid"), local_cid(m.scratch() + "/after.bin"));

  // A remount on the same (still small) cache dir sees both, byte for byte, and no trace of big.bin.
  ASSERT_EQ(run_process({"fusermount3", "-u", m.mnt()}, hermetic_env()).exit_code, 0);
  ASSERT_EQ(m.wait_daemon(), 0) << m.daemon_log();
  m.remount();
  EXPECT_EQ(cat(m.path("before.bin")), before);
  EXPECT_EQ(cat(m.path("after.bin")), after);
  struct stat st {};
  EXPECT_NE(::stat(m.path("big.bin").c_str(), &st), 0);
  std::vector<std::string> names;
  for (const auto& pin : m.remote_pins()) names.push_back(pin.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"after.bin", "before.bin"}));
}

INSTANTIATE_TEST_SUITE_P(Providers, DiskFull, ::testing::Values("pinata", "aioz"), provider_name);

}  // namespace
}  // namespace pinfs::testing
