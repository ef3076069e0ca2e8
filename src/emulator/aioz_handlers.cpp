// AIOZ W3IPFS's API (PROTOCOLS.md §2, seeds 001/003/004) under /api/.
#include <algorithm>

#include "pinfs/emulator/auth.hpp"
#include "pinfs/emulator/handlers.hpp"
#include "pinfs/emulator/jobs.hpp"
#include "pinfs/emulator/upload.hpp"

namespace pinfs::emulator {

namespace {

constexpr const char* kNeverUnpinned = "0001-01-01T00:00:00Z";

std::string root_hash_hex(const std::string& cid_text) {
  auto c = cid::Cid::parse(cid_text);
  if (!c) return {};
  static const char* hex = "0123456789abcdef";
  std::string out = "1220";
  for (auto b : c->digest()) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

void write_metadata(JsonWriter& w, const std::string& name, const std::string& type, const KeyValues& kvs) {
  w.Key("metadata");
  w.StartObject();
  w.Key("name");
  w.String(name.c_str());
  if (!type.empty()) {
    w.Key("type");
    w.String(type.c_str());
  }
  if (!kvs.empty()) {
    w.Key("keyvalues");
    keyvalues_write(w, kvs);
  }
  w.EndObject();
}

void write_pin(JsonWriter& w, const PinRecord& p, const std::string& user_id) {
  w.StartObject();
  w.Key("id");
  w.String(p.id.c_str());
  w.Key("file_record_id");
  w.String(p.file_record_id.c_str());
  w.Key("root_hash");
  w.String(root_hash_hex(p.cid).c_str());
  w.Key("cid");
  w.String(p.cid.c_str());
  w.Key("size");
  w.Uint64(p.content_size);
  w.Key("user_id");
  w.String(user_id.c_str());
  w.Key("date_pinned");
  w.String(iso_time(p.date_pinned_us, 6).c_str());
  w.Key("date_unpinned");
  w.String(p.pinned() ? kNeverUnpinned : iso_time(p.date_unpinned_us, 6).c_str());
  w.Key("pinned");
  w.Bool(p.pinned());
  w.Key("is_pin_by_hash");
  w.Bool(p.is_pin_by_hash);
  w.Key("sub_hash_status");
  w.String("DONE");
  w.Key("is_dir");
  w.Bool(p.is_dir);
  write_metadata(w, p.name, p.is_dir ? "" : p.mime_type, p.keyvalues);
  w.Key("status");
  w.String(p.pinned() ? "DONE" : "UNPINNED");
  w.EndObject();
}

// A pin-by-hash request that has not completed yet, shown as the pin object it will become.
void write_job(JsonWriter& w, const JobRecord& j, const std::string& user_id) {
  std::string status = j.status == "expired" ? "FAILED" : "PINNING";
  w.StartObject();
  w.Key("id");
  w.String(j.id.c_str());
  w.Key("file_record_id");
  w.String("");
  w.Key("root_hash");
  w.String(root_hash_hex(j.cid).c_str());
  w.Key("cid");
  w.String(j.cid.c_str());
  w.Key("size");
  w.Uint64(0);
  w.Key("user_id");
  w.String(user_id.c_str());
  w.Key("date_pinned");
  w.String(iso_time(j.date_queued_us, 6).c_str());
  w.Key("date_unpinned");
  w.String(kNeverUnpinned);
  w.Key("pinned");
  w.Bool(false);
  w.Key("is_pin_by_hash");
  w.Bool(true);
  w.Key("sub_hash_status");
  w.String(status.c_str());
  w.Key("is_dir");
  w.Bool(false);
  write_metadata(w, j.name, "", j.keyvalues);
  w.Key("status");
  w.String(status.c_str());
  w.EndObject();
}

template <typename F>
std::string envelope(F&& body) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("data");
  body(w);
  w.Key("status");
  w.String("success");
  w.EndObject();
  return sb.GetString();
}

struct Metadata {
  std::string name;
  KeyValues keyvalues;
};

Result<Metadata> parse_metadata(const rapidjson::Value& v) {
  Metadata m;
  if (v.IsNull()) return m;
  if (!v.IsObject()) return fail(EINVAL, "metadata must be an object");
  auto n = v.FindMember("name");
  if (n != v.MemberEnd() && n->value.IsString()) m.name = n->value.GetString();
  auto kv = v.FindMember("keyvalues");
  if (kv != v.MemberEnd() && kv->value.IsObject()) {
    for (auto& e : kv->value.GetObject()) {
      KvValue val;
      if (!kv_from_json(e.value, val))
        return fail(EINVAL, "keyvalues values must be strings, numbers or booleans");
      m.keyvalues[e.name.GetString()] = val;
    }
  }
  return m;
}

void upload(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
            Context& ctx) {
  if (!aioz_authorized(req, res, ctx.creds)) return;
  if (!req.is_multipart_form_data()) {
    aioz_error(res, 400, "expected multipart/form-data with a file part");
    return;
  }
  // AIOZ always produces CIDv1 with raw leaves, so parts stream straight into the importer.
  MultipartIngest ingest(*ctx.blocks, ctx.tmp_dir, [](const auto&) { return std::optional<int>(1); });
  if (!read_multipart(req, reader, ingest, ctx)) {
    aioz_error(res, 400, "invalid multipart body");
    return;
  }
  Metadata meta;
  if (auto it = ingest.fields().find("metadata"); it != ingest.fields().end() && !it->second.empty()) {
    rapidjson::Document d;
    d.Parse(it->second.c_str(), it->second.size());
    auto m =
        d.HasParseError() ? Result<Metadata>(fail(EINVAL, "metadata is not valid JSON")) : parse_metadata(d);
    if (!m) {
      aioz_error(res, 400, m.error().message);
      return;
    }
    meta = *m;
  }
  if (auto r = ingest.finish(1); !r) {
    aioz_error(res, 400, r.error().message);
    return;
  }
  auto root = build_upload_root(*ctx.blocks, ingest.files(), 1, false);
  if (!root) {
    aioz_error(res, 400, root.error().message);
    return;
  }
  ctx.stats.upload();
  PinRecord p;
  p.cid = root->cid.to_string();
  p.name = !meta.name.empty() ? meta.name : (root->name.empty() ? p.cid : root->name);
  p.keyvalues = meta.keyvalues;
  p.dag_size = root->dag_size;
  p.content_size = root->content_size;
  p.files = root->files;
  p.is_dir = root->is_dir;
  p.mime_type = root->mime_type;
  auto [pin, dup] = ctx.store->add_pin(p);
  if (ctx.jobs) ctx.jobs->wake();
  std::string user_id = ctx.store->user_id();
  json_reply(res, 201, envelope([&](JsonWriter& w) { write_pin(w, pin, user_id); }));
}

void pin_by_hash(const httplib::Request& req, httplib::Response& res, Context& ctx) {
  if (!aioz_authorized(req, res, ctx.creds)) return;
  rapidjson::Document d;
  d.Parse(req.body.c_str(), req.body.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("hash_to_pin") || !d["hash_to_pin"].IsString()) {
    aioz_error(res, 400, "hash_to_pin is required");
    return;
  }
  std::string cid_text = d["hash_to_pin"].GetString();
  if (auto c = cid::Cid::parse(cid_text); !c) {
    aioz_error(res, 400, "invalid cid: " + c.error().message);
    return;
  }
  rapidjson::Value null_value;
  auto meta = parse_metadata(d.HasMember("metadata") ? d["metadata"] : null_value);
  if (!meta) {
    aioz_error(res, 400, meta.error().message);
    return;
  }
  JobRecord job;
  job.id = new_uuid();
  job.cid = cid_text;
  job.name = meta->name;
  job.keyvalues = meta->keyvalues;
  job.date_queued_us = now_us();
  job.status = "prechecking";
  job.origin = "aioz";
  ctx.store->add_job(job);
  // Content already held pins at once, so the reply can say so.
  if (ctx.jobs) ctx.jobs->tick();
  std::string user_id = ctx.store->user_id();
  if (auto pin = ctx.store->get_pin(job.id)) {
    json_reply(res, 200, envelope([&](JsonWriter& w) { write_pin(w, *pin, user_id); }));
    return;
  }
  auto current = ctx.store->get_job(job.id).value_or(job);
  json_reply(res, 200, envelope([&](JsonWriter& w) { write_job(w, current, user_id); }));
}

void get_pin(const httplib::Request& req, httplib::Response& res, Context& ctx) {
  if (!aioz_authorized(req, res, ctx.creds)) return;
  std::string id = req.matches[1];
  std::string user_id = ctx.store->user_id();
  if (auto pin = ctx.store->get_pin(id)) {
    json_reply(res, 200, envelope([&](JsonWriter& w) { write_pin(w, *pin, user_id); }));
    return;
  }
  if (auto job = ctx.store->get_job(id)) {
    json_reply(res, 200, envelope([&](JsonWriter& w) { write_job(w, *job, user_id); }));
    return;
  }
  aioz_error(res, 404, "pin not found");
}

void list_pins(const httplib::Request& req, httplib::Response& res, Context& ctx) {
  if (!aioz_authorized(req, res, ctx.creds)) return;
  auto num = [&](const char* name, long long def) -> long long {
    if (!req.has_param(name)) return def;
    std::string v = req.get_param_value(name);
    char* end = nullptr;
    long long n = std::strtoll(v.c_str(), &end, 10);
    return (v.empty() || *end != '\0') ? -1 : n;
  };
  long long offset = num("offset", 0), limit = num("limit", 10);
  std::string pinned = req.has_param("pinned") ? req.get_param_value("pinned") : "all";
  std::string sort_by = req.has_param("sortBy") ? req.get_param_value("sortBy") : "created_at";
  std::string order = req.has_param("sortOrder") ? req.get_param_value("sortOrder") : "DESC";
  std::transform(order.begin(), order.end(), order.begin(), ::toupper);
  if (offset < 0 || limit < 1 || limit > 1000) {
    aioz_error(res, 400, "offset must be >= 0 and limit 1..1000");
    return;
  }
  if (pinned != "all" && pinned != "true" && pinned != "false") {
    aioz_error(res, 400, "pinned must be all, true or false");
    return;
  }
  if (sort_by != "created_at" && sort_by != "size" && sort_by != "name") {
    aioz_error(res, 400, "sortBy must be created_at, size or name");
    return;
  }
  if (order != "ASC" && order != "DESC") {
    aioz_error(res, 400, "sortOrder must be ASC or DESC");
    return;
  }
  std::string user_id = ctx.store->user_id();
  std::uint64_t total_size = 0;
  std::vector<const PinRecord*> rows;
  std::string body;
  ctx.store->with_pins([&](const std::vector<PinRecord>& pins) {
    for (auto& p : pins) {
      if (pinned == "true" && !p.pinned()) continue;
      if (pinned == "false" && p.pinned()) continue;
      rows.push_back(&p);
      total_size += p.content_size;
    }
    auto key_less = [&](const PinRecord* a, const PinRecord* b) {
      if (sort_by == "size") return a->content_size < b->content_size;
      if (sort_by == "name") return a->name < b->name;
      return a->date_pinned_us < b->date_pinned_us;
    };
    if (sort_by == "created_at") {  // the store keeps pins in date order: no sort of a million rows
      if (order == "DESC") std::reverse(rows.begin(), rows.end());
    } else {
      std::stable_sort(rows.begin(), rows.end(), [&](const PinRecord* a, const PinRecord* b) {
        return order == "ASC" ? key_less(a, b) : key_less(b, a);
      });
    }
    body = envelope([&](JsonWriter& w) {
      w.StartObject();
      w.Key("totals");
      w.StartObject();
      w.Key("files");
      w.Uint64(rows.size());
      w.Key("size");
      w.Uint64(total_size);
      w.EndObject();
      w.Key("pins");
      w.StartArray();
      for (std::size_t i = static_cast<std::size_t>(offset);
           i < rows.size() && i < static_cast<std::size_t>(offset + limit); ++i)
        write_pin(w, *rows[i], user_id);
      w.EndArray();
      w.EndObject();
    });
  });
  json_reply(res, 200, body);
}

void unpin(const httplib::Request& req, httplib::Response& res, Context& ctx) {
  if (!aioz_authorized(req, res, ctx.creds)) return;
  std::string id = req.matches[1];
  std::string user_id = ctx.store->user_id();
  if (auto pin = ctx.store->unpin_id(id)) {
    json_reply(res, 200, envelope([&](JsonWriter& w) { write_pin(w, *pin, user_id); }));
    return;
  }
  if (auto job = ctx.store->get_job(id); job && job->status != "pinned") {
    ctx.store->set_job_status(id, "expired");  // a cancelled request: it will never pin
    job->status = "expired";
    json_reply(res, 200, envelope([&](JsonWriter& w) { write_job(w, *job, user_id); }));
    return;
  }
  aioz_error(res, 404, "pin not found");
}

}  // namespace

void register_aioz(httplib::Server& svr, Context& ctx) {
  auto upload_handler = [&ctx](const httplib::Request& req, httplib::Response& res,
                               const httplib::ContentReader& reader) { upload(req, res, reader, ctx); };
  svr.Post("/api/pinning/?", upload_handler);
  svr.Post("/api/pinning/pinByHash/?",
           [&ctx](const httplib::Request& req, httplib::Response& res) { pin_by_hash(req, res, ctx); });
  svr.Get("/api/pinning/pins/?",
          [&ctx](const httplib::Request& req, httplib::Response& res) { list_pins(req, res, ctx); });
  svr.Delete("/api/pinning/unpin/([^/]+)",
             [&ctx](const httplib::Request& req, httplib::Response& res) { unpin(req, res, ctx); });
  svr.Get("/api/pinning/([^/]+)",
          [&ctx](const httplib::Request& req, httplib::Response& res) { get_pin(req, res, ctx); });
  svr.Get("/api/apiKeys/testAuthentication/?", [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!aioz_authorized(req, res, ctx.creds)) return;
    json_reply(res, 200, "{\"message\":\"Congratulations! You are communicating with the Web3 IPFS API!\"}");
  });
}

}  // namespace pinfs::emulator
