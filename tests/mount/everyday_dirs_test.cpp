// Everyday programs on trees, on a real mount against the emulator: each result is compared with what the
// same program does on a local directory, after the upload and again after a remount. Where pinfs differs,
// docs/SEMANTICS.md says so ([dirpin.rm], [dir.empty], [dir.verify], [dir.symlink], [dir.sizes]).
// Helpers stay local to this file (tests/mount/everyday_support.hpp belongs to the files suite).
#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "mount_test_support.hpp"

namespace pinfs::testing {
namespace {

namespace fs = std::filesystem;

RunResult sh(const std::string& command, std::chrono::seconds timeout = std::chrono::seconds(120)) {
  return run_shell(command, timeout);
}

// A tree with what trips ordinary copies: nested and empty directories (one nested inside another empty
// one), an empty file, a file of several leaves, names with spaces and a leading dash.
void make_tree(const std::string& root) {
  fs::create_directories(root + "/a/b/c");
  fs::create_directories(root + "/empty");
  fs::create_directories(root + "/only-dirs/inner-empty");
  fs::create_directories(root + "/with space");
  write_random_file(root + "/top.bin", 3 * 262144 + 17, 1);
  write_random_file(root + "/a/one.txt", 1000, 2);
  write_random_file(root + "/a/b/two.txt", 5, 3);
  write_random_file(root + "/a/b/c/three.bin", 70000, 4);
  write_random_file(root + "/with space/-dash", 42, 5);
  std::ofstream(root + "/zero");  // empty file
}

// `find`'s view of a tree: type and relative path of every entry, sorted.
std::string find_types(const std::string& root) {
  auto r = sh("cd " + shq(root) + " && find . -mindepth 1 -printf '%y %P\\n' | LC_ALL=C sort");
  return r.exit_code == 0 ? r.out : "<find failed: " + r.err + ">";
}

// `du -ab`'s figures for the regular files of a tree (directories' own sizes differ: [dir.sizes]).
std::string du_files(const std::string& root) {
  auto r = sh("cd " + shq(root) +
              " && du -ab . | while IFS=\"$(printf '\\t')\" read -r size path; do [ -f \"$path\" ] && "
              "printf '%s %s\\n' \"$size\" \"$path\"; done | LC_ALL=C sort -k2");
  return r.exit_code == 0 ? r.out : "<du failed: " + r.err + ">";
}

std::uint64_t du_s(const std::string& path) {
  auto r = sh("du -sb " + shq(path));
  return r.exit_code == 0 ? std::stoull(r.out) : ~0ull;
}

// Every byte and name: diff -r exits 0 (and says nothing).
std::string diff_r(const std::string& a, const std::string& b) {
  auto r = sh("diff -r --no-dereference " + shq(a) + " " + shq(b));
  return r.exit_code == 0 ? "" : "diff -r exit " + std::to_string(r.exit_code) + ":\n" + r.out + r.err;
}

// fsync of the new directory: it is uploaded now as one directory pin (DESIGN.md §3).
RunResult fsync_dir(const std::string& path) {
  return run_process(
      {"/usr/bin/python3", "-c", "import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)", path},
      hermetic_env(), std::chrono::seconds(120));
}

class EverydayDirs : public MountTest {
 protected:
  void unmount_and_remount() {
    auto r = m().pinfs({"unmount", m().mnt()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(m().wait_daemon(), 0) << m().daemon_log();
    m().remount();
  }
  // The pin is a directory pin with a checked CID.
  void expect_pinned_dir(const std::string& name) {
    auto f = fsync_dir(m().path(name));
    ASSERT_EQ(f.exit_code, 0) << f.err;
    EXPECT_EQ(xattr(m().path(name), "user.pinfs.status"), "pinned");
    EXPECT_EQ(xattr(m().path(name), "user.pinfs.verified"), "true");
    auto pin = m().remote_pin_named(name);
    ASSERT_TRUE(pin) << name << " is not pinned on the service";
    EXPECT_EQ(pin->cid, xattr(m().path(name), "user.pinfs.cid"));
  }
  // The same checks, on the mount as it is now: names, types, bytes, sizes.
  void expect_same_tree(const std::string& local, const std::string& mounted) {
    EXPECT_EQ(diff_r(local, mounted), "");
    EXPECT_EQ(find_types(mounted), find_types(local));
    EXPECT_EQ(du_files(mounted), du_files(local));
  }
};

// cp -a into a new directory; find, du, diff -r after the upload and after a remount; then rm -rf of the pin.
TEST_P(EverydayDirs, CpATreeThenFindDuDiffAndRmRf) {
  const std::string tree = src("tree");
  make_tree(tree);
  auto cp = sh("cp -a " + shq(tree) + " " + shq(m().path("tree")));
  ASSERT_EQ(cp.exit_code, 0) << cp.err;
  expect_same_tree(tree, m().path("tree"));  // while still local
  expect_pinned_dir("tree");
  expect_same_tree(tree, m().path("tree"));  // as the directory pin (empty directories included)
  std::uint64_t bytes = 0;
  for (auto& e : fs::recursive_directory_iterator(tree))
    if (e.is_regular_file()) bytes += e.file_size();
  // Subdirectories count 0 bytes on the mount, the pin's top directory the pin's size ([dir.sizes]).
  struct stat top {};
  ASSERT_EQ(::stat(m().path("tree").c_str(), &top), 0);
  EXPECT_GT(top.st_size, 0);
  EXPECT_EQ(du_s(m().path("tree")), bytes + static_cast<std::uint64_t>(top.st_size));
  ASSERT_NO_FATAL_FAILURE(unmount_and_remount());
  expect_same_tree(tree, m().path("tree"));

  auto rm = sh("rm -rf " + shq(m().path("tree")));
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_FALSE(fs::exists(m().path("tree")));
  EXPECT_FALSE(m().remote_pin_named("tree")) << "rm -rf did not unpin the directory";
  ASSERT_NO_FATAL_FAILURE(unmount_and_remount());
  EXPECT_FALSE(fs::exists(m().path("tree")));
}

// tar x of an archive into a new directory, diff -r against the source, tar c of the mount.
TEST_P(EverydayDirs, TarXThenDiffAndTarC) {
  const std::string tree = src("t");
  make_tree(tree);
  fs::create_symlink("a/one.txt", tree + "/link");
  const std::string archive = src("t.tar");
  ASSERT_EQ(sh("tar cf " + shq(archive) + " -C " + shq(tree) + " .").exit_code, 0);
  ASSERT_EQ(::mkdir(m().path("x").c_str(), 0755), 0);
  auto x = sh("tar xf " + shq(archive) + " -C " + shq(m().path("x")));
  // Symlinks can only be made at the root, as pin-by-CID links ([dir.symlink]): tar says so for the one
  // symlink and extracts everything else.
  EXPECT_EQ(x.exit_code, 2) << x.err;
  EXPECT_NE(x.err.find("link"), std::string::npos) << x.err;
  std::istringstream errors(x.err);
  for (std::string line; std::getline(errors, line);)
    if (!line.empty() && line.find("link") == std::string::npos &&
        line.find("Exiting with failure") == std::string::npos)
      ADD_FAILURE() << "tar x: " << line;
  fs::remove(tree + "/link");  // what the mount holds is the source without its symlink
  expect_same_tree(tree, m().path("x"));
  expect_pinned_dir("x");
  expect_same_tree(tree, m().path("x"));

  // tar c of the mount, extracted locally, is the tree again.
  const std::string back = src("back");
  fs::create_directories(back);
  auto c = sh("tar cf - -C " + shq(m().path("x")) + " . | tar xf - -C " + shq(back));
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(diff_r(tree, back), "");
  ASSERT_NO_FATAL_FAILURE(unmount_and_remount());
  expect_same_tree(tree, m().path("x"));
}

// git clone into a new directory, then git log and git status in it once it is a directory pin. The
// clone's empty directories (.git/refs/tags, .git/objects/info, …) are part of the pin.
TEST_P(EverydayDirs, GitCloneThenLogAndStatusOncePinned) {
  const std::string repo = src("repo");
  fs::create_directories(repo + "/docs");
  write_random_file(repo + "/docs/guide.txt", 3000, 7);
  { std::ofstream(repo + "/README") << "hello\n"; }
  const std::string git = "git -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main ";
  auto init = sh("cd " + shq(repo) + " && " + git + "init -q && " + git + "add -A && " + git +
                 "commit -qm first && echo more >> README && " + git + "commit -qam second");
  ASSERT_EQ(init.exit_code, 0) << init.err;
  const std::string local = src("clone");
  ASSERT_EQ(sh(git + "clone -q --no-hardlinks " + shq(repo) + " " + shq(local)).exit_code, 0);
  auto clone = sh(git + "clone -q --no-hardlinks " + shq(repo) + " " + shq(m().path("clone")));
  ASSERT_EQ(clone.exit_code, 0) << clone.err;
  expect_pinned_dir("clone");
  // The work tree and every name of .git, empty directories included (contents of .git differ only where
  // git writes paths or times).
  EXPECT_EQ(find_types(m().path("clone")), find_types(local));
  EXPECT_EQ(diff_r(local + "/docs", m().path("clone/docs")), "");
  EXPECT_EQ(slurp(m().path("clone/README")), slurp(repo + "/README"));
  auto log = sh("git -C " + shq(m().path("clone")) + " log --format=%s");
  EXPECT_EQ(log.exit_code, 0) << log.err;
  EXPECT_EQ(log.out, "second\nfirst\n");
  auto status = sh("git -C " + shq(m().path("clone")) + " status --porcelain");
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(status.out, "");
  ASSERT_NO_FATAL_FAILURE(unmount_and_remount());
  log = sh("git -C " + shq(m().path("clone")) + " log --format=%s");
  EXPECT_EQ(log.out, "second\nfirst\n") << log.err;
  EXPECT_EQ(find_types(m().path("clone")), find_types(local));
}

// python3 shutil.copytree (copy2 + copystat on every entry) into a new directory.
TEST_P(EverydayDirs, PythonCopytree) {
  const std::string tree = src("py");
  make_tree(tree);
  auto r = run_process({"/usr/bin/python3", "-c",
                        "import shutil,sys; shutil.copytree(sys.argv[1], sys.argv[2])", tree, m().path("py")},
                       hermetic_env(), std::chrono::seconds(120));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_pinned_dir("py");
  expect_same_tree(tree, m().path("py"));
  ASSERT_NO_FATAL_FAILURE(unmount_and_remount());
  expect_same_tree(tree, m().path("py"));
}

// rm -rf of a new directory before it is uploaded: all gone, nothing uploaded.
TEST_P(EverydayDirs, RmRfOfANewDirectoryUploadsNothing) {
  const std::string tree = src("n");
  make_tree(tree);
  const auto uploads_before = m().emulator_uploads();
  auto r = sh("cp -a " + shq(tree) + " " + shq(m().path("n")) + " && rm -rf " + shq(m().path("n")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(m().path("n")));
  ASSERT_NO_FATAL_FAILURE(unmount_and_remount());  // unmount uploads what is pending: nothing
  EXPECT_EQ(m().emulator_uploads(), uploads_before);
  EXPECT_FALSE(m().remote_pin_named("n"));
  EXPECT_FALSE(fs::exists(m().path("n")));
}

// Removing a few entries of a directory pin (not the whole of it) does not change the pin: they come back.
TEST_P(EverydayDirs, RmOfSomeEntriesOfAPinDoesNotUnpin) {
  const std::string tree = src("k");
  make_tree(tree);
  ASSERT_EQ(sh("cp -a " + shq(tree) + " " + shq(m().path("k"))).exit_code, 0);
  expect_pinned_dir("k");
  auto rm = sh("rm " + shq(m().path("k/a/one.txt")));
  EXPECT_EQ(rm.exit_code, 0) << rm.err;  // hidden, pending the removal of k ([dirpin.rm])
  EXPECT_TRUE(m().remote_pin_named("k"));
  ASSERT_NO_FATAL_FAILURE(unmount_and_remount());  // a new mount shows the pin as it is
  expect_same_tree(tree, m().path("k"));
}

// The upload's reply names another CID (the emulator's wrong_cid fault): a clear error at fsync, the files
// stay staged and readable, the status says why; once the fault is gone the same tree is pinned.
TEST_P(EverydayDirs, WrongDirectoryCidIsAnErrorAndLosesNothing) {
  const std::string tree = src("w");
  make_tree(tree);
  ASSERT_EQ(sh("cp -a " + shq(tree) + " " + shq(m().path("w"))).exit_code, 0);
  const std::string prefix = GetParam() == "aioz" ? "/api/pinning/" : "/pinning/pinFileToIPFS";
  m().emulator().request("POST", "/_emulator/faults",
                         R"({"path_prefix":")" + prefix + R"(","action":"wrong_cid"})");
  auto failed = fsync_dir(m().path("w"));
  EXPECT_NE(failed.exit_code, 0);
  EXPECT_NE(failed.err.find("Input/output error"), std::string::npos) << failed.err;
  EXPECT_TRUE(xattr(m().path("w"), "user.pinfs.status").starts_with("failed: CID mismatch"))
      << xattr(m().path("w"), "user.pinfs.status");
  auto status = m().pinfs({"status", m().mnt()});
  EXPECT_NE(status.out.find("CID mismatch"), std::string::npos) << status.out << status.err;
  expect_same_tree(tree, m().path("w"));  // still the staged files
  m().emulator().request("DELETE", "/_emulator/faults");
  expect_pinned_dir("w");
  expect_same_tree(tree, m().path("w"));
}

INSTANTIATE_TEST_SUITE_P(Providers, EverydayDirs, ::testing::ValuesIn(kProviders), provider_name);

}  // namespace
}  // namespace pinfs::testing
