#include "pinfs/service/verified_faults.hpp"

#include <string>

namespace pinfs::service {

bool TamperingGateway::take(Tamper kind, std::uint64_t* at) {
  std::lock_guard lock(mu_);
  if (tamper_ != kind || times_ == 0) return false;
  if (times_ > 0) --times_;
  if (at) *at = at_;
  ++tampered_;
  return true;
}

Result<std::uint64_t> TamperingGateway::read(const std::string& cid, const std::string& path,
                                             std::uint64_t offset, std::uint64_t length,
                                             const ByteSink& sink) {
  std::uint64_t at = ~0ull;
  if (take(Tamper::Truncate, nullptr)) {
    const std::uint64_t half = length / 2;
    if (half == 0) return 0;
    return inner_->read(cid, path, offset, half, sink);
  }
  if (!take(Tamper::FlipByte, &at)) return inner_->read(cid, path, offset, length, sink);
  if (at == ~0ull) at = offset;
  std::uint64_t position = offset;
  std::string piece;
  return inner_->read(cid, path, offset, length, [&](const char* data, std::size_t n) {
    const std::uint64_t begin = position;
    position += n;
    if (at < begin || at >= position) return sink(data, n);
    piece.assign(data, n);
    piece[at - begin] = static_cast<char>(piece[at - begin] ^ 0x5a);
    return sink(piece.data(), n);
  });
}

Result<std::vector<std::uint8_t>> TamperingGateway::block(const std::string& cid) {
  auto got = inner_->block(cid);
  if (got && !got->empty() && take(Tamper::FlipBlock, nullptr)) got->back() ^= 0x5a;
  return got;
}

}  // namespace pinfs::service
