// PinService over the AIOZ W3IPFS API (PROTOCOLS.md §2). No metadata update (ENOTSUP), no
// job list; rename is pin-by-hash under the new name, then unpin of the old id.
#pragma once

#include <memory>
#include <string>

#include "pinfs/http/http_client.hpp"
#include "pinfs/service/factory.hpp"
#include "pinfs/service/pin_service.hpp"

namespace pinfs::service {

inline constexpr const char* kAiozClass = "aioz";  // every AIOZ API call: one announced limit

class AiozService final : public PinService {
 public:
  // api_url includes the "/api" prefix, e.g. https://api.w3ipfs.storage/api.
  AiozService(std::shared_ptr<http::HttpClient> http, std::string api_url, Credentials credentials);

  Capabilities capabilities() const override;
  Result<void> check_auth() override;
  Result<PinPage> list(const ListQuery& query) override;
  // By id with GET /pinning/{id}; with only a CID, by scanning the pin list.
  Result<Pin> get(const PinRef& ref) override;
  Result<Pin> upload_file(const FileUpload& upload) override;  // cid_version 0 → ENOTSUP (AIOZ makes v1)
  Result<Pin> upload_directory(const DirectoryUpload& upload) override;
  Result<PinJob> pin_by_cid(const std::string& cid, const std::string& name,
                            const KeyValues& keyvalues) override;
  Result<std::vector<PinJob>> list_jobs() override;  // ENOTSUP
  Result<void> update_metadata(const PinRef& ref, const std::optional<std::string>& name,
                               const KeyValueChanges& changes) override;  // ENOTSUP
  Result<Pin> rename(const Pin& pin, const std::string& new_name) override;
  Result<void> unpin(const PinRef& ref) override;
  Result<Totals> totals() override;

  static constexpr std::size_t kMaxPageSize = 1000;

 private:
  http::Request request(http::Method method, const std::string& path) const;
  Result<Pin> find_by_cid(const std::string& cid);

  std::shared_ptr<http::HttpClient> http_;
  std::string api_url_;
  http::Headers auth_;
};

}  // namespace pinfs::service
