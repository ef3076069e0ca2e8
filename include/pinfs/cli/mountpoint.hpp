// The mount table and mountpoint checks used by `pinfs mount`, `pinfs unmount` and `pinfs status`.
// Nothing here talks to libfuse: unmounting goes through fusermount3 like every unprivileged FUSE tool.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pinfs/common/error.hpp"

namespace pinfs::cli {

constexpr const char* kFuseType = "fuse.pinfs";  // fstype in the mount table (subtype=pinfs)

struct MountEntry {
  std::string mountpoint;
  std::string fstype;  // "fuse.pinfs", "ext4", …
  std::string source;  // fsname: "pinfs:PROFILE"
};

// Parses /proc/self/mountinfo (octal escapes such as \040 decoded).
std::vector<MountEntry> parse_mountinfo(const std::string& text);
std::vector<MountEntry> read_mounts();
// The entry mounted exactly at path (the last one when stacked), if any.
std::optional<MountEntry> mounted_at(const std::string& path);

// A usable mountpoint: exists, is a directory, nothing is mounted on it (and no dead FUSE mount lingers).
// Returns its absolute, symlink-free path; each error says how to fix it.
Result<std::string> check_mountpoint(const std::string& path);

// A mountpoint given to unmount/status: absolute, without following a dead FUSE mount (stat would hang
// or fail with ENOTCONN there).
std::string absolute_path(const std::string& path);

// fusermount3 -u [-z] PATH; the error carries fusermount3's own message.
Result<void> fusermount_unmount(const std::string& path, bool lazy);

}  // namespace pinfs::cli
