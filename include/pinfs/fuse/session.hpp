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
  bool debug = false;  // libfuse's own request tracing
};

// Mounts, calls on_ready once the kernel sees the mount, serves requests on
// several threads until unmounted (fusermount3 -u / pinfs unmount) or a
// SIGTERM/SIGINT arrives; then unmounts. Does not daemonize: the caller does.
Result<void> serve(vfs::Vfs& vfs, const MountOptions& options, const std::function<void()>& on_ready = {});

}  // namespace pinfs::fuse
