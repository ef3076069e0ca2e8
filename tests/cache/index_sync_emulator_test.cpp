// IndexSync with the real clients against the real pinfs-emulator, one body for both providers: what a
// listing and a refresh cost in list calls, and what they find after changes made through the API.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>

#include "../support/emulator_process.hpp"
#include "pinfs/cache/index_sync.hpp"
#include "pinfs/service/factory.hpp"

namespace pinfs::cache {
namespace {

using pinfs::testing::EmulatorProcess;

class IndexSyncEmulator : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("index-sync-" + GetParam() + "-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    emulator_ = std::make_unique<EmulatorProcess>();
    service::ServiceConfig c;
    c.provider = GetParam();
    c.api_url = pinata() ? emulator_->base_url() : emulator_->base_url() + "/api";
    c.gateway_url = emulator_->base_url();
    if (pinata()) {
      c.credentials.jwt = emulator_->jwt();
    } else {
      c.credentials.api_key = emulator_->api_key();
      c.credentials.api_secret = emulator_->api_secret();
    }
    c.rate_per_minute = 0;
    c.list_rate_per_minute = 0;
    auto s = service::make_pin_service(c);
    ASSERT_TRUE(s) << s.error().describe();
    service_ = std::shared_ptr<service::PinService>(std::move(*s));
    auto index = open_sqlite_pin_index((dir_ / "index.db").string());
    ASSERT_TRUE(index);
    index_ = std::move(*index);
  }
  void TearDown() override {
    emulator_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  bool pinata() const { return GetParam() == "pinata"; }
  std::string list_endpoint() const { return pinata() ? "GET /data/pinList" : "GET /api/pinning/pins/"; }

  IndexSync make_sync(std::chrono::seconds reconcile = std::chrono::hours(6)) {
    IndexSyncOptions options;
    options.reconcile_interval = reconcile;
    options.clock = [this] { return static_cast<std::int64_t>(std::time(nullptr)) + clock_offset_; };
    return IndexSync(service_, *index_, options);
  }
  void bulk(int n) {
    int status = 0;
    auto answer = emulator_->request_with_status("POST", "/_emulator/pins/bulk",
                                                 "{\"count\":" + std::to_string(n) + "}", status);
    ASSERT_EQ(status, 200) << answer;
  }
  std::uint64_t list_requests() {
    rapidjson::Document d;
    d.Parse(emulator_->request("GET", "/_emulator/stats").c_str());
    if (!d.IsObject() || !d.HasMember("requests") || !d["requests"].HasMember(list_endpoint().c_str()))
      return 0;
    return d["requests"][list_endpoint().c_str()].GetUint64();
  }
  service::Pin upload(const std::string& name, const std::string& content) {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    service::FileUpload up;
    up.local_path = path.string();
    up.name = name;
    auto pin = service_->upload_file(up);
    EXPECT_TRUE(pin) << pin.error().describe();
    return pin ? *pin : service::Pin{};
  }
  bool indexed(const std::string& name) const { return !index_->by_name(name).empty(); }

  std::filesystem::path dir_;
  std::unique_ptr<EmulatorProcess> emulator_;
  std::shared_ptr<service::PinService> service_;
  std::unique_ptr<PinIndex> index_;
  std::int64_t clock_offset_ = 0;
};

TEST_P(IndexSyncEmulator, listing_costs_one_call_a_page_and_an_unchanged_refresh_at_most_two) {
  bulk(2500);
  auto sync = make_sync();
  auto first = sync.refresh();
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_TRUE(first->full);
  EXPECT_EQ(index_->size(), 2500u);
  EXPECT_EQ(sync.list_calls(), 3u);
  EXPECT_EQ(list_requests(), 3u);
  EXPECT_TRUE(indexed("bulk-0001234.txt"));

  auto again = sync.refresh();
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_FALSE(again->full);
  EXPECT_TRUE(again->empty());
  EXPECT_LE(list_requests() - 3, 2u);
  EXPECT_EQ(list_requests() - 3, pinata() ? 2u : 1u);  // AIOZ: one newest-first page, its count unchanged
}

TEST_P(IndexSyncEmulator, refresh_finds_pins_added_and_removed_through_the_api) {
  bulk(1200);
  auto sync = make_sync();
  ASSERT_TRUE(sync.refresh());
  auto added = upload("added.txt", "added through the API");
  auto victim = index_->by_name("bulk-0000100.txt");
  ASSERT_EQ(victim.size(), 1u);
  ASSERT_TRUE(service_->unpin({victim[0].id, victim[0].cid}));
  auto changes = sync.refresh();
  ASSERT_TRUE(changes) << changes.error().describe();
  EXPECT_TRUE(indexed("added.txt"));
  EXPECT_FALSE(indexed("bulk-0000100.txt"));
  EXPECT_EQ(index_->size(), 1200u);
  ASSERT_FALSE(changes->upserted.empty());
  EXPECT_EQ(changes->upserted.front().name, "added.txt");
  ASSERT_EQ(changes->removed.size(), 1u);
  EXPECT_EQ(changes->removed[0].name, "bulk-0000100.txt");
  // Pinata finds the removal by its unpin date; AIOZ by its count, then a full listing.
  EXPECT_EQ(changes->full, !pinata());
}

TEST_P(IndexSyncEmulator, a_rename_made_through_the_api_is_caught) {
  bulk(50);
  auto sync = make_sync(std::chrono::seconds(3600));
  ASSERT_TRUE(sync.refresh());
  auto pins = index_->by_name("bulk-0000007.txt");
  ASSERT_EQ(pins.size(), 1u);
  ASSERT_TRUE(service_->rename(pins[0], "renamed.txt"));
  ASSERT_TRUE(sync.refresh());
  if (pinata()) {
    // hashMetadata leaves no trace a "since" filter sees: only the reconcile catches it.
    EXPECT_TRUE(indexed("bulk-0000007.txt"));
    EXPECT_FALSE(indexed("renamed.txt"));
    clock_offset_ = 3600;
    auto reconciled = sync.refresh();
    ASSERT_TRUE(reconciled);
    EXPECT_TRUE(reconciled->full);
  }
  // AIOZ renames by a new pin and an unpin: the refresh sees both.
  EXPECT_FALSE(indexed("bulk-0000007.txt"));
  EXPECT_TRUE(indexed("renamed.txt"));
  EXPECT_EQ(index_->size(), 50u);
}

INSTANTIATE_TEST_SUITE_P(Providers, IndexSyncEmulator, ::testing::Values("pinata", "aioz"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace pinfs::cache
