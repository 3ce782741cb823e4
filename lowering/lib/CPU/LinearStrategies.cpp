//===- LinearStrategies.cpp - how one register tile of xfmr.linear multiplies ===//
//
// Each strategy returns the tile's accumulators (rows x vecs vectors, row
// major) with bias and scales applied; the epilogue is the tiling's.
//
//   FMA    any decoder: per group, partial = sum_k x_k (c_k - o), widened to
//          f32, then acc += partial * s (+ sum(x) m); one group (a scale per
//          column, or a float format) is a single pass over K.
//   VNNI   decoders with quads: per activation block of 32 (scale s_x, code
//          sum S), dot = sum u xq by vpdpbusd, partial += (dot - o S) s_x;
//          then per group as FMA, sum(x) taken from the rounded activations.
//          Without VNNI (avx2-dot) vpdpbusd is AVX2's vpmaddubsw + vpmaddwd
//          per 256-bit half (KB::dpbusdAVX2; int8 by the sign trick).
//   BF16   bf16 weights [K/2][tn][2]: vdpbf16ps on pairs of k.
//   AMX    int8 with one scale per column: 16-row tdpbsud tiles (prefill).
//
//===----------------------------------------------------------------------===//
#include "LinearKernel.h"

using namespace mlir;
using namespace mlir::xfmr;
using namespace mlir::xfmr::cpu;

SmallVector<Value> LinearKernel::fmaTile(ColumnDecoder &d, Value m0, Value s0, Value unit,
                                         Value base, int64_t rows, ArrayRef<int64_t> vecs) {
  const int64_t nt = int64_t(vecs.size()), G = d.group();
  // The reduction rows of one group, for the tile: partial sums (bias
  // first when nothing scales them), then sum(x) per row for the mins.
  auto groupPass = [&](const ColumnDecoder::Group &grp, Value k0, SmallVector<Value> init) {
    if (d.hasMin())
      for (int64_t i = 0; i < rows; ++i)
        init.push_back(k.f32(0.0));
    Value codes = d.codes(grp);
    // Decode streams the block: prefetch ahead within it (one group: the
    // whole block; prefill rows also prefetch the next block). The widened
    // bf16 copy of prefill is already in cache. (4-bit codes are not
    // prefetched here: their widened kernel is not the one schedules pick
    // where VNNI exists, and was never measured with it.)
    const bool prefetches = d.groups() == 1 && d.codesPerLoad() == 1 &&
                            vecs.front() == 0 && &d != widenedDecoder.get();
    const int64_t step = G % unroll == 0 ? unroll : 1;
    return k.forLoop(c0, k.idx(G), k.idx(step), init, [&](Value kk, ValueRange args) {
      SmallVector<Value> cur(args.begin(), args.end());
      if (prefetches)
        prefetchAhead(codes, kk, G, d.rowBytes(), rows);
      if (prefetches && rows > 1)
        prefetchNextBlock(m0, kk, base, rows);
      for (int64_t u = 0; u < step; ++u) {
        Value kx = u ? k.add(kk, k.idx(u)) : kk;
        SmallVector<Value> wj = d.widen(codes, kx, vecs);
        for (int64_t i = 0; i < rows; ++i) {
          Value xv = xAt(m0, s0, i, k0 ? k.add(k0, kx) : kx);
          if (d.hasMin())
            cur[rows * nt + i] = k.add(cur[rows * nt + i], xv);
          Value xi = k.bcast(vt, xv);
          for (int64_t t = 0; t < nt; ++t)
            cur[i * nt + t] = k.fma(xi, wj[t], cur[i * nt + t]);
        }
      }
      return cur;
    });
  };
  return overGroups(d, unit, base, rows, vecs, [&](const ColumnDecoder::Group &grp) {
    // Float weights (no scales) start from the bias.
    Value g = grp.index;
    return groupPass(grp, g ? k.mul(g, k.idx(G)) : Value(),
                     initAcc(unit, rows, vecs, /*withBias=*/!g && !d.scaled()));
  });
}

SmallVector<Value> LinearKernel::vnniTile(ColumnDecoder &d, Value m0, Value s0, Value unit,
                                          Value base, int64_t rows, ArrayRef<int64_t> vecs) {
  const int64_t nt = int64_t(vecs.size()), G = d.group();
  const int64_t offset = d.dotOffset();
  auto i32v = VectorType::get({16}, b.getI32Type());
  // One group: per activation block, eight quads of vpdpbusd, then the
  // block's (dot - offset S) s_x into the partial sums.
  auto groupPass = [&](const ColumnDecoder::Group &grp) {
    Value g = grp.index;
    Value codes = d.quadCodes(grp);
    SmallVector<Value> init(rows * nt, k.splat(vt, 0.0));
    if (d.hasMin())
      for (int64_t i = 0; i < rows; ++i)
        init.push_back(k.f32(0.0)); // sum of the rounded x over the group
    return k.forLoop(c0, k.idx(G / 32), c1, init, [&](Value blk, ValueRange outer) {
      // The activation block: this group's blk-th.
      Value xb0 = g ? k.add(k.mul(g, k.idx(G / 32)), blk) : blk;
      Value zero = b.create<arith::ConstantOp>(
          DenseElementsAttr::get(i32v, b.getI32IntegerAttr(0)));
      SmallVector<Value> dots = k.forLoop(
          c0, k.idx(8), c1, SmallVector<Value>(rows * nt, zero), [&](Value kk, ValueRange args) {
            Value lq = k.add(k.mul(blk, k.idx(8)), kk);
            if (rows == 1 && vecs.front() == 0)
              prefetchAhead(codes, lq, G / 4, d.quadRowBytes(), rows);
            SmallVector<Value> wv = d.quads(codes, lq, vecs);
            SmallVector<Value> cur(args.begin(), args.end());
            for (int64_t i = 0; i < rows; ++i) {
              Value xq4 = xQuad(s0, i, g ? k.add(k.mul(xb0, k.idx(8)), kk) : lq);
              for (int64_t t = 0; t < nt; ++t)
                cur[i * nt + t] = k.dpbusd(cur[i * nt + t], wv[t], xq4, offset == 128);
            }
            return cur;
          });
      SmallVector<Value> next(outer.begin(), outer.end());
      for (int64_t i = 0; i < rows; ++i) {
        Value xsv = k.load(xs, {slot(s0, i), xb0});
        Value codeSum = k.load(xsum, {slot(s0, i), xb0});
        Value sc = k.bcast(vt, xsv);
        // The codes' offset, o sum(xq), subtracted as exact integers
        // before scaling (no cancellation).
        Value off = offset ? k.bcast(vt, k.mul(codeSum, k.f32(double(offset)))) : Value();
        for (int64_t t = 0; t < nt; ++t) {
          Value f = b.create<arith::SIToFPOp>(vt, dots[i * nt + t]);
          next[i * nt + t] = k.fma(off ? k.sub(f, off) : f, sc, next[i * nt + t]);
        }
        if (d.hasMin())
          next[rows * nt + i] = k.add(next[rows * nt + i], k.mul(xsv, codeSum));
      }
      return next;
    });
  };
  return overGroups(d, unit, base, rows, vecs, groupPass);
}

// AVX512-BF16: weights [K/2][tn][2]; each vdpbf16ps adds, per column, the
// products of one pair of k with the matching pair of bf16 activations.
SmallVector<Value> LinearKernel::bf16DotTile(Value m0, Value s0, Value unit, Value base,
                                             int64_t rows, ArrayRef<int64_t> vecs) {
  const int64_t nt = int64_t(vecs.size());
  auto pairs = VectorType::get({32}, b.getBF16Type());
  auto i32v = VectorType::get({16}, b.getI32Type());
  Value wv = k.view(w, base, {K / 2, tn * 2}, b.getBF16Type());
  SmallVector<Value> init = initAcc(unit, rows, vecs, /*withBias=*/true);
  return k.forLoop(c0, k.idx(K / 2), c1, init, [&](Value kp, ValueRange args) {
    if (rows == 1 && vecs.front() == 0)
      prefetchAhead(wv, kp, K / 2, tn * 4, rows);
    SmallVector<Value> wj;
    for (int64_t j : vecs)
      wj.push_back(k.vload(pairs, wv, {kp, k.idx(j * 32)}));
    SmallVector<Value> cur(args.begin(), args.end());
    for (int64_t i = 0; i < rows; ++i) {
      Value xp = b.create<vector::BitCastOp>(
          pairs, k.bcast(i32v, k.load(xb32, {k.add(k.mul(slot(s0, i), k.idx(K / 2)), kp)})));
      for (int64_t t = 0; t < nt; ++t)
        cur[i * nt + t] = k.dpbf16ps(cur[i * nt + t], wj[t], xp);
    }
    return cur;
  });
}

// AMX (int8, prefill): 16 rows at a time, one 16-column group at a time
// (its 16 f32 accumulators stay in registers). Per activation block of 32,
// the rows' signed codes (A: 16 x 32 bytes) times the group's unsigned
// weight codes (B: 8 k-quads x 16 columns x 4, straight from the VNNI
// layout, row stride tn * 4 bytes) is one tdpbsud; its 16 x 16 i32 result
// goes through a 1 KB buffer into the accumulators, scaled by the block's
// activation scale. Blocks go in pairs on separate tiles (A tmm0 / tmm3, B
// tmm1 / tmm2, C tmm4 / tmm5) and buffers, so one block's tile product
// overlaps the other's scaling. The q + 128 offset, sum_b 128 s_b sum(xq_b)
// per row, comes off at the end, then weight scale and bias.
void LinearKernel::amxTile(Value m0, Value unit, Value base) {
  auto i32v = VectorType::get({16}, b.getI32Type());
  const int64_t sb = l.scaleBytes();
  Value out32 = k.view(tileOut, c0, {2, 16, 16}, b.getI32Type());
  Value codeBase = k.add(base, k.idx(tn * sb));
  SmallVector<Value> corr;
  for (int64_t r = 0; r < 16; ++r) {
    Value row = k.add(m0, k.idx(r));
    Value c = k.forLoop(c0, k.idx(K / 32), c1, {k.f32(0.0)}, [&](Value blk, ValueRange acc) {
      return SmallVector<Value>{
          k.add(k.mul(k.load(xs, {row, blk}), k.load(xsum, {row, blk})), acc[0])};
    })[0];
    corr.push_back(k.bcast(vt, k.mul(c, k.f32(128.0))));
  }
  // Tile product of block blk into buffer half `h` (tiles by h).
  auto product = [&](int64_t j, Value blk, int64_t h) {
    int64_t ta = h ? 3 : 0, tb = 1 + h, tc = 4 + h;
    amxOps.load(ta, amxOps.address(xqRaw, k.add(k.mul(m0, k.idx(K)), k.mul(blk, k.idx(32)))),
                K);
    amxOps.load(tb,
                amxOps.address(w, k.add(k.add(codeBase, k.mul(blk, k.idx(8 * tn * 4))),
                                        k.idx(j * 64))),
                tn * 4);
    amxOps.zero(tc);
    amxOps.dpbsud(tc, ta, tb);
    amxOps.store(tc, amxOps.address(tileOut, k.idx(h * 1024)), 64);
  };
  auto scaleInto = [&](Value blk, int64_t h, ValueRange acc) {
    SmallVector<Value> next;
    for (int64_t r = 0; r < 16; ++r) {
      Value f = b.create<arith::SIToFPOp>(vt, k.vload(i32v, out32, {k.idx(h), k.idx(r), c0}));
      Value sc = k.bcast(vt, k.load(xs, {k.add(m0, k.idx(r)), blk}));
      next.push_back(k.fma(f, sc, acc[r]));
    }
    return next;
  };
  const int64_t blocks = K / 32, pairs = blocks / 2;
  for (int64_t j = 0; j < tn / 16; ++j) {
    SmallVector<Value> acc = k.forLoop(c0, k.idx(pairs), c1,
                                       SmallVector<Value>(16, k.splat(vt, 0.0)),
                                       [&](Value p, ValueRange args) {
                                         Value b0 = k.mul(p, k.idx(2)), b1 = k.add(b0, c1);
                                         product(j, b0, 0);
                                         product(j, b1, 1);
                                         return scaleInto(b1, 1, scaleInto(b0, 0, args));
                                       });
    if (blocks % 2) {
      Value last = k.idx(blocks - 1);
      product(j, last, 0);
      acc = scaleInto(last, 0, acc);
    }
    // AMX needs vector_width 16: group = vector.
    Value sj = decoder->scale(decoder->group(base, Value()), j);
    Value col = column(unit, j);
    Value bj = bias ? k.vload(vt, bias, {col}) : k.splat(vt, 0.0);
    for (int64_t r = 0; r < 16; ++r) {
      Value row = k.add(m0, k.idx(r)), y = k.fma(k.sub(acc[r], corr[r]), sj, bj);
      if (!gated) {
        finish(row, col, y);
      } else if (j < nv / 2) {
        // The gate group goes first: act(g) waits in the output row for its
        // up group (j + nv/2), which this loop reaches later.
        k.vstore(applyActivation(k, vt, *act, y), a.out, {row, col});
      } else {
        Value gcol = column(unit, j - nv / 2);
        store(row, gcol, k.mul(k.vload(vt, a.out, {row, gcol}), y));
      }
    }
  }
}
