// How factory.hpp assembles a provider: transport → retries + rate limits → PinService.
// Exposed so tests can put a fake transport under the real retry and rate-limit stack.
#pragma once

#include <memory>

#include "pinfs/http/http_client.hpp"
#include "pinfs/http/rate_limiter.hpp"
#include "pinfs/http/retrying_client.hpp"
#include "pinfs/service/factory.hpp"

namespace pinfs::service {

inline constexpr double kPinataDefaultRate = 60;      // requests/minute, lowest plan
inline constexpr double kPinataDefaultDataRate = 30;  // requests/minute under /data/
inline constexpr double kAiozDefaultRate = 180;

// Fills in provider defaults (URLs), checks the provider name, URL schemes and credentials,
// and registers every credential with the log redactor.
Result<ServiceConfig> resolve_config(const ServiceConfig& config);

http::RetryPolicy retry_policy_for(const ServiceConfig& config);
std::shared_ptr<http::RateLimiter> rate_limiter_for(const ServiceConfig& config);

// The PinService of config.provider over `transport`, wrapped in retries and rate limits.
Result<std::unique_ptr<PinService>> make_pin_service_over(const ServiceConfig& config,
                                                          std::shared_ptr<http::HttpClient> transport);
Result<std::unique_ptr<Gateway>> make_gateway_over(const ServiceConfig& config,
                                                   std::shared_ptr<http::HttpClient> transport);

}  // namespace pinfs::service
