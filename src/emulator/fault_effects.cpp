// Response-side fault effects, applied by the server's post-routing hook: cut the body short,
// truncate it, break its JSON, or swap the CIDs it carries.
#include "pinfs/cid/cid.hpp"
#include "pinfs/emulator/handlers.hpp"
#include "pinfs/emulator/json_util.hpp"

namespace pinfs::emulator {

namespace {

// Replaces every CID-valued field of a JSON reply with a different, valid CID.
bool corrupt_cids(rapidjson::Value& v, rapidjson::Document::AllocatorType& alloc) {
  static const char* keys[] = {"IpfsHash", "ipfsHash", "cid", "ipfs_pin_hash", "hashToPin"};
  bool changed = false;
  if (v.IsObject()) {
    for (auto& m : v.GetObject()) {
      bool is_key = false;
      for (auto* k : keys) is_key = is_key || std::string(m.name.GetString()) == k;
      if (is_key && m.value.IsString()) {
        auto c = cid::Cid::parse(m.value.GetString());
        if (c) {
          std::string junk = "pinfs-emulator wrong cid for " + c->to_string();
          auto wrong = cid::cid_of_block(
              c->version(), c->version() == 0 ? cid::Codec::DagPb : c->codec(),
              cid::ByteView(reinterpret_cast<const std::uint8_t*>(junk.data()), junk.size()));
          m.value.SetString(wrong.to_string().c_str(), alloc);
          changed = true;
        }
      } else {
        changed = corrupt_cids(m.value, alloc) || changed;
      }
    }
  } else if (v.IsArray()) {
    for (auto& e : v.GetArray()) changed = corrupt_cids(e, alloc) || changed;
  }
  return changed;
}

// httplib computes Content-Length before the post-routing hook runs; a fault that changes the
// body length must restate it, or the client would wait for bytes that never come.
void restate_length(httplib::Response& res, std::size_t n) {
  res.headers.erase("Content-Length");
  res.set_header("Content-Length", std::to_string(n));
}

}  // namespace

void apply_response_fault(const FaultRule& f, httplib::Response& res) {
  bool provider = res.body.empty() && res.content_provider_;
  switch (f.action) {
    case FaultAction::ResetResponse: {
      std::uint64_t limit = f.after_bytes;
      if (!provider) {
        auto body = std::make_shared<std::string>(std::move(res.body));
        res.body.clear();
        std::string type = res.get_header_value("Content-Type");
        res.set_content_provider(
            body->size(), type,
            [body, limit](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
              if (offset >= limit) return false;  // drop the connection mid-body
              std::size_t n = std::min<std::size_t>(length, limit - offset);
              return sink.write(body->data() + offset, n);
            });
      } else {
        auto inner = res.content_provider_;
        res.content_provider_ = [inner, limit](std::size_t offset, std::size_t length,
                                               httplib::DataSink& sink) {
          if (offset >= limit) return false;
          return inner(offset, std::min<std::size_t>(length, limit - offset), sink);
        };
      }
      break;
    }
    case FaultAction::Truncate:
      if (!provider) {
        res.body.resize(res.body.size() / 2);
        restate_length(res, res.body.size());
      } else {
        res.content_length_ /= 2;
        restate_length(res, res.content_length_);
        const std::size_t limit = res.content_length_;
        auto inner = res.content_provider_;
        res.content_provider_ = [inner, limit](std::size_t offset, std::size_t length,
                                               httplib::DataSink& sink) {
          if (offset >= limit) return false;
          return inner(offset, std::min<std::size_t>(length, limit - offset), sink);
        };
      }
      // A streamed body may still write past the new length; closing the connection keeps those bytes from
      // being read as the start of the next response on it.
      res.set_header("Connection", "close");
      break;
    case FaultAction::Malformed:
      res.body = "{\"pinfs-emulator\": malformed <<<" + res.body.substr(0, res.body.size() / 3);
      res.content_provider_ = nullptr;
      res.content_length_ = 0;
      restate_length(res, res.body.size());
      break;
    case FaultAction::WrongCid: {
      if (provider) {
        auto inner = res.content_provider_;
        res.content_provider_ = [inner](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
          if (offset != 0) return inner(offset, length, sink);
          // Flip the first byte: the bytes no longer hash to the CID asked for.
          httplib::DataSink flip;
          bool first = true;
          flip.write = [&](const char* d, std::size_t n) {
            if (first && n > 0) {
              std::string copy(d, n);
              copy[0] = static_cast<char>(copy[0] ^ 0x5a);
              first = false;
              return sink.write(copy.data(), copy.size());
            }
            return sink.write(d, n);
          };
          flip.is_writable = sink.is_writable;
          flip.done = sink.done;
          return inner(offset, length, flip);
        };
        break;
      }
      rapidjson::Document d;
      d.Parse(res.body.c_str(), res.body.size());
      if (!d.HasParseError() && corrupt_cids(d, d.GetAllocator())) {
        rapidjson::StringBuffer sb;
        JsonWriter w(sb);
        d.Accept(w);
        res.body = sb.GetString();
        restate_length(res, res.body.size());
      } else if (!res.body.empty()) {
        res.body[0] = static_cast<char>(res.body[0] ^ 0x5a);
      }
      break;
    }
    default:
      break;
  }
}

}  // namespace pinfs::emulator
