//===- CPUTarget.h - LLVM dialect -> native shared object ------*- C++ -*-===//
#ifndef XFMR_LOWERING_CPUTARGET_H
#define XFMR_LOWERING_CPUTARGET_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace mlir::xfmr {

/// The CPU the kernels are compiled for. Empty fields mean "this host".
struct CPUTarget {
  std::string cpu;      // e.g. "sapphirerapids"
  std::string features; // e.g. "+avx512f,+avx512bw,..."
  /// The host's CPU name and features (from LLVM's host detection).
  static CPUTarget host();
  /// True when the features enable AVX-512 (16 f32 lanes).
  bool hasAVX512() const;
  /// True when the features enable AVX2 (vpmaddubsw on 256-bit vectors).
  bool hasAVX2() const;
  /// True when the features enable AVX-512 VNNI (vpdpbusd).
  bool hasVNNI() const;
  /// True when the features enable AVX512-BF16 (vdpbf16ps).
  bool hasBF16() const;
  /// True when the features enable AMX int8 tiles (tdpbsud).
  bool hasAMX() const;
};

/// Translates an LLVM-dialect module to LLVM IR, optimizes it at -O3 for
/// `target`, writes an object next to `soPath` and links `soPath`.
/// `llPath`, when non-empty, receives the optimized LLVM IR.
LogicalResult emitSharedObject(ModuleOp module, const CPUTarget &target,
                               const std::string &soPath,
                               const std::string &llPath = "");

} // namespace mlir::xfmr

#endif // XFMR_LOWERING_CPUTARGET_H
