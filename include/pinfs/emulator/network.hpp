// Real-world network conditions for the emulator's gateway and API (--latency, --bandwidth): a delay before
// each reply and a per-connection cap on reply bodies, changeable at run time through /_emulator/network.
// Loopback speed when both are zero (the default). The control API is never shaped.
#pragma once

#include <httplib.h>

#include <atomic>
#include <string>

#include "pinfs/common/error.hpp"

namespace pinfs::emulator {

class NetworkShape {
 public:
  void set_latency_ms(int ms) { latency_ms_.store(ms); }
  void set_bandwidth_mbit(double mbit) { bandwidth_mbit_.store(mbit); }
  int latency_ms() const { return latency_ms_.load(); }
  double bandwidth_mbit() const { return bandwidth_mbit_.load(); }

  // Sleeps the configured latency (call before anything of the reply is decided).
  void delay_request() const;
  // Paces the reply body: a streamed body is written at the cap as it goes; a body built in memory is held
  // for its transfer time before its first byte (the same total time). Call last, before httplib writes.
  void shape_reply(httplib::Response& res) const;

  // {"latency_ms":N,"bandwidth_mbit":X}: either key may be missing (unchanged); 0 turns it off.
  Result<void> update_json(const std::string& body);
  std::string to_json() const;

 private:
  std::atomic<int> latency_ms_{0};
  std::atomic<double> bandwidth_mbit_{0};  // 0: unlimited
};

}  // namespace pinfs::emulator
