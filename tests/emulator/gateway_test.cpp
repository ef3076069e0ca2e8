// The gateway: whole files, single ranges (206/416), HEAD, raw blocks, directories.
#include "emulator_test_support.hpp"
#include "pinfs/cid/cid.hpp"

namespace pinfs::testing {
namespace {

class GatewayTest : public ::testing::Test {
 protected:
  EmulatorProcess emu;
  httplib::Client cli = client_for(emu);
};

TEST_F(GatewayTest, ServesWholeFilesAndRanges) {
  std::string data = random_bytes(5 * 262144 + 12345, 42);  // several chunks, uneven end
  for (int version : {0, 1}) {
    std::string cid = pinata_upload_cid(cli, emu, "data.bin", data, version);
    auto whole = cli.Get(("/ipfs/" + cid).c_str());
    ASSERT_TRUE(whole);
    EXPECT_EQ(whole->status, 200);
    EXPECT_EQ(whole->body.size(), data.size());
    EXPECT_TRUE(whole->body == data);
    EXPECT_EQ(whole->get_header_value("Accept-Ranges"), "bytes");
    // Ranges inside one chunk, across chunk boundaries, suffix and open-ended.
    const std::pair<std::size_t, std::size_t> ranges[] = {{0, 0},
                                                          {10, 99},
                                                          {262100, 262200},
                                                          {262144 * 2 - 5, 262144 * 4 + 5},
                                                          {data.size() - 1, data.size() - 1}};
    for (auto [a, b] : ranges) {
      auto r = cli.Get(("/ipfs/" + cid).c_str(),
                       {{"Range", "bytes=" + std::to_string(a) + "-" + std::to_string(b)}});
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 206);
      EXPECT_EQ(r->get_header_value("Content-Range"),
                "bytes " + std::to_string(a) + "-" + std::to_string(b) + "/" + std::to_string(data.size()));
      EXPECT_TRUE(r->body == data.substr(a, b - a + 1)) << a << "-" << b;
    }
    auto open = cli.Get(("/ipfs/" + cid).c_str(), {{"Range", "bytes=1000000-"}});
    ASSERT_TRUE(open);
    EXPECT_EQ(open->status, 206);
    EXPECT_TRUE(open->body == data.substr(1000000));
    // An end past the last byte is clamped to it (RFC 9110 §14.1.1), not promised and stalled on.
    auto past =
        cli.Get(("/ipfs/" + cid).c_str(), {{"Range", "bytes=100-" + std::to_string(data.size() + 5000)}});
    ASSERT_TRUE(past);
    EXPECT_EQ(past->status, 206);
    EXPECT_EQ(past->get_header_value("Content-Range"),
              "bytes 100-" + std::to_string(data.size() - 1) + "/" + std::to_string(data.size()));
    EXPECT_TRUE(past->body == data.substr(100));
    auto suffix = cli.Get(("/ipfs/" + cid).c_str(), {{"Range", "bytes=-100"}});
    ASSERT_TRUE(suffix);
    EXPECT_EQ(suffix->status, 206);
    EXPECT_TRUE(suffix->body == data.substr(data.size() - 100));
    auto beyond =
        cli.Get(("/ipfs/" + cid).c_str(), {{"Range", "bytes=" + std::to_string(data.size()) + "-"}});
    ASSERT_TRUE(beyond);
    EXPECT_EQ(beyond->status, 416);
    EXPECT_EQ(beyond->get_header_value("Content-Range"), "bytes */" + std::to_string(data.size()));
    for (const char* garbage : {"bytes=abc-", "bytes=5-2", "items=0-1", "bytes=0-1,5-6", "bytes=-0"}) {
      auto g = cli.Get(("/ipfs/" + cid).c_str(), {{"Range", garbage}});
      ASSERT_TRUE(g);
      EXPECT_EQ(g->status, 416) << garbage;
    }
  }
}

TEST_F(GatewayTest, HeadGivesLengthWithoutBody) {
  std::string cid = pinata_upload_cid(cli, emu, "h.txt", "head request body", 1);
  auto r = cli.Head(("/ipfs/" + cid).c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Length"), "17");
  EXPECT_TRUE(r->body.empty());
}

TEST_F(GatewayTest, RawFormatReturnsOneVerifiableBlock) {
  std::string data = random_bytes(600000, 3);
  std::string cid_text = pinata_upload_cid(cli, emu, "r.bin", data, 1);
  auto cid = cid::Cid::parse(cid_text);
  ASSERT_TRUE(cid);
  for (auto headers : {httplib::Headers{}, httplib::Headers{{"Accept", "application/vnd.ipld.raw"}}}) {
    std::string path = "/ipfs/" + cid_text + (headers.empty() ? "?format=raw" : "");
    auto r = cli.Get(path.c_str(), headers);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/vnd.ipld.raw");
    cid::ByteView block(reinterpret_cast<const std::uint8_t*>(r->body.data()), r->body.size());
    EXPECT_EQ(cid::cid_of_block(1, cid->codec(), block), *cid);  // the bytes hash to the CID asked for
    EXPECT_LT(r->body.size(), data.size());                      // the root node, not the file
  }
  // A leaf: raw codec, its bytes are the first chunk.
  std::string small = pinata_upload_cid(cli, emu, "s.bin", "leaf bytes", 1);
  auto leaf = cli.Get(("/ipfs/" + small + "?format=raw").c_str());
  ASSERT_TRUE(leaf);
  EXPECT_EQ(leaf->body, "leaf bytes");
}

TEST_F(GatewayTest, DirectoriesRedirectThenList) {
  auto r = pinata_upload(cli, emu,
                         {{"file", "A", "d/a.txt", ""},
                          {"file", "B", "d/sub/b.txt", ""},
                          {"pinataOptions", "{\"cidVersion\":1}", "", ""}});
  ASSERT_TRUE(r);
  std::string root = str(parse_json(r->body), "IpfsHash");
  auto redirect = cli.Get(("/ipfs/" + root).c_str());
  ASSERT_TRUE(redirect);
  EXPECT_EQ(redirect->status, 301);
  EXPECT_EQ(redirect->get_header_value("Location"), "/ipfs/" + root + "/");
  auto sub_redirect = cli.Get(("/ipfs/" + root + "/sub").c_str());
  ASSERT_TRUE(sub_redirect);
  EXPECT_EQ(sub_redirect->status, 301);
  auto listing = cli.Get(("/ipfs/" + root + "/").c_str());
  ASSERT_TRUE(listing);
  EXPECT_EQ(listing->status, 200);
  EXPECT_NE(listing->get_header_value("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(listing->body.find("a.txt"), std::string::npos);
  EXPECT_NE(listing->body.find("sub"), std::string::npos);
  auto file = cli.Get(("/ipfs/" + root + "/sub/b.txt").c_str());
  ASSERT_TRUE(file);
  EXPECT_EQ(file->body, "B");
}

TEST_F(GatewayTest, MissingAndInvalid) {
  auto unknown = cli.Get("/ipfs/bafkreigoswsg4iddq6gqexlizzkduic652iolmy2mwolrr6bbd5twezucq");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  auto invalid = cli.Get("/ipfs/not-a-cid");
  ASSERT_TRUE(invalid);
  EXPECT_EQ(invalid->status, 400);
  std::string cid = pinata_upload_cid(cli, emu, "x", "x", 1);
  auto no_such_path = cli.Get(("/ipfs/" + cid + "/child").c_str());
  ASSERT_TRUE(no_such_path);
  EXPECT_EQ(no_such_path->status, 404);
}

std::uint64_t read_varint(const std::string& s, std::size_t& pos) {
  std::uint64_t v = 0;
  for (int shift = 0; pos < s.size(); shift += 7) {
    auto b = static_cast<std::uint8_t>(s[pos++]);
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  return v;
}

TEST_F(GatewayTest, CarFormatHoldsEveryBlockVerifiably) {
  std::string data = random_bytes(3 * 262144 + 77, 12);
  for (int version : {0, 1}) {
    std::string root_text = pinata_upload_cid(cli, emu, "car.bin", data, version);
    auto root = cid::Cid::parse(root_text);
    ASSERT_TRUE(root);
    for (auto headers : {httplib::Headers{}, httplib::Headers{{"Accept", "application/vnd.ipld.car"}}}) {
      auto r = cli.Get(("/ipfs/" + root_text + (headers.empty() ? "?format=car" : "")).c_str(), headers);
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200);
      const std::string& car = r->body;
      std::size_t pos = 0;
      std::uint64_t header_len = read_varint(car, pos);
      std::string header = car.substr(pos, header_len);
      auto root_bytes = root->to_bytes();
      EXPECT_NE(header.find(std::string(root_bytes.begin(), root_bytes.end())), std::string::npos);
      EXPECT_NE(header.find("version"), std::string::npos);
      pos += header_len;
      int sections = 0;
      std::uint64_t leaf_bytes = 0;
      while (pos < car.size()) {
        std::uint64_t len = read_varint(car, pos);
        std::size_t cid_len = static_cast<std::uint8_t>(car[pos]) == 0x12 ? 34 : 36;
        auto c = cid::Cid::from_bytes(
            cid::ByteView(reinterpret_cast<const std::uint8_t*>(car.data() + pos), cid_len));
        ASSERT_TRUE(c);
        cid::ByteView block(reinterpret_cast<const std::uint8_t*>(car.data() + pos + cid_len), len - cid_len);
        EXPECT_EQ(cid::cid_of_block(c->version(), c->codec(), block), *c);  // every block verifies
        if (sections == 0) {
          EXPECT_EQ(*c, *root);
        }
        if (c->codec() == cid::Codec::Raw) leaf_bytes += block.size();
        pos += len;
        ++sections;
      }
      EXPECT_EQ(pos, car.size());
      EXPECT_EQ(sections, 5);  // the root and four leaves
      if (version == 1) {
        EXPECT_EQ(leaf_bytes, data.size());
      }
    }
  }
}

TEST_F(GatewayTest, EmptyFile) {
  std::string cid = pinata_upload_cid(cli, emu, "empty", "", 1);
  EXPECT_EQ(cid, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
  auto r = cli.Get(("/ipfs/" + cid).c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->body.empty());
}

}  // namespace
}  // namespace pinfs::testing
