// Pinata pinList filtering: dates, sizes, status, name substring and the metadata key-value
// operators (gt gte lt lte ne eq between notBetween like notLike iLike notILike regexp iRegexp).
#pragma once

#include <httplib.h>

#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "pinfs/common/error.hpp"
#include "pinfs/emulator/store.hpp"

namespace pinfs::emulator {

struct KvCondition {
  std::string key;
  std::string op;
  KvValue value;
  std::optional<KvValue> second;
  std::optional<std::regex> pattern;  // like/regexp family, compiled once
};

struct PinFilter {
  std::optional<std::string> cid_exact;
  std::optional<std::string> hash_contains;
  std::optional<std::int64_t> pin_start, pin_end, unpin_start, unpin_end;
  std::optional<std::uint64_t> size_min, size_max;
  std::string status = "all";
  std::optional<std::string> name_contains;
  std::vector<KvCondition> kvs;

  bool matches(const PinRecord& p) const;
};

// Parses the query string of GET /data/pinList into a filter; EINVAL with a message on bad input.
Result<PinFilter> parse_pin_filter(const httplib::Request& req);

}  // namespace pinfs::emulator
