#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "pinfs/cid/importer.hpp"
#include "vfs_fixture.hpp"

namespace pinfs::vfs::testing {
namespace {

using Writing = VfsFixture;

std::string cid_of(const std::string& content, int version = 1) {
  cid::ImportOptions options;
  options.cid_version = version;
  cid::FileImporter importer(options);
  importer.update(cid::ByteView(reinterpret_cast<const std::uint8_t*>(content.data()), content.size()));
  return importer.finish().cid.to_string();
}

std::size_t staged_files(const std::string& cache_dir) {
  std::size_t n = 0;
  for (auto& entry : std::filesystem::directory_iterator(cache_dir + "/staging"))
    n += entry.is_regular_file();
  return n;
}

TEST_F(Writing, write_sync_close_returns_after_the_pin_with_matching_cid) {
  start();
  auto content = pattern(1 << 20);
  ASSERT_TRUE(put("new.bin", content));
  EXPECT_EQ(fake_->counters().upload_file.load(), 1u);
  auto pin = fake_->find_by_name("new.bin");
  ASSERT_TRUE(pin);
  EXPECT_EQ(pin->cid, cid_of(content));
  auto entry = walk("/new.bin");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->attr.st_mode, S_IFREG | 0444);
  EXPECT_EQ(xattr("/new.bin", "user.pinfs.cid"), pin->cid);
  EXPECT_EQ(xattr("/new.bin", "user.pinfs.verified"), "true");
  EXPECT_EQ(staged_files(options_.cache_dir), 0u);  // [durable.staged] deleted only after the pin
  EXPECT_EQ(cat_text("/new.bin"), content);
  EXPECT_EQ(fake_->counters().gateway_read.load(), 0u);  // [read.cache] the staged copy became the cache
}

TEST_F(Writing, write_stage_cid_computed_while_writing_in_any_pieces) {
  options_.cid_version = 0;
  start();
  auto content = pattern(700 * 1024 + 3);
  ASSERT_TRUE(put("v0.bin", content, kRootIno, 777));
  auto pin = fake_->find_by_name("v0.bin");
  ASSERT_TRUE(pin);
  EXPECT_EQ(pin->cid, cid_of(content, 0));
  EXPECT_TRUE(pin->cid.starts_with("Qm"));
}

TEST_F(Writing, attr_new_file_is_0644_with_bytes_written_so_far) {
  start();
  auto created = vfs_->create(kRootIno, "growing", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(created);
  EXPECT_EQ(created->entry.attr.st_mode, S_IFREG | 0644);
  ASSERT_TRUE(vfs_->write(created->file.fh, 0, "hello", 5));
  auto attr = vfs_->getattr(created->entry.ino);
  EXPECT_EQ(attr->st_size, 5);
  EXPECT_EQ(attr->st_mode, S_IFREG | 0644);
  EXPECT_EQ(attr->st_uid, 4242u);
  auto names = ls();
  EXPECT_NE(std::find(names.begin(), names.end(), "growing"), names.end());
  EXPECT_EQ(fake_->counters().upload_file.load(), 0u);
  ASSERT_TRUE(vfs_->flush(created->file.fh));
  vfs_->release(created->file.fh);
  EXPECT_EQ(vfs_->getattr(created->entry.ino)->st_mode, S_IFREG | 0444);  // same inode, now the pin
}

TEST_F(Writing, write_local_edits_random_writes_and_truncate_before_upload) {
  start();
  auto created = vfs_->create(kRootIno, "edited.txt", 0644, O_RDWR | O_CREAT);
  ASSERT_TRUE(created);
  auto fh = created->file.fh;
  ASSERT_TRUE(vfs_->write(fh, 0, "hello world", 11));
  ASSERT_TRUE(vfs_->write(fh, 0, "J", 1));      // overwrite
  ASSERT_TRUE(vfs_->write(fh, 20, "tail", 4));  // a hole
  ASSERT_TRUE(vfs_->truncate(created->entry.ino, 22));
  char buf[64];
  auto n = vfs_->read(fh, 0, sizeof buf, buf);
  ASSERT_TRUE(n);
  std::string expected = std::string("Jello world") + std::string(9, '\0') + "ta";
  EXPECT_EQ(std::string(buf, *n), expected);
  ASSERT_TRUE(vfs_->flush(fh));
  vfs_->release(fh);
  auto pin = fake_->find_by_name("edited.txt");
  ASSERT_TRUE(pin);
  EXPECT_EQ(pin->cid, cid_of(expected));  // not sequential: re-read from the staged file at close
}

TEST_F(Writing, write_sync_failure_is_eio_and_data_stays_staged) {
  start();
  fake_->fail_next(service::FakeOp::UploadFile, Error{EAGAIN, "503 after retries", true});
  auto result = put("fails.txt", "precious");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().errnum, EIO);
  EXPECT_FALSE(fake_->find_by_name("fails.txt"));
  EXPECT_EQ(staged_files(options_.cache_dir), 1u);
  EXPECT_EQ(xattr("/fails.txt", "user.pinfs.status").rfind("failed: ", 0), 0u);
  EXPECT_EQ(cat_text("/fails.txt"), "precious");  // still there, still readable
  auto entry = walk("/fails.txt");
  EXPECT_EQ(entry->attr.st_mode, S_IFREG | 0644);  // not shown as pinned
  // Closing again (or unmounting) retries from the staged copy.
  auto opened = vfs_->open(entry->ino, O_WRONLY | O_APPEND);
  ASSERT_TRUE(opened);
  ASSERT_TRUE(vfs_->flush(opened->fh));
  vfs_->release(opened->fh);
  EXPECT_TRUE(fake_->find_by_name("fails.txt"));
  EXPECT_EQ(staged_files(options_.cache_dir), 0u);
}

TEST_F(Writing, write_local_edits_reopen_with_trunc_after_a_failed_upload) {
  start();
  fake_->fail_next(service::FakeOp::UploadFile, Error{EIO, "down"});
  ASSERT_FALSE(put("again.txt", "first version"));
  auto entry = walk("/again.txt");
  auto opened = vfs_->open(entry->ino, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(opened);
  ASSERT_TRUE(vfs_->write(opened->fh, 0, "second", 6));
  ASSERT_TRUE(vfs_->flush(opened->fh));
  vfs_->release(opened->fh);
  auto pin = fake_->find_by_name("again.txt");
  ASSERT_TRUE(pin);
  EXPECT_EQ(pin->cid, cid_of("second"));
  EXPECT_EQ(cat_text("/again.txt"), "second");
}

TEST_F(Writing, write_sync_flush_of_a_dup_before_any_write_does_not_upload) {
  start();
  // bash `echo hi > f`: open, dup2 to stdout, close the original (a flush), write, exit (flush, release).
  auto created = vfs_->create(kRootIno, "redirected", 0644, O_WRONLY | O_CREAT | O_TRUNC);
  ASSERT_TRUE(created);
  ASSERT_TRUE(vfs_->flush(created->file.fh));
  EXPECT_EQ(fake_->counters().upload_file.load(), 0u);
  ASSERT_TRUE(vfs_->write(created->file.fh, 0, "hi\n", 3));
  ASSERT_TRUE(vfs_->flush(created->file.fh));
  vfs_->release(created->file.fh);
  EXPECT_EQ(fake_->counters().upload_file.load(), 1u);
  EXPECT_EQ(fake_->find_by_name("redirected")->size, 3u);
}

TEST_F(Writing, write_sync_empty_file_is_pinned_at_release) {
  start();
  auto created = vfs_->create(kRootIno, "touched", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(vfs_->flush(created->file.fh));
  vfs_->release(created->file.fh);
  auto pin = fake_->find_by_name("touched");
  ASSERT_TRUE(pin);
  EXPECT_EQ(pin->size, 0u);
}

TEST_F(Writing, write_sync_pins_without_an_id_in_the_reply_stay_distinct) {
  fake_->set_upload_reply_without_id(true);  // Pinata's upload reply has no row id
  start();
  ASSERT_TRUE(put("one.txt", "first"));
  ASSERT_TRUE(put("two.txt", "second"));
  auto names = ls();
  EXPECT_NE(std::find(names.begin(), names.end(), "one.txt"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "two.txt"), names.end());
  auto before = walk("/one.txt");
  ASSERT_TRUE(vfs_->refresh());  // the listing brings the real ids
  auto after = walk("/one.txt");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->ino, before->ino);
  EXPECT_EQ(cat_text("/two.txt"), "second");
  ASSERT_TRUE(vfs_->unlink(kRootIno, "one.txt"));
  EXPECT_FALSE(fake_->find_by_name("one.txt"));
  EXPECT_TRUE(fake_->find_by_name("two.txt"));
}

TEST_F(Writing, write_sync_over_quota_is_edquot) {
  start();
  fake_->set_quota_bytes(10);
  auto result = put("big.txt", std::string(100, 'x'));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().errnum, EDQUOT);
  EXPECT_FALSE(fake_->find_by_name("big.txt"));
}

TEST_F(Writing, cid_verify_mismatch_is_eio_and_keeps_staged) {
  start();
  fake_->set_wrong_cid(true);
  auto result = put("mismatch.txt", "some content");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().errnum, EIO);
  EXPECT_EQ(staged_files(options_.cache_dir), 1u);
  EXPECT_NE(xattr("/mismatch.txt", "user.pinfs.status").find("CID mismatch"), std::string::npos);
}

TEST_F(Writing, write_dedupe_same_name_costs_no_upload) {
  auto pin = fake_->add_file("dup.txt", "same bytes");
  start();
  ASSERT_TRUE(vfs_->refresh());
  // The pin shows under its name, so write the copy under a temp name and mv it: rsync's pattern.
  ASSERT_TRUE(put(".dup.txt.tmp", "same bytes"));
  EXPECT_EQ(fake_->counters().upload_file.load(), 0u);
  EXPECT_EQ(fake_->counters().pin_by_cid.load(), 1u);
  EXPECT_EQ(fake_->counters().bytes_uploaded.load(), 0u);
}

TEST_F(Writing, write_dedupe_identical_name_and_content_adopts_the_pin) {
  options_.dedupe_remote_min_bytes = 0;  // ask the service even for a small file
  start();
  ls();  // the index is loaded before the other machine pins it
  auto existing = fake_->add_file("x.txt", "abc");
  // Created before the index knew about it (another machine pinned it meanwhile).
  ASSERT_TRUE(put("x.txt", "abc"));
  EXPECT_EQ(fake_->counters().upload_file.load(), 0u);
  EXPECT_EQ(fake_->counters().pin_by_cid.load(), 0u);
  EXPECT_EQ(fake_->pins().size(), 1u);
  EXPECT_EQ(xattr("/x.txt", "user.pinfs.id"), existing.id);
}

TEST_F(Writing, write_dedupe_small_files_ask_only_the_index) {
  start();
  ls();
  auto lists = fake_->counters().list.load();
  ASSERT_TRUE(put("small.txt", "tiny"));
  EXPECT_EQ(fake_->counters().list.load(), lists);  // no extra round trip per small file
  EXPECT_EQ(fake_->counters().upload_file.load(), 1u);
  auto big = pattern(2 << 20);
  fake_->store_content(big);  // not pinned: the service is asked and says no
  ASSERT_TRUE(put("big.bin", big));
  EXPECT_EQ(fake_->counters().list.load(), lists + 1);
  EXPECT_EQ(fake_->counters().upload_file.load(), 2u);
}

TEST_F(Writing, write_dedupe_large_file_pinned_elsewhere_is_not_uploaded) {
  start();
  ls();
  auto big = pattern(3 << 20);
  fake_->add_file("copy-on-other-machine.bin", big);  // unknown to the index
  ASSERT_TRUE(put("mine.bin", big));
  EXPECT_EQ(fake_->counters().upload_file.load(), 0u);
  EXPECT_EQ(fake_->counters().pin_by_cid.load(), 1u);
  EXPECT_EQ(xattr("/mine.bin", "user.pinfs.status"), "searching");
  EXPECT_EQ(cat_text("/mine.bin"), big);  // still readable from the staged copy meanwhile
}

TEST_F(Writing, write_dedupe_then_rename_while_the_job_runs_names_the_pin) {
  auto original = fake_->add_file("original.bin", "shared content");
  start();
  ls();
  ASSERT_TRUE(put(".copy.bin.Xy12", "shared content"));  // rsync's temp file: deduplicated
  ASSERT_TRUE(vfs_->rename(kRootIno, ".copy.bin.Xy12", kRootIno, "copy.bin", 0));
  EXPECT_EQ(fake_->counters().upload_file.load(), 0u);
  EXPECT_EQ(fake_->complete_jobs(), 1u);
  // The job's pin appears under the temp name and is renamed to what the file is called now before the
  // file shows as pinned: never a moment where copy.bin is missing or the temp name is listed.
  ASSERT_TRUE(vfs_->refresh());
  ASSERT_TRUE(fake_->find_by_name("copy.bin"));
  EXPECT_TRUE(walk("/copy.bin"));
  auto names = ls();
  EXPECT_EQ(std::find(names.begin(), names.end(), ".copy.bin.Xy12"), names.end());
  EXPECT_FALSE(fake_->find_by_name(".copy.bin.Xy12"));
  EXPECT_EQ(fake_->find_by_name("copy.bin")->cid, original.cid);
  auto read = cat("/copy.bin");
  ASSERT_TRUE(read) << read.error().describe();
  EXPECT_EQ(*read, "shared content");
  EXPECT_EQ(xattr("/copy.bin", "user.pinfs.status"), "pinned");
}

TEST_F(Writing, write_dedupe_removed_while_the_job_runs_is_unpinned) {
  fake_->add_file("original.bin", "shared content");
  start();
  ls();
  ASSERT_TRUE(put("doomed.bin", "shared content"));
  ASSERT_TRUE(vfs_->unlink(kRootIno, "doomed.bin"));
  fake_->complete_jobs();
  ASSERT_TRUE(vfs_->refresh());
  vfs_->run_background_once();
  // The worker thread may have taken the follow-up first: wait for its unpin rather than race it.
  for (int i = 0; i < 500 && fake_->find_by_name("doomed.bin"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(fake_->find_by_name("doomed.bin"));
  EXPECT_TRUE(fake_->find_by_name("original.bin"));
}

// vim fsyncs its swap file (a sync upload) and removes it while that upload runs, then creates it again
// with O_EXCL: the pin the upload made must never show under the name, only be unpinned.
TEST_F(Writing, write_sync_removed_while_uploading_never_shows_and_is_unpinned) {
  std::mutex gate;
  gate.lock();
  fake_->set_upload_hook([&](const service::FileUpload&) { std::lock_guard wait(gate); });
  bool seen_before_unpin = true;
  fake_->set_unpin_hook([&](const service::PinRef&) {
    auto names = ls();
    seen_before_unpin = std::count(names.begin(), names.end(), ".f.swp") != 0 || walk("/.f.swp").has_value();
  });
  start();
  auto created = vfs_->create(kRootIno, ".f.swp", 0600, O_RDWR | O_CREAT | O_EXCL);
  ASSERT_TRUE(created);
  ASSERT_TRUE(vfs_->write(created->file.fh, 0, "swap", 4));
  std::thread syncer([&] { (void)vfs_->fsync(created->file.fh); });
  ASSERT_TRUE(eventually([&] { return xattr("/.f.swp", "user.pinfs.status") == "uploading"; }));
  ASSERT_TRUE(vfs_->unlink(kRootIno, ".f.swp"));
  gate.unlock();
  syncer.join();
  vfs_->release(created->file.fh);
  EXPECT_FALSE(seen_before_unpin);
  EXPECT_FALSE(fake_->find_by_name(".f.swp"));
  EXPECT_EQ(fake_->counters().unpin.load(), 1u);
  auto again = vfs_->create(kRootIno, ".f.swp", 0600, O_RDWR | O_CREAT | O_EXCL);
  EXPECT_TRUE(again) << again.error().describe();
  EXPECT_EQ(staged_files(options_.cache_dir), again ? 1u : 0u);
}

TEST_F(Writing, write_immutable_write_after_upload_is_erofs) {
  start();
  auto created = vfs_->create(kRootIno, "once", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(vfs_->write(created->file.fh, 0, "a", 1));
  ASSERT_TRUE(vfs_->flush(created->file.fh));
  vfs_->release(created->file.fh);
  // Pinned: no descriptor can be opened to write it ([write.reopen] covers one that stayed open).
  auto again = vfs_->open(created->entry.ino, O_WRONLY);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().errnum, EROFS);
  auto trunc = vfs_->truncate(created->entry.ino, 0);
  ASSERT_FALSE(trunc);
  EXPECT_EQ(trunc.error().errnum, EROFS);
}

TEST_F(Writing, write_stage_create_existing_name_is_eexist) {
  fake_->add_file("taken", "x");
  start();
  auto created = vfs_->create(kRootIno, "taken", 0644, O_WRONLY | O_CREAT | O_EXCL);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().errnum, EEXIST);
  auto control = vfs_->create(kRootIno, ".pinfs", 0644, O_WRONLY | O_CREAT);
  ASSERT_FALSE(control);
}

TEST_F(Writing, write_stage_escaped_name_is_unescaped_for_the_service) {
  start();
  ASSERT_TRUE(put("a%2Fb.txt", "x"));
  EXPECT_TRUE(fake_->find_by_name("a/b.txt"));
  EXPECT_TRUE(walk("/a%2Fb.txt"));
}

TEST_F(Writing, write_sync_two_writers_upload_once_on_last_close) {
  start();
  auto created = vfs_->create(kRootIno, "shared", 0644, O_WRONLY | O_CREAT);
  auto second = vfs_->open(created->entry.ino, O_WRONLY);
  ASSERT_TRUE(second);
  ASSERT_TRUE(vfs_->write(created->file.fh, 0, "ab", 2));
  ASSERT_TRUE(vfs_->flush(created->file.fh));  // the other descriptor is still open
  vfs_->release(created->file.fh);
  EXPECT_EQ(fake_->counters().upload_file.load(), 0u);
  ASSERT_TRUE(vfs_->write(second->fh, 2, "cd", 2));
  ASSERT_TRUE(vfs_->flush(second->fh));
  vfs_->release(second->fh);
  EXPECT_EQ(fake_->counters().upload_file.load(), 1u);
  EXPECT_EQ(fake_->find_by_name("shared")->size, 4u);
}

// [write.stream] Written in order past stream_min_bytes: the upload starts while the file is written and
// is the only one; close returns once it is pinned with the CID computed here.
TEST_F(Writing, write_stream_upload_starts_while_writing_and_is_the_only_one) {
  options_.stream_min_bytes = 64 * 1024;
  start();
  auto content = pattern(1 << 20);
  auto created = vfs_->create(kRootIno, "big.bin", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(created);
  for (std::size_t at = 0; at < content.size(); at += 4096) {
    ASSERT_TRUE(vfs_->write(created->file.fh, at, content.data() + at, 4096));
    if (at == 512 * 1024) {  // the upload is running, the file still open
      for (int i = 0; i < 1000 && fake_->counters().streamed_uploads.load() == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      EXPECT_EQ(fake_->counters().streamed_uploads.load(), 1u);
      EXPECT_FALSE(fake_->find_by_name("big.bin"));
    }
  }
  ASSERT_TRUE(vfs_->flush(created->file.fh));
  vfs_->release(created->file.fh);
  auto pin = fake_->find_by_name("big.bin");
  ASSERT_TRUE(pin);
  EXPECT_EQ(pin->cid, cid_of(content));
  EXPECT_EQ(fake_->counters().upload_file.load(), 1u);
  EXPECT_EQ(fake_->counters().bytes_uploaded.load(), content.size());
  EXPECT_EQ(staged_files(options_.cache_dir), 0u);
  EXPECT_EQ(xattr("/big.bin", "user.pinfs.verified"), "true");
  EXPECT_EQ(cat_text("/big.bin"), content);
}

// [write.stream] Sync mode: the close waits for the upload anyway, so a writer keeps within 64 MiB of what
// the upload has read (its staged pages behind the upload leave the page cache), and goes on as it reads.
TEST_F(Writing, write_stream_sync_writer_keeps_within_64_mib_of_the_upload) {
  options_.stream_min_bytes = 1 << 20;
  start();
  fake_->set_stream_read_limit(2 << 20);  // the upload reads 2 MiB, then waits
  const std::string chunk = pattern(1 << 20);
  auto created = vfs_->create(kRootIno, "lead.bin", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(created);
  std::atomic<std::size_t> written{0};
  std::thread writer([&] {
    for (std::size_t at = 0; at < (96u << 20); at += chunk.size()) {
      if (!vfs_->write(created->file.fh, at, chunk.data(), chunk.size())) return;
      written = at + chunk.size();
    }
  });
  for (int i = 0; i < 500 && written < (66u << 20); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(written.load(), 66u << 20);  // 2 MiB read + 64 MiB; the next write waits
  fake_->set_stream_read_limit(UINT64_MAX);
  writer.join();
  EXPECT_EQ(written.load(), 96u << 20);
  ASSERT_TRUE(vfs_->flush(created->file.fh));
  vfs_->release(created->file.fh);
  auto pin = fake_->find_by_name("lead.bin");
  ASSERT_TRUE(pin);
  std::string content;
  for (int i = 0; i < 96; ++i) content += chunk;
  EXPECT_EQ(pin->cid, cid_of(content));
  EXPECT_EQ(fake_->counters().upload_file.load(), 1u);
}

// A write out of order or a truncate ends the upload while writing; the file is uploaded from staging at
// close, once, with its final content: no pin of what was written before.
TEST_F(Writing, write_stream_seek_or_truncate_abandons_it_and_close_uploads_from_staging) {
  options_.stream_min_bytes = 64 * 1024;
  start();
  for (bool truncate : {false, true}) {
    const std::string name = truncate ? "truncated.bin" : "patched.bin";
    auto content = pattern(256 * 1024);
    auto created = vfs_->create(kRootIno, name, 0644, O_RDWR | O_CREAT);
    ASSERT_TRUE(created);
    const auto streams = fake_->counters().streamed_uploads.load();
    for (std::size_t at = 0; at < content.size(); at += 8192)
      ASSERT_TRUE(vfs_->write(created->file.fh, at, content.data() + at, 8192));
    for (int i = 0; i < 1000 && fake_->counters().streamed_uploads.load() == streams; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    EXPECT_EQ(fake_->counters().streamed_uploads.load(), streams + 1);
    if (truncate) {
      ASSERT_TRUE(vfs_->truncate(created->entry.ino, 1000));
      content.resize(1000);
    } else {
      ASSERT_TRUE(vfs_->write(created->file.fh, 10, "patched", 7));
      content.replace(10, 7, "patched");
    }
    ASSERT_TRUE(vfs_->flush(created->file.fh));
    vfs_->release(created->file.fh);
    auto pin = fake_->find_by_name(name);
    ASSERT_TRUE(pin) << name;
    EXPECT_EQ(pin->cid, cid_of(content)) << name;
    EXPECT_EQ(cat_text("/" + name), content);
  }
  EXPECT_EQ(fake_->pins().size(), 2u);  // nothing of the abandoned uploads
}

// rm of a file while it is uploaded as it is written: the upload is abandoned and nothing stays pinned.
TEST_F(Writing, write_stream_rm_while_writing_pins_nothing) {
  options_.stream_min_bytes = 64 * 1024;
  start();
  auto content = pattern(256 * 1024);
  auto created = vfs_->create(kRootIno, "gone.bin", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(created);
  for (std::size_t at = 0; at < content.size(); at += 8192)
    ASSERT_TRUE(vfs_->write(created->file.fh, at, content.data() + at, 8192));
  for (int i = 0; i < 1000 && fake_->counters().streamed_uploads.load() == 0; ++i)  // its thread is sending
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(fake_->counters().streamed_uploads.load(), 1u);
  ASSERT_TRUE(vfs_->unlink(kRootIno, "gone.bin"));
  ASSERT_TRUE(vfs_->flush(created->file.fh));
  vfs_->release(created->file.fh);
  vfs_->run_background_once();
  EXPECT_TRUE(fake_->pins().empty());
  EXPECT_EQ(staged_files(options_.cache_dir), 0u);
}

}  // namespace
}  // namespace pinfs::vfs::testing
