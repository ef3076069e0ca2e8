#include "pinfs/service/http_gateway.hpp"

#include <spdlog/spdlog.h>

#include "http_call.hpp"
#include "pinfs/cid/cid.hpp"
#include "pinfs/common/log.hpp"

namespace pinfs::service {

namespace {

// "bytes 0-99/1234" → 1234; nullopt when absent or "*".
std::optional<std::uint64_t> content_range_total(const http::Headers& headers) {
  for (const auto& [name, value] : headers) {
    if (name != "content-range") continue;
    const auto slash = value.rfind('/');
    if (slash == std::string::npos || slash + 1 >= value.size()) return std::nullopt;
    std::uint64_t total = 0;
    for (std::size_t i = slash + 1; i < value.size(); ++i) {
      if (value[i] < '0' || value[i] > '9') return std::nullopt;
      total = total * 10 + static_cast<std::uint64_t>(value[i] - '0');
    }
    return total;
  }
  return std::nullopt;
}

}  // namespace

HttpGateway::HttpGateway(std::shared_ptr<http::HttpClient> http, std::string gateway_url, std::string token,
                         int max_resumes)
    : http_(std::move(http)),
      gateway_url_(std::move(gateway_url)),
      token_(std::move(token)),
      max_resumes_(max_resumes) {
  while (!gateway_url_.empty() && gateway_url_.back() == '/') gateway_url_.pop_back();
  if (!token_.empty()) log::add_secret(token_);
}

std::string HttpGateway::url_for(const std::string& cid, const std::string& path) const {
  std::string url = gateway_url_ + "/ipfs/" + http::url_encode(cid);
  std::size_t start = 0;
  while (start < path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) {
      url += '/';  // appended, not "/" + …: GCC 12 -O3 misreports that (-Wrestrict)
      url += http::url_encode(path.substr(start, end - start));
    }
    start = end + 1;
  }
  return url;
}

Result<std::uint64_t> HttpGateway::read(const std::string& cid, const std::string& path, std::uint64_t offset,
                                        std::uint64_t length, const ByteSink& sink) {
  if (length == 0) return 0;
  if (auto valid = cid::normalize(cid); !valid) return std::unexpected(valid.error());
  std::uint64_t delivered = 0;
  int resumes = 0;
  for (;;) {
    const std::uint64_t first = offset + delivered;
    http::Request r;
    r.url = url_for(cid, path);
    r.headers.emplace_back("Range",
                           "bytes=" + std::to_string(first) + "-" + std::to_string(offset + length - 1));
    if (!token_.empty()) r.headers.emplace_back("x-pinata-gateway-token", token_);
    r.follow_redirects = token_.empty();  // a custom token header would follow a redirect anywhere

    std::uint64_t position = first;  // file offset of the next byte received
    bool satisfied = false;
    bool refused = false;
    const std::uint64_t before = delivered;
    std::optional<std::uint64_t> file_size;
    bool ranged = true;
    r.on_start = [&](long status, const http::Headers& headers) {
      // 200 instead of 206: the gateway ignored Range and sends the file from its start.
      if (status == 200) {
        position = 0;
        ranged = false;
      }
      file_size = content_range_total(headers);
    };
    r.sink = [&](const char* data, std::size_t size) -> bool {
      const std::uint64_t begin = position;
      position += size;
      if (position <= first) return true;
      if (begin < first) {
        data += first - begin;
        size -= static_cast<std::size_t>(first - begin);
      }
      const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(size, length - delivered));
      if (take > 0 && !sink(data, take)) {
        refused = true;
        return false;
      }
      delivered += take;
      // Stop at the end of the file even if the server promised more (a Range past the end must
      // not wait for bytes that do not exist).
      if (delivered < length && !(file_size && position >= *file_size)) return true;
      satisfied = true;
      // A 206 that delivered exactly the range ends here by itself: letting it finish keeps the connection
      // for the next read. The rest of a whole-file answer is not wanted, and bytes promised past the end of
      // the file never come: stop those.
      return ranged && delivered == length;
    };
    auto response = http_->perform(r);
    if (satisfied) return delivered;
    if (refused) return fail(ECANCELED, "gateway read of " + cid + ": the reader stopped");
    if (response) {
      if (response->status == 416) return delivered;  // offset at or past the end of the file
      if (!response->ok()) {
        return std::unexpected(http::status_error("gateway read of " + cid, response->status,
                                                  json::error_reason(response->body)));
      }
      // A complete-looking answer shorter than the file it describes (Content-Range total) was cut: resume
      // rather than hand back a short read, which a program would take for the end of the file.
      const bool cut = file_size && offset + delivered < std::min(*file_size, offset + length);
      if (!cut) return delivered;  // the file ended before offset + length
      if (resumes >= max_resumes_)
        return fail(EIO, "gateway read of " + cid + ": answers end before the bytes they announce");
      ++resumes;
      spdlog::debug("gateway read of {}: answer ended after {} of {} bytes, resuming", cid, delivered,
                    length);
      continue;
    }
    // Without progress the retrying client below has already spent its attempts.
    const bool progressed = delivered > before;
    if (!response.error().retryable || !progressed || resumes >= max_resumes_) {
      Error e = response.error();
      e.message = "gateway read of " + cid + ": " + e.message;
      return std::unexpected(std::move(e));
    }
    ++resumes;
    spdlog::debug("gateway read of {} interrupted after {} bytes, resuming: {}", cid, delivered,
                  response.error().message);
  }
}

Result<std::vector<std::uint8_t>> HttpGateway::block(const std::string& cid_text) {
  auto parsed = cid::Cid::parse(cid_text);
  if (!parsed) return std::unexpected(parsed.error());
  http::Request r;
  r.url = gateway_url_ + "/ipfs/" + http::url_encode(cid_text) + "?format=raw";
  r.headers.emplace_back("Accept", "application/vnd.ipld.raw");
  if (!token_.empty()) r.headers.emplace_back("x-pinata-gateway-token", token_);
  std::vector<std::uint8_t> bytes;
  bool too_big = false;
  r.sink = [&](const char* data, std::size_t size) {
    if (bytes.size() + size > kMaxBlockSize) {
      too_big = true;
      return false;
    }
    bytes.insert(bytes.end(), data, data + size);
    return true;
  };
  auto response = detail::call(*http_, r, "gateway block " + cid_text);
  if (too_big) return fail(EIO, "gateway block " + cid_text + ": larger than any IPFS block");
  if (!response) return std::unexpected(response.error());
  const cid::Cid actual = cid::cid_of_block(parsed->version(), parsed->codec(), bytes);
  if (!(actual == *parsed)) {
    return fail(EIO,
                "gateway block " + cid_text + ": bytes hash to " + actual.to_string() + ", not to the CID");
  }
  return bytes;
}

}  // namespace pinfs::service
