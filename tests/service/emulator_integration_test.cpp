// One test body, both providers: the real clients against the real pinfs-emulator.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "../support/emulator_process.hpp"
#include "pinfs/cid/importer.hpp"
#include "pinfs/common/log.hpp"
#include "pinfs/service/factory.hpp"

namespace pinfs::service {
namespace {

using namespace std::chrono_literals;
using pinfs::testing::EmulatorProcess;
using Clock = std::chrono::steady_clock;

std::string pseudo_random(std::size_t size, std::uint32_t seed) {
  std::string s(size, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x & 0xff);
  }
  return s;
}

class ServiceIntegration : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("svc-it-" + GetParam() + "-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    emulator_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  bool pinata() const { return GetParam() == "pinata"; }

  EmulatorProcess& emulator(std::vector<std::string> extra_args = {}) {
    if (!emulator_)
      emulator_ = std::make_unique<EmulatorProcess>(EmulatorProcess::Options{std::move(extra_args), ""});
    return *emulator_;
  }

  ServiceConfig config() {
    auto& emu = emulator();
    ServiceConfig c;
    c.provider = GetParam();
    c.api_url = pinata() ? emu.base_url() : emu.base_url() + "/api";
    c.gateway_url = emu.base_url();
    if (pinata()) {
      c.credentials.jwt = emu.jwt();
    } else {
      c.credentials.api_key = emu.api_key();
      c.credentials.api_secret = emu.api_secret();
    }
    c.rate_per_minute = 0;  // unlimited unless a test is about rates
    c.list_rate_per_minute = 0;
    c.connect_timeout_s = 5;
    c.low_speed_time_s = 10;
    return c;
  }

  std::unique_ptr<PinService> service(const ServiceConfig& c) {
    auto s = make_pin_service(c);
    EXPECT_TRUE(s.has_value()) << s.error().describe();
    return s ? std::move(*s) : nullptr;
  }

  std::string staged(const std::string& name, const std::string& content) {
    const auto path = dir_ / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << content;
    return path.string();
  }

  std::string local_cid(const std::string& path, int version = 1) {
    cid::ImportOptions o;
    o.cid_version = version;
    auto r = cid::import_file(path, o);
    EXPECT_TRUE(r.has_value());
    return r ? r->cid.to_string() : "";
  }

  void add_fault(const std::string& json) {
    int status = 0;
    const std::string answer = emulator().request_with_status("POST", "/_emulator/faults", json, status);
    ASSERT_EQ(status, 200) << answer;
  }

  rapidjson::Document stats() {
    rapidjson::Document d;
    d.Parse(emulator().request("GET", "/_emulator/stats").c_str());
    return d;
  }
  std::uint64_t requests_to(const std::string& endpoint) {
    auto d = stats();
    if (!d.IsObject() || !d.HasMember("requests") || !d["requests"].HasMember(endpoint.c_str())) return 0;
    return d["requests"][endpoint.c_str()].GetUint64();
  }
  std::uint64_t responses_with(int status) {
    auto d = stats();
    const std::string key = std::to_string(status);
    if (!d.IsObject() || !d.HasMember("responses_by_status")) return 0;
    auto& m = d["responses_by_status"];
    return m.HasMember(key.c_str()) ? m[key.c_str()].GetUint64() : 0;
  }

  std::string totals_endpoint() const {
    // Stats keys are "METHOD /route/pattern" (docs/EMULATOR.md).
    return pinata() ? "GET /data/userPinnedDataTotal" : "GET /api/pinning/pins/";
  }
  std::string totals_path() const { return pinata() ? "/data/userPinnedDataTotal" : "/api/pinning/pins"; }
  std::string upload_path() const { return pinata() ? "/pinning/pinFileToIPFS" : "/api/pinning/"; }
  std::string auth_endpoint() const {
    return pinata() ? "GET /data/testAuthentication" : "GET /api/apiKeys/testAuthentication";
  }

  std::vector<Pin> all_pins(PinService& s) {
    std::vector<Pin> out;
    ListQuery q;
    q.page_size = 2;
    for (int guard = 0; guard < 100; ++guard) {
      auto page = s.list(q);
      EXPECT_TRUE(page.has_value()) << page.error().describe();
      if (!page) break;
      out.insert(out.end(), page->pins.begin(), page->pins.end());
      if (page->next_cursor.empty()) break;
      q.cursor = page->next_cursor;
    }
    return out;
  }

  std::filesystem::path dir_;
  std::unique_ptr<EmulatorProcess> emulator_;
};

TEST_P(ServiceIntegration, EveryCall) {
  auto svc = service(config());
  ASSERT_TRUE(svc);
  auto gw = make_gateway(config());
  ASSERT_TRUE(gw.has_value()) << gw.error().describe();
  Gateway& gateway = **gw;

  ASSERT_TRUE(svc->check_auth().has_value());

  // A file of three chunks, and two small ones for paging.
  const std::string big = pseudo_random(700 * 1024 + 13, 1);
  const std::string big_path = staged("big.bin", big);
  FileUpload up;
  up.local_path = big_path;
  up.name = "big.bin";
  std::uint64_t progress_seen = 0;
  up.progress = [&](const UploadProgress& p) { progress_seen = std::max(progress_seen, p.sent); };
  auto pin = svc->upload_file(up);
  ASSERT_TRUE(pin.has_value()) << pin.error().describe();
  EXPECT_EQ(pin->cid, local_cid(big_path));
  EXPECT_TRUE(pin->cid.starts_with("bafybei")) << pin->cid;
  EXPECT_GT(progress_seen, big.size());  // multipart overhead included

  for (int i = 0; i < 2; ++i) {
    FileUpload small;
    small.local_path = staged("s" + std::to_string(i), "small file " + std::to_string(i));
    small.name = "small-" + std::to_string(i) + ".txt";
    small.keyvalues = {{"idx", std::to_string(i)}};
    auto p = svc->upload_file(small);
    ASSERT_TRUE(p.has_value()) << p.error().describe();
    EXPECT_EQ(p->cid, local_cid(small.local_path));
  }

  const auto pins = all_pins(*svc);
  ASSERT_EQ(pins.size(), 3u);
  auto listed = std::find_if(pins.begin(), pins.end(), [&](const Pin& p) { return p.cid == pin->cid; });
  ASSERT_NE(listed, pins.end());
  EXPECT_EQ(listed->name, "big.bin");
  EXPECT_EQ(listed->size == 0, false);

  auto got = svc->get(PinRef{listed->id, listed->cid});
  ASSERT_TRUE(got.has_value()) << got.error().describe();
  EXPECT_EQ(got->cid, pin->cid);
  EXPECT_EQ(got->name, "big.bin");

  // Range read across a chunk boundary, and a raw block verified against its CID.
  std::string bytes;
  auto n = gateway.read(pin->cid, "", 262144 - 100, 5000, [&](const char* d, std::size_t s) {
    bytes.append(d, s);
    return true;
  });
  ASSERT_TRUE(n.has_value()) << n.error().describe();
  EXPECT_EQ(bytes, big.substr(262144 - 100, 5000));
  auto block = gateway.block(pin->cid);
  ASSERT_TRUE(block.has_value()) << block.error().describe();
  EXPECT_GT(block->size(), 0u);

  // Directory upload: parts named <name>/<relpath>, readable by path through the gateway.
  DirectoryUpload dir;
  dir.name = "site";
  dir.files = {{"index.html", staged("site/index.html", "<h1>hi</h1>")},
               {"img/a.txt", staged("site/img/a.txt", "nested file")}};
  auto dpin = svc->upload_directory(dir);
  ASSERT_TRUE(dpin.has_value()) << dpin.error().describe();
  EXPECT_TRUE(dpin->is_dir);
  std::string nested;
  auto nn = gateway.read(dpin->cid, "img/a.txt", 0, 100, [&](const char* d, std::size_t s) {
    nested.append(d, s);
    return true;
  });
  ASSERT_TRUE(nn.has_value()) << nn.error().describe();
  EXPECT_EQ(nested, "nested file");

  // Pin by CID of content nobody has: a job that stays searching (Pinata) / an unpinned pin (AIOZ).
  const std::string unknown = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";
  auto job = svc->pin_by_cid(unknown, "wanted", {});
  ASSERT_TRUE(job.has_value()) << job.error().describe();
  EXPECT_EQ(job->cid, unknown);
  EXPECT_NE(job->status, "pinned");
  auto jobs = svc->list_jobs();
  if (pinata()) {
    ASSERT_TRUE(jobs.has_value()) << jobs.error().describe();
    EXPECT_TRUE(std::any_of(jobs->begin(), jobs->end(), [&](const PinJob& j) { return j.cid == unknown; }));
  } else {
    ASSERT_FALSE(jobs.has_value());
    EXPECT_EQ(jobs.error().errnum, ENOTSUP);
  }

  // Metadata: Pinata adds and removes keys; AIOZ has no such call.
  auto meta = svc->update_metadata(PinRef{got->id, got->cid}, std::nullopt, {{"color", std::string("blue")}});
  if (pinata()) {
    ASSERT_TRUE(meta.has_value()) << meta.error().describe();
    auto after = svc->get(PinRef{got->id, got->cid});
    ASSERT_TRUE(after.has_value());
    EXPECT_EQ(after->keyvalues["color"], "blue");
    ASSERT_TRUE(
        svc->update_metadata(PinRef{got->id, got->cid}, std::nullopt, {{"color", std::nullopt}}).has_value());
    after = svc->get(PinRef{got->id, got->cid});
    ASSERT_TRUE(after.has_value());
    EXPECT_EQ(after->keyvalues.count("color"), 0u);
  } else {
    ASSERT_FALSE(meta.has_value());
    EXPECT_EQ(meta.error().errnum, ENOTSUP);
  }

  // Rename: the listing shows the new name once, the old name no more.
  auto renamed = svc->rename(*got, "renamed.bin");
  ASSERT_TRUE(renamed.has_value()) << renamed.error().describe();
  EXPECT_EQ(renamed->name, "renamed.bin");
  bool seen_new = false;
  for (int i = 0; i < 50 && !seen_new; ++i) {
    const auto now = all_pins(*svc);
    const auto count_new =
        std::count_if(now.begin(), now.end(), [](const Pin& p) { return p.name == "renamed.bin"; });
    const auto count_old =
        std::count_if(now.begin(), now.end(), [](const Pin& p) { return p.name == "big.bin"; });
    seen_new = count_new == 1 && count_old == 0;
    if (!seen_new) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(seen_new);

  auto totals = svc->totals();
  ASSERT_TRUE(totals.has_value()) << totals.error().describe();
  EXPECT_GE(totals->pin_count, 4u);

  // Unpin: gone afterwards.
  auto current = svc->get(PinRef{renamed->id, renamed->cid});
  ASSERT_TRUE(current.has_value()) << current.error().describe();
  ASSERT_TRUE(svc->unpin(PinRef{current->id, current->cid}).has_value());
  auto gone = svc->get(PinRef{current->id, current->cid});
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error().errnum, ENOENT);
}

TEST_P(ServiceIntegration, RetryAfterOn429IsHonoured) {
  auto svc = service(config());
  ASSERT_TRUE(svc);
  add_fault(R"({"path_prefix":")" + totals_path() +
            R"(","action":"status","status":429,"retry_after":1,"times":1})");
  const auto start = Clock::now();
  auto totals = svc->totals();
  const auto elapsed = Clock::now() - start;
  ASSERT_TRUE(totals.has_value()) << totals.error().describe();
  EXPECT_GE(elapsed, 950ms);  // waited what the server asked
  EXPECT_LT(elapsed, 5s);
  EXPECT_EQ(requests_to(totals_endpoint()), 2u);
  EXPECT_EQ(responses_with(429), 1u);
}

TEST_P(ServiceIntegration, ServiceUnavailableThreeTimesThenSuccess) {
  auto svc = service(config());
  ASSERT_TRUE(svc);
  add_fault(R"({"path_prefix":")" + totals_path() + R"(","action":"status","status":503,"times":3})");
  auto totals = svc->totals();
  ASSERT_TRUE(totals.has_value()) << totals.error().describe();
  EXPECT_EQ(requests_to(totals_endpoint()), 4u);
  EXPECT_EQ(responses_with(503), 3u);
}

TEST_P(ServiceIntegration, ResetMidUploadIsReplayedAndPinsOnce) {
  auto svc = service(config());
  ASSERT_TRUE(svc);
  const std::string content = pseudo_random(600 * 1024, 7);
  FileUpload up;
  up.local_path = staged("reset.bin", content);
  up.name = "reset.bin";
  add_fault(R"({"method":"POST","path_prefix":")" + upload_path() +
            R"(","action":"reset","during":"request","after_bytes":200000,"times":1})");
  auto pin = svc->upload_file(up);
  ASSERT_TRUE(pin.has_value()) << pin.error().describe();
  EXPECT_EQ(pin->cid, local_cid(up.local_path));
  const auto pins = all_pins(*svc);
  EXPECT_EQ(std::count_if(pins.begin(), pins.end(), [&](const Pin& p) { return p.cid == pin->cid; }), 1);
  const std::string endpoint = pinata() ? "POST /pinning/pinFileToIPFS" : "POST /api/pinning/";
  EXPECT_EQ(requests_to(endpoint), 2u);           // the reset attempt and its replay
  EXPECT_EQ(stats()["uploads"].GetUint64(), 1u);  // completed once
}

// [write.stream] A file still being written is sent as it grows (the multipart body chunked): the upload
// returns only after the writer completes it, with the CID of the whole file; an abandoned one pins nothing.
TEST_P(ServiceIntegration, GrowingFileIsUploadedAsItIsWrittenAndAbandonedOnePinsNothing) {
  auto svc = service(config());
  ASSERT_TRUE(svc);
  const std::string content = pseudo_random(3 * 1024 * 1024 + 17, 11);
  FileUpload up;
  up.local_path = staged("growing.bin", "");
  up.name = "growing.bin";
  up.growth = std::make_shared<http::GrowingFile>();
  std::atomic<bool> returned{false};
  std::thread writer([&] {
    std::ofstream out(up.local_path, std::ios::binary);
    for (std::size_t at = 0; at < content.size(); at += 256 * 1024) {
      out.write(content.data() + at,
                static_cast<std::streamsize>(std::min<std::size_t>(256 * 1024, content.size() - at)));
      out.flush();
      up.growth->grew();
      std::this_thread::sleep_for(5ms);
      EXPECT_FALSE(returned.load());  // the upload waits for the rest of the file
    }
    out.close();
    up.growth->complete();
  });
  auto pin = svc->upload_file(up);
  returned = true;
  writer.join();
  ASSERT_TRUE(pin.has_value()) << pin.error().describe();
  EXPECT_EQ(pin->cid, local_cid(up.local_path));

  FileUpload dropped;
  dropped.local_path = staged("dropped.bin", content.substr(0, 100000));
  dropped.name = "dropped.bin";
  dropped.growth = std::make_shared<http::GrowingFile>();
  std::thread quitter([&] {
    std::this_thread::sleep_for(100ms);
    dropped.growth->abandon();
  });
  auto none = svc->upload_file(dropped);
  quitter.join();
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().errnum, ECANCELED) << none.error().describe();
  const auto pins = all_pins(*svc);
  ASSERT_EQ(pins.size(), 1u);
  EXPECT_EQ(pins[0].name, "growing.bin");
}

TEST_P(ServiceIntegration, UnauthorizedIsNotRetriedAndIsEacces) {
  auto c = config();
  c.credentials.jwt = pinata() ? "not-the-right-jwt-000" : "";
  c.credentials.api_key = pinata() ? "" : "wrong-key-000";
  c.credentials.api_secret = pinata() ? "" : "wrong-secret-000";
  auto svc = service(c);
  ASSERT_TRUE(svc);
  auto auth = svc->check_auth();
  ASSERT_FALSE(auth.has_value());
  EXPECT_EQ(auth.error().errnum, EACCES);
  EXPECT_EQ(requests_to(auth_endpoint()), 1u);
  auto list = svc->list({});
  ASSERT_FALSE(list.has_value());
  EXPECT_EQ(list.error().errnum, EACCES);
}

// Calls of the class the emulator limits: Pinata's /pinning/ (pin jobs), AIOZ's one class (totals).
Result<void> pinning_class_call(PinService& svc, bool pinata) {
  if (pinata) {
    auto jobs = svc.list_jobs();
    if (!jobs) return std::unexpected(jobs.error());
    return {};
  }
  auto totals = svc.totals();
  if (!totals) return std::unexpected(totals.error());
  return {};
}

// The client starts from the documented plan rate (Pinata 60/min, AIOZ 180/min), then follows what the
// service announces: 600/min is used as 600/min (on the assumption alone, these calls would take over a
// minute), and not one call meets a 429.
TEST_P(ServiceIntegration, AnnouncedLimitIsUsedInsteadOfThePlanAssumption) {
  emulator({"--rate-limit", pinata() ? "pinata-pinning=600/min" : "aioz=600/min"});
  auto c = config();
  c.rate_per_minute.reset();  // the provider's documented defaults
  c.list_rate_per_minute.reset();
  auto svc = service(c);
  ASSERT_TRUE(svc);
  constexpr int kThreads = 4;
  const int per_thread = pinata() ? 60 : 100;  // 240 (Pinata, assumed 60/min) or 400 (AIOZ, 180/min)
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i)
        if (!pinning_class_call(*svc, pinata())) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(responses_with(429), 0u);
  EXPECT_EQ(requests_to(pinata() ? "GET /pinning/pinJobs" : totals_endpoint()),
            static_cast<std::uint64_t>(kThreads * per_thread));
  // The assumption would need more than 80 s for these (a sixth at once, the rest at 5/6 of the rate).
  EXPECT_LT(elapsed, 40s) << "calls waited on the assumed plan rate";
}

// Against a service that allows 30 a minute, 40 calls from four threads: the first 30 go, the other 10 wait
// for the announced reset, and the service never has to refuse one.
TEST_P(ServiceIntegration, AnnouncedLimitIsNeverExceeded) {
  emulator({"--rate-limit", pinata() ? "pinata-data=30/min" : "aioz=30/min"});
  auto c = config();
  c.rate_per_minute.reset();
  c.list_rate_per_minute.reset();
  auto svc = service(c);
  ASSERT_TRUE(svc);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i)
        if (!svc->totals()) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(responses_with(429), 0u);
  EXPECT_EQ(requests_to(totals_endpoint()), 40u);
}

TEST_P(ServiceIntegration, DebugLogsContainNoCredential) {
  auto& emu = emulator();
  const std::string log_path = (dir_ / "debug.log").string();
  auto previous = spdlog::default_logger();
  log::setup("trace", log_path);
  {
    auto svc = service(config());
    ASSERT_TRUE(svc);
    ASSERT_TRUE(svc->check_auth().has_value());
    FileUpload up;
    up.local_path = staged("log.bin", "log me not");
    up.name = "log.bin";
    ASSERT_TRUE(svc->upload_file(up).has_value());
    add_fault(R"({"path_prefix":")" + totals_path() + R"(","action":"status","status":503,"times":1})");
    ASSERT_TRUE(svc->totals().has_value());
    auto bad = config();
    bad.credentials.jwt = pinata() ? bad.credentials.jwt + "x" : "";
    bad.credentials.api_secret = pinata() ? "" : bad.credentials.api_secret + "x";
    auto wrong = service(bad);
    ASSERT_TRUE(wrong);
    EXPECT_FALSE(wrong->check_auth().has_value());
  }
  spdlog::default_logger()->flush();
  spdlog::set_default_logger(previous);
  std::ifstream in(log_path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string logs = text.str();
  EXPECT_NE(logs.find("http GET"), std::string::npos) << "the debug run logged nothing";
  EXPECT_NE(logs.find("retry"), std::string::npos);
  for (const std::string& secret : {emu.jwt(), emu.api_key(), emu.api_secret()}) {
    EXPECT_EQ(logs.find(secret), std::string::npos) << "credential in the log";
  }
}

TEST_P(ServiceIntegration, CorruptAnswersAreClearErrors) {
  auto svc = service(config());
  ASSERT_TRUE(svc);
  auto gw = make_gateway(config());
  ASSERT_TRUE(gw.has_value());
  FileUpload up;
  up.local_path = staged("corrupt.bin", "bytes that will be flipped");
  up.name = "corrupt.bin";
  auto pin = svc->upload_file(up);
  ASSERT_TRUE(pin.has_value()) << pin.error().describe();

  // A block whose bytes do not hash to its CID is refused.
  add_fault(R"({"path_prefix":"/ipfs/","action":"wrong_cid","times":1})");
  auto block = (*gw)->block(pin->cid);
  ASSERT_FALSE(block.has_value());
  EXPECT_EQ(block.error().errnum, EIO);
  auto good = (*gw)->block(pin->cid);
  ASSERT_TRUE(good.has_value()) << good.error().describe();
  EXPECT_EQ(std::string(good->begin(), good->end()), "bytes that will be flipped");

  // Malformed JSON is an EIO naming the call, not a crash.
  const std::string list_prefix = pinata() ? "/data/pinList" : "/api/pinning/pins";
  // (A 200 with a broken body: the emulator's "malformed" action currently keeps the original
  // Content-Length, which the client rightly treats as a truncated transfer and retries.)
  add_fault(R"({"path_prefix":")" + list_prefix +
            R"(","action":"status","status":200,"body":"{\"rows\":[1,","times":1})");
  auto page = svc->list({});
  ASSERT_FALSE(page.has_value());
  EXPECT_EQ(page.error().errnum, EIO);
  EXPECT_NE(page.error().message.find("JSON"), std::string::npos) << page.error().message;
  EXPECT_TRUE(svc->list({}).has_value());
}

INSTANTIATE_TEST_SUITE_P(Providers, ServiceIntegration, ::testing::Values("pinata", "aioz"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace pinfs::service
