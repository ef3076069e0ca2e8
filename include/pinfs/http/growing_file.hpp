// Signals between the writer of a staged file and a chunked upload reading it while it grows.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace pinfs::http {

class GrowingFile {
 public:
  // Writer: more bytes were appended (wakes a waiting reader early).
  void grew();
  // Writer: the file is final; the reader sends what is left and ends the body.
  void complete();
  // Writer: give up; the upload fails with ECANCELED.
  void abandon();

  bool is_complete() const;
  bool is_abandoned() const;
  // Reader: waits until grew()/complete()/abandon() or the timeout; the reader re-checks the
  // file size itself afterwards, so a missed wake-up costs at most one timeout.
  void wait(std::chrono::milliseconds timeout);

 private:
  mutable std::mutex mutex_;  // guards the fields below
  std::condition_variable changed_;
  std::uint64_t generation_ = 0;
  bool complete_ = false;
  bool abandoned_ = false;
};

}  // namespace pinfs::http
