#include "pinfs/service/http_gateway.hpp"

#include <gtest/gtest.h>

#include "pinfs/cid/cid.hpp"
#include "pinfs/http/fake_http_client.hpp"

namespace pinfs::service {
namespace {

using http::FakeHttpClient;

constexpr const char* kCid = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";

std::string header(const FakeHttpClient::Seen& s, const std::string& name) {
  for (const auto& [k, v] : s.headers) {
    if (k == name) return v;
  }
  return {};
}

// Serves `content` honouring (or ignoring) Range, optionally failing after some bytes once.
struct FileServer {
  std::string content;
  bool honour_range = true;
  std::size_t fail_after = 0;  // 0: never
  int failures_left = 0;

  Result<http::Response> operator()(const http::Request& r) {
    http::Response res;
    std::size_t first = 0, last = content.size() - 1;
    for (const auto& [k, v] : r.headers) {
      if (k == "Range" && honour_range) std::sscanf(v.c_str(), "bytes=%zu-%zu", &first, &last);
    }
    if (first >= content.size()) {
      res.status = 416;
      return res;
    }
    last = std::min(last, content.size() - 1);
    res.status = honour_range ? 206 : 200;
    std::string body = content.substr(first, last - first + 1);
    if (r.on_start) r.on_start(res.status, res.headers);
    if (failures_left > 0 && fail_after > 0 && body.size() > fail_after) {
      --failures_left;
      if (!r.sink(body.data(), fail_after)) return res;
      return fail(EIO, "connection reset mid-body", true);
    }
    // Deliver in small pieces like a network would.
    for (std::size_t pos = 0; pos < body.size(); pos += 7) {
      if (!r.sink(body.data() + pos, std::min<std::size_t>(7, body.size() - pos)))
        return fail(ECANCELED, "stopped");
    }
    res.body_bytes = body.size();
    return res;
  }
};

std::string sample(std::size_t n) {
  std::string s(n, 0);
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('A' + i % 23);
  return s;
}

TEST(HttpGateway, ReadsARangeWithRangeHeader) {
  auto fake = std::make_shared<FakeHttpClient>();
  FileServer server{sample(1000)};
  fake->set_handler(std::ref(server));
  HttpGateway gateway(fake, "http://127.0.0.1:9/");
  std::string got;
  auto n = gateway.read(kCid, "", 100, 50, [&](const char* d, std::size_t s) {
    got.append(d, s);
    return true;
  });
  ASSERT_TRUE(n.has_value()) << n.error().describe();
  EXPECT_EQ(*n, 50u);
  EXPECT_EQ(got, server.content.substr(100, 50));
  const auto seen = fake->seen()[0];
  EXPECT_EQ(seen.url, std::string("http://127.0.0.1:9/ipfs/") + kCid);
  EXPECT_EQ(header(seen, "Range"), "bytes=100-149");
}

TEST(HttpGateway, PathSegmentsAreEncoded) {
  auto fake = std::make_shared<FakeHttpClient>();
  FileServer server{sample(10)};
  fake->set_handler(std::ref(server));
  HttpGateway gateway(fake, "http://127.0.0.1:9");
  ASSERT_TRUE(
      gateway.read(kCid, "dir/a b.txt", 0, 5, [](const char*, std::size_t) { return true; }).has_value());
  EXPECT_EQ(fake->seen()[0].url, std::string("http://127.0.0.1:9/ipfs/") + kCid + "/dir/a%20b.txt");
}

TEST(HttpGateway, WholeFileAnswerIsCutToTheRange) {
  auto fake = std::make_shared<FakeHttpClient>();
  FileServer server{sample(500)};
  server.honour_range = false;
  fake->set_handler(std::ref(server));
  HttpGateway gateway(fake, "http://127.0.0.1:9");
  std::string got;
  auto n = gateway.read(kCid, "", 123, 40, [&](const char* d, std::size_t s) {
    got.append(d, s);
    return true;
  });
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(got, server.content.substr(123, 40));
}

TEST(HttpGateway, ShortFileAndPastTheEnd) {
  auto fake = std::make_shared<FakeHttpClient>();
  FileServer server{sample(30)};
  fake->set_handler(std::ref(server));
  HttpGateway gateway(fake, "http://127.0.0.1:9");
  std::string got;
  auto sink = [&](const char* d, std::size_t s) {
    got.append(d, s);
    return true;
  };
  auto n = gateway.read(kCid, "", 20, 100, sink);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 10u);
  EXPECT_EQ(got, server.content.substr(20));
  auto eof = gateway.read(kCid, "", 30, 10, sink);
  ASSERT_TRUE(eof.has_value());
  EXPECT_EQ(*eof, 0u);
}

TEST(HttpGateway, StopsAtTheFileSizeInContentRange) {
  auto fake = std::make_shared<FakeHttpClient>();
  int calls = 0;
  fake->set_handler([&calls](const http::Request& r) -> Result<http::Response> {
    ++calls;
    http::Response res;
    res.status = 206;
    res.headers = {{"content-range", "bytes 0-99/12"}};  // promises 100 bytes of a 12-byte file
    r.on_start(res.status, res.headers);
    if (!r.sink("hello world\n", 12)) return fail(ECANCELED, "stopped");
    return fail(ETIMEDOUT, "the promised rest never came", true);
  });
  HttpGateway gateway(fake, "http://127.0.0.1:9");
  std::string got;
  auto n = gateway.read(kCid, "", 0, 100, [&](const char* d, std::size_t s) {
    got.append(d, s);
    return true;
  });
  ASSERT_TRUE(n.has_value()) << n.error().describe();
  EXPECT_EQ(*n, 12u);
  EXPECT_EQ(got, "hello world\n");
  EXPECT_EQ(calls, 1);
}

TEST(HttpGateway, ResumesAfterAMidStreamReset) {
  auto fake = std::make_shared<FakeHttpClient>();
  FileServer server{sample(5000)};
  server.fail_after = 1000;
  server.failures_left = 2;
  fake->set_handler(std::ref(server));
  HttpGateway gateway(fake, "http://127.0.0.1:9");
  std::string got;
  auto n = gateway.read(kCid, "", 10, 4000, [&](const char* d, std::size_t s) {
    got.append(d, s);
    return true;
  });
  ASSERT_TRUE(n.has_value()) << n.error().describe();
  EXPECT_EQ(*n, 4000u);
  EXPECT_EQ(got, server.content.substr(10, 4000));  // no byte twice, none missing
  const auto seen = fake->seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(header(seen[1], "Range"), "bytes=1010-4009");
  EXPECT_EQ(header(seen[2], "Range"), "bytes=2010-4009");
}

TEST(HttpGateway, ErrorsMapAndInvalidCidIsRejected) {
  auto fake = std::make_shared<FakeHttpClient>();
  HttpGateway gateway(fake, "http://127.0.0.1:9", "gw-token-xyz");
  fake->push(404, "no link named");
  auto missing = gateway.read(kCid, "nope", 0, 10, [](const char*, std::size_t) { return true; });
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().errnum, ENOENT);
  EXPECT_EQ(header(fake->seen()[0], "x-pinata-gateway-token"), "gw-token-xyz");
  EXPECT_EQ(fake->seen()[0].url.find("gw-token-xyz"), std::string::npos);  // never in the URL
  auto bad = gateway.read("not-a-cid", "", 0, 10, [](const char*, std::size_t) { return true; });
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().errnum, EINVAL);
  EXPECT_EQ(fake->calls(), 1u);
}

TEST(HttpGateway, ReaderCanStop) {
  auto fake = std::make_shared<FakeHttpClient>();
  FileServer server{sample(100)};
  fake->set_handler(std::ref(server));
  HttpGateway gateway(fake, "http://127.0.0.1:9");
  auto n = gateway.read(kCid, "", 0, 100, [](const char*, std::size_t) { return false; });
  ASSERT_FALSE(n.has_value());
  EXPECT_EQ(n.error().errnum, ECANCELED);
}

TEST(HttpGateway, BlockIsVerifiedAgainstItsCid) {
  const std::string bytes = "hello world\n";
  const cid::Bytes raw(bytes.begin(), bytes.end());
  const std::string block_cid = cid::cid_of_block(1, cid::Codec::Raw, raw).to_string();
  ASSERT_EQ(block_cid, kCid);
  auto fake = std::make_shared<FakeHttpClient>();
  HttpGateway gateway(fake, "http://127.0.0.1:9");
  fake->push(200, bytes);
  auto ok = gateway.block(block_cid);
  ASSERT_TRUE(ok.has_value()) << ok.error().describe();
  EXPECT_EQ(*ok, raw);
  const auto seen = fake->seen()[0];
  EXPECT_EQ(seen.url, std::string("http://127.0.0.1:9/ipfs/") + kCid + "?format=raw");
  EXPECT_EQ(header(seen, "Accept"), "application/vnd.ipld.raw");

  fake->push(200, "hello world!");  // one byte different
  auto wrong = gateway.block(block_cid);
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().errnum, EIO);
  EXPECT_NE(wrong.error().message.find("hash"), std::string::npos);

  fake->push(200, std::string(HttpGateway::kMaxBlockSize + 1, 'x'));
  auto huge = gateway.block(block_cid);
  ASSERT_FALSE(huge.has_value());
  EXPECT_EQ(huge.error().errnum, EIO);
}

TEST(HttpGateway, BlockOfCidV0DagPb) {
  // Any bytes hash to some CIDv0; the gateway must check v0 as well as v1.
  const cid::Bytes node = {0x0a, 0x02, 0x08, 0x01};
  const std::string v0 = cid::cid_of_block(0, cid::Codec::DagPb, node).to_string();
  ASSERT_TRUE(v0.starts_with("Qm"));
  auto fake = std::make_shared<FakeHttpClient>();
  HttpGateway gateway(fake, "http://127.0.0.1:9");
  fake->push(200, std::string(node.begin(), node.end()));
  auto ok = gateway.block(v0);
  ASSERT_TRUE(ok.has_value()) << ok.error().describe();
  EXPECT_EQ(*ok, node);
}

}  // namespace
}  // namespace pinfs::service
