// Pinata's legacy API (PROTOCOLS.md §1) at the root of the emulator.
#include <algorithm>

#include "pinfs/emulator/auth.hpp"
#include "pinfs/emulator/handlers.hpp"
#include "pinfs/emulator/jobs.hpp"
#include "pinfs/emulator/pin_query.hpp"
#include "pinfs/emulator/upload.hpp"

namespace pinfs::emulator {

namespace {

constexpr std::size_t kMaxKeyvalues = 10;
constexpr std::size_t kMaxJsonBody = 10u << 20;

struct Metadata {
  std::optional<std::string> name;
  KeyValues keyvalues;
};

// Reads {"name":..,"keyvalues":{..}}; keyvalues values must be strings, numbers or booleans.
Result<Metadata> parse_metadata(const rapidjson::Value& v) {
  Metadata m;
  if (v.IsNull()) return m;
  if (!v.IsObject()) return fail(EINVAL, "pinataMetadata must be an object");
  auto n = v.FindMember("name");
  if (n != v.MemberEnd() && n->value.IsString()) m.name = n->value.GetString();
  auto kv = v.FindMember("keyvalues");
  if (kv != v.MemberEnd() && !kv->value.IsNull()) {
    if (!kv->value.IsObject()) return fail(EINVAL, "keyvalues must be an object");
    for (auto& e : kv->value.GetObject()) {
      KvValue val;
      if (!kv_from_json(e.value, val))
        return fail(EINVAL, "keyvalues values must be strings, numbers or booleans");
      m.keyvalues[e.name.GetString()] = val;
    }
    if (m.keyvalues.size() > kMaxKeyvalues) return fail(E2BIG, "at most 10 keyvalues are allowed");
  }
  return m;
}

Result<Metadata> parse_metadata_text(const std::string& text) {
  if (text.empty()) return Metadata{};
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  if (d.HasParseError()) return fail(EINVAL, "pinataMetadata is not valid JSON");
  return parse_metadata(d);
}

void metadata_error(httplib::Response& res, const Error& e) {
  if (e.errnum == E2BIG)
    pinata_error(res, 400, "KEYVALUE_LIMIT_EXCEEDED", "Metadata keyvalues may hold at most 10 keys");
  else
    pinata_error(res, 400, "INVALID_METADATA", e.message);
}

struct PinOptions {
  int cid_version = 0;  // Pinata's default when cidVersion is absent (examples show Qm…)
  bool wrap = false;
};

Result<PinOptions> parse_options(const rapidjson::Value& v) {
  PinOptions o;
  if (v.IsNull()) return o;
  if (!v.IsObject()) return fail(EINVAL, "pinataOptions must be an object");
  auto cv = v.FindMember("cidVersion");
  if (cv != v.MemberEnd()) {
    if (cv->value.IsInt())
      o.cid_version = cv->value.GetInt();
    else if (cv->value.IsString())
      o.cid_version = std::atoi(cv->value.GetString());
    else
      return fail(EINVAL, "cidVersion must be 0 or 1");
    if (o.cid_version != 0 && o.cid_version != 1) return fail(EINVAL, "cidVersion must be 0 or 1");
  }
  auto w = v.FindMember("wrapWithDirectory");
  if (w != v.MemberEnd()) {
    if (w->value.IsBool())
      o.wrap = w->value.GetBool();
    else if (w->value.IsString())
      o.wrap = std::string(w->value.GetString()) == "true";
  }
  return o;
}

Result<PinOptions> parse_options_text(const std::string& text) {
  if (text.empty()) return PinOptions{};
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  if (d.HasParseError()) return fail(EINVAL, "pinataOptions is not valid JSON");
  return parse_options(d);
}

std::string pin_response(const PinRecord& p, bool duplicate) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("IpfsHash");
  w.String(p.cid.c_str());
  w.Key("PinSize");
  w.Uint64(p.dag_size);
  w.Key("Timestamp");
  w.String(iso_time(p.date_pinned_us, 3).c_str());
  w.Key("isDuplicate");
  w.Bool(duplicate);
  w.EndObject();
  return sb.GetString();
}

void write_keyvalues_or_null(JsonWriter& w, const KeyValues& kvs) {
  if (kvs.empty())
    w.Null();
  else
    keyvalues_write(w, kvs);
}

void write_pin_row(JsonWriter& w, const PinRecord& p, const std::string& user_id) {
  w.StartObject();
  w.Key("id");
  w.String(p.id.c_str());
  w.Key("ipfs_pin_hash");
  w.String(p.cid.c_str());
  w.Key("size");
  w.Uint64(p.dag_size);
  w.Key("user_id");
  w.String(user_id.c_str());
  w.Key("date_pinned");
  w.String(iso_time(p.date_pinned_us, 3).c_str());
  w.Key("date_unpinned");
  if (p.pinned())
    w.Null();
  else
    w.String(iso_time(p.date_unpinned_us, 3).c_str());
  w.Key("metadata");
  w.StartObject();
  w.Key("name");
  w.String(p.name.c_str());
  w.Key("keyvalues");
  write_keyvalues_or_null(w, p.keyvalues);
  w.EndObject();
  w.Key("regions");
  w.StartArray();
  w.StartObject();
  w.Key("regionId");
  w.String("EMU1");
  w.Key("currentReplicationCount");
  w.Int(p.pinned() ? 1 : 0);
  w.Key("desiredReplicationCount");
  w.Int(p.pinned() ? 1 : 0);
  w.EndObject();
  w.EndArray();
  w.Key("mime_type");
  w.String(p.mime_type.c_str());
  w.Key("number_of_files");
  w.Uint64(p.files);
  w.EndObject();
}

std::optional<long long> int_param(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::nullopt;
  std::string v = req.get_param_value(name);
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0') return -1;
  return n;
}

PinRecord record_from_root(const UploadRoot& root, const Metadata& meta) {
  PinRecord p;
  p.cid = root.cid.to_string();
  p.name = meta.name.value_or(root.name.empty() ? p.cid : root.name);
  p.keyvalues = meta.keyvalues;
  p.dag_size = root.dag_size;
  p.content_size = root.content_size;
  p.files = root.files;
  p.is_dir = root.is_dir;
  p.mime_type = root.mime_type;
  return p;
}

void pin_file(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
              Context& ctx) {
  if (!pinata_authorized(req, res, ctx.creds)) return;
  if (!req.is_multipart_form_data()) {
    pinata_error(res, 400, "INVALID_REQUEST", "Expected multipart/form-data with a file part");
    return;
  }
  MultipartIngest ingest(*ctx.blocks, ctx.tmp_dir, [](const std::map<std::string, std::string>& fields) {
    auto it = fields.find("pinataOptions");
    if (it == fields.end()) return std::optional<int>();
    auto o = parse_options_text(it->second);
    return o ? std::optional<int>(o->cid_version) : std::optional<int>();
  });
  if (!read_multipart(req, reader, ingest, ctx)) {
    pinata_error(res, 400, "INVALID_REQUEST", "Invalid request format");
    return;
  }
  auto opts_it = ingest.fields().find("pinataOptions");
  auto opts = parse_options_text(opts_it == ingest.fields().end() ? "" : opts_it->second);
  if (!opts) {
    pinata_error(res, 400, "INVALID_OPTIONS", opts.error().message);
    return;
  }
  auto meta_it = ingest.fields().find("pinataMetadata");
  auto meta = parse_metadata_text(meta_it == ingest.fields().end() ? "" : meta_it->second);
  if (!meta) {
    metadata_error(res, meta.error());
    return;
  }
  if (auto r = ingest.finish(opts->cid_version); !r) {
    pinata_error(res, 400, "INVALID_REQUEST", r.error().message);
    return;
  }
  auto root = build_upload_root(*ctx.blocks, ingest.files(), opts->cid_version, opts->wrap);
  if (!root) {
    pinata_error(res, 400, "INVALID_REQUEST", root.error().message);
    return;
  }
  ctx.stats.upload();
  auto [pin, dup] = ctx.store->add_pin(record_from_root(*root, *meta));
  if (ctx.jobs) ctx.jobs->wake();
  json_reply(res, 200, pin_response(pin, dup));
}

void pin_json(const httplib::Request& req, httplib::Response& res, Context& ctx) {
  if (!pinata_authorized(req, res, ctx.creds)) return;
  if (req.body.size() > kMaxJsonBody) {
    pinata_error(res, 413, "PAYLOAD_TOO_LARGE", "pinJSONToIPFS accepts at most 10 MB");
    return;
  }
  rapidjson::Document d;
  d.Parse(req.body.c_str(), req.body.size());
  if (d.HasParseError() || !d.IsObject()) {
    pinata_error(res, 400, "INVALID_JSON", "Request body must be a JSON object");
    return;
  }
  const rapidjson::Value* content = &d;
  rapidjson::Value null_value;
  const rapidjson::Value* meta_v = &null_value;
  const rapidjson::Value* opts_v = &null_value;
  if (d.HasMember("pinataContent")) {
    content = &d["pinataContent"];
    if (d.HasMember("pinataMetadata")) meta_v = &d["pinataMetadata"];
    if (d.HasMember("pinataOptions")) opts_v = &d["pinataOptions"];
  }
  auto meta = parse_metadata(*meta_v);
  if (!meta) {
    metadata_error(res, meta.error());
    return;
  }
  auto opts = parse_options(*opts_v);
  if (!opts) {
    pinata_error(res, 400, "INVALID_OPTIONS", opts.error().message);
    return;
  }
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  content->Accept(w);
  std::string bytes = sb.GetString();
  UploadRoot root = import_bytes(*ctx.blocks, bytes, opts->cid_version, meta->name.value_or("pinnedJSON"));
  if (opts->wrap) {
    UploadedFile f;
    f.path = root.name;
    f.content_type = "application/json";
    f.result.cid = root.cid;
    f.result.size = root.content_size;
    f.result.tsize = root.dag_size;
    auto wrapped = build_upload_root(*ctx.blocks, {f}, opts->cid_version, true);
    if (!wrapped) {
      pinata_error(res, 400, "INVALID_REQUEST", wrapped.error().message);
      return;
    }
    root = *wrapped;
  }
  ctx.stats.upload();
  auto [pin, dup] = ctx.store->add_pin(record_from_root(root, *meta));
  if (ctx.jobs) ctx.jobs->wake();
  json_reply(res, 200, pin_response(pin, dup));
}

void pin_by_hash(const httplib::Request& req, httplib::Response& res, Context& ctx) {
  if (!pinata_authorized(req, res, ctx.creds)) return;
  rapidjson::Document d;
  d.Parse(req.body.c_str(), req.body.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("hashToPin") || !d["hashToPin"].IsString()) {
    pinata_error(res, 400, "INVALID_REQUEST", "hashToPin is required");
    return;
  }
  std::string cid_text = d["hashToPin"].GetString();
  auto c = cid::Cid::parse(cid_text);
  if (!c) {
    pinata_error(res, 400, "INVALID_CID", "hashToPin is not a valid CID: " + c.error().message);
    return;
  }
  rapidjson::Value null_value;
  auto meta = parse_metadata(d.HasMember("pinataMetadata") ? d["pinataMetadata"] : null_value);
  if (!meta) {
    metadata_error(res, meta.error());
    return;
  }
  JobRecord job;
  job.id = new_uuid();
  job.cid = cid_text;
  job.name = meta->name.value_or("");
  job.keyvalues = meta->keyvalues;
  job.date_queued_us = now_us();
  job.status = "prechecking";
  job.origin = "pinata";
  if (d.HasMember("pinataOptions") && d["pinataOptions"].IsObject() &&
      d["pinataOptions"].HasMember("hostNodes")) {
    auto& hn = d["pinataOptions"]["hostNodes"];
    // An official SDK sends hostNodes "" when none were given; Pinata takes that (and null) as none.
    const bool none = hn.IsNull() || (hn.IsString() && hn.GetStringLength() == 0);
    if (!none && (!hn.IsArray() || hn.Size() > 5)) {
      pinata_error(res, 400, "INVALID_HOST_NODES", "hostNodes must be an array of at most 5 multiaddrs");
      return;
    }
    if (hn.IsArray())
      for (auto& h : hn.GetArray())
        if (h.IsString()) job.host_nodes.emplace_back(h.GetString());
  }
  ctx.store->add_job(job);
  if (ctx.jobs) ctx.jobs->wake();
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("id");
  w.String(job.id.c_str());
  w.Key("ipfsHash");
  w.String(job.cid.c_str());
  w.Key("status");
  w.String(job.status.c_str());
  w.Key("name");
  w.String(job.name.c_str());
  w.EndObject();
  json_reply(res, 200, sb.GetString());
}

void pin_jobs(const httplib::Request& req, httplib::Response& res, Context& ctx) {
  if (!pinata_authorized(req, res, ctx.creds)) return;
  std::string sort = req.has_param("sort") ? req.get_param_value("sort") : "DESC";
  if (sort != "ASC" && sort != "DESC") {
    pinata_error(res, 400, "INVALID_QUERY", "sort must be ASC or DESC");
    return;
  }
  long long limit = int_param(req, "limit").value_or(5);
  long long offset = int_param(req, "offset").value_or(0);
  if (limit < 1 || limit > 1000 || offset < 0) {
    pinata_error(res, 400, "INVALID_QUERY", "limit must be 1..1000 and offset non-negative");
    return;
  }
  std::string status = req.has_param("status") ? req.get_param_value("status") : "";
  std::string hash = req.has_param("ipfs_pin_hash") ? req.get_param_value("ipfs_pin_hash") : "";
  std::vector<JobRecord> rows;
  ctx.store->with_jobs([&](const std::vector<JobRecord>& jobs) {
    for (auto& j : jobs) {
      if (j.status == "pinned") continue;  // a finished job leaves the queue
      if (!status.empty() && j.status != status) continue;
      if (!hash.empty() && j.cid != hash) continue;
      rows.push_back(j);
    }
  });
  std::stable_sort(rows.begin(), rows.end(), [&](const JobRecord& a, const JobRecord& b) {
    return sort == "ASC" ? a.date_queued_us < b.date_queued_us : a.date_queued_us > b.date_queued_us;
  });
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("count");
  w.Uint64(rows.size());
  w.Key("rows");
  w.StartArray();
  for (std::size_t i = static_cast<std::size_t>(offset);
       i < rows.size() && i < static_cast<std::size_t>(offset + limit); ++i) {
    auto& j = rows[i];
    w.StartObject();
    w.Key("id");
    w.String(j.id.c_str());
    w.Key("ipfs_pin_hash");
    w.String(j.cid.c_str());
    w.Key("date_queued");
    w.String(iso_time(j.date_queued_us, 3).c_str());
    w.Key("name");
    if (j.name.empty())
      w.Null();
    else
      w.String(j.name.c_str());
    w.Key("status");
    w.String(j.status.c_str());
    w.Key("keyvalues");
    write_keyvalues_or_null(w, j.keyvalues);
    w.Key("host_nodes");
    if (j.host_nodes.empty()) {
      w.Null();
    } else {
      w.StartArray();
      for (auto& h : j.host_nodes) w.String(h.c_str());
      w.EndArray();
    }
    w.Key("pin_policy");
    w.StartObject();
    w.Key("regions");
    w.StartArray();
    w.StartObject();
    w.Key("id");
    w.String("EMU1");
    w.Key("desiredReplicationCount");
    w.Int(1);
    w.EndObject();
    w.EndArray();
    w.Key("version");
    w.Int(1);
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  json_reply(res, 200, sb.GetString());
}

void pin_list(const httplib::Request& req, httplib::Response& res, Context& ctx) {
  if (!pinata_authorized(req, res, ctx.creds)) return;
  auto filter = parse_pin_filter(req);
  if (!filter) {
    pinata_error(res, 400, "INVALID_QUERY", filter.error().message);
    return;
  }
  long long limit = int_param(req, "pageLimit").value_or(10);
  long long offset = int_param(req, "pageOffset").value_or(0);
  if (limit < 1 || limit > 1000 || offset < 0) {
    pinata_error(res, 400, "INVALID_QUERY", "pageLimit must be 1..1000 and pageOffset non-negative");
    return;
  }
  bool include_count = !(req.has_param("includeCount") && req.get_param_value("includeCount") == "false");
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  std::size_t count = 0;
  std::vector<const PinRecord*> page;
  std::string user_id = ctx.store->user_id();
  ctx.store->with_pins([&](const std::vector<PinRecord>& pins) {
    // Newest first, as the service returns them; pins_ is in pin order, so walk it backwards.
    for (auto it = pins.rbegin(); it != pins.rend(); ++it) {
      if (!filter->matches(*it)) continue;
      if (count >= static_cast<std::size_t>(offset) && page.size() < static_cast<std::size_t>(limit))
        page.push_back(&*it);
      ++count;
      if (!include_count && page.size() == static_cast<std::size_t>(limit)) break;
    }
    if (include_count) {
      w.Key("count");
      w.Uint64(count);
    }
    w.Key("rows");
    w.StartArray();
    for (auto* p : page) write_pin_row(w, *p, user_id);
    w.EndArray();
  });
  w.EndObject();
  json_reply(res, 200, sb.GetString());
}

void hash_metadata(const httplib::Request& req, httplib::Response& res, Context& ctx) {
  if (!pinata_authorized(req, res, ctx.creds)) return;
  rapidjson::Document d;
  d.Parse(req.body.c_str(), req.body.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("ipfsPinHash") || !d["ipfsPinHash"].IsString()) {
    pinata_error(res, 400, "INVALID_REQUEST", "ipfsPinHash is required");
    return;
  }
  std::optional<std::string> name;
  if (d.HasMember("name") && d["name"].IsString()) name = d["name"].GetString();
  std::vector<std::pair<std::string, std::optional<KvValue>>> patch;
  if (d.HasMember("keyvalues") && !d["keyvalues"].IsNull()) {
    if (!d["keyvalues"].IsObject()) {
      pinata_error(res, 400, "INVALID_METADATA", "keyvalues must be an object");
      return;
    }
    for (auto& m : d["keyvalues"].GetObject()) {
      if (m.value.IsNull()) {
        patch.emplace_back(m.name.GetString(), std::nullopt);
        continue;
      }
      KvValue v;
      if (!kv_from_json(m.value, v)) {
        pinata_error(res, 400, "KEYS_MUST_BE_STRINGS",
                     "keyvalues values must be strings, numbers or booleans");
        return;
      }
      patch.emplace_back(m.name.GetString(), v);
    }
  }
  auto r = ctx.store->update_metadata(d["ipfsPinHash"].GetString(), name, patch, kMaxKeyvalues);
  if (!r) {
    if (r.error().errnum == E2BIG)
      pinata_error(res, 400, "KEYVALUE_LIMIT_EXCEEDED", "Metadata keyvalues may hold at most 10 keys");
    else
      pinata_error(res, 404, "CURRENT_USER_HAS_NOT_PINNED_CID", "The current user has not pinned this CID");
    return;
  }
  res.status = 200;
  res.set_content("OK", "text/plain");
}

void unpin(const httplib::Request& req, httplib::Response& res, Context& ctx) {
  if (!pinata_authorized(req, res, ctx.creds)) return;
  std::string cid_text = req.matches[1];
  if (ctx.store->unpin_cid(cid_text) == 0) {
    // Pinata answers 400 here, not 404 (PROTOCOLS.md §1, "Answers and leniencies confirmed").
    pinata_error(res, 400, "CURRENT_USER_HAS_NOT_PINNED_CID",
                 "The current user has not pinned the cid: " + cid_text);
    return;
  }
  res.status = 200;
  res.set_content("OK", "text/plain");
}

void pinned_total(const httplib::Request& req, httplib::Response& res, Context& ctx) {
  if (!pinata_authorized(req, res, ctx.creds)) return;
  std::uint64_t count = 0, size = 0;
  ctx.store->with_pins([&](const std::vector<PinRecord>& pins) {
    for (auto& p : pins)
      if (p.pinned()) {
        ++count;
        size += p.dag_size;
      }
  });
  json_reply(res, 200,
             "{\"pin_count\":" + std::to_string(count) + ",\"pin_size_total\":" + std::to_string(size) +
                 ",\"pin_size_with_replications_total\":" + std::to_string(size) + "}");
}

}  // namespace

void register_pinata(httplib::Server& svr, Context& ctx) {
  svr.Post("/pinning/pinFileToIPFS/?",
           [&ctx](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
             pin_file(req, res, reader, ctx);
           });
  svr.Post("/pinning/pinJSONToIPFS/?",
           [&ctx](const httplib::Request& req, httplib::Response& res) { pin_json(req, res, ctx); });
  svr.Post("/pinning/pinByHash/?",
           [&ctx](const httplib::Request& req, httplib::Response& res) { pin_by_hash(req, res, ctx); });
  svr.Get("/pinning/pinJobs/?",
          [&ctx](const httplib::Request& req, httplib::Response& res) { pin_jobs(req, res, ctx); });
  svr.Put("/pinning/hashMetadata/?",
          [&ctx](const httplib::Request& req, httplib::Response& res) { hash_metadata(req, res, ctx); });
  svr.Delete("/pinning/unpin/([^/]+)",
             [&ctx](const httplib::Request& req, httplib::Response& res) { unpin(req, res, ctx); });
  svr.Get("/data/pinList/?",
          [&ctx](const httplib::Request& req, httplib::Response& res) { pin_list(req, res, ctx); });
  svr.Get("/data/testAuthentication/?", [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!pinata_authorized(req, res, ctx.creds)) return;
    json_reply(res, 200, "{\"message\":\"Congratulations! You are communicating with the Pinata API!\"}");
  });
  svr.Get("/data/userPinnedDataTotal/?",
          [&ctx](const httplib::Request& req, httplib::Response& res) { pinned_total(req, res, ctx); });
}

}  // namespace pinfs::emulator
