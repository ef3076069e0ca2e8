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
class IndexSync;
class CacheDirLock;
struct IndexChanges;
}  // namespace pinfs::cache

namespace pinfs::service {
class VerifiedReader;
}  // namespace pinfs::service

namespace pinfs::vfs {

using Ino = std::uint64_t;
constexpr Ino kRootIno = 1;
constexpr const char* kControlDirName = ".pinfs";

class PinChanges;

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

// What a setattr asks to change (truncate, utimens, chmod, chown); unset fields stay as they are.
struct AttrChange {
  std::optional<std::uint64_t> size;
  std::optional<struct timespec> mtime;  // an explicit time: touch -d, cp -p, rsync -a, utimensat
  bool mtime_now = false;                // UTIME_NOW: plain touch
  std::optional<mode_t> mode;            // chmod: accepted, not kept ([attr.setattr])
  bool owner = false;                    // chown/chgrp: accepted, not kept
};

struct Created {
  Entry entry;  // lookup count already taken
  Opened file;
};

// What the adapter and `pinfs status` read.
struct VfsCounters {
  std::atomic<std::uint64_t> list_calls{0}, uploads{0}, upload_failures{0}, dedupes{0}, gateway_reads{0},
      gateway_bytes{0}, block_fetches{0}, unpins{0}, renames{0}, metadata_updates{0}, pin_by_cid{0},
      refreshes{0}, notes_sent{0}, streamed_uploads{0}, streams_abandoned{0};
};

class Namespace;
class Uploads;

// How the VFS tells the kernel that something changed behind its back (a refresh found remote changes):
// src/fuse/notify.cpp over libfuse's notify calls; a recording fake in tests. Never called with a VFS lock
// held, nor from a request handler (the kernel may be holding the directory the handler works on).
class KernelNotifier {
 public:
  virtual ~KernelNotifier() = default;
  virtual void inval_entry(Ino parent, const std::string& name) = 0;
  virtual void inval_inode(Ino ino) = 0;
  virtual void deleted(Ino parent, Ino ino, const std::string& name) = 0;  // notify_delete
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
  // truncate, then the mtime ([attr.mtime]); mode and owner are accepted and not kept.
  Result<struct stat> setattr(Ino ino, const AttrChange& change);
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

  // Brings the index up to date now and tells the kernel what changed (the poller does this every
  // poll_interval).
  Result<void> refresh();
  // The poller sends its invalidations there.
  void set_notifier(std::shared_ptr<KernelNotifier> notifier);
  // Seconds the kernel may keep a "no such name" answer (a negative entry); refreshes invalidate them.
  double negative_timeout() const { return 1.0; }
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

  // Sizes of Pinata pins: fetches the root block when the size is not known (no lock held).
  void resolve_size(const NodePtr& node);

  // listing
  Result<void> ensure_index();
  // Brings the index up to date through IndexSync and applies what changed to the names: a full listing
  // when `full` (refresh(), the first listing) or the index is not complete, else IndexSync::refresh()
  // (the poller: incremental, with a full reconcile when due).
  Result<void> sync_index(bool forced, bool full);
  Result<void> sync_index_listing(bool forced);            // without persistent_index: a full listing, diffed
  void apply_changes(const cache::IndexChanges& changes);  // names, links, job pins (no VFS lock held)
  void count_list_calls();  // IndexSync's calls into counters_ (refresh_mu_ held)
  void poller_loop();
  // The poller's next refresh within seconds (sooner only): a file's pin-by-CID job is waiting for its pin.
  void refresh_within(std::int64_t seconds);
  void send_notes();
  void reconcile_links();  // pending symlinks whose pin appeared (Namespace::mu_ held)
  Result<NodePtr> child_locked(const NodePtr& parent, const std::string& name,
                               std::unique_lock<std::mutex>& lock);
  NodePtr control_child_locked(const NodePtr& parent, const std::string& name);
  Result<std::pair<NodePtr, NodePtr>> named_entry(Ino parent, const std::string& name,
                                                  std::unique_lock<std::mutex>& lock);
  Result<void> load_dirpin(const NodePtr& dir);
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

  // setattr (vfs_write.cpp)
  Result<void> set_mtime(Ino ino, std::int64_t sec, std::int64_t nsec);
  void touch_now(Ino ino);
  // Sets the mtime keyvalue of the pin behind ino on the service (Pinata: hashMetadata; AIOZ: pin by hash
  // again) and in the index, unless it holds that time already.
  Result<void> store_pin_mtime(Ino ino, const std::string& value);
  // A write through a handle whose close (a dup's) committed the file: local and editable again.
  Result<void> reopen_committed(Handle& handle);

  // metadata changes of pins (PinChanges)
  // The pin behind node as the index has it now; for a file pinned a moment ago whose node is not switched
  // yet, its row by CID and name (Namespace::mu_ held).
  std::optional<service::Pin> pin_behind_locked(const NodePtr& node);
  // Runs change on the current row of the pin behind ino, no other change of that pin running meanwhile.
  // No pin behind ino: returns unpinned instead.
  Result<void> change_pin(Ino ino, const std::function<Result<void>(service::Pin)>& change,
                          Result<void> unpinned);
  // rename() once: with guard held for the CID of the pin it renames, or (a pin's rename and no guard for
  // its CID) nothing done and *need_cid set.
  Result<void> rename_once(Ino parent, const std::string& name, Ino new_parent, const std::string& new_name,
                           unsigned flags, const std::string& guarded_cid, std::string* need_cid);

  // uploads → namespace
  void on_pinned(const std::shared_ptr<LocalFile>& file, const service::Pin& pin, bool verified);
  void on_changed(const service::Pin& before, const std::optional<service::Pin>& after);
  Result<void> upload_dir_now(const NodePtr& dir);
  void upload_quiet_dirs();
  void touch_dir_locked(Ino dir);  // a new directory (and its ancestors) changed: restart the quiet delay
  NodePtr top_dir_locked(Ino dir);

  // open files
  std::shared_ptr<Handle> handle_of(std::uint64_t fh);
  std::uint64_t add_handle(std::shared_ptr<Handle> handle);
  std::string job_json(const service::PinJob& job) const;

  std::shared_ptr<service::PinService> service_;
  std::shared_ptr<service::Gateway> gateway_;
  VfsOptions options_;
  VfsCounters counters_;
  // One mount per cache dir: taken first in start(), released last (declared first, destroyed last).
  std::unique_ptr<cache::CacheDirLock> dir_lock_;
  std::unique_ptr<cache::ContentCache> content_;
  // The components; each owns its state and its lock (lock order in namespace.hpp).
  std::unique_ptr<PinChanges> pin_changes_;  // taken before any other VFS lock
  std::unique_ptr<Namespace> ns_;
  std::unique_ptr<Uploads> uploads_;
  // Keeps ns_'s index in step with the account; driven by one caller at a time, under refresh_mu_
  // (destroyed before ns_, whose index it writes).
  std::unique_ptr<cache::IndexSync> sync_;
  std::uint64_t sync_calls_seen_ = 0;  // sync_->list_calls() already added to counters_ (refresh_mu_)

  // Guards notifier_ and is held while notifications go out (the session must outlive them). Taken with no
  // other VFS lock held; request handlers never take it.
  std::mutex notify_mu_;
  std::shared_ptr<KernelNotifier> notifier_;
  std::mutex refresh_mu_;  // one listing at a time; taken before Namespace::mu_
  // The open-file and open-directory tables. Lock order: after Namespace::mu_ (never held while taking it).
  std::mutex handles_mu_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Handle>> handles_;
  std::unordered_map<std::uint64_t, std::shared_ptr<DirHandle>> dir_handles_;
  std::uint64_t next_fh_ = 1;
  // The poller: refreshes the index every poll_interval and tells the kernel.
  std::mutex poll_mu_;  // leaf
  std::condition_variable poll_cv_;
  bool poll_stop_ = false;
  std::thread poller_;
  std::atomic<std::int64_t> next_refresh_{0};
  // poll_mu_: seconds from one refresh to the next while pin-by-CID jobs wait (doubling; 1 again at a new
  // job), and whether refresh_within() was called since the current refresh began.
  std::int64_t job_backoff_s_ = 1;
  bool job_refresh_asked_ = false;
  std::atomic<bool> refresh_after_first_listing_{
      false};  // a stale kept index: refresh once the root was listed
  bool started_ = false;
  // Prefetch threads use this object: the destructor waits for them. prefetches_ also bounds the parts in
  // flight over all open files.
  std::mutex prefetch_mu_;  // a leaf lock
  std::condition_variable prefetch_cv_;
  int prefetches_ = 0;
  std::shared_ptr<service::VerifiedReader> verified_;  // guarded by prefetch_mu_ until made
};

}  // namespace pinfs::vfs
