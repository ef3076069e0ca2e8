// A real pinfs mount for a test: a fresh pinfs-emulator, then `pinfs mount MNT --foreground` against it with
// the credentials in the daemon's environment (never its argv). The destructor always cleans up, also when
// the test failed: fusermount3 -u (then -uz as a last resort), SIGTERM/SIGKILL for the daemon, the emulator
// stopped, the temp folders removed (never while something is still mounted on them).
// Header-only; tests/mount links pinfs_core. One test body runs against both providers: pass "pinata" or
// "aioz" (see kProviders).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "emulator_process.hpp"

namespace pinfs::testing {

inline const std::vector<std::string> kProviders = {"pinata", "aioz"};

struct RunResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string out, err;
};

inline int decode_wait_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// The environment without anything that would make pinfs read the developer's own configuration or
// credentials, plus `extra` (NAME=VALUE).
inline std::vector<std::string> hermetic_env(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    if (kv.rfind("PINFS_", 0) == 0 || kv.rfind("CREDENTIALS_DIRECTORY=", 0) == 0 ||
        kv.rfind("XDG_CONFIG_HOME=", 0) == 0 || kv.rfind("XDG_CACHE_HOME=", 0) == 0 ||
        kv.rfind("NOTIFY_SOCKET=", 0) == 0)
      continue;
    env.push_back(kv);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

// Runs a program to completion, capturing stdout and stderr; killed (SIGKILL) after timeout.
inline RunResult run_process(const std::vector<std::string>& args, const std::vector<std::string>& env,
                             std::chrono::seconds timeout = std::chrono::seconds(120)) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    throw std::runtime_error("pipe failed");
  }
  std::vector<std::string> a = args, e = env;
  std::vector<char*> argv, envp;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : e) envp.push_back(s.data());
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::execvpe(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  RunResult r;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool killed = false;
  while (open_fds > 0) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 && !killed) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    int n = ::poll(fds, 2, killed ? 1000 : static_cast<int>(std::min<long>(left.count(), 1000)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (killed) break;
      continue;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(got));
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = decode_wait_status(status);
  if (killed) r.err += "\n[killed after timeout]";
  return r;
}

inline RunResult run_shell(const std::string& command,
                           std::chrono::seconds timeout = std::chrono::seconds(120)) {
  return run_process({"/bin/sh", "-c", command}, hermetic_env(), timeout);
}

// Single-quotes a path for /bin/sh.
inline std::string shq(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

inline std::string make_temp_dir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return buf.data();
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// True when something is mounted exactly at path, per /proc/self/mountinfo.
inline bool is_mountpoint(const std::string& path) {
  std::istringstream lines(slurp("/proc/self/mountinfo"));
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string f;
    for (int i = 0; i < 5 && (fields >> f); ++i) {
    }
    std::string decoded;
    for (std::size_t i = 0; i < f.size(); ++i) {
      if (f[i] == '\\' && i + 3 < f.size()) {
        decoded += static_cast<char>((f[i + 1] - '0') * 64 + (f[i + 2] - '0') * 8 + (f[i + 3] - '0'));
        i += 3;
      } else {
        decoded += f[i];
      }
    }
    if (decoded == path) return true;
  }
  return false;
}

inline std::string pinfs_binary() {
  return std::string(PINFS_BINARY_DIR) + "/pinfs";
}

// A pin as the service lists it, read straight from the emulator's provider API (not through pinfs).
struct RemotePin {
  std::string id, cid, name;
  std::uint64_t size = 0;
};

class PinfsMount {
 public:
  struct Options {
    std::string provider = "pinata";
    std::vector<std::string> extra_args;  // e.g. {"--upload", "async"}
    std::chrono::seconds mount_timeout{20};
    std::string cache_dir;  // empty: a fresh directory beside the mountpoint
  };

  explicit PinfsMount(std::string provider)
      : PinfsMount(Options{std::move(provider), {}, std::chrono::seconds(20), {}}) {}
  explicit PinfsMount(Options options) : options_(std::move(options)) {
    root_ = make_temp_dir("pinfs-mount-test-");
    mnt_ = root_ + "/mnt";
    cache_ = options_.cache_dir.empty() ? root_ + "/cache" : options_.cache_dir;
    std::filesystem::create_directories(mnt_);
    try {
      emulator_ = std::make_unique<EmulatorProcess>();
      mount();
    } catch (...) {
      cleanup();
      throw;
    }
  }

  ~PinfsMount() { cleanup(); }
  PinfsMount(const PinfsMount&) = delete;
  PinfsMount& operator=(const PinfsMount&) = delete;

  const std::string& provider() const { return options_.provider; }
  const std::string& mnt() const { return mnt_; }
  std::string path(const std::string& name) const { return mnt_ + "/" + name; }
  const std::string& cache_dir() const { return cache_; }
  const std::string& scratch() const { return root_; }  // a place for source files, outside the mount
  EmulatorProcess& emulator() { return *emulator_; }
  pid_t daemon_pid() const { return pid_; }
  std::string daemon_log() const { return slurp(root_ + "/pinfs.log"); }
  bool mounted() const { return is_mountpoint(mnt_); }

  std::string api_url() const {
    return options_.provider == "aioz" ? emulator_->base_url() + "/api" : emulator_->base_url();
  }
  std::string gateway_url() const { return emulator_->base_url(); }

  // NAME=VALUE credentials for the provider, for a child's environment.
  std::vector<std::string> credential_env() const {
    if (options_.provider == "aioz")
      return {"PINFS_API_KEY=" + emulator_->api_key(), "PINFS_API_SECRET=" + emulator_->api_secret()};
    return {"PINFS_JWT=" + emulator_->jwt()};
  }

  // The arguments of `pinfs mount` for this emulator, without the mountpoint and credentials.
  std::vector<std::string> mount_flags() const {
    return {"--provider",    options_.provider, "--api-url",   api_url(),
            "--gateway-url", gateway_url(),     "--cache-dir", cache_};
  }

  // Runs `pinfs ARGS…` with a hermetic environment plus `env`.
  RunResult pinfs(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) const {
    std::vector<std::string> argv = {pinfs_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, hermetic_env(env));
  }

  // Sends sig to the daemon and waits for it to exit; its exit code, or -1 if it outlived the timeout.
  int stop_daemon(int sig, std::chrono::seconds timeout = std::chrono::seconds(30)) {
    if (pid_ <= 0) return exit_code_;
    ::kill(pid_, sig);
    return wait_daemon(timeout);
  }

  // Waits for the daemon to exit by itself (after an unmount); -1 on timeout.
  int wait_daemon(std::chrono::seconds timeout = std::chrono::seconds(30)) {
    if (pid_ <= 0) return exit_code_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        exit_code_ = decode_wait_status(status);
        return exit_code_;
      }
      if (std::chrono::steady_clock::now() >= deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // Mounts again (same emulator and cache dir) after the daemon has stopped.
  void remount() {
    if (pid_ > 0) throw std::runtime_error("remount while the daemon still runs");
    mount();
  }

  // GET on the emulator's provider API with this account's credentials (headers passed to curl from a
  // 0600 file, so no secret shows in a process list). Returns the body; throws on a transport error.
  std::string api_get(const std::string& path_and_query) const { return api_curl({}, path_and_query); }

  // Uploads a file straight to the service (not through the mount), as another machine would.
  std::string api_upload(const std::string& local_file, const std::string& name) const {
    const std::string part = "file=@" + local_file + ";filename=" + name;
    return api_curl({"-X", "POST", "-F", part},
                    options_.provider == "aioz" ? "/api/pinning/" : "/pinning/pinFileToIPFS");
  }

  std::string api_curl(const std::vector<std::string>& curl_args, const std::string& path_and_query) const {
    const std::string headers = root_ + "/api-headers";
    {
      std::ofstream h(headers, std::ios::trunc);
      if (options_.provider == "aioz")
        h << "pinning_api_key: " << emulator_->api_key()
          << "\npinning_secret_key: " << emulator_->api_secret() << "\n";
      else
        h << "Authorization: Bearer " << emulator_->jwt() << "\n";
    }
    ::chmod(headers.c_str(), 0600);
    std::vector<std::string> argv = {"curl", "-sS", "--fail-with-body", "--max-time",
                                     "30",   "-H",  "@" + headers};
    argv.insert(argv.end(), curl_args.begin(), curl_args.end());
    argv.push_back(emulator_->base_url() + path_and_query);
    auto r = run_process(argv, hermetic_env());
    std::filesystem::remove(headers);
    if (r.exit_code != 0) throw std::runtime_error("curl " + path_and_query + ": " + r.err + r.out);
    return r.out;
  }

  // Every pin of the account, from the provider's list call.
  std::vector<RemotePin> remote_pins() const {
    std::vector<RemotePin> pins;
    rapidjson::Document doc;
    if (options_.provider == "aioz") {
      std::string body = api_get("/api/pinning/pins/?offset=0&limit=1000&pinned=true");
      doc.Parse(body.c_str());
      if (!doc.IsObject() || !doc.HasMember("data") || !doc["data"].HasMember("pins"))
        throw std::runtime_error("unexpected AIOZ pin list: " + body);
      for (const auto& p : doc["data"]["pins"].GetArray()) {
        RemotePin pin;
        pin.id = p.HasMember("id") && p["id"].IsString() ? p["id"].GetString() : "";
        pin.cid = p["cid"].GetString();
        if (p.HasMember("metadata") && p["metadata"].IsObject() && p["metadata"].HasMember("name") &&
            p["metadata"]["name"].IsString())
          pin.name = p["metadata"]["name"].GetString();
        if (p.HasMember("size") && p["size"].IsUint64()) pin.size = p["size"].GetUint64();
        pins.push_back(pin);
      }
    } else {
      std::string body = api_get("/data/pinList?status=pinned&pageLimit=1000");
      doc.Parse(body.c_str());
      if (!doc.IsObject() || !doc.HasMember("rows"))
        throw std::runtime_error("unexpected Pinata pin list: " + body);
      for (const auto& p : doc["rows"].GetArray()) {
        RemotePin pin;
        pin.id = p.HasMember("id") && p["id"].IsString() ? p["id"].GetString() : "";
        pin.cid = p["ipfs_pin_hash"].GetString();
        if (p.HasMember("metadata") && p["metadata"].IsObject() && p["metadata"].HasMember("name") &&
            p["metadata"]["name"].IsString())
          pin.name = p["metadata"]["name"].GetString();
        if (p.HasMember("size") && p["size"].IsUint64()) pin.size = p["size"].GetUint64();
        pins.push_back(pin);
      }
    }
    return pins;
  }

  std::optional<RemotePin> remote_pin_named(const std::string& name) const {
    for (auto& p : remote_pins())
      if (p.name == name) return p;
    return std::nullopt;
  }

  // The emulator's counters: how many uploads it took, and requests per "METHOD /pattern".
  std::uint64_t emulator_uploads() { return stat_number("uploads", nullptr); }
  std::uint64_t emulator_requests(const std::string& endpoint) {
    return stat_number("requests", endpoint.c_str());
  }

 private:
  std::uint64_t stat_number(const char* key, const char* sub) {
    std::string body = emulator_->request("GET", "/_emulator/stats");
    rapidjson::Document doc;
    doc.Parse(body.c_str());
    if (!doc.IsObject() || !doc.HasMember(key))
      throw std::runtime_error("unexpected /_emulator/stats: " + body);
    const rapidjson::Value* v = &doc[key];
    if (sub != nullptr) {
      if (!v->IsObject() || !v->HasMember(sub)) return 0;
      v = &(*v)[sub];
    }
    return v->IsUint64() ? v->GetUint64() : 0;
  }

  void mount() {
    std::vector<std::string> args = {pinfs_binary(), "--log-level", "debug", "mount", mnt_, "--foreground"};
    auto flags = mount_flags();
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
    auto env = hermetic_env(credential_env());
    env.push_back("XDG_CONFIG_HOME=" + root_ + "/no-config");

    std::vector<char*> argv, envp;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    const std::string log = root_ + "/pinfs.log";
    int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0) throw std::runtime_error("cannot open " + log);
    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
      ::close(log_fd);
      throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
      // If the test process dies (a crash, an abort), SIGTERM this child too: nothing is left running, and
      // a pinfs daemon unmounts on SIGTERM.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
      int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(log_fd);
    pid_ = pid;
    exit_code_ = -1;

    const auto deadline = std::chrono::steady_clock::now() + options_.mount_timeout;
    while (!is_mountpoint(mnt_)) {
      if (wait_daemon(std::chrono::seconds(0)) != -1 || pid_ <= 0)
        throw std::runtime_error("pinfs mount exited (" + std::to_string(exit_code_) +
                                 ") before mounting; its log:\n" + daemon_log());
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("pinfs mount did not mount within the timeout; its log:\n" + daemon_log());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    struct stat st {};
    if (::stat((mnt_ + "/.pinfs").c_str(), &st) != 0)
      throw std::runtime_error("the mount is up but /.pinfs does not answer: " +
                               std::string(std::strerror(errno)) + "\n" + daemon_log());
  }

  void cleanup() {
    if (!mnt_.empty() && is_mountpoint(mnt_)) {
      run_process({"fusermount3", "-u", mnt_}, hermetic_env(), std::chrono::seconds(30));
      if (pid_ > 0) wait_daemon(std::chrono::seconds(30));
      if (is_mountpoint(mnt_))
        run_process({"fusermount3", "-uz", mnt_}, hermetic_env(), std::chrono::seconds(30));
    }
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      if (wait_daemon(std::chrono::seconds(10)) == -1 && pid_ > 0) {
        ::kill(pid_, SIGKILL);
        wait_daemon(std::chrono::seconds(10));
      }
    }
    emulator_.reset();
    // remove_all through a live mount would unpin the account's content; never do that.
    if (!root_.empty() && !is_mountpoint(mnt_)) {
      std::error_code ec;
      std::filesystem::remove_all(root_, ec);
    }
  }

  Options options_;
  std::unique_ptr<EmulatorProcess> emulator_;
  std::string root_, mnt_, cache_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

}  // namespace pinfs::testing
