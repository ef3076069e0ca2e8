// The VFS's private types: what an inode is (a small header and the payload of its kind), new files and
// directories, open handles.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "pinfs/cache/index_sync.hpp"
#include "pinfs/cache/journal.hpp"
#include "pinfs/cid/importer.hpp"
#include "pinfs/vfs/vfs.hpp"

namespace pinfs::vfs {

enum class Kind {
  Root,
  Pin,       // a pin of the account (file, or browsable directory when is_dir)
  DirEntry,  // a file or directory inside a directory pin
  Local,     // a new file, staged, not yet pinned
  LocalDir,  // a new directory, uploaded as one directory pin
  Link,      // `ln -s /ipfs/<cid> name` while its pin-by-CID job runs
  Control,   // /.pinfs and its folders jobs/, by-cid/
  ControlFile
};

enum class UploadState { Local, Queued, Uploading, Pinned, Failed };

struct UploadStream;  // uploads.hpp

// A staged new file. Its upload bookkeeping belongs to Uploads (guarded by Uploads::mu_); its bytes to io.
struct Vfs::LocalFile {
  // Set once at create (or resume), read freely:
  Ino ino = 0;
  Ino parent = kRootIno;
  std::string staging;
  bool resumed = false;             // from the journal of an earlier mount
  std::int64_t journal_parent = 0;  // the journal row of its new directory (0: at the root)

  // Guarded by Uploads::mu_:
  std::string name;    // as sent to the service (unescaped)
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
  std::int64_t next_attempt_ms = 0;
  bool closed = false;       // its journal row says "queued": a writer closed it since it was last opened
  bool interrupted = false;  // found still being written by an earlier mount: never uploaded unless reopened
  // Read without the lock by getattr (mode 0644 while editable):
  std::atomic<UploadState> state{UploadState::Local};

  // Upload while writing ([write.stream]): set and cleared with both Uploads::mu_ and io held, so either
  // lock reads it. no_stream (io): a write out of order or a truncate ended it; not started again.
  std::shared_ptr<UploadStream> stream;
  bool no_stream = false;

  // Guarded by io (lock order: after Uploads::mu_):
  std::mutex io;
  int fd = -1;
  std::unique_ptr<cid::FileImporter> importer;
  bool sequential = true;
  std::atomic<std::uint64_t> size{0};
  std::atomic<bool> dirty{false};
  std::atomic<std::int64_t> mtime{0};       // seconds
  std::atomic<std::int64_t> mtime_nsec{0};  // with mtime: the time shown (a write sets it to now)
  // A program set the mtime (utimens): keyvalues[kMtimeKey] holds it until the next write clears it.
  std::atomic<bool> mtime_set{false};
  // A write that failed (ENOSPC, EIO of the cache disk): the staged bytes are incomplete, so the file is
  // never uploaded until it is truncated to 0 and written again. Sticky, so later writes leave no holes.
  std::atomic<int> write_errno{0};

  bool editable() const {
    auto s = state.load();
    return s == UploadState::Local || s == UploadState::Failed;
  }
  ~LocalFile() {
    if (fd >= 0) ::close(fd);
  }
};

struct Vfs::LocalDir {
  std::map<std::string, Ino> children;  // shown name → Local / LocalDir node
  std::int64_t last_change_ms = 0;
  bool uploading = false;
  // The last upload's CID did not match the tree's (user.pinfs.status "failed: <reason>"): not retried
  // by the quiet-directory pass until the tree changes again (last_change_ms moves on) or fsync.
  std::string reason;
  std::int64_t failed_change_ms = -1;
  std::int64_t journal_id = 0;  // its journal row (state "directory"), written before mkdir returned
  bool resumed = false;         // rebuilt from the journal: its pin may exist already (crash after upload)
  // The service already pinned this tree under another name (Pinata's isDuplicate: no pin of this name
  // was made), so a pin-by-CID job names it; the directory is the pin once that shows, if unchanged since.
  std::string job_cid;
  std::int64_t job_change_ms = 0;  // last_change_ms when the job started
  std::int64_t job_asked_ms = 0;   // when the service was last asked for the job's pin

  std::string status() const {
    if (uploading) return "uploading";
    if (!job_cid.empty()) return "pinning by CID";
    return reason.empty() ? "local" : "failed: " + reason;
  }
};

// A directory pin's (or nested directory's) entries, once fetched.
struct DirListing {
  std::vector<std::pair<std::string, Ino>> children;
};

// Per-kind payloads: each holds only what getattr, open and readdir of its kind need. A pin's name,
// metadata and id live in the index (xattrs read them from there).
struct RootData {};
struct PinData {
  std::string cid;
  std::uint64_t size = 0;  // the service's figure (see size_is_dag)
  std::int64_t pinned_at = 0;
  // The mtime a program set (the pin's kMtimeKey keyvalue); mtime 0: none, the pin date is shown.
  std::int64_t mtime = 0;
  std::int64_t mtime_nsec = 0;
  bool is_dir = false;
  bool size_is_dag = false;
  bool verified = false;  // pinned through this mount and the service's CID equalled the local one
  std::shared_ptr<DirListing> listing;  // a directory pin's entries, once loaded
};
struct DirEntryData {
  std::string cid;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
  bool is_dir = false;
  std::shared_ptr<DirListing> listing;
};
struct LocalData {
  std::shared_ptr<Vfs::LocalFile> file;
};
struct LocalDirData {
  std::shared_ptr<Vfs::LocalDir> dir;
  std::int64_t mtime = 0;
};
struct LinkData {
  std::string target;  // "/ipfs/<cid>"
  std::string job_id;
  std::string cid;
  std::int64_t mtime = 0;
};
struct ControlData {
  std::string control;  // "root", "jobs", "by-cid", "status", "job:<id>"
  bool file = false;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
};

// An inode: a header common to every kind plus the payload of its kind. Guarded by Namespace::mu_.
struct Vfs::Node {
  Ino ino = 0;
  Ino parent = kRootIno;
  std::uint64_t lookups = 0;
  std::string key;   // the inode table's key: "pin:<pin key>", "local:<ino>", "dp:<parent>/<name>", …
  std::string name;  // shown name in its parent
  std::variant<RootData, PinData, DirEntryData, LocalData, LocalDirData, LinkData, ControlData> data;

  Kind kind() const {
    switch (data.index()) {
      case 0:
        return Kind::Root;
      case 1:
        return Kind::Pin;
      case 2:
        return Kind::DirEntry;
      case 3:
        return Kind::Local;
      case 4:
        return Kind::LocalDir;
      case 5:
        return Kind::Link;
      default:
        return std::get<ControlData>(data).file ? Kind::ControlFile : Kind::Control;
    }
  }
  PinData* pin() { return std::get_if<PinData>(&data); }
  const PinData* pin() const { return std::get_if<PinData>(&data); }
  DirEntryData* entry() { return std::get_if<DirEntryData>(&data); }
  const DirEntryData* entry() const { return std::get_if<DirEntryData>(&data); }
  std::shared_ptr<LocalFile> local() const {
    auto p = std::get_if<LocalData>(&data);
    return p ? p->file : nullptr;
  }
  LocalDir* dir() const {
    auto p = std::get_if<LocalDirData>(&data);
    return p ? p->dir.get() : nullptr;
  }
  LinkData* link() { return std::get_if<LinkData>(&data); }
  const LinkData* link() const { return std::get_if<LinkData>(&data); }
  ControlData* control() { return std::get_if<ControlData>(&data); }
  const ControlData* control() const { return std::get_if<ControlData>(&data); }

  // The immutable content behind a pin or a directory-pin entry; empty for other kinds.
  const std::string& content_cid() const {
    static const std::string none;
    if (auto p = pin()) return p->cid;
    if (auto e = entry()) return e->cid;
    return none;
  }
  // The index key of a pin node ("pin:" stripped), or empty.
  std::string pin_key() const { return key.starts_with("pin:") ? key.substr(4) : std::string(); }
  // How the service is asked about this pin (Pinata by CID, AIOZ by id).
  service::PinRef pin_ref() const {
    auto k = pin_key();
    return {k.starts_with("cid:") ? std::string() : k, content_cid()};
  }
  std::shared_ptr<DirListing>* listing() {
    if (auto p = pin()) return &p->listing;
    if (auto e = entry()) return &e->listing;
    return nullptr;
  }

  bool is_directory() const {
    switch (kind()) {
      case Kind::Root:
      case Kind::LocalDir:
      case Kind::Control:
        return true;
      case Kind::Pin:
        return pin()->is_dir;
      case Kind::DirEntry:
        return entry()->is_dir;
      default:
        return false;
    }
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

// The mtime a program set on a file is kept as this keyvalue of its pin: "<seconds>.<9-digit nanoseconds>"
// ([attr.mtime] in docs/SEMANTICS.md).
inline constexpr const char* kMtimeKey = "pinfs.mtime";

inline std::string mtime_text(std::int64_t sec, std::int64_t nsec) {
  std::string frac = std::to_string(nsec);
  return std::to_string(sec) + "." + std::string(9 - std::min<std::size_t>(frac.size(), 9), '0') + frac;
}

// The kMtimeKey value of keyvalues as {seconds, nanoseconds}; nullopt when absent or not one.
inline std::optional<std::pair<std::int64_t, std::int64_t>> mtime_of(const service::KeyValues& keyvalues) {
  auto it = keyvalues.find(kMtimeKey);
  if (it == keyvalues.end()) return std::nullopt;
  const std::string& v = it->second;
  auto dot = v.find('.');
  std::string sec = v.substr(0, dot), nsec = dot == std::string::npos ? "0" : v.substr(dot + 1);
  if (sec.empty() || sec.size() > 18 || nsec.empty() || nsec.size() > 9) return std::nullopt;
  for (std::size_t i = sec[0] == '-' ? 1 : 0; i < sec.size(); ++i)
    if (sec[i] < '0' || sec[i] > '9') return std::nullopt;
  for (char c : nsec)
    if (c < '0' || c > '9') return std::nullopt;
  if (sec == "-") return std::nullopt;
  nsec.append(9 - nsec.size(), '0');
  return std::pair{std::stoll(sec), std::stoll(nsec)};
}

inline PinData pin_data_of(const service::Pin& pin) {
  PinData data;
  data.cid = pin.cid;
  data.size = pin.size;
  data.pinned_at = pin.pinned_at;
  if (auto mtime = mtime_of(pin.keyvalues)) std::tie(data.mtime, data.mtime_nsec) = *mtime;
  data.is_dir = pin.is_dir;
  data.size_is_dag = pin.size_is_dag;
  return data;
}

struct Vfs::Handle {
  std::shared_ptr<Node> node;
  std::shared_ptr<LocalFile> local;
  bool writable = false;
  std::atomic<bool> wrote{false};      // this descriptor wrote: its close (flush) is the one that uploads
  std::atomic<bool> committed{false};  // its flush or fsync committed the upload: a later write reopens
  bool retry_failed = false;           // opened for writing after a failed upload: closing it retries
  std::string snapshot;                // control files: the content as of open()
  ReadAhead ra;
};

// The account's first listing, read page by page while `ls` reads the root (see Vfs::next_root_page).
struct RootStream {
  std::mutex mu;                                // one page at a time for this handle
  std::unique_ptr<cache::FullListing> listing;  // IndexSync's, page by page (Vfs::refresh_mu_ held)
  std::unordered_set<std::string> shown;        // pin keys already among the handle's items
  bool done = false;                            // guarded by mu
};

struct Vfs::DirHandle {
  std::shared_ptr<Node> dir;
  std::vector<std::pair<std::string, std::shared_ptr<Node>>> items;  // "." and ".." first
  std::unique_ptr<RootStream> stream;                                // the root before its first full listing
};

// The journal's record of a staged upload (Uploads::mu_ held by the caller).
cache::JournalEntry journal_entry_of(const Vfs::LocalFile& file);

// What a UnixFS node's own block says about it: directory or file, and a file's byte count.
struct UnixfsFacts {
  bool is_dir = false;
  std::uint64_t size = 0;
};
Result<UnixfsFacts> unixfs_facts(const std::string& cid, const std::vector<std::uint8_t>& block);

bool same_cid(const std::string& a, const std::string& b);

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
