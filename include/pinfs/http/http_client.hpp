// The HTTP boundary: one request in, one response (or a transport error) out.
// The service layer talks only to this interface so it can be tested with a fake;
// the libcurl implementation lives in curl_client.hpp, retries and rate limits in
// retrying_client.hpp (a decorator over any HttpClient).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "pinfs/common/error.hpp"
#include "pinfs/http/growing_file.hpp"

namespace pinfs::http {

enum class Method { Get, Head, Post, Put, Delete };
std::string_view method_name(Method method);

using Headers = std::vector<std::pair<std::string, std::string>>;

// Header names whose values are never logged (compared case-insensitively).
bool is_secret_header(std::string_view name);

// Small in-memory body (JSON).
struct BufferBody {
  std::string data;
  std::string content_type = "application/json";
};

// A staged file of known length, sent with Content-Length and re-read from disk on every attempt.
struct FileBody {
  std::string path;
  std::string content_type = "application/octet-stream";
};

// A file that is still being written: sent chunked, the reader waits for more bytes until
// `growth` says the file is complete.
struct GrowingFileBody {
  std::string path;
  std::shared_ptr<GrowingFile> growth;
  std::string content_type = "application/octet-stream";
};

// One multipart/form-data part: either inline data or a file streamed from disk.
struct MultipartPart {
  MultipartPart() = default;
  MultipartPart(std::string name, std::string filename, std::string content_type, std::string data,
                std::string file_path, std::shared_ptr<GrowingFile> growth = nullptr)
      : name(std::move(name)),
        filename(std::move(filename)),
        content_type(std::move(content_type)),
        data(std::move(data)),
        file_path(std::move(file_path)),
        growth(std::move(growth)) {}

  std::string name;      // form field name ("file", "pinataMetadata")
  std::string filename;  // sent as the part's filename; empty for plain fields
  std::string content_type;
  std::string data;       // used when file_path is empty
  std::string file_path;  // streamed from disk, exact size known up front
  // Set: file_path is still being written (upload while writing). The part's size is unknown, so the whole
  // body goes chunked; the reader waits for growth, ends at complete() and fails at abandon().
  std::shared_ptr<GrowingFile> growth;
};

struct MultipartBody {
  std::vector<MultipartPart> parts;
};

using Body = std::variant<std::monostate, BufferBody, FileBody, GrowingFileBody, MultipartBody>;

// Receives response body bytes of a 2xx response as they arrive; false aborts (ECANCELED).
using BodySink = std::function<bool(const char* data, std::size_t size)>;
// Called once with the status and headers of a 2xx response, before its first body byte reaches
// the sink (a gateway must know 200 from 206 before it can place the bytes).
using ResponseStartFn = std::function<void(long status, const Headers& headers)>;
// Upload progress: bytes sent so far and the total (0 when unknown).
using UploadProgressFn = std::function<void(std::uint64_t sent, std::uint64_t total)>;

struct Request {
  Method method = Method::Get;
  std::string url;
  Headers headers;
  Body body;
  // Safe to send twice (GET, DELETE by id, metadata PUT). Non-idempotent requests are replayed
  // only when the body can be re-read from its file, or when the server cannot have acted on them.
  bool idempotent = true;
  std::string rate_class;         // token bucket this request draws from besides the overall one
  bool follow_redirects = false;  // only for gateways: auth headers must not follow a redirect
  BodySink sink;                  // when set, a 2xx body goes here instead of Response::body
  ResponseStartFn on_start;       // only with a sink
  UploadProgressFn progress;
  std::optional<std::chrono::milliseconds> timeout;  // whole-transfer limit; none by default
  // A 2xx body without a sink larger than this fails with EFBIG (0: the client's own limit). Callers that
  // parse a reply in memory set it, so a hostile or broken server cannot make them hold an unbounded body.
  std::size_t max_body = 0;
};

struct Response {
  long status = 0;
  Headers headers;               // names lower-cased
  std::string body;              // error bodies always; 2xx bodies unless a sink took them
  std::uint64_t body_bytes = 0;  // delivered to the sink or stored
  int attempts = 1;              // filled in by the retrying client

  std::optional<std::string> header(std::string_view lower_name) const;
  bool ok() const { return status >= 200 && status < 300; }
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // A response is returned for every HTTP status; an Error only when no usable response
  // arrived (connection, TLS, timeout, aborted sink, unreadable body file).
  virtual Result<Response> perform(const Request& request) = 0;
};

// Percent-encodes a query value or path segment (RFC 3986 unreserved characters kept).
std::string url_encode(std::string_view text);

// ASCII lower case (header names, error texts).
std::string to_lower(std::string_view text);

}  // namespace pinfs::http
