#include "pinfs/cli/mountpoint.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace pinfs::cli {
namespace {

std::string unescape_octal(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const char a = s[i + 1], b = s[i + 2], c = s[i + 3];
      if (a >= '0' && a <= '3' && b >= '0' && b <= '7' && c >= '0' && c <= '7') {
        out += static_cast<char>((a - '0') * 64 + (b - '0') * 8 + (c - '0'));
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

}  // namespace

std::vector<MountEntry> parse_mountinfo(const std::string& text) {
  std::vector<MountEntry> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    // id parent major:minor root mountpoint options [optional fields…] - fstype source superoptions
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string w; fields >> w;) f.push_back(w);
    std::size_t dash = 0;
    for (std::size_t i = 6; i < f.size(); ++i)
      if (f[i] == "-") {
        dash = i;
        break;
      }
    if (dash == 0 || dash + 2 >= f.size()) continue;
    out.push_back(MountEntry{unescape_octal(f[4]), unescape_octal(f[dash + 1]), unescape_octal(f[dash + 2])});
  }
  return out;
}

std::vector<MountEntry> read_mounts() {
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_mountinfo(ss.str());
}

std::optional<MountEntry> mounted_at(const std::string& path) {
  std::optional<MountEntry> found;
  for (auto& m : read_mounts())
    if (m.mountpoint == path) found = std::move(m);
  return found;
}

std::string absolute_path(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(path, ec);
  if (ec) return path;
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  // Resolve symlinks in the parent only: the mount table holds real paths, and the last component may be a
  // dead FUSE mount that must not be stat'ed.
  const std::filesystem::path abs(s);
  if (!abs.has_parent_path() || abs == abs.root_path()) return s;
  char real[PATH_MAX];
  if (::realpath(abs.parent_path().c_str(), real) == nullptr) return s;
  return (std::filesystem::path(real) / abs.filename()).string();
}

Result<std::string> check_mountpoint(const std::string& path) {
  const std::string abs = absolute_path(path);
  struct stat st {};
  if (::stat(abs.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOTCONN) {
      return fail(EBUSY,
                  path +
                      " is a FUSE mount whose daemon is gone (\"Transport endpoint is not connected\"): "
                      "run `fusermount3 -u " +
                      abs + "` first");
    }
    if (err == ENOENT)
      return fail(ENOENT, "mountpoint " + path + " does not exist: create it with `mkdir -p " + abs + "`");
    return fail(err, "cannot use mountpoint " + path + ": " + std::strerror(err));
  }
  if (!S_ISDIR(st.st_mode)) return fail(ENOTDIR, "mountpoint " + path + " is not a directory");
  char real[PATH_MAX];
  if (::realpath(abs.c_str(), real) == nullptr) return fail_errno("cannot resolve mountpoint " + path);
  if (auto m = mounted_at(real)) {
    std::string how = m->fstype == kFuseType ? "`pinfs unmount " + std::string(real) + "`" : "umount";
    return fail(EBUSY, std::string(real) + " is already a mountpoint (" + m->fstype + " " + m->source +
                           "): unmount it first with " + how + ", or choose an empty directory");
  }
  if (::access(real, R_OK | X_OK) != 0)
    return fail_errno("mountpoint " + std::string(real) + " is not accessible");
  return std::string(real);
}

Result<void> fusermount_unmount(const std::string& path, bool lazy) {
  std::vector<std::string> args = {"fusermount3", lazy ? "-uz" : "-u", "--", path};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return fail_errno("pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDOUT_FILENO);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, "fusermount3", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(err_pipe[0]);
    return fail(
        rc, std::string("cannot run fusermount3 (is the fuse3 package installed?): ") + std::strerror(rc));
  }
  std::string output;
  char buf[512];
  for (ssize_t n; (n = ::read(err_pipe[0], buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    output.append(buf, static_cast<std::size_t>(n));
  }
  ::close(err_pipe[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  const int errnum = output.find("busy") != std::string::npos ? EBUSY : EIO;
  return fail(errnum, output.empty() ? "fusermount3 failed" : output);
}

}  // namespace pinfs::cli
