// The libcurl HttpClient: pooled easy handles sharing one connection cache (keep-alive),
// streamed request and response bodies, TLS verification on unless explicitly disabled.
#pragma once

#include <memory>
#include <string>

#include "pinfs/http/http_client.hpp"

namespace pinfs::http {

struct CurlOptions {
  std::string ca_path;     // a CA bundle file or a directory of hashed certificates; empty: system
  bool tls_verify = true;  // false only when a person asked for it (logged as a warning)
  long connect_timeout_s = 10;
  long low_speed_time_s = 60;  // abort when below 1 byte/s for this long
  long upload_buffer_size = 1L << 20;
  std::size_t max_error_body = 1 << 20;     // error bodies are kept for messages, not more
  std::size_t max_memory_body = 256 << 20;  // a 2xx body without a sink larger than this fails (EFBIG)
  std::string user_agent = "pinfs";
};

// Statistics, for tests and `pinfs status`.
struct CurlStats {
  std::uint64_t requests = 0;
  std::uint64_t connections_opened = 0;  // new TCP connections (curl's CURLINFO_NUM_CONNECTS)
};

class CurlClient : public HttpClient {
 public:
  virtual CurlStats stats() const = 0;
};

// Calls curl_global_init once (thread-safe); never fails for valid options.
std::shared_ptr<CurlClient> make_curl_client(const CurlOptions& options);

}  // namespace pinfs::http
