// Decoding of the providers' JSON answers into service types. Tolerant of absent and null
// fields (the providers omit them freely); malformed input (bad JSON at any depth, wrong types,
// text that cannot be a CID) is an EIO error naming what was wrong, never a crash: the parser is
// iterative, so nesting depth costs heap, not stack. Exposed for the decoder tests and fuzz targets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pinfs/common/error.hpp"
#include "pinfs/service/pin_service.hpp"

namespace pinfs::service::json {

// "2023-05-23T08:29:43.264508Z", "2019-01-01T00:00:00.000+02:00" → unix seconds. Dates before
// 1970 (AIOZ writes year 1 for "never") give 0; unparseable text gives nullopt.
std::optional<std::int64_t> parse_time(std::string_view text);
// Unix seconds → "2024-01-02T03:04:05.000Z".
std::string format_time(std::int64_t unix_seconds);

// The most useful human reason in an error body: {"error":{"reason","details"}}, {"error":"x"},
// {"message":"x"}, or the text itself (shortened). Never throws.
std::string error_reason(std::string_view body);

// JSON text of an object of string values (keyvalues, metadata).
std::string keyvalues_json(const KeyValues& keyvalues);

// --- Pinata ---
// Lists: a row without a CID-shaped CID (letters and digits) is left out with a warning, so one
// bad row never hides the account; `rows`, when given, receives the number of rows the page held (for
// paging).
Result<PinPage> decode_pinata_pin_list(std::string_view body,
                                       std::size_t* rows = nullptr);  // next_cursor left empty
Result<Pin> decode_pinata_upload(std::string_view body);              // IpfsHash/PinSize/Timestamp
Result<PinJob> decode_pinata_pin_by_hash(std::string_view body);
Result<std::vector<PinJob>> decode_pinata_jobs(std::string_view body);
Result<Totals> decode_pinata_totals(std::string_view body);

// --- AIOZ ---
Result<Pin> decode_aioz_pin(std::string_view body);  // {"data":{pin},"status":"success"}
struct AiozPinState {
  Pin pin;
  bool pinned = false;
  bool by_hash = false;
  std::string status;  // "DONE"…
};
Result<AiozPinState> decode_aioz_pin_state(std::string_view body);
Result<PinPage> decode_aioz_pin_list(std::string_view body,
                                     std::size_t* rows = nullptr);  // total from data.totals.files
Result<Totals> decode_aioz_totals(std::string_view body);

}  // namespace pinfs::service::json
