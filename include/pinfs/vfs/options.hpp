// What the VFS needs to know from the command line / config.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace pinfs::vfs {

enum class UploadMode { Sync, Async };

struct VfsOptions {
  std::string cache_dir;  // staging, journal, content cache, index
  UploadMode upload = UploadMode::Sync;
  int cid_version = 1;
  uid_t uid = 0;  // owner shown for every entry (the mounting user)
  gid_t gid = 0;
  std::chrono::seconds poll_interval{60};  // remote changes appear within this
  // A full listing at least this often, catching renames and metadata edits made elsewhere (no
  // "changed since" filter reports them); the polls between are incremental. 0 = only the first listing.
  // The SQLite pin index in the cache dir, refreshed incrementally by IndexSync; false
  // (--no-persistent-index): an in-memory index, a full listing at every mount and poll.
  bool persistent_index = true;
  std::chrono::seconds reconcile_interval{std::chrono::hours(6)};
  // Unix seconds now for the index's sync bookkeeping; the system clock when empty (tests: the fake's).
  std::function<std::int64_t()> clock;
  std::chrono::milliseconds dir_quiet_delay{2000};  // new directory uploaded after this much quiet
  // rm -rf of a directory pin: an entry removed inside it stays hidden this long after the last removal in
  // that pin, waiting for the pin's top directory to be removed; then it is shown again. 0: such removals
  // are refused (EROFS). docs/SEMANTICS.md [dirpin.rm]
  std::chrono::milliseconds removal_grace{10000};
  std::uint64_t cache_max_bytes = 10ull << 30;
  // Added by the filesystem layer:
  // Async uploads: the first retry after this, doubling up to 60 s.
  std::chrono::milliseconds upload_retry_delay{1000};
  // Async uploads at once (--transfers; rclone's default). Sync uploads run on each closing writer's own
  // thread, so closes from different writers are concurrent whatever this says.
  unsigned transfers = 4;
  bool dedupe = true;  // already pinned in the account (same CID) → no upload
  // The index is always asked; the service too (one list call) for files at least this big and for uploads
  // resumed from the journal, where a crash may have happened after the pin.
  std::uint64_t dedupe_remote_min_bytes = 1ull << 20;
  // Upload while writing ([write.stream]): a root file written in order starts its upload once it has this
  // many bytes, sent as it grows; 0 = only at close. Smaller files are uploaded at close (deduplicated).
  std::uint64_t stream_min_bytes = 8ull << 20;
};

}  // namespace pinfs::vfs
