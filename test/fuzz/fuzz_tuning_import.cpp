// libFuzzer target: a tuning-DB JSON export ({"format": "xfmr-tuning-db",
// "schema": 1, "records": [...]}) imported into an in-memory database, as
// `xfmr tune-db import` does with a file; then everything stored is read
// back (all(), lookup() of each key). Seeds: make_corpus.sh (an `xfmr
// tune-db export` of a tuned tiny model) and seeds/fuzz_tuning_import/.
#include "xfmr/Autotune/TuningDB.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

using mlir::xfmr::tune::TuningDB;
using mlir::xfmr::tune::TuningRecord;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size), error;
  auto db = TuningDB::open(":memory:", /*create=*/true, &error);
  if (!db)
    std::abort(); // an in-memory database always opens
  int n = db->importJSONText(text, "fuzz.json", &error);
  if (n < 0) {
    if (error.empty())
      std::abort();
    return 0;
  }
  std::vector<TuningRecord> records;
  if (!db->all(&records, &error))
    std::abort();
  if (records.size() > size_t(n))
    std::abort(); // at most what was imported (same keys keep the faster)
  for (const TuningRecord &r : records) {
    std::string why;
    if (!mlir::xfmr::tune::validRecord(r, &why))
      std::abort(); // all() returns valid records only
    std::optional<TuningRecord> found;
    if (!db->lookup(r.kernel, r.target, r.version, &found, &error) || !found)
      std::abort();
  }
  // Importing the same text again is accepted too (the faster stays).
  if (db->importJSONText(text, "fuzz.json", &error) != n)
    std::abort();
  return 0;
}
