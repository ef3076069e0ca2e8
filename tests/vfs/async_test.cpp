#include <rapidjson/document.h>

#include <condition_variable>
#include <filesystem>
#include <map>
#include <thread>

#include "../support/emulator_process.hpp"
#include "pinfs/service/factory.hpp"
#include "vfs_fixture.hpp"

namespace pinfs::vfs::testing {
namespace {

using Async = VfsFixture;

TEST_F(Async, write_async_close_returns_before_the_upload) {
  options_.upload = UploadMode::Async;
  std::mutex gate;
  gate.lock();  // holds every upload until the test lets go
  fake_->set_upload_hook([&](const service::FileUpload&) { std::lock_guard wait(gate); });
  start();
  ASSERT_TRUE(put("later.bin", "async bytes"));
  EXPECT_FALSE(fake_->find_by_name("later.bin"));
  EXPECT_TRUE(eventually([&] { return xattr("/later.bin", "user.pinfs.status") == "uploading"; }));
  gate.unlock();
  EXPECT_TRUE(eventually([&] { return fake_->find_by_name("later.bin").has_value(); }));
  EXPECT_TRUE(eventually([&] { return xattr("/later.bin", "user.pinfs.status") == "pinned"; }));
  EXPECT_TRUE(std::filesystem::is_empty(options_.cache_dir + "/staging"));
}

TEST_F(Async, write_async_retries_and_shows_failed_reason) {
  options_.upload = UploadMode::Async;
  options_.upload_retry_delay = std::chrono::milliseconds(100);
  fake_->fail_next(service::FakeOp::UploadFile, Error{EAGAIN, "HTTP 503"}, 2);
  start();
  ASSERT_TRUE(put("retry.bin", "x"));
  EXPECT_TRUE(eventually([&] { return xattr("/retry.bin", "user.pinfs.status").starts_with("failed: "); }));
  EXPECT_TRUE(eventually([&] { return fake_->find_by_name("retry.bin").has_value(); }));
  EXPECT_GE(fake_->counters().upload_file.load(), 3u);
}

TEST_F(Async, durable_staged_journal_resumes_on_the_next_mount) {
  options_.upload = UploadMode::Async;
  fake_->fail_next(service::FakeOp::UploadFile, Error{EIO, "offline"}, -1);
  start();
  ASSERT_TRUE(put("survivor.txt", "must not be lost"));
  ASSERT_TRUE(vfs_->shutdown(false));  // like kill -9 as far as the service knows: nothing pinned
  vfs_.reset();
  EXPECT_FALSE(fake_->find_by_name("survivor.txt"));

  fake_->clear_failures();
  start();  // a new mount over the same cache dir
  EXPECT_TRUE(eventually([&] { return fake_->find_by_name("survivor.txt").has_value(); }));
  EXPECT_EQ(cat_text("/survivor.txt"), "must not be lost");
}

TEST_F(Async, write_async_shutdown_waits_for_uploads) {
  options_.upload = UploadMode::Async;
  options_.upload_retry_delay = std::chrono::milliseconds(60000);  // the worker will not retry in time
  fake_->fail_next(service::FakeOp::UploadFile, Error{EIO, "blip"});
  start();
  ASSERT_TRUE(put("final.txt", "abc"));
  EXPECT_TRUE(eventually([&] { return fake_->counters().upload_file.load() >= 1; }));
  auto done = vfs_->shutdown(true);
  ASSERT_TRUE(done) << done.error().describe();
  EXPECT_TRUE(fake_->find_by_name("final.txt"));
}

TEST_F(Async, write_sync_failed_upload_is_journaled_and_finished_at_shutdown) {
  start();
  fake_->fail_next(service::FakeOp::UploadFile, Error{EIO, "blip"});
  ASSERT_FALSE(put("late.txt", "abc"));
  ASSERT_TRUE(vfs_->shutdown(true));
  EXPECT_TRUE(fake_->find_by_name("late.txt"));
}

TEST_F(Async, write_async_rename_of_a_queued_file_pins_the_new_name) {
  options_.upload = UploadMode::Async;
  std::mutex gate;
  gate.lock();
  fake_->set_upload_hook([&](const service::FileUpload&) { std::lock_guard wait(gate); });
  start();
  ASSERT_TRUE(put("tmp.part", "content"));
  ASSERT_TRUE(vfs_->rename(kRootIno, "tmp.part", kRootIno, "final.bin", 0));
  gate.unlock();
  EXPECT_TRUE(eventually([&] { return fake_->find_by_name("final.bin").has_value(); }));
  EXPECT_FALSE(fake_->find_by_name("tmp.part"));
}

TEST_F(Async, mkdir_directory_pin_after_quiet_delay) {
  start();
  auto dir = vfs_->mkdir(kRootIno, "album", 0755);
  ASSERT_TRUE(dir);
  auto sub = vfs_->mkdir(dir->ino, "raw", 0755);
  ASSERT_TRUE(sub);
  ASSERT_TRUE(put("a.jpg", "AAAA", dir->ino));
  ASSERT_TRUE(put("b.jpg", pattern(300000), dir->ino));
  ASSERT_TRUE(put("c.cr2", "raw!", sub->ino));
  EXPECT_EQ(fake_->counters().upload_file.load(), 0u);  // files of a new directory are not pinned one by one
  EXPECT_TRUE(eventually([&] { return fake_->counters().upload_directory.load() == 1; }));
  auto pin = fake_->find_by_name("album");
  ASSERT_TRUE(pin);
  EXPECT_TRUE(pin->is_dir);
  EXPECT_TRUE(eventually([&] { return xattr("/album", "user.pinfs.cid") == pin->cid; }));
  auto names = ls("/album");
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"a.jpg", "b.jpg", "raw"}));
  EXPECT_EQ(cat_text("/album/raw/c.cr2"), "raw!");
  EXPECT_EQ(cat_text("/album/b.jpg"), pattern(300000));
}

TEST_F(Async, mkdir_directory_pin_on_fsync_of_the_directory) {
  options_.dir_quiet_delay = std::chrono::milliseconds(3600000);
  start();
  auto dir = vfs_->mkdir(kRootIno, "docs", 0755);
  ASSERT_TRUE(put("x.txt", "x", dir->ino));
  EXPECT_EQ(fake_->counters().upload_directory.load(), 0u);
  ASSERT_TRUE(vfs_->fsyncdir(dir->ino));
  EXPECT_EQ(fake_->counters().upload_directory.load(), 1u);
  EXPECT_TRUE(fake_->find_by_name("docs"));
}

TEST_F(Async, mkdir_directory_pin_at_shutdown) {
  options_.dir_quiet_delay = std::chrono::milliseconds(3600000);
  start();
  auto dir = vfs_->mkdir(kRootIno, "atexit", 0755);
  ASSERT_TRUE(put("y.txt", "y", dir->ino));
  ASSERT_TRUE(vfs_->shutdown(true));
  EXPECT_TRUE(fake_->find_by_name("atexit"));
}

TEST_F(Async, mkdir_directory_pin_waits_for_open_files) {
  options_.dir_quiet_delay = std::chrono::milliseconds(1);
  start();
  auto dir = vfs_->mkdir(kRootIno, "busy", 0755);
  auto created = vfs_->create(dir->ino, "open.txt", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(vfs_->write(created->file.fh, 0, "x", 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(fake_->counters().upload_directory.load(), 0u);
  ASSERT_TRUE(vfs_->flush(created->file.fh));
  vfs_->release(created->file.fh);
  EXPECT_TRUE(eventually([&] { return fake_->counters().upload_directory.load() == 1; }));
}

// Holds every upload in the fake's hook (called without its lock, on the uploading thread) until the test
// opens it, and counts how many are in there at once.
struct UploadGate {
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  int most = 0;
  bool open = false;
  std::map<std::string, int> uploads;  // name → upload calls

  void enter(const std::string& name) {
    std::unique_lock lock(mu);
    ++uploads[name];
    most = std::max(most, ++in_flight);
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(20), [&] { return open; });  // a bound, so a bug cannot hang
    --in_flight;
  }
  bool wait_in_flight(int n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(20), [&] { return in_flight == n; });
  }
  void release() {
    std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
};

std::string name_of(int i) {
  return "photo-" + std::to_string(i) + ".jpg";
}

int pins_named(const service::FakePinService& fake, const std::string& name) {
  int n = 0;
  for (const auto& pin : fake.pins()) n += pin.name == name ? 1 : 0;
  return n;
}

TEST_F(Async, transfers_upload_n_files_at_once_and_each_exactly_once) {
  options_.upload = UploadMode::Async;
  options_.transfers = 3;
  UploadGate gate;
  fake_->set_upload_hook([&](const service::FileUpload& up) { gate.enter(up.name); });
  start();
  constexpr int kFiles = 12;
  for (int i = 0; i < kFiles; ++i) ASSERT_TRUE(put(name_of(i), "distinct bytes " + std::to_string(i)));
  ASSERT_TRUE(gate.wait_in_flight(3));
  // Three are held in the service; every other file waits its turn in the queue.
  std::map<std::string, int> states;
  for (int i = 0; i < kFiles; ++i) ++states[xattr("/" + name_of(i), "user.pinfs.status")];
  EXPECT_EQ(states["uploading"], 3);
  EXPECT_EQ(states["queued"], kFiles - 3);
  gate.release();
  EXPECT_TRUE(eventually([&] {
    for (int i = 0; i < kFiles; ++i)
      if (xattr("/" + name_of(i), "user.pinfs.status") != "pinned") return false;
    return true;
  }));
  EXPECT_EQ(gate.most, 3);  // never more than --transfers, and more than one
  EXPECT_EQ(fake_->counters().upload_file.load(), static_cast<std::uint64_t>(kFiles));
  for (int i = 0; i < kFiles; ++i) {
    EXPECT_EQ(pins_named(*fake_, name_of(i)), 1) << name_of(i);
    EXPECT_EQ(gate.uploads[name_of(i)], 1) << name_of(i);
    EXPECT_EQ(cat_text("/" + name_of(i)), "distinct bytes " + std::to_string(i));
  }
  EXPECT_TRUE(std::filesystem::is_empty(options_.cache_dir + "/staging"));
}

// Each file's status only moves forward: queued → uploading → pinned, whichever transfer thread takes it.
TEST_F(Async, transfers_status_of_each_file_goes_queued_uploading_pinned) {
  options_.upload = UploadMode::Async;
  options_.transfers = 2;
  UploadGate gate;
  std::mutex seen_mu;
  std::map<std::string, std::vector<std::string>> seen;  // name → distinct states in the order seen
  // Read and recorded in one step: two threads noting what each read at other times cannot swap the order.
  auto note = [&](const std::string& name) {
    std::lock_guard lock(seen_mu);
    auto state = xattr("/" + name, "user.pinfs.status");
    auto& list = seen[name];
    if (list.empty() || list.back() != state) list.push_back(state);
    return state;
  };
  fake_->set_upload_hook([&](const service::FileUpload& up) {
    note(up.name);  // as the service receives it
    gate.enter(up.name);
  });
  start();
  constexpr int kFiles = 8;
  for (int i = 0; i < kFiles; ++i) {
    ASSERT_TRUE(put(name_of(i), "bytes of " + std::to_string(i)));
    note(name_of(i));
  }
  ASSERT_TRUE(gate.wait_in_flight(2));
  for (int i = 0; i < kFiles; ++i) note(name_of(i));
  gate.release();
  EXPECT_TRUE(eventually([&] {
    bool all = true;
    for (int i = 0; i < kFiles; ++i) {
      all = note(name_of(i)) == "pinned" && all;
    }
    return all;
  }));
  const std::vector<std::string> order = {"queued", "uploading", "pinned"};
  for (int i = 0; i < kFiles; ++i) {
    const auto& list = seen[name_of(i)];
    std::size_t at = 0;
    for (const auto& state : list) {
      auto it = std::find(order.begin() + static_cast<std::ptrdiff_t>(at), order.end(), state);
      ASSERT_NE(it, order.end()) << name_of(i) << ": " << state << " out of order";
      at = static_cast<std::size_t>(it - order.begin());
    }
    ASSERT_FALSE(list.empty());
    EXPECT_EQ(list.back(), "pinned") << name_of(i);
    EXPECT_NE(std::find(list.begin(), list.end(), "uploading"), list.end()) << name_of(i);
  }
  // The first two went straight to the transfer threads; the others were seen waiting.
  for (int i = 2; i < kFiles; ++i) EXPECT_EQ(seen[name_of(i)].front(), "queued") << name_of(i);
}

// rm while an attempt that then fails is in flight: nothing is retried and the staged bytes go.
TEST_F(Async, transfers_file_removed_during_a_failed_attempt_is_not_retried) {
  options_.upload = UploadMode::Async;
  options_.transfers = 2;
  UploadGate gate;
  fake_->set_upload_hook([&](const service::FileUpload& up) { gate.enter(up.name); });
  fake_->fail_next(service::FakeOp::UploadFile, Error{EIO, "blip"});  // decided after the hook
  start();
  ASSERT_TRUE(put("gone.tmp", "short-lived"));
  ASSERT_TRUE(gate.wait_in_flight(1));
  ASSERT_TRUE(vfs_->unlink(kRootIno, "gone.tmp"));
  gate.release();
  EXPECT_TRUE(eventually([&] { return std::filesystem::is_empty(options_.cache_dir + "/staging"); }));
  ASSERT_TRUE(put("after.txt", "later file"));  // the transfer threads still work
  EXPECT_TRUE(eventually([&] { return pins_named(*fake_, "after.txt") == 1; }));
  EXPECT_EQ(pins_named(*fake_, "gone.tmp"), 0);
  EXPECT_EQ(gate.uploads["gone.tmp"], 1);
}

// Sync mode: each close uploads on its writer's own thread, no lock held across the service call, so two
// programs closing at once are two uploads at once (a hook that waits for both would time out otherwise).
TEST_F(Async, write_sync_closes_from_different_writers_upload_concurrently) {
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0, most = 0;
  fake_->set_upload_hook([&](const service::FileUpload&) {
    std::unique_lock lock(mu);
    most = std::max(most, ++in_flight);
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(20), [&] { return most >= 2; });  // both arrived
    --in_flight;
  });
  start();
  Result<void> a, b;
  std::thread first([&] { a = put("first.txt", "from one program"); });
  std::thread second([&] { b = put("second.txt", "from another"); });
  first.join();
  second.join();
  EXPECT_TRUE(a) << a.error().describe();
  EXPECT_TRUE(b) << b.error().describe();
  EXPECT_EQ(most, 2);
  EXPECT_EQ(pins_named(*fake_, "first.txt"), 1);
  EXPECT_EQ(pins_named(*fake_, "second.txt"), 1);
}

// The pin index answers the dedupe question for small new files: no list call per file, whatever the
// number of transfer threads.
TEST_F(Async, transfers_small_files_take_no_remote_dedupe_lookup) {
  options_.upload = UploadMode::Async;
  options_.transfers = 4;
  start();
  ASSERT_TRUE(put("warm.txt", "first"));  // the first listing happens around here
  ASSERT_TRUE(eventually([&] { return xattr("/warm.txt", "user.pinfs.status") == "pinned"; }));
  const auto lists = fake_->counters().list.load();
  constexpr int kFiles = 40;
  for (int i = 0; i < kFiles; ++i)
    ASSERT_TRUE(put(name_of(i), std::string(4096, static_cast<char>('a' + i))));
  EXPECT_TRUE(eventually([&] { return fake_->counters().upload_file.load() == kFiles + 1u; }));
  EXPECT_TRUE(eventually([&] { return xattr("/" + name_of(kFiles - 1), "user.pinfs.status") == "pinned"; }));
  EXPECT_EQ(fake_->counters().list.load(), lists);
  EXPECT_EQ(vfs_->counters().dedupes.load(), 0u);
}

// The journal still holds every queued file when the mount stops with transfers in flight; the next mount
// uploads each of them once.
TEST_F(Async, transfers_durable_journal_resumes_every_queued_file_once) {
  options_.upload = UploadMode::Async;
  options_.transfers = 4;
  options_.upload_retry_delay = std::chrono::milliseconds(60000);
  fake_->fail_next(service::FakeOp::UploadFile, Error{EIO, "offline"}, -1);
  start();
  constexpr int kFiles = 10;
  for (int i = 0; i < kFiles; ++i) ASSERT_TRUE(put(name_of(i), "kept " + std::to_string(i)));
  EXPECT_TRUE(eventually([&] { return fake_->counters().upload_file.load() >= kFiles; }));
  ASSERT_TRUE(vfs_->shutdown(false));
  vfs_.reset();
  EXPECT_TRUE(fake_->pins().empty());

  fake_->clear_failures();
  start();
  EXPECT_TRUE(eventually([&] { return fake_->pins().size() == kFiles; }));
  for (int i = 0; i < kFiles; ++i) {
    EXPECT_EQ(pins_named(*fake_, name_of(i)), 1) << name_of(i);
    EXPECT_EQ(cat_text("/" + name_of(i)), "kept " + std::to_string(i));
  }
}

// Shutdown with files still queued uploads them all, several at once as the transfer threads would.
TEST_F(Async, transfers_shutdown_uploads_every_queued_file) {
  options_.upload = UploadMode::Async;
  options_.transfers = 3;
  options_.upload_retry_delay = std::chrono::milliseconds(60000);
  fake_->fail_next(service::FakeOp::UploadFile, Error{EIO, "blip"}, 8);
  start();
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(put(name_of(i), "late " + std::to_string(i)));
  EXPECT_TRUE(eventually([&] { return fake_->counters().upload_file.load() >= 8; }));
  auto done = vfs_->shutdown(true);
  ASSERT_TRUE(done) << done.error().describe();
  for (int i = 0; i < 8; ++i) EXPECT_EQ(pins_named(*fake_, name_of(i)), 1) << name_of(i);
}

// Against the emulator limiting uploads to 10 a minute: 14 files through 4 transfer threads all get pinned,
// the last ones after the window's reset, and the service never has to refuse one (no 429). About a minute.
TEST(AsyncLimits, transfers_keep_to_the_announced_rate_limit) {
  pinfs::testing::EmulatorProcess emu({{"--rate-limit", "pinata-pinning=10/min"}, ""});
  service::ServiceConfig config;
  config.provider = "pinata";
  config.api_url = emu.base_url();
  config.gateway_url = emu.base_url();
  config.credentials.jwt = emu.jwt();
  config.rate_per_minute = 600;  // assumed until the first reply says 10
  config.list_rate_per_minute = 600;
  auto svc = service::make_pin_service(config);
  ASSERT_TRUE(svc) << svc.error().describe();
  auto gw = service::make_gateway(config);
  ASSERT_TRUE(gw) << gw.error().describe();
  char tmpl[] = "/tmp/pinfs-vfs-limits-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  VfsOptions options;
  options.cache_dir = dir + "/cache";
  options.upload = UploadMode::Async;
  options.transfers = 4;
  options.poll_interval = std::chrono::seconds(3600);
  options.upload_retry_delay = std::chrono::milliseconds(100);
  constexpr int kFiles = 14;
  {
    Vfs vfs(std::shared_ptr<service::PinService>(std::move(*svc)),
            std::shared_ptr<service::Gateway>(std::move(*gw)), options);
    ASSERT_TRUE(vfs.start());
    for (int i = 0; i < kFiles; ++i) {
      auto created = vfs.create(kRootIno, name_of(i), 0644, O_WRONLY | O_CREAT);
      ASSERT_TRUE(created);
      const std::string bytes = "limited " + std::to_string(i);
      ASSERT_TRUE(vfs.write(created->file.fh, 0, bytes.data(), bytes.size()));
      ASSERT_TRUE(vfs.flush(created->file.fh));
      vfs.release(created->file.fh);
    }
    auto stats = [&] {
      rapidjson::Document d;
      d.Parse(emu.request("GET", "/_emulator/stats").c_str());
      return d;
    };
    auto count = [](const rapidjson::Document& d, const char* group, const char* key) -> std::uint64_t {
      if (!d.IsObject() || !d.HasMember(group) || !d[group].HasMember(key)) return 0;
      return d[group][key].GetUint64();
    };
    bool all = false;
    for (int i = 0; i < 1800 && !all; ++i) {  // up to three minutes: the window is one
      all = count(stats(), "requests", "POST /pinning/pinFileToIPFS") >= kFiles;
      if (!all) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(all);
    EXPECT_TRUE(vfs.shutdown(true));
    auto d = stats();
    EXPECT_EQ(count(d, "responses_by_status", "429"), 0u);
    EXPECT_EQ(count(d, "requests", "POST /pinning/pinFileToIPFS"), static_cast<std::uint64_t>(kFiles));
    ASSERT_TRUE(d.IsObject() && d.HasMember("uploads"));
    EXPECT_EQ(d["uploads"].GetUint64(), static_cast<std::uint64_t>(kFiles));  // each pinned once
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace pinfs::vfs::testing
