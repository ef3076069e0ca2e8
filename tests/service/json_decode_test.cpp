#include "pinfs/service/json_decode.hpp"

#include <gtest/gtest.h>

namespace pinfs::service::json {
namespace {

TEST(ParseTime, AcceptsProviderFormats) {
  EXPECT_EQ(parse_time("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_time("2023-05-23T08:29:43.264508Z"), 1684830583);
  EXPECT_EQ(parse_time("2019-01-01T00:00:00.000Z"), 1546300800);
  EXPECT_EQ(parse_time("2019-01-01T02:00:00+02:00"), 1546300800);
  EXPECT_EQ(parse_time("2019-01-01"), 1546300800);
  EXPECT_EQ(parse_time("0001-01-01T00:00:00Z"), 0);  // AIOZ's "never"
  EXPECT_EQ(parse_time("yesterday"), std::nullopt);
  EXPECT_EQ(parse_time("2019-13-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_time(""), std::nullopt);
}

TEST(FormatTime, RoundTrips) {
  EXPECT_EQ(format_time(1546300800), "2019-01-01T00:00:00.000Z");
  EXPECT_EQ(parse_time(format_time(1684830583)), 1684830583);
}

TEST(ErrorReason, ReadsEveryShapeTheProvidersUse) {
  EXPECT_EQ(
      error_reason(R"({"error":{"reason":"INVALID_CREDENTIALS","details":"Invalid/expired credentials"}})"),
      "INVALID_CREDENTIALS: Invalid/expired credentials");
  EXPECT_EQ(error_reason(R"({"error":{"reason":"KEYS_MUST_BE_STRINGS"}})"), "KEYS_MUST_BE_STRINGS");
  EXPECT_EQ(error_reason(R"({"error":"Invalid request format"})"), "Invalid request format");
  EXPECT_EQ(error_reason(R"({"message":"pin not found","status":"fail"})"), "pin not found");
  EXPECT_EQ(error_reason("Not Found\n"), "Not Found ");
  EXPECT_EQ(error_reason(""), "");
  EXPECT_EQ(error_reason(std::string(500, 'x')).size(), 200u);
}

TEST(PinataPinList, DecodesRowsWithNullsAndAbsentFields) {
  const char* body = R"({"count":3,"rows":[
    {"id":"r1","ipfs_pin_hash":"bafkreia","size":12,"user_id":"u","date_pinned":"2023-05-23T08:29:43.264Z",
     "date_unpinned":null,"metadata":{"name":"a.txt","keyvalues":{"k":"v","n":5,"b":true,"gone":null}},
     "regions":[],"mime_type":"text/plain","number_of_files":1},
    {"id":"r2","ipfs_pin_hash":"bafybeid","size":"300","metadata":{"name":null,"keyvalues":null},"number_of_files":4},
    {"ipfs_pin_hash":"QmX","metadata":null}
  ]})";
  auto page = decode_pinata_pin_list(body);
  ASSERT_TRUE(page.has_value()) << page.error().describe();
  EXPECT_EQ(page->total, 3u);
  ASSERT_EQ(page->pins.size(), 3u);
  const Pin& a = page->pins[0];
  EXPECT_EQ(a.id, "r1");
  EXPECT_EQ(a.cid, "bafkreia");
  EXPECT_EQ(a.name, "a.txt");
  EXPECT_EQ(a.size, 12u);
  EXPECT_EQ(a.pinned_at, 1684830583);
  EXPECT_FALSE(a.is_dir);
  EXPECT_EQ(a.keyvalues, (KeyValues{{"k", "v"}, {"n", "5"}, {"b", "true"}}));
  EXPECT_EQ(page->pins[1].size, 300u);
  EXPECT_TRUE(page->pins[1].is_dir);
  EXPECT_TRUE(page->pins[1].name.empty());
  EXPECT_TRUE(page->pins[1].keyvalues.empty());
  EXPECT_EQ(page->pins[2].cid, "QmX");
  EXPECT_EQ(page->pins[2].pinned_at, 0);
}

TEST(PinataPinList, MalformedInputIsAClearErrorNotACrash) {
  for (const char* body :
       {"", "{", "[]", "null", R"({"count":1})", R"({"rows":{}})",
        "\xff\xfe", R"({"rows":[{"ipfs_pin_hash":"a")"}) {
    auto page = decode_pinata_pin_list(body);
    ASSERT_FALSE(page.has_value()) << body;
    EXPECT_EQ(page.error().errnum, EIO);
    EXPECT_NE(page.error().message.find("pinList"), std::string::npos) << page.error().message;
  }
}

TEST(PinataUpload, DecodesIpfsHashAndSize) {
  auto pin = decode_pinata_upload(
      R"({"IpfsHash":"bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4","PinSize":12,"Timestamp":"2024-01-01T00:00:00Z","isDuplicate":null})");
  ASSERT_TRUE(pin.has_value());
  EXPECT_EQ(pin->cid, "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4");
  EXPECT_EQ(pin->size, 12u);
  EXPECT_EQ(pin->pinned_at, 1704067200);
  EXPECT_FALSE(decode_pinata_upload(R"({"PinSize":1})").has_value());
}

TEST(PinataJobs, DecodesRowsAndToleratesNulls) {
  auto jobs = decode_pinata_jobs(
      R"({"count":2,"rows":[{"id":"j1","ipfs_pin_hash":"Qm1","date_queued":"2024-01-01T00:00:00Z","name":"n","status":"searching","keyvalues":null,"host_nodes":null,"pin_policy":{}},{"id":"j2","ipfs_pin_hash":"Qm2","name":null,"status":"expired"}]})");
  ASSERT_TRUE(jobs.has_value());
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0].status, "searching");
  EXPECT_EQ((*jobs)[0].queued_at, 1704067200);
  EXPECT_EQ((*jobs)[1].name, "");
  EXPECT_EQ((*jobs)[1].status, "expired");
  auto job = decode_pinata_pin_by_hash(R"({"id":"j3","ipfsHash":"Qm3","status":"prechecking","name":"x"})");
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->id, "j3");
  EXPECT_EQ(job->cid, "Qm3");
}

TEST(PinataTotals, Decodes) {
  auto t = decode_pinata_totals(
      R"({"pin_count":7,"pin_size_total":"900","pin_size_with_replications_total":1800})");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->pin_count, 7u);
  EXPECT_EQ(t->size_total, 900u);
}

TEST(AiozPin, DecodesTheSeedExample) {
  const char* body = R"({"data":{"id":"3c3fec2a-ca65-4b8e-bcf3-c8e2ceaa23d2","file_record_id":"19164af7",
    "root_hash":"1220ce95","cid":"bafkreigoswsg4iddq6gqexlizzkduic652iolmy2mwolrr6bbd5twezucq","size":50922,
    "user_id":"c245","date_pinned":"2023-06-07T03:52:39.331369Z","date_unpinned":"0001-01-01T00:00:00Z",
    "pinned":true,"is_pin_by_hash":false,"sub_hash_status":"DONE","is_dir":false,
    "metadata":{"name":"test.png","type":"image/png"},"status":"DONE"},"status":"success"})";
  auto state = decode_aioz_pin_state(body);
  ASSERT_TRUE(state.has_value()) << state.error().describe();
  EXPECT_EQ(state->pin.id, "3c3fec2a-ca65-4b8e-bcf3-c8e2ceaa23d2");
  EXPECT_EQ(state->pin.cid, "bafkreigoswsg4iddq6gqexlizzkduic652iolmy2mwolrr6bbd5twezucq");
  EXPECT_EQ(state->pin.size, 50922u);
  EXPECT_EQ(state->pin.name, "test.png");
  EXPECT_EQ(state->pin.pinned_at, 1686109959);
  EXPECT_TRUE(state->pinned);
  EXPECT_FALSE(state->by_hash);
  EXPECT_EQ(state->status, "DONE");
}

TEST(AiozPinList, DecodesTotalsAndPinsAndEmptyAccount) {
  auto page = decode_aioz_pin_list(
      R"({"data":{"totals":{"files":100,"size":100000000000},"pins":[{"id":"p1","cid":"bafy1","size":14150060,"pinned":true,"is_dir":true,"metadata":{"name":"test","keyvalues":{"a":"b"}}}]},"status":"success"})");
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->total, 100u);
  ASSERT_EQ(page->pins.size(), 1u);
  EXPECT_TRUE(page->pins[0].is_dir);
  EXPECT_EQ(page->pins[0].keyvalues.at("a"), "b");
  auto empty = decode_aioz_pin_list(R"({"data":{"totals":null,"pins":null},"status":"success"})");
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->pins.empty());
  EXPECT_FALSE(empty->total.has_value());
  auto totals = decode_aioz_totals(R"({"data":{"totals":{"files":3,"size":42},"pins":[]}})");
  ASSERT_TRUE(totals.has_value());
  EXPECT_EQ(totals->pin_count, 3u);
  EXPECT_EQ(totals->size_total, 42u);
}

TEST(AiozPinList, MalformedInputIsAClearError) {
  for (const char* body : {"", "{}", R"({"data":[]})", R"({"data":{"pins":{}}})", "<html>502</html>"}) {
    auto page = decode_aioz_pin_list(body);
    ASSERT_FALSE(page.has_value()) << body;
    EXPECT_EQ(page.error().errnum, EIO);
  }
  EXPECT_FALSE(decode_aioz_pin(R"({"status":"success"})").has_value());
}

TEST(KeyvaluesJson, EscapesProperly) {
  EXPECT_EQ(keyvalues_json({{"a\"b", "c\nd"}}), R"({"a\"b":"c\nd"})");
  EXPECT_EQ(keyvalues_json({}), "{}");
}

}  // namespace
}  // namespace pinfs::service::json
