#include "pinfs/cid/multibase.hpp"

#include <gtest/gtest.h>

#include <random>

namespace pinfs::cid {
namespace {

Bytes bytes_of(std::string_view text) {
  return Bytes(text.begin(), text.end());
}

TEST(Varint, RoundTripsAndIsMinimal) {
  for (std::uint64_t value : {0ull, 1ull, 127ull, 128ull, 300ull, 16383ull, 16384ull, (1ull << 63) - 1}) {
    Bytes out;
    put_varint(out, value);
    ByteView in = out;
    auto got = get_varint(in);
    ASSERT_TRUE(got.has_value()) << value;
    EXPECT_EQ(*got, value);
    EXPECT_TRUE(in.empty());
  }
  Bytes three_hundred;
  put_varint(three_hundred, 300);
  EXPECT_EQ(three_hundred, (Bytes{0xac, 0x02}));
}

TEST(Varint, RejectsTruncatedOverlongAndNonMinimal) {
  Bytes truncated{0x80, 0x80};
  ByteView in = truncated;
  auto got = get_varint(in);
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().errnum, EINVAL);
  EXPECT_NE(got.error().message.find("truncated"), std::string::npos);

  Bytes overlong(10, 0xff);
  overlong.back() = 0x01;
  in = overlong;
  got = get_varint(in);
  ASSERT_FALSE(got.has_value());
  EXPECT_NE(got.error().message.find("longer than 9"), std::string::npos);

  Bytes padded{0x81, 0x00};
  in = padded;
  got = get_varint(in);
  ASSERT_FALSE(got.has_value());
  EXPECT_NE(got.error().message.find("minimally"), std::string::npos);

  Bytes empty;
  in = empty;
  EXPECT_FALSE(get_varint(in).has_value());
}

TEST(Base58, KnownValuesAndLeadingZeros) {
  EXPECT_EQ(base58btc_encode(bytes_of("hello world")), "StV1DL6CwTryKyV");
  EXPECT_EQ(base58btc_encode(Bytes{0, 0, 1}), "112");
  EXPECT_EQ(base58btc_encode(Bytes{}), "");
  EXPECT_EQ(base58btc_decode("112").value(), (Bytes{0, 0, 1}));
  EXPECT_EQ(base58btc_decode("StV1DL6CwTryKyV").value(), bytes_of("hello world"));
}

TEST(Base58, RejectsCharactersOutsideTheAlphabet) {
  for (std::string_view bad : {"0abc", "abcO", "abIc", "abcl", "ab c", "ab\xff"}) {
    auto got = base58btc_decode(bad);
    ASSERT_FALSE(got.has_value()) << bad;
    EXPECT_EQ(got.error().errnum, EINVAL);
    EXPECT_NE(got.error().message.find("invalid base58btc character"), std::string::npos);
  }
}

TEST(Base32, Rfc4648VectorsLowerCaseUnpadded) {
  EXPECT_EQ(base32_encode(bytes_of("")), "");
  EXPECT_EQ(base32_encode(bytes_of("f")), "my");
  EXPECT_EQ(base32_encode(bytes_of("fo")), "mzxq");
  EXPECT_EQ(base32_encode(bytes_of("foo")), "mzxw6");
  EXPECT_EQ(base32_encode(bytes_of("foob")), "mzxw6yq");
  EXPECT_EQ(base32_encode(bytes_of("fooba")), "mzxw6ytb");
  EXPECT_EQ(base32_encode(bytes_of("foobar")), "mzxw6ytboi");
  EXPECT_EQ(base32_decode("mzxw6ytboi").value(), bytes_of("foobar"));
}

TEST(Base32, RejectsBadCharactersLengthsAndTrailingBits) {
  EXPECT_FALSE(base32_decode("MZXW6").has_value());  // upper case is only valid behind the 'B' prefix
  EXPECT_FALSE(base32_decode("mzx1").has_value());
  EXPECT_FALSE(base32_decode("m").has_value());
  EXPECT_FALSE(base32_decode("mzx").has_value());
  EXPECT_FALSE(base32_decode("mz").has_value() && base32_decode("mz").value() == bytes_of("f"));
  auto bits = base32_decode("mz");  // 'z' leaves non-zero bits after the one byte
  ASSERT_FALSE(bits.has_value());
  EXPECT_NE(bits.error().message.find("trailing bits"), std::string::npos);
}

TEST(Multibase, RandomRoundTrips) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    Bytes data(rng() % 70);
    for (auto& b : data) b = static_cast<std::uint8_t>(rng() % (i % 3 == 0 ? 2 : 256));
    ASSERT_EQ(base58btc_decode(base58btc_encode(data)).value(), data);
    ASSERT_EQ(base32_decode(base32_encode(data)).value(), data);
  }
}

}  // namespace
}  // namespace pinfs::cid
