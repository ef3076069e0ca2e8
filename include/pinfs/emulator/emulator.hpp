// pinfs-emulator: a local Pinata- and AIOZ-compatible pinning service with an IPFS gateway.
// One port serves Pinata's paths at the root (/pinning/…, /data/…), AIOZ's under /api/, the
// gateway under /ipfs/ and the loopback-only control API under /_emulator/. See docs/EMULATOR.md.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "pinfs/common/error.hpp"

namespace pinfs::emulator {

struct Config {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 = pick a free port
  std::string data_dir;
  int job_expiry_s = 86400;              // unknown CIDs: searching → expired after this long
  std::vector<std::string> rate_limits;  // CLASS=N/min
  std::string log_level = "warn";
  int threads = 64;
  int latency_ms = 0;         // before each API/gateway reply; 0: none
  double bandwidth_mbit = 0;  // per-connection cap on reply bodies; 0: none
  int bulk_pins = 0;          // --bulk-pins: at least this many bulk-* pins at start
};

// Parses the command line. Returns ECANCELED after printing --help (exit 0).
Result<Config> parse_args(int argc, char** argv);
std::string usage();

// Runs the service until SIGTERM/SIGINT. The process entry point.
int run_main(int argc, char** argv);

}  // namespace pinfs::emulator
