// Construction, start/shutdown, the poller, attributes: Vfs routes each call to its components.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "namespace.hpp"
#include "node.hpp"
#include "pin_changes.hpp"
#include "pinfs/cache/cache_dir_lock.hpp"
#include "pinfs/cache/content_cache.hpp"
#include "pinfs/cache/index_sync.hpp"
#include "pinfs/cache/journal.hpp"
#include "pinfs/cache/pin_index.hpp"
#include "pinfs/common/log.hpp"
#include "pinfs/service/verified_reader.hpp"
#include "pinfs/vfs/names.hpp"
#include "pinfs/vfs/vfs.hpp"
#include "uploads.hpp"

namespace pinfs::vfs {

Vfs::Vfs(std::shared_ptr<service::PinService> service, std::shared_ptr<service::Gateway> gateway,
         VfsOptions options)
    : service_(std::move(service)), gateway_(std::move(gateway)), options_(std::move(options)) {
  pin_changes_ = std::make_unique<PinChanges>();
  ns_ = std::make_unique<Namespace>(options_);
  Uploads::Hooks hooks;
  hooks.pinned = [this](const auto& file, const auto& pin, bool verified) { on_pinned(file, pin, verified); };
  hooks.changed = [this](const auto& before, const auto& after) { on_changed(before, after); };
  hooks.job_started = [this](const service::PinJob& job) {
    {
      auto lock = ns_->lock();
      ns_->jobs().push_back(job);
    }
    // The service usually pins content it has within a second or two: the index is refreshed soon (and
    // then less and less often) rather than at the next poll_interval, so the file shows as pinned.
    refresh_within(1);
  };
  hooks.background = [this] { upload_quiet_dirs(); };
  uploads_ = std::make_unique<Uploads>(service_, options_, counters_, *pin_changes_, std::move(hooks));
}

Vfs::~Vfs() {
  {
    std::lock_guard lock(poll_mu_);
    poll_stop_ = true;
  }
  poll_cv_.notify_all();
  if (poller_.joinable()) poller_.join();
  uploads_->stop_worker();
  std::unique_lock lock(prefetch_mu_);
  prefetch_cv_.wait(lock, [&] { return prefetches_ == 0; });
}

// The new files and directories an earlier mount left in the journal, back in the namespace: root files at
// the root, a new directory's files and subdirectories where they were (a row whose directory row is gone
// comes back at the root). The directories are uploaded after the quiet delay, as before the stop.
// (Namespace::mu_ held.)
static void rebuild_journaled(Namespace& ns, const Uploads::Resumed& resumed) {
  using NodePtr = std::shared_ptr<Vfs::Node>;
  std::map<std::int64_t, NodePtr> dirs;  // journal row → its node
  for (const auto& row : resumed.directories) {
    auto local_dir = std::make_shared<Vfs::LocalDir>();
    local_dir->journal_id = row.id;
    local_dir->resumed = true;
    local_dir->last_change_ms = now_ms();
    auto node = std::make_shared<Vfs::Node>();
    node->data = LocalDirData{std::move(local_dir), now_seconds()};
    node->name = escape_name(row.name);
    ns.add("localdir:", node);
    dirs[row.id] = node;
  }
  // Into its parent's names (the root's when that row is gone), under a free name.
  auto place = [&](const NodePtr& node, std::int64_t parent_row) {
    auto parent = parent_row ? dirs.find(parent_row) : dirs.end();
    auto& names = parent == dirs.end() ? ns.root_locals() : parent->second->dir()->children;
    node->parent = parent == dirs.end() ? kRootIno : parent->second->ino;
    if (names.contains(node->name)) node->name = "recovered-" + std::to_string(node->ino) + "-" + node->name;
    names[node->name] = node->ino;
  };
  for (const auto& row : resumed.directories) place(dirs[row.id], row.parent == row.id ? 0 : row.parent);
  std::size_t in_dirs = 0;
  for (const auto& file : resumed.files) {
    auto node = std::make_shared<Vfs::Node>();
    node->data = LocalData{file};
    node->name = escape_name(file->name);
    ns.add("local:", node);
    file->ino = node->ino;
    if (auto mtime = mtime_of(file->keyvalues)) {
      std::tie(file->mtime, file->mtime_nsec) = *mtime;
      file->mtime_set = true;
    }
    place(node, file->journal_parent);
    file->parent = node->parent;
    in_dirs += node->parent != kRootIno;
  }
  if (!resumed.directories.empty())
    spdlog::info("{} new directories ({} files in them) rebuilt from the journal; uploaded once quiet",
                 resumed.directories.size(), in_dirs);
}

Result<void> Vfs::start() {
  namespace fs = std::filesystem;
  if (options_.cache_dir.empty()) return fail(EINVAL, "no cache directory given");
  // First: one mount per cache dir, for the mount's life (EBUSY at once, naming the dir and the holder).
  auto dir_lock = cache::CacheDirLock::acquire(options_.cache_dir);
  if (!dir_lock) return std::unexpected(dir_lock.error());
  dir_lock_ = std::move(*dir_lock);
  std::error_code ec;
  fs::create_directories(options_.cache_dir + "/staging", ec);
  if (ec) return fail(EIO, "cannot create " + options_.cache_dir + "/staging: " + ec.message());
  auto content = cache::ContentCache::open(options_.cache_dir + "/content", options_.cache_max_bytes);
  if (!content) return std::unexpected(content.error());
  content_ = std::move(*content);
  // The pin index persists in the cache dir: a remount answers from it before any list call.
  if (options_.persistent_index) {
    auto index = cache::open_sqlite_pin_index(options_.cache_dir + "/index.sqlite");
    if (!index) return std::unexpected(index.error());
    ns_->set_index(std::move(*index));
  } else {
    ns_->set_index(cache::make_memory_pin_index());
  }
  cache::IndexSyncOptions sync_options;
  sync_options.page_size = service_->capabilities().max_page_size;
  sync_options.reconcile_interval = options_.reconcile_interval;
  sync_options.clock = options_.clock;
  sync_ = std::make_unique<cache::IndexSync>(service_, ns_->index(), std::move(sync_options));

  auto resumed = uploads_->open(ns_->index(), content_.get());
  if (!resumed) return std::unexpected(resumed.error());
  {
    auto lock = ns_->lock();
    rebuild_journaled(*ns_, *resumed);
    started_ = true;
  }
  uploads_->start_worker();
  next_refresh_ = now_seconds() + options_.poll_interval.count();
  // A kept index older than a poll interval answers the first listing at once, and is refreshed in the
  // background as soon as that listing is done (releasedir of the root), not a whole interval later.
  const auto sync_now = options_.clock ? options_.clock() : now_seconds();  // the clock synced_at is on
  if (auto state = ns_->index().sync_state(); options_.poll_interval.count() > 0 && state.complete &&
                                              state.synced_at &&
                                              sync_now - *state.synced_at >= options_.poll_interval.count())
    refresh_after_first_listing_ = true;
  if (options_.poll_interval.count() > 0) poller_ = std::thread([this] { poller_loop(); });
  return {};
}

Result<void> Vfs::shutdown(bool wait_for_uploads) {
  {
    std::lock_guard lock(poll_mu_);
    poll_stop_ = true;
  }
  poll_cv_.notify_all();
  if (poller_.joinable()) poller_.join();
  uploads_->stop_worker();
  std::vector<NodePtr> dirs;
  {
    auto lock = ns_->lock();
    for (const auto& [name, ino] : ns_->root_locals())
      if (auto node = ns_->node(ino); node && node->kind() == Kind::LocalDir) dirs.push_back(node);
  }
  auto failed = uploads_->finish_pending(wait_for_uploads);
  if (!wait_for_uploads) {
    if (!dirs.empty())
      spdlog::warn("{} new directories were not uploaded; their files stay in {}/staging", dirs.size(),
                   options_.cache_dir);
    return {};
  }
  for (auto& dir : dirs)
    if (auto ok = upload_dir_now(dir); !ok) failed.push_back(dir->name + "/");
  if (!failed.empty()) {
    std::string names;
    for (const auto& name : failed) names += (names.empty() ? "" : ", ") + name;
    return fail(EIO, "not uploaded (kept staged and journaled): " + names);
  }
  return {};
}

void Vfs::run_background_once() {
  uploads_->run_once();
}

void Vfs::forget(Ino ino, std::uint64_t count) {
  auto lock = ns_->lock();
  ns_->forget(ino, count);
}

void Vfs::remember(Ino ino) {
  auto lock = ns_->lock();
  ns_->remember(ino);
}

void Vfs::resolve_size(const NodePtr& node) {
  std::string cid;
  {
    auto lock = ns_->lock();
    if (ns_->size_known(*node)) return;
    cid = node->content_cid();
  }
  ++counters_.block_fetches;
  auto block = verified().block(cid);  // checked against its CID (retried once, then EIO)
  Result<UnixfsFacts> facts = block ? unixfs_facts(cid, *block) : std::unexpected(block.error());
  if (!facts) {
    // The service's size stays shown (an upper bound); the next getattr asks again.
    spdlog::debug("size of {}: {}", cid, facts.error().describe());
    return;
  }
  auto lock = ns_->lock();
  ns_->set_file_size(cid, facts->size);
}

Result<struct stat> Vfs::getattr(Ino ino) {
  NodePtr node;
  {
    auto lock = ns_->lock();
    ns_->rebuild_names();  // a pin's node follows the index
    node = ns_->node(ino);
    if (!node) return fail(ENOENT, "no inode " + std::to_string(ino));
  }
  resolve_size(node);
  auto lock = ns_->lock();
  return ns_->attr(*node);
}

struct statvfs Vfs::statfs() {
  struct statvfs st {};
  st.f_bsize = st.f_frsize = 4096;
  st.f_blocks = st.f_bfree = st.f_bavail = 1ull << 40;  // the service's quota is not exposed as blocks
  st.f_files = st.f_ffree = st.f_favail = 1ull << 32;
  st.f_namemax = 255;
  return st;
}

std::shared_ptr<Vfs::Handle> Vfs::handle_of(std::uint64_t fh) {
  std::lock_guard lock(handles_mu_);
  auto it = handles_.find(fh);
  return it == handles_.end() ? nullptr : it->second;
}

std::uint64_t Vfs::add_handle(std::shared_ptr<Handle> handle) {
  std::lock_guard lock(handles_mu_);
  auto fh = next_fh_++;
  handles_[fh] = std::move(handle);
  return fh;
}

// A file became a pin: the same inode is now the pin's.
void Vfs::on_pinned(const std::shared_ptr<LocalFile>& file, const service::Pin& pin, bool verified) {
  std::optional<std::string> late_mtime;  // set after the upload took its keyvalues, or an adopted pin's
  {
    auto lock = ns_->lock();
    // Removed while its upload ran: the pin is unpinned at once (Uploads::upload_now), and until then no
    // listing or lookup may show it — vim's O_EXCL create of the swap file it just removed must succeed.
    if (auto up = uploads_->lock(); file->deleted) return;
    // A job's pin the listing already named (under the temp name it was renamed from) is not new: its
    // old name must go, which only the full rebuild of the names does.
    auto known = ns_->index().find(cache::pin_key(pin));
    const bool is_new = !known || known->name == pin.name;
    ns_->index().upsert(pin);  // with the names below in one step: no full rebuild of them per new file
    ns_->set_file_size(pin.cid, file->size);  // the bytes written here, whatever size the service reports
    auto node = ns_->node(file->ino);
    if (!node || node->kind() != Kind::Local || node->local() != file) return;
    {
      auto up = uploads_->lock();
      if (file->state != UploadState::Pinned) return;  // written again meanwhile (reopen_committed)
      auto want = file->keyvalues.find(kMtimeKey);
      auto have = pin.keyvalues.find(kMtimeKey);
      if (want != file->keyvalues.end() && (have == pin.keyvalues.end() || have->second != want->second))
        late_mtime = want->second;
    }
    auto& locals = ns_->root_locals();
    if (auto it = locals.find(node->name); it != locals.end() && it->second == node->ino) locals.erase(it);
    auto data = pin_data_of(pin);
    data.verified = verified && !file->cid.empty();
    node->data = std::move(data);
    ns_->alias(node, "pin:" + cache::pin_key(pin));
    if (is_new) ns_->pin_added(pin, node);
  }
  if (late_mtime) (void)store_pin_mtime(file->ino, *late_mtime);
}

std::optional<service::Pin> Vfs::pin_behind_locked(const NodePtr& node) {
  if (node->kind() == Kind::Pin) return ns_->index().find(node->pin_key());
  if (node->kind() != Kind::Local) return std::nullopt;
  auto file = node->local();
  auto up = uploads_->lock();
  if (file->state != UploadState::Pinned) return std::nullopt;
  for (const auto& row : ns_->index().by_cid(file->cid))
    if (row.name == file->name) return row;
  return std::nullopt;
}

Result<void> Vfs::change_pin(Ino ino, const std::function<Result<void>(service::Pin)>& change,
                             Result<void> unpinned) {
  auto behind = [&]() -> std::optional<service::Pin> {
    auto lock = ns_->lock();
    auto node = ns_->node(ino);
    return node ? pin_behind_locked(node) : std::nullopt;
  };
  auto first = behind();
  if (!first) return unpinned;
  auto guard = pin_changes_->lock(first->cid);
  auto pin = behind();  // as the change that held the guard before left it
  if (!pin || pin->cid != first->cid) return unpinned;
  return change(std::move(*pin));
}

void Vfs::on_changed(const service::Pin& before, const std::optional<service::Pin>& after) {
  auto& index = ns_->index();
  if (!after) {
    index.erase(cache::pin_key(before));
    return;
  }
  index.apply({*after}, cache::pin_key(before) == cache::pin_key(*after)
                            ? std::vector<std::string>{}
                            : std::vector<std::string>{cache::pin_key(before)});
  auto lock = ns_->lock();
  if (auto node = ns_->by_key("pin:" + cache::pin_key(before)); node && node->pin())
    ns_->alias(node, "pin:" + cache::pin_key(*after));
}

}  // namespace pinfs::vfs
