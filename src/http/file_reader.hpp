// Streams a staged file to libcurl, opening it lazily so that every attempt (and every
// rewind curl asks for) reads from disk again: uploads are replayed from the file, never
// from memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "pinfs/common/error.hpp"
#include "pinfs/http/growing_file.hpp"

namespace pinfs::http::detail {

class FileReader {
 public:
  // expected_size: bytes the body must have (known-length uploads); growth: set for a file
  // still being written (the size is then unknown and the reader waits for more bytes).
  FileReader(std::string path, std::uint64_t expected_size, std::shared_ptr<GrowingFile> growth,
             std::chrono::milliseconds stall_limit);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  // Returns bytes read, 0 at the end, or SIZE_MAX on failure (see error()).
  std::size_t read(char* buffer, std::size_t size);
  bool seek(std::uint64_t offset);
  const std::string& error() const { return error_; }
  int error_errno() const { return error_errno_; }

  static constexpr std::size_t kFailed = static_cast<std::size_t>(-1);

 private:
  bool ensure_open();
  std::size_t fail(int errnum, std::string message);
  void release_behind();

  std::string path_;
  std::uint64_t expected_size_;
  std::shared_ptr<GrowingFile> growth_;
  std::chrono::milliseconds stall_limit_;
  void close_fd();
  int fd_ = -1;
  std::uint64_t position_ = 0;
  std::uint64_t written_back_ = 0;  // writeback asked for [0, written_back_)
  std::uint64_t dropped_ = 0;       // [0, dropped_) let go of in the page cache
  std::string error_;
  int error_errno_ = 0;
};

// The size of a file on disk, or an error naming it.
Result<std::uint64_t> file_size(const std::string& path);

}  // namespace pinfs::http::detail
