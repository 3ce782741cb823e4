//===- whole_model_check.h - tuned schedules checked in the model -*- C++ -*-===//
//
// A kernel timed alone is not the model: in a decode step the other
// kernels' weights stream through the same caches and memory. So what the
// tuner picked for each kernel is checked by compiling the whole model with
// it and timing that against the model with the default schedules
// (compareCompiled, paired rounds). Then the knobs only the whole model
// shows are swept the same way. docs/tuner.md tells the procedure and what
// it measured.
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_TOOLS_DRIVER_WHOLE_MODEL_CHECK_H
#define XFMR_TOOLS_DRIVER_WHOLE_MODEL_CHECK_H

#include "compile_model.h"

#include "xfmr/Autotune/Tuner.h"

#include <string>
#include <vector>

namespace xfmr::driver {

/// Checks the kernels of `outcomes` tuned now (not those from the
/// database) in the whole model, and updates their records in `db` and in
/// `outcomes` to what the model kept:
///  1. the tuned schedules against the defaults; if they lose together,
///     each kernel alone, and the winners together again;
///  2. the whole-model sweeps (prefetch into L2, no software prefetch,
///     linear prefetch distances), each against the best model so far.
/// Losers are recorded with the default schedule, so the database never
/// holds a schedule the model found slower. Fills `report`'s whole-model
/// fields; progress lines go to `progress`. 0 on success, else 1 or 2 with
/// `error` set (as compileModel).
int checkInModel(const std::string &modelDir, const CompileOptions &options,
                 const mlir::xfmr::tune::TuneOptions &to, mlir::xfmr::tune::TuningDB &db,
                 std::vector<mlir::xfmr::tune::KernelOutcome> &outcomes, TuneReport *report,
                 std::string *error, void (*progress)(const std::string &));

} // namespace xfmr::driver

#endif
