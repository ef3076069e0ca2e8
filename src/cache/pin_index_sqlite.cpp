// The persistent pin index: one SQLite database in the cache dir (DESIGN.md §4). It is a cache of the
// account, so durability is traded for speed (WAL, synchronous=NORMAL: a power cut may lose the last
// transactions, never consistency) and a file that cannot be read is set aside and rebuilt by a listing.
// Nothing but a pin count is held in memory: for_each streams rows page by page.
#include <sqlite3.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>

#include "pinfs/cache/pin_index.hpp"
#include "pinfs/common/log.hpp"

namespace pinfs::cache {

namespace {

constexpr int kSchemaVersion = 1;
constexpr int kStreamPage = 1000;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS pins(
  key TEXT PRIMARY KEY NOT NULL,
  id TEXT NOT NULL,
  cid TEXT NOT NULL,
  name TEXT NOT NULL,
  size INTEGER NOT NULL,
  pinned_at INTEGER NOT NULL,
  is_dir INTEGER NOT NULL,
  size_is_dag INTEGER NOT NULL,
  keyvalues BLOB
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pins_cid ON pins(cid);
CREATE INDEX IF NOT EXISTS pins_name ON pins(name);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY NOT NULL, value INTEGER) WITHOUT ROWID;
)sql";

constexpr const char* kColumns = "id, cid, name, size, pinned_at, is_dir, size_is_dag, keyvalues";

// keyvalues as a blob of (u32 length, bytes) for each key then value; NULL when there are none.
std::string encode_keyvalues(const service::KeyValues& kv) {
  std::string out;
  auto put = [&](const std::string& s) {
    const auto n = static_cast<std::uint32_t>(s.size());
    out.append(reinterpret_cast<const char*>(&n), sizeof n);
    out += s;
  };
  for (const auto& [k, v] : kv) {
    put(k);
    put(v);
  }
  return out;
}

service::KeyValues decode_keyvalues(const void* data, int size) {
  service::KeyValues out;
  const char* p = static_cast<const char*>(data);
  const char* end = p + size;
  auto take = [&](std::string& s) {
    std::uint32_t n = 0;
    if (end - p < static_cast<std::ptrdiff_t>(sizeof n)) return false;
    std::memcpy(&n, p, sizeof n);
    p += sizeof n;
    if (static_cast<std::uint64_t>(end - p) < n) return false;
    s.assign(p, n);
    p += n;
    return true;
  };
  std::string k, v;
  while (p < end && take(k) && take(v)) out[k] = v;
  return out;
}

class Statement {
 public:
  Statement() = default;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }
  int prepare(sqlite3* db, const char* sql) {
    return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// Resets the statement when the scope ends, so a reused statement never stays mid-step.
class Use {
 public:
  explicit Use(const Statement& s) : stmt_(s.get()) {}
  ~Use() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  sqlite3_stmt* operator*() const { return stmt_; }
  void text(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void i64(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }

 private:
  sqlite3_stmt* stmt_;
};

std::string column_text(sqlite3_stmt* s, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i))) : std::string();
}

// Reads the columns of kColumns starting at column `first`.
service::Pin row_to_pin(sqlite3_stmt* s, int first = 0) {
  service::Pin pin;
  pin.id = column_text(s, first);
  pin.cid = column_text(s, first + 1);
  pin.name = column_text(s, first + 2);
  pin.size = static_cast<std::uint64_t>(sqlite3_column_int64(s, first + 3));
  pin.pinned_at = sqlite3_column_int64(s, first + 4);
  pin.is_dir = sqlite3_column_int(s, first + 5) != 0;
  pin.size_is_dag = sqlite3_column_int(s, first + 6) != 0;
  if (sqlite3_column_type(s, first + 7) == SQLITE_BLOB)
    pin.keyvalues = decode_keyvalues(sqlite3_column_blob(s, first + 7), sqlite3_column_bytes(s, first + 7));
  return pin;
}

class SqlitePinIndex final : public PinIndex {
 public:
  // close_v2: the statements are finalized after this body, and the connection closes with the last one.
  ~SqlitePinIndex() override { sqlite3_close_v2(db_); }

  // Opens path and checks it can be read as an index of this schema; an error means "set it aside".
  Result<void> open(const std::string& path) {
    path_ = path;
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK)
      return error("open");
    sqlite3_busy_timeout(db_, 5000);
    int version = 0;
    if (auto r = scalar("PRAGMA user_version", version); !r) return r;
    if (version != 0 && version != kSchemaVersion)
      return fail(EPROTO, "pin index " + path + " has schema " + std::to_string(version) + ", not " +
                              std::to_string(kSchemaVersion));
    for (const char* pragma :
         {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=OFF"})
      if (auto r = exec(pragma); !r) return r;
    if (auto r = exec(kSchema); !r) return r;
    if (version == 0)
      if (auto r = exec("PRAGMA user_version=" + std::to_string(kSchemaVersion)); !r) return r;
    // Counting walks the whole table: damage inside it shows up here rather than in the middle of a mount.
    int count = 0;
    if (auto r = scalar("SELECT count(*) FROM pins", count); !r) return r;
    count_ = static_cast<std::size_t>(count);
    const std::string cols = kColumns;
    const std::pair<Statement*, std::string> statements[] = {
        {&upsert_,
         "INSERT INTO pins(key, " + cols +
             ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9) ON CONFLICT(key) DO UPDATE SET id=excluded.id, "
             "cid=excluded.cid, name=excluded.name, size=excluded.size, pinned_at=excluded.pinned_at, "
             "is_dir=excluded.is_dir, size_is_dag=excluded.size_is_dag, keyvalues=excluded.keyvalues"},
        {&exists_, "SELECT 1 FROM pins WHERE key=?1"},
        {&erase_, "DELETE FROM pins WHERE key=?1"},
        {&find_, "SELECT " + cols + " FROM pins WHERE key=?1"},
        {&by_cid_, "SELECT " + cols + " FROM pins WHERE cid=?1 ORDER BY key"},
        {&by_name_, "SELECT " + cols + " FROM pins WHERE name=?1 ORDER BY key"},
        {&page_,
         "SELECT key, " + cols + " FROM pins WHERE key>?1 ORDER BY key LIMIT " + std::to_string(kStreamPage)},
        {&meta_get_, "SELECT key, value FROM meta"},
        {&meta_set_, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)"},
        {&meta_del_, "DELETE FROM meta WHERE key=?1"},
        {&begin_, "BEGIN IMMEDIATE"},
        {&commit_, "COMMIT"},
        {&rollback_, "ROLLBACK"},
        {&clear_, "DELETE FROM pins"},
    };
    for (const auto& [stmt, sql] : statements) {
      if (stmt->prepare(db_, sql.c_str()) != SQLITE_OK) return error("prepare");
    }
    return load_state();
  }

  void replace_all(std::vector<service::Pin> pins, std::int64_t synced_at) override {
    std::lock_guard lock(mu_);
    transaction([&] {
      step(clear_);
      count_ = 0;
      for (const auto& pin : pins) upsert_locked(pin);
      state_.synced_at = synced_at;
      state_.reconciled_at = synced_at;
      state_.complete = true;
      store_state_locked();
    });
  }
  void upsert(const service::Pin& pin) override {
    std::lock_guard lock(mu_);
    transaction([&] { upsert_locked(pin); });
  }
  void erase(const std::string& key) override {
    std::lock_guard lock(mu_);
    bool erased = false;
    transaction([&] { erased = erase_locked(key); }, /*bump=*/false);
    if (erased) ++generation_;
  }
  void apply(const std::vector<service::Pin>& upserts, const std::vector<std::string>& erase_keys) override {
    std::lock_guard lock(mu_);
    transaction([&] {
      for (const auto& pin : upserts) upsert_locked(pin);
      for (const auto& key : erase_keys) erase_locked(key);
    });
  }
  std::vector<service::Pin> all() const override {
    std::vector<service::Pin> out;
    for_each([&](const service::Pin& pin) { out.push_back(pin); });
    return out;
  }
  // Pages of kStreamPage rows in key order; the lock is not held while visit runs, so visit may call
  // back into the index. A change made meanwhile may or may not be seen, as with any live listing.
  void for_each(const std::function<void(const service::Pin&)>& visit) const override {
    std::string after;
    for (;;) {
      std::vector<service::Pin> page;
      {
        std::lock_guard lock(mu_);
        Use q(page_);
        q.text(1, after);
        int rc;
        while ((rc = sqlite3_step(*q)) == SQLITE_ROW) {
          after = column_text(*q, 0);
          page.push_back(row_to_pin(*q, 1));
        }
        if (rc != SQLITE_DONE) log_error("list");
      }
      for (const auto& pin : page) visit(pin);
      if (page.size() < static_cast<std::size_t>(kStreamPage)) return;
    }
  }
  std::optional<service::Pin> find(const std::string& key) const override {
    std::lock_guard lock(mu_);
    auto pins = select_locked(find_, key);
    if (pins.empty()) return std::nullopt;
    return std::move(pins.front());
  }
  std::vector<service::Pin> by_cid(const std::string& cid) const override {
    std::lock_guard lock(mu_);
    return select_locked(by_cid_, cid);
  }
  std::vector<service::Pin> by_name(const std::string& name) const override {
    std::lock_guard lock(mu_);
    return select_locked(by_name_, name);
  }
  std::size_t size() const override {
    std::lock_guard lock(mu_);
    return count_;
  }
  std::uint64_t generation() const override {
    std::lock_guard lock(mu_);
    return generation_;
  }
  SyncState sync_state() const override {
    std::lock_guard lock(mu_);
    return state_;
  }
  void set_sync_state(const SyncState& state) override {
    std::lock_guard lock(mu_);
    transaction(
        [&] {
          state_ = state;
          store_state_locked();
        },
        /*bump=*/false);
  }

 private:
  Result<void> exec(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      std::string text = message ? message : sqlite3_errmsg(db_);
      sqlite3_free(message);
      return fail(EIO, "pin index " + path_ + ": " + text);
    }
    return {};
  }
  Result<void> scalar(const char* sql, int& out) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK) return error(sql);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) out = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return error(sql);
    return {};
  }
  std::unexpected<Error> error(const std::string& what) const {
    return fail(EIO, "pin index " + path_ + ": " + what + ": " + sqlite3_errmsg(db_));
  }
  void log_error(const char* what) const {
    spdlog::error("pin index {}: {}: {} (the index is a cache; remove the file to rebuild it)", path_, what,
                  sqlite3_errmsg(db_));
  }
  bool step(const Statement& s) {
    Use q(s);
    return step(q);
  }
  bool step(Use& q) {
    int rc = sqlite3_step(*q);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return true;
    log_error(sqlite3_sql(*q));
    return false;
  }
  // Runs fn in one transaction (requires mu_); one generation bump for the whole change set.
  template <typename Fn>
  void transaction(Fn&& fn, bool bump = true) {
    const bool nested = !sqlite3_get_autocommit(db_);
    if (!nested) step(begin_);
    fn();
    if (!nested && !step(commit_)) {
      step(rollback_);
      int count = 0;  // the in-memory count must match what the file holds
      if (scalar("SELECT count(*) FROM pins", count)) count_ = static_cast<std::size_t>(count);
    }
    if (bump) ++generation_;
  }
  void upsert_locked(const service::Pin& pin) {
    const std::string key = pin_key(pin);
    bool existed = false;
    {
      Use q(exists_);
      q.text(1, key);
      existed = sqlite3_step(*q) == SQLITE_ROW;
    }
    Use q(upsert_);
    q.text(1, key);
    q.text(2, pin.id);
    q.text(3, pin.cid);
    q.text(4, pin.name);
    q.i64(5, static_cast<std::int64_t>(pin.size));
    q.i64(6, pin.pinned_at);
    q.i64(7, pin.is_dir);
    q.i64(8, pin.size_is_dag);
    const std::string kv = encode_keyvalues(pin.keyvalues);
    if (!kv.empty()) sqlite3_bind_blob(*q, 9, kv.data(), static_cast<int>(kv.size()), SQLITE_TRANSIENT);
    if (step(q) && !existed) ++count_;
  }
  bool erase_locked(const std::string& key) {
    Use q(erase_);
    q.text(1, key);
    if (!step(q)) return false;
    const bool erased = sqlite3_changes(db_) > 0;
    if (erased) --count_;
    return erased;
  }
  std::vector<service::Pin> select_locked(const Statement& s, const std::string& arg) const {
    std::vector<service::Pin> out;
    Use q(s);
    q.text(1, arg);
    int rc;
    while ((rc = sqlite3_step(*q)) == SQLITE_ROW) out.push_back(row_to_pin(*q));
    if (rc != SQLITE_DONE) log_error("select");
    return out;
  }
  Result<void> load_state() {
    Use q(meta_get_);
    int rc;
    while ((rc = sqlite3_step(*q)) == SQLITE_ROW) {
      const std::string key = column_text(*q, 0);
      const std::int64_t value = sqlite3_column_int64(*q, 1);
      if (key == "synced_at") state_.synced_at = value;
      if (key == "reconciled_at") state_.reconciled_at = value;
      if (key == "complete") state_.complete = value != 0;
    }
    if (rc != SQLITE_DONE) return error("read meta");
    return {};
  }
  void store_state_locked() {
    auto put = [&](const char* key, std::optional<std::int64_t> value) {
      Use q(value ? meta_set_ : meta_del_);
      q.text(1, key);
      if (value) q.i64(2, *value);
      step(q);
    };
    put("synced_at", state_.synced_at);
    put("reconciled_at", state_.reconciled_at);
    put("complete", state_.complete ? 1 : 0);
  }

  std::string path_;
  sqlite3* db_ = nullptr;  // one connection, used only under mu_
  // Lock order: mu_ is a leaf lock; nothing else is taken while it is held, and no callback runs under it.
  mutable std::mutex mu_;
  Statement upsert_, exists_, erase_, find_, by_cid_, by_name_, page_, meta_get_, meta_set_, meta_del_,
      begin_, commit_, rollback_, clear_;
  std::size_t count_ = 0;
  std::uint64_t generation_ = 1;
  SyncState state_;
};

// Moves the unreadable index (and its WAL and shared-memory files) out of the way.
void set_aside(const std::string& path) {
  const std::string stamp = std::to_string(std::time(nullptr));
  std::error_code ec;
  std::filesystem::rename(path, path + ".corrupt-" + stamp, ec);
  for (const char* suffix : {"-wal", "-shm"}) std::filesystem::remove(path + suffix, ec);
}

}  // namespace

Result<std::unique_ptr<PinIndex>> open_sqlite_pin_index(const std::string& path) {
  auto index = std::make_unique<SqlitePinIndex>();
  auto opened = index->open(path);
  if (opened) return std::unique_ptr<PinIndex>(std::move(index));
  index.reset();
  spdlog::warn("{}; setting it aside as {}.corrupt-* and starting a new index (a full listing rebuilds it)",
               opened.error().message, path);
  set_aside(path);
  index = std::make_unique<SqlitePinIndex>();
  if (auto again = index->open(path); !again) return std::unexpected(again.error());
  return std::unique_ptr<PinIndex>(std::move(index));
}

}  // namespace pinfs::cache
