// New files: staging, CID while writing, and the upload on close (sync) or in the background (async).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "node.hpp"
#include "pinfs/cache/content_cache.hpp"
#include "pinfs/cache/journal.hpp"
#include "pinfs/cache/pin_index.hpp"
#include "pinfs/cid/cid.hpp"
#include "pinfs/common/log.hpp"
#include "pinfs/vfs/names.hpp"

namespace pinfs::vfs {

namespace {

bool same_cid(const std::string& a, const std::string& b) {
  if (a == b) return true;
  auto pa = cid::Cid::parse(a);
  auto pb = cid::Cid::parse(b);
  return pa && pb && pa->to_v1() == pb->to_v1();
}

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

std::string Vfs::staging_path() {
  auto stamp = std::chrono::system_clock::now().time_since_epoch().count();
  return options_.cache_dir + "/staging/" + std::to_string(stamp) + "-" + std::to_string(next_staging_++) +
         ".data";
}

Result<Created> Vfs::create(Ino parent, const std::string& name, mode_t /*mode*/, int flags) {
  if (parent == kRootIno)
    if (auto ok = ensure_index(); !ok) return std::unexpected(ok.error());
  std::unique_lock lock(mu_);
  auto dir = node_locked(parent);
  if (!dir) return fail(ENOENT, "no inode " + std::to_string(parent));
  if (dir->kind != Kind::Root && dir->kind != Kind::LocalDir) {
    if (!dir->is_directory()) return fail(ENOTDIR, dir->name + " is not a directory");
    spdlog::warn("create {} in {} refused: pinned directories are immutable", name, dir->name);
    return fail(EROFS, "pinned directories are immutable");
  }
  if (auto existing = child_locked(dir, name, lock); existing) return fail(EEXIST, name + " exists");
  if (dir->kind == Kind::Root && name == kControlDirName) return fail(EEXIST, name + " exists");

  auto file = std::make_shared<LocalFile>();
  file->staging = staging_path();
  file->fd = ::open(file->staging.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (file->fd < 0) return fail_errno("create staging file " + file->staging);
  file->importer = std::make_unique<cid::FileImporter>(cid::ImportOptions{options_.cid_version});
  file->name = unescape_name(name);
  file->parent = parent;
  file->dirty = true;
  file->mtime = now_seconds();
  file->writers = 1;

  auto node = std::make_shared<Node>();
  node->kind = Kind::Local;
  node->ino = next_ino_++;
  node->key = "local:" + std::to_string(node->ino);
  node->name = name;
  node->parent = parent;
  node->local = file;
  node->lookups = 1;
  file->ino = node->ino;
  nodes_[node->ino] = node;
  by_key_[node->key] = node->ino;
  locals_by_key_[node->key] = file;
  if (dir->kind == Kind::Root) {
    root_locals_[name] = node->ino;
  } else {
    dir->dir->children[name] = node->ino;
    dir->dir->last_change_ms = now_ms();
  }
  (void)flags;

  auto handle = std::make_shared<Handle>();
  handle->node = node;
  handle->local = file;
  handle->writable = true;
  Created created;
  created.entry = entry_locked(node);
  created.file.fh = next_fh_++;
  handles_[created.file.fh] = handle;
  spdlog::debug("create {} (ino {}) staged at {}", name, node->ino, file->staging);
  return created;
}

Result<std::size_t> Vfs::write(std::uint64_t fh, std::uint64_t offset, const char* data, std::size_t size) {
  std::shared_ptr<Handle> handle;
  {
    std::lock_guard lock(mu_);
    auto it = handles_.find(fh);
    if (it == handles_.end()) return fail(EBADF, "no file handle " + std::to_string(fh));
    handle = it->second;
    if (!handle->writable || !handle->local) return fail(EBADF, "not open for writing");
    auto state = handle->local->state;
    if (state != UploadState::Local && state != UploadState::Failed) {
      spdlog::warn("write to {} refused: already uploaded or queued", handle->node->name);
      return fail(EROFS, "file already uploaded");
    }
  }
  handle->wrote = true;
  LocalFile& file = *handle->local;
  std::lock_guard io(file.io);
  if (auto ok = write_all(file.fd, data, size, offset); !ok) return std::unexpected(ok.error());
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
    std::lock_guard lock(mu_);
    auto node = node_locked(ino);
    if (!node) return fail(ENOENT, "no inode " + std::to_string(ino));
    if (node->is_directory()) return fail(EISDIR, node->name + " is a directory");
    if (node->kind != Kind::Local) {
      spdlog::warn("truncate {} refused: pinned content is immutable; write a new file instead", node->name);
      return fail(EROFS, "pinned content is immutable");
    }
    file = node->local;
    if (file->state != UploadState::Local && file->state != UploadState::Failed) {
      spdlog::warn("truncate {} refused: already uploaded or queued", node->name);
      return fail(EROFS, "file already uploaded");
    }
  }
  {
    std::lock_guard io(file->io);
    if (::ftruncate(file->fd, static_cast<off_t>(size)) != 0) return fail_errno("truncate " + file->staging);
    if (size == 0) {
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

Result<std::string> Vfs::finish_cid(LocalFile& file) {
  std::lock_guard io(file.io);
  if (file.sequential && file.importer && file.importer->bytes_seen() == file.size) {
    auto result = file.importer->finish();
    file.importer.reset();
    file.sequential = false;  // a later edit re-reads the staged file
    return result.cid.to_string();
  }
  cid::ImportOptions options;
  options.cid_version = options_.cid_version;
  auto result = cid::import_file(file.staging, options);
  if (!result) return std::unexpected(result.error());
  return result->cid.to_string();
}

Result<void> Vfs::flush(std::uint64_t fh) {
  std::shared_ptr<Handle> handle;
  {
    std::lock_guard lock(mu_);
    auto it = handles_.find(fh);
    if (it == handles_.end()) return {};
    handle = it->second;
    // Only the last writer's close uploads: other descriptors may still be writing. A flush before any write
    // is a dup'd descriptor closing (bash's `> file` opens, dup2s and closes the original): the real close
    // comes later, or release uploads.
    if (!handle->writable || !handle->local || handle->local->writers > 1 || !handle->wrote) return {};
  }
  return commit(handle->local, false);
}

Result<void> Vfs::fsync(std::uint64_t fh) {
  std::shared_ptr<Handle> handle;
  {
    std::lock_guard lock(mu_);
    auto it = handles_.find(fh);
    if (it == handles_.end()) return {};
    handle = it->second;
    if (!handle->local) return {};
  }
  return commit(handle->local, true);
}

void Vfs::release(std::uint64_t fh) {
  std::shared_ptr<Handle> handle;
  bool last_writer = false;
  {
    std::lock_guard lock(mu_);
    auto it = handles_.find(fh);
    if (it == handles_.end()) return;
    handle = it->second;
    handles_.erase(it);
    if (handle->writable && handle->local)
      last_writer =
          --handle->local->writers == 0 &&
          (handle->local->dirty || (handle->retry_failed && handle->local->state == UploadState::Failed));
  }
  if (last_writer) {
    // flush normally did this; a release without it (or after more writes) must not strand the data
    if (auto ok = commit(handle->local, false); !ok)
      spdlog::error("upload of {} failed at release: {}", handle->local->name, ok.error().describe());
  }
  std::lock_guard lock(mu_);
  auto node = handle->node;
  handle.reset();
  drop_if_unused_locked(node);
}

Result<void> Vfs::commit(const std::shared_ptr<LocalFile>& file, bool from_fsync) {
  {
    std::lock_guard lock(mu_);
    if (file->parent != kRootIno) {
      // Part of a new directory: uploaded with it, after a quiet delay.
      touch_dir_locked(file->parent);
      return {};
    }
    if (file->deleted) return {};
    if (file->state != UploadState::Local && file->state != UploadState::Failed) return {};
    if (file->state == UploadState::Local && !file->dirty) return {};
  }
  auto cid = finish_cid(*file);
  if (!cid) return fail(EIO, "computing the CID of " + file->name + ": " + cid.error().describe());
  file->dirty = false;
  {
    std::lock_guard lock(mu_);
    file->cid = *cid;
  }
  if (options_.upload == UploadMode::Async) {
    {
      std::lock_guard io(file->io);
      if (::fsync(file->fd) != 0) return fail_errno("fsync staged " + file->staging);
    }
    cache::JournalEntry entry;
    {
      std::lock_guard lock(mu_);
      entry = journal_entry_of(*file);
    }
    if (entry.id) {
      if (auto ok = journal_->update(entry); !ok) return fail(EIO, ok.error().describe());
    } else {
      auto id = journal_->add(entry);
      if (!id) return fail(EIO, id.error().describe());
      entry.id = *id;
    }
    {
      std::lock_guard lock(mu_);
      file->journal_id = entry.id;
      file->state = UploadState::Queued;
      file->next_attempt_ms = 0;
      queue_.push_back(file);
    }
    wake_.notify_all();
    spdlog::info("{} queued for upload ({} bytes, {})", file->name, file->size.load(), file->cid);
    return {};
  }
  (void)from_fsync;
  return upload_now(file);
}

Result<void> Vfs::upload_now(const std::shared_ptr<LocalFile>& file) {
  service::FileUpload upload;
  std::string local_cid;
  {
    std::lock_guard lock(mu_);
    file->state = UploadState::Uploading;
    file->sent = 0;
    upload.local_path = file->staging;
    upload.name = file->name;
    upload.keyvalues = file->keyvalues;
    upload.cid_version = options_.cid_version;
    local_cid = file->cid;
  }

  if (options_.dedupe) {
    Result<service::PinPage> existing = service::PinPage{};
    bool ask_service = false;
    {
      std::lock_guard lock(mu_);
      existing->pins = index_->by_cid(local_cid);
      ask_service = file->resumed || file->size >= options_.dedupe_remote_min_bytes;
    }
    if (existing->pins.empty() && ask_service) {
      service::ListQuery query;
      query.cid = local_cid;
      query.page_size = 10;
      ++counters_.list_calls;
      existing = service_->list(query);
    }
    if (existing && !existing->pins.empty()) {
      ++counters_.dedupes;
      auto same = std::find_if(existing->pins.begin(), existing->pins.end(),
                               [&](const service::Pin& p) { return p.name == upload.name; });
      if (same != existing->pins.end()) {
        spdlog::info("{}: content {} already pinned under this name, no upload", upload.name, local_cid);
        std::lock_guard lock(mu_);
        adopt_pin_locked(file, *same);
      } else {
        ++counters_.pin_by_cid;
        auto job = service_->pin_by_cid(local_cid, upload.name, upload.keyvalues);
        if (!job) {
          std::lock_guard lock(mu_);
          file->state = UploadState::Failed;
          file->reason = job.error().describe();
          return fail(job.error().errnum == EDQUOT ? EDQUOT : EIO, "pin by CID failed: " + file->reason);
        }
        spdlog::info("{}: content {} already pinned as {}, pinned by CID instead of uploading", upload.name,
                     local_cid, existing->pins.front().name);
        std::lock_guard lock(mu_);
        jobs_.push_back(*job);
        file->job_status = job->status.empty() ? "queued" : job->status;
        file->job_name = upload.name;
        job_files_.push_back(file);
      }
      return {};
    }
    if (!existing) spdlog::debug("dedupe lookup failed, uploading: {}", existing.error().describe());
  }

  upload.progress = [this, file](const service::UploadProgress& p) {
    std::lock_guard lock(mu_);
    file->sent = p.sent;
  };
  ++counters_.uploads;
  auto pinned = service_->upload_file(upload);
  std::string problem;
  int errnum = EIO;
  if (!pinned) {
    problem = pinned.error().describe();
    if (pinned.error().errnum == EDQUOT) errnum = EDQUOT;
  } else if (!same_cid(pinned->cid, local_cid)) {
    problem = "CID mismatch: service pinned " + pinned->cid + ", local content is " + local_cid;
  }
  if (!problem.empty()) {
    ++counters_.upload_failures;
    spdlog::error("upload of {} failed, data stays staged at {}: {}", upload.name, upload.local_path,
                  problem);
    cache::JournalEntry entry;
    {
      std::lock_guard lock(mu_);
      file->state = UploadState::Failed;
      file->reason = problem;
      entry.id = file->journal_id;
      entry.name = file->name;
      entry.staging_path = file->staging;
      entry.cid = file->cid;
      entry.size = file->size;
      entry.keyvalues = file->keyvalues;
    }
    if (!entry.id && journal_) {  // so a new mount retries it
      if (auto id = journal_->add(entry)) {
        std::lock_guard lock(mu_);
        file->journal_id = *id;
      }
    }
    return fail(errnum, "upload of " + upload.name + " failed: " + problem);
  }

  std::optional<service::PinRef> replaces;
  bool deleted = false;
  std::string name_now;
  {
    std::lock_guard lock(mu_);
    replaces = file->replaces;
    deleted = file->deleted;
    name_now = file->name;
    adopt_pin_locked(file, *pinned);
  }
  spdlog::info("pinned {} as {} ({} bytes)", upload.name, pinned->cid, pinned->size);
  if (name_now != upload.name && !deleted) {  // renamed while uploading
    if (auto renamed = service_->rename(*pinned, name_now)) {
      std::lock_guard lock(mu_);
      index_->upsert(*renamed);
    }
  }
  if (replaces) {
    ++counters_.unpins;
    if (auto ok = service_->unpin(*replaces); !ok)
      spdlog::warn("unpinning the replaced {} failed: {}", replaces->cid, ok.error().describe());
    std::lock_guard lock(mu_);
    for (const auto& pin : index_->by_cid(replaces->cid))
      if (pin.id == replaces->id || replaces->id.empty()) index_->erase(cache::pin_key(pin));
  }
  if (deleted) {
    ++counters_.unpins;
    (void)service_->unpin({pinned->id, pinned->cid});
    std::lock_guard lock(mu_);
    index_->erase(cache::pin_key(*pinned));
  }
  return {};
}

// The file is pinned: its inode becomes the pin's (same number), the staged copy and journal row go.
cache::JournalEntry journal_entry_of(const Vfs::LocalFile& file) {
  cache::JournalEntry entry;
  entry.id = file.journal_id;
  entry.name = file.name;
  entry.staging_path = file.staging;
  entry.cid = file.cid;
  entry.size = file.size;
  entry.keyvalues = file.keyvalues;
  if (file.replaces) {
    entry.replaces_id = file.replaces->id;
    entry.replaces_cid = file.replaces->cid;
  }
  return entry;
}

void Vfs::adopt_pin_locked(const std::shared_ptr<LocalFile>& file, const service::Pin& pin) {
  file->state = UploadState::Pinned;
  file->job_status.clear();
  file_sizes_[pin.cid] = file->size;  // the bytes written here, whatever size the service reports
  index_->upsert(pin);
  if (auto node = node_locked(file->ino)) {
    if (auto it = root_locals_.find(node->name); it != root_locals_.end() && it->second == node->ino)
      root_locals_.erase(it);
    locals_by_key_.erase(node->key);
    node->kind = Kind::Pin;
    node->pin = pin;
    node->cid = pin.cid;
    node->verified = !file->cid.empty();  // adopted only after the CIDs matched
    alias_locked(node, "pin:" + cache::pin_key(pin));
  }
  if (file->deleted || !content_ || !content_->adopt_file(pin.cid, file->staging, file->size))
    ::unlink(file->staging.c_str());
  if (file->journal_id && journal_) (void)journal_->remove(file->journal_id);
  file->journal_id = 0;
}

void Vfs::discard_local_locked(const std::shared_ptr<LocalFile>& file) {
  ::unlink(file->staging.c_str());
  if (file->journal_id && journal_) (void)journal_->remove(file->journal_id);
  file->journal_id = 0;
  queue_.erase(std::remove(queue_.begin(), queue_.end(), file), queue_.end());
  if (auto node = node_locked(file->ino)) locals_by_key_.erase(node->key);
}

void Vfs::worker_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::milliseconds(100));
    if (stopping_) break;
    lock.unlock();
    run_background_once();
    lock.lock();
  }
}

void Vfs::run_background_once() {
  std::vector<std::shared_ptr<LocalFile>> due;
  std::vector<NodePtr> quiet_dirs;
  {
    std::lock_guard lock(mu_);
    auto now = now_ms();
    for (auto it = queue_.begin(); it != queue_.end();) {
      if ((*it)->next_attempt_ms <= now && !(*it)->deleted) {
        due.push_back(*it);
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [name, ino] : root_locals_) {
      auto node = node_locked(ino);
      if (node && node->kind == Kind::LocalDir && !node->dir->uploading &&
          node->dir->last_change_ms + options_.dir_quiet_delay.count() <= now)
        quiet_dirs.push_back(node);
    }
  }
  for (auto& file : due) {
    if (upload_now(file)) continue;
    std::lock_guard lock(mu_);
    if (file->state != UploadState::Failed) continue;
    ++file->attempts;
    auto delay = options_.upload_retry_delay.count() << std::min(file->attempts - 1, 16);
    file->next_attempt_ms = now_ms() + std::min<std::int64_t>(delay, 60'000);
    queue_.push_back(file);
  }
  std::vector<FollowUp> follow_ups;
  {
    std::lock_guard lock(mu_);
    follow_ups.swap(follow_ups_);
  }
  for (auto& follow : follow_ups) {
    if (follow.new_name.empty()) {
      ++counters_.unpins;
      auto ok = service_->unpin({follow.pin.id, follow.pin.cid});
      std::lock_guard lock(mu_);
      if (ok)
        index_->erase(cache::pin_key(follow.pin));
      else
        spdlog::warn("unpinning {} (removed while pinning) failed: {}", follow.pin.name,
                     ok.error().describe());
      continue;
    }
    ++counters_.renames;
    auto renamed = service_->rename(follow.pin, follow.new_name);
    std::lock_guard lock(mu_);
    if (!renamed) {
      spdlog::warn("renaming {} to {} failed: {}", follow.pin.name, follow.new_name,
                   renamed.error().describe());
      continue;
    }
    index_->erase(cache::pin_key(follow.pin));
    index_->upsert(*renamed);
    if (auto it = by_key_.find("pin:" + cache::pin_key(follow.pin)); it != by_key_.end())
      if (auto node = node_locked(it->second)) {
        node->pin = *renamed;
        alias_locked(node, "pin:" + cache::pin_key(*renamed));
      }
  }
  for (auto& dir : quiet_dirs) {
    if (auto ok = upload_dir_now(dir); !ok && ok.error().errnum != EAGAIN)
      spdlog::warn("directory upload: {}", ok.error().describe());
  }
}

Result<void> Vfs::shutdown(bool wait_for_uploads) {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::vector<std::shared_ptr<LocalFile>> pending;
  std::vector<NodePtr> dirs;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, file] : locals_by_key_)
      if (file->parent == kRootIno && !file->deleted && file->state != UploadState::Pinned &&
          file->job_status.empty())
        pending.push_back(file);
    for (const auto& [name, ino] : root_locals_)
      if (auto node = node_locked(ino); node && node->kind == Kind::LocalDir) dirs.push_back(node);
  }
  if (!wait_for_uploads) {
    if (!dirs.empty())
      spdlog::warn("{} new directories were not uploaded; their files stay in {}/staging", dirs.size(),
                   options_.cache_dir);
    if (!pending.empty()) spdlog::info("{} uploads left in the journal for the next mount", pending.size());
    return {};
  }
  std::string failed;
  for (auto& file : pending) {
    Result<void> ok = file->state == UploadState::Local ? commit(file, true) : Result<void>{};
    if (ok && file->state != UploadState::Pinned && file->job_status.empty()) {
      if (file->cid.empty()) {
        auto cid = finish_cid(*file);
        if (cid) file->cid = *cid;
      }
      ok = upload_now(file);
    }
    if (!ok) failed += (failed.empty() ? "" : ", ") + file->name;
  }
  for (auto& dir : dirs)
    if (auto ok = upload_dir_now(dir); !ok) failed += (failed.empty() ? "" : ", ") + dir->name + "/";
  if (!failed.empty()) return fail(EIO, "not uploaded (kept staged and journaled): " + failed);
  return {};
}

}  // namespace pinfs::vfs
