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

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

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

  // The output vectors (indices into the block's nv) one register tile
  // covers: at most kAccumulators accumulators, and for int4 whole pairs
  // (j, j + nv/2) that share their code bytes.
  // (VNNI keeps an i32 and an f32 accumulator per output vector.)
  const int64_t kAccumulators = l.vnni ? 8 : 16;
  auto subTiles = [&](int64_t rows) {
    SmallVector<SmallVector<int64_t>> tiles;
    int64_t per = std::max<int64_t>(1, kAccumulators / rows);
    if (fmt == WeightFormat::Int4) {
      int64_t pairs = std::max<int64_t>(1, per / 2);
      for (int64_t j0 = 0; j0 < nv / 2; j0 += pairs) {
        SmallVector<int64_t> t;
        for (int64_t j = j0; j < std::min(nv / 2, j0 + pairs); ++j)
          t.push_back(j);
        for (int64_t j = j0; j < std::min(nv / 2, j0 + pairs); ++j)
          t.push_back(j + nv / 2);
        tiles.push_back(t);
      }
      return tiles;
    }
    for (int64_t j0 = 0; j0 < nv; j0 += per) {
      SmallVector<int64_t> t;
      for (int64_t j = j0; j < std::min(nv, j0 + per); ++j)
        t.push_back(j);
      tiles.push_back(t);
    }
    return tiles;
  };

  auto initAcc = [&](Value n0, int64_t rows, ArrayRef<int64_t> vecs,
                     bool withBias) {
    SmallVector<Value> init;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j : vecs)
        init.push_back(withBias && bias
                           ? k.vload(vt, bias, {k.add(n0, k.idx(j * vw))})
                           : k.splat(vt, 0.0));
    return init;
  };
  auto xAt = [&](Value m0, int64_t i, Value kx) {
    return k.load(x, {k.add(m0, k.idx(i)), kx});
  };

  // Decode streams each block once: prefetch the block's row kPrefetchBytes
  // ahead of row k (every cache line of it), so more lines are in flight
  // than the out-of-order window alone keeps.
  constexpr int64_t kPrefetchBytes = 2048;
  auto prefetchAhead = [&](Value view, Value row, int64_t rowsInView,
                           int64_t rowBytes) {
    int64_t ahead = std::max<int64_t>(1, kPrefetchBytes / rowBytes);
    Value r = b.create<arith::MinUIOp>(k.add(row, k.idx(ahead)),
                                       k.idx(rowsInView - 1));
    int64_t elem = rowBytes / tn;
    for (int64_t off = 0; off < rowBytes; off += 64)
      b.create<memref::PrefetchOp>(view, ValueRange{r, k.idx(off / elem)},
                                   /*isWrite=*/false, /*localityHint=*/3,
                                   /*isDataCache=*/true);
  };

  // VNNI (int8 weights): the tile's rows of x are quantized per block of
  // 32 reduction elements (s = max|x| / 127) into scratch allocated once at
  // the kernel's entry; vpdpbusd multiplies unsigned weight codes (q + 128)
  // with the signed activation codes, four k per 32-bit lane, and
  // sum((q + 128) xq) - 128 sum(xq) recovers sum(q xq) per block.
  Value xq, xq32, xs, xsum;
  if (l.vnni) {
    xq = b.create<memref::AllocaOp>(MemRefType::get({tm * K}, b.getI8Type()));
    xq32 = k.view(xq, c0, {tm * K / 4}, b.getI32Type());
    xq = k.view(xq, c0, {tm * K}, b.getI8Type());
    xs = b.create<memref::AllocaOp>(MemRefType::get({tm, K / 32}, b.getF32Type()));
    xsum = b.create<memref::AllocaOp>(MemRefType::get({tm, K / 32}, b.getF32Type()));
  }
  // Quantizes rows m0 .. m0+rows-1 of x into the scratch, once per row
  // tile of a unit (all its sub-tiles read it).
  auto quantizeRows = [&](Value m0, int64_t rows) {
    auto i8v = VectorType::get({16}, b.getI8Type());
    for (int64_t i = 0; i < rows; ++i) {
      Value row = k.add(m0, k.idx(i));
      k.forLoop(c0, k.idx(K / 32), c1, [&](Value blk) {
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
        k.store(k.div(m, k.f32(127.0)), xs, {k.idx(i), blk});
        k.store(k.sum(k.add(q0, q1)), xsum, {k.idx(i), blk});
        Value at = k.add(k.idx(i * K), k0);
        k.vstore(b.create<arith::FPToSIOp>(i8v, q0), xq, {at});
        k.vstore(b.create<arith::FPToSIOp>(i8v, q1), xq, {k.add(at, k.idx(16))});
      });
    }
  };
  auto vnniTile = [&](Value m0, Value n0, Value base, int64_t rows,
                      ArrayRef<int64_t> vecs) -> SmallVector<Value> {
    const int64_t nt = int64_t(vecs.size());
    auto i32v = VectorType::get({16}, b.getI32Type());
    auto b64 = VectorType::get({64}, b.getI8Type());
    Value codes = k.view(w, k.add(base, k.idx(tn * sb)), {K / 4, tn * 4},
                         b.getI8Type());
    SmallVector<Value> init(rows * nt, k.splat(vt, 0.0));
    SmallVector<Value> acc = k.forLoop(
        c0, k.idx(K / 32), c1, init, [&](Value blk, ValueRange outer) {
          Value zero = b.create<arith::ConstantOp>(
              DenseElementsAttr::get(i32v, b.getI32IntegerAttr(0)));
          SmallVector<Value> izero(rows * nt, zero);
          SmallVector<Value> dots = k.forLoop(
              c0, k.idx(8), c1, izero, [&](Value kk, ValueRange args) {
                Value kq = k.add(k.mul(blk, k.idx(8)), kk);
                if (rows == 1 && vecs.front() == 0)
                  prefetchAhead(codes, kq, K / 4, tn * 4);
                SmallVector<Value> wv;
                for (int64_t j : vecs)
                  wv.push_back(b.create<vector::BitCastOp>(
                      i32v, k.vload(b64, codes, {kq, k.idx(j * 64)})));
                SmallVector<Value> cur(args.begin(), args.end());
                for (int64_t i = 0; i < rows; ++i) {
                  Value xb = k.bcast(
                      i32v, k.load(xq32, {k.add(k.idx(i * K / 4), kq)}));
                  for (int64_t t = 0; t < nt; ++t)
                    cur[i * nt + t] =
                        b.create<LLVM::CallIntrinsicOp>(
                             i32v, "llvm.x86.avx512.vpdpbusd.512",
                             ValueRange{cur[i * nt + t], wv[t], xb})
                            .getResult(0);
                }
                return cur;
              });
          SmallVector<Value> next(outer.begin(), outer.end());
          for (int64_t i = 0; i < rows; ++i) {
            Value sc = k.bcast(vt, k.load(xs, {k.idx(i), blk}));
            Value corr = k.bcast(vt, k.mul(k.load(xsum, {k.idx(i), blk}),
                                           k.f32(128.0)));
            for (int64_t t = 0; t < nt; ++t) {
              Value f = b.create<arith::SIToFPOp>(vt, dots[i * nt + t]);
              next[i * nt + t] = k.fma(k.sub(f, corr), sc, next[i * nt + t]);
            }
          }
          return next;
        });
    Value scales = k.view(w, base, {tn}, sT);
    for (int64_t t = 0; t < nt; ++t) {
      int64_t j = vecs[t];
      Value sj = k.toF32(k.vload(svt, scales, {k.idx(j * vw)}));
      Value bj = bias ? k.vload(vt, bias, {k.add(n0, k.idx(j * vw))})
                      : k.splat(vt, 0.0);
      for (int64_t i = 0; i < rows; ++i)
        acc[i * nt + t] = k.fma(acc[i * nt + t], sj, bj);
    }
    return acc;
  };

  // VNNI int4: per group of G rows, each block of 32 is eight vpdpbusd of
  // the unsigned codes (low nibbles: columns j, high: j + tn/2) with the
  // activation codes; sum(c x) = sum_b s_b dot_b, and with w = c s + m,
  // y += s sum(c x) + m sum(x), sum(x) taken from the rounded activations.
  auto vnniInt4Tile = [&](Value m0, Value n0, Value base, int64_t rows,
                          ArrayRef<int64_t> vecs) -> SmallVector<Value> {
    const int64_t nt = int64_t(vecs.size()), half = nt / 2;
    const int64_t gBytes = l.groupBytes();
    const int64_t codeOffset = tn * sb * (l.scheme.zeroPoint ? 2 : 1);
    auto i32v = VectorType::get({16}, b.getI32Type());
    auto b64 = VectorType::get({64}, b.getI8Type());
    Value low = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(b64, b.getI8IntegerAttr(0x0F)));
    Value four = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(b64, b.getI8IntegerAttr(4)));
    Value zero = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(i32v, b.getI32IntegerAttr(0)));
    SmallVector<Value> init;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j : vecs)
        init.push_back(bias ? k.vload(vt, bias, {k.add(n0, k.idx(j * vw))})
                            : k.splat(vt, 0.0));
    return k.forLoop(
        c0, k.idx(K / G), c1, init, [&](Value g, ValueRange outer) {
          Value gBase = k.add(base, k.mul(g, k.idx(gBytes)));
          Value codes = k.view(w, k.add(gBase, k.idx(codeOffset)),
                               {G / 4, tn * 2}, b.getI8Type());
          SmallVector<Value> ginit(rows * nt, k.splat(vt, 0.0));
          for (int64_t i = 0; i < rows; ++i)
            ginit.push_back(k.f32(0.0)); // sum of rounded x over the group
          SmallVector<Value> grp = k.forLoop(
              c0, k.idx(G / 32), c1, ginit, [&](Value blk, ValueRange gargs) {
                Value xb0 = k.add(k.mul(g, k.idx(G / 32)), blk); // x block
                SmallVector<Value> dots = k.forLoop(
                    c0, k.idx(8), c1, SmallVector<Value>(rows * nt, zero),
                    [&](Value kk, ValueRange args) {
                      Value lq = k.add(k.mul(blk, k.idx(8)), kk);
                      if (rows == 1 && vecs.front() == 0)
                        prefetchAhead(codes, lq, G / 4, tn * 2);
                      SmallVector<Value> wv(nt);
                      for (int64_t t = 0; t < half; ++t) {
                        Value raw = k.vload(b64, codes, {lq, k.idx(vecs[t] * 64)});
                        wv[t] = b.create<vector::BitCastOp>(
                            i32v, b.create<arith::AndIOp>(raw, low));
                        wv[t + half] = b.create<vector::BitCastOp>(
                            i32v, b.create<arith::ShRUIOp>(raw, four));
                      }
                      SmallVector<Value> cur(args.begin(), args.end());
                      for (int64_t i = 0; i < rows; ++i) {
                        Value quad = k.add(k.mul(xb0, k.idx(8)), kk);
                        Value xq4 = k.bcast(
                            i32v, k.load(xq32, {k.add(k.idx(i * K / 4), quad)}));
                        for (int64_t t = 0; t < nt; ++t)
                          cur[i * nt + t] =
                              b.create<LLVM::CallIntrinsicOp>(
                                   i32v, "llvm.x86.avx512.vpdpbusd.512",
                                   ValueRange{cur[i * nt + t], wv[t], xq4})
                                  .getResult(0);
                      }
                      return cur;
                    });
                SmallVector<Value> next(gargs.begin(), gargs.end());
                for (int64_t i = 0; i < rows; ++i) {
                  Value xsv = k.load(xs, {k.idx(i), xb0});
                  Value sc = k.bcast(vt, xsv);
                  for (int64_t t = 0; t < nt; ++t)
                    next[i * nt + t] = k.fma(
                        b.create<arith::SIToFPOp>(vt, dots[i * nt + t]), sc,
                        next[i * nt + t]);
                  next[rows * nt + i] = k.add(
                      next[rows * nt + i], k.mul(xsv, k.load(xsum, {k.idx(i), xb0})));
                }
                return next;
              });
          SmallVector<Value> acc(outer.begin(), outer.end());
          Value scales = k.view(w, gBase, {tn}, sT);
          Value mins = l.scheme.zeroPoint
                           ? k.view(w, k.add(gBase, k.idx(tn * sb)), {tn}, sT)
                           : Value();
          for (int64_t t = 0; t < nt; ++t) {
            int64_t j = vecs[t];
            Value sj = k.toF32(k.vload(svt, scales, {k.idx(j * vw)}));
            Value mj = mins ? k.toF32(k.vload(svt, mins, {k.idx(j * vw)}))
                            : k.mul(sj, k.splat(vt, -8.0));
            for (int64_t i = 0; i < rows; ++i) {
              Value s1 = k.fma(grp[i * nt + t], sj, acc[i * nt + t]);
              acc[i * nt + t] = k.fma(k.bcast(vt, grp[rows * nt + i]), mj, s1);
            }
          }
          return acc;
        });
  };

  // One register tile: `rows` rows from m0, output vectors `vecs` of the
  // block at byte `base`.
  auto microTile = [&](Value m0, Value n0, Value base, int64_t rows,
                       ArrayRef<int64_t> vecs) {
    const int64_t nt = int64_t(vecs.size());
    SmallVector<Value> acc;
    if (l.vnni && fmt == WeightFormat::Int4) {
      acc = vnniInt4Tile(m0, n0, base, rows, vecs);
    } else if (l.vnni) {
      acc = vnniTile(m0, n0, base, rows, vecs);
    } else if (fmt != WeightFormat::Int4) {
      // f32, bf16, int8: one pass over K with elements [K][tn].
      int64_t codeOffset = fmt == WeightFormat::Int8 ? tn * sb : 0;
      int64_t elemBytes = fmt == WeightFormat::F32    ? 4
                          : fmt == WeightFormat::BF16 ? 2
                                                      : 1;
      Value wv = k.view(w, k.add(base, k.idx(codeOffset)), {K, tn},
                        storageType(b, fmt));
      auto et = VectorType::get({vw}, storageType(b, fmt));
      acc = k.forLoop(
          c0, k.idx(K), k.idx(unroll),
          initAcc(n0, rows, vecs, fmt != WeightFormat::Int8),
          [&](Value kk, ValueRange args) {
            SmallVector<Value> cur(args.begin(), args.end());
            if (rows == 1 && vecs.front() == 0)
              prefetchAhead(wv, kk, K, tn * elemBytes);
            for (int64_t u = 0; u < unroll; ++u) {
              Value kx = u ? k.add(kk, k.idx(u)) : kk;
              SmallVector<Value> wj;
              for (int64_t j : vecs)
                wj.push_back(k.toF32(k.vload(et, wv, {kx, k.idx(j * vw)})));
              for (int64_t i = 0; i < rows; ++i) {
                Value xi = k.bcast(vt, xAt(m0, i, kx));
                for (int64_t t = 0; t < nt; ++t)
                  cur[i * nt + t] = k.fma(xi, wj[t], cur[i * nt + t]);
              }
            }
            return cur;
          });
      if (fmt == WeightFormat::Int8) {
        Value scales = k.view(w, base, {tn}, sT);
        for (int64_t t = 0; t < nt; ++t) {
          int64_t j = vecs[t];
          Value sj = k.toF32(k.vload(svt, scales, {k.idx(j * vw)}));
          Value bj = bias ? k.vload(vt, bias, {k.add(n0, k.idx(j * vw))})
                          : k.splat(vt, 0.0);
          for (int64_t i = 0; i < rows; ++i)
            acc[i * nt + t] = k.fma(acc[i * nt + t], sj, bj);
        }
      }
    } else {
      // int4: groups of G rows; codes [G][tn/2], low nibble = column j,
      // high nibble = column j + tn/2. vecs = [lo vectors..., hi vectors...].
      const int64_t gBytes = l.groupBytes();
      const int64_t codeOffset = tn * sb * (l.scheme.zeroPoint ? 2 : 1);
      const int64_t half = nt / 2;
      auto bvt = VectorType::get({vw}, b.getI8Type());
      acc = k.forLoop(
          c0, k.idx(K / G), c1, initAcc(n0, rows, vecs, true),
          [&](Value g, ValueRange outer) {
            Value gBase = k.add(base, k.mul(g, k.idx(gBytes)));
            Value codes = k.view(w, k.add(gBase, k.idx(codeOffset)),
                                 {G, tn / 2}, b.getI8Type());
            Value k0 = k.mul(g, k.idx(G));
            SmallVector<Value> init = initAcc(n0, rows, vecs, false);
            for (int64_t i = 0; i < rows; ++i)
              init.push_back(k.f32(0.0)); // sum of x over the group, per row
            SmallVector<Value> inner = k.forLoop(
                c0, k.idx(G), c1, init, [&](Value kk, ValueRange args) {
                  SmallVector<Value> cur(args.begin(), args.end());
                  SmallVector<Value> wj(nt);
                  for (int64_t t = 0; t < half; ++t) {
                    auto [lo, hi] = k.nibblesF32(
                        k.vload(bvt, codes, {kk, k.idx(vecs[t] * vw)}));
                    wj[t] = lo;
                    wj[t + half] = hi;
                  }
                  for (int64_t i = 0; i < rows; ++i) {
                    Value xs = xAt(m0, i, k.add(k0, kk));
                    cur[rows * nt + i] = k.add(cur[rows * nt + i], xs);
                    Value xi = k.bcast(vt, xs);
                    for (int64_t t = 0; t < nt; ++t)
                      cur[i * nt + t] = k.fma(xi, wj[t], cur[i * nt + t]);
                  }
                  return cur;
                });
            SmallVector<Value> next(outer.begin(), outer.end());
            Value scales = k.view(w, gBase, {tn}, sT);
            Value mins = l.scheme.zeroPoint
                             ? k.view(w, k.add(gBase, k.idx(tn * sb)), {tn}, sT)
                             : Value();
            for (int64_t t = 0; t < nt; ++t) {
              int64_t j = vecs[t];
              Value sj = k.toF32(k.vload(svt, scales, {k.idx(j * vw)}));
              Value mj = mins ? k.toF32(k.vload(svt, mins, {k.idx(j * vw)}))
                              : k.mul(sj, k.splat(vt, -8.0));
              for (int64_t i = 0; i < rows; ++i) {
                Value s1 = k.fma(inner[i * nt + t], sj, next[i * nt + t]);
                next[i * nt + t] =
                    k.fma(k.bcast(vt, inner[rows * nt + i]), mj, s1);
              }
            }
            return next;
          });
    }
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t t = 0; t < nt; ++t)
        k.vstore(acc[i * nt + t], a.out,
                 {k.add(m0, k.idx(i)), k.add(n0, k.idx(vecs[t] * vw))});
  };

  k.forLoop(a.begin, a.end, c1, [&](Value unit) {
    Value n0 = k.mul(unit, k.idx(tn));
    Value base = k.mul(unit, k.idx(l.blockBytes()));
    Value mMain = c0;
    if (tm > 1) {
      Value ctm = k.idx(tm);
      mMain = k.mul(b.create<arith::DivUIOp>(a.n, ctm), ctm);
      k.forLoop(c0, mMain, ctm, [&](Value m0) {
        if (l.vnni)
          quantizeRows(m0, tm);
        for (auto &vecs : subTiles(tm))
          microTile(m0, n0, base, tm, vecs);
      });
    }
    k.forLoop(mMain, a.n, c1, [&](Value m) {
      if (l.vnni)
        quantizeRows(m, 1);
      for (auto &vecs : subTiles(1))
        microTile(m, n0, base, 1, vecs);
    });
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

  // sum_d x[m, d] * row_r[d] for several vocabulary rows at once: each row
  // has its own accumulators, so their FMA chains overlap, and each x
  // vector is loaded once for all of them.
  auto dots = [&](ArrayRef<Value> vs, Value m) -> SmallVector<Value> {
    const size_t R = vs.size();
    SmallVector<Value> zeros(R, k.splat(vt, 0.0));
    SmallVector<Value> totals;
    if (fmt == WeightFormat::F32) {
      SmallVector<Value> acc = k.forLoop(
          c0, k.idx(D), k.idx(vw), zeros, [&](Value d, ValueRange args) {
            Value xv = k.vload(vt, x, {m, d});
            SmallVector<Value> next;
            for (size_t r = 0; r < R; ++r)
              next.push_back(k.fma(xv, k.vload(vt, e, {vs[r], d}), args[r]));
            return next;
          });
      for (Value a : acc)
        totals.push_back(k.sum(a));
      return totals;
    }
    SmallVector<Value> rowBase;
    for (Value v : vs)
      rowBase.push_back(k.mul(v, k.idx(l.rowBytes())));
    if (fmt == WeightFormat::BF16 || fmt == WeightFormat::Int8) {
      int64_t codeOffset = fmt == WeightFormat::Int8 ? sb : 0;
      Type et = fmt == WeightFormat::BF16 ? Type(b.getBF16Type()) : b.getI8Type();
      SmallVector<Value> rows;
      for (Value rb : rowBase)
        rows.push_back(k.view(e, k.add(rb, k.idx(codeOffset)), {D}, et));
      SmallVector<Value> acc = k.forLoop(
          c0, k.idx(D), k.idx(vw), zeros, [&](Value d, ValueRange args) {
            Value xv = k.vload(vt, x, {m, d});
            SmallVector<Value> next;
            for (size_t r = 0; r < R; ++r) {
              Value raw = k.vload(VectorType::get({vw}, et), rows[r], {d});
              if (fmt == WeightFormat::Int8)
                raw = k.unbias(raw);
              next.push_back(k.fma(xv, k.toF32(raw), args[r]));
            }
            return next;
          });
      for (size_t r = 0; r < R; ++r) {
        Value t = k.sum(acc[r]);
        if (fmt == WeightFormat::Int8)
          t = k.mul(t, k.toF32(k.load(k.view(e, rowBase[r], {1}, sT), {c0})));
        totals.push_back(t);
      }
      return totals;
    }
    // int4 rows: per group, scale (and min), then codes[G/2]: byte j holds
    // elements j (low) and j + G/2 (high).
    const int64_t gBytes = l.groupBytes(), half = G / 2;
    const int64_t codeOffset = sb * (l.scheme.zeroPoint ? 2 : 1);
    auto bvt = VectorType::get({vw}, b.getI8Type());
    SmallVector<Value> acc = k.forLoop(
        c0, k.idx(D / G), c1, zeros, [&](Value g, ValueRange outer) {
          Value d0 = k.mul(g, k.idx(G));
          SmallVector<Value> gBase, codes;
          for (Value rb : rowBase) {
            gBase.push_back(k.add(rb, k.mul(g, k.idx(gBytes))));
            codes.push_back(k.view(e, k.add(gBase.back(), k.idx(codeOffset)),
                                   {half}, b.getI8Type()));
          }
          SmallVector<Value> init(zeros);
          init.push_back(k.splat(vt, 0.0)); // sum of x over the group
          SmallVector<Value> in = k.forLoop(
              c0, k.idx(half), k.idx(vw), init, [&](Value j, ValueRange args) {
                Value xl = k.vload(vt, x, {m, k.add(d0, j)});
                Value xh = k.vload(vt, x, {m, k.add(k.add(d0, j), k.idx(half))});
                SmallVector<Value> next;
                for (size_t r = 0; r < R; ++r) {
                  auto [lo, hi] = k.nibblesF32(k.vload(bvt, codes[r], {j}));
                  next.push_back(k.fma(xh, hi, k.fma(xl, lo, args[r])));
                }
                next.push_back(k.add(args[R], k.add(xl, xh)));
                return next;
              });
          SmallVector<Value> next;
          for (size_t r = 0; r < R; ++r) {
            Value sc = k.toF32(k.load(k.view(e, gBase[r], {1}, sT), {c0}));
            Value mn = l.scheme.zeroPoint
                           ? k.toF32(k.load(
                                 k.view(e, k.add(gBase[r], k.idx(sb)), {1}, sT), {c0}))
                           : k.mul(sc, k.f32(-8.0));
            Value t = k.fma(in[r], k.bcast(vt, sc), outer[r]);
            next.push_back(k.fma(in[R], k.bcast(vt, mn), t));
          }
          return next;
        });
    for (Value a : acc)
      totals.push_back(k.sum(a));
    return totals;
  };

  // VNNI (int8 rows): x's row is quantized per block of 32 once per unit
  // and row; each block of a vocabulary row is one 256-bit vpdpbusd of its
  // unsigned codes (q + 128) with the activation codes, and
  // sum_b s_b (dot_b - 128 sum(xq_b)) gives sum(q xq) scaled back.
  const bool vnni = s.getVnni() && fmt == WeightFormat::Int8;
  Value hq, hq32, hs, hcorr;
  if (vnni) {
    hq = b.create<memref::AllocaOp>(MemRefType::get({D}, b.getI8Type()));
    hs = b.create<memref::AllocaOp>(MemRefType::get({D / 32}, b.getF32Type()));
    hcorr = b.create<memref::AllocaOp>(MemRefType::get({1}, b.getF32Type()));
    hq32 = k.view(hq, c0, {D / 4}, b.getI32Type());
  }
  auto quantizeRow = [&](Value m) {
    auto i8v = VectorType::get({16}, b.getI8Type());
    Value corr = k.forLoop(
        c0, k.idx(D / 32), c1, {k.f32(0.0)}, [&](Value blk, ValueRange acc) {
          Value k0 = k.mul(blk, k.idx(32));
          Value v0 = k.vload(vt, x, {m, k0});
          Value v1 = k.vload(vt, x, {m, k.add(k0, k.idx(16))});
          Value amax = b.create<arith::MaximumFOp>(b.create<math::AbsFOp>(v0),
                                                   b.create<math::AbsFOp>(v1));
          Value mx = b.create<vector::ReductionOp>(vector::CombiningKind::MAXIMUMF, amax);
          Value pos = b.create<arith::CmpFOp>(arith::CmpFPredicate::OGT, mx, k.f32(0.0));
          Value inv = b.create<arith::SelectOp>(pos, k.div(k.f32(127.0), mx), k.f32(0.0));
          Value invV = k.bcast(vt, inv);
          Value q0 = b.create<math::RoundEvenOp>(k.mul(v0, invV));
          Value q1 = b.create<math::RoundEvenOp>(k.mul(v1, invV));
          Value sc = k.div(mx, k.f32(127.0));
          k.store(sc, hs, {blk});
          k.vstore(b.create<arith::FPToSIOp>(i8v, q0), hq, {k0});
          k.vstore(b.create<arith::FPToSIOp>(i8v, q1), hq, {k.add(k0, k.idx(16))});
          Value qsum = k.sum(k.add(q0, q1));
          return SmallVector<Value>{
              k.add(k.mul(k.mul(qsum, k.f32(128.0)), sc), acc[0])};
        })[0];
    k.store(corr, hcorr, {c0});
  };
  auto vnniDots = [&](ArrayRef<Value> vs) -> SmallVector<Value> {
    const size_t R = vs.size();
    auto v8 = VectorType::get({8}, b.getF32Type());
    auto i8x32 = VectorType::get({32}, b.getI8Type());
    auto i32x8 = VectorType::get({8}, b.getI32Type());
    SmallVector<Value> rowBase, rows;
    for (Value v : vs) {
      rowBase.push_back(k.mul(v, k.idx(l.rowBytes())));
      rows.push_back(k.view(e, k.add(rowBase.back(), k.idx(sb)), {D}, b.getI8Type()));
    }
    Value zero = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(i32x8, b.getI32IntegerAttr(0)));
    SmallVector<Value> acc = k.forLoop(
        c0, k.idx(D / 32), c1, SmallVector<Value>(R, k.splat(v8, 0.0)),
        [&](Value blk, ValueRange args) {
          Value k0 = k.mul(blk, k.idx(32));
          Value xv = b.create<vector::BitCastOp>(i32x8, k.vload(i8x32, hq, {k0}));
          Value sc = k.bcast(v8, k.load(hs, {blk}));
          SmallVector<Value> next;
          for (size_t r = 0; r < R; ++r) {
            Value wv = b.create<vector::BitCastOp>(i32x8, k.vload(i8x32, rows[r], {k0}));
            Value d = b.create<LLVM::CallIntrinsicOp>(
                          i32x8, "llvm.x86.avx512.vpdpbusd.256",
                          ValueRange{zero, wv, xv})
                          .getResult(0);
            next.push_back(k.fma(b.create<arith::SIToFPOp>(v8, d), sc, args[r]));
          }
          return next;
        });
    Value corr = k.load(hcorr, {c0});
    SmallVector<Value> totals;
    for (size_t r = 0; r < R; ++r) {
      Value rs = k.toF32(k.load(k.view(e, rowBase[r], {1}, sT), {c0}));
      totals.push_back(k.mul(k.sub(k.sum(acc[r]), corr), rs));
    }
    return totals;
  };

  // Four vocabulary rows at a time, then the rest one by one. bf16 rows go
  // one at a time: measured with bench/kernel_bench (BM_LMHead, one thread,
  // 768 x 50257), four rows took 10.4 ms against 6.7 ms for one, while f32,
  // int8 and int4 gained (10.7 -> 10.3, 2.46 -> 1.91, 3.13 -> 2.55 ms).
  const int64_t kRows = fmt == WeightFormat::BF16 ? 1 : 4;
  auto rowsOf = [&](Value v, int64_t count) {
    SmallVector<Value> vs;
    for (int64_t r = 0; r < count; ++r)
      vs.push_back(k.add(v, k.idx(r)));
    return vs;
  };
  auto emitRows = [&](Value v, int64_t count) {
    SmallVector<Value> vs = rowsOf(v, count);
    k.forLoop(c0, a.n, c1, [&](Value m) {
      SmallVector<Value> t = dots(vs, m);
      for (int64_t r = 0; r < count; ++r)
        k.store(t[r], a.out, {m, vs[r]});
    });
  };
  k.forLoop(a.begin, a.end, c1, [&](Value unit) {
    Value v0 = k.mul(unit, k.idx(tn));
    Value v1 = b.create<arith::MinUIOp>(k.add(v0, k.idx(tn)), k.idx(V));
    Value span = k.sub(v1, v0);
    Value vMain = k.add(v0, k.mul(b.create<arith::DivUIOp>(span, k.idx(kRows)),
                                  k.idx(kRows)));
    if (vnni) {
      // Token rows outside: x's row is quantized once per unit.
      k.forLoop(c0, a.n, c1, [&](Value m) {
        quantizeRow(m);
        auto emit = [&](Value v, int64_t count) {
          SmallVector<Value> vs = rowsOf(v, count);
          SmallVector<Value> t = vnniDots(vs);
          for (int64_t r = 0; r < count; ++r)
            k.store(t[r], a.out, {m, vs[r]});
        };
        k.forLoop(v0, vMain, k.idx(kRows), [&](Value v) { emit(v, kRows); });
        k.forLoop(vMain, v1, c1, [&](Value v) { emit(v, 1); });
      });
      return;
    }
    k.forLoop(v0, vMain, k.idx(kRows), [&](Value v) { emitRows(v, kRows); });
    k.forLoop(vMain, v1, c1, [&](Value v) { emitRows(v, 1); });
  });
  return success();
}
