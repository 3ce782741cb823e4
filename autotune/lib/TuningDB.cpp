//===- TuningDB.cpp - the tuning database (SQLite) -------------------------===//
#include "xfmr/Autotune/TuningDB.h"
#include "xfmr/Autotune/SearchSpace.h"
#include "xfmr/Lowering/CPUTarget.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <sqlite3.h>

#include <array>
#include <cstdio>

using namespace mlir::xfmr::tune;

#ifndef XFMR_VERSION
#define XFMR_VERSION "dev"
#endif

std::string mlir::xfmr::tune::xfmrVersion() { return XFMR_VERSION; }

std::string mlir::xfmr::tune::hostTarget(int threads) {
  CPUTarget t = CPUTarget::host();
  return "cpu=" + t.cpu + " threads=" + std::to_string(threads) + " features=" + t.features;
}

namespace {
/// One prepared statement, finalized on scope exit.
struct Stmt {
  sqlite3_stmt *s = nullptr;
  Stmt(sqlite3 *db, const char *sql) { sqlite3_prepare_v2(db, sql, -1, &s, nullptr); }
  ~Stmt() { sqlite3_finalize(s); }
  explicit operator bool() const { return s != nullptr; }
  void text(int i, const std::string &v) {
    sqlite3_bind_text(s, i, v.c_str(), int(v.size()), SQLITE_TRANSIENT);
  }
  void real(int i, double v) { sqlite3_bind_double(s, i, v); }
  void integer(int i, int64_t v) { sqlite3_bind_int64(s, i, v); }
  std::string col(int i) {
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? reinterpret_cast<const char *>(t) : "";
  }
  double colReal(int i) { return sqlite3_column_double(s, i); }
};

const char *kSchema =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS records("
    " kernel TEXT NOT NULL, target TEXT NOT NULL, version TEXT NOT NULL,"
    " family TEXT NOT NULL, shape TEXT NOT NULL, precision TEXT NOT NULL,"
    " schedule TEXT NOT NULL, objective_us REAL NOT NULL, decode_us REAL NOT NULL,"
    " prefill_us REAL NOT NULL, default_schedule TEXT NOT NULL,"
    " default_objective_us REAL NOT NULL, default_decode_us REAL NOT NULL,"
    " default_prefill_us REAL NOT NULL,"
    " PRIMARY KEY(kernel, target, version));"
    "CREATE TABLE IF NOT EXISTS trials("
    " kernel TEXT NOT NULL, target TEXT NOT NULL, version TEXT NOT NULL,"
    " trial INTEGER NOT NULL, schedule TEXT NOT NULL, ok INTEGER NOT NULL,"
    " objective_us REAL NOT NULL, PRIMARY KEY(kernel, target, version, trial));";
} // namespace

TuningDB::~TuningDB() {
  if (db_)
    sqlite3_close(db_);
}

bool TuningDB::exec(const char *sql, std::string *error) {
  char *msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) == SQLITE_OK)
    return true;
  *error = path_ + ": " + (msg ? msg : sqlite3_errmsg(db_));
  sqlite3_free(msg);
  return false;
}

std::unique_ptr<TuningDB> TuningDB::open(const std::string &path, bool create,
                                         std::string *error) {
  std::unique_ptr<TuningDB> d(new TuningDB());
  d->path_ = path;
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.c_str(), &d->db_, flags, nullptr) != SQLITE_OK) {
    *error = path + ": cannot open the tuning database (" +
             (d->db_ ? sqlite3_errmsg(d->db_) : "out of memory") + ")";
    return nullptr;
  }
  sqlite3_busy_timeout(d->db_, 30000);
  // Reading the schema is the first access: a file that is not SQLite
  // fails here ("file is not a database").
  std::string err;
  bool empty = false;
  {
    Stmt q(d->db_, "SELECT count(*) FROM sqlite_master");
    if (!q || sqlite3_step(q.s) != SQLITE_ROW) {
      *error = path + ": not an xfmr tuning database (" + sqlite3_errmsg(d->db_) + ")";
      return nullptr;
    }
    empty = sqlite3_column_int(q.s, 0) == 0;
  }
  if (empty) {
    if (!d->exec("PRAGMA journal_mode=WAL", error) ||
        !d->exec("BEGIN IMMEDIATE", error) || !d->exec(kSchema, error))
      return nullptr;
    Stmt m(d->db_, "INSERT OR IGNORE INTO meta VALUES('format','xfmr-tuning-db'),"
                   "('schema', ?1)");
    m.text(1, std::to_string(kTuningDBSchema));
    if (sqlite3_step(m.s) != SQLITE_DONE || !d->exec("COMMIT", error)) {
      if (error->empty())
        *error = path + ": " + sqlite3_errmsg(d->db_);
      return nullptr;
    }
  }
  Stmt f(d->db_, "SELECT (SELECT value FROM meta WHERE key='format'),"
                 "(SELECT value FROM meta WHERE key='schema')");
  if (!f || sqlite3_step(f.s) != SQLITE_ROW || f.col(0) != "xfmr-tuning-db") {
    *error = path + ": not an xfmr tuning database (no xfmr meta table)";
    return nullptr;
  }
  if (f.col(1) != std::to_string(kTuningDBSchema)) {
    *error = path + ": tuning database schema " + f.col(1) + "; this xfmr (" +
             xfmrVersion() + ") reads schema " + std::to_string(kTuningDBSchema);
    return nullptr;
  }
  return d;
}

bool TuningDB::lookup(const std::string &kernel, const std::string &target,
                      const std::string &version, std::optional<TuningRecord> *out,
                      std::string *error) {
  Stmt q(db_, "SELECT family, shape, precision, schedule, objective_us, decode_us,"
              " prefill_us, default_schedule, default_objective_us,"
              " default_decode_us, default_prefill_us FROM records"
              " WHERE kernel=?1 AND target=?2 AND version=?3");
  if (!q) {
    *error = path_ + ": " + sqlite3_errmsg(db_);
    return false;
  }
  q.text(1, kernel), q.text(2, target), q.text(3, version);
  int rc = sqlite3_step(q.s);
  if (rc == SQLITE_DONE) {
    out->reset();
    return true;
  }
  if (rc != SQLITE_ROW) {
    *error = path_ + ": " + sqlite3_errmsg(db_);
    return false;
  }
  TuningRecord r;
  r.kernel = kernel, r.target = target, r.version = version;
  r.family = q.col(0), r.shape = q.col(1), r.precision = q.col(2);
  r.schedule = q.col(3), r.objectiveUs = q.colReal(4), r.decodeUs = q.colReal(5);
  r.prefillUs = q.colReal(6), r.defaultSchedule = q.col(7);
  r.defaultObjectiveUs = q.colReal(8), r.defaultDecodeUs = q.colReal(9);
  r.defaultPrefillUs = q.colReal(10);
  *out = r;
  return true;
}

bool TuningDB::store(const TuningRecord &r, std::string *error, bool replace) {
  if (!exec("BEGIN IMMEDIATE", error))
    return false;
  auto fail = [&] {
    if (error->empty())
      *error = path_ + ": " + sqlite3_errmsg(db_);
    std::string ignored;
    exec("ROLLBACK", &ignored);
    return false;
  };
  {
    Stmt q(db_, "SELECT objective_us FROM records WHERE kernel=?1 AND target=?2 AND version=?3");
    q.text(1, r.kernel), q.text(2, r.target), q.text(3, r.version);
    int rc = sqlite3_step(q.s);
    if (rc == SQLITE_ROW && !replace && q.colReal(0) <= r.objectiveUs)
      return exec("COMMIT", error); // a faster record is there: keep it
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
      return fail();
  }
  Stmt del(db_, "DELETE FROM trials WHERE kernel=?1 AND target=?2 AND version=?3");
  del.text(1, r.kernel), del.text(2, r.target), del.text(3, r.version);
  if (sqlite3_step(del.s) != SQLITE_DONE)
    return fail();
  Stmt ins(db_, "INSERT OR REPLACE INTO records VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)");
  ins.text(1, r.kernel), ins.text(2, r.target), ins.text(3, r.version);
  ins.text(4, r.family), ins.text(5, r.shape), ins.text(6, r.precision);
  ins.text(7, r.schedule), ins.real(8, r.objectiveUs), ins.real(9, r.decodeUs);
  ins.real(10, r.prefillUs), ins.text(11, r.defaultSchedule);
  ins.real(12, r.defaultObjectiveUs), ins.real(13, r.defaultDecodeUs);
  ins.real(14, r.defaultPrefillUs);
  if (sqlite3_step(ins.s) != SQLITE_DONE)
    return fail();
  for (size_t i = 0; i < r.trials.size(); ++i) {
    Stmt t(db_, "INSERT INTO trials VALUES(?1,?2,?3,?4,?5,?6,?7)");
    t.text(1, r.kernel), t.text(2, r.target), t.text(3, r.version);
    t.integer(4, int64_t(i)), t.text(5, r.trials[i].schedule);
    t.integer(6, r.trials[i].ok), t.real(7, r.trials[i].objectiveUs);
    if (sqlite3_step(t.s) != SQLITE_DONE)
      return fail();
  }
  return exec("COMMIT", error);
}

bool TuningDB::all(std::vector<TuningRecord> *out, std::string *error) {
  Stmt q(db_, "SELECT kernel, target, version FROM records ORDER BY rowid");
  if (!q) {
    *error = path_ + ": " + sqlite3_errmsg(db_);
    return false;
  }
  std::vector<std::array<std::string, 3>> keys;
  while (sqlite3_step(q.s) == SQLITE_ROW)
    keys.push_back({q.col(0), q.col(1), q.col(2)});
  for (auto &k : keys) {
    std::optional<TuningRecord> r;
    if (!lookup(k[0], k[1], k[2], &r, error))
      return false;
    if (!r)
      continue;
    Stmt t(db_, "SELECT schedule, ok, objective_us FROM trials WHERE kernel=?1"
                " AND target=?2 AND version=?3 ORDER BY trial");
    t.text(1, k[0]), t.text(2, k[1]), t.text(3, k[2]);
    while (sqlite3_step(t.s) == SQLITE_ROW)
      r->trials.push_back({t.col(0), sqlite3_column_int(t.s, 1) != 0, t.colReal(2)});
    out->push_back(*r);
  }
  return true;
}

bool TuningDB::integrityCheck(std::string *error) {
  Stmt q(db_, "PRAGMA integrity_check");
  if (!q || sqlite3_step(q.s) != SQLITE_ROW) {
    *error = path_ + ": " + sqlite3_errmsg(db_);
    return false;
  }
  if (q.col(0) != "ok") {
    *error = path_ + ": integrity check: " + q.col(0);
    return false;
  }
  return true;
}

bool TuningDB::exportJSON(const std::string &path, std::string *error) {
  std::vector<TuningRecord> records;
  if (!all(&records, error))
    return false;
  llvm::json::Array arr;
  for (const TuningRecord &r : records) {
    llvm::json::Array trials;
    for (const TrialRow &t : r.trials)
      trials.push_back(llvm::json::Object{
          {"schedule", t.schedule}, {"ok", t.ok}, {"objective_us", t.objectiveUs}});
    arr.push_back(llvm::json::Object{
        {"kernel", r.kernel}, {"target", r.target}, {"version", r.version},
        {"family", r.family}, {"shape", r.shape}, {"precision", r.precision},
        {"schedule", r.schedule}, {"objective_us", r.objectiveUs},
        {"decode_us", r.decodeUs}, {"prefill_us", r.prefillUs},
        {"default_schedule", r.defaultSchedule},
        {"default_objective_us", r.defaultObjectiveUs},
        {"default_decode_us", r.defaultDecodeUs},
        {"default_prefill_us", r.defaultPrefillUs}, {"trials", std::move(trials)}});
  }
  llvm::json::Object doc{{"format", "xfmr-tuning-db"},
                         {"schema", kTuningDBSchema},
                         {"records", std::move(arr)}};
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec) {
    *error = path + ": " + ec.message();
    return false;
  }
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(doc))) << "\n";
  return true;
}

int TuningDB::importJSON(const std::string &path, std::string *error) {
  auto buf = llvm::MemoryBuffer::getFile(path);
  if (!buf) {
    *error = path + ": " + buf.getError().message();
    return -1;
  }
  llvm::Expected<llvm::json::Value> v = llvm::json::parse((*buf)->getBuffer());
  if (!v) {
    *error = path + ": not JSON (" + llvm::toString(v.takeError()) + ")";
    return -1;
  }
  const llvm::json::Object *doc = v->getAsObject();
  if (!doc || doc->getString("format") != std::optional<llvm::StringRef>("xfmr-tuning-db")) {
    *error = path + ": not an xfmr tuning export (no \"format\": \"xfmr-tuning-db\")";
    return -1;
  }
  if (doc->getInteger("schema") != std::optional<int64_t>(kTuningDBSchema)) {
    *error = path + ": tuning export of another schema; this xfmr reads schema " +
             std::to_string(kTuningDBSchema);
    return -1;
  }
  const llvm::json::Array *recs = doc->getArray("records");
  if (!recs) {
    *error = path + ": no \"records\" array";
    return -1;
  }
  int n = 0;
  for (const llvm::json::Value &rv : *recs) {
    const llvm::json::Object *o = rv.getAsObject();
    TuningRecord r;
    auto str = [&](const char *k, std::string &dst) {
      auto s = o ? o->getString(k) : std::nullopt;
      if (s)
        dst = s->str();
      return bool(s);
    };
    auto num = [&](const char *k, double &dst) {
      auto s = o ? o->getNumber(k) : std::nullopt;
      if (s)
        dst = *s;
      return bool(s);
    };
    bool ok = str("kernel", r.kernel) && str("target", r.target) &&
              str("version", r.version) && str("family", r.family) &&
              str("shape", r.shape) && str("precision", r.precision) &&
              str("schedule", r.schedule) && num("objective_us", r.objectiveUs) &&
              num("decode_us", r.decodeUs) && num("prefill_us", r.prefillUs) &&
              str("default_schedule", r.defaultSchedule) &&
              num("default_objective_us", r.defaultObjectiveUs) &&
              num("default_decode_us", r.defaultDecodeUs) &&
              num("default_prefill_us", r.defaultPrefillUs);
    if (!ok) {
      *error = path + ": record " + std::to_string(n) + " lacks a field or has a wrong type";
      return -1;
    }
    Candidate c;
    if (!Candidate::parse(r.schedule, &c) || !Candidate::parse(r.defaultSchedule, &c)) {
      *error = path + ": record " + std::to_string(n) + " has a malformed schedule '" +
               r.schedule + "'";
      return -1;
    }
    if (const llvm::json::Array *ts = o->getArray("trials"))
      for (const llvm::json::Value &tv : *ts) {
        const llvm::json::Object *t = tv.getAsObject();
        if (!t || !t->getString("schedule") || !t->getNumber("objective_us")) {
          *error = path + ": record " + std::to_string(n) + " has a malformed trial";
          return -1;
        }
        r.trials.push_back({t->getString("schedule")->str(),
                            t->getBoolean("ok").value_or(false),
                            *t->getNumber("objective_us")});
      }
    if (!store(r, error))
      return -1;
    ++n;
  }
  return n;
}
