#include "pinfs/service/fake_pin_service.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "pinfs/cid/dagpb.hpp"
#include "pinfs/cid/importer.hpp"

namespace pinfs::service {

namespace {

cid::ImportOptions import_options(int cid_version) {
  cid::ImportOptions options;
  options.cid_version = cid_version;
  return options;
}

Result<std::string> read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ENOENT, "fake: cannot open staged file " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A CID that is valid but certainly not the content's: the digest of a marker.
std::string wrong_cid_for(const std::string& cid) {
  std::string marker = "wrong:" + cid;
  auto digest =
      cid::sha256(cid::ByteView(reinterpret_cast<const std::uint8_t*>(marker.data()), marker.size()));
  return cid::Cid::v1(cid::Codec::Raw, digest).to_string();
}

}  // namespace

struct DirTree {
  std::map<std::string, std::pair<std::string, std::uint64_t>> files;  // name → (cid, tsize)
  std::map<std::string, DirTree> dirs;
};

FakePinService::FakePinService() {
  caps_.metadata_update = true;
  caps_.max_keyvalues = 10;
  caps_.max_page_size = 1000;
  caps_.pin_jobs = true;
}

FakePinService::~FakePinService() = default;

Result<void> FakePinService::injected(FakeOp op) {
  auto it = failures_.find(op);
  if (it == failures_.end()) return {};
  Error error = it->second.error;
  if (it->second.times > 0 && --it->second.times == 0) failures_.erase(it);
  return std::unexpected(error);
}

std::string FakePinService::import_locked(const std::string& content, int cid_version, std::uint64_t* tsize) {
  cid::FileImporter importer(import_options(cid_version), [this](const cid::Cid& c, cid::ByteView block) {
    blocks_[c.to_string()] = std::vector<std::uint8_t>(block.begin(), block.end());
  });
  importer.update(cid::ByteView(reinterpret_cast<const std::uint8_t*>(content.data()), content.size()));
  auto result = importer.finish();
  std::string text = result.cid.to_string();
  files_[text] = content;
  if (tsize) *tsize = result.tsize;
  return text;
}

Pin FakePinService::pin_locked(const std::string& cid, const std::string& name, std::uint64_t size,
                               bool is_dir, KeyValues kv) {
  Pin pin;
  pin.id = "pin-" + std::to_string(next_id_++);
  pin.cid = cid;
  pin.name = name;
  pin.size = size;
  pin.pinned_at = clock_++;
  pin.is_dir = is_dir;
  pin.keyvalues = std::move(kv);
  pins_.push_back(pin);
  return pin;
}

Pin FakePinService::add_file(const std::string& name, const std::string& content, int cid_version,
                             KeyValues keyvalues) {
  std::lock_guard lock(mu_);
  std::uint64_t dag_size = 0;
  std::string cid = import_locked(content, cid_version, &dag_size);
  if (!dag_sizes_) return pin_locked(cid, name, content.size(), false, std::move(keyvalues));
  Pin pin = pin_locked(cid, name, dag_size, false, std::move(keyvalues));
  pins_.back().size_is_dag = pin.size_is_dag = dag_size != content.size();  // raw leaf: the same
  return pin;
}

void FakePinService::set_dag_sizes(bool dag) {
  std::lock_guard lock(mu_);
  dag_sizes_ = dag;
}

std::string FakePinService::store_content(const std::string& content, int cid_version) {
  std::lock_guard lock(mu_);
  return import_locked(content, cid_version, nullptr);
}

Result<std::pair<std::string, std::uint64_t>> FakePinService::build_dir_locked(
    const std::map<std::string, std::pair<std::string, std::uint64_t>>& files, int cid_version,
    const std::vector<std::string>& directories) {
  DirTree root;
  for (const auto& path : directories) {
    DirTree* node = &root;
    std::string rest = path;
    for (auto slash = rest.find('/'); slash != std::string::npos; slash = rest.find('/')) {
      node = &node->dirs[rest.substr(0, slash)];
      rest = rest.substr(slash + 1);
    }
    if (!rest.empty()) node->dirs[rest];
  }
  for (const auto& [path, entry] : files) {
    DirTree* node = &root;
    std::string rest = path;
    for (auto slash = rest.find('/'); slash != std::string::npos; slash = rest.find('/')) {
      node = &node->dirs[rest.substr(0, slash)];
      rest = rest.substr(slash + 1);
    }
    node->files[rest] = entry;
  }
  std::function<Result<std::pair<std::string, std::uint64_t>>(const DirTree&)> build =
      [&](const DirTree& tree) -> Result<std::pair<std::string, std::uint64_t>> {
    std::vector<cid::DirEntry> entries;
    for (const auto& [name, entry] : tree.files) {
      auto parsed = cid::Cid::parse(entry.first);
      if (!parsed) return std::unexpected(parsed.error());
      entries.push_back({name, *parsed, entry.second});
    }
    for (const auto& [name, sub] : tree.dirs) {
      auto built = build(sub);
      if (!built) return built;
      auto parsed = cid::Cid::parse(built->first);
      if (!parsed) return std::unexpected(parsed.error());
      entries.push_back({name, *parsed, built->second});
    }
    auto dir = cid::build_directory(std::move(entries), cid_version);
    if (!dir) return std::unexpected(dir.error());
    std::string text = dir->cid.to_string();
    blocks_[text] = dir->block;
    return std::pair{text, dir->tsize};
  };
  return build(root);
}

Pin FakePinService::add_directory(const std::string& name, const std::map<std::string, std::string>& files,
                                  int cid_version) {
  std::lock_guard lock(mu_);
  std::map<std::string, std::pair<std::string, std::uint64_t>> imported;
  std::uint64_t total = 0;
  for (const auto& [path, content] : files) {
    std::uint64_t tsize = 0;
    imported[path] = {import_locked(content, cid_version, &tsize), tsize};
    total += content.size();
  }
  auto dir = build_dir_locked(imported, cid_version);
  return pin_locked(dir ? dir->first : std::string(), name, total, true, {});
}

Pin FakePinService::add_pin(Pin pin) {
  std::lock_guard lock(mu_);
  if (pin.id.empty()) pin.id = "pin-" + std::to_string(next_id_++);
  if (pin.pinned_at == 0) pin.pinned_at = clock_++;
  pins_.push_back(pin);
  return pin;
}

std::vector<Pin> FakePinService::pins() const {
  std::lock_guard lock(mu_);
  return pins_;
}

std::optional<Pin> FakePinService::find_by_name(const std::string& name) const {
  std::lock_guard lock(mu_);
  for (const auto& pin : pins_)
    if (pin.name == name) return pin;
  return std::nullopt;
}

std::vector<PinJob> FakePinService::jobs() const {
  std::lock_guard lock(mu_);
  return jobs_;
}

std::size_t FakePinService::complete_jobs() {
  std::lock_guard lock(mu_);
  std::size_t done = 0;
  for (auto& job : jobs_) {
    if (job.status == "pinned" || !blocks_.contains(job.cid)) continue;
    job.status = "pinned";
    bool is_dir = !files_.contains(job.cid);
    std::uint64_t size = is_dir ? 0 : files_[job.cid].size();
    pin_locked(job.cid, job.name, size, is_dir, job_keyvalues_[job.id]);
    ++done;
  }
  return done;
}

void FakePinService::set_capabilities(const Capabilities& caps) {
  std::lock_guard lock(mu_);
  caps_ = caps;
}

void FakePinService::fail_next(FakeOp op, Error error, int times) {
  std::lock_guard lock(mu_);
  failures_[op] = Failure{std::move(error), times};
}

void FakePinService::clear_failures() {
  std::lock_guard lock(mu_);
  failures_.clear();
}

void FakePinService::set_wrong_cid(bool wrong) {
  std::lock_guard lock(mu_);
  wrong_cid_ = wrong;
}

std::optional<Pin> FakePinService::duplicate_locked(const std::string& cid) const {
  if (!duplicates_by_cid_) return std::nullopt;
  for (const auto& existing : pins_)
    if (existing.cid == cid) {
      Pin same = existing;
      same.duplicate = true;
      return same;
    }
  return std::nullopt;
}

void FakePinService::set_duplicates_by_cid(bool on) {
  std::lock_guard lock(mu_);
  duplicates_by_cid_ = on;
}

void FakePinService::set_drop_directory_parts(bool drop) {
  std::lock_guard lock(mu_);
  drop_directory_parts_ = drop;
}

void FakePinService::set_upload_reply_without_id(bool without) {
  std::lock_guard lock(mu_);
  reply_without_id_ = without;
}

void FakePinService::set_quota_bytes(std::uint64_t bytes) {
  std::lock_guard lock(mu_);
  quota_bytes_ = bytes;
}

void FakePinService::set_upload_hook(std::function<void(const FileUpload&)> hook) {
  std::lock_guard lock(mu_);
  upload_hook_ = std::move(hook);
}

void FakePinService::set_metadata_hook(std::function<void(const PinRef&)> hook) {
  std::lock_guard lock(mu_);
  metadata_hook_ = std::move(hook);
}

void FakePinService::set_unpin_hook(std::function<void(const PinRef&)> hook) {
  std::lock_guard lock(mu_);
  unpin_hook_ = std::move(hook);
}

void FakePinService::call_metadata_hook(const PinRef& ref) {
  std::function<void(const PinRef&)> hook;
  {
    std::lock_guard lock(mu_);
    hook = metadata_hook_;
  }
  if (hook) hook(ref);
}

Capabilities FakePinService::capabilities() const {
  std::lock_guard lock(mu_);
  return caps_;
}

Result<void> FakePinService::check_auth() {
  ++counters_.check_auth;
  return {};
}

Result<PinPage> FakePinService::list(const ListQuery& query) {
  ++counters_.list;
  std::lock_guard lock(mu_);
  if (auto f = injected(FakeOp::List); !f) return std::unexpected(f.error());
  if (query.unpinned_after && query.status != ListStatus::unpinned)
    return fail(EINVAL, "fake: unpinned_after applies to unpinned listings only");
  std::vector<const Pin*> matching;
  auto consider = [&](const Pin& pin, std::int64_t unpinned_at) {
    if (query.cid && pin.cid != *query.cid) return;
    if (query.name_contains && pin.name.find(*query.name_contains) == std::string::npos) return;
    if (query.pinned_after && pin.pinned_at < *query.pinned_after) return;
    if (query.unpinned_after && unpinned_at < *query.unpinned_after) return;
    matching.push_back(&pin);
  };
  if (query.status == ListStatus::pinned) {
    for (const auto& pin : pins_) consider(pin, 0);
  } else {
    for (const auto& [pin, unpinned_at] : unpinned_) consider(pin, unpinned_at);
  }
  if (query.order == ListOrder::newest_first) {
    std::stable_sort(matching.begin(), matching.end(),
                     [](const Pin* a, const Pin* b) { return a->pinned_at > b->pinned_at; });
  }
  std::size_t offset = query.cursor.empty() ? 0 : std::stoul(query.cursor);
  std::size_t page = std::clamp<std::size_t>(query.page_size, 1, caps_.max_page_size);
  PinPage out;
  out.total = matching.size();
  for (std::size_t i = offset; i < matching.size() && i < offset + page; ++i)
    out.pins.push_back(*matching[i]);
  if (offset + page < matching.size()) out.next_cursor = std::to_string(offset + page);
  return out;
}

std::vector<Pin>::iterator FakePinService::find_locked(const PinRef& ref) {
  return std::find_if(pins_.begin(), pins_.end(),
                      [&](const Pin& pin) { return ref.id.empty() ? pin.cid == ref.cid : pin.id == ref.id; });
}

Result<Pin> FakePinService::get(const PinRef& ref) {
  ++counters_.get;
  std::lock_guard lock(mu_);
  if (auto f = injected(FakeOp::Get); !f) return std::unexpected(f.error());
  auto it = find_locked(ref);
  if (it == pins_.end()) return fail(ENOENT, "fake: not pinned: " + ref.cid + ref.id);
  return *it;
}

Result<Pin> FakePinService::upload_file(const FileUpload& upload) {
  ++counters_.upload_file;
  std::function<void(const FileUpload&)> hook;
  {
    std::lock_guard lock(mu_);
    hook = upload_hook_;
  }
  if (hook) hook(upload);
  if (upload.growth) {  // upload while writing: the body ends when the writer says so
    ++counters_.streamed_uploads;
    for (;;) {
      const bool complete = upload.growth->is_complete();
      std::error_code ec;
      const std::uint64_t size = std::filesystem::file_size(upload.local_path, ec);
      if (!ec) upload.growth->read_to(std::min<std::uint64_t>(size, stream_read_limit_));
      if ((complete && size <= stream_read_limit_) || upload.growth->is_abandoned()) break;
      upload.growth->wait(std::chrono::milliseconds(20));
    }
    if (upload.growth->is_abandoned()) return fail(ECANCELED, "fake: the writer abandoned the upload");
  }
  auto content = read_whole(upload.local_path);
  if (!content) return std::unexpected(content.error());
  std::lock_guard lock(mu_);
  if (auto f = injected(FakeOp::UploadFile); !f) return std::unexpected(f.error());
  std::uint64_t stored = 0;
  for (const auto& [cid, bytes] : files_) stored += bytes.size();
  if (quota_bytes_ && stored + content->size() > quota_bytes_)
    return fail(EDQUOT, "fake: account over quota");
  counters_.bytes_uploaded += content->size();
  if (upload.progress) upload.progress({content->size(), content->size()});
  std::string cid = import_locked(*content, upload.cid_version, nullptr);
  if (wrong_cid_) cid = wrong_cid_for(cid);
  if (auto same = duplicate_locked(cid)) return *same;
  Pin pin = pin_locked(cid, upload.name, content->size(), false, upload.keyvalues);
  if (reply_without_id_) pin.id.clear();
  return pin;
}

Result<Pin> FakePinService::upload_directory(const DirectoryUpload& upload) {
  ++counters_.upload_directory;
  std::lock_guard lock(mu_);
  if (auto f = injected(FakeOp::UploadDirectory); !f) return std::unexpected(f.error());
  std::map<std::string, std::pair<std::string, std::uint64_t>> imported;
  std::uint64_t total = 0;
  for (const auto& part : upload.files) {
    auto content = read_whole(part.local_path);
    if (!content) return std::unexpected(content.error());
    std::uint64_t tsize = 0;
    imported[part.relative_path] = {import_locked(*content, upload.cid_version, &tsize), tsize};
    total += content->size();
    counters_.bytes_uploaded += content->size();
  }
  auto dir = build_dir_locked(imported, upload.cid_version,
                              drop_directory_parts_ ? std::vector<std::string>{} : upload.directories);
  if (!dir) return std::unexpected(dir.error());
  if (auto same = duplicate_locked(dir->first)) return *same;
  Pin pin = pin_locked(wrong_cid_ ? wrong_cid_for(dir->first) : dir->first, upload.name, total, true,
                       upload.keyvalues);
  if (reply_without_id_) pin.id.clear();
  return pin;
}

Result<PinJob> FakePinService::pin_by_cid(const std::string& cid, const std::string& name,
                                          const KeyValues& keyvalues) {
  ++counters_.pin_by_cid;
  std::lock_guard lock(mu_);
  if (auto f = injected(FakeOp::PinByCid); !f) return std::unexpected(f.error());
  PinJob job;
  job.id = "job-" + std::to_string(next_id_++);
  job.cid = cid;
  job.name = name;
  job.status = "searching";
  job.queued_at = clock_++;
  jobs_.push_back(job);
  job_keyvalues_[job.id] = keyvalues;
  return job;
}

Result<std::vector<PinJob>> FakePinService::list_jobs() {
  ++counters_.list_jobs;
  std::lock_guard lock(mu_);
  if (auto f = injected(FakeOp::ListJobs); !f) return std::unexpected(f.error());
  return jobs_;
}

Result<void> FakePinService::update_metadata(const PinRef& ref, const std::optional<std::string>& name,
                                             const KeyValueChanges& changes) {
  ++counters_.update_metadata;
  call_metadata_hook(ref);
  std::lock_guard lock(mu_);
  if (!caps_.metadata_update) return fail(ENOTSUP, "fake: provider cannot update metadata");
  if (auto f = injected(FakeOp::UpdateMetadata); !f) return std::unexpected(f.error());
  auto it = find_locked(ref);
  if (it == pins_.end()) return fail(ENOENT, "fake: not pinned");
  KeyValues next = it->keyvalues;
  for (const auto& [key, value] : changes) {
    if (value)
      next[key] = *value;
    else
      next.erase(key);
  }
  if (caps_.max_keyvalues && next.size() > caps_.max_keyvalues)
    return fail(E2BIG, "fake: too many keyvalues");
  it->keyvalues = std::move(next);
  if (name) it->name = *name;
  return {};
}

Result<Pin> FakePinService::rename(const Pin& pin, const std::string& new_name) {
  ++counters_.rename;
  call_metadata_hook({pin.id, pin.cid});
  std::lock_guard lock(mu_);
  if (auto f = injected(FakeOp::Rename); !f) return std::unexpected(f.error());
  auto it = find_locked(PinRef{pin.id, pin.cid});
  if (it == pins_.end()) return fail(ENOENT, "fake: not pinned");
  it->name = new_name;
  if (!caps_.metadata_update) {  // as AIOZ's rename: a new pin by hash with these keyvalues, the old id gone
    it->keyvalues = pin.keyvalues;
    it->id = "pin-" + std::to_string(next_id_++);
  }
  return *it;
}

Result<void> FakePinService::unpin(const PinRef& ref) {
  ++counters_.unpin;
  std::function<void(const PinRef&)> hook;
  {
    std::lock_guard lock(mu_);
    hook = unpin_hook_;
  }
  if (hook) hook(ref);
  std::lock_guard lock(mu_);
  if (auto f = injected(FakeOp::Unpin); !f) return std::unexpected(f.error());
  auto it = find_locked(ref);
  if (it == pins_.end()) return fail(ENOENT, "fake: not pinned");
  if (caps_.unpins_by_cid) {  // as Pinata: every pin of the CID goes
    const std::string cid = it->cid;
    for (auto pin = pins_.begin(); pin != pins_.end();) {
      if (pin->cid != cid) {
        ++pin;
        continue;
      }
      unpinned_.emplace_back(*pin, clock_++);
      pin = pins_.erase(pin);
    }
    return {};
  }
  unpinned_.emplace_back(*it, clock_++);
  pins_.erase(it);
  return {};
}

std::int64_t FakePinService::now() const {
  std::lock_guard lock(mu_);
  return clock_;
}

void FakePinService::advance_clock(std::int64_t seconds) {
  std::lock_guard lock(mu_);
  clock_ += seconds;
}

Result<Totals> FakePinService::totals() {
  ++counters_.totals;
  std::lock_guard lock(mu_);
  if (auto f = injected(FakeOp::Totals); !f) return std::unexpected(f.error());
  Totals totals;
  totals.pin_count = pins_.size();
  for (const auto& pin : pins_) totals.size_total += pin.size;
  return totals;
}

Result<std::string> FakePinService::resolve_locked(const std::string& cid, const std::string& path) const {
  std::string current = cid;
  std::string rest = path;
  while (!rest.empty()) {
    auto slash = rest.find('/');
    std::string part = rest.substr(0, slash);
    rest = slash == std::string::npos ? "" : rest.substr(slash + 1);
    if (part.empty()) continue;
    auto block = blocks_.find(current);
    if (block == blocks_.end()) return fail(ENOENT, "fake: no block " + current);
    auto node = cid::decode_pb(block->second);
    if (!node) return std::unexpected(node.error());
    auto link = std::find_if(node->links.begin(), node->links.end(),
                             [&](const cid::PbLink& l) { return l.name && *l.name == part; });
    if (link == node->links.end()) return fail(ENOENT, "fake: no entry " + part);
    current = link->hash.to_string();
  }
  return current;
}

Result<std::uint64_t> FakePinService::read(const std::string& cid, const std::string& path,
                                           std::uint64_t offset, std::uint64_t length, const ByteSink& sink) {
  ++counters_.gateway_read;
  std::string slice;
  {
    std::lock_guard lock(mu_);
    if (auto f = injected(FakeOp::GatewayRead); !f) return std::unexpected(f.error());
    auto target = resolve_locked(cid, path);
    if (!target) return std::unexpected(target.error());
    auto it = files_.find(*target);
    if (it == files_.end()) return fail(ENOENT, "fake: no content for " + *target);
    if (offset < it->second.size()) slice = it->second.substr(offset, length);
  }
  constexpr std::size_t kPiece = 64 * 1024;
  std::uint64_t delivered = 0;
  for (std::size_t at = 0; at < slice.size(); at += kPiece) {
    std::size_t n = std::min(kPiece, slice.size() - at);
    if (!sink(slice.data() + at, n)) return fail(ECANCELED, "fake: transfer aborted by sink");
    delivered += n;
  }
  counters_.bytes_served += delivered;
  return delivered;
}

Result<std::vector<std::uint8_t>> FakePinService::block(const std::string& cid) {
  ++counters_.gateway_block;
  std::lock_guard lock(mu_);
  if (auto f = injected(FakeOp::GatewayBlock); !f) return std::unexpected(f.error());
  auto it = blocks_.find(cid);
  if (it == blocks_.end()) return fail(ENOENT, "fake: no block " + cid);
  return it->second;
}

}  // namespace pinfs::service
