// Helpers shared by the cid suite: deterministic content, a DAG walker over captured
// blocks, a non-streaming transliteration of Kubo's balanced layout, and process running.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>

#include "pinfs/cid/dagpb.hpp"
#include "pinfs/cid/importer.hpp"

namespace pinfs::cid::testing {

inline Bytes pattern(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(size);
  for (std::size_t i = 0; i < size; i += 8) {
    std::uint64_t word = rng();
    for (std::size_t j = 0; j < 8 && i + j < size; ++j)
      out[i + j] = static_cast<std::uint8_t>(word >> (8 * j));
  }
  return out;
}

inline ImportResult import_whole(ByteView data, ImportOptions options = {}, BlockSink sink = {}) {
  FileImporter importer(options, std::move(sink));
  importer.update(data);
  return importer.finish();
}

// Feeds data in random pieces, including empty ones and pieces far larger than a chunk.
inline ImportResult import_pieces(ByteView data, std::uint64_t seed, ImportOptions options = {}) {
  std::mt19937_64 rng(seed);
  FileImporter importer(options);
  std::size_t pos = 0;
  while (pos < data.size()) {
    std::size_t piece = 0;
    switch (rng() % 4) {
      case 0:
        piece = rng() % 3;
        break;
      case 1:
        piece = rng() % (options.chunk_size + 2);
        break;
      case 2:
        piece = rng() % (3 * options.chunk_size + 1);
        break;
      default:
        piece = rng() % (16 * options.chunk_size);
        break;
    }
    piece = std::min(piece, data.size() - pos);
    importer.update(data.subspan(pos, piece));
    pos += piece;
  }
  EXPECT_EQ(importer.bytes_seen(), data.size());
  return importer.finish();
}

using BlockStore = std::map<Bytes, Bytes>;  // binary CID -> block

inline BlockSink store_into(BlockStore& store) {
  return [&store](const Cid& cid, ByteView block) {
    EXPECT_EQ(sha256(block), cid.digest()) << "sink got a block whose CID does not match its bytes";
    store[cid.to_bytes()] = Bytes(block.begin(), block.end());
  };
}

struct WalkResult {
  Bytes content;
  std::uint64_t tsize = 0;
  std::set<int> leaf_depths;
  std::size_t max_links = 0;
};

// Rebuilds the file from its blocks, checking every invariant a parent states about its children.
inline void walk(const BlockStore& store, const Cid& cid, int depth, WalkResult& out, std::uint64_t* tsize,
                 std::uint64_t* filesize) {
  auto found = store.find(cid.to_bytes());
  ASSERT_NE(found, store.end()) << "block " << cid.to_string() << " was never given to the sink";
  const Bytes& block = found->second;
  ASSERT_EQ(sha256(block), cid.digest());
  if (cid.codec() == Codec::Raw) {
    out.content.insert(out.content.end(), block.begin(), block.end());
    out.leaf_depths.insert(depth);
    *tsize = block.size();
    *filesize = block.size();
    return;
  }
  auto node = decode_pb(block);
  ASSERT_TRUE(node.has_value()) << node.error().message;
  ASSERT_EQ(encode_pb(*node), block) << "block is not canonical dag-pb";
  ASSERT_TRUE(node->data.has_value());
  auto data = decode_unixfs(*node->data);
  ASSERT_TRUE(data.has_value()) << data.error().message;
  ASSERT_EQ(data->type, UnixfsType::File);
  ASSERT_TRUE(data->filesize.has_value());
  out.max_links = std::max(out.max_links, node->links.size());
  if (node->links.empty()) {
    ASSERT_TRUE(data->blocksizes.empty());
    std::size_t n = data->data ? data->data->size() : 0;
    ASSERT_EQ(*data->filesize, n);
    if (data->data) out.content.insert(out.content.end(), data->data->begin(), data->data->end());
    out.leaf_depths.insert(depth);
    *tsize = block.size();
    *filesize = n;
    return;
  }
  ASSERT_FALSE(data->data.has_value());
  ASSERT_EQ(data->blocksizes.size(), node->links.size());
  std::uint64_t children_tsize = 0;
  std::uint64_t children_size = 0;
  for (std::size_t i = 0; i < node->links.size(); ++i) {
    const PbLink& link = node->links[i];
    ASSERT_EQ(link.name, std::optional<std::string>(""));
    ASSERT_EQ(link.hash.version(), cid.version());
    std::uint64_t child_tsize = 0;
    std::uint64_t child_size = 0;
    walk(store, link.hash, depth + 1, out, &child_tsize, &child_size);
    if (::testing::Test::HasFatalFailure()) return;
    ASSERT_EQ(link.tsize, std::optional<std::uint64_t>(child_tsize));
    ASSERT_EQ(data->blocksizes[i], child_size);
    children_tsize += child_tsize;
    children_size += child_size;
  }
  ASSERT_EQ(*data->filesize, children_size);
  *tsize = block.size() + children_tsize;
  *filesize = children_size;
}

// Kubo's balanced builder as written upstream (root grows one level at a time and each new
// root is filled recursively), kept in memory: the streaming importer must agree with it.
class ReferenceBuilder {
 public:
  ReferenceBuilder(ByteView data, ImportOptions options) : data_(data), options_(options) {}

  ImportResult build() {
    Node root = leaf();
    for (int depth = 1; pos_ < data_.size(); ++depth) {
      std::vector<Node> children{root};
      root = fill(std::move(children), depth);
    }
    return {root.cid, data_.size(), root.tsize};
  }

 private:
  struct Node {
    Cid cid;
    std::uint64_t tsize;
    std::uint64_t filesize;
  };

  Node leaf() {
    std::size_t n = std::min(options_.chunk_size, data_.size() - pos_);
    ByteView chunk = data_.subspan(pos_, n);
    pos_ += n;
    if (options_.cid_version == 1) return {cid_of_block(1, Codec::Raw, chunk), n, n};
    UnixfsData unixfs;
    unixfs.type = UnixfsType::File;
    if (n > 0) unixfs.data = Bytes(chunk.begin(), chunk.end());
    unixfs.filesize = n;
    PbNode node;
    node.data = encode_unixfs(unixfs);
    Bytes block = encode_pb(node);
    return {cid_of_block(0, Codec::DagPb, block), block.size(), n};
  }

  Node fill(std::vector<Node> children, int depth) {
    while (children.size() < options_.max_links && pos_ < data_.size()) {
      children.push_back(depth == 1 ? leaf() : fill({}, depth - 1));
    }
    PbNode node;
    UnixfsData unixfs;
    unixfs.type = UnixfsType::File;
    std::uint64_t filesize = 0, tsize = 0;
    for (const Node& child : children) {
      node.links.push_back({child.cid, "", child.tsize});
      unixfs.blocksizes.push_back(child.filesize);
      filesize += child.filesize;
      tsize += child.tsize;
    }
    unixfs.filesize = filesize;
    node.data = encode_unixfs(unixfs);
    Bytes block = encode_pb(node);
    return {cid_of_block(options_.cid_version, Codec::DagPb, block), tsize + block.size(), filesize};
  }

  ByteView data_;
  ImportOptions options_;
  std::size_t pos_ = 0;
};

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a shell command line, capturing stdout and stderr separately.
inline ProcessResult run_shell(const std::string& command) {
  std::string err_path = ::testing::TempDir() + "/pinfs-cid-stderr-" + std::to_string(::getpid());
  ProcessResult result;
  FILE* pipe = ::popen((command + " 2>" + err_path).c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, got);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  result.err.assign(std::istreambuf_iterator<char>(err), {});
  std::remove(err_path.c_str());
  return result;
}

inline std::string write_temp(const std::string& name, ByteView data) {
  std::string path = ::testing::TempDir() + "/pinfs-cid-" + std::to_string(::getpid()) + "-" + name;
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  return path;
}

}  // namespace pinfs::cid::testing
