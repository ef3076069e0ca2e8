// A real PinService and Gateway (factory, curl, retries) against a real pinfs-emulator, per provider.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "../support/emulator_process.hpp"
#include "pinfs/cid/importer.hpp"
#include "pinfs/service/factory.hpp"

namespace pinfs::service::testing {

class EmulatorService {
 public:
  explicit EmulatorService(std::string provider, std::vector<std::string> emulator_args = {})
      : provider_(std::move(provider)),
        emu_(std::make_unique<pinfs::testing::EmulatorProcess>(
            pinfs::testing::EmulatorProcess::Options{std::move(emulator_args), ""})) {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("svc-" + provider_ + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::create_directories(dir_);
  }
  ~EmulatorService() {
    emu_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  bool pinata() const { return provider_ == "pinata"; }
  pinfs::testing::EmulatorProcess& emulator() { return *emu_; }

  ServiceConfig config() const {
    ServiceConfig c;
    c.provider = provider_;
    c.api_url = pinata() ? emu_->base_url() : emu_->base_url() + "/api";
    c.gateway_url = emu_->base_url();
    if (pinata()) {
      c.credentials.jwt = emu_->jwt();
    } else {
      c.credentials.api_key = emu_->api_key();
      c.credentials.api_secret = emu_->api_secret();
    }
    c.rate_per_minute = 0;
    c.list_rate_per_minute = 0;
    c.connect_timeout_s = 5;
    c.low_speed_time_s = 10;
    return c;
  }
  std::unique_ptr<PinService> service(const ServiceConfig& c) {
    auto s = make_pin_service(c);
    EXPECT_TRUE(s.has_value()) << s.error().describe();
    return s ? std::move(*s) : nullptr;
  }
  std::unique_ptr<PinService> service() { return service(config()); }
  std::unique_ptr<Gateway> gateway(const ServiceConfig& c) {
    auto g = make_gateway(c);
    EXPECT_TRUE(g.has_value()) << g.error().describe();
    return g ? std::move(*g) : nullptr;
  }

  std::string staged(const std::string& name, const std::string& content) {
    const auto path = dir_ / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << content;
    return path.string();
  }
  static std::string local_cid(const std::string& path) {
    cid::ImportOptions o;
    o.cid_version = 1;
    auto r = cid::import_file(path, o);
    EXPECT_TRUE(r.has_value());
    return r ? r->cid.to_string() : "";
  }

  void add_fault(const std::string& json) {
    int status = 0;
    const std::string answer = emu_->request_with_status("POST", "/_emulator/faults", json, status);
    ASSERT_EQ(status, 200) << answer;
  }
  void clear_faults() { emu_->request("DELETE", "/_emulator/faults"); }
  std::uint64_t requests_to(const std::string& endpoint) {
    rapidjson::Document d;
    d.Parse(emu_->request("GET", "/_emulator/stats").c_str());
    if (!d.IsObject() || !d.HasMember("requests") || !d["requests"].HasMember(endpoint.c_str())) return 0;
    return d["requests"][endpoint.c_str()].GetUint64();
  }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::string provider_;
  std::unique_ptr<pinfs::testing::EmulatorProcess> emu_;
  std::filesystem::path dir_;
};

}  // namespace pinfs::service::testing
