// Every staged byte journaled from create: what a crash (the VFS dropped without shutdown, as kill -9 leaves
// it) at each point of a file's life leaves for the next mount.
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "pinfs/cache/journal.hpp"
#include "vfs_fixture.hpp"

namespace pinfs::vfs::testing {
namespace {

class Durable : public VfsFixture {
 protected:
  std::vector<cache::JournalEntry> rows() {
    auto journal = cache::open_sqlite_journal(options_.cache_dir + "/journal.sqlite");
    EXPECT_TRUE(journal);
    if (!journal) return {};
    auto entries = (*journal)->entries();
    EXPECT_TRUE(entries);
    return entries ? *entries : std::vector<cache::JournalEntry>{};
  }
  std::size_t staged_files() {
    std::size_t n = 0;
    for (const auto& item : std::filesystem::directory_iterator(options_.cache_dir + "/staging")) {
      (void)item;
      ++n;
    }
    return n;
  }
  void crash() { vfs_.reset(); }  // no shutdown: nothing uploaded, nothing cleaned up
  // Mounts with uploads of new directories held back, and makes dir/file: the directory's inode, or 0.
  Ino start_with_new_directory(const std::string& dir, const std::string& file, const std::string& bytes) {
    options_.dir_quiet_delay = std::chrono::hours(1);
    start();
    auto made = vfs_->mkdir(kRootIno, dir, 0755);
    if (!made || !put(file, bytes, made->ino)) return 0;
    return made->ino;
  }
  std::size_t pins_named(const std::string& name) {
    std::size_t n = 0;
    for (const auto& pin : fake_->pins()) n += pin.name == name;
    return n;
  }
};

TEST_F(Durable, durable_staged_row_written_at_create_and_interrupted_file_kept) {
  start();
  auto created = vfs_->create(kRootIno, "half.bin", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(created);
  auto at_create = rows();
  ASSERT_EQ(at_create.size(), 1u);
  EXPECT_EQ(at_create[0].state, "writing");
  EXPECT_EQ(at_create[0].name, "half.bin");
  const std::string part = pattern(300000);
  ASSERT_TRUE(vfs_->write(created->file.fh, 0, part.data(), part.size()));
  crash();  // the writer never closed it

  start();
  EXPECT_EQ(xattr("/half.bin", "user.pinfs.status"), "failed: interrupted");
  EXPECT_EQ(cat_text("/half.bin"), part);  // its bytes kept
  auto entry = walk("/half.bin");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->attr.st_size, static_cast<off_t>(part.size()));
  EXPECT_EQ(entry->attr.st_mode, S_IFREG | 0644);
  // Never uploaded half-written: not by the worker, not at shutdown.
  vfs_->run_background_once();
  ASSERT_TRUE(vfs_->shutdown(true));
  EXPECT_EQ(fake_->counters().upload_file.load(), 0u);
  vfs_.reset();

  start();  // still there on the mount after
  EXPECT_EQ(xattr("/half.bin", "user.pinfs.status"), "failed: interrupted");
  ASSERT_TRUE(vfs_->unlink(kRootIno, "half.bin"));
  EXPECT_TRUE(rows().empty());
  EXPECT_EQ(staged_files(), 0u);
}

// Closed, then the service confirmed the pin but the mount died before its row went: the next mount finds
// the pin by CID and adopts it instead of pinning twice.
TEST_F(Durable, durable_staged_closed_file_is_pinned_exactly_once_after_a_crash) {
  fake_->fail_next(service::FakeOp::UploadFile, Error{EIO, "the mount died here"}, -1);
  start();
  const std::string content = pattern(5000, 3);
  ASSERT_FALSE(put("closed.bin", content));
  auto queued = rows();
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].state, "queued");
  EXPECT_FALSE(queued[0].cid.empty());
  crash();
  fake_->clear_failures();
  auto pin = fake_->add_file("closed.bin", content);  // what the service had confirmed
  ASSERT_EQ(pin.cid, queued[0].cid);
  auto uploads = fake_->counters().upload_file.load();

  start();
  EXPECT_TRUE(eventually([&] { return rows().empty(); }));
  EXPECT_EQ(fake_->counters().upload_file.load(), uploads);
  EXPECT_EQ(pins_named("closed.bin"), 1u);
  EXPECT_EQ(staged_files(), 0u);
  EXPECT_EQ(xattr("/closed.bin", "user.pinfs.cid"), pin.cid);
}

// The kept index knows the content under another name only: the resumed file may still have been pinned
// just before the crash, so the service is asked, and the pin it has is adopted, not pinned again.
TEST_F(Durable, durable_staged_resume_asks_the_service_when_the_index_has_the_content_under_another_name) {
  ASSERT_TRUE(options_.persistent_index);
  const std::string content = pattern(5000, 4);
  start();
  ASSERT_TRUE(put("first.bin", content));
  fake_->fail_next(service::FakeOp::PinByCid, Error{EIO, "the mount died here"}, -1);
  ASSERT_FALSE(put("copy.bin", content));  // deduplicated: a pin by CID, which never answered
  crash();
  fake_->clear_failures();
  (void)fake_->add_file("copy.bin", content);  // what the service had done
  const auto jobs = fake_->counters().pin_by_cid.load();
  const auto uploads = fake_->counters().upload_file.load();

  start();
  EXPECT_TRUE(eventually([&] { return rows().empty(); }));
  EXPECT_EQ(fake_->counters().pin_by_cid.load(), jobs);
  EXPECT_EQ(fake_->counters().upload_file.load(), uploads);
  EXPECT_EQ(pins_named("copy.bin"), 1u);
  EXPECT_EQ(pins_named("first.bin"), 1u);
}

// Closed but not yet uploaded (async, or sync killed mid-upload): the next mount uploads it once.
TEST_F(Durable, durable_staged_closed_file_resumes_in_both_modes) {
  for (auto mode : {UploadMode::Sync, UploadMode::Async}) {
    options_.upload = mode;
    const std::string name = mode == UploadMode::Sync ? "sync.bin" : "async.bin";
    fake_->fail_next(service::FakeOp::UploadFile, Error{EIO, "offline"}, -1);
    start();
    (void)put(name, pattern(70000, mode == UploadMode::Sync ? 1 : 2));
    crash();
    fake_->clear_failures();
    start();
    EXPECT_TRUE(eventually([&] { return pins_named(name) == 1; })) << name;
    EXPECT_TRUE(eventually([&] { return rows().empty(); })) << name;
    EXPECT_EQ(staged_files(), 0u);
    crash();
  }
}

// A staged file without a row (left by an older version, or a file of a new directory never uploaded) is
// adopted as a local file; an empty one is removed.
TEST_F(Durable, durable_staged_orphans_are_adopted_or_removed_at_start) {
  std::filesystem::create_directories(options_.cache_dir + "/staging");
  { std::ofstream(options_.cache_dir + "/staging/orphan.data") << "precious bytes"; }
  { std::ofstream(options_.cache_dir + "/staging/empty.data"); }
  start();
  EXPECT_FALSE(std::filesystem::exists(options_.cache_dir + "/staging/empty.data"));
  EXPECT_EQ(cat_text("/recovered-orphan.data"), "precious bytes");
  EXPECT_EQ(xattr("/recovered-orphan.data", "user.pinfs.status"), "failed: interrupted");
  EXPECT_EQ(rows().size(), 1u);  // every staged file has its row
  ASSERT_TRUE(vfs_->unlink(kRootIno, "recovered-orphan.data"));
  EXPECT_EQ(staged_files(), 0u);
  EXPECT_TRUE(rows().empty());
}

// Reopening an interrupted file and closing it is the user finishing it: then it is uploaded.
TEST_F(Durable, durable_staged_interrupted_file_reopened_and_closed_is_uploaded) {
  start();
  auto created = vfs_->create(kRootIno, "resume.txt", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(created);
  ASSERT_TRUE(vfs_->write(created->file.fh, 0, "abc", 3));
  crash();
  start();
  auto entry = walk("/resume.txt");
  ASSERT_TRUE(entry);
  auto opened = vfs_->open(entry->ino, O_WRONLY | O_APPEND);
  ASSERT_TRUE(opened);
  EXPECT_EQ(rows().at(0).state, "writing");
  ASSERT_TRUE(vfs_->write(opened->fh, 3, "def", 3));
  ASSERT_TRUE(vfs_->flush(opened->fh));
  vfs_->release(opened->fh);
  EXPECT_EQ(pins_named("resume.txt"), 1u);
  EXPECT_EQ(cat_text("/resume.txt"), "abcdef");
  EXPECT_TRUE(rows().empty());
}

// Files of a new directory are journaled from create too, with their directory's row as parent: a crash
// before the directory was uploaded rebuilds the tree (renames included) and uploads it once quiet. A file
// still being written stays local and interrupted, and holds the directory back until it is dealt with.
TEST_F(Durable, durable_staged_new_directory_is_rebuilt_and_uploaded_after_a_crash) {
  options_.dir_quiet_delay = std::chrono::hours(1);
  start();
  auto album = vfs_->mkdir(kRootIno, "album", 0755);
  ASSERT_TRUE(album);
  auto sub = vfs_->mkdir(album->ino, "sub", 0755);
  ASSERT_TRUE(sub);
  const std::string a = pattern(3000, 5), b = pattern(300000, 6);
  ASSERT_TRUE(put("a.jpg", a, album->ino));
  ASSERT_TRUE(put("b.jpg", b, sub->ino));
  auto partial = vfs_->create(album->ino, "c.part", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(partial);
  ASSERT_TRUE(vfs_->write(partial->file.fh, 0, "half", 4));
  ASSERT_TRUE(vfs_->rename(kRootIno, "album", kRootIno, "photos", 0));
  auto before = rows();
  ASSERT_EQ(before.size(), 5u);
  std::map<std::string, cache::JournalEntry> by_name;
  for (const auto& row : before) by_name[row.name] = row;
  EXPECT_EQ(by_name.at("photos").state, "directory");
  EXPECT_EQ(by_name.at("photos").parent, 0);
  EXPECT_EQ(by_name.at("sub").parent, by_name.at("photos").id);
  EXPECT_EQ(by_name.at("a.jpg").state, "queued");  // closed
  EXPECT_EQ(by_name.at("a.jpg").parent, by_name.at("photos").id);
  EXPECT_EQ(by_name.at("b.jpg").parent, by_name.at("sub").id);
  EXPECT_EQ(by_name.at("c.part").state, "writing");
  crash();

  options_.dir_quiet_delay = std::chrono::milliseconds(1);
  start();
  EXPECT_EQ(ls("/photos"), (std::vector<std::string>{"a.jpg", "c.part", "sub"}));
  EXPECT_EQ(cat_text("/photos/sub/b.jpg"), b);
  EXPECT_EQ(xattr("/photos/c.part", "user.pinfs.status"), "failed: interrupted");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  vfs_->run_background_once();
  EXPECT_EQ(fake_->counters().upload_directory.load(), 0u);  // never with a half-written file
  EXPECT_TRUE(xattr("/photos", "user.pinfs.status").starts_with("failed: interrupted: c.part"));
  ASSERT_TRUE(vfs_->unlink(walk("/photos")->ino, "c.part"));
  EXPECT_TRUE(eventually([&] {
    vfs_->run_background_once();
    return pins_named("photos") == 1;
  }));
  EXPECT_EQ(fake_->counters().upload_directory.load(), 1u);
  EXPECT_EQ(fake_->find_by_name("photos")->cid,
            fake_->add_directory("same", {{"a.jpg", a}, {"sub/b.jpg", b}}).cid);
  EXPECT_TRUE(rows().empty());
  EXPECT_EQ(staged_files(), 0u);
  EXPECT_EQ(cat_text("/photos/a.jpg"), a);
}

// The service pinned the directory but the mount died before its rows went: the next mount finds the pin
// by the tree's CID and adopts it instead of pinning it twice.
TEST_F(Durable, durable_staged_new_directory_pinned_before_the_crash_is_adopted_not_pinned_twice) {
  ASSERT_TRUE(start_with_new_directory("d", "x.txt", "x bytes"));
  crash();
  (void)fake_->add_directory("d", {{"x.txt", "x bytes"}});  // what the service had confirmed

  options_.dir_quiet_delay = std::chrono::milliseconds(1);
  start();
  EXPECT_TRUE(eventually([&] {
    vfs_->run_background_once();
    return rows().empty();
  }));
  EXPECT_EQ(fake_->counters().upload_directory.load(), 0u);
  EXPECT_EQ(pins_named("d"), 1u);
  EXPECT_EQ(staged_files(), 0u);
  EXPECT_EQ(cat_text("/d/x.txt"), "x bytes");
}

// rmdir of an emptied new directory takes its row; a name the directory's files had is free again.
TEST_F(Durable, durable_staged_new_directory_removed_leaves_no_row) {
  const Ino d = start_with_new_directory("gone", "f", "f");
  ASSERT_TRUE(d);
  EXPECT_EQ(rows().size(), 2u);
  ASSERT_TRUE(vfs_->unlink(d, "f"));
  ASSERT_TRUE(vfs_->rmdir(kRootIno, "gone"));
  EXPECT_TRUE(rows().empty());
  EXPECT_EQ(staged_files(), 0u);
}

}  // namespace
}  // namespace pinfs::vfs::testing
