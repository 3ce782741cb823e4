//===- GPT2Importer.h - Hugging Face GPT-2 -> xfmr dialect ------*- C++ -*-===//
#ifndef XFMR_IMPORT_GPT2IMPORTER_H
#define XFMR_IMPORT_GPT2IMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "xfmr/io/gpt2.h"

namespace mlir::xfmr {

/// Builds `func.func @forward(tokens, pos, cache) -> logits` for a validated
/// GPT-2 directory. Weights are referenced by their file names; c_attn's
/// fused Q/K/V weight becomes three column views of one tensor.
OwningOpRef<ModuleOp> importGPT2(MLIRContext *ctx, const ::xfmr::io::GPT2Files &files);

} // namespace mlir::xfmr

#endif
