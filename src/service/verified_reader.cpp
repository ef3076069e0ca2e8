#include "pinfs/service/verified_reader.hpp"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "pinfs/cid/dagpb.hpp"
#include "pinfs/service/http_gateway.hpp"

namespace pinfs::service {

namespace {

std::size_t put_varint(std::uint8_t* out, std::uint64_t v) {
  std::size_t n = 0;
  while (v >= 0x80) {
    out[n++] = static_cast<std::uint8_t>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out[n++] = static_cast<std::uint8_t>(v);
  return n;
}

std::size_t varint_length(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// sha2-256 of the concatenation of pieces, without copying them together.
cid::Digest sha256_of(std::initializer_list<std::pair<const void*, std::size_t>> pieces) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (const auto& [data, size] : pieces) EVP_DigestUpdate(ctx, data, size);
  cid::Digest digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx, digest.data(), &length);
  EVP_MD_CTX_free(ctx);
  return digest;
}

}  // namespace

bool leaf_matches(const cid::Cid& leaf, const char* data, std::size_t size) {
  if (leaf.codec() == cid::Codec::Raw) return sha256_of({{data, size}}) == leaf.digest();
  // The Kubo leaf block: 0a <len> [08 02] [12 <n> <data>] [18 <n>], the UnixFS Data inside PBNode.Data.
  std::uint8_t header[32];
  std::uint8_t trailer[16];
  const std::size_t data_field = size == 0 ? 0 : 1 + varint_length(size) + size;
  const std::size_t unixfs_length = 2 + data_field + 1 + varint_length(size);
  std::size_t h = 0;
  header[h++] = 0x0a;
  h += put_varint(header + h, unixfs_length);
  header[h++] = 0x08;
  header[h++] = 0x02;
  if (size != 0) {
    header[h++] = 0x12;
    h += put_varint(header + h, size);
  }
  std::size_t t = 0;
  trailer[t++] = 0x18;
  t += put_varint(trailer + t, size);
  return sha256_of({{header, h}, {data, size}, {trailer, t}}) == leaf.digest();
}

VerifiedReader::VerifiedReader(std::shared_ptr<Gateway> gateway, std::size_t node_cache_bytes)
    : gateway_(std::move(gateway)), node_cache_bytes_(node_cache_bytes) {}

void VerifiedReader::mismatch(const std::string& root, const cid::Cid& leaf, std::uint64_t offset,
                              const std::string& what) {
  spdlog::error("verified read of {}: block {} at byte {} from gateway {}: {}; not returned, not cached",
                root, leaf.to_string(), offset, gateway_->describe(), what);
}

Result<std::vector<std::uint8_t>> VerifiedReader::fetch_block(const cid::Cid& cid, const std::string& text) {
  for (int attempt = 0;; ++attempt) {
    ++stats_.blocks_fetched;
    auto got = gateway_->block(text);
    std::string what;
    if (got) {
      const cid::Cid actual = cid::cid_of_block(cid.version(), cid.codec(), *got);
      if (actual == cid) return got;
      what = "bytes hash to " + actual.to_string();
    } else if (got.error().errnum == EIO &&
               got.error().message.find(HttpGateway::kMismatch) != std::string::npos) {
      what = got.error().message;  // the HTTP gateway checks blocks itself
    } else {
      return std::unexpected(got.error());
    }
    ++stats_.mismatches;
    if (attempt >= 1) {
      mismatch(text, cid, 0, what + " (after one retry)");
      return fail(EIO, "block " + text + " from gateway " + gateway_->describe() + " does not match its CID");
    }
    spdlog::warn("block {} from gateway {}: {}; retrying once", text, gateway_->describe(), what);
  }
}

Result<VerifiedReader::FileNode> VerifiedReader::decode(const cid::Cid& cid,
                                                        const std::vector<std::uint8_t>& block) {
  FileNode node;
  node.block_size = block.size();
  if (cid.codec() == cid::Codec::Raw) {
    node.inline_data = block;
    node.size = block.size();
    return node;
  }
  const std::string text = cid.to_string();
  auto pb = cid::decode_pb(block);
  if (!pb) return fail(EIO, "block " + text + " is not a dag-pb node: " + pb.error().message);
  if (!pb->data) return fail(EIO, "dag-pb node " + text + " has no UnixFS data");
  auto fs = cid::decode_unixfs(*pb->data);
  if (!fs) return fail(EIO, "dag-pb node " + text + ": " + fs.error().message);
  if (fs->type == cid::UnixfsType::Directory || fs->type == cid::UnixfsType::HamtShard)
    return fail(EISDIR, text + " is a directory");
  if (fs->type != cid::UnixfsType::File && fs->type != cid::UnixfsType::Raw)
    return fail(EINVAL, text + " is not a UnixFS file");
  if (fs->data) node.inline_data = *fs->data;
  if (fs->blocksizes.size() != pb->links.size())
    return fail(EIO, "file node " + text + " has " + std::to_string(pb->links.size()) + " links but " +
                         std::to_string(fs->blocksizes.size()) + " block sizes");
  node.size = node.inline_data.size();
  for (std::size_t i = 0; i < pb->links.size(); ++i) {
    Child child;
    child.cid = pb->links[i].hash;
    child.size = fs->blocksizes[i];
    child.has_tsize = pb->links[i].tsize.has_value();
    child.tsize = pb->links[i].tsize.value_or(0);
    node.size += child.size;
    node.children.push_back(std::move(child));
  }
  if (fs->filesize && *fs->filesize != node.size)
    return fail(EIO, "file node " + text + " says " + std::to_string(*fs->filesize) + " bytes, its parts " +
                         std::to_string(node.size));
  return node;
}

Result<VerifiedReader::NodePtr> VerifiedReader::node(const cid::Cid& cid) {
  const std::string key = cid.to_v1().to_string();
  {
    std::lock_guard lock(mu_);
    if (auto it = nodes_.find(key); it != nodes_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      ++stats_.node_cache_hits;
      return it->second.node;
    }
  }
  Result<std::vector<std::uint8_t>> block = std::unexpected(Error{ENOENT, "not stored"});
  bool stored = false;
  if (store_.get)
    if (auto kept = store_.get(key); kept && cid::cid_of_block(cid.version(), cid.codec(), *kept) == cid) {
      block = std::move(*kept);
      stored = true;
      ++stats_.stored_nodes;
    }
  if (!stored) block = fetch_block(cid, cid.to_string());
  if (!block) return std::unexpected(block.error());
  auto decoded = decode(cid, *block);
  if (!decoded) return std::unexpected(decoded.error());
  auto node = std::make_shared<const FileNode>(std::move(*decoded));
  if (node->children.empty()) return node;  // leaves are not kept
  if (!stored && store_.put) store_.put(key, *block);
  if (node->block_size > node_cache_bytes_) return node;
  std::lock_guard lock(mu_);
  if (nodes_.contains(key)) return node;
  lru_.push_front(key);
  nodes_[key] = Cached{node, lru_.begin()};
  cached_bytes_ += node->block_size;
  while (cached_bytes_ > node_cache_bytes_ && lru_.size() > 1) {
    auto victim = nodes_.find(lru_.back());
    cached_bytes_ -= victim->second.node->block_size;
    nodes_.erase(victim);
    lru_.pop_back();
  }
  return node;
}

Result<void> VerifiedReader::plan(const cid::Cid& cid, NodePtr node, std::uint64_t base, std::uint64_t begin,
                                  std::uint64_t end, std::vector<Segment>& out) {
  std::uint64_t pos = base;
  if (!node->inline_data.empty()) {
    const std::uint64_t stop = pos + node->inline_data.size();
    if (stop > begin && pos < end)
      out.push_back(Segment{Segment::Inline, pos, node->inline_data.size(), cid, node});
    pos = stop;
  }
  for (const Child& child : node->children) {
    const std::uint64_t stop = pos + child.size;
    if (stop <= begin || child.size == 0) {
      pos = stop;
      continue;
    }
    if (pos >= end) break;
    // A dag-pb child whose Tsize is its byte count plus a few bytes of framing is a leaf: its bytes come
    // by range and are checked by rebuilding its block. Anything else is an inner node, fetched as a block.
    const bool pb_leaf = child.has_tsize && child.tsize >= child.size && child.tsize - child.size <= 32 &&
                         child.size <= kMaxLeaf;
    if (child.cid.codec() == cid::Codec::Raw) {
      if (child.size > kMaxLeaf)
        return fail(EIO,
                    "leaf " + child.cid.to_string() + " claims " + std::to_string(child.size) + " bytes");
      out.push_back(Segment{Segment::RawLeaf, pos, child.size, child.cid, nullptr});
    } else if (pb_leaf) {
      out.push_back(Segment{Segment::PbLeaf, pos, child.size, child.cid, nullptr});
    } else {
      auto sub = this->node(child.cid);
      if (!sub) return std::unexpected(sub.error());
      if ((*sub)->size != child.size)
        return fail(EIO, "node " + child.cid.to_string() + " holds " + std::to_string((*sub)->size) +
                             " bytes, its parent says " + std::to_string(child.size));
      if (auto ok = plan(child.cid, *sub, pos, begin, end, out); !ok) return ok;
    }
    pos = stop;
  }
  return {};
}

Result<void> VerifiedReader::fetch_leaves(const std::string& root, const std::vector<Segment>& plan,
                                          std::size_t first, std::size_t last, const VerifiedSink& sink) {
  std::size_t retried_at = last;  // the leaf already retried once
  // Page-aligned, so that the content cache can write a leaf to its file without copying it into the page
  // cache first (O_DIRECT).
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  thread_local std::unique_ptr<char, Free> leaf_buffer(
      static_cast<char*>(std::aligned_alloc(4096, kMaxLeaf)));
  char* const buffer = leaf_buffer.get();
  std::size_t filled = 0;
  std::size_t i = first;
  while (i < last) {
    const std::uint64_t start = plan[i].offset;
    const std::uint64_t stop = plan[last - 1].offset + plan[last - 1].size;
    std::size_t current = i;
    bool stopped = false;
    std::string failure;
    filled = 0;
    ++stats_.range_requests;
    auto got = gateway_->read(root, "", start, stop - start, [&](const char* data, std::size_t n) {
      while (n > 0 && current < last) {
        const Segment& leaf = plan[current];
        const std::size_t take = std::min<std::size_t>(n, leaf.size - filled);
        std::memcpy(buffer + filled, data, take);
        filled += take;
        data += take;
        n -= take;
        if (filled < leaf.size) break;
        if (!leaf_matches(leaf.cid, buffer, filled)) {
          failure = "bytes do not hash to its CID";
          return false;
        }
        ++stats_.leaves_verified;
        if (!sink(leaf.offset, buffer, filled)) {
          stopped = true;
          return false;
        }
        filled = 0;
        ++current;
      }
      return true;  // past the last leaf the gateway ends the request itself
    });
    if (stopped) return fail(ECANCELED, "read of " + root + ": the reader stopped");
    if (current == last) return {};
    if (failure.empty()) {
      if (!got) {
        Error e = got.error();
        e.message = "verified read of " + root + ": " + e.message;
        return std::unexpected(std::move(e));
      }
      failure = "the gateway's answer ended " + std::to_string(start + *got - plan[current].offset) +
                " bytes into it (truncated)";
    }
    ++stats_.mismatches;
    const Segment& bad = plan[current];
    if (bad.kind == Segment::PbLeaf) {
      // The block itself is checkable whatever its encoding: that is this leaf's retry.
      spdlog::debug("verified read of {}: leaf {} by range: {}; fetching it as a block", root,
                    bad.cid.to_string(), failure);
      if (auto ok = leaf_by_block(root, bad, sink); !ok) return ok;
      i = current + 1;
      continue;
    }
    if (retried_at == current) {
      mismatch(root, bad.cid, bad.offset, failure + " (after one retry)");
      return fail(EIO, "read of " + root + ": leaf " + bad.cid.to_string() + " from gateway " +
                           gateway_->describe() + " does not match its CID");
    }
    spdlog::warn("verified read of {}: leaf {} at byte {} from gateway {}: {}; retrying once", root,
                 bad.cid.to_string(), bad.offset, gateway_->describe(), failure);
    retried_at = current;
    i = current;
  }
  return {};
}

Result<void> VerifiedReader::leaf_by_block(const std::string& root, const Segment& leaf,
                                           const VerifiedSink& sink) {
  auto got = node(leaf.cid);
  if (!got) return std::unexpected(got.error());
  if ((*got)->size != leaf.size)
    return fail(EIO, "leaf " + leaf.cid.to_string() + " holds " + std::to_string((*got)->size) +
                         " bytes, its parent says " + std::to_string(leaf.size));
  std::vector<Segment> sub;
  if (auto ok = plan(leaf.cid, *got, leaf.offset, leaf.offset, leaf.offset + leaf.size, sub); !ok) return ok;
  for (std::size_t i = 0; i < sub.size();) {
    if (sub[i].kind == Segment::Inline) {
      ++stats_.leaves_verified;
      if (!sink(sub[i].offset, reinterpret_cast<const char*>(sub[i].holder->inline_data.data()), sub[i].size))
        return fail(ECANCELED, "read of " + root + ": the reader stopped");
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < sub.size() && sub[j].kind != Segment::Inline) ++j;
    if (auto ok = fetch_leaves(root, sub, i, j, sink); !ok) return ok;
    i = j;
  }
  return {};
}

Result<void> VerifiedReader::local_or_fetched(const std::string& root, const std::vector<Segment>& plan,
                                              std::size_t first, std::size_t last, const VerifiedSink& sink,
                                              const LocalCopy& local) {
  thread_local std::vector<char> buffer;
  std::size_t missing = first;  // [missing, i): leaves the copy lacks, fetched before the next local one
  for (std::size_t i = first; i < last; ++i) {
    const Segment& leaf = plan[i];
    buffer.resize(leaf.size);
    if (!local.read(leaf.offset, leaf.size, buffer.data())) continue;
    if (!leaf_matches(leaf.cid, buffer.data(), buffer.size())) {
      ++stats_.local_mismatches;
      spdlog::warn(
          "verified read of {}: the local copy of leaf {} at byte {} does not match its CID; fetching it",
          root, leaf.cid.to_string(), leaf.offset);
      continue;
    }
    if (missing < i)
      if (auto ok = fetch_leaves(root, plan, missing, i, sink); !ok) return ok;
    missing = i + 1;
    ++stats_.leaves_verified;
    ++stats_.local_leaves;
    if (!local.sink(leaf.offset, buffer.data(), buffer.size()))
      return fail(ECANCELED, "read of " + root + ": the reader stopped");
  }
  if (missing < last) return fetch_leaves(root, plan, missing, last, sink);
  return {};
}

Result<std::uint64_t> VerifiedReader::read(const std::string& cid_text, std::uint64_t offset,
                                           std::uint64_t length, const VerifiedSink& sink,
                                           const LocalCopy* local) {
  auto root = cid::Cid::parse(cid_text);
  if (!root) return std::unexpected(root.error());
  // A file of one leaf is its own root: checked from the copy without asking the gateway. (Raw: any size
  // up to a block; dag-pb: a file within one default chunk may be a Kubo leaf block, else it has links and
  // is read through them below.)
  const bool raw_root = root->codec() == cid::Codec::Raw;
  if (local && local->size > 0 && local->size <= (raw_root ? kMaxLeaf : 262144) && offset < local->size &&
      length > 0) {
    thread_local std::vector<char> whole;
    whole.resize(local->size);
    if (local->read(0, whole.size(), whole.data())) {
      if (leaf_matches(*root, whole.data(), whole.size())) {
        ++stats_.leaves_verified;
        ++stats_.local_leaves;
        if (!local->sink(0, whole.data(), whole.size()))
          return fail(ECANCELED, "read of " + cid_text + ": the reader stopped");
        return std::min(local->size, offset + length) - offset;
      }
      if (raw_root) {
        ++stats_.local_mismatches;
        spdlog::warn("verified read of {}: the local copy does not match its CID; fetching it", cid_text);
      }
    }
  }
  auto top = node(*root);
  if (!top) return std::unexpected(top.error());
  const std::uint64_t size = (*top)->size;
  if (length == 0 || offset >= size) return 0;
  const std::uint64_t end = std::min(size, offset + length);
  std::vector<Segment> segments;
  if (auto ok = plan(*root, *top, 0, offset, end, segments); !ok) return std::unexpected(ok.error());
  for (std::size_t i = 0; i < segments.size();) {
    if (segments[i].kind == Segment::Inline) {
      ++stats_.leaves_verified;
      const auto& bytes = segments[i].holder->inline_data;
      if (!sink(segments[i].offset, reinterpret_cast<const char*>(bytes.data()), bytes.size()))
        return fail(ECANCELED, "read of " + cid_text + ": the reader stopped");
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < segments.size() && segments[j].kind != Segment::Inline) ++j;
    auto ok = local ? local_or_fetched(cid_text, segments, i, j, sink, *local)
                    : fetch_leaves(cid_text, segments, i, j, sink);
    if (!ok) return std::unexpected(ok.error());
    i = j;
  }
  return end - offset;
}

Result<std::uint64_t> VerifiedReader::size(const std::string& cid_text) {
  auto root = cid::Cid::parse(cid_text);
  if (!root) return std::unexpected(root.error());
  auto top = node(*root);
  if (!top) return std::unexpected(top.error());
  return (*top)->size;
}

std::pair<std::uint64_t, std::uint64_t> VerifiedReader::leaf_range(const std::string& cid_text,
                                                                   std::uint64_t offset) {
  auto root = cid::Cid::parse(cid_text);
  if (!root) return {offset, offset};
  auto top = node(*root);
  if (!top || offset >= (*top)->size) return {offset, offset};
  std::vector<Segment> segments;
  if (!plan(*root, *top, 0, offset, offset + 1, segments) || segments.empty()) return {offset, offset};
  return {segments.front().offset, segments.front().offset + segments.front().size};
}

Result<std::vector<std::uint8_t>> VerifiedReader::block(const std::string& cid_text) {
  auto parsed = cid::Cid::parse(cid_text);
  if (!parsed) return std::unexpected(parsed.error());
  return fetch_block(*parsed, cid_text);
}

}  // namespace pinfs::service
