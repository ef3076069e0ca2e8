// Lookups and listings: the root (pins from the index, new entries, /.pinfs), directory pins, new
// directories.
#include <malloc.h>

#include <algorithm>

#include "namespace.hpp"
#include "node.hpp"
#include "pinfs/cache/index_sync.hpp"
#include "pinfs/cache/pin_index.hpp"
#include "pinfs/cid/dagpb.hpp"
#include "pinfs/common/log.hpp"
#include "pinfs/service/verified_reader.hpp"
#include "pinfs/vfs/names.hpp"
#include "uploads.hpp"

namespace pinfs::vfs {

// Until the first complete listing the index is not the account: the first root operation lists it (a
// readdir streams it, see next_root_page). From then on the index answers and the poller refreshes it;
// poll_interval 0 refreshes before every root operation instead.
Result<void> Vfs::ensure_index() {
  if (ns_->index().synced_at() && options_.poll_interval.count() > 0) return {};
  return sync_index(false, true);
}

Result<void> Vfs::refresh() {
  auto ok = sync_index(true, true);
  send_notes();
  return ok;
}

// Entries that were waiting for the service (symlinks pinning by CID) become pins once the index shows a
// pin with their name and CID.
void Vfs::reconcile_links() {
  auto& locals = ns_->root_locals();
  for (auto it = locals.begin(); it != locals.end();) {
    auto node = ns_->node(it->second);
    const LinkData* link = node ? node->link() : nullptr;
    std::optional<service::Pin> found;
    if (link) {
      auto name = unescape_name(it->first);
      for (const auto& pin : ns_->index().by_cid(link->cid))
        if (pin.name == name) found = pin;
    }
    if (!found) {
      ++it;
      continue;
    }
    node->data = pin_data_of(*found);
    ns_->alias(node, "pin:" + cache::pin_key(*found));
    it = locals.erase(it);
  }
}

Result<Vfs::NodePtr> Vfs::child_locked(const NodePtr& parent, const std::string& name,
                                       std::unique_lock<std::mutex>& lock) {
  switch (parent->kind()) {
    case Kind::Root: {
      if (name == kControlDirName) return control_child_locked(parent, name);
      auto& locals = ns_->root_locals();
      if (auto it = locals.find(name); it != locals.end())
        if (auto node = ns_->node(it->second)) return node;
      // Not in the namespace: answered from the index, no network call (a negative entry for the kernel).
      auto key = ns_->pin_key_named(name);
      if (!key) return fail(ENOENT, "no pin named " + name);
      auto pin = ns_->index().find(*key);
      if (!pin) return fail(ENOENT, "no pin named " + name);
      return ns_->pin_node(*pin, name);
    }
    case Kind::LocalDir: {
      auto* dir = parent->dir();
      auto it = dir->children.find(name);
      if (it == dir->children.end()) return fail(ENOENT, "no entry " + name);
      if (auto node = ns_->node(it->second)) return node;
      return fail(ENOENT, "no entry " + name);
    }
    case Kind::Pin:
    case Kind::DirEntry: {
      if (!parent->is_directory()) return fail(ENOTDIR, parent->name + " is not a directory");
      if (!*parent->listing()) {
        lock.unlock();
        auto loaded = load_dirpin(parent);
        lock.lock();
        if (!loaded) return std::unexpected(loaded.error());
      }
      for (const auto& [child_name, ino] : (*parent->listing())->children)
        if (child_name == name)
          if (auto node = ns_->node(ino); node && !ns_->hidden(node)) return node;
      return fail(ENOENT, "no entry " + name + " in directory pin " + parent->content_cid());
    }
    case Kind::Control: {
      auto node = control_child_locked(parent, name);
      if (!node) return fail(ENOENT, "no entry " + name + " in /.pinfs");
      return node;
    }
    default:
      return fail(ENOTDIR, parent->name + " is not a directory");
  }
}

Result<Entry> Vfs::lookup(Ino parent, const std::string& name) {
  if (parent == kRootIno) {
    // While the first listing streams in, a name it already brought is served without waiting for the rest.
    bool listed_so_far = false;
    if (!ns_->index().synced_at()) {
      auto lock = ns_->lock();
      listed_so_far = ns_->pin_key_named(name).has_value();
    }
    if (!listed_so_far)
      if (auto ok = ensure_index(); !ok) return std::unexpected(ok.error());
  }
  auto lock = ns_->lock();
  auto dir = ns_->node(parent);
  if (!dir) return fail(ENOENT, "no inode " + std::to_string(parent));
  auto child = child_locked(dir, name, lock);
  if (!child) return std::unexpected(child.error());
  ++(*child)->lookups;
  lock.unlock();
  resolve_size(*child);
  lock.lock();
  return ns_->entry(*child);
}

Result<UnixfsFacts> unixfs_facts(const std::string& cid, const std::vector<std::uint8_t>& block) {
  auto parsed = cid::Cid::parse(cid);
  if (parsed && parsed->codec() == cid::Codec::Raw) return UnixfsFacts{false, block.size()};
  auto pb = cid::decode_pb(block);
  if (!pb) return fail(EIO, "bad dag-pb node " + cid + ": " + pb.error().message);
  auto fs = pb->data ? cid::decode_unixfs(*pb->data) : fail(EIO, "no unixfs data in " + cid);
  if (!fs) return fail(EIO, "bad unixfs data in " + cid + ": " + fs.error().message);
  UnixfsFacts facts;
  facts.is_dir = fs->type == cid::UnixfsType::Directory || fs->type == cid::UnixfsType::HamtShard;
  facts.size = facts.is_dir ? 0 : fs->filesize.value_or(fs->data ? fs->data->size() : 0);
  return facts;
}

namespace {

struct ChildInfo {
  std::string name;
  std::string cid;
  bool is_dir = false;
  std::uint64_t size = 0;
};

}  // namespace

// Lists a UnixFS directory node: each link's type and size come from the child's own node (a raw leaf is a
// file whose size is its Tsize).
Result<void> Vfs::load_dirpin(const NodePtr& dir) {
  std::string cid;
  std::int64_t mtime = 0;
  {
    auto lock = ns_->lock();
    cid = dir->content_cid();
    mtime = dir->pin() ? dir->pin()->pinned_at : dir->entry()->mtime;
  }
  ++counters_.block_fetches;
  auto block = verified().block(cid);  // checked against its CID (retried once, then EIO)
  if (!block) return std::unexpected(block.error());
  auto node = cid::decode_pb(*block);
  if (!node) return fail(EIO, "directory pin " + cid + " is not a dag-pb node: " + node.error().message);
  if (node->data) {
    auto fs = cid::decode_unixfs(*node->data);
    if (fs && fs->type == cid::UnixfsType::HamtShard)
      return fail(ENOTSUP, "directory pin " + cid + " is a HAMT-sharded directory (not supported yet)");
    if (fs && fs->type != cid::UnixfsType::Directory) return fail(ENOTDIR, cid + " is not a directory");
  }
  std::vector<ChildInfo> children;
  for (const auto& link : node->links) {
    ChildInfo info;
    info.name = escape_name(link.name.value_or(""));
    info.cid = link.hash.to_string();
    if (link.hash.codec() == cid::Codec::Raw) {
      info.size = link.tsize.value_or(0);
    } else {
      ++counters_.block_fetches;
      auto child = verified().block(info.cid);
      if (!child) return std::unexpected(child.error());
      auto facts = unixfs_facts(info.cid, *child);
      if (!facts) return std::unexpected(facts.error());
      info.is_dir = facts->is_dir;
      info.size = facts->size;
    }
    children.push_back(std::move(info));
  }
  auto lock = ns_->lock();
  auto* slot = dir->listing();
  if (!slot) return fail(ENOTDIR, dir->name + " is not a directory pin");
  if (*slot) return {};
  auto listing = std::make_shared<DirListing>();
  for (const auto& info : children) {
    auto child = ns_->intern("dp:" + std::to_string(dir->ino) + "/" + info.name, [] {
      auto n = std::make_shared<Node>();
      n->data = DirEntryData{};
      return n;
    });
    child->parent = dir->ino;
    child->name = info.name;
    DirEntryData data;
    data.cid = info.cid;
    data.is_dir = info.is_dir;
    data.size = info.size;
    data.mtime = mtime;
    if (auto old = child->entry()) data.listing = old->listing;
    child->data = std::move(data);
    listing->children.emplace_back(info.name, child->ino);
  }
  *slot = std::move(listing);
  return {};
}

Result<std::vector<std::pair<std::string, Vfs::NodePtr>>> Vfs::list_children(
    const NodePtr& dir, std::unique_lock<std::mutex>& lock) {
  std::vector<std::pair<std::string, NodePtr>> out;
  switch (dir->kind()) {
    case Kind::Root: {
      out.emplace_back(kControlDirName, control_child_locked(dir, kControlDirName));
      const auto& locals = ns_->root_locals();
      for (const auto& [name, ino] : locals)
        if (auto node = ns_->node(ino)) out.emplace_back(name, node);
      auto& index = ns_->index();
      for (const auto& [name, key] : ns_->pin_names()) {
        if (locals.contains(name)) continue;  // a new entry shadows a pin of the same name
        auto node = ns_->by_key("pin:" + key);
        if (!node || !node->pin()) {
          auto pin = index.find(key);
          if (!pin) continue;
          node = ns_->pin_node(*pin, name);
        }
        out.emplace_back(name, node);
      }
      return out;
    }
    case Kind::LocalDir:
      for (const auto& [name, ino] : dir->dir()->children)
        if (auto node = ns_->node(ino)) out.emplace_back(name, node);
      return out;
    case Kind::Pin:
    case Kind::DirEntry:
      if (!dir->is_directory()) return fail(ENOTDIR, dir->name + " is not a directory");
      if (!*dir->listing()) {
        lock.unlock();
        auto loaded = load_dirpin(dir);
        lock.lock();
        if (!loaded) return std::unexpected(loaded.error());
      }
      for (const auto& [name, ino] : (*dir->listing())->children)
        if (auto node = ns_->node(ino); node && !ns_->hidden(node)) out.emplace_back(name, node);
      return out;
    case Kind::Control: {
      std::vector<std::string> names;
      const auto& control = dir->control()->control;
      if (control == "root") {
        names = {"status", "jobs", "by-cid"};
      } else if (control == "jobs") {
        for (const auto& job : ns_->jobs()) names.push_back(job.id);
      } else if (control == "by-cid") {
        ns_->index().for_each([&](const service::Pin& pin) { names.push_back(pin.cid); });
        std::sort(names.begin(), names.end());
        names.erase(std::unique(names.begin(), names.end()), names.end());
      }
      for (const auto& name : names)
        if (auto node = control_child_locked(dir, name)) out.emplace_back(name, node);
      return out;
    }
    default:
      return fail(ENOTDIR, dir->name + " is not a directory");
  }
}

Result<std::uint64_t> Vfs::opendir(Ino ino) {
  // The account's first listing streams: readdir returns each page's pins as it arrives. Later states of
  // the account come from the poller, applied to the index in one change set, so a listing never mixes two.
  const bool stream = ino == kRootIno && !ns_->index().synced_at();
  if (ino == kRootIno && !stream) {
    if (auto ok = ensure_index(); !ok) return std::unexpected(ok.error());
  }
  {
    auto lock = ns_->lock();
    auto dir = ns_->node(ino);
    if (dir && dir->kind() == Kind::Control && dir->control()->control == "jobs" &&
        service_->capabilities().pin_jobs) {
      lock.unlock();
      auto remote = service_->list_jobs();
      lock.lock();
      if (remote) {
        auto& jobs = ns_->jobs();
        for (const auto& job : *remote) {
          auto it = std::find_if(jobs.begin(), jobs.end(), [&](const auto& j) { return j.id == job.id; });
          if (it == jobs.end())
            jobs.push_back(job);
          else
            *it = job;
        }
      }
    }
  }
  auto lock = ns_->lock();
  auto dir = ns_->node(ino);
  if (!dir) return fail(ENOENT, "no inode " + std::to_string(ino));
  auto children = list_children(dir, lock);
  if (!children) return std::unexpected(children.error());
  auto handle = std::make_shared<DirHandle>();
  handle->dir = dir;
  handle->items.emplace_back(".", dir);
  auto up = ns_->node(dir->parent);
  handle->items.emplace_back("..", up ? up : dir);
  for (auto& item : *children) handle->items.push_back(std::move(item));
  if (stream && dir->kind() == Kind::Root) {
    handle->stream = std::make_unique<RootStream>();
    for (const auto& [name, node] : handle->items)
      if (node->kind() == Kind::Pin) handle->stream->shown.insert(node->pin_key());
  }
  lock.unlock();
  std::lock_guard handles(handles_mu_);
  auto dh = next_fh_++;
  dir_handles_[dh] = handle;
  return dh;
}

// One page of the first listing: stored in the index as it arrives; once the last page is in, pins the
// index had that the listing did not bring are removed and the index is complete.
Result<void> Vfs::next_root_page(DirHandle& handle) {
  RootStream& s = *handle.stream;
  std::lock_guard one_page(s.mu);
  if (s.done) return {};
  std::lock_guard refresh(refresh_mu_);
  auto& index = ns_->index();
  // Another listing may have completed meanwhile: then its result is what is left to show.
  bool complete = index.synced_at().has_value();
  std::vector<service::Pin> pins;
  if (!complete) {
    // IndexSync's full listing: each page is in the index before next() returns it.
    if (!s.listing) s.listing = sync_->start_full();
    auto page = s.listing->next();
    count_list_calls();
    if (!page) return std::unexpected(page.error());
    pins = std::move(*page);
    complete = s.listing->done();
    if (complete) {
      auto finished = s.listing->finish();
      s.listing.reset();
      if (!finished) return std::unexpected(finished.error());
      next_refresh_ = now_seconds() + options_.poll_interval.count();
      spdlog::debug("pin list streamed: {} pins", index.size());
    }
  }
  auto lock = ns_->lock();
  // Names are as of this page: a pin shown earlier keeps the name it was shown under in this listing even
  // if a later page brings a namesake (both are suffixed from then on; docs/SEMANTICS.md [list.stream]).
  const auto& locals = ns_->root_locals();
  // This page's pins only: O(page), not O(account). A listing of one page is named whole, as the index.
  if (!pins.empty() && (!complete || !s.shown.empty())) {
    auto named = ns_->stream_names(pins);
    for (std::size_t i = 0; i < named.size(); ++i) {
      const auto& [name, key] = named[i];
      if (locals.contains(name) || !s.shown.insert(key).second) continue;
      handle.items.emplace_back(name, ns_->pin_node(pins[i], name));
    }
  }
  if (complete) {  // what the streamed pages did not show: names the full rebuild changed, pins added here
    ns_->rebuild_names();
    reconcile_links();
    for (const auto& [name, key] : ns_->pin_names()) {
      if (locals.contains(name) || s.shown.contains(key)) continue;
      auto pin = index.find(key);
      if (!pin) continue;
      s.shown.insert(key);
      handle.items.emplace_back(name, ns_->pin_node(*pin, name));
    }
  }
  s.done = complete;
  if (complete) {
    lock.unlock();
    uploads_->adopt_job_pins();
  }
  return {};
}

Result<std::vector<DirItem>> Vfs::readdir(std::uint64_t dh, std::uint64_t offset, std::size_t max) {
  std::shared_ptr<DirHandle> handle;
  {
    std::lock_guard lock(handles_mu_);
    auto it = dir_handles_.find(dh);
    if (it == dir_handles_.end()) return fail(EBADF, "no directory handle " + std::to_string(dh));
    handle = it->second;
  }
  // A streamed root fetches pages until this call can be filled: a page's entries reach the kernel
  // before the next page is asked for.
  for (;;) {
    std::size_t known = 0;
    {
      auto lock = ns_->lock();
      known = handle->items.size();
      if (offset + max <= known || !handle->stream) break;
    }
    {
      std::lock_guard one_page(handle->stream->mu);
      if (handle->stream->done) break;
    }
    if (auto more = next_root_page(*handle); !more) {
      if (offset < known) break;  // what is known now; the error comes with the next call
      return std::unexpected(more.error());
    }
  }
  auto lock = ns_->lock();
  const auto& items = handle->items;
  std::vector<DirItem> out;
  for (auto i = offset; i < items.size() && out.size() < max; ++i) {
    DirItem item;
    item.name = items[i].first;
    item.entry = ns_->entry(items[i].second);
    item.dot = i < 2;
    ns_->revive(items[i].second);
    out.push_back(std::move(item));
  }
  return out;
}

void Vfs::releasedir(std::uint64_t dh) {
  std::shared_ptr<DirHandle> handle;
  {
    std::lock_guard lock(handles_mu_);
    auto it = dir_handles_.find(dh);
    if (it == dir_handles_.end()) return;
    handle = it->second;
    dir_handles_.erase(it);
  }
  auto lock = ns_->lock();
  for (auto& [name, node] : handle->items) {
    auto keep = node;
    node.reset();
    ns_->drop_if_unused(keep);
  }
  const bool large = handle->items.size() >= 10000;
  const bool root = handle->dir && handle->dir->ino == kRootIno;
  lock.unlock();
  handle.reset();
  if (root && refresh_after_first_listing_.exchange(false)) {
    {
      std::lock_guard poll(poll_mu_);
      next_refresh_ = now_seconds();
    }
    poll_cv_.notify_all();
  }
  // A listing of a large account held an entry per pin: its pages go back to the system, so the daemon's
  // resident size is what it keeps (DESIGN.md §7 memory target).
  if (large) malloc_trim(0);
}

}  // namespace pinfs::vfs
