#include <spdlog/spdlog.h>

#include "json_util.hpp"
#include "pinfs/service/json_decode.hpp"

namespace pinfs::service::json {
namespace {

Result<AiozPinState> aioz_pin(const Value& data, std::string_view what) {
  if (!data.IsObject()) return fail(EIO, std::string(what) + ": pin is not an object");
  AiozPinState state;
  Pin& pin = state.pin;
  pin.id = string_member(data, "id");
  pin.cid = string_member(data, "cid");
  if (pin.id.empty() && pin.cid.empty()) return fail(EIO, std::string(what) + ": pin without id or cid");
  if (auto ok = check_cid(pin.cid, what, "cid"); !ok) return std::unexpected(ok.error());
  pin.size = uint_member(data, "size").value_or(0);
  pin.pinned_at = time_member(data, "date_pinned");
  pin.is_dir = bool_member(data, "is_dir");
  if (const Value* metadata = object_member(data, "metadata")) {
    pin.name = string_member(*metadata, "name");
    pin.keyvalues = keyvalues_of(object_member(*metadata, "keyvalues"));
  }
  state.pinned = bool_member(data, "pinned");
  state.by_hash = bool_member(data, "is_pin_by_hash");
  state.status = string_member(data, "status");
  return state;
}

Result<const Value*> envelope_data(const rapidjson::Document& doc, std::string_view what) {
  const Value* data = object_member(doc, "data");
  if (!data) return fail(EIO, std::string(what) + ": answer has no data object");
  return data;
}

}  // namespace

Result<AiozPinState> decode_aioz_pin_state(std::string_view body) {
  auto doc = parse(body, "AIOZ pin");
  if (!doc) return std::unexpected(doc.error());
  auto data = envelope_data(*doc, "AIOZ pin");
  if (!data) return std::unexpected(data.error());
  return aioz_pin(**data, "AIOZ pin");
}

Result<Pin> decode_aioz_pin(std::string_view body) {
  auto state = decode_aioz_pin_state(body);
  if (!state) return std::unexpected(state.error());
  return std::move(state->pin);
}

Result<PinPage> decode_aioz_pin_list(std::string_view body, std::size_t* rows_seen) {
  auto doc = parse(body, "AIOZ pins");
  if (!doc) return std::unexpected(doc.error());
  auto data = envelope_data(*doc, "AIOZ pins");
  if (!data) return std::unexpected(data.error());
  PinPage page;
  if (const Value* totals = object_member(**data, "totals")) page.total = uint_member(*totals, "files");
  // An empty account may answer "pins": null.
  if (rows_seen) *rows_seen = 0;
  if (const Value* pins = array_member(**data, "pins")) {
    if (rows_seen) *rows_seen = pins->Size();
    for (const auto& row : pins->GetArray()) {
      auto state = aioz_pin(row, "AIOZ pins");
      if (!state) {
        spdlog::warn("{}; the row is left out", state.error().message);
        continue;
      }
      page.pins.push_back(std::move(state->pin));
    }
  } else if (member(**data, "pins")) {
    return fail(EIO, "AIOZ pins: pins is not an array");
  }
  return page;
}

Result<Totals> decode_aioz_totals(std::string_view body) {
  auto doc = parse(body, "AIOZ pins");
  if (!doc) return std::unexpected(doc.error());
  auto data = envelope_data(*doc, "AIOZ pins");
  if (!data) return std::unexpected(data.error());
  Totals totals;
  if (const Value* t = object_member(**data, "totals")) {
    totals.pin_count = uint_member(*t, "files").value_or(0);
    totals.size_total = uint_member(*t, "size").value_or(0);
  }
  return totals;
}

}  // namespace pinfs::service::json
