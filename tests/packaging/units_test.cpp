// `systemd-analyze verify` of both units passes (issue 13 item 6). verify checks that ExecStart's program
// exists and that Documentation= man pages resolve, so it runs in a private mount namespace with the built
// pinfs laid over /usr/bin and MANPATH at the built man pages: the units are verified as shipped.
#include <gtest/gtest.h>

#include "namespace_support.hpp"

namespace pinfs::testing {
namespace {

class Units : public ::testing::Test {
 protected:
  void SetUp() override { root_ = make_temp_dir("pinfs-units-"); }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  RunResult verify(const std::string& name, const std::string& command) {
    std::filesystem::create_directories(root_ + "/runtime");
    return run_in_mount_namespace(
        root_, name, {{"/usr/bin", {{"pinfs", pinfs_binary()}}}}, command,
        hermetic_env({"MANPATH=" + std::string(PINFS_BINARY_DIR) + "/docs/man",
                      "XDG_RUNTIME_DIR=" + root_ + "/runtime", "SYSTEMD_LOG_LEVEL=notice"}));
  }

  std::string root_;
};

TEST_F(Units, SystemUnitVerifies) {
  const std::string unit = std::string(PINFS_SOURCE_DIR) + "/systemd/pinfs@.service";
  EXPECT_NE(slurp(unit).find("\nDocumentation=man:pinfs(1)"), std::string::npos);
  auto r = verify("system", "systemd-analyze verify " + shq(unit) + "\n");
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(r.err + r.out, "") << "systemd-analyze verify has remarks";
}

TEST_F(Units, UserUnitVerifies) {
  const std::string unit = std::string(PINFS_SOURCE_DIR) + "/systemd/user/pinfs@.service";
  EXPECT_NE(slurp(unit).find("\nDocumentation=man:pinfs(1)"), std::string::npos);
  auto r = verify("user", "systemd-analyze --user verify " + shq(unit) + "\n");
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(r.err + r.out, "") << "systemd-analyze --user verify has remarks";
}

// The check itself: a unit whose program is missing does not verify (so the tests above can fail).
TEST_F(Units, VerifyCatchesAMissingProgram) {
  const std::string unit = root_ + "/broken@.service";
  std::ofstream(unit) << "[Unit]\nDescription=broken\n[Service]\nExecStart=/usr/bin/pinfs-no-such-program\n";
  auto r = verify("broken", "systemd-analyze verify " + shq(unit) + "\n");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("pinfs-no-such-program"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace pinfs::testing
