#include "pinfs/common/error.hpp"

#include <cstring>

namespace pinfs {

std::string Error::describe() const {
  std::string out = message;
  if (errnum != 0) {
    out += " (";
    out += std::strerror(errnum);
    out += ")";
  }
  return out;
}

std::unexpected<Error> fail_errno(std::string context) {
  int e = errno;
  return std::unexpected(Error{e, context + ": " + std::strerror(e), false});
}

}  // namespace pinfs
