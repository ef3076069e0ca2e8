// Builds the PinService and Gateway for a provider from a typed configuration.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "pinfs/common/error.hpp"
#include "pinfs/service/pin_service.hpp"

namespace pinfs::service {

struct Credentials {
  std::string jwt;            // Pinata bearer
  std::string api_key;        // Pinata pinata_api_key / AIOZ pinning_api_key
  std::string api_secret;     // Pinata pinata_secret_api_key / AIOZ pinning_secret_key
  std::string gateway_token;  // optional dedicated-gateway token
  bool empty() const { return jwt.empty() && api_key.empty(); }
};

struct ServiceConfig {
  std::string provider;     // "pinata" | "aioz"
  std::string api_url;      // e.g. https://api.pinata.cloud, https://api.w3ipfs.storage/api
  std::string gateway_url;  // e.g. https://gateway.pinata.cloud (the "/ipfs/<cid>" is appended)
  Credentials credentials;
  std::string ca_path;     // empty: system CAs
  bool tls_verify = true;  // only ever off when explicitly asked
  // Requests per minute assumed until the service announces its limits (X-RateLimit-*); the documented
  // lowest plan's rate when unset, none when <= 0. rate_per_minute: Pinata account-wide and /pinning/,
  // AIOZ every call; list_rate_per_minute: Pinata /data/.
  std::optional<double> rate_per_minute;
  std::optional<double> list_rate_per_minute;
  int max_retries = 5;
  long connect_timeout_s = 10;
  long low_speed_time_s = 60;  // abort a transfer slower than 1 byte/s for this long
};

Result<std::unique_ptr<PinService>> make_pin_service(const ServiceConfig& config);
Result<std::unique_ptr<Gateway>> make_gateway(const ServiceConfig& config);

}  // namespace pinfs::service
