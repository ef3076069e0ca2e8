// Mount, serve on several threads until unmounted or signalled, unmount.
#include "pinfs/fuse/session.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string_view>
#include <vector>

#include "adapter.hpp"

namespace pinfs::fuse {

namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, sig);
  return set;
}

// The entry ops' own init (readdirplus), run first; set once by serve() before the session starts.
void (*entry_init)(void*, fuse_conn_info*) = nullptr;

// The mount's read-ahead, set by serve() before the loop starts and applied by the first open or create.
// The kernel lowers the mount's read-ahead to the INIT reply's max_readahead when it takes that reply, which
// may only be as large as what the kernel offered (128 KiB), so the larger figure is written to sysfs once
// the session is initialized: the kernel answers no other request before that, and a file's read-ahead is
// taken from the device when its open returns. Measured with `cat` of a 1 GiB pin, cold (alternating runs
// of one binary): 128 KiB 2.0 s, 256 KiB 1.85 s, 512 KiB 2.8 s, 1 MiB 2.9 s. Above 256 KiB the replies no
// longer fit libfuse's splice pipe and are copied (libfuse grows the pipe to the request's size plus a few
// pages; the kernel's pipe-max-size is 1 MiB). libfuse's passthrough_ll, which does not splice, reads 1 GiB
// in 1.25 s instead of 1.85 s with 1 MiB.
struct ReadAheadSetting {
  std::mutex mu;  // leaf lock
  std::string file;
  unsigned kib = 0;
  bool done = true;
};
ReadAheadSetting read_ahead;

std::string unescape_mountinfo(std::string_view field) {  // \040 for a space, \011, \012, \134
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string_view digits = field.substr(i + 1, 3);
      if (digits.find_first_not_of("01234567") == std::string_view::npos) {
        out += static_cast<char>(std::stoi(std::string(digits), nullptr, 8));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

// What pinfs negotiates with the kernel, kept only where it measurably helps. Measured with dd (write, sync
// upload) and cat (cold, then from the disk cache after drop_caches) of 128 and 256 MiB through a mount
// against the emulator, and eight concurrent cats of 32 MiB; medians of 3 on a loaded 2-core machine:
// - max_write 1 MiB: libfuse 3.14 derives max_pages from it (FUSE_MAX_PAGES; 256 pages is the kernel's
//   limit here) and its receive buffer holds that much. It is libfuse's default too; set here so that the
//   choice is written down. With 128 KiB (32 pages) 256 MiB from the disk cache took 0.52 s instead of 0.29.
// - FUSE_CAP_PARALLEL_DIROPS: lookups and readdir in one directory run concurrently (libfuse's default too).
// - max_readahead stays what the kernel offers (128 KiB): the kernel only ever lowers its readahead from it.
// - max_background / congestion_threshold stay the kernel's (12 / 9): 64 / 48 was no faster for eight
//   concurrent readers (cold 1.38 s vs 1.23 s, cached 0.34 vs 0.35 s) and within the noise for dd.
// - Splice write and move: reads served from the content cache's file (fuse_reply_data of its descriptor)
//   go through a pipe by page reference instead of a copy into this process (1 GiB cold 2.07 -> 1.85 s,
//   from the disk cache 1.13 -> 0.98 s, medians of 3). Replies built in memory (fuse_reply_buf) are
//   written as before. Splice read is not asked for: writes land in the staged file through this
//   process's buffer either way.
// - No writeback cache: the kernel would own size and mtime and send writes in its own time, where pinfs
//   streams each file's upload from the writes it sees; it was not faster either (dd 1.95 s vs 1.87 s).
void negotiate_init(void* userdata, fuse_conn_info* conn) {
  if (entry_init) entry_init(userdata, conn);
  conn->max_write = 1u << 20;
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  conn->want |= conn->capable & (FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
  spdlog::debug("fuse init: max_write {} max_readahead {} max_background {} congestion {} want {:#x}",
                conn->max_write, conn->max_readahead, conn->max_background, conn->congestion_threshold,
                conn->want);
}

}  // namespace

std::string read_ahead_file(const std::string& mountinfo, const std::string& mountpoint) {
  // Fields: mount ID, parent ID, MAJOR:MINOR, root, mount point, …; the last line for a path is on top.
  std::istringstream lines(mountinfo);
  std::string line, found;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, root, point;
    if (!(fields >> id >> parent >> device >> root >> point)) continue;
    if (unescape_mountinfo(point) == mountpoint && device.find(':') != std::string::npos)
      found = "/sys/class/bdi/" + device + "/read_ahead_kb";
  }
  return found;
}

void apply_read_ahead() {
  std::lock_guard lock(read_ahead.mu);
  if (read_ahead.done) return;
  read_ahead.done = true;
  if (read_ahead.file.empty()) {
    spdlog::warn("kernel read-ahead stays as it is: the mount is not in /proc/self/mountinfo");
    return;
  }
  const std::string value = std::to_string(read_ahead.kib) + "\n";
  int fd = ::open(read_ahead.file.c_str(), O_WRONLY | O_CLOEXEC);
  const bool ok = fd >= 0 && ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  const int err = errno;
  if (fd >= 0) ::close(fd);
  if (ok)
    spdlog::debug("kernel read-ahead of the mount: {} KiB ({})", read_ahead.kib, read_ahead.file);
  else
    spdlog::info("kernel read-ahead stays 128 KiB: cannot write {}: {} (--read-ahead needs root)",
                 read_ahead.file, std::strerror(err));
}

Result<void> serve(vfs::Vfs& vfs, const MountOptions& options, const std::function<void()>& on_ready) {
  if (options.mountpoint.empty()) return fail(EINVAL, "no mountpoint given");
  std::vector<std::string> argv_text = {"pinfs"};
  if (options.debug) argv_text.push_back("-d");
  auto given = [&](std::string_view key) {
    for (const auto& option : options.fuse_options)
      if (option == key || option.starts_with(std::string(key) + "=")) return true;
    return false;
  };
  std::string joined;
  if (!given("fsname")) joined += ",fsname=pinfs";
  if (!given("subtype")) joined += ",subtype=pinfs";
  for (const auto& option : options.fuse_options) joined += "," + option;
  if (!joined.empty()) joined.erase(0, 1);
  if (!joined.empty()) {
    argv_text.push_back("-o");
    argv_text.push_back(joined);
  }
  std::vector<char*> argv;
  for (auto& arg : argv_text) argv.push_back(arg.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

  fuse_lowlevel_ops ops{};
  fill_entry_ops(ops);
  fill_file_ops(ops);
  fill_xattr_ops(ops);
  entry_init = ops.init;
  ops.init = negotiate_init;

  fuse_session* session = fuse_session_new(&args, &ops, sizeof ops, &vfs);
  fuse_opt_free_args(&args);  // libfuse may have grown a copy; the session keeps what it needs
  if (!session) return fail(EINVAL, "libfuse refused the options: " + joined);
  auto destroy = std::unique_ptr<fuse_session, void (*)(fuse_session*)>(session, fuse_session_destroy);
  if (fuse_set_signal_handlers(session) != 0) return fail(EIO, "cannot install signal handlers");
  // Resolved before mounting: afterwards a stat of the mountpoint would wait on this very session.
  std::string real_mountpoint = options.mountpoint;
  if (char* real = ::realpath(options.mountpoint.c_str(), nullptr)) {
    real_mountpoint = real;
    std::free(real);
  }
  if (fuse_session_mount(session, options.mountpoint.c_str()) != 0) {
    fuse_remove_signal_handlers(session);
    return fail(EIO, "cannot mount on " + options.mountpoint + " (see the message above)");
  }
  spdlog::info("mounted on {}", options.mountpoint);
  {
    std::lock_guard lock(read_ahead.mu);
    read_ahead.kib = options.read_ahead_kib;
    read_ahead.done = options.read_ahead_kib == 0;
    read_ahead.file.clear();
    if (!read_ahead.done) {
      std::ifstream in("/proc/self/mountinfo");
      std::stringstream text;
      text << in.rdbuf();
      read_ahead.file = read_ahead_file(text.str(), real_mountpoint);
    }
  }
  vfs.set_notifier(make_notifier(session));
  // Unblocked before READY=1, so that once the service manager is told the mount is up, a stop signal is
  // taken by this thread (a test reading every thread's mask right after READY=1 saw it still blocked). One
  // held back until now is delivered here: its handler sets the exit flag and the loop ends at once.
  sigset_t stop = stop_signals();
  ::pthread_sigmask(SIG_UNBLOCK, &stop, nullptr);
  if (on_ready) on_ready();

  fuse_loop_config* config = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(config, options.max_threads);
  int rc = fuse_session_loop_mt(session, config);
  fuse_loop_cfg_destroy(config);

  vfs.set_notifier(nullptr);  // the session goes: nothing more is sent to it
  fuse_session_unmount(session);
  fuse_remove_signal_handlers(session);
  spdlog::info("unmounted {}", options.mountpoint);
  // A signal ends the loop with its number; that is the normal way to stop.
  if (rc < 0) return fail(-rc, "fuse session loop failed");
  return {};
}

void block_stop_signals() {
  sigset_t stop = stop_signals();
  ::pthread_sigmask(SIG_BLOCK, &stop, nullptr);
}

}  // namespace pinfs::fuse
