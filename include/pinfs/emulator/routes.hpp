// Which endpoint a request is, as "METHOD /route/pattern", and which rate-limit class it falls in.
// Stats, rate limits and faults are keyed on this before any handler runs.
#pragma once

#include <string>

namespace pinfs::emulator {

struct RouteInfo {
  std::string endpoint;    // e.g. "GET /data/pinList", "GET /ipfs/{cid}"
  std::string rate_class;  // pinata-data, pinata-pinning, aioz, gateway, control, other
};

RouteInfo classify(const std::string& method, const std::string& path);

}  // namespace pinfs::emulator
