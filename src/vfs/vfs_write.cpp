// New files: create, write, truncate, close. The namespace gets the name; Uploads the staged bytes.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "namespace.hpp"
#include "node.hpp"
#include "pinfs/common/log.hpp"
#include "pinfs/vfs/names.hpp"
#include "uploads.hpp"

namespace pinfs::vfs {

namespace {

Result<void> write_all(int fd, const char* data, std::size_t size, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("write staged file");
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace

Result<Created> Vfs::create(Ino parent, const std::string& name, mode_t /*mode*/, int /*flags*/) {
  if (parent == kRootIno)
    if (auto ok = ensure_index(); !ok) return std::unexpected(ok.error());
  {
    auto lock = ns_->lock();
    auto dir = ns_->node(parent);
    if (!dir) return fail(ENOENT, "no inode " + std::to_string(parent));
    if (dir->kind() != Kind::Root && dir->kind() != Kind::LocalDir) {
      if (!dir->is_directory()) return fail(ENOTDIR, dir->name + " is not a directory");
      spdlog::warn("create {} in {} refused: pinned directories are immutable", name, dir->name);
      return fail(EROFS, "pinned directories are immutable");
    }
    if (dir->kind() == Kind::Root && name == kControlDirName) return fail(EEXIST, name + " exists");
    if (auto existing = child_locked(dir, name, lock); existing) return fail(EEXIST, name + " exists");
  }
  auto file = uploads_->create(unescape_name(name), parent);
  if (!file) return std::unexpected(file.error());

  auto lock = ns_->lock();
  auto dir = ns_->node(parent);
  if (!dir || child_locked(dir, name, lock)) {  // made meanwhile by another request
    auto up = uploads_->lock();
    uploads_->discard_locked(*file);
    return fail(EEXIST, name + " exists");
  }
  auto node = std::make_shared<Node>();
  node->data = LocalData{*file};
  node->name = name;
  node->parent = parent;
  node->lookups = 1;
  ns_->add("local:", node);
  (*file)->ino = node->ino;
  if (dir->kind() == Kind::Root) {
    ns_->root_locals()[name] = node->ino;
  } else {
    dir->dir()->children[name] = node->ino;
    dir->dir()->last_change_ms = now_ms();
  }

  auto handle = std::make_shared<Handle>();
  handle->node = node;
  handle->local = *file;
  handle->writable = true;
  Created created;
  created.entry = ns_->entry(node);
  lock.unlock();
  created.file.fh = add_handle(handle);
  spdlog::debug("create {} (ino {}) staged at {}", name, node->ino, (*file)->staging);
  return created;
}

Result<std::size_t> Vfs::write(std::uint64_t fh, std::uint64_t offset, const char* data, std::size_t size) {
  auto handle = handle_of(fh);
  if (!handle) return fail(EBADF, "no file handle " + std::to_string(fh));
  if (!handle->writable || !handle->local) return fail(EBADF, "not open for writing");
  if (!handle->local->editable()) {
    spdlog::warn("write to {} refused: already uploaded or queued", handle->node->name);
    return fail(EROFS, "file already uploaded");
  }
  handle->wrote = true;
  LocalFile& file = *handle->local;
  std::lock_guard io(file.io);
  if (int e = file.write_errno.load(); e != 0)
    return fail(e, "an earlier write to " + handle->node->name + " failed; truncate it and write it again");
  if (auto ok = write_all(file.fd, data, size, offset); !ok) {
    file.write_errno = ok.error().errnum;
    spdlog::error("write to {} failed: {}; it will not be uploaded", handle->node->name,
                  ok.error().describe());
    return std::unexpected(ok.error());
  }
  // The CID is computed on the fly only while bytes arrive in order; anything else re-reads at close.
  if (file.sequential && file.importer && offset == file.importer->bytes_seen())
    file.importer->update(cid::ByteView(reinterpret_cast<const std::uint8_t*>(data), size));
  else
    file.sequential = false;
  file.size = std::max<std::uint64_t>(file.size, offset + size);
  file.dirty = true;
  file.mtime = now_seconds();
  return size;
}

Result<struct stat> Vfs::truncate(Ino ino, std::uint64_t size) {
  std::shared_ptr<LocalFile> file;
  {
    auto lock = ns_->lock();
    auto node = ns_->node(ino);
    if (!node) return fail(ENOENT, "no inode " + std::to_string(ino));
    if (node->is_directory()) return fail(EISDIR, node->name + " is a directory");
    if (node->kind() != Kind::Local) {
      spdlog::warn("truncate {} refused: pinned content is immutable; write a new file instead", node->name);
      return fail(EROFS, "pinned content is immutable");
    }
    file = node->local();
    if (!file->editable()) {
      spdlog::warn("truncate {} refused: already uploaded or queued", node->name);
      return fail(EROFS, "file already uploaded");
    }
  }
  {
    std::lock_guard io(file->io);
    if (::ftruncate(file->fd, static_cast<off_t>(size)) != 0) return fail_errno("truncate " + file->staging);
    if (size == 0) {
      file->write_errno = 0;  // a fresh start
      file->importer = std::make_unique<cid::FileImporter>(cid::ImportOptions{options_.cid_version});
      file->sequential = true;
    } else if (!file->importer || file->importer->bytes_seen() != size) {
      file->sequential = false;
    }
    file->size = size;
    file->dirty = true;
    file->mtime = now_seconds();
  }
  return getattr(ino);
}

// The last writer's close: a file of a new directory waits for the directory; a root file is uploaded.
static bool in_new_directory(const Vfs::LocalFile& file) {
  return file.parent != kRootIno;
}

Result<void> Vfs::flush(std::uint64_t fh) {
  auto handle = handle_of(fh);
  if (!handle) return {};
  // Only the last writer's close uploads: other descriptors may still be writing. A flush before any write
  // is a dup'd descriptor closing (bash's `> file` opens, dup2s and closes the original): the real close
  // comes later, or release uploads.
  if (!handle->writable || !handle->local || !handle->wrote) return {};
  {
    auto up = uploads_->lock();
    if (handle->local->writers > 1) return {};
  }
  if (in_new_directory(*handle->local)) {
    auto lock = ns_->lock();
    touch_dir_locked(handle->local->parent);  // uploaded with it, after a quiet delay
    return {};
  }
  return uploads_->commit(handle->local);
}

Result<void> Vfs::fsync(std::uint64_t fh) {
  auto handle = handle_of(fh);
  if (!handle || !handle->local) return {};
  if (in_new_directory(*handle->local)) {
    auto lock = ns_->lock();
    touch_dir_locked(handle->local->parent);
    return {};
  }
  return uploads_->commit(handle->local);
}

void Vfs::release(std::uint64_t fh) {
  std::shared_ptr<Handle> handle;
  {
    std::lock_guard lock(handles_mu_);
    auto it = handles_.find(fh);
    if (it == handles_.end()) return;
    handle = it->second;
    handles_.erase(it);
  }
  bool last_writer = false;
  if (handle->writable && handle->local) {
    auto up = uploads_->lock();
    if (--handle->local->writers == 0 && handle->local->deleted)
      uploads_->release_space_locked(*handle->local);
    last_writer =
        handle->local->writers == 0 &&
        (handle->local->dirty || (handle->retry_failed && handle->local->state == UploadState::Failed));
  }
  if (last_writer) {
    // flush normally did this; a release without it (or after more writes) must not strand the data
    Result<void> ok;
    if (in_new_directory(*handle->local)) {
      auto lock = ns_->lock();
      touch_dir_locked(handle->local->parent);
    } else {
      ok = uploads_->commit(handle->local);
    }
    if (!ok) spdlog::error("upload of {} failed at release: {}", handle->local->name, ok.error().describe());
  }
  auto lock = ns_->lock();
  auto node = handle->node;
  handle.reset();
  ns_->drop_if_unused(node);
}

}  // namespace pinfs::vfs
