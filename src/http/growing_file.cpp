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

void GrowingFile::read_to(std::uint64_t position) {
  {
    std::lock_guard lock(mutex_);
    if (position <= read_to_) return;
    read_to_ = position;
  }
  read_.notify_all();
}

void GrowingFile::reader_done() {
  {
    std::lock_guard lock(mutex_);
    reader_done_ = true;
  }
  read_.notify_all();
}

bool GrowingFile::wait_for_reader(std::uint64_t written, std::uint64_t lead,
                                  std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return read_.wait_for(lock, timeout,
                        [&] { return reader_done_ || abandoned_ || written <= read_to_ + lead; });
}

void GrowingFile::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const auto seen = generation_;
  changed_.wait_for(lock, timeout, [&] { return generation_ != seen; });
}

}  // namespace pinfs::http
