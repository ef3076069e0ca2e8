#include "pinfs/cache/journal.hpp"

#include <sqlite3.h>

#include <mutex>

namespace pinfs::cache {

namespace {

// keyvalues as "k\x1fv\x1e…": the separators cannot appear in metadata the services accept.
std::string encode_kv(const service::KeyValues& kv) {
  std::string out;
  for (const auto& [k, v] : kv) out += k + '\x1f' + v + '\x1e';
  return out;
}

service::KeyValues decode_kv(const std::string& text) {
  service::KeyValues kv;
  std::size_t at = 0;
  while (at < text.size()) {
    auto end = text.find('\x1e', at);
    if (end == std::string::npos) break;
    auto sep = text.find('\x1f', at);
    if (sep != std::string::npos && sep < end)
      kv[text.substr(at, sep - at)] = text.substr(sep + 1, end - sep - 1);
    at = end + 1;
  }
  return kv;
}

class SqliteJournal final : public UploadJournal {
 public:
  explicit SqliteJournal(sqlite3* db) : db_(db) {}
  ~SqliteJournal() override { sqlite3_close(db_); }

  Result<void> init() {
    if (auto ok = exec(
            // WAL: a durable commit costs one fsync of the log (a rollback journal three or more), a lazy
            // one none (set_sync).
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=FULL;"
            "CREATE TABLE IF NOT EXISTS uploads(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
            " staging_path TEXT NOT NULL, cid TEXT NOT NULL, size INTEGER NOT NULL, keyvalues TEXT NOT NULL,"
            " replaces_id TEXT NOT NULL, replaces_cid TEXT NOT NULL,"
            " state TEXT NOT NULL DEFAULT 'queued', parent INTEGER NOT NULL DEFAULT 0);");
        !ok)
      return ok;
    // A journal from before rows were written at create: every row there was a closed file.
    if (!has_column("state"))
      if (auto ok = exec("ALTER TABLE uploads ADD COLUMN state TEXT NOT NULL DEFAULT 'queued';"); !ok)
        return ok;
    // From before new directories were journaled: every row there was a root file.
    if (!has_column("parent"))
      if (auto ok = exec("ALTER TABLE uploads ADD COLUMN parent INTEGER NOT NULL DEFAULT 0;"); !ok) return ok;
    return {};
  }

  bool has_column(const char* column) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, "PRAGMA table_info(uploads)", -1, &stmt, nullptr) != SQLITE_OK) return false;
    bool found = false;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      auto name = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1));
      if (name && std::string(name) == column) found = true;
    }
    sqlite3_finalize(stmt);
    return found;
  }

  Result<std::int64_t> add(const JournalEntry& e, JournalSync sync) override {
    std::lock_guard lock(mu_);
    if (auto ok = set_sync(sync); !ok) return std::unexpected(ok.error());
    auto done = write(
        "INSERT INTO uploads(name, staging_path, cid, size, keyvalues, replaces_id, replaces_cid, state,"
        " parent) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?10)",
        e, false);
    if (!done) return std::unexpected(done.error());
    return sqlite3_last_insert_rowid(db_);
  }

  Result<void> update(const JournalEntry& e, JournalSync sync) override {
    std::lock_guard lock(mu_);
    if (auto ok = set_sync(sync); !ok) return ok;
    return write(
        "UPDATE uploads SET name=?1, staging_path=?2, cid=?3, size=?4, keyvalues=?5, replaces_id=?6,"
        " replaces_cid=?7, state=?8, parent=?10 WHERE id=?9",
        e, true);
  }

  Result<void> remove(std::int64_t id) override { return remove(std::vector<std::int64_t>{id}); }

  Result<void> remove(const std::vector<std::int64_t>& ids) override {
    std::lock_guard lock(mu_);
    // A removal lost to a power loss brings a row back whose pin exists: the resume finds it by CID.
    if (auto ok = set_sync(JournalSync::Lazy); !ok) return ok;
    if (ids.size() > 1)
      if (auto ok = exec("BEGIN IMMEDIATE"); !ok) return ok;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, "DELETE FROM uploads WHERE id=?1", -1, &stmt, nullptr) != SQLITE_OK) {
      if (ids.size() > 1) (void)exec("ROLLBACK");
      return error("prepare delete");
    }
    int rc = SQLITE_DONE;
    for (auto id : ids) {
      sqlite3_bind_int64(stmt, 1, id);
      rc = sqlite3_step(stmt);
      sqlite3_reset(stmt);
      if (rc != SQLITE_DONE) break;
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
      auto failed = error("delete");
      if (ids.size() > 1) (void)exec("ROLLBACK");
      return failed;
    }
    if (ids.size() > 1) return exec("COMMIT");
    return {};
  }

  Result<std::vector<JournalEntry>> entries() override {
    std::lock_guard lock(mu_);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(
            db_,
            "SELECT id, name, staging_path, cid, size, keyvalues, replaces_id, replaces_cid, state,"
            " parent FROM uploads ORDER BY id",
            -1, &stmt, nullptr) != SQLITE_OK)
      return error("prepare select");
    std::vector<JournalEntry> out;
    auto text = [&](int col) {
      auto p = sqlite3_column_text(stmt, col);
      return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt, col))
               : std::string();
    };
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      JournalEntry e;
      e.id = sqlite3_column_int64(stmt, 0);
      e.name = text(1);
      e.staging_path = text(2);
      e.cid = text(3);
      e.size = static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 4));
      e.keyvalues = decode_kv(text(5));
      e.replaces_id = text(6);
      e.replaces_cid = text(7);
      e.state = text(8);
      e.parent = sqlite3_column_int64(stmt, 9);
      out.push_back(std::move(e));
    }
    sqlite3_finalize(stmt);
    return out;
  }

 private:
  // WAL with synchronous=NORMAL commits without an fsync (durable against the process dying, not power
  // loss); FULL fsyncs the log at commit, which makes every earlier commit durable as well.
  Result<void> set_sync(JournalSync sync) {
    if (sync == sync_) return {};
    if (auto ok =
            exec(sync == JournalSync::Durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
        !ok)
      return ok;
    sync_ = sync;
    return {};
  }

  Result<void> exec(const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
      std::string text = message ? message : "unknown";
      sqlite3_free(message);
      return fail(EIO, "journal: " + text);
    }
    return {};
  }

  std::unexpected<Error> error(const std::string& what) {
    return fail(EIO, "journal " + what + ": " + sqlite3_errmsg(db_));
  }

  Result<void> write(const char* sql, const JournalEntry& e, bool with_id) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) return error("prepare");
    std::string kv = encode_kv(e.keyvalues);
    sqlite3_bind_text(stmt, 1, e.name.data(), static_cast<int>(e.name.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, e.staging_path.data(), static_cast<int>(e.staging_path.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, e.cid.data(), static_cast<int>(e.cid.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 4, static_cast<sqlite3_int64>(e.size));
    sqlite3_bind_text(stmt, 5, kv.data(), static_cast<int>(kv.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 6, e.replaces_id.data(), static_cast<int>(e.replaces_id.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 7, e.replaces_cid.data(), static_cast<int>(e.replaces_cid.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 8, e.state.data(), static_cast<int>(e.state.size()), SQLITE_TRANSIENT);
    if (with_id) sqlite3_bind_int64(stmt, 9, e.id);
    sqlite3_bind_int64(stmt, 10, e.parent);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) return error("write");
    return {};
  }

  std::mutex mu_;                            // one connection, serialised
  JournalSync sync_ = JournalSync::Durable;  // init() sets synchronous=FULL
  sqlite3* db_;
};

}  // namespace

Result<std::unique_ptr<UploadJournal>> open_sqlite_journal(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return fail(EIO, "cannot open journal " + path + ": " + message);
  }
  sqlite3_busy_timeout(db, 5000);  // another connection (pinfs status, a test) may be reading it
  auto journal = std::make_unique<SqliteJournal>(db);
  if (auto ok = journal->init(); !ok) return std::unexpected(ok.error());
  return std::unique_ptr<UploadJournal>(std::move(journal));
}

}  // namespace pinfs::cache
