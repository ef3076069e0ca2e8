// One request to a provider, with the answer mapped through the errno table.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "pinfs/http/error_map.hpp"
#include "pinfs/http/http_client.hpp"
#include "pinfs/service/json_decode.hpp"

namespace pinfs::service::detail {

// Replies are parsed in memory, so their size is bounded: a list page of 1000 pins with full metadata
// stays far below kMaxListReply (about 1 KB a row); every other reply is a single small object.
inline constexpr std::size_t kMaxReply = 1u << 20;
inline constexpr std::size_t kMaxListReply = 64u << 20;

// The request as sent: a reply cap unless the caller chose one.
inline http::Request bounded(const http::Request& request) {
  http::Request r = request;
  if (r.max_body == 0 && !r.sink) r.max_body = kMaxReply;
  return r;
}

// Transport errors keep their errno (with `what` in front); a reply over the cap is EIO with its size.
inline Result<http::Response> perform_bounded(http::HttpClient& client, const http::Request& request,
                                              std::string_view what) {
  const http::Request r = bounded(request);
  auto response = client.perform(r);
  if (!response) {
    Error e = response.error();
    if (e.errnum == EFBIG && r.max_body != 0) {
      return fail(EIO, std::string(what) + ": the reply is larger than " + std::to_string(r.max_body) +
                           " bytes, refused (a broken or hostile server)");
    }
    e.message = std::string(what) + ": " + e.message;
    return std::unexpected(std::move(e));
  }
  if (response->ok() && r.max_body != 0 && response->body.size() > r.max_body) {
    return fail(EIO, std::string(what) + ": the reply is larger than " + std::to_string(r.max_body) +
                         " bytes, refused (a broken or hostile server)");
  }
  return response;
}

// A non-2xx response as an Error through http::status_error with the provider's reason.
inline Result<http::Response> checked(Result<http::Response> response, std::string_view what) {
  if (!response) return response;
  if (!response->ok())
    return std::unexpected(http::status_error(what, response->status, json::error_reason(response->body)));
  return response;
}

// A 2xx response, or an Error: transport failures keep their errno, statuses go through
// http::status_error with the provider's reason.
// retried_404_is_done: a retried DELETE whose first attempt succeeded finds nothing left (404): that is the
// wanted state, not an error.
inline Result<http::Response> call(http::HttpClient& client, const http::Request& request,
                                   std::string_view what, bool retried_404_is_done = false) {
  auto response = perform_bounded(client, request, what);
  if (retried_404_is_done && response && response->status == 404 && response->attempts > 1) return response;
  return checked(std::move(response), what);
}

}  // namespace pinfs::service::detail
