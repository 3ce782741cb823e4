//===- ActivationQuant.cpp - activations to int8 for VNNI kernels -----------===//
#include "KernelBuilder.h"

using namespace mlir;
using namespace mlir::xfmr;

void cpu::quantizeActivationRow(KB &k, Value x, Value row, int64_t length,
                                Value codes, Value codeBase, Value scales,
                                Value sums, ValueRange prefix) {
  ImplicitLocOpBuilder &b = k.b;
  auto vt = VectorType::get({16}, b.getF32Type());
  auto i8v = VectorType::get({16}, b.getI8Type());
  k.forLoop(k.idx(0), k.idx(length / 32), k.idx(1), [&](Value blk) {
    Value k0 = k.mul(blk, k.idx(32));
    Value v0 = k.vload(vt, x, {row, k0});
    Value v1 = k.vload(vt, x, {row, k.add(k0, k.idx(16))});
    Value amax = b.create<arith::MaximumFOp>(b.create<math::AbsFOp>(v0),
                                             b.create<math::AbsFOp>(v1));
    Value m = b.create<vector::ReductionOp>(vector::CombiningKind::MAXIMUMF, amax);
    Value pos = b.create<arith::CmpFOp>(arith::CmpFPredicate::OGT, m, k.f32(0.0));
    Value inv = b.create<arith::SelectOp>(pos, k.div(k.f32(127.0), m), k.f32(0.0));
    Value invV = k.bcast(vt, inv);
    Value q0 = b.create<math::RoundEvenOp>(k.mul(v0, invV));
    Value q1 = b.create<math::RoundEvenOp>(k.mul(v1, invV));
    SmallVector<Value> at(prefix.begin(), prefix.end());
    at.push_back(blk);
    k.store(k.div(m, k.f32(127.0)), scales, at);
    k.store(k.sum(k.add(q0, q1)), sums, at);
    Value c = k.add(codeBase, k0);
    k.vstore(b.create<arith::FPToSIOp>(i8v, q0), codes, {c});
    k.vstore(b.create<arith::FPToSIOp>(i8v, q1), codes, {k.add(c, k.idx(16))});
  });
}
