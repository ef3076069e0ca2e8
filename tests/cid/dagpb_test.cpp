#include "pinfs/cid/dagpb.hpp"

#include <gtest/gtest.h>

#include <random>

#include "cid_test_support.hpp"
#include "pinfs/cid/importer.hpp"

namespace pinfs::cid {
namespace {

Cid some_cid(std::uint8_t fill, int version = 1, Codec codec = Codec::Raw) {
  Digest digest;
  digest.fill(fill);
  return version == 0 ? Cid::v0(digest) : Cid::v1(codec, digest);
}

TEST(DagPb, EmptyDirectoryIsTheKnownBlock) {
  auto v0 = build_directory({}, 0);
  ASSERT_TRUE(v0.has_value());
  EXPECT_EQ(v0->block, (Bytes{0x0a, 0x02, 0x08, 0x01}));
  EXPECT_EQ(v0->cid.to_string(), "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn");
  EXPECT_EQ(v0->tsize, 4u);
  auto v1 = build_directory({}, 1);
  ASSERT_TRUE(v1.has_value());
  EXPECT_EQ(v1->cid.to_string(), "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354");
}

TEST(DagPb, LinksComeFirstAndKeepEmptyNameAndTsize) {
  PbNode node;
  node.links.push_back({some_cid(1), "", 7});
  node.data = Bytes{0x08, 0x02};
  Bytes bytes = encode_pb(node);
  ASSERT_GE(bytes.size(), 2u);
  EXPECT_EQ(bytes[0], 0x12);  // field 2 (Links) first
  Bytes hash = some_cid(1).to_bytes();
  Bytes link;
  link.push_back(0x0a);
  link.push_back(static_cast<std::uint8_t>(hash.size()));
  link.insert(link.end(), hash.begin(), hash.end());
  link.insert(link.end(), {0x12, 0x00, 0x18, 0x07});  // Name "" and Tsize 7 are both written
  Bytes expected{0x12, static_cast<std::uint8_t>(link.size())};
  expected.insert(expected.end(), link.begin(), link.end());
  expected.insert(expected.end(), {0x0a, 0x02, 0x08, 0x02});
  EXPECT_EQ(bytes, expected);
  auto back = decode_pb(bytes);
  ASSERT_TRUE(back.has_value()) << back.error().message;
  ASSERT_EQ(back->links.size(), 1u);
  EXPECT_EQ(back->links[0].hash, some_cid(1));
  EXPECT_EQ(back->links[0].name, std::optional<std::string>(""));
  EXPECT_EQ(back->links[0].tsize, std::optional<std::uint64_t>(7));
  EXPECT_EQ(back->data, node.data);
}

TEST(DagPb, DirectorySortsBytewiseAndSumsTsize) {
  std::vector<DirEntry> entries{{"b", some_cid(2), 10},
                                {"\xc3\xa9t\xc3\xa9", some_cid(3), 20},
                                {"B", some_cid(4), 30},
                                {"a", some_cid(5), 40}};
  auto dir = build_directory(entries, 1);
  ASSERT_TRUE(dir.has_value()) << dir.error().message;
  auto node = decode_pb(dir->block);
  ASSERT_TRUE(node.has_value());
  std::vector<std::string> names;
  for (const auto& link : node->links) names.push_back(link.name.value());
  EXPECT_EQ(names, (std::vector<std::string>{"B", "a", "b", "\xc3\xa9t\xc3\xa9"}));
  EXPECT_EQ(node->links[0].hash, some_cid(4));
  EXPECT_EQ(node->links[0].tsize, std::optional<std::uint64_t>(30));
  EXPECT_EQ(dir->tsize, dir->block.size() + 100);
  EXPECT_EQ(dir->cid, cid_of_block(1, Codec::DagPb, dir->block));
  auto unixfs = decode_unixfs(node->data.value());
  ASSERT_TRUE(unixfs.has_value());
  EXPECT_EQ(unixfs->type, UnixfsType::Directory);
}

TEST(DagPb, DirectoryOfImportedFileCarriesItsTsize) {
  Bytes content{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n'};
  ImportOptions v0;
  v0.cid_version = 0;
  auto file = testing::import_whole(content, v0);
  EXPECT_EQ(file.cid.to_string(), "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
  EXPECT_EQ(file.tsize, 20u);
  auto dir = build_directory({{"hello.txt", file.cid, file.tsize}}, 0);
  ASSERT_TRUE(dir.has_value());
  EXPECT_EQ(dir->tsize, dir->block.size() + 20);
}

TEST(DagPb, DirectoryRejectsBadNames) {
  for (auto entries : std::vector<std::vector<DirEntry>>{{{"", some_cid(1), 1}},
                                                         {{"a/b", some_cid(1), 1}},
                                                         {{std::string("a\0b", 3), some_cid(1), 1}},
                                                         {{"x", some_cid(1), 1}, {"x", some_cid(2), 2}},
                                                         {{"x", Cid(), 1}}}) {
    auto dir = build_directory(entries, 1);
    ASSERT_FALSE(dir.has_value());
    EXPECT_EQ(dir.error().errnum, EINVAL);
  }
}

TEST(Unixfs, RoundTripsEveryField) {
  UnixfsData data;
  data.type = UnixfsType::File;
  data.data = Bytes{1, 2, 3};
  data.filesize = 1ull << 40;
  data.blocksizes = {262144, 262144, 5};
  data.hash_type = 0x22;
  data.fanout = 256;
  auto back = decode_unixfs(encode_unixfs(data));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->type, data.type);
  EXPECT_EQ(back->data, data.data);
  EXPECT_EQ(back->filesize, data.filesize);
  EXPECT_EQ(back->blocksizes, data.blocksizes);
  EXPECT_EQ(back->hash_type, data.hash_type);
  EXPECT_EQ(back->fanout, data.fanout);
  EXPECT_EQ(encode_unixfs(UnixfsData{}), (Bytes{0x08, 0x02}));
}

TEST(Unixfs, AcceptsPackedBlocksizesAndRejectsJunk) {
  auto packed = decode_unixfs(Bytes{0x08, 0x02, 0x22, 0x03, 0x80, 0x01, 0x05});
  ASSERT_TRUE(packed.has_value());
  EXPECT_EQ(packed->blocksizes, (std::vector<std::uint64_t>{128, 5}));
  EXPECT_FALSE(decode_unixfs(Bytes{0x18, 0x01}).has_value());        // no Type
  EXPECT_FALSE(decode_unixfs(Bytes{0x08, 0x09}).has_value());        // unknown Type
  EXPECT_FALSE(decode_unixfs(Bytes{0x0a, 0x01, 0x02}).has_value());  // Type as bytes
  EXPECT_FALSE(decode_unixfs(Bytes{0x08, 0x02, 0x12, 0x05, 0x00}).has_value());
}

struct Malformed {
  Bytes bytes;
  std::string_view reason;
};

TEST(DagPb, RejectsMalformedBytesWithAReason) {
  Bytes hash = some_cid(9).to_bytes();
  Bytes good_link{0x0a, static_cast<std::uint8_t>(hash.size())};
  good_link.insert(good_link.end(), hash.begin(), hash.end());
  auto node_with_link = [&](Bytes link) {
    Bytes out{0x12, static_cast<std::uint8_t>(link.size())};
    out.insert(out.end(), link.begin(), link.end());
    return out;
  };
  Bytes link_after_data{0x0a, 0x00};
  Bytes tail = node_with_link(good_link);
  link_after_data.insert(link_after_data.end(), tail.begin(), tail.end());
  Bytes tsize_as_bytes = good_link;
  tsize_as_bytes.insert(tsize_as_bytes.end(), {0x1a, 0x00});
  Bytes name_before_hash{0x12, 0x00};
  name_before_hash.insert(name_before_hash.end(), good_link.begin(), good_link.end());
  std::vector<Malformed> cases{
      {{0x0a, 0x05, 0x01}, "runs past the end"},
      {{0x08, 0x01}, "PBNode.Data has wire type 0"},
      {{0x0a, 0x00, 0x0a, 0x00}, "Data repeated"},
      {link_after_data, "after Data"},
      {{0x1a, 0x00}, "unknown field 3"},
      {{0x0b}, "unsupported wire type 3"},
      {{0x0a}, "truncated varint"},
      {{0x00}, "field number 0"},
      {node_with_link({0x12, 0x00}), "missing Hash"},
      {node_with_link(tsize_as_bytes), "PBLink.Tsize has wire type 2"},
      {node_with_link(name_before_hash), "out of order"},
      {node_with_link({0x0a, 0x03, 0x01, 0x55, 0x12}), "PBLink.Hash"},
  };
  for (const Malformed& c : cases) {
    auto node = decode_pb(c.bytes);
    ASSERT_FALSE(node.has_value()) << c.reason;
    EXPECT_EQ(node.error().errnum, EINVAL);
    EXPECT_NE(node.error().message.find(c.reason), std::string::npos)
        << "got \"" << node.error().message << "\", expected " << c.reason;
  }
}

// Valid blocks of every kind the importer makes, then thousands of random edits and every
// truncation: a strict canonical decoder either rejects the bytes or re-encodes them exactly.
TEST(DagPb, MutationsAndTruncationsAreRejectedOrCanonical) {
  std::vector<Bytes> seeds;
  for (int version : {0, 1}) {
    ImportOptions options;
    options.cid_version = version;
    options.chunk_size = 8;
    options.max_links = 5;
    testing::import_whole(testing::pattern(100, 3), options, [&](const Cid& cid, ByteView block) {
      if (cid.codec() == Codec::DagPb) seeds.emplace_back(block.begin(), block.end());
    });
  }
  seeds.push_back(build_directory({{"a", some_cid(1), 3}, {"bb", some_cid(2, 0), 4}}, 1)->block);
  ASSERT_GT(seeds.size(), 10u);

  std::size_t rejected = 0;
  std::size_t total = 0;
  auto check = [&](const Bytes& bytes) {
    ++total;
    auto node = decode_pb(bytes);
    if (!node) {
      ++rejected;
      EXPECT_EQ(node.error().errnum, EINVAL);
      return;
    }
    EXPECT_EQ(encode_pb(*node), bytes);
  };
  for (const Bytes& seed : seeds) {
    ASSERT_TRUE(decode_pb(seed).has_value());
    for (std::size_t cut = 0; cut < seed.size(); ++cut) check(Bytes(seed.begin(), seed.begin() + cut));
  }
  std::mt19937 rng(1234);
  for (int i = 0; i < 5000; ++i) {
    Bytes bytes = seeds[rng() % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !bytes.empty(); ++e) {
      std::size_t pos = rng() % bytes.size();
      switch (rng() % 4) {
        case 0:
          bytes[pos] = static_cast<std::uint8_t>(rng());
          break;
        case 1:
          bytes[pos] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
          break;
        case 2:
          bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(pos), static_cast<std::uint8_t>(rng()));
          break;
        default:
          bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(pos));
          break;
      }
    }
    check(bytes);
  }
  for (int i = 0; i < 2000; ++i) {
    Bytes random(rng() % 64);
    for (auto& b : random) b = static_cast<std::uint8_t>(rng());
    check(random);
  }
  EXPECT_GT(rejected, total / 2);
}

}  // namespace
}  // namespace pinfs::cid
