// [durable.staged] kill -9 of the daemon at random points of a copy into the mount, in both upload modes,
// then a remount: a file whose writer had closed it ends pinned exactly once with its verified CID; a file
// still being written stays as a local file (status failed: interrupted, its bytes a prefix of the source,
// never uploaded half-written, removable); the journal and staging/ end empty once everything is pinned.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <map>
#include <random>

#include "mount_test_support.hpp"
#include "pinfs/cache/journal.hpp"

namespace pinfs::testing {
namespace {

// The size copied each time: 1 GiB, as issue 9 asks (ten kill points a mode take about 2-5 minutes here);
// PINFS_KILL_TEST_MIB makes it smaller for a quick run.
std::size_t copy_bytes() {
  const char* env = std::getenv("PINFS_KILL_TEST_MIB");
  // 256 MiB by default: ten kills spread over a copy of several seconds, each at a different stage (open,
  // streaming, close, upload, pin); PINFS_KILL_TEST_MIB=1024 for the size a user copies (2 x 2 minutes).
  return static_cast<std::size_t>(env ? std::atoi(env) : 256) << 20;
}

pid_t spawn(const std::vector<std::string>& args) {
  std::vector<std::string> a = args;
  std::vector<char*> argv;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

int wait_child(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return decode_wait_status(status);
}

class KillDuringCopy : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    PinfsMount::Options o;
    o.provider = "pinata";
    o.extra_args = {"--upload", GetParam()};
    try {
      m_ = std::make_unique<PinfsMount>(o);
    } catch (const std::exception& e) {
      FAIL() << "could not mount: " << e.what();
    }
  }
  void TearDown() override {
    if (HasFailure() && m_) {
      std::string log = m_->daemon_log();
      if (log.size() > 20000) log = "…" + log.substr(log.size() - 20000);
      std::cerr << "--- pinfs log (tail) ---\n" << log << "\n";
    }
    m_.reset();
  }
  PinfsMount& m() { return *m_; }

  std::size_t pins_named(const std::string& name, std::string* cid = nullptr) {
    std::size_t n = 0;
    for (const auto& pin : m().remote_pins())
      if (pin.name == name) {
        ++n;
        if (cid) *cid = pin.cid;
      }
    return n;
  }
  std::vector<cache::JournalEntry> journal_rows() {
    auto journal = cache::open_sqlite_journal(m().cache_dir() + "/journal.sqlite");
    if (!journal) return {};
    auto rows = (*journal)->entries();
    return rows ? *rows : std::vector<cache::JournalEntry>{};
  }
  std::size_t staged_files() {
    std::size_t n = 0;
    std::error_code ec;
    for (const auto& item : std::filesystem::directory_iterator(m().cache_dir() + "/staging", ec)) {
      (void)item;
      ++n;
    }
    return n;
  }
  // The status once the remount settled: "pinned" or "failed: interrupted" (waits for a resumed upload).
  std::string settled_status(const std::string& path) {
    std::string status;
    for (int i = 0; i < 1200; ++i) {
      status = xattr(path, "user.pinfs.status");
      if (status == "pinned" || status == "failed: interrupted") return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return status;
  }

  std::unique_ptr<PinfsMount> m_;
};

TEST_P(KillDuringCopy, EveryClosedFilePinnedOnceEveryOpenFileKept) {
  const std::size_t size = copy_bytes();
  const std::string source = m().scratch() + "/source.bin";
  const std::string data = write_random_file(source, size, 41);
  const std::string expected_cid = local_cid(source);

  // How long a whole copy takes here: the kill points are spread over it and as long again after it (the
  // upload and pin of a closed file, in async mode after cp returned).
  auto t0 = std::chrono::steady_clock::now();
  auto whole = run_process({"cp", source, m().path("whole.bin")}, hermetic_env(), std::chrono::seconds(600));
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  const auto copy_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  std::mt19937 rng(GetParam() == "sync" ? 7 : 11);
  std::uniform_int_distribution<long> when(0, copy_ms * 2);

  int closed = 0, interrupted = 0;
  for (int i = 0; i < 10; ++i) {
    const std::string name = "copy-" + std::to_string(i) + ".bin";
    const long delay = when(rng);
    pid_t cp = spawn({"cp", source, m().path(name)});
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    ASSERT_NE(m().stop_daemon(SIGKILL), -1);
    run_process({"fusermount3", "-uz", m().mnt()}, hermetic_env(), std::chrono::seconds(30));
    const bool cp_finished = wait_child(cp) == 0;
    m().remount();

    const std::string path = m().path(name);
    struct stat none {};
    if (!cp_finished && ::stat(path.c_str(), &none) != 0 && errno == ENOENT) {
      EXPECT_EQ(pins_named(name), 0u);  // killed before cp created it
      continue;
    }
    auto status = settled_status(path);
    SCOPED_TRACE(name + " killed after " + std::to_string(delay) + " ms, cp " +
                 (cp_finished ? "finished" : "did not finish") + ", status " + status);
    if (cp_finished) {
      EXPECT_EQ(status, "pinned");  // the writer had closed it
    }
    if (status == "pinned") {
      ++closed;
      std::string cid;
      EXPECT_EQ(pins_named(name, &cid), 1u);  // exactly once
      EXPECT_EQ(cid, expected_cid);
      EXPECT_EQ(xattr(path, "user.pinfs.cid"), expected_cid);
    } else {
      ++interrupted;
      ASSERT_EQ(status, "failed: interrupted");
      EXPECT_EQ(pins_named(name), 0u);  // never uploaded half-written
      struct stat st {};
      ASSERT_EQ(::stat(path.c_str(), &st), 0);
      ASSERT_LE(static_cast<std::size_t>(st.st_size), size);
      auto kept = cat(path, std::chrono::seconds(120));
      EXPECT_EQ(kept.size(), static_cast<std::size_t>(st.st_size));
      EXPECT_TRUE(data.compare(0, kept.size(), kept) == 0) << "the kept bytes are not the source's";
      EXPECT_EQ(::unlink(path.c_str()), 0) << std::strerror(errno);
      EXPECT_NE(::stat(path.c_str(), &st), 0);
    }
  }
  std::cerr << GetParam() << ": " << closed << " closed and pinned, " << interrupted
            << " interrupted and removed (copy of " << (size >> 20) << " MiB takes " << copy_ms << " ms)\n";
  EXPECT_EQ(pins_named("whole.bin"), 1u);
  // Everything pinned or removed: nothing left in the journal or staging/.
  bool empty = false;
  for (int i = 0; i < 300 && !(empty = journal_rows().empty() && staged_files() == 0); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(empty) << journal_rows().size() << " journal rows, " << staged_files() << " staged files";
}

// The same for `cp -r` of a tree into a new directory (uploaded as one directory pin once quiet): after each
// kill and remount the tree is back where it was; a file still being written is kept as interrupted (a
// prefix of its source) and holds the directory back; once those are removed the directory is pinned
// exactly once, every file in it the source's bytes, and the journal and staging/ end empty.
TEST_P(KillDuringCopy, TreeCopiedIntoANewDirectoryComesBackAndIsPinnedOnce) {
  namespace fs = std::filesystem;
  const std::string source = m().scratch() + "/tree";
  std::map<std::string, std::string> files;  // relative path → bytes
  std::mt19937 sizes(GetParam() == "sync" ? 3 : 5);
  for (int i = 0; i < 60; ++i) {
    const std::string rel = (i % 3 == 0   ? ""
                             : i % 3 == 1 ? "sub/"
                                          : "sub/deeper/") +
                            std::to_string(i) + ".bin";
    fs::create_directories(fs::path(source + "/" + rel).parent_path());
    files[rel] = write_random_file(source + "/" + rel,
                                   std::uniform_int_distribution<std::size_t>(0, 1 << 20)(sizes), i);
  }
  auto t0 = std::chrono::steady_clock::now();
  auto whole =
      run_process({"cp", "-r", source, m().path("whole")}, hermetic_env(), std::chrono::seconds(300));
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  const auto copy_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  std::mt19937 rng(GetParam() == "sync" ? 17 : 19);
  std::uniform_int_distribution<long> when(0, copy_ms * 2);

  int pinned_trees = 0, kept_files = 0, interrupted_files = 0;
  for (int i = 0; i < 8; ++i) {
    const std::string name = "tree-" + std::to_string(i);
    const long delay = when(rng);
    pid_t cp = spawn({"cp", "-r", source, m().path(name)});
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    ASSERT_NE(m().stop_daemon(SIGKILL), -1);
    run_process({"fusermount3", "-uz", m().mnt()}, hermetic_env(), std::chrono::seconds(30));
    const bool cp_finished = wait_child(cp) == 0;
    m().remount();
    SCOPED_TRACE(name + " killed after " + std::to_string(delay) + " ms, cp " +
                 (cp_finished ? "finished" : "did not finish"));
    const std::string top = m().path(name);
    std::error_code ec;
    if (!fs::exists(top, ec)) {
      EXPECT_FALSE(cp_finished);
      EXPECT_EQ(pins_named(name), 0u);
      continue;
    }
    // What came back: complete files, or (only if cp was still running) interrupted prefixes, removed now.
    std::size_t kept = 0;
    for (const auto& [rel, bytes] : files) {
      const std::string path = top + "/" + rel;
      if (!fs::exists(path, ec)) {
        EXPECT_FALSE(cp_finished) << rel << " is missing";
        continue;
      }
      const auto status = xattr(path, "user.pinfs.status");
      const auto got = cat(path, std::chrono::seconds(120));
      if (status == "failed: interrupted") {
        EXPECT_FALSE(cp_finished) << rel;
        EXPECT_TRUE(got.size() <= bytes.size() && bytes.compare(0, got.size(), got) == 0) << rel;
        EXPECT_EQ(::unlink(path.c_str()), 0) << rel << ": " << std::strerror(errno);
        ++interrupted_files;
      } else {
        EXPECT_EQ(got.size(), bytes.size()) << rel << " (" << status << ")";
        EXPECT_TRUE(got == bytes) << rel << " (" << status << ") is not the source's bytes";
        ++kept;
      }
    }
    kept_files += static_cast<int>(kept);
    if (kept == 0) {  // nothing closed made it: a directory of no file stays local
      EXPECT_EQ(run_process({"rm", "-rf", top}, hermetic_env()).exit_code, 0);
      EXPECT_EQ(pins_named(name), 0u);
      continue;
    }
    EXPECT_TRUE(
        eventually([&] { return xattr(top, "user.pinfs.status") == "pinned"; }, std::chrono::seconds(60)))
        << xattr(top, "user.pinfs.status");
    EXPECT_EQ(pins_named(name), 1u);  // exactly once, even when killed after the service pinned it
    ++pinned_trees;
    for (const auto& [rel, bytes] : files) {
      const std::string path = top + "/" + rel;
      if (fs::exists(path, ec)) {
        EXPECT_TRUE(cat(path, std::chrono::seconds(120)) == bytes) << rel << " once pinned";
      }
    }
  }
  std::cerr << GetParam() << ": " << pinned_trees << " trees pinned (" << kept_files << " files), "
            << interrupted_files << " interrupted files removed (cp -r takes " << copy_ms << " ms)\n";
  EXPECT_EQ(pins_named("whole"), 1u);
  bool empty = false;
  for (int i = 0; i < 300 && !(empty = journal_rows().empty() && staged_files() == 0); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(empty) << journal_rows().size() << " journal rows, " << staged_files() << " staged files";
}

INSTANTIATE_TEST_SUITE_P(Modes, KillDuringCopy, ::testing::Values("sync", "async"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace pinfs::testing
