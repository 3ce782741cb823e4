//===- LinearKernels.cpp - xfmr.linear on the CPU ---------------------------===//
//
// xfmr.linear: y[M,N] = act(norm(x)[M,K] W[K,N] + b) * u + r, the optional
// parts folded in by the fusion passes. A work unit is one block of
// `tile_n` output columns, stored contiguously (WeightLayout ColumnBlocks),
// so each thread streams its blocks once, in order, for all rows.
//
// Rows are first prepared once per call and thread: the fused norm, then
// for dot-product schedules the rounding of x (int8 per block of 32 for
// VNNI, bf16 for AVX512-BF16); up to tile_m rows (decode) on the stack,
// more (prefill) in a heap buffer. Inside a unit, rows go `tile_m` at a
// time through a register tile of tile_m x (tile_n / vector_width) vector
// accumulators (one broadcast of x, one load of W per vector and k), then
// one at a time; with `amx`, int8 prefill takes 16-row AMX tiles first.
// Weights are dequantized in registers:
//   bf16: widened (prefill: each unit's block once, into f32 scratch);
//   int8: codes summed, times the channel scale at the end;
//   int4: per group of G rows, sum(x (c - 8)) * scale (the 8 taken off
//   the codes exactly: subtracting 8 scale sum(x) afterwards cancelled
//   and cost float32 accuracy), with zero points sum(x c) * scale +
//   sum(x) * min.
// The epilogue applies bias, activation, gate multiply and residual to each
// output vector before it is stored. A `gated` linear's blocks hold tn/2
// gate columns and the same tn/2 up columns (WeightLayout), so a register
// tile pairs gate vector j with up vector j + nv/2 and stores act(g) * u.
//
//===----------------------------------------------------------------------===//
#include "AMXTiles.h"
#include "KernelBuilder.h"

using namespace mlir;
using namespace mlir::xfmr;
using namespace mlir::xfmr::cpu;
using ::xfmr::io::WeightFormat;

namespace {
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
} // namespace

LogicalResult cpu::buildLinear(ImplicitLocOpBuilder &b, LinearOp op,
                               KernelArgs &a) {
  KB k(b);
  ScheduleAttr s = scheduleOf(op);
  WeightLayout l = layoutOf(op, 1);
  const WeightFormat fmt = l.scheme.format;
  // N: weight columns; a gated linear stores N / 2 of them.
  int64_t K = staticDim(op.getWeight(), 0), N = staticDim(op.getWeight(), 1);
  const bool gated = op.getGated();
  const int64_t outN = gated ? N / 2 : N;
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
  if (gated && tn % (2 * vw) != 0)
    return op.emitOpError() << "a gated linear needs tile_n (" << tn
                            << ") to be a multiple of 2 x vector_width (" << vw
                            << ")";
  const int64_t nv = tn / vw, G = l.scheme.group, sb = l.scaleBytes();
  // int4 without zero points: w = (c - 8) s.
  const bool symmetric = fmt == WeightFormat::Int4 && !l.scheme.zeroPoint;
  auto vt = VectorType::get({vw}, b.getF32Type());
  Value x = a.inputs[0], w = a.inputs[1];
  unsigned nextInput = 2; // optional operands, in operand order
  Value bias = op.getBias() ? a.inputs[nextInput++] : Value();
  Value gamma = op.getNormGamma() ? a.inputs[nextInput++] : Value();
  Value beta = op.getNormBeta() ? a.inputs[nextInput++] : Value();
  Value residual = op.getResidual() ? a.inputs[nextInput++] : Value();
  Value multiplier = op.getMultiplier() ? a.inputs[nextInput++] : Value();
  std::optional<GatedActivation> act = op.getActivation();
  Value c0 = k.idx(0), c1 = k.idx(1);
  Type sT = scaleTypeOf(b, l);
  auto svt = VectorType::get({vw}, sT);

  // The weight column (= bias index) of vector j of unit `unit`; for the
  // gate half of a gated block also the result column it is stored at.
  const int64_t halfTile = tn / 2;
  auto column = [&](Value unit, int64_t j) -> Value {
    if (!gated)
      return k.add(k.mul(unit, k.idx(tn)), k.idx(j * vw));
    const int64_t p = j * vw;
    return k.add(k.mul(unit, k.idx(halfTile)),
                 k.idx((p < halfTile ? 0 : outN) + p % halfTile));
  };

  // The output vectors (indices into the block's nv) one register tile
  // covers: at most kAccumulators accumulators, and for int4 whole pairs
  // (j, j + nv/2) that share their code bytes; gated likewise, gate vector
  // j with its up vector j + nv/2.
  // (VNNI keeps an i32 and an f32 accumulator per output vector.)
  const int64_t kAccumulators = l.dot ? 8 : 24;
  auto subTiles = [&](int64_t rows) {
    SmallVector<SmallVector<int64_t>> tiles;
    int64_t per = std::max<int64_t>(1, kAccumulators / rows);
    if (fmt == WeightFormat::Int4 || gated) {
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

  auto initAcc = [&](Value unit, int64_t rows, ArrayRef<int64_t> vecs,
                     bool withBias) {
    SmallVector<Value> init;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j : vecs)
        init.push_back(withBias && bias
                           ? k.vload(vt, bias, {column(unit, j)})
                           : k.splat(vt, 0.0));
    return init;
  };
  // Rows are prepared (normalized, quantized) into scratch slots; a tile's
  // row i lives in slot s0 + i. Without a fused norm, widened kernels read
  // x itself (row m0 + i).
  auto slot = [&](Value s0, int64_t i) { return k.add(s0, k.idx(i)); };
  // VNNI: the four activation codes of quad kq of a tile's row i, in all
  // 16 lanes.
  Value xq32; // set below: the rows' codes as i32 quads
  auto xQuad = [&](Value s0, int64_t i, Value kq) {
    return k.bcast(VectorType::get({16}, b.getI32Type()),
                   k.load(xq32, {k.add(k.mul(slot(s0, i), k.idx(K / 4)), kq)}));
  };
  Value xn; // fused norm: the normalized rows, [tm][K]
  if (gamma)
    xn = b.create<memref::AllocaOp>(MemRefType::get({tm, K}, b.getF32Type()));
  auto xAt = [&](Value m0, Value s0, int64_t i, Value kx) {
    return gamma ? k.load(xn, {slot(s0, i), kx})
                 : k.load(x, {k.add(m0, k.idx(i)), kx});
  };

  // Decode streams each block once: prefetch the block's row kPrefetchBytes
  // ahead of row k (every cache line of it), so more lines are in flight
  // than the out-of-order window alone keeps.
  // The schedule's `prefetch` (bytes; 0 = off) overrides the default.
  // (4096 was tried as the default: fp32 decode 15.84 against 16.24 ms
  // for 2048 in a fair A/B, int8 equal; docs/tuner.md.)
  constexpr int64_t kPrefetchBytes = 2048;
  const int64_t prefetchBytes = s.getPrefetch() < 0 ? kPrefetchBytes : s.getPrefetch();
  // prefetch_to = l2: the row that streams a block from memory (decode's
  // one row, the first of a few) prefetches with prefetcht1 (LLVM locality
  // 2) instead of prefetcht0. Rows that find the block in L2 keep
  // prefetcht0, which lifts it into L1 ahead of their loads: with
  // prefetcht1 there too, an 8-token fp32 prompt measured 13% slower.
  bool streamingRow = false; // set while the first row's tile is emitted
  auto prefetchAhead = [&](Value view, Value row, int64_t rowsInView,
                           int64_t rowBytes, int64_t rows) {
    if (prefetchBytes == 0)
      return;
    const uint32_t locality = rows == 1 && streamingRow && s.getPrefetchTo() == 2 ? 2 : 3;
    int64_t ahead = std::max<int64_t>(1, prefetchBytes / rowBytes);
    Value r = b.create<arith::MinUIOp>(k.add(row, k.idx(ahead)),
                                       k.idx(rowsInView - 1));
    int64_t elem = rowBytes / tn;
    for (int64_t off = 0; off < rowBytes; off += 64)
      b.create<memref::PrefetchOp>(view, ValueRange{r, k.idx(off / elem)},
                                   /*isWrite=*/false, /*localityHint=*/locality,
                                   /*isDataCache=*/true);
  };

  // Prefill reads each unit's block once from memory, in its first row
  // tile, and then from L2: that first tile would wait on memory at the
  // rate the FMAs consume. So every row tile also prefetches (to L2) one
  // cache line of the next unit's block per k, line (m0 / rows) K + k,
  // the first few tiles covering it whole.
  const int64_t blockLines = (l.blockBytes() + 63) / 64;
  auto prefetchNextBlock = [&](Value m0, Value kk, Value base, int64_t rows) {
    Value lastBase = k.idx((N / tn - 1) * l.blockBytes());
    Value next = b.create<arith::MinUIOp>(k.add(base, k.idx(l.blockBytes())),
                                          lastBase);
    Value bytes = k.view(w, next, {blockLines * 64 - 63}, b.getI8Type());
    Value line = k.add(k.mul(b.create<arith::DivUIOp>(m0, k.idx(rows)), k.idx(K)), kk);
    line = b.create<arith::MinUIOp>(line, k.idx(blockLines - 1));
    b.create<memref::PrefetchOp>(bytes, ValueRange{k.mul(line, k.idx(64))},
                                 /*isWrite=*/false, /*localityHint=*/2,
                                 /*isDataCache=*/true);
  };

  // VNNI (int8 weights): the tile's rows of x are quantized per block of
  // 32 reduction elements (s = max|x| / 127) into scratch allocated once at
  // the kernel's entry; vpdpbusd multiplies unsigned weight codes (q + 128)
  // with the signed activation codes, four k per 32-bit lane, and
  // sum((q + 128) xq) - 128 sum(xq) recovers sum(q xq) per block.
  Value xq, xs, xsum;
  const bool bf16Dot = l.dot && fmt == WeightFormat::BF16;
  Value xb16, xb32; // bf16 dot: the rows of x rounded to bf16, and as pairs
  if (bf16Dot) {
    Value raw = b.create<memref::AllocaOp>(MemRefType::get({tm * K * 2}, b.getI8Type()));
    xb16 = k.view(raw, c0, {tm * K}, b.getBF16Type());
    xb32 = k.view(raw, c0, {tm * K / 2}, b.getI32Type());
  } else if (l.dot) {
    xq = b.create<memref::AllocaOp>(MemRefType::get({tm * K}, b.getI8Type()));
    xq32 = k.view(xq, c0, {tm * K / 4}, b.getI32Type());
    xq = k.view(xq, c0, {tm * K}, b.getI8Type());
    xs = b.create<memref::AllocaOp>(MemRefType::get({tm, K / 32}, b.getF32Type()));
    xsum = b.create<memref::AllocaOp>(MemRefType::get({tm, K / 32}, b.getF32Type()));
  }
  // Prepares rows m0 .. m0+rows-1 of x into slots s0 .. s0+rows-1: the
  // fused norm, then for dot-product kernels the rounding of the
  // (normalized) rows. All sub-tiles of a row tile read the slots.
  int64_t normVW = 16;
  while (K % normVW != 0)
    normVW /= 2;
  auto normVT = VectorType::get({normVW}, b.getF32Type());
  const double eps = gamma ? op.getNormEpsilon()->convertToDouble() : 0.0;
  auto prepareRows = [&](Value m0, Value s0, int64_t rows) {
    for (int64_t i = 0; i < rows; ++i) {
      Value row = k.add(m0, k.idx(i)), sl = slot(s0, i);
      if (gamma)
        normalizeRow(k, normVT, x, row, K, eps, gamma, beta, xn, sl);
      if (!l.dot)
        continue;
      Value src = gamma ? xn : x, srcRow = gamma ? sl : row;
      if (!bf16Dot) {
        quantizeActivationRow(k, src, srcRow, K, xq, k.mul(sl, k.idx(K)), xs,
                              xsum, {sl});
        continue;
      }
      auto bv = VectorType::get({16}, b.getBF16Type());
      k.forLoop(c0, k.idx(K), k.idx(16), [&](Value c) {
        k.vstore(b.create<arith::TruncFOp>(bv, k.vload(vt, src, {srcRow, c})),
                 xb16, {k.add(k.mul(sl, k.idx(K)), c)});
      });
    }
  };

  // AVX512-BF16: weights [K/2][tn][2]; each vdpbf16ps adds, per column, the
  // products of one pair of k with the matching pair of bf16 activations.
  auto bf16DotTile = [&](Value m0, Value s0, Value unit, Value base, int64_t rows,
                         ArrayRef<int64_t> vecs) -> SmallVector<Value> {
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
  };
  auto vnniTile = [&](Value m0, Value s0, Value unit, Value base, int64_t rows,
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
                  prefetchAhead(codes, kq, K / 4, tn * 4, rows);
                SmallVector<Value> wv;
                for (int64_t j : vecs)
                  wv.push_back(b.create<vector::BitCastOp>(
                      i32v, k.vload(b64, codes, {kq, k.idx(j * 64)})));
                SmallVector<Value> cur(args.begin(), args.end());
                for (int64_t i = 0; i < rows; ++i) {
                  Value xb = xQuad(s0, i, kq);
                  for (int64_t t = 0; t < nt; ++t)
                    cur[i * nt + t] = k.dpbusd(cur[i * nt + t], wv[t], xb);
                }
                return cur;
              });
          SmallVector<Value> next(outer.begin(), outer.end());
          for (int64_t i = 0; i < rows; ++i) {
            Value sc = k.bcast(vt, k.load(xs, {slot(s0, i), blk}));
            Value corr = k.bcast(vt, k.mul(k.load(xsum, {slot(s0, i), blk}),
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
      Value bj = bias ? k.vload(vt, bias, {column(unit, j)})
                      : k.splat(vt, 0.0);
      for (int64_t i = 0; i < rows; ++i)
        acc[i * nt + t] = k.fma(acc[i * nt + t], sj, bj);
    }
    return acc;
  };

  // End of an int4 group: acc += sum(c x) * scale + sum(x) * min, from the
  // group's partial sums (rows x vecs vectors, then one sum(x) per row).
  auto applyInt4Group = [&](Value gBase, int64_t rows, ArrayRef<int64_t> vecs,
                            ArrayRef<Value> partial, ValueRange accIn) {
    const int64_t nt = int64_t(vecs.size());
    SmallVector<Value> acc(accIn.begin(), accIn.end());
    Value scales = k.view(w, gBase, {tn}, sT);
    Value mins = l.scheme.zeroPoint
                     ? k.view(w, k.add(gBase, k.idx(tn * sb)), {tn}, sT)
                     : Value();
    for (int64_t t = 0; t < nt; ++t) {
      int64_t j = vecs[t];
      Value sj = k.toF32(k.vload(svt, scales, {k.idx(j * vw)}));
      Value mj = mins ? k.toF32(k.vload(svt, mins, {k.idx(j * vw)})) : Value();
      for (int64_t i = 0; i < rows; ++i) {
        acc[i * nt + t] = k.fma(partial[i * nt + t], sj, acc[i * nt + t]);
        if (mj)
          acc[i * nt + t] =
              k.fma(k.bcast(vt, partial[rows * nt + i]), mj, acc[i * nt + t]);
      }
    }
    return acc;
  };

  // VNNI int4: per group of G rows, each block of 32 is eight vpdpbusd of
  // the unsigned codes (low nibbles: columns j, high: j + tn/2) with the
  // activation codes; sum(c x) = sum_b s_b dot_b, and with w = c s + m,
  // y += s sum(c x) + m sum(x), sum(x) taken from the rounded activations.
  auto vnniInt4Tile = [&](Value m0, Value s0, Value unit, Value base, int64_t rows,
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
    SmallVector<Value> init = initAcc(unit, rows, vecs, /*withBias=*/true);
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
                        prefetchAhead(codes, lq, G / 4, tn * 2, rows);
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
                        Value xq4 = xQuad(s0, i, quad);
                        for (int64_t t = 0; t < nt; ++t)
                          cur[i * nt + t] = k.dpbusd(cur[i * nt + t], wv[t], xq4);
                      }
                      return cur;
                    });
                SmallVector<Value> next(gargs.begin(), gargs.end());
                for (int64_t i = 0; i < rows; ++i) {
                  Value xsv = k.load(xs, {slot(s0, i), xb0});
                  Value codeSum = k.load(xsum, {slot(s0, i), xb0});
                  Value sc = k.bcast(vt, xsv);
                  // Symmetric codes: (c - 8) xq = c xq - 8 xq, subtracted
                  // as exact integers before scaling (no cancellation).
                  Value off = symmetric ? k.bcast(vt, k.mul(codeSum, k.f32(8.0))) : Value();
                  for (int64_t t = 0; t < nt; ++t) {
                    Value f = b.create<arith::SIToFPOp>(vt, dots[i * nt + t]);
                    next[i * nt + t] = k.fma(off ? k.sub(f, off) : f, sc, next[i * nt + t]);
                  }
                  if (!symmetric)
                    next[rows * nt + i] =
                        k.add(next[rows * nt + i], k.mul(xsv, codeSum));
                }
                return next;
              });
          return applyInt4Group(gBase, rows, vecs, grp, outer);
        });
  };

  // Epilogue of one output vector: activation, the gated half's up vector,
  // gate multiply, residual.
  auto store = [&](Value row, Value col, Value y) {
    if (multiplier)
      y = k.mul(y, k.vload(vt, multiplier, {row, col}));
    if (residual)
      y = k.add(y, k.vload(vt, residual, {row, col}));
    k.vstore(y, a.out, {row, col});
  };
  auto finish = [&](Value row, Value col, Value y, Value up = Value()) {
    if (act)
      y = applyActivation(k, vt, *act, y);
    store(row, col, up ? k.mul(y, up) : y);
  };

  // AMX (int8, prefill): 16 rows at a time, one 16-column group at a time
  // (its 16 f32 accumulators stay in registers). Per activation block of
  // 32, the rows' signed codes (A: 16 x 32 bytes) times the group's
  // unsigned weight codes (B: 8 k-quads x 16 columns x 4, straight from the
  // VNNI layout, row stride tn * 4 bytes) is one tdpbsud; its 16 x 16 i32
  // result goes through a 1 KB buffer into the accumulators, scaled by the
  // block's activation scale. Blocks go in pairs on separate tiles (A tmm0
  // / tmm3, B tmm1 / tmm2, C tmm4 / tmm5) and buffers, so one block's tile
  // product overlaps the other's scaling. The q + 128 offset, sum_b 128 s_b
  // sum(xq_b) per row, comes off at the end, then weight scale and bias.
  const bool useAMX = s.getAmx() && l.dot && !bf16Dot &&
                      fmt == WeightFormat::Int8 && tn % 16 == 0;
  Value tileOut; // two 16 x 16 i32 tile results
  if (useAMX)
    tileOut = b.create<memref::AllocaOp>(MemRefType::get({2 * 1024}, b.getI8Type()));
  Value xqRaw; // the activation codes, [rows][K] bytes
  AMXTiles amxOps(k);
  auto amxTile = [&](Value m0, Value unit, Value base) {
    auto i32v = VectorType::get({16}, b.getI32Type());
    Value out32 = k.view(tileOut, c0, {2, 16, 16}, b.getI32Type());
    Value scales = k.view(w, base, {tn}, sT);
    Value codeBase = k.add(base, k.idx(tn * sb));
    SmallVector<Value> corr;
    for (int64_t r = 0; r < 16; ++r) {
      Value row = k.add(m0, k.idx(r));
      Value c = k.forLoop(c0, k.idx(K / 32), c1, {k.f32(0.0)},
                          [&](Value blk, ValueRange acc) {
                            return SmallVector<Value>{k.add(
                                k.mul(k.load(xs, {row, blk}), k.load(xsum, {row, blk})),
                                acc[0])};
                          })[0];
      corr.push_back(k.bcast(vt, k.mul(c, k.f32(128.0))));
    }
    // Tile product of block blk into buffer half `h` (tiles by h).
    auto product = [&](int64_t j, Value blk, int64_t h) {
      int64_t ta = h ? 3 : 0, tb = 1 + h, tc = 4 + h;
      amxOps.load(ta, amxOps.address(xqRaw, k.add(k.mul(m0, k.idx(K)),
                                                  k.mul(blk, k.idx(32)))),
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
        Value f = b.create<arith::SIToFPOp>(
            vt, k.vload(i32v, out32, {k.idx(h), k.idx(r), c0}));
        Value sc = k.bcast(vt, k.load(xs, {k.add(m0, k.idx(r)), blk}));
        next.push_back(k.fma(f, sc, acc[r]));
      }
      return next;
    };
    const int64_t blocks = K / 32, pairs = blocks / 2;
    for (int64_t j = 0; j < tn / 16; ++j) {
      SmallVector<Value> acc = k.forLoop(
          c0, k.idx(pairs), c1, SmallVector<Value>(16, k.splat(vt, 0.0)),
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
      Value sj = k.toF32(k.vload(svt, scales, {k.idx(j * 16)}));
      Value col = column(unit, j); // AMX needs vector_width 16: group = vector
      Value bj = bias ? k.vload(vt, bias, {col}) : k.splat(vt, 0.0);
      for (int64_t r = 0; r < 16; ++r) {
        Value row = k.add(m0, k.idx(r)), y = k.fma(k.sub(acc[r], corr[r]), sj, bj);
        if (!gated) {
          finish(row, col, y);
        } else if (j < nv / 2) {
          // The gate group goes first: act(g) waits in the output row for
          // its up group (j + nv/2), which this loop reaches later.
          k.vstore(applyActivation(k, vt, *act, y), a.out, {row, col});
        } else {
          Value gcol = column(unit, j - nv / 2);
          store(row, gcol, k.mul(k.vload(vt, a.out, {row, gcol}), y));
        }
      }
    }
  };

  // Prefill with widened bf16 weights: the unit's block as f32 [K][tn],
  // widened once per unit rather than once per row tile (set per unit).
  Value widenedBlock;

  // One register tile: `rows` rows from m0, output vectors `vecs` of the
  // block at byte `base`.
  auto microTile = [&](Value m0, Value s0, Value unit, Value base, int64_t rows,
                       ArrayRef<int64_t> vecs) {
    const int64_t nt = int64_t(vecs.size());
    SmallVector<Value> acc;
    if (l.dot && fmt == WeightFormat::Int4) {
      acc = vnniInt4Tile(m0, s0, unit, base, rows, vecs);
    } else if (bf16Dot) {
      acc = bf16DotTile(m0, s0, unit, base, rows, vecs);
    } else if (l.dot) {
      acc = vnniTile(m0, s0, unit, base, rows, vecs);
    } else if (fmt != WeightFormat::Int4) {
      // f32, bf16, int8: one pass over K with elements [K][tn].
      int64_t codeOffset = fmt == WeightFormat::Int8 ? tn * sb : 0;
      int64_t elemBytes = fmt == WeightFormat::F32    ? 4
                          : fmt == WeightFormat::BF16 ? 2
                                                      : 1;
      // Prefill of bf16 weights reads the unit's block widened once
      // (widenedBlock), as f32.
      Value wv = widenedBlock ? widenedBlock
                              : k.view(w, k.add(base, k.idx(codeOffset)), {K, tn},
                                       storageType(b, fmt));
      auto et = VectorType::get(
          {vw}, widenedBlock ? b.getF32Type() : storageType(b, fmt));
      const bool prefetches = vecs.front() == 0 && !widenedBlock;
      acc = k.forLoop(
          c0, k.idx(K), k.idx(unroll),
          initAcc(unit, rows, vecs, fmt != WeightFormat::Int8),
          [&](Value kk, ValueRange args) {
            SmallVector<Value> cur(args.begin(), args.end());
            if (prefetches)
              prefetchAhead(wv, kk, K, tn * elemBytes, rows);
            if (prefetches && rows > 1)
              prefetchNextBlock(m0, kk, base, rows);
            for (int64_t u = 0; u < unroll; ++u) {
              Value kx = u ? k.add(kk, k.idx(u)) : kk;
              SmallVector<Value> wj;
              for (int64_t j : vecs)
                wj.push_back(k.toF32(k.vload(et, wv, {kx, k.idx(j * vw)})));
              for (int64_t i = 0; i < rows; ++i) {
                Value xi = k.bcast(vt, xAt(m0, s0, i, kx));
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
          Value bj = bias ? k.vload(vt, bias, {column(unit, j)})
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
          c0, k.idx(K / G), c1, initAcc(unit, rows, vecs, true),
          [&](Value g, ValueRange outer) {
            Value gBase = k.add(base, k.mul(g, k.idx(gBytes)));
            Value codes = k.view(w, k.add(gBase, k.idx(codeOffset)),
                                 {G, tn / 2}, b.getI8Type());
            Value k0 = k.mul(g, k.idx(G));
            SmallVector<Value> init = initAcc(unit, rows, vecs, false);
            for (int64_t i = 0; i < rows; ++i)
              init.push_back(k.f32(0.0)); // sum of x over the group, per row
            SmallVector<Value> inner = k.forLoop(
                c0, k.idx(G), c1, init, [&](Value kk, ValueRange args) {
                  SmallVector<Value> cur(args.begin(), args.end());
                  SmallVector<Value> wj(nt);
                  for (int64_t t = 0; t < half; ++t) {
                    auto [lo, hi] = k.nibblesF32(
                        k.vload(bvt, codes, {kk, k.idx(vecs[t] * vw)}));
                    // Symmetric codes dequantize as (c - 8) s: subtract
                    // here, exactly, rather than 8 s sum(x) later.
                    wj[t] = symmetric ? k.sub(lo, k.splat(vt, 8.0)) : lo;
                    wj[t + half] = symmetric ? k.sub(hi, k.splat(vt, 8.0)) : hi;
                  }
                  for (int64_t i = 0; i < rows; ++i) {
                    Value xs = xAt(m0, s0, i, k.add(k0, kk));
                    if (!symmetric)
                      cur[rows * nt + i] = k.add(cur[rows * nt + i], xs);
                    Value xi = k.bcast(vt, xs);
                    for (int64_t t = 0; t < nt; ++t)
                      cur[i * nt + t] = k.fma(xi, wj[t], cur[i * nt + t]);
                  }
                  return cur;
                });
            return applyInt4Group(gBase, rows, vecs, inner, outer);
          });
    }
    for (int64_t i = 0; i < rows; ++i) {
      Value row = k.add(m0, k.idx(i));
      if (!gated) {
        for (int64_t t = 0; t < nt; ++t)
          finish(row, column(unit, vecs[t]), acc[i * nt + t]);
        continue;
      }
      // Gated tiles are [gate vectors..., their up vectors...].
      for (int64_t t = 0; t < nt / 2; ++t)
        finish(row, column(unit, vecs[t]), acc[i * nt + t], acc[i * nt + t + nt / 2]);
    }
  };

  // Rows are prepared once per call and thread. Few rows (decode): into the
  // tm-row scratch on the stack, then every unit of this thread streams over
  // them. More rows (prefill): into scratch on the heap sized for the
  // kernel's max_tokens rows (prepared once rather than once per column
  // block, which cost as much as the products themselves), then per unit,
  // row tiles of tm while the unit's weights stay in cache.
  const bool prepares = gamma || l.dot;
  Value few = b.create<arith::CmpIOp>(arith::CmpIPredicate::ule, a.n, k.idx(tm));
  auto ifOp = b.create<scf::IfOp>(few, /*withElseRegion=*/true);
  auto prepareAll = [&] {
    if (prepares)
      k.forLoop(c0, a.n, c1, [&](Value m) { prepareRows(m, m, 1); });
  };
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(ifOp.thenYield());
    prepareAll();
    k.forLoop(a.begin, a.end, c1, [&](Value unit) {
      Value base = k.mul(unit, k.idx(l.blockBytes()));
      auto rowTiles = [&](Value m) {
        for (auto &vecs : subTiles(1))
          microTile(m, m, unit, base, 1, vecs);
      };
      // Row 0 streams the unit's block from memory (a loop of at most one
      // iteration); the other rows find it in cache.
      streamingRow = true;
      k.forLoop(c0, b.create<arith::MinUIOp>(a.n, c1), c1, rowTiles);
      streamingRow = false;
      k.forLoop(c1, a.n, c1, rowTiles);
    });

    b.setInsertionPoint(ifOp.elseYield());
    const int64_t maxRows = staticDim(x, 0);
    SmallVector<Value> heap;
    auto alloc = [&](ArrayRef<int64_t> shape, Type t) {
      heap.push_back(b.create<memref::AllocOp>(MemRefType::get(shape, t)));
      return heap.back();
    };
    if (gamma)
      xn = alloc({maxRows, K}, b.getF32Type());
    if (bf16Dot) {
      Value raw = alloc({maxRows * K * 2}, b.getI8Type());
      xb16 = k.view(raw, c0, {maxRows * K}, b.getBF16Type());
      xb32 = k.view(raw, c0, {maxRows * K / 2}, b.getI32Type());
    } else if (l.dot) {
      Value raw = alloc({maxRows * K}, b.getI8Type());
      xq = k.view(raw, c0, {maxRows * K}, b.getI8Type());
      xqRaw = raw;
      xq32 = k.view(raw, c0, {maxRows * K / 4}, b.getI32Type());
      xs = alloc({maxRows, K / 32}, b.getF32Type());
      xsum = alloc({maxRows, K / 32}, b.getF32Type());
    }
    prepareAll();
    Value widened; // bf16 prefill: the unit's block widened to f32
    if (fmt == WeightFormat::BF16 && !l.dot)
      widened = alloc({K, tn}, b.getF32Type());
    if (useAMX) // A: tmm0, tmm3; B: tmm1, tmm2; C: tmm4, tmm5
      amxOps.configure({{16, 32}, {8, 64}, {8, 64}, {16, 32}, {16, 64}, {16, 64}});
    k.forLoop(a.begin, a.end, c1, [&](Value unit) {
      Value base = k.mul(unit, k.idx(l.blockBytes()));
      if (widened) {
        auto bv = VectorType::get({vw}, b.getBF16Type());
        Value src = k.view(w, base, {K, tn}, b.getBF16Type());
        k.forLoop(c0, k.idx(K), c1, [&](Value kk) {
          for (int64_t j = 0; j < nv; ++j)
            k.vstore(k.toF32(k.vload(bv, src, {kk, k.idx(j * vw)})), widened,
                     {kk, k.idx(j * vw)});
        });
        widenedBlock = widened;
      }
      Value mStart = c0;
      if (useAMX) {
        Value c16 = k.idx(16);
        mStart = k.mul(b.create<arith::DivUIOp>(a.n, c16), c16);
        k.forLoop(c0, mStart, c16, [&](Value m0) { amxTile(m0, unit, base); });
      }
      Value mMain = mStart;
      if (tm > 1) {
        Value ctm = k.idx(tm);
        mMain = k.add(mStart, k.mul(b.create<arith::DivUIOp>(k.sub(a.n, mStart), ctm), ctm));
        k.forLoop(mStart, mMain, ctm, [&](Value m0) {
          for (auto &vecs : subTiles(tm))
            microTile(m0, m0, unit, base, tm, vecs);
        });
      }
      k.forLoop(mMain, a.n, c1, [&](Value m) {
        for (auto &vecs : subTiles(1))
          microTile(m, m, unit, base, 1, vecs);
      });
    });
    widenedBlock = Value();
    if (useAMX)
      amxOps.release();
    for (Value h : heap)
      b.create<memref::DeallocOp>(h);
  }
  return success();
}
