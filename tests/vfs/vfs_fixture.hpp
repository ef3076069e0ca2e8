// Drives a Vfs against the in-memory fake the way the FUSE adapter does: lookups take references,
// directory handles are opened, read and released, files are created, written, flushed and released.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pinfs/service/fake_pin_service.hpp"
#include "pinfs/vfs/vfs.hpp"

namespace pinfs::vfs::testing {

// Polls for up to 5 s: for what a background thread (worker, poller) does in its own time.
inline bool eventually(const std::function<bool()>& condition) {
  for (int i = 0; i < 500; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

class VfsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pinfs-vfs-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    options_.cache_dir = dir_ + "/cache";
    options_.poll_interval = std::chrono::seconds(3600);
    options_.uid = 4242;
    options_.gid = 4343;
    options_.upload_retry_delay = std::chrono::milliseconds(10);
    options_.dir_quiet_delay = std::chrono::milliseconds(50);
    fake_ = std::make_shared<service::FakePinService>();
    // The index's sync bookkeeping runs on the fake's clock, which dates its pins.
    options_.clock = [fake = std::weak_ptr(fake_)] {
      auto f = fake.lock();
      return f ? f->now() : std::int64_t{0};
    };
  }

  void TearDown() override {
    if (vfs_) (void)vfs_->shutdown(false);
    vfs_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void start() {
    vfs_ = std::make_unique<Vfs>(fake_, fake_, options_);
    auto ok = vfs_->start();
    ASSERT_TRUE(ok) << ok.error().describe();
  }

  // Walks a path from the root, taking one lookup reference per component like the kernel.
  Result<Entry> walk(const std::string& path) {
    Entry entry;
    entry.ino = kRootIno;
    std::string rest = path;
    while (!rest.empty()) {
      if (rest.front() == '/') {
        rest.erase(0, 1);
        continue;
      }
      auto slash = rest.find('/');
      auto part = rest.substr(0, slash);
      rest = slash == std::string::npos ? "" : rest.substr(slash);
      auto next = vfs_->lookup(entry.ino, part);
      if (!next) return next;
      entry = *next;
    }
    return entry;
  }

  std::vector<std::string> ls(const std::string& path = "/") {
    auto dir = walk(path);
    EXPECT_TRUE(dir) << path;
    if (!dir) return {};
    auto dh = vfs_->opendir(dir->ino);
    EXPECT_TRUE(dh) << (dh ? "" : dh.error().describe());
    if (!dh) return {};
    std::vector<std::string> names;
    for (std::uint64_t offset = 0;;) {
      auto items = vfs_->readdir(*dh, offset, 3);  // small batches: exercise offsets
      EXPECT_TRUE(items);
      if (!items || items->empty()) break;
      for (auto& item : *items)
        if (!item.dot) names.push_back(item.name);
      offset += items->size();
    }
    vfs_->releasedir(*dh);
    return names;
  }

  Result<std::string> cat(const std::string& path) {
    auto entry = walk(path);
    if (!entry) return std::unexpected(entry.error());
    auto opened = vfs_->open(entry->ino, O_RDONLY);
    if (!opened) return std::unexpected(opened.error());
    std::string out;
    std::vector<char> buf(128 * 1024);
    for (;;) {
      auto n = vfs_->read(opened->fh, out.size(), buf.size(), buf.data());
      if (!n) {
        vfs_->release(opened->fh);
        return std::unexpected(n.error());
      }
      if (*n == 0) break;
      out.append(buf.data(), *n);
    }
    vfs_->release(opened->fh);
    return out;
  }

  // cat() for comparing: a failed read is a readable mismatch, not a crash on an empty result.
  std::string cat_text(const std::string& path) {
    auto read = cat(path);
    return read ? *read : "<cat " + path + " failed: " + read.error().describe() + ">";
  }

  // create + sequential writes in pieces + flush (close()'s result) + release.
  Result<void> put(const std::string& name, const std::string& content, Ino parent = kRootIno,
                   std::size_t piece = 4096) {
    auto created = vfs_->create(parent, name, 0644, O_WRONLY | O_CREAT);
    if (!created) return std::unexpected(created.error());
    for (std::size_t at = 0; at < content.size(); at += piece) {
      auto n = vfs_->write(created->file.fh, at, content.data() + at, std::min(piece, content.size() - at));
      if (!n) return std::unexpected(n.error());
    }
    auto flushed = vfs_->flush(created->file.fh);
    vfs_->release(created->file.fh);
    return flushed;
  }

  std::string xattr(const std::string& path, const std::string& name) {
    auto entry = walk(path);
    if (!entry) return "<" + entry.error().message + ">";
    char buf[4096];
    auto n = vfs_->getxattr(entry->ino, name, buf, sizeof buf);
    if (!n) return "<errno " + std::to_string(n.error().errnum) + ">";
    return std::string(buf, *n);
  }

  std::string dir_;
  VfsOptions options_;
  std::shared_ptr<service::FakePinService> fake_;
  std::unique_ptr<Vfs> vfs_;
};

inline std::string pattern(std::size_t size, unsigned seed = 7) {
  std::string out(size, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& c : out) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

}  // namespace pinfs::vfs::testing
