// Where the matrix products' inputs are rounded as dot-product kernels
// round them (InterpreterOptions::dotInputRounding), and the activation
// jitter that measures how sensitive that rounding is.
//
// A "site" is one rounded input: ops that read the same input through the
// same fused norm and round it the same way share one (unfused Q, K and V
// projections; their fused QKV linear), so fused and unfused IR draw the same
// jitter and compute the same numbers. Sites are numbered in program order,
// each owning a fixed slice of every row's draws, which reproduces the old
// reference's token-by-token stream for any split of tokens into calls.
#ifndef XFMR_REFERENCE_DOTINPUTROUNDING_H
#define XFMR_REFERENCE_DOTINPUTROUNDING_H

#include "Interpreter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"

#include <vector>

namespace xfmr::reference::detail {

struct Tensor;

class DotInputRounding {
public:
  /// Decides, for every linear and LM head of `fn`, whether its input is
  /// rounded, and lays out the draws of the sites.
  void plan(mlir::func::FuncOp fn, const InterpreterOptions &options);

  /// The site of `op`'s input, or -1 where it is not rounded.
  int siteOf(mlir::Operation *op) const;
  int numSites() const { return int(sites_.size()); }
  /// Jitter draws one token takes over the whole forward.
  uint64_t drawsPerRow() const { return drawsPerRow_; }

  /// Rounds the prepared input rows of `site` in place: jitter (draw index
  /// `firstDraw` + row * drawsPerRow + the site's offset + element), then
  /// int8 per block of 32 or bf16.
  void apply(int site, Tensor &x, uint64_t firstDraw) const;

private:
  enum class Kind { Int8Blocks, BF16 };
  struct Site {
    Kind kind;
    uint64_t offset; // of its draws within a row's
  };
  std::vector<Site> sites_;
  llvm::DenseMap<mlir::Operation *, int> siteOf_;
  uint64_t drawsPerRow_ = 0;
  double jitter_ = 0;
};

} // namespace xfmr::reference::detail

#endif
