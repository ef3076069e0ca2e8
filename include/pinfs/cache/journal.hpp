// The upload journal: every staged file has a row here from the moment it is created (state "writing"),
// written before create() returns (lazily: a power loss may lose it, and the staged file is then adopted as
// an orphan, so no byte is lost); at close it becomes "queued"
// (with its CID; in async mode after the staged bytes were fsync'd); it is deleted only after the service
// confirmed the pin and its CID matched. A new mount resumes "queued" rows and shows "writing" rows as
// interrupted local files (never uploaded half-written). A new directory has a row too (state "directory",
// no staged file), written before mkdir returns; the rows of its files and subdirectories name it as their
// parent, so a new mount rebuilds the tree and uploads it as one directory pin.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pinfs/common/error.hpp"
#include "pinfs/service/pin_service.hpp"

namespace pinfs::cache {

struct JournalEntry {
  std::int64_t id = 0;       // assigned by add()
  std::string name;          // pin name (unescaped, as sent to the service)
  std::string staging_path;  // the staged bytes
  std::string cid;           // computed locally; the service's answer must equal it
  std::uint64_t size = 0;
  service::KeyValues keyvalues;
  std::string replaces_id;  // a pin to unpin once this one is pinned (mv onto an existing name)
  std::string replaces_cid;
  // "writing" (still open when the row was written), "queued" (closed) or "directory"
  std::string state = "queued";
  std::int64_t parent = 0;  // the row of the new directory it is in; 0: the root
};

// How durable a write is when the call returns. Lazy: in the log (the OS has it), so it survives the daemon's
// death (kill -9, a crash) but maybe not a power loss; the next Durable write makes it durable too.
// Durable: fsync'd, survives power loss.
enum class JournalSync { Lazy, Durable };

class UploadJournal {
 public:
  virtual ~UploadJournal() = default;
  virtual Result<std::int64_t> add(const JournalEntry& entry, JournalSync sync = JournalSync::Durable) = 0;
  // every field, by id
  virtual Result<void> update(const JournalEntry& entry, JournalSync sync = JournalSync::Durable) = 0;
  virtual Result<void> remove(std::int64_t id) = 0;                       // lazy
  virtual Result<void> remove(const std::vector<std::int64_t>& ids) = 0;  // in one transaction, lazy
  virtual Result<std::vector<JournalEntry>> entries() = 0;
};

// SQLite file at path (WAL).
Result<std::unique_ptr<UploadJournal>> open_sqlite_journal(const std::string& path);

}  // namespace pinfs::cache
