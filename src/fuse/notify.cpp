// Telling the kernel what a refresh changed: libfuse's notify calls behind vfs::KernelNotifier. The VFS calls
// these from its poller thread with no lock held (a request handler may be waiting on one, and the kernel
// may be holding the directory that a notify must lock).
#include <cerrno>
#include <cstring>

#include "adapter.hpp"

namespace pinfs::fuse {

namespace {

class FuseNotifier final : public vfs::KernelNotifier {
 public:
  explicit FuseNotifier(fuse_session* session) : session_(session) {}

  void inval_entry(vfs::Ino parent, const std::string& name) override {
    report("inval_entry", name,
           fuse_lowlevel_notify_inval_entry(session_, parent, name.c_str(), name.size()));
  }
  void inval_inode(vfs::Ino ino) override {
    report("inval_inode", std::to_string(ino), fuse_lowlevel_notify_inval_inode(session_, ino, 0, 0));
  }
  void deleted(vfs::Ino parent, vfs::Ino ino, const std::string& name) override {
    int rc = fuse_lowlevel_notify_delete(session_, parent, ino, name.c_str(), name.size());
    if (rc != 0 && rc != -ENOENT)  // an older kernel without notify_delete: drop the name at least
      rc = fuse_lowlevel_notify_inval_entry(session_, parent, name.c_str(), name.size());
    report("delete", name, rc);
  }

 private:
  static void report(const char* what, const std::string& name, int rc) {
    // ENOENT: the kernel had nothing cached under that name or inode, which is fine.
    if (rc != 0 && rc != -ENOENT) spdlog::debug("notify {} {}: {}", what, name, std::strerror(-rc));
  }
  fuse_session* session_;
};

}  // namespace

std::shared_ptr<vfs::KernelNotifier> make_notifier(fuse_session* session) {
  return std::make_shared<FuseNotifier>(session);
}

}  // namespace pinfs::fuse
