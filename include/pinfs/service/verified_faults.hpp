// A gateway that lies (the faults a verified reader must catch): wrong bytes, short answers, bad blocks.
// Wraps any Gateway; errors, resets and stalls are FaultyGateway's job, this one changes the bytes.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "pinfs/service/pin_service.hpp"

namespace pinfs::service {

enum class Tamper {
  None,
  FlipByte,   // ranged reads: the byte at file offset `at` (or the first byte sent, at == ~0) is flipped
  Truncate,   // ranged reads: only the first half of the asked range is sent, then success
  FlipBlock,  // raw blocks: the last byte is flipped
};

class TamperingGateway final : public Gateway {
 public:
  explicit TamperingGateway(std::shared_ptr<Gateway> inner) : inner_(std::move(inner)) {}

  // The next `times` matching calls are tampered with (times < 0: every call).
  void set(Tamper tamper, int times = 1, std::uint64_t at = ~0ull) {
    std::lock_guard lock(mu_);
    tamper_ = tamper;
    times_ = times;
    at_ = at;
  }
  std::uint64_t tampered() const { return tampered_; }

  Result<std::uint64_t> read(const std::string& cid, const std::string& path, std::uint64_t offset,
                             std::uint64_t length, const ByteSink& sink) override;
  Result<std::vector<std::uint8_t>> block(const std::string& cid) override;
  std::string describe() const override { return "tampering(" + inner_->describe() + ")"; }

 private:
  bool take(Tamper kind, std::uint64_t* at);

  std::shared_ptr<Gateway> inner_;
  std::mutex mu_;  // leaf lock
  Tamper tamper_ = Tamper::None;
  int times_ = 0;
  std::uint64_t at_ = ~0ull;
  std::atomic<std::uint64_t> tampered_{0};
};

}  // namespace pinfs::service
