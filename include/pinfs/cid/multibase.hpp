// Varints and the two multibase alphabets the services use.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pinfs/cid/cid.hpp"

namespace pinfs::cid {

void put_varint(Bytes& out, std::uint64_t value);
// Reads an unsigned LEB128 varint from the front of `in` and advances it. Rejects
// overlong (> 9 bytes / > 63 bits) and truncated input.
Result<std::uint64_t> get_varint(ByteView& in);

std::string base58btc_encode(ByteView data);
Result<Bytes> base58btc_decode(std::string_view text);

std::string base32_encode(ByteView data);  // RFC 4648 lower case, no padding
Result<Bytes> base32_decode(std::string_view text);

}  // namespace pinfs::cid
