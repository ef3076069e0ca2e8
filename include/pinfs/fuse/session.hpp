// The only entry into libfuse from the rest of pinfs: mount a VFS and serve it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "pinfs/common/error.hpp"

namespace pinfs::vfs {
class Vfs;
}

namespace pinfs::fuse {

struct MountOptions {
  std::string mountpoint;
  std::vector<std::string> fuse_options;  // from -o, passed through to libfuse
  unsigned max_threads = 16;
  // The kernel's read-ahead for the mount (its backing device's read_ahead_kb), set once the session is up;
  // 0 leaves the kernel's 128 KiB. Needs write access to /sys/class/bdi (root); otherwise a log line says so.
  unsigned read_ahead_kib = 256;
  bool debug = false;  // libfuse's own request tracing
};

// Mounts, calls on_ready once the kernel sees the mount, serves requests on
// several threads until unmounted (fusermount3 -u / pinfs unmount) or a
// SIGTERM/SIGINT arrives; then unmounts. Does not daemonize: the caller does.
Result<void> serve(vfs::Vfs& vfs, const MountOptions& options, const std::function<void()>& on_ready = {});

// SIGTERM, SIGINT and SIGHUP (what libfuse stops on) blocked in the calling thread, so in every thread it
// starts from now on (the VFS's poller and uploaders, curl's). Called before those threads exist: serve()
// unblocks them in its own thread only, and libfuse's workers block every signal, so a stop signal always
// reaches the thread waiting in fuse_session_loop_mt. Delivered to any other thread, it only set the exit
// flag, and the loop went on waiting until the next request (a mount that ignored SIGTERM, seen in CI).
void block_stop_signals();

// Private to src/fuse/ (the open and create callbacks): the first call after the kernel took the session's
// INIT reply sets the mount's read-ahead (MountOptions::read_ahead_kib); later calls do nothing.
void apply_read_ahead();

// The sysfs file of a mount's read-ahead, /sys/class/bdi/MAJOR:MINOR/read_ahead_kb, from mountinfo (the
// text of /proc/self/mountinfo); empty when no mount is at mountpoint (an absolute path, no symlinks).
std::string read_ahead_file(const std::string& mountinfo, const std::string& mountpoint);

}  // namespace pinfs::fuse
