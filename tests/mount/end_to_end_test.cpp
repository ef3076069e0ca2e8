// The drive as a user meets it, through a real FUSE mount against pinfs-emulator, for both providers:
// cp in, ls -l, cat back, the CID xattr, rm unpins, mv renames without an upload (issue 5 items 1, 4, 6, 7).
#include <gtest/gtest.h>
#include <signal.h>

#include "mount_test_support.hpp"

namespace pinfs::testing {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

using EndToEnd = MountTest;

// [write.sync] [attr.pins] [xattr.readonly] [unlink.unpins]
TEST_P(EndToEnd, CopyInListReadBackCidXattrAndRemove) {
  // More than one 256 KiB chunk, so the CID is a dag-pb root and reads cross chunk boundaries.
  const std::string data = write_random_file(src("photo.bin"), 700 * 1024 + 13, 1);
  auto cp = run_shell("cp " + shq(src("photo.bin")) + " " + shq(m().mnt() + "/"));
  ASSERT_EQ(cp.exit_code, 0) << cp.err;

  auto ls = run_shell("ls -l " + shq(m().mnt()));
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_TRUE(contains(ls.out, "photo.bin")) << ls.out;
  EXPECT_TRUE(contains(ls.out, " " + std::to_string(data.size()) + " ")) << ls.out;

  const std::string back = cat(m().path("photo.bin"), std::chrono::seconds(30));
  EXPECT_TRUE(back == data) << "cat back differs: " << back.size() << " bytes read, " << data.size()
                            << " written" << (back.size() < 300 ? ": " + back : "");

  const std::string cid = local_cid(src("photo.bin"));
  ASSERT_EQ(cid.rfind("bafy", 0), 0u) << cid;
  std::string err;
  EXPECT_EQ(xattr(m().path("photo.bin"), "user.pinfs.cid", &err), cid) << err;

  auto remote = m().remote_pin_named("photo.bin");
  ASSERT_TRUE(remote.has_value()) << "the emulator does not list the pin";
  EXPECT_EQ(remote->cid, cid);

  auto rm = run_shell("rm " + shq(m().path("photo.bin")));
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_FALSE(m().remote_pin_named("photo.bin").has_value()) << "still pinned after rm";
  EXPECT_FALSE(std::filesystem::exists(m().path("photo.bin")));
  auto ls_after = run_shell("ls " + shq(m().mnt()));
  EXPECT_FALSE(contains(ls_after.out, "photo.bin")) << ls_after.out;
}

// [rename.metadata]
TEST_P(EndToEnd, MoveRenamesWithoutUploading) {
  const std::string data = write_random_file(src("draft.txt"), 4096, 2);
  ASSERT_EQ(run_shell("cp " + shq(src("draft.txt")) + " " + shq(m().mnt() + "/")).exit_code, 0);
  auto before = m().remote_pin_named("draft.txt");
  ASSERT_TRUE(before.has_value());
  const std::uint64_t uploads = m().emulator_uploads();
  ASSERT_GE(uploads, 1u);

  auto mv = run_shell("mv " + shq(m().path("draft.txt")) + " " + shq(m().path("final.txt")));
  ASSERT_EQ(mv.exit_code, 0) << mv.err;

  EXPECT_EQ(m().emulator_uploads(), uploads) << "mv uploaded the data again";
  auto after = m().remote_pin_named("final.txt");
  ASSERT_TRUE(after.has_value()) << "no pin named final.txt on the service";
  EXPECT_EQ(after->cid, before->cid);
  EXPECT_FALSE(m().remote_pin_named("draft.txt").has_value());
  EXPECT_FALSE(std::filesystem::exists(m().path("draft.txt")));
  EXPECT_TRUE(cat(m().path("final.txt")) == data) << "content changed by mv";
}

// DESIGN.md §1: SIGTERM: serve returns, pending work finishes, the mount goes away, exit 0.
TEST_P(EndToEnd, SigtermUnmountsCleanly) {
  write_random_file(src("kept.bin"), 10000, 3);
  ASSERT_EQ(run_shell("cp " + shq(src("kept.bin")) + " " + shq(m().mnt() + "/")).exit_code, 0);
  EXPECT_EQ(m().stop_daemon(SIGTERM), 0) << m().daemon_log();
  EXPECT_FALSE(m().mounted());
  EXPECT_TRUE(m().remote_pin_named("kept.bin").has_value());
}

TEST_P(EndToEnd, SigintUnmountsCleanly) {
  EXPECT_EQ(m().stop_daemon(SIGINT), 0) << m().daemon_log();
  EXPECT_FALSE(m().mounted());
}

// DESIGN.md §1: `pinfs unmount` and `pinfs status` on a live mount.
TEST_P(EndToEnd, StatusThenUnmountCommand) {
  write_random_file(src("a.bin"), 5000, 4);
  ASSERT_EQ(run_shell("cp " + shq(src("a.bin")) + " " + shq(m().mnt() + "/")).exit_code, 0);
  auto status = m().pinfs({"status", m().mnt()});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_TRUE(contains(status.out, m().mnt())) << status.out;
  EXPECT_TRUE(contains(status.out, "pinned:")) << status.out;
  EXPECT_TRUE(contains(status.out, "pending:  none")) << status.out;

  auto json = m().pinfs({"status", "--json", m().mnt()});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_TRUE(contains(json.out, "\"pending_uploads\"")) << json.out;

  auto unmount = m().pinfs({"unmount", m().mnt()});
  EXPECT_EQ(unmount.exit_code, 0) << unmount.err;
  EXPECT_FALSE(m().mounted());
  EXPECT_EQ(m().wait_daemon(), 0) << m().daemon_log();

  auto again = m().pinfs({"unmount", m().mnt()});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_TRUE(contains(again.err, "is not mounted")) << again.err;
}

// DESIGN.md §1: a mountpoint that is already mounted is refused before anything happens.
TEST_P(EndToEnd, MountingOverAMountIsRefused) {
  std::vector<std::string> args = {"mount", m().mnt(), "--foreground"};
  for (auto& f : m().mount_flags()) args.push_back(f);
  auto r = m().pinfs(args, m().credential_env());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "already a mountpoint")) << r.err;
  EXPECT_TRUE(m().mounted()) << "the existing mount was disturbed";
}

INSTANTIATE_TEST_SUITE_P(Providers, EndToEnd, ::testing::ValuesIn(kProviders), provider_name);

}  // namespace
}  // namespace pinfs::testing
