// The stages `xfmr compile` and `xfmr tune` share: the context, the
// pipeline options an invocation stands for, and the module before any
// schedule (import, model-level passes, fusion). Internal to the driver.
#ifndef XFMR_TOOLS_MODEL_STAGES_H
#define XFMR_TOOLS_MODEL_STAGES_H

#include "compile_model.h"

#include "xfmr/import/Importer.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "xfmr/Autotune/Tuner.h"
#include "xfmr/Lowering/CPUTarget.h"
#include "xfmr/Lowering/Passes.h"

#include <functional>
#include <vector>

namespace xfmr::driver {

void registerDialects(mlir::MLIRContext &ctx);

/// Captures the diagnostics of a failing pass run as one line.
struct DiagnosticCapture {
  std::string text;
  mlir::ScopedDiagnosticHandler handler;
  explicit DiagnosticCapture(mlir::MLIRContext &ctx)
      : handler(&ctx, [this](mlir::Diagnostic &d) {
          if (text.empty())
            text = d.str();
          return mlir::success();
        }) {}
};

/// The target `options` name (empty --cpu: this host).
mlir::xfmr::CPUTarget targetOf(const ::xfmr::CompileOptions &options);
/// The pipeline options `options` stand for on `target`.
/// `weightValues`: the model's weights (values), for --prefetch auto (0:
/// unknown, the kernels' default).
mlir::xfmr::CPUPipelineOptions pipelineOptions(const ::xfmr::CompileOptions &options,
                                               const mlir::xfmr::CPUTarget &target,
                                               int64_t nCtx, int64_t weightValues);

/// Import and the model-level passes the options ask for (pruning,
/// quantization, KV cache precision): the module the reference interpreter
/// runs to check a compiled model. Returns 0 or the compile return code.
int importModelLevel(mlir::MLIRContext &ctx, const ::xfmr::io::ModelDir &files,
                     const ::xfmr::CompileOptions &options, DiagnosticCapture &diag,
                     mlir::OwningOpRef<mlir::ModuleOp> &module, std::string *error);

/// Import, the model-level passes the options ask for, then fusion and the
/// attention split: the module kernels are formed from, before any
/// schedule. Compile and tune both start here, so their kernel signatures
/// agree. Returns 0 or the compile return code (2: bad input).
int prepareModule(mlir::MLIRContext &ctx, const ::xfmr::io::ModelDir &files,
                  const ::xfmr::CompileOptions &options,
                  const mlir::xfmr::CPUPipelineOptions &popts,
                  DiagnosticCapture &diag, mlir::OwningOpRef<mlir::ModuleOp> &module,
                  const std::function<void(const std::string &)> &dump,
                  std::string *error);

/// A model directory read and taken to the module before schedules, with
/// what later stages need: the files (weights, tokenizer), the context and
/// its diagnostics, the target and pipeline options.
struct PreparedModel {
  std::unique_ptr<::xfmr::io::ModelDir> files;
  mlir::MLIRContext ctx;
  DiagnosticCapture diag{ctx};
  mlir::xfmr::CPUTarget target;
  mlir::xfmr::CPUPipelineOptions popts;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  PreparedModel() { registerDialects(ctx); }
};

/// Opens MODEL_DIR and runs prepareModule on it. Same return codes.
int prepareModel(const std::string &modelDir, const ::xfmr::CompileOptions &options,
                 PreparedModel &p, const std::function<void(const std::string &)> &dump,
                 std::string *error);

/// Looks the tunable kernels of `module` up in options.tuneDb, tunes what
/// is missing (or all, with options.retune), attaches the schedules, and
/// fills `report`. Same return codes.
int tuneAndApply(const std::string &modelDir, mlir::ModuleOp module,
                 const ::xfmr::CompileOptions &options,
                 const mlir::xfmr::CPUPipelineOptions &popts,
                 std::vector<mlir::xfmr::tune::KernelOutcome> *outcomes,
                 ::xfmr::TuneReport *report, std::string *error,
                 void (*progress)(const std::string &));

/// Decode ms per token (median over rounds of the median of 32 steps after
/// a 128-token prompt; fewer where the context is short) and the prompt's
/// prefill ms, of a compiled model, with each round's objective for the
/// paired comparison.
struct ModelTiming {
  double decodeMs = 0, prefillMs = 0;
  std::vector<double> roundObjectives; // per round, in round order
  /// The tuner's objective at model level: decode + prefill / 64.
  double objective() const { return decodeMs + prefillMs / 64; }
};

/// Times the compiled models `a` and `b` in `rounds` interleaved rounds
/// (the order alternating; each round opens the model, times a
/// `promptLen`-token prefill and `steps` decode steps, and closes it), on
/// `threads` threads. Same return codes.
int compareCompiled(const std::string &a, const std::string &b, int threads,
                    int rounds, ModelTiming *ta, ModelTiming *tb, std::string *error,
                    int promptLen = 128, int steps = 32);

/// Rounds of one compareCompiled call: enough for a sign test to call a
/// model faster at p < 0.05 (kMinRoundsWon of them, one-sided p = 0.033).
constexpr int kCheckRounds = 11;
constexpr int kMinRoundsWon = 9;

/// Rounds in which `a` was faster than `b` on the objective (same call).
int roundsFaster(const ModelTiming &a, const ModelTiming &b);

} // namespace xfmr::driver

#endif
