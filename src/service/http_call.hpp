// One request to a provider, with the answer mapped through the errno table.
#pragma once

#include <string_view>

#include "pinfs/http/error_map.hpp"
#include "pinfs/http/http_client.hpp"
#include "pinfs/service/json_decode.hpp"

namespace pinfs::service::detail {

// A 2xx response, or an Error: transport failures keep their errno, statuses go through
// http::status_error with the provider's reason.
// retried_404_is_done: a retried DELETE whose first attempt succeeded finds nothing left (404): that is the
// wanted state, not an error.
inline Result<http::Response> call(http::HttpClient& client, const http::Request& request,
                                   std::string_view what, bool retried_404_is_done = false) {
  auto response = client.perform(request);
  if (retried_404_is_done && response && response->status == 404 && response->attempts > 1) return response;
  if (!response) {
    Error e = response.error();
    e.message = std::string(what) + ": " + e.message;
    return std::unexpected(std::move(e));
  }
  if (!response->ok())
    return std::unexpected(http::status_error(what, response->status, json::error_reason(response->body)));
  return response;
}

}  // namespace pinfs::service::detail
