// xfmr tune and the tuning step of xfmr compile: the driver side of
// autotune/ (the module the tuner sees is the one compile forms kernels of).
#include "model_stages.h"
#include "whole_model_check.h"

#include <algorithm>
#include <cstdio>
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
