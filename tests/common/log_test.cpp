#include "pinfs/common/log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "pinfs/common/error.hpp"

namespace pinfs {
namespace {

TEST(Redaction, SecretsAreMaskedInEveryLine) {
  log::add_secret("eyJhbGciOiJIUzI1NiJ9.secret-token");
  EXPECT_EQ(log::redact("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.secret-token!"),
            "Authorization: Bearer [REDACTED]!");
  EXPECT_EQ(log::redact("no secret here"), "no secret here");
}

TEST(Redaction, LogFileNeverContainsSecret) {
  std::string path = ::testing::TempDir() + "/pinfs-log-test-" + std::to_string(::getpid()) + ".log";
  log::add_secret("k3y-0f-the-kingdom");
  log::setup("debug", path);
  spdlog::debug("request with header pinata_api_key: {}", "k3y-0f-the-kingdom");
  spdlog::default_logger()->flush();
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("[REDACTED]"), std::string::npos);
  EXPECT_EQ(text.str().find("k3y-0f-the-kingdom"), std::string::npos);
  std::remove(path.c_str());
}

// A detached daemon's log is read while it runs: a debug line is in the file without any explicit flush.
TEST(LogFile, EveryLineIsWrittenAtOnce) {
  std::string path = ::testing::TempDir() + "/pinfs-log-flush-" + std::to_string(::getpid()) + ".log";
  log::setup("debug", path);
  spdlog::debug("a line someone is waiting for with tail -f");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("a line someone is waiting for"), std::string::npos);
  log::setup("warn", "");
  std::remove(path.c_str());
}

TEST(Errors, DescribeIncludesStrerror) {
  Result<int> r = fail(ENOENT, "pin QmX not found");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().errnum, ENOENT);
  EXPECT_NE(r.error().describe().find("No such file"), std::string::npos);
}

}  // namespace
}  // namespace pinfs
