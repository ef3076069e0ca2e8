// `pinfs mount`'s configuration: flags over profile over provider defaults (DESIGN.md §1).
#include "pinfs/cli/config.hpp"

#include <gtest/gtest.h>

#include "cli_test_support.hpp"

namespace pinfs::cli {
namespace {

using testing::fake_env;
using testing::TempDir;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class MountConfigTest : public ::testing::Test {
 protected:
  // A HOME with no config file, and a JWT in the environment, unless a test says otherwise.
  std::map<std::string, std::string> vars() const {
    return {{"HOME", home_.path()}, {"PINFS_JWT", "env-jwt-0001"}};
  }
  std::string write_config(const std::string& text, mode_t mode = 0644) const {
    return home_.write(".config/pinfs/config.toml", text, mode);
  }
  TempDir home_;
};

TEST_F(MountConfigTest, ProviderDefaultsWithoutAnyConfig) {
  auto pinata = resolve_mount_config({}, fake_env(vars()));
  ASSERT_TRUE(pinata) << pinata.error().message;
  EXPECT_EQ(pinata->service.provider, "pinata");
  EXPECT_EQ(pinata->service.api_url, "https://api.pinata.cloud");
  EXPECT_EQ(pinata->service.gateway_url, "https://gateway.pinata.cloud");
  EXPECT_EQ(pinata->vfs.cache_dir, home_.path() + "/.cache/pinfs/pinata");
  EXPECT_EQ(pinata->vfs.upload, vfs::UploadMode::Sync);
  EXPECT_EQ(pinata->vfs.cid_version, 1);
  EXPECT_EQ(pinata->vfs.poll_interval, std::chrono::seconds(60));
  EXPECT_TRUE(pinata->config_file.empty());
  EXPECT_EQ(pinata->service.credentials.jwt, "env-jwt-0001");

  MountFlags flags;
  flags.provider = "aioz";
  auto v = vars();
  v["PINFS_API_KEY"] = "k-0001";
  v["PINFS_API_SECRET"] = "s-0002";
  v["XDG_CACHE_HOME"] = "/var/tmp/xdg-cache";
  auto aioz = resolve_mount_config(flags, fake_env(v));
  ASSERT_TRUE(aioz) << aioz.error().message;
  EXPECT_EQ(aioz->service.api_url, "https://api.w3ipfs.storage/api");
  EXPECT_EQ(aioz->service.gateway_url, "https://gateway.w3ipfs.storage");
  EXPECT_EQ(aioz->vfs.cache_dir, "/var/tmp/xdg-cache/pinfs/aioz");
}

TEST_F(MountConfigTest, ProfileOverridesDefaultsAndFlagsOverrideProfile) {
  write_config(R"(
default_profile = "work"
[profiles.work]
provider = "aioz"
api_url = "http://127.0.0.1:9/api/"
gateway_url = "http://127.0.0.1:9"
cache_dir = "~/pinfs-cache"
upload = "async"
cid_version = 0
poll_interval = 5
rate_per_minute = 120
list_rate_per_minute = 30.5
cache_max_bytes = 1048576
)");
  auto v = vars();
  v["PINFS_API_KEY"] = "k-0001";
  v["PINFS_API_SECRET"] = "s-0002";
  auto from_profile = resolve_mount_config({}, fake_env(v));
  ASSERT_TRUE(from_profile) << from_profile.error().message;
  EXPECT_EQ(from_profile->profile, "work");
  EXPECT_EQ(from_profile->config_file, home_.path() + "/.config/pinfs/config.toml");
  EXPECT_EQ(from_profile->service.provider, "aioz");
  EXPECT_EQ(from_profile->service.api_url, "http://127.0.0.1:9/api");  // trailing slash dropped
  EXPECT_EQ(from_profile->service.gateway_url, "http://127.0.0.1:9");
  EXPECT_EQ(from_profile->vfs.cache_dir, home_.path() + "/pinfs-cache");
  EXPECT_EQ(from_profile->vfs.upload, vfs::UploadMode::Async);
  EXPECT_EQ(from_profile->vfs.cid_version, 0);
  EXPECT_EQ(from_profile->vfs.poll_interval, std::chrono::seconds(5));
  EXPECT_EQ(from_profile->service.rate_per_minute, 120.0);
  EXPECT_EQ(from_profile->service.list_rate_per_minute, 30.5);
  EXPECT_EQ(from_profile->vfs.cache_max_bytes, 1048576u);

  MountFlags flags;
  flags.provider = "pinata";
  flags.api_url = "http://127.0.0.1:7";
  flags.cache_dir = "/tmp/flag-cache";
  flags.upload = "sync";
  flags.cid_version = 1;
  flags.poll_interval = 1.5;
  auto from_flags = resolve_mount_config(flags, fake_env(v));
  ASSERT_TRUE(from_flags) << from_flags.error().message;
  EXPECT_EQ(from_flags->service.provider, "pinata");
  EXPECT_EQ(from_flags->service.api_url, "http://127.0.0.1:7");
  EXPECT_EQ(from_flags->service.gateway_url, "http://127.0.0.1:9");  // not overridden: still the profile's
  EXPECT_EQ(from_flags->vfs.cache_dir, "/tmp/flag-cache");
  EXPECT_EQ(from_flags->vfs.upload, vfs::UploadMode::Sync);
  EXPECT_EQ(from_flags->vfs.cid_version, 1);
  EXPECT_EQ(from_flags->vfs.poll_interval, std::chrono::seconds(2));  // rounded up, never 0
}

TEST_F(MountConfigTest, RateFlagsOverrideTheProfileAndMustBePositive) {
  write_config("[profiles.work]\nprovider = \"pinata\"\nrate_per_minute = 250\nlist_rate_per_minute = 30\n");
  MountFlags flags;
  flags.profile = "work";
  flags.rate_per_minute = 500;
  auto config = resolve_mount_config(flags, fake_env(vars()));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->service.rate_per_minute, 500.0);
  EXPECT_EQ(config->service.list_rate_per_minute, 30.0);  // not overridden: still the profile's
  flags.list_rate_per_minute = 0;
  auto bad = resolve_mount_config(flags, fake_env(vars()));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().errnum, EINVAL);
  EXPECT_NE(bad.error().message.find("list_rate_per_minute"), std::string::npos);
}

TEST_F(MountConfigTest, TransfersFlagProfileAndRange) {
  MountFlags flags;
  auto plain = resolve_mount_config(flags, fake_env(vars()));
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(plain->vfs.transfers, 4u);  // rclone's default
  write_config("[profiles.work]\nprovider = \"pinata\"\ntransfers = 8\n");
  flags.profile = "work";
  auto profile = resolve_mount_config(flags, fake_env(vars()));
  ASSERT_TRUE(profile) << profile.error().message;
  EXPECT_EQ(profile->vfs.transfers, 8u);
  flags.transfers = 16;
  auto flag = resolve_mount_config(flags, fake_env(vars()));
  ASSERT_TRUE(flag) << flag.error().message;
  EXPECT_EQ(flag->vfs.transfers, 16u);
  flags.transfers = 0;
  auto bad = resolve_mount_config(flags, fake_env(vars()));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().errnum, EINVAL);
  EXPECT_NE(bad.error().message.find("--transfers"), std::string::npos);
}

TEST(ParseSize, BytesAndPowersOf1024AndClearErrors) {
  EXPECT_EQ(parse_size("4096").value(), 4096u);
  EXPECT_EQ(parse_size("512K").value(), 512u << 10);
  EXPECT_EQ(parse_size("20G").value(), 20ull << 30);
  EXPECT_EQ(parse_size("20GiB").value(), 20ull << 30);
  EXPECT_EQ(parse_size("3mb").value(), 3ull << 20);
  EXPECT_EQ(parse_size("1T").value(), 1ull << 40);
  for (const char* bad : {"", "G", "0", "0G", "12X", "1.5G", "-1G", "99999999999999999999", "16777216T"}) {
    auto r = parse_size(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().errnum, EINVAL) << bad;
    EXPECT_NE(r.error().message.find("'" + std::string(bad) + "'"), std::string::npos) << r.error().message;
  }
}

TEST_F(MountConfigTest, CacheSizeFlagOverridesTheProfileKey) {
  write_config("[profiles.work]\nprovider = \"pinata\"\ncache_max_bytes = 1000000\n");
  MountFlags flags;
  flags.profile = "work";
  auto config = resolve_mount_config(flags, fake_env(vars()));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->vfs.cache_max_bytes, 1000000u);
  flags.cache_size = "2G";
  config = resolve_mount_config(flags, fake_env(vars()));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->vfs.cache_max_bytes, 2ull << 30);
  flags.cache_size = "lots";
  auto bad = resolve_mount_config(flags, fake_env(vars()));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("--cache-size"), std::string::npos) << bad.error().message;
}

// Any UTF-8 is read inside strings and comments. Debian's toml++ reaches __builtin_unreachable on some
// non-ASCII characters wherever its scanners meet them (tests/fuzz/corpus/config): it is handed the file
// as ASCII, so the same inputs are plain errors naming the line.
TEST_F(MountConfigTest, AccentedLettersAreReadAndMisplacedOnesAreErrorsNamingTheLine) {
  auto path = write_config(
      "# caf\u00e9 \u2cef\n[profiles.work]\nprovider = \"pinata\" # \ufefd\n"
      "cache_dir = '/srv/caf\u00e9 \\ \"\u0254\u3001\U0001F600'\n"
      "gateway_url = '''http://127.0.0.1:1/\u00e9''''\n"
      "api_url = \"\"\"http://127.0.0.1:2/\u00e9\\\n  x\"\"\"\n");
  MountFlags flags;
  flags.profile = "work";
  auto read = resolve_mount_config(flags, fake_env(vars()));
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(read->vfs.cache_dir, "/srv/caf\u00e9 \\ \"\u0254\u3001\U0001F600");
  auto file = parse_config_file(path, fake_env(vars()));
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(file->find("work")->gateway_url, "http://127.0.0.1:1/\u00e9'");  // four quotes: one, then the end
  EXPECT_EQ(file->find("work")->api_url, "http://127.0.0.1:2/\u00e9x");      // a line-ending backslash
  for (const char* bad :
       {"cid_version=+\"\u025b\"\n", "cid_version = 27.0.0.\"\ufefd\"\n",
        "cache_dir = \"\"\"/srv\\\u00e9\"\"\"\n", "caf\u00e9 = 1\n", "cache_dir = \"\xff\"\n"}) {
    write_config(std::string("[profiles.work]\nprovider = \"pinata\"\n") + bad);
    auto refused = resolve_mount_config(flags, fake_env(vars()));
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().errnum, EINVAL);
    EXPECT_NE(refused.error().message.find(":3:"), std::string::npos) << refused.error().message;
  }
}

TEST_F(MountConfigTest, DefaultCacheDirIsNamedAfterTheProfile) {
  write_config("[profiles.home]\nprovider = \"pinata\"\n");
  MountFlags flags;
  flags.profile = "home";
  auto v = vars();
  v["XDG_CACHE_HOME"] = "/var/tmp/xdg";
  auto config = resolve_mount_config(flags, fake_env(v));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->vfs.cache_dir, "/var/tmp/xdg/pinfs/home");
}

TEST_F(MountConfigTest, ProfileCredentialFilesAreRelativeToTheConfigFile) {
  home_.write(".config/pinfs/work.jwt", "profile-jwt-0001\n");
  write_config("[profiles.work]\njwt_file = \"work.jwt\"\n");
  MountFlags flags;
  flags.profile = "work";
  auto config = resolve_mount_config(flags, fake_env(vars()));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->service.credentials.jwt, "profile-jwt-0001");  // beats PINFS_JWT
  EXPECT_TRUE(contains(config->credentials_source, "profile 'work'")) << config->credentials_source;
  EXPECT_TRUE(contains(config->credentials_fix, "profile 'work'")) << config->credentials_fix;
}

TEST_F(MountConfigTest, CredentialsFileFlagBeatsProfile) {
  home_.write(".config/pinfs/work.jwt", "profile-jwt-0001\n");
  write_config("[profiles.work]\njwt_file = \"work.jwt\"\n");
  MountFlags flags;
  flags.profile = "work";
  flags.credentials_file = home_.write("flag-creds", "jwt = flag-jwt-0001\n");
  auto config = resolve_mount_config(flags, fake_env(vars()));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->service.credentials.jwt, "flag-jwt-0001");
}

TEST_F(MountConfigTest, ExplicitConfigFileMustExist) {
  MountFlags flags;
  flags.config_file = home_.path() + "/nope.toml";
  auto config = resolve_mount_config(flags, fake_env(vars()));
  ASSERT_FALSE(config);
  EXPECT_TRUE(contains(config.error().message, "nope.toml")) << config.error().message;
}

TEST_F(MountConfigTest, ProfileWithoutConfigFileSaysWhereItLooked) {
  MountFlags flags;
  flags.profile = "work";
  auto config = resolve_mount_config(flags, fake_env(vars()));
  ASSERT_FALSE(config);
  EXPECT_TRUE(contains(config.error().message, home_.path() + "/.config/pinfs/config.toml"))
      << config.error().message;
}

TEST_F(MountConfigTest, UnknownProfileListsTheKnownOnes) {
  write_config("[profiles.alpha]\n[profiles.beta]\n");
  MountFlags flags;
  flags.profile = "gamma";
  auto config = resolve_mount_config(flags, fake_env(vars()));
  ASSERT_FALSE(config);
  EXPECT_TRUE(contains(config.error().message, "no profile 'gamma'")) << config.error().message;
  EXPECT_TRUE(contains(config.error().message, "alpha, beta")) << config.error().message;
}

TEST_F(MountConfigTest, TyposAreErrorsNotSilentDefaults) {
  write_config("[profiles.work]\nuplod = \"async\"\n");
  MountFlags flags;
  flags.profile = "work";
  auto config = resolve_mount_config(flags, fake_env(vars()));
  ASSERT_FALSE(config);
  EXPECT_TRUE(contains(config.error().message, "unknown key 'uplod'")) << config.error().message;
}

TEST_F(MountConfigTest, WrongTypesAndValuesAreNamed) {
  write_config("[profiles.work]\ncid_version = \"one\"\n");
  MountFlags flags;
  flags.profile = "work";
  auto bad_type = resolve_mount_config(flags, fake_env(vars()));
  ASSERT_FALSE(bad_type);
  EXPECT_TRUE(contains(bad_type.error().message, "'cid_version' must be an integer"))
      << bad_type.error().message;
  std::filesystem::remove(home_.path() + "/.config/pinfs/config.toml");

  MountFlags bad_upload;
  bad_upload.upload = "later";
  auto upload = resolve_mount_config(bad_upload, fake_env(vars()));
  ASSERT_FALSE(upload);
  EXPECT_TRUE(contains(upload.error().message, "'later' from --upload")) << upload.error().message;

  MountFlags bad_provider;
  bad_provider.provider = "s3";
  auto provider = resolve_mount_config(bad_provider, fake_env(vars()));
  ASSERT_FALSE(provider);
  EXPECT_TRUE(contains(provider.error().message, "use pinata or aioz")) << provider.error().message;

  MountFlags bad_url;
  bad_url.api_url = "ftp://x";
  EXPECT_FALSE(resolve_mount_config(bad_url, fake_env(vars())));
}

TEST_F(MountConfigTest, TomlSyntaxErrorShowsLine) {
  write_config("[profiles.work\nprovider = \"pinata\"\n");
  MountFlags flags;
  flags.profile = "work";
  auto config = resolve_mount_config(flags, fake_env(vars()));
  ASSERT_FALSE(config);
  EXPECT_TRUE(contains(config.error().message, "config.toml:1:")) << config.error().message;
}

TEST_F(MountConfigTest, MissingCredentialsFailResolution) {
  auto config = resolve_mount_config({}, fake_env({{"HOME", home_.path()}}));
  ASSERT_FALSE(config);
  EXPECT_TRUE(contains(config.error().message, "PINFS_JWT")) << config.error().message;
}

}  // namespace
}  // namespace pinfs::cli
