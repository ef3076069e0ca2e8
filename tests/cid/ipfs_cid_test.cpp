// Cross-checks against an independent implementation: Debian's ipfs_cid prints
// {"CIDv0":"Qm…","CIDv1":"bafy…"} (the v1 being the dag-pb form of the same DAG).
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "cid_test_support.hpp"
#include "pinfs/cid/importer.hpp"

namespace pinfs::cid {
namespace {

constexpr const char* kIpfsCid = "/usr/bin/ipfs_cid";
constexpr std::size_t kChunk = 262144;

struct Peer {
  std::string v0;
  std::string v1;
};

// The value of "key":"…" in ipfs_cid's one-line JSON, or "" when absent.
std::string json_string(const std::string& json, const std::string& key) {
  std::string marker = "\"" + key + "\":\"";
  auto begin = json.find(marker);
  if (begin == std::string::npos) return {};
  begin += marker.size();
  auto end = json.find('"', begin);
  return end == std::string::npos ? std::string() : json.substr(begin, end - begin);
}

Peer ipfs_cid(const std::string& path) {
  auto run = testing::run_shell(std::string(kIpfsCid) + " '" + path + "'");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  Peer peer{json_string(run.out, "CIDv0"), json_string(run.out, "CIDv1")};
  EXPECT_TRUE(Cid::parse(peer.v0).has_value()) << "unexpected ipfs_cid output: " << run.out;
  EXPECT_TRUE(Cid::parse(peer.v1).has_value()) << "unexpected ipfs_cid output: " << run.out;
  return peer;
}

void compare(const Bytes& data, const std::string& name) {
  SCOPED_TRACE(name + " (" + std::to_string(data.size()) + " bytes)");
  std::string path = testing::write_temp(name, data);
  Peer peer = ipfs_cid(path);
  ImportOptions v0;
  v0.cid_version = 0;
  auto ours = import_file(path, v0);
  std::remove(path.c_str());
  ASSERT_TRUE(ours.has_value()) << ours.error().message;
  EXPECT_EQ(ours->cid.to_string(), peer.v0);
  EXPECT_EQ(ours->cid.to_v1().to_string(), peer.v1);
}

class IpfsCidPeer : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kIpfsCid))
      GTEST_SKIP() << kIpfsCid << " is not installed (apt install ipfs-cid)";
  }
};

TEST_F(IpfsCidPeer, BoundarySizes) {
  Bytes all = testing::pattern(174 * kChunk + 1, 77);
  for (std::size_t size :
       {std::size_t{0}, std::size_t{1}, kChunk - 1, kChunk, kChunk + 1, 174 * kChunk, 174 * kChunk + 1}) {
    compare(Bytes(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(size)), "boundary");
  }
}

TEST_F(IpfsCidPeer, RandomFilesOfRandomSizes) {
  std::random_device device;
  std::uint64_t seed = device();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 8; ++i) {
    std::size_t size = i < 4 ? rng() % 5000 : rng() % (12 * kChunk);
    compare(testing::pattern(size, rng()), "random");
  }
}

}  // namespace
}  // namespace pinfs::cid
