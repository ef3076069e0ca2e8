// The one error type of pinfs: an errno for the kernel, a message for people.
// No exception crosses a layer boundary; fallible calls return Result<T>.
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <utility>

namespace pinfs {

struct Error {
  int errnum = EIO;     // what the kernel (or the exit code) gets
  std::string message;  // what a person reads; never holds a credential
  bool retryable = false;

  std::string describe() const;  // "message (strerror)"
};

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(int errnum, std::string message, bool retryable = false) {
  return std::unexpected(Error{errnum, std::move(message), retryable});
}

// errno of the last failed libc call, with context: fail_errno("open " + path).
std::unexpected<Error> fail_errno(std::string context);

}  // namespace pinfs
