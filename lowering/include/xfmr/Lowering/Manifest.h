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

/// One weight as a kernel reads it: a view of a tensor of the model file,
/// or (xfmr.concat) several views side by side.
struct WeightView {
  /// A view of one stored tensor: its columns from `columnOffset`, or the
  /// tensor transposed, or both (the stored rows from `columnOffset`,
  /// transposed, as xfmr.weight defines it); `cols` of the weight's columns.
  struct Part {
    std::string name;
    int64_t columnOffset = 0;
    bool transposed = false;
    int64_t cols = 0;
  };
  std::vector<Part> parts;    // one, or a concat's in order
  std::string name;           // the parts' names joined by '+'
  std::vector<int64_t> shape; // the view's logical shape
  WeightLayout layout;        // how its kernel reads it
  int64_t offset = 0;         // byte offset in weights.bin (64-byte aligned)
  int64_t bytes = 0;
};

struct Manifest {
  std::string text; // without the weights' checksum lines: see finish()
  std::vector<WeightView> weights;
  int64_t weightBytes = 0;
  int64_t kvContext = 0; // the KV cache's positions (the kernel table says it too)
  int64_t vocab = 0;     // the logits' width (the kernel table says it too)

  /// The manifest.txt to write, once weights.bin is written: `text` with
  /// the weights file's checksum and fingerprint.
  std::string finish(uint64_t weightsChecksum, uint64_t weightsFingerprint) const;
};

FailureOr<Manifest> exportManifest(ModuleOp module, int64_t maxTokens);

} // namespace mlir::xfmr

#endif // XFMR_LOWERING_MANIFEST_H
