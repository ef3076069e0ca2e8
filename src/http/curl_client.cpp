#include "pinfs/http/curl_client.hpp"

#include <curl/curl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <mutex>
#include <vector>

#include "file_reader.hpp"
#include "pinfs/common/log.hpp"
#include "pinfs/http/error_map.hpp"

namespace pinfs::http {
namespace {

using detail::FileReader;

std::once_flag g_curl_init;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() &&
         (text.back() == ' ' || text.back() == '\r' || text.back() == '\n' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
struct MimeDeleter {
  void operator()(curl_mime* mime) const { curl_mime_free(mime); }
};

// State of one transfer, reached from curl's callbacks.
struct Transfer {
  const Request* request = nullptr;
  const CurlOptions* options = nullptr;
  Response response;
  std::vector<std::unique_ptr<FileReader>> readers;
  std::string failure;  // set by our callbacks when they stop the transfer
  int failure_errno = 0;
  std::uint64_t last_progress = 0;
  bool started = false;  // on_start was called

  void fail(int errnum, std::string message) {
    if (failure.empty()) {
      failure = std::move(message);
      failure_errno = errnum;
    }
  }
  void adopt_reader_error(const FileReader& reader) { fail(reader.error_errno(), reader.error()); }
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    // A new status line (after a redirect or an interim 1xx) starts a new header block.
    t->response.headers.clear();
    const auto space = line.find(' ');
    if (space != std::string_view::npos)
      t->response.status = std::strtol(line.data() + space + 1, nullptr, 10);
    return size * count;
  }
  const auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    t->response.headers.emplace_back(to_lower(trim(line.substr(0, colon))),
                                     std::string(trim(line.substr(colon + 1))));
  }
  return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  const bool success = t->response.status >= 200 && t->response.status < 300;
  if (success && t->request->sink) {
    if (!t->started) {
      t->started = true;
      if (t->request->on_start) t->request->on_start(t->response.status, t->response.headers);
    }
    if (!t->request->sink(data, n)) {
      t->fail(ECANCELED, "response sink stopped the transfer");
      return 0;
    }
    t->response.body_bytes += n;
    return n;
  }
  size_t limit = success ? t->options->max_memory_body : t->options->max_error_body;
  if (success && t->request->max_body != 0) limit = std::min(limit, t->request->max_body);
  if (t->response.body.size() + n > limit) {
    if (!success) return n;  // error bodies are only for messages: keep the start, drop the rest
    t->fail(EFBIG, "response body larger than " + std::to_string(limit) + " bytes");
    return 0;
  }
  t->response.body.append(data, n);
  t->response.body_bytes += n;
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t ultotal, curl_off_t ulnow) {
  auto* t = static_cast<Transfer*>(user);
  if (t->request->progress && static_cast<std::uint64_t>(ulnow) != t->last_progress) {
    t->last_progress = static_cast<std::uint64_t>(ulnow);
    t->request->progress(static_cast<std::uint64_t>(ulnow), static_cast<std::uint64_t>(ultotal));
  }
  return 0;
}

struct ReaderContext {
  Transfer* transfer;
  FileReader* reader;
};

size_t on_read(char* buffer, size_t size, size_t count, void* user) {
  auto* ctx = static_cast<ReaderContext*>(user);
  const size_t n = ctx->reader->read(buffer, size * count);
  if (n == FileReader::kFailed) {
    ctx->transfer->adopt_reader_error(*ctx->reader);
    return CURL_READFUNC_ABORT;
  }
  return n;
}

int on_seek(void* user, curl_off_t offset, int origin) {
  auto* ctx = static_cast<ReaderContext*>(user);
  if (origin != SEEK_SET || offset < 0) return CURL_SEEKFUNC_CANTSEEK;
  return ctx->reader->seek(static_cast<std::uint64_t>(offset)) ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_FAIL;
}

// Guards the share handle's data (DNS cache, connection cache, TLS sessions).
struct Share {
  CURLSH* handle = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;

  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Share*>(user)->locks[data].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<Share*>(user)->locks[data].unlock();
  }
};

class CurlClientImpl final : public CurlClient {
 public:
  explicit CurlClientImpl(CurlOptions options) : options_(std::move(options)) {
    share_.handle = curl_share_init();
    curl_share_setopt(share_.handle, CURLSHOPT_LOCKFUNC, &Share::lock);
    curl_share_setopt(share_.handle, CURLSHOPT_UNLOCKFUNC, &Share::unlock);
    curl_share_setopt(share_.handle, CURLSHOPT_USERDATA, &share_);
    curl_share_setopt(share_.handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share_.handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(share_.handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    if (!options_.tls_verify) spdlog::warn("TLS certificate verification is DISABLED by configuration");
  }

  ~CurlClientImpl() override {
    for (CURL* easy : idle_) curl_easy_cleanup(easy);
    curl_share_cleanup(share_.handle);
  }

  CurlStats stats() const override { return {requests_.load(), connections_.load()}; }

  Result<Response> perform(const Request& request) override;

 private:
  CURL* take_handle() {
    {
      std::lock_guard lock(pool_mutex_);
      if (!idle_.empty()) {
        CURL* easy = idle_.back();
        idle_.pop_back();
        return easy;
      }
    }
    return curl_easy_init();
  }

  void return_handle(CURL* easy) {
    curl_easy_reset(easy);  // keeps the handle's live connections
    std::lock_guard lock(pool_mutex_);
    idle_.push_back(easy);
  }

  Result<void> set_body(CURL* easy, const Request& request, Transfer& transfer,
                        std::vector<ReaderContext>& contexts, std::unique_ptr<curl_mime, MimeDeleter>& mime,
                        curl_slist*& headers);

  CurlOptions options_;
  Share share_;
  std::mutex pool_mutex_;  // guards idle_
  std::vector<CURL*> idle_;
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> connections_{0};
};

Result<void> CurlClientImpl::set_body(CURL* easy, const Request& request, Transfer& transfer,
                                      std::vector<ReaderContext>& contexts,
                                      std::unique_ptr<curl_mime, MimeDeleter>& mime, curl_slist*& headers) {
  const auto stall = std::chrono::milliseconds(options_.low_speed_time_s * 1000);
  const bool sends_body = request.method == Method::Post || request.method == Method::Put;
  // contexts must not reallocate: curl keeps pointers into it.
  contexts.reserve(1 + (std::holds_alternative<MultipartBody>(request.body)
                            ? std::get<MultipartBody>(request.body).parts.size()
                            : 0));

  if (const auto* buffer = std::get_if<BufferBody>(&request.body)) {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, buffer->data.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(buffer->data.size()));
    headers = curl_slist_append(headers, ("Content-Type: " + buffer->content_type).c_str());
  } else if (const auto* file = std::get_if<FileBody>(&request.body)) {
    auto size = detail::file_size(file->path);
    if (!size) return std::unexpected(size.error());
    transfer.readers.push_back(std::make_unique<FileReader>(file->path, *size, nullptr, stall));
    contexts.push_back({&transfer, transfer.readers.back().get()});
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_READFUNCTION, &on_read);
    curl_easy_setopt(easy, CURLOPT_READDATA, &contexts.back());
    curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, &on_seek);
    curl_easy_setopt(easy, CURLOPT_SEEKDATA, &contexts.back());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(*size));
    headers = curl_slist_append(headers, ("Content-Type: " + file->content_type).c_str());
  } else if (const auto* growing = std::get_if<GrowingFileBody>(&request.body)) {
    if (!growing->growth) return fail(EINVAL, "growing-file body without its growth signal");
    transfer.readers.push_back(std::make_unique<FileReader>(growing->path, 0, growing->growth, stall));
    contexts.push_back({&transfer, transfer.readers.back().get()});
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_READFUNCTION, &on_read);
    curl_easy_setopt(easy, CURLOPT_READDATA, &contexts.back());
    curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, &on_seek);
    curl_easy_setopt(easy, CURLOPT_SEEKDATA, &contexts.back());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(-1));
    headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
    headers = curl_slist_append(headers, ("Content-Type: " + growing->content_type).c_str());
  } else if (const auto* multipart = std::get_if<MultipartBody>(&request.body)) {
    mime.reset(curl_mime_init(easy));
    for (const auto& part : multipart->parts) {
      curl_mimepart* p = curl_mime_addpart(mime.get());
      curl_mime_name(p, part.name.c_str());
      if (!part.filename.empty()) curl_mime_filename(p, part.filename.c_str());
      if (!part.content_type.empty()) curl_mime_type(p, part.content_type.c_str());
      if (part.file_path.empty()) {
        curl_mime_data(p, part.data.data(), part.data.size());
        continue;
      }
      if (part.growth) {  // size unknown: curl sends the whole multipart body chunked
        transfer.readers.push_back(std::make_unique<FileReader>(part.file_path, 0, part.growth, stall));
        contexts.push_back({&transfer, transfer.readers.back().get()});
        curl_mime_data_cb(p, -1, &on_read, &on_seek, nullptr, &contexts.back());
        continue;
      }
      // A sized callback part (not curl_mime_filedata, which would rename the part to the file's
      // basename) keeps the whole body's Content-Length exact.
      auto size = detail::file_size(part.file_path);
      if (!size) return std::unexpected(size.error());
      transfer.readers.push_back(std::make_unique<FileReader>(part.file_path, *size, nullptr, stall));
      contexts.push_back({&transfer, transfer.readers.back().get()});
      curl_mime_data_cb(p, static_cast<curl_off_t>(*size), &on_read, &on_seek, nullptr, &contexts.back());
    }
    curl_easy_setopt(easy, CURLOPT_MIMEPOST, mime.get());
  } else if (sends_body) {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(0));
  }
  return {};
}

Result<Response> CurlClientImpl::perform(const Request& request) {
  CURL* easy = take_handle();
  if (!easy) return fail(ENOMEM, "curl_easy_init failed");
  const auto started = std::chrono::steady_clock::now();
  ++requests_;

  Transfer transfer;
  transfer.request = &request;
  transfer.options = &options_;
  std::vector<ReaderContext> contexts;
  std::unique_ptr<curl_mime, MimeDeleter> mime;
  curl_slist* raw_headers = nullptr;
  char error_buffer[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_SHARE, share_.handle);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_s);
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, options_.low_speed_time_s);
  curl_easy_setopt(easy, CURLOPT_UPLOAD_BUFFERSIZE, options_.upload_buffer_size);
  curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 256L * 1024);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, options_.tls_verify ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, options_.tls_verify ? 2L : 0L);
  if (!options_.ca_path.empty()) {
    struct stat st {};
    const bool is_dir = ::stat(options_.ca_path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    curl_easy_setopt(easy, is_dir ? CURLOPT_CAPATH : CURLOPT_CAINFO, options_.ca_path.c_str());
  }
  if (request.follow_redirects) {
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 5L);
  }
  if (request.timeout)
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout->count()));
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &on_progress);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, request.progress ? 0L : 1L);

  switch (request.method) {
    case Method::Get:
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
      break;
    case Method::Head:
      curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
      break;
    case Method::Post:
      curl_easy_setopt(easy, CURLOPT_POST, 1L);
      break;
    case Method::Put:
      curl_easy_setopt(easy, CURLOPT_POST, 1L);
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "PUT");
      break;
    case Method::Delete:
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "DELETE");
      break;
  }

  // "Expect: 100-continue" costs a round trip per upload and some servers never answer it.
  raw_headers = curl_slist_append(raw_headers, "Expect:");
  auto body_set = set_body(easy, request, transfer, contexts, mime, raw_headers);
  for (const auto& [name, value] : request.headers) {
    if (is_secret_header(name)) {
      // Belt and braces: whatever logs this value later, it comes out masked.
      log::add_secret(value);
      if (value.starts_with("Bearer ")) log::add_secret(std::string_view(value).substr(7));
    }
    raw_headers = curl_slist_append(raw_headers, (name + ": " + value).c_str());
  }
  std::unique_ptr<curl_slist, SlistDeleter> headers(raw_headers);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers.get());

  const std::string_view method = method_name(request.method);
  if (spdlog::should_log(spdlog::level::trace)) {
    for (const auto& [name, value] : request.headers) {
      spdlog::trace("http {} {}: header {}: {}", method, request.url, name,
                    is_secret_header(name) ? std::string_view("[hidden]") : std::string_view(value));
    }
  }

  CURLcode code = CURLE_OK;
  if (body_set) code = curl_easy_perform(easy);
  long connects = 0;
  curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects);
  connections_ += static_cast<std::uint64_t>(connects);
  curl_easy_setopt(easy, CURLOPT_SHARE, nullptr);  // detach before the pool reuses it
  return_handle(easy);

  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
          .count();
  if (!body_set) return std::unexpected(body_set.error());
  if (code != CURLE_OK) {
    const Outcome outcome = classify_curl(code);
    std::string message = std::string(method) + " " + request.url + ": ";
    int errnum = outcome.errnum;
    bool retryable = outcome.retryable;
    if (!transfer.failure.empty()) {
      // Our own callback stopped it: its reason is the real one, and retrying will not help.
      message += transfer.failure;
      errnum = transfer.failure_errno;
      retryable = false;
    } else {
      message += curl_easy_strerror(code);
      if (error_buffer[0] != '\0') message += std::string(" (") + error_buffer + ")";
    }
    message = log::redact(message);
    spdlog::debug("http {} {} failed after {} ms: {}", method, request.url, elapsed, message);
    return std::unexpected(Error{errnum, std::move(message), retryable});
  }
  spdlog::debug("http {} {} -> {} ({} bytes, {} ms, {} new connection(s))", method, request.url,
                transfer.response.status, transfer.response.body_bytes, elapsed, connects);
  return std::move(transfer.response);
}

}  // namespace

std::shared_ptr<CurlClient> make_curl_client(const CurlOptions& options) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  return std::make_shared<CurlClientImpl>(options);
}

}  // namespace pinfs::http
