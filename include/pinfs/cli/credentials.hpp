// Where `pinfs mount` finds credentials, in order (DESIGN.md §1): --credentials-file, the config profile,
// systemd credentials ($CREDENTIALS_DIRECTORY), then the environment. Never the command line.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "pinfs/common/error.hpp"
#include "pinfs/service/factory.hpp"

namespace pinfs::cli {

// Reads a variable of the process environment; tests pass their own.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_env();

// Credential keys of a config profile: a value inline (only allowed when the config file itself is private)
// or a `*_file` key naming a 0600 file that holds it.
struct ProfileCredentials {
  std::string profile;      // for messages
  std::string config_file;  // for messages
  bool config_private = false;
  std::optional<std::string> jwt, api_key, api_secret, gateway_token;
  std::optional<std::string> jwt_file, api_key_file, api_secret_file, gateway_token_file;
  bool any() const { return jwt || api_key || api_secret || jwt_file || api_key_file || api_secret_file; }
};

struct CredentialRequest {
  std::string provider;                         // "pinata" | "aioz": AIOZ needs the key pair
  std::optional<std::string> credentials_file;  // --credentials-file
  const ProfileCredentials* profile = nullptr;
};

struct LoadedCredentials {
  service::Credentials credentials;
  std::string source;  // what a person should look at: "PINFS_JWT", "--credentials-file /x", …
  std::string fix;     // what to do when the service rejects them
};

// Finds credentials, registers every secret with log::add_secret, and logs where they came from (never what).
// EACCES: a secret file is readable by others; ENOENT/EINVAL: missing or incomplete, naming what to set.
Result<LoadedCredentials> load_credentials(const CredentialRequest& request, const EnvLookup& env);

// A file holding one secret; refused unless only its owner can read it (mode 0600 or 0400).
Result<std::string> read_secret_file(const std::string& path);

// A --credentials-file: `key = value` lines (jwt, api_key, api_secret, gateway_token; PINFS_* names too,
// quotes optional, # comments), or a file that holds nothing but a JWT.
Result<service::Credentials> read_credentials_file(const std::string& path);

}  // namespace pinfs::cli
