// Mount, serve on several threads until unmounted or signalled, unmount.
#include "pinfs/fuse/session.hpp"

#include <memory>
#include <string_view>
#include <vector>

#include "adapter.hpp"

namespace pinfs::fuse {

Result<void> serve(vfs::Vfs& vfs, const MountOptions& options, const std::function<void()>& on_ready) {
  if (options.mountpoint.empty()) return fail(EINVAL, "no mountpoint given");
  std::vector<std::string> argv_text = {"pinfs"};
  if (options.debug) argv_text.push_back("-d");
  auto given = [&](std::string_view key) {
    for (const auto& option : options.fuse_options)
      if (option == key || option.starts_with(std::string(key) + "=")) return true;
    return false;
  };
  std::string joined;
  if (!given("fsname")) joined += ",fsname=pinfs";
  if (!given("subtype")) joined += ",subtype=pinfs";
  for (const auto& option : options.fuse_options) joined += "," + option;
  if (!joined.empty()) joined.erase(0, 1);
  if (!joined.empty()) {
    argv_text.push_back("-o");
    argv_text.push_back(joined);
  }
  std::vector<char*> argv;
  for (auto& arg : argv_text) argv.push_back(arg.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

  fuse_lowlevel_ops ops{};
  fill_entry_ops(ops);
  fill_file_ops(ops);
  fill_xattr_ops(ops);

  fuse_session* session = fuse_session_new(&args, &ops, sizeof ops, &vfs);
  fuse_opt_free_args(&args);  // libfuse may have grown a copy; the session keeps what it needs
  if (!session) return fail(EINVAL, "libfuse refused the options: " + joined);
  auto destroy = std::unique_ptr<fuse_session, void (*)(fuse_session*)>(session, fuse_session_destroy);
  if (fuse_set_signal_handlers(session) != 0) return fail(EIO, "cannot install signal handlers");
  if (fuse_session_mount(session, options.mountpoint.c_str()) != 0) {
    fuse_remove_signal_handlers(session);
    return fail(EIO, "cannot mount on " + options.mountpoint + " (see the message above)");
  }
  spdlog::info("mounted on {}", options.mountpoint);
  vfs.set_notifier(make_notifier(session));
  if (on_ready) on_ready();

  fuse_loop_config* config = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(config, options.max_threads);
  int rc = fuse_session_loop_mt(session, config);
  fuse_loop_cfg_destroy(config);

  vfs.set_notifier(nullptr);  // the session goes: nothing more is sent to it
  fuse_session_unmount(session);
  fuse_remove_signal_handlers(session);
  spdlog::info("unmounted {}", options.mountpoint);
  // A signal ends the loop with its number; that is the normal way to stop.
  if (rc < 0) return fail(-rc, "fuse session loop failed");
  return {};
}

}  // namespace pinfs::fuse
