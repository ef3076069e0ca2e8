#include "uploads.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <utility>

#include "pinfs/cache/content_cache.hpp"
#include "pinfs/cache/pin_index.hpp"
#include "pinfs/cid/cid.hpp"
#include "pinfs/common/log.hpp"
#include "unpin.hpp"

namespace pinfs::vfs {

bool same_cid(const std::string& a, const std::string& b) {
  if (a == b) return true;
  auto pa = cid::Cid::parse(a);
  auto pb = cid::Cid::parse(b);
  return pa && pb && pa->to_v1() == pb->to_v1();
}

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
  entry.state = file.closed ? "queued" : "writing";
  entry.parent = file.journal_parent;
  return entry;
}

Uploads::Uploads(std::shared_ptr<service::PinService> service, const VfsOptions& options,
                 VfsCounters& counters, PinChanges& pin_changes, Hooks hooks)
    : service_(std::move(service)),
      options_(options),
      counters_(counters),
      pin_changes_(pin_changes),
      hooks_(std::move(hooks)) {}

Uploads::~Uploads() {
  stop_worker();
  // Streams of files never closed (an unmount without waiting): their uploads end unfinished.
  std::vector<std::shared_ptr<UploadStream>> streams;
  {
    std::lock_guard lock(mu_);
    streams.swap(streams_);
  }
  for (auto& stream : streams) {
    stream->growth->abandon();
    if (stream->thread.joinable()) stream->thread.join();
  }
}

Result<Uploads::Resumed> Uploads::open(ShownPins& index, cache::ContentCache* content) {
  index_ = &index;
  content_ = content;
  auto journal = cache::open_sqlite_journal(options_.cache_dir + "/journal.sqlite");
  if (!journal) return std::unexpected(journal.error());
  journal_ = std::move(*journal);
  auto entries = journal_->entries();
  if (!entries) return std::unexpected(entries.error());
  Resumed out;
  auto& resumed = out.files;
  std::lock_guard lock(mu_);
  std::set<std::string> journaled;
  std::set<std::int64_t> dir_rows;  // a directory's row comes before those of everything in it
  for (auto entry : *entries) {
    if (entry.state == "directory") {
      out.directories.push_back(entry);
      dir_rows.insert(entry.id);
      continue;
    }
    if (entry.parent && !dir_rows.contains(entry.parent)) {
      spdlog::warn("journal: the directory of {} is gone; it comes back at the root", entry.name);
      entry.parent = 0;
    }
    int fd = ::open(entry.staging_path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      // A "writing" row whose file is missing was never created; a "queued" one lost its data (or its
      // copy went into the content cache just before the row would have gone).
      if (entry.state == "writing")
        spdlog::info("journal row for {} has no staged file (never created); dropping it", entry.name);
      else
        spdlog::error("journal names {} for {} but the staged file is gone; dropping the entry",
                      entry.staging_path, entry.name);
      (void)journal_->remove(entry.id);
      continue;
    }
    journaled.insert(std::filesystem::path(entry.staging_path).filename().string());
    if (entry.state == "writing") {
      // Its writer never closed it: kept as a local file with its bytes, not uploaded half-written.
      auto file = std::make_shared<Vfs::LocalFile>();
      file->fd = fd;
      file->name = entry.name;
      file->staging = entry.staging_path;
      struct stat st {};
      file->size = ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
      file->keyvalues = entry.keyvalues;
      file->journal_id = entry.id;
      file->journal_parent = entry.parent;
      file->state = UploadState::Failed;
      file->reason = "interrupted";
      file->interrupted = true;
      file->resumed = true;
      file->sequential = false;  // the CID is computed from the staged file if it is ever closed again
      file->mtime = st.st_mtim.tv_sec;
      files_.push_back(file);
      resumed.push_back(file);
      spdlog::warn(
          "{} was still being written when the last mount stopped: kept locally ({} bytes), "
          "status failed: interrupted",
          entry.name, file->size.load());
      continue;
    }
    auto file = std::make_shared<Vfs::LocalFile>();
    file->fd = fd;
    file->name = entry.name;
    file->staging = entry.staging_path;
    file->cid = entry.cid;
    file->size = entry.size;
    file->keyvalues = entry.keyvalues;
    file->journal_id = entry.id;
    file->journal_parent = entry.parent;
    file->resumed = true;
    file->closed = true;
    file->mtime = now_seconds();
    if (!entry.replaces_id.empty() || !entry.replaces_cid.empty())
      file->replaces = service::PinRef{entry.replaces_id, entry.replaces_cid};
    files_.push_back(file);
    resumed.push_back(file);
    if (entry.parent) {  // uploaded with its directory, once the VFS has rebuilt it
      file->state = UploadState::Local;
      file->sequential = false;  // its CID is computed from the staged file
      continue;
    }
    file->state = UploadState::Queued;
    queue_.push_back(file);
    spdlog::info("resuming upload of {} ({} bytes) from the journal", entry.name, entry.size);
  }
  adopt_orphans_locked(journaled, resumed);
  return out;
}

// Staged files without a journal row (a mount that stopped between creating the file and its row, or a
// file of a new directory from before those were journaled): empty ones are removed, others are kept as
// interrupted local files named recovered-<staged name>, so that no byte is lost and each can be read or
// removed.
void Uploads::adopt_orphans_locked(const std::set<std::string>& journaled, std::vector<FilePtr>& resumed) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(options_.cache_dir + "/staging", ec)) {
    auto base = item.path().filename().string();
    if (journaled.contains(base) || !item.is_regular_file(ec)) continue;
    auto size = item.file_size(ec);
    if (ec || size == 0) {
      spdlog::info("removing empty staged file {} that no journal row names", item.path().string());
      fs::remove(item.path(), ec);
      continue;
    }
    int fd = ::open(item.path().c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;
    auto file = std::make_shared<Vfs::LocalFile>();
    file->fd = fd;
    file->name = "recovered-" + base;
    file->staging = item.path().string();
    file->size = size;
    file->state = UploadState::Failed;
    file->reason = "interrupted";
    file->interrupted = true;
    file->resumed = true;
    file->sequential = false;
    file->mtime = now_seconds();
    auto id = journal_->add(journal_entry_of(*file));
    if (!id) {
      spdlog::error("cannot journal the orphan staged file {}: {}", file->staging, id.error().describe());
      continue;
    }
    file->journal_id = *id;
    files_.push_back(file);
    resumed.push_back(file);
    spdlog::warn("staged file {} had no journal row: kept as {} ({} bytes)", file->staging, file->name, size);
  }
}

void Uploads::start_worker() {
  std::lock_guard lock(mu_);
  stopping_ = false;
  if (!worker_.joinable()) worker_ = std::thread([this] { worker_loop(); });
  if (options_.upload == UploadMode::Async || !queue_.empty()) {
    // Sync mode queues only what an earlier mount left in the journal: one thread is enough for that.
    const unsigned count = options_.upload == UploadMode::Async ? std::max(1u, options_.transfers) : 1u;
    while (transfers_.size() < count) transfers_.emplace_back([this] { transfer_loop(); });
  }
}

void Uploads::stop_worker() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  queued_.notify_all();
  if (worker_.joinable()) worker_.join();
  for (auto& thread : transfers_)
    if (thread.joinable()) thread.join();
  transfers_.clear();
}

void Uploads::start_stream(const FilePtr& file) {
  std::lock_guard lock(mu_);
  if (stopping_ || file->deleted || file->parent != kRootIno || file->state != UploadState::Local ||
      file->stream || file->resumed)
    return;
  std::lock_guard io(file->io);
  if (file->no_stream || !file->sequential || file->write_errno != 0) return;
  auto stream = std::make_shared<UploadStream>();
  stream->name = file->name;
  stream->keyvalues = file->keyvalues;
  service::FileUpload upload;
  upload.local_path = file->staging;
  upload.name = stream->name;
  upload.keyvalues = stream->keyvalues;
  upload.cid_version = options_.cid_version;
  upload.growth = stream->growth;
  upload.progress = [this, weak = std::weak_ptr<Vfs::LocalFile>(file)](const service::UploadProgress& p) {
    if (auto f = weak.lock()) {
      std::lock_guard progress(mu_);
      f->sent = p.sent;
    }
  };
  ++counters_.streamed_uploads;
  spdlog::info("{}: uploading while it is written", stream->name);
  stream->thread = std::thread([service = service_, stream, upload = std::move(upload)] {
    stream->result = service->upload_file(upload);
    stream->growth->reader_done();
    stream->done = true;
  });
  file->stream = stream;
  streams_.push_back(std::move(stream));
}

Result<service::Pin> Uploads::finish_stream(const std::shared_ptr<UploadStream>& stream) {
  stream->growth->complete();  // no-op when commit() did it; an abandoned stream stays abandoned
  if (stream->thread.joinable()) stream->thread.join();
  {
    std::lock_guard lock(mu_);
    streams_.erase(std::remove(streams_.begin(), streams_.end(), stream), streams_.end());
  }
  if (stream->growth->is_abandoned()) return fail(ECANCELED, "the upload while writing was abandoned");
  return *stream->result;
}

void Uploads::reap_streams() {
  std::vector<std::shared_ptr<UploadStream>> finished;
  {
    std::lock_guard lock(mu_);
    for (auto it = streams_.begin(); it != streams_.end();) {
      if ((*it)->orphaned && (*it)->done) {
        finished.push_back(std::move(*it));
        it = streams_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& stream : finished) {
    stream->thread.join();
    // Removed after its last close completed the stream: the pin it made goes too.
    if (!stream->growth->is_abandoned() && stream->result && *stream->result) {
      ++counters_.unpins;
      const auto& pin = **stream->result;
      if (auto ok = unpin_name(*service_, *index_, {pin.id, pin.cid}, cache::pin_key(pin),
                               "unpinning " + pin.name + " (removed while uploading)");
          !ok)
        spdlog::warn("unpinning {} (removed while uploading) failed: {}", pin.name, ok.error().describe());
    }
  }
}

std::string Uploads::staging_path() {
  auto stamp = std::chrono::system_clock::now().time_since_epoch().count();
  return options_.cache_dir + "/staging/" + std::to_string(stamp) + "-" + std::to_string(next_staging_++) +
         ".data";
}

// The journal row comes first, then the staged file: a file in staging/ always has its row.
Result<Uploads::FilePtr> Uploads::create(const std::string& name, Ino parent, std::int64_t journal_parent) {
  auto file = std::make_shared<Vfs::LocalFile>();
  file->name = name;
  file->parent = parent;
  file->journal_parent = journal_parent;
  {
    std::lock_guard lock(mu_);
    file->staging = staging_path();
    if (journal_) {
      // Lazy: a power loss that takes the row leaves the staged file an orphan, adopted at start.
      auto id = journal_->add(journal_entry_of(*file), cache::JournalSync::Lazy);
      if (!id) return fail(EIO, "journal: " + id.error().describe());
      file->journal_id = *id;
    }
  }
  file->fd = ::open(file->staging.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (file->fd < 0) {
    auto error = fail_errno("create staging file " + file->staging);
    std::lock_guard lock(mu_);
    if (file->journal_id) (void)journal_->remove(file->journal_id);
    return error;
  }
  file->importer = std::make_unique<cid::FileImporter>(cid::ImportOptions{options_.cid_version});
  file->dirty = true;
  file->mtime = now_seconds();
  file->writers = 1;
  std::lock_guard lock(mu_);
  files_.push_back(file);
  return file;
}

Result<std::string> Uploads::finish_cid(Vfs::LocalFile& file) {
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

Result<void> Uploads::journal_update_locked(const Vfs::LocalFile& file) {
  if (!file.journal_id || !journal_) return {};
  return journal_->update(journal_entry_of(file), cache::JournalSync::Lazy);
}

Result<void> Uploads::commit(const FilePtr& file) {
  {
    std::lock_guard lock(mu_);
    if (file->deleted) return {};
    auto state = file->state.load();
    if (state != UploadState::Local && state != UploadState::Failed) return {};
    if (state == UploadState::Local && !file->dirty) return {};
  }
  if (int e = file->write_errno.load(); e != 0)
    return fail(e, "a write to " + file->name + " failed, so its staged bytes are incomplete: not uploaded");
  auto cid = finish_cid(*file);
  if (!cid) return fail(EIO, "computing the CID of " + file->name + ": " + cid.error().describe());
  file->dirty = false;
  {
    std::lock_guard lock(mu_);
    if (file->deleted) return {};  // removed meanwhile: discarded, nothing to queue
    file->cid = *cid;
    // Upload while writing: the body ends here, so the upload finishes while the file waits its turn. Its
    // metadata was taken when it started: a change since (setxattr) means uploading from staging instead;
    // a new name is a rename after the pin, a new mtime the late-mtime update (as for any upload).
    if (file->stream && !file->stream->growth->is_abandoned()) {
      auto sent = file->stream->keyvalues, now = file->keyvalues;
      sent.erase(kMtimeKey);
      now.erase(kMtimeKey);
      if (sent == now) {
        file->stream->growth->complete();
      } else {
        file->stream->growth->abandon();
        ++counters_.streams_abandoned;
      }
    }
  }
  if (options_.upload == UploadMode::Async) {
    {
      std::lock_guard io(file->io);
      if (::fsync(file->fd) != 0) return fail_errno("fsync staged " + file->staging);
    }
    std::lock_guard lock(mu_);
    if (file->deleted) return {};
    file->closed = true;
    file->interrupted = false;
    auto entry = journal_entry_of(*file);
    if (entry.id) {
      if (auto ok = journal_->update(entry); !ok) return fail(EIO, ok.error().describe());
    } else {
      auto id = journal_->add(entry);
      if (!id) return fail(EIO, id.error().describe());
      file->journal_id = *id;
    }
    file->state = UploadState::Queued;
    file->next_attempt_ms = 0;
    queue_.push_back(file);
    queued_.notify_one();
    spdlog::info("{} queued for upload ({} bytes, {})", file->name, file->size.load(), file->cid);
    return {};
  }
  {
    // Closed: from now on a crash resumes the upload (the remote dedupe check at resume avoids a double
    // pin). The staged bytes are in the page cache, which a killed daemon does not lose.
    std::lock_guard lock(mu_);
    file->closed = true;
    file->interrupted = false;
    // Lazy: close has not returned; it does once the pin is confirmed.
    if (auto ok = file->journal_id ? journal_->update(journal_entry_of(*file), cache::JournalSync::Lazy)
                                   : Result<void>{};
        !ok)
      return fail(EIO, ok.error().describe());
  }
  return upload_now(file);
}

Result<void> Uploads::upload_now(const FilePtr& file) {
  struct Settled {  // a writer waiting to write to this file again (reopen_committed_locked) goes on
    Uploads& up;
    ~Settled() {
      std::lock_guard lock(up.mu_);
      up.settled_.notify_all();
    }
  } settled{*this};
  service::FileUpload upload;
  std::string local_cid;
  bool ask_service = false;
  std::shared_ptr<UploadStream> stream;
  // Removed before anything was sent (an editor's swap file, removed while its last close committed it):
  // nothing to pin, nothing to unpin later.
  auto removed_locked = [&] {
    if (!file->deleted) return false;
    file->job_status.clear();
    queue_.erase(std::remove(queue_.begin(), queue_.end(), file), queue_.end());
    forget_locked(file, true);
    return true;
  };
  {
    std::lock_guard lock(mu_);
    if (removed_locked()) return {};
    file->state = UploadState::Uploading;
    file->sent = 0;
    upload.local_path = file->staging;
    upload.name = file->name;
    upload.keyvalues = file->keyvalues;
    upload.cid_version = options_.cid_version;
    local_cid = file->cid;
    ask_service = file->resumed || file->size >= options_.dedupe_remote_min_bytes;
    std::lock_guard io(file->io);
    stream = std::exchange(file->stream, nullptr);
  }
  // Uploaded while it was written ([write.stream]): that pin is the upload, when it has the content as
  // closed. Otherwise (abandoned, failed, or content written again since) it is uploaded from staging below,
  // and a pin the stream made of other content is removed.
  std::optional<Result<service::Pin>> streamed;
  if (stream) {
    auto result = finish_stream(stream);
    if (result && result->duplicate && same_cid(result->cid, local_cid)) {
      // The account pinned this content already, so the upload made no pin of this name (Pinata keeps one
      // pin a CID): pinned by CID below, as a copy of known content is.
      ask_service = true;
    } else if (result && same_cid(result->cid, local_cid)) {
      streamed = std::move(result);
      upload.name = stream->name;
      upload.keyvalues = stream->keyvalues;
    } else if (result) {
      spdlog::warn("{}: the upload while writing pinned {}, the file closed as {}: unpinned, uploading again",
                   upload.name, result->cid, local_cid);
      ++counters_.unpins;
      (void)unpin_name(*service_, *index_, {result->id, result->cid}, cache::pin_key(*result),
                       "unpinning " + result->cid + " (the upload while writing)");
    } else if (result.error().errnum != ECANCELED) {
      spdlog::info("{}: the upload while writing failed ({}), uploading from staging", upload.name,
                   result.error().describe());
    }
  }

  // Content the account pins under another name: a pin-by-CID job names it (no upload); adopted once the
  // job's pin shows in the index (adopt_job_pins).
  auto pin_by_cid = [&](const std::string& pinned_as) -> Result<void> {
    {
      std::lock_guard lock(mu_);
      if (removed_locked()) return {};
    }
    ++counters_.pin_by_cid;
    auto job = service_->pin_by_cid(local_cid, upload.name, upload.keyvalues);
    if (!job) {
      std::lock_guard lock(mu_);
      file->state = UploadState::Failed;
      file->reason = job.error().describe();
      return fail(job.error().errnum == EDQUOT ? EDQUOT : EIO, "pin by CID failed: " + file->reason);
    }
    spdlog::info("{}: content {} already pinned as {}, pinned by CID instead of uploading", upload.name,
                 local_cid, pinned_as);
    if (hooks_.job_started) hooks_.job_started(*job);
    std::lock_guard lock(mu_);
    file->job_status = job->status.empty() ? "queued" : job->status;
    file->job_name = upload.name;
    job_files_.push_back(file);
    return {};
  };
  if (options_.dedupe && !streamed) {
    Result<service::PinPage> existing = service::PinPage{};
    existing->pins = index_->by_cid(local_cid);
    const bool named_in_index = std::any_of(existing->pins.begin(), existing->pins.end(),
                                            [&](const service::Pin& p) { return p.name == upload.name; });
    // A resumed file may have been pinned just before the crash, after the index was last written: only
    // the service knows, so an index that has the CID under other names only is not the last word.
    if (!named_in_index && ask_service) {
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
        {
          std::lock_guard lock(mu_);
          adopt_locked(file, *same);
        }
        announce_pinned(file, *same);
        return {};
      }
      return pin_by_cid(existing->pins.front().name);
    }
    if (!existing) spdlog::debug("dedupe lookup failed, uploading: {}", existing.error().describe());
  }

  upload.progress = [this, file](const service::UploadProgress& p) {
    std::lock_guard lock(mu_);
    file->sent = p.sent;
  };
  {
    std::lock_guard lock(mu_);
    if (!streamed && removed_locked()) return {};
  }
  ++counters_.uploads;
  auto pinned = streamed ? std::move(*streamed) : service_->upload_file(upload);
  // The service had the content already (a copy the index did not know of): no pin of this name was made.
  if (pinned && pinned->duplicate && same_cid(pinned->cid, local_cid) && options_.dedupe)
    return pin_by_cid("another pin (the service said it has this content)");
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
    std::lock_guard lock(mu_);
    file->state = UploadState::Failed;
    file->reason = problem;
    if (!file->journal_id && journal_ && file->parent == kRootIno) {  // so a new mount retries it
      file->closed = true;
      if (auto id = journal_->add(journal_entry_of(*file))) file->journal_id = *id;
    }
    return fail(errnum, "upload of " + upload.name + " failed: " + problem);
  }

  std::optional<service::PinRef> replaces;
  {
    std::lock_guard lock(mu_);
    replaces = std::exchange(file->replaces, std::nullopt);
    adopt_locked(file, *pinned);
  }
  announce_pinned(file, *pinned);
  spdlog::info("pinned {} as {} ({} bytes)", upload.name, pinned->cid, pinned->size);
  // Read once its node is the pin's: a rename or rm until then only changed the file (it looked local),
  // from then on it goes to the pin itself. Written again meanwhile ([write.reopen]): the file replaces
  // this pin later, under whatever name it then has.
  bool deleted = false;
  bool reopened = false;
  std::string name_now;
  {
    std::lock_guard lock(mu_);
    reopened = file->state != UploadState::Pinned;
    if (!reopened && file->replaces) replaces = std::exchange(file->replaces, std::nullopt);
    deleted = file->deleted;
    name_now = reopened ? upload.name : file->name;
  }
  if (name_now != upload.name && !deleted) {  // renamed while uploading
    // The pin as the last change left it (the hook may have pinned it again with its mtime, on AIOZ); a
    // rename of the pin itself since (its node was the pin's) already named it.
    auto guard = pin_changes_.lock(pinned->cid);
    std::optional<service::Pin> row;
    for (const auto& pin : index_->by_cid(pinned->cid))
      if (pin.name == upload.name) row = pin;
    if (row) {
      ++counters_.renames;
      if (auto renamed = service_->rename(*row, name_now); renamed && hooks_.changed)
        hooks_.changed(*row, *renamed);
    }
  }
  for (const auto& pin : index_->by_cid(pinned->cid))  // its id now, for the unpin below (AIOZ)
    if (pin.name == upload.name || pin.name == name_now) *pinned = pin;
  // (Pinata pins a CID once: the same content uploaded again is the same pin, not one to remove.)
  if (replaces &&
      !(same_cid(replaces->cid, pinned->cid) && (replaces->id.empty() || replaces->id == pinned->id))) {
    ++counters_.unpins;
    auto done = unpin_name(*service_, *index_, *replaces, cache::pin_key(*replaces),
                           "unpinning the pin " + name_now + " replaced");
    if (!done) spdlog::warn("unpinning the replaced {} failed: {}", replaces->cid, done.error().describe());
    if (!done || *done == Unpinned::Unpinned)
      for (const auto& pin : index_->by_cid(replaces->cid))
        if (pin.id == replaces->id || replaces->id.empty()) index_->erase(cache::pin_key(pin));
  }
  if (deleted) {
    ++counters_.unpins;
    (void)unpin_name(*service_, *index_, {pinned->id, pinned->cid}, cache::pin_key(*pinned),
                     "unpinning " + name_now + " (removed while uploading)");
    index_->erase(cache::pin_key(*pinned));
  }
  return {};
}

// The index learns the pin through the hook, under the namespace's lock, so that the root's names take it in
// the same step (Namespace::pin_added) rather than rebuilding every name once per new file.
void Uploads::announce_pinned(const FilePtr& file, const service::Pin& pin) {
  if (hooks_.pinned)
    hooks_.pinned(file, pin, true);
  else
    index_->upsert(pin);
}

// The file is pinned: the staged copy goes into the content cache and its journal row goes.
void Uploads::adopt_locked(const FilePtr& file, const service::Pin& pin) {
  file->state = UploadState::Pinned;
  file->job_status.clear();
  forget_locked(file,
                file->deleted || !content_ || !content_->adopt_file(pin.cid, file->staging, file->size));
}

void Uploads::forget_locked(const FilePtr& file, bool unlink_staged) {
  if (unlink_staged) ::unlink(file->staging.c_str());
  if (file->journal_id && journal_) (void)journal_->remove(file->journal_id);
  file->journal_id = 0;
  files_.erase(std::remove(files_.begin(), files_.end(), file), files_.end());
}

void Uploads::discard_locked(const FilePtr& file) {
  file->deleted = true;
  if (file->stream) {  // its thread is joined (and a pin it made unpinned) by reap_streams()
    std::lock_guard io(file->io);
    file->stream->growth->abandon();
    file->stream->orphaned = true;
    file->stream.reset();
    wake_.notify_all();
  }
  if (file->state == UploadState::Uploading || !file->job_status.empty()) return;  // unpinned once done
  ::unlink(file->staging.c_str());
  release_space_locked(*file);
  queue_.erase(std::remove(queue_.begin(), queue_.end(), file), queue_.end());
  forget_locked(file, false);  // unlinked above, before its blocks were released
}

void Uploads::release_space_locked(Vfs::LocalFile& file) {
  // The node (and its descriptor) lives on while the kernel remembers the inode, and an unlinked file's
  // blocks are freed only at its last close: on a full cache disk rm must give the space back now.
  // A writer still holding it open keeps writing to it, as POSIX has it.
  if (!file.deleted || file.writers > 0) return;
  std::lock_guard io(file.io);
  if (file.fd >= 0 && ::ftruncate(file.fd, 0) == 0) file.size = 0;
}

Result<void> Uploads::reopened_for_writing_locked(const FilePtr& file) {
  if (!file->closed) return {};
  file->closed = false;  // a crash while it is open again leaves it interrupted, not half-uploaded
  return journal_update_locked(*file);
}

void Uploads::pinned_in_directory_locked(const FilePtr& file) {
  file->state = UploadState::Pinned;
  forget_locked(file, true);
}

void Uploads::pinned_as_directory_locked(const std::vector<FilePtr>& files, std::vector<std::int64_t> rows) {
  std::unordered_set<const Vfs::LocalFile*> done;
  for (const auto& file : files) {
    file->state = UploadState::Pinned;
    ::unlink(file->staging.c_str());
    if (file->journal_id) rows.push_back(std::exchange(file->journal_id, 0));
    done.insert(file.get());
  }
  files_.erase(
      std::remove_if(files_.begin(), files_.end(), [&](const FilePtr& f) { return done.contains(f.get()); }),
      files_.end());
  if (journal_ && !rows.empty())
    if (auto ok = journal_->remove(rows); !ok) spdlog::warn("journal: {}", ok.error().describe());
}

namespace {
cache::JournalEntry directory_row(std::int64_t id, const std::string& name, std::int64_t parent) {
  cache::JournalEntry entry;
  entry.id = id;
  entry.name = name;
  entry.state = "directory";
  entry.parent = parent;
  return entry;
}
}  // namespace

Result<std::int64_t> Uploads::journal_directory(const std::string& name, std::int64_t parent) {
  std::lock_guard lock(mu_);
  if (!journal_) return 0;
  // Lazy: durable with the first durable commit after it (an fsync of a file in it, an async close).
  return journal_->add(directory_row(0, name, parent), cache::JournalSync::Lazy);
}

Result<void> Uploads::journal_directory_renamed(std::int64_t id, const std::string& name,
                                                std::int64_t parent) {
  std::lock_guard lock(mu_);
  if (!journal_ || !id) return {};
  return journal_->update(directory_row(id, name, parent), cache::JournalSync::Lazy);
}

void Uploads::journal_forget(std::int64_t id) {
  std::lock_guard lock(mu_);
  if (!journal_ || !id) return;
  if (auto ok = journal_->remove(id); !ok) spdlog::warn("journal: {}", ok.error().describe());
}

Result<void> Uploads::closed_in_directory(const FilePtr& file, bool durable) {
  {
    std::lock_guard lock(mu_);
    if (file->deleted || (file->closed && !durable) || (file->writers > 1 && !durable)) return {};
  }
  // Its CID now while the importer has the bytes written in order (it holds a chunk's buffer until it is
  // finished): the directory's upload takes it unless the file changes again (dirty).
  bool in_order = false;
  {
    std::lock_guard io(file->io);
    in_order =
        file->dirty && file->sequential && file->importer && file->importer->bytes_seen() == file->size;
  }
  if (in_order)
    if (auto cid = finish_cid(*file)) {
      std::lock_guard lock(mu_);
      file->cid = *cid;
      file->dirty = false;
    }
  // fsync: the bytes first, then the row that says they are complete (a power loss in between leaves the
  // file interrupted, never complete with bytes missing).
  if (durable) {
    std::lock_guard io(file->io);
    if (::fsync(file->fd) != 0) return fail_errno("fsync staged " + file->staging);
  }
  std::lock_guard lock(mu_);
  if (file->deleted || file->writers > 1 || !file->journal_id || !journal_) return {};  // others still write
  file->closed = true;
  file->interrupted = false;
  return journal_->update(journal_entry_of(*file),
                          durable ? cache::JournalSync::Durable : cache::JournalSync::Lazy);
}

bool Uploads::jobs_pending() const {
  std::lock_guard lock(mu_);
  return !job_files_.empty();
}

void Uploads::adopt_job_pins() {
  struct Adopted {
    FilePtr file;
    service::Pin pin;
    std::string name_now;  // what the file is called now, when not the job's name
  };
  std::vector<Adopted> adopted;
  {
    std::lock_guard lock(mu_);
    for (auto it = job_files_.begin(); it != job_files_.end();) {
      auto file = *it;
      std::optional<service::Pin> found;
      for (const auto& pin : index_->by_cid(file->cid))
        if (pin.name == file->job_name) found = pin;
      if (!found) {
        ++it;
        continue;
      }
      // Removed while the job ran: the pin is unpinned once it exists.
      if (file->deleted) {
        follow_ups_.push_back({*found, ""});
        pinned_in_directory_locked(file);  // the same bookkeeping: pinned, staging and journal row gone
      } else {
        adopt_locked(file, *found);
        adopted.push_back({file, *found, file->name != file->job_name ? file->name : std::string{}});
      }
      it = job_files_.erase(it);
    }
    if (!follow_ups_.empty()) wake_.notify_all();
  }
  for (auto& [file, pin, name_now] : adopted) {
    // Renamed while the job ran (rsync's temp name): the pin takes the name before the file shows as
    // pinned, so no listing ever shows it under the temp name, or the new name as missing.
    if (!name_now.empty()) {
      ++counters_.renames;
      if (auto renamed = service_->rename(pin, name_now))
        pin = *renamed;
      else
        spdlog::warn("renaming {} to {} failed: {}", pin.name, name_now, renamed.error().describe());
    }
    announce_pinned(file, pin);
  }
}

void Uploads::worker_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::milliseconds(100));
    if (stopping_) break;
    lock.unlock();
    background_pass();
    lock.lock();
  }
}

// Up to options_.transfers of these run at once, each uploading one file at a time: every request still
// takes its turn from the shared rate limiter (http/rate_limiter.hpp), so more threads never mean more than
// the service's announced limit.
void Uploads::transfer_loop() {
  Lock lock(mu_);
  while (!stopping_) {
    std::int64_t wait_ms = 0;
    auto file = take_due_locked(now_ms(), wait_ms);
    if (!file) {
      queued_.wait_for(lock, std::chrono::milliseconds(std::clamp<std::int64_t>(wait_ms, 1, 1000)));
      continue;
    }
    lock.unlock();
    transfer(file);
    lock.lock();
  }
}

Uploads::FilePtr Uploads::take_due_locked(std::int64_t now, std::int64_t& wait_ms) {
  wait_ms = 1000;
  for (auto it = queue_.begin(); it != queue_.end();) {
    const auto& file = *it;
    const auto state = file->state.load();
    // Stale entries: removed, already taken (a file queued twice), or opened for writing again (its next
    // close queues it anew).
    if (file->deleted || state == UploadState::Uploading || state == UploadState::Pinned ||
        state == UploadState::Local || !file->closed) {
      it = queue_.erase(it);
      continue;
    }
    if (file->next_attempt_ms > now) {
      wait_ms = std::min(wait_ms, file->next_attempt_ms - now);
      ++it;
      continue;
    }
    auto taken = file;
    queue_.erase(it);
    taken->state = UploadState::Uploading;  // no other thread takes it now
    return taken;
  }
  return nullptr;
}

void Uploads::transfer(const FilePtr& file) {
  if (upload_now(file)) return;
  std::lock_guard lock(mu_);
  if (file->state != UploadState::Failed) return;
  if (file->deleted) {  // removed while this attempt ran: nothing to retry, its staged bytes go
    discard_locked(file);
    return;
  }
  ++file->attempts;
  auto delay = options_.upload_retry_delay.count() << std::min(file->attempts - 1, 16);
  file->next_attempt_ms = now_ms() + std::min<std::int64_t>(delay, 60'000);
  queue_.push_back(file);
  queued_.notify_one();
}

void Uploads::run_once() {
  std::vector<FilePtr> due;
  {
    std::lock_guard lock(mu_);
    std::int64_t wait_ms = 0;
    for (auto now = now_ms(); auto file = take_due_locked(now, wait_ms);) due.push_back(file);
  }
  for (auto& file : due) transfer(file);
  background_pass();
}

void Uploads::background_pass() {
  std::vector<FollowUp> follow_ups;
  {
    std::lock_guard lock(mu_);
    follow_ups.swap(follow_ups_);
  }
  reap_streams();
  for (auto& follow : follow_ups) {
    if (follow.new_name.empty()) {
      ++counters_.unpins;
      auto ok = unpin_name(*service_, *index_, {follow.pin.id, follow.pin.cid}, cache::pin_key(follow.pin),
                           "unpinning " + follow.pin.name + " (removed while pinning)");
      if (ok) {
        if (hooks_.changed) hooks_.changed(follow.pin, std::nullopt);
      } else {
        spdlog::warn("unpinning {} (removed while pinning) failed: {}", follow.pin.name,
                     ok.error().describe());
      }
      continue;
    }
    ++counters_.renames;
    auto renamed = service_->rename(follow.pin, follow.new_name);
    if (!renamed) {
      spdlog::warn("renaming {} to {} failed: {}", follow.pin.name, follow.new_name,
                   renamed.error().describe());
      continue;
    }
    if (hooks_.changed) hooks_.changed(follow.pin, *renamed);
  }
  if (hooks_.background) hooks_.background();
}

std::vector<std::string> Uploads::finish_pending(bool wait) {
  std::vector<FilePtr> pending;
  {
    std::lock_guard lock(mu_);
    for (const auto& file : files_)
      if (file->parent == kRootIno && !file->deleted && file->state != UploadState::Pinned &&
          file->job_status.empty() && !file->interrupted)
        pending.push_back(file);
  }
  std::vector<std::string> failed;
  if (!wait) {
    if (!pending.empty()) spdlog::info("{} uploads left in the journal for the next mount", pending.size());
    return failed;
  }
  auto finish = [&](const FilePtr& file) -> Result<void> {
    Result<void> ok = file->state == UploadState::Local ? commit(file) : Result<void>{};
    if (ok && file->state != UploadState::Pinned && file->job_status.empty()) {
      if (file->cid.empty()) {
        auto cid = finish_cid(*file);
        if (cid) {
          std::lock_guard lock(mu_);
          file->cid = *cid;
        }
      }
      ok = upload_now(file);
    }
    return ok;
  };
  // As many at once as the transfer threads did (the workers are stopped by now).
  std::mutex failed_mu;  // guards failed; taken alone
  std::atomic<std::size_t> next{0};
  auto drain = [&] {
    for (std::size_t i; (i = next++) < pending.size();) {
      if (finish(pending[i])) continue;
      std::lock_guard lock(failed_mu);
      failed.push_back(pending[i]->name);
    }
  };
  const std::size_t helpers = std::min<std::size_t>(std::max(1u, options_.transfers), pending.size());
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < helpers; ++t) threads.emplace_back(drain);
  drain();
  for (auto& thread : threads) thread.join();
  return failed;
}

std::string json_quote(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

namespace {

const char* state_name(UploadState state) {
  switch (state) {
    case UploadState::Local:
      return "writing";
    case UploadState::Queued:
      return "queued";
    case UploadState::Uploading:
      return "uploading";
    case UploadState::Pinned:
      return "pinned";
    case UploadState::Failed:
      return "failed";
  }
  return "unknown";
}

}  // namespace

std::string Uploads::status_json_locked() const {
  std::string out = "\"pending_uploads\":[";
  bool first = true;
  for (const auto& file : files_) {
    if (file->state == UploadState::Pinned || file->deleted) continue;
    out += first ? "" : ",";
    first = false;
    out += "{\"name\":" + json_quote(file->name) + ",\"size\":" + std::to_string(file->size.load()) +
           ",\"sent\":" + std::to_string(file->sent) + ",\"state\":" + json_quote(state_name(file->state)) +
           ",\"cid\":" + json_quote(file->cid) + ",\"reason\":" + json_quote(file->reason) + "}";
  }
  return out + "]";
}

}  // namespace pinfs::vfs
