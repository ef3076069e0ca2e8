// GET /data/pinList: pagination, every filter, and every metadata key-value operator in both
// query forms.
#include <set>
#include <thread>

#include "emulator_test_support.hpp"

namespace pinfs::testing {
namespace {

class PinListTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    emu = new EmulatorProcess();
    auto cli = client_for(*emu);
    // Five pins with known metadata; sizes 10..50 bytes (raw leaves: size = bytes).
    const char* words[] = {"alpha", "Beta", "gamma", "delta", "EPSILON"};
    for (int i = 0; i < 5; ++i) {
      std::string meta = R"({"name":"item-)" + std::to_string(i) + "-" + words[i] +
                         R"(","keyvalues":{"num":)" + std::to_string(i * 10) + R"(,"word":")" + words[i] +
                         R"(","day":"2024-01-0)" + std::to_string(i + 1) + R"(T00:00:00.000Z"}})";
      cids->push_back(
          pinata_upload_cid(cli, *emu, "f" + std::to_string(i), std::string(10 * (i + 1), 'a' + i), 1, meta));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // distinct pin times
    }
  }
  static void TearDownTestSuite() {
    delete emu;
    emu = nullptr;
  }

  static rapidjson::Document list(const std::string& query, int expect_status = 200) {
    auto cli = client_for(*emu);
    auto r = cli.Get(("/data/pinList?" + query).c_str(), jwt_headers(*emu));
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, expect_status) << query << " → " << r->body;
    return parse_json(r->body);
  }

  // Which of the five fixture pins (by index) a query returns.
  static std::set<int> which(const std::string& query) {
    auto d = list(query);
    std::set<int> out;
    if (!d.IsObject() || !d.HasMember("rows")) return out;
    for (auto& row : d["rows"].GetArray()) {
      std::string cid = row["ipfs_pin_hash"].GetString();
      for (int i = 0; i < 5; ++i)
        if ((*cids)[i] == cid) out.insert(i);
    }
    return out;
  }

  static std::set<int> kv(const std::string& key, const std::string& cond) {
    auto a = which("metadata[keyvalues]=" + url_encode("{\"" + key + "\":" + cond + "}"));
    auto b = which("metadata[keyvalues][" + key + "]=" + url_encode(cond));
    EXPECT_EQ(a, b) << "the two query forms disagree for " << key << " " << cond;
    return a;
  }

  static EmulatorProcess* emu;
  static std::vector<std::string>* cids;
};
EmulatorProcess* PinListTest::emu = nullptr;
std::vector<std::string>* PinListTest::cids = new std::vector<std::string>();

TEST_F(PinListTest, PaginatesNewestFirstWithCount) {
  auto d = list("pageLimit=2");
  EXPECT_EQ(d["count"].GetInt(), 5);
  ASSERT_EQ(d["rows"].Size(), 2u);
  EXPECT_EQ(std::string(d["rows"][0]["ipfs_pin_hash"].GetString()), (*cids)[4]);
  EXPECT_EQ(std::string(d["rows"][1]["ipfs_pin_hash"].GetString()), (*cids)[3]);
  auto p3 = list("pageLimit=2&pageOffset=4");
  ASSERT_EQ(p3["rows"].Size(), 1u);
  EXPECT_EQ(std::string(p3["rows"][0]["ipfs_pin_hash"].GetString()), (*cids)[0]);
  EXPECT_EQ(list("pageOffset=10")["rows"].Size(), 0u);
  EXPECT_EQ(list("")["rows"].Size(), 5u);  // default pageLimit 10
  EXPECT_EQ(list("pageLimit=1000")["rows"].Size(), 5u);
  list("pageLimit=1001", 400);
  list("pageLimit=0", 400);
  list("pageOffset=-1", 400);
  auto nc = list("includeCount=false&pageLimit=3");
  EXPECT_FALSE(nc.HasMember("count"));
  EXPECT_EQ(nc["rows"].Size(), 3u);
}

TEST_F(PinListTest, FiltersByCidHashSizeAndName) {
  EXPECT_EQ(which("cid=" + (*cids)[2]), std::set<int>{2});
  EXPECT_EQ(which("hashContains=" + (*cids)[3].substr(10, 12)), std::set<int>{3});
  EXPECT_EQ(which("pinSizeMin=20&pinSizeMax=40"), (std::set<int>{1, 2, 3}));
  EXPECT_EQ(which("pinSizeMin=41"), (std::set<int>{4}));
  EXPECT_EQ(which("metadata[name]=item-1"), std::set<int>{1});
  EXPECT_EQ(which("metadata[name]=ITEM"), (std::set<int>{0, 1, 2, 3, 4}));  // substring, any case
  EXPECT_EQ(which("metadata[name]=epsilon"), std::set<int>{4});
  list("pinSizeMin=abc", 400);
  list("status=bogus", 400);
}

TEST_F(PinListTest, FiltersByPinDates) {
  auto all = list("pageLimit=10");
  std::string t2 = all["rows"][2]["date_pinned"].GetString();  // fixture pin 2
  EXPECT_EQ(which("pinStart=" + url_encode(t2)), (std::set<int>{2, 3, 4}));
  EXPECT_EQ(which("pinEnd=" + url_encode(t2)), (std::set<int>{0, 1, 2}));
  EXPECT_EQ(which("pinStart=2000-01-01T00:00:00.000Z&pinEnd=2001-01-01T00:00:00.000Z"), std::set<int>{});
  list("pinStart=yesterday", 400);
}

TEST_F(PinListTest, KeyValueComparisonOperators) {
  EXPECT_EQ(kv("num", R"({"value":20,"op":"eq"})"), std::set<int>{2});
  EXPECT_EQ(kv("num", R"({"value":20,"op":"ne"})"), (std::set<int>{0, 1, 3, 4}));
  EXPECT_EQ(kv("num", R"({"value":20,"op":"gt"})"), (std::set<int>{3, 4}));
  EXPECT_EQ(kv("num", R"({"value":20,"op":"gte"})"), (std::set<int>{2, 3, 4}));
  EXPECT_EQ(kv("num", R"({"value":20,"op":"lt"})"), (std::set<int>{0, 1}));
  EXPECT_EQ(kv("num", R"({"value":20,"op":"lte"})"), (std::set<int>{0, 1, 2}));
  // Numbers compare numerically, not as text ("9" > "30" as text).
  EXPECT_EQ(kv("num", R"({"value":"9","op":"gt"})"), (std::set<int>{1, 2, 3, 4}));
  EXPECT_EQ(kv("num", R"({"value":10,"secondValue":30,"op":"between"})"), (std::set<int>{1, 2, 3}));
  EXPECT_EQ(kv("num", R"({"value":10,"secondValue":30,"op":"notBetween"})"), (std::set<int>{0, 4}));
  // ISO dates compare as times.
  EXPECT_EQ(kv("day", R"({"value":"2024-01-02T12:00:00.000Z","op":"gt"})"), (std::set<int>{2, 3, 4}));
  EXPECT_EQ(
      kv("day",
         R"({"value":"2024-01-01 00:00:00.000+00","secondValue":"2024-01-02 00:00:00.000+00","op":"between"})"),
      (std::set<int>{0, 1}));
  EXPECT_EQ(kv("word", R"({"value":"gamma","op":"eq"})"), std::set<int>{2});
  // A key no pin has matches nothing.
  EXPECT_EQ(kv("missing", R"({"value":"x","op":"ne"})"), std::set<int>{});
}

TEST_F(PinListTest, KeyValuePatternOperators) {
  EXPECT_EQ(kv("word", R"({"value":"%ta","op":"like"})"), (std::set<int>{1, 3}));  // Beta, delta
  EXPECT_EQ(kv("word", R"({"value":"b%","op":"like"})"), std::set<int>{});         // case-sensitive
  EXPECT_EQ(kv("word", R"({"value":"b%","op":"iLike"})"), std::set<int>{1});
  EXPECT_EQ(kv("word", R"({"value":"%a%","op":"notLike"})"), (std::set<int>{4}));  // EPSILON has no 'a'
  EXPECT_EQ(kv("word", R"({"value":"%A%","op":"notILike"})"), (std::set<int>{4}));
  EXPECT_EQ(kv("word", R"({"value":"_amma","op":"like"})"), std::set<int>{2});
  EXPECT_EQ(kv("word", R"({"value":"^[a-d]","op":"regexp"})"), (std::set<int>{0, 3}));
  EXPECT_EQ(kv("word", R"({"value":"^[a-d]","op":"iRegexp"})"), (std::set<int>{0, 1, 3}));
  EXPECT_EQ(kv("word", R"({"value":"ON$","op":"regexp"})"), std::set<int>{4});
}

TEST_F(PinListTest, CombinedConditionsAndErrors) {
  auto q = "metadata[name]=item&metadata[keyvalues]=" +
           url_encode(R"({"num":{"value":10,"op":"gte"},"word":{"value":"%a","op":"like"}})");
  EXPECT_EQ(which(q), (std::set<int>{1, 2, 3}));  // Beta(10), gamma(20), delta(30); alpha has num 0
  list("metadata[keyvalues]=" + url_encode(R"({"num":{"value":1,"op":"almost"}})"), 400);
  list("metadata[keyvalues]=" + url_encode(R"({"num":{"value":1,"op":"between"}})"), 400);
  list("metadata[keyvalues]=notjson", 400);
  list("metadata[keyvalues]=" + url_encode(R"({"w":{"value":"(","op":"regexp"}})"), 400);
}

TEST_F(PinListTest, StatusAndUnpinDates) {
  auto cli = client_for(*emu);
  auto extra = pinata_upload_cid(cli, *emu, "extra", "unpin me for the status test", 1);
  ASSERT_TRUE(cli.Delete(("/pinning/unpin/" + extra).c_str(), jwt_headers(*emu)));
  auto un = list("status=unpinned");
  ASSERT_EQ(un["rows"].Size(), 1u);
  EXPECT_EQ(std::string(un["rows"][0]["ipfs_pin_hash"].GetString()), extra);
  std::string when = un["rows"][0]["date_unpinned"].GetString();
  EXPECT_EQ(list("status=pinned")["count"].GetInt(), 5);
  EXPECT_EQ(list("status=all")["count"].GetInt(), 6);
  EXPECT_EQ(list("unpinStart=" + url_encode(when))["count"].GetInt(), 1);
  EXPECT_EQ(list("unpinEnd=2000-01-01T00:00:00Z")["count"].GetInt(), 0);
}

}  // namespace
}  // namespace pinfs::testing
