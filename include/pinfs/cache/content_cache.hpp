// Disk cache of fetched content, keyed by CID. Content behind a CID never changes, so a cached byte is never
// stale: a read whose range is fully cached never touches the network. One sparse file per CID plus the set
// of byte ranges it holds; whole CIDs are evicted least-recently-used once the total exceeds the budget.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "pinfs/common/error.hpp"

namespace pinfs::cache {

struct ContentCacheStats {
  std::uint64_t bytes = 0;  // bytes held (sum of cached ranges)
  std::uint64_t entries = 0;
  std::uint64_t hits = 0;    // reads answered from disk
  std::uint64_t misses = 0;  // reads that needed the network
  std::uint64_t evictions = 0;
};

class ContentCache {
 public:
  // dir is created if missing; leftovers from a previous mount are removed because the range sets are kept
  // in memory only (the persistent index of the next issue will keep them).
  static Result<std::unique_ptr<ContentCache>> open(const std::string& dir, std::uint64_t max_bytes);

  // Copies [offset, offset+size) into out when every byte is cached; false (a miss) otherwise.
  Result<bool> read(const std::string& cid, std::uint64_t offset, std::uint64_t size, char* out);
  // Records fetched bytes; may evict other CIDs to stay within the budget.
  Result<void> write(const std::string& cid, std::uint64_t offset, const char* data, std::uint64_t size);
  // Takes over a complete local copy (a staged file that was just pinned) by renaming it into the cache,
  // so reading back what was written costs no download. Returns false (file left alone) if it cannot.
  bool adopt_file(const std::string& cid, const std::string& path, std::uint64_t size);
  bool contains(const std::string& cid, std::uint64_t offset, std::uint64_t size) const;
  // A read-only descriptor of cid's cache file when [offset, offset+size) is cached (the caller closes it),
  // else -1: lets the FUSE adapter splice cached bytes to the kernel without copying them.
  int open_range(const std::string& cid, std::uint64_t offset, std::uint64_t size);
  ContentCacheStats stats() const;

 private:
  ContentCache(std::string dir, std::uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}
  struct Entry {
    std::map<std::uint64_t, std::uint64_t> ranges;  // start → end (exclusive), disjoint, merged
    std::uint64_t bytes = 0;
    std::list<std::string>::iterator lru;
  };
  std::string path_of(const std::string& cid) const;
  bool covered_locked(const Entry& entry, std::uint64_t offset, std::uint64_t size) const;
  void evict_locked(const std::string& keep);

  const std::string dir_;
  const std::uint64_t max_bytes_;
  mutable std::mutex mu_;  // guards everything below; held across the file I/O of one call
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // front = most recently used
  ContentCacheStats stats_;
};

}  // namespace pinfs::cache
