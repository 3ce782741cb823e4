// Every `xfmr.weight` of @forward as its consumers read it: the stored
// tensor, through the op's view (`columns from N`, `transposed`), rounded as
// its type says (bf16/f16 elements; #xfmr.quant codes dequantized along the
// consumer's reduction dimension, with the compiler's own numerics).
#ifndef XFMR_REFERENCE_WEIGHTSTORE_H
#define XFMR_REFERENCE_WEIGHTSTORE_H

#include "Interpreter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "xfmr/IR/XfmrDialect.h"
#include "llvm/ADT/DenseMap.h"

#include <optional>
#include <vector>

namespace xfmr::reference::detail {

/// A weight as an op reads it: `rows` x `cols` row-major (a vector is one
/// row). Float: weights are f32 in the model file, and every rounding of
/// them (bf16, dequantized codes) is exact in f32.
struct WeightData {
  int64_t rows = 0, cols = 0;
  std::vector<float> values;
  const float *row(int64_t r) const { return values.data() + r * cols; }
};

/// The reduction dimension along which a quantized weight operand
/// dequantizes (#xfmr.quant: K of a linear's [K, N], D of a [V, D] table),
/// or nullopt for an operand read as plain numbers (biases, norms,
/// positional tables).
std::optional<unsigned> reductionDimOf(mlir::OpOperand &use);

class WeightStore {
public:
  /// Reads and materializes every weight `fn` uses. Problems (a weight the
  /// loader lacks, a view outside the stored tensor, a quantized weight read
  /// as plain numbers) are emitted as errors on the op.
  mlir::LogicalResult load(mlir::func::FuncOp fn, const WeightLoader &loader);

  /// Operand `v` of `user` as that use reads it; null, with an error emitted
  /// on `user`, if `v` is not a weight.
  const WeightData *get(mlir::Operation *user, mlir::Value v) const;

private:
  // Keyed by the weight value and the reduction dimension of the read (-1:
  // plain; only #xfmr.quant types depend on it).
  using Key = std::pair<mlir::Value, int>;
  static Key keyOf(mlir::Value weight, std::optional<unsigned> reductionDim);
  llvm::DenseMap<Key, WeightData> data_;
};

} // namespace xfmr::reference::detail

#endif
