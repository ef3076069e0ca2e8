#include "pinfs/cid/dagpb.hpp"

#include "pinfs/cid/multibase.hpp"

namespace pinfs::cid {
namespace {

enum WireType : std::uint64_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void put_tag(Bytes& out, std::uint64_t field, WireType type) {
  put_varint(out, (field << 3) | type);
}

void put_length_delimited(Bytes& out, std::uint64_t field, ByteView bytes) {
  put_tag(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out.insert(out.end(), bytes.begin(), bytes.end());
}

ByteView view_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

struct Field {
  std::uint64_t number = 0;
  WireType type = kVarint;
  std::uint64_t value = 0;  // varint value
  ByteView bytes;           // length-delimited payload
};

// Reads one protobuf field; `where` names the message for errors.
Result<Field> read_field(ByteView& in, const char* where) {
  auto tag = get_varint(in);
  if (!tag) return fail(EINVAL, std::string(where) + ": field tag: " + tag.error().message);
  Field field;
  field.number = *tag >> 3;
  auto type = *tag & 7;
  if (field.number == 0) return fail(EINVAL, std::string(where) + ": field number 0");
  switch (type) {
    case kVarint: {
      auto value = get_varint(in);
      if (!value) {
        return fail(EINVAL, std::string(where) + ": field " + std::to_string(field.number) + ": " +
                                value.error().message);
      }
      field.type = kVarint;
      field.value = *value;
      return field;
    }
    case kLengthDelimited: {
      auto length = get_varint(in);
      if (!length) {
        return fail(EINVAL, std::string(where) + ": field " + std::to_string(field.number) +
                                " length: " + length.error().message);
      }
      if (*length > in.size()) {
        return fail(EINVAL, std::string(where) + ": field " + std::to_string(field.number) + " length " +
                                std::to_string(*length) + " runs past the end (" + std::to_string(in.size()) +
                                " bytes left)");
      }
      field.type = kLengthDelimited;
      field.bytes = in.first(*length);
      in = in.subspan(*length);
      return field;
    }
    case kFixed64:
    case kFixed32: {
      std::size_t width = type == kFixed64 ? 8 : 4;
      if (in.size() < width) return fail(EINVAL, std::string(where) + ": truncated fixed-width field");
      field.type = static_cast<WireType>(type);
      in = in.subspan(width);
      return field;
    }
    default:
      return fail(EINVAL, std::string(where) + ": field " + std::to_string(field.number) +
                              " has unsupported wire type " + std::to_string(type));
  }
}

Result<void> expect_type(const Field& field, WireType type, const char* name) {
  if (field.type != type) {
    return fail(EINVAL, std::string(name) + " has wire type " + std::to_string(field.type) + ", expected " +
                            std::to_string(type));
  }
  return {};
}

Result<PbLink> decode_link(ByteView in) {
  PbLink link;
  std::uint64_t last_field = 0;
  bool has_hash = false;
  while (!in.empty()) {
    auto field = read_field(in, "PBLink");
    if (!field) return std::unexpected(field.error());
    // Canonical dag-pb: Hash, Name, Tsize, each at most once, in that order.
    if (field->number <= last_field) {
      return fail(EINVAL, "PBLink: field " + std::to_string(field->number) + " is out of order or repeated");
    }
    last_field = field->number;
    switch (field->number) {
      case 1: {
        if (auto ok = expect_type(*field, kLengthDelimited, "PBLink.Hash"); !ok)
          return std::unexpected(ok.error());
        auto cid = Cid::from_bytes(field->bytes);
        if (!cid) return fail(EINVAL, "PBLink.Hash: " + cid.error().message);
        link.hash = *cid;
        has_hash = true;
        break;
      }
      case 2: {
        if (auto ok = expect_type(*field, kLengthDelimited, "PBLink.Name"); !ok)
          return std::unexpected(ok.error());
        link.name.emplace(reinterpret_cast<const char*>(field->bytes.data()), field->bytes.size());
        break;
      }
      case 3: {
        if (auto ok = expect_type(*field, kVarint, "PBLink.Tsize"); !ok) return std::unexpected(ok.error());
        link.tsize = field->value;
        break;
      }
      default:
        return fail(EINVAL, "PBLink: unknown field " + std::to_string(field->number));
    }
  }
  if (!has_hash) return fail(EINVAL, "PBLink: missing Hash");
  return link;
}

}  // namespace

Bytes encode_pb(const PbNode& node) {
  Bytes out;
  Bytes link_bytes;
  for (const PbLink& link : node.links) {
    link_bytes.clear();
    put_length_delimited(link_bytes, 1, link.hash.to_bytes());
    if (link.name) put_length_delimited(link_bytes, 2, view_of(*link.name));
    if (link.tsize) {
      put_tag(link_bytes, 3, kVarint);
      put_varint(link_bytes, *link.tsize);
    }
    put_length_delimited(out, 2, link_bytes);
  }
  if (node.data) put_length_delimited(out, 1, *node.data);
  return out;
}

Result<PbNode> decode_pb(ByteView bytes) {
  PbNode node;
  ByteView in = bytes;
  while (!in.empty()) {
    auto field = read_field(in, "PBNode");
    if (!field) return fail(EINVAL, "dag-pb: " + field.error().message);
    if (field->number == 2) {
      if (auto ok = expect_type(*field, kLengthDelimited, "PBNode.Links"); !ok) {
        return fail(EINVAL, "dag-pb: " + ok.error().message);
      }
      if (node.data) return fail(EINVAL, "dag-pb: PBNode.Links after Data (not canonical)");
      auto link = decode_link(field->bytes);
      if (!link) {
        return fail(EINVAL,
                    "dag-pb: link " + std::to_string(node.links.size()) + ": " + link.error().message);
      }
      node.links.push_back(std::move(*link));
    } else if (field->number == 1) {
      if (auto ok = expect_type(*field, kLengthDelimited, "PBNode.Data"); !ok) {
        return fail(EINVAL, "dag-pb: " + ok.error().message);
      }
      if (node.data) return fail(EINVAL, "dag-pb: PBNode.Data repeated");
      node.data.emplace(field->bytes.begin(), field->bytes.end());
    } else {
      return fail(EINVAL, "dag-pb: PBNode: unknown field " + std::to_string(field->number));
    }
  }
  return node;
}

Bytes encode_unixfs(const UnixfsData& data) {
  Bytes out;
  put_tag(out, 1, kVarint);
  put_varint(out, static_cast<std::uint64_t>(data.type));
  if (data.data) put_length_delimited(out, 2, *data.data);
  if (data.filesize) {
    put_tag(out, 3, kVarint);
    put_varint(out, *data.filesize);
  }
  // proto2 repeated scalars are not packed: go-unixfs writes one tag per entry.
  for (std::uint64_t size : data.blocksizes) {
    put_tag(out, 4, kVarint);
    put_varint(out, size);
  }
  if (data.hash_type) {
    put_tag(out, 5, kVarint);
    put_varint(out, *data.hash_type);
  }
  if (data.fanout) {
    put_tag(out, 6, kVarint);
    put_varint(out, *data.fanout);
  }
  return out;
}

Result<UnixfsData> decode_unixfs(ByteView bytes) {
  UnixfsData data;
  bool has_type = false;
  ByteView in = bytes;
  auto bad = [](const Error& e) { return fail(EINVAL, "UnixFS: " + e.message); };
  while (!in.empty()) {
    auto field = read_field(in, "Data");
    if (!field) return bad(field.error());
    switch (field->number) {
      case 1: {
        if (auto ok = expect_type(*field, kVarint, "Data.Type"); !ok) return bad(ok.error());
        if (field->value > static_cast<std::uint64_t>(UnixfsType::HamtShard)) {
          return fail(EINVAL, "UnixFS: unknown Type " + std::to_string(field->value));
        }
        data.type = static_cast<UnixfsType>(field->value);
        has_type = true;
        break;
      }
      case 2:
        if (auto ok = expect_type(*field, kLengthDelimited, "Data.Data"); !ok) return bad(ok.error());
        data.data.emplace(field->bytes.begin(), field->bytes.end());
        break;
      case 3:
        if (auto ok = expect_type(*field, kVarint, "Data.filesize"); !ok) return bad(ok.error());
        data.filesize = field->value;
        break;
      case 4:
        if (field->type == kVarint) {
          data.blocksizes.push_back(field->value);
        } else if (field->type == kLengthDelimited) {  // packed form, legal for any proto2 reader
          ByteView packed = field->bytes;
          while (!packed.empty()) {
            auto size = get_varint(packed);
            if (!size) return fail(EINVAL, "UnixFS: packed blocksizes: " + size.error().message);
            data.blocksizes.push_back(*size);
          }
        } else {
          return fail(EINVAL, "UnixFS: Data.blocksizes has wire type " + std::to_string(field->type));
        }
        break;
      case 5:
        if (auto ok = expect_type(*field, kVarint, "Data.hashType"); !ok) return bad(ok.error());
        data.hash_type = field->value;
        break;
      case 6:
        if (auto ok = expect_type(*field, kVarint, "Data.fanout"); !ok) return bad(ok.error());
        data.fanout = field->value;
        break;
      default:
        break;  // mode, mtime and future fields do not change what the bytes are
    }
  }
  if (!has_type) return fail(EINVAL, "UnixFS: Data has no Type");
  return data;
}

}  // namespace pinfs::cid
