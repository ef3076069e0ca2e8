// A minimal HTTP/1.1 server on 127.0.0.1 for testing the curl client at the wire level
// (Debian's cpp-httplib is a shared library that test_http does not link). Keep-alive,
// Content-Length and chunked request bodies; one thread per connection; stopped by its
// destructor even when a test fails.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace pinfs::testing {

struct MiniRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  int remote_port = 0;
  bool has(const std::string& name) const { return headers.count(name) != 0; }
  std::string get(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct MiniResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool close_without_answer = false;  // simulate a reset after the request arrived
};

class MiniServer {
 public:
  using Handler = std::function<MiniResponse(const MiniRequest&)>;

  explicit MiniServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 64) != 0) {
      throw std::runtime_error("cannot listen on loopback");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~MiniServer() { stop(); }

  void stop() {
    if (stopping_.exchange(true)) return;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> workers;
    {
      std::lock_guard lock(mutex_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
      workers.swap(workers_);
    }
    for (auto& t : workers) t.join();
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int connections() const { return connections_.load(); }

 private:
  void accept_loop() {
    while (!stopping_) {
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
      if (fd < 0) {
        if (stopping_) return;
        continue;
      }
      ++connections_;
      std::lock_guard lock(mutex_);
      open_fds_.push_back(fd);
      workers_.emplace_back([this, fd, port = ntohs(peer.sin_port)] { serve(fd, port); });
    }
  }

  // Reads until `buffer` holds at least `want` bytes; false on EOF.
  static bool fill(int fd, std::string& buffer, std::size_t want) {
    char chunk[65536];
    while (buffer.size() < want) {
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buffer.append(chunk, static_cast<std::size_t>(n));
    }
    return true;
  }
  static bool read_line(int fd, std::string& buffer, std::string& line) {
    for (;;) {
      auto pos = buffer.find("\r\n");
      if (pos != std::string::npos) {
        line = buffer.substr(0, pos);
        buffer.erase(0, pos + 2);
        return true;
      }
      if (!fill(fd, buffer, buffer.size() + 1)) return false;
    }
  }

  void serve(int fd, int port) {
    std::string buffer;
    for (;;) {
      MiniRequest req;
      req.remote_port = port;
      std::string line;
      if (!read_line(fd, buffer, line)) break;
      auto s1 = line.find(' '), s2 = line.rfind(' ');
      req.method = line.substr(0, s1);
      req.target = line.substr(s1 + 1, s2 - s1 - 1);
      while (read_line(fd, buffer, line) && !line.empty()) {
        auto colon = line.find(':');
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        req.headers[name] = value;
      }
      if (req.get("transfer-encoding") == "chunked") {
        for (;;) {
          if (!read_line(fd, buffer, line)) goto done;
          const std::size_t size = std::stoul(line, nullptr, 16);
          if (!fill(fd, buffer, size + 2)) goto done;
          req.body.append(buffer, 0, size);
          buffer.erase(0, size + 2);
          if (size == 0) break;
        }
      } else if (req.has("content-length")) {
        const std::size_t size = std::stoul(req.get("content-length"));
        if (!fill(fd, buffer, size)) break;
        req.body = buffer.substr(0, size);
        buffer.erase(0, size);
      }
      {
        MiniResponse res = handler_(req);
        if (res.close_without_answer) break;
        std::string out = "HTTP/1.1 " + std::to_string(res.status) + " X\r\n";
        for (const auto& [k, v] : res.headers) out += k + ": " + v + "\r\n";
        out += "Content-Length: " + std::to_string(res.body.size()) + "\r\n\r\n";
        out += res.body;
        std::size_t sent = 0;
        while (sent < out.size()) {
          ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
          if (n <= 0) goto done;
          sent += static_cast<std::size_t>(n);
        }
      }
    }
  done:
    std::lock_guard lock(mutex_);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
    ::close(fd);
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  std::mutex mutex_;  // guards workers_ and open_fds_
  std::vector<std::thread> workers_;
  std::vector<int> open_fds_;
};

// Splits a multipart/form-data body into (name, filename, content) triples.
struct MiniPart {
  std::string name, filename, content;
};
inline std::vector<MiniPart> parse_multipart(const std::string& content_type, const std::string& body) {
  std::vector<MiniPart> parts;
  auto b = content_type.find("boundary=");
  if (b == std::string::npos) return parts;
  const std::string delimiter = "--" + content_type.substr(b + 9);
  std::size_t pos = body.find(delimiter);
  while (pos != std::string::npos) {
    pos += delimiter.size();
    if (body.compare(pos, 2, "--") == 0) break;
    pos += 2;  // CRLF
    const auto header_end = body.find("\r\n\r\n", pos);
    const std::string headers = body.substr(pos, header_end - pos);
    const auto next = body.find("\r\n" + delimiter, header_end);
    MiniPart part;
    part.content = body.substr(header_end + 4, next - header_end - 4);
    auto field = [&](const std::string& key) {
      auto k = headers.find(key + "=\"");
      if (k == std::string::npos) return std::string();
      k += key.size() + 2;
      return headers.substr(k, headers.find('"', k) - k);
    };
    part.name = field("name");
    part.filename = field("filename");
    parts.push_back(std::move(part));
    pos = next + 2;
    pos = body.find(delimiter, pos);
  }
  return parts;
}

}  // namespace pinfs::testing
