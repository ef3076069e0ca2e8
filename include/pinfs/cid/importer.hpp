// The streaming UnixFS importer (Kubo-compatible): fixed 262144-byte chunks,
// balanced layout, at most 174 links per node, sha2-256. Bytes may be fed in
// pieces of any size; memory stays bounded whatever the file size.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pinfs/cid/cid.hpp"

namespace pinfs::cid {

struct ImportOptions {
  int cid_version = 1;  // 1: raw leaves, base32; 0: dag-pb leaves, base58btc
  std::size_t chunk_size = 262144;
  std::size_t max_links = 174;
};

// Receives every block the importer produces (leaves and inner nodes), in order,
// children before parents. Used by the emulator to store content.
using BlockSink = std::function<void(const Cid& cid, ByteView block)>;

struct ImportResult {
  Cid cid;
  std::uint64_t size = 0;   // file bytes
  std::uint64_t tsize = 0;  // total bytes of all blocks (the Tsize a parent link carries)
};

class FileImporter {
 public:
  explicit FileImporter(ImportOptions options = {}, BlockSink sink = {});
  ~FileImporter();
  FileImporter(FileImporter&&) noexcept;
  FileImporter& operator=(FileImporter&&) noexcept;

  void update(ByteView bytes);
  ImportResult finish();  // the importer is spent afterwards
  std::uint64_t bytes_seen() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Convenience: import a whole file from disk (read with large buffers).
Result<ImportResult> import_file(const std::string& path, ImportOptions options = {}, BlockSink sink = {});
// The same from an open descriptor read to its end (stdin, a pipe); the caller keeps ownership of fd.
Result<ImportResult> import_fd(int fd, ImportOptions options = {}, BlockSink sink = {});

struct DirEntry {
  std::string name;
  Cid cid;
  std::uint64_t tsize = 0;  // the child's ImportResult::tsize (or directory tsize)
};

struct DirBlock {
  Cid cid;
  Bytes block;
  std::uint64_t tsize = 0;  // block size + sum of the entries' tsize
};

// Builds one UnixFS directory node (Data 08 01), links sorted bytewise by name.
// Rejects duplicate or empty names and names containing '/' (EINVAL).
Result<DirBlock> build_directory(std::vector<DirEntry> entries, int cid_version);

}  // namespace pinfs::cid
