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

  // Reader: it has read the file up to position (a writer waiting on it is woken).
  void read_to(std::uint64_t position);
  // The reader is done (the upload ended, sent or failed): a writer waiting on it goes on.
  void reader_done();
  // Writer: waits until the reader is within lead bytes of written (or done, or the file abandoned), at
  // most timeout; false when the timeout ended it.
  bool wait_for_reader(std::uint64_t written, std::uint64_t lead, std::chrono::milliseconds timeout);

 private:
  mutable std::mutex mutex_;  // guards the fields below; a leaf
  std::condition_variable changed_;
  std::condition_variable read_;  // the reader moved on
  std::uint64_t generation_ = 0;
  std::uint64_t read_to_ = 0;
  bool complete_ = false;
  bool abandoned_ = false;
  bool reader_done_ = false;
};

}  // namespace pinfs::http
