// /.pinfs: status, jobs/<id>, by-cid/<cid>.
#include <cstdio>

#include "namespace.hpp"
#include "node.hpp"
#include "pinfs/cache/content_cache.hpp"
#include "pinfs/cache/index_sync.hpp"
#include "pinfs/cache/pin_index.hpp"
#include "pinfs/vfs/names.hpp"
#include "uploads.hpp"

namespace pinfs::vfs {

std::string Vfs::job_json(const service::PinJob& job) const {
  return "{\"id\":" + json_quote(job.id) + ",\"cid\":" + json_quote(job.cid) +
         ",\"name\":" + json_quote(job.name) + ",\"status\":" + json_quote(job.status) +
         ",\"queued_at\":" + std::to_string(job.queued_at) + "}\n";
}

Vfs::NodePtr Vfs::control_child_locked(const NodePtr& parent, const std::string& name) {
  auto make = [&](bool file, const std::string& control) {
    auto node = ns_->intern("ctl:" + control, [&] {
      auto n = std::make_shared<Node>();
      n->data = ControlData{control, file, 0, 0};
      return n;
    });
    node->parent = parent->ino;
    node->name = name;
    return node;
  };
  if (parent->kind() == Kind::Root) return name == kControlDirName ? make(false, "root") : nullptr;
  if (parent->kind() != Kind::Control) return nullptr;
  const auto& control = parent->control()->control;
  if (control == "root") {
    if (name == "status") return make(true, "status");
    if (name == "jobs" || name == "by-cid") return make(false, name);
    return nullptr;
  }
  if (control == "jobs") {
    for (const auto& job : ns_->jobs())
      if (job.id == name) {
        auto node = make(true, "job:" + name);
        node->control()->size = job_json(job).size();
        node->control()->mtime = job.queued_at;
        return node;
      }
    return nullptr;
  }
  if (control == "by-cid") {
    auto pins = ns_->index().by_cid(name);
    if (pins.empty()) return nullptr;
    // The same inode as the pin at the root.
    auto key = cache::pin_key(pins.front());
    if (auto existing = ns_->by_key("pin:" + key); existing && existing->pin()) return existing;
    auto shown = pins.front().name.empty() ? pins.front().cid : escape_name(pins.front().name);
    return ns_->pin_node(pins.front(), shown);
  }
  return nullptr;
}

std::string Vfs::status_json() {
  std::string out = "{";
  auto& index = ns_->index();
  {
    std::uint64_t bytes = 0, count = 0;
    index.for_each([&](const service::Pin& pin) {
      bytes += pin.size;
      ++count;
    });
    out += "\"upload_mode\":" + json_quote(options_.upload == UploadMode::Async ? "async" : "sync");
    out += ",\"totals\":{\"pins\":" + std::to_string(count) + ",\"bytes\":" + std::to_string(bytes) + "}";
    auto state = index.sync_state();
    out += ",\"index\":{\"pins\":" + std::to_string(count) +
           ",\"complete\":" + (state.complete ? "true" : "false") +
           ",\"last_sync\":" + (state.synced_at ? std::to_string(*state.synced_at) : "null") +
           ",\"last_reconcile\":" + (state.reconciled_at ? std::to_string(*state.reconciled_at) : "null") +
           ",\"next_refresh\":" +
           (options_.poll_interval.count() > 0 && state.complete ? std::to_string(next_refresh_.load())
                                                                 : "null") +
           ",\"next_reconcile\":" + (sync_ ? std::to_string(sync_->next_reconcile_at()) : "null") +
           ",\"list_calls\":" + std::to_string(sync_ ? sync_->list_calls() : 0) +
           ",\"poll_interval\":" + std::to_string(options_.poll_interval.count()) + "}";
  }
  {
    auto up = uploads_->lock();
    out += ',';
    out += uploads_->status_json_locked();
  }
  {
    // New directories whose upload failed, and what pins made here lack (docs/SEMANTICS.md [dir.empty]).
    auto lock = ns_->lock();
    out += ",\"directories\":[";
    bool first = true;
    for (const auto& [name, ino] : ns_->root_locals()) {
      auto node = ns_->node(ino);
      if (!node || node->kind() != Kind::LocalDir) continue;
      const auto* d = node->dir();
      out += first ? "" : ",";
      first = false;
      out += "{\"name\":" + json_quote(name) + ",\"status\":" + json_quote(d->status()) + "}";
    }
    out += "],\"notices\":[";
    first = true;
    for (const auto& [cid, text] : ns_->notices()) {
      out += first ? "" : ",";
      first = false;
      out += "{\"cid\":" + json_quote(cid) + ",\"notice\":" + json_quote(text) + "}";
    }
    out += "]";
  }
  {
    auto lock = ns_->lock();
    out += ",\"jobs\":[";
    bool first = true;
    for (const auto& job : ns_->jobs()) {
      out += first ? "" : ",";
      first = false;
      auto text = job_json(job);
      text.pop_back();
      out += text;
    }
    out += "]";
  }
  if (content_) {
    auto stats = content_->stats();
    out += ",\"cache\":{\"bytes\":" + std::to_string(stats.bytes) +
           ",\"max_bytes\":" + std::to_string(options_.cache_max_bytes) +
           ",\"entries\":" + std::to_string(stats.entries) + ",\"hits\":" + std::to_string(stats.hits) +
           ",\"misses\":" + std::to_string(stats.misses) +
           ",\"evictions\":" + std::to_string(stats.evictions) + "}";
  }
  const auto& c = counters_;
  out += ",\"requests\":{\"list\":" + std::to_string(c.list_calls) +
         ",\"uploads\":" + std::to_string(c.uploads) +
         ",\"upload_failures\":" + std::to_string(c.upload_failures) +
         ",\"dedupes\":" + std::to_string(c.dedupes) +
         ",\"gateway_reads\":" + std::to_string(c.gateway_reads) +
         ",\"gateway_bytes\":" + std::to_string(c.gateway_bytes) +
         ",\"block_fetches\":" + std::to_string(c.block_fetches) + ",\"unpins\":" + std::to_string(c.unpins) +
         ",\"renames\":" + std::to_string(c.renames) +
         ",\"metadata_updates\":" + std::to_string(c.metadata_updates) +
         ",\"pin_by_cid\":" + std::to_string(c.pin_by_cid) + "}";
  return out + "}\n";
}

}  // namespace pinfs::vfs
