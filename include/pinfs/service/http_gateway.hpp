// Gateway over an IPFS HTTP path gateway: GET /ipfs/<cid>[/path] with Range, streamed to the
// sink and resumed after a mid-stream failure; raw blocks verified against their CID.
#pragma once

#include <memory>
#include <string>

#include "pinfs/http/http_client.hpp"
#include "pinfs/service/pin_service.hpp"

namespace pinfs::service {

class HttpGateway final : public Gateway {
 public:
  // gateway_url without "/ipfs"; token: optional dedicated-gateway token (sent as the
  // x-pinata-gateway-token header, never in the URL, so it stays out of logs).
  HttpGateway(std::shared_ptr<http::HttpClient> http, std::string gateway_url, std::string token = {},
              int max_resumes = 5);

  Result<std::uint64_t> read(const std::string& cid, const std::string& path, std::uint64_t offset,
                             std::uint64_t length, const ByteSink& sink) override;
  // EIO when the bytes do not hash to the CID (its message then holds kMismatch).
  Result<std::vector<std::uint8_t>> block(const std::string& cid) override;
  std::string describe() const override { return gateway_url_; }

  static constexpr std::size_t kMaxBlockSize = 4u << 20;
  static constexpr const char* kMismatch = "not to the CID";

 private:
  std::string url_for(const std::string& cid, const std::string& path) const;

  std::shared_ptr<http::HttpClient> http_;
  std::string gateway_url_;
  std::string token_;
  int max_resumes_;
};

}  // namespace pinfs::service
