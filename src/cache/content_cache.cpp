#include "pinfs/cache/content_cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "pinfs/common/log.hpp"

namespace pinfs::cache {

namespace fs = std::filesystem;

Result<std::unique_ptr<ContentCache>> ContentCache::open(const std::string& dir, std::uint64_t max_bytes) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return fail(EIO, "cannot create content cache " + dir + ": " + ec.message());
  return std::unique_ptr<ContentCache>(new ContentCache(dir, max_bytes));
}

std::string ContentCache::path_of(const std::string& cid) const {
  return dir_ + "/" + cid;
}

bool ContentCache::covered_locked(const Entry& entry, std::uint64_t offset, std::uint64_t size) const {
  if (size == 0) return true;
  auto it = entry.ranges.upper_bound(offset);
  if (it == entry.ranges.begin()) return false;
  --it;
  return it->first <= offset && it->second >= offset + size;
}

bool ContentCache::contains(const std::string& cid, std::uint64_t offset, std::uint64_t size) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(cid);
  return it != entries_.end() && covered_locked(it->second, offset, size);
}

int ContentCache::open_range(const std::string& cid, std::uint64_t offset, std::uint64_t size) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(cid);
  if (it == entries_.end() || !covered_locked(it->second, offset, size)) return -1;
  int fd = ::open(path_of(cid).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  ++stats_.hits;
  return fd;
}

Result<bool> ContentCache::read(const std::string& cid, std::uint64_t offset, std::uint64_t size, char* out) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(cid);
  if (it == entries_.end() || !covered_locked(it->second, offset, size)) {
    ++stats_.misses;
    return false;
  }
  int fd = ::open(path_of(cid).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail_errno("open cached " + cid);
  std::uint64_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, out + done, size - done, static_cast<off_t>(offset + done));
    if (n <= 0) {
      ::close(fd);
      return fail(EIO, "short read from content cache for " + cid);
    }
    done += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  ++stats_.hits;
  return true;
}

Result<void> ContentCache::write(const std::string& cid, std::uint64_t offset, const char* data,
                                 std::uint64_t size) {
  if (size == 0) return {};
  if (size > max_bytes_) return {};  // would evict everything for nothing
  std::lock_guard lock(mu_);
  auto [it, inserted] = entries_.try_emplace(cid);
  Entry& entry = it->second;
  if (inserted) {
    lru_.push_front(cid);
    entry.lru = lru_.begin();
    ++stats_.entries;
  } else {
    lru_.splice(lru_.begin(), lru_, entry.lru);
  }
  int fd = ::open(path_of(cid).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return fail_errno("create cached " + cid);
  std::uint64_t done = 0;
  while (done < size) {
    ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(offset + done));
    if (n <= 0) {
      ::close(fd);
      return fail_errno("write content cache for " + cid);
    }
    done += static_cast<std::uint64_t>(n);
  }
  ::close(fd);

  // Merge [offset, end) into the disjoint range set, counting only new bytes.
  std::uint64_t start = offset, end = offset + size;
  auto r = entry.ranges.upper_bound(start);
  if (r != entry.ranges.begin() && std::prev(r)->second >= start) --r;
  while (r != entry.ranges.end() && r->first <= end) {
    start = std::min(start, r->first);
    end = std::max(end, r->second);
    entry.bytes -= r->second - r->first;
    stats_.bytes -= r->second - r->first;
    r = entry.ranges.erase(r);
  }
  entry.ranges[start] = end;
  entry.bytes += end - start;
  stats_.bytes += end - start;
  evict_locked(cid);
  return {};
}

bool ContentCache::adopt_file(const std::string& cid, const std::string& path, std::uint64_t size) {
  if (size == 0 || size > max_bytes_) return false;
  std::lock_guard lock(mu_);
  if (entries_.contains(cid)) return false;
  if (::rename(path.c_str(), path_of(cid).c_str()) != 0) return false;  // another filesystem: download later
  auto& entry = entries_[cid];
  lru_.push_front(cid);
  entry.lru = lru_.begin();
  entry.ranges[0] = size;
  entry.bytes = size;
  stats_.bytes += size;
  ++stats_.entries;
  evict_locked(cid);
  return true;
}

void ContentCache::evict_locked(const std::string& keep) {
  while (stats_.bytes > max_bytes_ && !lru_.empty()) {
    std::string victim = lru_.back();
    if (victim == keep) break;
    auto it = entries_.find(victim);
    stats_.bytes -= it->second.bytes;
    lru_.pop_back();
    entries_.erase(it);
    ::unlink(path_of(victim).c_str());
    --stats_.entries;
    ++stats_.evictions;
    spdlog::debug("content cache: evicted {}", victim);
  }
}

ContentCacheStats ContentCache::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace pinfs::cache
