// The VFS's private types: what an inode is, new files and directories, open handles.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "pinfs/cache/journal.hpp"
#include "pinfs/cid/importer.hpp"
#include "pinfs/vfs/vfs.hpp"

namespace pinfs::vfs {

enum class Kind {
  Root,
  Pin,       // a pin of the account (file, or browsable directory when pin.is_dir)
  DirEntry,  // a file or directory inside a directory pin
  Local,     // a new file, staged, not yet pinned
  LocalDir,  // a new directory, uploaded as one directory pin
  Link,      // `ln -s /ipfs/<cid> name` while its pin-by-CID job runs
  Control,   // /.pinfs and its folders jobs/, by-cid/
  ControlFile
};

enum class UploadState { Local, Queued, Uploading, Pinned, Failed };

struct Vfs::LocalFile {
  // Guarded by Vfs::mu_:
  Ino ino = 0;
  Ino parent = kRootIno;
  std::string name;  // as sent to the service (unescaped)
  UploadState state = UploadState::Local;
  std::string reason;  // why the last upload failed
  std::string cid;     // computed locally once closed
  int writers = 0;
  bool deleted = false;  // unlinked while uploading: unpin once done
  service::KeyValues keyvalues;
  std::optional<service::PinRef> replaces;
  std::int64_t journal_id = 0;
  std::string job_status;  // dedupe by pin-by-CID: the job's status until the pin shows up
  std::string job_name;    // the name that job pins under
  std::uint64_t sent = 0;  // upload progress
  int attempts = 0;
  bool resumed = false;  // from the journal of an earlier mount
  std::int64_t next_attempt_ms = 0;

  // Guarded by io:
  std::mutex io;
  std::string staging;
  int fd = -1;
  std::unique_ptr<cid::FileImporter> importer;
  bool sequential = true;
  std::atomic<std::uint64_t> size{0};
  std::atomic<bool> dirty{false};
  std::atomic<std::int64_t> mtime{0};

  ~LocalFile() {
    if (fd >= 0) ::close(fd);
  }
};

struct Vfs::LocalDir {
  std::map<std::string, Ino> children;  // shown name → Local / LocalDir node
  std::int64_t last_change_ms = 0;
  bool uploading = false;
};

struct Vfs::Node {
  Kind kind = Kind::Root;
  Ino ino = 0;
  std::string key;
  std::uint64_t lookups = 0;
  Ino parent = kRootIno;
  std::string name;  // shown name in its parent

  service::Pin pin;       // Kind::Pin
  bool verified = false;  // pinned through this mount and the service's CID equalled the local one

  // Kind::DirEntry (and directory pins: cid = pin.cid)
  std::string cid;
  std::uint64_t size = 0;
  bool is_dir = false;
  std::int64_t mtime = 0;
  bool children_loaded = false;
  std::vector<std::pair<std::string, Ino>> children;  // a directory pin's listing, once loaded

  std::shared_ptr<LocalFile> local;  // Kind::Local
  std::shared_ptr<LocalDir> dir;     // Kind::LocalDir

  std::string target;  // Kind::Link: "/ipfs/<cid>"
  std::string job_id;  // Kind::Link
  std::string link_cid;

  std::string control;  // Kind::Control / ControlFile: "root", "jobs", "by-cid", "status", "job:<id>"

  bool is_directory() const {
    return kind == Kind::Root || kind == Kind::LocalDir || kind == Kind::Control ||
           (kind == Kind::Pin && pin.is_dir) || (kind == Kind::DirEntry && is_dir);
  }
};

// One background fetch of [begin, end) of a file into the content cache (see vfs_read.cpp).
struct Prefetch {
  std::uint64_t begin = 0, end = 0;
  std::atomic<bool> cancel{false};  // the handle was released: stop at the next leaf
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;    // guarded by mu
  bool failed = false;  // guarded by mu
  void wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done; });
  }
};

// A handle's read-ahead (vfs_read.cpp): parts of the file fetched in parallel ahead of a sequential reader.
struct ReadAhead {
  std::mutex mu;                  // guards the fields below; taken after Vfs::mu_, never held over a fetch
  std::uint64_t next_offset = 0;  // end of the furthest read of the stream
  std::uint64_t window = 0;       // bytes kept in flight ahead of a sequential reader; 0: not sequential
  std::uint64_t reads = 0;
  std::map<std::uint64_t, std::shared_ptr<Prefetch>> parts;  // part index → its fetch
  ~ReadAhead() {
    for (auto& [index, part] : parts) part->cancel = true;
  }
};

struct Vfs::Handle {
  std::shared_ptr<Node> node;
  std::shared_ptr<LocalFile> local;
  bool writable = false;
  std::atomic<bool> wrote{false};
  bool retry_failed = false;  // opened for writing after a failed upload: closing it retries  // this
                              // descriptor wrote: its close (flush) is the one that uploads
  std::string snapshot;       // control files: the content as of open()
  ReadAhead ra;
};

// The account's first listing, read page by page while `ls` reads the root (see Vfs::next_root_page).
struct RootStream {
  std::mutex mu;  // one page at a time for this handle
  service::ListQuery query;
  std::vector<service::Pin> pins;  // every page so far
  std::set<std::string> shown;     // pin keys already among the handle's items
  bool done = false;
};

struct Vfs::DirHandle {
  std::shared_ptr<Node> dir;
  std::vector<std::pair<std::string, std::shared_ptr<Node>>> items;  // "." and ".." first
  std::unique_ptr<RootStream> stream;                                // the root before its first full listing
};

// The journal's record of a staged upload (mu_ held by the caller).
cache::JournalEntry journal_entry_of(const Vfs::LocalFile& file);

// What a UnixFS node's own block says about it: directory or file, and a file's byte count.
struct UnixfsFacts {
  bool is_dir = false;
  std::uint64_t size = 0;
};
Result<UnixfsFacts> unixfs_facts(const std::string& cid, const std::vector<std::uint8_t>& block);

inline std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace pinfs::vfs
