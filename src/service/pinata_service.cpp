#include "pinfs/service/pinata_service.hpp"

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

std::string options_json(int cid_version, bool wrap) {
  // cidVersion always explicit: the service default is UNCONFIRMED (PROTOCOLS.md §1).
  return "{\"cidVersion\":" + std::to_string(cid_version) +
         ",\"wrapWithDirectory\":" + (wrap ? "true" : "false") + "}";
}

Result<Pin> with_upload_metadata(Result<http::Response> response, const std::string& name,
                                 const KeyValues& kv, bool is_dir) {
  if (!response) return std::unexpected(response.error());
  auto pin = json::decode_pinata_upload(response->body);
  if (!pin) return std::unexpected(pin.error());
  pin->name = name;
  pin->keyvalues = kv;
  pin->is_dir = is_dir;
  return pin;
}

// Pinata's answer for a CID the account does not pin: 400 CURRENT_USER_HAS_NOT_PINNED_CID (the reply public
// sources show for unpin) or older replies `{"error":"Current user has not pinned hash: …"}`; a 404 with
// that reason too. A bare 404 (a wrong API path) is not taken for it.
bool not_pinned_reply(const http::Response& response) {
  if (response.status != 400 && response.status != 404) return false;
  const std::string reason = json::error_reason(response.body);
  return reason.find("CURRENT_USER_HAS_NOT_PINNED_CID") != std::string::npos ||
         reason.find("has not pinned") != std::string::npos;
}

}  // namespace

PinataService::PinataService(std::shared_ptr<http::HttpClient> http, std::string api_url,
                             Credentials credentials)
    : http_(std::move(http)), api_url_(detail::without_trailing_slashes(std::move(api_url))) {
  if (!credentials.jwt.empty()) {
    auth_.emplace_back("Authorization", "Bearer " + credentials.jwt);
  } else {
    auth_.emplace_back("pinata_api_key", credentials.api_key);
    auth_.emplace_back("pinata_secret_api_key", credentials.api_secret);
  }
}

http::Request PinataService::request(Method method, const std::string& path) const {
  http::Request r;
  r.method = method;
  r.url = api_url_ + path;
  r.headers = auth_;
  r.idempotent = method != Method::Post;
  r.rate_class = path.starts_with("/data/") ? kPinataDataClass : kPinataPinningClass;
  return r;
}

Capabilities PinataService::capabilities() const {
  Capabilities c;
  c.metadata_update = true;
  c.max_keyvalues = 10;
  c.max_page_size = 1000;
  c.pin_jobs = true;
  c.unpins_by_cid = true;  // DELETE /pinning/unpin/{cid}
  return c;
}

Result<void> PinataService::check_auth() {
  auto r =
      detail::call(*http_, request(Method::Get, "/data/testAuthentication"), "Pinata testAuthentication");
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<PinPage> PinataService::list(const ListQuery& query) {
  auto offset = parse_cursor(query.cursor);
  if (!offset) return std::unexpected(offset.error());
  const std::size_t limit = std::clamp<std::size_t>(query.page_size, 1, capabilities().max_page_size);
  const bool unpinned = query.status == ListStatus::unpinned;
  if (query.unpinned_after && !unpinned)
    return fail(EINVAL, "unpinned_after applies to unpinned listings only");
  // Pinata lists newest first (by date pinned) whatever the query: ListOrder::newest_first needs nothing
  // more.
  std::string path = std::string("/data/pinList?status=") + (unpinned ? "unpinned" : "pinned") +
                     "&includeCount=true&pageLimit=" + std::to_string(limit) +
                     "&pageOffset=" + std::to_string(*offset);
  if (query.cid) path += "&cid=" + http::url_encode(*query.cid);
  if (query.name_contains) path += "&metadata%5Bname%5D=" + http::url_encode(*query.name_contains);
  if (query.pinned_after) path += "&pinStart=" + http::url_encode(json::format_time(*query.pinned_after));
  if (query.unpinned_after)
    path += "&unpinStart=" + http::url_encode(json::format_time(*query.unpinned_after));
  http::Request req = request(Method::Get, path);
  req.max_body = detail::kMaxListReply;
  auto r = detail::call(*http_, req, "Pinata pinList");
  if (!r) return std::unexpected(r.error());
  std::size_t rows = 0;
  auto page = json::decode_pinata_pin_list(r->body, &rows);
  if (!page) return std::unexpected(page.error());
  const std::size_t received = rows;  // rows the page held, also those the decoder left out
  const std::uint64_t next = *offset + received;
  const bool more = received == limit && (!page->total || next < *page->total);
  page->next_cursor = more ? std::to_string(next) : std::string();
  // Older deployments ignore the cid filter: never hand back a pin the caller did not ask for.
  if (query.cid) {
    std::erase_if(page->pins, [&](const Pin& p) { return p.cid != *query.cid; });
  }
  return page;
}

Result<Pin> PinataService::get(const PinRef& ref) {
  if (ref.cid.empty()) return fail(EINVAL, "Pinata finds pins by CID, and none was given");
  ListQuery q;
  q.cid = ref.cid;
  q.page_size = 10;
  auto page = list(q);
  if (!page) return std::unexpected(page.error());
  for (auto& pin : page->pins) {
    if (ref.id.empty() || pin.id == ref.id) return std::move(pin);
  }
  return fail(ENOENT, "Pinata: " + ref.cid + " is not pinned");
}

Result<Pin> PinataService::upload_file(const FileUpload& upload) {
  http::Request r = request(Method::Post, "/pinning/pinFileToIPFS");
  // Fields before the file: a streaming server knows the CID version before the first byte.
  http::MultipartBody body;
  body.parts.push_back({"pinataMetadata", "", "", metadata_json(upload.name, upload.keyvalues, true), ""});
  body.parts.push_back({"pinataOptions", "", "", options_json(upload.cid_version, false), ""});
  body.parts.push_back({"file", base_name(upload.name.empty() ? upload.local_path : upload.name),
                        "application/octet-stream", "", upload.local_path, upload.growth});
  r.body = std::move(body);
  if (upload.progress) {
    r.progress = [fn = upload.progress](std::uint64_t sent, std::uint64_t total) { fn({sent, total}); };
  }
  spdlog::debug("Pinata upload of {} as '{}' (cidVersion {})", upload.local_path, upload.name,
                upload.cid_version);
  return with_upload_metadata(detail::call(*http_, r, "Pinata pinFileToIPFS"), upload.name, upload.keyvalues,
                              false);
}

Result<Pin> PinataService::upload_directory(const DirectoryUpload& upload) {
  if (upload.files.empty() && upload.directories.empty())
    return fail(EINVAL, "Pinata cannot pin an empty directory upload");
  http::Request r = request(Method::Post, "/pinning/pinFileToIPFS");
  http::MultipartBody body;
  body.parts.push_back({"pinataMetadata", "", "", metadata_json(upload.name, upload.keyvalues, true), ""});
  body.parts.push_back({"pinataOptions", "", "", options_json(upload.cid_version, false), ""});
  detail::add_directory_files(body, upload);
  r.body = std::move(body);
  return with_upload_metadata(detail::call(*http_, r, "Pinata pinFileToIPFS (directory)"), upload.name,
                              upload.keyvalues, true);
}

Result<PinJob> PinataService::pin_by_cid(const std::string& cid, const std::string& name,
                                         const KeyValues& keyvalues) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("hashToPin");
  write_string(w, cid);
  w.Key("pinataMetadata");
  write_metadata(w, name, keyvalues, true);
  w.EndObject();
  http::Request r = request(Method::Post, "/pinning/pinByHash");
  r.body = http::BufferBody{buffer.GetString()};
  auto response = detail::call(*http_, r, "Pinata pinByHash");
  if (!response) return std::unexpected(response.error());
  auto job = json::decode_pinata_pin_by_hash(response->body);
  if (job && job->name.empty()) job->name = name;
  if (job && !detail::same_cid(job->cid, cid))
    return fail(EIO, "Pinata pinByHash: asked to pin " + cid + ", the reply names " + job->cid);
  return job;
}

Result<std::vector<PinJob>> PinataService::list_jobs() {
  http::Request req = request(Method::Get, "/pinning/pinJobs?sort=DESC&limit=1000");
  req.max_body = detail::kMaxListReply;
  auto r = detail::call(*http_, req, "Pinata pinJobs");
  if (!r) return std::unexpected(r.error());
  return json::decode_pinata_jobs(r->body);
}

Result<void> PinataService::update_metadata(const PinRef& ref, const std::optional<std::string>& name,
                                            const KeyValueChanges& changes) {
  if (ref.cid.empty()) return fail(EINVAL, "Pinata hashMetadata needs a CID");
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("ipfsPinHash");
  write_string(w, ref.cid);
  if (name) {
    w.Key("name");
    write_string(w, *name);
  }
  if (!changes.empty()) {
    w.Key("keyvalues");
    w.StartObject();
    for (const auto& [k, v] : changes) {
      write_string(w, k);
      if (v) {
        write_string(w, *v);
      } else {
        w.Null();  // Pinata removes a key set to null
      }
    }
    w.EndObject();
  }
  w.EndObject();
  http::Request r = request(Method::Put, "/pinning/hashMetadata");
  r.body = http::BufferBody{buffer.GetString()};
  auto response = detail::perform_bounded(*http_, r, "Pinata hashMetadata");
  if (response && not_pinned_reply(*response))
    return fail(ENOENT, "Pinata hashMetadata: " + ref.cid + " is not pinned by this account");
  if (auto ok = detail::checked(std::move(response), "Pinata hashMetadata"); !ok)
    return std::unexpected(ok.error());
  return {};
}

Result<Pin> PinataService::rename(const Pin& pin, const std::string& new_name) {
  auto updated = update_metadata(PinRef{pin.id, pin.cid}, new_name, {});
  if (!updated) return std::unexpected(updated.error());
  Pin renamed = pin;
  renamed.name = new_name;
  return renamed;
}

Result<void> PinataService::unpin(const PinRef& ref) {
  if (ref.cid.empty()) return fail(EINVAL, "Pinata unpins by CID, and none was given");
  auto r = detail::perform_bounded(
      *http_, request(Method::Delete, "/pinning/unpin/" + http::url_encode(ref.cid)), "Pinata unpin");
  // Not pinned (any more): unpinned elsewhere, or by a first attempt whose reply was lost. The wanted
  // state holds, so `rm` of a pin removed meanwhile succeeds.
  if (r && (not_pinned_reply(*r) || (r->status == 404 && r->attempts > 1))) {
    spdlog::info("Pinata unpin {}: the account does not pin it (any more); nothing to do", ref.cid);
    return {};
  }
  if (auto ok = detail::checked(std::move(r), "Pinata unpin"); !ok) return std::unexpected(ok.error());
  return {};
}

Result<Totals> PinataService::totals() {
  auto r =
      detail::call(*http_, request(Method::Get, "/data/userPinnedDataTotal"), "Pinata userPinnedDataTotal");
  if (!r) return std::unexpected(r.error());
  return json::decode_pinata_totals(r->body);
}

}  // namespace pinfs::service
