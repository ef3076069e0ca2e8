#include "pinfs/cid/importer.hpp"

#include <gtest/gtest.h>

#include "cid_test_support.hpp"
#include "pinfs/cid/dagpb.hpp"

namespace pinfs::cid {
namespace {

using testing::import_pieces;
using testing::import_whole;
using testing::pattern;

constexpr std::size_t kChunk = 262144;

ImportOptions version(int v) {
  ImportOptions options;
  options.cid_version = v;
  return options;
}

struct Vector {
  Bytes content;
  std::string_view v0;
  std::string_view v1;
};

TEST(Importer, ProtocolVectors) {
  std::vector<Vector> vectors{
      {{},
       "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH",
       "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"},
      {{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n'},
       "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
       "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"},
      {Bytes(1 << 20, 0), "QmVkbauSDEaMP4Tkq6Epm9uW75mWm136n81YH8fGtfwdHU",
       "bafybeiggzq4ryi7hscq5hzvzcnk4urnxt3asp37dhgvnjilf7exskximla"},
  };
  for (const Vector& v : vectors) {
    auto r0 = import_whole(v.content, version(0));
    auto r1 = import_whole(v.content, version(1));
    EXPECT_EQ(r0.cid.to_string(), v.v0) << v.content.size() << " bytes";
    EXPECT_EQ(r1.cid.to_string(), v.v1) << v.content.size() << " bytes";
    EXPECT_EQ(r0.size, v.content.size());
    EXPECT_EQ(r1.size, v.content.size());
    EXPECT_EQ(import_pieces(v.content, 5, version(0)).cid.to_string(), v.v0);
    EXPECT_EQ(import_pieces(v.content, 6, version(1)).cid.to_string(), v.v1);
  }
}

TEST(Importer, OneChunkV1FileIsItsRawLeaf) {
  Bytes data = pattern(kChunk, 1);
  auto r = import_whole(data, version(1));
  EXPECT_EQ(r.cid, cid_of_block(1, Codec::Raw, data));
  EXPECT_EQ(r.tsize, kChunk);
  Bytes more = pattern(kChunk + 1, 1);
  auto two = import_whole(more, version(1));
  EXPECT_EQ(two.cid.codec(), Codec::DagPb);
  EXPECT_TRUE(two.cid.to_string().starts_with("bafybei"));
}

// Every size around a layout boundary: same CID however the bytes are fed, the same CID as
// Kubo's recursive algorithm, and a DAG that rebuilds the exact content.
TEST(Importer, BoundarySizesAgreeWithReferenceAndRebuildContent) {
  const std::vector<std::size_t> sizes{0, 1, kChunk - 1, kChunk, kChunk + 1, 174 * kChunk, 174 * kChunk + 1};
  Bytes all = pattern(sizes.back(), 11);
  for (int v : {0, 1}) {
    for (std::size_t size : sizes) {
      SCOPED_TRACE("v" + std::to_string(v) + " size " + std::to_string(size));
      ByteView data = ByteView(all).first(size);
      testing::BlockStore store;
      auto whole = import_whole(data, version(v), testing::store_into(store));
      EXPECT_EQ(whole.size, size);
      EXPECT_EQ(import_pieces(data, size + 17, version(v)).cid, whole.cid);
      EXPECT_EQ(testing::ReferenceBuilder(data, version(v)).build().cid, whole.cid);
      EXPECT_EQ(testing::ReferenceBuilder(data, version(v)).build().tsize, whole.tsize);
      testing::WalkResult walked;
      std::uint64_t tsize = 0, filesize = 0;
      testing::walk(store, whole.cid, 0, walked, &tsize, &filesize);
      ASSERT_FALSE(HasFatalFailure());
      EXPECT_TRUE(std::equal(walked.content.begin(), walked.content.end(), data.begin(), data.end()));
      EXPECT_EQ(tsize, whole.tsize);
      EXPECT_EQ(walked.leaf_depths.size(), 1u) << "leaves at different depths: not balanced";
      int expected_depth = size <= kChunk ? 0 : size <= 174 * kChunk ? 1 : 2;
      EXPECT_EQ(*walked.leaf_depths.begin(), expected_depth);
      EXPECT_LE(walked.max_links, 174u);
    }
  }
}

// Small chunks make deep trees cheap: every size from 0 to a few full levels, several fan-outs,
// against the reference, fed whole and in random pieces.
TEST(Importer, SmallChunksMatchReferenceAtEveryLevel) {
  Bytes all = pattern(5000, 21);
  for (std::size_t max_links : {2u, 3u, 5u, 174u}) {
    for (std::size_t chunk : {1u, 3u, 16u}) {
      for (int v : {0, 1}) {
        ImportOptions options;
        options.cid_version = v;
        options.chunk_size = chunk;
        options.max_links = max_links;
        std::size_t limit = max_links == 174 ? 400 : std::min<std::size_t>(all.size(), 130 * chunk);
        for (std::size_t size = 0; size <= limit; size += (size < 64 ? 1 : 7)) {
          ByteView data = ByteView(all).first(size);
          auto expected = testing::ReferenceBuilder(data, options).build();
          auto got = import_whole(data, options);
          ASSERT_EQ(got.cid, expected.cid) << "chunk " << chunk << " links " << max_links << " size " << size;
          ASSERT_EQ(got.tsize, expected.tsize);
          ASSERT_EQ(import_pieces(data, size, options).cid, expected.cid);
        }
      }
    }
  }
}

// Past 174*174 chunks the tree has three levels of links. With 64-byte chunks that is 1.9 MB,
// so the full structure is checked block by block and against the reference.
TEST(Importer, ThreeLevelStructureWithSmallChunks) {
  ImportOptions options;
  options.chunk_size = 64;
  std::size_t size = 174 * 174 * 64 + 1;
  Bytes data = pattern(size, 31);
  for (int v : {0, 1}) {
    options.cid_version = v;
    testing::BlockStore store;
    auto got = import_whole(data, options, testing::store_into(store));
    EXPECT_EQ(got.cid, testing::ReferenceBuilder(data, options).build().cid);
    for (std::uint64_t seed : {1u, 2u, 3u}) EXPECT_EQ(import_pieces(data, seed, options).cid, got.cid);
    auto root = decode_pb(store.at(got.cid.to_bytes()));
    ASSERT_TRUE(root.has_value());
    EXPECT_EQ(root->links.size(), 2u);
    testing::WalkResult walked;
    std::uint64_t tsize = 0, filesize = 0;
    testing::walk(store, got.cid, 0, walked, &tsize, &filesize);
    ASSERT_FALSE(HasFatalFailure());
    EXPECT_EQ(walked.content, data);
    EXPECT_EQ(walked.leaf_depths, std::set<int>{3});
    EXPECT_EQ(tsize, got.tsize);
    EXPECT_EQ(filesize, size);
  }
}

// One real three-level file (7.9 GB, generated on the fly, never stored): the root has two
// children, leaves sit three links down, and the sink sees every inner block.
TEST(Importer, ThreeLevelRealSize) {
  const std::uint64_t size = 174ull * 174 * kChunk + 3 * kChunk + 5;
  Bytes block = pattern(4 << 20, 41);
  testing::BlockStore inner;
  std::uint64_t raw_leaves = 0;
  FileImporter importer(version(1), [&](const Cid& cid, ByteView bytes) {
    if (cid.codec() == Codec::Raw) {
      ++raw_leaves;
    } else {
      inner[cid.to_bytes()] = Bytes(bytes.begin(), bytes.end());
    }
  });
  std::uint64_t fed = 0;
  std::size_t rotate = 0;
  while (fed < size) {
    // A moving start offset keeps pieces unaligned to chunks half of the time.
    std::size_t start = (rotate++ % 2) * 1000;
    std::size_t piece = static_cast<std::size_t>(std::min<std::uint64_t>(block.size() - start, size - fed));
    importer.update(ByteView(block).subspan(start, piece));
    fed += piece;
  }
  auto result = importer.finish();
  EXPECT_EQ(result.size, size);
  EXPECT_EQ(raw_leaves, (size + kChunk - 1) / kChunk);
  EXPECT_EQ(inner.size(), 175u + 2 + 1);  // level 1: 174 full + 1; level 2: 1 full + 1; the root
  auto root = decode_pb(inner.at(result.cid.to_bytes()));
  ASSERT_TRUE(root.has_value());
  ASSERT_EQ(root->links.size(), 2u);
  auto unixfs = decode_unixfs(root->data.value());
  ASSERT_TRUE(unixfs.has_value());
  EXPECT_EQ(unixfs->filesize, std::optional<std::uint64_t>(size));
  EXPECT_EQ(unixfs->blocksizes, (std::vector<std::uint64_t>{174ull * 174 * kChunk, 3 * kChunk + 5}));
  int depth = 0;
  Cid cursor = result.cid;
  while (cursor.codec() == Codec::DagPb) {
    auto node = decode_pb(inner.at(cursor.to_bytes()));
    ASSERT_TRUE(node.has_value());
    cursor = node->links.back().hash;
    ++depth;
  }
  EXPECT_EQ(depth, 3);
  std::uint64_t tsize = 0;
  for (const auto& link : root->links) tsize += link.tsize.value();
  EXPECT_EQ(result.tsize, tsize + inner.at(result.cid.to_bytes()).size());
  EXPECT_EQ(
      result.tsize, size + [&] {
        std::uint64_t sum = 0;
        for (const auto& [cid, bytes] : inner) sum += bytes.size();
        return sum;
      }());
}

TEST(Importer, FinishIsIdempotentAndUpdateAfterFinishIsIgnored) {
  FileImporter importer(version(1));
  Bytes data = pattern(1000, 2);
  importer.update(data);
  auto first = importer.finish();
  importer.update(data);
  EXPECT_EQ(importer.finish().cid, first.cid);
  FileImporter moved = std::move(importer);
  EXPECT_EQ(moved.finish().cid, first.cid);
}

TEST(Importer, ImportFileMatchesInMemoryAndReportsErrors) {
  Bytes data = pattern(3 * kChunk + 77, 9);
  std::string path = testing::write_temp("import-file", data);
  for (int v : {0, 1}) {
    auto got = import_file(path, version(v));
    ASSERT_TRUE(got.has_value()) << got.error().message;
    EXPECT_EQ(got->cid, import_whole(data, version(v)).cid);
    EXPECT_EQ(got->size, data.size());
  }
  std::remove(path.c_str());
  auto missing = import_file(path);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().errnum, ENOENT);
  EXPECT_NE(missing.error().message.find(path), std::string::npos);
  auto dir = import_file(::testing::TempDir());
  ASSERT_FALSE(dir.has_value());
  EXPECT_EQ(dir.error().errnum, EISDIR);
}

}  // namespace
}  // namespace pinfs::cid
