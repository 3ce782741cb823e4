// What an op handler sees: the activations computed so far in this call,
// the call's tokens and position, the weights, the KV cache and the input
// rounding. And the table of handlers, one function per op, keyed by op name:
// adding an op to the interpreter is adding one function and one line to a
// register*Ops (docs/architecture.md, "The reference").
#ifndef XFMR_REFERENCE_FRAME_H
#define XFMR_REFERENCE_FRAME_H

#include "DotInputRounding.h"
#include "KVCacheStore.h"
#include "WeightStore.h"

#include "xfmr/IR/XfmrDialect.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <functional>
#include <optional>
#include <vector>

namespace xfmr::reference::detail {

/// An activation: `rows` tokens of `cols` features, row-major, float64.
struct Tensor {
  int64_t rows = 0, cols = 0;
  std::vector<double> data;
  Tensor() = default;
  Tensor(int64_t r, int64_t c) : rows(r), cols(c), data(size_t(r * c), 0.0) {}
  double *row(int64_t r) { return data.data() + r * cols; }
  const double *row(int64_t r) const { return data.data() + r * cols; }
};

/// One forward call.
class Frame {
public:
  Frame(llvm::ArrayRef<int32_t> tokens, int64_t pos, KVCacheStore &cache,
        const WeightStore &weights, const DotInputRounding &rounding,
        uint64_t firstDraw)
      : tokens_(tokens), pos_(pos), cache_(cache), weights_(weights),
        rounding_(rounding), firstDraw_(firstDraw),
        prepared_(size_t(rounding.numSites())) {}

  /// Tokens of this call: every activation has this many rows.
  int64_t rows() const { return int64_t(tokens_.size()); }
  llvm::ArrayRef<int32_t> tokens() const { return tokens_; }
  /// Position of the first token.
  int64_t pos() const { return pos_; }
  KVCacheStore &cache() { return cache_; }

  /// The activation `v` of `user`; null, with an error emitted on `user`,
  /// if `v` is not one (a weight where an activation is expected).
  const Tensor *activation(mlir::Operation *user, mlir::Value v) const;
  /// The activation `v` if an op defined it, else null (no error).
  const Tensor *lookup(mlir::Value v) const {
    auto it = values_.find(v);
    return it == values_.end() ? nullptr : &it->second;
  }
  /// The weight operand `v` of `user` as that use reads it, or null + error.
  const WeightData *weight(mlir::Operation *user, mlir::Value v) const {
    return weights_.get(user, v);
  }
  /// Records the result of an op.
  void define(mlir::Value v, Tensor t) { values_[v] = std::move(t); }

  /// The input of matrix product `op` as its kernel multiplies it: `x`
  /// through `norm` (the fused norm; null: none), rounded where the plan
  /// says. Computed once per site and call, so ops sharing a site share it.
  const Tensor &prepared(mlir::Operation *op, const Tensor &x,
                         const std::function<void(Tensor &)> &norm);

private:
  llvm::ArrayRef<int32_t> tokens_;
  int64_t pos_;
  KVCacheStore &cache_;
  const WeightStore &weights_;
  const DotInputRounding &rounding_;
  uint64_t firstDraw_;
  llvm::DenseMap<mlir::Value, Tensor> values_;
  std::vector<std::optional<Tensor>> prepared_; // per rounding site
  Tensor scratch_; // the prepared input of an op without a site
};

/// Interprets one op: reads its operands from the frame, defines its
/// results. Failure: an error emitted on the op.
using OpHandler = std::function<mlir::LogicalResult(mlir::Operation *, Frame &)>;

class HandlerRegistry {
public:
  template <typename OpT>
  void add(mlir::LogicalResult (*fn)(OpT, Frame &)) {
    handlers_[OpT::getOperationName()] = [fn](mlir::Operation *op, Frame &f) {
      return fn(mlir::cast<OpT>(op), f);
    };
  }
  const OpHandler *find(llvm::StringRef opName) const {
    auto it = handlers_.find(opName);
    return it == handlers_.end() ? nullptr : &it->second;
  }

private:
  llvm::StringMap<OpHandler> handlers_;
};

/// Every op the interpreter knows.
const HandlerRegistry &handlers();

// One per op group (ops_*.cpp).
void registerRowOps(HandlerRegistry &r);       // embedding, norms, element-wise, rotary
void registerMatrixOps(HandlerRegistry &r);    // weight, linear, lm_head
void registerAttentionOps(HandlerRegistry &r); // attention, _partial, _combine

} // namespace xfmr::reference::detail

#endif
