// One mount per cache dir (DESIGN.md §4): the pin index, content cache, journal and staging area belong to
// one daemon. The lock is an flock on <cache dir>/lock, so the kernel releases it when the daemon dies, even
// by kill -9; the file holds the owner's pid for the error message only.
//
// The VFS takes it first thing in start() and keeps it for the mount's life:
//   auto lock = cache::CacheDirLock::acquire(options_.cache_dir);
//   if (!lock) return std::unexpected(lock.error());  // EBUSY: "... in use by another pinfs mount (pid N)"
#pragma once

#include <memory>
#include <string>

#include "pinfs/common/error.hpp"

namespace pinfs::cache {

class CacheDirLock {
 public:
  // Creates dir if missing. EBUSY at once (no waiting) when another process, or another acquire in this
  // one, holds it; the message names the dir and the holder's pid.
  static Result<std::unique_ptr<CacheDirLock>> acquire(const std::string& dir);
  ~CacheDirLock();  // releases the lock
  CacheDirLock(const CacheDirLock&) = delete;
  CacheDirLock& operator=(const CacheDirLock&) = delete;

 private:
  explicit CacheDirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace pinfs::cache
