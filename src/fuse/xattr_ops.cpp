// Extended attributes: the VFS already answers with the syscall's size/ERANGE rules.
#include <vector>

#include "adapter.hpp"

namespace pinfs::fuse {

namespace {

void reply_sized(fuse_req_t req, const char* op, size_t size, const std::vector<char>& buf,
                 const Result<std::size_t>& n) {
  if (!n) return reply_error(req, op, n.error());
  if (size == 0)
    fuse_reply_xattr(req, *n);
  else
    fuse_reply_buf(req, buf.data(), *n);
}

void on_getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  guarded(req, "getxattr", [&] {
    std::vector<char> buf(size);
    reply_sized(req, "getxattr", size, buf,
                vfs_of(req).getxattr(ino, name, size ? buf.data() : nullptr, size));
  });
}

void on_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  guarded(req, "listxattr", [&] {
    std::vector<char> buf(size);
    reply_sized(req, "listxattr", size, buf, vfs_of(req).listxattr(ino, size ? buf.data() : nullptr, size));
  });
}

void on_setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
                 int flags) {
  guarded(req, "setxattr", [&] {
    auto ok = vfs_of(req).setxattr(ino, name, std::string(value, size), flags);
    fuse_reply_err(req, ok ? 0 : ok.error().errnum);
  });
}

void on_removexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  guarded(req, "removexattr", [&] {
    auto ok = vfs_of(req).removexattr(ino, name);
    fuse_reply_err(req, ok ? 0 : ok.error().errnum);
  });
}

}  // namespace

void fill_xattr_ops(fuse_lowlevel_ops& ops) {
  ops.getxattr = on_getxattr;
  ops.listxattr = on_listxattr;
  ops.setxattr = on_setxattr;
  ops.removexattr = on_removexattr;
}

}  // namespace pinfs::fuse
