//===- TuningDB.h - the tuning database (SQLite) ----------------*- C++ -*-===//
//
// One record per (kernel signature, target, xfmr version): the winning
// schedule, its measured objective beside the default schedule's, and the
// trials that led to it (the tuning curve). The signature already holds the
// shapes and the weight precision; they are also stored as columns to read.
// The target names the CPU, its features and the thread count measured on.
//
// Every write is one transaction (WAL journal, busy timeout), so concurrent
// tuners and a writer killed mid-run leave the file consistent: a record
// and its trials land together or not at all; an import is one transaction
// too, all of its records or none. When two tuners record the same key,
// the faster schedule stays.
//
// Opening checks the file is an xfmr tuning database of this schema
// version; anything else is a one-line error naming the file, as is every
// SQLite error after it (a corrupt page fails the read, never reads as
// "no records").
//
// A record is used only if validRecord() accepts it: one written by
// another tool or an older bug (tile_n = 0, a negative time) is neither
// given to a compile nor kept over a valid record of the same key.
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_AUTOTUNE_TUNINGDB_H
#define XFMR_AUTOTUNE_TUNINGDB_H

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "llvm/ADT/STLFunctionalExtras.h"

struct sqlite3;

namespace mlir::xfmr::tune {

constexpr int kTuningDBSchema = 1;

/// The largest JSON export importJSON reads: far above a real one (a
/// record with 200 trials is about 30 KB), far below what exhausts memory.
constexpr int64_t kMaxTuningExportBytes = int64_t(256) << 20;

struct TrialRow {
  std::string schedule;
  bool ok = false;
  double objectiveUs = 0;
};

struct TuningRecord {
  std::string kernel, family, shape, precision, target, version;
  std::string schedule, defaultSchedule;
  double objectiveUs = 0, decodeUs = 0, prefillUs = 0;
  double defaultObjectiveUs = 0, defaultDecodeUs = 0, defaultPrefillUs = 0;
  std::vector<TrialRow> trials;
  /// The default schedule, with its figures, as the record's schedule.
  void keepDefault() {
    schedule = defaultSchedule;
    objectiveUs = defaultObjectiveUs, decodeUs = defaultDecodeUs, prefillUs = defaultPrefillUs;
  }
};

/// Whether `r` may be stored and used: a non-empty key, both schedules
/// ones Candidate::parse reads and the schedule verifier accepts
/// (Candidate::valid), every time finite and positive (prefill may be 0 for
/// an LM head, whose prefill is not timed), and each trial's schedule
/// readable with a finite, non-negative time. Else false and *why names the
/// field and what is wrong, in one line.
bool validRecord(const TuningRecord &r, std::string *why);

class TuningDB {
public:
  /// Opens (creating it when `create` and missing) the database at `path`.
  static std::unique_ptr<TuningDB> open(const std::string &path, bool create,
                                        std::string *error);
  ~TuningDB();

  /// The record for a key, if any (false and *error on a read failure). A
  /// record validRecord() refuses reads as absent (with a warning on
  /// stderr, once per key), so the tuner measures the kernel again.
  bool lookup(const std::string &kernel, const std::string &target,
              const std::string &version, std::optional<TuningRecord> *out,
              std::string *error);
  /// Stores `r` (and its trials) in one transaction unless a faster valid
  /// record of the same key is there already (`replace`: regardless). An
  /// invalid `r` is refused.
  bool store(const TuningRecord &r, std::string *error, bool replace = false);
  /// All valid records (with their trials), for export and listing; the
  /// others are skipped as lookup() skips them.
  bool all(std::vector<TuningRecord> *out, std::string *error);

  /// JSON: {"format": "xfmr-tuning-db", "schema": 1, "records": [...]},
  /// written atomically (a temporary sibling renamed over `path`); a
  /// `path` that is not a regular file (a device, a FIFO, a directory, a
  /// symbolic link) is refused and left alone.
  bool exportJSON(const std::string &path, std::string *error);
  /// Stores every record of such a file (a regular file of at most
  /// kMaxTuningExportBytes) in one transaction; returns how many, -1 on
  /// error with nothing stored.
  int importJSON(const std::string &path, std::string *error);
  /// importJSON on text in memory; `nameForErrors` stands for the file in
  /// the messages. Any text is safe to give it (nesting is bounded before
  /// parsing), so a fuzz target can call it on an open(":memory:") DB.
  int importJSONText(const std::string &text, const std::string &nameForErrors,
                     std::string *error);

  /// SQLite's integrity check: true when "ok" (else *error says what).
  bool integrityCheck(std::string *error);

  const std::string &path() const { return path_; }

private:
  TuningDB() = default;
  bool exec(const char *sql, std::string *error);
  /// Runs `body` between BEGIN IMMEDIATE and COMMIT; rolls back if either
  /// fails.
  bool transaction(llvm::function_ref<bool()> body, std::string *error);
  /// store() without the transaction (import runs many in one).
  bool storeRecord(const TuningRecord &r, bool replace, std::string *error);
  /// The record as stored, valid or not, without its trials.
  bool readRecord(const std::string &kernel, const std::string &target,
                  const std::string &version, std::optional<TuningRecord> *out,
                  std::string *error);
  bool readTrials(TuningRecord &r, std::string *error);
  /// Says once per key on stderr that an invalid record is skipped.
  void ignoreRecord(const TuningRecord &r, const std::string &why);
  sqlite3 *db_ = nullptr;
  std::string path_;
  std::set<std::string> warned_;
};

/// The target key of this host: CPU name, features, thread count.
std::string hostTarget(int threads);
/// The xfmr version records are keyed by.
std::string xfmrVersion();

} // namespace mlir::xfmr::tune

#endif
