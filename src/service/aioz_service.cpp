#include "pinfs/service/aioz_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "http_call.hpp"
#include "pinfs/service/json_decode.hpp"
#include "request_util.hpp"

namespace pinfs::service {
namespace {

using detail::base_name;
using detail::metadata_json;
using detail::parse_cursor;
using detail::write_metadata;
using detail::write_string;
using detail::Writer;
using http::Method;

// An upload's answer. AIOZ answers content it pins already with that pin (its own name and id) and makes
// no pin of the name sent: that is marked duplicate, as Pinata's isDuplicate is.
Result<Pin> decode_upload_pin(Result<http::Response> response, const std::string& sent_name,
                              const KeyValues& sent_keyvalues) {
  if (!response) return std::unexpected(response.error());
  auto pin = json::decode_aioz_pin(response->body);
  if (!pin) return pin;
  if (pin->name.empty()) pin->name = sent_name;
  if (pin->name != sent_name) pin->duplicate = true;
  // AIOZ answers without keyvalues; what was sent is what the pin carries.
  if (pin->keyvalues.empty() && !pin->duplicate) pin->keyvalues = sent_keyvalues;
  return pin;
}

}  // namespace

AiozService::AiozService(std::shared_ptr<http::HttpClient> http, std::string api_url, Credentials credentials)
    : http_(std::move(http)), api_url_(detail::without_trailing_slashes(std::move(api_url))) {
  auth_.emplace_back("pinning_api_key", credentials.api_key);
  auth_.emplace_back("pinning_secret_key", credentials.api_secret);
}

http::Request AiozService::request(Method method, const std::string& path) const {
  http::Request r;
  r.method = method;
  r.url = api_url_ + path;
  r.headers = auth_;
  r.idempotent = method != Method::Post;
  r.rate_class = kAiozClass;
  return r;
}

Capabilities AiozService::capabilities() const {
  Capabilities c;
  c.metadata_update = false;
  c.max_keyvalues = 0;
  c.max_page_size = kMaxPageSize;
  c.pin_jobs = false;
  return c;
}

Result<void> AiozService::check_auth() {
  auto r =
      detail::call(*http_, request(Method::Get, "/apiKeys/testAuthentication"), "AIOZ testAuthentication");
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<PinPage> AiozService::list(const ListQuery& query) {
  auto offset = parse_cursor(query.cursor);
  if (!offset) return std::unexpected(offset.error());
  const std::size_t limit = std::clamp<std::size_t>(query.page_size, 1, kMaxPageSize);
  if (query.unpinned_after)
    return fail(ENOTSUP, "AIOZ cannot list pins by the date they were removed (no such filter)");
  // Always newest first by pin date (AIOZ's default, asked explicitly): ListOrder::newest_first holds.
  const std::string path = "/pinning/pins/?offset=" + std::to_string(*offset) +
                           "&limit=" + std::to_string(limit) +
                           "&pinned=" + (query.status == ListStatus::unpinned ? "false" : "true") +
                           "&sortBy=created_at&sortOrder=DESC";
  http::Request req = request(Method::Get, path);
  req.max_body = detail::kMaxListReply;
  auto r = detail::call(*http_, req, "AIOZ pins");
  if (!r) return std::unexpected(r.error());
  std::size_t rows = 0;
  auto page = json::decode_aioz_pin_list(r->body, &rows);
  if (!page) return std::unexpected(page.error());
  const std::size_t received = rows;  // rows the page held, also those the decoder left out
  const std::uint64_t next = *offset + received;
  bool more = received == limit && (!page->total || next < *page->total);
  // Newest first: once a page reaches pins older than the cut-off, later pages hold only older ones.
  if (query.pinned_after && !page->pins.empty() && page->pins.back().pinned_at < *query.pinned_after)
    more = false;
  page->next_cursor = more ? std::to_string(next) : std::string();
  // AIOZ has no server-side filters: apply them here.
  std::erase_if(page->pins, [&](const Pin& p) {
    if (query.cid && p.cid != *query.cid) return true;
    if (query.name_contains && p.name.find(*query.name_contains) == std::string::npos) return true;
    if (query.pinned_after && p.pinned_at < *query.pinned_after) return true;
    return false;
  });
  return page;
}

Result<Pin> AiozService::find_by_cid(const std::string& cid) {
  ListQuery q;
  q.cid = cid;
  q.page_size = kMaxPageSize;
  for (;;) {
    auto page = list(q);
    if (!page) return std::unexpected(page.error());
    if (!page->pins.empty()) return std::move(page->pins.front());
    if (page->next_cursor.empty()) return fail(ENOENT, "AIOZ: " + cid + " is not pinned");
    q.cursor = page->next_cursor;
  }
}

Result<Pin> AiozService::get(const PinRef& ref) {
  if (ref.id.empty()) {
    if (ref.cid.empty()) return fail(EINVAL, "AIOZ get needs a pin id or a CID");
    return find_by_cid(ref.cid);
  }
  auto r = detail::call(*http_, request(Method::Get, "/pinning/" + http::url_encode(ref.id)), "AIOZ pin");
  if (!r) return std::unexpected(r.error());
  auto state = json::decode_aioz_pin_state(r->body);
  if (!state) return std::unexpected(state.error());
  if (!state->pinned)
    return fail(ENOENT, "AIOZ: pin " + ref.id + " is not pinned (status " + state->status + ")");
  return std::move(state->pin);
}

Result<Pin> AiozService::upload_file(const FileUpload& upload) {
  if (upload.cid_version == 0)
    return fail(ENOTSUP, "AIOZ computes CIDv1 only; CIDv0 uploads are not possible");
  http::Request r = request(Method::Post, "/pinning/");
  http::MultipartBody body;  // metadata first: a streaming server has it before the file's bytes
  body.parts.push_back({"metadata", "", "", metadata_json(upload.name, upload.keyvalues, false), ""});
  body.parts.push_back({"file", base_name(upload.name.empty() ? upload.local_path : upload.name),
                        "application/octet-stream", "", upload.local_path, upload.growth});
  r.body = std::move(body);
  if (upload.progress) {
    r.progress = [fn = upload.progress](std::uint64_t sent, std::uint64_t total) { fn({sent, total}); };
  }
  spdlog::debug("AIOZ upload of {} as '{}'", upload.local_path, upload.name);
  return decode_upload_pin(detail::call(*http_, r, "AIOZ upload"), upload.name, upload.keyvalues);
}

Result<Pin> AiozService::upload_directory(const DirectoryUpload& upload) {
  if (upload.cid_version == 0)
    return fail(ENOTSUP, "AIOZ computes CIDv1 only; CIDv0 uploads are not possible");
  if (upload.files.empty() && upload.directories.empty())
    return fail(EINVAL, "AIOZ cannot pin an empty directory upload");
  http::Request r = request(Method::Post, "/pinning/");
  http::MultipartBody body;
  body.parts.push_back({"metadata", "", "", metadata_json(upload.name, upload.keyvalues, false), ""});
  detail::add_directory_files(body, upload);
  r.body = std::move(body);
  auto pin =
      decode_upload_pin(detail::call(*http_, r, "AIOZ directory upload"), upload.name, upload.keyvalues);
  if (pin) pin->is_dir = true;
  return pin;
}

Result<PinJob> AiozService::pin_by_cid(const std::string& cid, const std::string& name,
                                       const KeyValues& keyvalues) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("hash_to_pin");
  write_string(w, cid);
  w.Key("metadata");
  write_metadata(w, name, keyvalues, false);
  w.EndObject();
  http::Request r = request(Method::Post, "/pinning/pinByHash");
  r.body = http::BufferBody{buffer.GetString()};
  auto response = detail::call(*http_, r, "AIOZ pinByHash");
  if (!response) return std::unexpected(response.error());
  auto state = json::decode_aioz_pin_state(response->body);
  if (!state) return std::unexpected(state.error());
  if (!state->pin.cid.empty() && !detail::same_cid(state->pin.cid, cid))
    return fail(EIO, "AIOZ pinByHash: asked to pin " + cid + ", the reply names " + state->pin.cid);
  PinJob job;
  job.id = state->pin.id;
  job.cid = state->pin.cid.empty() ? cid : state->pin.cid;
  job.name = state->pin.name.empty() ? name : state->pin.name;
  job.status = state->pinned ? "pinned" : state->status;
  job.queued_at = state->pin.pinned_at;
  return job;
}

Result<std::vector<PinJob>> AiozService::list_jobs() {
  return fail(ENOTSUP, "AIOZ has no pin-job list; poll the pin by id instead");
}

Result<void> AiozService::update_metadata(const PinRef&, const std::optional<std::string>&,
                                          const KeyValueChanges&) {
  return fail(ENOTSUP, "AIOZ cannot change the metadata of an existing pin");
}

Result<Pin> AiozService::rename(const Pin& pin, const std::string& new_name) {
  if (pin.id.empty() || pin.cid.empty()) return fail(EINVAL, "AIOZ rename needs the pin's id and CID");
  auto job = pin_by_cid(pin.cid, new_name, pin.keyvalues);
  if (!job) return std::unexpected(job.error());
  auto removed = unpin(PinRef{pin.id, pin.cid});
  if (!removed) {
    // Two pins of one CID under two names would confuse every listing: take the new one back.
    spdlog::warn("AIOZ rename of {}: unpinning the old id failed ({}); undoing", pin.cid,
                 removed.error().describe());
    if (auto undo = unpin(PinRef{job->id, job->cid}); !undo) {
      spdlog::warn("AIOZ rename of {}: undo failed too: {}", pin.cid, undo.error().describe());
    }
    return std::unexpected(removed.error());
  }
  Pin renamed = pin;
  renamed.id = job->id;
  renamed.name = new_name;
  return renamed;
}

Result<void> AiozService::unpin(const PinRef& ref) {
  std::string id = ref.id;
  if (id.empty()) {
    if (ref.cid.empty()) return fail(EINVAL, "AIOZ unpin needs a pin id or a CID");
    auto pin = find_by_cid(ref.cid);
    if (!pin) return std::unexpected(pin.error());
    id = pin->id;
  }
  auto r = detail::call(*http_, request(Method::Delete, "/pinning/unpin/" + http::url_encode(id)),
                        "AIOZ unpin", /*retried_404_is_done=*/true);
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<Totals> AiozService::totals() {
  auto r =
      detail::call(*http_, request(Method::Get, "/pinning/pins/?offset=0&limit=1&pinned=true"), "AIOZ pins");
  if (!r) return std::unexpected(r.error());
  return json::decode_aioz_totals(r->body);
}

}  // namespace pinfs::service
