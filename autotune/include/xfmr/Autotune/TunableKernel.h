//===- TunableKernel.h - the kernels of a model the tuner searches -*- C++ -*-===//
//
// A tunable kernel is one compute op of a (fused, not yet scheduled) model,
// lifted into its own `func.func @forward` with the op's operands as
// arguments. That one-op source, printed, is the kernel's signature: equal
// for every layer that shares the op, shapes, fusions and weight type, so
// one tuning record serves them all, and exactly what the measurement
// harness JIT-compiles with a candidate schedule attached.
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_AUTOTUNE_TUNABLEKERNEL_H
#define XFMR_AUTOTUNE_TUNABLEKERNEL_H

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mlir::xfmr::tune {

struct TunableKernel {
  std::string family;    // "linear" or "lm_head"
  std::string source;    // the one-op @forward, without a schedule
  std::string shape;     // "768x3072" (the weight's logical shape)
  std::string precision; // the weight's element type: f32, bf16, i8, i4g32
  std::string fusions;   // "+norm+gelu+residual", "" when plain
  int64_t uses = 0;      // ops of the model that share it
  /// A short readable name: "linear 768x3072 i8 +norm+gelu".
  std::string label() const;
};

/// The distinct tunable kernels of `module` (linears and LM heads), in the
/// order they first occur. Ops that already carry a schedule are skipped.
std::vector<TunableKernel> collectTunableKernels(ModuleOp module);

/// The one-op signature of `op` (see above).
std::string kernelSource(Operation *op);

/// Attaches `schedules[signature]` (the printed #xfmr.schedule) to every
/// tunable op whose signature has one. Returns the number of ops given a
/// schedule, or -1 (and *error) when a stored schedule does not parse.
int64_t applySchedules(ModuleOp module,
                       const std::map<std::string, std::string> &schedules,
                       std::string *error);

} // namespace mlir::xfmr::tune

#endif
