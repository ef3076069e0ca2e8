#include "pinfs/cid/multibase.hpp"

#include <array>

namespace pinfs::cid {
namespace {

constexpr std::string_view kBase58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr std::string_view kBase32Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

constexpr std::array<std::int8_t, 256> make_reverse(std::string_view alphabet) {
  std::array<std::int8_t, 256> table{};
  table.fill(-1);
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}

constexpr auto kBase58Reverse = make_reverse(kBase58Alphabet);
constexpr auto kBase32Reverse = make_reverse(kBase32Alphabet);

std::string describe_char(char c, std::size_t position) {
  auto u = static_cast<unsigned char>(c);
  std::string shown = (u >= 0x21 && u < 0x7f) ? std::string("'") + c + "'" : "byte 0x" + [u] {
    constexpr char kHex[] = "0123456789abcdef";
    return std::string{kHex[u >> 4], kHex[u & 15]};
  }();
  return shown + " at position " + std::to_string(position);
}

}  // namespace

void put_varint(Bytes& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(value) | 0x80);
    value >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(value));
}

Result<std::uint64_t> get_varint(ByteView& in) {
  std::uint64_t value = 0;
  // 9 bytes carry 63 bits: the multiformats unsigned-varint limit.
  for (std::size_t i = 0; i < 9; ++i) {
    if (i >= in.size()) return fail(EINVAL, "truncated varint");
    std::uint8_t byte = in[i];
    value |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      if (byte == 0 && i > 0) return fail(EINVAL, "varint is not minimally encoded");
      in = in.subspan(i + 1);
      return value;
    }
  }
  return fail(EINVAL, "varint longer than 9 bytes");
}

std::string base58btc_encode(ByteView data) {
  std::size_t zeros = 0;
  while (zeros < data.size() && data[zeros] == 0) ++zeros;
  // log(256)/log(58) < 1.38: enough digits for the big-endian base conversion.
  std::vector<std::uint8_t> digits((data.size() - zeros) * 138 / 100 + 1, 0);
  std::size_t used = 0;
  for (std::size_t i = zeros; i < data.size(); ++i) {
    unsigned carry = data[i];
    std::size_t j = 0;
    for (auto it = digits.rbegin(); (carry != 0 || j < used) && it != digits.rend(); ++it, ++j) {
      carry += 256u * *it;
      *it = static_cast<std::uint8_t>(carry % 58);
      carry /= 58;
    }
    used = j;
  }
  auto first = digits.begin() + static_cast<std::ptrdiff_t>(digits.size() - used);
  std::string out(zeros, '1');
  for (auto it = first; it != digits.end(); ++it) out.push_back(kBase58Alphabet[*it]);
  return out;
}

Result<Bytes> base58btc_decode(std::string_view text) {
  std::size_t zeros = 0;
  while (zeros < text.size() && text[zeros] == '1') ++zeros;
  // log(58)/log(256) < 0.733
  std::vector<std::uint8_t> bytes((text.size() - zeros) * 733 / 1000 + 1, 0);
  std::size_t used = 0;
  for (std::size_t i = zeros; i < text.size(); ++i) {
    int digit = kBase58Reverse[static_cast<unsigned char>(text[i])];
    if (digit < 0) return fail(EINVAL, "invalid base58btc character " + describe_char(text[i], i));
    unsigned carry = static_cast<unsigned>(digit);
    std::size_t j = 0;
    for (auto it = bytes.rbegin(); (carry != 0 || j < used) && it != bytes.rend(); ++it, ++j) {
      carry += 58u * *it;
      *it = static_cast<std::uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    used = j;
  }
  Bytes out(zeros, 0);
  out.insert(out.end(), bytes.end() - static_cast<std::ptrdiff_t>(used), bytes.end());
  return out;
}

std::string base32_encode(ByteView data) {
  std::string out;
  out.reserve((data.size() * 8 + 4) / 5);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::uint8_t byte : data) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kBase32Alphabet[(buffer >> bits) & 31]);
    }
  }
  if (bits > 0) out.push_back(kBase32Alphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

Result<Bytes> base32_decode(std::string_view text) {
  switch (text.size() % 8) {
    case 1:
    case 3:
    case 6:
      return fail(EINVAL, "invalid base32 length " + std::to_string(text.size()));
    default:
      break;
  }
  Bytes out;
  out.reserve(text.size() * 5 / 8);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    int value = kBase32Reverse[static_cast<unsigned char>(text[i])];
    if (value < 0) return fail(EINVAL, "invalid base32 character " + describe_char(text[i], i));
    buffer = (buffer << 5) | static_cast<std::uint32_t>(value);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(buffer >> bits));
    }
  }
  if ((buffer & ((1u << bits) - 1)) != 0) return fail(EINVAL, "base32 text has non-zero trailing bits");
  return out;
}

}  // namespace pinfs::cid
