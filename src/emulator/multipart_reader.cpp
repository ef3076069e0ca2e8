#include <sys/socket.h>
#include <sys/stat.h>

#include <filesystem>

#include "pinfs/emulator/handlers.hpp"
#include "pinfs/emulator/upload.hpp"

namespace pinfs::emulator {

RequestState& request_state() {
  thread_local RequestState state;
  return state;
}

void abort_connection(const httplib::Request& req) {
  // httplib does not hand the socket to handlers; find it by its two ports among our descriptors.
  std::error_code ec;
  for (auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    int fd = -1;
    try {
      fd = std::stoi(entry.path().filename().string());
    } catch (...) {
      continue;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_storage local{}, peer{};
    socklen_t ll = sizeof local, pl = sizeof peer;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll) != 0) continue;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0) continue;
    auto port_of = [](const sockaddr_storage& a) -> int {
      if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
      if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
      return -1;
    };
    if (port_of(local) == req.local_port && port_of(peer) == req.remote_port) {
      linger lg{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      ::shutdown(fd, SHUT_RDWR);
      return;
    }
  }
}

bool read_multipart(const httplib::Request& req, const httplib::ContentReader& reader,
                    MultipartIngest& ingest, Context& ctx) {
  auto& st = request_state();
  std::uint64_t reset_after = 0;
  bool reset = st.fault && st.fault->action == FaultAction::ResetRequest;
  if (reset) reset_after = st.fault->after_bytes;
  std::uint64_t seen = 0;
  bool aborted = false;
  bool chunked = !req.has_header("Content-Length");
  bool ok = reader(
      [&](const httplib::MultipartFormData& part) {
        return ingest.on_part_header(part.name, part.filename, part.content_type);
      },
      [&](const char* data, std::size_t len) {
        seen += len;
        if (chunked) ctx.stats.add_bytes_in(len);  // no Content-Length for the pre-routing count
        if (reset && seen >= reset_after) {
          aborted = true;
          abort_connection(req);
          return false;
        }
        return ingest.on_data(data, len);
      });
  if (!ok || aborted) return false;
  return ingest.close_parts().has_value();
}

}  // namespace pinfs::emulator
