// Credentials: from the environment, else DIR/credentials (created 0600 when missing), and the
// two providers' header checks with their own 401 shapes.
#pragma once

#include <httplib.h>

#include <string>

#include "pinfs/common/error.hpp"
#include "pinfs/emulator/context.hpp"

namespace pinfs::emulator {

// `generated_path` is set when a credentials file was written (the caller says where on stderr).
Result<Credentials> load_credentials(const std::string& data_dir, std::string& generated_path);

// Each returns true when authorised; otherwise it has written the provider's 401 to res.
bool pinata_authorized(const httplib::Request& req, httplib::Response& res, const Credentials& creds);
bool aioz_authorized(const httplib::Request& req, httplib::Response& res, const Credentials& creds);

void pinata_error(httplib::Response& res, int status, const std::string& reason, const std::string& details);
void aioz_error(httplib::Response& res, int status, const std::string& message);
void json_reply(httplib::Response& res, int status, const std::string& body);

}  // namespace pinfs::emulator
