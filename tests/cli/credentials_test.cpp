// Where credentials come from, in DESIGN.md §1's order, and that a secret never reaches a log.
#include "pinfs/cli/credentials.hpp"

#include <gtest/gtest.h>

#include <cstdio>

#include "cli_test_support.hpp"
#include "pinfs/common/log.hpp"

namespace pinfs::cli {
namespace {

using testing::fake_env;
using testing::TempDir;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(CredentialsFile, RefusedUnlessPrivateAndSaysHowToFix) {
  TempDir dir;
  std::string file = dir.write("creds", "jwt = \"eyJ.group-readable.token\"\n", 0640);
  CredentialRequest req{"pinata", file, nullptr};
  auto loaded = load_credentials(req, fake_env({}));
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().errnum, EACCES);
  EXPECT_TRUE(contains(loaded.error().message, "chmod 600 " + file)) << loaded.error().message;
  EXPECT_TRUE(contains(loaded.error().message, "0640")) << loaded.error().message;
  EXPECT_FALSE(contains(loaded.error().message, "eyJ.group-readable.token"));

  std::string world = dir.write("creds-world", "jwt = x1234567\n", 0604);
  EXPECT_FALSE(read_credentials_file(world));
  std::string owner_only = dir.write("creds-ro", "jwt = x1234567\n", 0400);
  EXPECT_TRUE(read_credentials_file(owner_only));
}

TEST(CredentialsFile, KeyValueLinesInEveryCommonSpelling) {
  TempDir dir;
  std::string file = dir.write("creds",
                               "# my pinata account\n"
                               "export PINFS_API_KEY=key-1234\n"
                               "pinata_secret_api_key = 'secret-5678'\n"
                               "jwt=\"eyJ.token.value\"\n"
                               "\n");
  auto creds = read_credentials_file(file);
  ASSERT_TRUE(creds) << creds.error().message;
  EXPECT_EQ(creds->api_key, "key-1234");
  EXPECT_EQ(creds->api_secret, "secret-5678");
  EXPECT_EQ(creds->jwt, "eyJ.token.value");
}

TEST(CredentialsFile, BareTokenIsAJwt) {
  TempDir dir;
  std::string file = dir.write("pinata.jwt", "eyJhbGciOiJIUzI1NiJ9.payload.sig\n");
  auto creds = read_credentials_file(file);
  ASSERT_TRUE(creds) << creds.error().message;
  EXPECT_EQ(creds->jwt, "eyJhbGciOiJIUzI1NiJ9.payload.sig");
  EXPECT_TRUE(creds->api_key.empty());
}

TEST(CredentialsFile, UnknownKeyNamesLineAndKey) {
  TempDir dir;
  std::string file = dir.write("creds", "jwt = abcdefgh\npasword = hunter22\n");
  auto creds = read_credentials_file(file);
  ASSERT_FALSE(creds);
  EXPECT_TRUE(contains(creds.error().message, file + ":2")) << creds.error().message;
  EXPECT_TRUE(contains(creds.error().message, "pasword"));
  EXPECT_FALSE(contains(creds.error().message, "hunter22"));
}

TEST(CredentialsOrder, CredentialsFileBeatsProfileSystemdAndEnvironment) {
  TempDir dir;
  std::string file = dir.write("creds", "jwt = from-file-jwt\n");
  dir.write("sd/jwt", "from-systemd-jwt");
  ProfileCredentials profile;
  profile.profile = "work";
  profile.config_file = "/etc/x.toml";
  profile.jwt_file = dir.write("profile.jwt", "from-profile-jwt");
  auto env = fake_env({{"PINFS_JWT", "from-env-jwt"}, {"CREDENTIALS_DIRECTORY", dir.path() + "/sd"}});
  auto loaded = load_credentials({"pinata", file, &profile}, env);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->credentials.jwt, "from-file-jwt");
  EXPECT_EQ(loaded->source, "--credentials-file " + file);
}

TEST(CredentialsOrder, ProfileFileKeysBeatSystemdAndEnvironment) {
  TempDir dir;
  dir.write("sd/jwt", "from-systemd-jwt");
  ProfileCredentials profile;
  profile.profile = "work";
  profile.config_file = dir.path() + "/config.toml";
  profile.api_key_file = dir.write("key", "profile-key-0001\n");
  profile.api_secret_file = dir.write("secret", "profile-secret-0002\n");
  auto env = fake_env({{"PINFS_JWT", "from-env-jwt"}, {"CREDENTIALS_DIRECTORY", dir.path() + "/sd"}});
  auto loaded = load_credentials({"aioz", std::nullopt, &profile}, env);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->credentials.api_key, "profile-key-0001");
  EXPECT_EQ(loaded->credentials.api_secret, "profile-secret-0002");
  EXPECT_TRUE(loaded->credentials.jwt.empty());
  EXPECT_TRUE(contains(loaded->source, "profile 'work'")) << loaded->source;
  EXPECT_TRUE(contains(loaded->source, "api_key_file " + *profile.api_key_file)) << loaded->source;
}

TEST(CredentialsOrder, ProfileSecretFileMustBePrivate) {
  TempDir dir;
  ProfileCredentials profile;
  profile.profile = "work";
  profile.config_file = dir.path() + "/config.toml";
  profile.jwt_file = dir.write("jwt", "profile-jwt-0001", 0644);
  auto loaded = load_credentials({"pinata", std::nullopt, &profile}, fake_env({{"PINFS_JWT", "env-jwt-1"}}));
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().errnum, EACCES);
  EXPECT_TRUE(contains(loaded.error().message, "jwt_file")) << loaded.error().message;
  EXPECT_TRUE(contains(loaded.error().message, "chmod 600 " + *profile.jwt_file)) << loaded.error().message;
}

TEST(CredentialsOrder, InlineSecretOnlyInPrivateConfig) {
  ProfileCredentials profile;
  profile.profile = "work";
  profile.config_file = "/home/u/.config/pinfs/config.toml";
  profile.jwt = "inline-jwt-0001";
  profile.config_private = false;
  auto refused = load_credentials({"pinata", std::nullopt, &profile}, fake_env({}));
  ASSERT_FALSE(refused);
  EXPECT_TRUE(contains(refused.error().message, "chmod 600 /home/u/.config/pinfs/config.toml"))
      << refused.error().message;
  profile.config_private = true;
  auto loaded = load_credentials({"pinata", std::nullopt, &profile}, fake_env({}));
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->credentials.jwt, "inline-jwt-0001");
}

TEST(CredentialsOrder, SystemdCredentialsBeatEnvironment) {
  TempDir dir;
  dir.write("sd/api_key", "sd-key-0001\n", 0400);
  dir.write("sd/api_secret", "sd-secret-0002\n", 0400);
  auto env = fake_env({{"PINFS_API_KEY", "env-key"},
                       {"PINFS_API_SECRET", "env-secret"},
                       {"CREDENTIALS_DIRECTORY", dir.path() + "/sd"}});
  auto loaded = load_credentials({"aioz", std::nullopt, nullptr}, env);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->credentials.api_key, "sd-key-0001");
  EXPECT_EQ(loaded->credentials.api_secret, "sd-secret-0002");
  EXPECT_TRUE(contains(loaded->source, "CREDENTIALS_DIRECTORY")) << loaded->source;
}

TEST(CredentialsOrder, EmptySystemdDirectoryFallsBackToEnvironment) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/sd");
  auto env = fake_env({{"PINFS_JWT", "env-jwt-0001"}, {"CREDENTIALS_DIRECTORY", dir.path() + "/sd"}});
  auto loaded = load_credentials({"pinata", std::nullopt, nullptr}, env);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->credentials.jwt, "env-jwt-0001");
  EXPECT_EQ(loaded->source, "PINFS_JWT");
  EXPECT_EQ(loaded->fix, "set PINFS_JWT to a valid JWT or use --credentials-file");
}

TEST(CredentialsEnvironment, KeyPairForBothProviders) {
  auto env = fake_env({{"PINFS_API_KEY", "env-key-0001"}, {"PINFS_API_SECRET", "env-secret-0002"}});
  for (const char* provider : {"pinata", "aioz"}) {
    auto loaded = load_credentials({provider, std::nullopt, nullptr}, env);
    ASSERT_TRUE(loaded) << provider << ": " << loaded.error().message;
    EXPECT_EQ(loaded->credentials.api_key, "env-key-0001");
    EXPECT_EQ(loaded->credentials.api_secret, "env-secret-0002");
    EXPECT_EQ(loaded->source, "PINFS_API_KEY/PINFS_API_SECRET");
  }
}

TEST(CredentialsEnvironment, HalfAKeyPairNamesTheMissingVariable) {
  auto loaded =
      load_credentials({"pinata", std::nullopt, nullptr}, fake_env({{"PINFS_API_KEY", "env-key-0001"}}));
  ASSERT_FALSE(loaded);
  EXPECT_TRUE(contains(loaded.error().message, "PINFS_API_SECRET is not")) << loaded.error().message;
}

TEST(CredentialsEnvironment, AiozRefusesAJwtAndSaysWhatItNeeds) {
  auto loaded = load_credentials({"aioz", std::nullopt, nullptr}, fake_env({{"PINFS_JWT", "env-jwt-0001"}}));
  ASSERT_FALSE(loaded);
  EXPECT_TRUE(contains(loaded.error().message, "PINFS_API_KEY")) << loaded.error().message;
  EXPECT_TRUE(contains(loaded.error().message, "PINFS_API_SECRET")) << loaded.error().message;
}

TEST(CredentialsMissing, MessageNamesEveryPlaceToPutThem) {
  auto loaded = load_credentials({"pinata", std::nullopt, nullptr}, fake_env({{"HOME", "/home/u"}}));
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().errnum, ENOENT);
  const std::string& m = loaded.error().message;
  for (const char* name : {"PINFS_JWT", "PINFS_API_KEY", "PINFS_API_SECRET", "--credentials-file", "jwt_file",
                           "CREDENTIALS_DIRECTORY"})
    EXPECT_TRUE(contains(m, name)) << name << " missing from: " << m;
}

TEST(CredentialsLogging, DebugLogOfLoadingHoldsNoSecret) {
  TempDir dir;
  const std::string jwt = "eyJsecret.jwt.never-logged-7731";
  const std::string key = "key-never-logged-5521";
  const std::string secret = "secret-never-logged-9902";
  std::string file =
      dir.write("creds", "jwt = " + jwt + "\napi_key = " + key + "\napi_secret = " + secret + "\n");
  std::string log_path = dir.path() + "/debug.log";
  log::setup("debug", log_path);
  auto loaded = load_credentials({"pinata", file, nullptr}, fake_env({}));
  ProfileCredentials profile;
  profile.profile = "p";
  profile.config_file = dir.path() + "/c.toml";
  profile.jwt_file = dir.write("p.jwt", jwt + "-profile");
  auto from_profile = load_credentials({"pinata", std::nullopt, &profile}, fake_env({}));
  auto from_env =
      load_credentials({"pinata", std::nullopt, nullptr}, fake_env({{"PINFS_JWT", jwt + "-env"}}));
  spdlog::default_logger()->flush();
  log::setup("warn");
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_TRUE(from_profile) << from_profile.error().message;
  ASSERT_TRUE(from_env) << from_env.error().message;

  std::string text = testing::read_all(log_path);
  EXPECT_TRUE(contains(text, "--credentials-file " + file)) << text;  // the log does say where they came from
  EXPECT_TRUE(contains(text, "PINFS_JWT")) << text;
  for (const auto& s : {jwt, key, secret}) EXPECT_FALSE(contains(text, s)) << s << " leaked into:\n" << text;
  EXPECT_FALSE(contains(text, "[REDACTED]")) << "a secret was handed to the logger at all:\n" << text;
  // Everything loaded is registered, so a later accidental log line is masked too.
  EXPECT_EQ(log::redact("x " + key + " y"), "x [REDACTED] y");
  EXPECT_EQ(log::redact(secret), "[REDACTED]");
}

}  // namespace
}  // namespace pinfs::cli
