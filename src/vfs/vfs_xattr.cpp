// Extended attributes: user.pinfs.* (read-only facts) and user.meta.<key> (the pin's keyvalues).
#include <sys/xattr.h>

#include <ctime>

#include "namespace.hpp"
#include "node.hpp"
#include "pinfs/cache/journal.hpp"
#include "pinfs/cache/pin_index.hpp"
#include "pinfs/common/log.hpp"
#include "uploads.hpp"

namespace pinfs::vfs {

namespace {

constexpr std::string_view kPinfs = "user.pinfs.";
constexpr std::string_view kMeta = "user.meta.";
const std::vector<std::string> kFacts = {"cid", "id", "size", "pinned_at", "status", "verified"};

std::string iso8601(std::int64_t seconds) {
  std::time_t t = seconds;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string state_text(const Vfs::LocalFile& file) {
  if (!file.job_status.empty()) return file.job_status;
  switch (file.state) {
    case UploadState::Local:
      return "writing";
    case UploadState::Queued:
      return file.reason.empty() ? "queued" : "failed: " + file.reason;
    case UploadState::Uploading:
      return "uploading";
    case UploadState::Pinned:
      return "pinned";
    case UploadState::Failed:
      return "failed: " + file.reason;
  }
  return "unknown";
}

Result<std::size_t> reply(const std::string& value, char* out, std::size_t size) {
  if (size == 0) return value.size();
  if (size < value.size()) return fail(ERANGE, "buffer too small");
  std::copy(value.begin(), value.end(), out);
  return value.size();
}

}  // namespace

// What xattrs show of a pin: its index row (name, id, metadata are not kept on the node).
static service::Pin pin_row(Namespace& ns, const Vfs::Node& node) {
  if (auto row = ns.index().find(node.pin_key())) return *row;
  service::Pin pin;  // removed from the index meanwhile: what the node still knows
  auto ref = node.pin_ref();
  pin.id = ref.id;
  pin.cid = ref.cid;
  pin.pinned_at = node.pin()->pinned_at;
  return pin;
}

Result<std::size_t> Vfs::getxattr(Ino ino, const std::string& name, char* out, std::size_t size) {
  std::string value;
  {
    auto lock = ns_->lock();
    auto node = ns_->node(ino);
    if (!node) return fail(ENOENT, "no inode " + std::to_string(ino));
    auto up = uploads_->lock();
    std::optional<service::Pin> pin;
    if (node->kind() == Kind::Pin) pin = pin_row(*ns_, *node);
    const service::KeyValues* kv = nullptr;
    if (pin) kv = &pin->keyvalues;
    if (node->kind() == Kind::Local) kv = &node->local()->keyvalues;
    if (name.starts_with(kMeta)) {
      if (!kv) return fail(ENODATA, "no metadata here");
      auto it = kv->find(name.substr(kMeta.size()));
      if (it == kv->end()) return fail(ENODATA, "no such key");
      value = it->second;
    } else if (name.starts_with(kPinfs)) {
      auto fact = name.substr(kPinfs.size());
      if (std::find(kFacts.begin(), kFacts.end(), fact) == kFacts.end())
        return fail(ENOTSUP, "unknown " + name);
      auto none = fail(ENODATA, name + " not set");
      switch (node->kind()) {
        case Kind::Pin:
          if (fact == "cid") value = pin->cid;
          // Pinata's upload reply carries no pin id: it is known from the next listing on.
          if (fact == "id" && pin->id.empty()) return none;
          if (fact == "id") value = pin->id;
          if (fact == "size") value = std::to_string(ns_->file_size(*node));
          if (fact == "pinned_at") value = iso8601(pin->pinned_at);
          if (fact == "status") {
            value = "pinned";
            if (auto it = ns_->notices().find(pin->cid); it != ns_->notices().end())
              value += "; " + it->second;
          }
          if (fact == "verified") value = node->pin()->verified ? "true" : "false";
          break;
        case Kind::DirEntry:
          if (fact == "cid")
            value = node->entry()->cid;
          else if (fact == "size")
            value = std::to_string(node->entry()->size);
          else if (fact == "status")
            value = "pinned";
          else
            return none;
          break;
        case Kind::Local: {
          auto file = node->local();
          if (fact == "cid" && !file->cid.empty())
            value = file->cid;
          else if (fact == "size")
            value = std::to_string(file->size.load());
          else if (fact == "status")
            value = state_text(*file);
          else
            return none;
          break;
        }
        case Kind::LocalDir: {
          if (fact != "status") return none;
          const auto* d = node->dir();
          value = d->status();
          break;
        }
        case Kind::Link:
          if (fact == "cid") {
            value = node->link()->cid;
          } else if (fact == "id") {
            value = node->link()->job_id;
          } else if (fact == "status") {
            value = "queued";
            for (const auto& job : ns_->jobs())
              if (job.id == node->link()->job_id) value = job.status;
          } else {
            return none;
          }
          break;
        default:
          return none;
      }
    } else {
      return fail(ENOTSUP, name + ": only user.pinfs.* and user.meta.* exist here");
    }
  }
  return reply(value, out, size);
}

Result<std::size_t> Vfs::listxattr(Ino ino, char* out, std::size_t size) {
  std::string names;
  {
    auto lock = ns_->lock();
    auto node = ns_->node(ino);
    if (!node) return fail(ENOENT, "no inode " + std::to_string(ino));
    auto up = uploads_->lock();
    auto add = [&](const std::string& n) { names += n + '\0'; };
    service::KeyValues kv;
    if (node->kind() == Kind::Pin) {
      auto pin = pin_row(*ns_, *node);
      for (const auto& fact : kFacts)
        if (fact != "id" || !pin.id.empty()) add(std::string(kPinfs) + fact);
      kv = pin.keyvalues;
    } else if (node->kind() == Kind::Local) {
      auto file = node->local();
      if (!file->cid.empty()) add(std::string(kPinfs) + "cid");
      add(std::string(kPinfs) + "size");
      add(std::string(kPinfs) + "status");
      kv = file->keyvalues;
    } else if (node->kind() == Kind::DirEntry) {
      for (const char* fact : {"cid", "size", "status"}) add(std::string(kPinfs) + fact);
    } else if (node->kind() == Kind::LocalDir) {
      add(std::string(kPinfs) + "status");
    } else if (node->kind() == Kind::Link) {
      for (const char* fact : {"cid", "id", "status"}) add(std::string(kPinfs) + fact);
    }
    for (const auto& [key, value] : kv) add(std::string(kMeta) + key);
  }
  return reply(names, out, size);
}

Result<void> Vfs::setxattr(Ino ino, const std::string& name, const std::string& value, int flags) {
  if (name.starts_with(kPinfs)) return fail(EPERM, name + " is read-only");
  if (!name.starts_with(kMeta)) return fail(ENOTSUP, name + ": only user.meta.* can be set");
  auto key = name.substr(kMeta.size());
  if (key.empty()) return fail(EINVAL, "empty metadata key");
  auto caps = service_->capabilities();
  // The checks against the keys there are, with kv those of the pin or the new file.
  auto refused = [&](const service::KeyValues& kv) -> Result<void> {
    bool exists = kv.contains(key);
    if ((flags & XATTR_CREATE) && exists) return fail(EEXIST, name + " exists");
    if ((flags & XATTR_REPLACE) && !exists) return fail(ENODATA, name + " does not exist");
    if (!exists && caps.max_keyvalues && kv.size() + 1 > caps.max_keyvalues) {
      spdlog::warn("setfattr {} refused: the provider allows {} metadata keys", name, caps.max_keyvalues);
      return fail(E2BIG, "the provider allows at most " + std::to_string(caps.max_keyvalues) + " keys");
    }
    return {};
  };
  {
    auto lock = ns_->lock();
    auto node = ns_->node(ino);
    if (!node) return fail(ENOENT, "no inode " + std::to_string(ino));
    if (node->kind() != Kind::Pin && node->kind() != Kind::Local)
      return fail(ENOTSUP, "only pins and new files carry metadata");
    if (node->kind() == Kind::Local) {  // sent with the upload
      auto up = uploads_->lock();
      auto& kv = node->local()->keyvalues;
      if (auto no = refused(kv); !no) return no;
      auto state = node->local()->state.load();
      if (state == UploadState::Local || state == UploadState::Failed || state == UploadState::Queued) {
        kv[key] = value;
        if (auto ok = uploads_->journal_update_locked(*node->local()); !ok)
          return fail(EIO, ok.error().describe());
        return {};
      }
      return fail(EBUSY, "the file is being uploaded");
    }
    if (auto no = refused(pin_row(*ns_, *node).keyvalues); !no) return no;
    if (!caps.metadata_update) {
      spdlog::warn("setfattr {} refused: the provider cannot change metadata of an existing pin", name);
      return fail(ENOTSUP, "the provider cannot change metadata of an existing pin");
    }
  }
  return change_pin(
      ino,
      [&](service::Pin pin) -> Result<void> {
        if (auto no = refused(pin.keyvalues); !no) return no;  // as the change before this one left it
        ++counters_.metadata_updates;
        auto ok = service_->update_metadata({pin.id, pin.cid}, std::nullopt, {{key, value}});
        if (!ok) return ok;
        pin.keyvalues[key] = value;
        ns_->index().upsert(pin);
        return {};
      },
      fail(ENOENT, "no longer pinned"));
}

Result<void> Vfs::removexattr(Ino ino, const std::string& name) {
  if (name.starts_with(kPinfs)) return fail(EPERM, name + " is read-only");
  if (!name.starts_with(kMeta)) return fail(ENOTSUP, name + ": only user.meta.* can be removed");
  auto key = name.substr(kMeta.size());
  {
    auto lock = ns_->lock();
    auto node = ns_->node(ino);
    if (!node) return fail(ENOENT, "no inode " + std::to_string(ino));
    if (node->kind() == Kind::Local) {
      auto up = uploads_->lock();
      if (!node->local()->keyvalues.erase(key)) return fail(ENODATA, name + " does not exist");
      if (auto ok = uploads_->journal_update_locked(*node->local()); !ok)
        return fail(EIO, ok.error().describe());
      return {};
    }
    if (node->kind() != Kind::Pin) return fail(ENOTSUP, "only pins and new files carry metadata");
    if (!pin_row(*ns_, *node).keyvalues.contains(key)) return fail(ENODATA, name + " does not exist");
    if (!service_->capabilities().metadata_update)
      return fail(ENOTSUP, "the provider cannot change metadata of an existing pin");
  }
  return change_pin(
      ino,
      [&](service::Pin pin) -> Result<void> {
        if (!pin.keyvalues.contains(key)) return fail(ENODATA, name + " does not exist");
        ++counters_.metadata_updates;
        auto ok = service_->update_metadata({pin.id, pin.cid}, std::nullopt, {{key, std::nullopt}});
        if (!ok) return ok;
        pin.keyvalues.erase(key);
        ns_->index().upsert(pin);
        return {};
      },
      fail(ENOENT, "no longer pinned"));
}

}  // namespace pinfs::vfs
