//===- XfmrOps.cpp - op verifiers ------------------------------------------===//
//
// Every verifier checks the facts lowering relies on: ranks, the hidden
// dimensions that must agree between operands, and element types.
//
//===----------------------------------------------------------------------===//
#include "xfmr/IR/XfmrDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

#include <cmath>

using namespace mlir;
using namespace mlir::xfmr;

#define GET_OP_CLASSES
#include "xfmr/IR/XfmrOps.cpp.inc"

namespace {
int64_t dim(Value v, unsigned i) {
  return cast<RankedTensorType>(v.getType()).getDimSize(i);
}
Type elem(Value v) { return cast<ShapedType>(v.getType()).getElementType(); }

/// An activation's feature dimension must be static: kernels are generated
/// per shape. Only the token dimension (0) may be dynamic.
LogicalResult checkActivation(Operation *op, Value v, StringRef what) {
  if (ShapedType::isDynamic(dim(v, 1)))
    return op->emitOpError() << what << " must have a static feature dimension";
  return success();
}

LogicalResult checkSameRows(Operation *op, Value a, Value b) {
  int64_t ra = dim(a, 0), rb = dim(b, 0);
  if (!ShapedType::isDynamic(ra) && !ShapedType::isDynamic(rb) && ra != rb)
    return op->emitOpError() << "token dimensions differ: " << ra << " vs "
                             << rb;
  return success();
}
} // namespace

LogicalResult xfmr::verifyWeightType(Operation *op, Type type,
                                     unsigned reductionDim) {
  auto t = cast<RankedTensorType>(type);
  Type elem = t.getElementType();
  auto quant = dyn_cast_or_null<QuantAttr>(t.getEncoding());
  if (t.getEncoding() && !quant)
    return op->emitOpError() << "weight encoding " << t.getEncoding()
                             << " is not an #xfmr.quant";
  if (!quant) {
    if (!elem.isF32() && !elem.isBF16() && !elem.isF16())
      return op->emitOpError() << "weight element type " << elem
                               << " needs an #xfmr.quant encoding";
    return success();
  }
  if (!elem.isSignlessInteger(quant.getBits()))
    return op->emitOpError() << "a " << quant.getBits()
                             << "-bit quantized weight must store i"
                             << quant.getBits() << ", got " << elem;
  if (t.getRank() != 2)
    return op->emitOpError("quantized weights must be 2-D");
  int64_t red = t.getDimSize(reductionDim);
  if (quant.getGroup() > 0 && red % quant.getGroup() != 0)
    return op->emitOpError() << "quant group " << quant.getGroup()
                             << " does not divide the reduction dimension "
                             << red;
  if (quant.getSuperBlock() > 0 && red % quant.getSuperBlock() != 0)
    return op->emitOpError() << "quant super-block " << quant.getSuperBlock()
                             << " does not divide the reduction dimension " << red;
  return success();
}

LogicalResult WeightOp::verify() {
  auto type = cast<RankedTensorType>(getType());
  if (!type.hasStaticShape())
    return emitOpError("weight tensors must have a static shape");
  if (getName().empty())
    return emitOpError("weight name must not be empty");
  if (getColumnOffsetAttr() && getColumnOffsetAttr().getInt() < 0)
    return emitOpError("column offset must be non-negative");
  if (getTransposed() && type.getRank() != 2)
    return emitOpError("only 2-D weights can be transposed");
  if (type.getEncoding() && !isa_and_nonnull<QuantAttr>(type.getEncoding()))
    return emitOpError() << "weight encoding " << type.getEncoding()
                         << " is not an #xfmr.quant";
  if (type.getEncoding() && type.getRank() != 2)
    return emitOpError("quantized weights must be 2-D");
  return success();
}

LogicalResult EmbeddingOp::verify() {
  int64_t d = dim(getTable(), 1);
  if (failed(checkActivation(*this, getResult(), "result")))
    return failure();
  if (dim(getResult(), 1) != d)
    return emitOpError() << "result width " << dim(getResult(), 1)
                         << " differs from the embedding width " << d;
  if (getPositions() && dim(getPositions(), 1) != d)
    return emitOpError() << "positional embedding width "
                         << dim(getPositions(), 1)
                         << " differs from the token embedding width " << d;
  if (failed(verifyWeightType(*this, getTable().getType(), /*reductionDim=*/1)))
    return failure();
  if (!isa_and_nonnull<QuantAttr>(
          cast<RankedTensorType>(getTable().getType()).getEncoding()) &&
      !elem(getTable()).isBF16() && elem(getResult()) != elem(getTable()))
    return emitOpError("result element type differs from the table's");
  int64_t n = dim(getTokens(), 0), r = dim(getResult(), 0);
  if (!ShapedType::isDynamic(n) && !ShapedType::isDynamic(r) && n != r)
    return emitOpError() << "result has " << r << " rows for " << n
                         << " tokens";
  return success();
}

template <typename NormOp>
static LogicalResult verifyNorm(NormOp op, ArrayRef<Value> params) {
  if (failed(checkActivation(op, op.getInput(), "input")))
    return failure();
  if (op.getInput().getType() != op.getResult().getType())
    return op.emitOpError("result type must equal the input type");
  int64_t d = dim(op.getInput(), 1);
  for (Value p : params)
    if (cast<RankedTensorType>(p.getType()).getDimSize(0) != d)
      return op.emitOpError() << "parameter of size "
                              << cast<RankedTensorType>(p.getType()).getDimSize(0)
                              << " does not match the feature dimension " << d;
  if (op.getEpsilon().convertToDouble() <= 0.0)
    return op.emitOpError("epsilon must be positive");
  return success();
}

LogicalResult LayerNormOp::verify() {
  return verifyNorm(*this, {getGamma(), getBeta()});
}

LogicalResult RMSNormOp::verify() { return verifyNorm(*this, {getGamma()}); }

LogicalResult LinearOp::verify() {
  if (failed(checkActivation(*this, getInput(), "input")) ||
      failed(checkActivation(*this, getResult(), "result")) ||
      failed(checkSameRows(*this, getInput(), getResult())))
    return failure();
  int64_t k = dim(getInput(), 1), n = dim(getResult(), 1);
  // Gated: gate and up side by side, two weight columns per result column.
  int64_t wn = getGated() ? 2 * n : n;
  if (getGated() && !getActivation())
    return emitOpError("gated needs an activation (applied to the gate half)");
  if (dim(getWeight(), 0) != k)
    return emitOpError() << "weight has " << dim(getWeight(), 0)
                         << " rows but the input has " << k << " features";
  if (dim(getWeight(), 1) != wn)
    return emitOpError() << "weight has " << dim(getWeight(), 1)
                         << " columns but the result has " << n << " features"
                         << (getGated() ? " (gated: needs twice as many columns)" : "");
  if (getBias() && dim(getBias(), 0) != wn)
    return emitOpError() << "bias of size " << dim(getBias(), 0)
                         << " does not match the " << wn << " weight columns";
  if (getNormBeta() && !getNormGamma())
    return emitOpError("norm_bias needs norm");
  if (getNormGamma()) {
    if (!getNormEpsilon())
      return emitOpError("a fused norm needs norm_epsilon");
    for (Value v : {getNormGamma(), getNormBeta()})
      if (v && dim(v, 0) != k)
        return emitOpError() << "norm parameters of size " << dim(v, 0)
                             << " do not match the " << k << " input features";
  } else if (getNormEpsilon()) {
    return emitOpError("norm_epsilon without a fused norm");
  }
  if (getResidual() && getResidual().getType() != getResult().getType())
    return emitOpError("residual type must equal the result type");
  if (getMultiplier() && getMultiplier().getType() != getResult().getType())
    return emitOpError("times operand type must equal the result type");
  return verifyWeightType(*this, getWeight().getType(), /*reductionDim=*/0);
}

LogicalResult LMHeadOp::verify() {
  if (failed(checkActivation(*this, getInput(), "input")) ||
      failed(checkActivation(*this, getResult(), "result")) ||
      failed(checkSameRows(*this, getInput(), getResult())))
    return failure();
  if (dim(getWeight(), 1) != dim(getInput(), 1))
    return emitOpError() << "weight rows have " << dim(getWeight(), 1)
                         << " features but the input has "
                         << dim(getInput(), 1);
  if (dim(getWeight(), 0) != dim(getResult(), 1))
    return emitOpError() << "weight has " << dim(getWeight(), 0)
                         << " vocabulary rows but the result has "
                         << dim(getResult(), 1) << " logits";
  return verifyWeightType(*this, getWeight().getType(), /*reductionDim=*/1);
}

LogicalResult ConcatOp::verify() {
  if (getParts().size() < 2)
    return emitOpError() << "needs at least two parts, got " << getParts().size();
  auto result = cast<RankedTensorType>(getType());
  int64_t width = 0;
  for (Value p : getParts()) {
    auto t = cast<RankedTensorType>(p.getType());
    if (!p.getDefiningOp<WeightOp>())
      return emitOpError("parts must be xfmr.weight views");
    if (t.getRank() != result.getRank() || (t.getRank() != 1 && t.getRank() != 2))
      return emitOpError() << "parts and result must all be 1-D or all 2-D, got " << t;
    if (t.getElementType() != result.getElementType() ||
        t.getEncoding() != result.getEncoding())
      return emitOpError() << "part " << t << " does not have the result's element type "
                              "and encoding";
    if (t.getRank() == 2 && t.getDimSize(0) != result.getDimSize(0))
      return emitOpError() << "part " << t << " has " << t.getDimSize(0)
                           << " rows, the result " << result.getDimSize(0);
    width += t.getShape().back();
  }
  if (width != result.getShape().back())
    return emitOpError() << "parts are " << width << " wide together, the result "
                         << result.getShape().back();
  return success();
}

LogicalResult RotaryOp::verify() {
  if (failed(checkActivation(*this, getInput(), "input")))
    return failure();
  int64_t hd = getHeadDim();
  if (hd <= 0 || hd % 2 != 0)
    return emitOpError() << "head_dim must be positive and even, got " << hd;
  if (dim(getInput(), 1) % hd != 0)
    return emitOpError() << "feature dimension " << dim(getInput(), 1)
                         << " is not a multiple of head_dim " << hd;
  if (getTheta().convertToDouble() <= 0.0)
    return emitOpError("theta must be positive");
  return success();
}

namespace {
/// xfmr.attention and xfmr.attention_partial read the same operands: q, k,
/// v (or one packed [q | k | v]), the cache, the layer, heads and scale.
template <typename AttnOp>
double scaleOrDefault(AttnOp op) {
  if (auto s = op.getScale())
    return s->convertToDouble();
  return 1.0 / std::sqrt(double(op.getCache().getType().getHeadDim()));
}

template <typename AttnOp>
SmallVector<double> ropeOf(AttnOp op) {
  if (!op.getRopeTheta())
    return {};
  return ropeInverseFrequencies(op.getCache().getType().getHeadDim(),
                                op.getRopeTheta()->convertToDouble(), op.getRopeScalingAttr());
}

template <typename AttnOp>
LogicalResult verifyAttentionInputs(AttnOp op) {
  KVCacheType cache = op.getCache().getType();
  int64_t heads = op.getNumHeads(), hd = cache.getHeadDim();
  int64_t kvh = cache.getKvHeads();
  ValueRange in = op.getInputs();
  if (in.size() != 1 && in.size() != 3)
    return op.emitOpError() << "takes q, k, v or one packed [q | k | v], got "
                            << in.size() << " inputs";
  for (Value v : in)
    if (failed(checkActivation(op, v, "operand")))
      return failure();
  if (failed(checkActivation(op, op.getResult(), "result")))
    return failure();
  if (heads <= 0 || heads % kvh != 0)
    return op.emitOpError() << "num_heads (" << heads
                            << ") must be a positive multiple of the cache's "
                            << kvh << " kv heads";
  if (op.getLayer() < 0 || op.getLayer() >= cache.getLayers())
    return op.emitOpError() << "layer " << op.getLayer()
                            << " is outside the cache's " << cache.getLayers()
                            << " layers";
  if (auto s = op.getScale(); s && s->convertToDouble() <= 0.0)
    return op.emitOpError("scale must be positive");
  if (auto t = op.getRopeTheta(); t && t->convertToDouble() <= 0.0)
    return op.emitOpError("rope_theta must be positive");
  if (op.getRopeScalingAttr() && !op.getRopeTheta())
    return op.emitOpError("rope_scaling needs rope_theta");
  if (op.getRopeTheta() && hd % 2 != 0)
    return op.emitOpError() << "rotary embeddings need an even head_dim, got " << hd;
  if (in.size() == 1) {
    if (dim(in[0], 1) != (heads + 2 * kvh) * hd)
      return op.emitOpError() << "packed input width " << dim(in[0], 1)
                              << " is not (" << heads << " + 2 x " << kvh
                              << ") heads x " << hd;
    if (elem(in[0]) != elem(op.getResult()))
      return op.emitOpError("result must have the input's element type");
    return checkSameRows(op, in[0], op.getResult());
  }
  Value q = in[0], k = in[1], v = in[2];
  if (dim(q, 1) != heads * hd)
    return op.emitOpError() << "query width " << dim(q, 1) << " is not "
                            << heads << " heads x " << hd;
  for (Value kv : {k, v})
    if (dim(kv, 1) != kvh * hd)
      return op.emitOpError() << "key/value width " << dim(kv, 1) << " is not "
                              << kvh << " kv heads x " << hd;
  if (elem(k) != elem(q) || elem(v) != elem(q))
    return op.emitOpError("keys and values must have the query's element type");
  return failure(failed(checkSameRows(op, q, k)) ||
                 failed(checkSameRows(op, q, v)) ||
                 failed(checkSameRows(op, q, op.getResult())));
}
} // namespace

double AttentionOp::getScaleOrDefault() { return scaleOrDefault(*this); }
SmallVector<double> AttentionOp::getRopeInverseFrequencies() { return ropeOf(*this); }

LogicalResult AttentionOp::verify() {
  if (failed(verifyAttentionInputs(*this)))
    return failure();
  int64_t hd = getCache().getType().getHeadDim();
  if (isPacked()) {
    if (dim(getResult(), 1) != getNumHeads() * hd)
      return emitOpError() << "result width " << dim(getResult(), 1)
                           << " is not " << getNumHeads() << " heads x " << hd;
    return success();
  }
  if (getResult().getType() != getQ().getType())
    return emitOpError("result type must equal the query type");
  return success();
}

double AttentionPartialOp::getScaleOrDefault() { return scaleOrDefault(*this); }
SmallVector<double> AttentionPartialOp::getRopeInverseFrequencies() { return ropeOf(*this); }

LogicalResult AttentionPartialOp::verify() {
  if (getSplits() < 2)
    return emitOpError() << "splits must be at least 2, got " << getSplits();
  if (failed(verifyAttentionInputs(*this)))
    return failure();
  int64_t hd = getCache().getType().getHeadDim(), heads = getNumHeads();
  if (dim(getResult(), 1) != heads * getSplits() * (hd + 2))
    return emitOpError() << "result width " << dim(getResult(), 1) << " is not "
                         << heads << " heads x " << getSplits()
                         << " splits x (head_dim " << hd << " + 2)";
  return success();
}

LogicalResult AttentionCombineOp::verify() {
  if (getSplits() < 2)
    return emitOpError() << "splits must be at least 2, got " << getSplits();
  if (failed(checkActivation(*this, getPartial(), "partial")) ||
      failed(checkSameRows(*this, getPartial(), getResult())))
    return failure();
  int64_t h = getNumHeads(), hd = getHeadDim(), s = getSplits();
  if (dim(getPartial(), 1) != h * s * (hd + 2))
    return emitOpError() << "partial width " << dim(getPartial(), 1) << " is not "
                         << h << " heads x " << s << " splits x (head_dim " << hd
                         << " + 2)";
  if (dim(getResult(), 1) != h * hd)
    return emitOpError() << "result width " << dim(getResult(), 1) << " is not "
                         << h << " heads x " << hd;
  return success();
}

LogicalResult DispatchOp::verifySymbolUses(SymbolTableCollection &symbols) {
  Operation *callee =
      symbols.lookupNearestSymbolFrom(*this, getKernelAttr());
  if (!callee)
    return emitOpError() << "kernel " << getKernelAttr() << " not found";
  return success();
}
