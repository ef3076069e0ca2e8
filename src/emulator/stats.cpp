#include "pinfs/emulator/stats.hpp"

#include "pinfs/emulator/json_util.hpp"

namespace pinfs::emulator {

void Stats::request(const std::string& endpoint, std::uint64_t bytes_in) {
  std::lock_guard lock(mu_);
  ++requests_[endpoint];
  ++total_;
  bytes_in_ += bytes_in;
}

void Stats::response(int status, std::uint64_t bytes_out) {
  std::lock_guard lock(mu_);
  ++statuses_[status];
  bytes_out_ += bytes_out;
}

void Stats::add_bytes_in(std::uint64_t n) {
  std::lock_guard lock(mu_);
  bytes_in_ += n;
}

void Stats::add_bytes_out(std::uint64_t n) {
  std::lock_guard lock(mu_);
  bytes_out_ += n;
}

void Stats::upload() {
  std::lock_guard lock(mu_);
  ++uploads_;
}

std::string Stats::to_json() const {
  std::lock_guard lock(mu_);
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("requests");
  w.StartObject();
  for (auto& [k, v] : requests_) {
    w.Key(k.c_str());
    w.Uint64(v);
  }
  w.EndObject();
  w.Key("responses_by_status");
  w.StartObject();
  for (auto& [k, v] : statuses_) {
    w.Key(std::to_string(k).c_str());
    w.Uint64(v);
  }
  w.EndObject();
  w.Key("requests_total");
  w.Uint64(total_);
  w.Key("bytes_in");
  w.Uint64(bytes_in_);
  w.Key("bytes_out");
  w.Uint64(bytes_out_);
  w.Key("uploads");
  w.Uint64(uploads_);
  w.EndObject();
  return sb.GetString();
}

}  // namespace pinfs::emulator
