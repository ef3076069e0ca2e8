// Reads UnixFS DAGs out of the block store: file bytes by range (walking the tree with the
// blocksizes, so a range read touches only the blocks it needs), directory listings, path
// resolution, and whole-DAG statistics for pin-by-CID.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pinfs/cid/cid.hpp"
#include "pinfs/cid/dagpb.hpp"
#include "pinfs/common/error.hpp"
#include "pinfs/emulator/block_store.hpp"

namespace pinfs::emulator {

enum class NodeKind { File, Directory, Other };

struct DagEntry {
  std::string name;
  cid::Cid cid;
  std::uint64_t tsize = 0;
};

struct DagNode {
  NodeKind kind = NodeKind::Other;
  std::uint64_t size = 0;         // file bytes for files
  std::vector<DagEntry> entries;  // directories only
};

struct DagStats {
  bool complete = false;           // every block of the DAG is held locally
  std::uint64_t dag_size = 0;      // sum of all block sizes (Pinata's PinSize)
  std::uint64_t content_size = 0;  // sum of file bytes
  bool is_dir = false;
  std::uint64_t files = 0;
};

// Returns true to continue, false to stop early (client went away).
using ByteEmitter = std::function<bool(const std::uint8_t* data, std::size_t len)>;

class DagReader {
 public:
  explicit DagReader(const BlockStore& blocks) : blocks_(blocks) {}

  Result<DagNode> stat(const cid::Cid& root) const;
  // Resolves "a/b/c" below root through directory links (ENOENT when missing).
  Result<cid::Cid> resolve(const cid::Cid& root, const std::string& path) const;
  // Streams [offset, offset+length) of a file; ENOENT if a block is missing, EINVAL if not a file.
  Result<void> read(const cid::Cid& file, std::uint64_t offset, std::uint64_t length,
                    const ByteEmitter& emit) const;
  DagStats stats(const cid::Cid& root) const;

 private:
  Result<bool> read_node(const cid::Cid& c, std::uint64_t offset, std::uint64_t length,
                         const ByteEmitter& emit) const;
  const BlockStore& blocks_;
};

}  // namespace pinfs::emulator
