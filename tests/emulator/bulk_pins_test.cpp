// POST /_emulator/pins/bulk and --bulk-pins: many real pins at once, listed, served and kept.
#include <set>

#include "emulator_test_support.hpp"
#include "pinfs/cid/importer.hpp"

namespace pinfs::testing {
namespace {

std::string importer_cid(const std::string& content) {
  cid::FileImporter importer(cid::ImportOptions{}, [](const cid::Cid&, cid::ByteView) {});
  importer.update(cid::ByteView(reinterpret_cast<const std::uint8_t*>(content.data()), content.size()));
  return importer.finish().cid.to_string();
}

std::string bulk(EmulatorProcess& emu, const std::string& body, int& status) {
  return emu.request_with_status("POST", "/_emulator/pins/bulk", body, status);
}

TEST(EmulatorBulkPins, creates_real_distinct_pins_with_spread_dates) {
  EmulatorProcess emu;
  int status = 0;
  auto answer = parse_json(bulk(emu, R"({"count":3000})", status));
  ASSERT_EQ(status, 200);
  EXPECT_EQ(answer["created"].GetUint64(), 3000u);
  EXPECT_EQ(answer["with_prefix"].GetUint64(), 3000u);

  auto cli = client_for(emu);
  std::set<std::string> names, cids;
  std::string newest, oldest;
  for (int offset = 0; offset < 3000; offset += 1000) {
    auto r = cli.Get(
        ("/data/pinList?status=pinned&includeCount=true&pageLimit=1000&pageOffset=" + std::to_string(offset))
            .c_str(),
        jwt_headers(emu));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    auto d = parse_json(r->body);
    EXPECT_EQ(d["count"].GetUint64(), 3000u);
    for (auto& row : d["rows"].GetArray()) {
      names.insert(str(row["metadata"], "name"));
      cids.insert(str(row, "ipfs_pin_hash"));
      if (newest.empty()) newest = str(row, "date_pinned");
      oldest = str(row, "date_pinned");
    }
  }
  EXPECT_EQ(names.size(), 3000u);
  EXPECT_EQ(cids.size(), 3000u);
  EXPECT_TRUE(names.contains("bulk-0000000.txt"));
  EXPECT_TRUE(names.contains("bulk-0002999.txt"));
  EXPECT_LT(oldest.substr(0, 4), newest.substr(0, 4) + "~");  // ISO dates sort as text
  EXPECT_NE(oldest.substr(0, 7), newest.substr(0, 7));        // spread over months, not one instant

  // The content is real: the gateway serves it and it hashes to the pin's CID.
  auto one = parse_json(cli.Get("/data/pinList?metadata[name]=bulk-0000042.txt", jwt_headers(emu))->body);
  ASSERT_EQ(one["rows"].Size(), 1u);
  const std::string cid = str(one["rows"][0], "ipfs_pin_hash");
  auto content = cli.Get(("/ipfs/" + cid).c_str());
  ASSERT_TRUE(content);
  ASSERT_EQ(content->status, 200);
  EXPECT_NE(content->body.find("pinfs bulk pin 42"), std::string::npos);
  EXPECT_EQ(importer_cid(content->body), cid);
  EXPECT_EQ(std::to_string(content->body.size()), std::to_string(one["rows"][0]["size"].GetUint64()));
  auto raw = cli.Get(("/ipfs/" + cid + "?format=raw").c_str());
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->body, content->body);

  // AIOZ sees the same account, newest first.
  auto aioz = cli.Get("/api/pinning/pins/?offset=0&limit=1&pinned=true&sortBy=created_at&sortOrder=DESC",
                      aioz_headers(emu));
  ASSERT_TRUE(aioz);
  auto ad = parse_json(aioz->body);
  EXPECT_EQ(ad["data"]["totals"]["files"].GetUint64(), 3000u);
  EXPECT_EQ(str(ad["data"]["pins"][0]["metadata"], "name"), "bulk-0002999.txt");
}

TEST(EmulatorBulkPins, numbering_continues_and_pins_survive_a_restart) {
  EmulatorProcess emu;
  int status = 0;
  bulk(emu, R"({"count":10})", status);
  ASSERT_EQ(status, 200);
  auto second = parse_json(bulk(emu, R"({"count":5,"span_days":2})", status));
  ASSERT_EQ(status, 200);
  EXPECT_EQ(second["with_prefix"].GetUint64(), 15u);
  emu.restart();
  auto cli = client_for(emu);
  auto d = parse_json(cli.Get("/data/pinList?status=pinned&includeCount=true", jwt_headers(emu))->body);
  EXPECT_EQ(d["count"].GetUint64(), 15u);
  auto one = parse_json(cli.Get("/data/pinList?metadata[name]=bulk-0000014.txt", jwt_headers(emu))->body);
  ASSERT_EQ(one["rows"].Size(), 1u);
  auto content = cli.Get(("/ipfs/" + str(one["rows"][0], "ipfs_pin_hash")).c_str());
  ASSERT_TRUE(content);
  EXPECT_EQ(content->status, 200);
  EXPECT_NE(content->body.find("pinfs bulk pin 14"), std::string::npos);
}

TEST(EmulatorBulkPins, unpinned_bulk_content_is_no_longer_served_and_bad_bodies_are_refused) {
  EmulatorProcess emu;
  int status = 0;
  bulk(emu, R"({"count":3})", status);
  ASSERT_EQ(status, 200);
  auto cli = client_for(emu);
  auto one = parse_json(cli.Get("/data/pinList?metadata[name]=bulk-0000001.txt", jwt_headers(emu))->body);
  const std::string cid = str(one["rows"][0], "ipfs_pin_hash");
  ASSERT_EQ(cli.Delete(("/pinning/unpin/" + cid).c_str(), jwt_headers(emu))->status, 200);
  auto content = cli.Get(("/ipfs/" + cid).c_str());
  ASSERT_TRUE(content);
  EXPECT_NE(content->status, 200);
  for (const char* body : {"", "{}", R"({"count":-1})", R"({"count":"5"})", R"({"count":99999999999})"}) {
    bulk(emu, body, status);
    EXPECT_EQ(status, 400) << body;
  }
}

TEST(EmulatorBulkPins, the_startup_option_fills_the_account_once) {
  EmulatorProcess emu(EmulatorProcess::Options{{std::string("--bulk-pins=1500")}, ""});
  auto count = [&]() -> std::uint64_t {
    auto cli = client_for(emu);  // a new connection: the one before a restart is gone
    auto r = cli.Get("/data/pinList?status=pinned&includeCount=true", jwt_headers(emu));
    if (!r) return 0;
    return parse_json(r->body)["count"].GetUint64();
  };
  EXPECT_EQ(count(), 1500u);
  emu.restart();  // the same option again: already there, nothing added
  EXPECT_EQ(count(), 1500u);
}

}  // namespace
}  // namespace pinfs::testing
