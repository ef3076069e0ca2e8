// The CID of an upload equals what `pinfs cid` and Debian's ipfs_cid compute for the same bytes.
#include <filesystem>

#include "emulator_test_support.hpp"

namespace pinfs::testing {
namespace {

std::string pinfs_cid(const std::string& path, int version) {
  auto r = run_command(shell_quote(std::string(PINFS_BINARY_DIR) + "/pinfs") + " cid --cid-version " +
                       std::to_string(version) + " " + shell_quote(path) + " 2>/dev/null");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // Output is "<cid>" or "<cid>  <path>": the first word.
  return r.output.substr(0, r.output.find_first_of(" \t\n"));
}

std::string ipfs_cid_v0(const std::string& path) {
  auto r = run_command("/usr/bin/ipfs_cid " + shell_quote(path) + " 2>/dev/null");
  EXPECT_EQ(r.exit_code, 0);
  auto d = parse_json(r.output.substr(0, r.output.find('}') + 1));
  return str(d, "CIDv0");
}

TEST(EmulatorCid, UploadsMatchPinfsCidAndIpfsCid) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/ipfs_cid")) << "Debian package ipfs-cid is required";
  EmulatorProcess emu;
  auto cli = client_for(emu);
  const std::size_t sizes[] = {0, 1, 262143, 262144, 262145, 174 * 262144 + 7};  // the last needs two levels
  std::uint64_t seed = 1;
  for (std::size_t size : sizes) {
    std::string data = random_bytes(size, seed++);
    std::string path = write_temp("cid-eq-" + std::to_string(size), data);
    std::string v0 = pinata_upload_cid(cli, emu, "f", data, 0);
    std::string v1 = pinata_upload_cid(cli, emu, "f", data, 1);
    EXPECT_EQ(v0, ipfs_cid_v0(path)) << "size " << size;
    EXPECT_EQ(v0, pinfs_cid(path, 0)) << "size " << size;
    EXPECT_EQ(v1, pinfs_cid(path, 1)) << "size " << size;
    // AIOZ always gives the v1 raw-leaves CID.
    auto a = cli.Post("/api/pinning/", aioz_headers(emu), form({{"file", data, "f", ""}}));
    ASSERT_TRUE(a);
    EXPECT_EQ(str(parse_json(a->body)["data"], "cid"), v1) << "size " << size;
    std::filesystem::remove(path);
  }
}

}  // namespace
}  // namespace pinfs::testing
