// rm, rmdir, mv, mkdir, ln -s: what changes names and pins.
#include <linux/fs.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "namespace.hpp"
#include "node.hpp"
#include "pin_changes.hpp"
#include "pinfs/cache/journal.hpp"
#include "pinfs/cache/pin_index.hpp"
#include "pinfs/cid/cid.hpp"
#include "pinfs/cid/importer.hpp"
#include "pinfs/common/log.hpp"
#include "pinfs/vfs/names.hpp"
#include "unpin.hpp"
#include "uploads.hpp"

namespace pinfs::vfs {

namespace {
Result<void> refuse_readonly(const std::string& what, const std::string& name) {
  spdlog::warn("{} {} refused: pinned content is immutable", what, name);
  return fail(EROFS, "pinned content is immutable");
}
}  // namespace

void Vfs::touch_dir_locked(Ino dir) {
  auto now = now_ms();
  for (auto node = ns_->node(dir); node && node->kind() == Kind::LocalDir; node = ns_->node(node->parent)) {
    node->dir()->last_change_ms = now;
    if (node->parent == kRootIno) break;
  }
}

Vfs::NodePtr Vfs::top_dir_locked(Ino dir) {
  auto node = ns_->node(dir);
  while (node && node->kind() == Kind::LocalDir && node->parent != kRootIno) node = ns_->node(node->parent);
  return node && node->kind() == Kind::LocalDir ? node : nullptr;
}

Result<std::pair<Vfs::NodePtr, Vfs::NodePtr>> Vfs::named_entry(Ino parent, const std::string& name,
                                                               std::unique_lock<std::mutex>& lock) {
  if (parent == kRootIno)
    if (auto ok = ensure_index(); !ok) return std::unexpected(ok.error());
  lock = ns_->lock();
  auto dir = ns_->node(parent);
  if (!dir) return fail(ENOENT, "no inode " + std::to_string(parent));
  auto found = child_locked(dir, name, lock);
  if (!found) return std::unexpected(found.error());
  return std::pair{dir, *found};
}

// rm / rmdir inside a directory pin (Namespace::mu_ held): the entry is hidden, pending the removal of
// the pin's top directory within `grace` of the last such removal (rm -rf); otherwise it is shown again
// (restore_expired_removals). docs/SEMANTICS.md [dirpin.rm]
static Result<void> hide_for_removal(Namespace& ns, const std::shared_ptr<Vfs::Node>& node, const char* what,
                                     const std::string& name, std::chrono::milliseconds grace) {
  auto top = ns.top_pin(node);
  if (!top || grace.count() <= 0) return refuse_readonly(what, name);
  auto& pending = ns.removals()[top->ino];
  if (pending.hidden.empty())
    spdlog::info(
        "{} {}: inside directory pin {} ({}): hidden until that directory is removed, shown again "
        "if it is not within {} ms",
        what, name, top->name, top->content_cid(), grace.count());
  pending.hidden.insert(node->ino);
  pending.deadline_ms = now_ms() + grace.count();
  return {};
}

// Removes a new entry's name from its directory (Namespace::mu_ held).
static void drop_local_name(Namespace& ns, const std::shared_ptr<Vfs::Node>& dir, const std::string& name) {
  if (dir->kind() == Kind::Root)
    ns.root_locals().erase(name);
  else if (auto* d = dir->dir())
    d->children.erase(name);
}

Result<void> Vfs::unlink(Ino parent, const std::string& name) {
  std::unique_lock<std::mutex> lock;
  auto named = named_entry(parent, name, lock);
  if (!named) return std::unexpected(named.error());
  auto [dir, node] = *named;
  if (dir->kind() == Kind::Control || node->kind() == Kind::Control || node->kind() == Kind::ControlFile)
    return fail(EROFS, "/.pinfs is read-only");
  if (node->is_directory()) return fail(EISDIR, name + " is a directory");
  switch (node->kind()) {
    case Kind::Pin: {
      auto ref = node->pin_ref();
      auto key = node->pin_key();
      lock.unlock();
      ++counters_.unpins;
      auto done = unpin_name(*service_, ns_->index(), ref, key, "rm " + name);
      if (!done) {
        spdlog::warn("rm {}: unpin failed: {}", name, done.error().describe());
        return std::unexpected(done.error());
      }
      if (*done == Unpinned::Unpinned) spdlog::info("rm {}: unpinned {}", name, ref.cid);
      return {};
    }
    case Kind::DirEntry:
      return hide_for_removal(*ns_, node, "rm", name, options_.removal_grace);
    case Kind::Local: {
      auto file = node->local();
      drop_local_name(*ns_, dir, name);
      if (parent != kRootIno) touch_dir_locked(parent);  // rm -rf under way: not a quiet directory yet
      {
        auto up = uploads_->lock();
        uploads_->discard_locked(file);  // mid-upload: the pin is removed once the upload finishes
      }
      spdlog::info("rm {}: staged upload discarded", name);
      return {};
    }
    case Kind::Link:
      ns_->root_locals().erase(name);
      spdlog::warn("rm {}: the pin-by-CID job {} keeps running on the service", name, node->link()->job_id);
      return {};
    default:
      return fail(EPERM, "cannot remove " + name);
  }
}

Result<void> Vfs::rmdir(Ino parent, const std::string& name) {
  std::unique_lock<std::mutex> lock;
  auto named = named_entry(parent, name, lock);
  if (!named) return std::unexpected(named.error());
  auto [dir, node] = *named;
  if (!node->is_directory()) return fail(ENOTDIR, name + " is not a directory");
  switch (node->kind()) {
    case Kind::Pin: {
      auto ref = node->pin_ref();
      auto key = node->pin_key();
      lock.unlock();
      ++counters_.unpins;
      auto done = unpin_name(*service_, ns_->index(), ref, key, "rmdir " + name);
      if (!done) return std::unexpected(done.error());
      if (*done == Unpinned::Unpinned) spdlog::info("rmdir {}: unpinned directory {}", name, ref.cid);
      lock.lock();
      ns_->removals().erase(node->ino);
      return {};
    }
    case Kind::DirEntry: {
      // rm -rf bottom-up: a directory inside a pin goes once everything in it went.
      auto children = list_children(node, lock);
      if (!children) return std::unexpected(children.error());
      if (!children->empty()) return fail(ENOTEMPTY, name + " is not empty");
      return hide_for_removal(*ns_, node, "rmdir", name, options_.removal_grace);
    }
    case Kind::LocalDir: {
      if (!node->dir()->children.empty()) return fail(ENOTEMPTY, name + " is not empty");
      drop_local_name(*ns_, dir, name);
      if (parent != kRootIno) touch_dir_locked(parent);
      auto row = std::exchange(node->dir()->journal_id, 0);
      lock.unlock();
      uploads_->journal_forget(row);
      return {};
    }
    case Kind::Control:
      return fail(EROFS, "/.pinfs is read-only");
    default:
      return refuse_readonly("rmdir", name);
  }
}

// A pin's rename holds PinChanges for its CID, taken before the namespace's lock: the first try finds
// which CID that is and does nothing, the second does the rename under the guard (a third only if the name
// meanwhile became another pin's).
Result<void> Vfs::rename(Ino parent, const std::string& name, Ino new_parent, const std::string& new_name,
                         unsigned flags) {
  std::optional<PinChanges::Guard> guard;
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::string need_cid;
    auto done = rename_once(parent, name, new_parent, new_name, flags, guard ? guard->cid() : "", &need_cid);
    if (need_cid.empty()) return done;
    guard.reset();
    guard.emplace(pin_changes_->lock(need_cid));
  }
  return fail(EBUSY, name + " keeps changing");
}

Result<void> Vfs::rename_once(Ino parent, const std::string& name, Ino new_parent,
                              const std::string& new_name, unsigned flags, const std::string& guarded_cid,
                              std::string* need_cid) {
  if (flags & RENAME_EXCHANGE) return fail(EINVAL, "exchanging names is not supported");
  if (parent == kRootIno || new_parent == kRootIno)
    if (auto ok = ensure_index(); !ok) return ok;
  auto lock = ns_->lock();
  auto from_dir = ns_->node(parent);
  auto to_dir = ns_->node(new_parent);
  if (!from_dir || !to_dir) return fail(ENOENT, "no such directory");
  auto found = child_locked(from_dir, name, lock);
  if (!found) return std::unexpected(found.error());
  auto node = *found;
  if (from_dir->kind() == Kind::Control || to_dir->kind() == Kind::Control || node->kind() == Kind::Control)
    return fail(EROFS, "/.pinfs is read-only");
  if (to_dir->kind() != Kind::Root && to_dir->kind() != Kind::LocalDir)
    return refuse_readonly("mv into", to_dir->name);
  if (from_dir->kind() != Kind::Root && from_dir->kind() != Kind::LocalDir)
    return refuse_readonly("mv", name);
  // Moving between directories would change which upload the data belongs to; EXDEV makes mv copy instead.
  if (parent != new_parent) return fail(EXDEV, "moving between directories is a copy on pinfs");
  if (name == new_name) return {};

  NodePtr target;
  if (auto existing = child_locked(to_dir, new_name, lock); existing) target = *existing;
  if (target && (flags & RENAME_NOREPLACE)) return fail(EEXIST, new_name + " exists");
  if (target && target->is_directory())
    return fail(target->kind() == Kind::LocalDir ? ENOTEMPTY : EISDIR, new_name + " is a directory");
  if (target && (target->kind() == Kind::Link || target->kind() == Kind::Control))
    return fail(EBUSY, new_name + " is pending");
  if (node->kind() == Kind::Link) return fail(EBUSY, name + " is waiting for its pin-by-CID job");

  std::optional<service::PinRef> replaced;
  auto drop_target_locked = [&] {
    if (!target) return;
    if (target->kind() == Kind::Local) {
      {
        auto up = uploads_->lock();
        uploads_->discard_locked(target->local());
      }
      drop_local_name(*ns_, to_dir, new_name);
    } else if (target->kind() == Kind::Pin) {
      replaced = target->pin_ref();
    }
  };

  auto move_local_name = [&] {
    if (parent == kRootIno) {
      ns_->root_locals().erase(name);
      ns_->root_locals()[new_name] = node->ino;
    } else {
      from_dir->dir()->children.erase(name);
      from_dir->dir()->children[new_name] = node->ino;
    }
    node->name = new_name;
  };

  switch (node->kind()) {
    case Kind::Pin: {
      auto pin = ns_->index().find(node->pin_key());
      if (!pin) return fail(ENOENT, name + " is no longer pinned");
      if (pin->cid != guarded_cid) {
        *need_cid = pin->cid;
        return {};
      }
      lock.unlock();
      ++counters_.renames;
      auto renamed = service_->rename(*pin, unescape_name(new_name));
      if (!renamed) {
        spdlog::warn("mv {} {}: {}", name, new_name, renamed.error().describe());
        return std::unexpected(renamed.error());
      }
      spdlog::info("mv {} {}: renamed pin {}", name, new_name, pin->cid);
      auto old_key = cache::pin_key(*pin);
      auto new_key = cache::pin_key(*renamed);
      ns_->index().apply({*renamed},
                         old_key == new_key ? std::vector<std::string>{} : std::vector<std::string>{old_key});
      lock.lock();
      node->data = pin_data_of(*renamed);
      node->name = new_name;
      ns_->alias(node, "pin:" + new_key);
      drop_target_locked();
      break;
    }
    case Kind::Local: {
      auto file = node->local();
      drop_target_locked();
      move_local_name();
      if (parent != kRootIno) touch_dir_locked(parent);
      auto up = uploads_->lock();
      file->name = unescape_name(new_name);
      if (replaced) file->replaces = replaced;  // unpinned once this one is pinned
      replaced.reset();
      if (auto ok = uploads_->journal_update_locked(*file); !ok)
        spdlog::warn("journal: {}", ok.error().describe());
      spdlog::debug("mv {} {}: renamed the staged upload", name, new_name);
      return {};
    }
    case Kind::LocalDir: {
      if (target) return fail(ENOTDIR, new_name + " is not a directory");
      move_local_name();
      if (parent != kRootIno) touch_dir_locked(parent);
      const auto row = node->dir()->journal_id;
      const auto parent_row = from_dir->dir() ? from_dir->dir()->journal_id : 0;
      if (auto ok = uploads_->journal_directory_renamed(row, unescape_name(new_name), parent_row); !ok)
        spdlog::warn("journal: {}", ok.error().describe());
      return {};
    }
    default:
      return refuse_readonly("mv", name);
  }
  lock.unlock();
  if (replaced) {
    ++counters_.unpins;
    if (auto done =
            unpin_name(*service_, ns_->index(), *replaced, cache::pin_key(*replaced), "mv onto " + new_name);
        !done) {
      spdlog::warn("mv onto {}: unpinning the replaced pin failed: {}", new_name, done.error().describe());
      return std::unexpected(done.error());
    }
  }
  return {};
}

Result<Entry> Vfs::mkdir(Ino parent, const std::string& name, mode_t /*mode*/) {
  if (parent == kRootIno)
    if (auto ok = ensure_index(); !ok) return std::unexpected(ok.error());
  // The directory's journal row is written (an fsync) without the namespace's lock, then the name is
  // taken if it is still free; a create that won the name meanwhile makes this one EEXIST.
  auto check = [&](std::unique_lock<std::mutex>& lock) -> Result<NodePtr> {
    auto dir = ns_->node(parent);
    if (!dir) return fail(ENOENT, "no inode " + std::to_string(parent));
    if (dir->kind() == Kind::Control) return fail(EROFS, "/.pinfs is read-only");
    if (dir->kind() != Kind::Root && dir->kind() != Kind::LocalDir) {
      spdlog::warn("mkdir {} refused: pinned directories are immutable", name);
      return fail(EROFS, "pinned directories are immutable");
    }
    if (dir->kind() == Kind::Root && name == kControlDirName) return fail(EEXIST, name + " exists");
    if (auto existing = child_locked(dir, name, lock); existing) return fail(EEXIST, name + " exists");
    return dir;
  };
  std::int64_t journal_parent = 0;
  {
    auto lock = ns_->lock();
    auto dir = check(lock);
    if (!dir) return std::unexpected(dir.error());
    if (auto* d = (*dir)->dir()) journal_parent = d->journal_id;
  }
  auto row = uploads_->journal_directory(unescape_name(name), journal_parent);
  if (!row) return fail(EIO, "journal: " + row.error().describe());
  auto lock = ns_->lock();
  auto dir = check(lock);
  if (!dir) {
    lock.unlock();
    uploads_->journal_forget(*row);
    return std::unexpected(dir.error());
  }
  auto local_dir = std::make_shared<LocalDir>();
  local_dir->journal_id = *row;
  auto node = std::make_shared<Node>();
  node->data = LocalDirData{std::move(local_dir), now_seconds()};
  node->name = name;
  node->parent = parent;
  node->lookups = 1;
  ns_->add("localdir:", node);
  if (parent == kRootIno)
    ns_->root_locals()[name] = node->ino;
  else
    (*dir)->dir()->children[name] = node->ino;
  touch_dir_locked(node->ino);
  return ns_->entry(node);
}

Result<Entry> Vfs::symlink(const std::string& target, Ino parent, const std::string& name) {
  constexpr std::string_view kPrefix = "/ipfs/";
  if (!target.starts_with(kPrefix)) return fail(EINVAL, "a symlink target must be /ipfs/<cid>");
  std::string text = target.substr(kPrefix.size());
  while (!text.empty() && text.back() == '/') text.pop_back();
  auto cid = cid::normalize(text);
  if (!cid) {
    spdlog::warn("ln -s {} {}: {}", target, name, cid.error().message);
    return fail(EINVAL, "invalid CID in symlink target: " + cid.error().message);
  }
  if (parent == kRootIno)
    if (auto ok = ensure_index(); !ok) return std::unexpected(ok.error());
  {
    auto lock = ns_->lock();
    if (parent != kRootIno) return fail(EPERM, "pin-by-CID symlinks can only be made at the root");
    if (name == kControlDirName) return fail(EEXIST, name + " exists");
    auto dir = ns_->node(parent);
    if (auto existing = child_locked(dir, name, lock); existing) return fail(EEXIST, name + " exists");
  }
  ++counters_.pin_by_cid;
  auto job = service_->pin_by_cid(*cid, unescape_name(name), {});
  if (!job) return std::unexpected(job.error());
  spdlog::info("ln -s {} {}: pin-by-CID job {} ({})", target, name, job->id, job->status);
  auto lock = ns_->lock();
  ns_->jobs().push_back(*job);
  auto node = std::make_shared<Node>();
  node->data = LinkData{target, job->id, job->cid.empty() ? *cid : job->cid, now_seconds()};
  node->name = name;
  node->lookups = 1;
  ns_->intern("link:" + job->id, [&] { return node; });
  ns_->root_locals()[name] = node->ino;
  return ns_->entry(node);
}

Result<std::string> Vfs::readlink(Ino ino) {
  auto lock = ns_->lock();
  auto node = ns_->node(ino);
  if (!node) return fail(ENOENT, "no inode " + std::to_string(ino));
  if (node->kind() != Kind::Link) return fail(EINVAL, "not a symbolic link");
  return node->link()->target;
}

Result<void> Vfs::fsyncdir(Ino ino) {
  NodePtr top;
  {
    auto lock = ns_->lock();
    top = top_dir_locked(ino);
  }
  if (!top) return {};
  return upload_dir_now(top);
}

// Entries hidden by a removal inside a directory pin whose top directory was not removed in time come back
// (Namespace::mu_ not held; runs on the background pass, which may tell the kernel).
static void restore_expired_removals(Namespace& ns, std::vector<std::pair<Ino, std::string>>& shown_again) {
  auto lock = ns.lock();
  auto now = now_ms();
  for (auto it = ns.removals().begin(); it != ns.removals().end();) {
    if (it->second.deadline_ms > now) {
      ++it;
      continue;
    }
    auto top = ns.node(it->first);
    std::string names;
    for (Ino ino : it->second.hidden)
      if (auto n = ns.node(ino)) {
        shown_again.emplace_back(n->parent, n->name);
        if (names.size() < 200) names += (names.empty() ? "" : ", ") + n->name;
      }
    spdlog::warn(
        "{} entr{} removed inside directory pin {} shown again ({}): pinned directories are "
        "immutable, only removing the whole directory (rm -rf) unpins it",
        it->second.hidden.size(), it->second.hidden.size() == 1 ? "y" : "ies",
        top ? top->name : std::to_string(it->first), names);
    it = ns.removals().erase(it);
  }
}

void Vfs::upload_quiet_dirs() {
  std::vector<std::pair<Ino, std::string>> shown_again;
  restore_expired_removals(*ns_, shown_again);
  if (!shown_again.empty()) {
    std::lock_guard sending(notify_mu_);
    if (notifier_)
      for (const auto& [parent, name] : shown_again) notifier_->inval_entry(parent, name);
  }
  std::vector<NodePtr> quiet;
  {
    auto lock = ns_->lock();
    auto now = now_ms();
    for (const auto& [name, ino] : ns_->root_locals()) {
      auto node = ns_->node(ino);
      if (!node || node->kind() != Kind::LocalDir) continue;
      auto* d = node->dir();
      if (d->uploading || d->last_change_ms + options_.dir_quiet_delay.count() > now) continue;
      if (d->failed_change_ms == d->last_change_ms) continue;  // CID mismatch: retried once it changes
      quiet.push_back(node);
    }
  }
  for (auto& dir : quiet)
    if (auto ok = upload_dir_now(dir); !ok && ok.error().errnum != EAGAIN)
      spdlog::warn("directory upload: {}", ok.error().describe());
}

namespace {

// A new directory's tree as the importer sees it: files by name (their import results) and directories.
struct LocalTree {
  std::map<std::string, cid::ImportResult> files;
  std::map<std::string, LocalTree> dirs;
};

LocalTree* tree_at(LocalTree& root, const std::string& path, bool last_is_dir) {
  LocalTree* t = &root;
  std::size_t pos = 0;
  for (auto slash = path.find('/'); slash != std::string::npos; slash = path.find('/', pos)) {
    t = &t->dirs[path.substr(pos, slash - pos)];
    pos = slash + 1;
  }
  if (last_is_dir) t = &t->dirs[path.substr(pos)];
  return t;
}

// The directory CID the service must answer. keep_empty false: as if the empty directories were not sent
// (nullopt when nothing is left).
Result<std::optional<cid::DirBlock>> local_dir_cid(const LocalTree& tree, int cid_version, bool keep_empty) {
  std::vector<cid::DirEntry> entries;
  for (const auto& [name, file] : tree.files) entries.push_back({name, file.cid, file.tsize});
  for (const auto& [name, sub] : tree.dirs) {
    auto built = local_dir_cid(sub, cid_version, keep_empty);
    if (!built) return built;
    if (*built) entries.push_back({name, (*built)->cid, (*built)->tsize});
  }
  if (entries.empty() && !keep_empty) return std::optional<cid::DirBlock>{};
  auto dir = cid::build_directory(std::move(entries), cid_version);
  if (!dir) return std::unexpected(dir.error());
  return std::optional<cid::DirBlock>{std::move(*dir)};
}

}  // namespace

Result<void> Vfs::upload_dir_now(const NodePtr& dir) {
  service::DirectoryUpload upload;
  std::vector<std::shared_ptr<LocalFile>> files;
  std::vector<std::int64_t> dir_rows;  // the journal rows of the tree's directories, gone once it is pinned
  bool resumed = false;
  std::string job_cid;                   // a pin-by-CID job names this tree (LocalDir::job_cid)
  std::vector<std::string> closed_cids;  // each file's CID from its close, unless it changed since
  {
    auto lock = ns_->lock();
    if (dir->kind() != Kind::LocalDir) return {};
    if (dir->dir()->uploading) return fail(EAGAIN, dir->name + " is being uploaded");
    auto up = uploads_->lock();
    std::string blocked;  // why the tree cannot be uploaded yet
    std::function<bool(const NodePtr&, const std::string&)> collect = [&](const NodePtr& d,
                                                                          const std::string& prefix) {
      if (d->dir()->journal_id) dir_rows.push_back(d->dir()->journal_id);
      resumed = resumed || d->dir()->resumed;
      for (const auto& [name, ino] : d->dir()->children) {
        auto child = ns_->node(ino);
        if (!child) continue;
        std::string path = prefix + unescape_name(name);
        if (child->kind() == Kind::Local) {
          if (child->local()->writers > 0) {
            blocked = "still has files open for writing";
            return false;
          }
          // Still being written when an earlier mount stopped: never uploaded half-written.
          if (child->local()->interrupted) {
            blocked = "interrupted: " + path +
                      " was being written when the last mount stopped (rewrite or remove it)";
            return false;
          }
          upload.files.push_back({path, child->local()->staging});
          files.push_back(child->local());
          closed_cids.push_back(child->local()->dirty ? std::string{} : child->local()->cid);
        } else if (child->kind() == Kind::LocalDir) {
          if (child->dir()->children.empty()) upload.directories.push_back(path);
          if (!collect(child, path + "/")) return false;
        }
      }
      return true;
    };
    if (!collect(dir, "")) {
      if (blocked.starts_with("interrupted")) dir->dir()->reason = blocked;
      return fail(EAGAIN, dir->name + " " + blocked);
    }
    // A directory without a file below it stays local until one is put in it (rm -rf of a new directory
    // uploads nothing).
    if (upload.files.empty()) return {};
    dir->dir()->uploading = true;
    upload.name = unescape_name(dir->name);
    upload.cid_version = options_.cid_version;
    if (!dir->dir()->job_cid.empty() && dir->dir()->job_change_ms != dir->dir()->last_change_ms)
      dir->dir()->job_cid.clear();  // changed since the job started: uploaded as it is now
    job_cid = dir->dir()->job_cid;
  }
  const std::int64_t change_at_start = [&] {
    auto lock = ns_->lock();
    return dir->dir()->last_change_ms;
  }();
  auto finish_failed = [&](const std::string& problem, int errnum, bool mismatch) -> Result<void> {
    ++counters_.upload_failures;
    spdlog::error("upload of directory {} failed, files stay staged: {}", upload.name, problem);
    auto lock = ns_->lock();
    dir->dir()->uploading = false;
    dir->dir()->reason = problem;
    dir->dir()->failed_change_ms = mismatch ? change_at_start : -1;
    return fail(errnum, "upload of directory " + upload.name + " failed: " + problem);
  };
  // The tree is this pin: its node becomes the pin's, its staged files and journal rows go.
  auto finish_pinned = [&](const service::Pin& pinned, const std::string& notice) -> Result<void> {
    ns_->index().upsert(pinned);
    auto lock = ns_->lock();
    dir->dir()->uploading = false;
    dir->dir()->reason.clear();
    dir->dir()->job_cid.clear();
    spdlog::info("pinned directory {} as {} ({} files, {} empty directories, CID checked)", upload.name,
                 pinned.cid, upload.files.size(), upload.directories.size());
    if (!notice.empty()) ns_->notices()[pinned.cid] = notice;
    auto& locals = ns_->root_locals();
    if (auto it = locals.find(dir->name); it != locals.end() && it->second == dir->ino) locals.erase(it);
    {
      auto up = uploads_->lock();
      uploads_->pinned_as_directory_locked(files, std::move(dir_rows));
    }
    dir->data = pin_data_of(pinned);
    dir->pin()->verified = true;
    ns_->alias(dir, "pin:" + cache::pin_key(pinned));
    return {};
  };
  // A pin of this tree under its name: the index's, or (ask) the service's (one list call).
  auto named_pin = [&](const std::string& cid, bool ask) -> std::optional<service::Pin> {
    for (const auto& pin : ns_->index().by_cid(cid))
      if (pin.name == upload.name) return pin;
    if (!ask) return std::nullopt;
    service::ListQuery query;
    query.cid = cid;
    query.page_size = 10;
    ++counters_.list_calls;
    if (auto found = service_->list(query))
      for (const auto& pin : found->pins)
        if (pin.name == upload.name && same_cid(pin.cid, cid)) return pin;
    return std::nullopt;
  };
  if (!job_cid.empty()) {  // waiting for the job's pin: the index each pass, the service every 10 s
    bool ask = false;
    {
      auto lock = ns_->lock();
      const auto now = now_ms();
      if (now - dir->dir()->job_asked_ms >= 10000) {
        ask = true;
        dir->dir()->job_asked_ms = now;
      }
    }
    if (auto pin = named_pin(job_cid, ask)) return finish_pinned(*pin, "");
    auto lock = ns_->lock();
    dir->dir()->uploading = false;
    return fail(EAGAIN, upload.name + " waits for its pin-by-CID job");
  }

  // The tree's CID, computed here from the staged bytes (the service's answer is checked against it).
  LocalTree tree;
  for (std::size_t i = 0; i < upload.files.size(); ++i) {
    const auto& part = upload.files[i];
    // A CIDv1 file of one chunk is its raw leaf (Tsize = its size): the CID computed while it was written
    // is enough. Anything else is imported again from the staged file, for the Tsize of its root.
    cid::ImportOptions options;
    options.cid_version = options_.cid_version;
    Result<cid::ImportResult> imported = fail(EIO, "not imported");
    if (const auto size = files[i]->size.load(); options.cid_version == 1 && size <= options.chunk_size) {
      if (auto text =
              closed_cids[i].empty() ? uploads_->finish_cid(*files[i]) : Result<std::string>(closed_cids[i]);
          text)
        if (auto parsed = cid::Cid::parse(*text); parsed && parsed->codec() == cid::Codec::Raw)
          imported = cid::ImportResult{*parsed, size, size};
    }
    if (!imported) imported = cid::import_file(part.local_path, options);
    if (!imported)
      return finish_failed("computing the CID of " + part.relative_path + ": " + imported.error().describe(),
                           EIO, false);
    auto slash = part.relative_path.rfind('/');
    auto* at = slash == std::string::npos ? &tree : tree_at(tree, part.relative_path.substr(0, slash), true);
    at->files[part.relative_path.substr(slash == std::string::npos ? 0 : slash + 1)] = *imported;
  }
  for (const auto& path : upload.directories) tree_at(tree, path, true);
  auto with_empty = local_dir_cid(tree, options_.cid_version, true);
  auto without_empty = local_dir_cid(tree, options_.cid_version, false);
  if (!with_empty || !without_empty)
    return finish_failed("computing the directory CID: " +
                             (with_empty ? without_empty.error() : with_empty.error()).describe(),
                         EIO, false);
  const std::string local_cid = (*with_empty)->cid.to_string();

  // Rebuilt from the journal: the last mount may have stopped after the service pinned it but before its
  // rows went. Only the service knows then (the index may not have been written).
  std::optional<service::Pin> already;
  if (resumed && (already = named_pin(local_cid, true)))
    spdlog::info("directory {} was pinned before the last stop ({}): no upload", upload.name, local_cid);
  if (!already) ++counters_.uploads;
  auto pinned = already ? Result<service::Pin>(*already) : service_->upload_directory(upload);
  if (!pinned)
    return finish_failed(pinned.error().describe(), pinned.error().errnum == EDQUOT ? EDQUOT : EIO, false);
  // Pinata keeps one pin a CID: the same tree uploaded under another name is answered isDuplicate with
  // the pin it has, and no pin of this name is made. A pin-by-CID job names it, as for a file.
  if (pinned->duplicate && same_cid(pinned->cid, local_cid)) {
    ++counters_.pin_by_cid;
    auto job = service_->pin_by_cid(local_cid, upload.name, {});
    if (!job) return finish_failed("pin by CID: " + job.error().describe(), EIO, false);
    spdlog::info("directory {}: the service pins this tree ({}) already; pinned by CID instead", upload.name,
                 local_cid);
    {
      auto lock = ns_->lock();
      ns_->jobs().push_back(*job);
      dir->dir()->job_cid = local_cid;
      dir->dir()->job_change_ms = change_at_start;
      dir->dir()->job_asked_ms = now_ms();
    }
    if (auto pin = named_pin(local_cid, true)) return finish_pinned(*pin, "");  // a job done at once
    auto lock = ns_->lock();
    dir->dir()->uploading = false;
    return fail(EAGAIN, upload.name + " waits for its pin-by-CID job");
  }
  std::string notice;
  if (!same_cid(pinned->cid, local_cid)) {
    bool dropped = !upload.directories.empty() && *without_empty &&
                   same_cid(pinned->cid, (*without_empty)->cid.to_string());
    if (!dropped)
      return finish_failed("CID mismatch: service pinned " + pinned->cid + ", local tree is " + local_cid,
                           EIO, true);
    std::string names;
    for (const auto& path : upload.directories) names += (names.empty() ? "" : ", ") + path;
    notice = "empty directories not kept by the service: " + names;
    spdlog::warn("directory {} pinned as {} without its {} empty director{} (the service ignored them): {}",
                 upload.name, pinned->cid, upload.directories.size(),
                 upload.directories.size() == 1 ? "y" : "ies", names);
  }
  return finish_pinned(*pinned, notice);
}

}  // namespace pinfs::vfs
