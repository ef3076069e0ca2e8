// The verified reader against the in-memory gateway and gateways that lie or fail: every read ends in the
// right bytes or an errno, never in a wrong byte, for CIDv0 and CIDv1 files of one, several and more than
// 174 leaves, read sequentially and at random offsets.
#include "pinfs/service/verified_reader.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>

#include "pinfs/cid/cid.hpp"
#include "pinfs/service/fake_pin_service.hpp"
#include "pinfs/service/faulty_pin_service.hpp"
#include "pinfs/service/verified_faults.hpp"

namespace pinfs::service {
namespace {

std::string pattern(std::size_t size, std::uint64_t seed = 7) {
  std::mt19937_64 gen(seed);
  std::string s(size, '\0');
  for (auto& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

constexpr std::size_t kLeaf = 262144;

// Collects what the reader hands on and checks every byte against the true content as it arrives.
struct Checked {
  explicit Checked(const std::string& c) : content(c) {}
  const std::string& content;
  std::uint64_t wrong = 0, delivered = 0;
  std::string out;  // the bytes of [want_begin, want_end)
  std::uint64_t want_begin = 0, want_end = 0;
  bool aligned = true;

  VerifiedSink sink() {
    return [this](std::uint64_t offset, const char* data, std::size_t size) {
      if (offset + size > content.size() || std::memcmp(content.data() + offset, data, size) != 0) ++wrong;
      delivered += size;
      if (offset % kLeaf != 0 || (size != kLeaf && offset + size != content.size())) aligned = false;
      const std::uint64_t lo = std::max(offset, want_begin), hi = std::min(offset + size, want_end);
      if (lo < hi && lo == want_begin + out.size()) out.append(data + (lo - offset), hi - lo);
      return true;
    };
  }
};

struct Layout {
  int version;
  std::size_t size;
};

std::string layout_name(const ::testing::TestParamInfo<Layout>& info) {
  const char* leaves = info.param.size <= kLeaf        ? "one_leaf"
                       : info.param.size < 174 * kLeaf ? "several"
                                                       : "deep";
  return "v" + std::to_string(info.param.version) + "_" + leaves;
}

class VerifiedRead : public ::testing::TestWithParam<Layout> {
 protected:
  void SetUp() override {
    fake_ = std::make_shared<FakePinService>();
    content_ = pattern(GetParam().size, GetParam().size);
    cid_ = fake_->store_content(content_, GetParam().version);
    tampering_ = std::make_shared<TamperingGateway>(fake_);
    faulty_ = std::make_shared<FaultyGateway>(tampering_);
    reader_ = std::make_unique<VerifiedReader>(faulty_);
  }

  // Reads [offset, offset + length) and says whether it ended in the right bytes; a wrong byte fails the
  // test.
  Result<void> read_range(std::uint64_t offset, std::uint64_t length) {
    Checked checked(content_);
    checked.want_begin = offset;
    checked.want_end = std::min<std::uint64_t>(offset + length, content_.size());
    auto got = reader_->read(cid_, offset, length, checked.sink());
    EXPECT_EQ(checked.wrong, 0u) << "wrong bytes handed on at " << offset;
    if (!got) return std::unexpected(got.error());
    EXPECT_EQ(*got, checked.want_end - offset);
    EXPECT_EQ(checked.out, content_.substr(offset, checked.want_end - offset));
    EXPECT_TRUE(checked.aligned) << "a piece that is not a whole leaf";
    return {};
  }

  // Sequentially in 1 MiB pieces, then at 8 random offsets; the first error ends it.
  Result<void> read_all_ways() {
    for (std::uint64_t at = 0; at < content_.size(); at += 1 << 20)
      if (auto ok = read_range(at, 1 << 20); !ok) return ok;
    std::mt19937_64 gen(GetParam().size);
    for (int i = 0; i < 8; ++i) {
      const std::uint64_t at = gen() % content_.size();
      if (auto ok = read_range(at, 1 + gen() % 70000); !ok) return ok;
    }
    return {};
  }

  std::shared_ptr<FakePinService> fake_;
  std::shared_ptr<TamperingGateway> tampering_;
  std::shared_ptr<FaultyGateway> faulty_;
  std::unique_ptr<VerifiedReader> reader_;
  std::string content_, cid_;
};

TEST_P(VerifiedRead, ReadsEveryByteSequentiallyAndAtRandom) {
  ASSERT_TRUE(read_all_ways());
  EXPECT_EQ(reader_->stats().mismatches.load(), 0u);
  EXPECT_GT(reader_->stats().leaves_verified.load(), 0u);
}

TEST_P(VerifiedRead, InnerNodesAreFetchedOnceThenCached) {
  ASSERT_TRUE(read_range(0, content_.size()));
  const auto blocks = reader_->stats().blocks_fetched.load();
  ASSERT_TRUE(read_all_ways());
  if (GetParam().size > kLeaf) {
    EXPECT_EQ(reader_->stats().blocks_fetched.load(), blocks) << "inner nodes fetched again";
  }
}

// Each lie once: the retry gives the right bytes.
TEST_P(VerifiedRead, OneLieIsRetriedAndTheRightBytesArrive) {
  for (Tamper tamper : {Tamper::FlipByte, Tamper::Truncate, Tamper::FlipBlock}) {
    reader_ = std::make_unique<VerifiedReader>(faulty_);  // cold: the root block is fetched again
    tampering_->set(tamper, 1);
    auto ok = read_range(0, content_.size());
    EXPECT_TRUE(ok) << static_cast<int>(tamper) << ": " << (ok ? "" : ok.error().describe());
    tampering_->set(tamper, 1, content_.size() / 2);
    ok = read_all_ways();
    EXPECT_TRUE(ok) << static_cast<int>(tamper) << ": " << (ok ? "" : ok.error().describe());
  }
}

// A gateway that always lies: the right bytes (from a checkable block) or EIO, never a wrong byte.
TEST_P(VerifiedRead, AGatewayThatAlwaysLiesGivesEioOrTheRightBytes) {
  for (Tamper tamper : {Tamper::FlipByte, Tamper::Truncate, Tamper::FlipBlock}) {
    reader_ = std::make_unique<VerifiedReader>(faulty_);
    tampering_->set(tamper, -1);
    const auto before = tampering_->tampered();
    auto ok = read_all_ways();
    if (!ok) {
      EXPECT_EQ(ok.error().errnum, EIO) << ok.error().describe();
    }
    if (tampering_->tampered() > before) {
      EXPECT_GT(reader_->stats().mismatches.load(), 0u);
      // Raw leaves have no other checkable source: a lie there that lasts is EIO.
      if (GetParam().version == 1 && tamper != Tamper::FlipBlock) {
        EXPECT_FALSE(ok);
      }
      if (tamper == Tamper::FlipBlock) {
        EXPECT_FALSE(ok);  // every file's first block is its root
      }
    }
    tampering_->set(Tamper::None);
  }
}

// Errors the gateway reports (5xx, resets, stalls after the retrying client gave up) are the errno.
TEST_P(VerifiedRead, GatewayErrorsAreTheErrnoAndNothingWrongIsHandedOn) {
  for (Error error : {Error{EIO, "503 after retries"}, Error{ETIMEDOUT, "stalled"}, Error{EIO, "reset"}}) {
    for (const char* call : {"read", "block"}) {
      reader_ = std::make_unique<VerifiedReader>(faulty_);
      faulty_->faults().clear();
      FaultRule rule;
      rule.call = call;
      rule.error = error;
      rule.times = -1;
      faulty_->faults().add(rule);
      auto ok = read_range(0, std::min<std::size_t>(content_.size(), 3 << 20));
      const bool reached = faulty_->faults().injected(call) > 0;
      if (reached) {
        ASSERT_FALSE(ok) << call;
        EXPECT_EQ(ok.error().errnum, error.errnum) << ok.error().describe();
      } else {
        EXPECT_TRUE(ok);  // a file of one raw block makes no ranged request
      }
      faulty_->faults().clear();
      EXPECT_TRUE(read_range(0, 3 << 20)) << "a failure must not stick";
    }
  }
}

// A local copy (the disk cache of an earlier mount) with one corrupted byte and its last leaf missing: every
// leaf it holds intact comes from it, the bad and missing ones from the gateway, and the reader gets the
// right bytes in whole leaves, each to the sink of where it came from.
TEST_P(VerifiedRead, LocalCopyLeavesAreCheckedAndOnlyBadOrMissingOnesAreFetched) {
  std::string held = content_;
  const std::uint64_t bad = content_.size() / 3;
  held[bad] ^= 0x5a;
  const std::uint64_t holds = content_.size() > kLeaf ? (content_.size() - 1) / kLeaf * kLeaf : held.size();
  Checked from_gateway(content_), from_copy(content_);
  from_gateway.want_end = from_copy.want_end = 0;  // only the checks of every byte, no collected range
  std::uint64_t reads = 0;
  LocalCopy local;
  local.size = held.size();
  local.read = [&](std::uint64_t at, std::size_t n, char* out) {
    ++reads;
    if (at + n > holds) return false;
    std::memcpy(out, held.data() + at, n);
    return true;
  };
  local.sink = from_copy.sink();
  auto got = reader_->read(cid_, 0, content_.size(), from_gateway.sink(), &local);
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_EQ(*got, content_.size());
  EXPECT_EQ(from_gateway.wrong + from_copy.wrong, 0u);
  EXPECT_EQ(from_gateway.delivered + from_copy.delivered, content_.size());
  EXPECT_TRUE(from_gateway.aligned && from_copy.aligned);
  EXPECT_GT(reads, 0u);
  // (a dag-pb file of one leaf that does not match may just be laid out otherwise: not counted)
  EXPECT_EQ(reader_->stats().local_mismatches.load(),
            GetParam().version == 0 && content_.size() <= kLeaf ? 0u : 1u);
  if (content_.size() > kLeaf) {
    // the corrupted leaf and the missing last one came from the gateway, everything else from the copy
    const std::uint64_t last = content_.size() - holds;
    EXPECT_EQ(from_gateway.delivered, kLeaf + last);
    EXPECT_EQ(reader_->stats().local_leaves.load(), (content_.size() - kLeaf - last) / kLeaf);
  } else {
    EXPECT_EQ(from_gateway.delivered, content_.size());  // one leaf, and it is the bad one
  }

  // An intact copy: nothing but the DAG's inner nodes from the gateway (a one-raw-leaf file: nothing).
  held = content_;
  Checked again(content_);
  again.want_end = 0;
  local.sink = again.sink();
  VerifiedReader fresh(faulty_);
  const auto ranged = fresh.stats().range_requests.load();
  got = fresh.read(cid_, 0, content_.size(), from_gateway.sink(), &local);
  ASSERT_TRUE(got);
  // (the last leaf is still missing from this copy when there are several)
  EXPECT_EQ(again.delivered, content_.size() > kLeaf ? holds : content_.size());
  EXPECT_EQ(again.wrong, 0u);
  if (content_.size() <= kLeaf) {
    EXPECT_EQ(fresh.stats().blocks_fetched.load(), 0u);
    EXPECT_EQ(fresh.stats().range_requests.load(), ranged);
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, VerifiedRead,
                         ::testing::Values(Layout{0, 100000}, Layout{1, 100000}, Layout{0, 5 * kLeaf + 17},
                                           Layout{1, 5 * kLeaf + 17}, Layout{0, 175 * kLeaf + 1000},
                                           Layout{1, 175 * kLeaf + 1000}),
                         layout_name);

TEST(LeafMatches, RawAndKuboDagPbLeaves) {
  const std::string bytes = "hello world\n";
  const auto view = cid::ByteView(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  auto v1 = cid::Cid::parse("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4");
  auto v0 = cid::Cid::parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
  ASSERT_TRUE(v1 && v0);
  EXPECT_TRUE(leaf_matches(*v1, bytes.data(), bytes.size()));
  EXPECT_TRUE(leaf_matches(*v0, bytes.data(), bytes.size()));
  EXPECT_EQ(cid::cid_of_block(1, cid::Codec::Raw, view), *v1);
  std::string other = bytes;
  other[3] ^= 1;
  EXPECT_FALSE(leaf_matches(*v1, other.data(), other.size()));
  EXPECT_FALSE(leaf_matches(*v0, other.data(), other.size()));
  EXPECT_FALSE(leaf_matches(*v1, bytes.data(), bytes.size() - 1));
}

TEST(VerifiedReaderErrors, ADirectoryIsEisdirAndAnUnknownCidEnoent) {
  auto fake = std::make_shared<FakePinService>();
  auto dir = fake->add_directory("d", {{"a.txt", "alpha"}});
  VerifiedReader reader(fake);
  auto got = reader.read(dir.cid, 0, 10, [](std::uint64_t, const char*, std::size_t) { return true; });
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errnum, EISDIR);
  auto missing = reader.read("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", 0, 10,
                             [](std::uint64_t, const char*, std::size_t) { return true; });
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().errnum, ENOENT);
}

}  // namespace
}  // namespace pinfs::service
