#include "pinfs/http/error_map.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "pinfs/http/http_client.hpp"

namespace pinfs::http {
namespace {

struct StatusRow {
  long status;
  Outcome outcome;
};

// errno, retryable, not_processed. Statuses not listed fall back by class below.
constexpr std::array<StatusRow, 20> kStatusTable = {{
    {400, {EINVAL, false, false}},
    {401, {EACCES, false, false}},
    {402, {EDQUOT, false, false}},  // payment required: over the plan
    {403, {EACCES, false, false}},
    {404, {ENOENT, false, false}},
    {405, {ENOTSUP, false, false}},
    {408, {ETIMEDOUT, true, true}},  // the server gave up waiting for our request
    {409, {EDQUOT, false, false}},   // Pinning Service API: insufficient funds
    {410, {ENOENT, false, false}},
    {411, {EINVAL, false, false}},
    {413, {EFBIG, false, false}},
    {414, {ENAMETOOLONG, false, false}},
    {415, {EINVAL, false, false}},
    {416, {EINVAL, false, false}},
    {422, {EINVAL, false, false}},
    {429, {EAGAIN, true, true}},
    {500, {EIO, true, false}},
    {501, {ENOTSUP, false, false}},
    {503, {EAGAIN, true, true}},  // overloaded or in maintenance: did not process
    {504, {ETIMEDOUT, true, false}},
}};

struct CurlRow {
  CURLcode code;
  Outcome outcome;
};

constexpr std::array<CurlRow, 22> kCurlTable = {{
    {CURLE_OK, {0, false, false}},
    {CURLE_UNSUPPORTED_PROTOCOL, {EINVAL, false, false}},
    {CURLE_URL_MALFORMAT, {EINVAL, false, false}},
    {CURLE_COULDNT_RESOLVE_PROXY, {EHOSTUNREACH, true, true}},
    {CURLE_COULDNT_RESOLVE_HOST, {EHOSTUNREACH, true, true}},
    {CURLE_COULDNT_CONNECT, {ECONNREFUSED, true, true}},
    {CURLE_WEIRD_SERVER_REPLY, {EIO, true, false}},
    {CURLE_PARTIAL_FILE, {EIO, true, false}},
    {CURLE_WRITE_ERROR, {ECANCELED, false, false}},  // our sink said stop
    {CURLE_READ_ERROR, {EIO, false, false}},         // our staged file could not be read
    {CURLE_OUT_OF_MEMORY, {ENOMEM, false, false}},
    {CURLE_OPERATION_TIMEDOUT, {ETIMEDOUT, true, false}},
    {CURLE_ABORTED_BY_CALLBACK, {ECANCELED, false, false}},
    {CURLE_TOO_MANY_REDIRECTS, {ELOOP, false, false}},
    {CURLE_GOT_NOTHING, {EIO, true, false}},
    {CURLE_SSL_CONNECT_ERROR, {EIO, true, true}},
    {CURLE_PEER_FAILED_VERIFICATION, {EACCES, false, true}},  // never retry past a bad certificate
    {CURLE_SSL_CACERT_BADFILE, {EACCES, false, true}},
    {CURLE_SEND_ERROR, {EIO, true, false}},  // reset while sending
    {CURLE_RECV_ERROR, {EIO, true, false}},  // reset while receiving
    {CURLE_HTTP2, {EIO, true, false}},
    {CURLE_HTTP2_STREAM, {EIO, true, false}},
}};

bool mentions_quota(std::string_view reason) {
  const std::string l = to_lower(reason);
  return l.find("over_free_limit") != std::string::npos || l.find("quota") != std::string::npos ||
         l.find("storage limit") != std::string::npos || l.find("insufficient funds") != std::string::npos;
}

}  // namespace

Outcome classify_status(long status, std::string_view reason) {
  if (status >= 200 && status < 300) return {};
  if (status >= 400 && status < 500 && mentions_quota(reason)) return {EDQUOT, false, false};
  for (const auto& row : kStatusTable) {
    if (row.status == status) return row.outcome;
  }
  if (status >= 500 && status < 600) return {EIO, true, false};
  if (status >= 400 && status < 500) return {EIO, false, false};
  return {EIO, false, false};  // 1xx/3xx where a final answer was expected
}

Outcome classify_curl(int curl_code) {
  for (const auto& row : kCurlTable) {
    if (row.code == curl_code) return row.outcome;
  }
  return {EIO, false, false};
}

Error status_error(std::string_view what, long status, std::string_view reason) {
  const Outcome o = classify_status(status, reason);
  std::string message(what);
  message += ": HTTP " + std::to_string(status);
  if (!reason.empty()) {
    message += " ";
    message += reason.substr(0, 300);
  }
  return Error{o.errnum == 0 ? EIO : o.errnum, std::move(message), o.retryable};
}

}  // namespace pinfs::http
