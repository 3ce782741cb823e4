//===- Passes.h - xfmr passes and pipelines ---------------------*- C++ -*-===//
#ifndef XFMR_LOWERING_PASSES_H
#define XFMR_LOWERING_PASSES_H

#include "mlir/Dialect/AMX/AMXDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "xfmr/IR/XfmrDialect.h"

namespace mlir::xfmr {

#define GEN_PASS_DECL
#include "xfmr/Lowering/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "xfmr/Lowering/Passes.h.inc"

/// Options of the CPU pipeline that `xfmr compile` and `xfmr-opt
/// --xfmr-cpu-pipeline` run.
struct CPUPipelineOptions {
  int64_t vectorWidth = 16;
  int64_t maxTokens = 1024;
  int64_t tileM = 0; // 0: by weight format (xfmr-assign-schedules)
  int64_t tileN = 0;
  bool vnni = false;    // int8/int4 weights: AVX-512 VNNI dot products
  bool bf16Dot = false; // bf16 weights: AVX512-BF16 dot products
  bool fuse = true;     // run the fusion passes first
  bool amx = false;     // int8 VNNI weights: AMX tiles for prefill
  bool avx2Dot = false; // no VNNI: int8/4-bit weights' dot products on AVX2
  int64_t attentionSplits = 1; // > 1: flash-decoding over position ranges
  int64_t linearPrefetch = -1; // linear schedules' prefetch (-1: kernel default)
  // The kernel table's model fields (xfmr-emit-kernel-table).
  uint64_t manifestHash = 0;
  int64_t vocab = 0;
  int64_t kvContext = 0;
};

/// xfmr-assign-schedules' options for `o` (every caller that assigns
/// schedules as the pipeline does: the reference, the tuner).
XfmrAssignSchedulesPassOptions assignSchedulesOptions(const CPUPipelineOptions &o);

/// The fusion passes, in order: QKV projections, norms into prologues,
/// activations and residual adds into epilogues.
void buildFusionPipeline(OpPassManager &pm);

/// Fusion (unless o.fuse is off), schedules and outlining: @forward becomes
/// a list of xfmr.dispatch.
void buildKernelFormationPipeline(OpPassManager &pm, const CPUPipelineOptions &o);

/// Outlined kernels (after the manifest is exported) -> LLVM dialect.
void buildCPUCodegenPipeline(OpPassManager &pm, const CPUPipelineOptions &o);

/// Registers the passes and the `xfmr-cpu-pipeline` pipeline.
void registerXfmrPipelines();

} // namespace mlir::xfmr

#endif // XFMR_LOWERING_PASSES_H
