// The autotuner: candidates are checked before they are kept, the search
// finds a known optimum within a quarter of the space, and the tuning
// database stays consistent under a killed writer and refuses files that
// are not its own with a clear error.
#include "xfmr/Autotune/Harness.h"
#include "xfmr/Autotune/Search.h"
#include "xfmr/Autotune/Tuner.h"
#include "xfmr/Autotune/TuningDB.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <random>
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
  EXPECT_NE(error.find("lacks a field"), std::string::npos) << error;
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
