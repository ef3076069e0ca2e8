#include <algorithm>

#include "pinfs/cid/dagpb.hpp"
#include "pinfs/cid/importer.hpp"

namespace pinfs::cid {

Result<DirBlock> build_directory(std::vector<DirEntry> entries, int cid_version) {
  for (const DirEntry& entry : entries) {
    if (entry.name.empty()) return fail(EINVAL, "directory entry with an empty name");
    if (entry.name.find_first_of(std::string_view("/\0", 2)) != std::string::npos) {
      return fail(EINVAL, "directory entry name \"" + entry.name + "\" contains '/' or NUL");
    }
    if (!entry.cid.valid()) return fail(EINVAL, "directory entry \"" + entry.name + "\" has no CID");
  }
  // std::string compares as unsigned char: the bytewise order Kubo sorts links in.
  std::sort(entries.begin(), entries.end(),
            [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  auto duplicate = std::adjacent_find(entries.begin(), entries.end(),
                                      [](const DirEntry& a, const DirEntry& b) { return a.name == b.name; });
  if (duplicate != entries.end())
    return fail(EINVAL, "duplicate directory entry name \"" + duplicate->name + "\"");

  PbNode node;
  std::uint64_t children = 0;
  node.links.reserve(entries.size());
  for (DirEntry& entry : entries) {
    children += entry.tsize;
    node.links.push_back(PbLink{entry.cid, std::move(entry.name), entry.tsize});
  }
  UnixfsData data;
  data.type = UnixfsType::Directory;
  node.data = encode_unixfs(data);
  DirBlock out;
  out.block = encode_pb(node);
  out.cid = cid_of_block(cid_version == 0 ? 0 : 1, Codec::DagPb, out.block);
  out.tsize = out.block.size() + children;
  return out;
}

}  // namespace pinfs::cid
