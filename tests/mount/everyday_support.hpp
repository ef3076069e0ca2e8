// Helpers for the everyday-tools mount suites: run a program on a local directory and on the mount, then
// compare what each left behind (every name, every byte, and mtimes where the rule keeps them).
// Owned by everyday_files_test.cpp; other suites may read and include it.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "mount_test_support.hpp"

namespace pinfs::testing::everyday {

// What a tree holds, by path relative to its root ("a.txt", "sub/b.txt", "sub/" for a directory).
struct Facts {
  bool dir = false;
  std::string bytes;  // a file's content
  std::int64_t mtime_sec = 0;
  std::int64_t mtime_nsec = 0;
  mode_t mode = 0;
};
using Tree = std::map<std::string, Facts>;

// Every entry under root (recursively; /.pinfs left out). Reads through the filesystem as programs do.
inline Tree snapshot(const std::string& root) {
  namespace fs = std::filesystem;
  Tree tree;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    auto rel = fs::relative(it->path(), root).string();
    if (rel == ".pinfs") {
      it.disable_recursion_pending();
      continue;
    }
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    Facts f;
    f.dir = S_ISDIR(st.st_mode);
    f.mtime_sec = st.st_mtim.tv_sec;
    f.mtime_nsec = st.st_mtim.tv_nsec;
    f.mode = st.st_mode & 07777;
    if (!f.dir) f.bytes = slurp(it->path().string());
    tree[rel + (f.dir ? "/" : "")] = std::move(f);
  }
  return tree;
}

enum class Compare { Bytes, BytesAndMtime };

// "" when every name and byte (and mtime, if asked) of `expected` is in `got` and `got` has nothing more;
// else one line per difference.
inline std::string differences(const Tree& expected, const Tree& got, Compare what) {
  std::ostringstream out;
  for (const auto& [name, want] : expected) {
    auto it = got.find(name);
    if (it == got.end()) {
      out << "missing: " << name << "\n";
      continue;
    }
    const auto& have = it->second;
    if (have.dir != want.dir) out << name << ": directory on one side only\n";
    if (have.bytes != want.bytes)
      out << name << ": " << have.bytes.size() << " bytes, want " << want.bytes.size()
          << (want.bytes.size() < 200 && have.bytes.size() < 200
                  ? " ('" + have.bytes + "' vs '" + want.bytes + "')"
                  : std::string())
          << "\n";
    if (what == Compare::BytesAndMtime && !want.dir &&
        (have.mtime_sec != want.mtime_sec || have.mtime_nsec != want.mtime_nsec))
      out << name << ": mtime " << have.mtime_sec << "." << have.mtime_nsec << ", want " << want.mtime_sec
          << "." << want.mtime_nsec << "\n";
  }
  for (const auto& [name, have] : got)
    if (!expected.contains(name)) out << "unexpected: " << name << "\n";
  return out.str();
}

// The shell command in directory dir (sh -c 'cd dir && command').
inline RunResult run_in(const std::string& dir, const std::string& command,
                        std::chrono::seconds timeout = std::chrono::seconds(120)) {
  return run_shell("cd " + shq(dir) + " && " + command, timeout);
}

// A clean unmount (`pinfs unmount` waits for pending uploads), then the same cache dir mounted again.
inline ::testing::AssertionResult remount(PinfsMount& m) {
  auto r = m.pinfs({"unmount", m.mnt()});
  if (r.exit_code != 0) return ::testing::AssertionFailure() << "pinfs unmount: " << r.err;
  if (int code = m.wait_daemon(); code != 0)
    return ::testing::AssertionFailure() << "daemon exited " << code << ":\n" << m.daemon_log();
  try {
    m.remount();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "remount: " << e.what();
  }
  return ::testing::AssertionSuccess();
}

// Names of the account's pins, each with how many pins carry it.
inline std::map<std::string, int> pin_names(const PinfsMount& m) {
  std::map<std::string, int> names;
  for (const auto& pin : m.remote_pins()) ++names[pin.name];
  return names;
}

}  // namespace pinfs::testing::everyday
