// Request counters served at GET /_emulator/stats.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace pinfs::emulator {

class Stats {
 public:
  void request(const std::string& endpoint, std::uint64_t bytes_in);
  void response(int status, std::uint64_t bytes_out);
  void add_bytes_in(std::uint64_t n);
  void add_bytes_out(std::uint64_t n);
  void upload();
  std::string to_json() const;

 private:
  mutable std::mutex mu_;  // leaf lock
  std::map<std::string, std::uint64_t> requests_;
  std::map<int, std::uint64_t> statuses_;
  std::uint64_t total_ = 0, bytes_in_ = 0, bytes_out_ = 0, uploads_ = 0;
};

}  // namespace pinfs::emulator
