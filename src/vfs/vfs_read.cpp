// Opening and reading: pinned content through the disk cache and the verified reader, with parallel
// read-ahead. No byte reaches read() or the cache before it was checked against the CID its parent names.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "namespace.hpp"
#include "node.hpp"
#include "pinfs/cache/content_cache.hpp"
#include "pinfs/common/log.hpp"
#include "pinfs/service/verified_reader.hpp"
#include "uploads.hpp"

namespace pinfs::vfs {

namespace {
// Read-ahead: the file is fetched in parts of kPart on a fixed grid (so that parts never overlap), as many
// in flight as the window covers. The window starts at one part once reads are sequential, doubles each
// time the reader has to wait for the network, and drops to 0 on a seek; random reads fetch only the
// leaves they touch.
constexpr std::uint64_t kPart = 4ull << 20;
constexpr std::uint64_t kMinWindow = kPart;
constexpr std::uint64_t kMaxWindow = 64ull << 20;
constexpr std::size_t kMaxPartsPerFile = kMaxWindow / kPart;
constexpr int kMaxPartsOverall = 32;  // every leaf in flight holds one buffer of at most a leaf

// Counts a read into the stream; true when it is sequential: near where the stream is (kernel read-ahead
// on several threads arrives slightly out of order, so a read a little behind or ahead still counts).
bool note_sequential(ReadAhead& ra, std::uint64_t offset, std::size_t want) {
  const bool sequential = ra.reads > 0 && offset <= ra.next_offset + kPart &&
                          offset + std::max(ra.window, kPart) >= ra.next_offset;
  ++ra.reads;
  if (!sequential) {
    ra.window = 0;
    ra.next_offset = offset + want;
    return false;
  }
  if (ra.window == 0) ra.window = kMinWindow;
  ra.next_offset = std::max<std::uint64_t>(ra.next_offset, offset + want);
  return true;
}
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
        const bool pinned = file->state == UploadState::Pinned;
        spdlog::warn(
            "open {} for writing refused: {}", node->name,
            pinned ? "pinned content is immutable; write a new file instead" : "it is being uploaded");
        return fail(EROFS, pinned ? "pinned content is immutable" : "file is queued for upload");
      }
      handle->local = file;
      if (flags & O_TRUNC) {
        lock.unlock();
        {
          std::lock_guard io(file->io);
          if (::ftruncate(file->fd, 0) != 0) return fail_errno("truncate staged " + file->staging);
          file->size = 0;
          file->write_errno = 0;  // a fresh start
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

service::VerifiedReader& Vfs::verified() {
  std::lock_guard lock(prefetch_mu_);
  if (!verified_) {
    verified_ = std::make_shared<service::VerifiedReader>(gateway_);
    // Inner nodes kept with the content cache: a file cached in an earlier mount is checked without the
    // gateway (offline too).
    service::BlockStore store;
    store.get = [this](const std::string& cid) { return content_->get_block(cid); };
    store.put = [this](const std::string& cid, const std::vector<std::uint8_t>& b) {
      content_->put_block(cid, b);
    };
    verified_->set_block_store(std::move(store));
  }
  return *verified_;
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
  const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(size, file_size - offset));
  ReadAhead& ra = handle.ra;
  auto mark_verified = [&] { this->mark_verified(handle, cid, file_size, offset + want); };
  auto note_read = [&] { return note_sequential(ra, offset, want); };

  auto hit = content_->read(cid, offset, want, out);
  if (!hit) return std::unexpected(hit.error());
  if (*hit) {
    note_cached_read(handle, cid, file_size, offset, want);
    return want;
  }

  std::unique_lock lock(ra.mu);
  if (note_read()) {
    schedule_parts(ra, cid, file_size, offset);
    // Wait for the parts this read falls in, then take it from the cache.
    bool waited = false;
    for (std::uint64_t index = offset / kPart; index <= (offset + want - 1) / kPart; ++index) {
      auto it = ra.parts.find(index);
      if (it == ra.parts.end()) continue;
      auto part = it->second;
      lock.unlock();
      part->wait();
      lock.lock();
      waited = true;
    }
    if (waited) {
      ra.window = std::min(ra.window * 2, kMaxWindow);  // the reader waited: keep more in flight
      schedule_parts(ra, cid, file_size, offset + want);
      lock.unlock();
      if (auto got = content_->read(cid, offset, want, out); got && *got) {
        mark_verified();
        return want;
      }
    }
  }
  if (lock.owns_lock()) lock.unlock();
  // Not in flight (a random read, or a part that failed or was evicted): fetch the leaves it touches.
  auto fetched = fetch_verified(cid, offset, want, out);
  if (!fetched) {
    spdlog::warn("read {} at {}: {}", cid, offset, fetched.error().describe());
    return std::unexpected(fetched.error());
  }
  mark_verified();
  return static_cast<std::size_t>(*fetched);
}

void Vfs::mark_verified(Handle& handle, const std::string& cid, std::uint64_t file_size, std::uint64_t end) {
  if (end < file_size) return;
  {
    auto lock = ns_->lock();
    auto pin = handle.node->pin();
    if (!pin || pin->verified) return;
  }
  if (!content_->contains(cid, 0, file_size)) return;
  auto lock = ns_->lock();
  // Every byte of it was checked against its CID and is in the cache.
  if (auto pin = handle.node->pin()) pin->verified = true;
}

void Vfs::note_cached_read(Handle& handle, const std::string& cid, std::uint64_t file_size,
                           std::uint64_t offset, std::size_t size) {
  {
    std::lock_guard lock(handle.ra.mu);
    if (note_sequential(handle.ra, offset, size)) schedule_parts(handle.ra, cid, file_size, offset + size);
  }
  mark_verified(handle, cid, file_size, offset + size);
}

std::optional<CachedSlice> Vfs::read_cached(std::uint64_t fh, std::uint64_t offset, std::size_t size) {
  auto handle = handle_of(fh);
  if (!handle || handle->local) return std::nullopt;
  std::string cid;
  std::uint64_t file_size = 0;
  {
    auto lock = ns_->lock();
    const Node& node = *handle->node;
    if (node.kind() != Kind::Pin && node.kind() != Kind::DirEntry) return std::nullopt;
    cid = node.content_cid();
    file_size = ns_->file_size(node);
  }
  if (offset >= file_size) return std::nullopt;
  const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(size, file_size - offset));
  const int fd = content_->open_range(cid, offset, want);
  if (fd < 0) return std::nullopt;
  note_cached_read(*handle, cid, file_size, offset, want);
  return CachedSlice{fd, offset, want};
}

Result<std::uint64_t> Vfs::fetch_verified(const std::string& cid, std::uint64_t begin, std::uint64_t length,
                                          char* out, const std::atomic<bool>* cancel) {
  ++counters_.gateway_reads;
  const std::uint64_t end = begin + length;
  auto deliver = [&](std::uint64_t at, const char* data, std::size_t n) {
    if (out) {
      const std::uint64_t lo = std::max(at, begin), hi = std::min<std::uint64_t>(at + n, end);
      if (lo < hi) std::copy_n(data + (lo - at), hi - lo, out + (lo - begin));
    }
  };
  // The disk cache of an earlier mount holds the bytes unchecked: each leaf is checked from there, and only
  // those it lacks or that do not match come from the gateway.
  service::LocalCopy local;
  local.size = content_->held_size(cid);
  local.read = [&](std::uint64_t at, std::size_t n, char* into) {
    return content_->read_held(cid, at, n, into);
  };
  local.sink = [&](std::uint64_t at, const char* data, std::size_t n) {
    if (cancel && *cancel) return false;
    content_->trust(cid, at, n);
    deliver(at, data, n);
    return true;
  };
  auto got = verified().read(
      cid, begin, length,
      [&](std::uint64_t at, const char* data, std::size_t n) {
        if (cancel && *cancel) return false;
        counters_.gateway_bytes += n;
        if (auto stored = content_->write(cid, at, data, n); !stored)
          spdlog::warn("content cache: {}", stored.error().describe());
        deliver(at, data, n);
        return true;
      },
      local.size ? &local : nullptr);
  return got;
}

void Vfs::schedule_parts(ReadAhead& ra, const std::string& cid, std::uint64_t file_size, std::uint64_t from) {
  if (ra.window == 0 || from >= file_size) return;
  // Forget finished parts behind the reader.
  for (auto it = ra.parts.begin(); it != ra.parts.end() && (it->first + 1) * kPart + kPart <= from;) {
    bool done = false;
    {
      std::lock_guard lock(it->second->mu);
      done = it->second->done;
    }
    if (!done) break;
    it = ra.parts.erase(it);  // may free the part: its mutex is no longer held (TSan found the unlock after)
  }
  std::size_t in_flight = 0;
  for (auto& [index, part] : ra.parts) {
    std::lock_guard done(part->mu);
    if (!part->done) ++in_flight;
  }
  const std::uint64_t until = std::min(file_size, from + ra.window);
  for (std::uint64_t index = from / kPart; index * kPart < until && in_flight < kMaxPartsPerFile; ++index) {
    if (ra.parts.contains(index)) continue;
    std::uint64_t begin = index * kPart;
    const std::uint64_t end = std::min(file_size, begin + kPart);
    if (content_->contains(cid, begin, end - begin)) continue;
    // Leave out the leaves at its start that are cached already (the reader's own first reads).
    for (int leaves = 0; begin < end && leaves < 64; ++leaves) {
      auto [leaf_begin, leaf_end] = verified().leaf_range(cid, begin);
      if (leaf_end <= leaf_begin || !content_->contains(cid, leaf_begin, leaf_end - leaf_begin)) break;
      begin = leaf_end;
    }
    if (begin >= end) continue;
    {
      std::lock_guard lock(prefetch_mu_);
      if (prefetches_ >= kMaxPartsOverall) return;  // the reader fetches what it needs itself
      ++prefetches_;
    }
    auto part = std::make_shared<Prefetch>();
    part->begin = begin;
    part->end = end;
    ra.parts[index] = part;
    ++in_flight;
    std::thread([this, part, cid] {
      // On failure the reader fetches the range itself when it gets there, and reports a lasting error.
      auto got = fetch_verified(cid, part->begin, part->end - part->begin, nullptr, &part->cancel);
      if (!got && !part->cancel)
        spdlog::debug("prefetch of {} at {}: {}", cid, part->begin, got.error().describe());
      {
        std::lock_guard lock(part->mu);
        part->done = true;
        part->failed = !got;
      }
      part->cv.notify_all();
      std::lock_guard lock(prefetch_mu_);
      --prefetches_;
      prefetch_cv_.notify_all();
    }).detach();
  }
}

}  // namespace pinfs::vfs
