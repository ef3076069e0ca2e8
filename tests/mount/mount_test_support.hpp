// Shared pieces of the real-mount tests: the parameterised fixture (one body, both providers) and file
// helpers.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "../support/mount_fixture.hpp"

namespace pinfs::testing {

// Writes size pseudo-random bytes (seeded, so a failure reproduces) and returns them.
inline std::string write_random_file(const std::string& path, std::size_t size, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::string data(size, '\0');
  for (auto& c : data) c = static_cast<char>(gen() & 0xff);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  return data;
}

// A file's content read by `cat` in a child with a timeout, so a stalled read fails the test instead of
// hanging it.
inline std::string cat(const std::string& path, std::chrono::seconds timeout = std::chrono::seconds(60)) {
  auto r = run_process({"cat", path}, hermetic_env(), timeout);
  if (r.exit_code != 0)
    return "<cat " + path + " failed (" + std::to_string(r.exit_code) + "): " + r.err + ">";
  return r.out;
}

// Polls condition every 100 ms until it holds or the timeout passes; its last answer.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::seconds timeout = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

// `pinfs cid FILE`'s CID.
inline std::string local_cid(const std::string& file, int version = 1) {
  auto r =
      run_process({pinfs_binary(), "cid", "--cid-version", std::to_string(version), file}, hermetic_env());
  if (r.exit_code != 0) return "pinfs cid failed: " + r.err;
  return r.out.substr(0, r.out.find(' '));
}

// getfattr --only-values; empty with the error in `err` when the attribute cannot be read.
// follow=false reads the attribute of a symlink itself (getfattr -h).
inline std::string xattr(const std::string& path, const std::string& name, std::string* err = nullptr,
                         bool follow = true) {
  std::vector<std::string> args = {"getfattr", "--only-values", "-n", name, path};
  if (!follow) args.insert(args.begin() + 1, "-h");
  auto r = run_process(args, hermetic_env());
  if (err != nullptr) *err = r.err;
  return r.exit_code == 0 ? r.out : std::string();
}

inline std::string provider_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

// One mounted emulator account per test, for the provider the test is instantiated with.
class MountTest : public ::testing::TestWithParam<std::string> {
 protected:
  virtual PinfsMount::Options options() const {
    PinfsMount::Options o;
    o.provider = GetParam();
    return o;
  }
  void SetUp() override {
    try {
      m_ = std::make_unique<PinfsMount>(options());
    } catch (const std::exception& e) {
      FAIL() << "could not mount: " << e.what();
    }
  }
  void TearDown() override {
    if (HasFailure() && m_) {
      std::string log = m_->daemon_log();
      if (log.size() > 20000) log = "…" + log.substr(log.size() - 20000);
      std::cerr << "--- pinfs log (tail) ---\n" << log << "\n";
    }
    m_.reset();
  }
  PinfsMount& m() { return *m_; }
  std::string src(const std::string& name) const { return m_->scratch() + "/" + name; }

  std::unique_ptr<PinfsMount> m_;
};

}  // namespace pinfs::testing
