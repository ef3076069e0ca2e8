// Lookups, attributes, directories and names: each callback asks the VFS and replies.
#include <algorithm>
#include <vector>

#include "adapter.hpp"

namespace pinfs::fuse {

namespace {

constexpr double kAttrTimeout = 1.0;

void reply_entry_or_error(fuse_req_t req, const char* op, const Result<vfs::Entry>& entry) {
  if (!entry) return reply_error(req, op, entry.error());
  auto param = to_param(*entry);
  if (fuse_reply_entry(req, &param) != 0) vfs_of(req).forget(entry->ino, 1);  // interrupted: never counted
}

void on_init(void* /*userdata*/, fuse_conn_info* conn) {
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
  conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;  // always plus: one round trip per listing
}

// A name that does not exist is a negative entry the kernel keeps for a while (shells and editors probe
// names constantly); local creates replace it, refreshes invalidate it (KernelNotifier::inval_entry).
void on_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  guarded(req, "lookup", [&] {
    auto entry = vfs_of(req).lookup(parent, name);
    if (!entry && entry.error().errnum == ENOENT) {
      fuse_entry_param negative{};
      negative.ino = 0;
      negative.entry_timeout = vfs_of(req).negative_timeout();
      fuse_reply_entry(req, &negative);
      return;
    }
    reply_entry_or_error(req, "lookup", entry);
  });
}

void on_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  vfs_of(req).forget(ino, nlookup);
  fuse_reply_none(req);
}

void on_forget_multi(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) vfs_of(req).forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void on_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* /*fi*/) {
  guarded(req, "getattr", [&] {
    auto attr = vfs_of(req).getattr(ino);
    if (!attr) return reply_error(req, "getattr", attr.error());
    fuse_reply_attr(req, &*attr, kAttrTimeout);
  });
}

// Size and mtime mean something on pinfs ([attr.setattr], [attr.mtime]); mode and owner are accepted so
// that cp -p, cp -a and rsync -a keep working, and not kept.
void on_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* /*fi*/) {
  guarded(req, "setattr", [&] {
    vfs::AttrChange change;
    if (to_set & FUSE_SET_ATTR_SIZE) change.size = static_cast<std::uint64_t>(attr->st_size);
    if (to_set & FUSE_SET_ATTR_MTIME_NOW)
      change.mtime_now = true;
    else if (to_set & FUSE_SET_ATTR_MTIME)
      change.mtime = attr->st_mtim;
    if (to_set & FUSE_SET_ATTR_MODE) change.mode = attr->st_mode;
    change.owner = (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) != 0;
    auto result = vfs_of(req).setattr(ino, change);
    if (!result) return reply_error(req, "setattr", result.error());
    fuse_reply_attr(req, &*result, kAttrTimeout);
  });
}

void on_readlink(fuse_req_t req, fuse_ino_t ino) {
  guarded(req, "readlink", [&] {
    auto target = vfs_of(req).readlink(ino);
    if (!target) return reply_error(req, "readlink", target.error());
    fuse_reply_readlink(req, target->c_str());
  });
}

void on_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  guarded(req, "mkdir", [&] { reply_entry_or_error(req, "mkdir", vfs_of(req).mkdir(parent, name, mode)); });
}

void on_symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
  guarded(req, "symlink",
          [&] { reply_entry_or_error(req, "symlink", vfs_of(req).symlink(target, parent, name)); });
}

void on_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  guarded(req, "unlink", [&] {
    auto ok = vfs_of(req).unlink(parent, name);
    fuse_reply_err(req, ok ? 0 : ok.error().errnum);
  });
}

void on_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  guarded(req, "rmdir", [&] {
    auto ok = vfs_of(req).rmdir(parent, name);
    fuse_reply_err(req, ok ? 0 : ok.error().errnum);
  });
}

void on_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent,
               const char* new_name, unsigned int flags) {
  guarded(req, "rename", [&] {
    auto ok = vfs_of(req).rename(parent, name, new_parent, new_name, flags);
    fuse_reply_err(req, ok ? 0 : ok.error().errnum);
  });
}

void on_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  guarded(req, "opendir", [&] {
    auto dh = vfs_of(req).opendir(ino);
    if (!dh) return reply_error(req, "opendir", dh.error());
    fi->fh = *dh;
    fi->cache_readdir = 0;
    if (fuse_reply_open(req, fi) != 0) vfs_of(req).releasedir(*dh);
  });
}

// Entries from offset on until the kernel's buffer is full. With plus, every entry that fit (except . and
// ..) is a lookup reference; one that did not fit was never sent, so it is not counted.
void list(fuse_req_t req, size_t size, off_t offset, fuse_file_info* fi, bool plus) {
  auto& vfs = vfs_of(req);
  std::vector<char> buf(size);
  size_t used = 0;
  auto position = static_cast<std::uint64_t>(offset);
  for (bool full = false; !full;) {
    auto items = vfs.readdir(fi->fh, position, 128);
    if (!items) {
      if (used > 0) break;  // send what is here (and already remembered); the error comes with the next call
      return reply_error(req, "readdir", items.error());
    }
    if (items->empty()) break;
    for (const auto& item : *items) {
      size_t room = size - used;
      auto next = static_cast<off_t>(position + 1);
      size_t needed;
      if (plus) {
        auto param = to_param(item.entry);
        needed = fuse_add_direntry_plus(req, buf.data() + used, room, item.name.c_str(), &param, next);
      } else {
        needed = fuse_add_direntry(req, buf.data() + used, room, item.name.c_str(), &item.entry.attr, next);
      }
      if (needed > room) {
        full = true;
        break;
      }
      used += needed;
      ++position;
      if (plus && !item.dot) vfs.remember(item.entry.ino);
    }
  }
  fuse_reply_buf(req, buf.data(), used);
}

void on_readdir(fuse_req_t req, fuse_ino_t /*ino*/, size_t size, off_t offset, fuse_file_info* fi) {
  guarded(req, "readdir", [&] { list(req, size, offset, fi, false); });
}

void on_readdirplus(fuse_req_t req, fuse_ino_t /*ino*/, size_t size, off_t offset, fuse_file_info* fi) {
  guarded(req, "readdirplus", [&] { list(req, size, offset, fi, true); });
}

void on_releasedir(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) {
  vfs_of(req).releasedir(fi->fh);
  fuse_reply_err(req, 0);
}

void on_fsyncdir(fuse_req_t req, fuse_ino_t ino, int /*datasync*/, fuse_file_info* /*fi*/) {
  guarded(req, "fsyncdir", [&] {
    auto ok = vfs_of(req).fsyncdir(ino);
    fuse_reply_err(req, ok ? 0 : ok.error().errnum);
  });
}

void on_statfs(fuse_req_t req, fuse_ino_t /*ino*/) {
  auto st = vfs_of(req).statfs();
  fuse_reply_statfs(req, &st);
}

}  // namespace

void fill_entry_ops(fuse_lowlevel_ops& ops) {
  ops.init = on_init;
  ops.lookup = on_lookup;
  ops.forget = on_forget;
  ops.forget_multi = on_forget_multi;
  ops.getattr = on_getattr;
  ops.setattr = on_setattr;
  ops.readlink = on_readlink;
  ops.mkdir = on_mkdir;
  ops.symlink = on_symlink;
  ops.unlink = on_unlink;
  ops.rmdir = on_rmdir;
  ops.rename = on_rename;
  ops.opendir = on_opendir;
  ops.readdir = on_readdir;
  ops.readdirplus = on_readdirplus;
  ops.releasedir = on_releasedir;
  ops.fsyncdir = on_fsyncdir;
  ops.statfs = on_statfs;
}

}  // namespace pinfs::fuse
