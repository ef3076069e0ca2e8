// /.pinfs: status, jobs/<id>, by-cid/<cid>.
#include <cstdio>

#include "node.hpp"
#include "pinfs/cache/content_cache.hpp"
#include "pinfs/cache/pin_index.hpp"

namespace pinfs::vfs {

namespace {

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

const char* state_name(UploadState state) {
  switch (state) {
    case UploadState::Local:
      return "writing";
    case UploadState::Queued:
      return "queued";
    case UploadState::Uploading:
      return "uploading";
    case UploadState::Pinned:
      return "pinned";
    case UploadState::Failed:
      return "failed";
  }
  return "unknown";
}

}  // namespace

std::string Vfs::job_json(const service::PinJob& job) const {
  return "{\"id\":" + quote(job.id) + ",\"cid\":" + quote(job.cid) + ",\"name\":" + quote(job.name) +
         ",\"status\":" + quote(job.status) + ",\"queued_at\":" + std::to_string(job.queued_at) + "}\n";
}

Vfs::NodePtr Vfs::control_child_locked(const NodePtr& parent, const std::string& name) {
  auto make = [&](Kind kind, const std::string& control) {
    auto node = intern_locked("ctl:" + control, [&] {
      auto n = std::make_shared<Node>();
      n->kind = kind;
      n->control = control;
      return n;
    });
    node->parent = parent->ino;
    node->name = name;
    return node;
  };
  if (parent->kind == Kind::Root) return name == kControlDirName ? make(Kind::Control, "root") : nullptr;
  if (parent->kind != Kind::Control) return nullptr;
  if (parent->control == "root") {
    if (name == "status") return make(Kind::ControlFile, "status");
    if (name == "jobs" || name == "by-cid") return make(Kind::Control, name);
    return nullptr;
  }
  if (parent->control == "jobs") {
    for (const auto& job : jobs_)
      if (job.id == name) {
        auto node = make(Kind::ControlFile, "job:" + name);
        node->size = job_json(job).size();
        node->mtime = job.queued_at;
        return node;
      }
    return nullptr;
  }
  if (parent->control == "by-cid") {
    auto pins = index_->by_cid(name);
    if (pins.empty()) return nullptr;
    return pin_node_locked(pins.front());
  }
  return nullptr;
}

std::string Vfs::status_json() {
  std::string out = "{";
  {
    std::lock_guard lock(mu_);
    std::uint64_t bytes = 0;
    auto pins = index_->all();
    for (const auto& pin : pins) bytes += pin.size;
    out += "\"upload_mode\":" + quote(options_.upload == UploadMode::Async ? "async" : "sync");
    out +=
        ",\"totals\":{\"pins\":" + std::to_string(pins.size()) + ",\"bytes\":" + std::to_string(bytes) + "}";
    out += ",\"pending_uploads\":[";
    bool first = true;
    for (const auto& [key, file] : locals_by_key_) {
      if (file->state == UploadState::Pinned || file->deleted) continue;
      out += first ? "" : ",";
      first = false;
      out += "{\"name\":" + quote(file->name) + ",\"size\":" + std::to_string(file->size.load()) +
             ",\"sent\":" + std::to_string(file->sent) + ",\"state\":" + quote(state_name(file->state)) +
             ",\"cid\":" + quote(file->cid) + ",\"reason\":" + quote(file->reason) + "}";
    }
    out += "],\"jobs\":[";
    first = true;
    for (const auto& job : jobs_) {
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
