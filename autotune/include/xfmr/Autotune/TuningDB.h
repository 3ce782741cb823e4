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
// and its trials land together or not at all. When two tuners record the
// same key, the faster schedule stays.
//
// Opening checks the file is an xfmr tuning database of this schema
// version; anything else is a one-line error naming the file.
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_AUTOTUNE_TUNINGDB_H
#define XFMR_AUTOTUNE_TUNINGDB_H

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace mlir::xfmr::tune {

constexpr int kTuningDBSchema = 1;

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

class TuningDB {
public:
  /// Opens (creating it when `create` and missing) the database at `path`.
  static std::unique_ptr<TuningDB> open(const std::string &path, bool create,
                                        std::string *error);
  ~TuningDB();

  /// The record for a key, if any (false and *error on a read failure).
  bool lookup(const std::string &kernel, const std::string &target,
              const std::string &version, std::optional<TuningRecord> *out,
              std::string *error);
  /// Stores `r` (and its trials) in one transaction unless a faster record
  /// of the same key is there already (`replace`: regardless).
  bool store(const TuningRecord &r, std::string *error, bool replace = false);
  /// All records (with their trials), for export and listing.
  bool all(std::vector<TuningRecord> *out, std::string *error);

  /// JSON: {"format": "xfmr-tuning-db", "schema": 1, "records": [...]}.
  bool exportJSON(const std::string &path, std::string *error);
  /// Stores every record of such a file; returns how many, -1 on error.
  int importJSON(const std::string &path, std::string *error);

  /// SQLite's integrity check: true when "ok" (else *error says what).
  bool integrityCheck(std::string *error);

  const std::string &path() const { return path_; }

private:
  TuningDB() = default;
  bool exec(const char *sql, std::string *error);
  sqlite3 *db_ = nullptr;
  std::string path_;
};

/// The target key of this host: CPU name, features, thread count.
std::string hostTarget(int threads);
/// The xfmr version records are keyed by.
std::string xfmrVersion();

} // namespace mlir::xfmr::tune

#endif
