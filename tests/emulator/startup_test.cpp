// Process behaviour: the listening line, --help, credentials from env or a generated file, auth
// failures in each provider's shape, clean exit on SIGTERM and SIGINT.
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "emulator_test_support.hpp"

namespace pinfs::testing {
namespace {

const std::string kBinary = std::string(PINFS_BINARY_DIR) + "/pinfs-emulator";

TEST(EmulatorStartup, PrintsListeningLineAndServes) {
  EmulatorProcess emu;
  EXPECT_EQ(emu.base_url().rfind("http://127.0.0.1:", 0), 0u);
  EXPECT_GT(emu.port(), 0);
  auto cli = client_for(emu);
  auto r = cli.Get("/data/testAuthentication", jwt_headers(emu));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(str(parse_json(r->body), "message"),
            "Congratulations! You are communicating with the Pinata API!");
}

TEST(EmulatorStartup, HelpExplainsEveryOption) {
  auto r = run_command(shell_quote(kBinary) + " --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* opt :
       {"--listen", "--data", "--job-expiry", "--rate-limit", "--threads", "--log-level",
        "PINFS_EMULATOR_JWT", "PINFS_EMULATOR_API_KEY", "PINFS_EMULATOR_API_SECRET", "SIGTERM"})
    EXPECT_NE(r.output.find(opt), std::string::npos) << opt;
}

TEST(EmulatorStartup, RejectsBadArguments) {
  EXPECT_EQ(run_command(shell_quote(kBinary) + " --listen 127.0.0.1:0 2>/dev/null").exit_code,
            2);  // no --data
  EXPECT_EQ(run_command(shell_quote(kBinary) + " --data /tmp/x --bogus 2>/dev/null").exit_code, 2);
  EXPECT_EQ(run_command(shell_quote(kBinary) + " --data /tmp/x --rate-limit nope=1 2>/dev/null").exit_code,
            2);
}

TEST(EmulatorStartup, GeneratesCredentialsFileWhenEnvIsUnset) {
  std::string dir = ::testing::TempDir() + "/emu-gen-creds";
  std::filesystem::remove_all(dir);
  std::string cmd = "env -u PINFS_EMULATOR_JWT -u PINFS_EMULATOR_API_KEY -u PINFS_EMULATOR_API_SECRET " +
                    shell_quote(kBinary) + " --listen 127.0.0.1:0 --data " + shell_quote(dir) + " 2>" +
                    shell_quote(dir + ".err") + " & pid=$!; sleep 1; kill -TERM $pid; wait $pid; echo rc=$?";
  std::filesystem::create_directories(dir);
  auto r = run_command(cmd);
  EXPECT_NE(r.output.find("pinfs-emulator listening on http://127.0.0.1:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("rc=0"), std::string::npos) << r.output;
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/credentials").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream in(dir + "/credentials");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* key : {"PINFS_EMULATOR_JWT=", "PINFS_EMULATOR_API_KEY=", "PINFS_EMULATOR_API_SECRET="})
    EXPECT_NE(text.find(key), std::string::npos) << key;
  std::ifstream err(dir + ".err");
  std::string err_text((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  EXPECT_NE(err_text.find(dir + "/credentials"), std::string::npos) << err_text;
  std::filesystem::remove_all(dir);
  std::filesystem::remove(dir + ".err");
}

TEST(EmulatorStartup, UsesTheGeneratedCredentials) {
  std::string dir = ::testing::TempDir() + "/emu-gen-creds-use";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // First start writes the file; the credentials it holds are then accepted on the next start.
  run_command("env -u PINFS_EMULATOR_JWT -u PINFS_EMULATOR_API_KEY -u PINFS_EMULATOR_API_SECRET " +
              shell_quote(kBinary) + " --listen 127.0.0.1:0 --data " + shell_quote(dir) +
              " >/dev/null 2>&1 & pid=$!; sleep 0.7; kill $pid; wait $pid");
  std::ifstream in(dir + "/credentials");
  std::string line, jwt;
  while (std::getline(in, line))
    if (line.rfind("PINFS_EMULATOR_JWT=", 0) == 0) jwt = line.substr(19);
  ASSERT_FALSE(jwt.empty());
  auto r = run_command(
      "env -u PINFS_EMULATOR_JWT -u PINFS_EMULATOR_API_KEY -u PINFS_EMULATOR_API_SECRET " +
      shell_quote(kBinary) + " --listen 127.0.0.1:0 --data " + shell_quote(dir) + " 2>/dev/null > " +
      shell_quote(dir + "/out") + " & pid=$!; sleep 0.7; url=$(sed 's/.*listening on //' " +
      shell_quote(dir + "/out") + "); curl -s -o /dev/null -w '%{http_code}' -H " +
      shell_quote("Authorization: Bearer " + jwt) + " $url/data/testAuthentication; kill $pid; wait $pid");
  EXPECT_EQ(r.output, "200");
  std::filesystem::remove_all(dir);
}

TEST(EmulatorStartup, PinataRejectsWrongCredentialsInBothStyles) {
  EmulatorProcess emu;
  auto cli = client_for(emu);
  const std::vector<httplib::Headers> bad = {
      {},
      {{"Authorization", "Bearer wrong"}},
      {{"Authorization", "Bearer " + emu.jwt() + "x"}},
      {{"pinata_api_key", emu.api_key()}, {"pinata_secret_api_key", "wrong"}},
      {{"pinata_api_key", emu.api_key()}},
      {{"pinning_api_key", emu.api_key()},
       {"pinning_secret_key", emu.api_secret()}},  // AIOZ headers on Pinata
  };
  for (auto& h : bad) {
    for (const char* path :
         {"/data/testAuthentication", "/data/pinList", "/pinning/pinJobs", "/data/userPinnedDataTotal"}) {
      auto r = cli.Get(path, h);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 401) << path;
      auto d = parse_json(r->body);
      ASSERT_TRUE(d.IsObject() && d.HasMember("error"));
      EXPECT_EQ(str(d["error"], "reason"), "INVALID_CREDENTIALS");
      EXPECT_EQ(str(d["error"], "details"), "Invalid/expired credentials");
    }
  }
  auto ok = cli.Get("/data/testAuthentication", key_headers(emu));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST(EmulatorStartup, AiozRejectsWrongCredentials) {
  EmulatorProcess emu;
  auto cli = client_for(emu);
  const std::vector<httplib::Headers> bad = {
      {},
      {{"pinning_api_key", emu.api_key()}, {"pinning_secret_key", "wrong"}},
      {{"pinning_api_key", "wrong"}, {"pinning_secret_key", emu.api_secret()}},
      {{"Authorization", "Bearer " + emu.jwt()}},
  };
  for (auto& h : bad) {
    for (const char* path :
         {"/api/apiKeys/testAuthentication", "/api/pinning/pins/", "/api/pinning/some-id"}) {
      auto r = cli.Get(path, h);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 401) << path;
      auto d = parse_json(r->body);
      EXPECT_TRUE(d.IsObject() && d.HasMember("message") && d["message"].IsString()) << r->body;
      EXPECT_TRUE(d.IsObject() && d.HasMember("status") && d["status"].IsString()) << r->body;
    }
  }
  auto ok = cli.Get("/api/apiKeys/testAuthentication", aioz_headers(emu));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(str(parse_json(ok->body), "message"),
            "Congratulations! You are communicating with the Web3 IPFS API!");
}

void expect_clean_exit_on(int sig) {
  std::string dir = ::testing::TempDir() + "/emu-signal-" + std::to_string(sig);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto r = run_command(shell_quote(kBinary) + " --listen 127.0.0.1:0 --data " + shell_quote(dir) +
                       " >/dev/null 2>&1 & pid=$!; sleep 0.7; kill -" + std::to_string(sig) +
                       " $pid; wait $pid; echo rc=$?");
  EXPECT_NE(r.output.find("rc=0"), std::string::npos) << "signal " << sig << ": " << r.output;
  std::filesystem::remove_all(dir);
}

TEST(EmulatorStartup, ExitsCleanlyOnSigterm) {
  expect_clean_exit_on(SIGTERM);
}
TEST(EmulatorStartup, ExitsCleanlyOnSigint) {
  expect_clean_exit_on(SIGINT);
}

TEST(EmulatorStartup, UnknownRoutesAnswer404InTheProvidersShape) {
  EmulatorProcess emu;
  auto cli = client_for(emu);
  auto p = cli.Get("/pinning/nope", jwt_headers(emu));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, 404);
  EXPECT_TRUE(parse_json(p->body).HasMember("error"));
  auto a = cli.Get("/api/nope/deeper", aioz_headers(emu));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 404);
  EXPECT_TRUE(parse_json(a->body).HasMember("message"));
}

}  // namespace
}  // namespace pinfs::testing
