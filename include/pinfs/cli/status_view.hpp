// Turns a mount's /.pinfs/status JSON into what `pinfs status` and `pinfs unmount` show people.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pinfs/common/error.hpp"

namespace pinfs::cli {

struct PendingUpload {
  std::string name;
  std::string state;  // writing, queued, uploading, failed
  std::string reason;
  std::uint64_t size = 0;
  std::uint64_t sent = 0;
};

struct MountStatus {
  std::string upload_mode;
  std::uint64_t pins = 0, bytes = 0;
  std::vector<PendingUpload> pending;
  std::size_t jobs = 0;
  std::vector<std::pair<std::string, std::string>> job_lines;  // name, status
  std::vector<std::pair<std::string, std::string>>
      directories;                                           // new directories not yet pinned: name, status
  std::vector<std::pair<std::string, std::string>> notices;  // cid, what the pin lacks
  bool has_cache = false;
  std::uint64_t cache_bytes = 0, cache_max = 0, cache_entries = 0, cache_hits = 0, cache_misses = 0;
  std::vector<std::pair<std::string, std::uint64_t>> requests;  // in the order the mount reports them
  // The pin index: how many pins, whether a full listing completed, when it last synced and refreshes next
  // (unix seconds; 0 = not yet / not scheduled).
  bool has_index = false, index_complete = false;
  std::uint64_t index_pins = 0;
  std::int64_t last_sync = 0, next_refresh = 0, poll_interval = 0;

  // Uploads that unmount should wait for: queued or uploading.
  std::size_t in_flight() const;
  std::uint64_t in_flight_bytes_left() const;
};

Result<MountStatus> parse_status(std::string_view json);

// "[#########-----------]  45%", width counting the brackets.
std::string progress_bar(std::uint64_t done, std::uint64_t total, std::size_t width = 30);
// "1.5 GiB"
std::string human_bytes(std::uint64_t bytes);

std::string render_status(const MountStatus& status, const std::string& mountpoint);

// Reads MOUNTPOINT/.pinfs/status.
Result<std::string> read_status_file(const std::string& mountpoint);

}  // namespace pinfs::cli
