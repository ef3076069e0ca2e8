// --latency and --bandwidth, and /_emulator/network that changes them at run time. Lower bounds only: a
// shaped request cannot be faster than the shape, however busy the machine.
#include <chrono>

#include "emulator_test_support.hpp"

namespace pinfs::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string upload_mib(httplib::Client& cli, const EmulatorProcess& emu, std::uint64_t seed) {
  return pinata_upload_cid(cli, emu, "one.bin", random_bytes(1 << 20, seed), 1);
}

TEST(EmulatorNetwork, LatencyDelaysEveryApiAndGatewayReply) {
  EmulatorProcess emu({{"--latency", "100"}, ""});
  auto cli = client_for(emu);
  auto start = Clock::now();
  auto r = cli.Get("/data/testAuthentication", jwt_headers(emu));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_GE(Clock::now() - start, 100ms);
  start = Clock::now();
  auto g = cli.Get("/ipfs/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");  // not here: 404
  ASSERT_TRUE(g);
  EXPECT_EQ(g->status, 404);
  EXPECT_GE(Clock::now() - start, 100ms);
}

TEST(EmulatorNetwork, BandwidthCapsAGatewayBody) {
  EmulatorProcess emu({{"--bandwidth", "8"}, ""});
  auto cli = client_for(emu);
  const auto cid = upload_mib(cli, emu, 7);
  ASSERT_FALSE(cid.empty());
  // 1 MiB at 8 Mbit/s is 1.05 s; whole body, then one range of it, then a raw block.
  auto start = Clock::now();
  auto r = cli.Get("/ipfs/" + cid);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), 1u << 20);
  EXPECT_EQ(r->body, random_bytes(1 << 20, 7));
  EXPECT_GE(Clock::now() - start, 900ms);
  start = Clock::now();
  auto part = cli.Get("/ipfs/" + cid, {{"Range", "bytes=0-524287"}});
  ASSERT_TRUE(part);
  EXPECT_EQ(part->status, 206);
  EXPECT_EQ(part->body, random_bytes(1 << 20, 7).substr(0, 524288));
  EXPECT_GE(Clock::now() - start, 450ms);
  start = Clock::now();
  auto raw = cli.Get("/ipfs/" + cid + "?format=raw");  // the root node, small: no bound but it works
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->status, 200);
}

TEST(EmulatorNetwork, ControlCallChangesTheShapeAtRunTime) {
  EmulatorProcess emu;
  auto cli = client_for(emu);
  const auto cid = upload_mib(cli, emu, 9);
  ASSERT_FALSE(cid.empty());
  int status = 0;
  auto body = emu.request_with_status("POST", "/_emulator/network",
                                      R"({"latency_ms":150,"bandwidth_mbit":16})", status);
  ASSERT_EQ(status, 200) << body;
  auto shape = parse_json(emu.request("GET", "/_emulator/network"));
  EXPECT_EQ(shape["latency_ms"].GetInt(), 150);
  EXPECT_DOUBLE_EQ(shape["bandwidth_mbit"].GetDouble(), 16.0);
  auto start = Clock::now();
  auto r = cli.Get("/ipfs/" + cid);  // 150 ms + 1 MiB at 16 Mbit/s (0.52 s)
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body.size(), 1u << 20);
  EXPECT_GE(Clock::now() - start, 600ms);
  start = Clock::now();
  auto api = cli.Get("/data/testAuthentication", jwt_headers(emu));
  ASSERT_TRUE(api);
  EXPECT_GE(Clock::now() - start, 150ms);
  // The control API itself is never shaped, and bad input is refused with the reason.
  body = emu.request_with_status("POST", "/_emulator/network", R"({"latency_ms":-1})", status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(body.find("latency_ms"), std::string::npos);
  body = emu.request_with_status("POST", "/_emulator/network", R"({"jitter":3})", status);
  EXPECT_EQ(status, 400);
  ASSERT_EQ(
      emu.request_with_status("POST", "/_emulator/network", R"({"latency_ms":0,"bandwidth_mbit":0})", status)
          .empty(),
      false);
  EXPECT_EQ(status, 200);
  auto fast = cli.Get("/ipfs/" + cid);
  ASSERT_TRUE(fast);
  EXPECT_EQ(fast->body, random_bytes(1 << 20, 9));
}

TEST(EmulatorNetwork, OptionsAreChecked) {
  for (const char* bad : {"--latency=-5", "--latency=soon", "--bandwidth=-1", "--bandwidth=fast"}) {
    auto r = run_command(std::string(PINFS_BINARY_DIR) +
                         "/pinfs-emulator --data /nonexistent/pinfs-network-test " + bad + " 2>&1");
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.output;
  }
}

}  // namespace
}  // namespace pinfs::testing
