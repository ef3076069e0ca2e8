// Directory uploads give the same root CID as the reference JavaScript importer
// (npm ipfs-unixfs-importer, installed into the npm cache dir outside the repository).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "../emulator/emulator_test_support.hpp"

namespace pinfs::testing {
namespace {

std::string npm_cache() {
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/tmp") + "/.cache/pinfs-npm";
}

bool ensure_reference_importer() {
  std::string cache = npm_cache();
  if (std::filesystem::exists(cache + "/node_modules/ipfs-unixfs-importer/package.json") &&
      std::filesystem::exists(cache + "/node_modules/blockstore-core/package.json"))
    return true;
  std::filesystem::create_directories(cache);
  auto r = run_command("npm install --no-audit --no-fund --prefix " + shell_quote(cache) +
                       " ipfs-unixfs-importer@15.4.0 blockstore-core@4.4.1 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.exit_code == 0;
}

std::string reference_cid(int version, const std::string& base, const std::vector<std::string>& files) {
  std::string cmd = "PINFS_NPM_CACHE=" + shell_quote(npm_cache()) + " node " +
                    shell_quote(std::string(PINFS_SOURCE_DIR) + "/tests/conformance/unixfs_reference.mjs") +
                    " " + std::to_string(version) + " " + shell_quote(base);
  for (auto& f : files) cmd += " " + shell_quote(f);
  auto r = run_command(cmd + " 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.output.substr(0, r.output.find('\n'));
}

TEST(UnixfsReference, DirectoryUploadsMatchTheReferenceImporter) {
  if (run_command("command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 && echo yes").output !=
      "yes\n")
    FAIL() << "node and npm are needed (scripts/install-deps.sh installs them)";
  ASSERT_TRUE(ensure_reference_importer());
  std::string base = ::testing::TempDir() + "/unixfs-ref-" + std::to_string(::getpid());
  std::filesystem::remove_all(base);
  const std::vector<std::pair<std::string, std::string>> tree = {
      {"site/index.html", "<h1>index</h1>\n"},
      {"site/empty.txt", ""},
      {"site/img/logo.png", random_bytes(1000, 1)},
      {"site/img/big.bin", random_bytes(3 * 262144 + 5, 2)},  // multi-chunk file inside
      {"site/a/b/c/deep.txt", "deep"},
      {"site/Z-upper.txt", "sorted bytewise: upper case first"},
  };
  std::vector<std::string> paths;
  std::vector<Part> parts;
  for (auto& [rel, content] : tree) {
    std::filesystem::create_directories(std::filesystem::path(base + "/" + rel).parent_path());
    std::ofstream(base + "/" + rel, std::ios::binary) << content;
    paths.push_back(rel);
    parts.push_back({"file", content, rel, "application/octet-stream"});
  }
  EmulatorProcess emu;
  auto cli = client_for(emu);
  for (int version : {0, 1}) {
    auto with_options = parts;
    with_options.insert(with_options.begin(),
                        {"pinataOptions", "{\"cidVersion\":" + std::to_string(version) + "}", "", ""});
    auto r = pinata_upload(cli, emu, with_options);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    std::string expected = reference_cid(version, base, paths);
    EXPECT_EQ(str(parse_json(r->body), "IpfsHash"), expected) << "cidVersion " << version;
    if (version == 1) {
      auto a = cli.Post("/api/pinning/", aioz_headers(emu), form(parts));
      ASSERT_TRUE(a);
      EXPECT_EQ(str(parse_json(a->body)["data"], "cid"), expected);
    }
  }
  std::filesystem::remove_all(base);
}

}  // namespace
}  // namespace pinfs::testing
