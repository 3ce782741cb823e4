// What every family's importer starts from: the module with its
// `xfmr.model` description, `func.func @forward(tokens, pos, cache)` and a
// builder for weight views. Internal to import/.
#ifndef XFMR_IMPORT_FORWARD_BUILDER_H
#define XFMR_IMPORT_FORWARD_BUILDER_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "xfmr/IR/XfmrDialect.h"
#include "xfmr/import/model_dir.h"

#include <string>
#include <utility>
#include <vector>

namespace mlir::xfmr {

class ForwardBuilder {
public:
  /// `model` entries are written as the module's `xfmr.model` dictionary
  /// (the manifest copies them for the runtime); negative ones (none) are
  /// left out.
  ForwardBuilder(MLIRContext *ctx, const ::xfmr::io::ModelDir &files,
                 StringRef architecture,
                 const std::vector<std::pair<std::string, int64_t>> &model,
                 KVCacheType cache, int64_t vocab);

  OpBuilder b;
  Location loc;
  Value tokens, pos, cache;

  /// `tensor<?xD>`: activations, one row per token of the call.
  RankedTensorType act(int64_t d) const;
  /// The tensor named `canonical` viewed with `shape`: columns from
  /// `colOffset`, or transposed (an nn.Linear's [out, in] as [in, out]), or
  /// both (stored rows from `colOffset`, transposed: one part of a fused
  /// [out, in] matrix).
  Value weight(const std::string &canonical, ArrayRef<int64_t> shape,
               int64_t colOffset = -1, bool transposed = false);
  IntegerAttr i64(int64_t v) { return b.getI64IntegerAttr(v); }
  /// Ends @forward with `logits` and hands the module over, each weight
  /// the checkpoint stores quantized typed with its scheme.
  OwningOpRef<ModuleOp> finish(Value logits);

private:
  /// Weights whose tensors hold quantized blocks (GGUF's Q8_0, Q4_0) take
  /// the xfmr.quant type that is those blocks, so their codes are packed as
  /// the file has them.
  void typeStoredWeights();
  const ::xfmr::io::ModelDir &files_;
  OwningOpRef<ModuleOp> module_;
};

} // namespace mlir::xfmr

#endif
