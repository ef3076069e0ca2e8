#include "file_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pinfs::http::detail {

FileReader::FileReader(std::string path, std::uint64_t expected_size, std::shared_ptr<GrowingFile> growth,
                       std::chrono::milliseconds stall_limit)
    : path_(std::move(path)),
      expected_size_(expected_size),
      growth_(std::move(growth)),
      stall_limit_(stall_limit) {}

FileReader::~FileReader() {
  if (fd_ >= 0) ::close(fd_);
}

// An upload reads each staged byte once, and what it sent is not read again soon (a read of the new pin
// comes from the content cache, on disk): a window behind the upload, the staged file's pages are written
// back (asked for, not waited on) and then let go of, so that copying a large file in neither fills the
// page cache with it nor makes the writer touch a fresh page of memory for every staged byte (it reuses
// the pages let go of). Only clean pages are dropped: nothing is lost, and a rewind reads from disk.
void FileReader::release_behind() {
  constexpr std::uint64_t kWindow = 8ull << 20;
  while (position_ >= written_back_ + 2 * kWindow) {
    ::sync_file_range(fd_, static_cast<off_t>(written_back_), kWindow, SYNC_FILE_RANGE_WRITE);
    written_back_ += kWindow;
  }
  while (written_back_ >= dropped_ + 2 * kWindow) {
    ::posix_fadvise(fd_, static_cast<off_t>(dropped_), kWindow, POSIX_FADV_DONTNEED);
    dropped_ += kWindow;
  }
}

bool FileReader::ensure_open() {
  if (fd_ >= 0) return true;
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    fail(errno, "open " + path_ + ": " + std::strerror(errno));
    return false;
  }
  return true;
}

std::size_t FileReader::fail(int errnum, std::string message) {
  if (error_.empty()) {
    error_ = std::move(message);
    error_errno_ = errnum;
  }
  return kFailed;
}

// A part read to its end gives its descriptor back: a directory upload of 10,000 files sends its parts one
// after another and must not hold 10,000 descriptors at its end (EMFILE). A rewind opens it again.
void FileReader::close_fd() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::size_t FileReader::read(char* buffer, std::size_t size) {
  if (!growth_) {
    if (position_ >= expected_size_) {
      close_fd();
      return 0;
    }
    size = static_cast<std::size_t>(std::min<std::uint64_t>(size, expected_size_ - position_));
  }
  if (!ensure_open()) return kFailed;
  auto stalled_since = std::chrono::steady_clock::now();
  for (;;) {
    const ssize_t n = ::pread(fd_, buffer, size, static_cast<off_t>(position_));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno, "read " + path_ + ": " + std::strerror(errno));
    }
    if (n > 0) {
      position_ += static_cast<std::uint64_t>(n);
      if (growth_) growth_->read_to(position_);
      release_behind();
      if (!growth_ && position_ >= expected_size_) close_fd();  // curl asks no more of a sized part
      return static_cast<std::size_t>(n);
    }
    if (!growth_) {
      // A known-length body that ends early would leave the server waiting for bytes that never come.
      return fail(EIO, "staged file " + path_ + " shrank during upload");
    }
    if (growth_->is_abandoned()) return fail(ECANCELED, "upload of " + path_ + " abandoned by its writer");
    if (growth_->is_complete()) {
      // complete() may have raced with the last append: read once more before ending the body.
      const ssize_t last = ::pread(fd_, buffer, size, static_cast<off_t>(position_));
      if (last > 0) {
        position_ += static_cast<std::uint64_t>(last);
        return static_cast<std::size_t>(last);
      }
      close_fd();
      return 0;
    }
    if (std::chrono::steady_clock::now() - stalled_since > stall_limit_) {
      return fail(ETIMEDOUT, "staged file " + path_ + " stopped growing");
    }
    growth_->wait(std::chrono::milliseconds(50));
  }
}

bool FileReader::seek(std::uint64_t offset) {
  if (!growth_ && offset > expected_size_) return false;
  position_ = offset;
  written_back_ = dropped_ = std::min(dropped_, offset);  // bytes read again are let go of again
  return true;
}

Result<std::uint64_t> file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fail_errno("stat " + path);
  if (!S_ISREG(st.st_mode)) return fail(EINVAL, path + " is not a regular file");
  return static_cast<std::uint64_t>(st.st_size);
}

}  // namespace pinfs::http::detail
