// Issue 12, everyday tools on files: each real program runs on a local directory and on the mount, and the
// two results are compared name by name and byte by byte, after the upload and again after a remount.
// Where they differ it is as docs/SEMANTICS.md says: pinned files are 0444 ([attr.pins], chmod not kept,
// [attr.setattr]); everything else, mtimes included ([attr.mtime]), must match.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>

#include "everyday_support.hpp"

namespace pinfs::testing {
namespace {

using everyday::Compare;
using everyday::differences;
using everyday::pin_names;
using everyday::remount;
using everyday::run_in;
using everyday::snapshot;

class EverydayFiles : public MountTest {
 protected:
  void SetUp() override {
    MountTest::SetUp();
    local_ = m().scratch() + "/local";
    from_ = m().scratch() + "/from";
    std::filesystem::create_directories(local_);
    std::filesystem::create_directories(from_);
  }
  // The same command in the local directory and at the mount's root.
  void run_both(const std::string& command) {
    auto here = run_in(local_, command);
    ASSERT_EQ(here.exit_code, 0) << "locally: " << command << "\n" << here.err;
    auto there = run_in(m().mnt(), command);
    ASSERT_EQ(there.exit_code, 0) << "on the mount: " << command << "\n" << there.out << there.err;
  }
  // The mount holds what the local directory holds, and every pin is one of its files, once.
  void expect_same(Compare what, const std::string& when) {
    EXPECT_EQ(differences(snapshot(local_), snapshot(m().mnt()), what), "") << when;
    std::map<std::string, int> want;
    for (const auto& [name, facts] : snapshot(local_))
      if (!facts.dir) want[name] = 1;
    EXPECT_EQ(pin_names(m()), want) << when << ": the account holds other pins than the files";
  }
  void expect_same_now_and_after_a_remount(Compare what) {
    expect_same(what, "after the upload");
    ASSERT_TRUE(remount(m()));
    expect_same(what, "after a remount");
  }
  void write_source(const std::string& name, const std::string& bytes, const std::string& touch_date) {
    std::ofstream(from_ + "/" + name, std::ios::binary) << bytes;
    ASSERT_EQ(run_shell("touch -d " + shq(touch_date) + " " + shq(from_ + "/" + name)).exit_code, 0);
  }

  std::string local_, from_;
};

// [write.reopen] `exec 3>` with several writes, a forked child writing to the same descriptor, and the
// ordinary redirections.
constexpr const char* kShellScript =
    "exec 3>log.txt; echo a >&3; echo b >&3; sh -c 'echo child' >&3; printf 'no newline' >&3; exec 3>&-; "
    "echo one > plain.txt; { echo x; echo y; } > group.txt; (echo sub; echo shell) > subshell.txt; "
    "printf 'piped\\n' | cat > piped.txt; echo appended >> fresh.txt";

TEST_P(EverydayFiles, ShellRedirectionsIncludingExecWithSeveralWrites) {
  run_both(kShellScript);
  EXPECT_EQ(cat(m().path("log.txt")), "a\nb\nchild\nno newline");
  expect_same_now_and_after_a_remount(Compare::Bytes);
}

// [attr.mtime] cp -p and cp -a keep the mtime (to the nanosecond); the mode shown is 0444 ([attr.pins]).
TEST_P(EverydayFiles, CpPreserveKeepsBytesAndMtime) {
  write_source("p.txt", "copied with -p\n", "2001-02-03 04:05:06.123456789");
  write_source("a.bin", write_random_file(from_ + "/a.bin", 300000, 41), "1999-12-31 23:59:59.5");
  ASSERT_EQ(::chmod((from_ + "/p.txt").c_str(), 0640), 0);
  run_both("cp -p " + shq(from_ + "/p.txt") + " . && cp -a " + shq(from_ + "/a.bin") + " .");
  expect_same_now_and_after_a_remount(Compare::BytesAndMtime);
  struct stat st {};
  ASSERT_EQ(::stat(m().path("p.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u) << "a pin is shown 0444 whatever chmod said";
}

// [attr.mtime] rsync -a twice: the second run (and one after a remount) transfers nothing.
TEST_P(EverydayFiles, RsyncTwiceTransfersNothingTheSecondTime) {
  write_source("one.txt", "first file\n", "2010-01-01 00:00:00.25");
  write_source("two.bin", write_random_file(from_ + "/two.bin", 70000, 42), "2011-06-15 12:00:00");
  write_source("three.txt", "", "2012-03-04 05:06:07");
  run_both("rsync -a " + shq(from_ + "/") + " .");
  expect_same(Compare::BytesAndMtime, "after the first rsync");
  const auto uploads = m().emulator_uploads();
  const std::regex transferred("Number of regular files transferred: ([0-9]+)");
  for (const char* when : {"second run", "after a remount"}) {
    if (std::string(when) == "after a remount") {
      ASSERT_TRUE(remount(m()));
    }
    auto again =
        run_shell("rsync -a --itemize-changes --stats " + shq(from_ + "/") + " " + shq(m().mnt() + "/"));
    ASSERT_EQ(again.exit_code, 0) << again.err;
    std::smatch match;
    ASSERT_TRUE(std::regex_search(again.out, match, transferred)) << again.out;
    EXPECT_EQ(match[1], "0") << when << ":\n" << again.out;
    EXPECT_EQ(again.out.find(">f"), std::string::npos) << when << ": a file was sent\n" << again.out;
  }
  EXPECT_EQ(m().emulator_uploads(), uploads) << "the unchanged tree was uploaded again";
  expect_same(Compare::BytesAndMtime, "after the last rsync");
}

// [unlink.shared-cid] Two copies of the same bytes are two pins of one CID; Pinata unpins by CID, so rm of
// one copy used to unpin both. The other copy stays, readable and pinned, now and after a remount.
TEST_P(EverydayFiles, RmOfOneOfTwoCopiesOfTheSameBytesKeepsTheOther) {
  const std::string bytes = write_random_file(from_ + "/photo.jpg", 50000, 7);
  for (const char* name : {"a.jpg", "b.jpg"}) {
    auto copy = run_in(m().mnt(), "cp " + shq(from_ + "/photo.jpg") + " " + name);
    ASSERT_EQ(copy.exit_code, 0) << copy.err;
  }
  // b.jpg's pin (pinned by CID under its name) is listed: the removal below is of a pin, not of a job.
  ASSERT_TRUE(eventually([&] { return pin_names(m())["b.jpg"] == 1; }));
  ASSERT_TRUE(eventually([&] { return xattr(m().path("b.jpg"), "user.pinfs.status") == "pinned"; }));
  ASSERT_EQ(::unlink(m().path("b.jpg").c_str()), 0) << std::strerror(errno);
  EXPECT_FALSE(std::filesystem::exists(m().path("b.jpg")));
  for (const char* when : {"after rm", "after a remount"}) {
    if (std::string(when) == "after a remount") {
      ASSERT_TRUE(remount(m()));
    }
    EXPECT_EQ(slurp(m().path("a.jpg")), bytes) << when;
    EXPECT_EQ(pin_names(m())["a.jpg"], 1) << when << ": the copy kept was unpinned";
  }
}

// [attr.mtime] touch -d on a new (empty) file and on a pinned one; plain touch of a new file.
TEST_P(EverydayFiles, TouchWithADateKeepsTheDate) {
  run_both(
      "touch -d '2003-04-05 06:07:08.9' new.txt && echo data > old.txt && "
      "touch -d '2004-05-06 07:08:09' old.txt");
  expect_same_now_and_after_a_remount(Compare::BytesAndMtime);
}

// utimensat with nanoseconds after close, from python (os.utime ns=), and shutil.copy2 (copystat).
TEST_P(EverydayFiles, PythonWritesAndCopy2KeepTheMtime) {
  write_source("src.dat", write_random_file(from_ + "/src.dat", 5000, 43), "2015-05-05 05:05:05.555555555");
  const std::string script =
      "import os, shutil\n"
      "with open('written.txt', 'w') as f:\n"
      "    f.write('written by python\\n')\n"
      "os.utime('written.txt', ns=(1234567890123456789, 1234567890123456789))\n"
      "shutil.copy2(" +
      std::string("'") + from_ + "/src.dat', 'copy2.dat')\n";
  std::ofstream(m().scratch() + "/script.py") << script;
  run_both("/usr/bin/python3 " + shq(m().scratch() + "/script.py"));
  expect_same_now_and_after_a_remount(Compare::BytesAndMtime);
}

// dd with O_DIRECT both ways: the bytes match.
TEST_P(EverydayFiles, DdDirectBothWays) {
  const std::string data = write_random_file(from_ + "/big.bin", 3 * 1048576 + 4096, 44);
  run_both("dd if=" + shq(from_ + "/big.bin") + " of=big.bin bs=1M oflag=direct status=none");
  expect_same(Compare::Bytes, "after dd oflag=direct");
  auto back = run_shell("dd if=" + shq(m().path("big.bin")) + " of=" + shq(m().scratch() + "/back.bin") +
                        " bs=1M iflag=direct status=none");
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_TRUE(slurp(m().scratch() + "/back.bin") == data) << "dd iflag=direct read other bytes";
  ASSERT_TRUE(remount(m()));
  auto again = run_shell("dd if=" + shq(m().path("big.bin")) + " bs=1M iflag=direct status=none");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(again.out == data) << "after a remount dd iflag=direct read other bytes";
  expect_same(Compare::Bytes, "after a remount");
}

// vim and vi writing a new file headless: the file is pinned with its bytes, no swap file is left.
TEST_P(EverydayFiles, VimAndViWriteANewFile) {
  run_both(
      "vim -u NONE -N -es -c 'call setline(1, [\"written by vim\", \"second line\"])' -c 'wq' vimmed.txt");
  run_both("vi -u NONE -N -es -c 'call setline(1, [\"written by vi\"])' -c 'wq' vied.txt");
  EXPECT_EQ(cat(m().path("vimmed.txt")), "written by vim\nsecond line\n");
  expect_same_now_and_after_a_remount(Compare::Bytes);
}

// [write.reopen] in async mode: the queued upload of a duplicate's close is cancelled.
class AsyncEverydayFiles : public EverydayFiles {
 protected:
  PinfsMount::Options options() const override {
    auto o = EverydayFiles::options();
    o.extra_args = {"--upload", "async"};
    return o;
  }
};

TEST_P(AsyncEverydayFiles, ShellRedirectionsIncludingExecWithSeveralWrites) {
  run_both(kShellScript);
  ASSERT_TRUE(remount(m()));  // unmount waits for the uploads
  expect_same(Compare::Bytes, "after the uploads and a remount");
}

TEST_P(AsyncEverydayFiles, RsyncTwiceTransfersNothingTheSecondTime) {
  write_source("one.txt", "first file\n", "2010-01-01 00:00:00.25");
  write_source("two.bin", write_random_file(from_ + "/two.bin", 70000, 45), "2011-06-15 12:00:00");
  run_both("rsync -a " + shq(from_ + "/") + " .");
  ASSERT_TRUE(remount(m()));
  expect_same(Compare::BytesAndMtime, "after the uploads and a remount");
  auto again = run_shell("rsync -a --stats " + shq(from_ + "/") + " " + shq(m().mnt() + "/"));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("Number of regular files transferred: 0"), std::string::npos) << again.out;
}

INSTANTIATE_TEST_SUITE_P(Providers, EverydayFiles, ::testing::ValuesIn(kProviders), provider_name);
INSTANTIATE_TEST_SUITE_P(Providers, AsyncEverydayFiles, ::testing::ValuesIn(kProviders), provider_name);

}  // namespace
}  // namespace pinfs::testing
