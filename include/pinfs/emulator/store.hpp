// The one account's state: pins and pin-by-CID jobs, shared by the Pinata and AIOZ faces.
// Kept in memory and made durable by an append-only JSON-lines journal (DIR/state.jsonl):
// each mutation appends the record's full new state, so a restart replays the file and the
// last line per id wins. The journal is compacted on start. A torn last line is ignored.
//
// Lock order: Store::mu_ is a leaf lock; add_bulk takes bulk_mu_ and then mu_. Callers never hold another
// emulator lock while calling in, and the callbacks given to with_pins()/with_jobs() must not call back into
// the Store or take other locks.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "pinfs/common/error.hpp"
#include "pinfs/emulator/block_store.hpp"
#include "pinfs/emulator/json_util.hpp"

namespace pinfs::emulator {

struct PinRecord {
  std::string id;
  std::string file_record_id;
  std::string cid;
  std::string name;
  KeyValues keyvalues;
  std::uint64_t dag_size = 0;      // Pinata PinSize / size: cumulative block bytes
  std::uint64_t content_size = 0;  // AIOZ size: file bytes (sum over a directory)
  std::uint64_t files = 1;
  bool is_dir = false;
  std::string mime_type;
  std::int64_t date_pinned_us = 0;
  std::int64_t date_unpinned_us = 0;  // 0 while pinned
  bool is_pin_by_hash = false;
  std::int64_t bulk_index = -1;  // made by add_bulk: its content is bulk_content(bulk_index), not stored

  bool pinned() const { return date_unpinned_us == 0; }
};

// The content of bulk pin i: a few dozen bytes, 1..16 lines of its own text.
std::string bulk_content(std::int64_t i);

struct JobRecord {
  std::string id;
  std::string cid;
  std::string name;
  KeyValues keyvalues;
  std::vector<std::string> host_nodes;
  std::int64_t date_queued_us = 0;
  std::string status;  // prechecking, searching, expired, pinned (pinned jobs leave the pinJobs list)
  std::string origin;  // "pinata" or "aioz"
};

class Store {
 public:
  static Result<std::unique_ptr<Store>> open(const std::string& data_dir);
  ~Store();

  const std::string& user_id() const { return user_id_; }

  // Adds a pin; with dedupe, an already pinned CID returns the existing record and true instead
  // (uploads: Pinata's isDuplicate). Pin-by-hash adds a record of its own (AIOZ renames that way).
  std::pair<PinRecord, bool> add_pin(PinRecord pin, bool dedupe = true);
  std::optional<PinRecord> find_pinned(const std::string& cid) const;
  std::optional<PinRecord> get_pin(const std::string& id) const;
  // Marks every pinned record of the CID unpinned; returns how many.
  int unpin_cid(const std::string& cid);
  std::optional<PinRecord> unpin_id(const std::string& id);
  // Applies a metadata patch to every pinned record of the CID. ENOENT when none, E2BIG over the key limit.
  Result<void> update_metadata(const std::string& cid, const std::optional<std::string>& name,
                               const std::vector<std::pair<std::string, std::optional<KvValue>>>& patch,
                               std::size_t max_keys);

  void with_pins(const std::function<void(const std::vector<PinRecord>&)>& fn) const;

  // Creates `count` real pins fast, for tests and benchmarks of large accounts: pin i holds bulk_content(i)
  // (a raw-leaf CIDv1 block that bulk_block() regenerates for the gateway, so a million pins cost no
  // million files), is named prefix + zero-padded index continuing after the pins already named with that
  // prefix, and the dates are spread evenly over span_s seconds before now. One journal write for the whole
  // set. Returns how many pins now carry the prefix.
  Result<std::size_t> add_bulk(std::size_t count, const std::string& prefix, std::int64_t span_s);
  // The block of a pinned bulk pin's CID (BlockStore's generator); nullopt for any other CID.
  std::optional<cid::Bytes> bulk_block(const cid::Cid& cid) const;
  std::size_t count_named(const std::string& prefix) const;

  void add_job(JobRecord job);
  std::optional<JobRecord> get_job(const std::string& id) const;
  void set_job_status(const std::string& id, const std::string& status);
  void with_jobs(const std::function<void(const std::vector<JobRecord>&)>& fn) const;

 private:
  Store() = default;
  void append_locked(const std::string& line);
  void rebuild_index_locked();
  void sort_by_date_locked();

  std::mutex bulk_mu_;     // one add_bulk at a time (numbering); taken before mu_, never while holding it
  mutable std::mutex mu_;  // guards everything below; leaf lock
  std::string dir_;
  std::string user_id_;
  std::vector<PinRecord> pins_;  // in pin order (date_pinned ascending)
  std::unordered_map<std::string, std::size_t> pin_by_id_;
  std::unordered_map<std::string, std::vector<std::size_t>> pinned_by_cid_;  // pinned records per CID
  std::vector<JobRecord> jobs_;
  std::unordered_map<std::string, std::size_t> job_by_id_;
  std::FILE* journal_ = nullptr;
};

}  // namespace pinfs::emulator
