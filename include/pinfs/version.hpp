#pragma once

namespace pinfs {
const char* version();
}  // namespace pinfs
