#include "pinfs/cache/index_sync.hpp"

#include <algorithm>
#include <ctime>

#include "pinfs/common/log.hpp"

namespace pinfs::cache {

namespace {

// What the VFS shows of a pin changed (the id may change too: an AIOZ rename is a new pin).
bool same_pin(const service::Pin& a, const service::Pin& b) {
  return a.id == b.id && a.cid == b.cid && a.name == b.name && a.size == b.size &&
         a.pinned_at == b.pinned_at && a.is_dir == b.is_dir && a.keyvalues == b.keyvalues &&
         a.size_is_dag == b.size_is_dag;
}

// The listing remembers which keys it saw as 64-bit hashes: 8 bytes a pin, not a string, at 1,000,000 pins.
// A collision can only keep a removed pin until the next reconcile.
std::uint64_t key_hash(const std::string& key) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Splits a page into the pins the index does not hold as they are; a pin now known by its id replaces the
// "cid:" row a Pinata upload reply left.
struct PageDelta {
  std::vector<service::Pin> changed;
  std::vector<service::Pin> superseded;  // "cid:<cid>" rows replaced by a pin with an id, as held
  std::vector<std::string> superseded_keys;
};

PageDelta delta_of(const PinIndex& index, const std::vector<service::Pin>& pins) {
  PageDelta d;
  for (const auto& pin : pins) {
    auto held = index.find(pin_key(pin));
    if (held && same_pin(*held, pin)) continue;
    d.changed.push_back(pin);
    if (pin.id.empty()) continue;
    if (auto row = index.find(pin_key("", pin.cid))) {
      d.superseded.push_back(std::move(*row));
      d.superseded_keys.push_back(pin_key("", pin.cid));
    }
  }
  return d;
}

class FullListingImpl final : public FullListing {
 public:
  FullListingImpl(std::shared_ptr<service::PinService> service, PinIndex& index, IndexSyncOptions options,
                  std::shared_ptr<std::atomic<std::uint64_t>> calls, std::int64_t started_at)
      : service_(std::move(service)),
        index_(index),
        options_(std::move(options)),
        calls_(std::move(calls)),
        started_at_(started_at),
        initial_(!index.sync_state().complete) {}

  Result<std::vector<service::Pin>> next() override {
    if (done_) return std::vector<service::Pin>{};
    service::ListQuery q;
    q.page_size = options_.page_size;
    q.cursor = cursor_;
    q.order = service::ListOrder::newest_first;
    ++*calls_;
    auto page = service_->list(q);
    if (!page) return std::unexpected(page.error());
    if (page->total) {
      if (total_ && *total_ != *page->total) total_changed_ = true;
      total_ = page->total;
    }
    PageDelta delta = delta_of(index_, page->pins);
    index_.apply(delta.changed, delta.superseded_keys);
    for (const auto& pin : page->pins) seen_.push_back(key_hash(pin_key(pin)));
    changes_.removed.insert(changes_.removed.end(), delta.superseded.begin(), delta.superseded.end());
    if (!initial_)
      changes_.upserted.insert(changes_.upserted.end(), delta.changed.begin(), delta.changed.end());
    cursor_ = page->next_cursor;
    done_ = cursor_.empty();
    return std::move(page->pins);
  }

  bool done() const override { return done_; }

  // True unless the service answers that no pin of that id has the pin's CID (an error keeps it).
  bool still_pinned(const service::Pin& pin) {
    service::ListQuery q;
    q.cid = pin.cid;
    q.page_size = 10;
    ++*calls_;
    auto page = service_->list(q);
    if (!page) return true;
    // A "cid:" row (an upload reply without an id) is any pin of that CID.
    return std::any_of(page->pins.begin(), page->pins.end(),
                       [&](const service::Pin& p) { return pin.id.empty() || p.id == pin.id; });
  }

  Result<IndexChanges> finish() override {
    if (!done_) return fail(EINVAL, "pin listing finished before its last page");
    if (finished_) return fail(EINVAL, "pin listing finished twice");
    finished_ = true;
    std::sort(seen_.begin(), seen_.end());
    seen_.erase(std::unique(seen_.begin(), seen_.end()), seen_.end());
    changes_.full = true;
    changes_.initial = initial_;
    SyncState state = index_.sync_state();
    const bool skipped = total_changed_ || (total_ && seen_.size() < *total_);
    if (skipped) {
      spdlog::warn(
          "pin listing saw {} pins, the service counts {}{}: pages may have shifted under a change, "
          "so no pin is removed and the next refresh lists again",
          seen_.size(), total_.value_or(0), total_changed_ ? " (the count changed meanwhile)" : "");
      state.reconciled_at.reset();  // due at once
    } else {
      const std::int64_t keep_after = started_at_ - options_.margin.count();
      std::vector<std::string> gone;
      std::vector<service::Pin> young;
      index_.for_each([&](const service::Pin& pin) {
        if (std::binary_search(seen_.begin(), seen_.end(), key_hash(pin_key(pin)))) return;
        if (pin.pinned_at >= keep_after) {
          young.push_back(pin);
          return;
        }
        gone.push_back(pin_key(pin));
        changes_.removed.push_back(pin);
      });
      // An unseen pin dated within the margin may have landed after its page was read, or may not be listed
      // yet (a service's listing can lag its upload reply): it is asked about by CID, not dropped unasked
      // (a pin made and removed elsewhere between two polls would otherwise stay until the next reconcile).
      if (young.size() > options_.max_young_checks) young.clear();  // a burst of uploads: keep them all
      for (const auto& pin : young) {
        if (still_pinned(pin)) continue;
        gone.push_back(pin_key(pin));
        changes_.removed.push_back(pin);
      }
      if (!gone.empty()) index_.apply({}, gone);
      state.reconciled_at = started_at_;
    }
    state.synced_at = started_at_;
    state.complete = true;
    index_.set_sync_state(state);
    seen_ = {};
    return std::move(changes_);
  }

 private:
  std::shared_ptr<service::PinService> service_;
  PinIndex& index_;
  IndexSyncOptions options_;
  std::shared_ptr<std::atomic<std::uint64_t>> calls_;
  const std::int64_t started_at_;
  const bool initial_;
  std::string cursor_;
  bool done_ = false;
  bool finished_ = false;
  std::optional<std::uint64_t> total_;
  bool total_changed_ = false;
  std::vector<std::uint64_t> seen_;
  IndexChanges changes_;
};

}  // namespace

IndexSync::IndexSync(std::shared_ptr<service::PinService> service, PinIndex& index, IndexSyncOptions options)
    : service_(std::move(service)),
      index_(index),
      options_(std::move(options)),
      list_calls_(std::make_shared<std::atomic<std::uint64_t>>(0)) {}

std::int64_t IndexSync::now() const {
  return options_.clock ? options_.clock() : static_cast<std::int64_t>(std::time(nullptr));
}

std::unique_ptr<FullListing> IndexSync::start_full() {
  return std::make_unique<FullListingImpl>(service_, index_, options_, list_calls_, now());
}

std::int64_t IndexSync::next_reconcile_at() const {
  const SyncState state = index_.sync_state();
  if (!state.complete || !state.reconciled_at) return now();
  if (options_.reconcile_interval.count() <= 0) return INT64_MAX;
  return *state.reconciled_at + options_.reconcile_interval.count();
}

Result<IndexChanges> IndexSync::refresh() {
  const std::int64_t t = now();
  if (t >= next_reconcile_at()) {
    auto listing = start_full();
    while (!listing->done()) {
      auto page = listing->next();
      if (!page) return std::unexpected(page.error());
    }
    return listing->finish();
  }
  return incremental(t);
}

// New pins: newest first since the last sync (less the margin), until the pages end or one brings only
// pins already held. Removals: Pinata lists unpinned rows by unpin date; AIOZ cannot, so the service's
// count of live pins (on the first page) is compared with the index, and a difference means a full listing.
Result<IndexChanges> IndexSync::incremental(std::int64_t t) {
  const SyncState state = index_.sync_state();
  const std::int64_t since = state.synced_at.value_or(0) - options_.margin.count();
  IndexChanges changes;
  std::optional<std::uint64_t> live_total;
  service::ListQuery q;
  q.page_size = options_.page_size;
  q.pinned_after = since;
  q.order = service::ListOrder::newest_first;
  for (bool first = true;; first = false) {
    ++*list_calls_;
    auto page = service_->list(q);
    if (!page) return std::unexpected(page.error());
    if (first) live_total = page->total;
    PageDelta delta = delta_of(index_, page->pins);
    index_.apply(delta.changed, delta.superseded_keys);
    changes.removed.insert(changes.removed.end(), delta.superseded.begin(), delta.superseded.end());
    changes.upserted.insert(changes.upserted.end(), delta.changed.begin(), delta.changed.end());
    if (page->next_cursor.empty() || delta.changed.empty()) break;
    q.cursor = page->next_cursor;
  }

  service::ListQuery r;
  r.page_size = options_.page_size;
  r.status = service::ListStatus::unpinned;
  r.unpinned_after = since;
  r.order = service::ListOrder::newest_first;
  for (;;) {
    auto page = service_->list(r);
    if (!page && page.error().errnum == ENOTSUP) {
      // AIOZ: the first page's total counts every live pin (Pinata's counts only the filtered ones).
      if (live_total && index_.size() > *live_total) {
        spdlog::info("pin index holds {} pins, the service {}: listing all to find the removed ones",
                     index_.size(), *live_total);
        auto listing = start_full();
        while (!listing->done())
          if (auto p = listing->next(); !p) return std::unexpected(p.error());
        auto full = listing->finish();
        if (!full) return full;
        full->upserted.insert(full->upserted.begin(), changes.upserted.begin(), changes.upserted.end());
        return full;
      }
      break;
    }
    ++*list_calls_;
    if (!page) return std::unexpected(page.error());
    std::vector<std::string> gone;
    for (const auto& row : page->pins) {
      if (auto held = index_.find(pin_key(row))) {
        gone.push_back(pin_key(row));
        changes.removed.push_back(*held);
      }
    }
    if (!gone.empty()) index_.apply({}, gone);
    if (page->next_cursor.empty()) break;
    r.cursor = page->next_cursor;
  }
  SyncState next = index_.sync_state();
  next.synced_at = t;
  index_.set_sync_state(next);
  return changes;
}

}  // namespace pinfs::cache
