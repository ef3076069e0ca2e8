// The loopback-only control API: /_emulator/faults, /_emulator/stats and /_emulator/pins/bulk.
#include <chrono>

#include "pinfs/emulator/auth.hpp"
#include "pinfs/emulator/handlers.hpp"

namespace pinfs::emulator {

namespace {

constexpr std::uint64_t kMaxBulkPins = 10'000'000;

bool loopback(const httplib::Request& req, httplib::Response& res) {
  const std::string& a = req.remote_addr;
  if (a.rfind("127.", 0) == 0 || a == "::1" || a.rfind("::ffff:127.", 0) == 0) return true;
  json_reply(res, 403, "{\"error\":\"the control API answers loopback callers only\"}");
  return false;
}

}  // namespace

void register_control(httplib::Server& svr, Context& ctx) {
  svr.Post("/_emulator/faults", [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!loopback(req, res)) return;
    auto ids = ctx.faults.add_json(req.body);
    if (!ids) {
      json_reply(res, 400, "{\"error\":" + json_escape_string(ids.error().message) + "}");
      return;
    }
    std::string out = "{\"added\":[";
    for (std::size_t i = 0; i < ids->size(); ++i) {
      if (i) out += ',';
      out += json_escape_string((*ids)[i]);  // appended: GCC 12 -O3 misreports `"," + s` (-Wrestrict)
    }
    json_reply(res, 200, out + "]}");
  });
  svr.Delete("/_emulator/faults", [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!loopback(req, res)) return;
    ctx.faults.clear();
    json_reply(res, 200, "{\"cleared\":true}");
  });
  svr.Get("/_emulator/faults", [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!loopback(req, res)) return;
    json_reply(res, 200, ctx.faults.to_json());
  });
  // {"count": N, "prefix": "bulk-", "span_days": 365}: N real pins at once (docs/EMULATOR.md).
  svr.Post("/_emulator/pins/bulk", [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!loopback(req, res)) return;
    rapidjson::Document d;
    d.Parse(req.body.c_str(), req.body.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("count") || !d["count"].IsUint64() ||
        d["count"].GetUint64() > kMaxBulkPins) {
      json_reply(res, 400,
                 "{\"error\":\"body must be {\\\"count\\\": N} with N <= " + std::to_string(kMaxBulkPins) +
                     ", optionally \\\"prefix\\\" and \\\"span_days\\\"\"}");
      return;
    }
    std::string prefix = "bulk-";
    if (d.HasMember("prefix") && d["prefix"].IsString()) prefix = d["prefix"].GetString();
    std::int64_t span_days = 365;
    if (d.HasMember("span_days") && d["span_days"].IsInt64() && d["span_days"].GetInt64() > 0)
      span_days = d["span_days"].GetInt64();
    const auto started = std::chrono::steady_clock::now();
    auto total = ctx.store->add_bulk(d["count"].GetUint64(), prefix, span_days * 86400);
    if (!total) {
      json_reply(res, 500, "{\"error\":" + json_escape_string(total.error().describe()) + "}");
      return;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    json_reply(res, 200,
               "{\"created\":" + std::to_string(d["count"].GetUint64()) + ",\"with_prefix\":" +
                   std::to_string(*total) + ",\"seconds\":" + std::to_string(seconds) + "}");
  });
  svr.Get("/_emulator/stats", [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!loopback(req, res)) return;
    json_reply(res, 200, ctx.stats.to_json());
  });
}

}  // namespace pinfs::emulator
