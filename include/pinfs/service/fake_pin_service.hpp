// An in-memory pinning service and gateway for unit tests (the mountpoint-s3 MockClient idea):
// real CIDs (computed with the cid/ importer), real dag-pb directory blocks, pagination, jobs,
// and per-call counters so a test can prove what did or did not reach the service.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pinfs/service/pin_service.hpp"

namespace pinfs::service {

// One counter per PinService/Gateway call, plus bytes moved.
struct FakeCounters {
  std::atomic<std::uint64_t> check_auth{0}, list{0}, get{0}, upload_file{0}, upload_directory{0},
      pin_by_cid{0}, list_jobs{0}, update_metadata{0}, rename{0}, unpin{0}, totals{0}, gateway_read{0},
      gateway_block{0};
  std::atomic<std::uint64_t> bytes_uploaded{0}, bytes_served{0};
  std::atomic<std::uint64_t> streamed_uploads{0};  // upload_file calls sent while the file was written
};

// Operation names accepted by FakePinService::fail_next.
enum class FakeOp {
  List,
  Get,
  UploadFile,
  UploadDirectory,
  PinByCid,
  ListJobs,
  UpdateMetadata,
  Rename,
  Unpin,
  Totals,
  GatewayRead,
  GatewayBlock
};

class FakePinService final : public PinService, public Gateway {
 public:
  FakePinService();
  ~FakePinService() override;

  // --- seeding and inspection (tests) ---
  // Imports bytes as a file (CIDv1 raw leaves unless cid_version 0) and pins it under name.
  Pin add_file(const std::string& name, const std::string& content, int cid_version = 1,
               KeyValues keyvalues = {});
  // Builds a directory pin from relative path → content ("a.txt", "sub/b.txt").
  Pin add_directory(const std::string& name, const std::map<std::string, std::string>& files,
                    int cid_version = 1);
  // Stores content without pinning it (so a pin-by-CID job can find it).
  std::string store_content(const std::string& content, int cid_version = 1);
  // A pin row with no content behind it (for listing-only tests).
  Pin add_pin(Pin pin);
  std::vector<Pin> pins() const;  // all pins, in pin order
  std::optional<Pin> find_by_name(const std::string& name) const;
  std::vector<PinJob> jobs() const;
  // Moves every pending job whose content is stored to pinned; returns how many.
  std::size_t complete_jobs();

  // --- behaviour knobs ---
  void set_capabilities(const Capabilities& caps);
  // The next `times` calls of op fail with error (times < 0: until cleared).
  void fail_next(FakeOp op, Error error, int times = 1);
  void clear_failures();
  // Uploads report a CID different from the content's (to test verification).
  void set_wrong_cid(bool wrong);
  // Directory uploads ignore their empty directories (a provider that drops `application/x-directory` parts).
  void set_drop_directory_parts(bool drop);
  // Uploads of content the account pins already answer with that pin, marked duplicate, and make no pin of
  // the new name (Pinata's isDuplicate: one pin a CID).
  void set_duplicates_by_cid(bool on);
  // Upload replies carry no pin id, as Pinata's pinFileToIPFS reply (the row id shows up in list only).
  void set_upload_reply_without_id(bool without);
  // Files seeded with add_file report their DAG size (size_is_dag), as Pinata's PinSize does.
  void set_dag_sizes(bool dag);
  // Uploads beyond this many stored bytes fail with EDQUOT; 0 = unlimited.
  void set_quota_bytes(std::uint64_t bytes);
  // Called at the start of every upload_file, outside the lock (tests block or count here).
  void set_upload_hook(std::function<void(const FileUpload&)> hook);
  // An upload while writing reads the growing file as it grows (GrowingFile::read_to), as the HTTP client
  // does; with a limit, no further than that many bytes until the limit is raised (a slow upload).
  void set_stream_read_limit(std::uint64_t bytes) { stream_read_limit_ = bytes; }
  // Called at the start of every update_metadata and rename, outside the lock.
  void set_metadata_hook(std::function<void(const PinRef&)> hook);
  // Called at the start of every unpin, outside the lock.
  void set_unpin_hook(std::function<void(const PinRef&)> hook);

  // The fake's clock (unix seconds): each new pin and each unpin takes the current value and advances it
  // by one, so pin dates are distinct and ordered.
  std::int64_t now() const;
  void advance_clock(std::int64_t seconds);

  FakeCounters& counters() { return counters_; }
  const FakeCounters& counters() const { return counters_; }

  // --- PinService ---
  Capabilities capabilities() const override;
  Result<void> check_auth() override;
  Result<PinPage> list(const ListQuery& query) override;
  Result<Pin> get(const PinRef& ref) override;
  Result<Pin> upload_file(const FileUpload& upload) override;
  Result<Pin> upload_directory(const DirectoryUpload& upload) override;
  Result<PinJob> pin_by_cid(const std::string& cid, const std::string& name,
                            const KeyValues& keyvalues) override;
  Result<std::vector<PinJob>> list_jobs() override;
  Result<void> update_metadata(const PinRef& ref, const std::optional<std::string>& name,
                               const KeyValueChanges& changes) override;
  Result<Pin> rename(const Pin& pin, const std::string& new_name) override;
  Result<void> unpin(const PinRef& ref) override;
  Result<Totals> totals() override;

  // --- Gateway ---
  Result<std::uint64_t> read(const std::string& cid, const std::string& path, std::uint64_t offset,
                             std::uint64_t length, const ByteSink& sink) override;
  Result<std::vector<std::uint8_t>> block(const std::string& cid) override;

 private:
  struct Failure {
    Error error;
    int times;
  };

  Result<void> injected(FakeOp op);            // requires mu_
  void call_metadata_hook(const PinRef& ref);  // mu_ not held
  bool dag_sizes_ = false;
  std::string import_locked(const std::string& content, int cid_version, std::uint64_t* size);
  Pin pin_locked(const std::string& cid, const std::string& name, std::uint64_t size, bool is_dir,
                 KeyValues kv);
  Result<std::string> resolve_locked(const std::string& cid, const std::string& path) const;
  std::vector<Pin>::iterator find_locked(const PinRef& ref);
  Result<std::pair<std::string, std::uint64_t>> build_dir_locked(
      const std::map<std::string, std::pair<std::string, std::uint64_t>>& files, int cid_version,
      const std::vector<std::string>& directories = {});

  mutable std::mutex mu_;  // guards everything below; never held while calling a hook
  std::vector<Pin> pins_;
  std::vector<std::pair<Pin, std::int64_t>> unpinned_;  // removed pins and when (listings of unpinned rows)
  std::map<std::string, std::vector<std::uint8_t>> blocks_;  // cid → block
  std::map<std::string, std::string> files_;                 // file cid → whole content
  std::vector<PinJob> jobs_;
  std::map<std::string, KeyValues> job_keyvalues_;
  std::map<FakeOp, Failure> failures_;
  Capabilities caps_;
  bool wrong_cid_ = false;
  bool drop_directory_parts_ = false;
  bool duplicates_by_cid_ = false;
  std::optional<Pin> duplicate_locked(const std::string& cid) const;  // the pin an upload of cid is, if any
  bool reply_without_id_ = false;
  std::uint64_t quota_bytes_ = 0;
  std::uint64_t next_id_ = 1;
  std::int64_t clock_ = 1'700'000'000;
  std::function<void(const FileUpload&)> upload_hook_;
  std::atomic<std::uint64_t> stream_read_limit_{UINT64_MAX};
  std::function<void(const PinRef&)> metadata_hook_;
  std::function<void(const PinRef&)> unpin_hook_;
  FakeCounters counters_;
};

}  // namespace pinfs::service
