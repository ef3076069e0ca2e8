#include "pinfs/emulator/pin_query.hpp"

#include <algorithm>
#include <cstdlib>

namespace pinfs::emulator {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::optional<double> as_number(const KvValue& v) {
  if (v.type == KvValue::Type::Number) return v.num;
  if (v.type != KvValue::Type::String || v.str.empty()) return std::nullopt;
  char* end = nullptr;
  double d = std::strtod(v.str.c_str(), &end);
  if (end != v.str.c_str() + v.str.size()) return std::nullopt;
  return d;
}

// <0, 0, >0 like strcmp: numbers numerically, ISO dates by time, everything else as text.
int compare(const KvValue& a, const KvValue& b) {
  auto na = as_number(a), nb = as_number(b);
  if (na && nb) return *na < *nb ? -1 : (*na > *nb ? 1 : 0);
  std::string sa = kv_as_text(a), sb = kv_as_text(b);
  if (sa.size() >= 10 && sb.size() >= 10) {
    auto da = parse_iso(sa), db = parse_iso(sb);
    if (da && db) return *da < *db ? -1 : (*da > *db ? 1 : 0);
  }
  return sa.compare(sb);
}

std::regex like_to_regex(const std::string& pattern, bool icase) {
  std::string re;
  for (char c : pattern) {
    if (c == '%') {
      re += ".*";
    } else if (c == '_') {
      re += '.';
    } else if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) {
      re += '\\';
      re += c;
    } else {
      re += c;
    }
  }
  auto flags = std::regex::ECMAScript;
  if (icase) flags |= std::regex::icase;
  return std::regex(re, flags);
}

Result<KvCondition> parse_condition(const std::string& key, const rapidjson::Value& spec) {
  static const char* ops[] = {"gt",         "gte",  "lt",      "lte",   "ne",       "eq",     "between",
                              "notBetween", "like", "notLike", "iLike", "notILike", "regexp", "iRegexp"};
  KvCondition c;
  c.key = key;
  if (!spec.IsObject())
    return fail(EINVAL, "metadata[keyvalues] condition for '" + key + "' must be an object");
  auto op = spec.FindMember("op");
  c.op = op != spec.MemberEnd() && op->value.IsString() ? op->value.GetString() : "eq";
  if (std::find_if(std::begin(ops), std::end(ops), [&](const char* o) { return c.op == o; }) == std::end(ops))
    return fail(EINVAL, "unknown keyvalues op: " + c.op);
  auto val = spec.FindMember("value");
  if (val == spec.MemberEnd() || !kv_from_json(val->value, c.value))
    return fail(EINVAL, "keyvalues condition for '" + key + "' needs a value");
  if (c.op == "between" || c.op == "notBetween") {
    auto sec = spec.FindMember("secondValue");
    KvValue second;
    if (sec == spec.MemberEnd() || !kv_from_json(sec->value, second))
      return fail(EINVAL, c.op + " needs a secondValue");
    c.second = second;
  }
  try {
    std::string text = kv_as_text(c.value);
    if (c.op == "like" || c.op == "notLike") c.pattern = like_to_regex(text, false);
    if (c.op == "iLike" || c.op == "notILike") c.pattern = like_to_regex(text, true);
    if (c.op == "regexp") c.pattern = std::regex(text, std::regex::ECMAScript);
    if (c.op == "iRegexp") c.pattern = std::regex(text, std::regex::ECMAScript | std::regex::icase);
  } catch (const std::regex_error&) {
    return fail(EINVAL, "invalid pattern for '" + key + "'");
  }
  return c;
}

bool condition_matches(const KvCondition& c, const KeyValues& kvs) {
  auto it = kvs.find(c.key);
  if (it == kvs.end()) return false;  // SQL semantics: a missing key matches no operator
  const KvValue& v = it->second;
  if (c.op == "eq") return compare(v, c.value) == 0;
  if (c.op == "ne") return compare(v, c.value) != 0;
  if (c.op == "gt") return compare(v, c.value) > 0;
  if (c.op == "gte") return compare(v, c.value) >= 0;
  if (c.op == "lt") return compare(v, c.value) < 0;
  if (c.op == "lte") return compare(v, c.value) <= 0;
  if (c.op == "between") return compare(v, c.value) >= 0 && compare(v, *c.second) <= 0;
  if (c.op == "notBetween") return !(compare(v, c.value) >= 0 && compare(v, *c.second) <= 0);
  std::string text = kv_as_text(v);
  if (c.op == "like" || c.op == "iLike") return std::regex_match(text, *c.pattern);
  if (c.op == "notLike" || c.op == "notILike") return !std::regex_match(text, *c.pattern);
  if (c.op == "regexp" || c.op == "iRegexp") return std::regex_search(text, *c.pattern);
  return false;
}

Result<void> add_conditions(PinFilter& f, const std::string& json,
                            const std::optional<std::string>& single_key) {
  rapidjson::Document d;
  d.Parse(json.c_str(), json.size());
  if (d.HasParseError() || !d.IsObject()) return fail(EINVAL, "metadata[keyvalues] must be a JSON object");
  if (single_key) {
    auto c = parse_condition(*single_key, d);
    if (!c) return std::unexpected(c.error());
    f.kvs.push_back(std::move(*c));
    return {};
  }
  for (auto& m : d.GetObject()) {
    auto c = parse_condition(std::string(m.name.GetString(), m.name.GetStringLength()), m.value);
    if (!c) return std::unexpected(c.error());
    f.kvs.push_back(std::move(*c));
  }
  return {};
}

}  // namespace

Result<PinFilter> parse_pin_filter(const httplib::Request& req) {
  PinFilter f;
  auto date = [&](const char* name, std::optional<std::int64_t>& out) -> Result<void> {
    if (!req.has_param(name)) return {};
    auto t = parse_iso(req.get_param_value(name));
    if (!t) return fail(EINVAL, std::string(name) + " must be an ISO 8601 date");
    out = *t;
    return {};
  };
  auto size = [&](const char* name, std::optional<std::uint64_t>& out) -> Result<void> {
    if (!req.has_param(name)) return {};
    std::string v = req.get_param_value(name);
    char* end = nullptr;
    unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0') return fail(EINVAL, std::string(name) + " must be an integer");
    out = n;
    return {};
  };
  for (auto r :
       {date("pinStart", f.pin_start), date("pinEnd", f.pin_end), date("unpinStart", f.unpin_start),
        date("unpinEnd", f.unpin_end), size("pinSizeMin", f.size_min), size("pinSizeMax", f.size_max)})
    if (!r) return std::unexpected(r.error());
  if (req.has_param("cid")) f.cid_exact = req.get_param_value("cid");
  if (req.has_param("hashContains")) f.hash_contains = req.get_param_value("hashContains");
  if (req.has_param("status")) {
    f.status = req.get_param_value("status");
    if (f.status != "all" && f.status != "pinned" && f.status != "unpinned")
      return fail(EINVAL, "status must be all, pinned or unpinned");
  }
  if (req.has_param("metadata[name]")) f.name_contains = lower(req.get_param_value("metadata[name]"));
  const std::string prefix = "metadata[keyvalues]";
  for (auto& [k, v] : req.params) {
    if (k.rfind(prefix, 0) != 0) continue;
    std::string rest = k.substr(prefix.size());
    Result<void> r;
    if (rest.empty()) {
      r = add_conditions(f, v, std::nullopt);
    } else if (rest.size() > 2 && rest.front() == '[' && rest.back() == ']') {
      r = add_conditions(f, v, rest.substr(1, rest.size() - 2));
    } else {
      return fail(EINVAL, "unrecognised query parameter " + k);
    }
    if (!r) return std::unexpected(r.error());
  }
  return f;
}

bool PinFilter::matches(const PinRecord& p) const {
  // Pinata reports dates in milliseconds; compare at that precision so a reported date is inclusive.
  const std::int64_t pinned_ms = p.date_pinned_us / 1000 * 1000;
  const std::int64_t unpinned_ms = p.date_unpinned_us / 1000 * 1000;
  if (status == "pinned" && !p.pinned()) return false;
  if (status == "unpinned" && p.pinned()) return false;
  if (cid_exact && p.cid != *cid_exact) return false;
  if (hash_contains && p.cid.find(*hash_contains) == std::string::npos) return false;
  if (pin_start && pinned_ms < *pin_start) return false;
  if (pin_end && pinned_ms > *pin_end) return false;
  if (unpin_start && (p.pinned() || unpinned_ms < *unpin_start)) return false;
  if (unpin_end && (p.pinned() || unpinned_ms > *unpin_end)) return false;
  if (size_min && p.dag_size < *size_min) return false;
  if (size_max && p.dag_size > *size_max) return false;
  if (name_contains && lower(p.name).find(*name_contains) == std::string::npos) return false;
  for (auto& c : kvs)
    if (!condition_matches(c, p.keyvalues)) return false;
  return true;
}

}  // namespace pinfs::emulator
