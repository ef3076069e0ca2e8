#include "pinfs/cid/importer.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "pinfs/cid/dagpb.hpp"
#include "pinfs/cid/multibase.hpp"

namespace pinfs::cid {
namespace {

constexpr std::size_t kReadBuffer = 4 << 20;

std::size_t varint_length(std::uint64_t value) {
  std::size_t length = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++length;
  }
  return length;
}

ImportOptions sanitized(ImportOptions options) {
  options.cid_version = options.cid_version == 0 ? 0 : 1;
  if (options.chunk_size == 0) options.chunk_size = ImportOptions{}.chunk_size;
  options.max_links = std::max<std::size_t>(options.max_links, 2);
  return options;
}

}  // namespace

// A link not yet in a node (named, not in the anonymous namespace: FileImporter::State holds them).
struct PendingLink {
  Digest digest;
  std::uint64_t tsize = 0;     // bytes of the whole sub-DAG
  std::uint64_t filesize = 0;  // file bytes below it
};

// Layout state of Kubo's balanced builder, kept as one pending-links list per tree level:
// a level is turned into a node only when it is full and one more link arrives (or at
// finish), which yields exactly the tree Kubo's recursive fill builds.
struct FileImporter::State {
  ImportOptions options;
  BlockSink sink;
  Bytes partial;  // the chunk being filled; capacity reserved once
  std::uint64_t seen = 0;
  std::uint64_t leaves = 0;
  std::vector<std::vector<PendingLink>> levels;
  Bytes block;  // scratch for CIDv0 leaves handed to a sink
  EVP_MD_CTX* ctx = nullptr;
  const EVP_MD* md = nullptr;
  std::optional<ImportResult> result;

  State(ImportOptions opts, BlockSink s) : options(sanitized(opts)), sink(std::move(s)) {
    partial.reserve(options.chunk_size);
    ctx = EVP_MD_CTX_new();
    static EVP_MD* const sha = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
    md = sha;
  }
  ~State() { EVP_MD_CTX_free(ctx); }

  Cid cid_at(std::size_t level, const Digest& digest) const {
    if (options.cid_version == 0) return Cid::v0(digest);
    return Cid::v1(level == 0 ? Codec::Raw : Codec::DagPb, digest);
  }

  void emit_leaf(ByteView chunk) {
    ++leaves;
    PendingLink link;
    link.filesize = chunk.size();
    if (options.cid_version == 1) {
      link.digest = hash(chunk);
      link.tsize = chunk.size();
      if (sink) sink(Cid::v1(Codec::Raw, link.digest), chunk);
    } else {
      emit_v0_leaf(chunk, link);
    }
    push(0, link);
  }

  // A CIDv0 leaf is dag-pb {Data: UnixFS{Type=File, Data=chunk, filesize}}. Without a sink the
  // chunk is hashed in place between its header and trailer, so it is never copied.
  void emit_v0_leaf(ByteView chunk, PendingLink& link) {
    std::uint8_t header[32];
    std::uint8_t trailer[16];
    std::size_t n = chunk.size();
    std::size_t data_field = n == 0 ? 0 : 1 + varint_length(n) + n;
    std::size_t unixfs_length = 2 + data_field + 1 + varint_length(n);
    std::size_t h = 0;
    header[h++] = 0x0a;
    h += write_varint(header + h, unixfs_length);
    header[h++] = 0x08;
    header[h++] = 0x02;
    if (n != 0) {
      header[h++] = 0x12;
      h += write_varint(header + h, n);
    }
    std::size_t t = 0;
    trailer[t++] = 0x18;
    t += write_varint(trailer + t, n);
    link.tsize = h + n + t;
    if (sink) {
      block.assign(header, header + h);
      block.insert(block.end(), chunk.begin(), chunk.end());
      block.insert(block.end(), trailer, trailer + t);
      link.digest = hash(block);
      sink(Cid::v0(link.digest), block);
      return;
    }
    link.digest = hash({header, h}, chunk, {trailer, t});
  }

  // One long-lived context: a fresh EVP_Digest costs two allocations per block in OpenSSL 3.0,
  // re-initialising this one costs the provider's single context allocation.
  Digest hash(ByteView a, ByteView b = {}, ByteView c = {}) {
    Digest digest;
    unsigned int length = 0;
    EVP_DigestInit_ex(ctx, md, nullptr);
    EVP_DigestUpdate(ctx, a.data(), a.size());
    if (!b.empty()) EVP_DigestUpdate(ctx, b.data(), b.size());
    if (!c.empty()) EVP_DigestUpdate(ctx, c.data(), c.size());
    EVP_DigestFinal_ex(ctx, digest.data(), &length);
    return digest;
  }

  static std::size_t write_varint(std::uint8_t* out, std::uint64_t value) {
    std::size_t i = 0;
    while (value >= 0x80) {
      out[i++] = static_cast<std::uint8_t>(value) | 0x80;
      value >>= 7;
    }
    out[i++] = static_cast<std::uint8_t>(value);
    return i;
  }

  void push(std::size_t level, const PendingLink& link) {
    if (levels.size() <= level) {
      levels.emplace_back();
      levels.back().reserve(options.max_links);
    }
    if (levels[level].size() == options.max_links) {
      PendingLink parent = make_node(level);
      levels[level].clear();
      push(level + 1, parent);
    }
    levels[level].push_back(link);
  }

  // Inner file node over the links pending at `level`.
  PendingLink make_node(std::size_t level) {
    const auto& links = levels[level];
    PbNode node;
    UnixfsData data;
    data.type = UnixfsType::File;
    std::uint64_t filesize = 0;
    std::uint64_t tsize = 0;
    node.links.reserve(links.size());
    data.blocksizes.reserve(links.size());
    for (const PendingLink& link : links) {
      node.links.push_back(PbLink{cid_at(level, link.digest), std::string(), link.tsize});
      data.blocksizes.push_back(link.filesize);
      filesize += link.filesize;
      tsize += link.tsize;
    }
    data.filesize = filesize;
    node.data = encode_unixfs(data);
    Bytes bytes = encode_pb(node);
    PendingLink parent;
    parent.digest = sha256(bytes);
    parent.filesize = filesize;
    parent.tsize = tsize + bytes.size();
    if (sink) sink(cid_at(level + 1, parent.digest), bytes);
    return parent;
  }

  ImportResult finish() {
    if (!partial.empty() || leaves == 0) {
      emit_leaf(partial);
      partial.clear();
    }
    ImportResult out;
    out.size = seen;
    if (levels.size() == 1 && levels[0].size() == 1) {  // one chunk: the leaf is the file
      out.cid = cid_at(0, levels[0][0].digest);
      out.tsize = levels[0][0].tsize;
      return out;
    }
    // Each level collapses into its parent; the loop bound is re-read since a push may add a level.
    for (std::size_t level = 0; level + 1 < levels.size(); ++level) {
      PendingLink node = make_node(level);
      levels[level].clear();
      push(level + 1, node);
    }
    std::size_t top = levels.size() - 1;
    PendingLink root = make_node(top);
    out.cid = cid_at(top + 1, root.digest);
    out.tsize = root.tsize;
    return out;
  }
};

FileImporter::FileImporter(ImportOptions options, BlockSink sink)
    : state_(std::make_unique<State>(options, std::move(sink))) {}
FileImporter::~FileImporter() = default;
FileImporter::FileImporter(FileImporter&&) noexcept = default;
FileImporter& FileImporter::operator=(FileImporter&&) noexcept = default;

void FileImporter::update(ByteView bytes) {
  State& s = *state_;
  if (s.result) return;
  s.seen += bytes.size();
  const std::size_t chunk = s.options.chunk_size;
  if (!s.partial.empty()) {
    std::size_t take = std::min(chunk - s.partial.size(), bytes.size());
    s.partial.insert(s.partial.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
    bytes = bytes.subspan(take);
    if (s.partial.size() < chunk) return;
    s.emit_leaf(s.partial);
    s.partial.clear();
  }
  // Whole chunks are hashed straight from the caller's buffer.
  while (bytes.size() >= chunk) {
    s.emit_leaf(bytes.first(chunk));
    bytes = bytes.subspan(chunk);
  }
  s.partial.insert(s.partial.end(), bytes.begin(), bytes.end());
}

ImportResult FileImporter::finish() {
  State& s = *state_;
  if (!s.result) s.result = s.finish();
  return *s.result;
}

std::uint64_t FileImporter::bytes_seen() const {
  return state_->seen;
}

Result<ImportResult> import_fd(int fd, ImportOptions options, BlockSink sink) {
  options = sanitized(options);
  // A whole number of chunks per read keeps every chunk aligned in the buffer: no copy.
  std::size_t capacity = std::max(options.chunk_size, kReadBuffer / options.chunk_size * options.chunk_size);
  auto buffer = std::make_unique_for_overwrite<std::uint8_t[]>(capacity);
  FileImporter importer(options, std::move(sink));
  bool eof = false;
  while (!eof) {
    std::size_t filled = 0;
    while (filled < capacity) {
      ssize_t got = ::read(fd, buffer.get() + filled, capacity - filled);
      if (got < 0) {
        if (errno == EINTR) continue;
        return fail_errno("read");
      }
      if (got == 0) {
        eof = true;
        break;
      }
      filled += static_cast<std::size_t>(got);
    }
    importer.update(ByteView(buffer.get(), filled));
  }
  return importer.finish();
}

Result<ImportResult> import_file(const std::string& path, ImportOptions options, BlockSink sink) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail_errno(path);
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return fail(EISDIR, path + ": is a directory");
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  auto result = import_fd(fd, options, std::move(sink));
  ::close(fd);
  if (!result) return fail(result.error().errnum, path + ": " + result.error().message);
  return result;
}

}  // namespace pinfs::cid
