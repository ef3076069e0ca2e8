#include "pinfs/cid/cid.hpp"

#include <gtest/gtest.h>

#include <random>

#include "pinfs/cid/multibase.hpp"

namespace pinfs::cid {
namespace {

constexpr std::string_view kEmptyV0 = "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH";
constexpr std::string_view kEmptyRawV1 = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
constexpr std::string_view kDirV0 = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";
constexpr std::string_view kDirV1 = "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354";

void expect_rejected(std::string_view text, std::string_view reason) {
  auto cid = Cid::parse(text);
  ASSERT_FALSE(cid.has_value()) << text << " was accepted";
  EXPECT_EQ(cid.error().errnum, EINVAL);
  EXPECT_NE(cid.error().message.find(reason), std::string::npos)
      << "error for " << text << " is \"" << cid.error().message << "\", expected it to mention " << reason;
}

TEST(Cid, ParsesAndPrintsTheVectors) {
  for (std::string_view text : {kEmptyV0, kEmptyRawV1, kDirV0, kDirV1}) {
    auto cid = Cid::parse(text);
    ASSERT_TRUE(cid.has_value()) << cid.error().message;
    EXPECT_EQ(cid->to_string(), text);
    EXPECT_TRUE(cid->valid());
    EXPECT_EQ(Cid::from_bytes(cid->to_bytes()).value(), *cid);
  }
  auto v0 = Cid::parse(kDirV0).value();
  EXPECT_EQ(v0.version(), 0);
  EXPECT_EQ(v0.codec(), Codec::DagPb);
  EXPECT_EQ(v0.to_v1().to_string(), kDirV1);
  EXPECT_EQ(v0.to_bytes().size(), 34u);
  auto raw = Cid::parse(kEmptyRawV1).value();
  EXPECT_EQ(raw.version(), 1);
  EXPECT_EQ(raw.codec(), Codec::Raw);
  EXPECT_EQ(raw.digest(), sha256({}));
  EXPECT_EQ(raw, cid_of_block(1, Codec::Raw, {}));
  EXPECT_EQ(raw.to_v1(), raw);
}

TEST(Cid, OtherMultibasesNormalizeToBase32) {
  auto v1 = Cid::parse(kDirV1).value();
  std::string upper(kDirV1);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(Cid::parse(upper).value(), v1);
  std::string z = "z" + base58btc_encode(v1.to_bytes());
  EXPECT_EQ(normalize(z).value(), kDirV1);
  EXPECT_EQ(normalize(kDirV0).value(), kDirV0);
  EXPECT_FALSE(Cid().valid());
  EXPECT_EQ(Cid().to_string(), "");
}

TEST(Cid, RejectsMalformedTextWithAReason) {
  expect_rejected("", "empty");
  expect_rejected(" QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH", "whitespace");
  expect_rejected("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQ", "46 characters");
  expect_rejected("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1Aw0H", "base58btc character '0'");
  expect_rejected("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwIH", "base58btc character 'I'");
  expect_rejected("xafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "multibase prefix 'x'");
  expect_rejected("mAXASIOOwxEKY/BwUmvv0yJlvuSQnrkHkZJuTTKSVmRt4UrhV", "multibase prefix 'm'");
  expect_rejected("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyk1", "base32 character '1'");
  expect_rejected("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvy", "truncated digest");
  expect_rejected("b", "nothing after");
  expect_rejected("BAFKreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "mixed case");
}

Bytes v1_bytes(std::uint64_t version, std::uint64_t codec, std::uint64_t hash, std::uint64_t length,
               std::size_t digest_bytes) {
  Bytes out;
  put_varint(out, version);
  put_varint(out, codec);
  put_varint(out, hash);
  put_varint(out, length);
  out.insert(out.end(), digest_bytes, 0xab);
  return out;
}

TEST(Cid, RejectsUnsupportedVersionCodecHashAndLengths) {
  auto text = [](const Bytes& bytes) { return "b" + base32_encode(bytes); };
  expect_rejected(text(v1_bytes(2, 0x70, 0x12, 32, 32)), "unsupported CID version 2");
  expect_rejected(text(v1_bytes(1, 0x71, 0x12, 32, 32)), "unsupported codec 0x71");
  expect_rejected(text(v1_bytes(1, 0x55, 0x13, 64, 64)), "unsupported multihash 0x13");
  expect_rejected(text(v1_bytes(1, 0x55, 0x12, 20, 20)), "length is 20");
  expect_rejected(text(v1_bytes(1, 0x55, 0x12, 32, 31)), "truncated digest");
  Bytes trailing = v1_bytes(1, 0x55, 0x12, 32, 33);
  expect_rejected(text(trailing), "trailing");
  expect_rejected(text(Bytes{0x01, 0x80}), "truncated varint");
  expect_rejected(text(Bytes{0x01, 0x55, 0x12}), "truncated varint");
  // A v0 multihash behind a multibase prefix is not a CID.
  expect_rejected(text(Cid::parse(kDirV0).value().to_bytes()), "base58btc without prefix");
  EXPECT_FALSE(Cid::from_bytes({}).has_value());
  Bytes short_v0{0x12, 0x20, 1, 2, 3};
  auto got = Cid::from_bytes(short_v0);
  ASSERT_FALSE(got.has_value());
  EXPECT_NE(got.error().message.find("CIDv0"), std::string::npos);
}

// Random edits of valid CIDs: each is either rejected with EINVAL or is a CID that prints back
// to text that parses to the same CID. Never a crash.
TEST(Cid, RandomMutationsNeverCrash) {
  std::mt19937 rng(42);
  const std::string alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0OIl=+/ \x01\xff";
  std::vector<std::string> seeds{std::string(kEmptyV0), std::string(kEmptyRawV1), std::string(kDirV0),
                                 std::string(kDirV1)};
  int accepted = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string text = seeds[rng() % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      std::size_t pos = rng() % text.size();
      switch (rng() % 4) {
        case 0:
          text[pos] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          text.erase(pos, 1);
          break;
        case 2:
          text.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
        default:
          text.resize(pos);
          break;
      }
    }
    auto cid = Cid::parse(text);
    if (!cid) {
      EXPECT_EQ(cid.error().errnum, EINVAL);
      EXPECT_FALSE(cid.error().message.empty());
      continue;
    }
    ++accepted;
    EXPECT_EQ(Cid::parse(cid->to_string()).value(), *cid) << text;
  }
  EXPECT_LT(accepted, 5000 / 2);
}

}  // namespace
}  // namespace pinfs::cid
