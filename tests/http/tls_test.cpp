// TLS: certificates are verified unless a person turned it off, and a CA file can be given. The server is
// `openssl s_server` on 127.0.0.1 with a self-signed certificate made for this test.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "pinfs/http/curl_client.hpp"

namespace pinfs::http {
namespace {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/pinfs-tls-" + std::to_string(::getpid());
    std::filesystem::create_directories(dir_);
    cert_ = dir_ + "/cert.pem";
    const std::string make_cert =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
        "-addext subjectAltName=IP:127.0.0.1 -keyout '" +
        dir_ + "/key.pem' -out '" + cert_ + "' >/dev/null 2>&1";
    ASSERT_EQ(std::system(make_cert.c_str()), 0) << "openssl could not make a certificate";
    port_ = free_port();
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      const std::string accept = "127.0.0.1:" + std::to_string(port_);
      const std::string key = dir_ + "/key.pem";
      ::execlp("openssl", "openssl", "s_server", "-quiet", "-www", "-accept", accept.c_str(), "-cert",
               cert_.c_str(), "-key", key.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100 && !accepts(port_); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(accepts(port_)) << "openssl s_server did not start";
  }

  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }

  Result<Response> get(const CurlOptions& options) {
    Request r;
    r.url = "https://127.0.0.1:" + std::to_string(port_) + "/";
    return make_curl_client(options)->perform(r);
  }

  std::string dir_, cert_;
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(TlsTest, UnknownCertificateIsRefusedByDefault) {
  auto r = get(CurlOptions{});
  ASSERT_FALSE(r) << "a self-signed certificate was accepted";
  EXPECT_EQ(r.error().errnum, EACCES) << r.error().message;
  EXPECT_FALSE(r.error().retryable);
}

TEST_F(TlsTest, ConfiguredCaFileIsTrusted) {
  CurlOptions options;
  options.ca_path = cert_;
  auto r = get(options);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
}

TEST_F(TlsTest, VerificationOffOnlyWhenAsked) {
  CurlOptions options;
  options.tls_verify = false;
  auto r = get(options);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace pinfs::http
