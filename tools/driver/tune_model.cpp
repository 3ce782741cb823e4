// xfmr tune and the tuning step of xfmr compile: the driver side of
// autotune/ (the module the tuner sees is the one compile forms kernels of).
#include "model_stages.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <thread>

using namespace mlir;
using namespace ::xfmr::driver;

namespace {
/// Bytes of the model's weights as stored (scales aside): what a decode
/// step streams.
int64_t weightBytes(ModuleOp module) {
  int64_t bits = 0;
  module.walk([&](mlir::xfmr::WeightOp w) {
    auto t = cast<RankedTensorType>(w.getType());
    bits += t.getNumElements() * t.getElementTypeBitWidth();
  });
  return bits / 8;
}

/// The whole-model check of the kernels tuned now: the model compiled with
/// their default schedules and with the tuned ones, timed against each
/// other in one run (compareCompiled); if the tuned model loses, each tuned
/// kernel is tried alone against the default, and only those that win
/// keep their schedule. Losers are recorded with the default schedule, so
/// the database never holds a schedule the model found slower.
///
/// "Wins" means faster on the objective in at least kMinRoundsWon of
/// kCheckRounds paired rounds (and the prompt no slower).
///
/// Then knobs only the whole model shows: where and how far ahead the
/// kernels prefetch. A kernel timed alone streams nothing else, so these
/// barely matter there; in a decode step, on a busy memory system, they
/// can. So the model is also compiled with every kernel tuned now
/// prefetching into L2 instead of L1 (`prefetch_to = l2`), then with no
/// software prefetch at all (the hardware prefetchers alone), then with the
/// linears prefetching 1024, 4096 and 8192 bytes ahead, each kept if it
/// wins against the best so far. Every variant is compiled in this run and
/// timed one model at a time (compareCompiled; why: docs/tuner.md).
int checkInModel(const std::string &modelDir, const ::xfmr::CompileOptions &options,
                 const mlir::xfmr::tune::TuneOptions &to, mlir::xfmr::tune::TuningDB &db,
                 std::vector<mlir::xfmr::tune::KernelOutcome> &outcomes,
                 ::xfmr::TuneReport *report, std::string *error,
                 void (*progress)(const std::string &)) {
  namespace t = mlir::xfmr::tune;
  const int threads = to.harness.threads;
  std::vector<size_t> changed, now;
  std::map<std::string, std::string> base;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const t::TuningRecord &r = outcomes[i].record;
    base[outcomes[i].kernel.source] = outcomes[i].fromDatabase ? r.schedule : r.defaultSchedule;
    if (outcomes[i].fromDatabase)
      continue;
    now.push_back(i);
    if (r.schedule != r.defaultSchedule)
      changed.push_back(i);
  }
  if (now.empty())
    return 0;
  llvm::SmallString<128> dir;
  if (llvm::sys::fs::createUniqueDirectory("xfmr-tune-check", dir)) {
    *error = "cannot create a temporary directory for the whole-model check";
    return 1;
  }
  auto cleanup = llvm::make_scope_exit([&] { llvm::sys::fs::remove_directories(dir); });
  int variant = 0;
  auto compileWith = [&](const std::map<std::string, std::string> &pins, std::string *out) {
    ::xfmr::CompileOptions o = options;
    o.tuneDb.clear();
    o.irDumpDir.clear();
    o.pinnedSchedules = pins;
    *out = std::string(dir) + "/m" + std::to_string(variant++);
    return ::xfmr::compileModel(modelDir, *out, o, error);
  };
  auto with = [&](const std::vector<size_t> &which) {
    std::map<std::string, std::string> pins = base;
    for (size_t i : which)
      pins[outcomes[i].kernel.source] = outcomes[i].record.schedule;
    return pins;
  };
  auto say = [&](const std::string &line) {
    if (progress)
      progress("whole-model check: " + line);
  };
  // Better on the objective in a clear majority of paired rounds (a sign
  // test: a 1-2% gain is below one round's noise on a shared machine), the
  // first token no slower (kMaxPrefillLoss). Says the verdict and its figures.
  auto wins = [&](const ModelTiming &t, const ModelTiming &b) {
    int faster = roundsFaster(t, b);
    bool won = t.objective() < b.objective() && faster >= kMinRoundsWon &&
               t.prefillMs <= b.prefillMs * mlir::xfmr::tune::kMaxPrefillLoss;
    char line[160];
    std::snprintf(line, sizeof line,
                  "  decode %.3fx, prefill %.3fx, faster in %d of %zu rounds: %s",
                  b.decodeMs / t.decodeMs, b.prefillMs / t.prefillMs, faster,
                  t.roundObjectives.size(), won ? "kept" : "not kept");
    say(line);
    return won;
  };
  say("default against tuned schedules");
  std::string baseDir, bestDir;
  if (int rc = compileWith(base, &baseDir))
    return rc;
  ModelTiming tb, tt;
  std::vector<size_t> kept;
  bestDir = baseDir;
  if (!changed.empty()) {
    std::string tunedDir;
    if (int rc = compileWith(with(changed), &tunedDir))
      return rc;
    if (int rc = compareCompiled(baseDir, tunedDir, threads, kCheckRounds, &tb, &tt, error))
      return rc;
    if (wins(tt, tb)) {
      kept = changed;
      bestDir = tunedDir;
    } else {
      for (size_t i : changed) {
        say(outcomes[i].kernel.label() + " alone");
        std::string one;
        if (int rc = compileWith(with({i}), &one))
          return rc;
        ModelTiming b1, t1;
        if (int rc = compareCompiled(baseDir, one, threads, kCheckRounds, &b1, &t1, error))
          return rc;
        if (wins(t1, b1))
          kept.push_back(i);
      }
      if (!kept.empty()) { // the survivors together, against the default again
        std::string both;
        if (int rc = compileWith(with(kept), &both))
          return rc;
        ModelTiming b2, t2;
        if (int rc = compareCompiled(baseDir, both, threads, kCheckRounds, &b2, &t2, error))
          return rc;
        if (wins(t2, b2))
          bestDir = both;
        else
          kept.clear(); // together they lose: keep none
      }
    }
  }
  for (size_t i : changed) {
    if (std::find(kept.begin(), kept.end(), i) != kept.end())
      continue;
    t::TuningRecord &r = outcomes[i].record;
    r.schedule = r.defaultSchedule;
    r.objectiveUs = r.defaultObjectiveUs, r.decodeUs = r.defaultDecodeUs;
    r.prefillUs = r.defaultPrefillUs;
    if (!db.store(r, error, /*replace=*/true))
      return 1;
  }

  // The whole-model sweeps: one knob changed on every kernel tuned now of
  // the families it applies to, kept if that model beats the best so far.
  // Each is a variant of the best model so far, so a later sweep competes
  // against an earlier winner.
  struct Sweep {
    std::string name;
    bool linearsOnly;
    std::function<bool(t::Candidate &)> change; // false: already so
  };
  auto setPrefetch = [](int64_t value) {
    return [value](t::Candidate &c) {
      if (c.prefetch == value)
        return false;
      c.prefetch = value;
      c.prefetchL2 &= value != 0; // nothing left to land anywhere
      return true;
    };
  };
  std::vector<Sweep> sweeps = {
      {"prefetches into L2", false,
       [](t::Candidate &c) {
         if (c.prefetchL2 || c.prefetch == 0)
           return false;
         c.prefetchL2 = true;
         return true;
       }},
      // The hardware prefetchers alone: on AMD Zen 5 (2 threads, GPT-2
      // 124M int8) this won in the model (decode 1.078x, 10 of 11 rounds)
      // where L2 and the distances below lost (docs/tuner.md).
      {"no software prefetch", false, setPrefetch(0)},
  };
  for (int64_t distance : {1024, 4096, 8192})
    sweeps.push_back({"linears prefetch " + std::to_string(distance) + " bytes ahead", true,
                      setPrefetch(distance)});
  std::map<std::string, std::string> best = with(kept);
  bool swept = false;
  for (const Sweep &sw : sweeps) {
    std::map<std::string, std::string> pins = best;
    bool any = false;
    for (size_t i : now) {
      t::Candidate c;
      std::string &sched = pins[outcomes[i].kernel.source];
      if ((sw.linearsOnly && outcomes[i].kernel.family != "linear") ||
          !t::Candidate::parse(sched, &c) || !sw.change(c))
        continue;
      sched = c.schedule();
      any = true;
    }
    if (!any)
      continue;
    say(sw.name);
    std::string dirP;
    if (int rc = compileWith(pins, &dirP))
      return rc;
    ModelTiming tc, tp;
    if (int rc = compareCompiled(bestDir, dirP, threads, kCheckRounds, &tc, &tp, error))
      return rc;
    if (!wins(tp, tc))
      continue;
    best = pins, bestDir = dirP, swept = true;
    if (report)
      report->sweepsKept.push_back(sw.name);
  }
  if (swept) {
    // Record the new schedules, each measured alone for its row.
    for (size_t i : now) {
      t::TuningRecord &r = outcomes[i].record;
      const std::string &sched = best[outcomes[i].kernel.source];
      if (sched == r.schedule)
        continue;
      t::Candidate c;
      t::Candidate::parse(sched, &c);
      std::unique_ptr<t::Harness> h = t::Harness::create(outcomes[i].kernel, to.harness, error);
      if (!h)
        return 1;
      t::Measurement m = h->measure(c);
      if (!m.ok) {
        *error = outcomes[i].kernel.label() + ": " + m.error;
        return 1;
      }
      r.schedule = sched;
      r.objectiveUs = m.objectiveUs(), r.decodeUs = m.decodeUs, r.prefillUs = m.prefillUs;
      if (!db.store(r, error, /*replace=*/true))
        return 1;
    }
  }
  // The figure to report: the default model against the final one.
  if (bestDir == baseDir) {
    tt = tb;
    if (changed.empty()) { // nothing was compared yet: time the default once
      ModelTiming unused;
      if (int rc = compareCompiled(baseDir, baseDir, threads, 3, &tb, &unused, error))
        return rc;
      tt = tb;
    }
  } else if (int rc = compareCompiled(baseDir, bestDir, threads, kCheckRounds, &tb, &tt, error)) {
    return rc;
  }
  if (report) {
    report->modelChecked = true;
    report->rejected = int(changed.size() - kept.size());
    report->defaultDecodeMs = tb.decodeMs, report->defaultPrefillMs = tb.prefillMs;
    report->tunedDecodeMs = tt.decodeMs, report->tunedPrefillMs = tt.prefillMs;
    report->keptDefault = bestDir == baseDir;
    report->rounds = int(tt.roundObjectives.size());
    report->roundsWon = report->keptDefault ? 0 : roundsFaster(tt, tb);
  }
  return 0;
}
} // namespace

int ::xfmr::driver::tuneAndApply(const std::string &modelDir, ModuleOp module, const ::xfmr::CompileOptions &options,
                 const mlir::xfmr::CPUPipelineOptions &popts,
                 std::vector<mlir::xfmr::tune::KernelOutcome> *outcomes,
                 ::xfmr::TuneReport *report, std::string *error,
                 void (*progress)(const std::string &)) {
  namespace t = mlir::xfmr::tune;
  std::unique_ptr<t::TuningDB> db = t::TuningDB::open(options.tuneDb, true, error);
  if (!db)
    return 2;
  t::TuneOptions to;
  to.harness.pipeline = popts;
  to.harness.threads = options.tuneThreads > 0
                           ? options.tuneThreads
                           : int(std::max(1u, std::thread::hardware_concurrency()));
  to.trialsPerKernel = options.tuneTrials;
  to.budgetSeconds = options.tuneBudgetSeconds;
  to.retune = options.retune;
  to.exhaustive = options.exhaustive;
  // Each measured call reads the next of copies of its weights totalling
  // what the model streams per token, as a decode step would.
  to.harness.rotateBytes = std::max<int64_t>(weightBytes(module), 64 << 20);
  std::string target = t::hostTarget(to.harness.threads);
  std::vector<t::TunableKernel> kernels = t::collectTunableKernels(module);
  auto onProgress = [&](const t::TuneProgress &p) {
    if (!progress)
      return;
    char line[256];
    std::snprintf(line, sizeof line,
                  "[%zu/%zu] %-40s trials %3d/%-3d best %.3fx default  %3.0f s left",
                  p.kernel + 1, p.kernels, p.current->label().c_str(), p.trials,
                  p.trialLimit, p.bestOverDefault, p.secondsLeft);
    progress(line);
  };
  if (!t::tuneKernels(kernels, *db, target, to, outcomes, error, onProgress))
    return 1;
  if (int rc = checkInModel(modelDir, options, to, *db, *outcomes, report, error, progress))
    return rc;
  std::string applyError;
  if (t::applySchedules(module, t::schedulesOf(*outcomes), &applyError) < 0) {
    *error = options.tuneDb + ": " + applyError;
    return 2;
  }
  if (report) {
    report->kernels = int(outcomes->size());
    report->target = target;
    for (const t::KernelOutcome &o : *outcomes) {
      (o.fromDatabase ? report->fromDatabase : report->measured)++;
      report->trials += int64_t(o.trials.size());
      ::xfmr::TuneReport::Row r;
      r.label = o.kernel.label();
      r.uses = o.kernel.uses;
      r.fromDatabase = o.fromDatabase;
      r.trials = int(o.fromDatabase ? o.record.trials.size() : o.trials.size());
      r.defaultSchedule = o.record.defaultSchedule, r.schedule = o.record.schedule;
      r.defaultDecodeUs = o.record.defaultDecodeUs, r.decodeUs = o.record.decodeUs;
      r.defaultPrefillUs = o.record.defaultPrefillUs, r.prefillUs = o.record.prefillUs;
      r.defaultObjectiveUs = o.record.defaultObjectiveUs;
      r.objectiveUs = o.record.objectiveUs;
      report->rows.push_back(r);
    }
  }
  return 0;
}

int ::xfmr::tuneModel(const std::string &modelDir, const CompileOptions &options,
                      const std::string &plotPath, TuneReport *report,
                      std::string *error, void (*progress)(const std::string &)) {
  PreparedModel p;
  if (int rc = prepareModel(modelDir, options, p, [](const std::string &) {}, error))
    return rc;
  std::vector<mlir::xfmr::tune::KernelOutcome> outcomes;
  if (int rc = tuneAndApply(modelDir, *p.module, options, p.popts, &outcomes, report,
                            error, progress))
    return rc;
  if (!plotPath.empty()) {
    // Kernels from the database plot their stored trials.
    std::unique_ptr<mlir::xfmr::tune::TuningDB> db =
        mlir::xfmr::tune::TuningDB::open(options.tuneDb, false, error);
    std::vector<mlir::xfmr::tune::TuningRecord> all;
    if (!db || !db->all(&all, error))
      return 2;
    for (auto &o : outcomes)
      for (auto &r : all)
        if (r.kernel == o.record.kernel && r.target == o.record.target &&
            r.version == o.record.version)
          o.record.trials = r.trials;
    if (!mlir::xfmr::tune::writeTuningPlot(outcomes, plotPath, error))
      return 2;
  }
  return 0;
}

int ::xfmr::listTunableKernels(const std::string &modelDir, const CompileOptions &options,
                               std::vector<std::string> *sources,
                               std::vector<std::string> *labels, std::string *error) {
  PreparedModel p;
  if (int rc = prepareModel(modelDir, options, p, [](const std::string &) {}, error))
    return rc;
  for (const auto &k : mlir::xfmr::tune::collectTunableKernels(*p.module)) {
    sources->push_back(k.source);
    labels->push_back(k.label());
  }
  return 0;
}
