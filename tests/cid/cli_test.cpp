// `pinfs cid` as a user runs it: the built binary, real files, stdin, and a missing file.
#include <gtest/gtest.h>

#include <filesystem>

#include "cid_test_support.hpp"

namespace pinfs::cid {
namespace {

const std::string kPinfs = PINFS_BINARY_DIR "/pinfs";

class PinfsCidCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kPinfs)) << kPinfs << " is missing: build the pinfs target first";
    hello_ =
        testing::write_temp("hello.txt", Bytes{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n'});
    empty_ = testing::write_temp("empty", Bytes{});
    missing_ = ::testing::TempDir() + "/pinfs-cid-no-such-file";
  }
  void TearDown() override {
    std::remove(hello_.c_str());
    std::remove(empty_.c_str());
  }
  std::string hello_, empty_, missing_;
};

TEST_F(PinfsCidCommand, PrintsOneLinePerFileDefaultV1) {
  auto run = testing::run_shell(kPinfs + " cid " + hello_ + " " + empty_);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4  " + hello_ +
                         "\nbafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku  " + empty_ + "\n");
  EXPECT_EQ(run.err, "");
}

TEST_F(PinfsCidCommand, VersionZero) {
  auto run = testing::run_shell(kPinfs + " cid --cid-version 0 " + hello_);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o  " + hello_ + "\n");
}

TEST_F(PinfsCidCommand, ReadsStdinForDash) {
  auto run = testing::run_shell(kPinfs + " cid --cid-version 0 - < " + hello_);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o  -\n");
  auto piped = testing::run_shell("head -c 1048576 /dev/zero | " + kPinfs + " cid -");
  EXPECT_EQ(piped.out, "bafybeiggzq4ryi7hscq5hzvzcnk4urnxt3asp37dhgvnjilf7exskximla  -\n");
}

TEST_F(PinfsCidCommand, MissingFileFailsButOthersArePrinted) {
  auto run = testing::run_shell(kPinfs + " cid " + hello_ + " " + missing_ + " " + empty_);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4  " + hello_ +
                         "\nbafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku  " + empty_ + "\n");
  EXPECT_NE(run.err.find(missing_), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("No such file or directory"), std::string::npos) << run.err;
}

TEST_F(PinfsCidCommand, DirectoryIsAnError) {
  auto run = testing::run_shell(kPinfs + " cid " + ::testing::TempDir());
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_NE(run.err.find("is a directory"), std::string::npos) << run.err;
}

TEST_F(PinfsCidCommand, UsageErrorsAndHelp) {
  EXPECT_EQ(testing::run_shell(kPinfs + " cid --cid-version 2 " + hello_).exit_code, 2);
  EXPECT_EQ(testing::run_shell(kPinfs + " cid").exit_code, 2);
  auto help = testing::run_shell(kPinfs + " cid --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--cid-version"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("standard input"), std::string::npos) << help.out;
}

}  // namespace
}  // namespace pinfs::cid
