// Content-addressed block storage for the emulator: one file per block, DIR/blocks/<cid-v1>.
// Blocks are immutable and written through a temp file + rename, so readers never see a
// partial block and concurrent writers of the same block are harmless (no lock needed).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "pinfs/cid/cid.hpp"
#include "pinfs/common/error.hpp"

namespace pinfs::emulator {

class BlockStore {
 public:
  explicit BlockStore(std::string dir);

  Result<void> put(const cid::Cid& cid, cid::ByteView block);
  bool has(const cid::Cid& cid) const;
  std::optional<cid::Bytes> get(const cid::Cid& cid) const;
  std::optional<std::uint64_t> size_of(const cid::Cid& cid) const;
  std::string path_of(const cid::Cid& cid) const;
  // Blocks not on disk are asked of this (the Store's bulk pins, regenerated from their index). Set once
  // at start, before any request.
  void set_generator(std::function<std::optional<cid::Bytes>(const cid::Cid&)> generator) {
    generator_ = std::move(generator);
  }

 private:
  std::string dir_;
  std::function<std::optional<cid::Bytes>(const cid::Cid&)> generator_;
  mutable std::atomic<std::uint64_t> tmp_counter_{0};
};

}  // namespace pinfs::emulator
