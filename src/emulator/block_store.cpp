#include "pinfs/emulator/block_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace pinfs::emulator {

BlockStore::BlockStore(std::string dir) : dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_);
}

std::string BlockStore::path_of(const cid::Cid& c) const {
  return dir_ + "/" + c.to_v1().to_string();
}

bool BlockStore::has(const cid::Cid& c) const {
  return ::access(path_of(c).c_str(), F_OK) == 0 || (generator_ && generator_(c));
}

Result<void> BlockStore::put(const cid::Cid& c, cid::ByteView block) {
  std::string path = path_of(c);
  if (::access(path.c_str(), F_OK) == 0) return {};
  std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(tmp_counter_++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail_errno("open " + tmp);
  std::size_t done = 0;
  while (done < block.size()) {
    ssize_t n = ::write(fd, block.data() + done, block.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto err = fail_errno("write " + tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return err;
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto err = fail_errno("rename " + tmp);
    ::unlink(tmp.c_str());
    return err;
  }
  return {};
}

std::optional<std::uint64_t> BlockStore::size_of(const cid::Cid& c) const {
  struct stat st {};
  if (::stat(path_of(c).c_str(), &st) != 0) {
    if (auto block = generator_ ? generator_(c) : std::nullopt) return block->size();
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(st.st_size);
}

std::optional<cid::Bytes> BlockStore::get(const cid::Cid& c) const {
  int fd = ::open(path_of(c).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return generator_ ? generator_(c) : std::nullopt;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  cid::Bytes out(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(done);
  return out;
}

}  // namespace pinfs::emulator
