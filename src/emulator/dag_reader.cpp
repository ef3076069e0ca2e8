#include "pinfs/emulator/dag_reader.hpp"

#include <algorithm>
#include <set>

namespace pinfs::emulator {

namespace {

struct Decoded {
  bool raw = false;
  cid::Bytes block;
  cid::PbNode node;
  cid::UnixfsData data;
};

Result<Decoded> load(const BlockStore& blocks, const cid::Cid& c) {
  auto block = blocks.get(c);
  if (!block) return fail(ENOENT, "block not held: " + c.to_string());
  Decoded d;
  d.block = std::move(*block);
  if (c.codec() == cid::Codec::Raw) {
    d.raw = true;
    return d;
  }
  auto node = cid::decode_pb(d.block);
  if (!node) return std::unexpected(node.error());
  d.node = std::move(*node);
  if (!d.node.data) return fail(EINVAL, "dag-pb node without UnixFS data");
  auto data = cid::decode_unixfs(*d.node.data);
  if (!data) return std::unexpected(data.error());
  d.data = std::move(*data);
  return d;
}

}  // namespace

Result<DagNode> DagReader::stat(const cid::Cid& root) const {
  auto d = load(blocks_, root);
  if (!d) return std::unexpected(d.error());
  DagNode out;
  if (d->raw) {
    out.kind = NodeKind::File;
    out.size = d->block.size();
    return out;
  }
  switch (d->data.type) {
    case cid::UnixfsType::File:
    case cid::UnixfsType::Raw: {
      out.kind = NodeKind::File;
      if (d->data.filesize) {
        out.size = *d->data.filesize;
      } else {
        out.size = d->data.data ? d->data.data->size() : 0;
      }
      return out;
    }
    case cid::UnixfsType::Directory: {
      out.kind = NodeKind::Directory;
      for (auto& l : d->node.links) out.entries.push_back({l.name.value_or(""), l.hash, l.tsize.value_or(0)});
      return out;
    }
    default:
      out.kind = NodeKind::Other;
      return out;
  }
}

Result<cid::Cid> DagReader::resolve(const cid::Cid& root, const std::string& path) const {
  cid::Cid cur = root;
  std::size_t pos = 0;
  while (pos < path.size()) {
    auto slash = path.find('/', pos);
    std::string part = path.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    pos = slash == std::string::npos ? path.size() : slash + 1;
    if (part.empty()) continue;
    auto node = stat(cur);
    if (!node) return std::unexpected(node.error());
    if (node->kind != NodeKind::Directory) return fail(ENOTDIR, "not a directory: " + part);
    auto it = std::find_if(node->entries.begin(), node->entries.end(),
                           [&](const DagEntry& e) { return e.name == part; });
    if (it == node->entries.end()) return fail(ENOENT, "no link named " + part);
    cur = it->cid;
  }
  return cur;
}

Result<bool> DagReader::read_node(const cid::Cid& c, std::uint64_t offset, std::uint64_t length,
                                  const ByteEmitter& emit) const {
  if (length == 0) return true;
  auto d = load(blocks_, c);
  if (!d) return std::unexpected(d.error());
  auto emit_slice = [&](const cid::Bytes& bytes) -> bool {
    if (offset >= bytes.size()) return true;
    std::uint64_t n = std::min<std::uint64_t>(length, bytes.size() - offset);
    return emit(bytes.data() + offset, static_cast<std::size_t>(n));
  };
  if (d->raw) return emit_slice(d->block);
  if (d->data.type != cid::UnixfsType::File && d->data.type != cid::UnixfsType::Raw)
    return fail(EINVAL, "not a file node");
  std::uint64_t pos = 0;
  if (d->data.data && !d->data.data->empty()) {
    const auto& inline_bytes = *d->data.data;
    if (offset < inline_bytes.size()) {
      std::uint64_t n = std::min<std::uint64_t>(length, inline_bytes.size() - offset);
      if (!emit(inline_bytes.data() + offset, static_cast<std::size_t>(n))) return false;
      length -= n;
      offset = inline_bytes.size();
    }
    pos = inline_bytes.size();
  }
  for (std::size_t i = 0; i < d->node.links.size() && length > 0; ++i) {
    std::uint64_t child_size = i < d->data.blocksizes.size() ? d->data.blocksizes[i] : 0;
    std::uint64_t child_end = pos + child_size;
    if (offset < child_end) {
      std::uint64_t local = offset - pos;
      std::uint64_t n = std::min<std::uint64_t>(length, child_size - local);
      auto r = read_node(d->node.links[i].hash, local, n, emit);
      if (!r) return r;
      if (!*r) return false;
      offset += n;
      length -= n;
    }
    pos = child_end;
  }
  return true;
}

Result<void> DagReader::read(const cid::Cid& file, std::uint64_t offset, std::uint64_t length,
                             const ByteEmitter& emit) const {
  auto r = read_node(file, offset, length, emit);
  if (!r) return std::unexpected(r.error());
  return {};
}

DagStats DagReader::stats(const cid::Cid& root) const {
  DagStats s;
  s.complete = true;
  std::set<std::string> seen;
  std::vector<std::pair<cid::Cid, bool>> stack{{root, true}};  // bool: a UnixFS entry root (counts file size)
  bool first = true;
  while (!stack.empty()) {
    auto [c, entry_root] = stack.back();
    stack.pop_back();
    if (c.codec() == cid::Codec::Raw) {
      // Raw leaves are the bulk of a big file: check and size them without reading them.
      auto size = blocks_.size_of(c);
      if (!size) {
        s.complete = false;
        return s;
      }
      if (seen.insert(c.to_v1().to_string()).second) s.dag_size += *size;
      if (entry_root) {
        s.content_size += *size;
        ++s.files;
      }
      first = false;
      continue;
    }
    auto d = load(blocks_, c);
    if (!d) {
      s.complete = false;
      return s;
    }
    bool counted = seen.insert(c.to_v1().to_string()).second;
    if (counted) s.dag_size += d->block.size();
    if (d->raw) {
      if (entry_root) {
        s.content_size += d->block.size();
        ++s.files;
      }
    } else if (d->data.type == cid::UnixfsType::Directory) {
      if (first) s.is_dir = true;
      for (auto& l : d->node.links) stack.push_back({l.hash, true});
    } else {
      if (entry_root) {
        s.content_size += d->data.filesize.value_or(d->data.data ? d->data.data->size() : 0);
        ++s.files;
      }
      for (auto& l : d->node.links) stack.push_back({l.hash, false});
    }
    first = false;
  }
  return s;
}

}  // namespace pinfs::emulator
