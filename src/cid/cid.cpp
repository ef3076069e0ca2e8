#include "pinfs/cid/cid.hpp"

#include <openssl/evp.h>

#include <cctype>
#include <cstdio>

#include "pinfs/cid/multibase.hpp"

namespace pinfs::cid {
namespace {

constexpr std::size_t kV0TextLength = 46;
constexpr std::size_t kShownLimit = 80;

// Built by appending to one string: GCC 12 at -O3 reports a false -Wrestrict overlap for
// `"literal" + std::string` (its inlined insert-at-front), which appending never does.
std::string quoted(std::string_view text) {
  const bool cut = text.size() > kShownLimit;
  std::string out;
  out.reserve(kShownLimit + 8);
  out += '"';
  out += text.substr(0, kShownLimit);
  if (cut) out += "…";
  out += '"';
  return out;
}

std::string hex(std::uint64_t value) {
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(value));
  return buffer;
}

Result<Digest> read_multihash(ByteView in) {
  auto code = get_varint(in);
  if (!code) return fail(EINVAL, "multihash code: " + code.error().message);
  if (*code != kSha2_256)
    return fail(EINVAL, "unsupported multihash " + hex(*code) + " (only sha2-256 0x12)");
  auto length = get_varint(in);
  if (!length) return fail(EINVAL, "multihash length: " + length.error().message);
  if (*length != 32) {
    return fail(EINVAL, "sha2-256 digest length is " + std::to_string(*length) + ", expected 32");
  }
  if (in.size() < 32) {
    return fail(EINVAL, "truncated digest: " + std::to_string(in.size()) + " of 32 bytes");
  }
  if (in.size() > 32)
    return fail(EINVAL, std::to_string(in.size() - 32) + " trailing bytes after the digest");
  Digest digest;
  std::copy(in.begin(), in.end(), digest.begin());
  return digest;
}

}  // namespace

Cid Cid::v0(const Digest& digest) {
  Cid cid;
  cid.version_ = 0;
  cid.codec_ = Codec::DagPb;
  cid.digest_ = digest;
  return cid;
}

Cid Cid::v1(Codec codec, const Digest& digest) {
  Cid cid;
  cid.version_ = 1;
  cid.codec_ = codec;
  cid.digest_ = digest;
  return cid;
}

Result<Cid> Cid::from_bytes(ByteView bytes) {
  if (bytes.empty()) return fail(EINVAL, "empty binary CID");
  // A CIDv0 is a bare sha2-256 multihash; a CIDv1 can never start with 0x12 (its version byte is 1).
  if (bytes[0] == kSha2_256) {
    auto digest = read_multihash(bytes);
    if (!digest) return fail(EINVAL, "CIDv0: " + digest.error().message);
    return v0(*digest);
  }
  ByteView in = bytes;
  auto version = get_varint(in);
  if (!version) return fail(EINVAL, "CID version: " + version.error().message);
  if (*version != 1) return fail(EINVAL, "unsupported CID version " + std::to_string(*version));
  auto codec = get_varint(in);
  if (!codec) return fail(EINVAL, "CID codec: " + codec.error().message);
  if (*codec != static_cast<std::uint64_t>(Codec::Raw) &&
      *codec != static_cast<std::uint64_t>(Codec::DagPb)) {
    return fail(EINVAL, "unsupported codec " + hex(*codec) + " (only raw 0x55 and dag-pb 0x70)");
  }
  auto digest = read_multihash(in);
  if (!digest) return std::unexpected(digest.error());
  return v1(static_cast<Codec>(*codec), *digest);
}

Result<Cid> Cid::parse(std::string_view text) {
  auto invalid = [&](const std::string& why) {
    return fail(EINVAL, "invalid CID " + quoted(text) + ": " + why);
  };
  if (text.empty()) return invalid("empty");
  if (std::isspace(static_cast<unsigned char>(text.front())) ||
      std::isspace(static_cast<unsigned char>(text.back()))) {
    return invalid("leading or trailing whitespace");
  }
  if (text.starts_with("Qm")) {
    if (text.size() != kV0TextLength) {
      return invalid("a CIDv0 (Qm…) has 46 characters, this has " + std::to_string(text.size()));
    }
    auto bytes = base58btc_decode(text);
    if (!bytes) return invalid(bytes.error().message);
    auto cid = from_bytes(*bytes);
    if (!cid) return invalid(cid.error().message);
    return cid;
  }
  Result<Bytes> bytes;
  std::string_view body = text.substr(1);
  switch (text.front()) {
    case 'b':
      bytes = base32_decode(body);
      break;
    case 'B': {
      std::string lower(body);
      for (char& c : lower) {
        if (c >= 'a' && c <= 'z') return invalid("mixed case in upper-case base32");
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      bytes = base32_decode(lower);
      break;
    }
    case 'z':
      bytes = base58btc_decode(body);
      break;
    default:
      return invalid(std::string("unsupported multibase prefix '") + text.front() +
                     "' (expected Qm… for CIDv0, b… base32 or z… base58btc for CIDv1)");
  }
  if (!bytes) return invalid(bytes.error().message);
  if (bytes->empty()) return invalid("nothing after the multibase prefix");
  if ((*bytes)[0] == kSha2_256)
    return invalid("a CIDv0 multihash must be written in base58btc without prefix");
  auto cid = from_bytes(*bytes);
  if (!cid) return invalid(cid.error().message);
  return cid;
}

std::string Cid::to_string() const {
  if (version_ == 0) return base58btc_encode(to_bytes());
  if (version_ == 1) {
    std::string out = "b";  // appended, not "b" + …: see quoted()
    out += base32_encode(to_bytes());
    return out;
  }
  return {};
}

Bytes Cid::to_bytes() const {
  Bytes out;
  if (version_ < 0) return out;
  out.reserve(36);
  if (version_ == 1) {
    put_varint(out, 1);
    put_varint(out, static_cast<std::uint64_t>(codec_));
  }
  out.push_back(static_cast<std::uint8_t>(kSha2_256));
  out.push_back(32);
  out.insert(out.end(), digest_.begin(), digest_.end());
  return out;
}

Cid Cid::to_v1() const {
  if (version_ == 0) return v1(Codec::DagPb, digest_);
  return *this;
}

Digest sha256(ByteView data) {
  // Fetched once: the implicit fetch of EVP_sha256() costs a lookup on every call in OpenSSL 3.
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  Digest digest;
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &length, md, nullptr);
  return digest;
}

Cid cid_of_block(int version, Codec codec, ByteView block) {
  Digest digest = sha256(block);
  return version == 0 ? Cid::v0(digest) : Cid::v1(codec, digest);
}

Result<std::string> normalize(std::string_view text) {
  auto cid = Cid::parse(text);
  if (!cid) return std::unexpected(cid.error());
  return cid->to_string();
}

}  // namespace pinfs::cid
