#include "pinfs/cli/credentials.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <utility>
#include <vector>

#include "pinfs/common/log.hpp"

namespace pinfs::cli {
namespace {

constexpr std::size_t kMaxSecretFile = 64 * 1024;

std::string trim(std::string_view s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  auto begin = std::find_if(s.begin(), s.end(), not_space);
  auto end = std::find_if(s.rbegin(), s.rend(), not_space).base();
  return begin < end ? std::string(begin, end) : std::string();
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string mode_string(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Reads a whole small file through one descriptor, so the mode checked is the mode of what is read.
Result<std::string> read_small_file(const std::string& path, bool require_private) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return fail_errno("cannot open credentials file " + path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    auto e = fail_errno("cannot stat credentials file " + path);
    ::close(fd);
    return e;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(EINVAL, "credentials file " + path + " is not a regular file");
  }
  if (require_private && (st.st_mode & 077) != 0) {
    ::close(fd);
    return fail(EACCES, "credentials file " + path + " is readable by other users (mode " +
                            mode_string(st.st_mode) +
                            "); pinfs only reads secrets from files private to their owner: run `chmod 600 " +
                            path + "`");
  }
  if (st.st_size > static_cast<off_t>(kMaxSecretFile)) {
    ::close(fd);
    return fail(EFBIG, "credentials file " + path + " is larger than 64 KiB: is it the right file?");
  }
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto e = fail_errno("cannot read credentials file " + path);
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxSecretFile) break;
  }
  ::close(fd);
  return text;
}

std::string unquote(std::string value) {
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front())
    return value.substr(1, value.size() - 2);
  return value;
}

// Maps the names people already use for these secrets (ours, Pinata's headers, AIOZ's headers).
std::string* field_for(service::Credentials& creds, const std::string& key) {
  std::string k = lower(key);
  if (k.rfind("pinfs_", 0) == 0) k = k.substr(6);
  if (k == "jwt") return &creds.jwt;
  if (k == "api_key" || k == "pinata_api_key" || k == "pinning_api_key") return &creds.api_key;
  if (k == "api_secret" || k == "pinata_secret_api_key" || k == "pinning_secret_key" || k == "secret_api_key")
    return &creds.api_secret;
  if (k == "gateway_token") return &creds.gateway_token;
  return nullptr;
}

void register_secrets(const service::Credentials& creds) {
  for (const auto* s : {&creds.jwt, &creds.api_key, &creds.api_secret, &creds.gateway_token})
    if (!s->empty()) log::add_secret(*s);
}

bool is_aioz(const std::string& provider) {
  return provider == "aioz";
}

// Checks the set found in one place is usable for the provider; names what is missing in that place.
Result<void> check_complete(const service::Credentials& creds, const std::string& provider,
                            const std::string& jwt_name, const std::string& key_name,
                            const std::string& secret_name) {
  if (!creds.api_key.empty() && creds.api_secret.empty())
    return fail(EINVAL, key_name + " is set but " + secret_name + " is not: an API key needs its secret");
  if (creds.api_key.empty() && !creds.api_secret.empty())
    return fail(EINVAL, secret_name + " is set but " + key_name + " is not: an API secret needs its key");
  if (is_aioz(provider) && creds.api_key.empty()) {
    return fail(EINVAL,
                "AIOZ W3IPFS takes an API key pair (pinning_api_key, pinning_secret_key), not a JWT: set " +
                    key_name + " and " + secret_name);
  }
  if (creds.jwt.empty() && creds.api_key.empty())
    return fail(EINVAL, "no credentials found: set " + jwt_name + " or " + key_name + " and " + secret_name);
  return {};
}

std::string env_source(const service::Credentials& creds, const std::string& provider) {
  if (!creds.jwt.empty() && !is_aioz(provider)) return "PINFS_JWT";
  return "PINFS_API_KEY/PINFS_API_SECRET";
}

std::string env_fix(const service::Credentials& creds, const std::string& provider) {
  if (!creds.jwt.empty() && !is_aioz(provider))
    return "set PINFS_JWT to a valid JWT or use --credentials-file";
  return "set PINFS_API_KEY and PINFS_API_SECRET to a valid key pair or use --credentials-file";
}

Result<LoadedCredentials> from_credentials_file(const std::string& path, const std::string& provider) {
  spdlog::debug("credentials: reading --credentials-file {}", path);
  auto creds = read_credentials_file(path);
  if (!creds) return std::unexpected(creds.error());
  register_secrets(*creds);
  if (auto ok = check_complete(*creds, provider, "jwt", "api_key", "api_secret"); !ok)
    return fail(ok.error().errnum, "--credentials-file " + path + ": " + ok.error().message);
  return LoadedCredentials{
      *creds, "--credentials-file " + path,
      "put a valid " + std::string(is_aioz(provider) ? "api_key and api_secret" : "jwt") + " in " + path};
}

Result<LoadedCredentials> from_profile(const ProfileCredentials& p, const std::string& provider) {
  const std::string where = "profile '" + p.profile + "' in " + p.config_file;
  service::Credentials creds;
  std::vector<std::string> keys_used;
  struct Slot {
    const char* key;
    const std::optional<std::string>* inline_value;
    const std::optional<std::string>* file;
    std::string* out;
  };
  const Slot slots[] = {{"jwt", &p.jwt, &p.jwt_file, &creds.jwt},
                        {"api_key", &p.api_key, &p.api_key_file, &creds.api_key},
                        {"api_secret", &p.api_secret, &p.api_secret_file, &creds.api_secret},
                        {"gateway_token", &p.gateway_token, &p.gateway_token_file, &creds.gateway_token}};
  for (const Slot& slot : slots) {
    if (*slot.file) {
      spdlog::debug("credentials: {}: reading {}_file {}", where, slot.key, **slot.file);
      auto secret = read_secret_file(**slot.file);
      if (!secret)
        return fail(secret.error().errnum, where + ": " + slot.key + "_file: " + secret.error().message);
      *slot.out = *secret;
      keys_used.push_back(std::string(slot.key) + "_file " + **slot.file);
    } else if (*slot.inline_value) {
      if (!p.config_private) {
        return fail(EACCES, where + " holds " + slot.key +
                                " but the file is readable by other users: run `chmod 600 " + p.config_file +
                                "`, or move the secret into a 0600 file named by " + slot.key + "_file");
      }
      *slot.out = **slot.inline_value;
      keys_used.push_back(slot.key);
    }
  }
  register_secrets(creds);
  if (auto ok = check_complete(creds, provider, "jwt_file", "api_key_file", "api_secret_file"); !ok)
    return fail(ok.error().errnum, where + ": " + ok.error().message);
  std::string used;
  for (const auto& k : keys_used) used += (used.empty() ? "" : ", ") + k;
  return LoadedCredentials{creds, where + " (" + used + ")",
                           "fix the credentials of profile '" + p.profile + "' in " + p.config_file +
                               " or use --credentials-file"};
}

// systemd's LoadCredential=/SetCredential= files; systemd already keeps them private to the service.
Result<std::optional<LoadedCredentials>> from_systemd(const std::string& dir, const std::string& provider) {
  service::Credentials creds;
  std::vector<std::string> found;
  for (const char* name : {"jwt", "api_key", "api_secret", "gateway_token"}) {
    std::string path = dir + "/" + name;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) continue;
    auto text = read_small_file(path, false);
    if (!text) return std::unexpected(text.error());
    *field_for(creds, name) = trim(*text);
    found.emplace_back(name);
  }
  if (found.empty()) {
    spdlog::debug("credentials: $CREDENTIALS_DIRECTORY {} has no jwt, api_key or api_secret", dir);
    return std::optional<LoadedCredentials>{};
  }
  register_secrets(creds);
  if (auto ok = check_complete(creds, provider, "credential 'jwt'", "credential 'api_key'",
                               "credential 'api_secret'");
      !ok)
    return fail(ok.error().errnum, "systemd credentials in " + dir + ": " + ok.error().message);
  std::string names;
  for (const auto& n : found) names += (names.empty() ? "" : ", ") + n;
  return std::optional<LoadedCredentials>{
      LoadedCredentials{creds, "systemd credentials in $CREDENTIALS_DIRECTORY (" + names + ")",
                        "update the credentials the unit passes with LoadCredential= or SetCredential="}};
}

}  // namespace

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Result<std::string> read_secret_file(const std::string& path) {
  auto text = read_small_file(path, true);
  if (!text) return text;
  std::string secret = trim(*text);
  if (secret.empty()) return fail(EINVAL, "credentials file " + path + " is empty");
  return secret;
}

Result<service::Credentials> read_credentials_file(const std::string& path) {
  auto text = read_small_file(path, true);
  if (!text) return std::unexpected(text.error());
  service::Credentials creds;
  std::string body = trim(*text);
  if (body.find('=') == std::string::npos && body.find('\n') == std::string::npos && !body.empty()) {
    creds.jwt = body;  // a file holding just the token, as the Pinata dashboard hands it out
    return creds;
  }
  std::size_t line_no = 0;
  std::size_t start = 0;
  while (start <= body.size()) {
    std::size_t end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    std::string line = trim(std::string_view(body).substr(start, end - start));
    start = end + 1;
    ++line_no;
    if (line.empty() || line.front() == '#' || line.front() == '[') continue;
    if (line.rfind("export ", 0) == 0) line = trim(line.substr(7));
    auto eq = line.find('=');
    if (eq == std::string::npos)
      return fail(EINVAL, path + ":" + std::to_string(line_no) + ": expected `key = value`");
    std::string key = trim(line.substr(0, eq));
    std::string* field = field_for(creds, key);
    if (field == nullptr) {
      return fail(EINVAL, path + ":" + std::to_string(line_no) + ": unknown key '" + key +
                              "' (expected jwt, api_key, api_secret or gateway_token)");
    }
    *field = unquote(trim(line.substr(eq + 1)));
  }
  if (creds.jwt.empty() && creds.api_key.empty() && creds.api_secret.empty())
    return fail(EINVAL, "credentials file " + path + " holds no jwt, api_key or api_secret");
  return creds;
}

Result<LoadedCredentials> load_credentials(const CredentialRequest& request, const EnvLookup& env) {
  const std::string& provider = request.provider;
  Result<LoadedCredentials> loaded = fail(ENOENT, "");
  if (request.credentials_file) {
    loaded = from_credentials_file(*request.credentials_file, provider);
  } else if (request.profile != nullptr && request.profile->any()) {
    loaded = from_profile(*request.profile, provider);
  } else {
    std::optional<LoadedCredentials> from_sd;
    if (auto dir = env("CREDENTIALS_DIRECTORY"); dir && !dir->empty()) {
      auto sd = from_systemd(*dir, provider);
      if (!sd) return std::unexpected(sd.error());
      from_sd = std::move(*sd);
    }
    if (from_sd) {
      loaded = std::move(*from_sd);
    } else {
      service::Credentials creds;
      creds.jwt = env("PINFS_JWT").value_or("");
      creds.api_key = env("PINFS_API_KEY").value_or("");
      creds.api_secret = env("PINFS_API_SECRET").value_or("");
      creds.gateway_token = env("PINFS_GATEWAY_TOKEN").value_or("");
      register_secrets(creds);
      if (creds.jwt.empty() && creds.api_key.empty() && creds.api_secret.empty()) {
        std::string env_names = is_aioz(provider) ? "PINFS_API_KEY and PINFS_API_SECRET"
                                                  : "PINFS_JWT, or PINFS_API_KEY and PINFS_API_SECRET,";
        return fail(ENOENT,
                    "no credentials for " + provider + ": set " + env_names +
                        " in the environment; or pass --credentials-file FILE (mode 0600); or add " +
                        (is_aioz(provider) ? "api_key_file and api_secret_file" : "jwt_file") +
                        " to a profile in the config file; or run under systemd with credentials jwt, "
                        "api_key, api_secret in $CREDENTIALS_DIRECTORY");
      }
      if (auto ok = check_complete(creds, provider, "PINFS_JWT", "PINFS_API_KEY", "PINFS_API_SECRET"); !ok)
        return std::unexpected(ok.error());
      loaded = LoadedCredentials{creds, env_source(creds, provider), env_fix(creds, provider)};
    }
  }
  if (loaded) spdlog::debug("credentials: using {} for {}", loaded->source, provider);
  return loaded;
}

}  // namespace pinfs::cli
