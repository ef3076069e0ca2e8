// Private to src/fuse/: the libfuse low-level operation table over a vfs::Vfs.
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <exception>
#include <memory>

#include "pinfs/common/log.hpp"
#include "pinfs/vfs/vfs.hpp"

namespace pinfs::fuse {

inline vfs::Vfs& vfs_of(fuse_req_t req) {
  return *static_cast<vfs::Vfs*>(fuse_req_userdata(req));
}

// No exception may cross into libfuse: log it and answer EIO.
template <typename F>
void guarded(fuse_req_t req, const char* op, F&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    spdlog::error("fuse {}: unexpected exception: {}", op, e.what());
    fuse_reply_err(req, EIO);
  } catch (...) {
    spdlog::error("fuse {}: unexpected exception", op);
    fuse_reply_err(req, EIO);
  }
}

inline void reply_error(fuse_req_t req, const char* op, const Error& error) {
  if (error.errnum != ENOENT && error.errnum != ENODATA) spdlog::debug("fuse {}: {}", op, error.describe());
  fuse_reply_err(req, error.errnum ? error.errnum : EIO);
}

inline fuse_entry_param to_param(const vfs::Entry& entry) {
  fuse_entry_param param{};
  param.ino = entry.ino;
  param.generation = entry.generation;
  param.attr = entry.attr;
  param.attr_timeout = entry.timeout;
  param.entry_timeout = entry.timeout;
  return param;
}

// The kernel notifier of a mounted session (src/fuse/notify.cpp).
std::shared_ptr<vfs::KernelNotifier> make_notifier(fuse_session* session);

void fill_entry_ops(fuse_lowlevel_ops& ops);  // lookup, forget, attributes, directories, names
void fill_file_ops(fuse_lowlevel_ops& ops);   // open, read, write, flush, release, fsync
void fill_xattr_ops(fuse_lowlevel_ops& ops);

}  // namespace pinfs::fuse
