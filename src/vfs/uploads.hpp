// Uploads: the staging area, the journal, the queue and its workers, and dedupe. It owns the upload
// bookkeeping of every new file (LocalFile's fields marked "Uploads::mu_") and its lock; what the rest of
// the VFS must do when a file becomes a pin it is told through Hooks, called without that lock.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "node.hpp"
#include "pin_changes.hpp"
#include "pinfs/cache/journal.hpp"
#include "unpin.hpp"

namespace pinfs::cache {
class ContentCache;
class PinIndex;
}  // namespace pinfs::cache

namespace pinfs::vfs {

// Upload while writing ([write.stream]): one upload_file call on its own thread, reading the staged file as
// it grows. The writer signals growth; the last close completes it (Uploads::commit) and upload_now takes
// its result; a write out of order, a truncate or rm abandons it, and the file is uploaded from staging.
struct UploadStream {
  std::shared_ptr<http::GrowingFile> growth = std::make_shared<http::GrowingFile>();
  std::string name;  // as the upload was sent
  service::KeyValues keyvalues;
  std::thread thread;
  std::atomic<bool> done{false};
  std::optional<Result<service::Pin>> result;  // written by thread before done; read after join
  bool orphaned = false;                       // Uploads::mu_: its file was removed; reap_streams() joins it
};

class Uploads {
 public:
  using FilePtr = std::shared_ptr<Vfs::LocalFile>;
  using Lock = std::unique_lock<std::mutex>;
  struct Hooks {
    // The file is now this pin (its node becomes the pin's, same inode). verified: the CIDs were compared.
    // It puts the pin in the index (Uploads does only when there is no hook).
    std::function<void(const FilePtr&, const service::Pin&, bool verified)> pinned;
    // A pin made here was renamed or removed on the service afterwards (a follow-up).
    std::function<void(const service::Pin& before, const std::optional<service::Pin>& after)> changed;
    std::function<void(const service::PinJob&)> job_started;
    std::function<void()> background;  // more work for the worker's pass (quiet new directories)
  };

  Uploads(std::shared_ptr<service::PinService> service, const VfsOptions& options, VfsCounters& counters,
          PinChanges& pin_changes, Hooks hooks);
  ~Uploads();

  // Opens staging/ and the journal; the rows of an earlier mount come back: root files closed then are
  // queued, files still open then are interrupted, and new directories are for the VFS to rebuild (their
  // closed files wait for their directory's upload, as before the stop).
  struct Resumed {
    std::vector<FilePtr> files;
    std::vector<cache::JournalEntry> directories;  // state "directory", in row order
  };
  Result<Resumed> open(ShownPins& index, cache::ContentCache* content);
  // The background pass (follow-ups, quiet directories) and options.transfers upload threads.
  void start_worker();
  void stop_worker();  // waits for the uploads in flight

  // Lock order: Namespace::mu_ → Uploads::mu_ → LocalFile::io. Not held across network calls.
  Lock lock() const { return Lock(mu_); }

  // A new staged file (writers = 1), journaled before it exists; journal_parent: its new directory's row.
  Result<FilePtr> create(const std::string& name, Ino parent, std::int64_t journal_parent = 0);
  // A new directory's journal row (0 without a journal), its rename, its removal.
  Result<std::int64_t> journal_directory(const std::string& name, std::int64_t parent);
  Result<void> journal_directory_renamed(std::int64_t id, const std::string& name, std::int64_t parent);
  void journal_forget(std::int64_t id);
  // The last writer of a file in a new directory closes it (flush, or release without one): its row says
  // "queued", so a new mount uploads it with its directory rather than keep it as interrupted. As on a
  // local filesystem, close does not make the bytes durable against power loss, fsync does (durable: the
  // staged bytes and the row are fsync'd, a writer still open or not). A later write through a descriptor
  // still open reopens it (reopened_for_writing_locked).
  Result<void> closed_in_directory(const FilePtr& file, bool durable = false);
  // A write brought a root file written in order to options.stream_min_bytes: its upload starts now, on its
  // own thread (mu_ and io not held by the caller).
  void start_stream(const FilePtr& file);
  // The last writer closed (or fsync): CID, then the upload now (sync) or queued (async).
  Result<void> commit(const FilePtr& file);
  Result<void> upload_now(const FilePtr& file);
  Result<std::string> finish_cid(Vfs::LocalFile& file);

  // ---- mu_ held ----
  void discard_locked(const FilePtr& file);         // rm: the staged data goes, no service call
  void release_space_locked(Vfs::LocalFile& file);  // a removed file's staged blocks, once no writer has it
  Result<void> journal_update_locked(const Vfs::LocalFile& file);
  void pinned_in_directory_locked(const FilePtr& file);
  // A new directory was pinned as one: its files' staged copies go, and their rows with the directories'
  // rows (one journal transaction).
  void pinned_as_directory_locked(const std::vector<FilePtr>& files, std::vector<std::int64_t> rows);
  // Opened for writing again (after a failed upload): its row goes back to "writing".
  Result<void> reopened_for_writing_locked(const FilePtr& file);  // its new directory was pinned as one

  // ---- a file written again after a close committed it (uploads_reopen.cpp) ----
  // A dup's close (bash's `>&3`, a forked child) sends the same flush as the last close, so a file may be
  // written again through a descriptor still open after its upload was committed. With mu_ held: makes it a
  // local, editable file again. Queued: taken off the queue. Pinned: restaged from its descriptor, to
  // replace that pin once uploaded. Waiting for a pin-by-CID job: that job's pin is unpinned when it
  // appears. EAGAIN while its upload is running: wait_settled(), then ask again.
  Result<void> reopen_committed_locked(const FilePtr& file);
  // Waits (mu_ not held) until no upload of file is running, or timeout.
  void wait_settled(const FilePtr& file, std::chrono::milliseconds timeout);

  // Deduplicated files waiting for their pin-by-CID job: adopted once the index shows the pin, renamed
  // first (a network call, outside the lock) when the file was renamed while the job ran.
  void adopt_job_pins();
  bool jobs_pending() const;  // any such file still waiting
  // One pass of the background work on the caller's thread.
  void run_once();
  // Shutdown: every pending file uploaded now (wait) or left in the journal. Returns the names not uploaded.
  std::vector<std::string> finish_pending(bool wait);
  // "pending_uploads":[…]
  std::string status_json_locked() const;

 private:
  std::string staging_path();
  void adopt_orphans_locked(const std::set<std::string>& journaled, std::vector<FilePtr>& resumed);
  void adopt_locked(const FilePtr& file, const service::Pin& pin);
  // The file leaves the bookkeeping (pinned, or removed before anything was sent): its journal row and its
  // place in files_ go, and its staged copy unless that moved elsewhere (into the content cache).
  void forget_locked(const FilePtr& file, bool unlink_staged);
  void announce_pinned(const FilePtr& file, const service::Pin& pin);  // mu_ not held
  void worker_loop();
  void transfer_loop();
  // The first queued file due now (taken off the queue, state uploading), or null and how long until one is.
  FilePtr take_due_locked(std::int64_t now, std::int64_t& wait_ms);
  // One queued file: uploaded, or back in the queue for a later attempt.
  void transfer(const FilePtr& file);
  void background_pass();  // follow-ups owed, then Hooks::background
  // The stream's pin once the writer completed it (joins its thread); an error when it was abandoned or
  // failed, and the file is then uploaded from staging.
  Result<service::Pin> finish_stream(const std::shared_ptr<UploadStream>& stream);
  void reap_streams();  // joins the threads of streams no upload_now() took (removed files)

  std::shared_ptr<service::PinService> service_;
  const VfsOptions& options_;
  VfsCounters& counters_;
  PinChanges& pin_changes_;  // a pin's rename after its upload waits for other changes of it
  Hooks hooks_;
  ShownPins* index_ = nullptr;  // thread-safe on its own
  cache::ContentCache* content_ = nullptr;
  std::unique_ptr<cache::UploadJournal> journal_;

  mutable std::mutex mu_;
  std::vector<FilePtr> files_;      // every new file not yet pinned or discarded
  std::deque<FilePtr> queue_;       // async uploads waiting for the worker
  std::vector<FilePtr> job_files_;  // deduplicated by pin-by-CID, waiting for the pin
  struct FollowUp {
    service::Pin pin;
    std::string new_name;  // empty: unpin
  };
  std::vector<FollowUp> follow_ups_;  // service calls owed once a job's pin appeared
  std::uint64_t next_staging_ = 1;
  bool stopping_ = false;
  std::condition_variable wake_;     // the background pass: follow-ups owed
  std::condition_variable queued_;   // the transfer threads: a file was queued
  std::condition_variable settled_;  // an upload_now() ended (with mu_)
  std::thread worker_;
  std::vector<std::thread> transfers_;
  std::vector<std::shared_ptr<UploadStream>> streams_;  // every stream whose thread is not joined yet (mu_)
};

// text as a JSON string, quotes included (the status file's and job files' fields).
std::string json_quote(std::string_view text);

}  // namespace pinfs::vfs
