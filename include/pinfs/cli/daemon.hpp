// How `pinfs mount` tells whoever started it that the mount is up: a detached daemon reports through a
// pipe to the waiting parent (which then exits 0, or prints the child's error and exits with its code);
// in the foreground, systemd hears READY=1 through sd_notify (Type=notify).
#pragma once

#include <sys/types.h>

#include <string>

#include "pinfs/common/error.hpp"

namespace pinfs::cli {

class Readiness {
 public:
  // Stays in this process; log_file empty = stderr.
  static Result<Readiness> foreground(const std::string& log_file);
  // Forks. The parent gets is_parent() and should only call wait_for_child(); the child, in a new session
  // with stdin on /dev/null, logs to log_file and carries on mounting.
  static Result<Readiness> daemonize(const std::string& log_file);

  Readiness(Readiness&& other) noexcept;
  Readiness& operator=(Readiness&&) = delete;
  Readiness(const Readiness&) = delete;
  ~Readiness();

  bool is_parent() const { return child_ > 0; }
  // Parent: blocks until the child reports; returns the exit code for the parent.
  int wait_for_child(const std::string& mountpoint);

  // Child / foreground: the kernel sees the mount. Detaches stdout/stderr from the terminal when daemonized.
  void ready();
  // Child / foreground: unmounting; shutdown work follows.
  void stopping();
  // Child / foreground: reports an error before ready() and returns code (for the process exit status).
  int fail(int code, const std::string& message);

 private:
  Readiness() = default;
  pid_t child_ = -1;     // set in the parent
  int fd_ = -1;          // parent: read end; child: write end; foreground: -1
  bool daemon_ = false;  // this is the detached child
  std::string log_file_;
};

}  // namespace pinfs::cli
