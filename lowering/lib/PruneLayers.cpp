//===- PruneLayers.cpp - drop whole transformer blocks ---------------------===//
#include "xfmr/Lowering/Passes.h"

#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

#include <set>

namespace mlir::xfmr {
#define GEN_PASS_DEF_XFMRPRUNELAYERSPASS
#include "xfmr/Lowering/Passes.h.inc"
} // namespace mlir::xfmr

using namespace mlir;
using namespace mlir::xfmr;

namespace {
/// The residual value `v` derives from: follow first operands back through
/// norms, projections and rotary embeddings to an add or the embedding.
FailureOr<Value> residualSource(Value v) {
  for (int steps = 0; steps < 64; ++steps) {
    Operation *def = v.getDefiningOp();
    if (!def || def->getNumOperands() == 0)
      return failure();
    if (isa<AddOp, EmbeddingOp>(def))
      return v;
    v = def->getOperand(0);
  }
  return failure();
}

struct PruneLayers : mlir::xfmr::impl::XfmrPruneLayersPassBase<PruneLayers> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fwd = module.lookupSymbol<func::FuncOp>("forward");
    if (!fwd) {
      module.emitError("xfmr-prune-layers needs a @forward function");
      return signalPassFailure();
    }
    SmallVector<AttentionOp> attention;
    fwd.walk([&](AttentionOp a) { attention.push_back(a); });
    llvm::sort(attention, [](AttentionOp a, AttentionOp b) {
      return a.getLayer() < b.getLayer();
    });
    int64_t layers = int64_t(attention.size());
    std::set<int64_t> dropped(drop.begin(), drop.end());
    if (dropLast < 0 || dropLast > layers) {
      fwd.emitError() << "drop-last=" << dropLast << " but the model has "
                      << layers << " blocks";
      return signalPassFailure();
    }
    for (int64_t l = layers - dropLast; l < layers; ++l)
      dropped.insert(l);
    if (dropped.empty())
      return;
    for (int64_t l : dropped)
      if (l < 0 || l >= layers) {
        fwd.emitError() << "cannot drop block " << l << ": the model has "
                        << layers << " blocks";
        return signalPassFailure();
      }
    if (int64_t(dropped.size()) == layers) {
      fwd.emitError("dropping every block leaves no model");
      return signalPassFailure();
    }

    // Residual values: boundary[l] enters block l, boundary[layers] leaves
    // the last one.
    SmallVector<Value> boundary;
    for (AttentionOp a : attention) {
      FailureOr<Value> r = residualSource(a.getQ());
      if (failed(r)) {
        a.emitOpError("cannot find the residual stream entering this block");
        return signalPassFailure();
      }
      boundary.push_back(*r);
    }
    // The logits' producer (an LM head over the tied table, or an untied
    // head's linear) reads the residual stream through the final norm.
    FailureOr<Value> last = failure();
    if (auto ret = dyn_cast<func::ReturnOp>(fwd.getBody().back().getTerminator());
        ret && ret.getNumOperands() == 1 && ret.getOperand(0).getDefiningOp() &&
        ret.getOperand(0).getDefiningOp()->getNumOperands() > 0)
      last = residualSource(ret.getOperand(0).getDefiningOp()->getOperand(0));
    if (failed(last)) {
      fwd.emitError("cannot find the residual stream entering the LM head");
      return signalPassFailure();
    }
    boundary.push_back(*last);

    // Highest first, so consecutive drops chain: uses of a block's output
    // move to its input, which may be the output of the next dropped block.
    llvm::SmallPtrSet<Operation *, 16> removable;
    for (auto it = dropped.rbegin(); it != dropped.rend(); ++it) {
      boundary[*it + 1].replaceAllUsesWith(boundary[*it]);
      removable.insert(attention[*it]);
    }
    // The cache argument, read before the dropped attention ops (layer 0's
    // among them, perhaps) are erased below.
    auto cacheArg = llvm::cast<BlockArgument>(attention.front().getCache());
    // Erase what no longer feeds anything (the dropped attention ops write
    // the cache, so they are removed by name, not as dead code).
    Block &body = fwd.getBody().front();
    for (bool changed = true; changed;) {
      changed = false;
      for (Operation &op : llvm::make_early_inc_range(llvm::reverse(body))) {
        if (op.hasTrait<OpTrait::IsTerminator>() || !op.use_empty())
          continue;
        if (isOpTriviallyDead(&op) || removable.contains(&op)) {
          op.erase();
          changed = true;
        }
      }
    }

    // Renumber the remaining layers and shrink the cache.
    auto oldType = cast<KVCacheType>(cacheArg.getType());
    int64_t kept = layers - int64_t(dropped.size());
    auto newType = KVCacheType::get(&getContext(), kept, oldType.getKvHeads(),
                                    oldType.getContextLength(),
                                    oldType.getHeadDim(), oldType.getElementType());
    cacheArg.setType(newType);
    SmallVector<Type> inputs(fwd.getFunctionType().getInputs());
    inputs[cacheArg.getArgNumber()] = newType;
    fwd.setFunctionType(FunctionType::get(&getContext(), inputs,
                                          fwd.getFunctionType().getResults()));
    int64_t next = 0;
    Builder b(&getContext());
    for (int64_t l = 0; l < layers; ++l)
      if (!dropped.count(l))
        attention[l].setLayerAttr(b.getI64IntegerAttr(next++));

    if (auto model = module->getAttrOfType<DictionaryAttr>("xfmr.model")) {
      NamedAttrList attrs(model);
      attrs.set("n_layer", b.getI64IntegerAttr(kept));
      module->setAttr("xfmr.model", attrs.getDictionary(&getContext()));
    }
    module->setAttr("xfmr.dropped_layers",
                    b.getDenseI64ArrayAttr(SmallVector<int64_t>(dropped.begin(),
                                                                dropped.end())));
  }
};
} // namespace
