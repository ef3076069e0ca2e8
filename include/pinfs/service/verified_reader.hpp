// Reads UnixFS files through any Gateway without trusting it: the DAG's inner nodes are fetched as raw
// blocks and checked against their CIDs, file bytes are fetched in leaf-aligned ranges and every leaf is
// checked against the CID its parent names before a byte of it is handed on. A mismatch (wrong or missing
// bytes) is retried once, then EIO with a log line naming the CID and the gateway.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "pinfs/cid/cid.hpp"
#include "pinfs/service/pin_service.hpp"

namespace pinfs::service {

// Receives verified bytes in file order: [offset, offset + size) of the file, always whole leaves (or the
// inline data of a node). Return false to stop the read (it then ends with ECANCELED).
using VerifiedSink = std::function<bool(std::uint64_t offset, const char* data, std::size_t size)>;

// A copy of the file's bytes held locally but not trusted (the disk cache of an earlier mount): read() checks
// each leaf from it first, against the CID its parent names, and fetches only the leaves it does not hold or
// that do not match.
struct LocalCopy {
  std::uint64_t size = 0;  // the file's byte count as held (lets a one-leaf file skip the gateway)
  // Fills out with [offset, offset + size) of the file; false when it does not hold them.
  std::function<bool(std::uint64_t offset, std::size_t size, char* out)> read;
  // Receives the leaves that came from the copy, checked (the read's own sink gets the fetched ones).
  VerifiedSink sink;
};

// Where checked inner nodes are kept across mounts (the content cache's blocks); a block from get is checked
// against its CID again before use.
struct BlockStore {
  std::function<std::optional<std::vector<std::uint8_t>>(const std::string& cid)> get;
  std::function<void(const std::string& cid, const std::vector<std::uint8_t>& block)> put;
};

struct VerifiedReaderStats {
  std::atomic<std::uint64_t> leaves_verified{0};  // leaves checked and handed on
  std::atomic<std::uint64_t> blocks_fetched{0};   // raw block requests (inner nodes, fallbacks)
  std::atomic<std::uint64_t> range_requests{0};   // ranged path-gateway requests
  std::atomic<std::uint64_t> mismatches{0};       // leaves or blocks that did not match their CID
  std::atomic<std::uint64_t> node_cache_hits{0};
  std::atomic<std::uint64_t> stored_nodes{0};      // inner nodes read back from the BlockStore, checked
  std::atomic<std::uint64_t> local_leaves{0};      // leaves taken from a LocalCopy, checked
  std::atomic<std::uint64_t> local_mismatches{0};  // leaves of a LocalCopy that did not match (fetched)
};

class VerifiedReader {
 public:
  // node_cache_bytes bounds the decoded inner nodes kept (LRU by their block size).
  explicit VerifiedReader(std::shared_ptr<Gateway> gateway, std::size_t node_cache_bytes = 16u << 20);

  // Delivers every leaf that intersects [offset, offset + length) of the file cid, verified, in order.
  // Returns the bytes of the requested range delivered (less only at the end of the file). With local, the
  // leaves it holds and that match come from it (to local->sink), the others from the gateway (to sink).
  Result<std::uint64_t> read(const std::string& cid, std::uint64_t offset, std::uint64_t length,
                             const VerifiedSink& sink, const LocalCopy* local = nullptr);
  // The file's byte count, from its root block (a raw root: its block size).
  Result<std::uint64_t> size(const std::string& cid);
  // One block, checked against its CID (retried once on a mismatch); dag-pb nodes with links are cached.
  Result<std::vector<std::uint8_t>> block(const std::string& cid);
  // [start, end) of the leaf holding offset; {offset, offset} when past the end or not known.
  std::pair<std::uint64_t, std::uint64_t> leaf_range(const std::string& cid, std::uint64_t offset);

  // Set before the first read: fetched inner nodes go there, and are looked for there before the gateway.
  void set_block_store(BlockStore store) { store_ = std::move(store); }

  const VerifiedReaderStats& stats() const { return stats_; }
  std::string gateway_name() const { return gateway_->describe(); }

  static constexpr std::size_t kMaxLeaf = 4u << 20;  // no IPFS block is bigger

 private:
  struct Child {
    cid::Cid cid;
    std::uint64_t size = 0;  // file bytes below it (the parent's blocksizes entry)
    std::uint64_t tsize = 0;
    bool has_tsize = false;
  };
  // A decoded file node: its own bytes first, then its children's.
  struct FileNode {
    std::vector<std::uint8_t> inline_data;
    std::vector<Child> children;
    std::uint64_t size = 0;
    std::size_t block_size = 0;
  };
  using NodePtr = std::shared_ptr<const FileNode>;
  // One piece of a read plan, in file order.
  struct Segment {
    enum Kind { Inline, RawLeaf, PbLeaf } kind = Inline;
    std::uint64_t offset = 0, size = 0;
    cid::Cid cid;
    NodePtr holder;  // Inline: the node whose inline_data it is
  };

  Result<NodePtr> node(const cid::Cid& cid);
  Result<std::vector<std::uint8_t>> fetch_block(const cid::Cid& cid, const std::string& text);
  static Result<FileNode> decode(const cid::Cid& cid, const std::vector<std::uint8_t>& block);
  Result<void> plan(const cid::Cid& cid, NodePtr node, std::uint64_t base, std::uint64_t begin,
                    std::uint64_t end, std::vector<Segment>& out);
  // Fetches segments [first, last) (leaves, contiguous) with ranged requests and hands them on.
  Result<void> fetch_leaves(const std::string& root, const std::vector<Segment>& plan, std::size_t first,
                            std::size_t last, const VerifiedSink& sink);
  // Leaves [first, last) (contiguous), each from local when it holds it and it matches, else fetched.
  Result<void> local_or_fetched(const std::string& root, const std::vector<Segment>& plan, std::size_t first,
                                std::size_t last, const VerifiedSink& sink, const LocalCopy& local);
  // A dag-pb leaf whose ranged bytes did not rebuild its block: fetched as a block (a trustless retry).
  Result<void> leaf_by_block(const std::string& root, const Segment& leaf, const VerifiedSink& sink);
  void mismatch(const std::string& root, const cid::Cid& leaf, std::uint64_t offset, const std::string& what);

  std::shared_ptr<Gateway> gateway_;
  BlockStore store_;
  const std::size_t node_cache_bytes_;
  VerifiedReaderStats stats_;

  // Leaf lock: nothing else is taken while it is held, and no network call happens under it.
  std::mutex mu_;
  struct Cached {
    NodePtr node;
    std::list<std::string>::iterator lru;
  };
  std::unordered_map<std::string, Cached> nodes_;  // CIDv1 text → decoded node
  std::list<std::string> lru_;                     // front = most recently used
  std::size_t cached_bytes_ = 0;
};

// True when bytes are exactly the leaf cid names: raw leaves hash to it; dag-pb leaves rebuild the
// Kubo leaf block {Data: UnixFS{Type=File, Data=bytes, filesize}} that hashes to it.
bool leaf_matches(const cid::Cid& leaf, const char* data, std::size_t size);

}  // namespace pinfs::service
