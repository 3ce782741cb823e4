// The float64 reference of a model directory as `xfmr compile` would build
// it with given options: the module after the model-level passes (pruning,
// quantization, KV cache precision), each op's dot-product decision as the
// compiler's schedules make it, run by the dialect interpreter
// (reference/Interpreter.h). What end-to-end tests and `xfmr eval` compare
// compiled models against, for every family.
#ifndef XFMR_TOOLS_REFERENCE_MODEL_H
#define XFMR_TOOLS_REFERENCE_MODEL_H

#include "compile_model.h"

#include "Interpreter.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "xfmr/import/model_dir.h"

#include <memory>
#include <string>

namespace xfmr::driver {

struct ReferenceModel {
  std::unique_ptr<::xfmr::io::ModelDir> files;
  std::unique_ptr<mlir::MLIRContext> ctx;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::unique_ptr<::xfmr::reference::Interpreter> interpreter;
};

/// Opens MODEL_DIR and builds its reference for `options` on this host
/// (whose dot-product instructions decide where inputs are rounded).
/// `jitter`: the interpreter's activationJitter. Returns 0, or the compile
/// return codes with *error.
int openReference(const std::string &modelDir, const ::xfmr::CompileOptions &options,
                  double jitter, ReferenceModel &out, std::string *error);

} // namespace xfmr::driver

#endif
