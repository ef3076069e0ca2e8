// A new file written again through a descriptor still open after its upload was committed: the close of a
// duplicate of that descriptor (bash's `exec 3>f; echo a >&3`, a forked child) flushed it. The file goes
// back to being local and editable; what that close started is cancelled or replaced ([write.reopen]).
#include <fcntl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>

#include "pinfs/cache/pin_index.hpp"
#include "pinfs/common/log.hpp"
#include "uploads.hpp"

namespace pinfs::vfs {

namespace {

// The bytes of from (size of them) into to, from offset 0.
Result<void> copy_bytes(int from, int to, std::uint64_t size) {
  off_t in = 0;
  while (static_cast<std::uint64_t>(in) < size) {
    ssize_t n = ::sendfile(to, from, &in, static_cast<std::size_t>(size - static_cast<std::uint64_t>(in)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("copy staged bytes");
    if (n == 0) return fail(EIO, "staged copy ended early");
  }
  return {};
}

}  // namespace

Result<void> Uploads::reopen_committed_locked(const FilePtr& file) {
  if (file->deleted) return fail(EROFS, file->name + " was removed");
  auto state = file->state.load();
  const bool queued = std::find(queue_.begin(), queue_.end(), file) != queue_.end();
  if (state == UploadState::Local) return {};
  if (state == UploadState::Failed && !queued) return {};
  if ((state == UploadState::Queued && !queued) ||
      (state == UploadState::Uploading && file->job_status.empty()))
    return fail(EAGAIN, file->name + " is being uploaded");

  if (state == UploadState::Uploading) {
    // Pinned by CID, the job still running: a stand-in waits for its pin and unpins it.
    auto ghost = std::make_shared<Vfs::LocalFile>();
    ghost->name = file->name;
    ghost->cid = file->cid;
    ghost->job_status = file->job_status;
    ghost->job_name = file->job_name;
    ghost->deleted = true;
    ghost->state = UploadState::Uploading;
    std::replace(job_files_.begin(), job_files_.end(), file, ghost);
    file->job_status.clear();
    file->job_name.clear();
  } else if (state == UploadState::Pinned) {
    // Its staged file went into the content cache (or away); the descriptor still reads its bytes. It is
    // staged again under its old path and replaces the pin it just became.
    std::optional<service::PinRef> pinned;
    for (const auto& pin : index_->by_cid(file->cid))
      if (pin.name == file->name) pinned = service::PinRef{pin.id, pin.cid};
    if (!pinned) pinned = service::PinRef{"", file->cid};
    file->replaces = pinned;
    file->closed = false;
    if (journal_) {
      auto id = journal_->add(journal_entry_of(*file));  // the row before the staged file, as at create
      if (!id) return fail(EIO, "journal: " + id.error().describe());
      file->journal_id = *id;
    }
    std::lock_guard io(file->io);
    int fd = ::open(file->staging.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    Result<void> copied =
        fd < 0 ? fail_errno("restage " + file->staging) : copy_bytes(file->fd, fd, file->size);
    if (!copied) {
      if (fd >= 0) {
        ::close(fd);
        ::unlink(file->staging.c_str());
      }
      if (file->journal_id) (void)journal_->remove(file->journal_id);
      file->journal_id = 0;
      return copied;
    }
    ::close(file->fd);
    file->fd = fd;
    files_.push_back(file);
    spdlog::info("{} written again after a close uploaded it: it will replace pin {}", file->name,
                 pinned->cid);
  }
  queue_.erase(std::remove(queue_.begin(), queue_.end(), file), queue_.end());
  {
    std::lock_guard io(file->io);
    file->importer.reset();
    file->sequential = false;  // the CID is computed from the staged file at the next close
  }
  file->cid.clear();
  file->reason.clear();
  file->attempts = 0;
  file->next_attempt_ms = 0;
  file->sent = 0;
  file->closed = false;
  file->interrupted = false;
  file->state = UploadState::Local;
  if (auto ok = journal_update_locked(*file); !ok) return fail(EIO, ok.error().describe());
  return {};
}

void Uploads::wait_settled(const FilePtr& file, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  settled_.wait_for(lock, timeout, [&] {
    auto state = file->state.load();
    bool picked =
        state == UploadState::Queued && std::find(queue_.begin(), queue_.end(), file) == queue_.end();
    return !picked && (state != UploadState::Uploading || !file->job_status.empty());
  });
}

}  // namespace pinfs::vfs
