// Streaming multipart upload ingestion shared by Pinata pinFileToIPFS and AIOZ POST /api/pinning/.
// File parts go straight into a cid::FileImporter writing blocks to the store when the CID version
// is known as the part starts; otherwise (Pinata's pinataOptions may come after the file) the part
// is spooled to DIR/tmp and imported once the whole body has arrived. Memory stays bounded either way.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pinfs/cid/importer.hpp"
#include "pinfs/common/error.hpp"
#include "pinfs/emulator/block_store.hpp"

namespace pinfs::emulator {

// Kubo's multipart convention for a directory part (an empty directory of a directory upload).
constexpr const char* kDirectoryPartType = "application/x-directory";

struct UploadedFile {
  std::string path;  // the part's filename (relative path for directory uploads)
  std::string content_type;
  cid::ImportResult result;
  bool is_dir = false;  // an `application/x-directory` part: a directory, maybe empty, no content
};

struct UploadRoot {
  cid::Cid cid;
  std::uint64_t dag_size = 0;
  std::uint64_t content_size = 0;
  std::uint64_t files = 0;
  bool is_dir = false;
  std::string name;  // file name, or base directory name
  std::string mime_type;
};

class MultipartIngest {
 public:
  // decide_version: called when a file part starts with the text fields seen so far; returns the
  // CID version if it is already known.
  using VersionDecider = std::function<std::optional<int>(const std::map<std::string, std::string>& fields)>;

  MultipartIngest(BlockStore& blocks, std::string tmp_dir, VersionDecider decide);
  ~MultipartIngest();

  bool on_part_header(const std::string& name, const std::string& filename, const std::string& content_type);
  bool on_data(const char* data, std::size_t len);
  // Ends the last part once the body is complete, so fields() holds every text field.
  Result<void> close_parts();
  // Ends the last part and imports spooled parts with cid_version.
  Result<void> finish(int cid_version);

  const std::map<std::string, std::string>& fields() const { return fields_; }
  const std::vector<UploadedFile>& files() const { return files_; }
  std::uint64_t bytes_received() const { return bytes_; }

 private:
  struct Part;
  Result<void> end_part();

  BlockStore& blocks_;
  std::string tmp_dir_;
  VersionDecider decide_;
  std::map<std::string, std::string> fields_;
  std::vector<UploadedFile> files_;
  std::vector<std::pair<std::size_t, std::string>> spooled_;  // index into files_, spool path
  std::unique_ptr<Part> current_;
  std::optional<Error> error_;
  std::uint64_t bytes_ = 0;
};

// Builds the upload's root: one file (no '/' in a single part's name), or the nested dag-pb
// directory of all parts (directory parts add their directory, so empty ones are kept) (their shared base
// directory when they have one). wrap puts the root inside one more directory, as Pinata's wrapWithDirectory
// does.
Result<UploadRoot> build_upload_root(BlockStore& blocks, const std::vector<UploadedFile>& files,
                                     int cid_version, bool wrap);

// Imports an in-memory byte string (pinJSONToIPFS).
UploadRoot import_bytes(BlockStore& blocks, const std::string& bytes, int cid_version,
                        const std::string& name);

}  // namespace pinfs::emulator
