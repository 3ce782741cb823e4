// The tuner's whole-model check (whole_model_check.h): every variant is a
// full compile of the model into a temporary directory, timed against
// another by compareCompiled, one model loaded at a time.
#include "whole_model_check.h"

#include "model_stages.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"

#include <cstdio>
#include <functional>
#include <map>

using namespace ::xfmr::driver;
namespace t = mlir::xfmr::tune;

namespace {
/// Schedules pinned by kernel signature, as CompileOptions::pinnedSchedules.
using Pins = std::map<std::string, std::string>;

/// A knob only the whole model shows, set on every kernel tuned now of the
/// families it applies to.
struct Sweep {
  std::string name;
  bool linearsOnly;
  std::function<bool(t::Candidate &)> change; // false: already so
};

std::function<bool(t::Candidate &)> setPrefetch(int64_t value) {
  return [value](t::Candidate &c) {
    if (c.prefetch == value)
      return false;
    c.prefetch = value;
    c.prefetchL2 &= value != 0; // nothing left to land anywhere
    return true;
  };
}

/// In the order they run; each is a variant of the best model so far, so
/// a later sweep competes against an earlier winner.
std::vector<Sweep> wholeModelSweeps() {
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
  return sweeps;
}

class WholeModelCheck {
public:
  WholeModelCheck(const std::string &modelDir, const ::xfmr::CompileOptions &options,
                  const t::TuneOptions &to, t::TuningDB &db,
                  std::vector<t::KernelOutcome> &outcomes, std::string *error,
                  void (*progress)(const std::string &))
      : modelDir_(modelDir), options_(options), to_(to), db_(db), outcomes_(outcomes),
        error_(error), progress_(progress) {}

  int run(::xfmr::TuneReport *report);

private:
  /// Stage 1: the tuned schedules against the defaults; fills kept_.
  int keepWinningKernels(ModelTiming *tb, ModelTiming *tt);
  /// Stage 2: the sweeps, against the best model so far.
  int sweep(::xfmr::TuneReport *report);
  /// Records kernel `i` (tuned now) with its default schedule.
  int recordDefault(size_t i);
  /// Records the changed kernels that lost with their default schedule.
  int recordLosers();
  /// Records the schedules the sweeps changed, each measured alone
  /// beside its default (the table's row).
  int recordSwept();

  /// The model's schedules with those of `which` as tuned.
  Pins with(const std::vector<size_t> &which) const;
  int compile(const Pins &pins, std::string *dir);
  /// Compiles `pins` into `dir` and times `against` with it (ta, tb).
  int compare(const std::string &against, const Pins &pins, std::string *dir,
              ModelTiming *ta, ModelTiming *tb);
  bool wins(const ModelTiming &t, const ModelTiming &b);
  void say(const std::string &line) const {
    if (progress_)
      progress_("whole-model check: " + line);
  }

  const std::string &modelDir_;
  const ::xfmr::CompileOptions &options_;
  const t::TuneOptions &to_;
  t::TuningDB &db_;
  std::vector<t::KernelOutcome> &outcomes_;
  std::string *error_;
  void (*progress_)(const std::string &);

  llvm::SmallString<128> tmp_; // the variants' directory
  int variants_ = 0;
  Pins base_; // defaults, and what the database had
  std::vector<size_t> now_, changed_, kept_; // tuned now / not default / kept
  std::string baseDir_, bestDir_;
  Pins best_;
};

Pins WholeModelCheck::with(const std::vector<size_t> &which) const {
  Pins pins = base_;
  for (size_t i : which)
    pins[outcomes_[i].kernel.source] = outcomes_[i].record.schedule;
  return pins;
}

int WholeModelCheck::compile(const Pins &pins, std::string *dir) {
  ::xfmr::CompileOptions o = options_;
  o.tuneDb.clear();
  o.irDumpDir.clear();
  o.pinnedSchedules = pins;
  *dir = std::string(tmp_) + "/m" + std::to_string(variants_++);
  return ::xfmr::compileModel(modelDir_, *dir, o, error_);
}

int WholeModelCheck::compare(const std::string &against, const Pins &pins, std::string *dir,
                             ModelTiming *ta, ModelTiming *tb) {
  if (int rc = compile(pins, dir))
    return rc;
  return compareCompiled(against, *dir, to_.harness.threads, kCheckRounds, ta, tb, error_);
}

// Better on the objective in a clear majority of paired rounds (a sign
// test: a 1-2% gain is below one round's noise on a shared machine), the
// first token no slower (kMaxPrefillLoss). Says the verdict and its figures.
bool WholeModelCheck::wins(const ModelTiming &t, const ModelTiming &b) {
  int faster = roundsFaster(t, b);
  bool won = t.objective() < b.objective() && faster >= kMinRoundsWon &&
             t.prefillMs <= b.prefillMs * t::kMaxPrefillLoss;
  char line[160];
  std::snprintf(line, sizeof line, "  decode %.3fx, prefill %.3fx, faster in %d of %zu rounds: %s",
                b.decodeMs / t.decodeMs, b.prefillMs / t.prefillMs, faster,
                t.roundObjectives.size(), won ? "kept" : "not kept");
  say(line);
  return won;
}

int WholeModelCheck::keepWinningKernels(ModelTiming *tb, ModelTiming *tt) {
  if (changed_.empty())
    return 0;
  std::string tunedDir;
  if (int rc = compare(baseDir_, with(changed_), &tunedDir, tb, tt))
    return rc;
  if (wins(*tt, *tb)) {
    kept_ = changed_;
    bestDir_ = tunedDir;
    return 0;
  }
  for (size_t i : changed_) {
    say(outcomes_[i].kernel.label() + " alone");
    std::string one;
    ModelTiming b1, t1;
    if (int rc = compare(baseDir_, with({i}), &one, &b1, &t1))
      return rc;
    if (wins(t1, b1))
      kept_.push_back(i);
  }
  if (kept_.empty())
    return 0;
  say("the kernels that won alone, together"); // against the default again
  std::string together;
  ModelTiming b2, t2;
  if (int rc = compare(baseDir_, with(kept_), &together, &b2, &t2))
    return rc;
  if (wins(t2, b2))
    bestDir_ = together;
  else
    kept_.clear();
  return 0;
}

int WholeModelCheck::recordDefault(size_t i) {
  t::TuningRecord &r = outcomes_[i].record;
  if (r.schedule == r.defaultSchedule)
    return 0;
  r.keepDefault();
  return db_.store(r, error_, /*replace=*/true) ? 0 : 1;
}

int WholeModelCheck::recordLosers() {
  for (size_t i : changed_)
    if (!llvm::is_contained(kept_, i))
      if (int rc = recordDefault(i))
        return rc;
  return 0;
}

int WholeModelCheck::sweep(::xfmr::TuneReport *report) {
  best_ = with(kept_);
  for (const Sweep &sw : wholeModelSweeps()) {
    Pins pins = best_;
    bool any = false;
    for (size_t i : now_) {
      t::Candidate c;
      std::string &sched = pins[outcomes_[i].kernel.source];
      if ((sw.linearsOnly && outcomes_[i].kernel.family != "linear") ||
          !t::Candidate::parse(sched, &c) || !sw.change(c))
        continue;
      sched = c.schedule();
      any = true;
    }
    if (!any)
      continue;
    say(sw.name);
    std::string dir;
    ModelTiming tBest, tNew;
    if (int rc = compare(bestDir_, pins, &dir, &tBest, &tNew))
      return rc;
    if (!wins(tNew, tBest))
      continue;
    best_ = pins, bestDir_ = dir;
    if (report)
      report->sweepsKept.push_back(sw.name);
  }
  return 0;
}

int WholeModelCheck::recordSwept() {
  // Without a sweep kept, best_ holds every kernel's recorded schedule.
  for (size_t i : now_) {
    t::TuningRecord &r = outcomes_[i].record;
    const std::string &sched = best_[outcomes_[i].kernel.source];
    if (sched == r.schedule)
      continue;
    t::Candidate c;
    t::Candidate::parse(sched, &c);
    std::unique_ptr<t::Harness> h = t::Harness::create(outcomes_[i].kernel, to_.harness, error_);
    if (!h)
      return 1;
    if (!t::measurePaired(*h, c, r, error_)) {
      *error_ = outcomes_[i].kernel.label() + ": " + *error_;
      return 1;
    }
    if (!db_.store(r, error_, /*replace=*/true))
      return 1;
  }
  return 0;
}

int WholeModelCheck::run(::xfmr::TuneReport *report) {
  for (size_t i = 0; i < outcomes_.size(); ++i) {
    const t::TuningRecord &r = outcomes_[i].record;
    base_[outcomes_[i].kernel.source] =
        outcomes_[i].fromDatabase ? r.schedule : r.defaultSchedule;
    if (outcomes_[i].fromDatabase)
      continue;
    now_.push_back(i);
    if (r.schedule != r.defaultSchedule)
      changed_.push_back(i);
  }
  if (now_.empty())
    return 0;
  if (llvm::sys::fs::createUniqueDirectory("xfmr-tune-check", tmp_)) {
    *error_ = "cannot create a temporary directory for the whole-model check";
    return 1;
  }
  auto cleanup = llvm::make_scope_exit([&] { llvm::sys::fs::remove_directories(tmp_); });
  say("default against tuned schedules");
  if (int rc = compile(base_, &baseDir_))
    return rc;
  bestDir_ = baseDir_;
  ModelTiming tb, tt;
  if (int rc = keepWinningKernels(&tb, &tt))
    return rc;
  if (int rc = recordLosers())
    return rc;
  if (int rc = sweep(report))
    return rc;
  if (int rc = recordSwept())
    return rc;

  // The figure to report: the default model against the final one.
  const int threads = to_.harness.threads;
  if (bestDir_ == baseDir_) {
    if (changed_.empty()) { // nothing was compared yet: time the default once
      ModelTiming unused;
      if (int rc = compareCompiled(baseDir_, baseDir_, threads, 3, &tb, &unused, error_))
        return rc;
    }
    tt = tb;
  } else if (int rc = compareCompiled(baseDir_, bestDir_, threads, kCheckRounds, &tb, &tt,
                                      error_)) {
    return rc;
  } else if (!(tt.objective() < tb.objective())) {
    // Every change won its own comparison, yet the final model does not
    // beat the default in this one (chance over several comparisons, or
    // the machine changed under them): a tuned compile must not be the
    // slower one, so the defaults stay.
    say("the final model is no faster than the default: keeping the defaults");
    for (size_t i : now_)
      if (int rc = recordDefault(i))
        return rc;
    bestDir_ = baseDir_;
    if (report) {
      report->sweepsKept.clear();
      report->revertedAtEnd = true;
    }
  }
  if (report) {
    report->modelChecked = true;
    report->rejected = int(changed_.size() - kept_.size());
    report->defaultDecodeMs = tb.decodeMs, report->defaultPrefillMs = tb.prefillMs;
    report->tunedDecodeMs = tt.decodeMs, report->tunedPrefillMs = tt.prefillMs;
    report->keptDefault = bestDir_ == baseDir_;
    report->rounds = int(tt.roundObjectives.size());
    report->roundsWon = report->keptDefault ? 0 : roundsFaster(tt, tb);
  }
  return 0;
}
} // namespace

int ::xfmr::driver::checkInModel(const std::string &modelDir, const CompileOptions &options,
                                 const t::TuneOptions &to, t::TuningDB &db,
                                 std::vector<t::KernelOutcome> &outcomes, TuneReport *report,
                                 std::string *error, void (*progress)(const std::string &)) {
  return WholeModelCheck(modelDir, options, to, db, outcomes, error, progress).run(report);
}
