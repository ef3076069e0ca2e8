// Command line of pinfs-emulator.
#include <cstdio>
#include <cstring>

#include "pinfs/emulator/emulator.hpp"

namespace pinfs::emulator {

std::string usage() {
  return R"(Usage: pinfs-emulator --listen HOST:PORT --data DIR [options]

A local Pinata- and AIOZ-compatible pinning service with an IPFS gateway, on one port:
  Pinata API at /pinning/... and /data/..., AIOZ W3IPFS API at /api/..., gateway at /ipfs/...,
  control API (loopback callers only) at /_emulator/faults, /_emulator/stats and
  /_emulator/network.

Options:
  --listen HOST:PORT       address to serve on; PORT 0 picks a free port (default 127.0.0.1:0).
                           Once it accepts connections it prints one line to stdout:
                           "pinfs-emulator listening on http://HOST:PORT"
  --data DIR               state directory (required): blocks/ (content, one file per block),
                           state.jsonl (pins, metadata, jobs), credentials, tmp/
  --job-expiry SECONDS     how long a pin-by-CID job for unknown content stays "searching"
                           before it becomes "expired" (default 86400)
  --rate-limit CLASS=N/min limit requests per minute for an endpoint class; repeatable.
                           Classes: pinata-data (/data/*), pinata-pinning (/pinning/*),
                           aioz (/api/*), gateway (/ipfs/*), all (any class without its own
                           limit). Off by default. Over the limit: 429 with Retry-After and
                           X-RateLimit-Limit/Remaining/Reset.
                           Every reply of the API and gateway says the limit it is under
                           (X-RateLimit-Limit/Remaining/Reset); a class without a limit
                           announces 1000000 per minute.
  --latency MS             wait MS milliseconds before answering each API and gateway request
                           (default 0: loopback speed)
  --bandwidth MBIT         cap each reply body at MBIT megabits per second, per connection
                           (default 0: no cap). Both can be changed at run time with
                           POST /_emulator/network {"latency_ms":N,"bandwidth_mbit":X}
  --threads N              worker threads (default 64)
  --bulk-pins N            hold at least N pins named bulk-NNNNNNN.txt (real small content), created
                           at start when missing; also POST /_emulator/pins/bulk
  --log-level LEVEL        trace, debug, info, warn, error (default warn); logs go to stderr
  -h, --help               show this help

Credentials accepted: PINFS_EMULATOR_JWT (Pinata "Authorization: Bearer"),
PINFS_EMULATOR_API_KEY and PINFS_EMULATOR_API_SECRET (Pinata pinata_api_key /
pinata_secret_api_key, AIOZ pinning_api_key / pinning_secret_key). Any that is not set in the
environment comes from DIR/credentials (KEY=value lines, mode 0600), generated on first start;
its path is printed to stderr.

SIGTERM or SIGINT stops the service cleanly. See docs/EMULATOR.md.
)";
}

Result<Config> parse_args(int argc, char** argv) {
  Config c;
  bool have_data = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string value;
    bool has_inline = false;
    if (a.rfind("--", 0) == 0 && a.find('=') != std::string::npos) {
      value = a.substr(a.find('=') + 1);
      a = a.substr(0, a.find('='));
      has_inline = true;
    }
    auto next = [&]() -> Result<std::string> {
      if (has_inline) return value;
      if (i + 1 >= argc) return fail(EINVAL, a + " needs a value");
      return std::string(argv[++i]);
    };
    auto number = [&](const std::string& v, int& out) -> Result<void> {
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 0) return fail(EINVAL, a + " needs a non-negative number");
      out = static_cast<int>(n);
      return {};
    };
    if (a == "-h" || a == "--help") {
      std::fputs(usage().c_str(), stdout);
      return fail(ECANCELED, "help");
    } else if (a == "--listen") {
      auto v = next();
      if (!v) return std::unexpected(v.error());
      auto colon = v->rfind(':');
      if (colon == std::string::npos) return fail(EINVAL, "--listen needs HOST:PORT");
      c.host = v->substr(0, colon);
      if (c.host.size() > 2 && c.host.front() == '[' && c.host.back() == ']')
        c.host = c.host.substr(1, c.host.size() - 2);
      if (auto r = number(v->substr(colon + 1), c.port); !r || c.port > 65535)
        return fail(EINVAL, "--listen: bad port in " + *v);
    } else if (a == "--data") {
      auto v = next();
      if (!v) return std::unexpected(v.error());
      c.data_dir = *v;
      have_data = true;
    } else if (a == "--job-expiry") {
      auto v = next();
      if (!v) return std::unexpected(v.error());
      if (auto r = number(*v, c.job_expiry_s); !r) return std::unexpected(r.error());
    } else if (a == "--rate-limit") {
      auto v = next();
      if (!v) return std::unexpected(v.error());
      c.rate_limits.push_back(*v);
    } else if (a == "--latency") {
      auto v = next();
      if (!v) return std::unexpected(v.error());
      if (auto r = number(*v, c.latency_ms); !r || c.latency_ms > 600000)
        return fail(EINVAL, "--latency needs milliseconds from 0 to 600000");
    } else if (a == "--bandwidth") {
      auto v = next();
      if (!v) return std::unexpected(v.error());
      char* end = nullptr;
      c.bandwidth_mbit = std::strtod(v->c_str(), &end);
      if (v->empty() || *end != '\0' || !(c.bandwidth_mbit >= 0))
        return fail(EINVAL, "--bandwidth needs megabits per second (a non-negative number)");
    } else if (a == "--threads") {
      auto v = next();
      if (!v) return std::unexpected(v.error());
      if (auto r = number(*v, c.threads); !r || c.threads < 1) return fail(EINVAL, "--threads must be >= 1");
    } else if (a == "--bulk-pins") {
      auto v = next();
      if (!v) return std::unexpected(v.error());
      if (auto r = number(*v, c.bulk_pins); !r) return std::unexpected(r.error());
    } else if (a == "--log-level") {
      auto v = next();
      if (!v) return std::unexpected(v.error());
      c.log_level = *v;
    } else {
      return fail(EINVAL, "unknown option: " + a + " (see --help)");
    }
  }
  if (!have_data) return fail(EINVAL, "--data DIR is required (see --help)");
  return c;
}

}  // namespace pinfs::emulator
