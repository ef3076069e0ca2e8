// [list.paged] [cache.lock] [cache.content] through a real mount: the pin index persists in the cache dir,
// so a remount's first `ls` is answered from it before any list call; a second mount on the same cache dir
// is refused at once; the content cache keeps a file read before the remount.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <set>
#include <sstream>

#include "mount_test_support.hpp"

namespace pinfs::testing {
namespace {

class PersistentIndex : public MountTest {  // the default: no flag needed
 protected:
  std::uint64_t list_calls() {
    return m().emulator_requests(m().provider() == "aioz" ? "GET /api/pinning/pins/" : "GET /data/pinList");
  }
  std::uint64_t bytes_out() {
    rapidjson::Document doc;
    doc.Parse(m().emulator().request("GET", "/_emulator/stats").c_str());
    return doc.IsObject() && doc.HasMember("bytes_out") && doc["bytes_out"].IsUint64()
               ? doc["bytes_out"].GetUint64()
               : 0;
  }
  std::set<std::string> names() {
    auto r = run_process({"ls", "-A", m().mnt()}, hermetic_env(), std::chrono::seconds(120));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::set<std::string> out;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);)
      if (!line.empty() && line != ".pinfs") out.insert(line);
    return out;
  }
  // A clean unmount: `pinfs unmount`, then the daemon exits.
  void unmount() {
    auto r = m().pinfs({"unmount", m().mnt()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(m().wait_daemon(), 0) << m().daemon_log();
  }
  // The mount listed the (then empty) account at start, so pins made through the API since are not in its
  // complete index until a poll: a remount with the index set aside lists them cold.
  void remount_with_a_cold_index() {
    unmount();
    for (const char* f : {"/index.sqlite", "/index.sqlite-wal", "/index.sqlite-shm"})
      std::filesystem::remove(m().cache_dir() + f);
    m().remount();
  }
};

TEST_P(PersistentIndex, RemountListsFromTheIndexWithNoListCall) {
  constexpr std::size_t kPins = 1500;  // two pages of 1000 on Pinata
  auto made = m().emulator().request("POST", "/_emulator/pins/bulk", "{\"count\":1500}");
  ASSERT_NE(made.find("\"created\":1500"), std::string::npos) << made;
  const auto cold_before = list_calls();
  remount_with_a_cold_index();
  const auto first = names();
  ASSERT_EQ(first.size(), kPins);
  // A cold listing costs one call a page: ceil(1500 / 1000) on Pinata.
  if (m().provider() == "pinata") {
    EXPECT_EQ(list_calls() - cold_before, 2u);
  }
  unmount();

  const auto before = list_calls();
  m().remount();
  const auto again = names();
  EXPECT_EQ(list_calls(), before) << "the remount's first ls listed the account";
  EXPECT_EQ(again, first);
  auto long_listing = run_process({"ls", "-l", m().mnt()}, hermetic_env(), std::chrono::seconds(120));
  EXPECT_EQ(long_listing.exit_code, 0) << long_listing.err;
  EXPECT_NE(long_listing.out.find("bulk-0001499.txt"), std::string::npos);
  EXPECT_EQ(list_calls(), before);
}

TEST_P(PersistentIndex, SecondMountOnTheSameCacheDirIsRefused) {
  const std::string other = m().scratch() + "/mnt2";
  std::filesystem::create_directories(other);
  std::vector<std::string> args = {pinfs_binary(), "mount", other, "--foreground"};
  auto flags = m().mount_flags();
  args.insert(args.end(), flags.begin(), flags.end());
  auto env = hermetic_env(m().credential_env());
  env.push_back("XDG_CONFIG_HOME=" + m().scratch() + "/no-config");
  auto r = run_process(args, env, std::chrono::seconds(30));
  if (is_mountpoint(other))
    run_process({"fusermount3", "-uz", other}, hermetic_env(), std::chrono::seconds(30));
  EXPECT_NE(r.exit_code, 0);
  const std::string said = r.out + r.err;
  EXPECT_NE(said.find("another pinfs mount"), std::string::npos) << said;
  EXPECT_NE(said.find(m().cache_dir()), std::string::npos) << said;
  EXPECT_TRUE(m().mounted());  // the first mount is untouched
}

TEST_P(PersistentIndex, ContentCacheKeepsAReadFileAcrossARemount) {
  const std::string data = write_random_file(src("big"), 3 << 20, 77);
  m().api_upload(src("big"), "big.bin");
  remount_with_a_cold_index();
  ASSERT_TRUE(cat(m().path("big.bin")) == data) << "first read through the mount";
  unmount();
  m().remount();
  const auto out_before = bytes_out();
  ASSERT_TRUE(cat(m().path("big.bin")) == data) << "read after the remount";
  // At most a root block for the size (Pinata lists DAG sizes), never the 3 MiB again.
  EXPECT_LT(bytes_out() - out_before, 256u << 10);
}

INSTANTIATE_TEST_SUITE_P(Providers, PersistentIndex, ::testing::ValuesIn(kProviders), provider_name);

}  // namespace
}  // namespace pinfs::testing
