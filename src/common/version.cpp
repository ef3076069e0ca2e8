#include "pinfs/version.hpp"

namespace pinfs {
const char* version() { return PINFS_VERSION; }
}  // namespace pinfs
