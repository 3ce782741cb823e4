//===- AttentionKernel.cpp - causal attention over the KV cache ------------===//
//
// A work unit is one kv head g. The unit first appends the n new keys and
// values of head g at positions pos..pos+n-1 of this layer's cache, then,
// for every query head h of g's group and every new row t, runs one pass
// over the cached positions 0..pos+t with an online softmax:
//
//   s = q.K[j] * scale; m' = max(m, s); c = exp(m - m'); p = exp(s - m')
//   l = l c + p;  acc = acc c + p V[j];  out = acc / l
//
// so scores are never materialized and every cached key and value is read
// once per query row. Owning a whole kv head per unit means no other
// thread reads cache rows this unit is writing.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"

using namespace mlir;
using namespace mlir::xfmr;
using namespace mlir::xfmr::cpu;

LogicalResult cpu::buildAttention(ImplicitLocOpBuilder &b, AttentionOp op,
                                  KernelArgs &a) {
  KB k(b);
  KVCacheType cache = op.getCache().getType();
  int64_t hd = cache.getHeadDim(), kvh = cache.getKvHeads();
  int64_t group = op.getNumHeads() / kvh;
  int64_t vw = scheduleOf(op).getVectorWidth();
  if (hd % vw != 0)
    return op.emitOpError() << "schedule vector_width " << vw
                            << " does not divide head_dim " << hd;
  int64_t nv = hd / vw;
  auto vt = VectorType::get({vw}, b.getF32Type());
  Value q = a.inputs[0], kIn = a.inputs[1], vIn = a.inputs[2];
  Value kc = a.kCache, vc = a.vCache;
  Value c0 = k.idx(0), c1 = k.idx(1), cvw = k.idx(vw);
  Value scale = k.f32(op.getScaleOrDefault());

  k.forLoop(a.begin, a.end, c1, [&](Value g) {
    Value gOff = k.mul(g, k.idx(hd));
    // Append this head's new keys and values.
    k.forLoop(c0, a.n, c1, [&](Value t) {
      Value p = k.add(a.pos, t);
      k.forLoop(c0, k.idx(hd), cvw, [&](Value c) {
        Value src = k.add(gOff, c);
        k.vstore(k.vload(vt, kIn, {t, src}), kc, {g, p, c});
        k.vstore(k.vload(vt, vIn, {t, src}), vc, {g, p, c});
      });
    });
    Value h0 = k.mul(g, k.idx(group));
    k.forLoop(h0, k.add(h0, k.idx(group)), c1, [&](Value h) {
      Value qOff = k.mul(h, k.idx(hd));
      k.forLoop(c0, a.n, c1, [&](Value t) {
        SmallVector<Value> qv;
        Value sv = k.bcast(vt, scale);
        for (int64_t j = 0; j < nv; ++j)
          qv.push_back(k.mul(k.vload(vt, q, {t, k.add(qOff, k.idx(j * vw))}), sv));
        SmallVector<Value> init{k.f32(-1.0e30), k.f32(0.0)};
        for (int64_t j = 0; j < nv; ++j)
          init.push_back(k.splat(vt, 0.0));
        Value len = k.add(k.add(a.pos, t), c1);
        SmallVector<Value> st = k.forLoop(
            c0, len, c1, init, [&](Value pj, ValueRange args) {
              Value dot = k.splat(vt, 0.0);
              for (int64_t j = 0; j < nv; ++j)
                dot = k.fma(qv[j], k.vload(vt, kc, {g, pj, k.idx(j * vw)}), dot);
              Value s = k.sum(dot);
              Value m = args[0], l = args[1];
              Value mNew = b.create<arith::MaximumFOp>(m, s);
              Value corr = b.create<math::ExpOp>(k.sub(m, mNew));
              Value pw = b.create<math::ExpOp>(k.sub(s, mNew));
              SmallVector<Value> next{mNew, k.add(k.mul(l, corr), pw)};
              Value corrV = k.bcast(vt, corr), pV = k.bcast(vt, pw);
              for (int64_t j = 0; j < nv; ++j)
                next.push_back(k.fma(pV, k.vload(vt, vc, {g, pj, k.idx(j * vw)}),
                                     k.mul(args[2 + j], corrV)));
              return next;
            });
        Value inv = k.bcast(vt, k.div(k.f32(1.0), st[1]));
        for (int64_t j = 0; j < nv; ++j)
          k.vstore(k.mul(st[2 + j], inv), a.out, {t, k.add(qOff, k.idx(j * vw))});
      });
    });
  });
  return success();
}
