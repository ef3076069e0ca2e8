// PinService over the Pinata legacy API (PROTOCOLS.md §1).
#pragma once

#include <memory>
#include <string>

#include "pinfs/http/http_client.hpp"
#include "pinfs/service/factory.hpp"
#include "pinfs/service/pin_service.hpp"

namespace pinfs::service {

// Rate classes of the Pinata requests: the service announces a limit for each (X-RateLimit-*), and the
// emulator's --rate-limit uses the same names.
inline constexpr const char* kPinataDataClass = "pinata-data";        // everything under /data/
inline constexpr const char* kPinataPinningClass = "pinata-pinning";  // everything else (/pinning/…)

class PinataService final : public PinService {
 public:
  // http: usually a RetryingClient (factory.hpp builds it); api_url without a trailing slash.
  PinataService(std::shared_ptr<http::HttpClient> http, std::string api_url, Credentials credentials);

  Capabilities capabilities() const override;
  Result<void> check_auth() override;
  Result<PinPage> list(const ListQuery& query) override;
  Result<Pin> get(const PinRef& ref) override;
  Result<Pin> upload_file(const FileUpload& upload) override;
  Result<Pin> upload_directory(const DirectoryUpload& upload) override;
  Result<PinJob> pin_by_cid(const std::string& cid, const std::string& name,
                            const KeyValues& keyvalues) override;
  Result<std::vector<PinJob>> list_jobs() override;
  Result<void> update_metadata(const PinRef& ref, const std::optional<std::string>& name,
                               const KeyValueChanges& changes) override;
  Result<Pin> rename(const Pin& pin, const std::string& new_name) override;
  Result<void> unpin(const PinRef& ref) override;
  Result<Totals> totals() override;

 private:
  http::Request request(http::Method method, const std::string& path) const;

  std::shared_ptr<http::HttpClient> http_;
  std::string api_url_;
  http::Headers auth_;
};

}  // namespace pinfs::service
