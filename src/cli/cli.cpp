#include <string>

#include "pinfs/cli/commands.hpp"
#include "pinfs/common/log.hpp"
#include "pinfs/version.hpp"

namespace pinfs::cli {

int run(int argc, char** argv) {
  CLI::App app{"pinfs: mount an IPFS pinning-service account (Pinata, AIOZ W3IPFS) as a drive"};
  app.set_version_flag("--version", std::string("pinfs ") + pinfs::version());
  app.require_subcommand(1);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")->capture_default_str();
  app.parse_complete_callback([&] { log::setup(log_level); });

  int exit_code = kOk;
  register_cid(app, exit_code);
  register_mount(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }
  return exit_code;
}

}  // namespace pinfs::cli
