// Runs the real pinfs-emulator binary for a test: fresh credentials, a free loopback port,
// a temporary data directory, and a guaranteed stop (SIGTERM, then SIGKILL) in the destructor.
// Header-only and free of httplib on purpose: suites that link only a lower layer (test_http)
// can use it too. request() speaks just enough HTTP/1.1 for the /_emulator/* control calls.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace pinfs::testing {

class EmulatorProcess {
 public:
  struct Options {
    std::vector<std::string> extra_args;
    std::string data_dir;  // empty = fresh temp dir, removed by the destructor
  };

  EmulatorProcess() : EmulatorProcess(Options{}) {}
  explicit EmulatorProcess(Options options) : options_(std::move(options)) {
    jwt_ = random_token(48);
    api_key_ = random_token(20);
    api_secret_ = random_token(40);
    if (options_.data_dir.empty()) {
      data_dir_ = make_temp_dir("pinfs-emu-data-");
      owns_data_dir_ = true;
    } else {
      data_dir_ = options_.data_dir;
      std::filesystem::create_directories(data_dir_);
    }
    log_dir_ = make_temp_dir("pinfs-emu-log-");
    try {
      start();
    } catch (...) {
      cleanup_dirs();
      throw;
    }
  }

  ~EmulatorProcess() {
    stop();
    cleanup_dirs();
  }

  EmulatorProcess(const EmulatorProcess&) = delete;
  EmulatorProcess& operator=(const EmulatorProcess&) = delete;

  std::string base_url() const { return base_url_; }
  std::string host() const { return "127.0.0.1"; }
  int port() const { return port_; }
  std::string jwt() const { return jwt_; }
  std::string api_key() const { return api_key_; }
  std::string api_secret() const { return api_secret_; }
  std::string data_dir() const { return data_dir_; }
  pid_t pid() const { return pid_; }
  // Everything the emulator wrote to stderr so far (its log).
  std::string stderr_text() const { return read_file(stderr_path()); }

  void restart() {
    stop();
    start();
  }

  // SIGKILL (no clean shutdown), then the same data on the same port: a crash and restart under a client.
  void kill_and_restart_on_same_port() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
      pid_ = -1;
    }
    if (stdout_fd_ >= 0) {
      ::close(stdout_fd_);
      stdout_fd_ = -1;
    }
    listen_port_ = port_;
    start();
  }

  // Sends one request to the emulator over loopback and returns the response body.
  // Throws std::runtime_error on a transport error (not on an HTTP error status).
  std::string request(const std::string& method, const std::string& path, const std::string& body = "") {
    int status = 0;
    return request_with_status(method, path, body, status);
  }

  std::string request_with_status(const std::string& method, const std::string& path, const std::string& body,
                                  int& status) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      std::string err = std::strerror(errno);
      ::close(fd);
      throw std::runtime_error("connect to emulator: " + err);
    }
    std::ostringstream req;
    req << method << ' ' << path << " HTTP/1.1\r\nHost: 127.0.0.1:" << port_ << "\r\nConnection: close\r\n"
        << "Content-Type: application/json\r\nContent-Length: " << body.size() << "\r\n\r\n"
        << body;
    std::string out = req.str();
    std::size_t sent = 0;
    while (sent < out.size()) {
      ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        ::close(fd);
        throw std::runtime_error("send to emulator failed");
      }
      sent += static_cast<std::size_t>(n);
    }
    std::string resp;
    char buf[16384];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        ::close(fd);
        throw std::runtime_error("recv from emulator failed");
      }
      if (n == 0) break;
      resp.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    auto head_end = resp.find("\r\n\r\n");
    if (head_end == std::string::npos || resp.compare(0, 5, "HTTP/") != 0)
      throw std::runtime_error("malformed response from emulator");
    auto sp = resp.find(' ');
    status = std::atoi(resp.c_str() + sp + 1);
    std::string head = resp.substr(0, head_end);
    std::string payload = resp.substr(head_end + 4);
    std::string lower = head;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("transfer-encoding: chunked") != std::string::npos) payload = dechunk(payload);
    return payload;
  }

 private:
  static std::string random_token(std::size_t n) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::random_device rd;
    std::mt19937_64 gen(rd());
    std::uniform_int_distribution<std::size_t> pick(0, sizeof(alphabet) - 2);
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += alphabet[pick(gen)];
    return s;
  }

  static std::string make_temp_dir(const char* prefix) {
    std::string tmpl = (std::filesystem::temp_directory_path() / (std::string(prefix) + "XXXXXX")).string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    return std::string(buf.data());
  }

  static std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  static std::string dechunk(const std::string& in) {
    std::string out;
    std::size_t pos = 0;
    while (pos < in.size()) {
      auto eol = in.find("\r\n", pos);
      if (eol == std::string::npos) break;
      std::size_t len = std::stoul(in.substr(pos, eol - pos), nullptr, 16);
      if (len == 0) break;
      out += in.substr(eol + 2, len);
      pos = eol + 2 + len + 2;
    }
    return out;
  }

  std::string stderr_path() const { return log_dir_ + "/stderr.log"; }

  void start() {
    std::string binary = std::string(PINFS_BINARY_DIR) + "/pinfs-emulator";
    std::vector<std::string> args = {binary, "--listen", "127.0.0.1:" + std::to_string(listen_port_),
                                     "--data", data_dir_};
    args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string kv = *e;
      if (kv.rfind("PINFS_EMULATOR_", 0) == 0) continue;
      env.push_back(kv);
    }
    env.push_back("PINFS_EMULATOR_JWT=" + jwt_);
    env.push_back("PINFS_EMULATOR_API_KEY=" + api_key_);
    env.push_back("PINFS_EMULATOR_API_SECRET=" + api_secret_);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);

    int out_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    std::string err_path = stderr_path();
    int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (err_fd < 0) {
      ::close(out_pipe[0]);
      ::close(out_pipe[1]);
      throw std::runtime_error("cannot open " + err_path);
    }
    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
      ::close(out_pipe[0]);
      ::close(out_pipe[1]);
      ::close(err_fd);
      throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
      // If the test process dies (a crash, an abort), SIGTERM this child too: nothing is left running, and
      // a pinfs daemon unmounts on SIGTERM.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
      ::dup2(out_pipe[1], STDOUT_FILENO);
      ::dup2(err_fd, STDERR_FILENO);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(out_pipe[1]);
    ::close(err_fd);
    pid_ = pid;
    stdout_fd_ = out_pipe[0];

    const std::string marker = "pinfs-emulator listening on http://";
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (line.find('\n') == std::string::npos) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) fail_start("timed out waiting for the 'listening on' line");
      pollfd pfd{stdout_fd_, POLLIN, 0};
      int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) continue;
      char c[256];
      ssize_t n = ::read(stdout_fd_, c, sizeof c);
      if (n <= 0) fail_start("emulator exited before listening");
      line.append(c, static_cast<std::size_t>(n));
    }
    line = line.substr(0, line.find('\n'));
    auto at = line.find(marker);
    if (at == std::string::npos) fail_start("unexpected first line: " + line);
    base_url_ = "http://" + line.substr(at + marker.size());
    auto colon = base_url_.rfind(':');
    port_ = std::atoi(base_url_.c_str() + colon + 1);
    if (port_ <= 0) fail_start("no port in: " + line);
  }

  [[noreturn]] void fail_start(const std::string& why) {
    stop();
    throw std::runtime_error("pinfs-emulator did not start: " + why + "\n--- stderr ---\n" + stderr_text());
  }

  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      bool reaped = false;
      while (std::chrono::steady_clock::now() < deadline) {
        int st = 0;
        pid_t r = ::waitpid(pid_, &st, WNOHANG);
        if (r == pid_ || (r < 0 && errno == ECHILD)) {
          reaped = true;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (!reaped) {
        ::kill(pid_, SIGKILL);
        int st = 0;
        ::waitpid(pid_, &st, 0);
      }
      pid_ = -1;
    }
    if (stdout_fd_ >= 0) {
      ::close(stdout_fd_);
      stdout_fd_ = -1;
    }
  }

  void cleanup_dirs() {
    std::error_code ec;
    if (owns_data_dir_ && !data_dir_.empty()) std::filesystem::remove_all(data_dir_, ec);
    if (!log_dir_.empty()) std::filesystem::remove_all(log_dir_, ec);
  }

  Options options_;
  std::string jwt_, api_key_, api_secret_;
  std::string data_dir_;
  bool owns_data_dir_ = false;
  std::string log_dir_;
  std::string base_url_;
  int port_ = 0;
  int listen_port_ = 0;  // 0: any free port; kill_and_restart_on_same_port() keeps the last one
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
};

}  // namespace pinfs::testing
