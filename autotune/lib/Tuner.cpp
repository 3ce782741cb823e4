//===- Tuner.cpp - tune the kernels of a model against a database ----------===//
#include "xfmr/Autotune/Tuner.h"

#include <algorithm>
#include <chrono>

using namespace mlir::xfmr::tune;
using Clock = std::chrono::steady_clock;

namespace {
double medianOf(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// Re-measures the winner and the default, interleaved (measurePaired);
/// the winner stays only if it still wins.
bool confirm(Harness &h, const Candidate &best, TuningRecord &r, std::string *error) {
  if (!measurePaired(h, best, r, error))
    return false;
  if (best == h.defaultCandidate() || !(r.objectiveUs < r.defaultObjectiveUs) ||
      r.prefillUs > r.defaultPrefillUs * kMaxPrefillLoss)
    r.keepDefault();
  return true;
}
} // namespace

bool mlir::xfmr::tune::measurePaired(Harness &h, const Candidate &c, TuningRecord &r,
                                     std::string *error) {
  std::vector<double> co, cd, cp, dobj, dd, dp;
  const bool same = c == h.defaultCandidate();
  for (int round = 0; round < 3; ++round) {
    for (int which = same ? 1 : 0; which < 2; ++which) {
      const Candidate &measured = which ? h.defaultCandidate() : c;
      Measurement m = h.measure(measured);
      if (!m.ok) {
        *error = "re-measuring " + measured.schedule() + ": " + m.error;
        return false;
      }
      (which ? dobj : co).push_back(m.objectiveUs());
      (which ? dd : cd).push_back(m.decodeUs);
      (which ? dp : cp).push_back(m.prefillUs);
    }
  }
  r.defaultSchedule = h.defaultCandidate().schedule();
  r.defaultObjectiveUs = medianOf(dobj), r.defaultDecodeUs = medianOf(dd);
  r.defaultPrefillUs = medianOf(dp);
  if (same) {
    r.keepDefault();
  } else {
    r.schedule = c.schedule();
    r.objectiveUs = medianOf(co), r.decodeUs = medianOf(cd), r.prefillUs = medianOf(cp);
  }
  return true;
}

bool mlir::xfmr::tune::tuneKernels(const std::vector<TunableKernel> &kernels,
                                   TuningDB &db, const std::string &target,
                                   const TuneOptions &options,
                                   std::vector<KernelOutcome> *outcomes,
                                   std::string *error,
                                   const std::function<void(const TuneProgress &)> &progress) {
  const std::string version = xfmrVersion();
  std::vector<size_t> todo;
  for (size_t i = 0; i < kernels.size(); ++i) {
    KernelOutcome o;
    o.kernel = kernels[i];
    std::optional<TuningRecord> r;
    if (!db.lookup(kernels[i].source, target, version, &r, error))
      return false;
    if (r && !options.retune) {
      o.fromDatabase = true;
      o.record = *r;
    } else {
      todo.push_back(i);
    }
    outcomes->push_back(o);
  }
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(options.budgetSeconds));
  for (size_t t = 0; t < todo.size(); ++t) {
    KernelOutcome &o = (*outcomes)[todo[t]];
    std::unique_ptr<Harness> h = Harness::create(o.kernel, options.harness, error);
    if (!h) {
      *error = o.kernel.label() + ": " + *error;
      return false;
    }
    // This kernel's share of what is left (the confirmation included).
    auto now = Clock::now();
    auto share = (end - now) / int64_t(todo.size() - t);
    SearchBudget budget;
    budget.trials = options.trialsPerKernel;
    budget.exhaustive = options.exhaustive;
    budget.deadline = now + share * 9 / 10;
    double defaultUs = 0;
    auto report = [&](const std::vector<Trial> &trials) {
      if (!progress)
        return;
      if (defaultUs == 0 && !trials.empty() && trials[0].result.ok)
        defaultUs = trials[0].result.objectiveUs();
      TuneProgress p;
      p.kernel = t, p.kernels = todo.size(), p.current = &o.kernel;
      p.trials = int(trials.size());
      p.trialLimit = options.exhaustive ? int(searchSpace(h->shape(), h->defaultCandidate()).size())
                                        : options.trialsPerKernel;
      p.bestOverDefault = defaultUs > 0 ? trials.back().bestUs / defaultUs : 1;
      p.secondsLeft = std::chrono::duration<double>(end - Clock::now()).count();
      progress(p);
    };
    o.trials = search(h->shape(), h->defaultCandidate(),
                      [&](const Candidate &c) { return h->measure(c); }, budget, report);
    int best = bestTrial(o.trials);
    if (best < 0) {
      *error = o.kernel.label() + ": no candidate measured correctly";
      return false;
    }
    TuningRecord &r = o.record;
    r.kernel = o.kernel.source, r.target = target, r.version = version;
    r.family = o.kernel.family, r.shape = o.kernel.shape, r.precision = o.kernel.precision;
    if (!confirm(*h, o.trials[size_t(best)].candidate, r, error))
      return false;
    for (const Trial &tr : o.trials)
      r.trials.push_back({tr.candidate.schedule(), tr.result.ok, tr.result.objectiveUs()});
    if (!db.store(r, error))
      return false;
    // A concurrent tuner may have stored a faster record: use what is there.
    std::optional<TuningRecord> stored;
    if (!db.lookup(r.kernel, target, version, &stored, error))
      return false;
    if (stored && stored->schedule != r.schedule) {
      auto trials = std::move(r.trials);
      r = *stored;
      r.trials = std::move(trials);
    }
  }
  return true;
}

std::map<std::string, std::string>
mlir::xfmr::tune::schedulesOf(const std::vector<KernelOutcome> &outcomes) {
  std::map<std::string, std::string> m;
  for (const KernelOutcome &o : outcomes)
    m[o.kernel.source] = o.record.schedule;
  return m;
}
