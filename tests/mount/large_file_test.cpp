// [write.bounded-memory] A 2 GiB file copied in is streamed: staged on disk while its CID is computed, then
// uploaded from the staging file. Neither the daemon nor the emulator holds the file in memory; their peak
// resident sizes prove it. PINFS_LARGE_FILE_MIB makes the file smaller for a quick local run.
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "mount_test_support.hpp"

namespace pinfs::testing {
namespace {

constexpr std::uint64_t kMiB = 1ull << 20;
// Far below the file's size, far above what a streaming process needs (libcurl, SQLite, buffers).
constexpr std::uint64_t kMaxResidentMiB = 128;

std::uint64_t file_mib() {
  const char* v = std::getenv("PINFS_LARGE_FILE_MIB");
  return v != nullptr ? std::strtoull(v, nullptr, 10) : 2048;
}

// Writes size bytes of a cheap pseudo-random stream, 1 MiB at a time.
void write_stream(const std::string& path, std::uint64_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::vector<std::uint64_t> buffer(kMiB / 8);
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  for (std::uint64_t written = 0; written < size; written += kMiB) {
    for (auto& word : buffer) {  // xorshift64
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      word = x;
    }
    out.write(reinterpret_cast<const char*>(buffer.data()),
              static_cast<std::streamsize>(std::min<std::uint64_t>(kMiB, size - written)));
  }
}

// Peak resident set of a live process, from /proc/PID/status (VmHWM), in MiB; 0 if unreadable.
std::uint64_t peak_resident_mib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) / 1024;
  return 0;
}

using LargeFile = MountTest;

TEST_P(LargeFile, TwoGibCopyStreamsWithBoundedMemory) {
  const std::uint64_t size = file_mib() * kMiB;
  const std::string source = src("big.bin");
  write_stream(source, size);

  auto copy = run_process({"cp", source, m().path("big.bin")}, hermetic_env(), std::chrono::seconds(900));
  ASSERT_EQ(copy.exit_code, 0) << copy.err;

  const auto daemon_mib = peak_resident_mib(m().daemon_pid());
  const auto emulator_mib = peak_resident_mib(m().emulator().pid());
  ASSERT_GT(daemon_mib, 0u);
  ASSERT_GT(emulator_mib, 0u);
  std::cout << "peak resident while copying " << file_mib() << " MiB in: pinfs " << daemon_mib
            << " MiB, pinfs-emulator " << emulator_mib << " MiB\n";
  EXPECT_LT(daemon_mib, kMaxResidentMiB);
  EXPECT_LT(emulator_mib, kMaxResidentMiB);

  struct stat st {};
  ASSERT_EQ(::stat(m().path("big.bin").c_str(), &st), 0);
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), size);
  EXPECT_EQ(xattr(m().path("big.bin"), "user.pinfs.cid"), local_cid(source));
  EXPECT_EQ(xattr(m().path("big.bin"), "user.pinfs.status"), "pinned");
  std::filesystem::remove(source);
}

INSTANTIATE_TEST_SUITE_P(Providers, LargeFile, ::testing::ValuesIn(kProviders), provider_name);

}  // namespace
}  // namespace pinfs::testing
