#include "pinfs/http/growing_file.hpp"

namespace pinfs::http {

void GrowingFile::grew() {
  {
    std::lock_guard lock(mutex_);
    ++generation_;
  }
  changed_.notify_all();
}

void GrowingFile::complete() {
  {
    std::lock_guard lock(mutex_);
    complete_ = true;
    ++generation_;
  }
  changed_.notify_all();
}

void GrowingFile::abandon() {
  {
    std::lock_guard lock(mutex_);
    abandoned_ = true;
    ++generation_;
  }
  changed_.notify_all();
}

bool GrowingFile::is_complete() const {
  std::lock_guard lock(mutex_);
  return complete_;
}

bool GrowingFile::is_abandoned() const {
  std::lock_guard lock(mutex_);
  return abandoned_;
}

void GrowingFile::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const auto seen = generation_;
  changed_.wait_for(lock, timeout, [&] { return generation_ != seen; });
}

}  // namespace pinfs::http
