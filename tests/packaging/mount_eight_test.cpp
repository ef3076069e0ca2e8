// mount(8) itself runs the helper (issue 13 item 5): `mount -t fuse.pinfs PROFILE DIR -o config=…` and an
// fstab line with `mount -T FSTAB DIR`, in a private mount namespace with packaging/mount.fuse.pinfs laid
// over /usr/sbin. The profile, config file and credential files are the README's quick start.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>

#include "../mount/mount_test_support.hpp"
#include "namespace_support.hpp"

namespace pinfs::testing {
namespace {

class MountEight : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    root_ = make_temp_dir("pinfs-mount8-");
    mnt_ = root_ + "/mnt";
    std::filesystem::create_directories(mnt_);
    try {
      emulator_ = std::make_unique<EmulatorProcess>();
    } catch (const std::exception& e) {
      FAIL() << e.what();
    }
    const bool aioz = GetParam() == "aioz";
    // The quick start: a config file with one profile, the secrets in 0600 files it names.
    std::string profile = "[profiles.emu]\nprovider = \"" + GetParam() + "\"\napi_url = \"" +
                          emulator_->base_url() + (aioz ? "/api" : "") + "\"\ngateway_url = \"" +
                          emulator_->base_url() + "\"\n";
    if (aioz) {
      write_private(root_ + "/aioz.key", emulator_->api_key() + "\n");
      write_private(root_ + "/aioz.secret", emulator_->api_secret() + "\n");
      profile +=
          "api_key_file = \"" + root_ + "/aioz.key\"\napi_secret_file = \"" + root_ + "/aioz.secret\"\n";
    } else {
      write_private(root_ + "/pinata.jwt", emulator_->jwt() + "\n");
      profile += "jwt_file = \"" + root_ + "/pinata.jwt\"\n";
    }
    config_ = root_ + "/config.toml";
    std::ofstream(config_) << profile;
  }

  void TearDown() override {
    // The mounts live in the namespace, which goes once its last process, a daemon, is gone.
    for (pid_t pid : daemons_for(mnt_)) {
      ::kill(pid, SIGTERM);
      for (int i = 0; i < 500 && ::kill(pid, 0) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (::kill(pid, 0) == 0) ::kill(pid, SIGKILL);
    }
    emulator_.reset();
    std::error_code ec;
    if (!is_mountpoint(mnt_)) std::filesystem::remove_all(root_, ec);
  }

  static void write_private(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
    ::chmod(path.c_str(), 0600);
  }

  static std::vector<pid_t> daemons_for(const std::string& mountpoint) {
    std::vector<pid_t> pids;
    DIR* proc = ::opendir("/proc");
    if (proc == nullptr) return pids;
    while (dirent* e = ::readdir(proc)) {
      pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
      if (pid <= 0 || pid == ::getpid()) continue;
      std::string cmdline = slurp("/proc/" + std::string(e->d_name) + "/cmdline");
      for (auto& c : cmdline)
        if (c == '\0') c = ' ';
      if (cmdline.find(" mount ") != std::string::npos && cmdline.find(mountpoint) != std::string::npos &&
          cmdline.find("pinfs") != std::string::npos && cmdline.find("unshare") == std::string::npos)
        pids.push_back(pid);
    }
    ::closedir(proc);
    return pids;
  }

  // The helper over /usr/sbin; pinfs from the build tree (the helper honours PINFS=).
  RunResult in_namespace(const std::string& name, const std::string& script) {
    const std::string helper = std::string(PINFS_SOURCE_DIR) + "/packaging/mount.fuse.pinfs";
    return run_in_mount_namespace(root_, name, {{"/usr/sbin", {{"mount.fuse.pinfs", helper}}}}, script,
                                  hermetic_env({"PINFS=" + pinfs_binary(), "HOME=" + root_}));
  }

  // Unmounts however the script ends, so the namespace never outlives it with a mount in it.
  std::string cleanup_trap() const {
    return "trap 'if mountpoint -q " + shq(mnt_) + "; then " + shq(pinfs_binary()) + " unmount --force " +
           shq(mnt_) + " || umount -l " + shq(mnt_) + "; fi' EXIT\n";
  }

  std::string root_, mnt_, config_;
  std::unique_ptr<EmulatorProcess> emulator_;
};

// mount -t fuse.pinfs, cp in, the CID as `pinfs cid` computes it, umount(8); then the fstab line mounts
// the same account afresh (a new cache) and reads the file back from the service.
TEST_P(MountEight, MountTypeAndFstabLineWorkThroughMount8) {
  const std::string data = write_random_file(root_ + "/in.bin", 300000, 13);
  const std::string expected_cid = local_cid(root_ + "/in.bin");
  const std::string m = shq(mnt_);
  std::string script = cleanup_trap();
  script += "mount -t fuse.pinfs emu " + m + " -o config=" + shq(config_) +
            ",cache_dir=" + shq(root_ + "/cache1") + ",allow_other\n";
  script += "grep ' '" + m + "' ' /proc/self/mountinfo > " + shq(root_ + "/mountinfo1") + "\n";
  script += "cp " + shq(root_ + "/in.bin") + " " + m + "/\n";
  script += "getfattr --only-values -n user.pinfs.cid " + m + "/in.bin > " + shq(root_ + "/cid") + "\n";
  script += "umount " + m + "\n";
  // umount(8) returns at once; the daemon exits once it has unmounted.
  script += "for i in $(seq 300); do pgrep -f 'pinfs mount '" + m + " >/dev/null || break; sleep 0.1; done\n";
  script += "! mountpoint -q " + m + "\n";
  script += "printf '%s\\n' '# pinfs, as in mount.fuse.pinfs(8)' 'emu " + mnt_ +
            " fuse.pinfs noauto,_netdev,nofail,x-systemd.automount,config=" + config_ +
            ",cache_dir=" + root_ + "/cache2,default_permissions 0 0' > " + shq(root_ + "/fstab") + "\n";
  script += "mount -T " + shq(root_ + "/fstab") + " " + m + "\n";
  script += "grep ' '" + m + "' ' /proc/self/mountinfo > " + shq(root_ + "/mountinfo2") + "\n";
  script += "ls " + m + " > " + shq(root_ + "/ls") + "\n";
  script += "cat " + m + "/in.bin > " + shq(root_ + "/out.bin") + "\n";
  script += shq(pinfs_binary()) + " unmount " + m + "\n";
  auto r = in_namespace("mount8", script);
  ASSERT_EQ(r.exit_code, 0) << "script failed:\n"
                            << r.err << r.out << "\nemulator log:\n"
                            << emulator_->stderr_text();
  EXPECT_FALSE(is_mountpoint(mnt_)) << "a mount made in the namespace is visible outside it";

  const std::string first = slurp(root_ + "/mountinfo1");
  EXPECT_NE(first.find("fuse.pinfs"), std::string::npos) << first;
  EXPECT_NE(first.find("allow_other"), std::string::npos) << "allow_other did not reach libfuse: " << first;
  EXPECT_EQ(slurp(root_ + "/cid"), expected_cid);
  const std::string second = slurp(root_ + "/mountinfo2");
  EXPECT_NE(second.find("fuse.pinfs"), std::string::npos) << second;
  EXPECT_NE(second.find("default_permissions"), std::string::npos) << "the fstab options: " << second;
  EXPECT_EQ(slurp(root_ + "/ls"), "in.bin\n");
  EXPECT_TRUE(slurp(root_ + "/out.bin") == data) << "read back through the fstab mount differs";
}

// A mistake in the options is mount(8)'s failure, with the helper's message, and nothing is mounted.
TEST_P(MountEight, BadOptionFailsTheMountCommand) {
  std::string script = cleanup_trap();
  script += "if mount -t fuse.pinfs emu " + shq(mnt_) + " -o config=" + shq(config_) + ",upload 2> " +
            shq(root_ + "/err") + "; then exit 3; fi\n";
  script += "! mountpoint -q " + shq(mnt_) + "\n";
  auto r = in_namespace("bad", script);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(slurp(root_ + "/err").find("mount.fuse.pinfs: option upload needs a value"), std::string::npos)
      << slurp(root_ + "/err");
}

INSTANTIATE_TEST_SUITE_P(Providers, MountEight, ::testing::ValuesIn(kProviders), provider_name);

}  // namespace
}  // namespace pinfs::testing
