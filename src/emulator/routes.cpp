#include "pinfs/emulator/routes.hpp"

#include <regex>
#include <vector>

namespace pinfs::emulator {

namespace {

struct Entry {
  const char* method;
  std::regex path;
  const char* pattern;
  const char* rate_class;
};

const std::vector<Entry>& table() {
  static const std::vector<Entry> t = [] {
    std::vector<Entry> v;
    auto add = [&](const char* m, const char* re, const char* pat, const char* cls) {
      v.push_back({m, std::regex(re), pat, cls});
    };
    add("POST", "/pinning/pinFileToIPFS/?", "/pinning/pinFileToIPFS", "pinata-pinning");
    add("POST", "/pinning/pinJSONToIPFS/?", "/pinning/pinJSONToIPFS", "pinata-pinning");
    add("POST", "/pinning/pinByHash/?", "/pinning/pinByHash", "pinata-pinning");
    add("GET", "/pinning/pinJobs/?", "/pinning/pinJobs", "pinata-pinning");
    add("PUT", "/pinning/hashMetadata/?", "/pinning/hashMetadata", "pinata-pinning");
    add("DELETE", "/pinning/unpin/[^/]+", "/pinning/unpin/{cid}", "pinata-pinning");
    add("GET", "/data/pinList/?", "/data/pinList", "pinata-data");
    add("GET", "/data/testAuthentication/?", "/data/testAuthentication", "pinata-data");
    add("GET", "/data/userPinnedDataTotal/?", "/data/userPinnedDataTotal", "pinata-data");
    add("POST", "/api/pinning/?", "/api/pinning/", "aioz");
    add("POST", "/api/pinning/pinByHash/?", "/api/pinning/pinByHash", "aioz");
    add("GET", "/api/pinning/pins/?", "/api/pinning/pins/", "aioz");
    add("DELETE", "/api/pinning/unpin/[^/]+", "/api/pinning/unpin/{pinId}", "aioz");
    add("GET", "/api/pinning/[^/]+", "/api/pinning/{pinId}", "aioz");
    add("GET", "/api/apiKeys/testAuthentication/?", "/api/apiKeys/testAuthentication", "aioz");
    add("GET", "/ipfs/.*", "/ipfs/{cid}", "gateway");
    add("HEAD", "/ipfs/.*", "/ipfs/{cid}", "gateway");
    add("*", "/_emulator/.*", "/_emulator/*", "control");
    return v;
  }();
  return t;
}

}  // namespace

RouteInfo classify(const std::string& method, const std::string& path) {
  for (auto& e : table()) {
    if ((std::string(e.method) == "*" || method == e.method) && std::regex_match(path, e.path)) {
      std::string m = std::string(e.method) == "*" ? method : e.method;
      return {m + " " + e.pattern, e.rate_class};
    }
  }
  std::string cls = "other";
  if (path.rfind("/data/", 0) == 0)
    cls = "pinata-data";
  else if (path.rfind("/pinning/", 0) == 0)
    cls = "pinata-pinning";
  else if (path.rfind("/api/", 0) == 0)
    cls = "aioz";
  return {method + " (unknown)", cls};
}

}  // namespace pinfs::emulator
