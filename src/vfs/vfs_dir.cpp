// Lookups and listings: the root (pins from the index, new entries, /.pinfs), directory pins, new
// directories.
#include <algorithm>

#include "node.hpp"
#include "pinfs/cache/pin_index.hpp"
#include "pinfs/cid/dagpb.hpp"
#include "pinfs/common/log.hpp"
#include "pinfs/vfs/names.hpp"

namespace pinfs::vfs {

Result<void> Vfs::ensure_index() {
  std::lock_guard refresh(refresh_mu_);
  auto synced = index_->synced_at();
  if (synced && now_seconds() - *synced < options_.poll_interval.count()) return {};
  std::vector<service::Pin> pins;
  service::ListQuery query;
  query.page_size = service_->capabilities().max_page_size;
  for (;;) {
    ++counters_.list_calls;
    auto page = service_->list(query);
    if (!page) {
      if (synced) {
        spdlog::warn("refreshing the pin list failed, serving the last listing: {}", page.error().describe());
        return {};
      }
      return std::unexpected(page.error());
    }
    for (auto& pin : page->pins) pins.push_back(std::move(pin));
    if (page->next_cursor.empty() || page->pins.empty()) break;
    query.cursor = page->next_cursor;
  }
  spdlog::debug("pin list refreshed: {} pins", pins.size());
  index_->replace_all(std::move(pins), now_seconds());
  std::lock_guard lock(mu_);
  rebuild_names_locked();
  reconcile_locked();
  return {};
}

Result<void> Vfs::refresh() {
  {
    std::lock_guard refresh(refresh_mu_);
    index_->replace_all(index_->all(), 0);  // mark stale; keeps serving the old list if listing fails
  }
  // synced_at 0 is "long ago" for every poll interval.
  return ensure_index();
}

void Vfs::rebuild_names_locked() {
  if (names_generation_ == index_->generation()) return;
  names_generation_ = index_->generation();
  auto pins = index_->all();
  auto names = shown_names(pins);
  pin_names_.clear();
  for (std::size_t i = 0; i < pins.size(); ++i) {
    auto key = cache::pin_key(pins[i]);
    pin_names_[names[i]] = key;
    // A pin adopted before the service told its id (keyed by CID) keeps its inode once the id is known.
    if (!pins[i].id.empty() && !by_key_.contains("pin:" + key))
      if (auto it = by_key_.find("pin:cid:" + pins[i].cid); it != by_key_.end())
        by_key_["pin:" + key] = it->second;
    if (auto it = by_key_.find("pin:" + key); it != by_key_.end())
      if (auto node = node_locked(it->second)) {
        node->pin = pins[i];
        node->name = names[i];
      }
  }
}

// Entries that were waiting for the service (symlinks pinning by CID, deduplicated files) become pins once
// the listing shows a pin with their name and CID.
void Vfs::reconcile_locked() {
  for (auto it = root_locals_.begin(); it != root_locals_.end();) {
    auto node = node_locked(it->second);
    std::string cid;
    std::string name;
    if (node && node->kind == Kind::Link) {
      cid = node->link_cid;
      name = unescape_name(it->first);
    }
    std::optional<service::Pin> found;
    if (!cid.empty())
      for (const auto& pin : index_->by_cid(cid))
        if (pin.name == name) found = pin;
    if (!found) {
      ++it;
      continue;
    }
    node->kind = Kind::Pin;
    node->pin = *found;
    node->cid = found->cid;
    alias_locked(node, "pin:" + cache::pin_key(*found));
    it = root_locals_.erase(it);
  }
  for (auto it = job_files_.begin(); it != job_files_.end();) {
    auto file = *it;
    std::optional<service::Pin> found;
    for (const auto& pin : index_->by_cid(file->cid))
      if (pin.name == file->job_name) found = pin;
    if (!found) {
      ++it;
      continue;
    }
    // Renamed or removed while the job ran (rsync's temp name): the pin follows once it exists.
    if (file->deleted)
      follow_ups_.push_back({*found, ""});
    else if (file->name != file->job_name)
      follow_ups_.push_back({*found, file->name});
    if (file->deleted) {
      file->state = UploadState::Pinned;
      ::unlink(file->staging.c_str());
    } else {
      adopt_pin_locked(file, *found);
    }
    it = job_files_.erase(it);
  }
  if (!follow_ups_.empty()) wake_.notify_all();
}

Result<Vfs::NodePtr> Vfs::child_locked(const NodePtr& parent, const std::string& name,
                                       std::unique_lock<std::mutex>& lock) {
  switch (parent->kind) {
    case Kind::Root: {
      if (name == kControlDirName) return control_child_locked(parent, name);
      if (auto it = root_locals_.find(name); it != root_locals_.end())
        if (auto node = node_locked(it->second)) return node;
      rebuild_names_locked();
      auto it = pin_names_.find(name);
      if (it == pin_names_.end()) return fail(ENOENT, "no pin named " + name);
      auto pin = index_->find(it->second);
      if (!pin) return fail(ENOENT, "no pin named " + name);
      auto node = pin_node_locked(*pin);
      node->name = name;
      return node;
    }
    case Kind::LocalDir: {
      auto it = parent->dir->children.find(name);
      if (it == parent->dir->children.end()) return fail(ENOENT, "no entry " + name);
      if (auto node = node_locked(it->second)) return node;
      return fail(ENOENT, "no entry " + name);
    }
    case Kind::Pin:
    case Kind::DirEntry: {
      if (!parent->is_directory()) return fail(ENOTDIR, parent->name + " is not a directory");
      if (!parent->children_loaded) {
        lock.unlock();
        auto loaded = load_dirpin(parent);
        lock.lock();
        if (!loaded) return std::unexpected(loaded.error());
      }
      for (const auto& [child_name, ino] : parent->children)
        if (child_name == name)
          if (auto node = node_locked(ino)) return node;
      return fail(ENOENT, "no entry " + name + " in directory pin " + parent->cid);
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
    if (!index_->synced_at()) {
      std::lock_guard lock(mu_);
      rebuild_names_locked();
      listed_so_far = pin_names_.contains(name);
    }
    if (!listed_so_far)
      if (auto ok = ensure_index(); !ok) return std::unexpected(ok.error());
  }
  std::unique_lock lock(mu_);
  auto dir = node_locked(parent);
  if (!dir) return fail(ENOENT, "no inode " + std::to_string(parent));
  auto child = child_locked(dir, name, lock);
  if (!child) return std::unexpected(child.error());
  ++(*child)->lookups;
  lock.unlock();
  resolve_size(*child);
  lock.lock();
  return entry_locked(*child);
}

namespace {}  // namespace

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
    std::lock_guard lock(mu_);
    cid = dir->kind == Kind::Pin ? dir->pin.cid : dir->cid;
    mtime = dir->kind == Kind::Pin ? dir->pin.pinned_at : dir->mtime;
  }
  ++counters_.block_fetches;
  auto block = gateway_->block(cid);
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
      auto child = gateway_->block(info.cid);
      if (!child) return std::unexpected(child.error());
      auto facts = unixfs_facts(info.cid, *child);
      if (!facts) return std::unexpected(facts.error());
      info.is_dir = facts->is_dir;
      info.size = facts->size;
    }
    children.push_back(std::move(info));
  }
  std::lock_guard lock(mu_);
  if (dir->children_loaded) return {};
  for (const auto& info : children) {
    auto child = intern_locked("dp:" + std::to_string(dir->ino) + "/" + info.name, [] {
      auto n = std::make_shared<Node>();
      n->kind = Kind::DirEntry;
      return n;
    });
    child->parent = dir->ino;
    child->name = info.name;
    child->cid = info.cid;
    child->is_dir = info.is_dir;
    child->size = info.size;
    child->mtime = mtime;
    dir->children.emplace_back(info.name, child->ino);
  }
  dir->children_loaded = true;
  return {};
}

Result<std::vector<std::pair<std::string, Vfs::NodePtr>>> Vfs::list_children(
    const NodePtr& dir, std::unique_lock<std::mutex>& lock) {
  std::vector<std::pair<std::string, NodePtr>> out;
  switch (dir->kind) {
    case Kind::Root: {
      out.emplace_back(kControlDirName, control_child_locked(dir, kControlDirName));
      for (const auto& [name, ino] : root_locals_)
        if (auto node = node_locked(ino)) out.emplace_back(name, node);
      rebuild_names_locked();
      for (const auto& [name, id] : pin_names_) {
        if (root_locals_.contains(name)) continue;  // a new entry shadows a pin of the same name
        auto pin = index_->find(id);
        if (!pin) continue;
        auto node = pin_node_locked(*pin);
        node->name = name;
        out.emplace_back(name, node);
      }
      return out;
    }
    case Kind::LocalDir:
      for (const auto& [name, ino] : dir->dir->children)
        if (auto node = node_locked(ino)) out.emplace_back(name, node);
      return out;
    case Kind::Pin:
    case Kind::DirEntry:
      if (!dir->is_directory()) return fail(ENOTDIR, dir->name + " is not a directory");
      if (!dir->children_loaded) {
        lock.unlock();
        auto loaded = load_dirpin(dir);
        lock.lock();
        if (!loaded) return std::unexpected(loaded.error());
      }
      for (const auto& [name, ino] : dir->children)
        if (auto node = node_locked(ino)) out.emplace_back(name, node);
      return out;
    case Kind::Control: {
      std::vector<std::string> names;
      if (dir->control == "root") {
        names = {"status", "jobs", "by-cid"};
      } else if (dir->control == "jobs") {
        for (const auto& job : jobs_) names.push_back(job.id);
      } else if (dir->control == "by-cid") {
        for (const auto& pin : index_->all()) names.push_back(pin.cid);
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
  // The account's first listing streams: readdir returns each page's pins as it arrives. Later listings
  // (poll_interval) are read whole before the directory opens, so a listing never mixes two states.
  const bool stream = ino == kRootIno && !index_->synced_at();
  if (ino == kRootIno && !stream) {
    if (auto ok = ensure_index(); !ok) return std::unexpected(ok.error());
  }
  {
    std::unique_lock lock(mu_);
    auto dir = node_locked(ino);
    if (dir && dir->kind == Kind::Control && dir->control == "jobs" && service_->capabilities().pin_jobs) {
      lock.unlock();
      auto remote = service_->list_jobs();
      lock.lock();
      if (remote) {
        for (const auto& job : *remote) {
          auto it = std::find_if(jobs_.begin(), jobs_.end(), [&](const auto& j) { return j.id == job.id; });
          if (it == jobs_.end())
            jobs_.push_back(job);
          else
            *it = job;
        }
      }
    }
  }
  std::unique_lock lock(mu_);
  auto dir = node_locked(ino);
  if (!dir) return fail(ENOENT, "no inode " + std::to_string(ino));
  auto children = list_children(dir, lock);
  if (!children) return std::unexpected(children.error());
  auto handle = std::make_shared<DirHandle>();
  handle->dir = dir;
  handle->items.emplace_back(".", dir);
  handle->items.emplace_back("..", node_locked(dir->parent) ? node_locked(dir->parent) : dir);
  for (auto& item : *children) handle->items.push_back(std::move(item));
  if (stream && dir->kind == Kind::Root) {
    handle->stream = std::make_unique<RootStream>();
    handle->stream->query.page_size = service_->capabilities().max_page_size;
    for (const auto& [name, node] : handle->items)
      if (node->kind == Kind::Pin) handle->stream->shown.insert(cache::pin_key(node->pin));
  }
  auto dh = next_fh_++;
  dir_handles_[dh] = handle;
  return dh;
}

Result<void> Vfs::next_root_page(DirHandle& handle) {
  RootStream& s = *handle.stream;
  std::lock_guard one_page(s.mu);
  {
    std::lock_guard lock(mu_);
    if (s.done) return {};
  }
  std::lock_guard refresh(refresh_mu_);
  // Another listing may have completed meanwhile: then its result is what is left to show.
  bool complete = index_->synced_at().has_value();
  if (!complete) {
    ++counters_.list_calls;
    auto page = service_->list(s.query);
    if (!page) return std::unexpected(page.error());
    for (const auto& pin : page->pins) {
      index_->upsert(pin);
      s.pins.push_back(pin);
    }
    complete = page->next_cursor.empty() || page->pins.empty();
    s.query.cursor = page->next_cursor;
    if (complete) {
      spdlog::debug("pin list streamed: {} pins", s.pins.size());
      index_->replace_all(std::move(s.pins), now_seconds());
    }
  }
  std::lock_guard lock(mu_);
  rebuild_names_locked();
  if (complete) reconcile_locked();
  // Names are as of this page: a pin shown earlier keeps the name it was shown under in this listing even
  // if a later page brings a namesake (both are suffixed from then on; docs/SEMANTICS.md [list.stream]).
  for (const auto& [name, key] : pin_names_) {
    if (root_locals_.contains(name) || s.shown.contains(key)) continue;
    auto pin = index_->find(key);
    if (!pin) continue;
    s.shown.insert(key);
    auto node = pin_node_locked(*pin);
    node->name = name;
    handle.items.emplace_back(name, node);
  }
  s.done = complete;
  return {};
}

Result<std::vector<DirItem>> Vfs::readdir(std::uint64_t dh, std::uint64_t offset, std::size_t max) {
  std::shared_ptr<DirHandle> handle;
  {
    std::lock_guard lock(mu_);
    auto it = dir_handles_.find(dh);
    if (it == dir_handles_.end()) return fail(EBADF, "no directory handle " + std::to_string(dh));
    handle = it->second;
  }
  // A streamed root fetches pages until this call can be filled: a page's entries reach the kernel
  // before the next page is asked for.
  for (;;) {
    std::size_t known = 0;
    {
      std::lock_guard lock(mu_);
      known = handle->items.size();
      if (offset + max <= known || !handle->stream || handle->stream->done) break;
    }
    if (auto more = next_root_page(*handle); !more) {
      if (offset < known) break;  // what is known now; the error comes with the next call
      return std::unexpected(more.error());
    }
  }
  std::lock_guard lock(mu_);
  const auto& items = handle->items;
  std::vector<DirItem> out;
  for (auto i = offset; i < items.size() && out.size() < max; ++i) {
    DirItem item;
    item.name = items[i].first;
    item.entry = entry_locked(items[i].second);
    item.dot = i < 2;
    // A node dropped since opendir (forgotten) comes back under its old inode for this listing.
    if (!nodes_.contains(items[i].second->ino)) nodes_[items[i].second->ino] = items[i].second;
    out.push_back(std::move(item));
  }
  return out;
}

void Vfs::releasedir(std::uint64_t dh) {
  std::lock_guard lock(mu_);
  auto it = dir_handles_.find(dh);
  if (it == dir_handles_.end()) return;
  auto handle = it->second;
  dir_handles_.erase(it);
  for (auto& [name, node] : handle->items) {
    auto keep = node;
    node.reset();
    drop_if_unused_locked(keep);
  }
}

}  // namespace pinfs::vfs
