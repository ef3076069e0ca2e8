// `pinfs` subcommands. Each lives in its own src/cli/cmd_<name>.cpp and registers
// itself on the app; its callback stores the process exit code.
#pragma once

#include <CLI/CLI.hpp>

namespace pinfs::cli {

// Exit codes with names (sysexits-style where one fits).
enum ExitCode : int {
  kOk = 0,
  kFailure = 1,      // an operation failed (some files unreadable, upload failed…)
  kUsage = 2,        // bad command line
  kConfig = 78,      // EX_CONFIG: credentials or config missing/invalid
  kUnavailable = 69  // EX_UNAVAILABLE: service unreachable
};

void register_cid(CLI::App& app, int& exit_code);
void register_mount(CLI::App& app, int& exit_code);  // mount, unmount, status

int run(int argc, char** argv);

}  // namespace pinfs::cli
