#include "pinfs/cli/daemon.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "pinfs/common/log.hpp"

#if __has_include(<systemd/sd-daemon.h>)
#include <systemd/sd-daemon.h>
#define PINFS_SD_NOTIFY 1
#endif

namespace pinfs::cli {
namespace {

void notify_systemd([[maybe_unused]] const char* state) {
#ifdef PINFS_SD_NOTIFY
  ::sd_notify(0, state);
#endif
}

void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

void redirect(int target, int flags) {
  int fd = ::open("/dev/null", flags | O_CLOEXEC);
  if (fd < 0) return;
  ::dup2(fd, target);
  ::close(fd);
}

std::string current_level() {
  auto name = spdlog::level::to_string_view(spdlog::default_logger()->level());
  return std::string(name.data(), name.size());
}

}  // namespace

Result<Readiness> Readiness::foreground(const std::string& log_file) {
  if (!log_file.empty()) log::setup(current_level(), log_file);
  Readiness r;
  r.log_file_ = log_file;
  return r;
}

Result<Readiness> Readiness::daemonize(const std::string& log_file) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail_errno("pipe");
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid < 0) {
    auto e = fail_errno("fork");
    ::close(fds[0]);
    ::close(fds[1]);
    return e;
  }
  Readiness r;
  r.log_file_ = log_file;
  if (pid > 0) {
    ::close(fds[1]);
    r.child_ = pid;
    r.fd_ = fds[0];
    return r;
  }
  ::close(fds[0]);
  r.fd_ = fds[1];
  r.daemon_ = true;
  ::setsid();
  redirect(STDIN_FILENO, O_RDONLY);
  if (!log_file.empty()) log::setup(current_level(), log_file);
  return r;
}

Readiness::Readiness(Readiness&& other) noexcept
    : child_(std::exchange(other.child_, -1)),
      fd_(std::exchange(other.fd_, -1)),
      daemon_(other.daemon_),
      log_file_(std::move(other.log_file_)) {}

Readiness::~Readiness() {
  if (fd_ >= 0) ::close(fd_);
}

int Readiness::wait_for_child(const std::string& mountpoint) {
  std::string report;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    report.append(buf, static_cast<std::size_t>(n));
  }
  if (report.rfind("OK\n", 0) == 0) return 0;  // the child lives on as the daemon
  int status = 0;
  while (::waitpid(child_, &status, 0) < 0 && errno == EINTR) {
  }
  if (report.rfind("ERR ", 0) == 0) {
    auto eol = report.find('\n');
    int code = std::atoi(report.c_str() + 4);
    std::fprintf(stderr, "pinfs: %s\n", eol == std::string::npos ? "" : report.substr(eol + 1).c_str());
    return code > 0 ? code : 1;
  }
  std::string how = WIFSIGNALED(status) ? "was killed by signal " + std::to_string(WTERMSIG(status))
                                        : "exited with status " + std::to_string(WEXITSTATUS(status));
  std::fprintf(stderr, "pinfs: the mount daemon for %s %s before the mount was ready%s\n", mountpoint.c_str(),
               how.c_str(), log_file_.empty() ? "" : ("; see " + log_file_).c_str());
  return 1;
}

void Readiness::ready() {
  notify_systemd("READY=1\nSTATUS=mounted");
  if (!daemon_) return;
  if (fd_ >= 0) {
    write_all(fd_, "OK\n");
    ::close(fd_);
    fd_ = -1;
  }
  // Nothing may write to the terminal of a shell that has moved on; the log file has everything.
  redirect(STDOUT_FILENO, O_WRONLY);
  redirect(STDERR_FILENO, O_WRONLY);
  if (::chdir("/") != 0) spdlog::debug("chdir /: {}", errno);
}

void Readiness::stopping() {
  notify_systemd("STOPPING=1\nSTATUS=unmounted, finishing uploads");
}

int Readiness::fail(int code, const std::string& message) {
  const std::string clean = log::redact(message);
  if (daemon_ || !log_file_.empty()) spdlog::error("{}", clean);
  if (daemon_ && fd_ >= 0) {
    write_all(fd_, "ERR " + std::to_string(code) + "\n" + clean);
    ::close(fd_);
    fd_ = -1;
  } else if (!daemon_) {
    std::fprintf(stderr, "pinfs: %s\n", clean.c_str());
  }
  return code;
}

}  // namespace pinfs::cli
