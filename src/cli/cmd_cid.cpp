#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "pinfs/cid/importer.hpp"
#include "pinfs/cli/commands.hpp"

namespace pinfs::cli {

void register_cid(CLI::App& app, int& exit_code) {
  struct Options {
    int cid_version = 1;
    std::vector<std::string> files;
  };
  auto options = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "cid",
      "Print the CID of local files exactly as the pinning service will compute it (offline, streaming)");
  cmd->add_option(
         "--cid-version", options->cid_version,
         "1: raw leaves, base32 'bafy…'/'bafk…' (default, what uploads use); 0: 'Qm…' as Kubo's default")
      ->check(CLI::IsMember({0, 1}))
      ->capture_default_str();
  cmd->add_option("files", options->files, "Files to hash; '-' reads standard input")->required();
  cmd->footer(
      "Output: one line per file, 'CID  NAME' (two spaces). UnixFS with Kubo's defaults: fixed 262144-byte\n"
      "chunks, balanced DAG, 174 links per node, sha2-256. An unreadable file is reported on stderr, the\n"
      "others are still printed, and the exit status is 1.");
  cmd->callback([options, &exit_code] {
    cid::ImportOptions import_options;
    import_options.cid_version = options->cid_version;
    for (const std::string& file : options->files) {
      auto result =
          file == "-" ? cid::import_fd(STDIN_FILENO, import_options) : cid::import_file(file, import_options);
      if (!result) {
        std::fflush(stdout);
        std::string reason = result.error().message;
        if (file == "-") reason = "standard input: " + reason;
        std::fprintf(stderr, "pinfs cid: %s\n", reason.c_str());
        exit_code = kFailure;
        continue;
      }
      std::printf("%s  %s\n", result->cid.to_string().c_str(), file.c_str());
    }
    std::fflush(stdout);
  });
}

}  // namespace pinfs::cli
