#include "pinfs/emulator/store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace pinfs::emulator {

namespace {

std::string str_of(const rapidjson::Value& o, const char* key) {
  auto it = o.FindMember(key);
  if (it == o.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

std::int64_t int_of(const rapidjson::Value& o, const char* key) {
  auto it = o.FindMember(key);
  if (it == o.MemberEnd() || !it->value.IsNumber()) return 0;
  return it->value.GetInt64();
}

bool bool_of(const rapidjson::Value& o, const char* key) {
  auto it = o.FindMember(key);
  return it != o.MemberEnd() && it->value.IsBool() && it->value.GetBool();
}

KeyValues kvs_of(const rapidjson::Value& o, const char* key) {
  KeyValues out;
  auto it = o.FindMember(key);
  if (it == o.MemberEnd() || !it->value.IsObject()) return out;
  for (auto& m : it->value.GetObject()) {
    KvValue v;
    if (kv_from_json(m.value, v)) out[std::string(m.name.GetString(), m.name.GetStringLength())] = v;
  }
  return out;
}

void key(JsonWriter& w, const char* k) {
  w.Key(k);
}
void str(JsonWriter& w, const char* k, const std::string& v) {
  w.Key(k);
  w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
}

std::string encode_pin(const PinRecord& p) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  str(w, "t", "pin");
  str(w, "id", p.id);
  str(w, "file_record_id", p.file_record_id);
  str(w, "cid", p.cid);
  str(w, "name", p.name);
  key(w, "keyvalues");
  keyvalues_write(w, p.keyvalues);
  key(w, "dag_size");
  w.Uint64(p.dag_size);
  key(w, "content_size");
  w.Uint64(p.content_size);
  key(w, "files");
  w.Uint64(p.files);
  key(w, "is_dir");
  w.Bool(p.is_dir);
  str(w, "mime_type", p.mime_type);
  key(w, "date_pinned_us");
  w.Int64(p.date_pinned_us);
  key(w, "date_unpinned_us");
  w.Int64(p.date_unpinned_us);
  key(w, "is_pin_by_hash");
  w.Bool(p.is_pin_by_hash);
  if (p.bulk_index >= 0) {
    key(w, "bulk");
    w.Int64(p.bulk_index);
  }
  w.EndObject();
  return sb.GetString();
}

PinRecord decode_pin(const rapidjson::Value& o) {
  PinRecord p;
  p.id = str_of(o, "id");
  p.file_record_id = str_of(o, "file_record_id");
  p.cid = str_of(o, "cid");
  p.name = str_of(o, "name");
  p.keyvalues = kvs_of(o, "keyvalues");
  p.dag_size = static_cast<std::uint64_t>(int_of(o, "dag_size"));
  p.content_size = static_cast<std::uint64_t>(int_of(o, "content_size"));
  p.files = static_cast<std::uint64_t>(int_of(o, "files"));
  p.is_dir = bool_of(o, "is_dir");
  p.mime_type = str_of(o, "mime_type");
  p.date_pinned_us = int_of(o, "date_pinned_us");
  p.date_unpinned_us = int_of(o, "date_unpinned_us");
  p.is_pin_by_hash = bool_of(o, "is_pin_by_hash");
  if (auto it = o.FindMember("bulk"); it != o.MemberEnd() && it->value.IsInt64())
    p.bulk_index = it->value.GetInt64();
  return p;
}

std::string encode_job(const JobRecord& j) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  str(w, "t", "job");
  str(w, "id", j.id);
  str(w, "cid", j.cid);
  str(w, "name", j.name);
  key(w, "keyvalues");
  keyvalues_write(w, j.keyvalues);
  key(w, "host_nodes");
  w.StartArray();
  for (auto& h : j.host_nodes) w.String(h.c_str(), static_cast<rapidjson::SizeType>(h.size()));
  w.EndArray();
  key(w, "date_queued_us");
  w.Int64(j.date_queued_us);
  str(w, "status", j.status);
  str(w, "origin", j.origin);
  w.EndObject();
  return sb.GetString();
}

JobRecord decode_job(const rapidjson::Value& o) {
  JobRecord j;
  j.id = str_of(o, "id");
  j.cid = str_of(o, "cid");
  j.name = str_of(o, "name");
  j.keyvalues = kvs_of(o, "keyvalues");
  auto it = o.FindMember("host_nodes");
  if (it != o.MemberEnd() && it->value.IsArray())
    for (auto& h : it->value.GetArray())
      if (h.IsString()) j.host_nodes.emplace_back(h.GetString(), h.GetStringLength());
  j.date_queued_us = int_of(o, "date_queued_us");
  j.status = str_of(o, "status");
  j.origin = str_of(o, "origin");
  return j;
}

std::string encode_account(const std::string& user_id) {
  return "{\"t\":\"account\",\"user_id\":" + json_escape_string(user_id) + "}";
}

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const std::string& data_dir) {
  std::unique_ptr<Store> s(new Store());
  s->dir_ = data_dir;
  std::string path = data_dir + "/state.jsonl";
  {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      rapidjson::Document d;
      d.Parse(line.c_str(), line.size());
      if (d.HasParseError() || !d.IsObject()) continue;  // a torn last line after a crash
      std::string t = str_of(d, "t");
      if (t == "account") {
        s->user_id_ = str_of(d, "user_id");
      } else if (t == "pin") {
        PinRecord p = decode_pin(d);
        auto it = s->pin_by_id_.find(p.id);
        if (it != s->pin_by_id_.end()) {
          s->pins_[it->second] = std::move(p);
        } else {
          s->pin_by_id_[p.id] = s->pins_.size();
          s->pins_.push_back(std::move(p));
        }
      } else if (t == "job") {
        JobRecord j = decode_job(d);
        auto it = s->job_by_id_.find(j.id);
        if (it != s->job_by_id_.end()) {
          s->jobs_[it->second] = std::move(j);
        } else {
          s->job_by_id_[j.id] = s->jobs_.size();
          s->jobs_.push_back(std::move(j));
        }
      }
    }
  }
  if (s->user_id_.empty()) s->user_id_ = new_uuid();
  s->sort_by_date_locked();  // bulk pins are dated before pins made earlier
  // Compact: write the current state to a new file and swap it in.
  std::string tmp = path + ".tmp";
  {
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f) return fail_errno("create " + tmp);
    std::string acct = encode_account(s->user_id_) + "\n";
    std::fwrite(acct.data(), 1, acct.size(), f);
    for (auto& p : s->pins_) {
      std::string l = encode_pin(p) + "\n";
      std::fwrite(l.data(), 1, l.size(), f);
    }
    for (auto& j : s->jobs_) {
      std::string l = encode_job(j) + "\n";
      std::fwrite(l.data(), 1, l.size(), f);
    }
    std::fflush(f);
    ::fsync(::fileno(f));
    std::fclose(f);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return fail_errno("rename " + tmp);
  s->journal_ = std::fopen(path.c_str(), "a");
  if (!s->journal_) return fail_errno("open " + path);
  return s;
}

Store::~Store() {
  if (journal_) std::fclose(journal_);
}

void Store::append_locked(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), journal_);
  std::fputc('\n', journal_);
  // Flushed to the kernel on every mutation: survives kill -9 of the emulator.
  std::fflush(journal_);
}

void Store::rebuild_index_locked() {
  pinned_by_cid_.clear();
  for (std::size_t i = 0; i < pins_.size(); ++i)
    if (pins_[i].pinned()) pinned_by_cid_[pins_[i].cid].push_back(i);
}

void Store::sort_by_date_locked() {
  std::stable_sort(pins_.begin(), pins_.end(), [](const PinRecord& a, const PinRecord& b) {
    return a.date_pinned_us < b.date_pinned_us;
  });
  pin_by_id_.clear();
  pin_by_id_.reserve(pins_.size());
  for (std::size_t i = 0; i < pins_.size(); ++i) pin_by_id_[pins_[i].id] = i;
  rebuild_index_locked();
}

std::size_t Store::count_named(const std::string& prefix) const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& p : pins_)
    if (p.pinned() && p.name.starts_with(prefix)) ++n;
  return n;
}

std::string bulk_content(std::int64_t i) {
  std::string content;
  for (std::int64_t line = 0; line <= i % 16; ++line) content += "pinfs bulk pin " + std::to_string(i) + "\n";
  return content;
}

std::optional<cid::Bytes> Store::bulk_block(const cid::Cid& c) const {
  std::int64_t index = -1;
  {
    std::lock_guard lock(mu_);
    auto it = pinned_by_cid_.find(c.to_string());
    if (it == pinned_by_cid_.end()) it = pinned_by_cid_.find(c.to_v1().to_string());
    if (it == pinned_by_cid_.end() || it->second.empty()) return std::nullopt;
    index = pins_[it->second.front()].bulk_index;
  }
  if (index < 0) return std::nullopt;
  const std::string content = bulk_content(index);
  cid::Bytes block(content.begin(), content.end());
  if (cid::Cid::v1(cid::Codec::Raw, cid::sha256(block)).to_string() != c.to_v1().to_string())
    return std::nullopt;
  return block;
}

Result<std::size_t> Store::add_bulk(std::size_t count, const std::string& prefix, std::int64_t span_s) {
  std::lock_guard bulk(bulk_mu_);
  const std::size_t first = count_named(prefix);
  const std::int64_t now = now_us();
  const std::int64_t span_us = std::max<std::int64_t>(span_s, 1) * 1'000'000;
  const std::int64_t step_us =
      std::max<std::int64_t>(span_us / static_cast<std::int64_t>(std::max<std::size_t>(count, 1)), 1);
  std::vector<PinRecord> made;
  made.reserve(count);
  char name[64];
  for (std::size_t k = 0; k < count; ++k) {
    const std::size_t i = first + k;
    std::snprintf(name, sizeof name, "%s%07zu.txt", prefix.c_str(), i);
    const std::string content = bulk_content(static_cast<std::int64_t>(i));
    const cid::ByteView bytes(reinterpret_cast<const std::uint8_t*>(content.data()), content.size());
    const cid::Cid c = cid::Cid::v1(cid::Codec::Raw, cid::sha256(bytes));
    PinRecord p;
    p.id = new_uuid();
    p.file_record_id = new_uuid();
    p.cid = c.to_string();
    p.name = name;
    p.dag_size = p.content_size = content.size();
    p.mime_type = "text/plain";
    p.bulk_index = static_cast<std::int64_t>(i);
    // Oldest first, the last one a step before now: newer than the earlier bulk pins.
    p.date_pinned_us = now - static_cast<std::int64_t>(count - k) * step_us;
    made.push_back(std::move(p));
  }
  std::lock_guard lock(mu_);
  std::string lines;
  for (auto& p : made) {
    if (lines.size() > (1u << 20)) {
      std::fwrite(lines.data(), 1, lines.size(), journal_);
      lines.clear();
    }
    lines += encode_pin(p);
    lines += '\n';
    pins_.push_back(std::move(p));
  }
  std::fwrite(lines.data(), 1, lines.size(), journal_);
  std::fflush(journal_);
  sort_by_date_locked();
  return first + count;
}

std::pair<PinRecord, bool> Store::add_pin(PinRecord pin, bool dedupe) {
  std::lock_guard lock(mu_);
  if (auto it = pinned_by_cid_.find(pin.cid); dedupe && it != pinned_by_cid_.end() && !it->second.empty())
    return {pins_[it->second.front()], true};
  if (auto it = pin_by_id_.find(pin.id); it != pin_by_id_.end()) return {pins_[it->second], true};
  if (pin.id.empty()) pin.id = new_uuid();
  if (pin.file_record_id.empty()) pin.file_record_id = new_uuid();
  if (auto it = pinned_by_cid_.find(pin.cid); pin.bulk_index < 0 && it != pinned_by_cid_.end())
    for (auto idx : it->second)  // a pin by hash of a bulk pin's CID (AIOZ's rename): the same content
      if (pins_[idx].bulk_index >= 0) pin.bulk_index = pins_[idx].bulk_index;
  if (pin.date_pinned_us == 0) pin.date_pinned_us = now_us();
  append_locked(encode_pin(pin));
  pin_by_id_[pin.id] = pins_.size();
  pinned_by_cid_[pin.cid].push_back(pins_.size());
  pins_.push_back(pin);
  return {pin, false};
}

std::optional<PinRecord> Store::find_pinned(const std::string& cid) const {
  std::lock_guard lock(mu_);
  auto it = pinned_by_cid_.find(cid);
  if (it == pinned_by_cid_.end() || it->second.empty()) return std::nullopt;
  return pins_[it->second.front()];
}

std::optional<PinRecord> Store::get_pin(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = pin_by_id_.find(id);
  if (it == pin_by_id_.end()) return std::nullopt;
  return pins_[it->second];
}

int Store::unpin_cid(const std::string& cid) {
  std::lock_guard lock(mu_);
  auto it = pinned_by_cid_.find(cid);
  if (it == pinned_by_cid_.end()) return 0;
  int n = 0;
  for (auto idx : it->second) {
    auto& p = pins_[idx];
    p.date_unpinned_us = now_us();
    append_locked(encode_pin(p));
    ++n;
  }
  pinned_by_cid_.erase(it);
  return n;
}

std::optional<PinRecord> Store::unpin_id(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = pin_by_id_.find(id);
  if (it == pin_by_id_.end()) return std::nullopt;
  auto& p = pins_[it->second];
  if (p.pinned()) {
    p.date_unpinned_us = now_us();
    append_locked(encode_pin(p));
    auto& v = pinned_by_cid_[p.cid];
    std::erase(v, it->second);
    if (v.empty()) pinned_by_cid_.erase(p.cid);
  }
  return p;
}

Result<void> Store::update_metadata(const std::string& cid, const std::optional<std::string>& name,
                                    const std::vector<std::pair<std::string, std::optional<KvValue>>>& patch,
                                    std::size_t max_keys) {
  std::lock_guard lock(mu_);
  auto it = pinned_by_cid_.find(cid);
  if (it == pinned_by_cid_.end() || it->second.empty()) return fail(ENOENT, "not pinned: " + cid);
  for (auto idx : it->second) {
    KeyValues kvs = pins_[idx].keyvalues;
    for (auto& [k, v] : patch) {
      if (v)
        kvs[k] = *v;
      else
        kvs.erase(k);
    }
    if (kvs.size() > max_keys) return fail(E2BIG, "too many keyvalues");
  }
  for (auto idx : it->second) {
    auto& p = pins_[idx];
    for (auto& [k, v] : patch) {
      if (v)
        p.keyvalues[k] = *v;
      else
        p.keyvalues.erase(k);
    }
    if (name) p.name = *name;
    append_locked(encode_pin(p));
  }
  return {};
}

void Store::with_pins(const std::function<void(const std::vector<PinRecord>&)>& fn) const {
  std::lock_guard lock(mu_);
  fn(pins_);
}

void Store::add_job(JobRecord job) {
  std::lock_guard lock(mu_);
  append_locked(encode_job(job));
  job_by_id_[job.id] = jobs_.size();
  jobs_.push_back(std::move(job));
}

std::optional<JobRecord> Store::get_job(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = job_by_id_.find(id);
  if (it == job_by_id_.end()) return std::nullopt;
  return jobs_[it->second];
}

void Store::set_job_status(const std::string& id, const std::string& status) {
  std::lock_guard lock(mu_);
  auto it = job_by_id_.find(id);
  if (it == job_by_id_.end()) return;
  auto& j = jobs_[it->second];
  if (j.status == status) return;
  j.status = status;
  append_locked(encode_job(j));
}

void Store::with_jobs(const std::function<void(const std::vector<JobRecord>&)>& fn) const {
  std::lock_guard lock(mu_);
  fn(jobs_);
}

}  // namespace pinfs::emulator
