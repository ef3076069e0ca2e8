// The clients handle the answers the real services give (PROTOCOLS.md "Answers and leniencies confirmed"),
// against the emulator speaking them.
#include "emulator_service_support.hpp"

namespace pinfs::service {
namespace {

class ProviderAnswers : public ::testing::TestWithParam<std::string> {
 protected:
  testing::EmulatorService env{GetParam()};
};

// Source: PROTOCOLS.md §1: Pinata answers an unpin of a CID it does not pin with 400
// CURRENT_USER_HAS_NOT_PINNED_CID; AIOZ answers an unpin of an unpinned id with the pin (pinned false).
// `rm` of a pin someone unpinned elsewhere must still succeed: the wanted state holds.
TEST_P(ProviderAnswers, UnpinOfAPinAlreadyUnpinnedElsewhereSucceeds) {
  auto svc = env.service();
  auto other = env.service();  // "elsewhere": another client of the same account
  auto pin =
      svc->upload_file(FileUpload{env.staged("gone.txt", "unpinned elsewhere"), "gone.txt", {}, 1, {}});
  ASSERT_TRUE(pin.has_value()) << pin.error().describe();
  if (pin->id.empty()) {  // Pinata's upload reply has no id: find it as a listing would
    auto listed = svc->get(PinRef{"", pin->cid});
    ASSERT_TRUE(listed.has_value());
    pin->id = listed->id;
  }
  ASSERT_TRUE(other->unpin(PinRef{pin->id, pin->cid}).has_value());
  auto again = svc->unpin(PinRef{pin->id, pin->cid});
  EXPECT_TRUE(again.has_value()) << again.error().describe();
  auto get = svc->get(PinRef{pin->id, pin->cid});
  ASSERT_FALSE(get.has_value());
  EXPECT_EQ(get.error().errnum, ENOENT);
}

// Source: PROTOCOLS.md §1 and §2: testAuthentication is GET /data/testAuthentication (Pinata) and
// GET {api base}/apiKeys/testAuthentication (AIOZ, base ".../api").
TEST_P(ProviderAnswers, CheckAuthCallsTheDocumentedPath) {
  auto svc = env.service();
  ASSERT_TRUE(svc->check_auth().has_value());
  EXPECT_EQ(
      env.requests_to(env.pinata() ? "GET /data/testAuthentication" : "GET /api/apiKeys/testAuthentication"),
      1u);
  auto c = env.config();
  c.credentials.jwt = c.credentials.jwt.empty() ? "" : "wrong";
  c.credentials.api_secret = c.credentials.api_secret.empty() ? "" : "wrong";
  auto bad = env.service(c)->check_auth();
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().errnum, EACCES);
}

// Pinata hashMetadata of a CID the account does not pin: ENOENT whether the service says 400 with the
// reason or 404 (the emulator; the real answer is UNCONFIRMED).
TEST(PinataAnswers, MetadataUpdateOfAnUnpinnedCidIsEnoent) {
  testing::EmulatorService env{"pinata"};
  auto svc = env.service();
  auto r = svc->update_metadata(PinRef{"", "bafkreigoswsg4iddq6gqexlizzkduic652iolmy2mwolrr6bbd5twezucq"},
                                "n", {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().errnum, ENOENT);
}

INSTANTIATE_TEST_SUITE_P(Providers, ProviderAnswers, ::testing::Values("pinata", "aioz"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace pinfs::service
