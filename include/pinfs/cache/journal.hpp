// The upload journal: every staged file has a row here from the moment it is created (state "writing"),
// written and fsync'd (SQLite synchronous=FULL) before create() returns; at close it becomes "queued"
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

class UploadJournal {
 public:
  virtual ~UploadJournal() = default;
  virtual Result<std::int64_t> add(const JournalEntry& entry) = 0;
  virtual Result<void> update(const JournalEntry& entry) = 0;  // every field, by id
  virtual Result<void> remove(std::int64_t id) = 0;
  virtual Result<void> remove(const std::vector<std::int64_t>& ids) = 0;  // in one transaction
  virtual Result<std::vector<JournalEntry>> entries() = 0;
};

// SQLite file at path; every write is durable when the call returns.
Result<std::unique_ptr<UploadJournal>> open_sqlite_journal(const std::string& path);

}  // namespace pinfs::cache
