#include "pinfs/emulator/faults.hpp"

#include "pinfs/emulator/json_util.hpp"

namespace pinfs::emulator {

namespace {

struct ActionName {
  FaultAction action;
  const char* name;
};
constexpr ActionName kActions[] = {
    {FaultAction::Status, "status"},
    {FaultAction::Stall, "stall"},
    {FaultAction::ResetRequest, "reset_request"},
    {FaultAction::ResetResponse, "reset_response"},
    {FaultAction::Truncate, "truncate"},
    {FaultAction::Malformed, "malformed"},
    {FaultAction::WrongCid, "wrong_cid"},
};

Result<FaultRule> parse_rule(const rapidjson::Value& v) {
  if (!v.IsObject()) return fail(EINVAL, "a fault rule must be a JSON object");
  FaultRule r;
  auto get_str = [&](const char* k) -> std::optional<std::string> {
    auto it = v.FindMember(k);
    if (it == v.MemberEnd() || !it->value.IsString()) return std::nullopt;
    return std::string(it->value.GetString(), it->value.GetStringLength());
  };
  auto get_num = [&](const char* k) -> std::optional<double> {
    auto it = v.FindMember(k);
    if (it == v.MemberEnd() || !it->value.IsNumber()) return std::nullopt;
    return it->value.GetDouble();
  };
  r.method = get_str("method").value_or("");
  if (r.method == "*") r.method.clear();
  r.path_prefix = get_str("path_prefix").value_or(get_str("path").value_or(""));
  auto action = get_str("action");
  if (!action) return fail(EINVAL, "a fault rule needs \"action\"");
  bool found = false;
  for (auto& a : kActions)
    if (*action == a.name) {
      r.action = a.action;
      found = true;
    }
  if (*action == "reset") {
    auto during = get_str("during").value_or("response");
    r.action = during == "request" ? FaultAction::ResetRequest : FaultAction::ResetResponse;
    found = true;
  }
  if (!found) return fail(EINVAL, "unknown fault action: " + *action);
  if (auto n = get_num("status")) r.status = static_cast<int>(*n);
  if (r.status < 100 || r.status > 599) return fail(EINVAL, "status must be 100..599");
  if (auto n = get_num("retry_after")) r.retry_after = static_cast<int>(*n);
  r.body = get_str("body").value_or("");
  if (auto n = get_num("after_bytes")) r.after_bytes = static_cast<std::uint64_t>(*n);
  if (auto n = get_num("stall_ms")) r.stall_ms = static_cast<int>(*n);
  if (auto n = get_num("ms")) r.stall_ms = static_cast<int>(*n);
  if (auto n = get_num("times")) r.times = static_cast<int>(*n);
  if (auto n = get_num("probability")) r.probability = *n;
  if (r.probability < 0 || r.probability > 1) return fail(EINVAL, "probability must be within 0..1");
  if (r.times == 0) return fail(EINVAL, "times must be positive (omit it for unlimited)");
  return r;
}

}  // namespace

const char* fault_action_name(FaultAction a) {
  for (auto& x : kActions)
    if (x.action == a) return x.name;
  return "?";
}

Result<std::vector<std::string>> Faults::add_json(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  if (d.HasParseError()) return fail(EINVAL, "fault rules: invalid JSON");
  std::vector<FaultRule> parsed;
  const rapidjson::Value* list = &d;
  if (d.IsObject() && d.HasMember("rules")) list = &d["rules"];
  if (list->IsArray()) {
    for (auto& v : list->GetArray()) {
      auto r = parse_rule(v);
      if (!r) return std::unexpected(r.error());
      parsed.push_back(std::move(*r));
    }
  } else {
    auto r = parse_rule(*list);
    if (!r) return std::unexpected(r.error());
    parsed.push_back(std::move(*r));
  }
  std::lock_guard lock(mu_);
  std::vector<std::string> ids;
  for (auto& r : parsed) {
    r.id = "fault-" + std::to_string(next_id_++);
    ids.push_back(r.id);
    rules_.push_back(std::move(r));
  }
  return ids;
}

void Faults::clear() {
  std::lock_guard lock(mu_);
  rules_.clear();
}

std::optional<FaultRule> Faults::match(const std::string& method, const std::string& path) {
  std::lock_guard lock(mu_);
  for (auto it = rules_.begin(); it != rules_.end(); ++it) {
    if (!it->method.empty() && it->method != method) continue;
    if (path.compare(0, it->path_prefix.size(), it->path_prefix) != 0) continue;
    if (it->probability < 1.0) {
      std::uniform_real_distribution<double> u(0.0, 1.0);
      if (u(rng_) >= it->probability) continue;
    }
    ++it->fired;
    FaultRule fired = *it;
    if (it->times > 0 && --it->times == 0) rules_.erase(it);
    return fired;
  }
  return std::nullopt;
}

std::string Faults::to_json() const {
  std::lock_guard lock(mu_);
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("rules");
  w.StartArray();
  for (auto& r : rules_) {
    w.StartObject();
    w.Key("id");
    w.String(r.id.c_str());
    w.Key("method");
    w.String(r.method.c_str());
    w.Key("path_prefix");
    w.String(r.path_prefix.c_str());
    w.Key("action");
    w.String(fault_action_name(r.action));
    w.Key("status");
    w.Int(r.status);
    w.Key("retry_after");
    w.Int(r.retry_after);
    w.Key("after_bytes");
    w.Uint64(r.after_bytes);
    w.Key("stall_ms");
    w.Int(r.stall_ms);
    w.Key("times");
    w.Int(r.times);
    w.Key("probability");
    w.Double(r.probability);
    w.Key("fired");
    w.Uint64(r.fired);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return sb.GetString();
}

}  // namespace pinfs::emulator
