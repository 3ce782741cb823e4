//===- Tuner.h - tune the kernels of a model against a database -*- C++ -*-===//
//
// For each tunable kernel: the database's record when it has one (no
// measurement), else a search (Search.h) within the kernel's share of the
// time budget, then a confirmation: the winner and the default schedule
// measured again, interleaved, three times each; the winner is kept only
// if its median beats the default's, else the default is recorded (a
// tuned compile is never slower by the tuner's own measurement).
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_AUTOTUNE_TUNER_H
#define XFMR_AUTOTUNE_TUNER_H

#include "xfmr/Autotune/Search.h"
#include "xfmr/Autotune/TuningDB.h"

#include <functional>
#include <map>

namespace mlir::xfmr::tune {

struct TuneOptions {
  HarnessOptions harness;
  int trialsPerKernel = 40;
  double budgetSeconds = 600; // all kernels together
  bool exhaustive = false;
  bool retune = false; // measure even kernels the database has
};

struct KernelOutcome {
  TunableKernel kernel;
  bool fromDatabase = false;
  TuningRecord record;
  std::vector<Trial> trials; // empty when from the database
};

struct TuneProgress {
  size_t kernel = 0, kernels = 0;
  const TunableKernel *current = nullptr;
  int trials = 0, trialLimit = 0;
  double bestOverDefault = 1; // best objective / default objective so far
  double secondsLeft = 0;
};

/// Tunes `kernels` (and stores new records); false and *error on a
/// database or harness failure.
bool tuneKernels(const std::vector<TunableKernel> &kernels, TuningDB &db,
                 const std::string &target, const TuneOptions &options,
                 std::vector<KernelOutcome> *outcomes, std::string *error,
                 const std::function<void(const TuneProgress &)> &progress = {});

/// Measures `c` and the harness's default schedule interleaved, three
/// times each, and sets `r`'s schedule to `c` and its figures (and the
/// default's) to the medians: two figures taken at the same time, so their
/// ratio holds on a machine whose speed drifts. false and *error when a
/// measurement fails.
bool measurePaired(Harness &h, const Candidate &c, TuningRecord &r, std::string *error);

/// signature -> schedule, for applySchedules().
std::map<std::string, std::string> schedulesOf(const std::vector<KernelOutcome> &outcomes);

/// Writes the tuning curves (best objective over the default schedule's,
/// against trials, one line per kernel) as an SVG file.
bool writeTuningPlot(const std::vector<KernelOutcome> &outcomes,
                     const std::string &path, std::string *error);

} // namespace mlir::xfmr::tune

#endif
