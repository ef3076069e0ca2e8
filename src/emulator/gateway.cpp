// Path and trustless gateway: GET/HEAD /ipfs/<cid>[/path], single Range, ?format=raw|car.
#include <functional>
#include <memory>
#include <set>

#include "pinfs/emulator/auth.hpp"
#include "pinfs/emulator/dag_reader.hpp"
#include "pinfs/emulator/handlers.hpp"

namespace pinfs::emulator {

namespace {

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void plain_error(httplib::Response& res, int status, const std::string& text) {
  res.status = status;
  res.set_content(text + "\n", "text/plain; charset=utf-8");
}

// Parses a single "bytes=a-b" / "bytes=a-" / "bytes=-n"; false when absent or not a single range.
struct ByteRange {
  bool present = false;
  bool satisfiable = true;
};

ByteRange check_range(const httplib::Request& req, std::uint64_t size) {
  ByteRange r;
  if (!req.has_header("Range")) return r;
  r.present = true;
  r.satisfiable = false;
  std::string v = req.get_header_value("Range");
  if (v.rfind("bytes=", 0) != 0 || v.find(',') != std::string::npos) return r;
  std::string spec = v.substr(6);
  auto dash = spec.find('-');
  if (dash == std::string::npos) return r;
  std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
  auto number = [](const std::string& s, std::uint64_t& out) {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 19) return false;
    out = std::stoull(s);
    return true;
  };
  std::uint64_t start = 0, end = 0;
  if (a.empty()) {
    r.satisfiable = number(b, end) && end > 0 && size > 0;  // suffix: the last `end` bytes
    return r;
  }
  if (!number(a, start) || start >= size) return r;
  if (!b.empty() && (!number(b, end) || end < start)) return r;
  r.satisfiable = true;
  return r;
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

// CARv1 header: dag-cbor {"roots":[CID],"version":1}, keys in dag-cbor's canonical order.
std::string car_header(const cid::Cid& root) {
  cid::Bytes cid_bytes = root.to_bytes();
  std::string cbor = "\xa2\x65roots\x81\xd8\x2a";
  std::size_t n = cid_bytes.size() + 1;  // the 0x00 multibase-identity prefix of a CBOR CID
  if (n < 24) {
    cbor += static_cast<char>(0x40 + n);
  } else {
    cbor += '\x58';
    cbor += static_cast<char>(n);
  }
  cbor += '\0';
  cbor.append(cid_bytes.begin(), cid_bytes.end());
  cbor += "\x67version\x01";
  std::string out;
  put_varint(out, cbor.size());
  return out + cbor;
}

// Writes the DAG below c as CAR sections, depth first, parents before children, each block once.
bool car_walk(const BlockStore& blocks, const cid::Cid& c, std::set<std::string>& seen,
              const std::function<bool(const std::string&)>& write) {
  if (!seen.insert(c.to_v1().to_string()).second) return true;
  auto block = blocks.get(c);
  if (!block) return false;
  cid::Bytes cid_bytes = c.to_bytes();
  std::string section;
  put_varint(section, cid_bytes.size() + block->size());
  section.append(cid_bytes.begin(), cid_bytes.end());
  section.append(block->begin(), block->end());
  if (!write(section)) return false;
  if (c.codec() != cid::Codec::DagPb) return true;
  auto node = cid::decode_pb(*block);
  if (!node) return false;
  for (auto& l : node->links)
    if (!car_walk(blocks, l.hash, seen, write)) return false;
  return true;
}

void serve(const httplib::Request& req, httplib::Response& res, Context& ctx) {
  std::string rest = req.matches[1];
  auto slash = rest.find('/');
  std::string cid_text = rest.substr(0, slash);
  std::string sub = slash == std::string::npos ? "" : rest.substr(slash + 1);
  auto root = cid::Cid::parse(cid_text);
  if (!root) {
    plain_error(res, 400, "invalid CID: " + root.error().message);
    return;
  }
  DagReader reader(*ctx.blocks);
  auto target = reader.resolve(*root, sub);
  if (!target) {
    plain_error(res, 404, "not found: " + target.error().message);
    return;
  }
  std::string format = req.has_param("format") ? req.get_param_value("format") : "";
  std::string accept = req.get_header_value("Accept");
  bool raw = format == "raw" || accept.find("application/vnd.ipld.raw") != std::string::npos;
  bool car = format == "car" || accept.find("application/vnd.ipld.car") != std::string::npos;
  res.set_header("X-Ipfs-Path", "/ipfs/" + rest);
  std::string etag = "\"";  // appended, not "\"" + …: GCC 12 -O3 misreports that (-Wrestrict)
  etag += target->to_string();
  etag += raw ? ".raw\"" : car ? ".car\"" : "\"";
  res.set_header("Etag", etag);
  res.set_header("Cache-Control", "public, max-age=29030400, immutable");
  if (raw) {
    auto block = ctx.blocks->get(*target);
    if (!block) {
      plain_error(res, 404, "block not found");
      return;
    }
    res.status = 200;
    res.set_content(std::string(block->begin(), block->end()), "application/vnd.ipld.raw");
    return;
  }
  if (car) {
    if (!ctx.blocks->has(*target)) {
      plain_error(res, 404, "block not found");
      return;
    }
    cid::Cid root_cid = *target;
    Context* c = &ctx;
    res.status = 200;
    res.set_chunked_content_provider(
        "application/vnd.ipld.car; version=1", [c, root_cid](std::size_t, httplib::DataSink& sink) {
          std::set<std::string> seen;
          auto write = [&](const std::string& bytes) {
            c->stats.add_bytes_out(bytes.size());
            return sink.write(bytes.data(), bytes.size());
          };
          // A missing block ends the stream early: the CAR is then
          // incomplete, which a verifying client detects.
          if (write(car_header(root_cid)) && car_walk(*c->blocks, root_cid, seen, write)) sink.done();
          return true;
        });
    return;
  }
  if (!format.empty()) {
    plain_error(res, 400, "unsupported format: " + format);
    return;
  }
  auto node = reader.stat(*target);
  if (!node) {
    plain_error(res, 404, node.error().message);
    return;
  }
  if (node->kind == NodeKind::Directory) {
    if (req.path.empty() || req.path.back() != '/') {
      res.status = 301;
      res.set_header("Location", req.path + "/");
      res.set_content("", "text/plain");
      return;
    }
    std::string html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" +
                       html_escape(req.path) + "</title></head><body>\n<h1>Index of " +
                       html_escape(req.path) + "</h1>\n<ul>\n";
    for (auto& e : node->entries)
      html += "<li><a href=\"" + html_escape(e.name) + "\">" + html_escape(e.name) + "</a> " +
              e.cid.to_string() + " " + std::to_string(e.tsize) + "</li>\n";
    html += "</ul>\n</body></html>\n";
    res.status = 200;
    res.set_content(html, "text/html; charset=utf-8");
    return;
  }
  if (node->kind != NodeKind::File) {
    plain_error(res, 501, "unsupported UnixFS node type");
    return;
  }
  std::uint64_t size = node->size;
  res.set_header("Accept-Ranges", "bytes");
  auto range = check_range(req, size);
  if (range.present && !range.satisfiable) {
    res.status = 416;
    res.set_header("Content-Range", "bytes */" + std::to_string(size));
    return;
  }
  // cpp-httplib 0.11 slices the range itself but does not clamp an end past the file's last byte (it would
  // promise more bytes than exist and stall); RFC 9110 §14.1.1 says such a range ends at the last byte.
  if (range.present && req.ranges.size() == 1 && req.ranges[0].second >= static_cast<ssize_t>(size))
    const_cast<httplib::Request&>(req).ranges[0].second = static_cast<ssize_t>(size) - 1;
  std::string name = sub.empty() ? cid_text : sub.substr(sub.rfind('/') + 1);
  std::string type = sub.empty() ? "application/octet-stream" : guess_mime(name);
  if (size == 0) {
    res.status = 200;
    res.set_content("", type);
    return;
  }
  cid::Cid file = *target;
  Context* c = &ctx;
  // httplib slices the single requested range out of this provider and sets 206 + Content-Range.
  res.set_content_provider(static_cast<std::size_t>(size), type,
                           [c, file](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                             DagReader r(*c->blocks);
                             auto ok =
                                 r.read(file, offset, length, [&](const std::uint8_t* d, std::size_t n) {
                                   c->stats.add_bytes_out(n);
                                   return sink.write(reinterpret_cast<const char*>(d), n);
                                 });
                             return ok.has_value();
                           });
}

}  // namespace

void register_gateway(httplib::Server& svr, Context& ctx) {
  svr.Get("/ipfs/(.+)",
          [&ctx](const httplib::Request& req, httplib::Response& res) { serve(req, res, ctx); });
}

}  // namespace pinfs::emulator
