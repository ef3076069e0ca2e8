// The filesystem, without FUSE: inodes, names, directory listings, open files, uploads, xattrs and the
// control folder. src/fuse/ turns kernel requests into these calls; tests/vfs/ drives them directly.
// Every call returns an errno-carrying Result; none throws.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "pinfs/common/error.hpp"
#include "pinfs/service/pin_service.hpp"
#include "pinfs/vfs/options.hpp"

namespace pinfs::cache {
class ContentCache;
class UploadJournal;
class PinIndex;
}  // namespace pinfs::cache

namespace pinfs::service {
class VerifiedReader;
}  // namespace pinfs::service

namespace pinfs::vfs {

using Ino = std::uint64_t;
constexpr Ino kRootIno = 1;
constexpr const char* kControlDirName = ".pinfs";

struct Entry {
  Ino ino = 0;
  std::uint64_t generation = 1;  // inode numbers are never reused within a mount, so 1 always
  struct stat attr {};
  double timeout = 1.0;  // seconds the kernel may cache the entry and its attributes
};

struct DirItem {
  std::string name;
  Entry entry;
  bool dot = false;  // "." or "..": the kernel takes no lookup reference for these
};

struct Opened {
  std::uint64_t fh = 0;
  bool direct_io = false;   // generated content (control files): size is not known up front
  bool keep_cache = false;  // pinned content never changes
};

// Bytes of a file that sit in the content cache: [offset, offset + size) of fd, which the caller closes.
struct CachedSlice {
  int fd = -1;
  std::uint64_t offset = 0;
  std::size_t size = 0;
};

struct Created {
  Entry entry;  // lookup count already taken
  Opened file;
};

// What the adapter and `pinfs status` read.
struct VfsCounters {
  std::atomic<std::uint64_t> list_calls{0}, uploads{0}, upload_failures{0}, dedupes{0}, gateway_reads{0},
      gateway_bytes{0}, block_fetches{0}, unpins{0}, renames{0}, metadata_updates{0}, pin_by_cid{0};
};

class Vfs {
 public:
  Vfs(std::shared_ptr<service::PinService> service, std::shared_ptr<service::Gateway> gateway,
      VfsOptions options);
  ~Vfs();
  Vfs(const Vfs&) = delete;
  Vfs& operator=(const Vfs&) = delete;

  // Opens the cache dir (staging/, content/, journal.sqlite) and resumes uploads left in the journal.
  Result<void> start();
  // Stops background work. wait_for_uploads: finish every pending upload (files and new directories) now;
  // otherwise they stay in the journal for the next mount. Errors name what could not be uploaded.
  Result<void> shutdown(bool wait_for_uploads);
  std::string status_json();

  // --- the inode API (a lookup reference is taken by lookup, create, mkdir, symlink and remember) ---
  Result<Entry> lookup(Ino parent, const std::string& name);
  void forget(Ino ino, std::uint64_t count);
  void remember(Ino ino);  // a readdirplus entry reached the kernel
  Result<struct stat> getattr(Ino ino);
  Result<struct stat> truncate(Ino ino, std::uint64_t size);
  struct statvfs statfs();

  Result<std::uint64_t> opendir(Ino ino);
  // Items from position offset on, at most max; an empty vector is the end.
  Result<std::vector<DirItem>> readdir(std::uint64_t dh, std::uint64_t offset, std::size_t max);
  void releasedir(std::uint64_t dh);
  Result<void> fsyncdir(Ino ino);

  Result<Opened> open(Ino ino, int flags);
  Result<Created> create(Ino parent, const std::string& name, mode_t mode, int flags);
  Result<std::size_t> read(std::uint64_t fh, std::uint64_t offset, std::size_t size, char* out);
  // The same read when every byte of it is in the content cache (verified), as a slice of the cache file
  // for the adapter to splice; nullopt otherwise (then read() fetches it).
  std::optional<CachedSlice> read_cached(std::uint64_t fh, std::uint64_t offset, std::size_t size);
  Result<std::size_t> write(std::uint64_t fh, std::uint64_t offset, const char* data, std::size_t size);
  Result<void> flush(std::uint64_t fh);
  Result<void> fsync(std::uint64_t fh);
  void release(std::uint64_t fh);

  Result<void> unlink(Ino parent, const std::string& name);
  Result<void> rmdir(Ino parent, const std::string& name);
  Result<void> rename(Ino parent, const std::string& name, Ino new_parent, const std::string& new_name,
                      unsigned flags);
  Result<Entry> mkdir(Ino parent, const std::string& name, mode_t mode);
  Result<Entry> symlink(const std::string& target, Ino parent, const std::string& name);
  Result<std::string> readlink(Ino ino);

  // As the syscalls: size 0 returns the needed size; a smaller buffer is ERANGE.
  Result<std::size_t> getxattr(Ino ino, const std::string& name, char* out, std::size_t size);
  Result<std::size_t> listxattr(Ino ino, char* out, std::size_t size);
  Result<void> setxattr(Ino ino, const std::string& name, const std::string& value, int flags);
  Result<void> removexattr(Ino ino, const std::string& name);

  // Re-lists the account now (otherwise done lazily once poll_interval has passed).
  Result<void> refresh();
  // Runs one pass of the background work (async uploads, quiet directories) on the caller's thread.
  void run_background_once();
  const VfsCounters& counters() const { return counters_; }

  struct Node;
  struct LocalFile;
  struct LocalDir;
  struct Handle;
  struct DirHandle;

 private:
  using NodePtr = std::shared_ptr<Node>;

  // inode table (mu_ held)
  NodePtr node_locked(Ino ino) const;
  NodePtr intern_locked(const std::string& key, const std::function<NodePtr()>& make);
  NodePtr pin_node_locked(const service::Pin& pin);
  void alias_locked(const NodePtr& node, const std::string& key);
  void drop_if_unused_locked(const NodePtr& node);
  Entry entry_locked(const NodePtr& node);
  struct stat attr_locked(const Node& node) const;
  // A file pin's byte count: the service's size when exact, else what its root block said (file_sizes_).
  bool size_known_locked(const Node& node) const;
  std::uint64_t file_size_locked(const Node& node) const;
  void resolve_size(const NodePtr& node);  // fetches the root block when the size is not known; mu_ not held

  // listing
  Result<void> ensure_index();
  void rebuild_names_locked();
  void reconcile_locked();
  Result<NodePtr> child_locked(const NodePtr& parent, const std::string& name,
                               std::unique_lock<std::mutex>& lock);
  // The directory parent and its entry name, with mu_ taken into the (unlocked) lock; the root's listing is
  // refreshed first when due.
  Result<std::pair<NodePtr, NodePtr>> named_entry(Ino parent, const std::string& name,
                                                  std::unique_lock<std::mutex>& lock);
  Result<void> load_dirpin(const NodePtr& dir);
  // Fetches the next page of a streamed root listing into the index and the handle's items.
  Result<void> next_root_page(DirHandle& handle);
  Result<std::vector<std::pair<std::string, NodePtr>>> list_children(const NodePtr& dir,
                                                                     std::unique_lock<std::mutex>& lock);

  // reading (vfs_read.cpp)
  Result<std::size_t> read_remote(Handle& handle, std::uint64_t offset, std::size_t size, char* out);
  // Sequential-read bookkeeping for a read served from the cache (read-ahead continues, verified flag).
  void note_cached_read(Handle& handle, const std::string& cid, std::uint64_t file_size, std::uint64_t offset,
                        std::size_t size);
  // Sets the node's verified flag once a read reached `end` = the file's end and all of it is cached.
  void mark_verified(Handle& handle, const std::string& cid, std::uint64_t file_size, std::uint64_t end);
  // Reads [begin, begin + length) of cid through the verified reader: only checked leaves reach the
  // content cache and out (which, when given, receives [begin, begin + length)).
  Result<std::uint64_t> fetch_verified(const std::string& cid, std::uint64_t begin, std::uint64_t length,
                                       char* out, const std::atomic<bool>* cancel = nullptr);
  // Starts the parts of [from, from + window) not yet cached or in flight (ReadAhead::mu held).
  void schedule_parts(struct ReadAhead& ra, const std::string& cid, std::uint64_t file_size,
                      std::uint64_t from);
  service::VerifiedReader& verified();  // made on first use

  // writing and uploads
  Result<std::string> finish_cid(LocalFile& file);
  Result<void> commit(const std::shared_ptr<LocalFile>& file, bool from_fsync);
  Result<void> upload_now(const std::shared_ptr<LocalFile>& file);
  Result<void> upload_dir_now(const NodePtr& dir);
  void adopt_pin_locked(const std::shared_ptr<LocalFile>& file, const service::Pin& pin);
  void worker_loop();
  void touch_dir_locked(Ino dir);  // a new directory (and its ancestors) changed: restart the quiet delay
  NodePtr top_dir_locked(Ino dir);
  void discard_local_locked(const std::shared_ptr<LocalFile>& file);
  std::string staging_path();

  // control folder
  std::string job_json(const service::PinJob& job) const;
  NodePtr control_child_locked(const NodePtr& parent, const std::string& name);

  std::shared_ptr<service::PinService> service_;
  std::shared_ptr<service::Gateway> gateway_;
  VfsOptions options_;
  VfsCounters counters_;
  std::unique_ptr<cache::ContentCache> content_;
  std::unique_ptr<cache::UploadJournal> journal_;
  std::unique_ptr<cache::PinIndex> index_;

  // Lock order: refresh_mu_ → mu_ → LocalFile::io → Handle::mu. Network calls happen without mu_.
  std::mutex refresh_mu_;  // one listing at a time
  mutable std::mutex mu_;  // guards the namespace below
  std::unordered_map<Ino, NodePtr> nodes_;
  std::unordered_map<std::string, Ino> by_key_;
  Ino next_ino_ = 2;
  std::map<std::string, std::string> pin_names_;  // shown name → pin id (root)
  std::uint64_t names_generation_ = ~0ull;
  std::map<std::string, Ino> root_locals_;  // shown name → new file / new dir / pending link
  std::map<std::string, std::shared_ptr<LocalFile>> locals_by_key_;
  std::vector<service::PinJob> jobs_;  // pin-by-CID jobs started here
  std::unordered_map<std::string, std::uint64_t>
      file_sizes_;  // CID → exact byte count (root blocks, uploads)
  std::unordered_map<std::uint64_t, std::shared_ptr<Handle>> handles_;
  std::unordered_map<std::uint64_t, std::shared_ptr<DirHandle>> dir_handles_;
  std::uint64_t next_fh_ = 1;
  std::uint64_t next_staging_ = 1;
  std::deque<std::shared_ptr<LocalFile>> queue_;       // async uploads waiting for the worker
  std::vector<std::shared_ptr<LocalFile>> job_files_;  // deduplicated by pin-by-CID, waiting for the pin
  struct FollowUp {
    service::Pin pin;
    std::string new_name;  // empty: unpin
  };
  std::vector<FollowUp>
      follow_ups_;  // service calls owed once a job's pin appeared (renamed/removed meanwhile)
  bool started_ = false;
  bool stopping_ = false;
  std::condition_variable wake_;
  std::thread worker_;
  // Prefetch threads use this object: the destructor waits for them. prefetches_ also bounds the parts in
  // flight over all open files.
  std::mutex prefetch_mu_;  // a leaf lock
  std::condition_variable prefetch_cv_;
  int prefetches_ = 0;
  std::shared_ptr<service::VerifiedReader> verified_;  // guarded by prefetch_mu_ until made
};

}  // namespace pinfs::vfs
