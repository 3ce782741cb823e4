//===- LinearKernels.cpp - xfmr.linear and xfmr.lm_head on the CPU ---------===//
//
// xfmr.linear: y[M,N] = x[M,K] W[K,N] + b. A work unit is one block of
// `tile_n` output columns, stored contiguously (WeightLayout ColumnBlocks),
// so each thread streams its blocks once, in order, for all rows. Inside a
// unit, rows go `tile_m` at a time through a register tile of
// tile_m x (tile_n / vector_width) vector accumulators (one broadcast of x,
// one load of W per vector and k), then one at a time for the remainder.
// Decode (M = 1) is the remainder loop alone: a streaming matrix-vector
// product. Weights are dequantized in registers:
//   bf16: widened;  int8: codes summed, times the channel scale at the end;
//   int4: per group of G rows, sum(x c) * scale + sum(x) * min.
//
// xfmr.lm_head: logits[M,V] = x[M,D] E[V,D]^T. A work unit is `tile_n`
// vocabulary rows; each logit is a dot product of two contiguous rows
// (quantized rows: WeightLayout Rows) followed by one horizontal sum.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"

using namespace mlir;
using namespace mlir::xfmr;
using namespace mlir::xfmr::cpu;
using ::xfmr::io::WeightFormat;

namespace {
int64_t staticDim(Value v, unsigned i) {
  return cast<ShapedType>(v.getType()).getDimSize(i);
}

Type storageType(ImplicitLocOpBuilder &b, WeightFormat f) {
  switch (f) {
  case WeightFormat::F32:
    return b.getF32Type();
  case WeightFormat::BF16:
    return b.getBF16Type();
  default:
    return b.getI8Type();
  }
}

Type scaleType(ImplicitLocOpBuilder &b, const WeightLayout &l) {
  return l.scheme.f16Scales ? Type(b.getF16Type()) : Type(b.getF32Type());
}
} // namespace

LogicalResult cpu::buildLinear(ImplicitLocOpBuilder &b, LinearOp op,
                               KernelArgs &a) {
  KB k(b);
  ScheduleAttr s = scheduleOf(op);
  WeightLayout l = layoutOf(op, 1);
  const WeightFormat fmt = l.scheme.format;
  int64_t K = staticDim(op.getWeight(), 0), N = staticDim(op.getWeight(), 1);
  int64_t vw = s.getVectorWidth(), tn = s.getTileN(), tm = s.getTileM();
  int64_t unroll = s.getUnroll();
  if (N % tn != 0)
    return op.emitOpError() << "schedule tile_n " << tn
                            << " does not divide the " << N << " columns";
  if (K % unroll != 0)
    return op.emitOpError() << "schedule unroll " << unroll
                            << " does not divide the reduction size " << K;
  if (fmt == WeightFormat::Int4 && tn % (2 * vw) != 0)
    return op.emitOpError() << "int4 weights need tile_n (" << tn
                            << ") to be a multiple of 2 x vector_width (" << vw
                            << ")";
  const int64_t nv = tn / vw, G = l.scheme.group, sb = l.scaleBytes();
  auto vt = VectorType::get({vw}, b.getF32Type());
  Value x = a.inputs[0], w = a.inputs[1];
  Value bias = op.getBias() ? a.inputs[2] : Value();
  Value c0 = k.idx(0), c1 = k.idx(1);
  Type sT = scaleType(b, l);
  auto svt = VectorType::get({vw}, sT);

  auto initAcc = [&](Value n0, int64_t rows, bool withBias) {
    SmallVector<Value> init;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < nv; ++j)
        init.push_back(withBias && bias
                           ? k.vload(vt, bias, {k.add(n0, k.idx(j * vw))})
                           : k.splat(vt, 0.0));
    return init;
  };
  auto xAt = [&](Value m0, int64_t i, Value kx) {
    return k.load(x, {k.add(m0, k.idx(i)), kx});
  };

  // One register tile: `rows` rows from m0, the block at byte `base`.
  auto microTile = [&](Value m0, Value n0, Value base, int64_t rows) {
    SmallVector<Value> acc;
    if (fmt != WeightFormat::Int4) {
      // f32, bf16, int8: one pass over K with elements [K][tn].
      int64_t codeOffset = fmt == WeightFormat::Int8 ? tn * sb : 0;
      Value wv = k.view(w, k.add(base, k.idx(codeOffset)), {K, tn},
                        storageType(b, fmt));
      auto et = VectorType::get({vw}, storageType(b, fmt));
      acc = k.forLoop(
          c0, k.idx(K), k.idx(unroll),
          initAcc(n0, rows, fmt != WeightFormat::Int8),
          [&](Value kk, ValueRange args) {
            SmallVector<Value> cur(args.begin(), args.end());
            for (int64_t u = 0; u < unroll; ++u) {
              Value kx = u ? k.add(kk, k.idx(u)) : kk;
              SmallVector<Value> wj;
              for (int64_t j = 0; j < nv; ++j)
                wj.push_back(k.toF32(k.vload(et, wv, {kx, k.idx(j * vw)})));
              for (int64_t i = 0; i < rows; ++i) {
                Value xi = k.bcast(vt, xAt(m0, i, kx));
                for (int64_t j = 0; j < nv; ++j)
                  cur[i * nv + j] = k.fma(xi, wj[j], cur[i * nv + j]);
              }
            }
            return cur;
          });
      if (fmt == WeightFormat::Int8) {
        Value scales = k.view(w, base, {tn}, sT);
        for (int64_t j = 0; j < nv; ++j) {
          Value sj = k.toF32(k.vload(svt, scales, {k.idx(j * vw)}));
          Value bj = bias ? k.vload(vt, bias, {k.add(n0, k.idx(j * vw))})
                          : k.splat(vt, 0.0);
          for (int64_t i = 0; i < rows; ++i)
            acc[i * nv + j] = k.fma(acc[i * nv + j], sj, bj);
        }
      }
    } else {
      // int4: groups of G rows; codes [G][tn/2], low nibble = column j,
      // high nibble = column j + tn/2.
      const int64_t gBytes = l.groupBytes();
      const int64_t codeOffset = tn * sb * (l.scheme.zeroPoint ? 2 : 1);
      auto bvt = VectorType::get({vw}, b.getI8Type());
      acc = k.forLoop(
          c0, k.idx(K / G), c1, initAcc(n0, rows, true),
          [&](Value g, ValueRange outer) {
            Value gBase = k.add(base, k.mul(g, k.idx(gBytes)));
            Value codes = k.view(w, k.add(gBase, k.idx(codeOffset)),
                                 {G, tn / 2}, b.getI8Type());
            Value k0 = k.mul(g, k.idx(G));
            SmallVector<Value> init = initAcc(n0, rows, false);
            for (int64_t i = 0; i < rows; ++i)
              init.push_back(k.f32(0.0)); // sum of x over the group, per row
            SmallVector<Value> inner = k.forLoop(
                c0, k.idx(G), c1, init, [&](Value kk, ValueRange args) {
                  SmallVector<Value> cur(args.begin(), args.end());
                  SmallVector<Value> wj(nv);
                  for (int64_t j = 0; j < nv / 2; ++j) {
                    auto [lo, hi] =
                        k.nibblesF32(k.vload(bvt, codes, {kk, k.idx(j * vw)}));
                    wj[j] = lo;
                    wj[j + nv / 2] = hi;
                  }
                  for (int64_t i = 0; i < rows; ++i) {
                    Value xs = xAt(m0, i, k.add(k0, kk));
                    cur[rows * nv + i] = k.add(cur[rows * nv + i], xs);
                    Value xi = k.bcast(vt, xs);
                    for (int64_t j = 0; j < nv; ++j)
                      cur[i * nv + j] = k.fma(xi, wj[j], cur[i * nv + j]);
                  }
                  return cur;
                });
            SmallVector<Value> next(outer.begin(), outer.end());
            Value scales = k.view(w, gBase, {tn}, sT);
            Value mins = l.scheme.zeroPoint
                             ? k.view(w, k.add(gBase, k.idx(tn * sb)), {tn}, sT)
                             : Value();
            for (int64_t j = 0; j < nv; ++j) {
              Value sj = k.toF32(k.vload(svt, scales, {k.idx(j * vw)}));
              Value mj = mins ? k.toF32(k.vload(svt, mins, {k.idx(j * vw)}))
                              : k.mul(sj, k.splat(vt, -8.0));
              for (int64_t i = 0; i < rows; ++i) {
                Value t = k.fma(inner[i * nv + j], sj, next[i * nv + j]);
                next[i * nv + j] = k.fma(k.bcast(vt, inner[rows * nv + i]), mj, t);
              }
            }
            return next;
          });
    }
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < nv; ++j)
        k.vstore(acc[i * nv + j], a.out,
                 {k.add(m0, k.idx(i)), k.add(n0, k.idx(j * vw))});
  };

  k.forLoop(a.begin, a.end, c1, [&](Value unit) {
    Value n0 = k.mul(unit, k.idx(tn));
    Value base = k.mul(unit, k.idx(l.blockBytes()));
    Value mMain = c0;
    if (tm > 1) {
      Value ctm = k.idx(tm);
      mMain = k.mul(b.create<arith::DivUIOp>(a.n, ctm), ctm);
      k.forLoop(c0, mMain, ctm, [&](Value m0) { microTile(m0, n0, base, tm); });
    }
    k.forLoop(mMain, a.n, c1, [&](Value m) { microTile(m, n0, base, 1); });
  });
  return success();
}

LogicalResult cpu::buildLMHead(ImplicitLocOpBuilder &b, LMHeadOp op,
                               KernelArgs &a) {
  KB k(b);
  ScheduleAttr s = scheduleOf(op);
  WeightLayout l = layoutOf(op, 1);
  const WeightFormat fmt = l.scheme.format;
  int64_t V = staticDim(op.getWeight(), 0), D = staticDim(op.getWeight(), 1);
  int64_t vw = s.getVectorWidth(), tn = s.getTileN();
  const int64_t G = l.scheme.group;
  if (D % vw != 0)
    return op.emitOpError() << "schedule vector_width " << vw
                            << " does not divide the hidden size " << D;
  if (fmt == WeightFormat::Int4 && (G / 2) % vw != 0)
    return op.emitOpError() << "schedule vector_width " << vw
                            << " does not divide half the quant group " << G;
  auto vt = VectorType::get({vw}, b.getF32Type());
  Value x = a.inputs[0], e = a.inputs[1];
  Value c0 = k.idx(0), c1 = k.idx(1);
  Type sT = scaleType(b, l);
  const int64_t sb = l.scaleBytes();

  // sum_d x[m, d] * row[d], for one (vocabulary row, token row) pair.
  auto dot = [&](Value v, Value m) -> Value {
    if (fmt == WeightFormat::F32) {
      // Dense rows; two accumulators halve the FMA dependency chain.
      bool two = D % (2 * vw) == 0;
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
      return k.sum(two ? k.add(acc[0], acc[1]) : acc[0]);
    }
    Value rowBase = k.mul(v, k.idx(l.rowBytes()));
    if (fmt == WeightFormat::BF16 || fmt == WeightFormat::Int8) {
      int64_t codeOffset = fmt == WeightFormat::Int8 ? sb : 0;
      Type et = fmt == WeightFormat::BF16 ? Type(b.getBF16Type()) : b.getI8Type();
      Value row = k.view(e, k.add(rowBase, k.idx(codeOffset)), {D}, et);
      Value acc = k.forLoop(c0, k.idx(D), k.idx(vw), {k.splat(vt, 0.0)},
                            [&](Value d, ValueRange args) {
                              Value wv = k.toF32(k.vload(
                                  VectorType::get({vw}, et), row, {d}));
                              return SmallVector<Value>{
                                  k.fma(k.vload(vt, x, {m, d}), wv, args[0])};
                            })[0];
      Value total = k.sum(acc);
      if (fmt == WeightFormat::Int8)
        total = k.mul(total, k.toF32(k.load(k.view(e, rowBase, {1}, sT), {c0})));
      return total;
    }
    // int4 rows: per group, scale (and min), then codes[G/2]: byte j holds
    // elements j (low) and j + G/2 (high).
    const int64_t gBytes = l.groupBytes(), half = G / 2;
    const int64_t codeOffset = sb * (l.scheme.zeroPoint ? 2 : 1);
    auto bvt = VectorType::get({vw}, b.getI8Type());
    Value acc = k.forLoop(
        c0, k.idx(D / G), c1, {k.splat(vt, 0.0)},
        [&](Value g, ValueRange outer) {
          Value gBase = k.add(rowBase, k.mul(g, k.idx(gBytes)));
          Value codes = k.view(e, k.add(gBase, k.idx(codeOffset)), {half},
                               b.getI8Type());
          Value d0 = k.mul(g, k.idx(G));
          SmallVector<Value> r = k.forLoop(
              c0, k.idx(half), k.idx(vw), {k.splat(vt, 0.0), k.splat(vt, 0.0)},
              [&](Value j, ValueRange args) {
                auto [lo, hi] = k.nibblesF32(k.vload(bvt, codes, {j}));
                Value xl = k.vload(vt, x, {m, k.add(d0, j)});
                Value xh = k.vload(vt, x, {m, k.add(k.add(d0, j), k.idx(half))});
                Value cx = k.fma(xh, hi, k.fma(xl, lo, args[0]));
                return SmallVector<Value>{cx, k.add(args[1], k.add(xl, xh))};
              });
          Value sc = k.toF32(k.load(k.view(e, gBase, {1}, sT), {c0}));
          Value mn = l.scheme.zeroPoint
                         ? k.toF32(k.load(k.view(e, k.add(gBase, k.idx(sb)), {1}, sT), {c0}))
                         : k.mul(sc, k.f32(-8.0));
          Value t = k.fma(r[0], k.bcast(vt, sc), outer[0]);
          return SmallVector<Value>{k.fma(r[1], k.bcast(vt, mn), t)};
        })[0];
    return k.sum(acc);
  };

  k.forLoop(a.begin, a.end, c1, [&](Value unit) {
    Value v0 = k.mul(unit, k.idx(tn));
    Value v1 = b.create<arith::MinUIOp>(k.add(v0, k.idx(tn)), k.idx(V));
    k.forLoop(v0, v1, c1, [&](Value v) {
      k.forLoop(c0, a.n, c1, [&](Value m) { k.store(dot(v, m), a.out, {m, v}); });
    });
  });
  return success();
}
