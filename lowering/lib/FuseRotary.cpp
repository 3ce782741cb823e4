//===- FuseRotary.cpp - rotary embeddings inside attention -----------------===//
#include "xfmr/Lowering/Passes.h"

namespace mlir::xfmr {
#define GEN_PASS_DEF_XFMRFUSEROTARYPASS
#include "xfmr/Lowering/Passes.h.inc"
} // namespace mlir::xfmr

using namespace mlir;
using namespace mlir::xfmr;

namespace {
/// The rotary op producing `v` for `att` alone, when the attention can do
/// its work: same position, the cache's head_dim, no schedule of its own.
RotaryOp foldableRotary(Value v, AttentionOp att) {
  auto r = v.getDefiningOp<RotaryOp>();
  if (!r || !r->hasOneUse() || r.getPos() != att.getPos() || r.getSchedule() ||
      r.getHeadDim() != att.getCache().getType().getHeadDim())
    return {};
  return r;
}

struct FuseRotary : mlir::xfmr::impl::XfmrFuseRotaryPassBase<FuseRotary> {
  void runOnOperation() override {
    getOperation().walk([&](AttentionOp att) {
      if (att.isPacked() || att.getRopeTheta())
        return;
      RotaryOp q = foldableRotary(att.getInputs()[0], att);
      RotaryOp k = foldableRotary(att.getInputs()[1], att);
      if (!q || !k || q.getTheta() != k.getTheta() || q.getScalingAttr() != k.getScalingAttr())
        return;
      att.setRopeThetaAttr(q.getThetaAttr());
      if (q.getScalingAttr())
        att.setRopeScalingAttr(q.getScalingAttr());
      att.getInputsMutable().assign(
          ValueRange{q.getInput(), k.getInput(), att.getInputs()[2]});
      q.erase();
      k.erase();
    });
  }
};
} // namespace
