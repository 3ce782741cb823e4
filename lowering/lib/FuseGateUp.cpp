//===- FuseGateUp.cpp - a gated MLP's gate and up projections as one linear ===//
#include "MergeColumns.h"
#include "xfmr/Lowering/Passes.h"

namespace mlir::xfmr {
#define GEN_PASS_DEF_XFMRFUSEGATEUPPASS
#include "xfmr/Lowering/Passes.h.inc"
} // namespace mlir::xfmr

using namespace mlir;
using namespace mlir::xfmr;

namespace {
/// A projection used only by the glu, with no epilogue of its own (a fused
/// norm is allowed: both halves must then share it).
LinearOp plainProjection(Value v) {
  auto l = v.getDefiningOp<LinearOp>();
  if (!l || !l->hasOneUse() || l.getResidual() || l.getActivation() ||
      l.getMultiplier() || l.getGated() || l.getSchedule())
    return {};
  return l;
}

bool sameInput(LinearOp a, LinearOp b) {
  return a.getInput() == b.getInput() && a.getNormGamma() == b.getNormGamma() &&
         a.getNormBeta() == b.getNormBeta() &&
         a.getNormEpsilonAttr() == b.getNormEpsilonAttr();
}

struct FuseGateUp : mlir::xfmr::impl::XfmrFuseGateUpPassBase<FuseGateUp> {
  void runOnOperation() override {
    SmallVector<GLUOp> glus;
    getOperation().walk([&](GLUOp g) {
      if (!g.getSchedule())
        glus.push_back(g);
    });
    for (GLUOp glu : glus) {
      LinearOp gate = plainProjection(glu.getGate()), up = plainProjection(glu.getUp());
      if (!gate || !up || gate == up || !sameInput(gate, up) ||
          bool(gate.getBias()) != bool(up.getBias()))
        continue;
      SmallVector<Value> weights{gate.getWeight(), up.getWeight()}, biases;
      if (gate.getBias())
        biases = {gate.getBias(), up.getBias()};
      if (!mergedColumnsType(weights) || (!biases.empty() && !mergedColumnsType(biases)))
        continue;
      // At the earlier projection: the input (read by both) dominates it.
      Operation *first = gate->isBeforeInBlock(up) ? gate : up;
      Value w = mergeColumns(weights, first);
      Value bias = biases.empty() ? Value() : mergeColumns(biases, first);
      OpBuilder b(first);
      auto fused = b.create<LinearOp>(glu.getLoc(), glu.getType(), gate.getInput(), w, bias);
      fused.getNormGammaMutable().assign(gate.getNormGamma() ? ValueRange{gate.getNormGamma()}
                                                             : ValueRange{});
      fused.getNormBetaMutable().assign(gate.getNormBeta() ? ValueRange{gate.getNormBeta()}
                                                           : ValueRange{});
      fused.setNormEpsilonAttr(gate.getNormEpsilonAttr());
      fused.setActivation(glu.getActivation());
      fused.setGated(true);
      glu.getResult().replaceAllUsesWith(fused.getResult());
      glu.erase();
      eraseMerged({gate, up});
    }
  }
};
} // namespace
