//===- QuantizeWeights.cpp - bf16 / int8 / int4 weight types ---------------===//
#include "xfmr/Lowering/Passes.h"

#include <map>

namespace mlir::xfmr {
#define GEN_PASS_DEF_XFMRQUANTIZEWEIGHTSPASS
#include "xfmr/Lowering/Passes.h.inc"
} // namespace mlir::xfmr

using namespace mlir;
using namespace mlir::xfmr;

namespace {
/// A use of a weight as a matrix: its consumer's kind and reduction dim.
struct MatrixUse {
  OpOperand *operand;
  StringRef consumer;
  unsigned reductionDim;
};

std::optional<MatrixUse> asMatrixUse(OpOperand &use) {
  Operation *op = use.getOwner();
  if (isa<LinearOp>(op) && use.getOperandNumber() == 1)
    return MatrixUse{&use, "linear", 0};
  if (isa<LMHeadOp>(op) && use.getOperandNumber() == 1)
    return MatrixUse{&use, "lm_head", 1};
  if (isa<EmbeddingOp>(op) && use.getOperandNumber() == 1)
    return MatrixUse{&use, "embedding", 1};
  return std::nullopt;
}

struct QuantizeWeights
    : mlir::xfmr::impl::XfmrQuantizeWeightsPassBase<QuantizeWeights> {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    if (precision != "bf16" && precision != "int8" && precision != "int4") {
      getOperation().emitError() << "precision must be bf16, int8 or int4, got '"
                                 << precision << "'";
      return signalPassFailure();
    }
    if (scaleType != "f16" && scaleType != "f32") {
      getOperation().emitError() << "scale-type must be f16 or f32, got '"
                                 << scaleType << "'";
      return signalPassFailure();
    }
    Type scale = scaleType == "f16" ? Type(Float16Type::get(ctx))
                                    : Type(Float32Type::get(ctx));
    Attribute encoding;
    Type element;
    if (precision == "int8") {
      encoding = QuantAttr::getChecked(
          [&] { return getOperation().emitError(); }, ctx, int64_t(8),
          int64_t(groupSize), scale, bool(zeroPoint), int64_t(0));
      element = IntegerType::get(ctx, 8);
    } else if (precision == "int4") {
      encoding = QuantAttr::getChecked(
          [&] { return getOperation().emitError(); }, ctx, int64_t(4),
          int64_t(groupSize ? groupSize : 32), scale, bool(zeroPoint), int64_t(0));
      element = IntegerType::get(ctx, 4);
    } else {
      element = BFloat16Type::get(ctx);
    }
    if (precision != "bf16" && !encoding)
      return signalPassFailure();

    auto excluded = [&](const MatrixUse &u, WeightOp w) {
      for (const std::string &e : exclude)
        if (u.consumer == e || w.getName().contains(e))
          return true;
      return false;
    };

    SmallVector<WeightOp> weights;
    getOperation().walk([&](WeightOp w) { weights.push_back(w); });
    for (WeightOp w : weights) {
      auto type = cast<RankedTensorType>(w.getType());
      if (type.getRank() != 2 || !type.getElementType().isF32() ||
          type.getEncoding())
        continue;
      auto newType = RankedTensorType::get(type.getShape(), element, encoding);
      SmallVector<OpOperand *> retype;
      for (OpOperand &use : w->getUses()) {
        std::optional<MatrixUse> u = asMatrixUse(use);
        if (!u || excluded(*u, w))
          continue;
        if (auto q = dyn_cast_or_null<QuantAttr>(encoding);
            q && q.getGroup() > 0 &&
            type.getDimSize(u->reductionDim) % q.getGroup() != 0) {
          // An error, not a silent f32 fallback: the user asked for
          // int4 and would be told the model is int4.
          use.getOwner()->emitError()
              << "quant group " << q.getGroup() << " does not divide the reduction dimension "
              << type.getDimSize(u->reductionDim) << " of weight '" << w.getName()
              << "' (choose a --group-size that divides it, or --keep it f32)";
          return signalPassFailure();
        }
        retype.push_back(&use);
      }
      if (retype.empty())
        continue;
      OpBuilder b(w);
      auto q = cast<WeightOp>(b.clone(*w));
      q.getResult().setType(newType);
      for (OpOperand *use : retype)
        use->set(q.getResult());
      if (w->use_empty())
        w.erase();
    }
    getOperation()->setAttr("xfmr.precision", StringAttr::get(ctx, precision));
  }
};
} // namespace
