// Keeps the pin index in step with the account within the provider's rate budget (DESIGN.md §4):
// a full listing page by page (the first mount, and a periodic reconcile that catches renames and metadata
// edits, which no "changed since" filter reports), and between them an incremental refresh that asks only
// for what changed since the last sync (Pinata: pinned since / unpinned since; AIOZ: newest first until
// pins already known).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "pinfs/cache/pin_index.hpp"
#include "pinfs/common/error.hpp"
#include "pinfs/service/pin_service.hpp"

namespace pinfs::cache {

// What one sync changed in the index, for the VFS to update its names and tell the kernel.
struct IndexChanges {
  std::vector<service::Pin> upserted;  // new pins, and pins whose name, metadata or size changed
  std::vector<service::Pin> removed;   // as they were in the index before
  bool full = false;                   // a complete listing (not an incremental refresh)
  // The index was not complete before this listing (a first mount, or an index set aside): every pin is
  // new and `upserted` is left empty rather than holding the whole account; rebuild views from the index.
  bool initial = false;
  bool empty() const { return upserted.empty() && removed.empty(); }
};

struct IndexSyncOptions {
  std::size_t page_size = 1000;
  // An incremental refresh looks back this far before the last sync (clock skew, late commits).
  std::chrono::seconds margin{300};
  // A full listing asks the service by CID about at most this many unseen pins dated within the margin.
  std::size_t max_young_checks = 100;
  // A full listing at least this often; 0 = only the first one.
  std::chrono::seconds reconcile_interval{std::chrono::hours(6)};
  // Unix seconds now; the system clock unless a test gives its own (the fake service's clock).
  std::function<std::int64_t()> clock;
};

// One complete listing in progress, page by page, so that a first `ls` can return each page as it arrives.
// Each page is stored in the index before next() returns it (a failed next() may be called again: it
// retries the same page). finish() (once done()) removes the pins not seen and marks the index complete.
// Pins dated after the listing started (less the margin) that it did not see are asked about by CID
// (at most max_young_checks of them; beyond that all are kept): they may have landed on a page already
// read, or not be listed yet. When the service's count changed between pages, or the listing saw fewer
// distinct pins than it (offset pages shift under a concurrent removal), nothing is removed and the reconcile
// stays due, so the next refresh lists again instead of dropping a pin that was only skipped.
class FullListing {
 public:
  virtual ~FullListing() = default;
  virtual Result<std::vector<service::Pin>> next() = 0;  // the next page; empty once done()
  virtual bool done() const = 0;
  virtual Result<IndexChanges> finish() = 0;
};

// Not thread-safe itself: one caller (the VFS's poller, or a first `ls`) drives it at a time; the index
// it writes is thread-safe, so readers are never blocked for longer than one page's transaction.
class IndexSync {
 public:
  IndexSync(std::shared_ptr<service::PinService> service, PinIndex& index, IndexSyncOptions options);

  std::unique_ptr<FullListing> start_full();
  // Brings the index up to date: a full listing when it is not complete or a reconcile is due, else an
  // incremental refresh (an unchanged account costs at most 2 list calls).
  Result<IndexChanges> refresh();
  std::uint64_t list_calls() const { return list_calls_->load(); }
  // When the next refresh() will be a full listing (unix seconds; now when the index is not complete).
  std::int64_t next_reconcile_at() const;

 private:
  Result<IndexChanges> incremental(std::int64_t now);
  std::int64_t now() const;
  std::shared_ptr<service::PinService> service_;
  PinIndex& index_;
  IndexSyncOptions options_;
  std::shared_ptr<std::atomic<std::uint64_t>> list_calls_;  // shared with the listings it starts
};

}  // namespace pinfs::cache
