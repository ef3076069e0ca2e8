// Opening and reading: pinned content through the disk cache and the gateway, with adaptive read-ahead.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "namespace.hpp"
#include "node.hpp"
#include "pinfs/cache/content_cache.hpp"
#include "pinfs/common/log.hpp"
#include "uploads.hpp"

namespace pinfs::vfs {

namespace {
constexpr std::uint64_t kMinWindow = 1ull << 20;
constexpr std::uint64_t kMaxWindow = 16ull << 20;
}  // namespace

Result<Opened> Vfs::open(Ino ino, int flags) {
  auto lock = ns_->lock();
  auto node = ns_->node(ino);
  if (!node) return fail(ENOENT, "no inode " + std::to_string(ino));
  bool wants_write = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
  if (node->is_directory()) return fail(EISDIR, node->name + " is a directory");
  if (node->kind() == Kind::Pin && !ns_->size_known(*node)) {
    lock.unlock();
    resolve_size(node);
    lock.lock();
  }
  auto handle = std::make_shared<Handle>();
  handle->node = node;
  Opened opened;
  switch (node->kind()) {
    case Kind::Pin:
    case Kind::DirEntry:
      if (wants_write) {
        spdlog::warn("open {} for writing refused: pinned content is immutable; write a new file instead",
                     node->name);
        return fail(EROFS, "pinned content is immutable");
      }
      opened.keep_cache = true;
      break;
    case Kind::Local: {
      auto file = node->local();
      bool editable = file->editable();
      if (wants_write && !editable) {
        spdlog::warn("open {} for writing refused: it is being uploaded", node->name);
        return fail(EROFS, "file is queued for upload");
      }
      handle->local = file;
      if (flags & O_TRUNC) {
        lock.unlock();
        {
          std::lock_guard io(file->io);
          if (::ftruncate(file->fd, 0) != 0) return fail_errno("truncate staged " + file->staging);
          file->size = 0;
          file->importer = std::make_unique<cid::FileImporter>(cid::ImportOptions{options_.cid_version});
          file->sequential = true;
          file->dirty = true;
        }
        lock.lock();
      }
      if (wants_write) {
        handle->writable = true;
        handle->retry_failed = file->state == UploadState::Failed;
        auto up = uploads_->lock();
        ++file->writers;
        if (auto ok = uploads_->reopened_for_writing_locked(file); !ok)
          return fail(EIO, ok.error().describe());
      }
      break;
    }
    case Kind::ControlFile:
      if (wants_write) return fail(EROFS, "/.pinfs is read-only");
      opened.direct_io = true;
      lock.unlock();
      handle->snapshot = node->control()->control == "status" ? status_json() : "";
      lock.lock();
      if (node->control()->control.starts_with("job:")) {
        auto id = node->control()->control.substr(4);
        for (const auto& job : ns_->jobs())
          if (job.id == id) handle->snapshot = job_json(job);
      }
      break;
    case Kind::Link:
      return fail(ELOOP, "symbolic link");
    default:
      return fail(EISDIR, node->name + " is a directory");
  }
  lock.unlock();
  opened.fh = add_handle(handle);
  return opened;
}

Result<std::size_t> Vfs::read(std::uint64_t fh, std::uint64_t offset, std::size_t size, char* out) {
  auto handle = handle_of(fh);
  if (!handle) return fail(EBADF, "no file handle " + std::to_string(fh));
  if (handle->local) {
    std::lock_guard io(handle->local->io);
    ssize_t n = ::pread(handle->local->fd, out, size, static_cast<off_t>(offset));
    if (n < 0) return fail_errno("read staged " + handle->local->staging);
    return static_cast<std::size_t>(n);
  }
  if (handle->node->kind() == Kind::ControlFile) {
    if (offset >= handle->snapshot.size()) return 0;
    auto n = std::min<std::size_t>(size, handle->snapshot.size() - offset);
    std::copy_n(handle->snapshot.data() + offset, n, out);
    return n;
  }
  return read_remote(*handle, offset, size, out);
}

Result<std::size_t> Vfs::read_remote(Handle& handle, std::uint64_t offset, std::size_t size, char* out) {
  std::string cid;
  std::uint64_t file_size = 0;
  {
    auto lock = ns_->lock();
    const Node& node = *handle.node;
    cid = node.content_cid();
    file_size = ns_->file_size(node);
  }
  if (offset >= file_size) return 0;
  std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(size, file_size - offset));
  // Reading into the prefetched window: fetch the one after it, so the reader never waits for the network
  // while it reads sequentially.
  auto keep_ahead = [&] {
    auto ahead = handle.ahead;
    if (!ahead || offset < ahead->begin) return;
    ahead->wait();
    handle.ahead.reset();
    handle.window = std::min(handle.window * 2, kMaxWindow);  // sequential reading goes on: look further
    if (ahead->end < file_size && handle.window)
      start_prefetch(handle, cid, ahead->end, std::min<std::uint64_t>(handle.window, file_size - ahead->end));
  };
  auto hit = content_->read(cid, offset, want, out);
  if (!hit) return std::unexpected(hit.error());
  if (*hit) {
    std::lock_guard ra(handle.mu);
    handle.next_offset = offset + want;
    keep_ahead();
    return want;
  }

  std::lock_guard ra(handle.mu);  // one fetch per handle at a time; parallel kernel read-ahead waits here
  if (handle.ahead && offset >= handle.ahead->begin && offset < handle.ahead->end) {
    keep_ahead();  // this read is in the window being prefetched: wait for it rather than fetch it again
    if (auto got = content_->read(cid, offset, want, out); got && *got) {
      handle.next_offset = offset + want;
      return want;
    }
  }
  if (auto again = content_->read(cid, offset, want, out); again && *again) return want;
  const bool sequential = offset == handle.next_offset && handle.window;
  handle.window = sequential ? std::min(handle.window * 2, kMaxWindow) : kMinWindow;
  if (!sequential && handle.ahead && handle.ahead->end <= offset) handle.ahead.reset();  // a seek past it
  std::uint64_t fetch =
      std::min<std::uint64_t>(std::max<std::uint64_t>(want, handle.window), file_size - offset);
  // Never fetch what a running prefetch is fetching.
  if (handle.ahead && offset < handle.ahead->begin)
    fetch = std::max<std::uint64_t>(want, std::min<std::uint64_t>(fetch, handle.ahead->begin - offset));
  auto fetched = fetch_into_cache(cid, offset, fetch);
  if (!fetched) {
    spdlog::warn("read {} at {}: {}", cid, offset, fetched.error().describe());
    return std::unexpected(fetched.error());
  }
  const std::string& buffer = *fetched;
  std::size_t n = std::min(want, buffer.size());
  std::copy_n(buffer.data(), n, out);
  handle.next_offset = offset + n;
  const std::uint64_t end = offset + buffer.size();
  if (sequential && !handle.ahead && end < file_size)
    start_prefetch(handle, cid, end, std::min<std::uint64_t>(handle.window, file_size - end));
  return n;
}

Result<std::string> Vfs::fetch_into_cache(const std::string& cid, std::uint64_t begin, std::uint64_t length) {
  std::string buffer;
  buffer.reserve(length);
  ++counters_.gateway_reads;
  auto got = gateway_->read(cid, "", begin, length, [&](const char* data, std::size_t n) {
    buffer.append(data, n);
    return buffer.size() <= length;
  });
  if (!got) return std::unexpected(got.error());
  counters_.gateway_bytes += buffer.size();
  if (auto stored = content_->write(cid, begin, buffer.data(), buffer.size()); !stored)
    spdlog::warn("content cache: {}", stored.error().describe());
  return buffer;
}

void Vfs::start_prefetch(Handle& handle, const std::string& cid, std::uint64_t begin, std::uint64_t length) {
  auto ahead = std::make_shared<Prefetch>();
  ahead->begin = begin;
  ahead->end = begin + length;
  handle.ahead = ahead;
  {
    std::lock_guard lock(prefetch_mu_);
    ++prefetches_;
  }
  std::thread([this, ahead, cid] {
    // On failure the reader fetches this range itself when it gets there, and reports a lasting error.
    if (auto got = fetch_into_cache(cid, ahead->begin, ahead->end - ahead->begin); !got)
      spdlog::debug("prefetch of {} at {}: {}", cid, ahead->begin, got.error().describe());
    {
      std::lock_guard lock(ahead->mu);
      ahead->done = true;
    }
    ahead->cv.notify_all();
    std::lock_guard lock(prefetch_mu_);
    --prefetches_;
    prefetch_cv_.notify_all();
  }).detach();
}

}  // namespace pinfs::vfs
