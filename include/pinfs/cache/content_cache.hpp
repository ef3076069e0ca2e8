// Disk cache of fetched content, keyed by CID. Content behind a CID never changes, so a cached byte is never
// stale: a read whose range is fully cached never touches the network. One sparse file per CID plus the set
// of byte ranges it holds; whole CIDs are evicted least-recently-used once the total exceeds the budget or
// the disk's free space would fall below the floor.
//
// Kept across mounts: the range sets and the LRU order live in <dir>/entries.db (SQLite). At open, only
// complete entries are kept (one range from byte 0 whose length is the file's size); partial ones, files
// shorter than their entry and files with no entry are removed. A kept entry's bytes are not trusted in this
// mount until the caller checked them: read(), open_range() and contains() see only the ranges trust()
// marked (or write() rewrote), read_held() hands out the rest for checking. The VFS checks each leaf
// against the CID its parent names (VerifiedReader's LocalCopy), so a corrupted leaf is fetched again and
// the others are served from disk.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "pinfs/common/error.hpp"

namespace pinfs::cache {

struct ContentCacheStats {
  std::uint64_t bytes = 0;  // bytes held (sum of cached ranges)
  std::uint64_t entries = 0;
  std::uint64_t hits = 0;    // reads answered from disk
  std::uint64_t misses = 0;  // reads that needed the network
  std::uint64_t evictions = 0;
  std::uint64_t kept = 0;     // entries carried over from the previous mount at open
  std::uint64_t dropped = 0;  // entries found truncated at open, removed
};

struct ContentCacheOptions {
  std::uint64_t max_bytes = 10ull << 30;
  // Never let the cache's filesystem fall below this many free bytes (evict first, else do not cache).
  std::uint64_t min_free_bytes = 512ull << 20;
};

class ContentCache {
 public:
  // dir is created if missing; complete entries of a previous mount are kept (see above).
  static Result<std::unique_ptr<ContentCache>> open(const std::string& dir, std::uint64_t max_bytes);
  static Result<std::unique_ptr<ContentCache>> open(const std::string& dir,
                                                    const ContentCacheOptions& options);
  ~ContentCache();

  // Copies [offset, offset+size) into out when every byte is cached; false (a miss) otherwise.
  Result<bool> read(const std::string& cid, std::uint64_t offset, std::uint64_t size, char* out);
  // Records fetched bytes; may evict other CIDs to stay within the budget.
  Result<void> write(const std::string& cid, std::uint64_t offset, const char* data, std::uint64_t size);
  // Takes over a complete local copy (a staged file that was just pinned, its CID verified) by renaming it
  // into the cache, so reading back what was written costs no download. Returns false (file left alone) if it
  // cannot.
  bool adopt_file(const std::string& cid, const std::string& path, std::uint64_t size);
  bool contains(const std::string& cid, std::uint64_t offset, std::uint64_t size) const;
  // A read-only descriptor of cid's cache file when [offset, offset+size) is cached (the caller closes it),
  // else -1: lets the FUSE adapter splice cached bytes to the kernel without copying them.
  int open_range(const std::string& cid, std::uint64_t offset, std::uint64_t size);
  // A kept entry's bytes whether or not they were checked in this mount (for checking them): false when the
  // file does not hold all of [offset, offset+size).
  bool read_held(const std::string& cid, std::uint64_t offset, std::uint64_t size, char* out);
  // The byte count of a kept entry not yet checked as a whole; 0 for any other (nothing to check there).
  std::uint64_t held_size(const std::string& cid) const;
  // [offset, offset+size) of a kept entry was checked against its CID: read() serves it from now on.
  void trust(const std::string& cid, std::uint64_t offset, std::uint64_t size);
  ContentCacheStats stats() const;

  // Inner nodes of cached files' DAGs (raw blocks, checked by whoever reads them back against their CID), so
  // that a kept entry can be checked leaf by leaf without the gateway. The newest kMaxBlocks are kept (an
  // inner node per 174 leaves: 4096 of them map some 170 GiB of files).
  std::optional<std::vector<std::uint8_t>> get_block(const std::string& cid);
  void put_block(const std::string& cid, const std::vector<std::uint8_t>& data);
  static constexpr std::int64_t kMaxBlocks = 4096;

 private:
  struct Db;
  ContentCache(std::string dir, ContentCacheOptions options);
  struct Entry {
    std::map<std::uint64_t, std::uint64_t> ranges;  // start → end (exclusive), disjoint, merged
    std::uint64_t bytes = 0;
    std::list<std::string>::iterator lru;
    bool verified = true;  // false for an entry kept from a previous mount until all of it was checked
    std::map<std::uint64_t, std::uint64_t> trusted;  // !verified: the ranges checked in this mount
    std::int64_t last_use = 0;
    std::uint64_t generation =
        0;  // set when created: a write whose entry was dropped meanwhile records nothing
  };
  std::string path_of(const std::string& cid) const;
  static bool covered(const std::map<std::uint64_t, std::uint64_t>& ranges, std::uint64_t offset,
                      std::uint64_t size);
  // Trusted in this mount: the whole entry, or for a kept one what was checked.
  static bool readable(const Entry& entry, std::uint64_t offset, std::uint64_t size);
  // Merges [start, end) into a disjoint range set; returns how many of its bytes were new.
  static std::uint64_t merge(std::map<std::uint64_t, std::uint64_t>& ranges, std::uint64_t start,
                             std::uint64_t end);
  void trust_locked(Entry& entry, std::uint64_t offset, std::uint64_t size);
  void evict_locked(const std::string& keep);
  // Evicts until `incoming` more bytes leave the floor free; false when even that is not enough.
  bool make_room_locked(std::uint64_t incoming, const std::string& keep);
  void drop_locked(const std::string& cid);
  void persist_locked(const std::string& cid, const Entry& entry);
  Result<void> load();

  const std::string dir_;
  const std::uint64_t max_bytes_;
  const std::uint64_t min_free_bytes_;
  // Lock order: mu_ is a leaf lock; held across the file I/O of one call, except write()'s (which checks
  // the entry's generation afterwards).
  mutable std::mutex mu_;  // guards everything below
  std::unique_ptr<Db> db_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // front = most recently used
  std::int64_t use_clock_ = 0;
  std::uint64_t blocks_put_ = 0;
  std::uint64_t generations_ = 0;
  ContentCacheStats stats_;
};

}  // namespace pinfs::cache
