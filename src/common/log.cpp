#include "pinfs/common/log.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

namespace pinfs::log {
namespace {

constexpr std::string_view kMask = "[REDACTED]";

struct SecretSet {
  std::shared_mutex mutex;  // guards secrets
  std::vector<std::string> secrets;
};

SecretSet& secret_set() {
  static SecretSet set;
  return set;
}

// Wraps the real sink and scrubs each formatted line before it is written.
class RedactingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit RedactingSink(spdlog::sink_ptr inner) : inner_(std::move(inner)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string clean = redact(std::string_view(msg.payload.data(), msg.payload.size()));
    spdlog::details::log_msg copy(msg.time, msg.source, msg.logger_name, msg.level, clean);
    inner_->log(copy);
  }
  void flush_() override { inner_->flush(); }

 private:
  spdlog::sink_ptr inner_;
};

}  // namespace

void add_secret(std::string_view secret) {
  if (secret.size() < 4) return;  // masking tiny strings would shred ordinary text
  auto& set = secret_set();
  std::unique_lock lock(set.mutex);
  if (std::find(set.secrets.begin(), set.secrets.end(), secret) == set.secrets.end()) {
    set.secrets.emplace_back(secret);
  }
}

std::string redact(std::string_view text) {
  std::string out(text);
  auto& set = secret_set();
  std::shared_lock lock(set.mutex);
  for (const auto& secret : set.secrets) {
    for (size_t pos = out.find(secret); pos != std::string::npos;
         pos = out.find(secret, pos + kMask.size())) {
      out.replace(pos, secret.size(), kMask);
    }
  }
  return out;
}

void setup(std::string_view level, std::string_view file_path) {
  spdlog::sink_ptr inner;
  if (file_path.empty()) {
    inner = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  } else {
    inner = std::make_shared<spdlog::sinks::basic_file_sink_mt>(std::string(file_path));
  }
  auto logger = std::make_shared<spdlog::logger>("pinfs", std::make_shared<RedactingSink>(inner));
  logger->set_level(spdlog::level::from_str(std::string(level)));
  // A daemon's log file is read with tail -f while it runs: every line goes out at once. (A periodic flusher
  // thread would not survive the fork that detaches the daemon.)
  logger->flush_on(file_path.empty() ? spdlog::level::warn : spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace pinfs::log
