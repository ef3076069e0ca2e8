// dag-pb (PBNode/PBLink) and UnixFS Data encode/decode, canonical byte order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pinfs/cid/cid.hpp"

namespace pinfs::cid {

struct PbLink {
  Cid hash;
  std::optional<std::string> name;  // Kubo always writes it, even ""
  std::optional<std::uint64_t> tsize;
};

struct PbNode {
  std::vector<PbLink> links;
  std::optional<Bytes> data;
};

Bytes encode_pb(const PbNode& node);  // links first, then data
Result<PbNode> decode_pb(ByteView bytes);  // EINVAL with a reason on malformed input

enum class UnixfsType : std::uint64_t { Raw = 0, Directory = 1, File = 2, Metadata = 3, Symlink = 4, HamtShard = 5 };

struct UnixfsData {
  UnixfsType type = UnixfsType::File;
  std::optional<Bytes> data;
  std::optional<std::uint64_t> filesize;
  std::vector<std::uint64_t> blocksizes;
  std::optional<std::uint64_t> hash_type;
  std::optional<std::uint64_t> fanout;
};

Bytes encode_unixfs(const UnixfsData& data);
Result<UnixfsData> decode_unixfs(ByteView bytes);

}  // namespace pinfs::cid
