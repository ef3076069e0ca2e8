#include "pinfs/http/curl_client.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "mini_server.hpp"
#include "pinfs/common/log.hpp"
#include "pinfs/http/retrying_client.hpp"

namespace pinfs::http {
namespace {

using namespace std::chrono_literals;
using pinfs::testing::MiniRequest;
using pinfs::testing::MiniResponse;
using pinfs::testing::MiniServer;

std::string temp_file(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

std::string pattern(std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 13) % 26);
  return s;
}

struct Seen {
  std::mutex mutex;
  std::string body;
  std::string content_length;
  std::string transfer_encoding;
  bool had_expect = false;
  std::string content_type;
  std::set<int> ports;
  int requests = 0;
};

class CurlClientTest : public ::testing::Test {
 protected:
  MiniResponse handle(const MiniRequest& req) {
    MiniResponse res;
    if (req.target == "/hello" || req.target == "/upload") {
      std::lock_guard lock(seen.mutex);
      seen.body = req.body;
      seen.content_length = req.get("content-length");
      seen.transfer_encoding = req.get("transfer-encoding");
      seen.had_expect = req.has("expect");
      seen.content_type = req.get("content-type");
      seen.ports.insert(req.remote_port);
      ++seen.requests;
    }
    if (req.target == "/hello") {
      res.headers = {{"Content-Type", "text/plain"}};
      res.body = "hello";
    } else if (req.target == "/upload") {
      res.body = req.method == "PUT" ? "put:" + req.body : std::to_string(req.body.size());
    } else if (req.target == "/big") {
      res.body = big;
    } else if (req.target == "/slow") {
      std::this_thread::sleep_for(1500ms);
      res.body = "late";
    } else if (req.target == "/drop-once") {
      uploads_seen.push_back(req.body);
      if (uploads_seen.size() == 1) res.close_without_answer = true;  // reset after the body arrived
      res.body = "pinned";
    } else if (req.target == "/limited") {
      if (limited_calls++ == 0) {
        res.status = 429;
        res.headers = {{"Retry-After", "1"}};
      } else {
        res.body = "ok";
      }
    } else if (req.target == "/flaky") {
      if (flaky_failures.fetch_sub(1) > 0) {
        res.status = 503;
        res.headers = {{"Retry-After", "0"}};
      } else {
        res.body = "recovered";
      }
    } else {
      res.status = 404;
      res.body = R"({"error":"not here"})";
    }
    return res;
  }

  CurlOptions options() {
    CurlOptions o;
    o.low_speed_time_s = 5;
    return o;
  }

  std::string big = pattern(3 * 1024 * 1024 + 17);
  std::atomic<int> flaky_failures{0};
  std::vector<std::string> uploads_seen;  // requests to /drop-once are sequential
  std::atomic<int> limited_calls{0};
  Seen seen;
  MiniServer server{[this](const MiniRequest& r) { return handle(r); }};
};

TEST_F(CurlClientTest, GetCollectsBodyAndHeaders) {
  auto client = make_curl_client(options());
  Request r;
  r.url = server.url("/hello");
  auto res = client->perform(r);
  ASSERT_TRUE(res.has_value()) << res.error().describe();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "hello");
  EXPECT_EQ(res->header("content-type"), "text/plain");
  EXPECT_EQ(res->header("Content-Type"), "text/plain");
}

TEST_F(CurlClientTest, ErrorStatusIsAResponseWithItsBody) {
  auto client = make_curl_client(options());
  Request r;
  r.url = server.url("/missing");
  auto res = client->perform(r);
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 404);
  EXPECT_NE(res->body.find("not here"), std::string::npos);
}

TEST_F(CurlClientTest, ResponseBodyStreamsToSink) {
  auto client = make_curl_client(options());
  Request r;
  r.url = server.url("/big");
  std::string got;
  int calls = 0;
  r.sink = [&](const char* d, std::size_t n) {
    got.append(d, n);
    ++calls;
    return true;
  };
  auto res = client->perform(r);
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(res->body.empty());
  EXPECT_EQ(res->body_bytes, big.size());
  EXPECT_EQ(got, big);
  EXPECT_GT(calls, 1);  // delivered in pieces, not buffered whole
}

TEST_F(CurlClientTest, SinkCanAbortTransfer) {
  auto client = make_curl_client(options());
  Request r;
  r.url = server.url("/big");
  r.sink = [](const char*, std::size_t) { return false; };
  auto res = client->perform(r);
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().errnum, ECANCELED);
  EXPECT_FALSE(res.error().retryable);
}

TEST_F(CurlClientTest, FileUploadHasContentLengthAndNoExpect) {
  auto client = make_curl_client(options());
  const std::string content = pattern(2 * 1024 * 1024 + 5);
  Request r;
  r.method = Method::Post;
  r.url = server.url("/upload");
  r.body = FileBody{temp_file("known.bin", content)};
  std::uint64_t last_sent = 0, last_total = 0;
  r.progress = [&](std::uint64_t sent, std::uint64_t total) {
    last_sent = sent;
    last_total = total;
  };
  auto res = client->perform(r);
  ASSERT_TRUE(res.has_value()) << res.error().describe();
  EXPECT_EQ(res->status, 200);
  std::lock_guard lock(seen.mutex);
  EXPECT_EQ(seen.body, content);
  EXPECT_EQ(seen.content_length, std::to_string(content.size()));
  EXPECT_TRUE(seen.transfer_encoding.empty());
  EXPECT_FALSE(seen.had_expect);
  EXPECT_EQ(last_sent, content.size());
  EXPECT_EQ(last_total, content.size());
}

// What an upload has sent of a staged file leaves the page cache a window behind it (FileReader): a large
// copy does not fill memory with bytes nobody reads again. The file lies in the working directory (on disk:
// tmpfs pages cannot be dropped), written back first so that its pages are clean.
TEST_F(CurlClientTest, FileUploadLetsGoOfTheStagedPagesBehindIt) {
  auto client = make_curl_client(options());
  const std::string content = pattern(48u << 20);
  const std::string path = "./staged-pages.bin";
  {
    std::ofstream(path, std::ios::binary) << content;
    int fd = ::open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::fsync(fd), 0);
    ::close(fd);
  }
  auto resident_fraction = [&] {
    int fd = ::open(path.c_str(), O_RDONLY);
    void* map = ::mmap(nullptr, content.size(), PROT_READ, MAP_SHARED, fd, 0);
    const std::size_t pages = content.size() / 4096;
    std::vector<unsigned char> in(pages);
    ::mincore(map, content.size(), in.data());
    ::munmap(map, content.size());
    ::close(fd);
    return static_cast<double>(std::count_if(in.begin(), in.end(), [](unsigned char c) { return c & 1; })) /
           static_cast<double>(pages);
  };
  EXPECT_GT(resident_fraction(), 0.9);  // just written: in the page cache
  Request r;
  r.method = Method::Post;
  r.url = server.url("/upload");
  r.body = FileBody{path};
  auto res = client->perform(r);
  ASSERT_TRUE(res.has_value()) << res.error().describe();
  {
    std::lock_guard lock(seen.mutex);
    EXPECT_TRUE(seen.body == content);
  }
  EXPECT_LT(resident_fraction(), 0.5);  // all but the last two 8 MiB windows let go of
  ::unlink(path.c_str());
}

TEST_F(CurlClientTest, PutSendsBufferBody) {
  auto client = make_curl_client(options());
  Request r;
  r.method = Method::Put;
  r.url = server.url("/upload");
  r.body = BufferBody{R"({"a":1})"};
  auto res = client->perform(r);
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->body, R"(put:{"a":1})");
  std::lock_guard lock(seen.mutex);
  EXPECT_EQ(seen.content_type, "application/json");
  EXPECT_FALSE(seen.had_expect);
}

TEST_F(CurlClientTest, GrowingFileIsSentChunkedUntilComplete) {
  auto client = make_curl_client(options());
  const std::string path = temp_file("growing.bin", "");
  auto growth = std::make_shared<GrowingFile>();
  const std::string piece = pattern(300 * 1024);
  std::thread writer([&] {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    for (int i = 0; i < 5; ++i) {
      std::this_thread::sleep_for(60ms);
      out << piece;
      out.flush();
      growth->grew();
    }
    std::this_thread::sleep_for(100ms);  // the reader must wait here, not end the body
    out << "tail";
    out.flush();
    growth->complete();
  });
  Request r;
  r.method = Method::Post;
  r.url = server.url("/upload");
  r.body = GrowingFileBody{path, growth};
  auto res = client->perform(r);
  writer.join();
  ASSERT_TRUE(res.has_value()) << res.error().describe();
  EXPECT_EQ(res->status, 200);
  std::string expected;
  for (int i = 0; i < 5; ++i) expected += piece;
  expected += "tail";
  std::lock_guard lock(seen.mutex);
  EXPECT_EQ(seen.body.size(), expected.size());
  EXPECT_EQ(seen.body, expected);
  EXPECT_EQ(seen.transfer_encoding, "chunked");
  EXPECT_FALSE(seen.had_expect);
}

TEST_F(CurlClientTest, AbandonedGrowingFileFailsTheUpload) {
  auto client = make_curl_client(options());
  const std::string path = temp_file("abandoned.bin", "start");
  auto growth = std::make_shared<GrowingFile>();
  std::thread writer([&] {
    std::this_thread::sleep_for(100ms);
    growth->abandon();
  });
  Request r;
  r.method = Method::Post;
  r.url = server.url("/upload");
  r.body = GrowingFileBody{path, growth};
  auto res = client->perform(r);
  writer.join();
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().errnum, ECANCELED);
}

TEST_F(CurlClientTest, MultipartStreamsFilePartsWithExactLength) {
  auto client = make_curl_client(options());
  const std::string a = pattern(700 * 1024), b = "second file";
  Request r;
  r.method = Method::Post;
  r.url = server.url("/upload");
  MultipartBody body;
  body.parts.push_back({"file", "site/index.html", "application/octet-stream", "", temp_file("a.bin", a)});
  body.parts.push_back({"file", "site/img/b.txt", "", "", temp_file("b.bin", b)});
  body.parts.push_back({"pinataMetadata", "", "", R"({"name":"site"})", ""});
  r.body = body;
  auto res = client->perform(r);
  ASSERT_TRUE(res.has_value()) << res.error().describe();
  EXPECT_EQ(res->status, 200);
  std::lock_guard lock(seen.mutex);
  EXPECT_FALSE(seen.had_expect);
  EXPECT_TRUE(seen.transfer_encoding.empty());
  ASSERT_FALSE(seen.content_length.empty());
  EXPECT_EQ(res->body, seen.content_length);  // the server counted exactly what was announced
  EXPECT_NE(seen.content_type.find("multipart/form-data"), std::string::npos);
  const auto parts = pinfs::testing::parse_multipart(seen.content_type, seen.body);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].name, "file");
  EXPECT_EQ(parts[0].filename, "site/index.html");
  EXPECT_EQ(parts[0].content, a);
  EXPECT_EQ(parts[1].name, "file");
  EXPECT_EQ(parts[1].filename, "site/img/b.txt");
  EXPECT_EQ(parts[1].content, b);
  EXPECT_EQ(parts[2].name, "pinataMetadata");
  EXPECT_EQ(parts[2].content, R"({"name":"site"})");
}

// A directory upload of more files than the process may open at once: each part's descriptor is given back
// once the part is sent (10,000 staged files of a new directory once failed with EMFILE at part 9,983).
TEST_F(CurlClientTest, MultipartOfMorePartsThanOpenFilesAllowed) {
  auto client = make_curl_client(options());
  constexpr int kParts = 300;
  MultipartBody body;
  for (int i = 0; i < kParts; ++i) {
    const std::string name = "part-" + std::to_string(i) + ".txt";
    body.parts.push_back({"file", "dir/" + name, "", "", temp_file(name, "content " + std::to_string(i))});
  }
  Request r;
  r.method = Method::Post;
  r.url = server.url("/upload");
  r.body = body;
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  int open_now = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)entry;
    ++open_now;
  }
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(open_now + 100);  // far fewer than the parts
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  auto res = client->perform(r);
  ::setrlimit(RLIMIT_NOFILE, &saved);
  ASSERT_TRUE(res.has_value()) << res.error().describe();
  EXPECT_EQ(res->status, 200);
  std::lock_guard lock(seen.mutex);
  const auto parts = pinfs::testing::parse_multipart(seen.content_type, seen.body);
  ASSERT_EQ(parts.size(), static_cast<std::size_t>(kParts));
  EXPECT_EQ(parts[kParts - 1].content, "content " + std::to_string(kParts - 1));
}

TEST_F(CurlClientTest, MissingStagedFileIsAnError) {
  auto client = make_curl_client(options());
  Request r;
  r.method = Method::Post;
  r.url = server.url("/upload");
  r.body = FileBody{::testing::TempDir() + "/does-not-exist.bin"};
  auto res = client->perform(r);
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().errnum, ENOENT);
}

TEST_F(CurlClientTest, ManyRequestsReuseOneConnection) {
  auto client = make_curl_client(options());
  for (int i = 0; i < 20; ++i) {
    Request r;
    r.url = server.url("/hello");
    auto res = client->perform(r);
    ASSERT_TRUE(res.has_value());
    ASSERT_EQ(res->status, 200);
  }
  EXPECT_EQ(client->stats().requests, 20u);
  EXPECT_EQ(client->stats().connections_opened, 1u);
  std::lock_guard lock(seen.mutex);
  EXPECT_EQ(seen.requests, 20);
  EXPECT_EQ(seen.ports.size(), 1u);  // the server saw a single client port
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(CurlClientTest, ConcurrentRequestsShareThePool) {
  auto client = make_curl_client(options());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        Request r;
        r.url = server.url("/hello");
        auto res = client->perform(r);
        if (res && res->body == "hello") ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40);
  EXPECT_LE(client->stats().connections_opened, 4u);
}

TEST_F(CurlClientTest, TransferTimeoutMapsToEtimedout) {
  auto client = make_curl_client(options());
  Request r;
  r.url = server.url("/slow");
  r.timeout = 300ms;
  const auto start = std::chrono::steady_clock::now();
  auto res = client->perform(r);
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().errnum, ETIMEDOUT);
  EXPECT_TRUE(res.error().retryable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1400ms);
}

TEST_F(CurlClientTest, LowSpeedTimeoutAbortsAStalledResponse) {
  CurlOptions o = options();
  o.low_speed_time_s = 1;
  auto client = make_curl_client(o);
  Request r;
  r.url = server.url("/slow");
  auto res = client->perform(r);
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().errnum, ETIMEDOUT);
}

TEST_F(CurlClientTest, RefusedConnectionIsRetryable) {
  auto client = make_curl_client(options());
  const std::string url = server.url("/hello");
  server.stop();
  Request r;
  r.url = url;
  auto res = client->perform(r);
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().errnum, ECONNREFUSED);
  EXPECT_TRUE(res.error().retryable);
}

TEST_F(CurlClientTest, RetryingOverCurlRecoversFrom503) {
  flaky_failures = 3;
  RetryPolicy p;
  p.base_delay = 1ms;
  RetryingClient client(make_curl_client(options()), p, nullptr);
  Request r;
  r.url = server.url("/flaky");
  auto res = client.perform(r);
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "recovered");
  EXPECT_EQ(res->attempts, 4);
}

TEST_F(CurlClientTest, UploadResetAfterTheBodyIsReplayedFromTheFile) {
  const std::string content = pattern(1500 * 1024);
  RetryPolicy p;
  p.base_delay = 1ms;
  RetryingClient client(make_curl_client(options()), p, nullptr);
  Request r;
  r.method = Method::Post;
  r.idempotent = false;
  r.url = server.url("/drop-once");
  r.body = FileBody{temp_file("replay.bin", content)};
  auto res = client.perform(r);
  ASSERT_TRUE(res.has_value()) << res.error().describe();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->attempts, 2);
  server.stop();
  ASSERT_EQ(uploads_seen.size(), 2u);
  EXPECT_EQ(uploads_seen[0], content);
  EXPECT_EQ(uploads_seen[1], content);
}

TEST_F(CurlClientTest, RetryAfterIsHonouredOverTheWire) {
  RetryingClient client(make_curl_client(options()), RetryPolicy{}, std::make_shared<RateLimiter>());
  Request r;
  r.url = server.url("/limited");
  const auto start = std::chrono::steady_clock::now();
  auto res = client.perform(r);
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 950ms);
  EXPECT_EQ(limited_calls.load(), 2);
}

TEST_F(CurlClientTest, AuthHeaderValuesNeverReachTheLog) {
  std::ostringstream captured;
  auto previous = spdlog::default_logger();
  log::setup("trace");
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  // A raw sink beside the redacting one: the values must never be logged at all, masked or not.
  spdlog::default_logger()->sinks().push_back(sink);
  const std::string jwt = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.sig";
  const std::string key = "K3yThatMustNotLeak";
  auto client = make_curl_client(options());
  Request r;
  r.url = server.url("/hello");
  r.headers = {{"Authorization", "Bearer " + jwt}, {"pinata_api_key", key}, {"X-Other", "visible-value"}};
  ASSERT_TRUE(client->perform(r).has_value());
  spdlog::default_logger()->flush();
  const std::string text = captured.str();
  spdlog::set_default_logger(previous);
  EXPECT_NE(text.find("visible-value"), std::string::npos) << text;  // trace logging did run
  EXPECT_EQ(text.find(jwt), std::string::npos) << text;
  EXPECT_EQ(text.find(key), std::string::npos) << text;
}

}  // namespace
}  // namespace pinfs::http
