//===- FuseQKV.cpp - one linear for an attention's Q, K and V --------------===//
#include "MergeColumns.h"
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
      // xfmr.concat of them (MergeColumns.h).
      RankedTensorType wType = mergedColumnsType(weights);
      if (!wType || (!biases.empty() && !mergedColumnsType(biases)))
        continue;

      // Build the merged weight and linear just before the first projection
      // (all three read the same input, so it dominates).
      Operation *first = proj[0];
      for (LinearOp l : proj)
        if (l->isBeforeInBlock(first))
          first = l;
      OpBuilder b(first);
      Value w = mergeColumns(weights, first);
      Value bias = biases.empty() ? Value() : mergeColumns(biases, first);
      auto outType = cast<RankedTensorType>(proj[0].getType());
      SmallVector<int64_t> outShape(outType.getShape());
      outShape.back() = wType.getShape().back();
      auto fused = b.create<LinearOp>(
          att.getLoc(), RankedTensorType::get(outShape, outType.getElementType()),
          proj[0].getInput(), w, bias);
      att.getInputsMutable().assign(ValueRange{fused});
      eraseMerged(proj);
    }
  }
};
} // namespace
