// New files: create, write, truncate, close. The namespace gets the name; Uploads the staged bytes.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "namespace.hpp"
#include "node.hpp"
#include "pinfs/cache/pin_index.hpp"
#include "pinfs/common/log.hpp"
#include "pinfs/vfs/names.hpp"
#include "uploads.hpp"

namespace pinfs::vfs {

namespace {

// Sync mode, upload while writing: how far a writer may be ahead of the upload, and how long a write waits
// for it (Vfs::write).
constexpr std::uint64_t kStreamLead = 64ull << 20;
constexpr std::chrono::seconds kStreamLeadWait{30};

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

// The last writer's close: a file of a new directory waits for the directory; a root file is uploaded.
bool in_new_directory(const Vfs::LocalFile& file) {
  return file.parent != kRootIno;
}

void set_now(Vfs::LocalFile& file) {
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  file.mtime = now.tv_sec;
  file.mtime_nsec = now.tv_nsec;
}

}  // namespace

Result<Created> Vfs::create(Ino parent, const std::string& name, mode_t /*mode*/, int /*flags*/) {
  if (parent == kRootIno)
    if (auto ok = ensure_index(); !ok) return std::unexpected(ok.error());
  std::int64_t journal_parent = 0;
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
    if (auto* d = dir->dir()) journal_parent = d->journal_id;
  }
  auto file = uploads_->create(unescape_name(name), parent, journal_parent);
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
  if (handle->committed)
    if (auto ok = reopen_committed(*handle); !ok) return std::unexpected(ok.error());
  if (!handle->local->editable()) {
    spdlog::warn("write to {} refused: already uploaded or queued", handle->node->name);
    return fail(EROFS, "file already uploaded");
  }
  handle->wrote = true;
  LocalFile& file = *handle->local;
  if (in_new_directory(file)) {  // written again after a close marked it complete (a dup's close)
    auto up = uploads_->lock();
    if (auto ok = uploads_->reopened_for_writing_locked(handle->local); !ok)
      return fail(EIO, ok.error().describe());
  }
  if (file.mtime_set.exchange(false)) {  // a write after utimens: the mtime is the write's again
    auto up = uploads_->lock();
    file.keyvalues.erase(kMtimeKey);
    if (auto ok = uploads_->journal_update_locked(file); !ok) return fail(EIO, ok.error().describe());
  }
  bool start_stream = false;
  std::shared_ptr<http::GrowingFile> keep_up_with;  // sync: the upload this write waits for
  {
    std::lock_guard io(file.io);
    if (int e = file.write_errno.load(); e != 0)
      return fail(e, "an earlier write to " + handle->node->name + " failed; truncate it and write it again");
    if (auto ok = write_all(file.fd, data, size, offset); !ok) {
      file.write_errno = ok.error().errnum;
      if (file.stream) file.stream->growth->abandon();
      spdlog::error("write to {} failed: {}; it will not be uploaded", handle->node->name,
                    ok.error().describe());
      return std::unexpected(ok.error());
    }
    // The CID is computed on the fly only while bytes arrive in order; anything else re-reads at close.
    const bool in_order = file.sequential && file.importer && offset == file.importer->bytes_seen();
    if (in_order)
      file.importer->update(cid::ByteView(reinterpret_cast<const std::uint8_t*>(data), size));
    else
      file.sequential = false;
    file.size = std::max<std::uint64_t>(file.size, offset + size);
    // [write.stream] An upload reading the file as it grows sees only appends: anything else ends it, and
    // the file is uploaded from staging at close.
    if (file.stream && in_order) {
      file.stream->growth->grew();
      if (options_.upload == UploadMode::Sync) keep_up_with = file.stream->growth;
    } else if (file.stream && !file.no_stream) {
      file.stream->growth->abandon();
      file.no_stream = true;
      ++counters_.streams_abandoned;
    } else if (!file.stream && in_order && options_.stream_min_bytes > 0 && !file.no_stream &&
               file.size >= options_.stream_min_bytes && file.parent == kRootIno) {
      start_stream = true;
    }
    file.dirty = true;
    set_now(file);
  }
  if (start_stream) uploads_->start_stream(handle->local);
  // [write.stream] In sync mode the close waits for the upload anyway, so a writer far ahead of it gains
  // nothing: it keeps within kStreamLead of what the upload has read (no lock held), and the staged bytes
  // behind the upload leave the page cache (http::detail::FileReader), so copying a large file in touches
  // about that much memory rather than its whole size. A stalled upload holds a write for at most
  // kStreamLeadWait, then the writer goes on alone.
  if (keep_up_with && !keep_up_with->wait_for_reader(offset + size, kStreamLead, kStreamLeadWait))
    spdlog::debug("write to {}: the upload while writing is more than {} MiB behind", handle->node->name,
                  kStreamLead >> 20);
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
    if (file->stream && !file->no_stream) {  // [write.stream] uploaded from staging at close instead
      file->stream->growth->abandon();
      file->no_stream = true;
      ++counters_.streams_abandoned;
    }
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
    set_now(*file);
  }
  return getattr(ino);
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
    {
      auto lock = ns_->lock();
      touch_dir_locked(handle->local->parent);  // uploaded with it, after a quiet delay
    }
    return uploads_->closed_in_directory(handle->local);
  }
  // This may be a duplicate's close with the descriptor still open: a later write reopens the file.
  handle->committed = true;
  return uploads_->commit(handle->local);
}

Result<void> Vfs::fsync(std::uint64_t fh) {
  auto handle = handle_of(fh);
  if (!handle || !handle->local) return {};
  if (in_new_directory(*handle->local)) {
    {
      auto lock = ns_->lock();
      touch_dir_locked(handle->local->parent);
    }
    return uploads_->closed_in_directory(handle->local, true);
  }
  if (handle->writable) handle->committed = true;
  return uploads_->commit(handle->local);
}

Result<void> Vfs::reopen_committed(Handle& handle) {
  auto file = handle.local;
  for (;;) {
    {
      auto lock = ns_->lock();
      auto up = uploads_->lock();
      const bool was_pinned = file->state == UploadState::Pinned;
      auto ok = uploads_->reopen_committed_locked(file);
      if (ok) {
        auto node = ns_->node(file->ino);
        if (was_pinned && node && node->pin()) {  // the node became the pin's: it is the new file's again
          ns_->unalias(node->key, node->ino);
          node->data = LocalData{file};
          ns_->alias(node, "local:" + std::to_string(node->ino));
          node->name = escape_name(file->name);
          ns_->root_locals()[node->name] = node->ino;
        }
        handle.committed = false;
        return {};
      }
      if (ok.error().errnum != EAGAIN) {
        spdlog::warn("write to {} refused: {}", file->name, ok.error().describe());
        return ok;
      }
    }
    uploads_->wait_settled(file, std::chrono::seconds(1));  // its upload is running: written once it ended
  }
}

// ---- setattr: only the size and the mtime mean something ([attr.setattr], [attr.mtime]) ----

Result<struct stat> Vfs::setattr(Ino ino, const AttrChange& change) {
  if (change.size)
    if (auto attr = truncate(ino, *change.size); !attr) return attr;
  if (change.mtime) {
    if (auto ok = set_mtime(ino, change.mtime->tv_sec, change.mtime->tv_nsec); !ok)
      return std::unexpected(ok.error());
  } else if (change.mtime_now) {
    touch_now(ino);
  }
  if (change.mode || change.owner) spdlog::debug("chmod/chown of inode {} accepted, not kept", ino);
  return getattr(ino);
}

Result<void> Vfs::set_mtime(Ino ino, std::int64_t sec, std::int64_t nsec) {
  const auto value = mtime_text(sec, nsec);
  const auto caps = service_->capabilities();
  {
    auto lock = ns_->lock();
    auto node = ns_->node(ino);
    if (!node) return fail(ENOENT, "no inode " + std::to_string(ino));
    if (node->kind() == Kind::Local) {
      auto file = node->local();
      auto up = uploads_->lock();
      if (file->state != UploadState::Pinned) {
        // Sent with the upload; an upload already running gets it afterwards (on_pinned).
        auto& kv = file->keyvalues;
        if (!kv.contains(kMtimeKey) && caps.max_keyvalues && kv.size() >= caps.max_keyvalues) {
          spdlog::warn(
              "mtime of {} shown but not kept: the provider allows {} metadata keys and it has them all",
              file->name, caps.max_keyvalues);
        } else {
          kv[kMtimeKey] = value;
          file->mtime_set = true;
        }
        file->mtime = sec;
        file->mtime_nsec = nsec;
        if (auto ok = uploads_->journal_update_locked(*file); !ok) return fail(EIO, ok.error().describe());
        return {};
      }
      // Pinned just now, its node not switched yet: on_pinned stores it from the keyvalues if it runs after
      // this, as for an upload that was running; if its row is in the index already, it is stored below.
      file->keyvalues[kMtimeKey] = value;
      file->mtime = sec;
      file->mtime_nsec = nsec;
    } else if (node->kind() != Kind::Pin || node->pin()->is_dir) {
      return {};  // directories, entries of directory pins, links, /.pinfs: accepted, not kept
    }
  }
  return store_pin_mtime(ino, value);
}

void Vfs::touch_now(Ino ino) {
  auto lock = ns_->lock();
  auto node = ns_->node(ino);
  if (!node || node->kind() != Kind::Local) return;  // a pin keeps the mtime it has
  auto file = node->local();
  auto up = uploads_->lock();
  if (file->state == UploadState::Pinned || file->state == UploadState::Uploading) return;
  if (file->keyvalues.erase(kMtimeKey)) (void)uploads_->journal_update_locked(*file);
  file->mtime_set = false;
  set_now(*file);
}

Result<void> Vfs::store_pin_mtime(Ino ino, const std::string& value) {
  const auto caps = service_->capabilities();
  return change_pin(
      ino,
      [&](service::Pin pin) -> Result<void> {
        if (mtime_of(pin.keyvalues) == mtime_of({{kMtimeKey, value}})) return {};  // kept already
        if (!pin.keyvalues.contains(kMtimeKey) && caps.max_keyvalues &&
            pin.keyvalues.size() >= caps.max_keyvalues) {
          spdlog::warn("mtime of {} not kept: the provider allows {} metadata keys and the pin has them all",
                       pin.name, caps.max_keyvalues);
          return {};
        }
        service::Pin before = pin;
        pin.keyvalues[kMtimeKey] = value;
        ++counters_.metadata_updates;
        if (caps.metadata_update) {
          if (auto ok = service_->update_metadata({pin.id, pin.cid}, std::nullopt, {{kMtimeKey, value}});
              !ok) {
            spdlog::warn("keeping the mtime of {} failed: {}", pin.name, ok.error().describe());
            return ok;
          }
          ns_->index().upsert(pin);
        } else {
          // No metadata update (AIOZ): pinned again by hash with the new keyvalue, the old pin id removed.
          auto again = service_->rename(pin, pin.name);
          if (!again) {
            spdlog::warn("keeping the mtime of {} failed: {}", pin.name, again.error().describe());
            return std::unexpected(again.error());
          }
          again->keyvalues = pin.keyvalues;
          on_changed(before, *again);
          pin = *again;
        }
        auto lock = ns_->lock();
        if (auto node = ns_->by_key("pin:" + cache::pin_key(pin)); node && node->pin())
          if (auto mtime = mtime_of(pin.keyvalues))
            std::tie(node->pin()->mtime, node->pin()->mtime_nsec) = *mtime;
        return {};
      },
      {});
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
      {
        auto lock = ns_->lock();
        touch_dir_locked(handle->local->parent);
      }
      ok = uploads_->closed_in_directory(handle->local);
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
