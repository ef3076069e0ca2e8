// Keeping the index in step with the account: the poller refreshes it every poll_interval on its own thread
// (not on the next operation) and tells the kernel what changed.

#include <unordered_map>

#include "namespace.hpp"
#include "node.hpp"
#include "pinfs/cache/index_sync.hpp"
#include "pinfs/cache/pin_index.hpp"
#include "pinfs/common/log.hpp"
#include "uploads.hpp"

namespace pinfs::vfs {

namespace {

bool same_pin(const service::Pin& a, const service::Pin& b) {
  return a.id == b.id && a.cid == b.cid && a.name == b.name && a.size == b.size &&
         a.pinned_at == b.pinned_at && a.is_dir == b.is_dir && a.keyvalues == b.keyvalues &&
         a.size_is_dag == b.size_is_dag;
}

}  // namespace

// Without the persistent index: the whole account listed, the difference applied in one change set.
Result<void> Vfs::sync_index_listing(bool forced) {
  std::lock_guard refresh(refresh_mu_);
  auto& index = ns_->index();
  auto state = index.sync_state();
  if (!forced && state.complete && options_.poll_interval.count() > 0 && state.synced_at &&
      now_seconds() - *state.synced_at < options_.poll_interval.count())
    return {};  // another caller just did it
  ++counters_.refreshes;
  std::vector<service::Pin> pins;
  service::ListQuery query;
  query.page_size = service_->capabilities().max_page_size;
  for (;;) {
    ++counters_.list_calls;
    auto page = service_->list(query);
    if (!page) {
      if (state.complete) {
        spdlog::warn("refreshing the pin list failed, serving the last listing: {}", page.error().describe());
        return {};
      }
      return std::unexpected(page.error());
    }
    for (auto& pin : page->pins) pins.push_back(std::move(pin));
    if (page->next_cursor.empty() || page->pins.empty()) break;
    query.cursor = page->next_cursor;
  }
  std::unordered_map<std::string, std::size_t> listed;
  listed.reserve(pins.size());
  for (std::size_t i = 0; i < pins.size(); ++i) listed.emplace(cache::pin_key(pins[i]), i);
  std::vector<service::Pin> upserts;
  std::vector<std::string> gone;
  std::vector<bool> known(pins.size(), false);
  index.for_each([&](const service::Pin& pin) {
    auto key = cache::pin_key(pin);
    auto it = listed.find(key);
    if (it == listed.end()) {
      gone.push_back(std::move(key));
      return;
    }
    known[it->second] = true;
    if (!same_pin(pin, pins[it->second])) upserts.push_back(pins[it->second]);
  });
  for (std::size_t i = 0; i < pins.size(); ++i)
    if (!known[i]) upserts.push_back(std::move(pins[i]));
  if (!upserts.empty() || !gone.empty()) index.apply(upserts, gone);
  auto now = now_seconds();
  index.set_sync_state({now, now, true});
  spdlog::debug("pin list refreshed: {} pins, {} new or changed, {} gone", listed.size(), upserts.size(),
                gone.size());
  next_refresh_ = now + options_.poll_interval.count();
  {
    auto lock = ns_->lock();
    ns_->rebuild_names();
    reconcile_links();
  }
  uploads_->adopt_job_pins();
  return {};
}

// The poller (full = false) asks IndexSync for an incremental refresh (an unchanged account costs at most
// 2 list calls; a full reconcile when due); refresh() and the first listing list the account whole. Each
// page goes into the index as it arrives; a later state is applied to the names in one step, so a listing
// opened meanwhile sees one state or the other. The first listing (index not complete) fails the caller;
// later failures keep the index as it is.
Result<void> Vfs::sync_index(bool forced, bool full) {
  if (!options_.persistent_index) return sync_index_listing(forced);
  std::lock_guard refresh(refresh_mu_);
  auto& index = ns_->index();
  auto state = index.sync_state();
  const auto now = options_.clock ? options_.clock() : now_seconds();
  if (!forced && state.complete && options_.poll_interval.count() > 0 && state.synced_at &&
      now - *state.synced_at < options_.poll_interval.count())
    return {};  // another caller just did it
  ++counters_.refreshes;
  Result<cache::IndexChanges> changes = cache::IndexChanges{};
  if (full || !state.complete) {
    auto listing = sync_->start_full();
    while (!listing->done())
      if (auto page = listing->next(); !page) {
        changes = std::unexpected(page.error());
        break;
      }
    if (changes) changes = listing->finish();
  } else {
    changes = sync_->refresh();
  }
  count_list_calls();
  if (!changes) {
    if (state.complete) {
      spdlog::warn("refreshing the pin list failed, serving the last listing: {}",
                   changes.error().describe());
      return {};
    }
    return std::unexpected(changes.error());
  }
  spdlog::debug("pin list refreshed ({}): {} pins, {} new or changed, {} gone",
                changes->full ? "full" : "incremental", index.size(), changes->upserted.size(),
                changes->removed.size());
  next_refresh_ = now_seconds() + options_.poll_interval.count();
  apply_changes(*changes);
  return {};
}

// The names follow the index (Namespace::rebuild_names compares them and queues the kernel's notes).
void Vfs::apply_changes(const cache::IndexChanges& changes) {
  {
    auto lock = ns_->lock();
    ns_->rebuild_names();
    reconcile_links();
  }
  if (changes.full || !changes.empty()) uploads_->adopt_job_pins();
}

void Vfs::count_list_calls() {
  auto calls = sync_->list_calls();
  counters_.list_calls += calls - sync_calls_seen_;
  sync_calls_seen_ = calls;
}

// Notifications go out with no VFS lock held, from the poller's thread (or a test's), never from a request
// handler: the kernel may hold the directory lock a handler works under, and notify would wait for it.
void Vfs::send_notes() {
  std::vector<KernelNote> notes;
  {
    auto lock = ns_->lock();
    notes = ns_->take_notes();
  }
  std::lock_guard sending(notify_mu_);  // set_notifier(nullptr) waits until these are out
  auto notifier = notifier_;
  if (!notifier) return;
  for (const auto& note : notes) {
    ++counters_.notes_sent;
    switch (note.what) {
      case KernelNote::What::Entry:
        notifier->inval_entry(note.parent, note.name);
        break;
      case KernelNote::What::Inode:
        notifier->inval_inode(note.ino);
        break;
      case KernelNote::What::Delete:
        notifier->deleted(note.parent, note.ino, note.name);
        break;
    }
  }
}

void Vfs::set_notifier(std::shared_ptr<KernelNotifier> notifier) {
  std::lock_guard lock(notify_mu_);
  notifier_ = std::move(notifier);
}

void Vfs::poller_loop() {
  std::unique_lock lock(poll_mu_);
  while (!poll_stop_) {
    const std::int64_t due = next_refresh_;
    auto wait = std::chrono::seconds(std::max<std::int64_t>(0, due - now_seconds()));
    // Woken early by a stop, or by a refresh brought forward (releasedir after a stale remount, a
    // pin-by-CID job): then the wait starts again from the new time.
    poll_cv_.wait_for(lock, wait,
                      [&] { return poll_stop_ || now_seconds() >= next_refresh_ || next_refresh_ != due; });
    if (poll_stop_) break;
    if (now_seconds() < next_refresh_) continue;
    job_refresh_asked_ = false;  // a job started from here on is seen below, even if not yet listed as one
    lock.unlock();
    // Until the first listing is complete the next root operation does it (streamed); the poller waits.
    if (ns_->index().synced_at()) {
      if (auto ok = sync_index(true, false); !ok) spdlog::warn("refresh: {}", ok.error().describe());
      send_notes();
    }
    // A deduplicated file waits for its pin-by-CID job's pin: the next refresh (at most two list calls,
    // however many jobs wait) comes after 1, 2, 4 … s, up to poll_interval. Decided under poll_mu_, so a
    // refresh_within() now either is seen here or sees the time set here.
    const bool jobs = uploads_->jobs_pending();  // before poll_mu_, a leaf
    lock.lock();
    std::int64_t next = options_.poll_interval.count();
    if (jobs || job_refresh_asked_) {
      next = std::min(next, job_backoff_s_);
      job_backoff_s_ = std::min<std::int64_t>(next * 2, options_.poll_interval.count());
    } else {
      job_backoff_s_ = 1;
    }
    next_refresh_ = now_seconds() + next;
  }
}

void Vfs::refresh_within(std::int64_t seconds) {
  if (options_.poll_interval.count() <= 0) return;  // no poller: the next listing finds the pin
  {
    std::lock_guard lock(poll_mu_);
    job_refresh_asked_ = true;
    job_backoff_s_ = 1;
    const std::int64_t at = now_seconds() + seconds;
    if (at >= next_refresh_) return;
    next_refresh_ = at;
  }
  poll_cv_.notify_all();
}

}  // namespace pinfs::vfs
