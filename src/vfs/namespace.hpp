// The namespace: the inode table (lookup counts, keys), shown names of the account's pins and their
// collisions, the new entries of this mount at the root, pin-by-CID jobs, and the pin index behind them.
// It owns its state and its lock; network calls and kernel notifications happen outside it.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "node.hpp"
#include "pinfs/cache/pin_index.hpp"
#include "unpin.hpp"

namespace pinfs::vfs {

// Something the kernel must be told because the namespace changed behind its back (a refresh).
struct KernelNote {
  enum class What { Entry, Inode, Delete } what = What::Entry;
  Ino parent = 0;
  Ino ino = 0;
  std::string name;
};

class Namespace {
 public:
  using NodePtr = std::shared_ptr<Vfs::Node>;
  using Lock = std::unique_lock<std::mutex>;

  explicit Namespace(const VfsOptions& options);

  void set_index(std::unique_ptr<cache::PinIndex> index) {
    index_ = std::make_unique<ShownPins>(std::move(index));
  }
  ShownPins& index() const { return *index_; }  // thread-safe on its own

  // Lock order: Vfs::refresh_mu_ → Namespace::mu_ → Uploads::mu_ → LocalFile::io → Handle::mu.
  // Never held across a network call or a kernel notification (a FUSE handler may be waiting for it).
  Lock lock() const { return Lock(mu_); }

  // ---- everything below requires lock() held ----
  NodePtr node(Ino ino) const;
  NodePtr by_key(const std::string& key) const;
  // The node under key, made by make() (and numbered) if there is none.
  NodePtr intern(const std::string& key, const std::function<NodePtr()>& make);
  // A new node with a fresh inode, keyed "<prefix><ino>".
  NodePtr add(const std::string& prefix, NodePtr node);
  NodePtr pin_node(const service::Pin& pin, const std::string& shown);
  void alias(const NodePtr& node, const std::string& key);
  // key no longer names inode ino (a pin's node became a new file again: written after a dup's close).
  void unalias(const std::string& key, Ino ino);
  void drop_if_unused(const NodePtr& node);
  void forget(Ino ino, std::uint64_t count);
  void remember(Ino ino);
  // A node dropped since a listing was opened comes back under its old inode.
  void revive(const NodePtr& node);

  struct stat attr(const Vfs::Node& node) const;
  Entry entry(const NodePtr& node) const;
  // A file pin's byte count: the service's size when exact, else what its root block said.
  bool size_known(const Vfs::Node& node) const;
  std::uint64_t file_size(const Vfs::Node& node) const;
  void set_file_size(const std::string& cid, std::uint64_t size) { file_sizes_[cid] = size; }

  // Shown names of the pins at the root, rebuilt from the index when it changed. A rebuild records what the
  // kernel must be told (names that appeared, went or now mean another pin; pins that changed).
  void rebuild_names();
  std::optional<std::string> pin_key_named(const std::string& shown);
  // A pin made by this mount became `node` (see namespace.cpp).
  void pin_added(const service::Pin& pin, const NodePtr& node);
  // While the first listing streams in (names not yet built from a complete index): shown names for one
  // page's pins, added to the root's names without walking the index (a walk a page made 100,000 pins take
  // minutes). A name an earlier page's pin holds gets the [names.collision] suffix for the newcomer only; the
  // rebuild once the index is complete settles every name.
  std::vector<std::pair<std::string, std::string>> stream_names(const std::vector<service::Pin>& page);
  const std::map<std::string, std::string>& pin_names() {
    rebuild_names();
    return pin_names_;
  }
  std::vector<KernelNote> take_notes();

  std::map<std::string, Ino>& root_locals() { return root_locals_; }

  // rm -rf inside a directory pin (docs/SEMANTICS.md [dirpin.rm]): entries removed there are hidden, keyed by
  // the inode of the pin's top directory, until that directory is removed (the pin is unpinned) or
  // `deadline_ms` (steady clock) passes (they are shown again).
  struct PendingRemoval {
    std::set<Ino> hidden;
    std::int64_t deadline_ms = 0;
  };
  std::map<Ino, PendingRemoval>& removals() { return removals_; }
  // The directory pin a directory-pin entry belongs to.
  NodePtr top_pin(NodePtr n) const {
    while (n && n->kind() == Kind::DirEntry) n = node(n->parent);
    return n && n->kind() == Kind::Pin ? n : nullptr;
  }
  bool hidden(const NodePtr& n) const {
    if (removals_.empty() || n->kind() != Kind::DirEntry) return false;
    auto top = top_pin(n);
    auto it = top ? removals_.find(top->ino) : removals_.end();
    return it != removals_.end() && it->second.hidden.contains(n->ino);
  }
  // What the user must be told about a pin made here, by CID (empty directories the service did not keep):
  // shown in user.pinfs.status and `pinfs status` for the life of the mount.
  std::map<std::string, std::string>& notices() { return notices_; }
  std::vector<service::PinJob>& jobs() { return jobs_; }

 private:
  void note(KernelNote::What what, Ino parent, Ino ino, const std::string& name);

  const VfsOptions& options_;
  std::unique_ptr<ShownPins> index_;
  mutable std::mutex mu_;
  std::unordered_map<Ino, NodePtr> nodes_;
  std::unordered_map<std::string, Ino> by_key_;
  Ino next_ino_ = 2;
  std::map<std::string, std::string> pin_names_;  // shown name → pin key (root)
  std::uint64_t names_generation_ = ~0ull;
  std::uint64_t names_credit_ = 0;  // index bumps since names_generation_ that pin_added() accounted for
  bool names_complete_ = false;     // pin_names_ was built from a complete index
  bool streamed_ = false;           // stream_names() named pages since the last rebuild_names()
  bool stream_collided_ = false;    // …and two pins met on one name (the rebuild names them differently)
  std::map<std::string, Ino> root_locals_;  // shown name → new file / new dir / pending link
  std::vector<service::PinJob> jobs_;       // pin-by-CID jobs started here (and Pinata's job list)
  std::map<Ino, PendingRemoval> removals_;
  std::map<std::string, std::string> notices_;
  std::unordered_map<std::string, std::uint64_t> file_sizes_;  // CID → exact byte count
  std::vector<KernelNote> notes_;  // for the poller to send (never from a request handler)
  bool notes_overflow_ = false;
};

}  // namespace pinfs::vfs
