// Runs the official Pinata SDK (@pinata/sdk 2.1.0, from the npm registry, installed into a cache
// directory outside the repository) against pinfs-emulator, calling every SDK function.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "../emulator/emulator_test_support.hpp"

namespace pinfs::testing {
namespace {

TEST(PinataSdkConformance, EverySdkFunctionAgainstTheEmulator) {
  if (run_command("command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 && echo yes").output !=
      "yes\n")
    FAIL() << "node and npm are needed (scripts/install-deps.sh installs them)";
  const char* home = std::getenv("HOME");
  std::string cache = std::string(home ? home : "/tmp") + "/.cache/pinfs-npm";
  std::filesystem::create_directories(cache);
  if (!std::filesystem::exists(cache + "/node_modules/@pinata/sdk/package.json") ||
      run_command("grep -q '\"version\": \"2.1.0\"' " +
                  shell_quote(cache + "/node_modules/@pinata/sdk/package.json") + " && echo ok")
              .output != "ok\n") {
    auto install = run_command("npm install --no-audit --no-fund --prefix " + shell_quote(cache) +
                               " @pinata/sdk@2.1.0 2>&1");
    ASSERT_EQ(install.exit_code, 0) << install.output;
  }
  EmulatorProcess emu;
  std::string work = ::testing::TempDir() + "/pinata-sdk-work";
  std::filesystem::remove_all(work);
  std::filesystem::create_directories(work);
  std::string script = std::string(PINFS_SOURCE_DIR) + "/tests/conformance/pinata_sdk_conformance.js";
  auto r = run_command("EMULATOR_URL=" + shell_quote(emu.base_url()) + " WORK_DIR=" + shell_quote(work) +
                       " PINFS_EMULATOR_JWT=" + shell_quote(emu.jwt()) +
                       " PINFS_EMULATOR_API_KEY=" + shell_quote(emu.api_key()) +
                       " PINFS_EMULATOR_API_SECRET=" + shell_quote(emu.api_secret()) +
                       " NODE_PATH=" + shell_quote(cache + "/node_modules") + " timeout 120 node " +
                       shell_quote(script) + " 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("CONFORMANCE OK"), std::string::npos) << r.output;
  for (const char* step :
       {"testAuthentication ok", "pinFileToIPFS ok", "pinFromFS ok", "pinJSONToIPFS ok", "hashMetadata ok",
        "pinList ok", "getFilesByCount ok", "pinByHash/pinJobs ok", "userPinnedDataTotal/unpin ok"})
    EXPECT_NE(r.output.find(step), std::string::npos) << step;
  // The emulator saw the SDK's calls.
  auto stats = parse_json(emu.request("GET", "/_emulator/stats"));
  EXPECT_GE(stats["requests"]["POST /pinning/pinFileToIPFS"].GetInt(), 4);
  EXPECT_GE(stats["requests"]["GET /data/pinList"].GetInt(), 5);
  std::filesystem::remove_all(work);
}

}  // namespace
}  // namespace pinfs::testing
