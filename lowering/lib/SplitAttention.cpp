//===- SplitAttention.cpp - flash-decoding: attention over position ranges ===//
#include "xfmr/Lowering/Passes.h"

namespace mlir::xfmr {
#define GEN_PASS_DEF_XFMRSPLITATTENTIONPASS
#include "xfmr/Lowering/Passes.h.inc"
} // namespace mlir::xfmr

using namespace mlir;
using namespace mlir::xfmr;

namespace {
struct SplitAttention
    : mlir::xfmr::impl::XfmrSplitAttentionPassBase<SplitAttention> {
  using Base::Base;
  void runOnOperation() override {
    if (splits < 2) {
      getOperation().emitError() << "xfmr-split-attention needs splits >= 2, got "
                                 << int64_t(splits);
      return signalPassFailure();
    }
    SmallVector<AttentionOp> attentions;
    getOperation().walk([&](AttentionOp a) { attentions.push_back(a); });
    for (AttentionOp att : attentions) {
      OpBuilder b(att);
      int64_t hd = att.getCache().getType().getHeadDim();
      int64_t heads = att.getNumHeads();
      auto result = cast<RankedTensorType>(att.getType());
      auto partialType = RankedTensorType::get(
          {result.getDimSize(0), heads * splits * (hd + 2)}, result.getElementType());
      auto partial = b.create<AttentionPartialOp>(
          att.getLoc(), partialType, att.getInputs(), att.getCache(), att.getPos(),
          att.getLayerAttr(), att.getNumHeadsAttr(), b.getI64IntegerAttr(splits),
          att.getScaleAttr(), att.getRopeThetaAttr(), att.getRopeScalingAttr(), ScheduleAttr());
      auto combine = b.create<AttentionCombineOp>(
          att.getLoc(), result, partial, att.getNumHeadsAttr(),
          b.getI64IntegerAttr(hd), b.getI64IntegerAttr(splits), ScheduleAttr());
      att.getResult().replaceAllUsesWith(combine.getResult());
      att.erase();
    }
  }
};
} // namespace
