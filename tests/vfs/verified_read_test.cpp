// Reads through the VFS from a gateway that lies: the right bytes or EIO, never a wrong byte, and nothing
// wrong in the content cache; for CIDv0 and CIDv1 files of one, several and more than 174 leaves, read
// sequentially and at random offsets. user.pinfs.verified says when every byte was checked.
#include <cstring>
#include <random>

#include "pinfs/service/verified_faults.hpp"
#include "vfs_fixture.hpp"

namespace pinfs::vfs::testing {
namespace {

constexpr std::size_t kLeaf = 262144;

struct Layout {
  int version;
  std::size_t size;
};

class VerifiedVfsRead : public VfsFixture, public ::testing::WithParamInterface<Layout> {
 protected:
  void start_tampered() {
    content_ = pattern(GetParam().size, static_cast<unsigned>(GetParam().size));
    pin_ = fake_->add_file("file.bin", content_, GetParam().version);
    tampering_ = std::make_shared<service::TamperingGateway>(fake_);
    vfs_ = std::make_unique<Vfs>(fake_, tampering_, options_);
    ASSERT_TRUE(vfs_->start());
  }

  // Sequentially in 128 KiB reads, then 6 random reads on a fresh handle; the first error ends it.
  // A wrong byte fails the test.
  Result<void> read_all_ways() {
    auto whole = cat("/file.bin");
    if (!whole) return std::unexpected(whole.error());
    EXPECT_TRUE(*whole == content_) << "wrong bytes from a sequential read";
    auto entry = walk("/file.bin");
    if (!entry) return std::unexpected(entry.error());
    auto opened = vfs_->open(entry->ino, O_RDONLY);
    if (!opened) return std::unexpected(opened.error());
    std::mt19937_64 gen(GetParam().size);
    std::vector<char> buf(200000);
    Result<void> result;
    for (int i = 0; i < 6 && result; ++i) {
      const std::uint64_t at = gen() % content_.size();
      auto n = vfs_->read(opened->fh, at, buf.size(), buf.data());
      if (!n) {
        result = std::unexpected(n.error());
        break;
      }
      EXPECT_EQ(*n, std::min<std::uint64_t>(buf.size(), content_.size() - at));
      EXPECT_EQ(std::memcmp(buf.data(), content_.data() + at, *n), 0) << "wrong bytes at " << at;
    }
    vfs_->release(opened->fh);
    return result;
  }

  std::string content_;
  service::Pin pin_;
  std::shared_ptr<service::TamperingGateway> tampering_;
};

TEST_P(VerifiedVfsRead, read_verified_every_lie_ends_in_the_right_bytes_or_eio) {
  start_tampered();
  EXPECT_EQ(xattr("/file.bin", "user.pinfs.verified"), "false");
  for (auto tamper : {service::Tamper::FlipByte, service::Tamper::Truncate, service::Tamper::FlipBlock}) {
    tampering_->set(tamper, -1);
    auto lied = read_all_ways();
    if (!lied) {
      EXPECT_EQ(lied.error().errnum, EIO) << lied.error().describe();
    }
    tampering_->set(service::Tamper::None);
  }
  // Nothing wrong was cached: with an honest gateway every byte is right, and all of it is verified.
  ASSERT_TRUE(read_all_ways());
  EXPECT_EQ(xattr("/file.bin", "user.pinfs.verified"), "true");
}

TEST_P(VerifiedVfsRead, read_verified_one_lie_is_retried) {
  start_tampered();
  for (auto tamper : {service::Tamper::FlipByte, service::Tamper::Truncate}) {
    tampering_->set(tamper, 1);
    auto ok = read_all_ways();
    EXPECT_TRUE(ok) << (ok ? "" : ok.error().describe());
  }
}

// Raw leaves can only be checked against their CID: a lasting lie there is EIO at read().
using VerifiedVfsReadV1 = VfsFixture;
TEST_F(VerifiedVfsReadV1, read_verified_a_lasting_lie_is_eio) {
  auto content = pattern(5 * kLeaf + 3);
  fake_->add_file("f.bin", content, 1);
  auto tampering = std::make_shared<service::TamperingGateway>(fake_);
  vfs_ = std::make_unique<Vfs>(fake_, tampering, options_);
  ASSERT_TRUE(vfs_->start());
  tampering->set(service::Tamper::FlipByte, -1, 3 * kLeaf + 5);
  auto got = cat("/f.bin");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errnum, EIO);
  EXPECT_EQ(xattr("/f.bin", "user.pinfs.verified"), "false");
  tampering->set(service::Tamper::None);
  auto again = cat("/f.bin");
  ASSERT_TRUE(again);
  EXPECT_TRUE(*again == content);
}

// [read.verified] A directory pin's nodes are checked against their CIDs too: a gateway that lies about the
// directory block once is retried and the right names are listed; one that keeps lying is EIO, never a
// wrong listing.
TEST_F(VerifiedVfsReadV1, read_verified_directory_pin_nodes_are_checked) {
  fake_->add_directory("site", {{"index.html", "<html>"}, {"sub/a.txt", "a"}});
  auto tampering = std::make_shared<service::TamperingGateway>(fake_);
  vfs_ = std::make_unique<Vfs>(fake_, tampering, options_);
  ASSERT_TRUE(vfs_->start());
  tampering->set(service::Tamper::FlipBlock, 1);
  EXPECT_EQ(ls("/site"), (std::vector<std::string>{"index.html", "sub"}));
  EXPECT_EQ(tampering->tampered(), 1u);

  vfs_.reset();
  vfs_ = std::make_unique<Vfs>(fake_, tampering, options_);
  ASSERT_TRUE(vfs_->start());
  tampering->set(service::Tamper::FlipBlock, -1);
  auto dir = walk("/site");
  ASSERT_TRUE(dir);
  auto listed = walk("/site/index.html");
  ASSERT_FALSE(listed);
  EXPECT_EQ(listed.error().errnum, EIO);
  tampering->set(service::Tamper::None);
  EXPECT_EQ(cat_text("/site/sub/a.txt"), "a");
}

std::string layout_name(const ::testing::TestParamInfo<Layout>& info) {
  const char* leaves = info.param.size <= kLeaf        ? "one_leaf"
                       : info.param.size < 174 * kLeaf ? "several"
                                                       : "deep";
  return "v" + std::to_string(info.param.version) + "_" + leaves;
}

INSTANTIATE_TEST_SUITE_P(Layouts, VerifiedVfsRead,
                         ::testing::Values(Layout{0, 100000}, Layout{1, 100000}, Layout{0, 5 * kLeaf + 17},
                                           Layout{1, 5 * kLeaf + 17}, Layout{0, 175 * kLeaf + 1000},
                                           Layout{1, 175 * kLeaf + 1000}),
                         layout_name);

}  // namespace
}  // namespace pinfs::vfs::testing
