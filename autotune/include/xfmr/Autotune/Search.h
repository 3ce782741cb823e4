//===- Search.h - the schedule search of one kernel -------------*- C++ -*-===//
//
// Better than exhaustive: the default schedule is measured first, three
// times (the median is the baseline every candidate must beat), then the
// candidates the cost model ranks best, starting with its favourite for
// each column block width (a third of the trial budget), then measured
// evolution: the unmeasured neighbours (one knob, one step) of the best
// schedule measured so far, most promising first by the cost model, falling back to the next
// best measured schedule's neighbours and then to the cost model's ranking
// when they run out. Stops at the trial budget, the deadline, or when the
// space is exhausted, keeping the last three measurements for the three
// best candidates, each measured again and averaged. The trial budget
// counts measurements.
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_AUTOTUNE_SEARCH_H
#define XFMR_AUTOTUNE_SEARCH_H

#include "xfmr/Autotune/Harness.h"

#include <chrono>
#include <functional>
#include <vector>

namespace mlir::xfmr::tune {

/// A candidate may win on the objective (decode + prefill/64) only if its
/// prefill stays within this factor of the default schedule's: decode
/// gains are not bought with a slower first token.
constexpr double kMaxPrefillLoss = 1.03;

struct Trial {
  Candidate candidate;
  Measurement result;
  double bestUs = 0; // best objective after this trial (the tuning curve)
};

struct SearchBudget {
  int trials = 40;
  std::chrono::steady_clock::time_point deadline =
      std::chrono::steady_clock::time_point::max();
  bool exhaustive = false; // measure the whole space in cost-model order
};

/// Runs the search; `measure` is Harness::measure (or a stand-in in
/// tests); `progress` is called after every trial.
std::vector<Trial> search(const KernelShape &shape, const Candidate &base,
                          const std::function<Measurement(const Candidate &)> &measure,
                          const SearchBudget &budget,
                          const std::function<void(const std::vector<Trial> &)> &progress = {});

/// The measured best of `trials` (index), or -1 when none is ok. Trial 0
/// is the default schedule; the others compete only within
/// kMaxPrefillLoss of its prefill time.
int bestTrial(const std::vector<Trial> &trials);

} // namespace mlir::xfmr::tune

#endif
