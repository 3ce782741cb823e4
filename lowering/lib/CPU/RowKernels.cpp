//===- RowKernels.cpp - row-parallel kernels: norms, embedding, element-wise ===//
//
// These kernels are memory-light and split over rows (tokens): work unit r
// is row r. Each row is processed `vector_width` lanes at a time; the
// schedule pass picks a width that divides the row.
//
//===----------------------------------------------------------------------===//
#include "WeightDecoders.h"

#include <cmath>

using namespace mlir;
using namespace mlir::xfmr;
using namespace mlir::xfmr::cpu;

namespace {
int64_t featureDim(Value v) {
  return cast<ShapedType>(v.getType()).getDimSize(1);
}

LogicalResult checkWidth(Operation *op, int64_t d, int64_t vw) {
  if (d % vw != 0)
    return op->emitOpError() << "schedule vector_width " << vw
                             << " does not divide the row length " << d;
  return success();
}

/// Mean and biased variance's reciprocal square root of row `r` of `x`
/// (`centered`: layer norm; otherwise the RMS of RMS norm).
std::pair<Value, Value> rowStats(KB &k, VectorType vt, Value x, Value r,
                                 int64_t d, double eps, bool centered) {
  Value c0 = k.idx(0), cvw = k.idx(vt.getNumElements());
  Value dInv = k.f32(1.0 / double(d));
  Value mean = k.f32(0.0);
  if (centered) {
    Value s = k.forLoop(c0, k.idx(d), cvw, {k.splat(vt, 0.0)},
                        [&](Value c, ValueRange acc) {
                          return SmallVector<Value>{
                              k.add(acc[0], k.vload(vt, x, {r, c}))};
                        })[0];
    mean = k.mul(k.sum(s), dInv);
  }
  Value meanV = k.bcast(vt, mean);
  Value sq = k.forLoop(c0, k.idx(d), cvw, {k.splat(vt, 0.0)},
                       [&](Value c, ValueRange acc) {
                         Value dv = k.sub(k.vload(vt, x, {r, c}), meanV);
                         return SmallVector<Value>{k.fma(dv, dv, acc[0])};
                       })[0];
  Value var = k.mul(k.sum(sq), dInv);
  Value rstd = k.div(k.f32(1.0), k.b.create<math::SqrtOp>(k.add(var, k.f32(eps))));
  return {meanV, k.bcast(vt, rstd)};
}
} // namespace

void cpu::normalizeRow(KB &k, VectorType vt, Value x, Value row, int64_t d,
                       double eps, Value gamma, Value beta, Value out,
                       Value outRow) {
  std::pair<Value, Value> stats = rowStats(k, vt, x, row, d, eps, bool(beta));
  Value mean = stats.first, rstd = stats.second;
  int64_t vw = vt.getNumElements();
  k.forLoop(k.idx(0), k.idx(d), k.idx(vw), [&](Value c) {
    Value xv = k.vload(vt, x, {row, c});
    Value xn = k.mul(beta ? k.sub(xv, mean) : xv, rstd);
    Value gv = k.vload(vt, gamma, {c});
    k.vstore(beta ? k.fma(xn, gv, k.vload(vt, beta, {c})) : k.mul(xn, gv), out,
             {outRow, c});
  });
}

namespace {
/// y = (x - mean) * rstd * gamma [+ beta]; RMS norm has no mean and no beta.
LogicalResult buildNorm(ImplicitLocOpBuilder &b, Operation *op, KernelArgs &a,
                        double eps, bool centered) {
  KB k(b);
  int64_t d = featureDim(op->getOperand(0)), vw = scheduleOf(op).getVectorWidth();
  if (failed(checkWidth(op, d, vw)))
    return failure();
  auto vt = VectorType::get({vw}, b.getF32Type());
  Value beta = centered ? a.inputs[2] : Value();
  k.forLoop(a.begin, a.end, k.idx(1), [&](Value r) {
    normalizeRow(k, vt, a.inputs[0], r, d, eps, a.inputs[1], beta, a.out, r);
  });
  return success();
}
} // namespace

LogicalResult cpu::buildLayerNorm(ImplicitLocOpBuilder &b, LayerNormOp op,
                                  KernelArgs &a) {
  return buildNorm(b, op, a, op.getEpsilon().convertToDouble(), /*centered=*/true);
}

LogicalResult cpu::buildRMSNorm(ImplicitLocOpBuilder &b, RMSNormOp op,
                                KernelArgs &a) {
  return buildNorm(b, op, a, op.getEpsilon().convertToDouble(), /*centered=*/false);
}

LogicalResult cpu::buildEmbedding(ImplicitLocOpBuilder &b, EmbeddingOp op,
                                  KernelArgs &a) {
  KB k(b);
  int64_t d = featureDim(op.getTable()), vw = scheduleOf(op).getVectorWidth();
  if (failed(checkWidth(op, d, vw)))
    return failure();
  WeightLayout l = layoutOf(op, 1);
  Value tokens = a.inputs[0], table = a.inputs[1];
  std::unique_ptr<RowDecoder> dec = rowDecoder(k, l, table, d, vw);
  const int64_t G = dec->group(), span = dec->span();
  if (std::string why = dec->unsupportedWidth(); !why.empty())
    return op.emitOpError() << why;
  if (span % vw != 0)
    return op.emitOpError() << "schedule vector_width " << vw
                            << " does not divide half the quant group " << G;
  auto vt = VectorType::get({vw}, b.getF32Type());
  Value positions = op.getPositions() ? a.inputs[2] : Value();
  // Each row decoded group by group: w = (c - o) s (+ m).
  k.forLoop(a.begin, a.end, k.idx(1), [&](Value r) {
    Value tok = b.create<arith::IndexCastOp>(b.getIndexType(),
                                             k.load(tokens, {r}));
    Value p = k.add(a.pos, r);
    auto emit = [&](Value c, Value v) {
      if (positions)
        v = k.add(v, k.vload(vt, positions, {p, c}));
      k.vstore(v, a.out, {r, c});
    };
    Value row = dec->rowKey(tok);
    auto group = [&](Value g, Value d0) {
      Value sc = dec->scaled() ? k.bcast(vt, dec->scale(row, g)) : Value();
      Value mn = dec->hasMin() ? k.bcast(vt, dec->min(row, g)) : Value();
      k.forLoop(k.idx(0), k.idx(span), k.idx(vw), [&](Value j) {
        SmallVector<Value> v = dec->widen(row, g, j);
        for (int64_t q = 0; q < int64_t(v.size()); ++q) {
          Value y = mn ? k.fma(v[q], sc, mn) : sc ? k.mul(v[q], sc) : v[q];
          Value c = d0 ? k.add(d0, j) : j;
          emit(q ? k.add(c, k.idx(q * span)) : c, y);
        }
      });
    };
    if (dec->groups() == 1) {
      group(k.idx(0), Value());
      return;
    }
    k.forLoop(k.idx(0), k.idx(dec->groups()), k.idx(1),
              [&](Value g) { group(g, k.mul(g, k.idx(G))); });
  });
  return success();
}

Value cpu::applyActivation(KB &k, VectorType vt, GatedActivation act, Value x) {
  if (act == GatedActivation::silu) {
    // x * sigmoid(x) = x / (1 + exp(-x))
    Value e = k.b.create<math::ExpOp>(k.b.create<arith::NegFOp>(x));
    return k.div(x, k.add(k.splat(vt, 1.0), e));
  }
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  Value x3 = k.mul(k.mul(x, x), x);
  Value inner = k.mul(k.splat(vt, 0.7978845608028654),
                      k.fma(k.splat(vt, 0.044715), x3, x));
  Value t = k.b.create<math::TanhOp>(inner);
  return k.mul(k.mul(k.splat(vt, 0.5), x), k.add(k.splat(vt, 1.0), t));
}

namespace {
/// act(x) for the element-wise ops, on one vector.
Value activation(KB &k, VectorType vt, Operation *op, Value x) {
  if (isa<GeluOp>(op))
    return applyActivation(k, vt, GatedActivation::gelu, x);
  if (isa<SiluOp>(op))
    return applyActivation(k, vt, GatedActivation::silu, x);
  return applyActivation(k, vt, cast<GLUOp>(op).getActivation(), x);
}
} // namespace

LogicalResult cpu::buildElementwise(ImplicitLocOpBuilder &b, Operation *op,
                                    KernelArgs &a) {
  KB k(b);
  int64_t d = featureDim(op->getResult(0));
  int64_t vw = scheduleOf(op).getVectorWidth();
  if (failed(checkWidth(op, d, vw)))
    return failure();
  auto vt = VectorType::get({vw}, b.getF32Type());
  k.forLoop(a.begin, a.end, k.idx(1), [&](Value r) {
    k.forLoop(k.idx(0), k.idx(d), k.idx(vw), [&](Value c) {
      Value x = k.vload(vt, a.inputs[0], {r, c});
      Value y;
      if (isa<AddOp>(op))
        y = k.add(x, k.vload(vt, a.inputs[1], {r, c}));
      else if (isa<GLUOp>(op))
        y = k.mul(activation(k, vt, op, x), k.vload(vt, a.inputs[1], {r, c}));
      else
        y = activation(k, vt, op, x);
      k.vstore(y, a.out, {r, c});
    });
  });
  return success();
}

LogicalResult cpu::buildRotary(ImplicitLocOpBuilder &b, RotaryOp op,
                               KernelArgs &a) {
  // Scalar: RoPE is a small share of a Llama step (a few thousand values
  // per row against millions of weights). The frequencies are constants
  // (the config's scaling applied at compile time) and each angle is taken
  // in f64, so the rotation follows the reference at any position.
  KB k(b);
  int64_t d = featureDim(op.getInput()), hd = op.getHeadDim(), half = hd / 2;
  SmallVector<double> invFreq = op.getInverseFrequencies();
  Value x = a.inputs[0];
  Type f32 = b.getF32Type(), f64 = b.getF64Type();
  k.forLoop(a.begin, a.end, k.idx(1), [&](Value r) {
    Value p = b.create<arith::UIToFPOp>(
        f64, b.create<arith::IndexCastOp>(b.getI64Type(), k.add(a.pos, r)));
    for (int64_t i = 0; i < half; ++i) {
      Value ang = b.create<arith::MulFOp>(
          p, b.create<arith::ConstantOp>(b.getF64FloatAttr(invFreq[size_t(i)])));
      Value cs = b.create<arith::TruncFOp>(f32, b.create<math::CosOp>(ang));
      Value sn = b.create<arith::TruncFOp>(f32, b.create<math::SinOp>(ang));
      k.forLoop(k.idx(0), k.idx(d), k.idx(hd), [&](Value h0) {
        Value i1 = k.add(h0, k.idx(i)), i2 = k.add(h0, k.idx(i + half));
        Value x1 = k.load(x, {r, i1}), x2 = k.load(x, {r, i2});
        k.store(k.sub(k.mul(x1, cs), k.mul(x2, sn)), a.out, {r, i1});
        k.store(k.add(k.mul(x2, cs), k.mul(x1, sn)), a.out, {r, i2});
      });
    }
  });
  return success();
}
