#include "pinfs/cli/config.hpp"

#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "pinfs/common/log.hpp"

namespace pinfs::cli {
namespace {

namespace fs = std::filesystem;

std::string home_dir(const EnvLookup& env) {
  if (auto home = env("HOME"); home && !home->empty()) return *home;
  return "/";
}

std::string expand_path(const std::string& value, const std::string& base_dir, const EnvLookup& env) {
  if (value == "~") return home_dir(env);
  if (value.rfind("~/", 0) == 0) return home_dir(env) + value.substr(1);
  fs::path p(value);
  if (p.is_absolute() || base_dir.empty()) return value;
  return (fs::path(base_dir) / p).lexically_normal().string();
}

std::string node_type(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    default:
      return "a date or time";
  }
}

struct ProfileParser {
  const std::string& path;
  std::string base_dir;
  const EnvLookup& env;

  std::string where(const std::string& profile, const std::string& key) const {
    return path + ": profile '" + profile + "', key '" + key + "'";
  }

  Result<std::string> string(const std::string& profile, const std::string& key, const toml::node& v) const {
    if (auto s = v.value<std::string>(); s && v.is_string()) return *s;
    return fail(EINVAL, where(profile, key) + " must be a string, not " + node_type(v));
  }
  Result<double> number(const std::string& profile, const std::string& key, const toml::node& v) const {
    if (v.is_integer() || v.is_floating_point()) return *v.value<double>();
    return fail(EINVAL, where(profile, key) + " must be a number, not " + node_type(v));
  }
  Result<std::int64_t> integer(const std::string& profile, const std::string& key,
                               const toml::node& v) const {
    if (v.is_integer()) return *v.value<std::int64_t>();
    return fail(EINVAL, where(profile, key) + " must be an integer, not " + node_type(v));
  }

  Result<Profile> parse(const std::string& name, const toml::table& table, bool file_private) const {
    Profile p;
    p.name = name;
    p.credentials.profile = name;
    p.credentials.config_file = path;
    p.credentials.config_private = file_private;
    for (auto&& [k, v] : table) {
      const std::string key(k.str());
      auto set_string = [&](std::optional<std::string>& out, bool is_path) -> Result<void> {
        auto s = string(name, key, v);
        if (!s) return std::unexpected(s.error());
        out = is_path ? expand_path(*s, base_dir, env) : *s;
        return {};
      };
      auto set_number = [&](std::optional<double>& out) -> Result<void> {
        auto n = number(name, key, v);
        if (!n) return std::unexpected(n.error());
        out = *n;
        return {};
      };
      Result<void> ok;
      if (key == "provider")
        ok = set_string(p.provider, false);
      else if (key == "api_url")
        ok = set_string(p.api_url, false);
      else if (key == "gateway_url")
        ok = set_string(p.gateway_url, false);
      else if (key == "cache_dir")
        ok = set_string(p.cache_dir, true);
      else if (key == "upload")
        ok = set_string(p.upload, false);
      else if (key == "ca_path")
        ok = set_string(p.ca_path, true);
      else if (key == "poll_interval")
        ok = set_number(p.poll_interval);
      else if (key == "rate_per_minute")
        ok = set_number(p.rate_per_minute);
      else if (key == "list_rate_per_minute")
        ok = set_number(p.list_rate_per_minute);
      else if (key == "jwt")
        ok = set_string(p.credentials.jwt, false);
      else if (key == "api_key")
        ok = set_string(p.credentials.api_key, false);
      else if (key == "api_secret")
        ok = set_string(p.credentials.api_secret, false);
      else if (key == "gateway_token")
        ok = set_string(p.credentials.gateway_token, false);
      else if (key == "jwt_file")
        ok = set_string(p.credentials.jwt_file, true);
      else if (key == "api_key_file")
        ok = set_string(p.credentials.api_key_file, true);
      else if (key == "api_secret_file")
        ok = set_string(p.credentials.api_secret_file, true);
      else if (key == "gateway_token_file")
        ok = set_string(p.credentials.gateway_token_file, true);
      else if (key == "cid_version") {
        auto n = integer(name, key, v);
        if (!n) return std::unexpected(n.error());
        p.cid_version = static_cast<int>(*n);
      } else if (key == "cache_max_bytes") {
        auto n = integer(name, key, v);
        if (!n) return std::unexpected(n.error());
        if (*n <= 0) return fail(EINVAL, where(name, key) + " must be positive");
        p.cache_max_bytes = static_cast<std::uint64_t>(*n);
      } else if (key == "transfers") {
        auto n = integer(name, key, v);
        if (!n) return std::unexpected(n.error());
        p.transfers = static_cast<int>(std::clamp<std::int64_t>(*n, -1, 1 << 20));
      } else if (key == "tls_verify") {
        if (!v.is_boolean())
          return fail(EINVAL, where(name, key) + " must be true or false, not " + node_type(v));
        p.tls_verify = *v.value<bool>();
      } else {
        return fail(EINVAL,
                    path + ": profile '" + name + "' has an unknown key '" + key +
                        "' (known: provider, api_url, gateway_url, cache_dir, upload, cid_version, "
                        "poll_interval, rate_per_minute, list_rate_per_minute, cache_max_bytes, transfers, "
                        "ca_path, tls_verify, jwt_file, api_key_file, api_secret_file, gateway_token_file)");
      }
      if (!ok) return std::unexpected(ok.error());
    }
    return p;
  }
};

Result<void> check_provider(const std::string& provider, const std::string& from) {
  if (provider_defaults(provider)) return {};
  return fail(EINVAL, "unknown provider '" + provider + "' from " + from + ": use pinata or aioz");
}

template <typename T>
T pick(const std::optional<T>& flag, const std::optional<T>& profile, T fallback) {
  if (flag) return *flag;
  if (profile) return *profile;
  return fallback;
}

template <typename T>
std::string origin(const std::optional<T>& flag, const Profile* profile,
                   const std::optional<T> Profile::*member, const std::string& flag_name) {
  if (flag) return flag_name;
  if (profile && (profile->*member)) return "profile '" + profile->name + "'";
  return "the default";
}

}  // namespace

const Profile* ConfigFile::find(const std::string& name) const {
  for (const auto& p : profiles)
    if (p.name == name) return &p;
  return nullptr;
}

Result<std::uint64_t> parse_size(const std::string& text) {
  std::size_t used = 0;
  std::uint64_t n = 0;
  while (used < text.size() && text[used] >= '0' && text[used] <= '9') {
    const std::uint64_t digit = static_cast<std::uint64_t>(text[used] - '0');
    if (n > (UINT64_MAX - digit) / 10) return fail(EINVAL, "'" + text + "' is too large");
    n = n * 10 + digit;
    ++used;
  }
  if (used == 0) return fail(EINVAL, "'" + text + "' is not a size (bytes, or a number with K, M, G or T)");
  std::string unit = text.substr(used);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && (unit.ends_with("IB") || unit.ends_with("B")))
    unit = unit.substr(0, unit.size() - (unit.ends_with("IB") ? 2 : 1));
  int shift = 0;
  if (unit == "K")
    shift = 10;
  else if (unit == "M")
    shift = 20;
  else if (unit == "G")
    shift = 30;
  else if (unit == "T")
    shift = 40;
  else if (!unit.empty() && unit != "B")
    return fail(EINVAL, "'" + text + "' has an unknown unit (use K, M, G or T)");
  if (n == 0) return fail(EINVAL, "'" + text + "' must be more than 0");
  if (shift > 0 && n > (UINT64_MAX >> shift)) return fail(EINVAL, "'" + text + "' is too large");
  return n << shift;
}

std::optional<ProviderDefaults> provider_defaults(const std::string& provider) {
  if (provider == "pinata")
    return ProviderDefaults{"https://api.pinata.cloud", "https://gateway.pinata.cloud"};
  if (provider == "aioz")
    return ProviderDefaults{"https://api.w3ipfs.storage/api", "https://gateway.w3ipfs.storage"};
  return std::nullopt;
}

// Debian's toml++ 3.3 classifies non-ASCII characters with tables that reach __builtin_unreachable on
// many of them (U+00A1-U+0499, U+2C8E-U+3087, U+FB36-U+FEFE among others) wherever its scanners meet
// one: bare ("ɛ"), in a number glued to a string (a=+"ɛ"), after a backslash in a multi-line string (found
// by tests/fuzz/config). It never classifies an ASCII character that way, so it is handed only ASCII:
// every string becomes a basic string with \u escapes (literal strings are quoted again), comments lose
// their non-ASCII characters, and one outside both is refused, as TOML allows none there. Line breaks are
// kept, so the library's errors still name the right line. Control characters are refused here too: TOML
// allows none but tab (and CR/LF as line ends), and toml++ trips an assertion on some.
static Result<std::string> ascii_toml(const std::string& text, const std::string& path) {
  enum class In { Toml, Comment, Basic, Literal, MlBasic, MlLiteral } in = In::Toml;
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  std::size_t line = 1, column = 1, i = 0;
  auto refuse = [&](const std::string& what) -> Result<std::string> {
    return fail(EINVAL, path + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + what);
  };
  auto run_of = [&](char q) {
    std::size_t n = 0;
    while (i + n < text.size() && text[i + n] == q) ++n;
    return n;
  };
  // One UTF-8 character at i: its code point and length, or 0 when the bytes are not UTF-8.
  auto decode = [&](std::uint32_t& cp) -> std::size_t {
    const auto b = static_cast<unsigned char>(text[i]);
    const std::size_t len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0;
    if (len == 0 || b > 0xF4 || i + len > text.size()) return 0;
    cp = b & (0x7Fu >> len);
    for (std::size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xC0u) != 0x80u) return 0;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    const std::uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
  };
  auto escaped = [](std::uint32_t cp) {
    char code[12];
    std::snprintf(code, sizeof code, cp > 0xFFFF ? "\\U%08X" : "\\u%04X", static_cast<unsigned>(cp));
    return std::string(code);
  };
  while (i < text.size()) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7f) {
      char code[8];
      std::snprintf(code, sizeof code, "0x%02x", u);
      return refuse(std::string("control character ") + code + " is not allowed in TOML");
    }
    std::size_t used = 1;
    if (u >= 0x80) {
      std::uint32_t cp = 0;
      used = decode(cp);
      if (used == 0) return refuse("not UTF-8 text");
      if (in == In::Toml)
        return refuse("a non-ASCII character outside a string or comment (quote the key or value)");
      if (in != In::Comment) out += escaped(cp);  // a comment's characters are dropped
    } else {
      switch (in) {
        case In::Toml:
          if (c == '#') {
            in = In::Comment;
          } else if (c == '"' || c == '\'') {
            const bool triple = run_of(c) >= 3;
            used = triple ? 3 : 1;
            in = c == '"' ? (triple ? In::MlBasic : In::Basic) : (triple ? In::MlLiteral : In::Literal);
            out.append(used, '"');
            break;
          }
          out += c;
          break;
        case In::Comment:
          if (c == '\n') in = In::Toml;
          out += c;
          break;
        case In::Basic:
        case In::MlBasic:
          if (c == '\\' && i + 1 < text.size()) {
            if (static_cast<unsigned char>(text[i + 1]) >= 0x80)
              return refuse("a backslash before a non-ASCII character is not a TOML escape");
            out += c;
            out += text[i + 1];
            used = 2;
          } else if (in == In::Basic && (c == '"' || c == '\n')) {
            in = In::Toml;
            out += c;
          } else if (in == In::MlBasic && c == '"' && run_of('"') >= 3) {
            used = std::min<std::size_t>(run_of('"'), 5);  // up to two quotes before the closing three
            out.append(used, '"');
            in = In::Toml;
          } else {
            out += c;
          }
          break;
        case In::Literal:
        case In::MlLiteral:
          if (in == In::Literal && (c == '\'' || c == '\n')) {
            in = In::Toml;
            out += c == '\'' ? '"' : c;
          } else if (in == In::MlLiteral && c == '\'' && run_of('\'') >= 3) {
            used = std::min<std::size_t>(run_of('\''), 5);
            out.append(used - 3, '\'');
            out += "\"\"\"";
            in = In::Toml;
          } else if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
          } else {
            out += c;
          }
          break;
      }
    }
    for (const auto end = i + used; i < end; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else if ((static_cast<unsigned char>(text[i]) & 0xC0u) != 0x80u) {
        ++column;
      }
    }
  }
  return out;
}

std::string default_config_path(const EnvLookup& env) {
  if (auto xdg = env("XDG_CONFIG_HOME"); xdg && !xdg->empty() && fs::path(*xdg).is_absolute())
    return *xdg + "/pinfs/config.toml";
  return home_dir(env) + "/.config/pinfs/config.toml";
}

std::string default_cache_dir(const EnvLookup& env, const std::string& name) {
  if (auto xdg = env("XDG_CACHE_HOME"); xdg && !xdg->empty() && fs::path(*xdg).is_absolute())
    return *xdg + "/pinfs/" + name;
  return home_dir(env) + "/.cache/pinfs/" + name;
}

Result<ConfigFile> parse_config_file(const std::string& path, const EnvLookup& env) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fail_errno("cannot read config file " + path);
  // Read and screened here rather than by toml::parse_file (ascii_toml() says why). A config file is
  // small; anything larger is a mistake.
  constexpr std::size_t kMaxConfigBytes = 1u << 20;
  if (st.st_size > static_cast<off_t>(kMaxConfigBytes))
    return fail(EFBIG, path + ": larger than 1 MiB; not a pinfs config file");
  std::string text;
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail_errno("cannot read config file " + path);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto ascii = ascii_toml(text, path);
  if (!ascii) return std::unexpected(ascii.error());
  toml::table root;
  try {
    root = toml::parse(*ascii, path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return fail(EINVAL, path + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) + ": " +
                            std::string(e.description()));
  }
  ConfigFile config;
  config.path = path;
  ProfileParser parser{path, fs::path(path).parent_path().string(), env};
  const bool file_private = (st.st_mode & 077) == 0;
  for (auto&& [k, v] : root) {
    const std::string key(k.str());
    if (key == "default_profile") {
      if (!v.is_string()) return fail(EINVAL, path + ": default_profile must be a string");
      config.default_profile = *v.value<std::string>();
    } else if (key == "profiles") {
      const toml::table* profiles = v.as_table();
      if (profiles == nullptr)
        return fail(EINVAL, path + ": 'profiles' must be a table of [profiles.NAME] tables");
      for (auto&& [name, table] : *profiles) {
        const toml::table* t = table.as_table();
        if (t == nullptr)
          return fail(EINVAL, path + ": profiles." + std::string(name.str()) + " must be a table");
        auto profile = parser.parse(std::string(name.str()), *t, file_private);
        if (!profile) return std::unexpected(profile.error());
        config.profiles.push_back(std::move(*profile));
      }
    } else {
      return fail(EINVAL, path + ": unknown top-level key '" + key +
                              "' (expected default_profile and [profiles.NAME] tables)");
    }
  }
  return config;
}

Result<MountConfig> resolve_mount_config(const MountFlags& flags, const EnvLookup& env) {
  MountConfig out;
  std::optional<ConfigFile> config;
  const std::string config_path = flags.config_file ? *flags.config_file : default_config_path(env);
  std::error_code ec;
  if (flags.config_file || fs::exists(config_path, ec)) {
    auto parsed = parse_config_file(config_path, env);
    if (!parsed) return std::unexpected(parsed.error());
    config = std::move(*parsed);
    out.config_file = config_path;
    spdlog::debug("config: read {}", config_path);
  }

  const Profile* profile = nullptr;
  std::optional<std::string> profile_name = flags.profile;
  if (!profile_name && config) profile_name = config->default_profile;
  if (profile_name) {
    if (!config) {
      return fail(ENOENT, "profile '" + *profile_name + "' asked for, but there is no config file " +
                              config_path + " (create it with a [profiles." + *profile_name +
                              "] table, or pass --config FILE)");
    }
    profile = config->find(*profile_name);
    if (profile == nullptr) {
      std::string names;
      for (const auto& p : config->profiles) names += (names.empty() ? "" : ", ") + p.name;
      return fail(ENOENT,
                  config_path + " has no profile '" + *profile_name + "'" +
                      (names.empty() ? std::string(" (it defines none)") : " (it has: " + names + ")"));
    }
    out.profile = *profile_name;
  }
  const std::optional<std::string> none_s;
  const std::optional<double> none_d;
  const std::optional<int> none_i;
  auto prof_s = [&](std::optional<std::string> Profile::*m) -> const std::optional<std::string>& {
    return profile ? profile->*m : none_s;
  };
  auto prof_d = [&](std::optional<double> Profile::*m) -> const std::optional<double>& {
    return profile ? profile->*m : none_d;
  };

  auto& svc = out.service;
  svc.provider = pick<std::string>(flags.provider, prof_s(&Profile::provider), "pinata");
  if (auto ok =
          check_provider(svc.provider, origin(flags.provider, profile, &Profile::provider, "--provider"));
      !ok)
    return std::unexpected(ok.error());
  const ProviderDefaults defaults = *provider_defaults(svc.provider);
  svc.api_url = pick<std::string>(flags.api_url, prof_s(&Profile::api_url), defaults.api_url);
  svc.gateway_url = pick<std::string>(flags.gateway_url, prof_s(&Profile::gateway_url), defaults.gateway_url);
  for (std::string* url : {&svc.api_url, &svc.gateway_url}) {
    if (url->rfind("http://", 0) != 0 && url->rfind("https://", 0) != 0)
      return fail(EINVAL, "'" + *url + "' is not an http:// or https:// URL");
    while (url->size() > 8 && url->back() == '/') url->pop_back();
  }
  svc.rate_per_minute = flags.rate_per_minute ? flags.rate_per_minute : prof_d(&Profile::rate_per_minute);
  svc.list_rate_per_minute =
      flags.list_rate_per_minute ? flags.list_rate_per_minute : prof_d(&Profile::list_rate_per_minute);
  if (profile) {
    if (profile->ca_path) svc.ca_path = *profile->ca_path;
    if (profile->tls_verify) svc.tls_verify = *profile->tls_verify;
  }
  for (const auto& rate : {svc.rate_per_minute, svc.list_rate_per_minute})
    if (rate && !(*rate > 0))
      return fail(EINVAL, "rate_per_minute and list_rate_per_minute must be positive (requests per minute)");

  auto& v = out.vfs;
  if (flags.cache_dir) {
    v.cache_dir = fs::absolute(expand_path(*flags.cache_dir, "", env), ec).lexically_normal().string();
  } else if (profile && profile->cache_dir) {
    v.cache_dir = *profile->cache_dir;
  } else {
    v.cache_dir = default_cache_dir(env, out.profile.empty() ? svc.provider : out.profile);
  }
  const std::string upload = pick<std::string>(flags.upload, prof_s(&Profile::upload), "sync");
  if (upload == "sync") {
    v.upload = vfs::UploadMode::Sync;
  } else if (upload == "async") {
    v.upload = vfs::UploadMode::Async;
  } else {
    return fail(EINVAL, "upload mode '" + upload + "' from " +
                            origin(flags.upload, profile, &Profile::upload, "--upload") +
                            ": use sync or async");
  }
  v.cid_version = pick<int>(flags.cid_version, profile ? profile->cid_version : none_i, 1);
  if (v.cid_version != 0 && v.cid_version != 1)
    return fail(EINVAL, "cid_version " + std::to_string(v.cid_version) + ": use 0 or 1");
  const double poll = pick<double>(flags.poll_interval, prof_d(&Profile::poll_interval), 60.0);
  if (!(poll > 0) || poll > 86400.0 * 365)
    return fail(EINVAL, "poll interval " + std::to_string(poll) + " s: must be positive (seconds)");
  v.poll_interval = std::chrono::seconds(static_cast<std::int64_t>(std::ceil(poll)));
  if (flags.persistent_index) v.persistent_index = *flags.persistent_index;
  if (flags.reconcile_interval) {
    const double every = *flags.reconcile_interval;
    if (!(every >= 0) || every > 86400.0 * 365)
      return fail(EINVAL,
                  "reconcile interval " + std::to_string(every) + " s: must be 0 or positive (seconds)");
    v.reconcile_interval = std::chrono::seconds(static_cast<std::int64_t>(std::ceil(every)));
  }
  if (profile && profile->cache_max_bytes) v.cache_max_bytes = *profile->cache_max_bytes;
  const int transfers = pick<int>(flags.transfers, profile ? profile->transfers : none_i, 4);
  if (transfers < 1 || transfers > 64)
    return fail(EINVAL, "transfers " + std::to_string(transfers) + " from " +
                            origin(flags.transfers, profile, &Profile::transfers, "--transfers") +
                            ": use 1 to 64 (async uploads at once)");
  v.transfers = static_cast<unsigned>(transfers);
  if (flags.cache_size) {
    auto size = parse_size(*flags.cache_size);
    if (!size) return fail(EINVAL, "--cache-size: " + size.error().message);
    v.cache_max_bytes = *size;
  }
  v.uid = ::getuid();
  v.gid = ::getgid();

  CredentialRequest request;
  request.provider = svc.provider;
  request.credentials_file = flags.credentials_file;
  request.profile = profile ? &profile->credentials : nullptr;
  auto creds = load_credentials(request, env);
  if (!creds) return std::unexpected(creds.error());
  svc.credentials = std::move(creds->credentials);
  out.credentials_source = std::move(creds->source);
  out.credentials_fix = std::move(creds->fix);
  spdlog::debug("config: provider {} api {} gateway {} cache {} upload {} cid v{} poll {}s", svc.provider,
                svc.api_url, svc.gateway_url, v.cache_dir, upload, v.cid_version, v.poll_interval.count());
  return out;
}

}  // namespace pinfs::cli
