// Model directory -> the xfmr dialect. One importer per family
// (import/families/*Importer.cpp), chosen by the family model_dir.h opened
// the directory as; each writes `func.func @forward(tokens, pos, cache) ->
// logits` in the ops engineers think in, leaving fusion to the passes.
#ifndef XFMR_IMPORT_IMPORTER_H
#define XFMR_IMPORT_IMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "xfmr/import/model_dir.h"

#include <string>

namespace xfmr::io {
class GPT2Model;
class LlamaModel;
} // namespace xfmr::io

namespace mlir::xfmr {

struct ImportOptions {
  /// Positions the KV cache holds (the longest sequence a compiled model
  /// runs); 0: the model's own context (max_position_embeddings).
  int64_t context = 0;
};

/// The module of `model`, or null and a one-line *error when the options do
/// not fit the model (a context beyond its own, or beyond a sliding window).
OwningOpRef<ModuleOp> importModel(MLIRContext *ctx, const ::xfmr::io::ModelDir &model,
                                  const ImportOptions &options, std::string *error);

OwningOpRef<ModuleOp> importGPT2(MLIRContext *ctx, const ::xfmr::io::GPT2Model &model,
                                 int64_t context);
OwningOpRef<ModuleOp> importLlama(MLIRContext *ctx, const ::xfmr::io::LlamaModel &model,
                                  int64_t context);

} // namespace mlir::xfmr

#endif
