// Runs a shell script in a private mount namespace (unshare -m, propagation private) where files are laid
// over system directories with overlayfs, e.g. packaging/mount.fuse.pinfs over /usr/sbin (= /sbin on
// Debian 12) so that mount(8) finds it. Nothing outside the namespace sees those overlays or the mounts the
// script makes; a tmpfs over /run/mount keeps libmount's utab private too. Needs root (CI runs as root).
#pragma once

#include <gtest/gtest.h>

#include <map>

#include "../support/mount_fixture.hpp"

namespace pinfs::testing {

struct Overlay {
  std::string directory;                     // e.g. /usr/sbin
  std::map<std::string, std::string> files;  // name in that directory -> file to show there (a symlink)
};

// Writes the script to root/NAME.sh and runs it with /bin/sh -eu inside the namespace. The overlays'
// upper and work directories live under root.
inline RunResult run_in_mount_namespace(const std::string& root, const std::string& name,
                                        const std::vector<Overlay>& overlays, const std::string& script,
                                        const std::vector<std::string>& env,
                                        std::chrono::seconds timeout = std::chrono::seconds(180)) {
  std::string prologue = "set -eu\n";
  prologue += "[ ! -d /run/mount ] || mount -t tmpfs -o mode=0755 tmpfs /run/mount\n";
  int n = 0;
  for (const auto& overlay : overlays) {
    const std::string base = root + "/" + name + "-overlay" + std::to_string(n++);
    std::filesystem::create_directories(base + "/upper");
    std::filesystem::create_directories(base + "/work");
    for (const auto& [file, target] : overlay.files)
      std::filesystem::create_symlink(target, base + "/upper/" + file);
    prologue += "mount -t overlay overlay -o lowerdir=" + overlay.directory + ",upperdir=" + base +
                "/upper,workdir=" + base + "/work " + overlay.directory + "\n";
  }
  const std::string path = root + "/" + name + ".sh";
  {
    std::ofstream out(path);
    out << prologue << script;
  }
  return run_process({"unshare", "--mount", "--propagation", "private", "/bin/sh", path}, env, timeout);
}

}  // namespace pinfs::testing
