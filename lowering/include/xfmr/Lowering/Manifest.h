//===- Manifest.h - the compiled model's dispatch list ----------*- C++ -*-===//
//
// After xfmr-outline-kernels, @forward is a straight list of dispatches.
// exportManifest() turns it into the text manifest the runtime executes:
// which kernel runs on which buffers, with activation buffers reused as
// soon as their last reader has run. docs/runtime.md describes the format.
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_LOWERING_MANIFEST_H
#define XFMR_LOWERING_MANIFEST_H

#include "mlir/IR/BuiltinOps.h"
#include "xfmr/Lowering/WeightLayout.h"

#include <string>
#include <vector>

namespace mlir::xfmr {

/// One weight as a kernel reads it: a (view of a) tensor of the model file.
struct WeightView {
  std::string name;
  int64_t columnOffset = 0;
  bool transposed = false;
  std::vector<int64_t> shape; // the view's logical shape
  WeightLayout layout;        // how its kernel reads it
  int64_t offset = 0;         // byte offset in weights.bin (64-byte aligned)
  int64_t bytes = 0;
};

struct Manifest {
  std::string text;
  std::vector<WeightView> weights;
  int64_t weightBytes = 0;
};

FailureOr<Manifest> exportManifest(ModuleOp module, int64_t maxTokens);

} // namespace mlir::xfmr

#endif // XFMR_LOWERING_MANIFEST_H
