// pinfs@.service run by systemd itself (issue 13 item 6): systemd boots as PID 1 of a systemd-nspawn
// container (--volatile=yes: an empty tmpfs root with the host's /usr, so nothing of the host changes), the
// shipped unit laid in /etc/systemd/system, the built pinfs laid over /usr/bin/pinfs with an overlay, the
// profile in /etc/pinfs. `systemctl start` returns once systemd heard READY=1 (Type=notify); a file copied
// in is still uploading (the emulator stalls it) when `systemctl stop` is given, and the upload is pinned by
// the time the stop returns. The container shares the host's network, so the emulator on 127.0.0.1 is
// reachable; it is powered off by the test however the test ends.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include "../mount/mount_test_support.hpp"

namespace pinfs::testing {
namespace {

class SystemdService : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = make_temp_dir("pinfs-systemd-");
    try {
      emulator_ = std::make_unique<EmulatorProcess>();
    } catch (const std::exception& e) {
      FAIL() << e.what();
    }
    for (const char* dir : {"/etc", "/share", "/usr-upper/bin"})
      std::filesystem::create_directories(root_ + dir);
    std::ofstream(root_ + "/etc/emu.jwt") << emulator_->jwt() << "\n";
    ::chmod((root_ + "/etc/emu.jwt").c_str(), 0600);
    std::ofstream(root_ + "/etc/config.toml")
        << "[profiles.emu]\nprovider = \"pinata\"\napi_url = \"" << emulator_->base_url()
        << "\"\ngateway_url = \"" << emulator_->base_url()
        << "\"\njwt_file = \"/etc/pinfs/emu.jwt\"\nupload = \"async\"\n";
    std::filesystem::create_symlink("/opt/pinfs-build/pinfs", root_ + "/usr-upper/bin/pinfs");
  }

  void TearDown() override {
    if (container_ > 0) {
      if (HasFailure()) std::cerr << "--- container console ---\n" << slurp(root_ + "/console.log") << "\n";
      ::kill(container_, SIGTERM);  // nspawn powers the container off
      int status = 0;
      bool reaped = false;
      for (int i = 0; i < 600 && !reaped; ++i) {
        reaped = ::waitpid(container_, &status, WNOHANG) == container_;
        if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (!reaped) {
        ::kill(container_, SIGKILL);
        ::waitpid(container_, &status, 0);
      }
    }
    emulator_.reset();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  void boot() {
    std::vector<std::string> args = {"systemd-nspawn",
                                     "--quiet",
                                     "--volatile=yes",
                                     "--directory=/",
                                     "--register=no",
                                     "--keep-unit",
                                     "--console=passive",
                                     "--overlay-ro=/usr:" + root_ + "/usr-upper:/usr",
                                     "--bind-ro=" + std::string(PINFS_BINARY_DIR) + ":/opt/pinfs-build",
                                     "--bind-ro=" + std::string(PINFS_SOURCE_DIR) +
                                         "/systemd/pinfs@.service:/etc/systemd/system/pinfs@.service",
                                     "--bind-ro=" + root_ + "/etc:/etc/pinfs",
                                     "--bind-ro=" + root_ + "/share:/opt/pinfs-share",
                                     "--bind=/dev/fuse",
                                     "--boot",
                                     "systemd.firstboot=off",
                                     "systemd.unit=basic.target"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log = root_ + "/console.log";
    container_ = ::fork();
    ASSERT_GE(container_, 0);
    if (container_ == 0) {
      ::setsid();
      int in = ::open("/dev/null", O_RDONLY);
      int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(in, STDIN_FILENO);
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    // The container's PID 1 is nspawn's child once that child has become systemd (before, it is still
    // nspawn setting the container up, in the host's namespaces).
    for (int i = 0; i < 600 && leader_.empty(); ++i) {
      std::string children =
          slurp("/proc/" + std::to_string(container_) + "/task/" + std::to_string(container_) + "/children");
      std::string child = children.substr(0, children.find(' '));
      if (!child.empty() && slurp("/proc/" + child + "/comm") == "systemd\n") leader_ = child;
      if (leader_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_FALSE(leader_.empty()) << "systemd-nspawn started no container: " << slurp(log);
    // systemctl cannot connect until PID 1 has set up its bus; then --wait waits for the boot to end.
    RunResult up;
    for (int i = 0; i < 600; ++i) {
      up = in_container({"systemctl", "is-system-running", "--wait"}, std::chrono::seconds(120));
      if (up.err.find("Failed to connect to bus") == std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(up.out.starts_with("running") || up.out.starts_with("degraded"))
        << "systemd did not come up in the container: " << up.out << up.err;
  }

  RunResult in_container(std::vector<std::string> command,
                         std::chrono::seconds timeout = std::chrono::seconds(60)) {
    command.insert(command.begin(), {"nsenter", "--target", leader_, "--all"});
    return run_process(command, hermetic_env(), timeout);
  }

  std::string unit_property(const std::string& property) {
    auto r = in_container({"systemctl", "show", "--value", "-p", property, "pinfs@emu.service"});
    std::string v = r.out;
    while (!v.empty() && v.back() == '\n') v.pop_back();
    return v;
  }

  std::string pinata_pins() {
    const std::string header = root_ + "/auth.header";
    std::ofstream(header) << "Authorization: Bearer " << emulator_->jwt() << "\n";
    auto r = run_process(
        {"curl", "-sS", "-H", "@" + header, emulator_->base_url() + "/data/pinList?status=pinned"},
        hermetic_env());
    return r.out + r.err;
  }

  std::string root_, leader_;
  pid_t container_ = -1;
  std::unique_ptr<EmulatorProcess> emulator_;
};

TEST_F(SystemdService, StartsOnReadyAndStopFinishesThePendingUpload) {
  boot();
  if (HasFatalFailure()) return;

  auto start = in_container({"systemctl", "start", "pinfs@emu.service"});
  ASSERT_EQ(start.exit_code, 0) << "systemctl start: " << start.err
                                << in_container({"journalctl", "-u", "pinfs@emu", "--no-pager"}).out;
  // Type=notify: start returned because systemd heard READY=1, which pinfs sends once the mount is live.
  EXPECT_EQ(unit_property("ActiveState"), "active");
  EXPECT_EQ(unit_property("SubState"), "running");
  EXPECT_NE(in_container({"grep", " /mnt/pinfs/emu ", "/proc/self/mountinfo"}).out.find("fuse.pinfs"),
            std::string::npos);

  // The next upload stalls for 4 s at the emulator: it is pending when the stop comes.
  emulator_->request("POST", "/_emulator/faults",
                     R"({"method":"POST","path_prefix":"/pinning/pinFileToIPFS","action":"stall",)"
                     R"("stall_ms":4000,"times":1})");
  const std::string data = write_random_file(root_ + "/share/in.bin", 200000, 21);
  const std::string cid = local_cid(root_ + "/share/in.bin");
  auto cp = in_container({"cp", "/opt/pinfs-share/in.bin", "/mnt/pinfs/emu/"});
  ASSERT_EQ(cp.exit_code, 0) << cp.err;
  auto status =
      in_container({"getfattr", "--only-values", "-n", "user.pinfs.status", "/mnt/pinfs/emu/in.bin"});
  EXPECT_TRUE(status.out == "queued" || status.out == "uploading") << "not pending: '" << status.out << "'";
  EXPECT_EQ(pinata_pins().find("in.bin"), std::string::npos) << "pinned before the stop";

  auto stop = in_container({"systemctl", "stop", "pinfs@emu.service"}, std::chrono::seconds(120));
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_EQ(unit_property("ActiveState"), "inactive");
  EXPECT_EQ(unit_property("Result"), "success");
  EXPECT_EQ(unit_property("ExecMainStatus"), "0");
  const std::string pins = pinata_pins();
  EXPECT_NE(pins.find("\"name\":\"in.bin\""), std::string::npos) << "the upload did not finish: " << pins;
  EXPECT_NE(pins.find(cid), std::string::npos) << "pinned with another CID than " << cid << ": " << pins;
  EXPECT_NE(
      in_container({"journalctl", "-u", "pinfs@emu", "--no-pager"}).out.find("Deactivated successfully"),
      std::string::npos);
}

}  // namespace
}  // namespace pinfs::testing
