// Helpers for driving the real pinfs-emulator binary over HTTP in tests.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "../support/emulator_process.hpp"

namespace pinfs::testing {

inline httplib::Client client_for(const EmulatorProcess& emu) {
  httplib::Client cli("127.0.0.1", emu.port());
  cli.set_read_timeout(60, 0);
  cli.set_write_timeout(60, 0);
  return cli;
}

inline httplib::Headers jwt_headers(const EmulatorProcess& emu) {
  return {{"Authorization", "Bearer " + emu.jwt()}};
}
inline httplib::Headers key_headers(const EmulatorProcess& emu) {
  return {{"pinata_api_key", emu.api_key()}, {"pinata_secret_api_key", emu.api_secret()}};
}
inline httplib::Headers aioz_headers(const EmulatorProcess& emu) {
  return {{"pinning_api_key", emu.api_key()}, {"pinning_secret_key", emu.api_secret()}};
}

inline rapidjson::Document parse_json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  EXPECT_FALSE(d.HasParseError()) << "not JSON: " << text.substr(0, 300);
  return d;
}

inline std::string str(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key) || !v[key].IsString()) return "<missing " + std::string(key) + ">";
  return v[key].GetString();
}

struct Part {
  std::string name;  // form field
  std::string content;
  std::string filename;
  std::string content_type;
};

inline httplib::MultipartFormDataItems form(const std::vector<Part>& parts) {
  httplib::MultipartFormDataItems items;
  for (auto& p : parts) items.push_back({p.name, p.content, p.filename, p.content_type});
  return items;
}

// Uploads through Pinata pinFileToIPFS; returns the response (asserts transport success).
inline httplib::Result pinata_upload(httplib::Client& cli, const EmulatorProcess& emu,
                                     const std::vector<Part>& parts) {
  auto r = cli.Post("/pinning/pinFileToIPFS", jwt_headers(emu), form(parts));
  EXPECT_TRUE(r) << "transport error " << httplib::to_string(r.error());
  return r;
}

inline std::string pinata_upload_cid(httplib::Client& cli, const EmulatorProcess& emu,
                                     const std::string& filename, const std::string& content, int cid_version,
                                     const std::string& metadata = "") {
  std::vector<Part> parts{{"file", content, filename, "application/octet-stream"}};
  parts.push_back({"pinataOptions", "{\"cidVersion\":" + std::to_string(cid_version) + "}", "", ""});
  if (!metadata.empty()) parts.push_back({"pinataMetadata", metadata, "", ""});
  auto r = pinata_upload(cli, emu, parts);
  if (!r || r->status != 200) {
    ADD_FAILURE() << "upload failed: " << (r ? r->body : "transport");
    return {};
  }
  return str(parse_json(r->body), "IpfsHash");
}

inline std::string random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

inline std::string write_temp(const std::string& name, const std::string& content) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

// Runs a shell command, capturing stdout (stderr goes to the test log).
inline CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int st = ::pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

}  // namespace pinfs::testing

namespace pinfs::testing {

inline std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace pinfs::testing
