// Extended attributes: user.pinfs.* (read-only facts) and user.meta.<key> (the pin's keyvalues).
#include <sys/xattr.h>

#include <ctime>

#include "node.hpp"
#include "pinfs/cache/journal.hpp"
#include "pinfs/cache/pin_index.hpp"
#include "pinfs/common/log.hpp"

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

Result<std::size_t> Vfs::getxattr(Ino ino, const std::string& name, char* out, std::size_t size) {
  std::string value;
  {
    std::lock_guard lock(mu_);
    auto node = node_locked(ino);
    if (!node) return fail(ENOENT, "no inode " + std::to_string(ino));
    const service::KeyValues* kv = nullptr;
    if (node->kind == Kind::Pin) kv = &node->pin.keyvalues;
    if (node->kind == Kind::Local) kv = &node->local->keyvalues;
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
      switch (node->kind) {
        case Kind::Pin:
          if (fact == "cid") value = node->pin.cid;
          // Pinata's upload reply carries no pin id: it is known from the next listing on.
          if (fact == "id" && node->pin.id.empty()) return none;
          if (fact == "id") value = node->pin.id;
          if (fact == "size") value = std::to_string(file_size_locked(*node));
          if (fact == "pinned_at") value = iso8601(node->pin.pinned_at);
          if (fact == "status") value = "pinned";
          if (fact == "verified") value = node->verified ? "true" : "false";
          break;
        case Kind::DirEntry:
          if (fact == "cid")
            value = node->cid;
          else if (fact == "size")
            value = std::to_string(node->size);
          else if (fact == "status")
            value = "pinned";
          else
            return none;
          break;
        case Kind::Local:
          if (fact == "cid" && !node->local->cid.empty())
            value = node->local->cid;
          else if (fact == "size")
            value = std::to_string(node->local->size.load());
          else if (fact == "status")
            value = state_text(*node->local);
          else
            return none;
          break;
        case Kind::Link:
          if (fact == "cid") {
            value = node->link_cid;
          } else if (fact == "id") {
            value = node->job_id;
          } else if (fact == "status") {
            value = "queued";
            for (const auto& job : jobs_)
              if (job.id == node->job_id) value = job.status;
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
    std::lock_guard lock(mu_);
    auto node = node_locked(ino);
    if (!node) return fail(ENOENT, "no inode " + std::to_string(ino));
    auto add = [&](const std::string& n) { names += n + '\0'; };
    const service::KeyValues* kv = nullptr;
    if (node->kind == Kind::Pin) {
      for (const auto& fact : kFacts)
        if (fact != "id" || !node->pin.id.empty()) add(std::string(kPinfs) + fact);
      kv = &node->pin.keyvalues;
    } else if (node->kind == Kind::Local) {
      if (!node->local->cid.empty()) add(std::string(kPinfs) + "cid");
      add(std::string(kPinfs) + "size");
      add(std::string(kPinfs) + "status");
      kv = &node->local->keyvalues;
    } else if (node->kind == Kind::DirEntry) {
      for (const char* fact : {"cid", "size", "status"}) add(std::string(kPinfs) + fact);
    } else if (node->kind == Kind::Link) {
      for (const char* fact : {"cid", "id", "status"}) add(std::string(kPinfs) + fact);
    }
    if (kv)
      for (const auto& [key, value] : *kv) add(std::string(kMeta) + key);
  }
  return reply(names, out, size);
}

Result<void> Vfs::setxattr(Ino ino, const std::string& name, const std::string& value, int flags) {
  if (name.starts_with(kPinfs)) return fail(EPERM, name + " is read-only");
  if (!name.starts_with(kMeta)) return fail(ENOTSUP, name + ": only user.meta.* can be set");
  auto key = name.substr(kMeta.size());
  if (key.empty()) return fail(EINVAL, "empty metadata key");
  auto caps = service_->capabilities();
  service::Pin pin;
  {
    std::lock_guard lock(mu_);
    auto node = node_locked(ino);
    if (!node) return fail(ENOENT, "no inode " + std::to_string(ino));
    service::KeyValues* kv = nullptr;
    if (node->kind == Kind::Pin) kv = &node->pin.keyvalues;
    if (node->kind == Kind::Local) kv = &node->local->keyvalues;
    if (!kv) return fail(ENOTSUP, "only pins and new files carry metadata");
    bool exists = kv->contains(key);
    if ((flags & XATTR_CREATE) && exists) return fail(EEXIST, name + " exists");
    if ((flags & XATTR_REPLACE) && !exists) return fail(ENODATA, name + " does not exist");
    if (!exists && caps.max_keyvalues && kv->size() + 1 > caps.max_keyvalues) {
      spdlog::warn("setfattr {} refused: the provider allows {} metadata keys", name, caps.max_keyvalues);
      return fail(E2BIG, "the provider allows at most " + std::to_string(caps.max_keyvalues) + " keys");
    }
    if (node->kind == Kind::Local) {  // sent with the upload
      if (node->local->state == UploadState::Local || node->local->state == UploadState::Failed ||
          node->local->state == UploadState::Queued) {
        (*kv)[key] = value;
        if (node->local->journal_id && journal_) {
          cache::JournalEntry entry;
          entry.id = node->local->journal_id;
          entry.name = node->local->name;
          entry.staging_path = node->local->staging;
          entry.cid = node->local->cid;
          entry.size = node->local->size;
          entry.keyvalues = *kv;
          if (node->local->replaces) {
            entry.replaces_id = node->local->replaces->id;
            entry.replaces_cid = node->local->replaces->cid;
          }
          if (auto ok = journal_->update(entry); !ok) return fail(EIO, ok.error().describe());
        }
        return {};
      }
      return fail(EBUSY, "the file is being uploaded");
    }
    if (!caps.metadata_update) {
      spdlog::warn("setfattr {} refused: the provider cannot change metadata of an existing pin", name);
      return fail(ENOTSUP, "the provider cannot change metadata of an existing pin");
    }
    pin = node->pin;
  }
  ++counters_.metadata_updates;
  auto ok = service_->update_metadata({pin.id, pin.cid}, std::nullopt, {{key, value}});
  if (!ok) return ok;
  std::lock_guard lock(mu_);
  pin.keyvalues[key] = value;
  index_->upsert(pin);
  if (auto node = node_locked(ino); node && node->kind == Kind::Pin) node->pin.keyvalues[key] = value;
  return {};
}

Result<void> Vfs::removexattr(Ino ino, const std::string& name) {
  if (name.starts_with(kPinfs)) return fail(EPERM, name + " is read-only");
  if (!name.starts_with(kMeta)) return fail(ENOTSUP, name + ": only user.meta.* can be removed");
  auto key = name.substr(kMeta.size());
  service::Pin pin;
  {
    std::lock_guard lock(mu_);
    auto node = node_locked(ino);
    if (!node) return fail(ENOENT, "no inode " + std::to_string(ino));
    if (node->kind == Kind::Local) {
      if (!node->local->keyvalues.erase(key)) return fail(ENODATA, name + " does not exist");
      return {};
    }
    if (node->kind != Kind::Pin) return fail(ENOTSUP, "only pins and new files carry metadata");
    if (!node->pin.keyvalues.contains(key)) return fail(ENODATA, name + " does not exist");
    if (!service_->capabilities().metadata_update)
      return fail(ENOTSUP, "the provider cannot change metadata of an existing pin");
    pin = node->pin;
  }
  ++counters_.metadata_updates;
  auto ok = service_->update_metadata({pin.id, pin.cid}, std::nullopt, {{key, std::nullopt}});
  if (!ok) return ok;
  std::lock_guard lock(mu_);
  pin.keyvalues.erase(key);
  index_->upsert(pin);
  if (auto node = node_locked(ino); node && node->kind == Kind::Pin) node->pin.keyvalues.erase(key);
  return {};
}

}  // namespace pinfs::vfs
