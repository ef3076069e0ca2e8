// Open files: each callback asks the VFS and replies.
#include <unistd.h>

#include <vector>

#include "adapter.hpp"
#include "pinfs/fuse/session.hpp"

namespace pinfs::fuse {

namespace {

void set_open_flags(fuse_file_info* fi, const vfs::Opened& opened) {
  fi->fh = opened.fh;
  fi->direct_io = opened.direct_io;
  fi->keep_cache = opened.keep_cache;
}

void on_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  guarded(req, "open", [&] {
    apply_read_ahead();  // before the first file's read-ahead is taken from the device
    auto opened = vfs_of(req).open(ino, fi->flags);
    if (!opened) return reply_error(req, "open", opened.error());
    set_open_flags(fi, *opened);
    if (fuse_reply_open(req, fi) != 0) vfs_of(req).release(opened->fh);
  });
}

void on_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  guarded(req, "create", [&] {
    apply_read_ahead();
    auto created = vfs_of(req).create(parent, name, mode, fi->flags);
    if (!created) return reply_error(req, "create", created.error());
    set_open_flags(fi, created->file);
    auto param = to_param(created->entry);
    if (fuse_reply_create(req, &param, fi) != 0) {
      vfs_of(req).release(created->file.fh);
      vfs_of(req).forget(created->entry.ino, 1);
    }
  });
}

void on_read(fuse_req_t req, fuse_ino_t /*ino*/, size_t size, off_t offset, fuse_file_info* fi) {
  guarded(req, "read", [&] {
    // Cached bytes are answered from the cache file's descriptor, without the content cache's lock held
    // over the I/O, and spliced (page references through a pipe, no copy into this process) where the
    // kernel offers it (negotiate_init in session.cpp): bench/run.sh --only cold,cache --reps 3, 1 GiB,
    // cold 2.07 -> 1.85 s and from the disk cache 1.13 -> 0.98 s. libfuse copies through its buffer when
    // splice is not on.
    if (auto cached = vfs_of(req).read_cached(fi->fh, static_cast<std::uint64_t>(offset), size)) {
      fuse_bufvec data = FUSE_BUFVEC_INIT(cached->size);
      data.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
      data.buf[0].fd = cached->fd;
      data.buf[0].pos = static_cast<off_t>(cached->offset);
      fuse_reply_data(req, &data, FUSE_BUF_SPLICE_MOVE);
      ::close(cached->fd);
      return;
    }
    thread_local std::vector<char> buf;
    if (buf.size() < size) buf.resize(size);
    auto n = vfs_of(req).read(fi->fh, static_cast<std::uint64_t>(offset), size, buf.data());
    if (!n) return reply_error(req, "read", n.error());
    fuse_reply_buf(req, buf.data(), *n);
  });
}

void on_write(fuse_req_t req, fuse_ino_t /*ino*/, const char* data, size_t size, off_t offset,
              fuse_file_info* fi) {
  guarded(req, "write", [&] {
    auto n = vfs_of(req).write(fi->fh, static_cast<std::uint64_t>(offset), data, size);
    if (!n) return reply_error(req, "write", n.error());
    fuse_reply_write(req, *n);
  });
}

// close(): the sync-mode upload happens here so that its failure is close()'s error.
void on_flush(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) {
  guarded(req, "flush", [&] {
    auto ok = vfs_of(req).flush(fi->fh);
    fuse_reply_err(req, ok ? 0 : ok.error().errnum);
  });
}

void on_release(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) {
  guarded(req, "release", [&] {
    vfs_of(req).release(fi->fh);
    fuse_reply_err(req, 0);
  });
}

void on_fsync(fuse_req_t req, fuse_ino_t /*ino*/, int /*datasync*/, fuse_file_info* fi) {
  guarded(req, "fsync", [&] {
    auto ok = vfs_of(req).fsync(fi->fh);
    fuse_reply_err(req, ok ? 0 : ok.error().errnum);
  });
}

}  // namespace

void fill_file_ops(fuse_lowlevel_ops& ops) {
  ops.open = on_open;
  ops.create = on_create;
  ops.read = on_read;
  ops.write = on_write;
  ops.flush = on_flush;
  ops.release = on_release;
  ops.fsync = on_fsync;
}

}  // namespace pinfs::fuse
