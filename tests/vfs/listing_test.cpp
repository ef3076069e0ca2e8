#include <set>

#include "vfs_fixture.hpp"

namespace pinfs::vfs::testing {
namespace {

using Listing = VfsFixture;

TEST_F(Listing, names_from_metadata_root_lists_pins_and_control_folder) {
  fake_->add_file("hello.txt", "hello");
  fake_->add_file("a/b", "slash");
  fake_->add_file("", "unnamed content");
  start();
  auto names = ls();
  std::sort(names.begin(), names.end());
  auto unnamed_cid = fake_->pins()[2].cid;
  std::vector<std::string> expected = {".pinfs", "a%2Fb", "hello.txt", unnamed_cid};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(names, expected);
}

TEST_F(Listing, list_paged_fetches_every_page) {
  service::Capabilities caps;
  caps.max_page_size = 7;
  caps.metadata_update = true;
  fake_->set_capabilities(caps);
  for (int i = 0; i < 50; ++i) fake_->add_file("f" + std::to_string(i), "x" + std::to_string(i));
  start();
  auto names = ls();
  EXPECT_EQ(names.size(), 51u);                  // + .pinfs
  EXPECT_EQ(fake_->counters().list.load(), 8u);  // ceil(50/7) pages
  // Served from the index afterwards: no new list call.
  ls();
  EXPECT_TRUE(walk("/f49"));
  EXPECT_EQ(fake_->counters().list.load(), 8u);
}

TEST_F(Listing, attr_pins_size_mtime_mode_owner) {
  auto pin = fake_->add_file("data.bin", std::string(1000, 'z'));
  start();
  auto entry = walk("/data.bin");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->attr.st_size, 1000);
  EXPECT_EQ(entry->attr.st_mode, S_IFREG | 0444);
  EXPECT_EQ(entry->attr.st_mtim.tv_sec, pin.pinned_at);
  EXPECT_EQ(entry->attr.st_uid, 4242u);
  EXPECT_EQ(entry->attr.st_gid, 4343u);
  auto attr = vfs_->getattr(entry->ino);
  ASSERT_TRUE(attr);
  EXPECT_EQ(attr->st_ino, entry->ino);
}

// Pinata reports a pin's DAG size; the file's bytes come from its root block, fetched once.
TEST_F(Listing, attr_size_exact_from_root_block) {
  fake_->set_dag_sizes(true);
  const std::string content = pattern(3 * 262144 + 1000);
  auto pin = fake_->add_file("big.bin", content, 0);
  ASSERT_GT(pin.size, content.size());  // the DAG size counts the dag-pb wrapping of every block
  start();

  // A listing entry carries the unchecked size with no attribute caching, so the kernel asks getattr.
  auto dh = vfs_->opendir(kRootIno);
  ASSERT_TRUE(dh);
  auto items = vfs_->readdir(*dh, 0, 100);
  ASSERT_TRUE(items);
  auto listed =
      std::find_if(items->begin(), items->end(), [](const DirItem& i) { return i.name == "big.bin"; });
  ASSERT_NE(listed, items->end());
  EXPECT_EQ(listed->entry.timeout, 0.0);
  vfs_->releasedir(*dh);

  auto entry = walk("/big.bin");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->attr.st_size, static_cast<off_t>(content.size()));
  EXPECT_GT(entry->timeout, 0.0);
  auto fetches = fake_->counters().gateway_block.load();
  auto attr = vfs_->getattr(entry->ino);
  ASSERT_TRUE(attr);
  EXPECT_EQ(attr->st_size, static_cast<off_t>(content.size()));
  EXPECT_EQ(fake_->counters().gateway_block.load(), fetches);  // learned once
  EXPECT_EQ(xattr("/big.bin", "user.pinfs.size"), std::to_string(content.size()));
  auto back = cat("/big.bin");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, content);
}

// When the root block cannot be fetched the service's size stays shown and nothing fails.
TEST_F(Listing, attr_size_falls_back_to_service_size) {
  fake_->set_dag_sizes(true);
  auto pin = fake_->add_file("small.bin", "tiny", 0);
  fake_->fail_next(service::FakeOp::GatewayBlock, Error{EIO, "gateway down"}, -1);
  start();
  auto entry = walk("/small.bin");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->attr.st_size, static_cast<off_t>(pin.size));
  EXPECT_EQ(entry->timeout, 0.0);  // asked again next time
}

TEST_F(Listing, lookup_of_missing_name_is_enoent) {
  start();
  auto entry = walk("/nope");
  ASSERT_FALSE(entry);
  EXPECT_EQ(entry.error().errnum, ENOENT);
}

TEST_F(Listing, list_failure_without_index_is_reported) {
  fake_->fail_next(service::FakeOp::List, Error{EACCES, "bad token"}, 2);
  start();
  auto dh = vfs_->opendir(kRootIno);
  ASSERT_TRUE(dh);
  auto local = vfs_->readdir(*dh, 0, 3);  // ".", "..", ".pinfs": nothing asked of the service yet
  ASSERT_TRUE(local);
  EXPECT_EQ(local->size(), 3u);
  auto pins = vfs_->readdir(*dh, local->size(), 100);
  ASSERT_FALSE(pins);
  EXPECT_EQ(pins.error().errnum, EACCES);
  vfs_->releasedir(*dh);
  auto entry = walk("/anything");  // a lookup needs the listing too
  ASSERT_FALSE(entry);
  EXPECT_EQ(entry.error().errnum, EACCES);
}

// The first listing streams: each readdir past what is known fetches one more page, and a name already
// listed is found without waiting for the rest.
TEST_F(Listing, list_stream_entries_arrive_page_by_page) {
  service::Capabilities caps;
  caps.max_page_size = 7;
  caps.metadata_update = true;
  fake_->set_capabilities(caps);
  for (int i = 0; i < 50; ++i) fake_->add_file("f" + std::to_string(i), "x" + std::to_string(i));
  start();
  auto dh = vfs_->opendir(kRootIno);
  ASSERT_TRUE(dh);
  EXPECT_EQ(fake_->counters().list.load(), 0u);
  auto local = vfs_->readdir(*dh, 0, 3);
  ASSERT_TRUE(local);
  ASSERT_EQ(local->size(), 3u);
  EXPECT_EQ(fake_->counters().list.load(), 0u);
  auto first_page = vfs_->readdir(*dh, 3, 7);
  ASSERT_TRUE(first_page);
  EXPECT_EQ(first_page->size(), 7u);
  EXPECT_EQ(fake_->counters().list.load(), 1u);
  auto early = vfs_->lookup(kRootIno, first_page->front().name);
  ASSERT_TRUE(early) << early.error().describe();
  EXPECT_EQ(fake_->counters().list.load(), 1u);

  std::set<std::string> names;
  for (const auto& item : *first_page) names.insert(item.name);
  for (std::uint64_t offset = 10;;) {
    auto items = vfs_->readdir(*dh, offset, 100);
    ASSERT_TRUE(items);
    if (items->empty()) break;
    for (const auto& item : *items) names.insert(item.name);
    offset += items->size();
  }
  vfs_->releasedir(*dh);
  EXPECT_EQ(names.size(), 50u);
  EXPECT_EQ(fake_->counters().list.load(), 8u);  // ceil(50/7) pages, each once
  EXPECT_EQ(ls().size(), 51u);                   // then served from the index
  EXPECT_EQ(fake_->counters().list.load(), 8u);
}

// A namesake on the last page of a streamed listing: the name returned earlier stays in that listing, and
// once it is complete both carry the suffix (the full renaming runs; without a collision it is skipped).
TEST_F(Listing, list_stream_namesake_on_the_last_page_suffixes_both_once_complete) {
  service::Capabilities caps;
  caps.max_page_size = 7;
  caps.metadata_update = true;
  fake_->set_capabilities(caps);
  auto first = fake_->add_file("same.txt", "first");
  for (int i = 0; i < 19; ++i) fake_->add_file("f" + std::to_string(i), "x" + std::to_string(i));
  auto last = fake_->add_file("same.txt", "last");
  start();
  std::set<std::string> streamed;
  auto dh = vfs_->opendir(kRootIno);
  ASSERT_TRUE(dh);
  for (std::uint64_t offset = 0;;) {
    auto items = vfs_->readdir(*dh, offset, 5);
    ASSERT_TRUE(items);
    if (items->empty()) break;
    for (const auto& item : *items) streamed.insert(item.name);
    offset += items->size();
  }
  vfs_->releasedir(*dh);
  auto suffix = [](const std::string& cid) { return "same~" + cid.substr(cid.size() - 8) + ".txt"; };
  EXPECT_EQ(streamed.size(), 21u + 3u);        // ".", ".." and the control directory
  EXPECT_TRUE(streamed.contains("same.txt"));  // page 1 showed it before the namesake came
  auto names = ls();
  EXPECT_EQ(std::count(names.begin(), names.end(), "same.txt"), 0);
  EXPECT_EQ(cat_text("/" + suffix(first.cid)), "first");
  EXPECT_EQ(cat_text("/" + suffix(last.cid)), "last");
  EXPECT_EQ(cat_text("/f18"), "x18");
  EXPECT_EQ(names.size(), 22u);  // and the control directory
}

TEST_F(Listing, consistency_poll_remote_changes_after_refresh) {
  fake_->add_file("one", "1");
  start();
  EXPECT_EQ(ls().size(), 2u);
  fake_->add_file("two", "2");
  EXPECT_EQ(ls().size(), 2u);  // within the poll interval: the index
  ASSERT_TRUE(vfs_->refresh());
  EXPECT_EQ(ls().size(), 3u);
}

TEST_F(Listing, consistency_poll_interval_zero_relists_every_time) {
  options_.poll_interval = std::chrono::seconds(0);
  fake_->add_file("one", "1");
  start();
  EXPECT_EQ(ls().size(), 2u);
  fake_->add_file("two", "2");
  EXPECT_EQ(ls().size(), 3u);
}

TEST_F(Listing, names_collision_in_root) {
  auto a = fake_->add_file("same.txt", "content A");
  auto b = fake_->add_file("same.txt", "content B");
  start();
  auto names = ls();
  auto suffix = [](const std::string& cid) { return "same~" + cid.substr(cid.size() - 8) + ".txt"; };
  EXPECT_NE(std::find(names.begin(), names.end(), suffix(a.cid)), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), suffix(b.cid)), names.end());
  EXPECT_EQ(cat_text("/" + suffix(b.cid)), "content B");
}

// A file being written hides a pin of the same name that appeared meanwhile; once pinned, the two pins share
// the name and both get the collision suffix.
TEST_F(Listing, names_shadow_new_file_hides_a_pin_of_the_same_name) {
  start();
  auto created = vfs_->create(kRootIno, "x.txt", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(created);
  ASSERT_TRUE(vfs_->write(created->file.fh, 0, "local", 5));
  fake_->add_file("x.txt", "made elsewhere");
  ASSERT_TRUE(vfs_->refresh());
  auto names = ls();
  EXPECT_EQ(std::count(names.begin(), names.end(), "x.txt"), 1);
  auto shown = walk("/x.txt");
  ASSERT_TRUE(shown);
  EXPECT_EQ(shown->ino, created->entry.ino);
  EXPECT_EQ(shown->attr.st_mode, S_IFREG | 0644);  // the new file, not the pin

  ASSERT_TRUE(vfs_->flush(created->file.fh));  // sync upload: now two pins are named x.txt
  vfs_->release(created->file.fh);
  ASSERT_TRUE(vfs_->refresh());
  names = ls();
  EXPECT_EQ(std::count(names.begin(), names.end(), "x.txt"), 0);
  EXPECT_EQ(
      std::count_if(names.begin(), names.end(), [](const std::string& n) { return n.starts_with("x~"); }), 2);
}

TEST_F(Listing, dirpins_browse_nested_directories) {
  auto big = pattern(600 * 1024);
  auto pin = fake_->add_directory(
      "site", {{"index.html", "<html/>"}, {"img/logo.png", big}, {"img/x/deep.txt", "d"}});
  start();
  auto entry = walk("/site");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->attr.st_mode, S_IFDIR | 0555);
  auto top = ls("/site");
  std::sort(top.begin(), top.end());
  EXPECT_EQ(top, (std::vector<std::string>{"img", "index.html"}));
  auto img = walk("/site/img");
  ASSERT_TRUE(img);
  EXPECT_TRUE(S_ISDIR(img->attr.st_mode));
  auto logo = walk("/site/img/logo.png");
  ASSERT_TRUE(logo);
  EXPECT_EQ(logo->attr.st_size,
            static_cast<off_t>(big.size()));  // multi-block file: size from its UnixFS node
  EXPECT_EQ(logo->attr.st_mtim.tv_sec, pin.pinned_at);
  auto small = walk("/site/index.html");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->attr.st_size, 7);  // raw leaf: size from the link's Tsize
  EXPECT_EQ(cat_text("/site/img/logo.png"), big);
  EXPECT_EQ(cat_text("/site/img/x/deep.txt"), "d");
}

TEST_F(Listing, lookup_counts_forget_drops_pin_inode) {
  fake_->add_file("f", "content");
  start();
  auto first = walk("/f");
  ASSERT_TRUE(first);
  auto again = walk("/f");
  ASSERT_TRUE(again);
  EXPECT_EQ(first->ino, again->ino);  // two references on one inode
  vfs_->forget(first->ino, 1);
  EXPECT_TRUE(vfs_->getattr(first->ino));  // one reference left
  vfs_->forget(first->ino, 1);
  EXPECT_FALSE(vfs_->getattr(first->ino));  // gone with the last reference
  auto third = walk("/f");
  ASSERT_TRUE(third);
  EXPECT_NE(third->ino, first->ino);  // numbers are never reused
}

TEST_F(Listing, lookup_counts_readdirplus_remember_keeps_inode) {
  fake_->add_file("f", "content");
  start();
  auto dh = vfs_->opendir(kRootIno);
  ASSERT_TRUE(dh);
  auto items = vfs_->readdir(*dh, 0, 100);
  ASSERT_TRUE(items);
  Ino ino = 0;
  for (auto& item : *items)
    if (item.name == "f") ino = item.entry.ino;
  ASSERT_NE(ino, 0u);
  vfs_->remember(ino);  // this entry fit in the kernel's buffer
  vfs_->releasedir(*dh);
  EXPECT_TRUE(vfs_->getattr(ino));
  auto looked = walk("/f");
  ASSERT_TRUE(looked);
  EXPECT_EQ(looked->ino, ino);
  vfs_->forget(ino, 2);
  EXPECT_FALSE(vfs_->getattr(ino));
}

TEST_F(Listing, lookup_counts_unremembered_readdir_entries_are_dropped) {
  fake_->add_file("f", "content");
  start();
  auto dh = vfs_->opendir(kRootIno);
  auto items = vfs_->readdir(*dh, 0, 100);
  Ino ino = 0;
  for (auto& item : *items)
    if (item.name == "f") ino = item.entry.ino;
  vfs_->releasedir(*dh);  // the entry did not fit: never counted, so not kept
  EXPECT_FALSE(vfs_->getattr(ino));
}

}  // namespace
}  // namespace pinfs::vfs::testing
