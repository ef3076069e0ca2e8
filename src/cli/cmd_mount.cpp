// `pinfs mount`, `pinfs unmount`, `pinfs status` (DESIGN.md §1).

#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pinfs/cli/commands.hpp"
#include "pinfs/cli/config.hpp"
#include "pinfs/cli/daemon.hpp"
#include "pinfs/cli/mountpoint.hpp"
#include "pinfs/cli/status_view.hpp"
#include "pinfs/common/log.hpp"
#include "pinfs/fuse/session.hpp"
#include "pinfs/service/factory.hpp"
#include "pinfs/vfs/vfs.hpp"

namespace pinfs::cli {
namespace {

struct MountArgs {
  std::string mountpoint;
  MountFlags flags;
  std::vector<std::string> fuse_options;
  bool foreground = false;
  std::string log_file;
  bool fuse_debug = false;
  unsigned threads = 16;
  unsigned read_ahead_kib = 256;
};

void say_error(const std::string& message) {
  std::fprintf(stderr, "pinfs: %s\n", log::redact(message).c_str());
}

bool is_auth_error(int errnum) {
  return errnum == EACCES || errnum == EPERM;
}

// Fails fast, before anything is mounted, when the service will not take these credentials.
Result<void> check_credentials(const MountConfig& config, int& code) {
  auto service = service::make_pin_service(config.service);
  if (!service) {
    code = kConfig;
    return std::unexpected(service.error());
  }
  auto ok = (*service)->check_auth();
  if (ok) return {};
  const Error& e = ok.error();
  if (is_auth_error(e.errnum)) {
    code = kConfig;
    return fail(e.errnum, config.service.provider + " rejected the credentials from " +
                              config.credentials_source + " (" + e.message + "): " + config.credentials_fix);
  }
  code = kUnavailable;
  return fail(e.errnum, "cannot reach " + config.service.provider + " at " + config.service.api_url +
                            " to check the "
                            "credentials: " +
                            e.describe());
}

bool has_option(const std::vector<std::string>& options, const std::string& name) {
  for (const auto& o : options)
    if (o == name || o.rfind(name + "=", 0) == 0) return true;
  return false;
}

// Serves the mount until it is unmounted or signalled; reports readiness or the first error to `ready`.
int serve_mount(const MountConfig& config, const MountArgs& args, const std::string& mountpoint,
                Readiness& ready) {
  fuse::block_stop_signals();  // before any thread starts: a stop signal must reach the FUSE loop's thread
  // Reads allocate and free buffers of 128 KiB to a few MiB at a high rate (libfuse's reply for a cached
  // range, leaves, read-ahead parts). By default glibc maps each one and trims the heap after each free, so
  // every read faulted in and zeroed fresh pages (clear_page in the profile): a 1 GiB cold read took
  // 2.1-2.4 s, 1.7-1.9 s with these. A large listing still gives its memory back (malloc_trim at
  // releasedir).
  ::mallopt(M_MMAP_THRESHOLD, 4 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 64 << 20);
  // Each staged file of a new directory holds its descriptor until the directory is pinned: a copy of a
  // folder of thousands of files must not meet the usual soft limit of 1024 (as rclone and Go programs, the
  // soft limit is raised to the hard one).
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &files) != 0)
      spdlog::debug("raising the open-file limit: {}", std::strerror(errno));
  }
  auto pin_service = service::make_pin_service(config.service);
  if (!pin_service) return ready.fail(kConfig, pin_service.error().message);
  auto gateway = service::make_gateway(config.service);
  if (!gateway) return ready.fail(kConfig, gateway.error().message);
  vfs::Vfs vfs(std::shared_ptr<service::PinService>(std::move(*pin_service)),
               std::shared_ptr<service::Gateway>(std::move(*gateway)), config.vfs);
  if (auto started = vfs.start(); !started)
    return ready.fail(kFailure, "cannot start the filesystem: " + started.error().describe());

  fuse::MountOptions options;
  options.mountpoint = mountpoint;
  options.fuse_options = args.fuse_options;
  // subtype makes the mount table say fuse.pinfs, which unmount/status look for.
  if (!has_option(options.fuse_options, "subtype")) options.fuse_options.push_back("subtype=pinfs");
  if (!has_option(options.fuse_options, "fsname"))
    options.fuse_options.push_back("fsname=pinfs:" +
                                   (config.profile.empty() ? config.service.provider : config.profile));
  options.max_threads = args.threads;
  options.read_ahead_kib = args.read_ahead_kib;
  options.debug = args.fuse_debug;

  bool was_ready = false;
  auto served = fuse::serve(vfs, options, [&] {
    was_ready = true;
    spdlog::info("mounted {} on {} (credentials from {}, uploads {}, cache {})", config.service.provider,
                 mountpoint, config.credentials_source,
                 config.vfs.upload == vfs::UploadMode::Async ? "async" : "sync", config.vfs.cache_dir);
    ready.ready();
  });
  if (!served && !was_ready) {
    (void)vfs.shutdown(false);
    return ready.fail(kFailure, "cannot mount " + mountpoint + ": " + served.error().describe());
  }
  ready.stopping();
  int code = kOk;
  if (!served) {
    spdlog::error("serving {} failed: {}", mountpoint, served.error().describe());
    code = kFailure;
  }
  spdlog::info("unmounted {}; finishing pending uploads", mountpoint);
  if (auto done = vfs.shutdown(true); !done) {
    spdlog::error("at shutdown: {} (the data stays staged in {} and is uploaded at the next mount)",
                  done.error().describe(), config.vfs.cache_dir);
    code = kFailure;
  }
  return code;
}

int run_mount(MountArgs& args) {
  auto config = resolve_mount_config(args.flags, process_env());
  if (!config) {
    say_error(config.error().message);
    return kConfig;
  }
  auto mountpoint = check_mountpoint(args.mountpoint);
  if (!mountpoint) {
    say_error(mountpoint.error().message);
    return kUsage;
  }
  std::error_code ec;
  std::filesystem::create_directories(config->vfs.cache_dir, ec);
  if (ec) {
    say_error("cannot create cache directory " + config->vfs.cache_dir + ": " + ec.message());
    return kConfig;
  }
  ::chmod(config->vfs.cache_dir.c_str(), 0700);  // staged files are the user's data

  int code = kOk;
  if (auto ok = check_credentials(*config, code); !ok) {
    say_error(ok.error().message);
    return code;
  }

  std::string log_file = args.log_file;
  if (log_file.empty() && !args.foreground) log_file = config->vfs.cache_dir + "/pinfs.log";
  auto ready = args.foreground ? Readiness::foreground(log_file) : Readiness::daemonize(log_file);
  if (!ready) {
    say_error(ready.error().message);
    return kFailure;
  }
  if (ready->is_parent()) return ready->wait_for_child(*mountpoint);
  return serve_mount(*config, args, *mountpoint, *ready);
}

// Waits until nothing is queued or uploading; false when the status cannot be read (mount gone).
bool wait_for_uploads(const std::string& mountpoint, double timeout_s) {
  const auto start = std::chrono::steady_clock::now();
  bool printed = false;
  for (;;) {
    auto text = read_status_file(mountpoint);
    if (!text) return false;
    auto status = parse_status(*text);
    if (!status) return false;
    const std::size_t n = status->in_flight();
    if (n == 0) {
      if (printed) std::fprintf(stderr, "\n");
      for (const auto& p : status->pending)
        if (p.state == "failed")
          std::fprintf(stderr,
                       "pinfs: upload of %s failed (%s); it stays staged and is retried at the next mount\n",
                       p.name.c_str(), p.reason.c_str());
      return true;
    }
    std::uint64_t total = 0, sent = 0;
    for (const auto& p : status->pending)
      if (p.state == "queued" || p.state == "uploading") {
        total += p.size;
        sent += std::min(p.sent, p.size);
      }
    std::fprintf(stderr, "\rpinfs: waiting for %zu upload%s %s", n, n == 1 ? "" : "s",
                 progress_bar(sent, total).c_str());
    std::fflush(stderr);
    printed = true;
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (timeout_s > 0 && waited > timeout_s) {
      std::fprintf(stderr, "\n");
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

int run_unmount(const std::string& path, bool force, double timeout_s) {
  const std::string mountpoint = absolute_path(path);
  auto entry = mounted_at(mountpoint);
  if (!entry) {
    say_error(mountpoint + " is not mounted");
    return kFailure;
  }
  if (entry->fstype != kFuseType && !force) {
    say_error(mountpoint + " is a " + entry->fstype +
              " mount, not pinfs: use umount (or --force to unmount anyway)");
    return kUsage;
  }
  if (!force && !wait_for_uploads(mountpoint, timeout_s) && timeout_s > 0) {
    say_error("uploads still pending after " + std::to_string(static_cast<int>(timeout_s)) +
              " s; not unmounting (they keep going; run again, or use --force: the daemon then finishes them "
              "after unmounting, and the journal keeps them across restarts)");
    return kFailure;
  }
  auto done = fusermount_unmount(mountpoint, false);
  if (done) return kOk;
  if (force) {
    spdlog::warn("{}; detaching lazily", done.error().message);
    done = fusermount_unmount(mountpoint, true);
    if (done) return kOk;
  }
  say_error("cannot unmount " + mountpoint + ": " + done.error().message +
            (done.error().errnum == EBUSY
                 ? " (close the files and shells using it, or use --force for a lazy unmount)"
                 : ""));
  return kFailure;
}

int run_status(const std::string& path, bool json) {
  std::vector<std::string> mountpoints;
  if (!path.empty()) {
    mountpoints.push_back(absolute_path(path));
  } else {
    for (const auto& m : read_mounts())
      if (m.fstype == kFuseType) mountpoints.push_back(m.mountpoint);
    if (mountpoints.empty()) {
      say_error("no pinfs mounts (mount one with `pinfs mount MOUNTPOINT`)");
      return kFailure;
    }
  }
  int code = kOk;
  for (std::size_t i = 0; i < mountpoints.size(); ++i) {
    const auto& mnt = mountpoints[i];
    auto text = read_status_file(mnt);
    if (!text) {
      say_error(text.error().describe() + (mounted_at(mnt) ? "" : " (" + mnt + " is not mounted)"));
      code = kFailure;
      continue;
    }
    if (json) {
      std::fputs(text->c_str(), stdout);
      continue;
    }
    auto status = parse_status(*text);
    if (!status) {
      say_error(mnt + ": " + status.error().message);
      code = kFailure;
      continue;
    }
    std::fputs(((i ? "\n" : "") + render_status(*status, mnt)).c_str(), stdout);
  }
  std::fflush(stdout);
  return code;
}

void add_mount_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<MountArgs>();
  CLI::App* cmd = app.add_subcommand("mount", "Mount a pinning-service account as a drive");
  auto& f = args->flags;
  cmd->add_option("mountpoint", args->mountpoint, "An existing empty directory")->required();
  cmd->add_option("--profile", f.profile,
                  "Profile [profiles.NAME] of the config file (default: its default_profile, else none)");
  cmd->add_option(
      "--config", f.config_file,
      "Config file (default: $XDG_CONFIG_HOME/pinfs/config.toml, else ~/.config/pinfs/config.toml)");
  cmd->add_option("--provider", f.provider, "pinata or aioz (default: the profile's, else pinata)")
      ->check(CLI::IsMember({"pinata", "aioz"}));
  cmd->add_option(
      "--api-url", f.api_url,
      "API base URL (default: https://api.pinata.cloud for pinata, https://api.w3ipfs.storage/api for "
      "aioz)");
  cmd->add_option(
      "--gateway-url", f.gateway_url,
      "Gateway base URL; /ipfs/CID is appended (default: https://gateway.pinata.cloud for pinata, "
      "https://gateway.w3ipfs.storage for aioz)");
  cmd->add_option(
      "--cache-dir", f.cache_dir,
      "Staging, journal and content cache (default: $XDG_CACHE_HOME/pinfs/PROFILE-or-PROVIDER, else "
      "~/.cache/pinfs/…)");
  cmd->add_option("--upload", f.upload,
                  "sync: close() returns once the service confirmed the pin; async: once the data is durable "
                  "locally, a background uploader pins it (default: sync)")
      ->check(CLI::IsMember({"sync", "async"}));
  cmd->add_option("--transfers", f.transfers,
                  "Async uploads at once, 1 to 64; every request still keeps to the service's rate limits "
                  "(default: 4)")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--cid-version", f.cid_version, "1: CIDv1 with raw leaves; 0: Qm… CIDs (default: 1)")
      ->check(CLI::IsMember({0, 1}));
  cmd->add_option("--poll-interval", f.poll_interval,
                  "Seconds after which changes made elsewhere appear (default: 60)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag_callback(
      "--no-persistent-index", [&f] { f.persistent_index = false; },
      "Keep the pin index in memory only: every mount lists the whole account again and every poll "
      "is a full listing (default: a SQLite index in the cache dir, from which a remount lists "
      "before any list call, with incremental polls)");
  cmd->add_option("--cache-size", f.cache_size,
                  "Most bytes the content cache keeps, least recently used going first: bytes, or with K, M, "
                  "G or T, e.g. 20G (default: 10G; it also never leaves less than 512 MiB free on its disk)");
  cmd->add_option("--reconcile-interval", f.reconcile_interval,
                  "Seconds between full listings, which catch renames and metadata edits made elsewhere; the "
                  "polls between ask only for pins added or removed (default: 21600; 0: only the first)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--rate-per-minute", f.rate_per_minute,
                  "Requests per minute to assume until the service announces its limits (X-RateLimit-*): "
                  "Pinata account-wide and /pinning/, AIOZ every call (default: the lowest plan's, Pinata "
                  "60, AIOZ 180)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--list-rate-per-minute", f.list_rate_per_minute,
                  "The same for Pinata's /data/ calls (listings, totals) (default: 30)")
      ->check(CLI::PositiveNumber);
  cmd->add_option(
      "--credentials-file", f.credentials_file,
      "File with `jwt = …` or `api_key = …` + `api_secret = …` lines, mode 0600 (default: the profile, "
      "then $CREDENTIALS_DIRECTORY, then PINFS_JWT or PINFS_API_KEY + PINFS_API_SECRET)");
  cmd->add_flag("-f,--foreground", args->foreground,
                "Stay in the foreground and log to stderr (default: detach once the mount is up)");
  cmd->add_option(
         "-o", args->fuse_options,
         "FUSE mount options, comma-separated, passed to libfuse: allow_other, ro, … (default: none)")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--log-file", args->log_file,
                  "Log file (default: stderr in the foreground, CACHE_DIR/pinfs.log when detached)");
  cmd->add_option("--threads", args->threads, "Maximum FUSE worker threads (default: 16)")
      ->check(CLI::Range(1u, 256u));
  cmd->add_option("--read-ahead", args->read_ahead_kib,
                  "Kernel read-ahead of the mount in KiB, 0 for the kernel's own 128 (default: 256; set "
                  "through /sys/class/bdi, so as root only)")
      ->check(CLI::Range(0u, 65536u));
  cmd->add_flag("--fuse-debug", args->fuse_debug,
                "Log every FUSE request (libfuse debug output; default: off)");
  cmd->footer(
      "Credentials never go on the command line. They are read, in this order, from --credentials-file, the\n"
      "profile (jwt_file / api_key_file + api_secret_file naming 0600 files), systemd credentials in\n"
      "$CREDENTIALS_DIRECTORY (jwt, api_key, api_secret), or the environment: PINFS_JWT (Pinata), or\n"
      "PINFS_API_KEY + PINFS_API_SECRET (Pinata key pair, AIOZ pinning_api_key/pinning_secret_key).\n"
      "They are checked with the service before mounting.\n"
      "Exit status: 0 mounted (or, in the foreground, unmounted cleanly); 2 bad usage or mountpoint;\n"
      "78 configuration or credentials; 69 service unreachable; 1 anything else.\n"
      "SIGTERM/SIGINT unmount after finishing pending uploads.");
  cmd->callback([args, &exit_code] { exit_code = run_mount(*args); });
}

void add_unmount_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string mountpoint;
    bool force = false;
    double timeout = 0;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("unmount", "Unmount a pinfs mount once its pending uploads are done");
  cmd->alias("umount");
  cmd->add_option("mountpoint", args->mountpoint, "Where it is mounted")->required();
  cmd->add_flag("--force", args->force,
                "Do not wait for pending uploads, and detach lazily if busy; the daemon still finishes (or "
                "journals) the uploads after unmounting (default: off)");
  cmd->add_option(
         "--timeout", args->timeout,
         "Give up waiting for uploads after this many seconds, leaving the mount up (default: 0 = wait "
         "as long as it takes)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback(
      [args, &exit_code] { exit_code = run_unmount(args->mountpoint, args->force, args->timeout); });
}

void add_status_command(CLI::App& app, int& exit_code) {
  struct Args {
    std::string mountpoint;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "status", "Show pending uploads with progress, pins, cache and request figures of pinfs mounts");
  cmd->add_option("mountpoint", args->mountpoint, "A pinfs mount (default: every pinfs mount)");
  cmd->add_flag("--json", args->json, "Print MOUNTPOINT/.pinfs/status as it is (default: human-readable)");
  cmd->callback([args, &exit_code] { exit_code = run_status(args->mountpoint, args->json); });
}

}  // namespace

void register_mount(CLI::App& app, int& exit_code) {
  add_mount_command(app, exit_code);
  add_unmount_command(app, exit_code);
  add_status_command(app, exit_code);
}

}  // namespace pinfs::cli
