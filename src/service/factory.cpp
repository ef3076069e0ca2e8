#include "pinfs/service/factory.hpp"

#include <spdlog/spdlog.h>

#include "pinfs/common/log.hpp"
#include "pinfs/http/curl_client.hpp"
#include "pinfs/service/aioz_service.hpp"
#include "pinfs/service/http_gateway.hpp"
#include "pinfs/service/pinata_service.hpp"
#include "pinfs/service/service_stack.hpp"

namespace pinfs::service {
namespace {

bool is_loopback_url(const std::string& url) {
  for (const char* prefix : {"http://127.", "http://localhost", "http://[::1]"}) {
    if (url.starts_with(prefix)) return true;
  }
  return false;
}

Result<void> check_url(const std::string& url, const char* what) {
  if (!url.starts_with("https://") && !url.starts_with("http://")) {
    return fail(EINVAL,
                std::string(what) + " must start with https:// (or http:// for a local emulator): " + url);
  }
  if (url.starts_with("http://") && !is_loopback_url(url)) {
    spdlog::warn("{} {} is plain http: credentials travel unencrypted", what, url);
  }
  return {};
}

std::shared_ptr<http::HttpClient> curl_for(const ServiceConfig& config) {
  http::CurlOptions options;
  options.ca_path = config.ca_path;
  options.tls_verify = config.tls_verify;
  options.connect_timeout_s = config.connect_timeout_s;
  options.low_speed_time_s = config.low_speed_time_s;
  return http::make_curl_client(options);
}

}  // namespace

Result<ServiceConfig> resolve_config(const ServiceConfig& input) {
  ServiceConfig config = input;
  const Credentials& c = config.credentials;
  for (const std::string* secret : {&c.jwt, &c.api_key, &c.api_secret, &c.gateway_token}) {
    if (!secret->empty()) log::add_secret(*secret);
  }
  if (config.provider == "pinata") {
    if (config.api_url.empty()) config.api_url = "https://api.pinata.cloud";
    if (config.gateway_url.empty()) config.gateway_url = "https://gateway.pinata.cloud";
    if (c.jwt.empty() && (c.api_key.empty() || c.api_secret.empty())) {
      return fail(
          EINVAL,
          "Pinata needs a JWT or an API key and secret (PINFS_JWT or PINFS_API_KEY + PINFS_API_SECRET)");
    }
  } else if (config.provider == "aioz") {
    if (config.api_url.empty()) config.api_url = "https://api.w3ipfs.storage/api";
    if (config.gateway_url.empty()) config.gateway_url = "https://gateway.w3ipfs.storage";
    if (c.api_key.empty() || c.api_secret.empty()) {
      return fail(EINVAL, "AIOZ needs an API key and secret (PINFS_API_KEY + PINFS_API_SECRET)");
    }
  } else {
    return fail(EINVAL, "unknown provider '" + config.provider + "' (expected pinata or aioz)");
  }
  if (auto ok = check_url(config.api_url, "API URL"); !ok) return std::unexpected(ok.error());
  if (auto ok = check_url(config.gateway_url, "gateway URL"); !ok) return std::unexpected(ok.error());
  return config;
}

http::RetryPolicy retry_policy_for(const ServiceConfig& config) {
  http::RetryPolicy policy;
  policy.max_retries = std::max(0, config.max_retries);
  return policy;
}

std::shared_ptr<http::RateLimiter> rate_limiter_for(const ServiceConfig& config) {
  // Assumptions only: each class follows what the service announces once it has answered.
  auto limiter = std::make_shared<http::RateLimiter>();
  if (config.provider == "pinata") {
    // The lowest plan's rate is account-wide: until the service has described a class, all of them share it,
    // so the first burst of a fresh mount is safe on a free plan.
    const double rate = config.rate_per_minute.value_or(kPinataDefaultRate);
    limiter->assume_per_minute(http::RateLimiter::kOverall, rate);
    limiter->assume_per_minute(kPinataPinningClass, rate);
    limiter->assume_per_minute(kPinataDataClass,
                               config.list_rate_per_minute.value_or(kPinataDefaultDataRate));
  } else {
    limiter->assume_per_minute(kAiozClass, config.rate_per_minute.value_or(kAiozDefaultRate));
  }
  return limiter;
}

Result<std::unique_ptr<PinService>> make_pin_service_over(const ServiceConfig& input,
                                                          std::shared_ptr<http::HttpClient> transport) {
  auto config = resolve_config(input);
  if (!config) return std::unexpected(config.error());
  auto http = std::make_shared<http::RetryingClient>(std::move(transport), retry_policy_for(*config),
                                                     rate_limiter_for(*config));
  if (config->provider == "pinata") {
    return std::make_unique<PinataService>(std::move(http), config->api_url, config->credentials);
  }
  return std::make_unique<AiozService>(std::move(http), config->api_url, config->credentials);
}

Result<std::unique_ptr<Gateway>> make_gateway_over(const ServiceConfig& input,
                                                   std::shared_ptr<http::HttpClient> transport) {
  auto config = resolve_config(input);
  if (!config) return std::unexpected(config.error());
  // Gateways have their own limits (per CID and per IP) and answer 429 when hit: no local bucket.
  auto http =
      std::make_shared<http::RetryingClient>(std::move(transport), retry_policy_for(*config), nullptr);
  return std::make_unique<HttpGateway>(std::move(http), config->gateway_url,
                                       config->credentials.gateway_token);
}

Result<std::unique_ptr<PinService>> make_pin_service(const ServiceConfig& config) {
  return make_pin_service_over(config, curl_for(config));
}

Result<std::unique_ptr<Gateway>> make_gateway(const ServiceConfig& config) {
  return make_gateway_over(config, curl_for(config));
}

}  // namespace pinfs::service
