//===- FuseQKV.cpp - one linear for an attention's Q, K and V --------------===//
#include "xfmr/Lowering/Passes.h"

namespace mlir::xfmr {
#define GEN_PASS_DEF_XFMRFUSEQKVPASS
#include "xfmr/Lowering/Passes.h.inc"
} // namespace mlir::xfmr

using namespace mlir;
using namespace mlir::xfmr;

namespace {
/// A plain projection (no fused parts) used only by the attention.
LinearOp plainProjection(Value v) {
  auto l = v.getDefiningOp<LinearOp>();
  if (!l || !l->hasOneUse() || l.getNormGamma() || l.getResidual() ||
      l.getActivation() || l.getSchedule())
    return {};
  return l;
}

/// The column offset of a weight view, or -1 when it is not a column view
/// of the named tensor (transposed views are never merged).
int64_t columnOffset(Value v, StringRef &name) {
  auto w = v.getDefiningOp<WeightOp>();
  if (!w || w.getTransposed())
    return -1;
  name = w.getName();
  return w.getColumnOffset() ? int64_t(*w.getColumnOffset()) : 0;
}

/// Whether `parts` (in q, k, v order) are consecutive column views of one
/// stored tensor; returns the first one's offset.
std::optional<int64_t> adjacentColumns(ArrayRef<Value> parts) {
  StringRef name;
  int64_t first = columnOffset(parts[0], name), next = first;
  if (first < 0)
    return std::nullopt;
  for (Value p : parts) {
    StringRef n;
    int64_t off = columnOffset(p, n);
    if (off != next || n != name)
      return std::nullopt;
    next += cast<ShapedType>(p.getType()).getShape().back();
  }
  return first;
}

/// The three views' type with their widths summed (same element type and
/// encoding: one quantization pass treated all three alike).
RankedTensorType widened(ArrayRef<Value> parts) {
  auto t = cast<RankedTensorType>(parts[0].getType());
  SmallVector<int64_t> shape(t.getShape());
  shape.back() = 0;
  for (Value p : parts) {
    auto pt = cast<RankedTensorType>(p.getType());
    if (pt.getElementType() != t.getElementType() ||
        pt.getEncoding() != t.getEncoding() || pt.getRank() != t.getRank() ||
        pt.getShape().drop_back() != t.getShape().drop_back())
      return {};
    shape.back() += pt.getShape().back();
  }
  return RankedTensorType::get(shape, t.getElementType(), t.getEncoding());
}

struct FuseQKV : mlir::xfmr::impl::XfmrFuseQKVPassBase<FuseQKV> {
  void runOnOperation() override {
    SmallVector<AttentionOp> attentions;
    getOperation().walk([&](AttentionOp a) {
      if (!a.isPacked())
        attentions.push_back(a);
    });
    for (AttentionOp att : attentions) {
      SmallVector<LinearOp> proj;
      for (Value v : att.getInputs())
        proj.push_back(plainProjection(v));
      if (llvm::any_of(proj, [](LinearOp l) { return !l; }) ||
          proj[1] == proj[0] || proj[2] == proj[1] || proj[2] == proj[0] ||
          proj[1].getInput() != proj[0].getInput() ||
          proj[2].getInput() != proj[0].getInput())
        continue;
      SmallVector<Value> weights, biases;
      for (LinearOp l : proj) {
        weights.push_back(l.getWeight());
        if (l.getBias())
          biases.push_back(l.getBias());
      }
      if (!biases.empty() && biases.size() != 3)
        continue;
      // Side-by-side column views of one tensor (GPT-2's c_attn) become one
      // wider view; views of separate tensors (Llama's q/k/v_proj) an
      // xfmr.concat of them.
      auto wOff = adjacentColumns(weights);
      auto bOff = biases.empty() ? std::optional<int64_t>(0) : adjacentColumns(biases);
      RankedTensorType wType = widened(weights);
      RankedTensorType bType = biases.empty() ? RankedTensorType() : widened(biases);
      auto allWeights = [](ArrayRef<Value> vs) {
        return llvm::all_of(vs, [](Value v) { return bool(v.getDefiningOp<WeightOp>()); });
      };
      if (!wType || (!biases.empty() && !bType) || !allWeights(weights) ||
          !allWeights(biases))
        continue;

      // Build the merged weight and linear just before the first projection
      // (all three read the same input, so it dominates).
      Operation *first = proj[0];
      for (LinearOp l : proj)
        if (l->isBeforeInBlock(first))
          first = l;
      OpBuilder b(first);
      auto view = [&](Value part, RankedTensorType type, int64_t offset) -> Value {
        auto w = part.getDefiningOp<WeightOp>();
        return b.create<WeightOp>(w.getLoc(), type, w.getNameAttr(),
                                  offset ? b.getI64IntegerAttr(offset) : IntegerAttr(),
                                  UnitAttr());
      };
      auto merged = [&](ArrayRef<Value> parts, RankedTensorType type,
                        std::optional<int64_t> offset) -> Value {
        if (offset)
          return view(parts[0], type, *offset);
        // The parts' weight ops (no operands) move up to the concat, which
        // the first projection's position dictates.
        for (Value p : parts)
          p.getDefiningOp()->moveBefore(first);
        return b.create<ConcatOp>(att.getLoc(), type, parts);
      };
      Value w = merged(weights, wType, wOff);
      Value bias = biases.empty() ? Value() : merged(biases, bType, bOff);
      auto outType = cast<RankedTensorType>(proj[0].getType());
      SmallVector<int64_t> outShape(outType.getShape());
      outShape.back() = wType.getShape().back();
      auto fused = b.create<LinearOp>(
          att.getLoc(), RankedTensorType::get(outShape, outType.getElementType()),
          proj[0].getInput(), w, bias);
      att.getInputsMutable().assign(ValueRange{fused});
      for (LinearOp l : proj) {
        SmallVector<Operation *> dead{l.getWeight().getDefiningOp()};
        if (l.getBias())
          dead.push_back(l.getBias().getDefiningOp());
        l.erase();
        for (Operation *d : dead)
          if (d->use_empty())
            d->erase(); // a concat's parts stay, as its operands
      }
    }
  }
};
} // namespace
