// Fault injection rules (POST /_emulator/faults). A rule matches a method and a path prefix
// and fires `times` times (or forever) with a probability; see docs/EMULATOR.md for the JSON.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "pinfs/common/error.hpp"

namespace pinfs::emulator {

enum class FaultAction { Status, Stall, ResetRequest, ResetResponse, Truncate, Malformed, WrongCid };

struct FaultRule {
  std::string id;
  std::string method;  // empty = any
  std::string path_prefix;
  FaultAction action = FaultAction::Status;
  int status = 503;
  int retry_after = -1;  // seconds; -1 = no header
  std::string body;      // optional body for Status
  std::uint64_t after_bytes = 0;
  int stall_ms = 0;
  int times = -1;  // -1 = unlimited
  double probability = 1.0;
  std::uint64_t fired = 0;
};

class Faults {
 public:
  // Accepts one rule object, an array of rules, or {"rules":[...]}. Returns the ids added.
  Result<std::vector<std::string>> add_json(const std::string& body);
  void clear();
  // The first rule matching the request that fires now (counts a use).
  std::optional<FaultRule> match(const std::string& method, const std::string& path);
  std::string to_json() const;

 private:
  mutable std::mutex mu_;  // leaf lock
  std::vector<FaultRule> rules_;
  std::mt19937_64 rng_{std::random_device{}()};
  std::uint64_t next_id_ = 1;
};

const char* fault_action_name(FaultAction a);

}  // namespace pinfs::emulator
