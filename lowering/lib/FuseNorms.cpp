//===- FuseNorms.cpp - norms into the prologue of the linears they feed ----===//
#include "xfmr/Lowering/Passes.h"

namespace mlir::xfmr {
#define GEN_PASS_DEF_XFMRFUSENORMSPASS
#include "xfmr/Lowering/Passes.h.inc"
} // namespace mlir::xfmr

using namespace mlir;
using namespace mlir::xfmr;

namespace {
struct FuseNorms : mlir::xfmr::impl::XfmrFuseNormsPassBase<FuseNorms> {
  void runOnOperation() override {
    SmallVector<Operation *> norms;
    getOperation().walk([&](Operation *op) {
      if (isa<LayerNormOp, RMSNormOp>(op) && !op->getAttr("schedule"))
        norms.push_back(op);
    });
    for (Operation *norm : norms) {
      // Every user must be a linear reading the norm as its input and not
      // already normalizing it.
      bool fusable = !norm->use_empty();
      for (OpOperand &use : norm->getResult(0).getUses()) {
        auto l = dyn_cast<LinearOp>(use.getOwner());
        fusable &= l && use.getOperandNumber() == 0 && !l.getNormGamma() &&
                   !l.getSchedule();
      }
      if (!fusable)
        continue;
      Value input = norm->getOperand(0), gamma = norm->getOperand(1);
      Value beta;
      FloatAttr eps;
      if (auto ln = dyn_cast<LayerNormOp>(norm)) {
        beta = ln.getBeta();
        eps = ln.getEpsilonAttr();
      } else {
        eps = cast<RMSNormOp>(norm).getEpsilonAttr();
      }
      for (Operation *user : llvm::make_early_inc_range(norm->getUsers())) {
        auto l = cast<LinearOp>(user);
        l.getInputMutable().assign(input);
        l.getNormGammaMutable().assign(gamma);
        if (beta)
          l.getNormBetaMutable().assign(beta);
        l.setNormEpsilonAttr(eps);
      }
      norm->erase();
    }
  }
};
} // namespace
