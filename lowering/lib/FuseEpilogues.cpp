//===- FuseEpilogues.cpp - activations and residual adds into linears ------===//
#include "xfmr/Lowering/Passes.h"

#include "mlir/IR/Dominance.h"

namespace mlir::xfmr {
#define GEN_PASS_DEF_XFMRFUSEEPILOGUESPASS
#include "xfmr/Lowering/Passes.h.inc"
} // namespace mlir::xfmr

using namespace mlir;
using namespace mlir::xfmr;

namespace {
/// A linear whose only use is `user`, and which has no epilogue part that
/// must come after what is fused next (activation before residual).
LinearOp soleProducer(Value v, bool forActivation) {
  auto l = v.getDefiningOp<LinearOp>();
  if (!l || !l->hasOneUse() || l.getSchedule() || l.getResidual() ||
      (forActivation && (l.getActivation() || l.getMultiplier())))
    return {};
  return l;
}

struct FuseEpilogues : mlir::xfmr::impl::XfmrFuseEpiloguesPassBase<FuseEpilogues> {
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<GeluOp, SiluOp, AddOp, GLUOp>(op) && !op->getAttr("schedule"))
        ops.push_back(op);
    });
    DominanceInfo dominance(getOperation());
    // In program order, so gelu(linear) + r fuses the activation first.
    for (Operation *op : ops) {
      if (isa<GeluOp, SiluOp>(op)) {
        LinearOp l = soleProducer(op->getOperand(0), /*forActivation=*/true);
        if (!l)
          continue;
        l.setActivation(isa<GeluOp>(op) ? GatedActivation::gelu
                                        : GatedActivation::silu);
        op->getResult(0).replaceAllUsesWith(l.getResult());
        op->erase();
        continue;
      }
      if (auto glu = dyn_cast<GLUOp>(op)) {
        // act(gate) * up: the gate's linear computes both, placed where the
        // glu was so that `up` exists before it.
        LinearOp l = soleProducer(glu.getGate(), /*forActivation=*/true);
        if (!l || glu.getUp() == glu.getGate())
          continue;
        l->moveBefore(glu);
        l.setActivation(glu.getActivation());
        l.getMultiplierMutable().assign(glu.getUp());
        glu.getResult().replaceAllUsesWith(l.getResult());
        glu.erase();
        continue;
      }
      auto add = cast<AddOp>(op);
      for (unsigned i = 0; i < 2; ++i) {
        LinearOp l = soleProducer(add->getOperand(i), /*forActivation=*/false);
        Value other = add->getOperand(1 - i);
        // The residual must exist before the linear runs.
        if (!l || !dominance.properlyDominates(other, l))
          continue;
        l.getResidualMutable().assign(other);
        add.getResult().replaceAllUsesWith(l.getResult());
        add.erase();
        break;
      }
    }
  }
};
} // namespace
