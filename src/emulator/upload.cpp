#include "pinfs/emulator/upload.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "pinfs/emulator/json_util.hpp"

namespace pinfs::emulator {

namespace {

cid::BlockSink sink_into(BlockStore& blocks, std::optional<Error>& error) {
  return [&blocks, &error](const cid::Cid& c, cid::ByteView block) {
    if (error) return;
    auto r = blocks.put(c, block);
    if (!r) error = r.error();
  };
}

}  // namespace

struct MultipartIngest::Part {
  std::string name;
  std::string filename;
  std::string content_type;
  bool is_file = false;
  bool is_dir = false;  // application/x-directory: no content
  std::string text;     // plain fields
  std::unique_ptr<cid::FileImporter> importer;
  int spool_fd = -1;
  std::string spool_path;
};

MultipartIngest::MultipartIngest(BlockStore& blocks, std::string tmp_dir, VersionDecider decide)
    : blocks_(blocks), tmp_dir_(std::move(tmp_dir)), decide_(std::move(decide)) {
  std::filesystem::create_directories(tmp_dir_);
}

MultipartIngest::~MultipartIngest() {
  if (current_ && current_->spool_fd >= 0) ::close(current_->spool_fd);
  if (current_ && !current_->spool_path.empty()) ::unlink(current_->spool_path.c_str());
  for (auto& [idx, path] : spooled_) ::unlink(path.c_str());
}

bool MultipartIngest::on_part_header(const std::string& name, const std::string& filename,
                                     const std::string& content_type) {
  if (auto r = end_part(); !r) {
    error_ = r.error();
    return false;
  }
  current_ = std::make_unique<Part>();
  current_->name = name;
  current_->filename = filename;
  current_->content_type = content_type;
  current_->is_file = !filename.empty() || name == "file";
  current_->is_dir = current_->is_file && content_type == kDirectoryPartType;
  if (!current_->is_file || current_->is_dir) return true;
  if (auto version = decide_(fields_)) {
    cid::ImportOptions opts;
    opts.cid_version = *version;
    current_->importer = std::make_unique<cid::FileImporter>(opts, sink_into(blocks_, error_));
  } else {
    current_->spool_path = tmp_dir_ + "/upload-" + new_uuid() + ".part";
    current_->spool_fd = ::open(current_->spool_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (current_->spool_fd < 0) {
      error_ = fail_errno("create " + current_->spool_path).error();
      return false;
    }
  }
  return true;
}

bool MultipartIngest::on_data(const char* data, std::size_t len) {
  if (error_ || !current_) return !error_;
  bytes_ += len;
  if (!current_->is_file) {
    if (current_->text.size() + len > (16u << 20)) {
      error_ = Error{EFBIG, "form field too large", false};
      return false;
    }
    current_->text.append(data, len);
    return true;
  }
  if (current_->is_dir) {
    if (len == 0) return true;
    error_ =
        Error{EINVAL, "a directory part (" + std::string(kDirectoryPartType) + ") has no content", false};
    return false;
  }
  if (current_->importer) {
    current_->importer->update(cid::ByteView(reinterpret_cast<const std::uint8_t*>(data), len));
    return !error_;
  }
  std::size_t done = 0;
  while (done < len) {
    ssize_t n = ::write(current_->spool_fd, data + done, len - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      error_ = fail_errno("write spool").error();
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

Result<void> MultipartIngest::end_part() {
  if (!current_) return {};
  auto part = std::move(current_);
  if (!part->is_file) {
    fields_[part->name] = std::move(part->text);
    return {};
  }
  UploadedFile f;
  f.path = part->filename.empty() ? "file" : part->filename;
  f.content_type = part->content_type;
  if (part->is_dir) {
    f.is_dir = true;
    files_.push_back(std::move(f));
  } else if (part->importer) {
    f.result = part->importer->finish();
    files_.push_back(std::move(f));
  } else {
    ::close(part->spool_fd);
    spooled_.emplace_back(files_.size(), part->spool_path);
    files_.push_back(std::move(f));
  }
  if (error_) return std::unexpected(*error_);
  return {};
}

Result<void> MultipartIngest::close_parts() {
  if (error_) return std::unexpected(*error_);
  return end_part();
}

Result<void> MultipartIngest::finish(int cid_version) {
  if (error_) return std::unexpected(*error_);
  if (auto r = end_part(); !r) return r;
  for (auto& [idx, path] : spooled_) {
    cid::ImportOptions opts;
    opts.cid_version = cid_version;
    auto r = cid::import_file(path, opts, sink_into(blocks_, error_));
    ::unlink(path.c_str());
    if (!r) return std::unexpected(r.error());
    if (error_) return std::unexpected(*error_);
    files_[idx].result = *r;
  }
  spooled_.clear();
  return {};
}

namespace {

struct Tree {
  std::map<std::string, Tree> dirs;
  std::map<std::string, cid::ImportResult> files;
};

Result<cid::DirBlock> build_tree(BlockStore& blocks, const Tree& t, int version) {
  std::vector<cid::DirEntry> entries;
  for (auto& [name, sub] : t.dirs) {
    auto d = build_tree(blocks, sub, version);
    if (!d) return d;
    entries.push_back({name, d->cid, d->tsize});
  }
  for (auto& [name, r] : t.files) entries.push_back({name, r.cid, r.tsize});
  auto dir = cid::build_directory(std::move(entries), version);
  if (!dir) return dir;
  if (auto r = blocks.put(dir->cid, dir->block); !r) return std::unexpected(r.error());
  return dir;
}

std::vector<std::string> split_path(const std::string& p) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= p.size()) {
    auto slash = p.find('/', pos);
    std::string part = p.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    if (!part.empty() && part != ".") out.push_back(part);
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  return out;
}

}  // namespace

Result<UploadRoot> build_upload_root(BlockStore& blocks, const std::vector<UploadedFile>& files,
                                     int cid_version, bool wrap) {
  if (files.empty()) return fail(EINVAL, "no file part in the upload");
  UploadRoot root;
  for (auto& f : files) {
    if (f.is_dir) continue;
    root.content_size += f.result.size;
    ++root.files;
  }
  std::uint64_t dag = 0;
  if (files.size() == 1 && !files[0].is_dir && files[0].path.find('/') == std::string::npos) {
    root.cid = files[0].result.cid;
    dag = files[0].result.tsize;
    root.name = files[0].path;
    root.mime_type = files[0].content_type.empty() || files[0].content_type == "application/octet-stream"
                         ? guess_mime(root.name)
                         : files[0].content_type;
  } else {
    std::vector<std::vector<std::string>> paths;
    for (auto& f : files) {
      auto parts = split_path(f.path);
      if (parts.empty()) return fail(EINVAL, "empty file path in a directory upload");
      paths.push_back(std::move(parts));
    }
    // A shared first component is the base directory, which becomes the root itself.
    // A directory part naming the base directory itself ("site") shares it too.
    bool shared = true;
    for (std::size_t i = 0; i < paths.size(); ++i)
      shared = shared && (paths[i].size() > 1 || files[i].is_dir) && paths[i][0] == paths[0][0];
    Tree tree;
    for (std::size_t i = 0; i < files.size(); ++i) {
      auto& p = paths[i];
      Tree* t = &tree;
      std::size_t start = shared ? 1 : 0;
      if (files[i].is_dir) {
        for (std::size_t k = start; k < p.size(); ++k) {
          if (t->files.count(p[k])) return fail(EINVAL, "directory part names a file: " + files[i].path);
          t = &t->dirs[p[k]];
        }
        continue;
      }
      for (std::size_t k = start; k + 1 < p.size(); ++k) {
        if (t->files.count(p[k])) return fail(EINVAL, "path goes through a file: " + files[i].path);
        t = &t->dirs[p[k]];
      }
      if (t->files.count(p.back()) || t->dirs.count(p.back()))
        return fail(EINVAL, "duplicate path in directory upload: " + files[i].path);
      t->files[p.back()] = files[i].result;
    }
    auto dir = build_tree(blocks, tree, cid_version);
    if (!dir) return std::unexpected(dir.error());
    root.cid = dir->cid;
    dag = dir->tsize;
    root.is_dir = true;
    root.name = shared ? paths[0][0] : std::string();
    root.mime_type = "directory";
  }
  if (wrap) {
    std::string entry_name = root.name.empty() ? root.cid.to_string() : root.name;
    auto dir = cid::build_directory({{entry_name, root.cid, dag}}, cid_version);
    if (!dir) return std::unexpected(dir.error());
    if (auto r = blocks.put(dir->cid, dir->block); !r) return std::unexpected(r.error());
    root.cid = dir->cid;
    dag = dir->tsize;
    root.is_dir = true;
    root.mime_type = "directory";
  }
  root.dag_size = dag;  // cumulative size as the parent link's Tsize would carry it
  return root;
}

UploadRoot import_bytes(BlockStore& blocks, const std::string& bytes, int cid_version,
                        const std::string& name) {
  std::optional<Error> error;
  cid::ImportOptions opts;
  opts.cid_version = cid_version;
  cid::FileImporter imp(opts, sink_into(blocks, error));
  imp.update(cid::ByteView(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
  auto r = imp.finish();
  UploadRoot root;
  root.cid = r.cid;
  root.dag_size = r.tsize;
  root.content_size = r.size;
  root.files = 1;
  root.name = name;
  root.mime_type = "application/json";
  return root;
}

}  // namespace pinfs::emulator
