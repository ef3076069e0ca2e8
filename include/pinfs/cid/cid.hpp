// Content identifiers: multibase text, binary form, parse/print/validate.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pinfs/common/error.hpp"

namespace pinfs::cid {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

enum class Codec : std::uint64_t { Raw = 0x55, DagPb = 0x70 };

constexpr std::uint64_t kSha2_256 = 0x12;
using Digest = std::array<std::uint8_t, 32>;

// A CIDv0 (base58btc "Qm…", implicitly dag-pb) or CIDv1 (multibase, printed base32 "b…").
// Only sha2-256 multihashes are accepted: it is all the pinning services produce.
class Cid {
 public:
  Cid() = default;
  static Cid v0(const Digest& digest);
  static Cid v1(Codec codec, const Digest& digest);

  // Parses "Qm…" or a multibase CIDv1 ("b…" base32, "z…" base58btc). Errors name what is wrong.
  static Result<Cid> parse(std::string_view text);
  // Parses the binary form (as found in dag-pb links).
  static Result<Cid> from_bytes(ByteView bytes);

  int version() const { return version_; }
  Codec codec() const { return codec_; }
  const Digest& digest() const { return digest_; }

  std::string to_string() const;  // v0: base58btc; v1: base32 lower with prefix 'b'
  Bytes to_bytes() const;         // v0: the multihash; v1: varint(1) varint(codec) multihash
  Cid to_v1() const;              // same content, version 1 (v0 becomes dag-pb v1)

  bool valid() const { return version_ != -1; }
  friend bool operator==(const Cid&, const Cid&) = default;

 private:
  int version_ = -1;
  Codec codec_ = Codec::DagPb;
  Digest digest_{};
};

// The CID of one block: sha2-256 of its bytes.
Cid cid_of_block(int version, Codec codec, ByteView block);
Digest sha256(ByteView data);

// Validates text as a CID; returns the normalised form or a clear error (EINVAL).
Result<std::string> normalize(std::string_view text);

}  // namespace pinfs::cid
