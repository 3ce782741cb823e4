//===- MergeColumns.h - weights side by side as one operand -----*- C++ -*-===//
//
// The projection-merging passes (xfmr-fuse-qkv, xfmr-fuse-gate-up) turn
// several linears of one input into one over their weights side by side.
// Column views of one stored tensor that sit next to each other (GPT-2's
// c_attn, also when transposed: its rows as GGUF stores it) become one wider
// view; separate tensors (Llama's q/k/v_proj,
// gate/up_proj) an xfmr.concat of them.
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_LOWERING_MERGECOLUMNS_H
#define XFMR_LOWERING_MERGECOLUMNS_H

#include "xfmr/IR/XfmrDialect.h"

namespace mlir::xfmr {

/// The parts' type with their widths summed, or null when they cannot be
/// merged: not all xfmr.weight views, or different element types,
/// encodings, ranks or leading dimensions.
RankedTensorType mergedColumnsType(ArrayRef<Value> parts);

/// Builds the merged operand just before `at` (mergedColumnsType(parts)
/// must be non-null). Concatenated parts' weight ops move before `at`.
Value mergeColumns(ArrayRef<Value> parts, Operation *at);

/// Erases `linears` and then the weight ops only they read.
void eraseMerged(ArrayRef<LinearOp> linears);

} // namespace mlir::xfmr

#endif
