#include "pinfs/emulator/auth.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include "pinfs/common/log.hpp"
#include "pinfs/emulator/json_util.hpp"

namespace pinfs::emulator {

namespace {

bool constant_time_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

}  // namespace

Result<Credentials> load_credentials(const std::string& data_dir, std::string& generated_path) {
  Credentials c;
  c.jwt = env_or_empty("PINFS_EMULATOR_JWT");
  c.api_key = env_or_empty("PINFS_EMULATOR_API_KEY");
  c.api_secret = env_or_empty("PINFS_EMULATOR_API_SECRET");
  if (c.jwt.empty() || c.api_key.empty() || c.api_secret.empty()) {
    std::string path = data_dir + "/credentials";
    std::map<std::string, std::string> file;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      auto eq = line.find('=');
      if (eq != std::string::npos) file[line.substr(0, eq)] = line.substr(eq + 1);
    }
    bool complete = file.count("PINFS_EMULATOR_JWT") && file.count("PINFS_EMULATOR_API_KEY") &&
                    file.count("PINFS_EMULATOR_API_SECRET");
    if (!complete) {
      file["PINFS_EMULATOR_JWT"] = random_token(64);
      file["PINFS_EMULATOR_API_KEY"] = random_token(20);
      file["PINFS_EMULATOR_API_SECRET"] = random_token(44);
      std::string tmp = path + ".tmp";
      int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0) return fail_errno("create " + tmp);
      ::fchmod(fd, 0600);
      std::string text;
      for (auto& [k, v] : file) text += k + "=" + v + "\n";
      bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
      ::fsync(fd);
      ::close(fd);
      if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) return fail_errno("write " + path);
    }
    generated_path = path;
    if (c.jwt.empty()) c.jwt = file["PINFS_EMULATOR_JWT"];
    if (c.api_key.empty()) c.api_key = file["PINFS_EMULATOR_API_KEY"];
    if (c.api_secret.empty()) c.api_secret = file["PINFS_EMULATOR_API_SECRET"];
  }
  log::add_secret(c.jwt);
  log::add_secret(c.api_secret);
  return c;
}

void json_reply(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json; charset=utf-8");
}

void pinata_error(httplib::Response& res, int status, const std::string& reason, const std::string& details) {
  json_reply(res, status,
             "{\"error\":{\"reason\":" + json_escape_string(reason) +
                 ",\"details\":" + json_escape_string(details) + "}}");
}

void aioz_error(httplib::Response& res, int status, const std::string& message) {
  json_reply(res, status, "{\"message\":" + json_escape_string(message) + ",\"status\":\"error\"}");
}

bool pinata_authorized(const httplib::Request& req, httplib::Response& res, const Credentials& creds) {
  std::string auth = req.get_header_value("Authorization");
  if (auth.size() > 7 && (auth.compare(0, 7, "Bearer ") == 0 || auth.compare(0, 7, "bearer ") == 0)) {
    if (constant_time_equal(auth.substr(7), creds.jwt)) return true;
  } else if (req.has_header("pinata_api_key") || req.has_header("pinata_secret_api_key")) {
    if (constant_time_equal(req.get_header_value("pinata_api_key"), creds.api_key) &&
        constant_time_equal(req.get_header_value("pinata_secret_api_key"), creds.api_secret))
      return true;
  }
  pinata_error(res, 401, "INVALID_CREDENTIALS", "Invalid/expired credentials");
  return false;
}

bool aioz_authorized(const httplib::Request& req, httplib::Response& res, const Credentials& creds) {
  if (req.has_header("pinning_api_key") && req.has_header("pinning_secret_key") &&
      constant_time_equal(req.get_header_value("pinning_api_key"), creds.api_key) &&
      constant_time_equal(req.get_header_value("pinning_secret_key"), creds.api_secret))
    return true;
  aioz_error(res, 401, "Unauthorized: invalid pinning_api_key or pinning_secret_key");
  return false;
}

}  // namespace pinfs::emulator
