#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string_view>

#include "fuzz_targets.hpp"
#include "pinfs/cid/cid.hpp"
#include "pinfs/cid/dagpb.hpp"
#include "pinfs/cid/multibase.hpp"
#include "pinfs/cli/config.hpp"
#include "pinfs/emulator/block_store.hpp"
#include "pinfs/emulator/upload.hpp"
#include "pinfs/service/json_decode.hpp"

namespace pinfs::fuzz {
namespace {

// A broken promise is a crash, so the fuzzer reports it with the input.
void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
    std::abort();
  }
}

template <typename T>
void check_error(const Result<T>& r) {
  if (!r) {
    require(r.error().errnum != 0, "an error carries an errno");
    require(!r.error().message.empty(), "an error carries a message");
  }
}

// Reads small numbers off the front of the input to steer a target.
struct Input {
  const std::uint8_t* data;
  std::size_t size;
  std::uint8_t byte() {
    if (size == 0) return 0;
    --size;
    return *data++;
  }
  std::string take(std::size_t n) {
    n = std::min(n, size);
    std::string s(reinterpret_cast<const char*>(data), n);
    data += n;
    size -= n;
    return s;
  }
  std::string rest() { return take(size); }
};

std::string scratch_dir(const char* what) {
  static const std::string base = [] {
    auto dir = std::filesystem::temp_directory_path() / ("pinfs-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir.string();
  }();
  const std::string dir = base + "/" + what;
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace

void service_json(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  std::size_t rows = 0;
  auto list = service::json::decode_pinata_pin_list(body, &rows);
  check_error(list);
  if (list) {
    require(list->pins.size() <= rows, "a page holds at most the rows it had");
    for (const auto& pin : list->pins) require(!pin.cid.empty(), "a listed pin has a CID");
  }
  check_error(service::json::decode_pinata_upload(body));
  check_error(service::json::decode_pinata_pin_by_hash(body));
  check_error(service::json::decode_pinata_jobs(body));
  check_error(service::json::decode_pinata_totals(body));
  check_error(service::json::decode_aioz_pin(body));
  check_error(service::json::decode_aioz_pin_state(body));
  auto aioz = service::json::decode_aioz_pin_list(body, &rows);
  check_error(aioz);
  if (aioz) require(aioz->pins.size() <= rows, "a page holds at most the rows it had");
  check_error(service::json::decode_aioz_totals(body));
  const std::string reason = service::json::error_reason(body);
  require(reason.size() <= 4096 || reason.size() <= size, "a reason is no longer than its body");
  (void)service::json::parse_time(body);
}

void cid_text(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = cid::Cid::parse(text);
  check_error(parsed);
  if (parsed) {
    // What parses prints back to a form that parses to the same CID.
    auto again = cid::Cid::parse(parsed->to_string());
    require(again.has_value() && *again == *parsed, "parse(to_string(c)) == c");
    auto from_bytes = cid::Cid::from_bytes(parsed->to_bytes());
    require(from_bytes.has_value() && *from_bytes == *parsed, "from_bytes(to_bytes(c)) == c");
    require(parsed->to_v1().version() == 1, "to_v1 is version 1");
  }
  check_error(cid::normalize(text));
  auto binary = cid::Cid::from_bytes(cid::ByteView(data, size));
  check_error(binary);
  if (binary) require(cid::Cid::from_bytes(binary->to_bytes()).has_value(), "binary round trip");
  auto b32 = cid::base32_decode(text);
  if (b32) require(cid::base32_decode(cid::base32_encode(*b32)) == *b32, "base32 round trip");
  auto b58 = cid::base58btc_decode(text);
  if (b58) require(cid::base58btc_decode(cid::base58btc_encode(*b58)) == *b58, "base58 round trip");
  cid::ByteView varint(data, size);
  check_error(cid::get_varint(varint));
}

void dagpb(const std::uint8_t* data, std::size_t size) {
  const cid::ByteView bytes(data, size);
  auto node = cid::decode_pb(bytes);
  check_error(node);
  if (node) {
    // Canonical re-encoding decodes to the same node.
    auto again = cid::decode_pb(cid::encode_pb(*node));
    require(again.has_value(), "encode_pb output decodes");
    require(again->links.size() == node->links.size(), "links survive a round trip");
    if (node->data) check_error(cid::decode_unixfs(*node->data));
  }
  auto unixfs = cid::decode_unixfs(bytes);
  check_error(unixfs);
  if (unixfs) {
    auto again = cid::decode_unixfs(cid::encode_unixfs(*unixfs));
    require(again.has_value() && again->type == unixfs->type, "unixfs round trip");
  }
}

// The input is a little program: per part a header byte (kind, name length, filename length), the name,
// the filename, then data in pieces; the final byte picks the CID version. Files go through the real
// MultipartIngest into a BlockStore, and the parts into build_upload_root, names with "..", "/" and all.
void multipart(const std::uint8_t* data, std::size_t size) {
  Input in{data, size};
  const std::string dir = scratch_dir("multipart");
  emulator::BlockStore blocks(dir + "/blocks");
  const int decided = in.byte() % 3;  // 0/1: known at the part's start; 2: spooled, decided at the end
  emulator::MultipartIngest ingest(blocks, dir,
                                   [&](const std::map<std::string, std::string>&) -> std::optional<int> {
                                     if (decided == 2) return std::nullopt;
                                     return decided;
                                   });
  bool ok = true;
  for (int parts = 0; ok && in.size > 0 && parts < 16; ++parts) {
    const std::uint8_t header = in.byte();
    const bool is_file = header & 1;
    const std::string name = is_file ? "file" : in.take((header >> 1) & 7);
    const std::string filename = is_file ? in.take(in.byte() % 48) : "";
    ok = ingest.on_part_header(name, filename, is_file ? "application/octet-stream" : "");
    const std::size_t pieces = in.byte() % 4;
    for (std::size_t p = 0; ok && p < pieces; ++p) {
      const std::string piece = in.take(in.byte());
      ok = ingest.on_data(piece.data(), piece.size());
    }
  }
  if (!ok) return;
  auto closed = ingest.close_parts();
  check_error(closed);
  if (!closed) return;
  auto finished = ingest.finish(decided == 2 ? 1 : decided);
  check_error(finished);
  if (!finished || ingest.files().empty()) return;
  auto root = emulator::build_upload_root(blocks, ingest.files(), decided == 1 ? 1 : 0, in.byte() & 1);
  check_error(root);
  if (root) require(root->cid.valid(), "an upload root has a CID");
  std::error_code ec;
  std::filesystem::remove_all(dir + "/blocks", ec);
}

void config(const std::uint8_t* data, std::size_t size) {
  const std::string dir = scratch_dir("config");
  const std::string path = dir + "/config.toml";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  const cli::EnvLookup env = [&](const std::string& name) -> std::optional<std::string> {
    if (name == "HOME") return dir;
    return std::nullopt;
  };
  auto parsed = cli::parse_config_file(path, env);
  check_error(parsed);
  if (parsed) {
    for (const auto& p : parsed->profiles)
      require(parsed->find(p.name) != nullptr, "a profile is found by name");
  }
}

const std::vector<NamedTarget>& all_targets() {
  static const std::vector<NamedTarget> targets = {
      {"service_json", service_json}, {"cid_text", cid_text}, {"dagpb", dagpb},
      {"multipart", multipart},       {"config", config},
  };
  return targets;
}

}  // namespace pinfs::fuzz
