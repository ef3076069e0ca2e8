// THE table from HTTP statuses and libcurl errors to an errno and a retry decision
// (STYLE.md: one tested table, as s3fs's RequestPerform). Every layer above asks here.
#pragma once

#include <string>
#include <string_view>

#include "pinfs/common/error.hpp"

namespace pinfs::http {

struct Outcome {
  int errnum = 0;          // 0: success
  bool retryable = false;  // worth another attempt (after backoff)
  // The server cannot have acted on the request (connect failure, 429): even a
  // non-idempotent call may be sent again.
  bool not_processed = false;
};

// status: the HTTP status. reason: the provider's error reason/message if any (lets
// "over_free_limit"-style quota answers become EDQUOT whatever the status).
Outcome classify_status(long status, std::string_view reason = {});

// curl_code: a CURLcode value (kept as int so this header does not drag in curl.h).
Outcome classify_curl(int curl_code);

// An Error for a non-2xx response: "<what>: HTTP <status> <reason>" with the table's errno.
Error status_error(std::string_view what, long status, std::string_view reason);

}  // namespace pinfs::http
