// Construction, start/shutdown, the inode table and attributes.
#include <fcntl.h>
#include <unistd.h>

#include <cassert>
#include <filesystem>

#include "node.hpp"
#include "pinfs/cache/content_cache.hpp"
#include "pinfs/cache/journal.hpp"
#include "pinfs/cache/pin_index.hpp"
#include "pinfs/common/log.hpp"
#include "pinfs/vfs/names.hpp"
#include "pinfs/vfs/vfs.hpp"

namespace pinfs::vfs {

Vfs::Vfs(std::shared_ptr<service::PinService> service, std::shared_ptr<service::Gateway> gateway,
         VfsOptions options)
    : service_(std::move(service)),
      gateway_(std::move(gateway)),
      options_(std::move(options)),
      index_(cache::make_memory_pin_index()) {
  auto root = std::make_shared<Node>();
  root->kind = Kind::Root;
  root->ino = kRootIno;
  root->key = "root";
  root->lookups = 1;  // the kernel's implicit reference, never forgotten
  nodes_[kRootIno] = root;
  by_key_["root"] = kRootIno;
}

Vfs::~Vfs() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::unique_lock lock(prefetch_mu_);
  prefetch_cv_.wait(lock, [&] { return prefetches_ == 0; });
}

Result<void> Vfs::start() {
  namespace fs = std::filesystem;
  if (options_.cache_dir.empty()) return fail(EINVAL, "no cache directory given");
  std::error_code ec;
  fs::create_directories(options_.cache_dir + "/staging", ec);
  if (ec) return fail(EIO, "cannot create " + options_.cache_dir + "/staging: " + ec.message());
  auto content = cache::ContentCache::open(options_.cache_dir + "/content", options_.cache_max_bytes);
  if (!content) return std::unexpected(content.error());
  content_ = std::move(*content);
  auto journal = cache::open_sqlite_journal(options_.cache_dir + "/journal.sqlite");
  if (!journal) return std::unexpected(journal.error());
  journal_ = std::move(*journal);

  auto entries = journal_->entries();
  if (!entries) return std::unexpected(entries.error());
  {
    std::lock_guard lock(mu_);
    for (const auto& entry : *entries) {
      int fd = ::open(entry.staging_path.c_str(), O_RDWR | O_CLOEXEC);
      if (fd < 0) {
        spdlog::error("journal names {} for {} but the staged file is gone; dropping the entry",
                      entry.staging_path, entry.name);
        (void)journal_->remove(entry.id);
        continue;
      }
      auto file = std::make_shared<LocalFile>();
      file->fd = fd;
      file->name = entry.name;
      file->staging = entry.staging_path;
      file->cid = entry.cid;
      file->size = entry.size;
      file->keyvalues = entry.keyvalues;
      file->journal_id = entry.id;
      file->state = UploadState::Queued;
      file->resumed = true;
      file->mtime = now_seconds();
      if (!entry.replaces_id.empty() || !entry.replaces_cid.empty())
        file->replaces = service::PinRef{entry.replaces_id, entry.replaces_cid};
      auto node = std::make_shared<Node>();
      node->kind = Kind::Local;
      node->ino = next_ino_++;
      node->key = "local:" + std::to_string(node->ino);
      node->name = escape_name(entry.name);
      node->local = file;
      file->ino = node->ino;
      nodes_[node->ino] = node;
      by_key_[node->key] = node->ino;
      locals_by_key_[node->key] = file;
      root_locals_[node->name] = node->ino;
      queue_.push_back(file);
      spdlog::info("resuming upload of {} ({} bytes) from the journal", entry.name, entry.size);
    }
    started_ = true;
  }
  worker_ = std::thread([this] { worker_loop(); });
  return {};
}

Vfs::NodePtr Vfs::node_locked(Ino ino) const {
  auto it = nodes_.find(ino);
  return it == nodes_.end() ? nullptr : it->second;
}

Vfs::NodePtr Vfs::intern_locked(const std::string& key, const std::function<NodePtr()>& make) {
  if (auto it = by_key_.find(key); it != by_key_.end()) {
    if (auto node = node_locked(it->second)) return node;
  }
  NodePtr node = make();
  node->ino = next_ino_++;
  node->key = key;
  nodes_[node->ino] = node;
  by_key_[key] = node->ino;
  return node;
}

Vfs::NodePtr Vfs::pin_node_locked(const service::Pin& pin) {
  auto node = intern_locked("pin:" + cache::pin_key(pin), [&] {
    auto n = std::make_shared<Node>();
    n->kind = Kind::Pin;
    return n;
  });
  node->pin = pin;
  node->cid = pin.cid;
  node->parent = kRootIno;
  return node;
}

void Vfs::alias_locked(const NodePtr& node, const std::string& key) {
  by_key_[key] = node->ino;
  node->key = key;
}

void Vfs::drop_if_unused_locked(const NodePtr& node) {
  if (node->lookups > 0) return;
  if (node->kind != Kind::Pin && node->kind != Kind::DirEntry && node->kind != Kind::ControlFile) return;
  if (node.use_count() > 2) return;          // an open handle or directory listing still holds it
  if (node->kind == Kind::DirEntry) return;  // its parent's listing refers to it by inode
  auto it = by_key_.find(node->key);
  if (it != by_key_.end() && it->second == node->ino) by_key_.erase(it);
  nodes_.erase(node->ino);
}

void Vfs::forget(Ino ino, std::uint64_t count) {
  std::lock_guard lock(mu_);
  auto node = node_locked(ino);
  if (!node || ino == kRootIno) return;
  if (count > node->lookups) {
    spdlog::error("forget({}, {}) exceeds lookup count {}", ino, count, node->lookups);
    assert(false && "negative lookup count");
    node->lookups = 0;
  } else {
    node->lookups -= count;
  }
  drop_if_unused_locked(node);
}

void Vfs::remember(Ino ino) {
  std::lock_guard lock(mu_);
  if (auto node = node_locked(ino)) ++node->lookups;
}

struct stat Vfs::attr_locked(const Node& node) const {
  struct stat st {};
  st.st_ino = node.ino;
  st.st_uid = options_.uid;
  st.st_gid = options_.gid;
  st.st_nlink = 1;
  st.st_blksize = 4096;
  std::int64_t time = 0;
  switch (node.kind) {
    case Kind::Root:
      st.st_mode = S_IFDIR | 0755;
      st.st_nlink = 2;
      break;
    case Kind::Pin:
      st.st_mode = node.pin.is_dir ? (S_IFDIR | 0555) : (S_IFREG | 0444);
      st.st_size = static_cast<off_t>(file_size_locked(node));
      time = node.pin.pinned_at;
      break;
    case Kind::DirEntry:
      st.st_mode = node.is_dir ? (S_IFDIR | 0555) : (S_IFREG | 0444);
      st.st_size = static_cast<off_t>(node.size);
      time = node.mtime;
      break;
    case Kind::Local: {
      bool editable = node.local->state == UploadState::Local || node.local->state == UploadState::Failed;
      st.st_mode = S_IFREG | (editable ? 0644 : 0444);
      st.st_size = static_cast<off_t>(node.local->size.load());
      time = node.local->mtime.load();
      break;
    }
    case Kind::LocalDir:
      st.st_mode = S_IFDIR | 0755;
      st.st_nlink = 2;
      time = node.mtime;
      break;
    case Kind::Link:
      st.st_mode = S_IFLNK | 0777;
      st.st_size = static_cast<off_t>(node.target.size());
      time = node.mtime;
      break;
    case Kind::Control:
      st.st_mode = S_IFDIR | 0555;
      st.st_nlink = 2;
      break;
    case Kind::ControlFile:
      st.st_mode = S_IFREG | 0444;
      st.st_size = static_cast<off_t>(node.size);
      time = node.mtime;
      break;
  }
  st.st_blocks = (st.st_size + 511) / 512;
  st.st_atim.tv_sec = st.st_mtim.tv_sec = st.st_ctim.tv_sec = time;
  return st;
}

bool Vfs::size_known_locked(const Node& node) const {
  return node.kind != Kind::Pin || node.pin.is_dir || !node.pin.size_is_dag ||
         file_sizes_.contains(node.pin.cid);
}

std::uint64_t Vfs::file_size_locked(const Node& node) const {
  if (node.kind != Kind::Pin) return node.size;
  if (auto it = file_sizes_.find(node.pin.cid); it != file_sizes_.end()) return it->second;
  return node.pin.size;
}

void Vfs::resolve_size(const NodePtr& node) {
  std::string cid;
  {
    std::lock_guard lock(mu_);
    if (size_known_locked(*node)) return;
    cid = node->pin.cid;
  }
  ++counters_.block_fetches;
  auto block = gateway_->block(cid);
  Result<UnixfsFacts> facts = block ? unixfs_facts(cid, *block) : std::unexpected(block.error());
  if (!facts) {
    // The service's size stays shown (an upper bound); the next getattr asks again.
    spdlog::debug("size of {}: {}", cid, facts.error().describe());
    return;
  }
  std::lock_guard lock(mu_);
  file_sizes_[cid] = facts->size;
}

Entry Vfs::entry_locked(const NodePtr& node) {
  Entry entry;
  entry.ino = node->ino;
  entry.attr = attr_locked(*node);
  if (!size_known_locked(*node)) entry.timeout = 0;  // the kernel asks getattr, which learns the exact size
  return entry;
}

Result<struct stat> Vfs::getattr(Ino ino) {
  NodePtr node;
  {
    std::lock_guard lock(mu_);
    node = node_locked(ino);
    if (!node) return fail(ENOENT, "no inode " + std::to_string(ino));
    if (node->kind == Kind::Pin)
      if (auto fresh = index_->find(cache::pin_key(node->pin))) node->pin = *fresh;
  }
  resolve_size(node);
  std::lock_guard lock(mu_);
  return attr_locked(*node);
}

struct statvfs Vfs::statfs() {
  struct statvfs st {};
  st.f_bsize = st.f_frsize = 4096;
  st.f_blocks = st.f_bfree = st.f_bavail = 1ull << 40;  // the service's quota is not exposed as blocks
  st.f_files = st.f_ffree = st.f_favail = 1ull << 32;
  st.f_namemax = 255;
  return st;
}

}  // namespace pinfs::vfs
