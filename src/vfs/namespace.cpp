#include "namespace.hpp"

#include <malloc.h>

#include <algorithm>
#include <cassert>
#include <utility>

#include "pinfs/common/log.hpp"
#include "pinfs/vfs/names.hpp"

namespace pinfs::vfs {

namespace {
constexpr std::size_t kMaxNotes = 10000;  // beyond this the root is invalidated as a whole
}

Namespace::Namespace(const VfsOptions& options)
    : options_(options), index_(std::make_unique<ShownPins>(cache::make_memory_pin_index())) {
  auto root = std::make_shared<Vfs::Node>();
  root->data = RootData{};
  root->ino = kRootIno;
  root->key = "root";
  root->lookups = 1;  // the kernel's implicit reference, never forgotten
  nodes_[kRootIno] = root;
  by_key_["root"] = kRootIno;
}

Namespace::NodePtr Namespace::node(Ino ino) const {
  auto it = nodes_.find(ino);
  return it == nodes_.end() ? nullptr : it->second;
}

Namespace::NodePtr Namespace::by_key(const std::string& key) const {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : node(it->second);
}

Namespace::NodePtr Namespace::intern(const std::string& key, const std::function<NodePtr()>& make) {
  if (auto it = by_key_.find(key); it != by_key_.end()) {
    if (auto found = node(it->second)) return found;
  }
  NodePtr made = make();
  made->ino = next_ino_++;
  made->key = key;
  nodes_[made->ino] = made;
  by_key_[key] = made->ino;
  return made;
}

Namespace::NodePtr Namespace::add(const std::string& prefix, NodePtr made) {
  made->ino = next_ino_++;
  made->key = prefix + std::to_string(made->ino);
  nodes_[made->ino] = made;
  by_key_[made->key] = made->ino;
  return made;
}

Namespace::NodePtr Namespace::pin_node(const service::Pin& pin, const std::string& shown) {
  auto made = intern("pin:" + cache::pin_key(pin), [] { return std::make_shared<Vfs::Node>(); });
  if (auto data = made->pin()) {
    auto listing = std::move(data->listing);
    bool verified = data->verified;
    *data = pin_data_of(pin);
    data->listing = std::move(listing);
    data->verified = verified;
  } else {
    made->data = pin_data_of(pin);
  }
  made->parent = kRootIno;
  made->name = shown;
  return made;
}

void Namespace::alias(const NodePtr& target, const std::string& key) {
  by_key_[key] = target->ino;
  target->key = key;
}

void Namespace::unalias(const std::string& key, Ino ino) {
  if (auto it = by_key_.find(key); it != by_key_.end() && it->second == ino) by_key_.erase(it);
}

void Namespace::drop_if_unused(const NodePtr& target) {
  if (target->lookups > 0) return;
  auto kind = target->kind();
  if (kind != Kind::Pin && kind != Kind::ControlFile)
    return;                            // a directory-pin entry: its listing refers to it
  if (target.use_count() > 2) return;  // an open handle or directory listing still holds it
  auto it = by_key_.find(target->key);
  if (it != by_key_.end() && it->second == target->ino) by_key_.erase(it);
  nodes_.erase(target->ino);
}

void Namespace::forget(Ino ino, std::uint64_t count) {
  auto target = node(ino);
  if (!target || ino == kRootIno) return;
  if (count > target->lookups) {
    spdlog::error("forget({}, {}) exceeds lookup count {}", ino, count, target->lookups);
    assert(false && "negative lookup count");
    target->lookups = 0;
  } else {
    target->lookups -= count;
  }
  drop_if_unused(target);
}

void Namespace::remember(Ino ino) {
  if (auto target = node(ino)) ++target->lookups;
}

void Namespace::revive(const NodePtr& target) {
  if (!nodes_.contains(target->ino)) nodes_[target->ino] = target;
}

struct stat Namespace::attr(const Vfs::Node& n) const {
  struct stat st {};
  st.st_ino = n.ino;
  st.st_uid = options_.uid;
  st.st_gid = options_.gid;
  st.st_nlink = 1;
  // The preferred I/O size: cp, cat and most tools size their buffers by it, so that a copy in arrives as
  // 1 MiB writes (max_write) instead of 128 KiB ones, an eighth of the FUSE requests.
  st.st_blksize = 1 << 20;
  std::int64_t time = 0;
  struct timespec mtime {};  // set: a program's mtime, shown instead of `time` (ctime stays `time`)
  switch (n.kind()) {
    case Kind::Root:
      st.st_mode = S_IFDIR | 0755;
      st.st_nlink = 2;
      break;
    case Kind::Pin:
      st.st_mode = n.pin()->is_dir ? (S_IFDIR | 0555) : (S_IFREG | 0444);
      st.st_size = static_cast<off_t>(file_size(n));
      time = n.pin()->pinned_at;
      mtime = {n.pin()->mtime, n.pin()->mtime_nsec};
      break;
    case Kind::DirEntry:
      st.st_mode = n.entry()->is_dir ? (S_IFDIR | 0555) : (S_IFREG | 0444);
      st.st_size = static_cast<off_t>(n.entry()->size);
      time = n.entry()->mtime;
      break;
    case Kind::Local: {
      auto file = n.local();
      st.st_mode = S_IFREG | (file->editable() ? 0644 : 0444);
      st.st_size = static_cast<off_t>(file->size.load());
      time = file->mtime.load();
      mtime = {time, file->mtime_nsec.load()};
      break;
    }
    case Kind::LocalDir:
      st.st_mode = S_IFDIR | 0755;
      st.st_nlink = 2;
      time = std::get<LocalDirData>(n.data).mtime;
      break;
    case Kind::Link:
      st.st_mode = S_IFLNK | 0777;
      st.st_size = static_cast<off_t>(n.link()->target.size());
      time = n.link()->mtime;
      break;
    case Kind::Control:
      st.st_mode = S_IFDIR | 0555;
      st.st_nlink = 2;
      break;
    case Kind::ControlFile:
      st.st_mode = S_IFREG | 0444;
      st.st_size = static_cast<off_t>(n.control()->size);
      time = n.control()->mtime;
      break;
  }
  st.st_blocks = (st.st_size + 511) / 512;
  st.st_atim.tv_sec = st.st_mtim.tv_sec = st.st_ctim.tv_sec = time;
  if (mtime.tv_sec != 0 || mtime.tv_nsec != 0) st.st_atim = st.st_mtim = mtime;
  return st;
}

bool Namespace::size_known(const Vfs::Node& n) const {
  auto p = n.pin();
  return !p || p->is_dir || !p->size_is_dag || file_sizes_.contains(p->cid);
}

std::uint64_t Namespace::file_size(const Vfs::Node& n) const {
  if (auto p = n.pin()) {
    if (auto it = file_sizes_.find(p->cid); it != file_sizes_.end()) return it->second;
    return p->size;
  }
  if (auto e = n.entry()) return e->size;
  if (auto c = n.control()) return c->size;
  if (auto file = n.local()) return file->size;
  return 0;
}

Entry Namespace::entry(const NodePtr& n) const {
  Entry out;
  out.ino = n->ino;
  out.attr = attr(*n);
  if (!size_known(*n)) out.timeout = 0;  // the kernel asks getattr, which learns the exact size
  return out;
}

void Namespace::note(KernelNote::What what, Ino parent, Ino ino, const std::string& name) {
  if (notes_overflow_) return;
  if (notes_.size() >= kMaxNotes) {
    notes_.clear();
    notes_overflow_ = true;
    return;
  }
  notes_.push_back({what, parent, ino, name});
}

std::vector<KernelNote> Namespace::take_notes() {
  std::vector<KernelNote> out;
  out.swap(notes_);
  if (notes_overflow_) out.push_back({KernelNote::What::Inode, 0, kRootIno, ""});
  notes_overflow_ = false;
  return out;
}

void Namespace::rebuild_names() {
  const std::uint64_t credit = std::exchange(names_credit_, 0);
  if (names_generation_ + credit == index_->generation() &&
      (names_complete_ || !index_->sync_state().complete)) {
    names_generation_ += credit;  // only pins that pin_added() already named changed the index
    return;
  }
  // The first listing streamed every name already (stream_names): when no two pins met on a name and the
  // names cover exactly the index, the full rebuild would give the same names, so it is skipped. On a
  // large account it is the peak of the mount's memory (every name held twice, DESIGN.md §7).
  if (std::exchange(streamed_, false) && !stream_collided_ && !names_complete_ &&
      index_->sync_state().complete && names_generation_ + credit == index_->generation() &&
      pin_names_.size() == index_->size()) {
    names_generation_ += credit;
    names_complete_ = true;
    return;
  }
  stream_collided_ = false;
  // Until the index is complete the names come from a first listing in progress: the kernel learns them
  // as they stream, so there is nothing to take back.
  const bool first = !names_complete_;
  names_generation_ = index_->generation();
  names_complete_ = index_->sync_state().complete;
  // Only what naming needs is held, index-aligned: the index may be 1,000,000 rows. Pins that have an inode
  // take what their node shows as the index is read (a rename elsewhere keeps the inode; a size or date may
  // change).
  const auto rows = index_->size();
  std::vector<std::string> names, keys, tails;  // shown name, pin key, the CID's last 8 characters
  std::vector<Ino> inos;                        // the pin's node, 0 for none
  names.reserve(rows);
  keys.reserve(rows);
  tails.reserve(rows);
  inos.reserve(rows);
  index_->for_each([&](const service::Pin& pin) {
    auto key = cache::pin_key(pin);
    const std::string by = "pin:" + key;
    // A pin adopted before the service told its id (keyed by CID) keeps its inode once the id is known.
    if (!pin.id.empty() && !by_key_.contains(by))
      if (auto it = by_key_.find("pin:cid:" + pin.cid); it != by_key_.end()) by_key_[by] = it->second;
    Ino ino = 0;
    if (auto it = by_key_.find(by); it != by_key_.end())
      if (auto n = node(it->second); n && n->pin()) {
        ino = n->ino;
        auto* current = n->pin();
        auto data = pin_data_of(pin);
        if (!first && (current->size != data.size || current->pinned_at != data.pinned_at ||
                       current->mtime != data.mtime || current->mtime_nsec != data.mtime_nsec))
          note(KernelNote::What::Inode, 0, n->ino, "");
        data.listing = std::move(current->listing);
        data.verified = current->verified;
        *current = std::move(data);
      }
    names.push_back(pin.name.empty() ? pin.cid : escape_name(pin.name));
    tails.push_back(pin.cid.size() > 8 ? pin.cid.substr(pin.cid.size() - 8) : pin.cid);
    keys.push_back(std::move(key));
    inos.push_back(ino);
  });
  suffix_collisions(
      names, [&](std::size_t i) -> std::string_view { return tails[i]; },
      [&](std::size_t i) -> std::string_view {
        return keys[i].starts_with("cid:") ? std::string_view{} : std::string_view{keys[i]};
      });
  for (std::size_t i = 0; i < inos.size(); ++i)
    if (inos[i]) node(inos[i])->name = names[i];
  std::vector<std::string>().swap(tails);
  std::vector<Ino>().swap(inos);
  // The new names in order, walked beside pin_names_ (also in order): only what differs is changed, so the
  // map is never held twice (on 100,000 pins the copy was the largest part of a rebuild).
  std::vector<std::uint32_t> order(names.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](auto x, auto y) { return names[x] < names[y]; });
  // What a kernel that cached the old names must forget: names now gone (the pin too, or only renamed) or
  // meaning another pin, and new names (it may hold a negative entry for them).
  bool changed = false;
  auto gone = [&](const std::string& name, const std::string& key) {
    changed = true;
    if (first) return;
    Ino ino = 0;
    if (auto k = by_key_.find("pin:" + key); k != by_key_.end()) ino = k->second;
    if (ino && !index_->find(key))
      note(KernelNote::What::Delete, kRootIno, ino, name);
    else
      note(KernelNote::What::Entry, kRootIno, 0, name);
  };
  auto added = [&](const std::string& name) {
    changed = true;
    if (!first) note(KernelNote::What::Entry, kRootIno, 0, name);
  };
  auto old = pin_names_.begin();
  for (std::size_t at = 0; at < order.size(); ++at) {
    const auto i = order[at];
    if (at > 0 && names[order[at - 1]] == names[i]) continue;  // cannot happen after suffix_collisions
    while (old != pin_names_.end() && old->first < names[i]) {
      gone(old->first, old->second);
      old = pin_names_.erase(old);
    }
    if (old != pin_names_.end() && old->first == names[i]) {
      if (old->second != keys[i]) {
        gone(old->first, old->second);
        added(names[i]);
        old->second = std::move(keys[i]);
      }
      ++old;
    } else {
      added(names[i]);
      pin_names_.emplace_hint(old, std::move(names[i]), std::move(keys[i]));
    }
  }
  while (old != pin_names_.end()) {
    gone(old->first, old->second);
    old = pin_names_.erase(old);
  }
  if (!first && changed) note(KernelNote::What::Inode, 0, kRootIno, "");
  // The transient vectors above are as large as the account: give their pages back, so that the daemon's
  // resident size is what it keeps, not what a rebuild once needed (DESIGN.md §7 memory target).
  if (rows >= 10000) malloc_trim(0);
}

// A pin this mount just made, already in the index (one upsert: one generation bump). When no other pin can
// share its name, its shown name goes in at once and that bump is credited, so the next rebuild_names() finds
// nothing else changed: a copy of 10,000 files would otherwise rebuild every name once per file. Anything
// doubtful (a name taken, a suffixed name of the same stem, names not built yet) is left to the full rebuild.
void Namespace::pin_added(const service::Pin& pin, const NodePtr& node) {
  if (!names_complete_) return;
  const std::string shown = pin.name.empty() ? pin.cid : escape_name(pin.name);
  if (pin_names_.contains(shown)) return;
  const auto dot = shown.rfind('.');
  const std::string stem = (dot == std::string::npos || dot == 0 ? shown : shown.substr(0, dot)) + "~";
  if (auto it = pin_names_.lower_bound(stem); it != pin_names_.end() && it->first.starts_with(stem)) return;
  pin_names_.emplace(shown, cache::pin_key(pin));
  node->name = shown;
  ++names_credit_;
}

std::vector<std::pair<std::string, std::string>> Namespace::stream_names(
    const std::vector<service::Pin>& page) {
  std::vector<std::pair<std::string, std::string>> out;
  // The page is already in the index (its generation moved): it is what changed. Anything else the index
  // learnt meanwhile (an upload's pin) is named by the rebuild at the end of the listing.
  names_complete_ = false;
  streamed_ = true;
  out.reserve(page.size());
  for (const auto& pin : page) {
    auto key = cache::pin_key(pin);
    const std::string base = pin.name.empty() ? pin.cid : escape_name(pin.name);
    std::string name = base;
    auto taken = [&](const std::string& n) {
      auto it = pin_names_.find(n);
      return it != pin_names_.end() && it->second != key;
    };
    if (taken(name)) {
      stream_collided_ = true;  // the full rebuild suffixes both (shown_names)
      name = cid_suffixed(base, pin.cid);
      if (taken(name)) name += "~" + escape_name(pin.id);
    }
    pin_names_[name] = key;
    out.emplace_back(std::move(name), std::move(key));
  }
  names_generation_ = index_->generation();
  names_credit_ = 0;
  return out;
}

std::optional<std::string> Namespace::pin_key_named(const std::string& shown) {
  rebuild_names();
  auto it = pin_names_.find(shown);
  if (it == pin_names_.end()) return std::nullopt;
  return it->second;
}

}  // namespace pinfs::vfs
