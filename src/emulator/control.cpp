// The loopback-only control API: /_emulator/faults and /_emulator/stats.
#include "pinfs/emulator/auth.hpp"
#include "pinfs/emulator/handlers.hpp"

namespace pinfs::emulator {

namespace {

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
  svr.Get("/_emulator/stats", [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!loopback(req, res)) return;
    json_reply(res, 200, ctx.stats.to_json());
  });
}

}  // namespace pinfs::emulator
