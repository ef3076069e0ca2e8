// Issue 5 through a real mount, one body per rule, both providers: reads, dedupe, xattrs, the control folder,
// async uploads, sync upload failure, pin by CID, immutability, rsync, remote changes.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/xattr.h>

#include "mount_test_support.hpp"

namespace pinfs::testing {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string upload_path(const std::string& provider) {
  return provider == "aioz" ? "/api/pinning/" : "/pinning/pinFileToIPFS";
}

using Filesystem = MountTest;

// [read.range] dd at offsets inside and across chunks returns exactly those bytes.
TEST_P(Filesystem, RandomReadsAreCorrect) {
  const std::string data = write_random_file(src("big.bin"), 3 * 262144 + 1000, 11);
  ASSERT_EQ(run_shell("cp " + shq(src("big.bin")) + " " + shq(m().mnt() + "/")).exit_code, 0);
  for (std::size_t offset : {std::size_t{0}, std::size_t{4096}, std::size_t{262144 - 512},
                             std::size_t{2 * 262144 + 7}, data.size() - 100}) {
    auto r = run_shell("dd if=" + shq(m().path("big.bin")) + " bs=1 skip=" + std::to_string(offset) +
                           " count=1000 status=none",
                       std::chrono::seconds(60));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(r.out == data.substr(offset, 1000)) << "wrong bytes at offset " << offset;
  }
}

// [write.dedupe] content already pinned is not uploaded again and yields a pin under the new name.
TEST_P(Filesystem, CopyOfPinnedContentUploadsNothing) {
  write_random_file(src("one.bin"), 50000, 12);
  ASSERT_EQ(run_shell("cp " + shq(src("one.bin")) + " " + shq(m().mnt() + "/")).exit_code, 0);
  const std::uint64_t uploads = m().emulator_uploads();
  ASSERT_EQ(run_shell("cp " + shq(src("one.bin")) + " " + shq(m().path("two.bin"))).exit_code, 0);
  EXPECT_EQ(m().emulator_uploads(), uploads) << "the same content was uploaded twice";
  auto two = m().remote_pin_named("two.bin");
  ASSERT_TRUE(two.has_value()) << "no pin named two.bin";
  EXPECT_EQ(two->cid, local_cid(src("one.bin")));
  EXPECT_EQ(xattr(m().path("two.bin"), "user.pinfs.cid"), two->cid);
  // The job's pin is found by a refresh brought forward, not at the next poll (60 s here).
  EXPECT_TRUE(eventually([&] { return xattr(m().path("two.bin"), "user.pinfs.status") == "pinned"; },
                         std::chrono::seconds(5)))
      << xattr(m().path("two.bin"), "user.pinfs.status");
}

// [xattr.readonly] [xattr.namespaces]
TEST_P(Filesystem, XattrsShowPinFactsAndRefuseOtherNamespaces) {
  write_random_file(src("x.bin"), 1234, 13);
  ASSERT_EQ(run_shell("cp " + shq(src("x.bin")) + " " + shq(m().mnt() + "/")).exit_code, 0);
  auto dump = run_shell("getfattr -d --absolute-names " + shq(m().path("x.bin")));
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  for (const char* name :
       {"user.pinfs.cid=", "user.pinfs.size=\"1234\"", "user.pinfs.pinned_at=", "user.pinfs.status="})
    EXPECT_TRUE(contains(dump.out, name)) << name << " missing from:\n" << dump.out;
  auto trusted = run_shell("setfattr -n trusted.k -v v " + shq(m().path("x.bin")));
  EXPECT_NE(trusted.exit_code, 0);
  EXPECT_TRUE(contains(trusted.err, "Operation not supported")) << trusted.err;
  auto readonly = run_shell("setfattr -n user.pinfs.cid -v bafkfake " + shq(m().path("x.bin")));
  EXPECT_NE(readonly.exit_code, 0) << "user.pinfs.cid must be read-only";
}

// [xattr.meta] Pinata updates keyvalues on the service; AIOZ has no metadata call: a clear error.
TEST_P(Filesystem, SetfattrUserMetaUpdatesTheService) {
  write_random_file(src("m.bin"), 999, 14);
  ASSERT_EQ(run_shell("cp " + shq(src("m.bin")) + " " + shq(m().mnt() + "/")).exit_code, 0);
  auto set = run_shell("setfattr -n user.meta.project -v apollo " + shq(m().path("m.bin")));
  if (GetParam() == "aioz") {
    EXPECT_NE(set.exit_code, 0) << "AIOZ cannot change metadata of an uploaded pin";
    EXPECT_TRUE(contains(set.err, "not supported")) << set.err;
    return;
  }
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(xattr(m().path("m.bin"), "user.meta.project"), "apollo");
  const std::string list = m().api_get("/data/pinList?status=pinned&pageLimit=1000");
  EXPECT_TRUE(contains(list, "\"project\":\"apollo\"")) << list;
  auto remove = run_shell("setfattr -x user.meta.project " + shq(m().path("m.bin")));
  ASSERT_EQ(remove.exit_code, 0) << remove.err;
  EXPECT_FALSE(contains(m().api_get("/data/pinList?status=pinned&pageLimit=1000"), "apollo"));
}

// [control.readonly] status JSON and by-cid/
TEST_P(Filesystem, ControlFolderStatusAndByCid) {
  const std::string data = write_random_file(src("c.bin"), 7777, 15);
  ASSERT_EQ(run_shell("cp " + shq(src("c.bin")) + " " + shq(m().mnt() + "/")).exit_code, 0);
  const std::string status = cat(m().path(".pinfs/status"));
  rapidjson::Document doc;
  doc.Parse(status.c_str());
  ASSERT_TRUE(doc.IsObject()) << status;
  ASSERT_TRUE(doc.HasMember("totals") && doc["totals"].HasMember("pins")) << status;
  EXPECT_EQ(doc["totals"]["pins"].GetUint64(), 1u) << status;
  EXPECT_TRUE(doc.HasMember("pending_uploads") && doc["pending_uploads"].IsArray()) << status;
  EXPECT_TRUE(doc.HasMember("cache") && doc.HasMember("requests")) << status;

  const std::string cid = local_cid(src("c.bin"));
  EXPECT_TRUE(cat(m().path(".pinfs/by-cid/" + cid)) == data) << "by-cid/" << cid << " differs";
  auto write = run_shell("touch " + shq(m().path(".pinfs/new")));
  EXPECT_NE(write.exit_code, 0) << "the control folder must be read-only";
}

// [write.immutable] a pin cannot be changed in place.
TEST_P(Filesystem, WritingIntoAPinIsRefused) {
  write_random_file(src("p.bin"), 100, 16);
  ASSERT_EQ(run_shell("cp " + shq(src("p.bin")) + " " + shq(m().mnt() + "/")).exit_code, 0);
  auto append = run_shell("echo more >> " + shq(m().path("p.bin")));
  EXPECT_NE(append.exit_code, 0);
  EXPECT_TRUE(contains(append.err, "Read-only file system") ||
              contains(append.err, "Operation not permitted") || contains(append.err, "Permission denied"))
      << append.err;
  auto truncate = run_shell("truncate -s 0 " + shq(m().path("p.bin")));
  EXPECT_NE(truncate.exit_code, 0);
  EXPECT_EQ(m().remote_pin_named("p.bin")->cid, local_cid(src("p.bin")));
}

// [write.sync] [durable.staged] the upload fails: close() reports EIO, nothing shows as pinned, the data
// stays staged.
TEST_P(Filesystem, FailedSyncUploadFailsCloseAndKeepsTheData) {
  write_random_file(src("f.bin"), 20000, 17);
  m().emulator().request("POST", "/_emulator/faults",
                         R"({"method":"POST","path_prefix":")" + upload_path(GetParam()) +
                             R"(","action":"status","status":500})");
  auto cp = run_shell("cp " + shq(src("f.bin")) + " " + shq(m().mnt() + "/"), std::chrono::seconds(180));
  EXPECT_NE(cp.exit_code, 0) << "cp succeeded although every upload failed";
  EXPECT_TRUE(contains(cp.err, "Input/output error")) << cp.err;
  m().emulator().request("DELETE", "/_emulator/faults");
  EXPECT_FALSE(m().remote_pin_named("f.bin").has_value());
  auto staged = run_shell("find " + shq(m().cache_dir()) +
                          " -type f -size 20000c | while read -r f; do cmp -s \"$f\" " + shq(src("f.bin")) +
                          " && echo \"$f\"; done");
  EXPECT_FALSE(staged.out.empty()) << "no staged copy of the 20000-byte file under " << m().cache_dir();
}

// [write.async] close() returns at once; the uploader pins it; unmount waits for it.
class AsyncFilesystem : public MountTest {
 protected:
  PinfsMount::Options options() const override {
    auto o = MountTest::options();
    o.extra_args = {"--upload", "async"};
    return o;
  }
};

TEST_P(AsyncFilesystem, UploadsInTheBackgroundAndUnmountWaits) {
  write_random_file(src("a.bin"), 300000, 18);
  m().emulator().request("POST", "/_emulator/faults",
                         R"({"method":"POST","path_prefix":")" + upload_path(GetParam()) +
                             R"(","action":"stall","stall_ms":1500,"times":1})");
  ASSERT_EQ(run_shell("cp " + shq(src("a.bin")) + " " + shq(m().mnt() + "/")).exit_code, 0);
  const std::string state = xattr(m().path("a.bin"), "user.pinfs.status");
  EXPECT_TRUE(state == "queued" || state == "uploading" || state == "pinned") << state;
  auto unmount = m().pinfs({"unmount", m().mnt()});
  EXPECT_EQ(unmount.exit_code, 0) << unmount.err;
  EXPECT_FALSE(m().mounted());
  auto pin = m().remote_pin_named("a.bin");
  ASSERT_TRUE(pin.has_value()) << "unmount did not wait for the pending upload";
  EXPECT_EQ(pin->cid, local_cid(src("a.bin")));
}

// [symlink.pin-by-cid]
TEST_P(Filesystem, SymlinkToIpfsPinsByCid) {
  write_random_file(src("s.bin"), 4000, 19);
  ASSERT_EQ(run_shell("cp " + shq(src("s.bin")) + " " + shq(m().mnt() + "/")).exit_code, 0);
  const std::string cid = local_cid(src("s.bin"));
  auto ln = run_shell("ln -s /ipfs/" + cid + " " + shq(m().path("linked.bin")));
  ASSERT_EQ(ln.exit_code, 0) << ln.err;
  EXPECT_TRUE(eventually([&] { return m().remote_pin_named("linked.bin").has_value(); }))
      << "no pin named linked.bin on the service";
  auto bad = run_shell("ln -s /ipfs/not-a-cid " + shq(m().path("bad")));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_TRUE(contains(bad.err, "Invalid argument")) << bad.err;
}

// [rename.metadata] [write.local-edits] rsync: temp name then rename: end to end, byte-identical.
TEST_P(Filesystem, RsyncCopiesATree) {
  std::filesystem::create_directories(src("tree"));
  const std::string a = write_random_file(src("tree/a.txt"), 3000, 20);
  const std::string b = write_random_file(src("tree/b.bin"), 70000, 21);
  auto rsync = run_shell("rsync -a " + shq(src("tree") + "/") + " " + shq(m().mnt() + "/"));
  ASSERT_EQ(rsync.exit_code, 0) << rsync.err;
  const std::string got_a = cat(m().path("a.txt"), std::chrono::seconds(20));
  EXPECT_TRUE(got_a == a) << got_a.size() << " bytes read back, " << a.size() << " written"
                          << (got_a.size() < 300 ? ": " + got_a : "");
  const std::string got_b = cat(m().path("b.bin"), std::chrono::seconds(20));
  EXPECT_TRUE(got_b == b) << got_b.size() << " bytes read back, " << b.size() << " written"
                          << (got_b.size() < 300 ? ": " + got_b : "");
  for (const auto& p : m().remote_pins()) EXPECT_EQ(p.name.find(".a.txt."), std::string::npos) << p.name;
  EXPECT_TRUE(m().remote_pin_named("b.bin").has_value());
}

// [mkdir.directory-pin] a new directory becomes one directory pin (after the quiet delay, on fsync, or at
// unmount).
TEST_P(Filesystem, NewDirectoryBecomesOneDirectoryPin) {
  std::filesystem::create_directories(src("site/img"));
  const std::string index = write_random_file(src("site/index.html"), 2000, 22);
  const std::string logo = write_random_file(src("site/img/logo.png"), 300000, 23);
  ASSERT_EQ(run_shell("mkdir " + shq(m().path("site"))).exit_code, 0);
  auto cp = run_shell("cp -r " + shq(src("site") + "/.") + " " + shq(m().path("site") + "/"));
  ASSERT_EQ(cp.exit_code, 0) << cp.err;
  EXPECT_TRUE(eventually([&] { return m().remote_pin_named("site").has_value(); }, std::chrono::seconds(30)))
      << "no directory pin named site";
  EXPECT_TRUE(cat(m().path("site/index.html")) == index);
  EXPECT_TRUE(cat(m().path("site/img/logo.png")) == logo);
  auto ls = run_shell("ls " + shq(m().path("site")));
  EXPECT_TRUE(contains(ls.out, "index.html") && contains(ls.out, "img")) << ls.out;
  // The same tree uploaded straight to the service (under another name) gets the same CID.
  std::vector<std::string> parts = {
      "-X", "POST",
      "-F", "file=@" + src("site/index.html") + ";filename=copy/index.html",
      "-F", "file=@" + src("site/img/logo.png") + ";filename=copy/img/logo.png"};
  if (GetParam() == "pinata") parts.insert(parts.end(), {"-F", R"(pinataOptions={"cidVersion":1})"});
  // The emulator answers a duplicate upload with the existing CID (Pinata: isDuplicate), adding no pin.
  auto reply = m().api_curl(parts, GetParam() == "aioz" ? "/api/pinning/" : "/pinning/pinFileToIPFS");
  rapidjson::Document doc;
  doc.Parse(reply.c_str());
  ASSERT_TRUE(doc.IsObject()) << reply;
  const rapidjson::Value& body = doc.HasMember("data") ? doc["data"] : doc;
  const char* key = GetParam() == "aioz" ? "cid" : "IpfsHash";
  ASSERT_TRUE(body.IsObject() && body.HasMember(key) && body[key].IsString()) << reply;
  const std::string direct = body[key].GetString();
  auto mounted = m().remote_pin_named("site");
  ASSERT_TRUE(mounted);
  EXPECT_EQ(mounted->cid, direct);
  EXPECT_EQ(xattr(m().path("site"), "user.pinfs.cid"), direct);
}

// [unlink.unpins] rmdir of a directory pin unpins it (the service confirms); rm inside it only hides the
// entry ([dirpin.rm]).
TEST_P(Filesystem, RmdirOfADirectoryPinUnpinsIt) {
  write_random_file(src("one.jpg"), 5000, 31);
  ASSERT_EQ(run_shell("mkdir " + shq(m().path("album"))).exit_code, 0);
  auto cp = run_shell("cp " + shq(src("one.jpg")) + " " + shq(m().path("album/")));
  ASSERT_EQ(cp.exit_code, 0) << cp.err;
  ASSERT_TRUE(eventually([&] { return m().remote_pin_named("album").has_value(); }, std::chrono::seconds(30)))
      << "no directory pin named album";
  // rm inside a directory pin only hides the entry until the pin itself goes ([dirpin.rm]).
  auto inside = run_shell("rm -f " + shq(m().path("album/one.jpg")));
  EXPECT_EQ(inside.exit_code, 0) << inside.err;
  EXPECT_FALSE(std::filesystem::exists(m().path("album/one.jpg")));
  EXPECT_TRUE(m().remote_pin_named("album").has_value()) << "rm inside a directory pin unpinned it";
  auto rmdir = run_shell("rmdir " + shq(m().path("album")));
  ASSERT_EQ(rmdir.exit_code, 0) << rmdir.err;
  EXPECT_FALSE(m().remote_pin_named("album").has_value()) << "the service still lists album";
  EXPECT_FALSE(std::filesystem::exists(m().path("album")));
}

// [consistency.poll] a pin made elsewhere appears within the poll interval.
class PollingFilesystem : public MountTest {
 protected:
  PinfsMount::Options options() const override {
    auto o = MountTest::options();
    o.extra_args = {"--poll-interval", "1"};
    return o;
  }
};

TEST_P(PollingFilesystem, PinsMadeElsewhereAppearWithinThePollInterval) {
  auto ls = run_shell("ls " + shq(m().mnt()));
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_FALSE(contains(ls.out, "elsewhere.txt"));
  const std::string data = write_random_file(src("e.txt"), 1500, 24);
  m().api_upload(src("e.txt"), "elsewhere.txt");
  EXPECT_TRUE(eventually([&] { return contains(run_shell("ls " + shq(m().mnt())).out, "elsewhere.txt"); },
                         std::chrono::seconds(10)))
      << "the remote pin did not appear";
  EXPECT_TRUE(cat(m().path("elsewhere.txt")) == data);
}

// [names.collision] pins sharing a name are all shown as stem~<last 8 of CID>.ext.
TEST_P(PollingFilesystem, PinsSharingANameGetCidSuffixes) {
  write_random_file(src("d1"), 100, 25);
  write_random_file(src("d2"), 200, 26);
  m().api_upload(src("d1"), "dup.txt");
  m().api_upload(src("d2"), "dup.txt");
  // A bare upload without cidVersion gets Pinata's default, CIDv0; AIOZ always makes CIDv1.
  const int version = GetParam() == "pinata" ? 0 : 1;
  const std::string c1 = local_cid(src("d1"), version), c2 = local_cid(src("d2"), version);
  const std::string n1 = "dup~" + c1.substr(c1.size() - 8) + ".txt",
                    n2 = "dup~" + c2.substr(c2.size() - 8) + ".txt";
  EXPECT_TRUE(eventually(
      [&] {
        auto out = run_shell("ls " + shq(m().mnt())).out;
        return contains(out, n1) && contains(out, n2);
      },
      std::chrono::seconds(10)))
      << run_shell("ls " + shq(m().mnt())).out;
  EXPECT_TRUE(cat(m().path(n2)) == slurp(src("d2")));
}

// [read.cache] content fetched once is served from the disk cache afterwards.
TEST_P(PollingFilesystem, SecondReadComesFromTheCache) {
  const std::string data = write_random_file(src("r.bin"), 400000, 27);
  m().api_upload(src("r.bin"), "remote.bin");
  ASSERT_TRUE(
      eventually([&] { return std::filesystem::exists(m().path("remote.bin")); }, std::chrono::seconds(10)));
  const std::uint64_t before = m().emulator_requests("GET /ipfs/{cid}");
  EXPECT_TRUE(cat(m().path("remote.bin")) == data);
  const std::uint64_t after_first = m().emulator_requests("GET /ipfs/{cid}");
  EXPECT_GT(after_first, before) << "the first read did not go to the gateway";
  ASSERT_EQ(run_shell("echo 3 > /proc/sys/vm/drop_caches || true").exit_code, 0);
  EXPECT_TRUE(cat(m().path("remote.bin")) == data);
  EXPECT_EQ(m().emulator_requests("GET /ipfs/{cid}"), after_first)
      << "the second read went to the gateway again";
}

// [xattr.sizes] size 0 asks for the size; a short buffer is ERANGE.
TEST_P(Filesystem, XattrSizeQueryAndErange) {
  write_random_file(src("z.bin"), 300, 29);
  ASSERT_EQ(run_shell("cp " + shq(src("z.bin")) + " " + shq(m().mnt() + "/")).exit_code, 0);
  const std::string cid = local_cid(src("z.bin"));
  const std::string path = m().path("z.bin");
  EXPECT_EQ(::getxattr(path.c_str(), "user.pinfs.cid", nullptr, 0), static_cast<ssize_t>(cid.size()));
  char small[4];
  errno = 0;
  EXPECT_EQ(::getxattr(path.c_str(), "user.pinfs.cid", small, sizeof small), -1);
  EXPECT_EQ(errno, ERANGE);
  EXPECT_GT(::listxattr(path.c_str(), nullptr, 0), 0);
  errno = 0;
  EXPECT_EQ(::listxattr(path.c_str(), small, sizeof small), -1);
  EXPECT_EQ(errno, ERANGE);
}

// [symlink.pin-by-cid] a CID nobody holds stays a symlink with a job in /.pinfs/jobs/.
TEST_P(Filesystem, PinByUnknownCidShowsAJob) {
  write_random_file(src("never-uploaded"), 500, 30);
  const std::string cid = local_cid(src("never-uploaded"));
  ASSERT_EQ(run_shell("ln -s /ipfs/" + cid + " " + shq(m().path("wanted"))).exit_code, 0);
  auto link = run_shell("readlink " + shq(m().path("wanted")));
  EXPECT_EQ(link.out, "/ipfs/" + cid + "\n");
  auto jobs = run_shell("ls " + shq(m().path(".pinfs/jobs")));
  ASSERT_EQ(jobs.exit_code, 0) << jobs.err;
  ASSERT_FALSE(jobs.out.empty()) << "no job listed";
  // Linux refuses user.* xattrs on symlinks before FUSE sees the call, so the job file is where the status
  // shows.
  const std::string job = cat(m().path(".pinfs/jobs/" + jobs.out.substr(0, jobs.out.find('\n'))));
  EXPECT_TRUE(contains(job, cid)) << job;
  EXPECT_TRUE(contains(job, "\"status\"")) << job;
  EXPECT_FALSE(contains(job, "\"status\":\"pinned\"")) << "nobody holds this CID: " << job;
}

INSTANTIATE_TEST_SUITE_P(Providers, PollingFilesystem, ::testing::ValuesIn(kProviders), provider_name);

INSTANTIATE_TEST_SUITE_P(Providers, Filesystem, ::testing::ValuesIn(kProviders), provider_name);
// [xattr.limits] Pinata keeps at most 10 keyvalues: the 11th is E2BIG.
// AIOZ has no metadata update at all: SetfattrUserMetaUpdatesTheService covers its error.
using PinataFilesystem = MountTest;

TEST_P(PinataFilesystem, EleventhMetadataKeyIsAClearError) {
  write_random_file(src("k.bin"), 300, 28);
  ASSERT_EQ(run_shell("cp " + shq(src("k.bin")) + " " + shq(m().mnt() + "/")).exit_code, 0);
  std::string cmd;
  for (int i = 1; i <= 10; ++i)
    cmd += "setfattr -n user.meta.k" + std::to_string(i) + " -v v" + std::to_string(i) + " " +
           shq(m().path("k.bin")) + " && ";
  auto ten = run_shell(cmd + "true");
  ASSERT_EQ(ten.exit_code, 0) << ten.err;
  auto eleventh = run_shell("setfattr -n user.meta.k11 -v v11 " + shq(m().path("k.bin")));
  EXPECT_NE(eleventh.exit_code, 0);
  EXPECT_TRUE(contains(eleventh.err, "Argument list too long")) << eleventh.err;
}

INSTANTIATE_TEST_SUITE_P(Pinata, PinataFilesystem, ::testing::Values(std::string("pinata")), provider_name);
INSTANTIATE_TEST_SUITE_P(Providers, AsyncFilesystem, ::testing::ValuesIn(kProviders), provider_name);

}  // namespace
}  // namespace pinfs::testing
