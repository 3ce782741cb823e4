// The autotuner: candidates are checked before they are kept, the search
// finds a known optimum within a quarter of the space, and the tuning
// database stays consistent under a killed writer, refuses files that are
// not its own with a clear error, reports every SQLite error (a corrupt
// page is not "no records"), imports all of a file or none of it, and
// never uses a record out of the schedule's ranges.
#include "xfmr/Autotune/Harness.h"
#include "xfmr/Autotune/Search.h"
#include "xfmr/Autotune/Tuner.h"
#include "xfmr/Autotune/TuningDB.h"
#include "xfmr/IR/XfmrDialect.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <random>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace mlir::xfmr;
using namespace mlir::xfmr::tune;

namespace {
std::string tempPath(const std::string &name) {
  std::string dir = ::testing::TempDir();
  std::string p = dir + "/xfmr_autotune_" + std::to_string(getpid()) + "_" + name;
  std::remove(p.c_str());
  std::remove((p + "-wal").c_str());
  std::remove((p + "-shm").c_str());
  return p;
}

const char *kLinear =
    "func.func @forward(%x: tensor<?x64xf32>, %w: tensor<64x96xf32>, %b: tensor<96xf32>)"
    " -> tensor<?x96xf32> {\n"
    "  %y = xfmr.linear %x, %w, %b : tensor<?x64xf32>, tensor<64x96xf32>, tensor<96xf32>"
    " -> tensor<?x96xf32>\n"
    "  return %y : tensor<?x96xf32>\n}\n";

TunableKernel linearKernel() {
  TunableKernel k;
  k.family = "linear";
  k.source = kLinear;
  k.shape = "64x96";
  k.precision = "f32";
  k.uses = 1;
  return k;
}

HarnessOptions smallHarness() {
  HarnessOptions o;
  o.threads = 2;
  o.rotateBytes = 1 << 20; // tests time nothing worth a cold cache
  return o;
}

TuningRecord record(const std::string &kernel, int trials, double us) {
  TuningRecord r;
  r.kernel = kernel, r.target = "cpu=test threads=2", r.version = "test";
  r.family = "linear", r.shape = "64x96", r.precision = "f32";
  r.schedule = "#xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 32, unroll = 1>";
  r.defaultSchedule = "#xfmr.schedule<vector_width = 16, tile_m = 8, tile_n = 48, unroll = 1>";
  r.objectiveUs = us, r.decodeUs = us, r.prefillUs = 64 * us;
  r.defaultObjectiveUs = 2 * us, r.defaultDecodeUs = 2 * us, r.defaultPrefillUs = 128 * us;
  for (int i = 0; i < trials; ++i)
    r.trials.push_back({r.schedule, true, us + i});
  return r;
}

std::string readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

/// An export of `records` (JSON objects' text).
std::string exportText(const std::vector<std::string> &records) {
  std::string s = "{\"format\": \"xfmr-tuning-db\", \"schema\": 1, \"records\": [";
  for (size_t i = 0; i < records.size(); ++i)
    s += (i ? ", " : "") + records[i];
  return s + "]}";
}

/// record(kernel, 2, 10) as export JSON, with `field` (if any) given the
/// raw JSON text `value` instead.
std::string recordJSON(const std::string &kernel, const std::string &field = "",
                       const std::string &value = "") {
  TuningRecord r = record(kernel, 2, 10.0);
  auto q = [](const std::string &s) { return "\"" + s + "\""; };
  auto num = [](double d) { return std::to_string(d); };
  std::vector<std::pair<std::string, std::string>> f = {
      {"kernel", q(r.kernel)}, {"target", q(r.target)}, {"version", q(r.version)},
      {"family", q(r.family)}, {"shape", q(r.shape)}, {"precision", q(r.precision)},
      {"schedule", q(r.schedule)}, {"objective_us", num(r.objectiveUs)},
      {"decode_us", num(r.decodeUs)}, {"prefill_us", num(r.prefillUs)},
      {"default_schedule", q(r.defaultSchedule)},
      {"default_objective_us", num(r.defaultObjectiveUs)},
      {"default_decode_us", num(r.defaultDecodeUs)},
      {"default_prefill_us", num(r.defaultPrefillUs)},
      {"trials", "[{\"schedule\": " + q(r.schedule) + ", \"ok\": true, \"objective_us\": 10}]"}};
  std::string s = "{";
  for (auto &[k, v] : f)
    s += (s.size() > 1 ? ", " : "") + q(k) + ": " + (k == field ? value : v);
  return s + "}";
}

void writeFile(const std::string &path, const std::string &text) {
  std::ofstream(path, std::ios::binary) << text;
}

/// Folds the WAL into the file, so the bytes on disk hold every record.
void checkpoint(const std::string &path) {
  sqlite3 *raw = nullptr;
  sqlite3_open(path.c_str(), &raw);
  sqlite3_exec(raw, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
}

/// Runs `sql` on the file directly, as another tool would.
void rawExec(const std::string &path, const std::string &sql) {
  sqlite3 *raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  char *msg = nullptr;
  EXPECT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, &msg), SQLITE_OK)
      << (msg ? msg : "");
  sqlite3_free(msg);
  sqlite3_close(raw);
}
} // namespace

TEST(Candidate, PrintsAndParsesEverySchedule) {
  for (const char *s :
       {"#xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 64, unroll = 1>",
        "#xfmr.schedule<vector_width = 16, tile_m = 2, tile_n = 32, unroll = 1, dot = true, "
        "amx = true, prefetch = 0>",
        "#xfmr.schedule<vector_width = 8, tile_m = 8, tile_n = 48, unroll = 2, prefetch = 4096>",
        "#xfmr.schedule<vector_width = 16, tile_m = 1, tile_n = 128, unroll = 1, prefetch = 4, "
        "prefetch_to = l2>",
        "#xfmr.schedule<vector_width = 16, tile_m = 8, tile_n = 48, unroll = 1, prefetch_to = l2>"}) {
    Candidate c;
    ASSERT_TRUE(Candidate::parse(s, &c)) << s;
    EXPECT_EQ(c.schedule(), s);
  }
  Candidate c;
  EXPECT_FALSE(Candidate::parse("#xfmr.schedule<vector_width = 16>", &c));
  EXPECT_FALSE(Candidate::parse(
      "#xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 64, unroll = 1, bogus = 1>", &c));
}

TEST(Harness, KeepsCorrectCandidatesAndRejectsAWrongOne) {
  std::string error;
  auto h = Harness::create(linearKernel(), smallHarness(), &error);
  ASSERT_TRUE(h) << error;
  // What the cost model reads about the kernel.
  EXPECT_EQ(h->shape().K, 64);
  EXPECT_EQ(h->shape().N, 96);
  EXPECT_EQ(h->shape().weightBytes, 64.0 * 96 * 4);
  EXPECT_TRUE(h->shape().floatWeights);
  // Another schedule of the same op: same outputs, timed.
  Candidate c = h->defaultCandidate();
  c.tileN = 32, c.tileM = 2, c.prefetch = 1024, c.prefetchL2 = true;
  Measurement ok = h->measure(c);
  ASSERT_TRUE(ok.ok) << ok.error;
  EXPECT_LT(ok.relError, 1e-6);
  EXPECT_GT(ok.decodeUs, 0);
  EXPECT_GT(ok.prefillUs, 0);
  // A kernel that computes something else (a GELU after the product) must
  // be rejected, not timed.
  std::string wrong = kLinear;
  wrong.replace(wrong.find("%x, %w, %b :"), 12, "%x, %w, %b activation(gelu) :");
  Measurement bad = h->measureSource(wrong);
  EXPECT_FALSE(bad.ok);
  EXPECT_NE(bad.error.find("wrong output"), std::string::npos) << bad.error;
  EXPECT_EQ(bad.decodeUs, 0);
  // And the search never keeps it: a stand-in measurement that is wrong
  // for one (fast-looking) candidate.
  KernelShape shape = h->shape();
  Candidate poisoned = c;
  auto trials = search(shape, h->defaultCandidate(),
                       [&](const Candidate &x) {
                         Measurement m;
                         m.ok = !(x == poisoned);
                         m.decodeUs = m.ok ? 10.0 + double(x.tileN) : 0.001;
                         return m;
                       },
                       SearchBudget{}, {});
  int best = bestTrial(trials);
  ASSERT_GE(best, 0);
  EXPECT_FALSE(trials[size_t(best)].candidate == poisoned);
}

TEST(Search, FindsAKnownOptimumWithinAQuarterOfTheSpace) {
  // An f32 768x3072 linear's space, and a stand-in cost with one optimum
  // the cost model does not rank first: the measured evolution must walk
  // to it within 25% of the space.
  KernelShape shape;
  shape.K = 768, shape.N = 3072, shape.floatWeights = true, shape.threads = 2;
  shape.weightBytes = 768.0 * 3072 * 4;
  Candidate base;
  base.tileM = 8, base.tileN = 48;
  std::vector<Candidate> space = searchSpace(shape, base);
  ASSERT_GE(space.size(), 100u);
  auto cost = [](const Candidate &c) {
    double pf = c.prefetch < 0 ? 2048 : double(c.prefetch);
    return std::pow(std::log2(double(c.tileN) / 96.0), 2) +
           0.3 * std::pow(double(c.tileM) - 6, 2) + 0.5 * (c.unroll - 2) * (c.unroll - 2) +
           std::pow(std::log2((pf + 256) / (4096 + 256)), 2) + 1.0;
  };
  double optimum = 1e30;
  for (const Candidate &c : space)
    optimum = std::min(optimum, cost(c));
  SearchBudget budget;
  budget.trials = int(space.size() / 4);
  auto trials = search(shape, base, [&](const Candidate &c) {
    Measurement m;
    m.ok = true;
    m.decodeUs = cost(c);
    return m;
  }, budget);
  EXPECT_LE(int(trials.size()), budget.trials);
  int best = bestTrial(trials);
  ASSERT_GE(best, 0);
  EXPECT_LE(trials[size_t(best)].result.objectiveUs(), optimum * 1.05)
      << trials[size_t(best)].candidate.schedule();
  // The curve never gets worse.
  for (size_t i = 1; i < trials.size(); ++i)
    EXPECT_LE(trials[i].bestUs, trials[i - 1].bestUs);
}

TEST(TuningDB, StoresLooksUpAndKeepsTheFasterRecord) {
  std::string path = tempPath("store.db"), error;
  auto db = TuningDB::open(path, true, &error);
  ASSERT_TRUE(db) << error;
  ASSERT_TRUE(db->store(record("k1", 5, 10.0), &error)) << error;
  ASSERT_TRUE(db->store(record("k1", 3, 20.0), &error)) << error; // slower: ignored
  std::optional<TuningRecord> r;
  ASSERT_TRUE(db->lookup("k1", "cpu=test threads=2", "test", &r, &error)) << error;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->objectiveUs, 10.0);
  ASSERT_TRUE(db->lookup("k1", "cpu=other threads=2", "test", &r, &error));
  EXPECT_FALSE(r); // another target
  ASSERT_TRUE(db->store(record("k1", 2, 5.0), &error)); // faster: replaces
  std::vector<TuningRecord> all;
  ASSERT_TRUE(db->all(&all, &error));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].objectiveUs, 5.0);
  EXPECT_EQ(all[0].trials.size(), 2u);

  // Export, import into a fresh file: the same records.
  std::string json = tempPath("export.json"), copy = tempPath("copy.db");
  ASSERT_TRUE(db->exportJSON(json, &error)) << error;
  auto db2 = TuningDB::open(copy, true, &error);
  ASSERT_TRUE(db2);
  EXPECT_EQ(db2->importJSON(json, &error), 1) << error;
  std::vector<TuningRecord> again;
  ASSERT_TRUE(db2->all(&again, &error));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].schedule, all[0].schedule);
  EXPECT_EQ(again[0].trials.size(), 2u);
  // A malformed export is refused with its reason.
  std::ofstream(json) << "{\"format\": \"xfmr-tuning-db\", \"schema\": 1, \"records\": [{}]}";
  EXPECT_EQ(db2->importJSON(json, &error), -1);
  EXPECT_NE(error.find(json + ": record 0: kernel: lacks a field"), std::string::npos) << error;
}

TEST(TuningDB, SurvivesWritersKilledMidRun) {
  std::string path = tempPath("killed.db"), error;
  ASSERT_TRUE(TuningDB::open(path, true, &error)) << error;
  // Two writers storing records of 200 trials each, in a loop, on the same
  // and on their own keys; both killed with SIGKILL mid-run.
  std::vector<pid_t> kids;
  for (int w = 0; w < 2; ++w) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      std::string e;
      auto db = TuningDB::open(path, false, &e);
      if (!db)
        _exit(3);
      for (int i = 0;; ++i) {
        db->store(record("shared", 200, 1000.0 - i), &e);
        db->store(record("own" + std::to_string(w) + "_" + std::to_string(i), 200, 1.0), &e);
      }
    }
    kids.push_back(pid);
  }
  usleep(400 * 1000);
  for (pid_t k : kids) {
    kill(k, SIGKILL);
    int status = 0;
    waitpid(k, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status)) << "a writer stopped by itself: " << status;
  }
  auto db = TuningDB::open(path, false, &error);
  ASSERT_TRUE(db) << error;
  EXPECT_TRUE(db->integrityCheck(&error)) << error;
  std::vector<TuningRecord> all;
  ASSERT_TRUE(db->all(&all, &error)) << error;
  EXPECT_GT(all.size(), 1u); // the writers got somewhere
  for (const TuningRecord &r : all)
    EXPECT_EQ(r.trials.size(), 200u) << r.kernel << ": a record without all its trials";
  // And it takes writes again.
  EXPECT_TRUE(db->store(record("after", 3, 1.0), &error)) << error;
}

TEST(TuningDB, RefusesFilesThatAreNotItsOwn) {
  std::string error;
  // Random bytes.
  std::string junk = tempPath("junk.db");
  {
    std::ofstream f(junk, std::ios::binary);
    std::mt19937 rng(7);
    for (int i = 0; i < 8192; ++i)
      f.put(char(rng()));
  }
  EXPECT_FALSE(TuningDB::open(junk, false, &error));
  EXPECT_NE(error.find("not an xfmr tuning database"), std::string::npos) << error;
  EXPECT_NE(error.find(junk), std::string::npos) << error;

  // A truncated database (the first half of a real one).
  std::string good = tempPath("good.db"), cut = tempPath("cut.db");
  {
    auto db = TuningDB::open(good, true, &error);
    ASSERT_TRUE(db);
    for (int i = 0; i < 50; ++i)
      ASSERT_TRUE(db->store(record("k" + std::to_string(i), 40, 1.0), &error));
  }
  {
    sqlite3 *raw = nullptr; // fold the WAL in, so the file holds it all
    sqlite3_open(good.c_str(), &raw);
    sqlite3_exec(raw, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
    sqlite3_close(raw);
    std::ifstream in(good, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    ASSERT_GT(bytes.size(), 16384u);
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  {
    auto db = TuningDB::open(cut, false, &error);
    bool refused = !db;
    if (db) { // the header may survive: reading must then fail cleanly
      std::vector<TuningRecord> all;
      refused = !db->all(&all, &error) || !db->integrityCheck(&error);
    }
    EXPECT_TRUE(refused) << "a truncated database read as healthy";
    EXPECT_NE(error.find(cut), std::string::npos) << error;
  }

  // A database of another schema version.
  std::string foreign = tempPath("foreign.db");
  ASSERT_TRUE(TuningDB::open(foreign, true, &error));
  {
    sqlite3 *raw = nullptr;
    sqlite3_open(foreign.c_str(), &raw);
    sqlite3_exec(raw, "UPDATE meta SET value='99' WHERE key='schema'", nullptr, nullptr, nullptr);
    sqlite3_close(raw);
  }
  EXPECT_FALSE(TuningDB::open(foreign, false, &error));
  EXPECT_NE(error.find("schema 99"), std::string::npos) << error;

  // Some other SQLite database.
  std::string other = tempPath("other.db");
  {
    sqlite3 *raw = nullptr;
    sqlite3_open(other.c_str(), &raw);
    sqlite3_exec(raw, "CREATE TABLE t(x)", nullptr, nullptr, nullptr);
    sqlite3_close(raw);
  }
  EXPECT_FALSE(TuningDB::open(other, false, &error));
  EXPECT_NE(error.find("no xfmr meta table"), std::string::npos) << error;

  // A missing file without create.
  EXPECT_FALSE(TuningDB::open(tempPath("missing.db"), false, &error));
  EXPECT_NE(error.find("cannot open"), std::string::npos) << error;
}

TEST(Candidate, ParsesOnlyTheTextItPrints) {
  // Each reads as a schedule to a lenient parser (sscanf skips spaces and
  // takes signs and leading zeros) but prints back as another text.
  const std::string base = "#xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = ";
  for (const std::string &s :
       {base + " 32, unroll = 1>", base + "+32, unroll = 1>", base + "032, unroll = 1>",
        base + "-0, unroll = 1>", base + "32, unroll = 1, prefetch = -1>",
        base + "32, unroll = 1, prefetch = 2048 >", base + "32, unroll = 1>trailing",
        base + "99999999999999999999, unroll = 1>", base + "32, unroll = 1>" + std::string(1, '\0'),
        base + "32, unroll = 1, prefetch = >"}) {
    Candidate c;
    EXPECT_FALSE(Candidate::parse(s, &c)) << s;
  }
}

TEST(Candidate, ValidAgreesWithTheScheduleVerifier) {
  // Candidate::valid stands in for ScheduleAttr::verify where no MLIR
  // context is at hand (the tuning database): both must accept the same.
  mlir::MLIRContext ctx;
  ctx.loadDialect<XfmrDialect>();
  mlir::ScopedDiagnosticHandler quiet(&ctx, [](mlir::Diagnostic &) { return mlir::success(); });
  Candidate base;
  base.vectorWidth = 16, base.tileM = 4, base.tileN = 32, base.unroll = 1;
  std::vector<Candidate> cases;
  for (int64_t v : {-16, 0, 1, 3, 8, 16, 24, 64, 128}) {
    Candidate c = base;
    c.vectorWidth = v, c.tileN = v > 0 ? 2 * v : 32;
    cases.push_back(c);
  }
  for (int64_t v : {-1, 0, 1, 8, 16, 17}) {
    Candidate c = base;
    c.tileM = v;
    cases.push_back(c);
  }
  for (int64_t v : {-32, 0, 8, 16, 24, 48, 256, 4096}) {
    Candidate c = base;
    c.tileN = v;
    cases.push_back(c);
  }
  for (int64_t v : {-1, 0, 1, 16, 17}) {
    Candidate c = base;
    c.unroll = v;
    cases.push_back(c);
  }
  for (int64_t v : {-2, -1, 0, 4, 2048, 1 << 20, (1 << 20) + 1}) {
    Candidate c = base;
    c.prefetch = v;
    cases.push_back(c);
  }
  for (int dot = 0; dot < 2; ++dot)
    for (int amx = 0; amx < 2; ++amx)
      for (int64_t vw : {8, 16}) {
        Candidate c = base;
        c.dot = dot, c.amx = amx, c.vectorWidth = vw, c.prefetchL2 = amx;
        cases.push_back(c);
      }
  int accepted = 0;
  for (const Candidate &c : cases) {
    std::string why;
    bool valid = c.valid(&why);
    bool verified = bool(mlir::parseAttribute(c.schedule(), &ctx));
    EXPECT_EQ(valid, verified) << c.schedule() << ": " << why;
    accepted += valid;
    Candidate back;
    ASSERT_TRUE(Candidate::parse(c.schedule(), &back)) << c.schedule();
  }
  EXPECT_GT(accepted, 10); // the grid holds valid schedules, not only bad ones
  Candidate c = base;
  c.tileN = 0;
  std::string why;
  EXPECT_FALSE(c.valid(&why));
  EXPECT_NE(why.find("tile_n"), std::string::npos) << why;
}

namespace {
/// A database of `n` records whose records table's root page is then
/// overwritten: the file still opens (its first page, the schema and the
/// meta table are whole) but reading the records must fail.
std::string corruptDatabase(const std::string &name, int n) {
  std::string path = tempPath(name), error;
  {
    auto db = TuningDB::open(path, true, &error);
    EXPECT_TRUE(db) << error;
    for (int i = 0; db && i < n; ++i)
      EXPECT_TRUE(db->store(record("k" + std::to_string(i), 10, 1.0), &error)) << error;
  }
  checkpoint(path);
  int64_t root = 0, pageSize = 0;
  {
    sqlite3 *raw = nullptr;
    sqlite3_open(path.c_str(), &raw);
    sqlite3_stmt *q = nullptr;
    sqlite3_prepare_v2(raw,
                       "SELECT (SELECT rootpage FROM sqlite_master WHERE name='records'),"
                       " (SELECT page_size FROM pragma_page_size)",
                       -1, &q, nullptr);
    if (sqlite3_step(q) == SQLITE_ROW)
      root = sqlite3_column_int64(q, 0), pageSize = sqlite3_column_int64(q, 1);
    sqlite3_finalize(q);
    sqlite3_close(raw);
  }
  EXPECT_GT(root, 2) << "the records table's root page";
  EXPECT_GT(pageSize, 0);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp((root - 1) * pageSize);
  f << std::string(size_t(pageSize), '\xff'); // no valid b-tree page type
  return path;
}
} // namespace

TEST(TuningDB, ReportsACorruptRecordsPageInsteadOfNoRecords) {
  std::string path = corruptDatabase("corrupt.db", 40), error;
  auto db = TuningDB::open(path, false, &error);
  ASSERT_TRUE(db) << error; // the header page is whole
  std::vector<TuningRecord> all;
  EXPECT_FALSE(db->all(&all, &error)) << all.size() << " records read from a corrupt page";
  EXPECT_EQ(error.find(path + ": "), 0u) << error;
  EXPECT_NE(error.find("malformed"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  // A lookup fails too: a corrupt record is not an absent one.
  std::optional<TuningRecord> r;
  error.clear();
  EXPECT_FALSE(db->lookup("k3", "cpu=test threads=2", "test", &r, &error));
  EXPECT_EQ(error.find(path + ": "), 0u) << error;
  // And an export writes nothing.
  std::string json = tempPath("corrupt.json");
  EXPECT_FALSE(db->exportJSON(json, &error));
  struct stat st;
  EXPECT_NE(stat(json.c_str(), &st), 0) << "an export of a corrupt database left " << json;
}

TEST(TuningDB, ImportIsAllOrNothing) {
  std::string path = tempPath("atomic.db"), json = tempPath("atomic.json"), error;
  auto db = TuningDB::open(path, true, &error);
  ASSERT_TRUE(db) << error;
  // Two good records, then one without its fields.
  writeFile(json, exportText({recordJSON("a"), recordJSON("b"), "{}"}));
  EXPECT_EQ(db->importJSON(json, &error), -1);
  EXPECT_NE(error.find(json + ": record 2: "), std::string::npos) << error;
  std::vector<TuningRecord> all;
  ASSERT_TRUE(db->all(&all, &error)) << error;
  EXPECT_EQ(all.size(), 0u) << "a failed import left records behind";
  // The handle is not left inside a transaction: the next writes work.
  ASSERT_TRUE(db->store(record("c", 1, 1.0), &error)) << error;
  writeFile(json, exportText({recordJSON("a"), recordJSON("b")}));
  EXPECT_EQ(db->importJSON(json, &error), 2) << error;
  all.clear();
  ASSERT_TRUE(db->all(&all, &error)) << error;
  EXPECT_EQ(all.size(), 3u);
}

TEST(TuningDB, ImportRefusesRecordsOutOfRange) {
  std::string path = tempPath("range.db"), json = tempPath("range.json"), error;
  auto db = TuningDB::open(path, true, &error);
  ASSERT_TRUE(db) << error;
  auto sched = [](const std::string &knobs) { return "\"#xfmr.schedule<" + knobs + ">\""; };
  struct Case {
    std::string field, value, expect;
  };
  std::vector<Case> cases = {
      {"schedule", sched("vector_width = 16, tile_m = 4, tile_n = 0, unroll = 1"),
       "schedule: tile_n (0)"},
      {"schedule", sched("vector_width = 16, tile_m = 4, tile_n = 24, unroll = 1"),
       "schedule: tile_n (24)"},
      {"schedule", sched("vector_width = 16, tile_m = 0, tile_n = 32, unroll = 1"),
       "schedule: tile_m"},
      {"schedule", sched("vector_width = 16, tile_m = 17, tile_n = 32, unroll = 1"),
       "schedule: tile_m"},
      {"schedule", sched("vector_width = 16, tile_m = 4, tile_n = 32, unroll = 0"),
       "schedule: unroll"},
      {"schedule", sched("vector_width = 3, tile_m = 4, tile_n = 33, unroll = 1"),
       "schedule: vector_width"},
      {"schedule", sched("vector_width = 16, tile_m = 4, tile_n = 32, unroll = 1, prefetch = -7"),
       "schedule: prefetch"},
      {"schedule", sched("vector_width = 16, tile_m = 4, tile_n = 32, unroll = 1, amx = true"),
       "schedule: amx needs dot"},
      {"schedule", "\"tile_n = 32\"", "schedule: not a schedule xfmr reads"},
      {"default_schedule", sched("vector_width = 16, tile_m = 4, tile_n = 0, unroll = 1"),
       "default_schedule: tile_n (0)"},
      {"objective_us", "-3", "objective_us: -3 is not a positive finite time"},
      {"objective_us", "0", "objective_us: 0 is not a positive"},
      {"decode_us", "1e999", "decode_us: inf is not a positive finite time"},
      {"prefill_us", "-1", "prefill_us: -1"},
      {"prefill_us", "0", "prefill_us: 0"}, // a linear's prefill is timed
      {"default_objective_us", "0", "default_objective_us: 0"},
      {"default_decode_us", "-1e999", "default_decode_us: -inf"},
      {"default_prefill_us", "-0.5", "default_prefill_us: -0.5"},
      {"trials", "[{\"schedule\": \"x\", \"ok\": true, \"objective_us\": 1}]",
       "trials[0].schedule: not a schedule"},
      {"trials",
       "[{\"schedule\": " + sched("vector_width = 16, tile_m = 4, tile_n = 32, unroll = 1") +
           ", \"ok\": true, \"objective_us\": -1}]",
       "trials[0].objective_us: -1"},
      {"kernel", "\"\"", "kernel: empty"},
  };
  for (const Case &c : cases) {
    writeFile(json, exportText({recordJSON("good"), recordJSON("bad", c.field, c.value)}));
    EXPECT_EQ(db->importJSON(json, &error), -1) << c.field << " = " << c.value;
    EXPECT_NE(error.find(json + ": record 1: " + c.expect), std::string::npos)
        << c.field << " = " << c.value << ": " << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
  std::vector<TuningRecord> all;
  ASSERT_TRUE(db->all(&all, &error)) << error;
  EXPECT_EQ(all.size(), 0u);
  // An LM head's prefill is not timed: 0 is its figure, not an error.
  TuningRecord head = record("head", 1, 5.0);
  head.family = "lm_head", head.prefillUs = head.defaultPrefillUs = 0;
  EXPECT_TRUE(db->store(head, &error)) << error;
  // And store() refuses what import refuses.
  TuningRecord bad = record("bad", 1, 5.0);
  bad.schedule = "#xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 0, unroll = 1>";
  EXPECT_FALSE(db->store(bad, &error));
  EXPECT_NE(error.find("tile_n"), std::string::npos) << error;
  bad = record("bad", 1, 5.0);
  bad.decodeUs = std::nan("");
  EXPECT_FALSE(db->store(bad, &error));
  EXPECT_NE(error.find("decode_us: nan"), std::string::npos) << error;
}

TEST(TuningDB, InvalidStoredRecordsAreNotUsedAndGetReplaced) {
  std::string path = tempPath("poisoned.db"), error;
  {
    auto db = TuningDB::open(path, true, &error);
    ASSERT_TRUE(db) << error;
    ASSERT_TRUE(db->store(record("zero", 2, 10.0), &error)) << error;
    ASSERT_TRUE(db->store(record("negative", 2, 10.0), &error)) << error;
    ASSERT_TRUE(db->store(record("fine", 2, 10.0), &error)) << error;
  }
  // Another tool writes what xfmr would not.
  rawExec(path, "UPDATE records SET schedule = replace(schedule, 'tile_n = 32', 'tile_n = 0')"
                " WHERE kernel = 'zero';"
                "UPDATE records SET objective_us = -5 WHERE kernel = 'negative'");
  auto db = TuningDB::open(path, false, &error);
  ASSERT_TRUE(db) << error;
  const std::string target = "cpu=test threads=2";
  std::optional<TuningRecord> r;
  for (const char *k : {"zero", "negative"}) {
    ASSERT_TRUE(db->lookup(k, target, "test", &r, &error)) << error;
    EXPECT_FALSE(r) << k << ": an invalid record was given to a compile";
  }
  ASSERT_TRUE(db->lookup("fine", target, "test", &r, &error)) << error;
  EXPECT_TRUE(r);
  std::vector<TuningRecord> all;
  ASSERT_TRUE(db->all(&all, &error)) << error;
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].kernel, "fine");
  // A slower valid record replaces them (-5 us would "win" a comparison).
  for (const char *k : {"zero", "negative"}) {
    ASSERT_TRUE(db->store(record(k, 3, 50.0), &error)) << error;
    ASSERT_TRUE(db->lookup(k, target, "test", &r, &error)) << error;
    ASSERT_TRUE(r) << k << ": the invalid record was kept";
    EXPECT_EQ(r->objectiveUs, 50.0);
  }
  // A slower record still does not replace a valid one.
  ASSERT_TRUE(db->store(record("fine", 3, 50.0), &error)) << error;
  ASSERT_TRUE(db->lookup("fine", target, "test", &r, &error)) << error;
  EXPECT_EQ(r->objectiveUs, 10.0);
}

TEST(TuningDB, ImportRefusesDeepNestingAndFilesThatAreNotRegular) {
  std::string path = tempPath("files.db"), error;
  auto db = TuningDB::open(path, true, &error);
  ASSERT_TRUE(db) << error;
  // 200000 '[': a recursive parser would overflow the stack.
  std::string deep = tempPath("deep.json");
  writeFile(deep, std::string(200000, '['));
  EXPECT_EQ(db->importJSON(deep, &error), -1);
  EXPECT_NE(error.find(deep + ": not a tuning export (JSON nested deeper than"),
            std::string::npos) << error;
  EXPECT_EQ(db->importJSONText(std::string(200000, '{') + "\"a\":" , "fuzz", &error), -1);
  EXPECT_EQ(error.find("fuzz: "), 0u) << error;
  // A directory and a FIFO (with no writer: must not wait for one).
  alarm(30);
  std::string dir = tempPath("dir.json"), fifo = tempPath("fifo.json");
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  EXPECT_EQ(db->importJSON(dir, &error), -1);
  EXPECT_NE(error.find(dir + ": is a directory"), std::string::npos) << error;
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(db->importJSON(fifo, &error), -1);
  EXPECT_NE(error.find(fifo + ": is a FIFO"), std::string::npos) << error;
  alarm(0);
  rmdir(dir.c_str());
  std::remove(fifo.c_str());
}

TEST(TuningDB, ExportWritesOnlyRegularFilesAndWhole) {
  std::string path = tempPath("export.db"), error;
  auto db = TuningDB::open(path, true, &error);
  ASSERT_TRUE(db) << error;
  ASSERT_TRUE(db->store(record("k", 2, 1.0), &error)) << error;
  alarm(30); // a FIFO opened for writing would wait for a reader
  std::string target = tempPath("target.txt"), link = tempPath("link.json"),
              fifo = tempPath("out.fifo");
  writeFile(target, "keep");
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string &p : {link, fifo, std::string("/dev/null")}) {
    EXPECT_FALSE(db->exportJSON(p, &error)) << p;
    EXPECT_EQ(error.find(p + ": is "), 0u) << error;
  }
  alarm(0);
  EXPECT_EQ(readAll(target), "keep");
  struct stat st;
  ASSERT_EQ(lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  // A regular file is replaced whole.
  std::string out = tempPath("out.json");
  writeFile(out, "old");
  ASSERT_TRUE(db->exportJSON(out, &error)) << error;
  EXPECT_EQ(readAll(out).find("{\n  \"format\": \"xfmr-tuning-db\""), 0u);
  std::remove(link.c_str());
  std::remove(fifo.c_str());
}

TEST(TuningDB, ImportsTextIntoAnInMemoryDatabase) {
  // What a fuzz target does: no file on either side.
  std::string error;
  auto db = TuningDB::open(":memory:", true, &error);
  ASSERT_TRUE(db) << error;
  EXPECT_EQ(db->importJSONText(exportText({recordJSON("a"), recordJSON("b")}), "mem", &error), 2)
      << error;
  std::vector<TuningRecord> all;
  ASSERT_TRUE(db->all(&all, &error)) << error;
  EXPECT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].trials.size(), 1u);
  for (const char *bad : {"", "[", "{\"format\": 1}", "{\"format\": \"xfmr-tuning-db\"}", "\xff"}) {
    EXPECT_EQ(db->importJSONText(bad, "mem", &error), -1) << bad;
    EXPECT_EQ(error.find("mem: "), 0u) << error;
  }
}
