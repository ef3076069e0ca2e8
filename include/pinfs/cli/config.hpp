// `pinfs mount`'s configuration: command-line flags over a config-file profile over provider defaults,
// parsed once into one typed result (STYLE.md: "CLI11 + toml++ into one Config struct").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pinfs/cli/credentials.hpp"
#include "pinfs/common/error.hpp"
#include "pinfs/service/factory.hpp"
#include "pinfs/vfs/options.hpp"

namespace pinfs::cli {

// What the command line said; unset means "not given".
struct MountFlags {
  std::optional<std::string> profile, config_file, provider, api_url, gateway_url, cache_dir, upload;
  std::optional<std::string> credentials_file;
  std::optional<int> cid_version;
  std::optional<double> poll_interval;  // seconds
  std::optional<bool> persistent_index;
  std::optional<std::string>
      cache_size;  // the content cache's bound: bytes, or with K/M/G/T (powers of 1024)
  std::optional<double> reconcile_interval;                     // seconds; 0 = only the first listing
  std::optional<double> rate_per_minute, list_rate_per_minute;  // assumed until the service announces its own
  std::optional<int> transfers;                                 // async uploads at once
};

// One `[profiles.NAME]` table of the config file.
struct Profile {
  std::string name;
  std::optional<std::string> provider, api_url, gateway_url, cache_dir, upload, ca_path;
  std::optional<int> cid_version;
  std::optional<double> poll_interval, rate_per_minute, list_rate_per_minute;
  std::optional<std::uint64_t> cache_max_bytes;
  std::optional<int> transfers;
  std::optional<bool> tls_verify;
  ProfileCredentials credentials;
};

struct ConfigFile {
  std::string path;
  std::optional<std::string> default_profile;
  std::vector<Profile> profiles;
  const Profile* find(const std::string& name) const;
};

struct MountConfig {
  std::string profile;      // empty: none
  std::string config_file;  // the file read, empty when none
  service::ServiceConfig service;
  vfs::VfsOptions vfs;
  std::string credentials_source;  // where the credentials came from, for messages
  std::string credentials_fix;     // what to do when the service rejects them
};

struct ProviderDefaults {
  const char* api_url;
  const char* gateway_url;
};
// "10G" → 10 GiB; a plain number is bytes; suffixes K, M, G, T (optionally followed by "iB" or "B") are
// powers of 1024. EINVAL naming what was wrong for anything else or for 0.
Result<std::uint64_t> parse_size(const std::string& text);

// nullopt for an unknown provider.
std::optional<ProviderDefaults> provider_defaults(const std::string& provider);

// $XDG_CONFIG_HOME/pinfs/config.toml, else ~/.config/pinfs/config.toml.
std::string default_config_path(const EnvLookup& env);
// $XDG_CACHE_HOME/pinfs/NAME, else ~/.cache/pinfs/NAME.
std::string default_cache_dir(const EnvLookup& env, const std::string& name);

// Parses a config file. Paths in it may start with ~/ or be relative to the file's folder.
// Unknown keys are errors, so a typo never silently falls back to a default.
Result<ConfigFile> parse_config_file(const std::string& path, const EnvLookup& env);

// Flags over profile over defaults, then credentials (load_credentials' order). Every error is a config
// error for the exit code (cli::kConfig) and says what to change.
Result<MountConfig> resolve_mount_config(const MountFlags& flags, const EnvLookup& env);

}  // namespace pinfs::cli
