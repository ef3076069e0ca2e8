// Logging: spdlog behind one setup call, with secrets scrubbed from every line.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace pinfs::log {

// Registers a secret (token, key, password). Every later log line has each
// occurrence replaced by "[REDACTED]", whichever logger or sink writes it.
void add_secret(std::string_view secret);

// Returns text with every registered secret replaced; for error messages too.
std::string redact(std::string_view text);

// Sets up the default logger: stderr (or a file when path is non-empty) at the
// given level ("trace", "debug", "info", "warn", "error"). Idempotent.
void setup(std::string_view level, std::string_view file_path = {});

}  // namespace pinfs::log
