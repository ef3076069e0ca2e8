#include <sys/xattr.h>

#include "vfs_fixture.hpp"

namespace pinfs::vfs::testing {
namespace {

using Xattrs = VfsFixture;

TEST_F(Xattrs, xattr_readonly_facts_of_a_pin) {
  auto pin = fake_->add_file("f.txt", "12345", 1, {{"owner", "me"}});
  start();
  EXPECT_EQ(xattr("/f.txt", "user.pinfs.cid"), pin.cid);
  EXPECT_EQ(xattr("/f.txt", "user.pinfs.id"), pin.id);
  EXPECT_EQ(xattr("/f.txt", "user.pinfs.size"), "5");
  EXPECT_EQ(xattr("/f.txt", "user.pinfs.pinned_at"), "2023-11-14T22:13:20Z");  // the fake's clock, 1700000000
  EXPECT_EQ(xattr("/f.txt", "user.pinfs.status"), "pinned");
  EXPECT_EQ(xattr("/f.txt", "user.pinfs.verified"), "false");  // not uploaded through this mount
  auto entry = walk("/f.txt");
  auto set = vfs_->setxattr(entry->ino, "user.pinfs.cid", "x", 0);
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().errnum, EPERM);
  auto removed = vfs_->removexattr(entry->ino, "user.pinfs.status");
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error().errnum, EPERM);
}

// Pinata's upload reply has no pin id: user.pinfs.id is absent (not empty) until a listing brings it.
TEST_F(Xattrs, xattr_readonly_unknown_pin_id_is_absent) {
  fake_->set_upload_reply_without_id(true);
  start();
  ASSERT_TRUE(put("new.txt", "fresh"));
  EXPECT_EQ(xattr("/new.txt", "user.pinfs.status"), "pinned");
  EXPECT_EQ(xattr("/new.txt", "user.pinfs.id"), "<errno " + std::to_string(ENODATA) + ">");
  auto entry = walk("/new.txt");
  ASSERT_TRUE(entry);
  std::vector<char> names(4096);
  auto n = vfs_->listxattr(entry->ino, names.data(), names.size());
  ASSERT_TRUE(n);
  std::string listed(names.data(), *n);
  EXPECT_NE(listed.find("user.pinfs.cid"), std::string::npos);
  EXPECT_EQ(listed.find("user.pinfs.id"), std::string::npos);
}

TEST_F(Xattrs, xattr_meta_set_and_remove_update_the_service) {
  fake_->add_file("f", "x", 1, {{"a", "1"}});
  start();
  EXPECT_EQ(xattr("/f", "user.meta.a"), "1");
  auto entry = walk("/f");
  ASSERT_TRUE(vfs_->setxattr(entry->ino, "user.meta.b", "2", 0));
  EXPECT_EQ(fake_->pins()[0].keyvalues.at("b"), "2");
  EXPECT_EQ(xattr("/f", "user.meta.b"), "2");
  ASSERT_TRUE(vfs_->removexattr(entry->ino, "user.meta.a"));
  EXPECT_FALSE(fake_->pins()[0].keyvalues.contains("a"));
  EXPECT_EQ(xattr("/f", "user.meta.a"), "<errno " + std::to_string(ENODATA) + ">");
  auto missing = vfs_->removexattr(entry->ino, "user.meta.nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().errnum, ENODATA);
  EXPECT_EQ(fake_->counters().update_metadata.load(), 2u);
}

TEST_F(Xattrs, xattr_limits_too_many_keys_is_e2big) {
  service::KeyValues kv;
  for (int i = 0; i < 10; ++i) kv["k" + std::to_string(i)] = "v";
  fake_->add_file("full", "x", 1, kv);
  start();
  auto entry = walk("/full");
  auto set = vfs_->setxattr(entry->ino, "user.meta.eleventh", "v", 0);
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().errnum, E2BIG);
  EXPECT_TRUE(vfs_->setxattr(entry->ino, "user.meta.k3", "changed", 0));  // replacing is fine
}

TEST_F(Xattrs, xattr_limits_no_metadata_update_is_enotsup_once_uploaded) {
  service::Capabilities caps;
  caps.metadata_update = false;
  fake_->set_capabilities(caps);
  fake_->add_file("f", "x");
  start();
  auto entry = walk("/f");
  auto set = vfs_->setxattr(entry->ino, "user.meta.k", "v", 0);
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().errnum, ENOTSUP);
  EXPECT_EQ(fake_->counters().update_metadata.load(), 0u);
}

TEST_F(Xattrs, xattr_limits_local_metadata_is_sent_with_the_upload) {
  service::Capabilities caps;
  caps.metadata_update = false;  // even without the call, metadata set before upload works
  fake_->set_capabilities(caps);
  start();
  auto created = vfs_->create(kRootIno, "tagged", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(vfs_->write(created->file.fh, 0, "x", 1));
  ASSERT_TRUE(vfs_->setxattr(created->entry.ino, "user.meta.project", "pinfs", 0));
  EXPECT_EQ(xattr("/tagged", "user.meta.project"), "pinfs");
  ASSERT_TRUE(vfs_->flush(created->file.fh));
  vfs_->release(created->file.fh);
  EXPECT_EQ(fake_->find_by_name("tagged")->keyvalues.at("project"), "pinfs");
  EXPECT_EQ(fake_->counters().update_metadata.load(), 0u);
}

TEST_F(Xattrs, xattr_namespaces_other_names_are_enotsup) {
  fake_->add_file("f", "x");
  start();
  auto entry = walk("/f");
  char buf[16];
  for (const char* name : {"trusted.x", "security.selinux", "user.other", "user.pinfs.bogus"}) {
    auto got = vfs_->getxattr(entry->ino, name, buf, sizeof buf);
    ASSERT_FALSE(got) << name;
    EXPECT_EQ(got.error().errnum, ENOTSUP) << name;
  }
  auto set = vfs_->setxattr(entry->ino, "trusted.x", "v", 0);
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().errnum, ENOTSUP);
}

TEST_F(Xattrs, xattr_sizes_zero_size_query_and_erange) {
  auto pin = fake_->add_file("f", "x", 1, {{"k", "value"}});
  start();
  auto entry = walk("/f");
  auto size = vfs_->getxattr(entry->ino, "user.pinfs.cid", nullptr, 0);
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, pin.cid.size());
  char small[4];
  auto tight = vfs_->getxattr(entry->ino, "user.pinfs.cid", small, sizeof small);
  ASSERT_FALSE(tight);
  EXPECT_EQ(tight.error().errnum, ERANGE);
  auto list_size = vfs_->listxattr(entry->ino, nullptr, 0);
  ASSERT_TRUE(list_size);
  std::string names(*list_size, '\0');
  ASSERT_EQ(*vfs_->listxattr(entry->ino, names.data(), names.size()), names.size());
  EXPECT_NE(names.find(std::string("user.meta.k\0", 12)), std::string::npos);
  EXPECT_NE(names.find(std::string("user.pinfs.verified\0", 20)), std::string::npos);
  auto list_small = vfs_->listxattr(entry->ino, small, sizeof small);
  ASSERT_FALSE(list_small);
  EXPECT_EQ(list_small.error().errnum, ERANGE);
}

TEST_F(Xattrs, xattr_meta_create_and_replace_flags) {
  fake_->add_file("f", "x", 1, {{"k", "v"}});
  start();
  auto entry = walk("/f");
  auto create = vfs_->setxattr(entry->ino, "user.meta.k", "w", XATTR_CREATE);
  ASSERT_FALSE(create);
  EXPECT_EQ(create.error().errnum, EEXIST);
  auto replace = vfs_->setxattr(entry->ino, "user.meta.new", "w", XATTR_REPLACE);
  ASSERT_FALSE(replace);
  EXPECT_EQ(replace.error().errnum, ENODATA);
}

}  // namespace
}  // namespace pinfs::vfs::testing
