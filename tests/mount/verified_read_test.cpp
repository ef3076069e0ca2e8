// [read.verified] Through a real mount, with the emulator's gateway faults: every read of a CIDv0 or CIDv1
// file of one, several or more than 174 leaves, sequential (`cat`) or at a random offset (`dd skip=`),
// ends in the right bytes or an error at the system call — never in wrong bytes with exit status 0.
#include <random>
#include <thread>

#include "mount_test_support.hpp"

namespace pinfs::testing {
namespace {

constexpr std::size_t kLeaf = 262144;

struct Sample {
  std::string name;
  std::string content;
};

class VerifiedRead : public MountTest {
 protected:
  PinfsMount::Options options() const override {
    auto o = MountTest::options();
    o.extra_args = {"--poll-interval", "1"};  // pins uploaded behind the mount's back show soon
    return o;
  }

  void upload_samples() {
    const std::size_t sizes[] = {100000, 5 * kLeaf + 17, 175 * kLeaf + 1000};
    int seed = 40;
    for (int version : {0, 1}) {
      for (std::size_t size : sizes) {
        Sample s;
        s.name = "v" + std::to_string(version) + "-" + std::to_string(size) + ".bin";
        s.content = write_random_file(src(s.name), size, ++seed);
        const std::string part = "file=@" + src(s.name) + ";filename=" + s.name;
        m().api_curl({"-X", "POST", "-F", part, "-F",
                      R"(pinataOptions={"cidVersion":)" + std::to_string(version) + "}"},
                     "/pinning/pinFileToIPFS");
        samples_.push_back(std::move(s));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the poll interval
  }

  void fault(const std::string& rule) {
    m().emulator().request("DELETE", "/_emulator/faults");
    if (!rule.empty()) m().emulator().request("POST", "/_emulator/faults", rule);
  }

  // Reads every sample sequentially and at a random offset; counts wrong bytes delivered with exit 0 and
  // reads that succeeded.
  void read_samples(const std::string& label, int* wrong, int* right, int* failed,
                    std::size_t max_size = ~std::size_t{0}) {
    std::mt19937_64 gen(samples_.size() + label.size());
    for (const auto& s : samples_) {
      if (s.content.size() > max_size) continue;
      const std::string path = m().path(s.name);
      auto r = run_process({"cat", path}, hermetic_env(), std::chrono::seconds(120));
      if (r.exit_code == 0) {
        if (r.out == s.content) {
          ++*right;
        } else {
          ++*wrong;
          ADD_FAILURE() << label << ": cat " << s.name << " exited 0 with wrong bytes";
        }
      } else {
        ++*failed;
        EXPECT_TRUE(r.err.find("Input/output error") != std::string::npos ||
                    r.err.find("timed out") != std::string::npos ||
                    r.err.find("Resource temporarily unavailable") != std::string::npos)
            << label << ": " << r.err;
      }
      const std::uint64_t block = gen() % (s.content.size() / 4096);
      auto dd = run_process(
          {"dd", "if=" + path, "bs=4096", "skip=" + std::to_string(block), "count=1", "status=none"},
          hermetic_env(), std::chrono::seconds(120));
      if (dd.exit_code == 0) {
        if (dd.out == s.content.substr(block * 4096, 4096)) {
          ++*right;
        } else {
          ++*wrong;
          ADD_FAILURE() << label << ": dd skip=" << block << " of " << s.name << " exited 0 with wrong bytes";
        }
      } else {
        ++*failed;
      }
    }
  }

  std::vector<Sample> samples_;
};

TEST_P(VerifiedRead, EveryGatewayFaultEndsInTheRightBytesOrAnError) {
  upload_samples();
  int wrong = 0, right = 0, failed = 0;
  // Lasting faults first, while nothing is cached: each read is cold.
  // Lies last; resets and 5xx come and go (a lasting one only costs the retrying client's backoff before
  // the same errno, which tests/vfs checks), on the smaller files to keep the test short.
  const std::pair<std::string, std::size_t> faults[] = {
      {R"({"path_prefix":"/ipfs/","action":"wrong_cid"})", ~std::size_t{0}},
      {R"({"path_prefix":"/ipfs/","action":"truncate"})", ~std::size_t{0}},
      {R"({"path_prefix":"/ipfs/","action":"reset_response","after_bytes":1000,"probability":0.3})",
       6 * kLeaf},
      {R"({"path_prefix":"/ipfs/","action":"status","status":503,"probability":0.3})", 6 * kLeaf},
  };
  for (const auto& [rule, max_size] : faults) {
    fault(rule);
    read_samples(rule, &wrong, &right, &failed, max_size);
  }
  EXPECT_GT(failed, 0) << "no fault reached a read";
  // One lie, once: retried, the right bytes.
  for (const char* action : {"wrong_cid", "truncate"}) {
    fault(std::string(R"({"path_prefix":"/ipfs/","times":1,"action":")") + action + "\"}");
    int once_failed = 0;
    read_samples(action, &wrong, &right, &once_failed);
    EXPECT_EQ(once_failed, 0) << action << " once was not retried";
  }
  // A stalling gateway is slow, not wrong.
  fault(R"({"path_prefix":"/ipfs/","action":"stall","stall_ms":300})");
  read_samples("stall", &wrong, &right, &failed);
  fault("");
  EXPECT_EQ(wrong, 0);
  EXPECT_GT(right, 0);
  // After all that, nothing wrong was cached and every file is verified.
  for (const auto& s : samples_) {
    EXPECT_TRUE(cat(m().path(s.name)) == s.content) << s.name;
    EXPECT_EQ(xattr(m().path(s.name), "user.pinfs.verified"), "true") << s.name;
  }
  EXPECT_NE(m().daemon_log().find("does not match its CID"), std::string::npos)
      << "a mismatch was not logged naming the CID";
}

INSTANTIATE_TEST_SUITE_P(Pinata, VerifiedRead, ::testing::Values(std::string("pinata")), provider_name);

}  // namespace
}  // namespace pinfs::testing
