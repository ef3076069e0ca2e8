// The one interface the cache and VFS layers use to talk to a pinning service.
// Implementations: Pinata, AIOZ (over http/), an in-memory fake, and a
// fault-injecting wrapper. Nothing above this layer knows HTTP or JSON.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pinfs/common/error.hpp"
#include "pinfs/http/growing_file.hpp"

namespace pinfs::service {

using KeyValues = std::map<std::string, std::string>;

struct Pin {
  std::string id;   // provider's pin id (AIOZ unpins by it; Pinata's row id)
  std::string cid;  // as the service prints it
  std::string name;
  std::uint64_t size = 0;
  std::int64_t pinned_at = 0;  // unix seconds
  bool is_dir = false;
  KeyValues keyvalues;
  bool size_is_dag = false;  // size counts the DAG's encoded blocks (Pinata's PinSize), not the file's bytes;
                             // false when the two are equal (a raw-leaf CID)
  // An upload's reply only: the account already pinned this CID, so no pin was made and the metadata sent
  // was not applied (Pinata's isDuplicate).
  bool duplicate = false;
};

// Identifies a pin to calls that need one: Pinata uses the CID, AIOZ the id.
struct PinRef {
  std::string id;
  std::string cid;
};

// Which pins a listing returns: the live ones, or the rows of pins since removed (Pinata keeps them, with
// their unpin date; AIOZ answers pinned=false).
enum class ListStatus { pinned, unpinned };
// any: the provider's own order (Pinata and AIOZ: newest first; the fake: oldest first).
// newest_first: by pin date, newest first, on every provider (incremental refreshes stop at known pins).
enum class ListOrder { any, newest_first };

struct ListQuery {
  std::size_t page_size = 1000;    // clamped to the provider's maximum
  std::string cursor;              // empty: first page; else PinPage::next_cursor
  std::optional<std::string> cid;  // only this CID (providers without the filter: filtered client-side)
  std::optional<std::string> name_contains;  // substring of metadata name
  std::optional<std::int64_t> pinned_after;  // unix seconds, inclusive, for incremental refresh
  ListStatus status = ListStatus::pinned;
  // Only pins removed at or after this (unix seconds); with status unpinned. Pinata filters by unpinStart;
  // AIOZ has no such filter and answers ENOTSUP.
  std::optional<std::int64_t> unpinned_after;
  ListOrder order = ListOrder::any;
};

struct PinPage {
  std::vector<Pin> pins;
  std::string next_cursor;  // empty when this was the last page
  std::optional<std::uint64_t> total;
};

struct UploadProgress {
  std::uint64_t sent = 0;
  std::uint64_t total = 0;
};
using ProgressFn = std::function<void(const UploadProgress&)>;

struct FileUpload {
  std::string local_path;  // staged file, read (and re-read on retry) from disk
  std::string name;        // metadata name
  KeyValues keyvalues;
  int cid_version = 1;
  ProgressFn progress;
  // Set: local_path is still being written and is sent as it grows (chunked); the upload ends when the
  // writer calls complete(), and fails with ECANCELED at abandon().
  std::shared_ptr<http::GrowingFile> growth = nullptr;
};

struct DirectoryUpload {
  std::string name;  // metadata name and the base directory of every part
  struct Part {
    std::string relative_path;  // "img/a.png"
    std::string local_path;
  };
  std::vector<Part> files;
  // Directories with nothing below them ("a/empty"), sent as Kubo-style `application/x-directory` parts so
  // that the pin keeps them. A service that ignores such parts pins the tree without them.
  std::vector<std::string> directories;
  KeyValues keyvalues;
  int cid_version = 1;
};

struct PinJob {
  std::string id;
  std::string cid;
  std::string name;
  std::string status;  // provider's words: "searching", "prechecking", "expired", "pinned"…
  std::int64_t queued_at = 0;
};

struct Totals {
  std::uint64_t pin_count = 0;
  std::uint64_t size_total = 0;
};

struct Capabilities {
  bool metadata_update = false;   // can change keyvalues of an existing pin
  std::size_t max_keyvalues = 0;  // 0 = no documented limit
  std::size_t max_page_size = 1000;
  bool pin_jobs = false;       // has a job list for pin-by-CID
  bool unpins_by_cid = false;  // an unpin removes every pin of the CID, whatever its name (Pinata)
};

// Metadata change: a value sets or adds the key, nullopt removes it.
using KeyValueChanges = std::map<std::string, std::optional<std::string>>;

class PinService {
 public:
  virtual ~PinService() = default;

  virtual Capabilities capabilities() const = 0;
  virtual Result<void> check_auth() = 0;
  virtual Result<PinPage> list(const ListQuery& query) = 0;
  virtual Result<Pin> get(const PinRef& ref) = 0;  // ENOENT when not pinned
  virtual Result<Pin> upload_file(const FileUpload& upload) = 0;
  virtual Result<Pin> upload_directory(const DirectoryUpload& upload) = 0;
  virtual Result<PinJob> pin_by_cid(const std::string& cid, const std::string& name,
                                    const KeyValues& keyvalues) = 0;
  virtual Result<std::vector<PinJob>> list_jobs() = 0;  // pending and recent jobs
  virtual Result<void> update_metadata(const PinRef& ref, const std::optional<std::string>& name,
                                       const KeyValueChanges& changes) = 0;  // ENOTSUP without the call
  // Pinata: hashMetadata; AIOZ: pin by hash under the new name, then unpin the old id.
  virtual Result<Pin> rename(const Pin& pin, const std::string& new_name) = 0;
  virtual Result<void> unpin(const PinRef& ref) = 0;
  virtual Result<Totals> totals() = 0;
};

// Receives body bytes as they arrive; return false to abort the transfer.
using ByteSink = std::function<bool(const char* data, std::size_t size)>;

// Reading content back (DESIGN.md §3: gateway GET with Range).
class Gateway {
 public:
  virtual ~Gateway() = default;
  // Streams bytes [offset, offset+length) of a UnixFS file (path may be "" or "a/b").
  // Returns the number of bytes delivered.
  virtual Result<std::uint64_t> read(const std::string& cid, const std::string& path, std::uint64_t offset,
                                     std::uint64_t length, const ByteSink& sink) = 0;
  // One raw block (?format=raw), for listing dag-pb directories; verified against its CID.
  virtual Result<std::vector<std::uint8_t>> block(const std::string& cid) = 0;
  // Names the gateway in log lines (its base URL; never a token).
  virtual std::string describe() const { return "gateway"; }
};

}  // namespace pinfs::service
