//===- TuningDB.cpp - the tuning database (SQLite) -------------------------===//
#include "xfmr/Autotune/TuningDB.h"
#include "xfmr/Autotune/SearchSpace.h"
#include "xfmr/Lowering/CPUTarget.h"
#include "xfmr/io/files.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <sqlite3.h>

#include <array>
#include <cmath>
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
/// One prepared statement, finalized on scope exit. The first failure of
/// its prepare, binds, steps or column reads is kept with SQLite's message
/// and stops every call after it, so a caller binds and steps freely and
/// checks ok() once: no error can pass for "no rows".
class Stmt {
public:
  Stmt(sqlite3 *db, const char *sql) : db_(db) {
    note(sqlite3_prepare_v2(db, sql, -1, &s_, nullptr));
  }
  ~Stmt() { sqlite3_finalize(s_); } // its result repeats the last step's
  Stmt(const Stmt &) = delete;
  Stmt &operator=(const Stmt &) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  const std::string &message() const { return msg_; }

  Stmt &text(int i, const std::string &v) {
    if (ok())
      note(sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
    return *this;
  }
  Stmt &real(int i, double v) {
    if (ok())
      note(sqlite3_bind_double(s_, i, v));
    return *this;
  }
  Stmt &integer(int i, int64_t v) {
    if (ok())
      note(sqlite3_bind_int64(s_, i, v));
    return *this;
  }
  /// One step: true on a row; false when done or failed (ok() says which).
  bool row() {
    if (!ok())
      return false;
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW)
      return true;
    if (rc != SQLITE_DONE)
      note(rc);
    return false;
  }
  /// Makes the statement ready to run again (the bindings stay).
  bool reset() {
    if (ok())
      note(sqlite3_reset(s_));
    return ok();
  }
  /// Runs a statement to its end: true unless it failed.
  bool run() {
    while (row()) {
    }
    return ok();
  }

  std::string col(int i) {
    const unsigned char *t = sqlite3_column_text(s_, i);
    if (!t) { // NULL (the schema forbids it) or no memory to convert
      if (sqlite3_errcode(db_) == SQLITE_NOMEM)
        note(SQLITE_NOMEM);
      return "";
    }
    return std::string(reinterpret_cast<const char *>(t), size_t(sqlite3_column_bytes(s_, i)));
  }
  double colReal(int i) { return sqlite3_column_double(s_, i); }
  int64_t colInt(int i) { return sqlite3_column_int64(s_, i); }

private:
  void note(int rc) {
    if (rc == SQLITE_OK || !ok())
      return;
    rc_ = rc;
    msg_ = sqlite3_errmsg(db_);
    if (msg_.empty() || msg_ == "not an error")
      msg_ = sqlite3_errstr(rc);
  }
  sqlite3 *db_;
  sqlite3_stmt *s_ = nullptr;
  int rc_ = SQLITE_OK;
  std::string msg_;
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

/// Text from a file or a database, fit for a one-line message: control
/// and non-ASCII bytes escaped, cut after 80 characters.
std::string oneLine(const std::string &s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < 80; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += char(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return s.size() > 80 ? out + "..." : out;
}
std::string printable(const std::string &s) { return "'" + oneLine(s) + "'"; }

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

/// The error of a failed statement: the file, what was being done, SQLite's
/// reason.
bool failed(const std::string &path, const char *doing, const Stmt &q, std::string *error) {
  *error = path + ": " + doing + ": " + q.message();
  return false;
}
} // namespace

bool mlir::xfmr::tune::validRecord(const TuningRecord &r, std::string *why) {
  auto bad = [&](const std::string &field, const std::string &what) {
    *why = field + ": " + what;
    return false;
  };
  if (r.kernel.empty() || r.target.empty() || r.version.empty())
    return bad(r.kernel.empty() ? "kernel" : r.target.empty() ? "target" : "version", "empty");
  auto schedule = [&](const std::string &field, const std::string &text) {
    Candidate c;
    if (!Candidate::parse(text, &c))
      return bad(field, "not a schedule xfmr reads: " + printable(text));
    std::string w;
    return c.valid(&w) || bad(field, w);
  };
  // NaN fails every comparison: the test is written so it fails here.
  auto time = [&](const std::string &field, double us, bool zeroOk) {
    if (std::isfinite(us) && (us > 0 || (zeroOk && us == 0)))
      return true;
    return bad(field, number(us) + " is not a " + (zeroOk ? "non-negative" : "positive") +
                          " finite time");
  };
  // The harness does not time an LM head's prefill (in prefill it runs on
  // the last row only): its prefill figures are 0.
  bool lmHead = r.family == "lm_head";
  if (!schedule("schedule", r.schedule) || !schedule("default_schedule", r.defaultSchedule) ||
      !time("objective_us", r.objectiveUs, false) || !time("decode_us", r.decodeUs, false) ||
      !time("prefill_us", r.prefillUs, lmHead) ||
      !time("default_objective_us", r.defaultObjectiveUs, false) ||
      !time("default_decode_us", r.defaultDecodeUs, false) ||
      !time("default_prefill_us", r.defaultPrefillUs, lmHead))
    return false;
  // Trials only draw the tuning curve (never compiled): a failed one keeps
  // its schedule with a time of 0.
  for (size_t i = 0; i < r.trials.size(); ++i) {
    std::string t = "trials[" + std::to_string(i) + "].";
    Candidate c;
    if (!Candidate::parse(r.trials[i].schedule, &c))
      return bad(t + "schedule", "not a schedule xfmr reads: " + printable(r.trials[i].schedule));
    if (!time(t + "objective_us", r.trials[i].objectiveUs, true))
      return false;
  }
  return true;
}

TuningDB::~TuningDB() {
  if (db_)
    sqlite3_close(db_); // every statement is finalized by then
}

bool TuningDB::exec(const char *sql, std::string *error) {
  char *msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) == SQLITE_OK)
    return true;
  *error = path_ + ": " + (msg ? msg : sqlite3_errmsg(db_));
  sqlite3_free(msg);
  return false;
}

bool TuningDB::transaction(llvm::function_ref<bool()> body, std::string *error) {
  if (!exec("BEGIN IMMEDIATE", error))
    return false;
  if (body() && exec("COMMIT", error))
    return true;
  // A failed COMMIT (busy) leaves the transaction open: end it, or the next
  // BEGIN fails. The first error is the one to report, and SQLite may have
  // rolled back already (on a full disk, say), so this one's is not.
  std::string ignored;
  exec("ROLLBACK", &ignored);
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
  if (sqlite3_busy_timeout(d->db_, 30000) != SQLITE_OK) {
    *error = path + ": " + sqlite3_errmsg(d->db_);
    return nullptr;
  }
  // Reading the schema is the first access: a file that is not SQLite
  // fails here ("file is not a database").
  bool empty = false;
  {
    Stmt q(d->db_, "SELECT count(*) FROM sqlite_master");
    if (!q.row()) {
      *error = path + ": not an xfmr tuning database (" +
               (q.ok() ? std::string("no schema") : q.message()) + ")";
      return nullptr;
    }
    empty = q.colInt(0) == 0;
  }
  if (empty) {
    // (On ":memory:" the journal mode stays "memory": the pragma still
    // succeeds.)
    if (!d->exec("PRAGMA journal_mode=WAL", error))
      return nullptr;
    bool made = d->transaction(
        [&] {
          if (!d->exec(kSchema, error))
            return false;
          Stmt m(d->db_, "INSERT OR IGNORE INTO meta VALUES('format','xfmr-tuning-db'),"
                         "('schema', ?1)");
          m.text(1, std::to_string(kTuningDBSchema));
          return m.run() || failed(path, "writing the schema", m, error);
        },
        error);
    if (!made)
      return nullptr;
  }
  Stmt f(d->db_, "SELECT (SELECT value FROM meta WHERE key='format'),"
                 "(SELECT value FROM meta WHERE key='schema')");
  bool row = f.row();
  std::string format = row ? f.col(0) : "", schema = row ? f.col(1) : "";
  if (!f.ok()) {
    // No meta table fails the prepare: another SQLite file, not a damaged one.
    bool noMeta = f.message().find("no such table") != std::string::npos;
    *error = path + ": not an xfmr tuning database (" +
             (noMeta ? std::string("no xfmr meta table") : f.message()) + ")";
    return nullptr;
  }
  if (!row || format != "xfmr-tuning-db") {
    *error = path + ": not an xfmr tuning database (no xfmr meta table)";
    return nullptr;
  }
  if (schema != std::to_string(kTuningDBSchema)) {
    *error = path + ": tuning database schema " + oneLine(schema) +
             "; this xfmr (" + xfmrVersion() + ") reads schema " +
             std::to_string(kTuningDBSchema);
    return nullptr;
  }
  return d;
}

bool TuningDB::readRecord(const std::string &kernel, const std::string &target,
                          const std::string &version, std::optional<TuningRecord> *out,
                          std::string *error) {
  Stmt q(db_, "SELECT family, shape, precision, schedule, objective_us, decode_us,"
              " prefill_us, default_schedule, default_objective_us,"
              " default_decode_us, default_prefill_us FROM records"
              " WHERE kernel=?1 AND target=?2 AND version=?3");
  q.text(1, kernel).text(2, target).text(3, version);
  out->reset();
  if (!q.row())
    return q.ok() || failed(path_, "reading a record", q, error);
  TuningRecord r;
  r.kernel = kernel, r.target = target, r.version = version;
  r.family = q.col(0), r.shape = q.col(1), r.precision = q.col(2);
  r.schedule = q.col(3), r.objectiveUs = q.colReal(4), r.decodeUs = q.colReal(5);
  r.prefillUs = q.colReal(6), r.defaultSchedule = q.col(7);
  r.defaultObjectiveUs = q.colReal(8), r.defaultDecodeUs = q.colReal(9);
  r.defaultPrefillUs = q.colReal(10);
  if (!q.ok())
    return failed(path_, "reading a record", q, error);
  *out = std::move(r);
  return true;
}

void TuningDB::ignoreRecord(const TuningRecord &r, const std::string &why) {
  // Once per key: the tuner looks a kernel up more than once.
  if (!warned_.insert(r.kernel + '\0' + r.target + '\0' + r.version).second)
    return;
  std::fprintf(stderr, "xfmr: warning: %s: ignoring an invalid record (%s): %s\n",
               path_.c_str(), oneLine(r.family + " " + r.shape + " " + r.precision).c_str(),
               why.c_str());
}

bool TuningDB::lookup(const std::string &kernel, const std::string &target,
                      const std::string &version, std::optional<TuningRecord> *out,
                      std::string *error) {
  if (!readRecord(kernel, target, version, out, error))
    return false;
  std::string why;
  if (*out && !validRecord(**out, &why)) {
    ignoreRecord(**out, why);
    out->reset();
  }
  return true;
}

bool TuningDB::storeRecord(const TuningRecord &r, bool replace, std::string *error) {
  if (!replace) {
    std::optional<TuningRecord> there;
    if (!readRecord(r.kernel, r.target, r.version, &there, error))
      return false;
    // A faster record stays, if a compile may use it: an invalid one (a
    // negative time would win every comparison) is always replaced.
    std::string why;
    if (there && validRecord(*there, &why) && there->objectiveUs <= r.objectiveUs)
      return true;
  }
  Stmt del(db_, "DELETE FROM trials WHERE kernel=?1 AND target=?2 AND version=?3");
  del.text(1, r.kernel).text(2, r.target).text(3, r.version);
  if (!del.run())
    return failed(path_, "deleting old trials", del, error);
  Stmt ins(db_, "INSERT OR REPLACE INTO records VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)");
  ins.text(1, r.kernel).text(2, r.target).text(3, r.version);
  ins.text(4, r.family).text(5, r.shape).text(6, r.precision);
  ins.text(7, r.schedule).real(8, r.objectiveUs).real(9, r.decodeUs);
  ins.real(10, r.prefillUs).text(11, r.defaultSchedule);
  ins.real(12, r.defaultObjectiveUs).real(13, r.defaultDecodeUs);
  ins.real(14, r.defaultPrefillUs);
  if (!ins.run())
    return failed(path_, "writing a record", ins, error);
  Stmt t(db_, "INSERT INTO trials VALUES(?1,?2,?3,?4,?5,?6,?7)");
  for (size_t i = 0; i < r.trials.size(); ++i) {
    if (i > 0 && !t.reset())
      return failed(path_, "writing a trial", t, error);
    t.text(1, r.kernel).text(2, r.target).text(3, r.version);
    t.integer(4, int64_t(i)).text(5, r.trials[i].schedule);
    t.integer(6, r.trials[i].ok).real(7, r.trials[i].objectiveUs);
    if (!t.run())
      return failed(path_, "writing a trial", t, error);
  }
  return true;
}

bool TuningDB::store(const TuningRecord &r, std::string *error, bool replace) {
  std::string why;
  if (!validRecord(r, &why)) {
    *error = path_ + ": refusing to store an invalid record: " + why;
    return false;
  }
  return transaction([&] { return storeRecord(r, replace, error); }, error);
}

bool TuningDB::readTrials(TuningRecord &r, std::string *error) {
  Stmt t(db_, "SELECT schedule, ok, objective_us FROM trials WHERE kernel=?1"
              " AND target=?2 AND version=?3 ORDER BY trial");
  t.text(1, r.kernel).text(2, r.target).text(3, r.version);
  while (t.row())
    r.trials.push_back({t.col(0), t.colInt(1) != 0, t.colReal(2)});
  return t.ok() || failed(path_, "reading trials", t, error);
}

bool TuningDB::all(std::vector<TuningRecord> *out, std::string *error) {
  Stmt q(db_, "SELECT kernel, target, version FROM records ORDER BY rowid");
  std::vector<std::array<std::string, 3>> keys;
  while (q.row())
    keys.push_back({q.col(0), q.col(1), q.col(2)});
  if (!q.ok())
    return failed(path_, "reading the records", q, error);
  for (auto &k : keys) {
    std::optional<TuningRecord> r;
    if (!readRecord(k[0], k[1], k[2], &r, error) || (r && !readTrials(*r, error)))
      return false;
    std::string why;
    if (!r)
      continue;
    if (!validRecord(*r, &why)) {
      ignoreRecord(*r, why);
      continue;
    }
    out->push_back(std::move(*r));
  }
  return true;
}

bool TuningDB::integrityCheck(std::string *error) {
  Stmt q(db_, "PRAGMA integrity_check");
  if (!q.row()) {
    *error = path_ + ": integrity check: " + (q.ok() ? std::string("no result") : q.message());
    return false;
  }
  std::string verdict = q.col(0);
  if (verdict != "ok") {
    *error = path_ + ": integrity check: " + printable(verdict);
    return false;
  }
  return true;
}

bool TuningDB::exportJSON(const std::string &path, std::string *error) {
  std::vector<TuningRecord> records;
  if (!all(&records, error))
    return false; // before anything is written: no file
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
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(doc))) << "\n";
  os.flush();
  return ::xfmr::io::writeFileAtomic(path, text, error);
}

namespace {
/// One record of an export, its fields checked for presence and type (the
/// values are validRecord's job); else false and *why names the field.
bool parseRecord(const llvm::json::Value &v, TuningRecord *r, std::string *why) {
  const llvm::json::Object *o = v.getAsObject();
  if (!o) {
    *why = "not an object";
    return false;
  }
  auto str = [&](const char *k, std::string &dst) {
    auto s = o->getString(k);
    if (s)
      dst = s->str();
    else
      *why = std::string(k) + ": lacks a field or has a wrong type (a string expected)";
    return bool(s);
  };
  auto num = [&](const char *k, double &dst) {
    auto n = o->getNumber(k);
    if (n)
      dst = *n;
    else
      *why = std::string(k) + ": lacks a field or has a wrong type (a number expected)";
    return bool(n);
  };
  if (!str("kernel", r->kernel) || !str("target", r->target) || !str("version", r->version) ||
      !str("family", r->family) || !str("shape", r->shape) ||
      !str("precision", r->precision) || !str("schedule", r->schedule) ||
      !num("objective_us", r->objectiveUs) || !num("decode_us", r->decodeUs) ||
      !num("prefill_us", r->prefillUs) || !str("default_schedule", r->defaultSchedule) ||
      !num("default_objective_us", r->defaultObjectiveUs) ||
      !num("default_decode_us", r->defaultDecodeUs) ||
      !num("default_prefill_us", r->defaultPrefillUs))
    return false;
  const llvm::json::Value *tv = o->get("trials");
  if (!tv)
    return true;
  const llvm::json::Array *ts = tv->getAsArray();
  if (!ts) {
    *why = "trials: not an array";
    return false;
  }
  for (size_t i = 0; i < ts->size(); ++i) {
    const llvm::json::Object *t = (*ts)[i].getAsObject();
    const llvm::json::Value *ok = t ? t->get("ok") : nullptr;
    if (!t || !t->getString("schedule") || !t->getNumber("objective_us") ||
        (ok && !ok->getAsBoolean())) {
      *why = "trials[" + std::to_string(i) +
             "]: not an object of a schedule, an objective_us and ok (true or false)";
      return false;
    }
    r->trials.push_back({t->getString("schedule")->str(), ok && *ok->getAsBoolean(),
                         *t->getNumber("objective_us")});
  }
  return true;
}

/// Every record of an export, checked: false and a one-line *error naming
/// the file (and the record and field) on the first thing wrong.
bool parseExport(const std::string &text, const std::string &name,
                 std::vector<TuningRecord> *out, std::string *error) {
  // llvm::json::parse recurses per level: bound the nesting first, so a
  // file of '[' cannot exhaust the stack. An export nests 5 deep.
  if (!::xfmr::io::jsonDepthWithin(text.data(), text.data() + text.size(),
                                   ::xfmr::io::kMaxJsonDepth)) {
    *error = name + ": not a tuning export (JSON nested deeper than " +
             std::to_string(::xfmr::io::kMaxJsonDepth) + " levels)";
    return false;
  }
  llvm::Expected<llvm::json::Value> v = llvm::json::parse(text);
  if (!v) {
    *error = name + ": not JSON (" + llvm::toString(v.takeError()) + ")";
    return false;
  }
  const llvm::json::Object *doc = v->getAsObject();
  if (!doc || doc->getString("format") != std::optional<llvm::StringRef>("xfmr-tuning-db")) {
    *error = name + ": not an xfmr tuning export (no \"format\": \"xfmr-tuning-db\")";
    return false;
  }
  if (doc->getInteger("schema") != std::optional<int64_t>(kTuningDBSchema)) {
    *error = name + ": tuning export of another schema; this xfmr reads schema " +
             std::to_string(kTuningDBSchema);
    return false;
  }
  const llvm::json::Array *recs = doc->getArray("records");
  if (!recs) {
    *error = name + ": no \"records\" array";
    return false;
  }
  for (size_t i = 0; i < recs->size(); ++i) {
    TuningRecord r;
    std::string why;
    if (!parseRecord((*recs)[i], &r, &why) || !validRecord(r, &why)) {
      *error = name + ": record " + std::to_string(i) + ": " + why;
      return false;
    }
    out->push_back(std::move(r));
  }
  return true;
}
} // namespace

int TuningDB::importJSON(const std::string &path, std::string *error) {
  std::string text;
  if (!::xfmr::io::readRegularFile(path, kMaxTuningExportBytes, &text, error))
    return -1;
  return importJSONText(text, path, error);
}

int TuningDB::importJSONText(const std::string &text, const std::string &nameForErrors,
                             std::string *error) {
  // Every record is checked before the first is stored, and all are stored
  // in one transaction: a bad file, or a write failing halfway, stores none.
  std::vector<TuningRecord> records;
  if (!parseExport(text, nameForErrors, &records, error))
    return -1;
  bool stored = transaction(
      [&] {
        for (const TuningRecord &r : records)
          if (!storeRecord(r, /*replace=*/false, error))
            return false;
        return true;
      },
      error);
  return stored ? int(records.size()) : -1;
}
