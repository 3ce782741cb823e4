//===- LinearKernels.cpp - xfmr.linear and xfmr.lm_head on the CPU ---------===//
//
// xfmr.linear: y[M,N] = x[M,K] W[K,N] + b. A work unit is one block of
// `tile_n` output columns; each thread streams the weight columns of its
// units once for all rows. Inside a unit, rows go `tile_m` at a time
// through a register tile of tile_m x (tile_n / vector_width) vector
// accumulators (outer products: one broadcast of x, one load of W per
// vector), then one row at a time for the remainder. Decode (M = 1) is
// the remainder loop alone: a streaming matrix-vector product.
//
// xfmr.lm_head: logits[M,V] = x[M,D] E[V,D]^T. A work unit is `tile_n`
// vocabulary rows; each logit is a vectorized dot product of two
// contiguous rows followed by one horizontal sum.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"

using namespace mlir;
using namespace mlir::xfmr;
using namespace mlir::xfmr::cpu;

namespace {
int64_t staticDim(Value v, unsigned i) {
  return cast<ShapedType>(v.getType()).getDimSize(i);
}
} // namespace

LogicalResult cpu::buildLinear(ImplicitLocOpBuilder &b, LinearOp op,
                               KernelArgs &a) {
  KB k(b);
  ScheduleAttr s = scheduleOf(op);
  int64_t K = staticDim(op.getWeight(), 0), N = staticDim(op.getWeight(), 1);
  int64_t vw = s.getVectorWidth(), tn = s.getTileN(), tm = s.getTileM();
  int64_t unroll = s.getUnroll();
  if (N % tn != 0)
    return op.emitOpError() << "schedule tile_n " << tn
                            << " does not divide the " << N << " columns";
  if (K % unroll != 0)
    return op.emitOpError() << "schedule unroll " << unroll
                            << " does not divide the reduction size " << K;
  int64_t nv = tn / vw;
  auto vt = VectorType::get({vw}, b.getF32Type());
  Value x = a.inputs[0], w = a.inputs[1];
  Value bias = op.getBias() ? a.inputs[2] : Value();
  Value c0 = k.idx(0), c1 = k.idx(1);

  // One register tile of `rows` rows starting at row m0, columns n0..n0+tn.
  auto microTile = [&](Value m0, Value n0, int64_t rows) {
    SmallVector<Value> init;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < nv; ++j)
        init.push_back(bias ? k.vload(vt, bias, {k.add(n0, k.idx(j * vw))})
                            : k.splat(vt, 0.0));
    SmallVector<Value> acc = k.forLoop(
        c0, k.idx(K), k.idx(unroll), init,
        [&](Value kk, ValueRange args) {
          SmallVector<Value> cur(args.begin(), args.end());
          for (int64_t u = 0; u < unroll; ++u) {
            Value kx = u ? k.add(kk, k.idx(u)) : kk;
            SmallVector<Value> wv;
            for (int64_t j = 0; j < nv; ++j)
              wv.push_back(k.vload(vt, w, {kx, k.add(n0, k.idx(j * vw))}));
            for (int64_t i = 0; i < rows; ++i) {
              Value xi = k.bcast(vt, k.load(x, {k.add(m0, k.idx(i)), kx}));
              for (int64_t j = 0; j < nv; ++j)
                cur[i * nv + j] = k.fma(xi, wv[j], cur[i * nv + j]);
            }
          }
          return cur;
        });
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < nv; ++j)
        k.vstore(acc[i * nv + j], a.out,
                 {k.add(m0, k.idx(i)), k.add(n0, k.idx(j * vw))});
  };

  k.forLoop(a.begin, a.end, c1, [&](Value unit) {
    Value n0 = k.mul(unit, k.idx(tn));
    Value mMain = c0;
    if (tm > 1) {
      Value ctm = k.idx(tm);
      mMain = k.mul(b.create<arith::DivUIOp>(a.n, ctm), ctm);
      k.forLoop(c0, mMain, ctm, [&](Value m0) { microTile(m0, n0, tm); });
    }
    k.forLoop(mMain, a.n, c1, [&](Value m) { microTile(m, n0, 1); });
  });
  return success();
}

LogicalResult cpu::buildLMHead(ImplicitLocOpBuilder &b, LMHeadOp op,
                               KernelArgs &a) {
  KB k(b);
  ScheduleAttr s = scheduleOf(op);
  int64_t V = staticDim(op.getWeight(), 0), D = staticDim(op.getWeight(), 1);
  int64_t vw = s.getVectorWidth(), tn = s.getTileN();
  if (D % vw != 0)
    return op.emitOpError() << "schedule vector_width " << vw
                            << " does not divide the hidden size " << D;
  auto vt = VectorType::get({vw}, b.getF32Type());
  Value x = a.inputs[0], e = a.inputs[1];
  Value c0 = k.idx(0), c1 = k.idx(1);
  // Two accumulators halve the FMA dependency chain of each dot product.
  bool two = D % (2 * vw) == 0;
  k.forLoop(a.begin, a.end, c1, [&](Value unit) {
    Value v0 = k.mul(unit, k.idx(tn));
    Value v1 = b.create<arith::MinUIOp>(k.add(v0, k.idx(tn)), k.idx(V));
    k.forLoop(v0, v1, c1, [&](Value v) {
      k.forLoop(c0, a.n, c1, [&](Value m) {
        SmallVector<Value> init{k.splat(vt, 0.0)};
        if (two)
          init.push_back(k.splat(vt, 0.0));
        SmallVector<Value> acc = k.forLoop(
            c0, k.idx(D), k.idx(two ? 2 * vw : vw), init,
            [&](Value d, ValueRange args) {
              SmallVector<Value> next;
              for (unsigned h = 0; h < args.size(); ++h) {
                Value dd = h ? k.add(d, k.idx(vw)) : d;
                next.push_back(k.fma(k.vload(vt, x, {m, dd}),
                                     k.vload(vt, e, {v, dd}), args[h]));
              }
              return next;
            });
        Value total = two ? b.create<arith::AddFOp>(acc[0], acc[1]).getResult()
                          : acc[0];
        k.store(k.sum(total), a.out, {m, v});
      });
    });
  });
  return success();
}
