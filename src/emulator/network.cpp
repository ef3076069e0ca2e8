#include "pinfs/emulator/network.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>

namespace pinfs::emulator {

namespace {

using Clock = std::chrono::steady_clock;

// Bytes per second at `mbit` megabits (10^6 bits) per second.
double bytes_per_second(double mbit) {
  return mbit * 1e6 / 8.0;
}

// Writes through a sink no faster than the rate: before each slice, waits until the bytes already written
// plus the slice would have taken that long at the rate since the first write.
struct Pacer {
  double rate;  // bytes per second
  Clock::time_point start{};
  std::uint64_t sent = 0;

  bool write(httplib::DataSink& sink, const char* data, std::size_t size) {
    constexpr std::size_t kSlice = 16 * 1024;
    if (sent == 0) start = Clock::now();
    while (size > 0) {
      const std::size_t n = std::min(size, kSlice);
      const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(static_cast<double>(sent + n) / rate));
      std::this_thread::sleep_until(due);
      if (!sink.write(data, n)) return false;
      sent += n;
      data += n;
      size -= n;
    }
    return true;
  }
};

}  // namespace

void NetworkShape::delay_request() const {
  if (int ms = latency_ms(); ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

void NetworkShape::shape_reply(httplib::Response& res) const {
  const double mbit = bandwidth_mbit();
  if (mbit <= 0) return;
  const double rate = bytes_per_second(mbit);
  if (res.content_provider_) {
    auto inner = res.content_provider_;
    auto pacer = std::make_shared<Pacer>(Pacer{rate});
    res.content_provider_ = [inner, pacer](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
      httplib::DataSink paced;
      paced.write = [&](const char* d, std::size_t n) { return pacer->write(sink, d, n); };
      paced.done = [&] { sink.done(); };
      paced.is_writable = [&] { return sink.is_writable(); };
      return inner(offset, length, paced);
    };
  } else if (!res.body.empty()) {
    std::this_thread::sleep_for(std::chrono::duration<double>(static_cast<double>(res.body.size()) / rate));
  }
}

Result<void> NetworkShape::update_json(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return fail(EINVAL, "expected a JSON object");
  std::optional<int> latency;
  std::optional<double> bandwidth;
  for (auto& m : doc.GetObject()) {
    const std::string key = m.name.GetString();
    if (key == "latency_ms") {
      if (!m.value.IsInt() || m.value.GetInt() < 0 || m.value.GetInt() > 600000)
        return fail(EINVAL, "latency_ms must be an integer from 0 to 600000");
      latency = m.value.GetInt();
    } else if (key == "bandwidth_mbit") {
      if (!m.value.IsNumber() || m.value.GetDouble() < 0)
        return fail(EINVAL, "bandwidth_mbit must be a non-negative number (0: unlimited)");
      bandwidth = m.value.GetDouble();
    } else {
      return fail(EINVAL, "unknown key '" + key + "' (latency_ms, bandwidth_mbit)");
    }
  }
  if (latency) set_latency_ms(*latency);
  if (bandwidth) set_bandwidth_mbit(*bandwidth);
  return {};
}

std::string NetworkShape::to_json() const {
  return "{\"latency_ms\":" + std::to_string(latency_ms()) +
         ",\"bandwidth_mbit\":" + std::to_string(bandwidth_mbit()) + "}";
}

}  // namespace pinfs::emulator
